/**
 * The plugin's controller client under HA (fabric/cni/controller-client.ts ControllerSet) against fake
 * controllers: node http servers on unix sockets in a temporary directory, each answering as a test
 * tells it (200, a standby's 503 with the leader, never) and counting what it got. No root tools, no
 * OVS: the plugin's DEL runs in-process with an OVSDB that is not there.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { ControllerSet } from '../../fabric/cni/controller-client';
import { NodeIpam } from '../../fabric/cni/ipam';
import { runCni } from '../../fabric/cni/plugin';
import { CniCode, CniError, hostIfaceName, parseNetConf, parseSubnet } from '../../fabric/cni/protocol';

interface Reply {
  status: number;
  body: unknown;
}

/** One fake controller: `answer` decides each reply (undefined: never answer); `got` lists `METHOD PATH`. */
interface Fake {
  url: string;
  got: string[];
  answer: (method: string, path: string, body: string) => Reply | undefined;
  count: (what?: string) => number;
}

let dir = '';
const servers: http.Server[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-ctl-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function fake(name: string, answer: Fake['answer']): Promise<Fake> {
  const sock = path.join(dir, `${name}.sock`);
  const f: Fake = {
    url: `unix:${sock}`,
    got: [],
    answer,
    count: (what) => f.got.filter((g) => what === undefined || g === what).length,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      f.got.push(`${req.method} ${req.url}`);
      const r = f.answer(req.method ?? '', req.url ?? '', Buffer.concat(chunks).toString('utf8'));
      if (!r) return; // a frozen controller: the connection stays open, no answer
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  return f;
}

/** A URL whose socket does not exist: ENOENT, as a killed controller's API. */
const dead = (name: string): string => `unix:${path.join(dir, `${name}.sock`)}`;

const STATE = { pods: [], nodes: [{ name: 'node1', ip: '198.51.100.11', podCidr: '10.244.1.0/24', up: true }], services: [] };
const ok = (): Reply => ({ status: 200, body: { applied: 1, reconciledMs: 3 } });
const standby = (leader?: string): Reply => ({ status: 503, body: { error: 'not the leader', ...(leader !== undefined ? { leader } : {}) } });
const POD = [{ kind: 'pod', action: 'add', name: 'web', node: 'node1', ip: '10.244.1.5', labels: {} }];

function caught(err: unknown): CniError {
  expect(err).toBeInstanceOf(CniError);
  return err as CniError;
}

test('(a) a refused first URL: the request goes to the second', async () => {
  const b = await fake('b', ok);
  const set = new ControllerSet([dead('a'), b.url], { timeoutMs: 2000 });
  const r = await set.postEvents(POD);
  expect(r).toMatchObject({ url: b.url, status: 200, attempts: 2 });
  expect(b.count('POST /events')).toBe(1);
  // the URL that answered is tried first from then on
  expect(set.current).toBe(b.url);
  expect((await set.postEvents(POD)).attempts).toBe(1);
});

test('(b) a 503 naming the leader: the client goes there next, skipping the others', async () => {
  const c = await fake('c', ok);
  const b = await fake('b', ok);
  const a = await fake('a', () => standby(c.url));
  const set = new ControllerSet([a.url, b.url, c.url], { timeoutMs: 2000 });
  const r = await set.postEvents(POD);
  expect(r).toMatchObject({ url: c.url, status: 200, attempts: 2 });
  expect([a.count(), b.count(), c.count()]).toEqual([1, 0, 1]);
  expect(set.current).toBe(c.url);
});

test('(c) every controller a standby for 300 ms, then one elected: the request succeeds after the election', async () => {
  const t0 = Date.now();
  const elected = (): boolean => Date.now() - t0 >= 300;
  // during the election the standbys still name the dead leader (its lease has not expired)
  const old = dead('old');
  const a = await fake('a', () => standby(old));
  const b = await fake('b', () => (elected() ? ok() : standby(old)));
  const c = await fake('c', () => standby(elected() ? b.url : old));
  const set = new ControllerSet([old, a.url, b.url, c.url], { timeoutMs: 3000 });
  const r = await set.postEvents(POD);
  const ms = Date.now() - t0;
  expect(r).toMatchObject({ url: b.url, status: 200 });
  expect(ms).toBeGreaterThanOrEqual(300);
  expect(ms).toBeLessThan(1500);
  expect(b.count('POST /events')).toBeGreaterThanOrEqual(2);
  // backoff: a few rounds, not a busy loop (50, 100, 200 ms pauses)
  expect(a.count() + b.count() + c.count()).toBeLessThan(30);
});

test('(d) nothing answers within timeoutMs: code 101 naming every URL and its last error', async () => {
  const frozen = await fake('frozen', () => undefined);
  const stby = await fake('standby', () => standby('elsewhere'));
  const urls = [dead('gone'), frozen.url, stby.url];
  const set = new ControllerSet(urls, { timeoutMs: 500 });
  const t0 = Date.now();
  const err = caught(await set.postEvents(POD).then(() => undefined, (e: unknown) => e));
  const ms = Date.now() - t0;
  expect(err.code).toBe(CniCode.controllerFailure);
  for (const u of urls) expect(err.message).toContain(u);
  expect(err.message).toMatch(/gone\.sock: POST \/events: connect ENOENT/);
  expect(err.message).toMatch(/frozen\.sock: POST \/events: no answer within \d+ ms/);
  expect(err.message).toMatch(/standby\.sock: 503 not the leader \(leader elsewhere, not one of the configured URLs\)/);
  expect(ms).toBeGreaterThanOrEqual(450);
  expect(ms).toBeLessThan(1500);
  // later calls of the same plugin call make one round without waiting out the deadline again
  const t1 = Date.now();
  await expect(set.getState()).rejects.toMatchObject({ code: CniCode.controllerFailure });
  expect(Date.now() - t1).toBeLessThan(400);
});

test('one URL behaves as before: one attempt, a 503 returned as the answer, a refused connection code 101 at once', async () => {
  const a = await fake('a', () => standby('b'));
  const one = new ControllerSet(a.url, { timeoutMs: 2000 });
  expect(await one.postEvents(POD)).toMatchObject({ url: a.url, status: 503, attempts: 1, json: { leader: 'b' } });
  expect(a.count()).toBe(1);
  const t0 = Date.now();
  const err = caught(await new ControllerSet([dead('x')], { timeoutMs: 2000 }).getState().then(() => undefined, (e: unknown) => e));
  expect(err.code).toBe(CniCode.controllerFailure);
  expect(err.message).toMatch(/^controller unix:.*x\.sock: GET \/state: connect ENOENT/);
  expect(Date.now() - t0).toBeLessThan(300);
});

test('(e) the GET /state that verifies a POST goes to the controller that took it', async () => {
  // a: a standby whose state lags (no pod); b: the leader, which stores the pod
  const pods: unknown[] = [];
  const a = await fake('a', (m) => (m === 'GET' ? { status: 200, body: STATE } : standby()));
  const b = await fake('b', (m) => {
    if (m === 'POST') {
      pods.push({ name: 'web', node: 'node1', ip: '10.244.1.5', labels: {}, port: 7 });
      return ok();
    }
    return { status: 200, body: { ...STATE, pods } };
  });
  const set = new ControllerSet([a.url, b.url], { timeoutMs: 2000 });
  expect((await set.getState()).url).toBe(a.url);
  const r = await set.postEvents(POD);
  expect(r.url).toBe(b.url);
  const pinned = await set.getState({ only: r.url });
  expect(pinned.url).toBe(b.url);
  expect(pinned.state.pods).toHaveLength(1);
  // and the set prefers it from now on
  expect((await set.getState()).url).toBe(b.url);
  expect([a.count('GET /state'), b.count('GET /state')]).toEqual([1, 2]);
  // pinned to a controller that died after answering: no other controller's state instead
  const err = caught(await new ControllerSet([a.url, dead('c')], { timeoutMs: 300 }).getState({ only: dead('c') }).then(() => undefined, (e: unknown) => e));
  expect(err.code).toBe(CniCode.controllerFailure);
  expect(a.count('GET /state')).toBe(1);
});

test("a standby's GET /state naming a configured leader: the leader's state is used", async () => {
  const b = await fake('b', () => ({ status: 200, body: { ...STATE, pods: [{ name: 'web', node: 'node1', ip: '10.244.1.5', labels: {} }], ha: { role: 'leader', identity: 'b' } } }));
  const a = await fake('a', () => ({ status: 200, body: { ...STATE, ha: { role: 'standby', identity: 'a', leader: b.url } } }));
  const set = new ControllerSet([a.url, b.url], { timeoutMs: 2000 });
  const r = await set.getState();
  expect(r.url).toBe(b.url);
  expect(r.state.pods).toHaveLength(1);
  expect(set.current).toBe(b.url);
});

describe('(f) the config key', () => {
  const conf = (controller: unknown): string => JSON.stringify({ cniVersion: '1.0.0', name: 'fabric-node1', type: 'fabric', node: 'node1', controller });
  const codeOf = (controller: unknown): number | string => {
    try {
      parseNetConf(conf(controller), 'ADD');
      return 'no error';
    } catch (err) {
      return err instanceof CniError ? err.code : String(err);
    }
  };

  test('a string, a comma list, a list', () => {
    expect(parseNetConf(conf('unix:/run/fabric-a.sock'), 'ADD').controllers).toEqual(['unix:/run/fabric-a.sock']);
    expect(parseNetConf(conf('unix:/run/fabric-a.sock, tcp:8080:127.0.0.1,http://ctl-c:9000'), 'ADD').controllers).toEqual(['unix:/run/fabric-a.sock', 'tcp:8080:127.0.0.1', 'http://ctl-c:9000']);
    expect(parseNetConf(conf(['unix:/run/fabric-a.sock', 'unix:/run/fabric-b.sock', 'unix:/run/fabric-a.sock']), 'ADD').controllers).toEqual(['unix:/run/fabric-a.sock', 'unix:/run/fabric-b.sock']);
    expect(parseNetConf(JSON.stringify({ cniVersion: '1.0.0', name: 'n', node: 'node1', subnet: '10.244.1.0/24' }), 'ADD').controllers).toBeUndefined();
  });

  test('bad entries: code 7 (invalid config)', () => {
    for (const bad of ['', 'unix:/a,,unix:/b', 'unix:/a,ftp://b', ['unix:/a', 'ftp://b'], ['unix:/a', 7], [], ['  '], 42, { a: 'unix:/a' }]) {
      expect([bad, codeOf(bad)]).toEqual([bad, CniCode.invalidConfig]);
    }
    try {
      parseNetConf(conf(['unix:/a', 'ftp://b']), 'ADD');
    } catch (err) {
      expect((err as Error).message).toContain('"ftp://b"');
    }
  });
});

describe('the plugin DEL (in-process, no OVS)', () => {
  const env = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'x1', CNI_IFNAME: 'eth0' };
  const conf = (controller: unknown, timeoutMs: number): string =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'fabric-node1', type: 'fabric', node: 'node1', subnet: '10.244.1.0/24', dataDir: path.join(dir, 'data'), ovsdb: `unix:${dir}/no-ovsdb.sock`, controller, timeoutMs });
  const record = (): NodeIpam => {
    const ipam = new NodeIpam(path.join(dir, 'data'), 'node1', parseSubnet('10.244.1.0/24'));
    ipam.allocate({ network: 'fabric-node1', containerId: 'x1', ifname: 'eth0', podName: 'c-x1', hostIface: hostIfaceName('x1', 'eth0'), netns: '/run/netns/none' }, new Set());
    return ipam;
  };

  test('the delete reaches the leader past a dead controller and a standby; "no pod" after a retry is no error', async () => {
    const ipam = record();
    const ip = ipam.find('x1', 'eth0')!.ip;
    const withPod = { ...STATE, pods: [{ name: 'c-x1', node: 'node1', ip, labels: {} }] };
    // the leader: the dead one stored the delete before it died, so this is the retry's answer
    const leader = await fake('leader', (m) => (m === 'GET' ? { status: 200, body: withPod } : { status: 400, body: { error: 'pod delete: no pod c-x1 exists at 0s', applied: 0 } }));
    const stby = await fake('standby', (m) => (m === 'GET' ? { status: 200, body: withPod } : standby(leader.url)));
    const out = await runCni(env, conf([dead('old'), stby.url, leader.url], 3000));
    // OVSDB is not there: DEL asks to try again, but the controller part is not among its errors
    expect(out.exitCode).toBe(1);
    const json = JSON.parse(out.stdout);
    expect(json.code).toBe(CniCode.tryAgainLater);
    expect(json.msg).toMatch(/OVS: removing port/);
    expect(json.msg).not.toMatch(/controller/);
    expect(leader.count('POST /events')).toBe(1);
    expect(stby.count('POST /events')).toBe(1);
    const log = fs.readFileSync(path.join(dir, 'data', 'node1', 'plugin.log'), 'utf8');
    expect(log).toContain(`"event":"pod-deleted"`);
    expect(log).toContain(`"controller":"${leader.url}"`);
  });

  test('every controller down: DEL fails with code 11 naming them, and the address stays allocated (as with one controller)', async () => {
    const ipam = record();
    const out = await runCni(env, conf(`${dead('a')},${dead('b')}`, 500));
    const json = JSON.parse(out.stdout);
    expect(json.code).toBe(CniCode.tryAgainLater);
    expect(json.msg).toContain(dead('a'));
    expect(json.msg).toContain(dead('b'));
    expect(ipam.find('x1', 'eth0')).toBeDefined();
  });
});

