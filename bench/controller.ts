/**
 * Controller benchmark: full compile of a leaf/spine cluster (default 5,000 nodes, 150,000 pods,
 * 10,000 services with 3 endpoints each), then incremental compiles (pods added, service endpoints
 * changed, a leaf-spine link failing and recovering; BENCH_INCREMENTAL_RUNS of each, default 9, the
 * median reported), each with the number of switches and flow/group operations it touches; then the simulator's hot path: a service with 6,000 endpoints,
 * one pod joining it through the real applyEvent, the incremental compile, and the reconcile of the
 * node switches (a sample of 200; BENCH_BIG_ENDPOINTS / BENCH_RECONCILE_SAMPLE change the sizes). Prints tables and writes bench/results/controller.json.
 * Never asserts a time.
 *
 *   node --max-old-space-size=8192 dist/bench/controller.js [NODES PODS_PER_NODE SERVICES]
 */
import { performance } from 'perf_hooks';
import { TABLE, compileCluster, compileIncremental, flowCounts, materialize, reconcile } from '../controller';
import type { FabricPlan } from '../controller';
import { applyEvent, buildClusterState } from '../topology';
import type { ClusterChange, ClusterState, ServiceState } from '../topology/types';
import { BENCH_SERVICE_CIDR, SERVICE_PORT, SERVICE_TARGET_PORT, generateCluster, seededRandom, serviceName } from './cluster-gen';
import { BenchResult, formatTable, printTable, record, writeResults } from './harness';

const nodes = Number(process.argv[2] ?? 5000);
const podsPerNode = Number(process.argv[3] ?? 30);
const services = Number(process.argv[4] ?? 10000);
const backends = 3;
/** endpoints of the one big service of the hot-path figures (the simulator's 1,000-node scenario had ~6,000) */
const BIG_ENDPOINTS = Number(process.env.BENCH_BIG_ENDPOINTS ?? 6000);
/** node switches diffed for the reconcile figure (the rest get the same diff) */
const RECONCILE_SAMPLE = Number(process.env.BENCH_RECONCILE_SAMPLE ?? 200);
/** repetitions of each incremental figure (median reported): single samples on a shared machine mostly measure the neighbours and the GC */
const INCREMENTAL_RUNS = Math.max(1, Number(process.env.BENCH_INCREMENTAL_RUNS ?? 9));

function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The cluster, with services filled in directly (selector matching 10k x 150k would dominate setup). */
function buildState(): ClusterState {
  const scenario = generateCluster({ nodes, podsPerNode, services: 0, backendsPerService: backends, fixedAddresses: true, name: 'bench-controller' });
  const state = buildClusterState(scenario);
  const pods = [...state.pods.keys()];
  const rand = seededRandom(7);
  const base = (BENCH_SERVICE_CIDR.split('/')[0].split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0) + 2;
  for (let k = 0; k < services; k++) {
    const chosen = new Set<string>();
    while (chosen.size < Math.min(backends, pods.length)) chosen.add(pods[Math.floor(rand() * pods.length)]);
    const name = serviceName(k);
    const svc: ServiceState = { name, vip: intToIp(base + k), port: SERVICE_PORT, targetPort: SERVICE_TARGET_PORT, protocol: 'tcp', selector: { app: name }, endpoints: [...chosen].sort() };
    state.services.set(name, svc);
  }
  return state;
}

/** CPU milliseconds (user + system) of the last `ms` call: on a shared 2-core machine wall time mostly measures the neighbours. */
let lastCpuMs = 0;
function ms(fn: () => void): number {
  const c = process.cpuUsage();
  const t = performance.now();
  fn();
  const d = process.cpuUsage(c);
  lastCpuMs = (d.user + d.system) / 1000;
  return performance.now() - t;
}

interface Touch {
  switches: number;
  nodeSwitches: number;
  ops: number;
  note: string;
}

