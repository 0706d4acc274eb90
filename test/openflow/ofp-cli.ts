/** `fabric ofp ...` run in-process as a user runs it (commander, the command's own context): exit code and output. */
import { Command } from 'commander';
import { register } from '../../cli/commands/ofp';
import type { CommandContext } from '../../cli/main';

export async function runOfp(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: CommandContext = { exitCode: 0, stdout: (t) => (out += t), stderr: (t) => (err += t), debug: false };
  const program = new Command('fabric').exitOverride().configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  register(program, ctx);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch {
    return { code: 2, out, err };
  }
  return { code: ctx.exitCode, out, err };
}
