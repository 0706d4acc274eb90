/**
 * `fabric reach FILE [--at T] [--matrix] [--from SEL]... [--to SEL]... [--port P] [--group-by KEY] [--max-pairs N] [--json]`:
 * the reachability matrix between groups of pods (by label), services and externals, and
 * `fabric reach FILE --who-can-reach NAME [--port P]`: every pod and external that reaches one pod
 * (with the path) and the groups that do not (with the reasons). Every answer is a packet walked
 * through the compiled flows at time T, as `fabric trace` walks it (sim/matrix.ts,
 * docs/reach-and-diff.md). Exit 0 (denials are an answer), 2 bad input.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import { SimError, formatMatrix, formatWhoCanReach, reachMatrixOf, runAt, whoCanReachOf } from '../../sim';
import type { Scenario } from '../../topology';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(/\s+/).filter(Boolean)];
}

/** `--at` as `fabric trace` reads it: 2s, 250ms, or seconds */
export function parseAt(cmd: string, text: string | undefined): number {
  if (text === undefined) return 0;
  const at = parseDuration(/^\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  if (at === undefined) throw new SimError(`${cmd}: --at must be a duration such as 2s or 250ms, got ${text}`);
  return at;
}

export function parsePort(cmd: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new SimError(`${cmd}: --port must be 1..65535, got ${text}`);
  return port;
}

/** the scenario of a file, or its errors printed and undefined (exit 2) */
export function loadScenario(file: string, ctx: CommandContext): Scenario | undefined {
  const parsed = parseScenarioFile(file);
  if (!parsed.scenario) {
    for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
    ctx.exitCode = 2;
    return undefined;
  }
  return parsed.scenario;
}

interface ReachOpts {
  at?: string;
  matrix?: boolean;
  from?: string[];
  to?: string[];
  port?: string;
  groupBy?: string;
  whoCanReach?: string;
  maxPairs?: string;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('reach')
    .description('the reachability matrix between pod groups, services and externals, or who can reach one pod, from packets walked through the compiled flows')
    .argument('<file>', 'scenario YAML file')
    .option('--at <time>', 'virtual time (e.g. 2s, 250ms); default 0')
    .option('--matrix', 'the matrix between groups (the default)')
    .option('--from <sel>', 'rows: a label selector KEY=VALUE[,KEY=VALUE], or a pod or external name (repeatable; default every pod group and external)', collect)
    .option('--to <sel>', 'columns: a label selector, or a pod, service (svc/NAME) or external name (repeatable; default every pod group, service and external)', collect)
    .option('--port <n>', 'TCP port probed towards pods and externals (default: ICMP echo); services are probed on their own port')
    .option('--group-by <key>', 'the label pods are grouped by', 'app')
    .option('--max-pairs <n>', 'probe at most N member pairs per cell, spread evenly (large clusters; default all)')
    .option('--who-can-reach <name>', 'every pod and external that reaches this pod (or service, external), and the groups that do not')
    .option('--json', 'print JSON')
    .action((file: string, opts: ReachOpts) => {
      const at = parseAt('reach', opts.at);
      const port = parsePort('reach', opts.port);
      if (opts.whoCanReach !== undefined && (opts.matrix || opts.from?.length || opts.to?.length)) throw new SimError('reach: --who-can-reach does not go with --matrix, --from or --to');
      const maxPairs = opts.maxPairs === undefined ? undefined : Number(opts.maxPairs);
      if (maxPairs !== undefined && !(Number.isInteger(maxPairs) && maxPairs > 0)) throw new SimError(`reach: --max-pairs must be a positive integer, got ${opts.maxPairs}`);
      const scenario = loadScenario(file, ctx);
      if (!scenario) return;
      const run = runAt(scenario, at);
      const options = { at, port, groupBy: opts.groupBy, from: opts.from, to: opts.to, maxPairs };
      if (opts.whoCanReach !== undefined) {
        const w = whoCanReachOf(run, opts.whoCanReach, options);
        ctx.stdout(opts.json ? JSON.stringify(w) + '\n' : formatWhoCanReach(w));
      } else {
        const m = reachMatrixOf(run, options);
        ctx.stdout(opts.json ? JSON.stringify(m) + '\n' : formatMatrix(m));
      }
      ctx.exitCode = 0;
    });
}
