/**
 * Runs `fabric` commands in process, as cli/main.ts runs them: the given commands registered on one
 * program, output collected; a commander error (bad flag) exits 2, any other error escaping a command
 * prints `fabric: MESSAGE` on stderr and exits with its `exitCode` (else 2).
 */
import { Command, CommanderError } from 'commander';
import type { CommandContext, RegisterCommand } from '../../cli/main';

export async function runCli(registers: RegisterCommand | readonly RegisterCommand[], args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: CommandContext = { exitCode: 0, stdout: (t) => void (out += t), stderr: (t) => void (err += t), debug: false };
  const program = new Command('fabric').exitOverride().configureOutput({ writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) });
  for (const register of Array.isArray(registers) ? registers : [registers]) register(program, ctx);
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return { code: 2, out, err };
    const x = e as Error & { exitCode?: number };
    err += `fabric: ${x.message}\n`;
    return { code: typeof x.exitCode === 'number' ? x.exitCode : 2, out, err };
  }
  return { code: ctx.exitCode, out, err };
}
