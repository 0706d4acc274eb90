/**
 * `fabric plan FILE [--at T] [--format json|ofctl] [--switch NAME] [--kind flows|groups|meters]`:
 * the compiled flows, groups and meters (docs/scenarios.md §6).
 *
 * - json (default): every switch (or only --switch), bigints as "0x..." hex strings, each flow also
 *   with its ovs-ofctl text and its table name;
 * - ofctl: one switch (--switch required), one kind (default flows), one line each, accepted as is by
 *   `ovs-ofctl -O OpenFlow13 add-flows FILE` / `add-groups FILE`; meter lines are the argument of
 *   `ovs-ofctl -O OpenFlow13 add-meter SWITCH LINE` (OVS 3.1 has no add-meters).
 * `--at T` applies the scenario's events with `at <= T` first (same time: file order).
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { applyEvent, buildClusterState, formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import { compileCluster, compileIncremental, tableName } from '../../controller';
import type { FabricPlan } from '../../controller';
import type { Flow, SwitchPlan } from '../../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';

class PlanUsageError extends Error {
  override readonly name = 'PlanUsageError';
  readonly exitCode = 2;
}

type Kind = 'flows' | 'groups' | 'meters';

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return '0x' + value.toString(16);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

function flowJson(f: Flow): unknown {
  return { tableName: tableName(f.table), ...f, ofctl: flowText(f) };
}

function switchJson(sp: SwitchPlan): unknown {
  return {
    datapathId: sp.datapathId,
    flows: sp.flows.map(flowJson),
    groups: sp.groups.map((g) => ({ ...g, ofctl: groupText(g) })),
    meters: sp.meters.map((m) => ({ ...m, ofctl: meterText(m) })),
  };
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('plan')
    .description('print the compiled flows, groups and meters of every switch (json) or one switch (ofctl)')
    .argument('<file>', 'scenario YAML file')
    .option('--at <time>', 'apply the events up to this virtual time first (e.g. 2s, 250ms)')
    .option('--format <format>', 'json or ofctl', 'json')
    .option('--switch <name>', 'only this switch (required with --format ofctl)')
    .option('--kind <kind>', 'with --format ofctl: flows, groups or meters', 'flows')
    .action((file: string, opts: { at?: string; format: string; switch?: string; kind: string }) => {
      if (opts.format !== 'json' && opts.format !== 'ofctl') throw new PlanUsageError(`plan: --format must be json or ofctl, got ${opts.format}`);
      if (!['flows', 'groups', 'meters'].includes(opts.kind)) throw new PlanUsageError(`plan: --kind must be flows, groups or meters, got ${opts.kind}`);
      if (opts.format === 'ofctl' && !opts.switch) throw new PlanUsageError('plan: --format ofctl prints one switch: give --switch NAME');
      let at: number | undefined;
      if (opts.at !== undefined) {
        at = parseDuration(/^\d+(\.\d+)?$/.test(opts.at) ? Number(opts.at) : opts.at);
        if (at === undefined) throw new PlanUsageError(`plan: --at must be a duration such as 2s or 250ms, got ${opts.at}`);
      }
      const result = parseScenarioFile(file);
      if (!result.scenario) {
        for (const d of result.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      const scenario = result.scenario;
      const state = buildClusterState(scenario);
      let plan: FabricPlan = compileCluster(state);
      if (at !== undefined) {
        for (const ev of scenario.events) {
          if (ev.at > at) break;
          plan = compileIncremental(plan, state, applyEvent(state, ev));
        }
      }
      if (opts.switch && !plan.has(opts.switch)) {
        throw new PlanUsageError(`plan: no switch named ${opts.switch} (switches: ${[...plan.keys()].join(', ')})`);
      }
      if (opts.format === 'ofctl') {
        const sp = plan.get(opts.switch!)!;
        const kind = opts.kind as Kind;
        const lines = kind === 'flows' ? sp.flows.map(flowText) : kind === 'groups' ? sp.groups.map(groupText) : sp.meters.map(meterText);
        ctx.stdout(lines.map((l) => l + '\n').join(''));
        ctx.exitCode = 0;
        return;
      }
      const switches: Record<string, unknown> = {};
      for (const [name, sp] of plan) if (!opts.switch || name === opts.switch) switches[name] = switchJson(sp);
      ctx.stdout(JSON.stringify({ scenario: scenario.name, at: at ?? 0, switches }, jsonValue, 2) + '\n');
      ctx.exitCode = 0;
    });
}
