/**
 * `npm run bench [-- NAME...]`: runs every bench module (dist/bench/*.js except this runner, the harness
 * and the generator), each as its own child process with a generous timeout so that one failing bench
 * does not stop the others; then merges bench/results/*.json into bench/results.json with the machine,
 * the versions of OVS/OVN and the date, and prints one table of figures and one of ratios.
 *
 * Bench modules write their own bench/results/<name>.json. The preferred shape is harness.ts's
 * BenchFile; other shapes (a bare array, a map of name → figure, `value`/`mean` instead of min/median)
 * are normalised as far as they can be, and what cannot be read is listed, never dropped silently.
 *
 * `npm run bench -- --merge` only merges the results already written.
 * Environment: BENCH_TIMEOUT_MS (per module, default 40 minutes).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  BenchRatio,
  BenchResult,
  formatNumber,
  formatTable,
  machineInfo,
  ratiosTable,
  repoRoot,
  resultsDir,
} from './harness';

const NOT_BENCHES = new Set(['run', 'harness', 'cluster-gen']);

export interface MergedRun {
  module: string;
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  seconds: number;
  timedOut: boolean;
}

export interface MergedResults {
  date: string;
  machine: Record<string, unknown>;
  runs: MergedRun[];
  results: Array<BenchResult & { bench: string; date?: string }>;
  ratios: Array<BenchRatio & { bench: string }>;
  unreadable: string[];
}

/** Names of the bench modules available in dist/bench (or the given dir), sorted. */
export function benchModules(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.js') && !NOT_BENCHES.has(f.slice(0, -3)))
    .map((f) => f.slice(0, -3))
    .sort();
}

function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return 'not installed';
  return r.stdout.split('\n')[0].trim();
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** One figure from whatever shape a module wrote; undefined when it holds no number. */
/** A unit read off a key's suffix (`parseMs`, `yamlBytes`, `flowsPerS`), or undefined. */
export function unitFromKey(key: string): string | undefined {
  const m = /(Ms|Us|Seconds|Sec|S|Bytes|MiB|PerS|PerSec|Gbps)$/.exec(key);
  if (!m || m.index === 0) return undefined;
  const unit: Record<string, string> = { Ms: 'ms', Us: 'us', Seconds: 's', Sec: 's', S: 's', Bytes: 'bytes', MiB: 'MiB', PerS: '/s', PerSec: '/s', Gbps: 'Gbit/s' };
  return unit[m[1]];
}

