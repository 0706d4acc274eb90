/**
 * `fabric validate FILE...`: checks scenario files. Every finding is one line on stdout,
 * `FILE:LINE:COL: message` (errors) or `FILE:LINE:COL: warning: message`, like a compiler, so editors
 * and CI can jump to it; a valid file gets `FILE: ok (...)`. Exit 0 when every file is valid
 * (warnings allowed), 2 when any has an error.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { readFileSync } from 'fs';
import { formatDiagnostic, parseScenarioFile, parseScenarioText, sortDiagnostics } from '../../topology';
import { undeliverableDemandWarnings, undeliverableDemands } from '../../sim';
import type { Diagnostic, Scenario } from '../../topology';

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('validate')
    .description('check scenario files; print every problem as FILE:LINE:COL: message')
    .argument('<files...>', 'scenario YAML files')
    .action((files: string[]) => {
      let invalid = false;
      for (const file of files) {
        const result = parseScenarioFile(file);
        const extra = result.scenario ? demandWarnings(result.scenario, file) : [];
        for (const d of extra.length ? sortDiagnostics([...result.diagnostics, ...extra]) : result.diagnostics) ctx.stdout(formatDiagnostic(d) + '\n');
        if (result.scenario) {
          const s = result.scenario;
          ctx.stdout(
            `${file}: ok (${s.name}: ${s.fabric.nodes.length} nodes, ${s.fabric.switches.length} switches, ${s.pods.length} pods, ` +
              `${s.services.length} services, ${s.events.length} events, ${s.expect.length} expectations)\n`,
          );
        } else {
          invalid = true;
        }
      }
      ctx.exitCode = invalid ? 2 : 0;
    });
}

/**
 * Warnings for traffic demands the switches never deliver while active (sim/demand-check.ts): the
 * scenario is replayed as `fabric sim` would. A large file read without positions is read again the
 * careful way, only when there is something to point at.
 */
function demandWarnings(scenario: Scenario, file: string): Diagnostic[] {
  let list;
  try {
    list = undeliverableDemands(scenario);
  } catch (err) {
    return [{ file, line: 1, col: 1, severity: 'warning', message: `the demand check could not replay the scenario: ${(err as Error).message}` }];
  }
  if (list.length === 0) return [];
  let positions = scenario.positions;
  if (!positions) {
    try {
      positions = parseScenarioText(readFileSync(file, 'utf8'), file, { fastParseMinBytes: Infinity }).scenario?.positions;
    } catch {
      positions = undefined;
    }
  }
  return undeliverableDemandWarnings(list, file, positions);
}
