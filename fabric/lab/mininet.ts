/**
 * The Mininet builder's process and its client (`fabric lab up --mininet`, docs/lab.md "The Mininet
 * builder"). One long-lived Python process per lab runs Mininet (mininet-py.ts) inside the lab's OVS
 * namespace and a private mount namespace: a private `/run` (with `/run/openvswitch` = the lab's OVS run
 * directory, so Mininet's `ovs-vsctl` finds only the lab's ovsdb-server) and a private `/tmp`. It answers
 * JSON-line requests on `<lab dir>/mininet.sock`; this module starts it, waits for it, and talks to it
 * (async with a timeout, or synchronously through the script's own client for callers that cannot await).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { spawn } from 'child_process';
import { LabError } from './errors';
import { pidAlive, runCmd, sleep, stopPid } from './exec';
import { ovsEnv } from './ovs';
import { MININET_LAB_PY } from './mininet-py';

/** docs/real-ovs.md pitfall 8: Mininet's Python API works with the system interpreter, not a pyenv one. */
export const MININET_PYTHON = '/usr/bin/python3';
export const MININET_SCRIPT = 'mininet_lab.py';
export const MININET_SOCKET = 'mininet.sock';
/** JSON lines {pid, name, mnt} of every Mininet node shell, written by the Python process as it starts them. */
export const MININET_PIDS_FILE = 'mininet-pids.jsonl';
/** Default bound of one request (Mininet runs every command through a node's shell). */
export const MININET_REQUEST_TIMEOUT_MS = 30_000;

/** What the lab records of its Mininet process (LabRecord.mininet). */
export interface MininetProcess {
  pid: number;
  socket: string;
  script: string;
  log: string;
}

export interface MininetSpec {
  switches: { bridge: string; dpid: string }[];
  links: { a: { bridge: string; port: number; iface: string }; b: { bridge: string; port: number; iface: string } }[];
  hosts: { name: string; bridge: string; port: number; iface: string }[];
}

export type MininetRequest =
  | { cmd: 'pids' }
  | { cmd: 'link'; a: string; b: string; up: boolean }
  | { cmd: 'intf'; names: string[]; up: boolean }
  | { cmd: 'batch'; ops: MininetRequest[] }
  | { cmd: 'addHost'; name: string; bridge: string; port: number; iface: string }
  | { cmd: 'delHost'; name: string }
  | { cmd: 'stop' };

export interface MininetReply {
  ok: boolean;
  error?: string;
  pid?: number;
  hosts?: Record<string, number>;
  switches?: Record<string, number>;
}

/** Fail clearly when Mininet (or its system Python) is missing. */
export function checkMininetInstalled(): void {
  if (runCmd(MININET_PYTHON, ['-c', 'import mininet.net']).status !== 0) {
    throw new LabError(`Lab: Mininet's Python API not importable by ${MININET_PYTHON}: install Mininet (apt-get install -y mininet)`);
  }
  if (runCmd('sh', ['-c', 'command -v mnexec']).status !== 0) throw new LabError('Lab: mnexec not found: install Mininet (apt-get install -y mininet)');
}

/** Environment of the Mininet process: OVS tools point at the lab's OVS; no pyenv/virtualenv leaks in. */
function mininetEnv(ovsDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...ovsEnv(ovsDir), PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: '/tmp' };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION']) delete env[k];
  return env;
}

/**
 * The shell that sets up the private mount namespace, then execs Python. $1 lab dir, $2 the lab dir's
 * path below /tmp ('' when elsewhere), $3 '1' when /run may be replaced (the lab dir is not below it).
 * A private /tmp would hide a lab dir below /tmp, so the lab dir is bound back into it first.
 */
const MOUNT_SH = [
  'set -e',
  'if [ "$3" = 1 ]; then mount -t tmpfs -o size=1m,mode=0755 fabric-run /run; mkdir -p /run/openvswitch; mount --bind "$1/ovs" /run/openvswitch; fi',
  'if [ -n "$2" ]; then mount --bind "$1" "$1/mntmp/$2"; fi',
  'mount --rbind "$1/mntmp" /tmp',
  `exec ${MININET_PYTHON} "$1/${MININET_SCRIPT}" serve "$1/mininet.json"`,
].join('\n');

/**
 * Start the lab's Mininet process (inside `ovsNs`, a private mount namespace); the caller records it,
 * then waits with waitMininetReady.
 */
export function spawnMininet(options: { dir: string; ovsNs: string; ovsDir: string; spec: MininetSpec }): MininetProcess {
  const { dir } = options;
  const script = path.join(dir, MININET_SCRIPT);
  const socket = path.join(dir, MININET_SOCKET);
  const log = path.join(dir, 'mininet.log');
  fs.writeFileSync(script, MININET_LAB_PY);
  fs.writeFileSync(path.join(dir, 'mininet.json'), JSON.stringify({ ...options.spec, socket, pidsFile: path.join(dir, MININET_PIDS_FILE), logLevel: 'info' }, null, 2) + '\n');
  const underTmp = path.relative('/tmp', dir);
  const relTmp = underTmp && !underTmp.startsWith('..') && !path.isAbsolute(underTmp) ? underTmp : '';
  fs.mkdirSync(path.join(dir, 'mntmp', relTmp), { recursive: true });
  const runPrivate = !/^\/(var\/)?run(\/|$)/.test(dir);
  const fd = fs.openSync(log, 'a');
  let pid: number | undefined;
  try {
    const child = spawn('ip', ['netns', 'exec', options.ovsNs, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', MOUNT_SH, 'sh', dir, relTmp, runPrivate ? '1' : '0'], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: mininetEnv(options.ovsDir),
    });
    child.unref();
    pid = child.pid;
  } finally {
    fs.closeSync(fd);
  }
  if (pid === undefined) throw new LabError('Lab: could not start the Mininet process', 1);
  return { pid, socket, script, log };
}

