/**
 * `fabric controller ...` in a child process for the store and HA tests (the real command: flags ->
 * fabric/daemon.ts), started by run-ts.js so the tests need no build. argv: controller FILE FLAGS...
 */
import { Command } from 'commander';
import { register } from '../../../cli/commands/controller';
import type { CommandContext } from '../../../cli/main';

const ctx: CommandContext = {
  exitCode: 0,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  debug: false,
};
const program = new Command('fabric').exitOverride();
register(program, ctx);
program.parseAsync(process.argv.slice(3), { from: 'user' }).then(
  () => process.exit(ctx.exitCode),
  (err: Error) => {
    process.stderr.write(`controller-main: ${err.message}\n`);
    process.exit(2);
  },
);
