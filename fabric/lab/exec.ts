/**
 * The lab's only door to the operating system: running `ip`, `ethtool`, OVS tools and host programs,
 * and stopping processes by pid (after checking /proc/PID/comm). Nothing here guesses at processes by
 * name: a pid we did not record, or whose command name differs, is never signalled.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import { LabError } from './errors';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run a command; never throws on a non-zero exit (the caller decides). */
export function runCmd(cmd: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: options.input,
    timeout: options.timeoutMs ?? 30_000,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (r.error) return { status: -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error.message}` };
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Run a command that must succeed; a failure is a LabError naming the command and its stderr. */
export function mustRun(cmd: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const r = runCmd(cmd, args, options);
  if (r.status !== 0) {
    throw new LabError(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')} (exit ${r.status})`, 1);
  }
  return r.stdout;
}

export function ip(...args: string[]): string {
  return mustRun('ip', args);
}

/** Run a program inside a network namespace. */
export function inNs(ns: string, cmd: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): RunResult {
  return runCmd('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

/**
 * Run a program inside a network namespace without blocking the event loop: an in-process controller
 * (OpenFlow echoes, port status) keeps running while traffic is probed.
 */
export function inNsAsync(ns: string, cmd: string, args: string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: -1, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Alive and not a zombie (docs/real-ovs.md: processes are reaped ~2 s late here; a zombie has exited). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

export function pidComm(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** /proc/PID/comm is cut at 15 characters. */
function commMatches(actual: string, expected: string): boolean {
  return actual === expected.slice(0, 15);
}

/**
 * Stop one process we started: only when /proc/PID/comm still names the program we started
 * (a recycled pid is left alone). SIGTERM, then SIGKILL after `graceMs`.
 */
export async function stopPid(pid: number, expectedComm: string, graceMs = 2000): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return false;
  const comm = pidComm(pid);
  if (comm === undefined || !commMatches(comm, expectedComm)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  for (let waited = 0; waited < graceMs && pidAlive(pid); waited += 25) await sleep(25);
  if (pidAlive(pid) && pidComm(pid) !== undefined && commMatches(pidComm(pid)!, expectedComm)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return true;
}

/**
 * Start a long-running program inside a namespace, detached, output to a log file; returns its pid.
 * `ip netns exec` execs the program, so the pid is the program's own.
 */
export function spawnInNs(ns: string, cmd: string, args: string[], logFile: string): number {
  const fd = fs.openSync(logFile, 'a');
  try {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new LabError(`spawn ${cmd} in ${ns}: no pid`, 1);
    return child.pid;
  } finally {
    fs.closeSync(fd);
  }
}

export { execFileSync };
