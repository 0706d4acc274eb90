/**
 * `fabric lab up FILE --controller --ha 3 --store etcd://...` (docs/lab.md, docs/ha.md): three
 * `fabric controller` processes for one lab on a private three-member etcd cluster, each with its own
 * OpenFlow socket, API and log, recorded in the lab. The `fabric lab` commands run in process
 * (test/support/cli.ts), so no build is needed: the controllers they start run from the TypeScript
 * source through test/lab/fabric-ts.js ($FABRIC_BIN).
 *
 * Checked: --ha without --store is refused (exit 2, naming etcd); three controllers up, exactly one
 * leader; `fabric lab list`/`inspect` show the three with their roles; `fabric lab pod add` succeeds
 * when the first recorded API is a standby (the pod answers TCP); kill -9 of the leader's pid (from
 * the record) -> another leads within 30 s (the time is printed, not asserted) and a pod add still
 * works; `fabric lab down` leaves no controller process. Root (namespaces, OVS). Lab id `thalab`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { register } from '../../cli/commands/lab';
import { checkNetnsPermitted, controllerRole, Lab, readLabRecord, tcpConnect, teardownLab } from '../../fabric/lab';
import type { ControllerRole } from '../../fabric/lab';
import { pidAlive } from '../../fabric/lab/exec';
import { runCli } from '../support/cli';
import { EtcdCluster, startEtcdCluster } from '../store/support/etcd';

const FIXTURE = path.join(__dirname, 'fixtures', 'console.yaml');
const ID = 'thalab';
const ID_OVERLAY = 'thalabo';
const OVERLAY = path.join(__dirname, '..', '..', 'scenarios', 'overlay-vxlan.yaml');
const RUNNER = path.join(__dirname, 'fabric-ts.js');

let etcd: EtcdCluster | undefined;
const savedBin = process.env.FABRIC_BIN;
/** every controller pid the lab recorded (to check after `lab down`, and to stop in afterAll) */
const pids = new Set<number>();

const fabric = (...args: string[]): Promise<{ code: number; out: string; err: string }> => runCli(register, args);

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
  await teardownLab(ID_OVERLAY);
  process.env.FABRIC_BIN = RUNNER;
  etcd = await startEtcdCluster(3);
}, 90_000);

afterAll(async () => {
  await teardownLab(ID).catch(() => undefined);
  await teardownLab(ID_OVERLAY).catch(() => undefined);
  // anything recorded that survived (teardownLab stops recorded pids; this is belt and braces, by pid)
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  await etcd?.stop();
  if (savedBin === undefined) delete process.env.FABRIC_BIN;
  else process.env.FABRIC_BIN = savedBin;
}, 60_000);

async function roles(apis: string[]): Promise<(ControllerRole | undefined)[]> {
  return Promise.all(apis.map((a) => controllerRole(a, 1000)));
}

/** the one leader among `apis` (role leader, takeover done, every switch connected), else undefined */
async function leaderOf(apis: string[]): Promise<string | undefined> {
  const r = await roles(apis);
  const leaders = apis.filter((_, i) => r[i]?.role === 'leader' && r[i]?.lastTakeover && r[i]?.switchesConnected === r[i]?.switchesTotal);
  return leaders.length === 1 ? leaders[0] : undefined;
}

test('--ha without --store is refused before anything is built', async () => {
  const r = await fabric('lab', 'up', FIXTURE, '--name', ID, '--controller', '--ha', '3');
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/--ha needs --store etcd:\/\/.*docs\/ha\.md/);
  expect(readLabRecord(ID)).toBeUndefined();
  const six = await fabric('lab', 'up', FIXTURE, '--name', ID, '--ha', '6', '--store', 'etcd://127.0.0.1:1');
  expect(six.code).toBe(2);
  expect(six.err).toContain('give 2 to 5 controllers');
  const apis = await fabric('lab', 'up', FIXTURE, '--name', ID, '--ha', '2', '--store', 'etcd://127.0.0.1:1', '--api', 'unix:/tmp/thalab-x.sock');
  expect(apis.code).toBe(2);
  expect(apis.err).toContain('--api lists 2 URLs');
  expect(readLabRecord(ID)).toBeUndefined();
});