function normaliseOne(item: Record<string, unknown>, fallbackName: string): BenchResult | undefined {
  const rawSamples = Array.isArray(item.samples) ? item.samples : Array.isArray(item.all) ? item.all : undefined;
  const samples = rawSamples ? (rawSamples as unknown[]).filter((x): x is number => num(x) !== undefined) : undefined;
  const median = num(item.median) ?? num(item.value) ?? num(item.mean) ?? num(item.avg) ?? num(item.min) ?? num(item.ms);
  const min = num(item.min) ?? (samples && samples.length ? Math.min(...samples) : undefined) ?? median;
  if (median === undefined || min === undefined) return undefined;
  const name = typeof item.name === 'string' ? item.name.trim() : fallbackName;
  const unit = typeof item.unit === 'string' ? item.unit : num(item.ms) !== undefined ? 'ms' : unitFromKey(name) ?? '';
  const runs = num(item.runs) ?? (samples && samples.length) ?? num(item.iterations) ?? 1;
  const result: BenchResult = { name, unit, runs, min, median };
  const notes = typeof item.notes === 'string' ? item.notes : typeof item.note === 'string' ? item.note : undefined;
  if (notes) result.notes = notes;
  return result;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one module's results file, in any of the shapes we know. */
export function normaliseFile(raw: unknown, bench: string): { results: BenchResult[]; ratios: BenchRatio[]; unreadable: string[]; params: Record<string, number> } {
  const results: BenchResult[] = [];
  const unreadable: string[] = [];
  const params: Record<string, number> = {};
  let mapShaped = false;
  let items: Array<[string, unknown]> = [];
  if (Array.isArray(raw)) items = raw.map((x, i) => [`${bench}#${i}`, x]);
  else if (isRecord(raw) && Array.isArray(raw.results)) items = (raw.results as unknown[]).map((x, i) => [`${bench}#${i}`, x]);
  else if (isRecord(raw) && Array.isArray(raw.rows)) items = (raw.rows as unknown[]).map((x, i) => [`${bench}#${i}`, x]);
  else if (isRecord(raw) && isRecord(raw.results)) items = Object.entries(raw.results);
  else if (isRecord(raw) && normaliseOne(raw, bench)) items = [[bench, raw]];
  else if (isRecord(raw)) {
    mapShaped = true;
    items = Object.entries(raw).filter(([k]) => !['date', 'machine', 'bench', 'benchmark', 'notes', 'ratios'].includes(k));
  }
  for (const [key, item] of items) {
    if (isRecord(item)) {
      const one = normaliseOne(item, key);
      if (one) {
        results.push(one);
        continue;
      }
    } else if (num(item) !== undefined) {
      const unit = unitFromKey(key);
      // in a flat map, a bare number without a unit is a parameter of the run (nodes, cpus), not a figure
      if (mapShaped && unit === undefined) params[key] = item as number;
      else results.push({ name: key, unit: unit ?? '', runs: 1, min: item as number, median: item as number });
      continue;
    } else if (typeof item === 'string' || typeof item === 'boolean') {
      continue; // labels (node version, scenario name) carry no figure
    }
    unreadable.push(`${bench}: ${key}`);
  }
  const ratios: BenchRatio[] = [];
  if (isRecord(raw) && Array.isArray(raw.ratios)) {
    for (const r of raw.ratios as unknown[]) {
      if (!isRecord(r)) continue;
      const fabric = num(r.fabric) ?? num(r.ours);
      const peer = num(r.peer) ?? num(r.theirs) ?? num(r.ovsOfctl) ?? num(r.ovn);
      if (fabric === undefined || peer === undefined) {
        unreadable.push(`${bench}: ratio ${String(r.name)}`);
        continue;
      }
      ratios.push({
        name: String(r.name ?? 'ratio'),
        unit: String(r.unit ?? ''),
        fabric,
        peer,
        peerName: String(r.peerName ?? r.peer_name ?? 'peer'),
        ratio: num(r.ratio) ?? fabric / peer,
        better: r.better === 'higher' ? 'higher' : 'lower',
      });
    }
  }
  return { results, ratios, unreadable, params };
}

/**
 * Ratios a module did not state itself: a figure of ours paired with an ovs-ofctl / OVN figure of the
 * same unit whose names differ only in the tool (e.g. "install 100k flows (fabric channel)" and
 * "install 100k flows (ovs-ofctl --bundle)").
 */
export function inferRatios(bench: string, results: readonly BenchResult[], stated: readonly BenchRatio[]): BenchRatio[] {
  const peerPattern = /ovs-ofctl|ofctl|\bovn\b|northd/i;
  const oursPattern = /\bours\b|\bfabric\b|channel|our /i;
  const stripTool = (full: string): string => {
    // "figure: tool (details)" → the figure
    const colon = full.lastIndexOf(': ');
    const name = colon > 0 && (peerPattern.test(full.slice(colon)) || oursPattern.test(full.slice(colon))) ? full.slice(0, colon) : full;
    return name
      .replace(/\(([^)]*)\)/g, (_, inner: string) => (peerPattern.test(inner) || oursPattern.test(inner) ? '' : `(${inner})`))
      .replace(/ovs-ofctl(\s+--bundle)?|ofctl|\bovn\b|northd|\bours\b|\bfabric\b|our channel|channel|\bvia\b|\bby\b/gi, '')
      .replace(/[\s:,-]+/g, ' ')
      .trim()
      .toLowerCase();
  };
  // a module that states its ratios knows its pairs best: nothing is guessed beside them
  if (stated.length > 0) return [];
  const out: BenchRatio[] = [];
  for (const peer of results.filter((r) => peerPattern.test(r.name))) {
    const key = stripTool(peer.name);
    const ours = results.find((r) => r !== peer && !peerPattern.test(r.name) && r.unit === peer.unit && stripTool(r.name) === key);
    if (!ours) continue;
    const better = /\/s$|per s|throughput/i.test(peer.unit) ? 'higher' : 'lower';
    const peerName = /ofctl/i.test(peer.name) ? 'ovs-ofctl' : 'OVN';
    out.push({ name: key, unit: peer.unit, fabric: ours.median, peer: peer.median, peerName, ratio: ours.median / peer.median, better });
  }
  return out;
}

