/**
 * The client against fake servers that misbehave: garbage, a truncated value then close, a 100 MB
 * value, an unknown notification, a reply to an unknown id, a close in the middle of a transaction,
 * an echo keepalive nobody answers. Always a typed error or an 'unexpected' event; never a crash, a
 * hang or a socket left open.
 */
import * as net from 'net';
import {
  OvsdbClient,
  OvsdbDisconnectedError,
  OvsdbMessageTooLargeError,
  OvsdbProtocolError,
  OvsdbRpcError,
  OvsdbTimeoutError,
  Replica,
  UnexpectedMessage,
} from '../../fabric/ovsdb';
import { FakeServer, startFakeServer } from './servers';

let fake: FakeServer | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** Each request id the client sent so far, parsed from what the fake received. */
function requests(text: string): { id: unknown; method: string }[] {
  return text
    .split(/(?<=\})(?=\{)/)
    .filter((t) => t.trim())
    .map((t) => JSON.parse(t));
}

/** Wait for `predicate`, polling (fake-server tests only). */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let waited = 0; !predicate(); waited += 10) {
    if (waited > timeoutMs) throw new Error('until: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function noSocketsLeft(server: FakeServer): Promise<void> {
  await until(() => server.sockets.size === 0);
}

function disconnectReason(client: OvsdbClient): Promise<Error> {
  return new Promise((resolve) => client.once('disconnect', resolve));
}

test('garbage from the server: protocol error, pending request rejected', async () => {
  fake = await startFakeServer((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const client = await OvsdbClient.connect(fake.url);
  const reason = disconnectReason(client);
  const err = await client.listDbs().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OvsdbDisconnectedError);
  expect((err as { cause?: unknown }).cause).toBeInstanceOf(OvsdbProtocolError);
  expect(await reason).toBeInstanceOf(OvsdbProtocolError);
  await noSocketsLeft(fake);
});

test('a truncated JSON value then close: typed error naming the unfinished value', async () => {
  fake = await startFakeServer((socket) => socket.once('data', () => socket.end('{"id":1,"result":["Open_vS')));
  const client = await OvsdbClient.connect(fake.url);
  const reason = disconnectReason(client);
  await expect(client.listDbs()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
  expect((await reason).message).toMatch(/stream ended inside a JSON value/);
  await noSocketsLeft(fake);
});

test.each([
  ['4 MiB', 4 * 1024 * 1024],
  ['the default 64 MiB', undefined],
])('a 100 MB value is refused at a limit of %s and the client stops reading', async (_label, limitBytes) => {
  const totalBytes = 100 * 1024 * 1024;
  let writtenBytes = 0;
  let writerStopped!: () => void;
  const stopped = new Promise<void>((r) => (writerStopped = r));
  fake = await startFakeServer((socket) =>
    socket.once('data', () => {
      const chunk = Buffer.alloc(256 * 1024, 0x78);
      socket.write('{"id":1,"result":["');
      const pump = (): void => {
        while (writtenBytes < totalBytes && !socket.destroyed) {
          writtenBytes += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        writerStopped();
      };
      socket.on('close', () => writerStopped());
      pump();
    }),
  );
  const client = await OvsdbClient.connect(fake.url, { maxMessageBytes: limitBytes });
  const reason = disconnectReason(client);
  const err = await client.listDbs().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OvsdbDisconnectedError);
  expect((err as { cause?: unknown }).cause).toBeInstanceOf(OvsdbMessageTooLargeError);
  expect(await reason).toBeInstanceOf(OvsdbMessageTooLargeError);
  await stopped;
  // the server could not push the whole 100 MB: the client closed once the limit was passed
  expect(writtenBytes).toBeLessThan(totalBytes);
  await noSocketsLeft(fake);
});

test('unknown notification and a reply to an unknown id: events, and the session goes on', async () => {
  fake = await startFakeServer((socket, received) =>
    socket.on('data', () => {
      for (const r of requests(received())) {
        if (r.method === 'list_dbs' && !(r as { done?: boolean }).done) {
          (r as { done?: boolean }).done = true;
          socket.write('{"method":"surprise","params":[1],"id":null}');
          socket.write('{"id":4242,"result":[],"error":null}');
          socket.write('{"id":"echo","error":null}');
          socket.write(`{"id":${JSON.stringify(r.id)},"result":["Lab"],"error":null}`);
        }
      }
    }),
  );
  const client = await OvsdbClient.connect(fake.url);
  const unexpected: UnexpectedMessage[] = [];
  client.on('unexpected', (u) => unexpected.push(u));
  expect(await client.listDbs()).toEqual(['Lab']);
  expect(unexpected.map((u) => u.kind)).toEqual(['unknown-notification', 'reply-to-unknown-id', 'reply-to-unknown-id']);
  expect(client.isConnected).toBe(true);
  await client.close();
  await noSocketsLeft(fake);
});

test('"unknown method" error with no result (as ovsdb-server sends it) is an OvsdbRpcError', async () => {
  fake = await startFakeServer((socket, received) =>
    socket.on('data', () => {
      const last = requests(received()).pop()!;
      socket.write(`{"id":${JSON.stringify(last.id)},"error":"unknown method"}`);
    }),
  );
  const client = await OvsdbClient.connect(fake.url);
  const err = await client.request('frobnicate', []).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OvsdbRpcError);
  expect((err as OvsdbRpcError).error).toBe('unknown method');
  await client.close();
  await noSocketsLeft(fake);
});

test('socket closed mid-transaction: the transaction rejects at once, later calls too', async () => {
  fake = await startFakeServer((socket) => socket.once('data', () => socket.destroy()));
  const client = await OvsdbClient.connect(fake.url, { checkSchema: false });
  const err = await client.transact('Lab', { op: 'select', table: 'Root', where: [] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OvsdbDisconnectedError);
  await expect(client.echo()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
  await noSocketsLeft(fake);
  await client.close();
});

test("the server's echo is answered with its id and params", async () => {
  fake = await startFakeServer((socket) => socket.write('{"id":"echo","method":"echo","params":["ping",1]}'));
  const client = await OvsdbClient.connect(fake.url);
  await until(() => fake!.received[0]?.length > 0);
  expect(JSON.parse(fake.received[0])).toEqual({ id: 'echo', result: ['ping', 1], error: null });
  await client.close();
  await noSocketsLeft(fake);
});

test('our echo keepalive: an idle silent server is disconnected with OvsdbTimeoutError', async () => {
  fake = await startFakeServer(() => undefined); // accepts, never answers
  const client = await OvsdbClient.connect(fake.url, { echoIntervalMs: 100, echoTimeoutMs: 150 });
  const reason = disconnectReason(client);
  const pending = client.listDbs().catch((e: unknown) => e);
  expect(await reason).toBeInstanceOf(OvsdbTimeoutError);
  expect(await pending).toBeInstanceOf(OvsdbDisconnectedError);
  // order-free: under load the idle timer may fire before listDbs is written
  expect(requests(fake.received[0]).map((r) => r.method).sort()).toEqual(['echo', 'list_dbs']);
  await noSocketsLeft(fake);
});

test('request timeout rejects without closing the session', async () => {
  fake = await startFakeServer(() => undefined);
  const client = await OvsdbClient.connect(fake.url, { requestTimeoutMs: 100, echoIntervalMs: 0 });
  await expect(client.listDbs()).rejects.toBeInstanceOf(OvsdbTimeoutError);
  expect(client.isConnected).toBe(true);
  await client.close();
  await noSocketsLeft(fake);
});

test('connect timeout: an ssl: handshake that never completes', async () => {
  // the TCP connect succeeds, the peer never speaks TLS: connectTimeoutMs must end the attempt
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const fs = await import('fs');
    const os = await import('os');
    const path = await import('path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-tls-'));
    const { makeCertificates } = await import('./servers');
    const tls = makeCertificates(dir);
    const err = await OvsdbClient.connect(`ssl:127.0.0.1:${port}`, {
      connectTimeoutMs: 200,
      tls: { privateKeyFile: tls.clientKey, certificateFile: tls.clientCert, caCertFile: tls.caCert },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbTimeoutError);
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

describe('fuzz: whatever a server sends, a request settles with a typed outcome', () => {
  const seed = Number(process.env.FABRIC_SEED) || Date.now() % 2 ** 31;
  // eslint-disable-next-line no-console
  console.log(`client fuzz seed=${seed} (reproduce with FABRIC_SEED=${seed})`);

  test('random replies (garbage, JSON-RPC-shaped noise, truncation, close) never crash or hang', async () => {
    const fc = (await import('fast-check')).default;
    const jsonRpcNoise = fc.oneof(
      fc.record({ id: fc.oneof(fc.constant(1), fc.integer(), fc.string(), fc.constant(null)), result: fc.jsonValue(), error: fc.oneof(fc.constant(null), fc.jsonValue()) }, { requiredKeys: ['id'] }),
      fc.record({ method: fc.oneof(fc.constantFrom('update', 'update2', 'locked', 'stolen', 'echo'), fc.string()), params: fc.jsonValue(), id: fc.oneof(fc.constant(null), fc.string(), fc.integer()) }, { requiredKeys: ['method'] }),
      fc.jsonValue(),
    );
    const script = fc.array(
      fc.oneof(
        jsonRpcNoise.map((v) => ({ bytes: Buffer.from(JSON.stringify(v) ?? 'null') })),
        fc.uint8Array({ maxLength: 40 }).map((b) => ({ bytes: Buffer.from(b) })),
      ),
      { maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(script, fc.boolean(), async (chunks, closeAtEnd) => {
        const server = await startFakeServer((socket) =>
          socket.once('data', () => {
            for (const c of chunks) socket.write(c.bytes);
            if (closeAtEnd) socket.end();
          }),
        );
        try {
          const client = await OvsdbClient.connect(server.url, { requestTimeoutMs: 300, echoIntervalMs: 0 });
          client.on('unexpected', () => undefined);
          const outcome = await client.listDbs().then(
            (dbs) => (Array.isArray(dbs) ? 'ok' : 'bad-shape'),
            (err: unknown) => (err instanceof Error && err.name.startsWith('Ovsdb') ? 'typed-error' : `untyped: ${String(err)}`),
          );
          expect(['ok', 'typed-error']).toContain(outcome);
          await client.close();
          await noSocketsLeft(server);
        } finally {
          await server.close();
        }
      }),
      { seed, numRuns: Number(process.env.FABRIC_FUZZ_RUNS) || 40 },
    );
  });
});

describe('malformed replies and notifications: typed errors, nothing escapes the socket handlers', () => {
  /** Records what would otherwise crash the process (an exception thrown from a socket handler). */
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => {
    escaped.push(err);
  };
  beforeEach(() => {
    escaped.length = 0;
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  afterEach(() => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  });

  const SCHEMA = { name: 'Fz', version: '1.0.0', tables: { T: { columns: { n: { type: 'integer' }, kv: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } } } } } };
  const U1 = '00000000-0000-4000-8000-000000000001';

  /** A fake server that serves get_schema and monitor_cond properly, then sends `afterMonitor` (first connection only). */
  async function monitorServer(afterMonitor: (monitorId: string) => string[]): Promise<FakeServer> {
    let connections = 0;
    return startFakeServer((socket, received) => {
      const n = ++connections;
      let answered = 0;
      socket.on('data', () => {
        const all = requests(received());
        for (const r of all.slice(answered) as { id: unknown; method: string; params: unknown[] }[]) {
          answered++;
          if (r.method === 'get_schema') socket.write(JSON.stringify({ id: r.id, result: SCHEMA, error: null }));
          else if (r.method === 'monitor_cond') {
            socket.write(JSON.stringify({ id: r.id, result: { T: { [U1]: { initial: { n: n } } } }, error: null }));
            if (n === 1) for (const m of afterMonitor(String(r.params[1]))) socket.write(m);
          } else socket.write(JSON.stringify({ id: r.id, result: {}, error: null }));
        }
      });
    });
  }

  test.each([
    ['table updates null', (m: string) => `{"id":null,"method":"update2","params":["${m}",null]}`],
    ['table updates a string', (m: string) => `{"id":null,"method":"update2","params":["${m}","T"]}`],
    ['row updates null', (m: string) => `{"id":null,"method":"update2","params":["${m}",{"T":null}]}`],
    ['a row update a string', (m: string) => `{"id":null,"method":"update2","params":["${m}",{"T":{"${U1}":"x"}}]}`],
    ['a modify of a map column with a string', (m: string) => `{"id":null,"method":"update2","params":["${m}",{"T":{"${U1}":{"modify":{"kv":"x"}}}}]}`],
    ['a row value that is no OVSDB value', (m: string) => `{"id":null,"method":"update2","params":["${m}",{"T":{"${U1}":{"insert":{"n":{"a":1}}}}}]}`],
  ])('update2 with %s: protocol error, reconnect, the replica resyncs', async (_label, bad) => {
    fake = await monitorServer((m) => [bad(m)]);
    const client = await OvsdbClient.connect(fake.url, { reconnect: { initialDelayMs: 10 } });
    const reasons: Error[] = [];
    client.on('disconnect', (r: Error) => reasons.push(r));
    const reconnected = new Promise((r) => client.once('reconnect', r));
    const replica = await Replica.create(client, 'Fz', { T: undefined });
    await reconnected;
    await replica.waitFor((r) => r.get('T', U1)?.n === 2, 5000); // the second connection's initial state
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(OvsdbProtocolError);
    expect(reasons[0].message).toMatch(/^update2/);
    expect(escaped).toEqual([]);
    await replica.cancel();
    await client.close();
  });

  test("the server's echo with an id nested 10,000 deep: protocol error, not a stack overflow", async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    fake = await startFakeServer((socket) => socket.once('data', () => socket.write(`{"id":${deep},"method":"echo","params":[]}`)));
    const client = await OvsdbClient.connect(fake.url);
    const reason = disconnectReason(client);
    await expect(client.listDbs()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
    expect(await reason).toBeInstanceOf(OvsdbProtocolError);
    expect((await reason).message).toMatch(/nests deeper than 1000/);
    expect(escaped).toEqual([]);
    await noSocketsLeft(fake);
  });

  test('an error reply nested 10,000 deep, and one nested 900 deep with 1 MB of details', async () => {
    const deep = (n: number): string => '{"e":'.repeat(n) + '1' + '}'.repeat(n);
    fake = await startFakeServer((socket, received) =>
      socket.on('data', () => {
        const last = requests(received()).pop()!;
        if (last.method === 'echo') socket.write(`{"id":${last.id},"result":null,"error":{"error":${deep(900)},"details":"${'d'.repeat(1_000_000)}"}}`);
        else socket.write(`{"id":${last.id},"result":null,"error":${deep(10_000)}}`);
      }),
    );
    const client = await OvsdbClient.connect(fake.url);
    const rpcError = await client.echo().catch((e: unknown) => e);
    expect(rpcError).toBeInstanceOf(OvsdbRpcError);
    expect((rpcError as Error).message.length).toBeLessThan(2000);
    const reason = disconnectReason(client);
    await expect(client.listDbs()).rejects.toBeInstanceOf(OvsdbDisconnectedError);
    expect(await reason).toBeInstanceOf(OvsdbProtocolError);
    expect(escaped).toEqual([]);
    await noSocketsLeft(fake);
  });

  test.each([
    ['list_dbs', '["a",1]', (c: OvsdbClient) => c.listDbs()],
    ['echo', '"x"', (c: OvsdbClient) => c.echo()],
    ['lock', 'null', (c: OvsdbClient) => c.lock('l')],
    ['transact', '[{"rows":"x"}]', (c: OvsdbClient) => c.transact('Fz', { op: 'select', table: 'T', where: [] })],
    ['transact', '[{"count":-1}]', (c: OvsdbClient) => c.transact('Fz', { op: 'delete', table: 'T', where: [] })],
  ])('a %s reply of the wrong shape (%s): OvsdbProtocolError on that request, the session goes on', async (_method, result, call) => {
    fake = await startFakeServer((socket, received) =>
      socket.on('data', () => {
        const last = requests(received()).pop()!;
        socket.write(`{"id":${last.id},"result":${last.method === 'list_dbs' && result !== '["a",1]' ? '["Fz"]' : result},"error":null}`);
      }),
    );
    const client = await OvsdbClient.connect(fake.url, { checkSchema: false });
    await expect(call(client)).rejects.toBeInstanceOf(OvsdbProtocolError);
    expect(client.isConnected).toBe(true);
    expect(escaped).toEqual([]);
    await client.close();
    await noSocketsLeft(fake);
  });

  test('a 1.2 MB reply of 100,000 keys frames whole (linear framing; no time asserted)', async () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => `"k${i}":${i % 100}`).join(',');
    fake = await startFakeServer((socket, received) =>
      socket.on('data', () => socket.write(`{"id":${requests(received()).pop()!.id},"result":{${keys}},"error":null}`)),
    );
    const client = await OvsdbClient.connect(fake.url);
    const result = (await client.request('get_everything', [])) as Record<string, number>;
    expect(Object.keys(result)).toHaveLength(100_000);
    expect(result.k99999).toBe(99);
    await client.close();
    await noSocketsLeft(fake);
  });
});
