/**
 * Simulator benchmarks: switch lookups per second, packets walked per second through a 3-tier
 * fabric (node -> ToR -> spine -> ToR -> node), and a 1,000-node / 30,000-pod scenario with 100
 * events replayed end to end. Prints a table and writes bench/results/sim.json. Never asserts a time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/sim.js [--quick]
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseScenarioText } from '../topology';
import { SimRun, probe, ipv4Packet } from '../sim';

// wall-clock is fine here: benchmarks measure the simulator from outside; sim/ itself never reads it
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export function fabricScenario(nodes: number, podsPerNode: number, events: number): string {
  const racks = Math.max(2, Math.ceil(nodes / 40));
  const lines: string[] = [];
  lines.push('name: bench-fabric', 'seed: 1', 'cluster:', '  mode: routed', '  podCidr: 10.0.0.0/8', '  serviceCidr: 172.16.0.0/16', 'fabric:', '  switches:');
  lines.push('    - { name: spine1 }', '    - { name: spine2 }');
  for (let r = 1; r <= racks; r++) lines.push(`    - { name: tor${r} }`);
  lines.push('  nodes:');
  for (let n = 1; n <= nodes; n++) lines.push(`    - { name: node${n}, ip: 198.18.${Math.floor(n / 250)}.${(n % 250) + 1} }`);
  lines.push('  links:');
  for (let n = 1; n <= nodes; n++) lines.push(`    - { between: [node${n}, tor${((n - 1) % racks) + 1}], gbps: 10 }`);
  for (let r = 1; r <= racks; r++) lines.push(`    - { between: [tor${r}, spine1], gbps: 40 }`, `    - { between: [tor${r}, spine2], gbps: 40 }`);
  lines.push('  externals:', '    - { name: internet, ip: 203.0.113.1, attach: spine1 }');
  lines.push('pods:');
  for (let n = 1; n <= nodes; n++) for (let p = 1; p <= podsPerNode; p++) lines.push(`  - { name: p${n}-${p}, node: node${n}, labels: { app: a${p % 5} } }`);
  lines.push('services:', '  - { name: svc0, selector: { app: a0 }, port: 80 }');
  lines.push('events:');
  for (let e = 0; e < events; e++) {
    const t = (1 + e * 0.1).toFixed(1);
    const r = (e % racks) + 1;
    if (e % 4 === 0) lines.push(`  - { at: ${t}s, link: down, between: [tor${r}, spine1] }`);
    else if (e % 4 === 1) lines.push(`  - { at: ${t}s, link: up, between: [tor${r - 1 || racks}, spine1] }`);
    else if (e % 4 === 2) lines.push(`  - { at: ${t}s, pod: add, name: extra${e}, node: node${(e % nodes) + 1}, labels: { app: a0 } }`);
    else lines.push(`  - { at: ${t}s, pod: move, name: p${(e % nodes) + 1}-1, to: node${((e + 7) % nodes) + 1} }`);
  }
  lines.push('expect:', `  - { at: ${(2 + events * 0.1).toFixed(1)}s, reach: { from: p1-2, to: p${nodes}-2 } }`);
  return lines.join('\n') + '\n';
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const rows: { name: string; value: number; unit: string }[] = [];
  // each figure goes to stderr as soon as it is measured: a long run that is stopped keeps them
  const push = (row: { name: string; value: number; unit: string }): void => {
    rows.push(row);
    process.stderr.write(`  measured: ${row.name}: ${row.value} ${row.unit}\n`);
  };

  // 1. a 3-tier fabric: 40 nodes, 30 pods each
  const small = parseScenarioText(fabricScenario(40, 30, 0), 'bench-small.yaml');
  if (!small.scenario) throw new Error(small.diagnostics.map((d) => d.message).join('\n'));
  const run = new SimRun(small.scenario);
  run.advanceTo(0);
  const src = run.network.host('p1-2')!;
  const dst = run.network.host('p40-2')!;
  // warm: resolve the gateway MAC once
  const first = probe(run.network, src, { proto: 'udp', dstIp: dst.ip, dstPort: 53, srcPort: 1000 }, 0, false);
  if (!first.ok) throw new Error(`bench: warm-up probe failed: ${first.detail}`);
  const walks = quick ? 20000 : 100000;
  const lookupsBefore = [...run.network.switches.values()].reduce((n, s) => n + s.lookups, 0);
  let t0 = now();
  let delivered = 0;
  for (let i = 0; i < walks; i++) {
    const pkt = ipv4Packet({ ethSrc: src.mac, ethDst: first.gatewayMac!, ipSrc: src.ipU32, ipDst: dst.ipU32, l4: { proto: 'udp', srcPort: 1024 + (i % 60000), dstPort: 53 } });
    const w = run.network.send(src, pkt, 0, false);
    delivered += w.delivered.length;
  }
  let ms = now() - t0;
  const lookups = [...run.network.switches.values()].reduce((n, s) => n + s.lookups, 0) - lookupsBefore;
  push({ name: 'packets walked node->tor->spine->tor->node (no trace)', value: Math.round((walks / ms) * 1000), unit: 'packets/s' });
  push({ name: `  of which delivered`, value: delivered, unit: `of ${walks}` });
  push({ name: 'table lookups during the walks', value: Math.round((lookups / ms) * 1000), unit: 'lookups/s' });

  // 2. raw lookups on the busiest switch (a spine: one route per node block)
  const spine = run.network.switch('spine1');
  const pkts = Array.from({ length: 1024 }, (_, i) =>
    ipv4Packet({ ethSrc: src.mac, ethDst: first.gatewayMac!, ipSrc: src.ipU32, ipDst: dst.ipU32 + (i % 40) * 256, l4: { proto: 'tcp', srcPort: i, dstPort: 80 } }),
  );
  const n = quick ? 500000 : 3000000;
  t0 = now();
  let hits = 0;
  for (let i = 0; i < n; i++) for (let t = 0; t < 1; t++) if (spine.lookup(9, pkts[i & 1023]!)) hits++;
  ms = now() - t0;
  push({ name: `switch lookups (spine1 table 9, ${spine.flowCount} flows)`, value: Math.round((n / ms) * 1000), unit: 'lookups/s' });
  push({ name: '  of which hit', value: hits, unit: `of ${n}` });

  // 3. the big one
  const nodesArg = process.argv.indexOf('--nodes');
  const nodes = nodesArg > 0 ? Number(process.argv[nodesArg + 1]) : quick ? 100 : 1000;
  const text = fabricScenario(nodes, 30, 100);
  t0 = now();
  const big = parseScenarioText(text, 'bench-big.yaml');
  if (!big.scenario) throw new Error(big.diagnostics.slice(0, 3).map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  const parseMs = now() - t0;
  t0 = now();
  const bigRun = new SimRun(big.scenario);
  bigRun.install();
  push({ name: `${nodes} nodes: compile and install at t=0`, value: Math.round(now() - t0), unit: 'ms' });
  const report = bigRun.runInstalled();
  const runMs = now() - t0;
  const flows = [...bigRun.network.switches.values()].reduce((s, x) => s + x.flowCount, 0);
  push({ name: `${nodes} nodes, ${nodes * 30} pods: parse`, value: Math.round(parseMs), unit: 'ms' });
  push({ name: `${nodes} nodes, ${nodes * 30} pods: 100 events replayed after install`, value: Math.round(runMs), unit: 'ms' });
  push({ name: '  flows installed at the end', value: flows, unit: 'flows' });
  push({ name: '  control ops applied', value: bigRun.driver.opsApplied, unit: 'ops' });
  push({ name: '  expectations ok', value: report.expectations.filter((e) => e.ok).length, unit: `of ${report.expectations.length}` });
  const conv = bigRun.convergence.map((c) => c.convergedUs - c.atUs);
  push({ name: '  convergence per event (virtual, max)', value: conv.length ? Math.max(...conv) : 0, unit: 'us' });

  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${String(r.value).padStart(12)} ${r.unit}\n`);
  const outDir = path.join(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'sim.json'), JSON.stringify({ quick, rows, node: process.version }, null, 2) + '\n');
}

if (require.main === module) main();
