/**
 * Bandwidth model benchmark: max-min allocation of 100,000 demands on a 1,000-node leaf/spine
 * fabric (50 leaves x 20 nodes at 100G, 8 spines, 160G uplinks), one rebalancing round (steer, limit, place) on it, and
 * the LP optimum's solve time (HiGHS) beside ours, with the maximum utilization each reaches.
 * Prints a table and writes bench/results/bandwidth.json. Never asserts a time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/bandwidth.js [--demands N] [--runs R]
 */
import { performance } from 'perf_hooks';
import { BenchResult, formatNumber, formatTable, printTable, record, writeResults } from './harness';
import { BandwidthDemand, PathCache, TopologyLink, allocateIndexed, allocateMaxMinFair, buildPathGraph, flowHash, indexProblem, loadLpSolver, solveOptimum } from '../sim';
import { BandwidthLink, directedLinkId } from '../topology';
import { RebalanceDemand, RebalanceModel, applyChanges, emptyLimitState, limit, maxOfferedUtilization, place, steer, steerFromLoad } from '../controller/rebalance';

interface Fabric {
  topo: TopologyLink[];
  links: BandwidthLink[];
  nodes: string[];
  cache: PathCache;
}

export function leafSpineFabric(leaves: number, nodesPerLeaf: number, spines: number, nodeGbps: number, uplinkGbps: number): Fabric {
  const topo: TopologyLink[] = [];
  const nodes: string[] = [];
  for (let l = 0; l < leaves; l++) {
    for (let s = 0; s < spines; s++) topo.push({ a: `leaf${l}`, b: `spine${s}`, gbps: uplinkGbps });
    for (let n = 0; n < nodesPerLeaf; n++) {
      const node = `node${l * nodesPerLeaf + n}`;
      nodes.push(node);
      topo.push({ a: node, b: `leaf${l}`, gbps: nodeGbps });
    }
  }
  const links: BandwidthLink[] = [];
  for (const t of topo) links.push({ id: directedLinkId(t.a, t.b), capacityGbps: t.gbps }, { id: directedLinkId(t.b, t.a), capacityGbps: t.gbps });
  return { topo, links, nodes, cache: new PathCache(buildPathGraph(topo), { noTransit: new Set(nodes) }) };
}

/** Deterministic demand mix: 90% mice (0.05-0.5 G), 10% elephants (1-5 G), pods 10 per node. */
export function randomDemands(f: Fabric, count: number, seed: number): RebalanceDemand[] {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out: RebalanceDemand[] = [];
  for (let i = 0; i < count; i++) {
    const a = Math.floor(rnd() * f.nodes.length);
    let b = Math.floor(rnd() * (f.nodes.length - 1));
    if (b >= a) b++;
    const src = f.nodes[a];
    const dst = f.nodes[b];
    const elephant = rnd() < 0.1;
    const gbps = elephant ? 1 + rnd() * 4 : 0.05 + rnd() * 0.45;
    const cands = f.cache.get(src, dst);
    out.push({
      id: `d${i}`,
      fromPod: `${src}-p${Math.floor(rnd() * 10)}`,
      toPod: `${dst}-p${Math.floor(rnd() * 10)}`,
      src,
      dst,
      path: cands[flowHash(`d${i}`) % cands.length],
      demandGbps: gbps,
    });
  }
  return out;
}

