/**
 * `fabric plan` at scale (issue 17 "Plans at scale"): the wall time, the peak RSS and the size of
 * `fabric plan FILE --format json > /dev/null` on generated clusters (bench/cluster-gen.ts, written as
 * YAML by bench/ipam.ts's scenarioYaml), run as a user runs it: `/usr/bin/time -v node bin/fabric.js
 * ...` in a child process, stdout to /dev/null. Beside it, for scale: the same command with
 * `--switch node1` (what compiling alone costs: parse, compile, one switch) and with `--pod` (a filter).
 * The output's size is counted by a second run piped into this process (bounded memory through a pipe
 * and its backpressure), and that run checks the document begins and ends as one JSON object.
 *
 * Writes bench/results/plan-stream.json; never asserts a time. Sizes (nodes/pods per node/services,
 * 3 backends each): 500/30/500 by default; `--sizes 500,5000` adds 5,000 nodes / 150,000 pods /
 * 10,000 services (about an hour on a loaded 2-core machine: the document is ~140 GB).
 * Figures of sizes not run this time are kept from the previous results file (with their date), and
 * `--import 5000=FILE` records a `/usr/bin/time -v` output of the same command run by hand.
 *
 *   npm run bench -- plan-stream
 *   node dist/bench/plan-stream.js [--sizes 500,5000] [--no-pipe] [--import 5000=/tmp/time5000.txt]
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateCluster } from './cluster-gen';
import { scenarioYaml } from './ipam';
import { BenchResult, formatTable, repoRoot, resultsDir, writeResults } from './harness';

interface Size {
  nodes: number;
  podsPerNode: number;
  services: number;
}

const SIZES: Record<string, Size> = {
  '500': { nodes: 500, podsPerNode: 30, services: 500 },
  '5000': { nodes: 5000, podsPerNode: 30, services: 10_000 },
};

export interface TimeV {
  wallS: number;
  userS: number;
  systemS: number;
  maxRssKiB: number;
  exit: number;
}

/** The figures of a `/usr/bin/time -v` report. */
export function parseTimeV(text: string): TimeV | undefined {
  const field = (re: RegExp): string | undefined => re.exec(text)?.[1];
  const wall = field(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/);
  const rss = field(/Maximum resident set size \(kbytes\): (\d+)/);
  if (wall === undefined || rss === undefined) return undefined;
  const wallS = wall.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return {
    wallS,
    userS: Number(field(/User time \(seconds\): ([\d.]+)/) ?? NaN),
    systemS: Number(field(/System time \(seconds\): ([\d.]+)/) ?? NaN),
    maxRssKiB: Number(rss),
    exit: Number(field(/Exit status: (\d+)/) ?? NaN),
  };
}

function label(s: Size): string {
  return `${s.nodes.toLocaleString('en-US')} nodes/${(s.nodes * s.podsPerNode).toLocaleString('en-US')} pods/${s.services.toLocaleString('en-US')} services`;
}

/** `/usr/bin/time -v node bin/fabric.js ARGS`, stdout to /dev/null (or counted through a pipe) */
function timed(root: string, args: string[], countStdout: boolean): Promise<{ time: TimeV; bytes?: number; head?: string; tail?: string }> {
  return new Promise((resolve, reject) => {
    const devnull = countStdout ? 'pipe' : fs.openSync('/dev/null', 'w');
    const child = spawn('/usr/bin/time', ['-v', process.execPath, path.join(root, 'bin', 'fabric.js'), ...args], { stdio: ['ignore', devnull, 'pipe'] });
    let stderr = '';
    let bytes = 0;
    let head = '';
    let tail = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      if (head.length < 200) head += d.subarray(0, 200).toString();
      bytes += d.length;
      tail = (tail + d.subarray(Math.max(0, d.length - 200)).toString()).slice(-200);
    });
    child.on('error', reject);
    child.on('exit', () => {
      if (typeof devnull === 'number') fs.closeSync(devnull);
      const time = parseTimeV(stderr);
      if (!time) return reject(new Error(`no /usr/bin/time report: ${stderr.slice(-500)}`));
      if (time.exit !== 0) return reject(new Error(`fabric ${args.join(' ')} exited ${time.exit}: ${stderr.split('\n').find((l) => l.startsWith('fabric:')) ?? ''}`));
      resolve({ time, ...(countStdout ? { bytes, head, tail } : {}) });
    });
  });
}

function figures(prefix: string, t: TimeV, notes: string): BenchResult[] {
  const one = (name: string, unit: string, v: number): BenchResult => ({ name: `${prefix}: ${name}`, unit, runs: 1, min: v, median: v, notes });
  return [
    one('wall time', 's', Math.round(t.wallS * 100) / 100),
    one('CPU time (user+sys)', 's', Math.round((t.userS + t.systemS) * 100) / 100),
    one('peak RSS', 'MiB', Math.round(t.maxRssKiB / 1024)),
  ];
}

