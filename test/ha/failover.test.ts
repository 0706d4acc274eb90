/**
 * Controller high availability on real parts (docs/ha.md): a three-member etcd cluster on loopback
 * ports and a private Open vSwitch (dummy datapath: no namespaces, no addresses), both started by the
 * test; three `fabric controller --store etcd://...` child processes, every bridge connected to all
 * three. One leads (MASTER, generation id = its etcd leader key's create revision), two stand by
 * (SLAVE, no writes, POST /events answers 503 with the leader). Then:
 *
 * 1. kill -9 the leader with nothing in flight: a standby takes MASTER with a higher generation id,
 *    reads the switches back and sends nothing (the flows are adopted, not wiped: dump-flows before
 *    and after are the same); the takeover time is printed.
 * 2. pods added through the API at a steady rate (a client that retries on the next controller when
 *    one dies or answers 503), kill -9 the new leader meanwhile: every acknowledged pod is in the last
 *    leader's state and on the switches, none twice.
 * 3. a leader frozen (SIGSTOP) past its lease: the last standby takes over; thawed, the old leader finds
 *    its lease deadline passed and stands down; its POST /events is refused (503) and it writes nothing.
 *
 * And OVS's own role rules through our channel: a slave's flow-mod is refused (OFPBRC_IS_SLAVE), a
 * role request with a lower generation id is refused (OFPRRFC_STALE), a new master demotes the old one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { OvsDriver } from '../../fabric/ovsdriver';
import type { SwitchOp } from '../../fabric/openflow/flow';
import { isSlaveRefusal, requestRole, StaleGenerationError } from '../../fabric/ha';
import { mgmt } from '../support/ovs';
import { api, ApiAnswer, startControllerChild, waitFor } from '../store/support/child';
import { alive, Ctl, haRig, leaderOf, startCtl, stateOf } from './support';

const FIXTURE = path.join(__dirname, '..', 'lab', 'fixtures', 'two-nodes.yaml');
const BRIDGES = ['node1', 'node2', 'tor1'];
const TTL_S = 2;

const rig = haRig('fabric-tha-');

function flows(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const br of BRIDGES) {
    out[br] = rig.ovs
      .ofctl('-O', 'OpenFlow13', '--no-stats', 'dump-flows', mgmt(rig.ovs, br))
      .split('\n')
      .filter((l) => l.includes('cookie='))
      .map((l) => l.trim())
      .sort();
  }
  return out;
}
const counts = (f: Record<string, string[]>): Record<string, number> => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.length]));

/** OVS's view: each controller target's role on each bridge */
function ovsRoles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const br of BRIDGES) {
    for (const target of rig.ovs.vsctl('get-controller', br).trim().split('\n')) {
      const row = rig.ovs.vsctl('--columns=role', '--format=csv', '--no-headings', 'find', 'controller', `target="${target}"`).trim().split('\n')[0];
      out[`${br}@${path.basename(target).replace(/^tha-ctl-|\.sock$/g, '')}`] = row.replace(/"/g, '');
    }
  }
  return out;
}