function time<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const demandCount = arg('--demands', 100_000);
  const runs = arg('--runs', 3);
  const f = leafSpineFabric(50, 20, 8, 100, 160);
  const build = time(() => randomDemands(f, demandCount, 7));
  const demands = build.value;
  const model: RebalanceModel = {
    links: f.links,
    demands,
    paths: (s, t) => f.cache.get(s, t),
    podNode: new Map(demands.flatMap((d) => [[d.fromPod!, d.src] as [string, string], [d.toPod!, d.dst] as [string, string]])),
    nodes: f.nodes,
  };
  const results: BenchResult[] = [];
  const notes: string[] = [
    `fabric: 1,000 nodes (50 leaves x 20, 100G), 8 spines (160G uplinks); ${f.links.length} directed links; ${demandCount} demands`,
  ];

  // elastic copy for the max-min run: mice and elephants ask what they ask, 10% greedy senders
  const asked: BandwidthDemand[] = demands.map((d, i) => ({ id: d.id, path: d.path, demandGbps: i % 10 === 0 ? Infinity : d.demandGbps * 8 }));
  const mm: number[] = [];
  const mmIndexed: number[] = [];
  let alloc = allocateMaxMinFair(f.links, asked);
  for (let r = 0; r < runs; r++) {
    mm.push(time(() => (alloc = allocateMaxMinFair(f.links, asked))).ms);
    const { problem } = indexProblem(f.links, asked);
    mmIndexed.push(time(() => allocateIndexed(problem)).ms);
  }
  results.push(record('max-min allocation, 100k demands (Map API)', 'ms', mm));
  results.push(record('max-min allocation, 100k demands (typed arrays)', 'ms', mmIndexed));
  let saturated = 0;
  for (const l of f.links) if ((alloc.linkLoad.get(l.id) ?? 0) >= l.capacityGbps * (1 - 1e-9)) saturated++;
  notes.push(`max-min: ${saturated} saturated link directions`);

  // one rebalancing round, each policy on its own
  const before = maxOfferedUtilization(f.links, demands);
  const steerRun = time(() => steer(model, { thresholdUtilization: 0, maxPinsPerRound: 256 }));
  const steered = applyChanges(model, steerRun.value);
  const afterSteer = maxOfferedUtilization(steered.links, steered.demands);
  results.push(record('rebalance round: steer (≤256 pins)', 'ms', [steerRun.ms], `${steerRun.value.length} pins; max offered ${before.toFixed(4)} -> ${afterSteer.toFixed(4)}`));
  // the loop's steer (controller/loop.ts rebalanceFromLoad): it does not know the ECMP paths, only
  // the measured link load; every demand that may cross a link measured at or above 0.8 is placed
  const carried = allocateMaxMinFair(f.links, demands);
  const measuredUtil = new Map(f.links.map((l) => [l.id, (carried.linkLoad.get(l.id) ?? 0) / l.capacityGbps]));
  const measuredDemands = demands.map((d) => ({ id: d.id, demandGbps: d.demandGbps, candidates: f.cache.get(d.src, d.dst) }));
  const shared = (c: readonly (readonly string[])[]): string[] => (c.length ? c[0].filter((id) => c.every((q) => q.includes(id))) : []);
  const fromLoad = time(() => steerFromLoad(f.links, measuredDemands, (d) => (d.candidates.length === 1 ? d.candidates[0] : shared(d.candidates)), measuredUtil, { maxPinsPerRound: 256 }));
  const loopPinned = applyChanges(model, fromLoad.value);
  results.push(
    record(
      'rebalance round: steerFromLoad (≤256 pins; the loop: paths unknown, hot links from counters)',
      'ms',
      [fromLoad.ms],
      `${fromLoad.value.length} pins; max offered ${before.toFixed(4)} -> ${maxOfferedUtilization(loopPinned.links, loopPinned.demands).toFixed(4)}`,
    ),
  );
  const measured = carried;
  const limitRun = time(() => limit(model, { linkLoadGbps: measured.linkLoad, demandRateGbps: measured.rates }, emptyLimitState(), { thresholdUtilization: 0.5, holdRounds: 1 }));
  results.push(record('rebalance round: limit', 'ms', [limitRun.ms], `${limitRun.value.changes.length} meters at threshold 0.5`));
  const placeRun = time(() => place(steered, { thresholdUtilization: 0 }));
  const placed = applyChanges(steered, placeRun.value);
  const afterPlace = maxOfferedUtilization(placed.links, placed.demands);
  results.push(record('rebalance round: place', 'ms', [placeRun.ms], `${placeRun.value.length} move; max offered -> ${afterPlace.toFixed(4)}`));

  // the LP optimum over the same candidate paths
  const load = time(() => 0);
  const solverLoad = performance.now();
  const highs = await loadLpSolver();
  const loadMs = performance.now() - solverLoad + load.ms;
  const lpDemands = demands.map((d) => ({ id: d.id, gbps: d.demandGbps, candidates: f.cache.get(d.src, d.dst) }));
  const lpTimes: number[] = [];
  let lp = solveOptimum(highs, f.links, lpDemands);
  for (let r = 0; r < runs; r++) lpTimes.push(time(() => (lp = solveOptimum(highs, f.links, lpDemands))).ms);
  results.push(record('LP optimum (HiGHS), incl. model build', 'ms', lpTimes, `${lp.commodities} commodities, ${lp.variables} variables, ${lp.rows} rows; solver load ${loadMs.toFixed(0)} ms`));
  // place changes the endpoints, so it changes the problem: λ* for the placement it proposes
  const lpPlaced = solveOptimum(highs, f.links, placed.demands.map((d) => ({ id: d.id, gbps: d.demandGbps, candidates: f.cache.get(d.src, d.dst) })));

  printTable(results);
  const table = formatTable(
    ['max offered utilization', 'value'],
    [
      ['ECMP (hash)', formatNumber(before)],
      ['after steer', formatNumber(afterSteer)],
      ['LP optimum λ* (same placement)', formatNumber(lp.maxUtilization)],
      ['steer / λ*', formatNumber(afterSteer / lp.maxUtilization)],
      ['after steer + place', formatNumber(afterPlace)],
      ['LP optimum λ* after the move', formatNumber(lpPlaced.maxUtilization)],
    ],
  );
  process.stdout.write('\n' + table + '\n');
  notes.push(
    `max offered utilization: ECMP ${before}, steer ${afterSteer}, LP optimum ${lp.maxUtilization}; steer+place ${afterPlace}, LP optimum after the move ${lpPlaced.maxUtilization}`,
  );
  const file = writeResults('bandwidth', results, { notes });
  process.stdout.write(`\nwrote ${file}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench bandwidth: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
