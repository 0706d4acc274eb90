/**
 * `fabric diff A.yaml B.yaml [--at T] [--port P] [--flows] [--json] [--exit-code]`: what changes from
 * scenario A to scenario B — reachability matrix cells, paths of the probed pairs, and per switch the
 * flows (groups, meters) added and removed, counted per pipeline table, with `--flows` the
 * `ovs-ofctl` lines (`+`/`-`). `fabric plan FILE --diff --at T1 --at T2` compares one scenario at two
 * times (the options are added to `plan` by `addPlanDiff`). sim/diff.ts, docs/reach-and-diff.md.
 *
 * Exit (as `git diff`): 0 whether or not they differ; with `--exit-code` 1 when they differ; 2 bad input.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { SimError, diffScenarios, formatDiff } from '../../sim';
import type { DiffSide } from '../../sim';
import { loadScenario, parseAt, parsePort } from './reach';

interface DiffOpts {
  at?: string;
  port?: string;
  flows?: boolean;
  json?: boolean;
  exitCode?: boolean;
}

function printDiff(ctx: CommandContext, command: string, a: DiffSide, b: DiffSide, labels: { before: string; after: string }, opts: DiffOpts): void {
  const port = parsePort(command, opts.port);
  const d = diffScenarios(a, b, { port, lines: opts.flows === true });
  ctx.stdout(opts.json ? JSON.stringify(d) + '\n' : formatDiff(d, labels));
  ctx.exitCode = opts.exitCode && !d.same ? 1 : 0;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('diff')
    .description('what changes from scenario A to scenario B: reachability, paths, and flows per switch')
    .argument('<a>', 'scenario YAML file (before)')
    .argument('<b>', 'scenario YAML file (after)')
    .option('--at <time>', 'virtual time of both (e.g. 2s, 250ms); default 0')
    .option('--port <n>', 'TCP port probed towards pods and externals (default: ICMP echo)')
    .option('--flows', 'print the ovs-ofctl lines of the flows, groups and meters added (+) and removed (-)')
    .option('--json', 'print JSON')
    .option('--exit-code', 'exit 1 when the scenarios differ (as git diff --exit-code)')
    .action((fileA: string, fileB: string, opts: DiffOpts) => {
      const at = parseAt('diff', opts.at);
      parsePort('diff', opts.port);
      const a = loadScenario(fileA, ctx);
      if (!a) return;
      const b = loadScenario(fileB, ctx);
      if (!b) return;
      printDiff(ctx, 'diff', { scenario: a, at }, { scenario: b, at }, { before: `${fileA} at ${at}s`, after: `${fileB} at ${at}s` }, opts);
    });
}

interface PlanDiffState {
  cmd: Command;
  ats: string[];
}

const planDiffs = new WeakMap<CommandContext, PlanDiffState>();

/**
 * Adds `--diff` (and `--flows`, `--json`, `--exit-code`, `--port` where `plan` has none of its own)
 * to the `plan` command, and collects every `--at` given. `plan`'s action asks `runPlanDiff` first.
 */
export function addPlanDiff(program: Command, ctx: CommandContext): void {
  const cmd = program.commands.find((c) => c.name() === 'plan');
  if (!cmd) return;
  const has = (flag: string) => cmd.options.some((o) => o.long === flag);
  const state: PlanDiffState = { cmd, ats: [] };
  if (!has('--diff')) cmd.option('--diff', 'with --at T1 --at T2: what changes from T1 to T2 (reachability, paths, flows per switch; docs/reach-and-diff.md)');
  if (!has('--flows')) cmd.option('--flows', 'with --diff: the ovs-ofctl lines added (+) and removed (-)');
  if (!has('--json')) cmd.option('--json', 'with --diff: print JSON');
  if (!has('--exit-code')) cmd.option('--exit-code', 'with --diff: exit 1 when the two times differ');
  if (!has('--port')) cmd.option('--port <n>', 'with --diff: TCP port probed towards pods and externals');
  cmd.on('option:at', (v: string) => state.ats.push(v));
  planDiffs.set(ctx, state);
}

/** `plan FILE --diff --at T1 --at T2`: true when it ran (the caller returns) */
export function runPlanDiff(ctx: CommandContext, file: string): boolean {
  const state = planDiffs.get(ctx);
  if (!state) return false;
  const opts = state.cmd.opts() as DiffOpts & { diff?: boolean; format?: string };
  const ats = state.ats.splice(0);
  if (!opts.diff) return false;
  if (ats.length !== 2) throw new SimError(`plan: --diff compares two times: give --at T1 --at T2 (got ${ats.length} --at)`);
  const [t1, t2] = ats.map((t) => parseAt('plan', t));
  const s = loadScenario(file, ctx);
  if (!s) return true;
  printDiff(ctx, 'plan', { scenario: s, at: t1 }, { scenario: s, at: t2 }, { before: `plan ${file} at ${t1}s`, after: `plan ${file} at ${t2}s` }, opts);
  return true;
}
