/**
 * `fabric validate FILE...`: checks scenario files. Every finding is one line on stdout,
 * `FILE:LINE:COL: message` (errors) or `FILE:LINE:COL: warning: message`, like a compiler, so editors
 * and CI can jump to it; a valid file gets `FILE: ok (...)`. Exit 0 when every file is valid
 * (warnings allowed), 2 when any has an error.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseScenarioFile } from '../../topology';

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('validate')
    .description('check scenario files; print every problem as FILE:LINE:COL: message')
    .argument('<files...>', 'scenario YAML files')
    .action((files: string[]) => {
      let invalid = false;
      for (const file of files) {
        const result = parseScenarioFile(file);
        for (const d of result.diagnostics) ctx.stdout(formatDiagnostic(d) + '\n');
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
