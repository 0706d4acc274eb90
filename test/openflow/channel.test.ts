/**
 * The channel against scripted fake switches: handshake (HELLO bitmap, FEATURES, PORT_DESC in
 * parts), request timeouts, keepalive and liveness, and bad input (lying lengths, oversized
 * frames, a peer that stops mid-frame, an incompatible version): always a typed error, a closed
 * connection when needed, and no promise left hanging.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { OpenFlowServer, type SwitchConnection } from '../../fabric/openflow/channel';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { OpenFlowError } from '../../fabric/openflow/errors';
import { FrameSplitter } from '../../fabric/openflow/framing';
import type { OfpMessage, OfpPort } from '../../fabric/openflow/messages';

const port = (n: number): OfpPort => ({ portNo: n, hwAddr: `00:00:00:00:00:0${n}`, name: `p${n}`, config: 0, state: 0, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 });

interface FakeSwitch {
  socket: net.Socket;
  received: OfpMessage[];
  send(m: OfpMessage): void;
  next(type: OfpMessage['type'], timeoutMs?: number): Promise<OfpMessage>;
}

/** a switch that completes the handshake unless told otherwise; `answer` may reply to requests */
function fakeSwitch(
  serverPort: number,
  opts: { hello?: OfpMessage; handshake?: boolean; answer?: (m: OfpMessage, s: FakeSwitch) => boolean; tls?: boolean } = {},
): Promise<FakeSwitch> {
  return new Promise((resolve) => {
    const socket: net.Socket = opts.tls
      ? tls.connect({ port: serverPort, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect(serverPort, '127.0.0.1');
    const splitter = new FrameSplitter();
    const waiters: { type: string; resolve: (m: OfpMessage) => void }[] = [];
    const fs: FakeSwitch = {
      socket,
      received: [],
      send: (m) => socket.write(encodeMessage(m)),
      next: (type, timeoutMs = 3000) =>
        new Promise((res, rej) => {
          const i = fs.received.findIndex((m) => m.type === type);
          if (i >= 0) return res(fs.received.splice(i, 1)[0]);
          waiters.push({ type, resolve: res });
          setTimeout(() => rej(new Error(`fake switch: no ${type} in ${timeoutMs} ms`)), timeoutMs).unref();
        }),
    };
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      let frames: Buffer[] = [];
      try {
        frames = splitter.push(chunk);
      } catch {
        return;
      }
      for (const f of frames) {
        const m = decodeMessage(f);
        if (opts.answer?.(m, fs)) continue;
        if (opts.handshake !== false) {
          if (m.type === 'features_request') {
            fs.send({ type: 'features_reply', xid: m.xid, datapathId: '00000000000000ab', nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0, reserved: 0 });
            continue;
          }
          if (m.type === 'multipart_request' && m.body.kind === 'port_desc') {
            // two parts: the channel must join them
            fs.send({ type: 'multipart_reply', xid: m.xid, flags: 1, body: { kind: 'port_desc', ports: [port(1)] } });
            fs.send({ type: 'multipart_reply', xid: m.xid, flags: 0, body: { kind: 'port_desc', ports: [port(2)] } });
            continue;
          }
        }
        const w = waiters.findIndex((x) => x.type === m.type);
        if (w >= 0) waiters.splice(w, 1)[0].resolve(m);
        else fs.received.push(m);
      }
    });
    socket.on(opts.tls ? 'secureConnect' : 'connect', () => {
      fs.send(opts.hello ?? { type: 'hello', xid: 1, versions: [1, 4] });
      resolve(fs);
    });
  });
}

