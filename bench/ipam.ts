/**
 * Benchmark: the address plan of a large cluster — 5,000 nodes, 150,000 pods, 1,000 services —
 * generated in memory (node IPs from 198.18.0.0/15, the benchmarking range of RFC 2544), timed for
 * `planAddresses` alone (the core of `fabric ipam`), for the whole `fabric ipam` path from YAML text
 * (parse + check + plan), and for building the cluster model. Prints a table and writes
 * bench/results/ipam.json. It measures; it asserts no time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ipam.js [--nodes N] [--pods-per-node P] [--runs R]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { parseDocument } from 'yaml';
import { buildClusterState, intToIp, ipToInt, parseScenarioText, planAddresses, type Scenario } from '../topology';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export function bigScenario(nodeCount: number, podsPerNode: number, serviceCount: number): Scenario {
  const nodeIpBase = ipToInt('198.18.0.1');
  const s: Scenario = {
    name: 'bench-ipam',
    seed: 1,
    cluster: { mode: 'routed', encap: 'vxlan', podCidr: '10.0.0.0/10', nodeMaskLen: 24, serviceCidr: '10.96.0.0/12', isolation: false, allow: [], rebalance: [] },
    fabric: { switches: [{ name: 'spine1' }], nodes: [], links: [], externals: [] },
    pods: [],
    services: [],
    traffic: [],
    events: [],
    expect: [],
  };
  for (let i = 0; i < nodeCount; i++) {
    const name = `node${i}`;
    // every tenth node has a fixed block, taken from the top of the pool so the others fill around it
    const node = i % 10 === 0 ? { name, ip: intToIp(nodeIpBase + i), podCidr: `10.${63 - Math.floor(i / 10 / 256)}.${255 - ((i / 10) % 256)}.0/24` } : { name, ip: intToIp(nodeIpBase + i) };
    s.fabric.nodes.push(node);
    s.fabric.links.push({ between: [name, 'spine1'], gbps: 25, latencyUs: 1 });
  }
  for (let i = 0; i < nodeCount; i++) {
    const fixedBlock = s.fabric.nodes[i].podCidr;
    for (let j = 0; j < podsPerNode; j++) {
      const pod = { name: `pod-${i}-${j}`, node: `node${i}`, labels: { app: `app${j % 50}` }, hostPorts: [] };
      // one pod in a hundred on fixed-block nodes has a fixed IP high in the block
      if (fixedBlock && j % 100 === 0) Object.assign(pod, { ip: intToIp(ipToInt(fixedBlock.split('/')[0]) + 200 + (j % 50)) });
      s.pods.push(pod);
    }
  }
  // every selector matches pods (a file without warnings: the fast reading of large files applies)
  const apps = Math.min(50, podsPerNode);
  for (let k = 0; k < serviceCount; k++) s.services.push({ name: `svc-${k}`, selector: { app: `app${k % apps}` }, port: 80, targetPort: 8080, protocol: 'tcp' });
  return s;
}

/** The scenario as a generator would write it: one flow mapping per line. */
export function scenarioYaml(s: Scenario): string {
  const lines = [`name: ${s.name}`, 'cluster:', `  podCidr: ${s.cluster.podCidr}`, `  serviceCidr: ${s.cluster.serviceCidr}`, 'fabric:', '  switches:'];
  for (const sw of s.fabric.switches) lines.push(`    - { name: ${sw.name} }`);
  lines.push('  nodes:');
  for (const n of s.fabric.nodes) lines.push(`    - { name: ${n.name}, ip: ${n.ip}${n.podCidr ? `, podCidr: ${n.podCidr}` : ''} }`);
  lines.push('  links:');
  for (const l of s.fabric.links) lines.push(`    - { between: [${l.between[0]}, ${l.between[1]}], gbps: ${l.gbps} }`);
  lines.push('pods:');
  for (const p of s.pods) lines.push(`  - { name: ${p.name}, node: ${p.node}, labels: { app: ${p.labels.app} }${p.ip ? `, ip: ${p.ip}` : ''} }`);
  lines.push('services:');
  for (const v of s.services) lines.push(`  - { name: ${v.name}, selector: { app: ${v.selector.app} }, port: ${v.port}, targetPort: ${v.targetPort} }`);
  return lines.join('\n') + '\n';
}

