/**
 * `fabric sim FILE [--json] [--seed N]`: replay a scenario in the simulator (sim/runner.ts).
 * Exit 0 when every expectation holds, 1 when one fails, 2 on bad input (the scenario checker's
 * diagnostics, printed as FILE:LINE:COL: message). `--json` prints the docs/scenarios.md §6 object.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseScenarioFile } from '../../topology';
import { writeFileSync } from 'fs';
import { SimError, SimReport, SimRun, runScenarioDetailed, renderReport, reportDataFrom, reportEvents, loadLpSolver } from '../../sim';
import type { SimOptions } from '../../sim';

import type { Scenario } from '../../topology/types';
import { progressEnabled, withProgress } from '../progress';

const fmtGbps = (x: number): string => String(Math.round(x * 1000) / 1000);

/** left-aligned text columns */
function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** `--report FILE`: the run's bandwidth picture as one self-contained HTML page */
export function htmlReport(report: SimReport, run: SimRun): string {
  const bw = run.bandwidthModel();
  if (!bw) throw new SimError('sim: --report needs the bandwidth model (sim/bandwidth-timeline.ts), which is not available');
  // externals hang off their attachment switch: drawn as an unmetered (0 Gbit/s) link
  const externals = [...run.physical.externals.values()];
  const links = [
    ...[...run.physical.links.values()].map((l) => ({ a: l.a, b: l.b, gbps: l.gbps })),
    ...externals.map((e) => ({ a: e.name, b: e.attach, gbps: 0 })),
  ];
  const switches = [
    ...[...run.physical.switches.values()].map((s) => ({ name: s.name, role: run.physical.nodes.has(s.name) ? ('node' as const) : ('fabric' as const) })),
    ...externals.map((e) => ({ name: e.name, role: 'external' as const })),
  ];
  return renderReport(
    reportDataFrom(report.scenario, bw.timeline, links, bw.endS, {
      ok: report.ok,
      switches,
      expectations: report.expectations,
      events: reportEvents(run.scenario.events), // drawn on the time axes
    }),
  );
}

