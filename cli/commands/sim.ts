/**
 * `fabric sim FILE [--json] [--seed N]`: replay a scenario in the simulator (sim/runner.ts).
 * Exit 0 when every expectation holds, 1 when one fails, 2 on bad input (the scenario checker's
 * diagnostics, printed as FILE:LINE:COL: message). `--json` prints the CONTRACT §2 object.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseScenarioFile } from '../../topology';
import { SimError, SimReport, SimRun, runScenarioDetailed } from '../../sim/runner';

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
    .option('--json', 'print the report as JSON (CONTRACT §2)')
    .option('--seed <n>', "override the scenario's seed")
    .option('--latency-us <n>', 'one-way control-channel latency in microseconds (default 1000)')
    .action((file: string, opts: { json?: boolean; seed?: string; latencyUs?: string }) => {
      const seed = parseSeed(opts.seed);
      const latency = opts.latencyUs === undefined ? undefined : Number(opts.latencyUs);
      if (latency !== undefined && !(Number.isFinite(latency) && latency >= 0)) throw new SimError(`sim: --latency-us must be a non-negative number`);
      const parsed = parseScenarioFile(file);
      if (!parsed.scenario) {
        for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      const isTty = !opts.json && (process.stderr as { isTTY?: boolean }).isTTY === true;
      let report: SimReport;
      let run: SimRun;
      try {
        ({ report, run } = runScenarioDetailed(parsed.scenario, {
          seed,
          controlLatencyUs: latency,
          onProgress: isTty
            ? (done, total) => ctx.stderr(`\r[${'#'.repeat(Math.round((20 * done) / Math.max(1, total))).padEnd(20)}] ${done}/${total} expectations${done === total ? '\n' : ''}`)
            : undefined,
        }));
      } catch (err) {
        if (err instanceof SimError) throw err;
        throw new SimError(`sim: ${(err as Error).message}`);
      }
      ctx.stdout(opts.json ? JSON.stringify(report) + '\n' : formatReport(report, run));
      ctx.exitCode = report.ok ? 0 : 1;
    });
}

export function formatReport(r: SimReport, run?: SimRun): string {
  const lines: string[] = [];
  lines.push(`scenario ${r.scenario} (seed ${r.seed})`);
  if (run) {
    lines.push(`controller: ${run.driver.opsApplied} ops applied, control latency ${run.driver.controlLatencyUs}us one way${run.driver.errors.length ? `, ${run.driver.errors.length} switch errors (first: ${run.driver.errors[0]!.message})` : ''}`);
    for (const c of run.convergence) lines.push(`  ${(c.atUs / 1e6).toString()}s ${c.event}: converged in ${c.convergedUs - c.atUs}us (virtual)`);
  }
  for (const e of r.expectations) {
    const value = e.value !== undefined ? ` [${e.value}]` : '';
    lines.push(`  ${e.ok ? 'ok  ' : 'FAIL'} #${e.index} at ${e.at}s ${e.kind}${value}: ${e.detail}`);
  }
  if (r.links.length > 0) {
    lines.push('links (max utilization over the run):');
    for (const l of r.links) lines.push(`  ${l.between[0]} - ${l.between[1]}  ${(l.maxUtilization * 100).toFixed(1)}%`);
  }
  const failed = r.expectations.filter((e) => !e.ok).length;
  lines.push(failed === 0 ? `all ${r.expectations.length} expectations hold` : `${failed} of ${r.expectations.length} expectations fail`);
  lines.push(`trace ${r.traceHash}`);
  return lines.join('\n') + '\n';
}