async function measureSize(root: string, key: string, s: Size, pipe: boolean, log: (l: string) => void): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-stream-'));
  try {
    const file = path.join(dir, `n${s.nodes}.yaml`);
    fs.writeFileSync(file, scenarioYaml(generateCluster({ nodes: s.nodes, podsPerNode: s.podsPerNode, services: s.services, backendsPerService: 3 })));
    const what = `plan --format json > /dev/null, ${label(s)}`;
    const notes = `size=${key} load1m=${os.loadavg()[0].toFixed(1)} (2 cores shared)`;
    const out: BenchResult[] = [];
    log(`${what} ...`);
    const full = await timed(root, ['plan', file, '--format', 'json'], false);
    out.push(...figures(what, full.time, notes));
    log(`  ${full.time.wallS} s, ${Math.round(full.time.maxRssKiB / 1024)} MiB`);
    const one = await timed(root, ['plan', file, '--format', 'json', '--switch', 'node1'], false);
    out.push(...figures(`plan --switch node1 (parse + compile + 1 switch), ${label(s)}`, one.time, notes));
    const pod = await timed(root, ['plan', file, '--format', 'json', '--pod', 'node1-pod0'], false);
    out.push(...figures(`plan --pod node1-pod0, ${label(s)}`, pod.time, notes));
    if (pipe) {
      log(`${what} through a pipe (counting bytes) ...`);
      const piped = await timed(root, ['plan', file, '--format', 'json'], true);
      const whole = piped.head!.startsWith('{\n  "scenario": ') && piped.tail!.endsWith('\n  }\n}\n');
      out.push(...figures(`plan --format json | (pipe), ${label(s)}`, piped.time, notes));
      out.push({ name: `plan --format json output size, ${label(s)}`, unit: 'MiB', runs: 1, min: Math.round(piped.bytes! / 2 ** 20), median: Math.round(piped.bytes! / 2 ** 20), notes: `${notes} ${whole ? 'one JSON object' : 'NOT one JSON object'}` });
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function previousResults(target: string): BenchResult[] {
  try {
    const raw = JSON.parse(fs.readFileSync(target, 'utf8')) as { results?: BenchResult[]; date?: string };
    return (raw.results ?? []).map((r) => (r.notes?.includes('measured ') ? r : { ...r, notes: `${r.notes ?? ''} measured ${raw.date ?? '?'}`.trim() }));
  } catch {
    return [];
  }
}

async function main(argv: string[]): Promise<number> {
  const root = repoRoot();
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (arg('--sizes') ?? process.env.PLAN_STREAM_SIZES ?? '500').split(',').filter(Boolean);
  for (const k of sizes) if (!SIZES[k]) throw new Error(`plan-stream: unknown size ${k} (have ${Object.keys(SIZES).join(', ')})`);
  const pipe = !argv.includes('--no-pipe');
  const log = (l: string) => process.stdout.write(l + '\n');
  const results: BenchResult[] = [];
  const done = new Set<string>();
  for (const k of sizes) {
    results.push(...(await measureSize(root, k, SIZES[k]!, pipe, log)));
    done.add(k);
  }
  const imported = arg('--import');
  if (imported) {
    const [k, file] = imported.split('=');
    const t = parseTimeV(fs.readFileSync(file!, 'utf8'));
    if (!k || !SIZES[k] || !t) throw new Error(`plan-stream: --import SIZE=FILE with a /usr/bin/time -v report`);
    results.push(...figures(`plan --format json > /dev/null, ${label(SIZES[k]!)}`, t, `size=${k} imported from a /usr/bin/time -v run of the same command, ${new Date().toISOString().slice(0, 10)}`));
    done.add(k);
  }
  const target = path.join(resultsDir(root), 'plan-stream.json');
  // keep the figures of sizes not measured this time (a 5,000-node run takes an hour)
  const kept = previousResults(target).filter((r) => {
    const m = /size=(\d+)/.exec(r.notes ?? '');
    return m !== null && !done.has(m[1]!);
  });
  const all = [...results, ...kept];
  writeResults('plan-stream', all, { notes: ['fabric plan streams its JSON (cli/commands/plan.ts); before, 500 nodes/15,000 pods/500 services ran 1 min 46 s, grew to 3.07 GB and died with "Invalid string length" (issue 17)'] });
  log(formatTable(['figure', 'value', 'unit', 'notes'], all.map((r) => [r.name, String(r.median), r.unit, r.notes ?? ''])));
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`plan-stream: ${e.message}\n`);
      process.exitCode = 2;
    },
  );
}