/** Wait until the Mininet process has built its network and listens; else a LabError with its last log lines. */
export async function waitMininetReady(proc: MininetProcess, timeoutMs = 60_000): Promise<number> {
  for (let waited = 0; ; waited += 25) {
    if (fs.existsSync(proc.socket)) return waited;
    if (!pidAlive(proc.pid) || waited > timeoutMs) {
      const text = fs.existsSync(proc.log) ? fs.readFileSync(proc.log, 'utf8') : '';
      const why = pidAlive(proc.pid) ? `not ready within ${timeoutMs} ms` : 'exited';
      throw new LabError(`Lab: Mininet ${why}: ${text.trim().split('\n').slice(-3).join(' | ')}`, 1);
    }
    await sleep(25);
  }
}

function parseReply(line: string, req: MininetRequest): MininetReply {
  let reply: MininetReply;
  try {
    reply = JSON.parse(line) as MininetReply;
  } catch {
    throw new LabError(`Lab: Mininet ${req.cmd}: unreadable answer "${line.slice(0, 200)}"`, 1);
  }
  if (!reply.ok) throw new LabError(`Lab: Mininet ${req.cmd}: ${reply.error ?? 'failed'}`, 1);
  return reply;
}

/** One request to the Mininet process; rejects with a LabError on a failure answer or after `timeoutMs`. */
export function mininetRequest(socketPath: string, req: MininetRequest, timeoutMs = MININET_REQUEST_TIMEOUT_MS): Promise<MininetReply> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, reply?: MininetReply): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new LabError(`Lab: Mininet ${req.cmd}: no answer within ${timeoutMs} ms`, 1)), timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, parseReply(buf.slice(0, nl), req));
      } catch (err) {
        finish(err as Error);
      }
    });
    sock.on('error', (err) => finish(new LabError(`Lab: Mininet ${req.cmd}: ${err.message}`, 1)));
    sock.on('close', () => finish(new LabError(`Lab: Mininet ${req.cmd}: connection closed without an answer`, 1)));
  });
}

/**
 * The same request, synchronously (through the script's client mode): for Lab methods that the play
 * calls without awaiting (link and node state).
 */
export function mininetRequestSync(proc: MininetProcess, req: MininetRequest, timeoutMs = MININET_REQUEST_TIMEOUT_MS): MininetReply {
  const r = runCmd(MININET_PYTHON, [proc.script, 'client', proc.socket, JSON.stringify(req), String(timeoutMs / 1000)], { timeoutMs: timeoutMs + 5000 });
  if (r.status !== 0) throw new LabError(`Lab: Mininet ${req.cmd}: client failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`, 1);
  return parseReply(r.stdout.trim(), req);
}

/**
 * Ask the Mininet process to stop its network (net.stop(): bridges, links, host shells) and wait, bounded,
 * for it to exit. Never throws: teardown continues by pid whatever happened here. True when it exited.
 */
export async function stopMininet(proc: MininetProcess, timeoutMs = 15_000): Promise<boolean> {
  if (!pidAlive(proc.pid)) return false;
  if (fs.existsSync(proc.socket)) {
    try {
      await mininetRequest(proc.socket, { cmd: 'stop' }, timeoutMs);
    } catch {
      /* teardown goes on by pid */
    }
  }
  for (let waited = 0; waited < 3000 && pidAlive(proc.pid); waited += 25) await sleep(25);
  return !pidAlive(proc.pid);
}

/**
 * Stop every Mininet node shell the lab's Python process wrote down (MININET_PIDS_FILE) that is still
 * alive, is `bash`, and shares that process's private mount namespace (unique to the lab, alive while
 * any shell lives): for a Mininet process that died before its shells were recorded in lab.json.
 * Returns how many were stopped.
 */
export async function stopMininetShells(dir: string): Promise<number> {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, MININET_PIDS_FILE), 'utf8');
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const line of text.split('\n').filter(Boolean)) {
    let entry: { pid?: unknown; mnt?: unknown };
    try {
      entry = JSON.parse(line) as { pid?: unknown; mnt?: unknown };
    } catch {
      continue;
    }
    const pid = entry.pid;
    if (typeof pid !== 'number' || typeof entry.mnt !== 'string' || !pidAlive(pid)) continue;
    let mnt: string | undefined;
    try {
      mnt = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      continue;
    }
    if (mnt === entry.mnt && (await stopPid(pid, 'bash', 500))) stopped++;
  }
  return stopped;
}
