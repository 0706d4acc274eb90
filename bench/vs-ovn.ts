/**
 * fabric vs OVN on the same generated cluster (bench/cluster-gen.ts): full computation and incremental
 * changes, for N = 100, 500, 1,000 nodes (P = 30 pods per node, S = 1,000 services, B = 3 backends).
 *
 * fabric side (pure compile, no switch): `compileCluster` time and flows/groups produced (plus the time
 * to materialise every switch's flow list, which installing needs); incrementals = `applyEvent` (the
 * model update) + `compileIncremental`.
 * OVN side (bench/peers/ovn): NB loaded with northd paused, then resume → NB_Global.sb_cfg caught up
 * (what `ovn-nbctl --wait=sb sync` waits for) and the logical-flow count; incrementals = one
 * `ovn-nbctl --wait=sb ...` through a warm nbctl daemon (one NB transaction, northd, SB commit).
 * Both stop before the switches: neither figure includes ovn-controller or OpenFlow installation.
 *
 * Environment: BENCH_VS_OVN_NODES (default "100,500,1000"), BENCH_VS_OVN_SERVICES (default 1000), BENCH_RUNS (default 5; full compiles use
 * fewer runs at large N), BENCH_SKIP_OVN=1 (fabric only), BENCH_SKIP_FABRIC=1 (OVN only),
 * BENCH_SKIP_INSTALL=1 (no ovn-controller / OpenFlow installation stage), BENCH_INSTALL_MAX_NODES (default
 * 1000: above it the installation stage is skipped, ovn-controller's memory grows with the whole cluster),
 * BENCH_OVN_MAX_RSS_GB (memory guard of the OVN daemons).
 * Writes bench/results/vs-ovn.json (runs with other sizes write to the temp dir instead).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { OvsDriver } from '../fabric/ovsdriver';
import { mgmt, startPrivateOvs } from '../test/support/ovs';
import type { PrivateOvs } from '../test/support/ovs';
import { compileCluster, compileIncremental, flowCounts } from '../controller';
import type { FabricPlan } from '../controller';
import { applyEvent, buildClusterState } from '../topology';
import type { ClusterState, PodState, ScenarioEvent } from '../topology';
import { generateCluster, ClusterGenOptions, describeCluster, nodeName } from './cluster-gen';
import { BenchRatio, BenchResult, formatNumber, measure, printTable, ratioOf, ratiosTable, record, writeResults } from './harness';
import {
  initialCompute,
  loadCluster,
  lbBackends,
  ovnVersion,
  podAddCommand,
  podDeleteCommand,
  setBackendsCommand,
  startOvn,
} from './peers/ovn';

const log = (s: string): void => void process.stdout.write(s + '\n');

// Daemons of ours still running (OVN, private OVS): stopped when the runner's timeout (SIGTERM) or ^C ends us.
const running = new Set<{ stop(): Promise<void> }>();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log(`vs-ovn: ${signal}: stopping ${running.size} private daemon set(s)`);
    void Promise.all([...running].map((r) => r.stop().catch(() => undefined))).then(() => process.exit(signal === 'SIGTERM' ? 143 : 130));
  });
}

/** The three incremental changes, as events on one fabric state (and their undo). */
interface ChangeCase {
  label: string;
  /** the event for run r */
  event(state: ClusterState, run: number): ScenarioEvent;
  /** restores the state after run r (events applied untimed) */
  undo(state: ClusterState, run: number, applied: ScenarioEvent): ScenarioEvent;
}

const NODE = nodeName(1);
/** the service that gets a new backend */
const SERVICE = 'svc0';
/** the service one of whose backends is deleted (every N has backends; not every node has idle pods) */
const VICTIM_SERVICE = 'svc1';

function victimPod(state: ClusterState): PodState {
  const name = state.services.get(VICTIM_SERVICE)?.endpoints[0];
  const pod = name ? state.pods.get(name) : undefined;
  if (!pod) throw new Error(`vs-ovn: service ${VICTIM_SERVICE} has no backend to delete`);
  return pod;
}