function writeHtmlReport(path: string, report: SimReport, run: SimRun): void {
  const html = htmlReport(report, run);
  try {
    writeFileSync(path, html);
  } catch (err) {
    throw new SimError(`sim: cannot write the report to ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * runScenarioDetailed (new SimRun + install + runInstalled) with two bars on stderr when it is a
 * terminal and --json is not given: "compiling" (the controller's first compile and install) and
 * "simulating" (virtual seconds up to the last event, expectation or demand). The bars only watch
 * the engine's clock: the run, its report and its trace are the same with or without them.
 */
function runWithProgress(scenario: Scenario, options: SimOptions, json: boolean): { report: SimReport; run: SimRun } {
  if (!progressEnabled({ json })) return runScenarioDetailed(scenario, options);
  const run = withProgress({ label: 'compiling', total: 2, unit: 'steps', json }, (bar) => {
    bar.update(0, 'cluster state');
    const r = new SimRun(scenario, options);
    bar.update(1, 'compile and install');
    r.install();
    bar.update(2, 'installed');
    return r;
  });
  const times = [...scenario.expect.map((e) => e.at), ...scenario.events.map((e) => e.at), ...scenario.traffic.map((t) => t.until ?? t.at)];
  const endS = Math.max(1, Math.ceil(Math.max(0, ...times.filter((t) => Number.isFinite(t)))));
  const report = withProgress({ label: 'simulating', total: endS, unit: 's (virtual)', json }, (bar) => {
    const engine = run.engine;
    const step = engine.step.bind(engine);
    let shown = -1;
    engine.step = () => {
      const more = step();
      const s = Math.min(endS, Math.floor(engine.nowUs() / 1e6));
      if (s !== shown) {
        shown = s;
        bar.update(s, `${run.results.length}/${scenario.expect.length} expectations`);
      }
      return more;
    };
    try {
      const rep = run.runInstalled();
      bar.update(endS, `${run.results.length}/${scenario.expect.length} expectations`);
      return rep;
    } finally {
      delete (engine as { step?: unknown }).step; // the prototype's step again
    }
  });
  return { report, run };
}

export function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new SimError(`sim: --seed must be a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('sim')
    .description('replay a scenario in the deterministic simulator and check its expectations')
    .argument('<file>', 'scenario YAML file')
    .option('--json', 'print the report as JSON (docs/scenarios.md §6)')
    .option('--seed <n>', "override the scenario's seed")
    .option('--latency-us <n>', 'one-way control-channel latency in microseconds (default 1000)')
    .option('--report <file>', 'also write an HTML bandwidth report (link utilization over time, topology coloured by load)')
    .option('--failures-only', 'human report: only the expectations that fail (and the blocked demands)')
    .option('--top <n>', 'human report: only the N most loaded links and the N largest demands')
    .option('--optimum', 'also solve the LP optimum (minimal max link utilization) and report it under rebalance')
    .action(async (file: string, opts: { json?: boolean; seed?: string; latencyUs?: string; report?: string; optimum?: boolean; failuresOnly?: boolean; top?: string }) => {
      const seed = parseSeed(opts.seed);
      const top = topOption(opts.top);
      const latency = opts.latencyUs === undefined ? undefined : Number(opts.latencyUs);
      if (latency !== undefined && !(Number.isFinite(latency) && latency >= 0)) throw new SimError(`sim: --latency-us must be a non-negative number`);
      const parsed = parseScenarioFile(file);
      if (!parsed.scenario) {
        for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      const lpSolver = opts.optimum ? await loadLpSolver() : undefined;
      let report: SimReport;
      let run: SimRun;
      try {
        // as runScenarioDetailed, with progress bars on a terminal (cli/progress.ts): compiling, then per virtual second
        ({ report, run } = runWithProgress(parsed.scenario, { seed, controlLatencyUs: latency, lpSolver }, opts.json === true));
      } catch (err) {
        if (err instanceof SimError) throw err;
        throw new SimError(`sim: ${(err as Error).message}`);
      }
      if (opts.report !== undefined) writeHtmlReport(opts.report, report, run);
      ctx.stdout(opts.json ? JSON.stringify(report) + '\n' : formatReport(report, run, { failuresOnly: opts.failuresOnly, top }));
      ctx.exitCode = report.ok ? 0 : 1;
    });
}

/** Microseconds for people: "2.0 ms" from 1 ms up, else "250 us". */
export function durationText(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} us`;
}

/** `--top N`: a positive integer, or a SimError (exit 2). */
function topOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new SimError(`sim: --top must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

export interface ReportOptions {
  /** only failing expectations (the JSON is never filtered) */
  failuresOnly?: boolean;
  /** only the N most loaded links and the N largest demands */
  top?: number;
}

export function formatReport(r: SimReport, run?: SimRun, options: ReportOptions = {}): string {
  const lines: string[] = [];
  const top = options.top;
  lines.push(`scenario ${r.scenario} (seed ${r.seed})`);
  if (run) {
    lines.push(`controller: ${run.driver.opsApplied} ops applied, control latency ${durationText(run.driver.controlLatencyUs)} one way${run.driver.errors.length ? `, ${run.driver.errors.length} switch errors (first: ${run.driver.errors[0]!.message})` : ''}`);
    for (const c of run.convergence) lines.push(`  ${(c.atUs / 1e6).toString()}s ${c.event}: converged in ${durationText(c.convergedUs - c.atUs)} (virtual)`);
  }
  // #N counts from 1, as `fabric validate` does; the JSON index counts from 0 (docs/contract.md).
  // The detail states the measured figure against its bound, so `value` is not repeated here.
  for (const e of r.expectations) if (!options.failuresOnly || !e.ok) lines.push(`  ${e.ok ? 'ok  ' : 'FAIL'} #${e.index + 1} at ${e.at}s ${e.kind}: ${e.detail}`);
  if (r.links.length > 0 && !options.failuresOnly) {
    const links = top !== undefined ? [...r.links].sort((a, b) => b.maxUtilization - a.maxUtilization).slice(0, top) : r.links;
    lines.push(top !== undefined && top < r.links.length ? `links (the ${top} most loaded of ${r.links.length}; max utilization over the run):` : 'links (max utilization over the run):');
    for (const l of links) lines.push(`  ${l.between[0]} - ${l.between[1]}  ${(l.maxUtilization * 100).toFixed(1)}%`);
  }
  if (r.demands && r.demands.length > 0) {
    const demands = top !== undefined ? [...r.demands].sort((a, b) => b.askedGbps - a.askedGbps || a.index - b.index).slice(0, top) : r.demands;
    if (!options.failuresOnly) lines.push(top !== undefined && top < r.demands.length ? `demands (the ${top} largest of ${r.demands.length}; Gbit/s; granted: time-weighted mean while active):` : 'demands (Gbit/s; granted: time-weighted mean while active):');
    const rows = demands.map((d) => [`#${d.index + 1}`, `${d.from} -> ${d.to}`, fmtGbps(d.askedGbps), fmtGbps(d.grantedGbps), fmtGbps(d.minGrantedGbps)]);
    if (!options.failuresOnly) lines.push(...columns([['', 'demand', 'asked', 'granted', 'min'], ...rows]).map((l) => `  ${l}`));
    // a demand the switches do not deliver carries nothing while blocked; say when and why
    const blocked = r.demands.flatMap((d) => (d.blocked ?? []).map((b) => `  #${d.index + 1} ${d.from} -> ${d.to} blocked ${b.at === b.until ? `at ${b.at}s` : `${b.at}s-${b.until}s`}: ${b.reason}`));
    if (blocked.length > 0) lines.push('blocked demands (carry nothing while blocked):', ...blocked);
  }
  if (r.rebalance) {
    const rb = r.rebalance;
    const kinds = new Map<string, number>();
    for (const c of rb.changes) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
    const what = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'no changes';
    lines.push(`rebalance (${rb.policies.join(', ')}): ${what}; ${rb.steeringUpdates} steering updates to the controller, ${rb.movesApplied} moves applied; pins carried by the switches ${rb.pinsCarried}/${rb.pinsCarried + rb.pinsNotCarried} checks`);
    lines.push(`  peak offered max utilization ${rb.peakOfferedMaxUtilization}${rb.optimumMaxUtilization !== undefined ? ` (LP optimum ${rb.optimumMaxUtilization})` : ''}`);
  }
  const failed = r.expectations.filter((e) => !e.ok).length;
  lines.push(failed === 0 ? `all ${r.expectations.length} expectations hold` : `${failed} of ${r.expectations.length} expectations fail`);
  lines.push(`trace sha256: ${r.traceHash}`);
  return lines.join('\n') + '\n';
}