/** Wall time, and CPU time of this process (user + system): on a shared machine the second is fairer. */
function time<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const nodes = arg('nodes', 5000);
  const podsPerNode = arg('pods-per-node', 30);
  const runs = arg('runs', 5);
  const services = 1000;
  const scenario = bigScenario(nodes, podsPerNode, services);

  const planMs: number[] = [];
  const planCpuMs: number[] = [];
  let plan = planAddresses(scenario);
  for (let r = 0; r < runs; r++) {
    const t = time(() => planAddresses(scenario));
    planMs.push(t.ms);
    planCpuMs.push(t.cpuMs);
    plan = t.value;
  }
  const yamlText = scenarioYaml(scenario);
  const yamlOnly = time(() => parseDocument(yamlText, { prettyErrors: false }).toJS());
  const parse = time(() => parseScenarioText(yamlText, 'bench.yaml'));
  // the careful reading (positions of every value), as a file with any diagnostic gets it
  const careful = time(() => parseScenarioText(yamlText, 'bench.yaml', { fastParseMinBytes: Infinity }));
  const errors = parse.value.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`the generated scenario does not validate: ${errors[0].message}`);
  const planFromYaml = time(() => planAddresses(parse.value.scenario!));
  const cluster = time(() => buildClusterState(scenario, plan));

  const rows: [string, string, string][] = [
    ['planAddresses (median of runs)', median(planMs).toFixed(1), median(planCpuMs).toFixed(1)],
    ['planAddresses (min)', Math.min(...planMs).toFixed(1), Math.min(...planCpuMs).toFixed(1)],
    ['yaml package parse alone', yamlOnly.ms.toFixed(0), yamlOnly.cpuMs.toFixed(0)],
    ['parseScenarioText (parse + check + model replay)', parse.ms.toFixed(0), parse.cpuMs.toFixed(0)],
    ['  the same, careful reading (yaml package, every position)', careful.ms.toFixed(0), careful.cpuMs.toFixed(0)],
    ['fabric ipam from YAML (parse + check + plan)', (parse.ms + planFromYaml.ms).toFixed(0), (parse.cpuMs + planFromYaml.cpuMs).toFixed(0)],
    ['buildClusterState', cluster.ms.toFixed(0), cluster.cpuMs.toFixed(0)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  const load = os.loadavg()[0];
  process.stdout.write(`fabric ipam benchmark: ${nodes} nodes, ${scenario.pods.length} pods, ${services} services, YAML ${(Buffer.byteLength(yamlText) / 1048576).toFixed(1)} MiB\n`);
  process.stdout.write(`(${os.cpus().length} cpus, load average ${load.toFixed(1)}, node ${process.version})\n`);
  process.stdout.write(`${'step'.padEnd(width)}  ${'wall ms'.padStart(10)}  ${'cpu ms'.padStart(10)}\n`);
  for (const [k, v, c] of rows) process.stdout.write(`${k.padEnd(width)}  ${v.padStart(10)}  ${c.padStart(10)}\n`);

  const result = {
    benchmark: 'ipam',
    node: process.version,
    cpus: os.cpus().length,
    loadAverage1m: load,
    nodes,
    pods: scenario.pods.length,
    services,
    runs,
    planAddressesMs: { median: median(planMs), min: Math.min(...planMs), max: Math.max(...planMs), all: planMs },
    planAddressesCpuMs: { median: median(planCpuMs), min: Math.min(...planCpuMs), all: planCpuMs },
    yamlBytes: Buffer.byteLength(yamlText),
    yamlParseOnlyMs: yamlOnly.ms,
    yamlParseOnlyCpuMs: yamlOnly.cpuMs,
    parseAndCheckMs: parse.ms,
    parseAndCheckCpuMs: parse.cpuMs,
    parseAndCheckCarefulMs: careful.ms,
    parseAndCheckCarefulCpuMs: careful.cpuMs,
    ipamFromYamlMs: parse.ms + planFromYaml.ms,
    ipamFromYamlCpuMs: parse.cpuMs + planFromYaml.cpuMs,
    buildClusterStateMs: cluster.ms,
    buildClusterStateCpuMs: cluster.cpuMs,
    samplePlan: { node0: plan.nodes.node0, node1: plan.nodes.node1, 'pod-1-0': plan.pods['pod-1-0'], 'svc-0': plan.services['svc-0'] },
  };
  const out = path.resolve(__dirname, '..', '..', 'bench', 'results', 'ipam.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

if (require.main === module) main();