test('three controllers on etcd: election, roles, kill -9 takeover without a wipe, no acknowledged change lost, a frozen leader stands down', async () => {
  const file = path.join(rig.tmp, 'two-nodes.yaml');
  fs.copyFileSync(FIXTURE, file);
  const ids = ['a', 'b', 'c'];
  const target = (id: string): string => `unix:${path.join(rig.ovs.dir, `tha-ctl-${id}.sock`)}`;
  const storeUrl = rig.etcd.url('/tha');
  const ctls: Ctl[] = [];
  // one after another: each ensures the same bridges (the same set of three controller targets)
  for (const id of ids) {
    const sock = path.join(rig.tmp, `api-${id}.sock`);
    const args = [file, '--ovsdb', rig.ovs.dbUrl, '--listen', target(id), '--api', `unix:${sock}`, '--store', storeUrl, '--ha-id', id, '--lease-ttl', String(TTL_S), '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0'];
    for (const other of ids) if (other !== id) args.push('--peer-controller', target(other));
    ctls.push(await startCtl(id, sock, args, rig.children));
  }
  const state = stateOf;
  // everyone connected to every switch; one leader
  await waitFor('all three connected to all switches', async () => ((await Promise.all(ctls.map(state))).every((s) => s.switchesConnected === 3) ? true : undefined), 30_000);
  const first = (await waitFor('a leader', () => leaderOf(ctls), 30_000)).value;
  const s1 = await state(first);
  const gen1 = BigInt(s1.ha.generationId);
  const standbys = ctls.filter((c) => c !== first);
  for (const c of standbys) expect((await state(c)).ha.role).toBe('standby');
  await waitFor('OVS roles: one master per bridge', () => {
    const r = ovsRoles();
    return BRIDGES.every((br) => r[`${br}@${first.id}`] === 'master' && standbys.every((s) => r[`${br}@${s.id}`] === 'slave')) ? r : undefined;
  }, 10_000);

  // changes through the leader; a standby refuses (503, naming the leader) and stores nothing
  for (let i = 1; i <= 5; i++) expect((await api(first.sock, 'POST', '/events', [{ pod: 'add', name: `s${i}`, node: i % 2 ? 'node1' : 'node2', labels: { app: 'web' } }])).status).toBe(200);
  const refused = await api(standbys[0].sock, 'POST', '/events', [{ pod: 'add', name: 'nope', node: 'node1' }]);
  expect(refused.status).toBe(503);
  expect(refused.body.leader).toBe(first.id);
  await waitFor('standbys to follow the store', async () => ((await Promise.all(standbys.map(state))).every((s) => s.store.revision === 5 && s.pods.length === 8) ? true : undefined), 10_000);
  expect((await state(standbys[1])).opsSent).toBe(0); // a standby never wrote

  // 1. kill -9 the leader, nothing in flight: takeover adopts the flows (no wipe, nothing sent)
  const before = flows();
  const killedAt = Date.now();
  await first.child.kill9();
  const second = (await waitFor('a new leader after kill -9', () => leaderOf(standbys), 30_000, 10)).value;
  const takeover1Ms = Date.now() - killedAt;
  const s2 = await state(second);
  const gen2 = BigInt(s2.ha.generationId);
  expect(gen2).toBeGreaterThan(gen1);
  expect(s2.ha.lastTakeover.opsSent).toBe(0);
  expect(flows()).toEqual(before);
  // OVS refreshes the Controller table's status columns every few seconds
  await waitFor(`OVS: ${second.id} master everywhere`, () => (BRIDGES.every((br) => ovsRoles()[`${br}@${second.id}`] === 'master') ? true : undefined), 15_000, 200);

  // 2. a steady stream of pod adds while the new leader is killed
  const rest = standbys;
  let guess = second;
  const acked: string[] = [];
  const dupAcks: string[] = [];
  let longestGapMs = 0;
  let lastAckAt = Date.now();
  const post = async (name: string, node: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    let tried = false;
    while (Date.now() < deadline) {
      for (const c of [guess, ...rest.filter((x) => x !== guess)]) {
        if (!alive(c)) continue;
        let r: ApiAnswer;
        try {
          r = await api(c.sock, 'POST', '/events', [{ pod: 'add', name, node, labels: { app: 'stream' } }], 5000);
        } catch {
          tried = true;
          continue;
        }
        if (r.status === 200 || (r.status === 400 && tried && /already used/.test(r.body.error))) {
          // a retry of a batch stored before its controller died answers "already used": it was applied once
          if (r.status === 400) dupAcks.push(name);
          guess = c;
          acked.push(name);
          longestGapMs = Math.max(longestGapMs, Date.now() - lastAckAt);
          lastAckAt = Date.now();
          return;
        }
        if (r.status !== 503) throw new Error(`POST ${name} to ${c.id}: ${r.status} ${JSON.stringify(r.body)}`);
        tried = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`pod ${name} not accepted by any controller in 30 s`);
  };
  let streaming = true;
  const stream = (async () => {
    for (let i = 0; streaming; i++) {
      const t = Date.now();
      await post(`r${i}`, i % 2 ? 'node1' : 'node2');
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - t))));
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  const killed2At = Date.now();
  const ackedAtKill = acked.length;
  await second.child.kill9();
  const third = (await waitFor('a leader after the second kill -9', () => leaderOf(rest.filter((c) => c !== second)), 30_000, 10)).value;
  const takeover2Ms = Date.now() - killed2At;
  await waitFor('acks again after the takeover', () => (acked.length > ackedAtKill + 10 ? true : undefined), 30_000);
  streaming = false;
  await stream;
  const s3 = await state(third);
  expect(BigInt(s3.ha.generationId)).toBeGreaterThan(gen2);
  const podNames: string[] = s3.pods.map((p: { name: string }) => p.name);
  for (const name of acked) expect(podNames).toContain(name);
  expect(new Set(podNames).size).toBe(podNames.length);
  expect(podNames.filter((n) => n.startsWith('r')).sort()).toEqual([...acked].sort());
  // on the switches: the last leader's pass leaves nothing to do
  const settled = flows();
  const opsBefore = (await state(third)).opsSent;
  await api(third.sock, 'POST', '/events', [{ pod: 'add', name: 'check', node: 'node1' }]);
  expect(counts(flows()).node1).toBeGreaterThan(counts(settled).node1);
  void opsBefore;

  // 3. the last standby: freeze the leader (SIGSTOP) past its lease; the standby (the first one, long
  // dead, is gone; restart it as the standby) takes over; the thawed leader must not write
  const sockA = path.join(rig.tmp, 'api-a.sock');
  const argsA = [file, '--ovsdb', rig.ovs.dbUrl, '--listen', target('a'), '--api', `unix:${sockA}`, '--store', storeUrl, '--ha-id', 'a', '--lease-ttl', String(TTL_S), '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0'];
  for (const other of ['b', 'c']) argsA.push('--peer-controller', target(other));
  const again: Ctl = { id: 'a', sock: sockA, child: startControllerChild(argsA) };
  rig.children.push(again.child);
  await waitFor('the restarted controller a as a standby, current', async () => {
    const s = await state(again);
    return s.ha?.role === 'standby' && s.switchesConnected === 3 && s.store.revision === s3.store.revision + 1 ? true : undefined;
  }, 60_000);
  const beforeFreeze = flows();
  const thirdOps = (await state(third)).opsSent as number;
  const frozenAt = Date.now();
  process.kill(third.child.pid, 'SIGSTOP');
  const fourth = (await waitFor('a leader while the old one is frozen', () => leaderOf([again]), 30_000, 10)).value;
  const takeover3Ms = Date.now() - frozenAt;
  const s4 = await state(fourth);
  expect(BigInt(s4.ha.generationId)).toBeGreaterThan(BigInt(s3.ha.generationId));
  expect(s4.ha.lastTakeover.opsSent).toBe(0);
  process.kill(third.child.pid, 'SIGCONT');
  const { ms: standDownMs } = await waitFor('the thawed leader to stand down', async () => ((await state(third)).ha.role === 'standby' ? true : undefined), 15_000, 10);
  const late = await api(third.sock, 'POST', '/events', [{ pod: 'add', name: 'late', node: 'node2' }]);
  expect(late.status).toBe(503);
  expect(third.child.logs.some((l) => l.event === 'election-lost' || l.event === 'ha-standby')).toBe(true);
  const t3 = await state(third);
  expect(t3.opsSent).toBe(thirdOps); // nothing written after the thaw
  await waitFor('OVS: a master everywhere', () => (BRIDGES.every((br) => ovsRoles()[`${br}@a`] === 'master') ? true : undefined), 15_000, 200);
  expect(flows()).toEqual(beforeFreeze);
  process.stdout.write(
    `ha: leader ${first.id} gen ${gen1}; kill -9 -> ${second.id} gen ${gen2} leading in ${takeover1Ms} ms (lease TTL ${TTL_S} s; takeover pass ${JSON.stringify(s2.ha.lastTakeover)}), flows ${JSON.stringify(counts(before))} before = after; ` +
      `stream of pod adds every 50 ms, kill -9 -> ${third.id} gen ${s3.ha.generationId} leading in ${takeover2Ms} ms, ${acked.length} acknowledged (${dupAcks.length} acknowledged on retry as already stored), all present once, longest gap between acks ${longestGapMs} ms; ` +
      `SIGSTOP leader -> a gen ${s4.ha.generationId} leading in ${takeover3Ms} ms; thawed old leader stood down ${standDownMs} ms after SIGCONT, its ops ${thirdOps} -> ${t3.opsSent}, POST answered ${late.status}\n`,
  );
  for (const c of [again.child, third.child]) await c.kill9();
}, 240_000);

