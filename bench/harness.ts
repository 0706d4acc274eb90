/**
 * Benchmark harness: measures a figure over several runs (min and median), prints tables, and writes a
 * bench module's results to bench/results/<bench>.json in the one shape bench/run.ts merges.
 * Benchmarks never assert a time: they report.
 *
 *   const r = await measure('compile N=100', 'ms', () => compileCluster(state), { runs: 5 });
 *   printTable([r]);
 *   writeResults('vs-ovn', [r], { ratios });
 *
 * A sample is the wall time of `fn` in `unit` ('ms' default, 's', 'us'), unless `fn` returns a number:
 * then that number is the sample, already in `unit` (for figures timed inside `fn`, throughputs, counts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';

export interface BenchResult {
  name: string;
  unit: string;
  runs: number;
  min: number;
  median: number;
  notes?: string;
  /** every sample, in run order */
  samples?: number[];
}

/** fabric vs a peer on the same figure: ratio = fabric / peer (for times, < 1 means fabric is faster) */
export interface BenchRatio {
  name: string;
  unit: string;
  fabric: number;
  peer: number;
  peerName: string;
  ratio: number;
  /** which way is better: 'lower' for times, 'higher' for throughputs */
  better: 'lower' | 'higher';
}

export interface BenchFile {
  bench: string;
  date: string;
  results: BenchResult[];
  ratios?: BenchRatio[];
  notes?: string[];
}

export interface MeasureOptions {
  /** default 5 */
  runs?: number;
  /** un-timed runs before the timed ones (default 0) */
  warmup?: number;
  notes?: string;
}

const TIME_SCALE: Record<string, number> = { ms: 1, s: 1 / 1000, us: 1000 };

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A result from samples measured elsewhere (a figure reported by a peer, a count). */
export function record(name: string, unit: string, samples: readonly number[], notes?: string): BenchResult {
  if (samples.length === 0) throw new RangeError(`record ${name}: no samples`);
  const result: BenchResult = { name, unit, runs: samples.length, min: Math.min(...samples), median: median(samples), samples: [...samples] };
  if (notes) result.notes = notes;
  return result;
}

export async function measure(
  name: string,
  unit: string,
  fn: (run: number) => unknown,
  options: MeasureOptions = {},
): Promise<BenchResult> {
  const runs = options.runs ?? 5;
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`measure ${name}: runs must be a positive integer`);
  for (let w = 0; w < (options.warmup ?? 0); w++) await fn(-1 - w);
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const value = await fn(run);
    const elapsedMs = performance.now() - start;
    if (typeof value === 'number') samples.push(value);
    else {
      const scale = TIME_SCALE[unit];
      if (scale === undefined) throw new RangeError(`measure ${name}: unit ${unit} is not a time, so fn must return the sample`);
      samples.push(elapsedMs * scale);
    }
  }
  return record(name, unit, samples, options.notes);
}

export function ratioOf(name: string, fabric: BenchResult, peer: BenchResult, peerName: string, better: 'lower' | 'higher' = 'lower'): BenchRatio {
  if (fabric.unit !== peer.unit) throw new RangeError(`ratio ${name}: units differ (${fabric.unit} vs ${peer.unit})`);
  return { name, unit: fabric.unit, fabric: fabric.median, peer: peer.median, peerName, ratio: fabric.median / peer.median, better };
}

/** Numbers readable at a glance: 3 significant digits, thousands separated. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

/** A plain-text table; the first column left-aligned, the others right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function resultsTable(results: readonly BenchResult[]): string {
  return formatTable(
    ['figure', 'median', 'min', 'unit', 'runs', 'notes'],
    results.map((r) => [r.name, formatNumber(r.median), formatNumber(r.min), r.unit, String(r.runs), r.notes ?? '']),
  );
}

export function ratiosTable(ratios: readonly BenchRatio[]): string {
  return formatTable(
    ['comparison', 'fabric', 'peer', 'unit', 'fabric/peer', 'faster'],
    ratios.map((r) => {
      const fabricWins = r.better === 'lower' ? r.fabric < r.peer : r.fabric > r.peer;
      const factor = r.better === 'lower' ? r.peer / r.fabric : r.fabric / r.peer;
      const verdict = fabricWins ? `fabric ${formatNumber(factor)}x` : `${r.peerName} ${formatNumber(1 / factor)}x`;
      return [r.name, formatNumber(r.fabric), formatNumber(r.peer), r.unit, formatNumber(r.ratio), verdict];
    }),
  );
}

export function printTable(results: readonly BenchResult[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): void {
  out(resultsTable(results));
}

/** The repository root: the nearest directory above this file holding package.json (works from dist/ too). */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bench'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export function resultsDir(root: string = repoRoot()): string {
  return path.join(root, 'bench', 'results');
}

/** Writes bench/results/<bench>.json (or into `dir`); returns the path. */
export function writeResults(
  bench: string,
  results: readonly BenchResult[],
  extra: { ratios?: BenchRatio[]; notes?: string[]; dir?: string } = {},
): string {
  const dir = extra.dir ?? resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const file: BenchFile = { bench, date: new Date().toISOString(), results: [...results] };
  if (extra.ratios && extra.ratios.length) file.ratios = extra.ratios;
  if (extra.notes && extra.notes.length) file.notes = extra.notes;
  const target = path.join(dir, `${bench}.json`);
  fs.writeFileSync(target, JSON.stringify(file, null, 2) + '\n');
  return target;
}

/** Machine facts for the merged results. */
export function machineInfo(versions: Record<string, string> = {}): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
    ...versions,
  };
}