function runModule(file: string, timeoutMs: number): Promise<MergedRun> {
  const module = path.basename(file, '.js');
  const start = Date.now();
  return new Promise((resolve) => {
    process.stdout.write(`\n=== bench ${module} (timeout ${Math.round(timeoutMs / 60000)} min) ===\n`);
    const child = spawn(process.execPath, [file], { stdio: 'inherit', cwd: repoRoot(path.dirname(file)) });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // our own child, by its handle
    }, timeoutMs);
    const finish = (exitCode: number | null, signal: string | null): void => {
      clearTimeout(timer);
      const seconds = (Date.now() - start) / 1000;
      const ok = exitCode === 0 && !timedOut;
      process.stdout.write(`=== bench ${module}: ${ok ? 'done' : timedOut ? 'TIMED OUT' : `FAILED (exit ${exitCode ?? signal})`} in ${seconds.toFixed(1)} s ===\n`);
      resolve({ module, ok, exitCode, signal, seconds, timedOut });
    };
    child.on('exit', finish);
    child.on('error', () => finish(null, 'spawn-error'));
  });
}

/** Merges every bench/results/*.json into one object (does not write it). */
export function mergeResults(dir: string, runs: MergedRun[]): MergedResults {
  const merged: MergedResults = {
    date: new Date().toISOString(),
    machine: machineInfo({
      ovs: toolVersion('ovs-vswitchd', ['--version']),
      ovn: toolVersion('ovn-northd', ['--version']),
    }),
    runs,
    results: [],
    ratios: [],
    unreadable: [],
  };
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const f of files) {
    const bench = f.slice(0, -5);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
      merged.unreadable.push(`${bench}: not JSON (${(e as Error).message})`);
      continue;
    }
    const { results, ratios, unreadable, params } = normaliseFile(raw, bench);
    const date = isRecord(raw) && typeof raw.date === 'string' ? raw.date : undefined;
    const context = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ');
    for (const r of results) {
      const withContext = context && !r.notes ? { ...r, notes: context } : r;
      merged.results.push({ bench, ...(date ? { date } : {}), ...withContext });
    }
    for (const r of [...ratios, ...inferRatios(bench, results, ratios)]) merged.ratios.push({ bench, ...r });
    merged.unreadable.push(...unreadable);
  }
  return merged;
}

export function mergedTable(merged: MergedResults): string {
  const parts: string[] = [];
  parts.push(
    `machine: ${merged.machine.cpuModel} (${merged.machine.cores} cores, ${merged.machine.memoryGiB} GiB), node ${merged.machine.node}, ${merged.machine.ovs}, ${merged.machine.ovn}`,
  );
  parts.push(
    formatTable(
      ['bench', 'figure', 'median', 'min', 'unit', 'runs'],
      merged.results.map((r) => [r.bench, r.name, formatNumber(r.median), formatNumber(r.min), r.unit, String(r.runs)]),
    ),
  );
  if (merged.ratios.length) parts.push(ratiosTable(merged.ratios.map((r) => ({ ...r, name: `${r.bench}: ${r.name}` }))));
  if (merged.unreadable.length) parts.push(`could not read: ${merged.unreadable.join('; ')}`);
  const failed = merged.runs.filter((r) => !r.ok);
  if (failed.length) parts.push(`failed: ${failed.map((r) => `${r.module} (${r.timedOut ? 'timeout' : `exit ${r.exitCode ?? r.signal}`})`).join(', ')}`);
  return parts.join('\n\n');
}

async function main(argv: string[]): Promise<number> {
  const root = repoRoot();
  const distBench = path.join(root, 'dist', 'bench');
  const available = benchModules(distBench);
  // --merge: only merge the results files already written (no bench is run)
  const mergeOnly = argv.includes('--merge');
  const names = argv.filter((a) => a !== '--merge');
  const wanted = mergeOnly ? [] : names.length ? names.map((a) => a.replace(/\.(ts|js)$/, '').replace(/^bench\//, '')) : available;
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length) {
    process.stderr.write(`bench: no such bench ${unknown.join(', ')} (have: ${available.join(', ') || 'none; run npm run build'})\n`);
    return 2;
  }
  const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 40 * 60_000);
  const runs: MergedRun[] = [];
  for (const name of wanted) runs.push(await runModule(path.join(distBench, `${name}.js`), timeoutMs));
  const merged = mergeResults(resultsDir(root), runs);
  const target = path.join(root, 'bench', 'results.json');
  fs.writeFileSync(target, JSON.stringify(merged, null, 2) + '\n');
  process.stdout.write(`\n${mergedTable(merged)}\n\nwritten: ${path.relative(process.cwd(), target)}\n`);
  return runs.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`bench: ${e.message}\n`);
      process.exitCode = 2;
    },
  );
}