/** Which switch plans changed, and how many reconcile operations they need (node switches sharing one change are diffed once). */
function touched(state: ClusterState, before: FabricPlan, after: FabricPlan): Touch {
  const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k));
  const nodeChanged = changed.filter((k) => state.switches.get(k)!.role === 'node');
  const fabricChanged = changed.filter((k) => state.switches.get(k)!.role === 'fabric');
  let ops = 0;
  let note = '';
  const diff = (k: string) => reconcile(after.get(k)!, before.get(k)!).length;
  for (const k of fabricChanged) ops += diff(k);
  if (nodeChanged.length > 20) {
    // the shared services part changed: every node switch gets the same operations; diff a sample
    const sample = nodeChanged.slice(0, 3).map(diff);
    const per = Math.max(...sample);
    ops += per * nodeChanged.length;
    note = `${per} ops on each of ${nodeChanged.length} node switches (the same service change on every node)`;
  } else for (const k of nodeChanged) ops += diff(k);
  return { switches: changed.length, nodeSwitches: nodeChanged.length, ops, note };
}

/** isolation figures: a separate cluster of ISOLATION_NODES nodes with ISOLATION_PODS `web` and as many `db` pods, one rule web -> db:5432 */
const ISOLATION_NODES = Number(process.env.BENCH_ISOLATION_NODES ?? 200);
const ISOLATION_PODS = Number(process.env.BENCH_ISOLATION_PODS ?? 500);

function isolationFigures(results: BenchResult[]): void {
  if (ISOLATION_NODES <= 0) return;
  const scenario = generateCluster({ nodes: ISOLATION_NODES, podsPerNode, services: 0, backendsPerService: backends, fixedAddresses: true, name: 'bench-isolation' });
  scenario.cluster.isolation = true;
  scenario.cluster.allow = [{ from: { tier: 'web' }, to: { tier: 'db' }, port: 5432, protocol: 'tcp' }];
  // every 7th pod is web, the one 3 after it db: spread over all nodes
  scenario.pods.forEach((p, i) => {
    if (i % 7 === 0 && i / 7 < ISOLATION_PODS) p.labels = { ...p.labels, tier: 'web' };
    else if (i % 7 === 3 && (i - 3) / 7 < ISOLATION_PODS) p.labels = { ...p.labels, tier: 'db' };
  });
  const state = buildClusterState(scenario);
  let plan!: FabricPlan;
  const fullMs = ms(() => (plan = compileCluster(state)));
  const firstNode = [...state.nodes.keys()][0];
  const policyFlows = plan.get(firstNode)!.flows.filter((f) => f.table === TABLE.policy || (f.table === TABLE.conntrack && f.priority > 100)).length;
  const label = `isolation ${ISOLATION_NODES} nodes, ${ISOLATION_PODS} web x ${ISOLATION_PODS} db`;
  results.push(record(`${label}: full compile`, 'ms', [fullMs], `${policyFlows} policy flows on ${firstNode}`));
  const samples: number[] = [];
  for (let run = 0; run < INCREMENTAL_RUNS; run++) {
    const changes = applyEvent(state, { at: 1, kind: 'pod', action: 'add', name: `bench-iso-pod-${run}`, node: firstNode, labels: { app: 'none', tier: run % 2 ? 'web' : 'db' } });
    samples.push(ms(() => (plan = compileIncremental(plan, state, changes))));
  }
  results.push(record(`${label}: incremental pod add (joins a rule)`, 'ms', samples));
}