function changeCases(state: ClusterState): ChangeCase[] {
  const victim = victimPod(state);
  const victimLabels = { ...victim.labels };
  return [
    {
      label: 'pod added',
      event: (_s, r) => ({ at: 0, kind: 'pod', action: 'add', name: `bench-new-${r}`, node: NODE, labels: { app: 'idle' } }),
      undo: (_s, r) => ({ at: 0, kind: 'pod', action: 'delete', name: `bench-new-${r}` }),
    },
    {
      label: 'backend added (new pod of a service)',
      event: (_s, r) => ({ at: 0, kind: 'pod', action: 'add', name: `bench-be-${r}`, node: NODE, labels: { app: SERVICE } }),
      undo: (_s, r) => ({ at: 0, kind: 'pod', action: 'delete', name: `bench-be-${r}` }),
    },
    {
      label: 'pod deleted (a backend of a service)',
      event: () => ({ at: 0, kind: 'pod', action: 'delete', name: victim.name }),
      undo: () => ({ at: 0, kind: 'pod', action: 'add', name: victim.name, node: victim.node, labels: victimLabels, ip: victim.ip }),
    },
  ];
}

interface FabricFigures {
  results: BenchResult[];
  compileMs?: BenchResult;
  materialisedMs?: BenchResult;
  incrementalMs: Map<string, BenchResult>;
}

async function fabricSide(state: ClusterState, tag: string, runs: number, fullRuns: number): Promise<FabricFigures> {
  const results: BenchResult[] = [];
  const incrementalMs = new Map<string, BenchResult>();
  let plan: FabricPlan | undefined;
  const compileMs = await measure(`${tag} fabric full compile`, 'ms', () => void (plan = compileCluster(state)), { runs: fullRuns });
  results.push(compileMs);
  let flows = 0;
  let groups = 0;
  let nodeFlowsMax = 0;
  for (const [name, c] of flowCounts(plan!)) {
    flows += c.flows;
    groups += c.groups;
    if (state.switches.get(name)?.role === 'node') nodeFlowsMax = Math.max(nodeFlowsMax, c.flows);
  }
  results.push(record(`${tag} fabric process memory after compile`, 'MiB', [process.memoryUsage().rss / 2 ** 20], 'RSS of the whole bench process (model + plan)'));
  results.push(record(`${tag} fabric flows (all switches)`, 'flows', [flows], `${groups} groups; largest node switch ${nodeFlowsMax} flows`));
  const materialisedMs = await measure(
      `${tag} fabric full compile + materialise every switch`,
      'ms',
      () => {
        const p = compileCluster(state);
        let n = 0;
        for (const sp of p.values()) n += sp.flows.length + sp.groups.length;
        if (n === 0) throw new Error('empty plan');
      },
      { runs: fullRuns, notes: 'flow lists merged and sorted per switch, as installation needs them' },
  );
  results.push(materialisedMs);

  let prev = plan!;
  for (const c of changeCases(state)) {
    const applySamples: number[] = [];
    const compileSamples: number[] = [];
    const totalSamples: number[] = [];
    let touched = 0;
    for (let r = 0; r < runs; r++) {
      const event = c.event(state, r);
      const t0 = performance.now();
      const changes = applyEvent(state, event);
      const t1 = performance.now();
      const next = compileIncremental(prev, state, changes);
      const t2 = performance.now();
      applySamples.push(t1 - t0);
      compileSamples.push(t2 - t1);
      totalSamples.push(t2 - t0);
      touched = 0;
      for (const [name, sp] of next) if (prev.get(name) !== sp) touched++;
      const undoChanges = applyEvent(state, c.undo(state, r, event));
      prev = compileIncremental(next, state, undoChanges);
    }
    const total = record(`${tag} fabric incremental: ${c.label}`, 'ms', totalSamples, `applyEvent + compileIncremental; ${touched} switch plans replaced`);
    incrementalMs.set(c.label, total);
    results.push(total);
    results.push(record(`${tag} fabric incremental: ${c.label} (applyEvent only)`, 'ms', applySamples));
    results.push(record(`${tag} fabric incremental: ${c.label} (compileIncremental only)`, 'ms', compileSamples));
  }
  return { results, compileMs, materialisedMs, incrementalMs };
}

