/**
 * Test support: a `fabric controller` child process (killed with SIGKILL by pid, never by name), its
 * JSON log lines collected, and a tiny client for its local API over a unix socket.
 */
import { spawn, ChildProcess } from 'child_process';
import * as http from 'http';
import * as path from 'path';

const RUN_TS = path.join(__dirname, 'run-ts.js');
const MAIN = path.join(__dirname, 'controller-main.ts');
const ROOT = path.join(__dirname, '..', '..', '..');

export interface ControllerChild {
  proc: ChildProcess;
  pid: number;
  /** parsed JSON log lines (stderr) so far */
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
  kill9(): Promise<void>;
  /** SIGTERM and wait */
  stop(): Promise<void>;
}

export function startControllerChild(args: string[]): ControllerChild {
  const proc = spawn(process.execPath, [RUN_TS, MAIN, 'controller', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      stderr.push(line);
      try {
        logs.push(JSON.parse(line));
      } catch {
        /* not a log line */
      }
    }
  });
  proc.stdout!.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const pid = proc.pid!;
  return {
    proc,
    pid,
    logs,
    stderr,
    exited,
    kill9: async () => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
      await exited;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface ApiAnswer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request to the controller's API at a unix socket path. */
export function api(socket: string, method: string, urlPath: string, body?: unknown, timeoutMs = 15_000, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...headers }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Poll until `cond` returns a value (not undefined); returns it and the time taken. */
export async function waitFor<T>(what: string, cond: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 50): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    let v: T | undefined;
    try {
      v = await cond();
    } catch {
      v = undefined;
    }
    if (v !== undefined) return { value: v, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