test('three HA controllers for a lab: one leader, pod add past a standby, kill -9 of the leader, lab down', async () => {
  const up = await fabric('lab', 'up', FIXTURE, '--name', ID, '--controller', '--ha', '3', '--store', etcd!.url('/thalab'), '--lease-ttl', '2');
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.err}${up.out}`);
  process.stdout.write(up.out);
  expect(up.out).toMatch(/3 fabric controllers in HA on etcd:\/\/.*controller \d leads/);

  // the record: three controllers, each with its pid, API and log
  let rec = readLabRecord(ID)!;
  const ctlPids = rec.pids.filter((p) => p.what === 'fabric controller');
  for (const p of ctlPids) pids.add(p.pid);
  expect(ctlPids).toHaveLength(3);
  expect(rec.controllerApis).toEqual([1, 2, 3].map((i) => `unix:/tmp/fabric-lab-${ID}/api-${i}.sock`));
  expect(rec.controllerApi).toBe(rec.controllerApis![0]);
  expect(rec.ha!.controllers.map((c) => c.pid)).toEqual(ctlPids.map((p) => p.pid));
  for (const c of rec.ha!.controllers) {
    expect(pidAlive(c.pid)).toBe(true);
    expect(fs.existsSync(c.log)).toBe(true);
  }
  const apis = rec.controllerApis!;
  const r0 = await roles(apis);
  expect(r0.map((r) => r?.role).sort()).toEqual(['leader', 'standby', 'standby']);
  const leader = apis[r0.findIndex((r) => r?.role === 'leader')];
  // every standby names the leader by its API URL (--ha-id)
  for (const r of r0) if (r?.role === 'standby') expect(r.leader).toBe(leader);

  // list and inspect show the three with their roles
  const list = await fabric('lab', 'list');
  expect(list.code).toBe(0);
  const line = list.out.split('\n').find((l) => l.startsWith(`${ID} `))!;
  expect(line).toContain('3 controllers (HA)');
  expect(line.match(/ leader /g)).toHaveLength(1);
  expect(line.match(/ standby /g)).toHaveLength(2);
  const inspect = await fabric('lab', 'inspect', '--id', ID, '--json');
  expect(inspect.code).toBe(0);
  const x = JSON.parse(inspect.out);
  expect(x.controllers.map((c: { role: string }) => c.role).sort()).toEqual(['leader', 'standby', 'standby']);
  expect(x.store).toBe(etcd!.url('/thalab'));

  // make the first recorded API a standby (the record's order is what `pod add` tries first)
  if (apis[0] === leader) {
    const k = r0.findIndex((r) => r?.role === 'standby');
    const l = Lab.open(ID);
    const order = [apis[k], ...apis.filter((_, i) => i !== k)];
    l.record.controllerApis = order;
    l.record.controllerApi = order[0];
    l.save();
  }
  rec = readLabRecord(ID)!;
  expect((await controllerRole(rec.controllerApis![0]))?.role).toBe('standby');

  const add = await fabric('lab', 'pod', 'add', 'web-3', '--node', 'node2', '--labels', 'app=web', '--id', ID);
  expect(add.err).toBe('');
  expect(add.code).toBe(0);
  expect(add.out).toContain(`controller ${leader} reconciled`);
  let lab = Lab.open(ID);
  expect((await tcpConnect(lab, 'client', lab.host('web-3').ip, 8080, 1))[0]).toMatchObject({ ok: true, server: 'web-3' });

  // kill -9 the leader, by the pid the lab recorded for its API
  const dead = rec.ha!.controllers.find((c) => c.api === leader)!;
  const killedAt = Date.now();
  process.kill(dead.pid, 'SIGKILL');
  const others = apis.filter((a) => a !== leader);
  let next: string | undefined;
  while (!next && Date.now() - killedAt < 30_000) {
    next = await leaderOf(others);
    if (!next) await new Promise((r) => setTimeout(r, 100));
  }
  const takeoverMs = Date.now() - killedAt;
  process.stdout.write(`ha-lab: kill -9 of the leader (pid ${dead.pid}, ${leader}) -> ${next ?? 'no one'} leads after ${takeoverMs} ms\n`);
  expect(next).toBeDefined();
  expect(pidAlive(dead.pid)).toBe(false);

  const add2 = await fabric('lab', 'pod', 'add', 'web-4', '--node', 'node1', '--labels', 'app=web', '--id', ID);
  expect(add2.err).toBe('');
  expect(add2.code).toBe(0);
  expect(add2.out).toContain(`controller ${next} reconciled`);
  lab = Lab.open(ID);
  expect((await tcpConnect(lab, 'client', lab.host('web-4').ip, 8080, 1))[0]).toMatchObject({ ok: true, server: 'web-4' });
  // web-3, stored by the dead leader, is in the new leader's state
  const st = (await fabric('lab', 'inspect', '--id', ID, '--json')).out;
  expect(JSON.parse(st).controllers.filter((c: { role: string }) => c.role === 'leader').map((c: { api: string }) => c.api)).toEqual([next]);
  const del = await fabric('lab', 'pod', 'delete', 'web-3', '--id', ID);
  expect(del.code).toBe(0);
  expect(del.out).toContain('and from its controller');

  const down = await fabric('lab', 'down', '--name', ID);
  expect(down.code).toBe(0);
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  expect(readLabRecord(ID)).toBeUndefined();
}, 240_000);

test('an overlay lab (one OVS per node): each bridge gets every controller in its own OVS (--peer-controller SWITCH=URL)', async () => {
  const up = await fabric('lab', 'up', OVERLAY, '--name', ID_OVERLAY, '--ha', '2', '--store', etcd!.url('/thalabo'), '--lease-ttl', '2');
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.err}${up.out}`);
  const lab = Lab.open(ID_OVERLAY);
  for (const p of lab.record.pids.filter((x) => x.what === 'fabric controller')) pids.add(p.pid);
  expect(Object.keys(lab.record.nodeOvs ?? {}).length).toBeGreaterThan(0);
  for (const sw of Object.keys(lab.record.bridges)) {
    const dir = lab.ovsFor(sw).dir;
    expect(lab.ovsFor(sw).vsctl('get-controller', lab.bridge(sw)).trim().split('\n').sort()).toEqual([`unix:${dir}/ctl-1.sock`, `unix:${dir}/ctl-2.sock`]);
  }
  const r = await roles(lab.record.controllerApis!);
  expect(r.map((x) => x?.role).sort()).toEqual(['leader', 'standby']);
  for (const x of r) expect(x!.switchesConnected).toBe(Object.keys(lab.record.bridges).length);
  const node = Object.keys(lab.record.nodeOvs!)[0];
  const add = await fabric('lab', 'pod', 'add', 'px', '--node', node, '--id', ID_OVERLAY);
  expect(add.err).toBe('');
  expect(add.code).toBe(0);
  const recorded = lab.record.pids.filter((x) => x.what === 'fabric controller').map((x) => x.pid);
  expect((await fabric('lab', 'down', '--name', ID_OVERLAY)).code).toBe(0);
  for (const pid of recorded) expect(pidAlive(pid)).toBe(false);
}, 180_000);