interface OvnFigures {
  results: BenchResult[];
  syncMs?: BenchResult;
  install?: { ovnMs: BenchResult; fabricMs: BenchResult };
  incrementalMs: Map<string, BenchResult>;
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s*(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Flows and groups a bridge holds (OpenFlow 1.3 aggregate; groups counted from the dump). */
function bridgeCounts(ovs: PrivateOvs, bridge: string): { flows: number; groups: number } {
  const aggregate = ovs.ofctl('-O', 'OpenFlow13', 'dump-aggregate', mgmt(ovs, bridge));
  const flows = Number(/flow_count=(\d+)/.exec(aggregate)?.[1] ?? NaN);
  const groups = ovs.ofctl('-O', 'OpenFlow13', 'dump-groups', mgmt(ovs, bridge)).split('\n').filter((l) => /group_id=/.test(l)).length;
  return { flows, groups };
}

/**
 * Installation into one real OVS (dummy datapath), one node's worth: ovn-controller as chassis of node1
 * (its pods bound on br-int) from start until it reports the SB configuration installed
 * (Chassis_Private.nb_cfg), and fabric's plan of node1 through our OpenFlow channel (one bundle +
 * barrier, OvsDriver.reconcileSwitch) into a bridge of the same vswitchd.
 */
async function installSide(state: ClusterState, tag: string, ovn: Awaited<ReturnType<typeof startOvn>>, results: BenchResult[]): Promise<{ ovnMs: BenchResult; fabricMs: BenchResult }> {
  const ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  running.add(ovs);
  let controllerPid: number | undefined;
  let driver: OvsDriver | undefined;
  try {
    const add: string[] = ['--', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=dummy', 'fail-mode=secure', 'other-config:disable-in-band=true'];
    for (const pod of state.pods.values()) {
      if (pod.node !== NODE) continue;
      const ifname = `ovn${pod.name.replace(/^node\d+-pod/, '')}-${add.length}`.slice(0, 15);
      add.push('--', 'add-port', 'br-int', ifname, '--', 'set', 'interface', ifname, `external_ids:iface-id=${pod.name}`);
    }
    ovs.vsctl(...add);
    ovs.vsctl('set', 'open', '.', `external_ids:system-id=chassis-${NODE}`, `external_ids:ovn-remote=unix:${ovn.sbSock}`, 'external_ids:ovn-encap-type=geneve', 'external_ids:ovn-encap-ip=127.0.0.1', 'external_ids:ovn-bridge-datapath-type=dummy');
    const [global] = await ovn.sb.select('SB_Global', ['nb_cfg']);
    const target = Number(global.nb_cfg);
    const start = performance.now();
    execFileSync('ovn-controller', [ovs.dbUrl, `--pidfile=${path.join(ovs.dir, 'ovn-controller.pid')}`, `--log-file=${path.join(ovs.dir, 'ovn-controller.log')}`, '--detach', '--no-chdir'], {
      env: { ...ovs.env, OVN_RUNDIR: ovs.dir, OVN_LOGDIR: ovs.dir, OVN_DBDIR: ovs.dir },
      stdio: 'ignore',
    });
    controllerPid = Number(fs.readFileSync(path.join(ovs.dir, 'ovn-controller.pid'), 'utf8'));
    const vswitchdPid = Number(fs.readFileSync(path.join(ovs.dir, 'ovs-vswitchd.pid'), 'utf8'));
    let peakKiB = 0;
    for (;;) {
      peakKiB = Math.max(peakKiB, rssKiB(controllerPid) + rssKiB(vswitchdPid));
      const rows = await ovn.sb.select('Chassis_Private', ['nb_cfg'], [['name', '==', `chassis-${NODE}`]]);
      if (rows.length && Number(rows[0].nb_cfg) >= target) break;
      if (performance.now() - start > 30 * 60_000) throw new Error('ovn-controller did not catch up in 30 minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
    const ovnMs = record(`${tag} install node1: ovn-controller start → flows installed`, 'ms', [performance.now() - start], 'Chassis_Private.nb_cfg caught up');
    peakKiB = Math.max(peakKiB, rssKiB(controllerPid) + rssKiB(vswitchdPid));
    results.push(record(`${tag} install node1: ovn-controller + ovs-vswitchd peak memory`, 'MiB', [peakKiB / 1024], 'sampled every 10 ms while installing'));
    const ovnCounts = bridgeCounts(ovs, 'br-int');
    results.push(ovnMs, record(`${tag} install node1: ovn-controller OpenFlow flows`, 'flows', [ovnCounts.flows], `${ovnCounts.groups} groups on br-int`));

    const plan = compileCluster(state).get(NODE)!;
    driver = await OvsDriver.start(`unix:${path.join(ovs.dir, 'fabric-of.sock')}`);
    ovs.vsctl('--', 'add-br', NODE, '--', 'set', 'bridge', NODE, 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail-mode=secure', `other-config:datapath-id=${plan.datapathId}`, '--', 'set-controller', NODE, driver.target);
    const conn = await driver.waitForSwitch(plan.datapathId, 30_000);
    const report = await driver.reconcileSwitch(conn, plan);
    const fabricMs = record(`${tag} install node1: fabric plan over our channel`, 'ms', [report.durationMs], `${report.ops} ops in one bundle + barrier (read, diff, apply)`);
    const fabricCounts = bridgeCounts(ovs, NODE);
    results.push(fabricMs, record(`${tag} install node1: fabric OpenFlow flows`, 'flows', [fabricCounts.flows], `${fabricCounts.groups} groups on ${NODE}`));
    return { ovnMs, fabricMs };
  } finally {
    await driver?.close();
    if (controllerPid && fs.existsSync(`/proc/${controllerPid}/comm`) && fs.readFileSync(`/proc/${controllerPid}/comm`, 'utf8').trim() === 'ovn-controller') {
      process.kill(controllerPid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
    }
    await ovs.stop();
    running.delete(ovs);
  }
}

async function ovnSide(state: ClusterState, tag: string, runs: number): Promise<OvnFigures> {
  const results: BenchResult[] = [];
  const incrementalMs = new Map<string, BenchResult>();
  const startedAt = performance.now();
  const ovn = await startOvn();
  running.add(ovn);
  try {
    const load = await loadCluster(ovn, state);
    results.push(record(`${tag} OVN NB load (northd paused)`, 'ms', [load.loadMs], `${load.transactions} OVSDB transactions, ${load.logicalSwitchPorts} logical switch ports`));
    const initial = await initialCompute(ovn, load);
    const sw = initial.northdStopwatchesMs;
    const syncMs = record(
      `${tag} OVN northd full computation (--wait=sb)`,
      'ms',
      [initial.syncMs],
      `resume → sb_cfg caught up; northd loop max ${sw['ovn-northd-loop'] ?? '?'} ms, build_lflows ${sw.build_lflows ?? '?'} ms`,
    );
    results.push(syncMs);
    results.push(record(`${tag} OVN logical flows`, 'flows', [initial.logicalFlows]));
    results.push(record(`${tag} OVN daemons peak memory (initial)`, 'MiB', [ovn.peakRssMiB()], 'NB + SB ovsdb-server, northd, nbctl daemon; sampled every 500 ms'));

    let install: OvnFigures['install'];
    const installMaxNodes = Number(process.env.BENCH_INSTALL_MAX_NODES ?? 1000);
    if (process.env.BENCH_SKIP_INSTALL !== '1' && state.nodes.size <= installMaxNodes) {
      try {
        install = await installSide(state, tag, ovn, results);
      } catch (e) {
        results.push(record(`${tag} install node1: failed`, '', [NaN], (e as Error).message.split('\n')[0]));
        log(`install side failed: ${(e as Error).stack}`);
      }
    }

    results.push(await measure(`${tag} OVN no-op ovn-nbctl --wait=sb sync`, 'ms', () => ovn.nbctlTimed(['--wait=sb', 'sync']).ms, { runs, notes: 'floor of the method: process start + one northd round' }));

    const node = state.nodes.get(NODE)!;
    const svc = state.services.get(SERVICE)!;
    const victim = victimPod(state);
    const victimSvc = state.services.get(VICTIM_SERVICE)!;
    const victimSvcBackends = lbBackends(state, victimSvc);
    const victimSvcWithout = victimSvc.endpoints
      .filter((p) => p !== victim.name)
      .map((p) => `${state.pods.get(p)!.ip}:${victimSvc.targetPort}`)
      .join(',');
    // addresses the fabric model would give; any free ones in node1's block serve OVN equally
    const freeIp = (r: number, offset: number): { ip: string; mac: string } => {
      const base = node.podCidr.split('/')[0].split('.').map(Number);
      const ip = `${base[0]}.${base[1]}.${base[2]}.${200 + offset + (r % 20)}`;
      const mac = '0a:58:' + ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join(':');
      return { ip, mac };
    };
    const originalBackends = lbBackends(state, svc);
    const cases: Array<{ label: string; run: (r: number) => number; undo: (r: number) => void }> = [
      {
        label: 'pod added',
        run: (r) => ovn.nbctlTimed(['--wait=sb', ...podAddCommand(NODE, { name: `bench-new-${r}`, ...freeIp(r, 0) })]).ms,
        undo: (r) => void ovn.nbctl(['--wait=sb', ...podDeleteCommand(`bench-new-${r}`)]),
      },
      {
        label: 'backend added (new pod of a service)',
        run: (r) => {
          const a = freeIp(r, 20);
          return ovn.nbctlTimed(['--wait=sb', ...podAddCommand(NODE, { name: `bench-be-${r}`, ...a }), '--', ...setBackendsCommand(svc, `${originalBackends},${a.ip}:${svc.targetPort}`)]).ms;
        },
        undo: (r) => void ovn.nbctl(['--wait=sb', ...podDeleteCommand(`bench-be-${r}`), '--', ...setBackendsCommand(svc, originalBackends)]),
      },
      {
        label: 'pod deleted (a backend of a service)',
        run: () => ovn.nbctlTimed(['--wait=sb', ...podDeleteCommand(victim.name), '--', ...setBackendsCommand(victimSvc, victimSvcWithout)]).ms,
        undo: () => void ovn.nbctl(['--wait=sb', ...podAddCommand(victim.node, victim), '--', ...setBackendsCommand(victimSvc, victimSvcBackends)]),
      },
    ];
    for (const c of cases) {
      const samples: number[] = [];
      for (let r = 0; r < runs; r++) {
        samples.push(c.run(r));
        c.undo(r);
      }
      const res = record(`${tag} OVN incremental: ${c.label}`, 'ms', samples, 'ovn-nbctl --wait=sb via daemon');
      incrementalMs.set(c.label, res);
      results.push(res);
    }
    results.push(record(`${tag} OVN whole bench wall time`, 's', [(performance.now() - startedAt) / 1000], 'start, load, compute, incrementals, stop'));
    return { results, syncMs, incrementalMs, ...(install ? { install } : {}) };
  } finally {
    await ovn.stop();
    running.delete(ovn);
  }
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_VS_OVN_NODES ?? '100,500,1000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const skipOvn = process.env.BENCH_SKIP_OVN === '1';
  const skipFabric = process.env.BENCH_SKIP_FABRIC === '1';
  const results: BenchResult[] = [];
  const ratios: BenchRatio[] = [];
  const notes: string[] = [`OVN: ${ovnVersion()}`, 'OVN SNAT on per-node gateway routers (ovn-kubernetes shared-gateway layout), load balancers in one group on every node switch'];
  // a run with other sizes or services is a quick look: it must not replace the reference results
  const reference = sizes.join(',') === '100,500,1000' && (process.env.BENCH_VS_OVN_SERVICES ?? '1000') === '1000';
  const dir = reference ? undefined : os.tmpdir();
  const save = (): void => void writeResults('vs-ovn', results, { ratios, notes, ...(dir ? { dir } : {}) });

  for (const nodes of sizes) {
    const options: ClusterGenOptions = { nodes, podsPerNode: 30, services: Number(process.env.BENCH_VS_OVN_SERVICES ?? 1000), backendsPerService: 3 };
    const tag = `N=${nodes}`;
    log(`\n--- ${describeCluster(options)} ---`);
    const t0 = performance.now();
    const state = buildClusterState(generateCluster(options));
    results.push(record(`${tag} model build (generate + buildClusterState)`, 'ms', [performance.now() - t0]));
    // the machine is shared: say how busy it was, so that noisy figures can be told apart
    results.push(record(`${tag} machine load average (1 min) at start`, 'load', [os.loadavg()[0]], `${os.cpus().length} cores`));

    let fabric: FabricFigures | undefined;
    if (!skipFabric) {
      try {
        fabric = await fabricSide(state, tag, runs, nodes >= 1000 ? 3 : Math.min(runs, 5));
        results.push(...fabric.results);
        printTable(fabric.results);
      } catch (e) {
        notes.push(`${tag} fabric side failed: ${(e as Error).message}`);
        log(`fabric side failed: ${(e as Error).stack}`);
      }
    }
    save();
    let ovn: OvnFigures | undefined;
    if (!skipOvn) {
      try {
        ovn = await ovnSide(state, tag, runs);
        results.push(...ovn.results);
        printTable(ovn.results);
      } catch (e) {
        notes.push(`${tag} OVN side failed: ${(e as Error).message}`);
        log(`OVN side failed: ${(e as Error).stack}`);
      }
    }
    // the conservative ratio first: every switch's flow list built, as installing them needs
    if (fabric?.materialisedMs && ovn?.syncMs) ratios.push(ratioOf(`${tag} full computation (fabric: compile + materialise)`, fabric.materialisedMs, ovn.syncMs, 'OVN'));
    if (fabric?.compileMs && ovn?.syncMs) ratios.push(ratioOf(`${tag} full computation (fabric: compile, lazy plans)`, fabric.compileMs, ovn.syncMs, 'OVN'));
    if (ovn?.install) ratios.push(ratioOf(`${tag} install node1's flows into OVS (fabric channel vs ovn-controller)`, ovn.install.fabricMs, ovn.install.ovnMs, 'OVN'));
    for (const [label, ours] of fabric?.incrementalMs ?? []) {
      const theirs = ovn?.incrementalMs.get(label);
      if (theirs) ratios.push(ratioOf(`${tag} incremental: ${label}`, ours, theirs, 'OVN'));
    }
    save();
  }
  if (ratios.length) log('\n' + ratiosTable(ratios));
  if (dir) log(`\nnot the reference sizes: results written to ${path.join(dir, 'vs-ovn.json')}, not bench/results/`);
  log(`\nratios fabric/OVN: ${ratios.map((r) => `${r.name} ${formatNumber(r.ratio)}`).join('; ') || 'none'}`);
}

main().catch((e: Error) => {
  process.stderr.write(`vs-ovn: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
