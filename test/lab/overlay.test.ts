/**
 * Overlay mode (vxlan) on real Open vSwitch: scenarios/overlay-vxlan.yaml built with one OVS per node
 * (each node's namespace runs its own ovsdb-server + netdev vswitchd, docs/real-ovs.md pitfall 7), the
 * underlay as veths across namespaces, port 90 a flow-based vxlan port, the plan installed with
 * ovs-ofctl and adopted by our OpenFlow channel (one driver per OVS), or (play) over OpenFlow. Checks pod<->pod across nodes *through the tunnel* (port 90 counters move, the tors,
 * which route only node IPs, count the outer packets), the service and egress, agreement with
 * `fabric sim`, and that teardown leaves nothing behind. Never skipped: without root it fails.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkNetnsPermitted, compareWithSim, labDir, labNamespaces, loadScenario, ping, scenarioLabTest, scenarioLabUp, tcpConnect, teardownLab } from '../../fabric/lab';
import type { Lab } from '../../fabric/lab';
import { withProgrammer } from '../../fabric/lab/compile';
import { pidAlive, runCmd } from '../../fabric/lab/exec';
import type { ReconcileReport } from '../../fabric/ovsdriver';
import { runScenario } from '../../sim/runner';

const FILE = path.join(__dirname, '..', '..', 'scenarios', 'overlay-vxlan.yaml');
// ids of this test file; leftovers of an earlier (crashed) run are removed by these names
const ID = 'tovla';
const ID_PLAY = 'tovlb';
const ID_GENEVE = 'tovlg';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
  await teardownLab(ID_PLAY);
  await teardownLab(ID_GENEVE);
});

afterAll(async () => {
  await teardownLab(ID);
  await teardownLab(ID_PLAY);
  await teardownLab(ID_GENEVE);
});

/** tx/rx packets of a bridge port, from `ovs-ofctl dump-ports` */
function portPackets(lab: Lab, sw: string, port: number): { rx: number; tx: number } {
  const out = lab.ofctl(sw, 'dump-ports', String(port));
  const rx = /rx pkts=(\d+)/.exec(out);
  const tx = /tx pkts=(\d+)/.exec(out);
  if (!rx || !tx) throw new Error(`no counters for ${sw} port ${port}: ${out}`);
  return { rx: Number(rx[1]), tx: Number(tx[1]) };
}

function flowPackets(lab: Lab, sw: string, match: string): number {
  const line = lab.ofctl(sw, 'dump-flows', 'table=9').split('\n').find((l) => l.includes(match));
  const m = line && /n_packets=(\d+)/.exec(line);
  if (!m) throw new Error(`no flow ${match} on ${sw}`);
  return Number(m[1]);
}