test("OVS's role rules through our channel: IS_SLAVE, STALE, a new master demotes the old one", async () => {
  const a = await OvsDriver.start(`unix:${path.join(rig.ovs.dir, 'tha-role-a.sock')}`);
  const b = await OvsDriver.start(`unix:${path.join(rig.ovs.dir, 'tha-role-b.sock')}`);
  try {
    const dpid = '00000000000000a1';
    rig.ovs.vsctl('add-br', 'tharole', '--', 'set', 'bridge', 'tharole', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure', `other_config:datapath-id=${dpid}`);
    rig.ovs.vsctl('set-controller', 'tharole', a.target, b.target);
    const [ca, cb] = await Promise.all([a.waitForSwitch(dpid), b.waitForSwitch(dpid)]);
    const flow = (n: number): SwitchOp[] => [{ op: 'add-flow', flow: { table: 0, priority: 100 + n, cookie: 0x1n, match: { in_port: { value: BigInt(n) } }, instructions: {} } }];
    expect((await requestRole(ca, 'master', 10n)).role).toBe('master');
    expect((await requestRole(cb, 'slave', 10n)).role).toBe('slave');
    await a.apply(ca, flow(1));
    let err: unknown;
    await b.apply(cb, flow(2)).catch((e) => (err = e));
    expect(isSlaveRefusal(err)).toBe(true);
    await expect(requestRole(cb, 'master', 9n)).rejects.toBeInstanceOf(StaleGenerationError);
    expect((await requestRole(cb, 'master', 11n)).role).toBe('master');
    err = undefined;
    await a.apply(ca, flow(3)).catch((e) => (err = e));
    expect(isSlaveRefusal(err)).toBe(true);
    await b.apply(cb, flow(4));
    const dumped = rig.ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', mgmt(rig.ovs, 'tharole'));
    expect(dumped).toMatch(/priority=101/);
    expect(dumped).not.toMatch(/priority=102/);
    expect(dumped).not.toMatch(/priority=103/);
    expect(dumped).toMatch(/priority=104/);
  } finally {
    rig.ovs.vsctl('--if-exists', 'del-br', 'tharole');
    await a.close();
    await b.close();
  }
});

test('partition: the leader loses etcd but keeps its switches: it stands down before the new leader is elected', async () => {
  const file = path.join(rig.tmp, 'two-nodes-p.yaml');
  fs.copyFileSync(FIXTURE, file);
  const target = (id: string): string => `unix:${path.join(rig.ovs.dir, `tha-ctl-${id}.sock`)}`;
  const start = async (id: string, peer: string, members: number[]): Promise<Ctl> => {
    const sock = path.join(rig.tmp, `api-${id}.sock`);
    const args = [file, '--ovsdb', rig.ovs.dbUrl, '--listen', target(id), '--peer-controller', target(peer), '--api', `unix:${sock}`, '--store', rig.etcd.url('/tha2', members), '--ha-id', id, '--lease-ttl', String(TTL_S), '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0'];
    const child = startControllerChild(args);
    rig.children.push(child);
    await waitFor(`controller ${id} up`, async () => {
      if (child.proc.exitCode !== null) throw new Error(`controller ${id} exited: ${child.stderr.join('\n')}`);
      const s = (await api(sock, 'GET', '/state')).body;
      return s.switchesConnected === 3 ? true : undefined;
    }, 60_000);
    return { id, sock, child };
  };
  const state = async (c: Ctl): Promise<any> => (await api(c.sock, 'GET', '/state', undefined, 3000)).body; // eslint-disable-line @typescript-eslint/no-explicit-any
  // x talks to etcd member 0 only; y to members 1 and 2 (a quorum without member 0)
  const x = await start('x', 'y', [0]);
  await waitFor('x to lead', async () => ((await state(x)).ha?.lastTakeover ? true : undefined), 30_000);
  const y = await start('y', 'x', [1, 2]);
  expect((await state(y)).ha.role).toBe('standby');
  expect((await api(x.sock, 'POST', '/events', [{ pod: 'add', name: 'before-cut', node: 'node1' }])).status).toBe(200);
  await waitFor('y to follow', async () => ((await state(y)).pods.some((p: { name: string }) => p.name === 'before-cut') ? true : undefined), 10_000);
  const before = flows();
  const xOps = (await state(x)).opsSent as number;
  const cutAt = Date.now();
  rig.etcd.pause(0);
  try {
    const { ms: yLeadsMs } = await waitFor('y to lead', async () => ((await state(y)).ha?.lastTakeover ? true : undefined), 30_000, 10);
    const sx = await state(x);
    expect(sx.ha.role).toBe('standby');
    expect(sx.switchesConnected).toBe(3); // it kept its switches
    expect(sx.opsSent).toBe(xOps);
    const at = (c: Ctl, event: string): number => Date.parse(String(c.child.logs.find((l) => l.event === event)?.time));
    const xDown = at(x, 'ha-standby');
    const yWon = at(y, 'election-won');
    expect(xDown).toBeLessThan(yWon); // never two writers
    const refused = await api(x.sock, 'POST', '/events', [{ pod: 'add', name: 'cut-off', node: 'node1' }]);
    expect(refused.status).toBe(503);
    expect((await api(y.sock, 'POST', '/events', [{ pod: 'add', name: 'after-cut', node: 'node2' }])).status).toBe(200);
    expect(counts(flows()).node1).toBe(counts(before).node1);
    process.stdout.write(
      `ha partition: leader x cut from etcd (its only member SIGSTOPped), stood down ${xDown - cutAt} ms after the cut with its switches still connected; y elected ${yWon - cutAt} ms after the cut (${yWon - xDown} ms after x stood down), leading ${yLeadsMs} ms; x wrote nothing after the cut, its POST answered ${refused.status}\n`,
    );
  } finally {
    rig.etcd.resume(0);
    await x.child.kill9();
    await y.child.kill9();
  }
}, 120_000);
