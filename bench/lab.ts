/**
 * Lab benchmark on real Open vSwitch (userspace datapath, root): the three figures.
 * - lab up: namespaces + private OVS + bridges + hosts + plan installed (two-node fixture);
 * - pod added -> first packet forwarded: namespace, port, agent, reconcile over our OpenFlow channel, then
 *   TCP probes from the new pod to the external host until one is answered (with the SNAT'ed source);
 * - link down -> traffic restored: ICMP every 10 ms from a pod to the external host across an ECMP pair
 *   of spine uplinks; one uplink's veth set down; lost probes x interval = outage; the controller
 *   (LiveController) reacts to the port status and reconciles;
 * - resilience with `fabric controller` (in-process) on the two-node fixture, 10 ms ICMP probes pod ->
 *   external running through each: ovsdb-server stopped for 0.5 s and restarted (probes lost; time from
 *   the stop to the controller's OVSDB session back and its bridges re-ensured), ovs-vswitchd stopped
 *   and restarted (flows lost; time until egress TCP works again), controller stopped and restarted
 *   (probes lost; ops the new controller sends);
 * - flows installed per second into real OVS: one node switch's plan of a generated cluster, through our
 *   OpenFlow channel (reconcile -> one bundle) and through `ovs-ofctl --bundle add-flows`, same bridge;
 * - pod TCP (iperf3, 3 s) across nodes and out through SNAT, with userspace TSO (the routed lab's
 *   default) and without it (tx offload off on every veth);
 * - the lab's bandwidth expectations (fair-share fixture): the rates iperf3 and the link counters
 *   measured beside the model's values that the verdicts use (docs/lab.md "Bandwidth in the lab").
 * Prints a table, writes bench/results/lab.json. Never asserts a time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/lab.js [--runs N] [--only lab-up,pod-add,failover,failover-controller,resilience,flow-rate,pod-tcp,bandwidth]
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { BenchResult, printTable, record, writeResults } from './harness';
import { generateCluster } from './cluster-gen';
import { applyEvent, buildClusterState, parseScenarioText } from '../topology';
import type { ClusterState } from '../topology/types';
import { compileCluster } from '../controller';
import { Lab, teardownLab, tcpConnect, scenarioLabTest, scenarioLabUp, scenarioPorts } from '../fabric/lab';
import { connectLab, driverProgrammer, labControllerSocket } from '../fabric/lab/controller';
import { planText } from '../fabric/lab/program';
import { inNsAsync } from '../fabric/lab/exec';
import { PYTHON } from '../fabric/lab/agent';
import { LiveController, OvsDriver } from '../fabric/ovsdriver';
import { loadScenario } from '../fabric/lab';
import { startController, RunningController } from '../fabric/daemon';

const FIXTURE = path.join(__dirname, '..', '..', 'test', 'lab', 'fixtures', 'two-nodes.yaml');
const ID = 'bench';

const FAILOVER_YAML = `
name: bench-failover
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16 }
fabric:
  switches: [ { name: spine1 }, { name: spine2 }, { name: tor1 }, { name: tor2 } ]
  nodes: [ { name: node1, ip: 198.51.100.11 } ]
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [tor1, spine1], gbps: 40 }
    - { between: [tor1, spine2], gbps: 40 }
    - { between: [spine1, tor2], gbps: 40 }
    - { between: [spine2, tor2], gbps: 40 }
  externals: [ { name: internet, ip: 203.0.113.1, attach: tor2 } ]
pods: [ { name: app-1, node: node1 } ]
`;

function ms(start: number): number {
  return performance.now() - start;
}

async function labUpRuns(runs: number): Promise<BenchResult> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const { lab } = await scenarioLabUp(FIXTURE, { id: ID, program: 'openflow' });
    samples.push(ms(start));
    await lab.down();
  }
  return record('lab up (2 nodes, 4 hosts, 3 bridges, plan over OpenFlow)', 'ms', samples);
}

async function podAddRuns(runs: number): Promise<BenchResult[]> {
  const { lab, loaded } = await scenarioLabUp(FIXTURE, { id: ID, program: 'openflow' });
  const driver = await OvsDriver.start(`unix:${labControllerSocket(lab)}`);
  const total: number[] = [];
  const reconcileMs: number[] = [];
  try {
    await connectLab(lab, driver, loaded.state);
    const program = driverProgrammer(driver);
    for (let i = 0; i < runs; i++) {
      const name = `new-${i}`;
      const start = performance.now();
      applyEvent(loaded.state, { at: 0, kind: 'pod', action: 'add', name, node: 'node2', labels: {} });
      await lab.addPod(loaded.state, name);
      const r0 = performance.now();
      await program(lab, loaded.state);
      reconcileMs.push(ms(r0));
      for (let tries = 0; tries < 100; tries++) {
        const [reply] = await tcpConnect(lab, name, '203.0.113.1', 80, 1, 0.2, 1);
        if (reply?.ok) break;
      }
      total.push(ms(start));
    }
  } finally {
    await driver.close();
    await lab.down();
  }
  return [
    record('pod added -> first packet forwarded (egress TCP answered)', 'ms', total, 'namespace + veth + OVS port + agent + reconcile + first TCP round trip'),
    record('  of which: recompile + reconcile over OpenFlow', 'ms', reconcileMs),
  ];
}

async function failoverRuns(runs: number, fastFailover = true): Promise<BenchResult[]> {
  // without fast failover the ECMP buckets do not watch their ports: the cut uplink keeps its share of
  // flows until the controller has seen the port status, recompiled and reconciled
  const yaml = fastFailover ? FAILOVER_YAML : FAILOVER_YAML.replace('serviceCidr: 10.96.0.0/16 }', 'serviceCidr: 10.96.0.0/16, fastFailover: false }');
  if (!fastFailover && yaml === FAILOVER_YAML) throw new Error('bench-failover: could not set cluster.fastFailover');
  const parsed = parseScenarioText(yaml, 'bench-failover.yaml');
  if (!parsed.scenario) throw new Error(`bench scenario: ${JSON.stringify(parsed.diagnostics)}`);
  const state: ClusterState = buildClusterState(parsed.scenario);
  const lab = await Lab.up(state, { id: ID, extraPorts: scenarioPorts(parsed.scenario) });
  const driver = await OvsDriver.start(`unix:${labControllerSocket(lab)}`);
  const outage: number[] = [];
  const lost: number[] = [];
  const notes: string[] = [];
  try {
    const controller = new LiveController(driver, state);
    await connectLab(lab, driver, state);
    await controller.schedule();
    const ext = state.externals.get('internet')!.ip;
    const host = lab.host('app-1');
    const agent = path.join(lab.record.dir, 'agent.py');
    for (let i = 0; i < runs; i++) {
      // which uplink carries the probes now: cut that one (the ECMP hash may pick either)
      const before = portPackets(lab, 'tor1');
      await inNsAsync(host.ns, PYTHON, [agent, 'ping', ext, '20', '0.01', '0.1']);
      const after = portPackets(lab, 'tor1');
      const busy = [2, 3].sort((a, b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) - ((after.get(a) ?? 0) - (before.get(a) ?? 0)))[0];
      const link = busy === 2 ? 'tor1|spine1' : 'tor1|spine2';
      // 2 ms apart: the data plane's and the controller's repair both take a few ms
      const count = 1500;
      const interval = 0.002;
      const { spawn } = await import('child_process');
      // a 5 ms timeout: a lost probe must not hide the rest of the outage (RTT here is well under 1 ms)
      const probe = spawn('ip', ['netns', 'exec', host.ns, PYTHON, agent, 'ping', ext, String(count), String(interval), '0.005'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      probe.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<void>((resolve) => probe.on('close', () => resolve()));
      await new Promise((r) => setTimeout(r, 500));
      lab.setLink(link, false);
      await new Promise((r) => setTimeout(r, 1000));
      await controller.idle();
      await done;
      const lines = out.split('\n').filter(Boolean);
      const lostNow = lines.filter((l) => l.startsWith('lost')).length;
      // the outage: the longest silence between two answered probes (send times, monotonic), less
      // the normal spacing; a lost probe alone would hide whatever happened during its timeout
      const answered = lines.map((l) => /^reply \d+ [\d.]+ \S+ ([\d.]+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
      let gap = 0;
      for (let k = 1; k < answered.length; k++) gap = Math.max(gap, answered[k]! - answered[k - 1]!);
      lost.push(lostNow);
      outage.push(Math.max(0, gap - interval) * 1000);
      notes.push(`run ${i}: cut ${link}: ${lostNow}/${lines.length} probes lost, silence ${(gap * 1000).toFixed(1)} ms`);
      lab.setLink(link, true);
      await new Promise((r) => setTimeout(r, 300));
      await controller.idle();
    }
  } finally {
    await driver.close();
    await lab.down();
  }
  const how = fastFailover ? 'buckets watch their ports' : 'cluster.fastFailover: false, the controller repairs';
  return [record(`link down -> traffic restored (ECMP uplink cut, ${how}; longest silence between answered ICMP probes sent every 2 ms, less 2 ms)`, 'ms', outage, notes.join('; ')), record('  probes lost', 'count', lost)];
}

function portPackets(lab: Lab, sw: string): Map<number, number> {
  const out = lab.ofctl(sw, 'dump-ports');
  // rx + tx packets per port: a cut link breaks whichever direction used it
  const m = new Map<number, number>();
  const re = /port\s+(\d+):\s+rx pkts=(\d+)[^\n]*\n\s+tx pkts=(\d+)/g;
  for (let x = re.exec(out); x; x = re.exec(out)) m.set(Number(x[1]), Number(x[2]) + Number(x[3]));
  return m;
}

async function flowRateRuns(runs: number): Promise<BenchResult[]> {
  const scenario = generateCluster({ nodes: 50, podsPerNode: 30, services: 500, backendsPerService: 3, fixedAddresses: true });
  const big = buildClusterState(scenario);
  const plans = compileCluster(big);
  const [name, plan] = [...plans.entries()].find(([n]) => big.switches.get(n)!.role === 'node')!;
  // a lab with one bridge carrying that switch's identity (no hosts: flows need no devices)
  const tiny: ClusterState = { ...big, switches: new Map([[name, { ...big.switches.get(name)!, ports: [] }]]), links: new Map(), pods: new Map(), externals: new Map(), services: new Map(), nodes: new Map([[name, big.nodes.get(name)!]]) };
  const lab = await Lab.up(tiny, { id: ID });
  const driver = await OvsDriver.start(`unix:${labControllerSocket(lab)}`);
  const ours: number[] = [];
  const ofctl: number[] = [];
  try {
    await connectLab(lab, driver, tiny);
    const conn = driver.connection(big.switches.get(name)!.datapathId)!;
    const text = planText(plan);
    const dir = path.join(lab.record.dir, 'plans');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'big.flows'), text.flows + '\n');
    fs.writeFileSync(path.join(dir, 'big.groups'), text.groups + '\n');
    const wipe = (): void => {
      lab.ofctl(name, 'del-flows');
      lab.ofctl(name, 'del-groups');
    };
    for (let i = 0; i < runs; i++) {
      wipe();
      let start = performance.now();
      const r = await driver.reconcileSwitch(conn, plan);
      ours.push(plan.flows.length / (ms(start) / 1000));
      if (r.ops < plan.flows.length) throw new Error(`reconcile sent ${r.ops} ops for ${plan.flows.length} flows`);
      wipe();
      start = performance.now();
      lab.ovs.ofctl('-O', 'OpenFlow13', 'add-groups', lab.ovs.mgmt(lab.bridge(name)), path.join(dir, 'big.groups'));
      lab.ovs.ofctl('-O', 'OpenFlow13', '--bundle', 'add-flows', lab.ovs.mgmt(lab.bridge(name)), path.join(dir, 'big.flows'));
      ofctl.push(plan.flows.length / (ms(start) / 1000));
    }
  } finally {
    await driver.close();
    await lab.down();
  }
  const what = `${plan.flows.length} flows + ${plan.groups.length} groups (switch ${name} of 50 nodes x 30 pods, 500 services)`;
  return [record('flows/s into real OVS: our OpenFlow channel (read, diff, 1 bundle, barrier)', 'flows/s', ours, what), record('flows/s into real OVS: ovs-ofctl --bundle add-flows (+ add-groups)', 'flows/s', ofctl, what)];
}

/** ICMP probes every 10 ms from a host while `during` runs; returns probes lost / sent. */
async function probeWhile(lab: Lab, hostName: string, dst: string, count: number, during: () => Promise<void>): Promise<{ lost: number; sent: number }> {
  const { spawn } = await import('child_process');
  const agent = path.join(lab.record.dir, 'agent.py');
  const probe = spawn('ip', ['netns', 'exec', lab.host(hostName).ns, PYTHON, agent, 'ping', dst, String(count), '0.01', '0.05'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  probe.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((resolve) => probe.on('close', () => resolve()));
  try {
    await new Promise((r) => setTimeout(r, 300));
    await during();
  } finally {
    await done;
  }
  const lines = out.split('\n').filter(Boolean);
  return { lost: lines.filter((l) => l.startsWith('lost')).length, sent: lines.length };
}

async function resilienceRuns(runs: number): Promise<BenchResult[]> {
  const loaded = loadScenario(FIXTURE);
  const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
  const listen = `unix:${labControllerSocket(lab)}`;
  let running: RunningController | undefined;
  const dbMs: number[] = [];
  const dbLost: number[] = [];
  const vswitchdMs: number[] = [];
  const ctlLost: number[] = [];
  const ctlOps: number[] = [];
  const notes: string[] = [];
  const wait = async (cond: () => boolean, what: string): Promise<void> => {
    for (const start = performance.now(); !cond(); await new Promise((r) => setTimeout(r, 10))) {
      if (ms(start) > 15_000) throw new Error(`timed out waiting for ${what}`);
    }
  };
  const converged = async (r: RunningController): Promise<void> => {
    await wait(() => r.controller.stats.switchesConnected === 3 && r.controller.stats.passes > 0, 'convergence');
    await r.controller.idle();
  };
  try {
    running = await startController(FIXTURE, { ovsdb: lab.ovs.dbUrl, listen });
    await converged(running);
    const ext = loaded.state.externals.get('internet')!.ip;
    for (let i = 0; i < runs; i++) {
      const r = running;
      const reconnectsBefore = r.ovsdbStats.reconnects;
      const db = await probeWhile(lab, 'web-2', ext, 150, async () => {
        const start = performance.now();
        await lab.restartOvsdbServer(500);
        await wait(() => r.ovsdbStats.reconnects > reconnectsBefore, 'OVSDB reconnect');
        await r.ovsdbIdle();
        dbMs.push(ms(start));
      });
      dbLost.push(db.lost);
      notes.push(`run ${i}: ovsdb-server restart ${db.lost}/${db.sent} probes lost`);

      const start = performance.now();
      await lab.restartVswitchd();
      for (;;) {
        await new Promise((res) => setTimeout(res, 20));
        if ((await tcpConnect(lab, 'web-2', ext, 80, 1, 0.2, 1))[0]?.ok) break;
        if (ms(start) > 15_000) throw new Error('vswitchd restart: egress did not come back');
      }
      vswitchdMs.push(ms(start));
      await r.controller.idle();

      const ctl = await probeWhile(lab, 'web-2', ext, 150, async () => {
        await running!.stop();
        running = undefined;
        running = await startController(FIXTURE, { ovsdb: lab.ovs.dbUrl, listen });
        await converged(running);
      });
      ctlLost.push(ctl.lost);
      ctlOps.push(running!.controller.stats.opsSent);
    }
  } finally {
    await running?.stop();
    await lab.down();
  }
  return [
    record('ovsdb-server down 0.5 s -> controller reconnected + bridges re-ensured', 'ms', dbMs, notes.join('; ')),
    record('  ICMP probes lost meanwhile (sent every 10 ms, 50 ms timeout each)', 'count', dbLost),
    record('ovs-vswitchd restarted (flows lost) -> egress TCP answered again', 'ms', vswitchdMs),
    record('controller restarted: ICMP probes lost (sent every 10 ms, 50 ms timeout each)', 'count', ctlLost),
    record('  ops sent by the restarted controller', 'count', ctlOps),
  ];
}

/** iperf3 -c from a lab host, the receiver's rate in Gbit/s (the server is a one-off, our child, killed by handle). */
async function iperfGbps(lab: Lab, from: string, to: { ns: string; ip: string }, port: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', to.ns, 'iperf3', '-s', '-1', '-p', String(port)], { stdio: 'ignore' });
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await inNsAsync(lab.host(from).ns, 'iperf3', ['-c', to.ip, '-p', String(port), '-t', '3', '-J'], { timeoutMs: 20_000 });
      const bps = (() => {
        try {
          return (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
        } catch {
          return undefined;
        }
      })();
      if (bps !== undefined) return bps / 1e9;
      await new Promise((res) => setTimeout(res, 100)); // the server was not listening yet
    }
    throw new Error(`iperf3 ${from} -> ${to.ip}: no result`);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

async function podTcpRuns(runs: number): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const tso of [true, false]) {
    const across: number[] = [];
    const egress: number[] = [];
    const { lab } = await scenarioLabUp(FIXTURE, { id: ID, tso });
    try {
      const web2 = lab.host('web-2');
      const internet = lab.host('internet');
      for (let i = 0; i < runs; i++) {
        across.push(await iperfGbps(lab, 'web-1', web2, 5999));
        egress.push(await iperfGbps(lab, 'web-1', internet, 5999));
      }
    } finally {
      await lab.down();
    }
    const how = tso ? 'userspace TSO, offloads on' : 'no TSO, tx offload off';
    out.push(record(`pod TCP across nodes, 3 bridges (${how})`, 'Gbit/s', across), record(`pod TCP egress through SNAT (${how})`, 'Gbit/s', egress));
  }
  return out;
}

/** The fair-share fixture in the lab: measured rates and link utilization beside the model's values. */
async function bandwidthRuns(runs: number): Promise<BenchResult[]> {
  const file = path.join(__dirname, '..', '..', 'test', 'lab', 'fixtures', 'fair-share.yaml');
  const rows = new Map<string, { model: number; measured: number[] }>();
  for (let i = 0; i < runs; i++) {
    const report = await scenarioLabTest(file, { id: ID });
    for (const e of report.expectations) {
      if (e.measured === undefined || e.value === undefined) continue;
      const name = `lab ${e.kind} #${e.index}: measured (model ${e.value})`;
      const row = rows.get(name) ?? { model: e.value, measured: [] };
      row.measured.push(e.measured);
      rows.set(name, row);
    }
  }
  return [...rows].map(([name, r]) => record(name, 'ratio', r.measured.map((x) => x / r.model), 'measured / model (Gbit/s for fairShare, utilization for maxLinkUtilization)'));
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
  await teardownLab(ID);
  const results: BenchResult[] = [];
  const notes: string[] = [];
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg > 0 ? process.argv[onlyArg + 1].split(',') : undefined;
  const step = async (label: string, fn: () => Promise<BenchResult | BenchResult[]>): Promise<void> => {
    if (only && !only.includes(label.replace(/ /g, '-'))) return;
    try {
      const r = await fn();
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (err) {
      notes.push(`${label} failed: ${(err as Error).message}`);
      process.stderr.write(`bench lab: ${label} failed: ${(err as Error).message}\n`);
    } finally {
      await teardownLab(ID);
    }
  };
  await step('lab up', () => labUpRuns(runs));
  await step('pod add', () => podAddRuns(runs));
  await step('failover', () => failoverRuns(runs));
  await step('failover-controller', () => failoverRuns(runs, false));
  await step('resilience', () => resilienceRuns(runs));
  await step('flow rate', () => flowRateRuns(runs));
  await step('pod tcp', () => podTcpRuns(runs));
  await step('bandwidth', () => bandwidthRuns(runs));
  printTable(results);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  // a partial run (--only) must not overwrite the full results file
  const file = writeResults(only ? `lab-${only.join('-')}` : 'lab', results, { notes });
  process.stdout.write(`wrote ${file}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench lab: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