test('overlay-vxlan: one OVS per node, pod<->pod across nodes over vxlan, service, egress, clean teardown', async () => {
  // installed with ovs-ofctl against each node's own OVS ...
  const { lab, loaded } = await scenarioLabUp(FILE, { id: ID, program: 'ofctl' });
  const pids = lab.record.pids.map((p) => p.pid);
  try {
    const r = lab.record;
    // one OVS namespace per node, each with its own daemons; tors and core in the lab's OVS namespace
    expect(Object.keys(r.nodeOvs ?? {}).sort()).toEqual(['worker-a1', 'worker-a2', 'worker-b1']);
    expect(r.pids.filter((p) => p.comm === 'ovs-vswitchd')).toHaveLength(4);
    expect(lab.ovsFor('worker-b1').vsctl('get', 'Interface', 'tun0', 'type', 'ofport').trim().split('\n')).toEqual(['vxlan', '90']);

    // ... then adopted by our OpenFlow channel: one driver per OVS (4 controller sockets), 0 ops to send
    let reports: ReconcileReport[] = [];
    await withProgrammer(lab, loaded.state, 'openflow', async (program) => program(lab, loaded.state), { onReconciled: (rs) => (reports = rs) });
    expect(reports.map((x) => x.switch).sort()).toEqual(['core', 'tor-a', 'tor-b', 'worker-a1', 'worker-a2', 'worker-b1']);
    expect(reports.map((x) => [x.switch, x.ops]).filter(([, ops]) => ops !== 0)).toEqual([]);

    const counters = (): Record<string, number> => ({
      a1: portPackets(lab, 'worker-a1', 90).tx,
      b1: portPackets(lab, 'worker-b1', 90).tx,
      torB: flowPackets(lab, 'tor-b', 'nw_dst=198.51.100.41'),
      torA: flowPackets(lab, 'tor-a', 'nw_dst=198.51.100.31'),
    });
    const before = counters();
    const icmp = await ping(lab, 'frontend-1', loaded.state.pods.get('api-2')!.ip);
    expect(icmp.received).toBeGreaterThan(0);
    const tcp = await tcpConnect(lab, 'worker-1', loaded.state.pods.get('frontend-1')!.ip, 80);
    expect(tcp[0]?.ok ? tcp[0].server : tcp[0]).toBe('frontend-1');
    // flow counters reach OpenFlow when the revalidators pull datapath stats (~0.5 s): poll up to 3 s
    let after = counters();
    for (let waited = 0; waited < 3000 && Object.keys(after).some((k) => after[k] - before[k] < 3); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = counters();
    }
    // both directions left through the tunnel ports (tx; rx of a vxlan port counts only upcalled packets
    // in the userspace datapath, so it is not asserted), and the outer packets crossed the tors, which
    // route node IPs only: 3 echo requests + the TCP exchange each way
    for (const k of ['a1', 'b1', 'torB', 'torA']) expect([k, after[k] - before[k] >= 3]).toEqual([k, true]);

    // pods leave room for the 50 bytes of vxlan inside the underlay's 1500
    expect(runCmd('ip', ['-n', lab.host('api-2').ns, 'link', 'show', 'eth0']).stdout).toMatch(/ mtu 1450 /);
  } finally {
    await lab.down();
  }
  expect(labNamespaces(ID)).toEqual([]);
  expect(fs.existsSync(labDir(ID))).toBe(false);
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  expect(fs.readdirSync('/sys/class/net').filter((l) => /^v\d+p\d+$|^tun0$|^worker-/.test(l))).toEqual([]);
}, 30_000);

test('overlay-vxlan: lab test (OpenFlow, one driver per OVS) agrees with fabric sim on every measured expectation', async () => {
  const report = await scenarioLabTest(FILE, { id: ID_PLAY });
  const comparison = compareWithSim(report, runScenario(loadScenario(FILE).scenario));
  expect(comparison.rows.filter((row) => !row.agree)).toEqual([]);
  expect(report.expectations.filter((e) => !e.skipped).map((e) => [e.kind, e.ok])).toEqual([
    ['reach', true],
    ['reach', true],
    ['reach', true],
    ['egress', true],
    // measured with iperf3 over shaped links (fabric/lab/links.ts)
    ['maxLinkUtilization', true],
  ]);
  expect(labNamespaces(ID_PLAY)).toEqual([]);
}, 30_000);

test('overlay with geneve (same scenario, encap: geneve): MTU 1400, every expectation agrees with fabric sim', async () => {
  const dir = fs.mkdtempSync(path.join('/tmp', 'fabric-geneve-'));
  const file = path.join(dir, 'overlay-geneve.yaml');
  const text = fs.readFileSync(FILE, 'utf8');
  expect(text).toMatch(/^ {2}encap: vxlan/m);
  fs.writeFileSync(file, text.replace(/^( {2}encap:) vxlan/m, '$1 geneve').replace(/^name: .*$/m, 'name: overlay-geneve'));
  try {
    const report = await scenarioLabTest(file, { id: ID_GENEVE, keep: true });
    try {
      const lab = (await import('../../fabric/lab')).Lab.open(ID_GENEVE);
      // the tunnel port is geneve and pods leave room for its larger header
      const tun = lab.ovsFor('worker-a1').vsctl('get', 'interface', 'tun0', 'type').trim();
      expect(tun).toBe('geneve');
      expect(runCmd('ip', ['-n', lab.host('api-2').ns, 'link', 'show', 'eth0']).stdout).toMatch(/ mtu 1400 /);
    } finally {
      await teardownLab(ID_GENEVE);
    }
    const comparison = compareWithSim(report, runScenario(loadScenario(file).scenario));
    expect(comparison.rows.filter((row) => !row.agree)).toEqual([]);
    expect(report.expectations.filter((e) => !e.skipped && e.kind !== 'maxLinkUtilization').map((e) => [e.kind, e.ok])).toEqual([
      ['reach', true],
      ['reach', true],
      ['reach', true],
      ['egress', true],
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(labNamespaces(ID_GENEVE)).toEqual([]);
}, 60_000);
