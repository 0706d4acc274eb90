/**
 * The intent store as the controller uses it (fabric/daemon.ts), against a private Open vSwitch with
 * the dummy datapath:
 *
 * - compaction: after enough acknowledged batches the controller folds the old ones into one
 *   (`store-compacted`), the log shrinks, and a controller restarted on the directory has the same
 *   pods with the same addresses;
 * - Idempotency-Key on POST /events: a retry with the same key and events is answered from the store
 *   (`replayed: true`, the first revision) and applied once; the same key with other events is 422;
 *   a malformed key is 400.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { startController, RunningController } from '../../fabric/daemon';
import { parseLog } from '../../fabric/store';
import { PrivateOvs, startPrivateOvs } from '../support/ovs';

const FIXTURE = path.join(__dirname, '..', 'lab', 'fixtures', 'two-nodes.yaml');

let ovs: PrivateOvs;
let tmp: string;
const running: RunningController[] = [];
beforeAll(async () => {
  ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-tccomp-'));
}, 60_000);
afterAll(async () => {
  for (const r of running) await r.stop().catch(() => undefined);
  await ovs?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function post(sock: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function start(file: string, stateDir: string, sock: string, logs: string[]): Promise<RunningController> {
  const r = await startController(file, {
    ovsdb: ovs.dbUrl,
    listen: `unix:${path.join(ovs.dir, 'tccomp-ctl.sock')}`,
    api: `unix:${sock}`,
    stateDir,
    datapathType: 'dummy',
    statsIntervalMs: 0,
    watch: false,
    compact: { every: 10, keep: 3 },
    log: (event, fields) => logs.push(`${event} ${JSON.stringify(fields)}`),
  });
  running.push(r);
  const deadline = Date.now() + 30_000;
  while (!(r.controller.stats.switchesConnected === 3 && r.controller.stats.passes > 0)) {
    if (Date.now() > deadline) throw new Error('switches did not connect');
    await new Promise((res) => setTimeout(res, 20));
  }
  await r.controller.idle();
  return r;
}

const podsOf = (r: RunningController): Record<string, string> => Object.fromEntries(r.snapshot().pods.map((p) => [p.name, `${p.node} ${p.ip}`]));

test('the controller compacts its log after enough batches; a restart on it has the same pods and addresses', async () => {
  const file = path.join(tmp, 'two-nodes.yaml');
  fs.copyFileSync(FIXTURE, file);
  const stateDir = path.join(tmp, 'state');
  const sock = path.join(tmp, 'api.sock');
  const logs: string[] = [];
  const first = await start(file, stateDir, sock, logs);
  // 30 batches: adds, some deleted again, a move, a link down
  for (let i = 0; i < 24; i++) expect((await post(sock, [{ pod: 'add', name: `c${i}`, node: i % 2 ? 'node1' : 'node2', labels: { app: 'c' } }])).status).toBe(200);
  for (let i = 0; i < 24; i += 3) expect((await post(sock, [{ pod: 'delete', name: `c${i}` }])).status).toBe(200);
  expect((await post(sock, [{ pod: 'move', name: 'c1', to: 'node2' }])).status).toBe(200);
  expect((await post(sock, [{ link: 'down', between: ['node2', 'tor1'] }])).status).toBe(200);
  // compaction runs in the background after an append
  const deadline = Date.now() + 10_000;
  while (!logs.some((l) => l.startsWith('store-compacted'))) {
    if (Date.now() > deadline) throw new Error(`no compaction: ${logs.filter((l) => l.startsWith('store')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  const log = parseLog(fs.readFileSync(path.join(stateDir, 'intent.log')));
  expect(log.batches[0].source).toBe('compacted');
  expect(log.batches.length).toBeLessThan(34);
  expect(log.batches[log.batches.length - 1].revision).toBe(34);
  const before = podsOf(first);
  const linksDown = first.snapshot().linksAdminDown;
  await first.stop();
  running.splice(running.indexOf(first), 1);

  const again = await start(file, stateDir, sock, []);
  expect(podsOf(again)).toEqual(before);
  expect(again.snapshot().linksAdminDown).toEqual(linksDown);
  expect(again.storeRevision()).toBe(34);
  // and it goes on: the next append gets the next revision
  expect((await post(sock, [{ pod: 'add', name: 'after', node: 'node1' }])).body.revision).toBe(35);
  process.stdout.write(`controller compaction: ${logs.find((l) => l.startsWith('store-compacted'))}; log of ${log.batches.length} records after 34 batches\n`);
  await again.stop();
  running.splice(running.indexOf(again), 1);
}, 90_000);

test('Idempotency-Key: a retry is answered from the store and applied once; another batch under the key is 422', async () => {
  const file = path.join(tmp, 'two-nodes-k.yaml');
  fs.copyFileSync(FIXTURE, file);
  const stateDir = path.join(tmp, 'state-k');
  const sock = path.join(tmp, 'api-k.sock');
  const r = await start(file, stateDir, sock, []);
  const batch = [{ pod: 'add', name: 'k1', node: 'node1', labels: { app: 'k' } }];
  const a = await post(sock, batch, { 'idempotency-key': 'add-k1-7f3a' });
  expect(a.status).toBe(200);
  expect(a.body.replayed).toBeUndefined();
  const opsAfterFirst = r.controller.stats.opsSent;
  const b = await post(sock, batch, { 'idempotency-key': 'add-k1-7f3a' });
  expect(b.status).toBe(200);
  expect(b.body).toMatchObject({ replayed: true, revision: a.body.revision, changes: 0 });
  expect(r.controller.stats.opsSent).toBe(opsAfterFirst);
  expect(r.storeRevision()).toBe(a.body.revision);
  // without the key the same batch is a new one, refused: the pod exists
  expect((await post(sock, batch)).status).toBe(400);
  const c = await post(sock, [{ pod: 'add', name: 'k2', node: 'node1' }], { 'idempotency-key': 'add-k1-7f3a' });
  expect(c.status).toBe(422);
  expect(c.body.error).toMatch(/used for other events/);
  expect(r.snapshot().pods.some((p) => p.name === 'k2')).toBe(false);
  expect((await post(sock, batch, { 'idempotency-key': 'has space' })).status).toBe(400);
  // keys survive a restart (they are stored with the batch)
  await r.stop();
  running.splice(running.indexOf(r), 1);
  const again = await start(file, stateDir, sock, []);
  expect((await post(sock, batch, { 'idempotency-key': 'add-k1-7f3a' })).body).toMatchObject({ replayed: true, revision: a.body.revision });
  expect(again.snapshot().pods.filter((p) => p.name === 'k1')).toHaveLength(1);
}, 90_000);
