/**
 * Echo with a real ovsdb-server over TCP: the server probes an idle connection with
 * {"id":"echo","method":"echo"} and drops it when unanswered (docs/real-ovs.md: 5 s + 5 s by default). A
 * Manager row with inactivity_probe=1000 shortens that to 1 s + 1 s so the test is quick. Our client,
 * with its own keepalive off, must answer and stay connected; a silent raw socket must be dropped.
 */
import * as net from 'net';
import { OvsdbClient, map, namedUuid, op, set } from '../../fabric/ovsdb';
import { PrivateOvsdb, VSWITCH_SCHEMA, freePort, startOvsdb } from './servers';

jest.setTimeout(30_000);

let server: PrivateOvsdb;
let managerUrl: string;

beforeAll(async () => {
  server = await startOvsdb({ schema: VSWITCH_SCHEMA, managers: true });
  const port = await freePort();
  const admin = await OvsdbClient.connect(server.unixUrl);
  try {
    await admin.transact(
      'Open_vSwitch',
      op.insert('Manager', { target: `ptcp:${port}:127.0.0.1`, inactivity_probe: 1000, other_config: map({}) }, 'mgr'),
      op.insert('Open_vSwitch', { manager_options: set(namedUuid('mgr')) }),
    );
  } finally {
    await admin.close();
  }
  managerUrl = `tcp:127.0.0.1:${port}`;
  // the server opens the listener after the commit
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  await server?.stop();
});

test("our client answers ovsdb-server's echo probes and stays connected", async () => {
  const client = await OvsdbClient.connect(managerUrl, { echoIntervalMs: 0 });
  const answered: unknown[] = [];
  client.on('send', (m: { id?: unknown; result?: unknown }) => {
    if (m.id === 'echo' && 'result' in m) answered.push(m);
  });
  let disconnected = false;
  client.on('disconnect', () => (disconnected = true));
  try {
    await new Promise((r) => setTimeout(r, 3500));
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(answered[0]).toEqual({ id: 'echo', result: [], error: null });
    expect(disconnected).toBe(false);
    expect(await client.listDbs()).toContain('Open_vSwitch');
  } finally {
    await client.close();
  }
});

test('control: a raw socket that never answers is dropped by the server', async () => {
  const [, port] = managerUrl.split(':').slice(1);
  const received: string[] = [];
  // who ended the connection: the server (the verdict), or our guard long after its 1 s + 1 s probe
  const closedBy = await new Promise<'server' | 'guard'>((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1');
    let guarded = false;
    s.on('data', (d) => received.push(d.toString()));
    s.on('error', () => undefined);
    const guard = setTimeout(() => {
      guarded = true;
      s.destroy();
    }, 20_000);
    s.on('close', () => {
      clearTimeout(guard);
      resolve(guarded ? 'guard' : 'server');
    });
  });
  expect(JSON.parse(received.join(''))).toEqual({ id: 'echo', method: 'echo', params: [] });
  expect(closedBy).toBe('server');
});

test('our unknown method reaches ovsdb-server and comes back as "unknown method"', async () => {
  const client = await OvsdbClient.connect(managerUrl);
  try {
    await expect(client.request('no_such_method', [])).rejects.toMatchObject({ name: 'OvsdbRpcError', error: 'unknown method' });
    expect(typeof (await client.request('get_server_id', []))).toBe('string');
  } finally {
    await client.close();
  }
});
