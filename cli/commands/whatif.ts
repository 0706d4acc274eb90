/**
 * `fabric whatif FILE [--at T] [--fail links|nodes|switches|each] [--threshold 0.9] [--top N]
 * [--pairs N] [--json]`: every single failure (each link, each node, each fabric switch) evaluated
 * on a copy of the state at T (sim/whatif.ts, docs/whatif.md): the reachability lost between
 * representative pods, services and externals (walked through the simulated switches, as `fabric
 * trace` does), and the bandwidth model's max link utilization with the links over the threshold.
 * Ranked worst first. Exit 0 (a report), 2 on bad input. A progress bar on stderr when it is a
 * terminal and --json is not given (cli/progress.ts, the `cli-progress` package).
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import { SimError, whatIf, DEFAULT_MAX_PAIRS, DEFAULT_THRESHOLD } from '../../sim';
import type { FailCombinations, FailKind, WhatIfReport, FailureResult } from '../../sim';
import { startProgress } from '../progress';

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

function failureName(f: FailureResult): string {
  return `${f.failure.kind} ${f.failure.name}`;
}

export function formatWhatIf(r: WhatIfReport, top?: number): string {
  const lines: string[] = [];
  const kinds = new Map<string, number>([['link', 0], ['node', 0], ['switch', 0]]);
  for (const f of r.failures) kinds.set(f.failure.kind, (kinds.get(f.failure.kind) ?? 0) + 1);
  const byKind = [...kinds].filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}${n === 1 ? '' : k === 'switch' ? 'es' : 's'}`).join(', ');
  lines.push(`whatif ${r.scenario} at ${r.at}s: ${r.evaluated} failures (${byKind || 'none'})`);
  const s = r.sampling;
  const kindsProbed = Object.entries(s.pairs).map(([k, n]) => `${n} ${k}`).join(', ');
  lines.push(`reachability: ${s.probed} pairs probed (${kindsProbed || 'none'}), ${s.reachable} reach with nothing failed`);
  lines.push(`  one pod per (node, label group) stands for its group: ${s.representatives} representatives, ${s.candidates} candidate pairs${s.candidates > s.probed ? `, ${s.probed} sampled with the scenario seed (--pairs)` : ''}`);
  const b = r.baseline;
  lines.push(`bandwidth: max link utilization with nothing failed ${pct(b.maxUtilization)}${b.hottest ? ` (${b.hottest})` : ''}; threshold ${pct(r.threshold)}`);
  const shown = top !== undefined ? r.failures.slice(0, top) : r.failures;
  const rows = shown.map((f, i) => [
    String(i + 1),
    failureName(f),
    String(f.lostPairs),
    pct(f.maxUtilization),
    f.overThreshold.length ? f.overThreshold.slice(0, 3).map((o) => `${o.link} ${pct(o.utilization)}`).join(', ') + (f.overThreshold.length > 3 ? ` +${f.overThreshold.length - 3}` : '') : '-',
  ]);
  lines.push(...columns([['rank', 'failure', 'lost pairs', 'max util', 'over threshold'], ...rows]));
  for (const [i, f] of shown.entries()) {
    if (f.lostPairs === 0 && f.blocked.length === b.blocked.length) continue;
    lines.push(`#${i + 1} ${failureName(f)}:`);
    for (const g of f.lost.slice(0, 5)) {
      const ex = g.example;
      lines.push(`  ${g.from} -> ${g.to}: ${g.lost} of ${g.of} pairs lost (e.g. ${ex.from} -> ${ex.to}${ex.port !== undefined ? `:${ex.port}` : ''}: ${ex.detail})`);
    }
    if (f.lost.length > 5) lines.push(`  ... and ${f.lost.length - 5} more group pairs`);
    const newlyBlocked = f.blocked.filter((x) => !b.blocked.some((y) => y.index === x.index));
    for (const d of newlyBlocked.slice(0, 3)) lines.push(`  traffic #${d.index} ${d.from} -> ${d.to} blocked: ${d.reason}`);
    if (newlyBlocked.length > 3) lines.push(`  ... and ${newlyBlocked.length - 3} more blocked demands`);
  }
  if (shown.length < r.failures.length) lines.push(`(${r.failures.length - shown.length} more failures not shown: --top)`);
  const losing = r.failures.filter((f) => f.lostPairs > 0).length;
  const hot = r.failures.filter((f) => f.overThreshold.length > 0).length;
  lines.push(`${losing} of ${r.evaluated} failures lose reachability; ${hot} push a link over ${pct(r.threshold)}`);
  return lines.join('\n') + '\n';
}

export function parseFail(text: string | undefined): FailKind | [string, string][] | FailCombinations {
  if (text === undefined) return 'each';
  if (text === 'links' || text === 'nodes' || text === 'switches' || text === 'each') return text;
  // named failures: a|b,c|d (one link each), or combinations failing together: a|b+c|d,node3
  const entries = text.split(',').map((x) => x.trim().split('+').map((e) => e.trim()));
  const ok = entries.every((e) => e.length > 0 && e.every((el) => /^[^|\s]+(\|[^|\s]+)?$/.test(el)));
  if (ok && entries.every((e) => e.length === 1 && e[0].includes('|'))) return entries.map((e) => e[0].split('|') as [string, string]);
  if (ok) return { combinations: entries };
  throw new SimError(`whatif: --fail must be links, nodes, switches, each, or named failures: a|b,c|d (links), a|b+c|d,node3 (those failing together); got ${JSON.stringify(text)}`);
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('whatif')
    .description('every single link/node/switch failure at time T: reachability lost and link utilization, worst first')
    .argument('<file>', 'scenario YAML file')
    .option('--at <time>', 'virtual time (e.g. 2s, 250ms); default 0')
    .option('--fail <kind>', 'links, nodes, switches, each (all three), or named failures: a|b,c|d one link each; a|b+c|d,node3 failing together', 'each')
    .option('--threshold <x>', `utilization above which a link is reported (default ${DEFAULT_THRESHOLD})`)
    .option('--top <n>', 'show only the N worst failures')
    .option('--pairs <n>', `the most representative pairs probed (default ${DEFAULT_MAX_PAIRS})`)
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { at?: string; fail?: string; threshold?: string; top?: string; pairs?: string; json?: boolean }) => {
      const at = opts.at === undefined ? 0 : parseDuration(/^\d+(\.\d+)?$/.test(opts.at) ? Number(opts.at) : opts.at);
      if (at === undefined) throw new SimError(`whatif: --at must be a duration such as 2s or 250ms, got ${opts.at}`);
      const threshold = opts.threshold === undefined ? DEFAULT_THRESHOLD : Number(opts.threshold);
      if (!(Number.isFinite(threshold) && threshold > 0)) throw new SimError(`whatif: --threshold must be a number above 0, got ${opts.threshold}`);
      const top = opts.top === undefined ? undefined : Number(opts.top);
      if (top !== undefined && !(Number.isInteger(top) && top > 0)) throw new SimError(`whatif: --top must be a positive integer, got ${opts.top}`);
      const maxPairs = opts.pairs === undefined ? DEFAULT_MAX_PAIRS : Number(opts.pairs);
      if (!(Number.isInteger(maxPairs) && maxPairs > 0)) throw new SimError(`whatif: --pairs must be a positive integer, got ${opts.pairs}`);
      const fail = parseFail(opts.fail);
      const parsed = parseScenarioFile(file);
      if (!parsed.scenario) {
        for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      const bar = startProgress({ label: 'whatif', total: 0, unit: 'failures', json: opts.json });
      let report: WhatIfReport;
      try {
        report = whatIf(parsed.scenario, {
          at,
          fail,
          threshold,
          maxPairs,
          onStart: (total) => bar.setTotal(total),
          onProgress: (done) => bar.update(done),
        });
      } catch (err) {
        if (err instanceof SimError || (err as { exitCode?: number }).exitCode !== undefined) throw err;
        throw new SimError(`whatif: ${(err as Error).message}`);
      } finally {
        bar.stop();
      }
      if (opts.json) {
        const out = top !== undefined ? { ...report, failures: report.failures.slice(0, top) } : report;
        ctx.stdout(JSON.stringify(out) + '\n');
      } else ctx.stdout(formatWhatIf(report, top));
      ctx.exitCode = 0;
    });
}
