/**
 * The `fabric` command line. Each file in cli/commands/ registers one command (or command group)
 * on the shared commander program; this file only wires them together and maps errors to exit codes.
 *
 * A command's action returns its exit code (or void for 0). Errors print one line (no stack trace
 * unless --debug) and exit 2, the contract's "bad input" code.
 */
import { Command, CommanderError } from 'commander';
import * as fs from 'fs';
import * as path from 'path';

export interface CommandContext {
  /** set by the action: the process exit code */
  exitCode: number;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  debug: boolean;
}

export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

/** Loaded in file-name order so that `fabric --help` is stable. */
function loadCommands(): RegisterCommand[] {
  const dir = path.join(__dirname, 'commands');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const mod = require(path.join(dir, f)) as { register?: RegisterCommand };
      if (typeof mod.register !== 'function') throw new Error(`cli/commands/${f} does not export register()`);
      return mod.register;
    });
}

export async function run(argv: string[], io?: Partial<Pick<CommandContext, 'stdout' | 'stderr'>>): Promise<number> {
  const ctx: CommandContext = {
    exitCode: 0,
    stdout: io?.stdout ?? ((t) => process.stdout.write(t)),
    stderr: io?.stderr ?? ((t) => process.stderr.write(t)),
    debug: argv.includes('--debug'),
  };
  const program = new Command('fabric')
    .description('SDN controller, route programmer and deterministic fabric simulator for container clusters')
    .version(packageVersion(), '--version', 'print the version')
    .option('--debug', 'print stack traces on errors')
    .exitOverride()
    .configureOutput({ writeOut: (t) => ctx.stdout(t), writeErr: (t) => ctx.stderr(t) });
  for (const register of loadCommands()) register(program, ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const e = err as Error & { exitCode?: number };
    ctx.stderr(`fabric: ${e && e.message ? e.message : String(err)}\n`);
    if (ctx.debug && e && e.stack) ctx.stderr(e.stack + '\n');
    return typeof e?.exitCode === 'number' ? e.exitCode : 2;
  }
}

/** The version in the package.json above this file (dist/cli or cli/): "unknown" when there is none. */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fabric' && pkg.version) return pkg.version;
    } catch {
      /* not here: one level up */
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