test('POST /events carries one Idempotency-Key, the same on every retry of the call, a new one for the next call', async () => {
  const keys: string[] = [];
  let bCalls = 0;
  const server = (name: string, handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> => {
    const sock = path.join(dir, `${name}.sock`);
    const s = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        keys.push(`${name} ${String(req.headers['idempotency-key'])}`);
        handle(req, res);
      });
    });
    servers.push(s);
    return new Promise((resolve) => s.listen(sock, () => resolve(`unix:${sock}`)));
  };
  const b = await server('b', (req, res) => {
    // the leader dies with the first request in hand (no answer), answers the retry
    if (++bCalls === 1) return req.socket.destroy();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ applied: 1 }));
  });
  const a = await server('a', (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'standby', leader: b }));
  });
  const set = new ControllerSet([a, b], { timeoutMs: 3000, backoffMs: { min: 10, max: 20 } });
  const r = await set.postEvents(POD, { idempotencyKey: 'k-1' });
  expect(r.status).toBe(200);
  expect(keys.length).toBeGreaterThanOrEqual(3);
  expect(new Set(keys.map((k) => k.split(' ')[1]))).toEqual(new Set(['k-1']));
  keys.length = 0;
  await set.postEvents(POD);
  expect(keys).toEqual(['b undefined']);
});
