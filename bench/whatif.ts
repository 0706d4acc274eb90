/**
 * What-if benchmark (issue 17): every single-link failure of a generated 1,000-node leaf/spine
 * scenario (bench/cluster-gen.ts: 25 leaves of 40 nodes, 2 spines, 30 pods per node, 100 services of
 * 3 backends, plus 100 traffic demands of 5 Gbit/s between pods of different racks), evaluated as
 * `fabric whatif --fail links` does (sim/whatif.ts). Reports seconds; never asserts a time (the goal
 * is under 60 s on the shared 2-core machine). Writes bench/results/whatif.json.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/whatif.js [--quick] [--nodes N] [--pairs N]
 */
import * as os from 'os';
import { generateCluster } from './cluster-gen';
import { writeResults } from './harness';
import type { BenchResult } from './harness';
import { SimRun, WhatIfSession, listFailures } from '../sim';

// wall-clock is fine here: the benchmark measures the analysis from outside; sim/ never reads it
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const nodes = arg('--nodes', quick ? 200 : 1000);
  const maxPairs = arg('--pairs', 200);
  const podsPerNode = 30;
  const scenario = generateCluster({ nodes, podsPerNode, services: 100, backendsPerService: 3, name: `whatif-n${nodes}` });
  const leaves = Math.ceil(nodes / 40);
  for (let i = 0; i < 100; i++) {
    const a = ((i * 37) % nodes) + 1;
    let b = ((i * 91 + 5) % nodes) + 1;
    if (Math.ceil(a / 40) === Math.ceil(b / 40) && leaves > 1) b = ((b + 40 - 1) % nodes) + 1;
    scenario.traffic.push({ from: `node${a}-pod${i % podsPerNode}`, to: `node${b}-pod${(i * 7) % podsPerNode}`, gbps: 5, at: 0 });
  }
  const results: BenchResult[] = [];
  const push = (name: string, value: number, unit: string, notes?: string): void => {
    results.push({ name, unit, runs: 1, min: value, median: value, ...(notes ? { notes } : {}) });
    process.stderr.write(`  measured: ${name}: ${value} ${unit}\n`);
  };

  let t0 = now();
  const run = new SimRun(scenario);
  run.advanceTo(0);
  push(`${nodes} nodes: build, compile and install (once)`, Math.round(now() - t0) / 1000, 's');

  t0 = now();
  const failures = listFailures(run.physical, 'links', 0);
  const session = new WhatIfSession(run, 0, { maxPairs, clock: now });
  const base = session.runBaseline();
  const baselineS = (now() - t0) / 1000;
  push('baseline: probe the representative pairs and walk the demands', Math.round(baselineS * 1000) / 1000, 's', `${session.pairs.length} pairs, ${base.verdicts.filter((v) => v.ok).length} reach`);

  t0 = now();
  const cpu0 = process.cpuUsage();
  const per: number[] = [];
  let lost = 0;
  let over = 0;
  let reprobed = 0;
  let changed = 0;
  for (const [i, f] of failures.entries()) {
    const t = now();
    const r = session.evaluate(f);
    per.push(now() - t);
    if (r.lostPairs > 0) lost++;
    if (r.overThreshold.length > 0) over++;
    reprobed += r.reprobed;
    changed += r.switchesChanged;
    if ((i + 1) % 100 === 0) process.stderr.write(`  ${i + 1}/${failures.length} failures, ${((now() - t0) / 1000).toFixed(1)} s\n`);
  }
  session.close();
  const totalS = (now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  per.sort((a, b) => a - b);
  const median = per[Math.floor(per.length / 2)] ?? 0;
  const notes = `${nodes} nodes, ${nodes * podsPerNode} pods, ${scenario.traffic.length} demands, ${session.pairs.length} representative pairs (--pairs ${maxPairs})`;
  push(`every single-link failure (${failures.length}) of a ${nodes}-node leaf/spine`, Math.round(totalS * 100) / 100, 's', notes);
  push('  the same, CPU time of this process (user + system)', Math.round(cpuS * 100) / 100, 's', `load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
  push('  the same, with the baseline', Math.round((totalS + baselineS) * 100) / 100, 's');
  push('  per failure (median)', Math.round(median * 10) / 10, 'ms');
  push('  per failure (max)', Math.round((per[per.length - 1] ?? 0) * 10) / 10, 'ms');
  const n = Math.max(1, failures.length);
  const tm = session.timings;
  push('  per failure: copy, apply, compile incrementally (mean)', Math.round((tm.compile / n) * 10) / 10, 'ms');
  push('  per failure: diff and program the changed switches (mean)', Math.round((tm.program / n) * 10) / 10, 'ms');
  push('  per failure: re-walk the affected pairs (mean)', Math.round((tm.probes / n) * 10) / 10, 'ms');
  push('  per failure: walk the demands, bandwidth model (mean)', Math.round((tm.bandwidth / n) * 10) / 10, 'ms');
  push('  per failure: undo on the switches (mean)', Math.round((tm.restore / n) * 10) / 10, 'ms');
  push('  failures that lose reachability', lost, `of ${failures.length}`);
  push('  failures with a link over 90%', over, `of ${failures.length}`);
  push('  pairs walked again per failure (mean)', Math.round(reprobed / Math.max(1, failures.length)), 'pairs');
  push('  switches whose plan changed per failure (mean)', Math.round((changed / Math.max(1, failures.length)) * 10) / 10, 'switches');
  const file = writeResults('whatif', results, { notes: ['goal: every single-link failure of a 1,000-node leaf/spine in under 60 s on the 2-core machine (reported, not asserted)'] });
  process.stdout.write(results.map((r) => `${r.name}: ${r.median} ${r.unit}${r.notes ? ` (${r.notes})` : ''}`).join('\n') + `\nwritten: ${file}\n`);
}

if (require.main === module) main();
