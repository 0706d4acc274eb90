/**
 * Helpers of the CNI tests: the plugin built for a runtime to exec (its TypeScript transpiled by swc
 * into a temporary directory, so the tests do not depend on `npm run build`), and calls of it as a
 * child process (what podman and containerd do).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { installCni, InstallOptions, Installed } from '../../fabric/cni/install';

const ROOT = path.join(__dirname, '..', '..');

/** Transpile fabric/cni, fabric/ovsdb and fabric/vswitch.ts to `<dir>/js` (CommonJS); returns main.js. */
export function buildPlugin(dir: string): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const swc = require('@swc/core') as typeof import('@swc/core');
  const files = [
    ...fs.readdirSync(path.join(ROOT, 'fabric', 'cni')).map((f) => path.join('fabric', 'cni', f)),
    ...fs.readdirSync(path.join(ROOT, 'fabric', 'ovsdb')).map((f) => path.join('fabric', 'ovsdb', f)),
    path.join('fabric', 'vswitch.ts'),
  ].filter((f) => f.endsWith('.ts'));
  for (const rel of files) {
    const out = swc.transformFileSync(path.join(ROOT, rel), { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' }, sourceMaps: false });
    const dest = path.join(dir, 'js', rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.code);
  }
  return path.join(dir, 'js', 'fabric', 'cni', 'main.js');
}

/** `fabric cni install` pointing the launcher at the transpiled plugin. */
export function installForTest(dir: string, mainJs: string, o: Omit<InstallOptions, 'binDir' | 'confDir' | 'entry'> & { binDir?: string; confDir?: string }): Installed {
  return installCni({ binDir: path.join(dir, 'bin'), confDir: path.join(dir, 'net.d'), ...o, entry: [mainJs] });
}

export interface PluginRun {
  code: number;
  stdout: string;
  json?: any;
}

/** Run the plugin as a runtime does (asynchronously: a controller in this process must keep answering). */
export function callPlugin(launcher: string, env: Record<string, string>, stdin: string, timeoutMs = 30_000): Promise<PluginRun> {
  return new Promise((resolve) => {
    const child = execFile(launcher, [], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, timeout: timeoutMs }, (err, stdout) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, json });
    });
    child.stdin!.end(stdin);
  });
}

export function exec(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
