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