async function withServer(options: ConstructorParameters<typeof OpenFlowServer>[0], body: (s: OpenFlowServer) => Promise<void>): Promise<void> {
  const server = await OpenFlowServer.listen({ listen: 'tcp:0:127.0.0.1', ...options });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

function disconnected(sw: SwitchConnection): Promise<{ reason: string; error?: OpenFlowError }> {
  return new Promise((resolve) => {
    if (sw.isClosed) resolve({ reason: 'already closed' });
    sw.on('disconnected', resolve);
  });
}

test('handshake: version bitmap, features, port desc reassembled from two parts', async () => {
  await withServer({}, async (server) => {
    const fake = await fakeSwitch(server.port);
    const sw = await server.waitForSwitch(3000);
    expect(sw.datapathId).toBe('00000000000000ab');
    expect(sw.ports.map((p) => p.name)).toEqual(['p1', 'p2']);
    expect(sw.version).toBe(4);
    const hello = fake.received.find((m) => m.type === 'hello');
    expect(hello).toMatchObject({ type: 'hello', versions: [4] });
    fake.socket.destroy();
  });
});

test('request/reply by xid; ERROR reply rejects typed; timeout rejects typed', async () => {
  await withServer({}, async (server) => {
    const fake = await fakeSwitch(server.port, {
      answer: (m, s) => {
        if (m.type === 'barrier_request') {
          s.send({ type: 'barrier_reply', xid: m.xid });
          return true;
        }
        if (m.type === 'multipart_request' && m.body.kind === 'desc') {
          s.send({ type: 'error', xid: m.xid, errorType: 1, code: 2, typeName: 'BAD_REQUEST', codeName: 'BAD_MULTIPART', data: new Uint8Array(0) });
          return true;
        }
        return m.type === 'echo_request'; // never answered
      },
    });
    const sw = await server.waitForSwitch(3000);
    await sw.barrier();
    const err = await sw.multipart({ kind: 'desc' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenFlowError);
    expect(err.switchError).toMatchObject({ typeName: 'BAD_REQUEST', codeName: 'BAD_MULTIPART' });
    const t = await sw.echo(new Uint8Array(0), 100).catch((e) => e);
    expect(t.kind).toBe('timeout');
    fake.socket.destroy();
  });
});

test('echo keepalive, then liveness timeout closes a silent switch', async () => {
  await withServer({ echoIntervalMs: 60, livenessTimeoutMs: 400 }, async (server) => {
    const fake = await fakeSwitch(server.port, { answer: (m) => m.type === 'echo_request' && (fake0.echoes++, true) });
    const fake0 = { echoes: 0 };
    const sw = await server.waitForSwitch(3000);
    const pending = sw.barrier(10_000).catch((e: OpenFlowError) => e.kind);
    const d = await disconnected(sw);
    expect(d.error?.kind).toBe('timeout');
    expect(fake0.echoes).toBeGreaterThan(0);
    await expect(pending).resolves.toBe('timeout');
    fake.socket.destroy();
  });
});

test('the switch answers our echo requests: the connection stays up', async () => {
  await withServer({ echoIntervalMs: 50, livenessTimeoutMs: 300 }, async (server) => {
    const fake = await fakeSwitch(server.port, {
      answer: (m, s) => {
        if (m.type !== 'echo_request') return false;
        s.send({ type: 'echo_reply', xid: m.xid, data: m.data });
        return true;
      },
    });
    const sw = await server.waitForSwitch(3000);
    await new Promise((r) => setTimeout(r, 700));
    expect(sw.isClosed).toBe(false);
    // and we answer the switch's echo
    fake.send({ type: 'echo_request', xid: 77, data: new Uint8Array([5]) });
    const reply = await fake.next('echo_reply');
    expect(reply).toMatchObject({ xid: 77, data: new Uint8Array([5]) });
    fake.socket.destroy();
  });
});

test.each([
  ['a length below 8', Buffer.from('0402000400000001', 'hex'), 'bad-length'],
  ['an oversized frame', Buffer.concat([Buffer.from('040207d000000001', 'hex'), Buffer.alloc(2000 - 8)]), 'oversized'],
])('bad input: %s -> typed error, closed connection, pending promise rejected', async (_name, bytes, kind) => {
  await withServer({ maxMessageBytes: 1024 }, async (server) => {
    const fake = await fakeSwitch(server.port, { answer: (m) => m.type === 'barrier_request' });
    const sw = await server.waitForSwitch(3000);
    const errors: string[] = [];
    sw.on('error', (e) => errors.push(e instanceof OpenFlowError ? e.kind : 'switch'));
    const pending = sw.barrier(10_000).catch((e: OpenFlowError) => e.kind);
    fake.socket.write(bytes);
    const d = await disconnected(sw);
    expect(d.error?.kind).toBe(kind);
    expect(errors).toContain(kind);
    await expect(pending).resolves.toBe('closed');
    fake.socket.destroy();
  });
});

test('bad input: the peer stops in the middle of a frame', async () => {
  await withServer({}, async (server) => {
    const fake = await fakeSwitch(server.port, { answer: (m) => m.type === 'barrier_request' });
    const sw = await server.waitForSwitch(3000);
    const pending = sw.barrier(10_000).catch((e: OpenFlowError) => e.kind);
    const half = encodeMessage({ type: 'barrier_reply', xid: 1 }).subarray(0, 5);
    fake.socket.end(half);
    const d = await disconnected(sw);
    expect(d.error?.kind).toBe('truncated');
    await expect(pending).resolves.toBe('closed');
  });
});

test('bad input: an undecodable message gets an OpenFlow ERROR back; the connection stays', async () => {
  await withServer({}, async (server) => {
    const fake = await fakeSwitch(server.port);
    const sw = await server.waitForSwitch(3000);
    const errors: string[] = [];
    sw.on('error', (e) => errors.push(e instanceof OpenFlowError ? e.kind : 'switch'));
    const bad = Buffer.from(encodeMessage({ type: 'flow_removed', xid: 9, cookie: 0n, priority: 0, reason: 0, tableId: 0, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, packetCount: 0n, byteCount: 0n, match: {} }));
    bad.writeUInt16BE(200, 50); // the match claims 200 bytes
    fake.socket.write(bad);
    const reply = await fake.next('error');
    expect(reply).toMatchObject({ xid: 9, typeName: 'BAD_REQUEST', codeName: 'BAD_LEN' });
    expect(errors).toEqual(['bad-length']);
    expect(sw.isClosed).toBe(false);
    fake.socket.destroy();
  });
});

test('negotiation: a switch without OpenFlow 1.3 gets HELLO_FAILED and is closed', async () => {
  await withServer({}, async (server) => {
    const serverErrors: string[] = [];
    server.on('error', (e) => serverErrors.push(e.kind));
    const fake = await fakeSwitch(server.port, { hello: { type: 'hello', xid: 1, versions: [1] } });
    const err = await fake.next('error');
    expect(err).toMatchObject({ typeName: 'HELLO_FAILED', codeName: 'INCOMPATIBLE' });
    for (let i = 0; i < 50 && !serverErrors.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(serverErrors).toEqual(['negotiation']);
    fake.socket.destroy();
  });
});

test('attach(): an already-connected socket', async () => {
  const ofServer = new OpenFlowServer({});
  const plain = net.createServer((socket) => ofServer.attach(socket, 'test'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  try {
    const fake = await fakeSwitch((plain.address() as net.AddressInfo).port);
    const sw = await ofServer.waitForSwitch(3000);
    expect(sw.datapathId).toBe('00000000000000ab');
    fake.socket.destroy();
  } finally {
    await ofServer.close();
    await new Promise<void>((r) => plain.close(() => r()));
  }
});

test('back-pressure: a big bundle to a switch that stops reading stays bounded in memory, then completes', async () => {
  await withServer({}, async (server) => {
    let adds = 0;
    const fake = await fakeSwitch(server.port, {
      answer: (m, s) => {
        if (m.type === 'bundle_control') {
          s.send({ type: 'bundle_control', xid: m.xid, bundleId: m.bundleId, controlType: m.controlType === 'open_request' ? 'open_reply' : 'commit_reply', flags: m.flags });
          return true;
        }
        if (m.type === 'bundle_add') {
          adds++;
          return true;
        }
        return false;
      },
    });
    const sw = await server.waitForSwitch(3000);
    const ops = Array.from({ length: 60_000 }, (_, i) => ({
      op: 'add-flow' as const,
      flow: { table: 0, priority: 1, cookie: BigInt(i), match: { eth_type: { value: 0x0800n }, ipv4_dst: { value: BigInt(0x0a000000 + i * 256), mask: 0xffffff00n } }, instructions: { apply: [{ type: 'output' as const, port: 1 }] } },
    }));
    fake.socket.pause();
    let done = false;
    const sending = sw.send(ops).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    // ~7 MB of messages in total; with drain respected only about one chunk waits in user space
    expect(sw.bufferedBytes).toBeLessThan(1024 * 1024);
    fake.socket.resume();
    await sending;
    expect(adds).toBe(60_000);
    fake.socket.destroy();
  });
});

test('TLS: ssl:PORT:ADDR with a key and certificate', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-of-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=fabric-test', '-days', '1'], { stdio: 'ignore' });
    const server = await OpenFlowServer.listen({ listen: 'ssl:0:127.0.0.1', tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
    try {
      const fake = await fakeSwitch(server.port, { tls: true });
      const sw = await server.waitForSwitch(5000);
      expect(sw.datapathId).toBe('00000000000000ab');
      expect(sw.ports).toHaveLength(2);
      fake.socket.destroy();
    } finally {
      await server.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('listen addresses: tcp/ptcp/ssl/pssl, bad ones are typed errors', async () => {
  const { parseListenAddress } = await import('../../fabric/openflow/channel');
  expect(parseListenAddress('tcp:6653')).toEqual({ protocol: 'tcp', port: 6653, host: '0.0.0.0' });
  expect(parseListenAddress('ptcp:6653:127.0.0.1')).toEqual({ protocol: 'tcp', port: 6653, host: '127.0.0.1' });
  expect(parseListenAddress('pssl:6654:::1')).toEqual({ protocol: 'ssl', port: 6654, host: '::1' });
  expect(() => parseListenAddress('udp:1')).toThrow(expect.objectContaining({ kind: 'bad-value' }));
  await expect(OpenFlowServer.listen({ listen: 'ssl:0:127.0.0.1' })).rejects.toMatchObject({ kind: 'bad-value' });
});

test('a message that cannot be encoded: typed error, the bundle is discarded, the connection stays usable', async () => {
  await withServer({}, async (server) => {
    const controls: string[] = [];
    const fake = await fakeSwitch(server.port, {
      answer: (m, s) => {
        if (m.type === 'bundle_control') {
          controls.push(m.controlType);
          const reply = { open_request: 'open_reply', commit_request: 'commit_reply', discard_request: 'discard_reply', close_request: 'close_reply' } as const;
          s.send({ type: 'bundle_control', xid: m.xid, bundleId: m.bundleId, controlType: reply[m.controlType as keyof typeof reply], flags: m.flags });
          return true;
        }
        if (m.type === 'barrier_request') {
          s.send({ type: 'barrier_reply', xid: m.xid });
          return true;
        }
        return m.type === 'bundle_add';
      },
    });
    const sw = await server.waitForSwitch(3000);
    const good = { table: 0, priority: 1, cookie: 1n, match: {}, instructions: {} };
    const bad = { ...good, match: { tcp_dst: { value: 80n } } }; // no eth_type/ip_proto
    const err = await sw.send([{ op: 'add-flow', flow: good }, { op: 'add-flow', flow: bad }]).catch((e) => e);
    expect(err).toMatchObject({ name: 'OpenFlowError', kind: 'prerequisite' });
    expect(controls).toEqual(['open_request', 'discard_request']);
    await sw.barrier();
    expect(sw.isClosed).toBe(false);
    fake.socket.destroy();
  });
});