function main(): void {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`controller bench: ${nodes} nodes, ${nodes * podsPerNode} pods, ${services} services x ${backends} endpoints (leaf/spine)`);
  let state!: ClusterState;
  const setupMs = ms(() => (state = buildState()));
  out(`setup (scenario + cluster state, not part of the figures): ${(setupMs / 1000).toFixed(1)} s`);

  const results: BenchResult[] = [];
  let plan!: FabricPlan;
  const fullMs = ms(() => (plan = compileCluster(state)));
  results.push(record('full compile', 'ms', [fullMs], `${state.switches.size} switches`));
  results.push(record('full compile (CPU time)', 'ms', [lastCpuMs]));
  process.stderr.write(`full compile: ${fullMs.toFixed(0)} ms wall, ${lastCpuMs.toFixed(0)} ms CPU\n`);

  // flow counts per switch kind (from the parts, without materialising 5,000 merged plans)
  const counts = flowCounts(plan);
  const byKind = new Map<string, { switches: number; flows: number; groups: number; meters: number; maxFlows: number }>();
  for (const [name, c] of counts) {
    const sw = state.switches.get(name)!;
    const kind = sw.role === 'node' ? 'node' : name.startsWith('spine') ? 'spine' : 'leaf';
    const k = byKind.get(kind) ?? { switches: 0, flows: 0, groups: 0, meters: 0, maxFlows: 0 };
    k.switches++;
    k.flows += c.flows;
    k.groups += c.groups;
    k.meters += c.meters;
    k.maxFlows = Math.max(k.maxFlows, c.flows);
    byKind.set(kind, k);
  }
  const kindRows = [...byKind].map(([kind, k]) => [kind, String(k.switches), String(Math.round(k.flows / k.switches)), String(k.maxFlows), String(Math.round(k.groups / k.switches)), String(k.flows)]);
  out(formatTable(['switch kind', 'switches', 'flows/switch', 'max flows', 'groups/switch', 'total flows'], kindRows));
  let totalFlows = 0;
  for (const k of byKind.values()) totalFlows += k.flows;
  results.push(record('total flows (all switches)', 'flows', [totalFlows]));
  // materialising one merged plan of each kind (what a driver reads)
  const firstNode = [...state.nodes.keys()][0];
  const matNodeMs = ms(() => void plan.get(firstNode)!.flows.length);
  const matLeafMs = ms(() => void plan.get('leaf1')!.flows.length);
  results.push(record('materialise one node plan', 'ms', [matNodeMs], `${plan.get(firstNode)!.flows.length} flows`));
  results.push(record('materialise one leaf plan', 'ms', [matLeafMs], `${plan.get('leaf1')!.flows.length} flows`));

  const samples = new Map<string, { wall: number[]; cpu: number[]; touch: Touch }>();
  const incremental = (name: string, change: () => ClusterChange[]) => {
    const before = plan;
    const changes = change();
    let after!: FabricPlan;
    const t = ms(() => (after = compileIncremental(before, state, changes)));
    const cpu = lastCpuMs;
    const touch = touched(state, before, after);
    process.stderr.write(`incremental ${name}: ${t.toFixed(1)} ms wall, ${cpu.toFixed(1)} ms CPU\n`);
    const s = samples.get(name) ?? { wall: [], cpu: [], touch };
    s.wall.push(t);
    s.cpu.push(cpu);
    samples.set(name, s);
    plan = after;
  };
  const flush = (name: string) => {
    const s = samples.get(name)!;
    results.push(record(`incremental (CPU time): ${name}`, 'ms', s.cpu));
    results.push(record(`incremental: ${name}`, 'ms', s.wall, `${s.touch.switches} switches changed, ${s.touch.ops} ops${s.touch.note ? '; ' + s.touch.note : ''}`));
    results.push(record(`incremental ops: ${name}`, 'ops', [s.touch.ops]));
  };
  // applyEvent would re-match all 10,000 selectors against 150,000 pods (topology's cost, not the
  // controller's): add the pod the way applyEvent does, and report the same changes
  const addPod = (podName: string) => {
    const sw = state.switches.get(firstNode)!;
    const used = new Set(sw.ports.map((p) => p.port));
    let port = 100;
    while (used.has(port)) port++;
    const node = state.nodes.get(firstNode)!;
    const taken = new Set([...state.pods.values()].filter((p) => p.homeNode === firstNode).map((p) => p.ip));
    const blockBase = node.podCidr.split('/')[0].split('.').map(Number);
    let host = 2;
    while (taken.has(`${blockBase[0]}.${blockBase[1]}.${blockBase[2]}.${host}`)) host++;
    const ip = `${blockBase[0]}.${blockBase[1]}.${blockBase[2]}.${host}`;
    const mac = '0a:58:' + ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join(':');
    state.pods.set(podName, { name: podName, node: firstNode, homeNode: firstNode, ip, mac, labels: { app: 'none' }, hostPorts: [] });
    sw.ports.push({ port, name: podName, kind: 'pod', pod: podName });
    sw.ports.sort((a, b) => a.port - b.port);
    return [{ kind: 'pod-added', pod: podName }, { kind: 'port-added', switch: firstNode, port }] as ClusterChange[];
  };
  for (let run = 0; run < INCREMENTAL_RUNS; run++) incremental('pod add', () => addPod(run === 0 ? 'bench-new-pod' : `bench-new-pod-${run}`));
  flush('pod add');
  const podNames = [...state.pods.keys()];
  for (let run = 0; run < INCREMENTAL_RUNS; run++) {
    incremental('endpoint change', () => {
      const svc = state.services.get(serviceName(run))!;
      const before = svc.endpoints;
      const replacement = podNames.find((p) => !before.includes(p))!;
      svc.endpoints = [...before.slice(1), replacement].sort();
      return [{ kind: 'endpoints-changed', service: svc.name, before, after: svc.endpoints }];
    });
  }
  flush('endpoint change');
  for (let run = 0; run < INCREMENTAL_RUNS; run++) {
    incremental('link failure leaf1-spine1', () => applyEvent(state, { at: 2, kind: 'link', action: 'down', between: ['leaf1', 'spine1'] }));
    incremental('link recovery leaf1-spine1', () => applyEvent(state, { at: 2, kind: 'link', action: 'up', between: ['leaf1', 'spine1'] }));
  }
  flush('link failure leaf1-spine1');
  flush('link recovery leaf1-spine1');
  // a node's uplink and the node itself (the last node: it hosts no pod added above); a node going
  // down also drops its pods from their services' groups, which every node switch shares
  const lastNode = [...state.nodes.keys()].pop()!;
  const uplink = state.switches.get(lastNode)!.ports.find((p) => p.kind === 'link');
  if (!uplink || uplink.kind !== 'link') throw new Error(`${lastNode} has no uplink`);
  for (let run = 0; run < INCREMENTAL_RUNS; run++) {
    incremental('node uplink down', () => applyEvent(state, { at: 2, kind: 'link', action: 'down', between: [lastNode, uplink.peerSwitch] }));
    incremental('node uplink up', () => applyEvent(state, { at: 2, kind: 'link', action: 'up', between: [lastNode, uplink.peerSwitch] }));
  }
  flush('node uplink down');
  flush('node uplink up');
  for (let run = 0; run < INCREMENTAL_RUNS; run++) {
    incremental('node down', () => applyEvent(state, { at: 2, kind: 'node', action: 'down', name: lastNode }));
    incremental('node up', () => applyEvent(state, { at: 2, kind: 'node', action: 'up', name: lastNode }));
  }
  flush('node down');
  flush('node up');

  // The simulator's hot path (a 1,000-node scenario spent ~75% of its time here): a big service
  // (BIG_ENDPOINTS pods), then a pod event through the real applyEvent that changes its endpoints,
  // the incremental compile, and the reconcile of every node switch (the services part is shared, so
  // every node switch gets a new plan whose ~10,000 groups are diffed against the old plan's).
  const bigEndpoints = Math.min(BIG_ENDPOINTS, state.pods.size);
  const big: ServiceState = { name: 'bench-big', vip: intToIp((BENCH_SERVICE_CIDR.split('/')[0].split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0) + 2 + services), port: SERVICE_PORT, targetPort: SERVICE_TARGET_PORT, protocol: 'tcp', selector: { tier: 'big' }, endpoints: [] };
  for (const pod of [...state.pods.values()].slice(0, bigEndpoints)) {
    pod.labels = { ...pod.labels, tier: 'big' };
    big.endpoints.push(pod.name);
  }
  big.endpoints.sort();
  incremental(`big service added (${bigEndpoints} endpoints)`, () => {
    state.services.set(big.name, big);
    return [{ kind: 'service-added', service: big.name }];
  });
  flush(`big service added (${bigEndpoints} endpoints)`);
  // the first pod event after the maps were changed directly builds applyEvent's index (O(pods + services)) once
  let warmChanges: ClusterChange[] = [];
  const warmMs = ms(() => (warmChanges = applyEvent(state, { at: 3, kind: 'pod', action: 'add', name: 'bench-warm-pod', node: firstNode, labels: { app: 'none' } })));
  results.push(record('applyEvent: first pod add (builds the index)', 'ms', [warmMs], `CPU ${lastCpuMs.toFixed(1)} ms`));
  plan = compileIncremental(plan, state, warmChanges);
  let podChanges: ClusterChange[] = [];
  const applyMs = ms(() => (podChanges = applyEvent(state, { at: 3, kind: 'pod', action: 'add', name: 'bench-big-pod', node: firstNode, labels: { app: 'none', tier: 'big' } })));
  results.push(record('applyEvent: pod add joining the big service', 'ms', [applyMs], `${podChanges.length} changes, CPU ${lastCpuMs.toFixed(1)} ms`));
  const beforeBig = plan;
  let afterBig!: FabricPlan;
  const incMs = ms(() => (afterBig = compileIncremental(beforeBig, state, podChanges)));
  results.push(record('incremental: pod add joining the big service', 'ms', [incMs], `CPU ${lastCpuMs.toFixed(1)} ms`));
  const nodeNames = [...state.switches.values()].filter((sw) => sw.role === 'node').map((sw) => sw.name);
  const sample = nodeNames.slice(0, Math.min(nodeNames.length, RECONCILE_SAMPLE));
  let ops = 0;
  const recMs = ms(() => {
    for (const n of sample) ops += reconcile(afterBig.get(n)!, beforeBig.get(n)!).length;
  });
  const perSwitch = recMs / sample.length;
  results.push(record('reconcile one node switch after that pod add', 'ms', [perSwitch], `${sample.length} node switches diffed, ${ops} ops, CPU ${(lastCpuMs / sample.length).toFixed(2)} ms each; all ${nodeNames.length} node switches: ~${((perSwitch * nodeNames.length) / 1000).toFixed(2)} s`));
  // what a caller that diffs against a dump of the switch pays (no shared parts: the full diff of the
  // merged lists, including merging the new plan's parts): other node switches than the sample above
  const dumpSample = nodeNames.slice(-Math.min(nodeNames.length - sample.length, RECONCILE_SAMPLE) || nodeNames.length);
  const dumps = dumpSample.map((n) => materialize(beforeBig.get(n)!));
  let dumpOps = 0;
  const dumpMs = ms(() => dumpSample.forEach((n, i) => (dumpOps += reconcile(afterBig.get(n)!, dumps[i]).length)));
  const perDump = dumpMs / Math.max(1, dumpSample.length);
  results.push(record('reconcile one node switch against a dump (full diff)', 'ms', [perDump], `${dumpSample.length} node switches, ${dumpOps} ops, CPU ${(lastCpuMs / Math.max(1, dumpSample.length)).toFixed(2)} ms each; all ${nodeNames.length}: ~${((perDump * nodeNames.length) / 1000).toFixed(2)} s`));
  plan = afterBig;

  isolationFigures(results);

  printTable(results, out);
  for (const r of results) if (r.notes) out(`  ${r.name}: ${r.notes}`);
  const file = writeResults('controller', results, {
    notes: [
      `${nodes} nodes, ${nodes * podsPerNode} pods, ${services} services x ${backends} endpoints, leaf/spine`,
      ...kindRows.map((r) => `${r[0]}: ${r[1]} switches, ${r[2]} flows/switch (max ${r[3]}), ${r[4]} groups/switch`),
    ],
  });
  out(`wrote ${file}`);
}

main();
