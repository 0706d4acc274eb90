/**
 * A private OVN control plane for benchmarks: NB and SB ovsdb-servers, ovn-northd and an ovn-nbctl
 * daemon, all in a temporary directory with their own sockets and pidfiles, stopped by pid (after
 * checking /proc/PID/comm). Never touches the system's OVN services.
 *
 *   const ovn = await startOvn();
 *   await loadCluster(ovn, state);            // northd paused while loading
 *   const initial = await initialCompute(ovn); // resume → SB caught up, timed alone
 *   const ms = ovn.nbctlTimed(['--wait=sb', ...podAddCommand(...)]);
 *   await ovn.stop();
 *
 * When OVN is missing: as root it installs `ovn-central ovn-host` with apt (saying so); otherwise it
 * throws with the command to run.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import type { ClusterState } from '../../../topology/types';
import { OvsdbRpc } from './rpc';
import { baseTransaction, BaseUuids, CLUSTER_ROUTER, JOIN_SWITCH, LB_GROUP, nodesTransaction } from './topology';
import { pidAlive, sleep, stopPid } from '../../../fabric/lab/exec';
import { readPidFile } from '../../../fabric/lab/ovs';

export class OvnPeerError extends Error {
  override readonly name = 'OvnPeerError';
}

const OVN_SCHEMAS = '/usr/share/ovn';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function ovnInstalled(): boolean {
  return has('ovn-northd') && has('ovn-nbctl') && has('ovsdb-server') && fs.existsSync(path.join(OVN_SCHEMAS, 'ovn-nb.ovsschema'));
}

/** Installs OVN 23.03 from Debian when it is missing (as root), else explains how. */
export function ensureOvnInstalled(log: (s: string) => void = (s) => process.stderr.write(s + '\n')): void {
  if (ovnInstalled()) return;
  if (!(process.getuid && process.getuid() === 0)) {
    throw new OvnPeerError('OVN is not installed: run `sudo apt-get install -y ovn-central ovn-host`');
  }
  log('ovn peer: installing ovn-central ovn-host (apt-get install -y ovn-central ovn-host) ...');
  execFileSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q ovn-central ovn-host'], { stdio: 'inherit', timeout: 900_000 });
  if (!ovnInstalled()) throw new OvnPeerError('OVN install finished but ovn-northd is still missing');
}

export function ovnVersion(): string {
  const r = spawnSync('ovn-northd', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : 'not installed';
}

export interface OvnInstance {
  dir: string;
  nbSock: string;
  sbSock: string;
  nb: OvsdbRpc;
  sb: OvsdbRpc;
  /** ovn-nbctl through the private daemon (its IDL stays warm, as a CMS's connection would) */
  nbctl(args: string[]): string;
  /** wall time of one ovn-nbctl call through the daemon, in ms, and its stdout */
  nbctlTimed(args: string[]): { ms: number; stdout: string };
  sbctl(args: string[]): string;
  northdCtl(args: string[]): string;
  pauseNorthd(): void;
  resumeNorthd(): void;
  /** highest total resident memory of our OVN daemons seen so far (sampled every 500 ms), MiB */
  peakRssMiB(): number;
  /** set when the daemons went over the memory guard and were stopped */
  memoryExceeded(): string | undefined;
  /** the longest any single wait on OVN may take before it fails with diagnostics, ms */
  waitTimeoutMs: number;
  /** `ovn-appctl status` of northd ('Status: active' / 'paused' / 'standby'), or why it cannot be read */
  northdStatus(): string;
  /** whether each daemon still runs, and the tail of northd's and the SB server's logs: for error messages */
  diagnostics(): string;
  stop(): Promise<void>;
}

/** Resident memory of one process in KiB (0 when gone). */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s*(\d+)\s*kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Default memory guard: the daemons are stopped above this (the machine is shared). BENCH_OVN_MAX_RSS_GB overrides. */
export function ovnMemoryGuardMiB(): number {
  const gb = Number(process.env.BENCH_OVN_MAX_RSS_GB ?? Math.max(2, Math.floor((os.totalmem() / 2 ** 30) * 0.35)));
  return Math.round(gb * 1024);
}

/** The last lines of a daemon's log in the instance directory ('' when unreadable). */
function logTail(file: string, lines = 8): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startOvn(options: { northdThreads?: number; maxRssMiB?: number; waitTimeoutMs?: number } = {}): Promise<OvnInstance> {
  ensureOvnInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-ovn-'));
  const env: NodeJS.ProcessEnv = { ...process.env, OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  delete env.OVN_NB_DAEMON;
  const exec = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): string =>
    execFileSync(cmd, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: waitTimeoutMs, maxBuffer: 1 << 30 });
  const file = (name: string): string => path.join(dir, name);
  const pidfiles: Array<[string, string]> = [];
  let nb: OvsdbRpc | undefined;
  let sb: OvsdbRpc | undefined;
  const maxRssMiB = options.maxRssMiB ?? ovnMemoryGuardMiB();
  const waitTimeoutMs = options.waitTimeoutMs ?? 30 * 60_000;
  let peakRssMiB = 0;
  let exceeded: string | undefined;
  const sampleMemory = (): void => {
    let totalKiB = 0;
    for (const [pidfile] of pidfiles) {
      const pid = readPidFile(pidfile);
      if (pid) totalKiB += rssKiB(pid);
    }
    peakRssMiB = Math.max(peakRssMiB, totalKiB / 1024);
    if (!exceeded && totalKiB / 1024 > maxRssMiB) {
      exceeded = `OVN daemons went over the memory guard of ${maxRssMiB} MiB (BENCH_OVN_MAX_RSS_GB) and were stopped`;
      void stop();
    }
  };
  const guard = setInterval(sampleMemory, 500);
  guard.unref();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(guard);
    nb?.close();
    sb?.close();
    for (const [pidfile, program] of [...pidfiles].reverse()) {
      const pid = readPidFile(pidfile);
      if (pid !== undefined) await stopPid(pid, program, 3000);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const db of ['nb', 'sb']) {
      exec('ovsdb-tool', ['create', file(`${db}.db`), path.join(OVN_SCHEMAS, `ovn-${db}.ovsschema`)]);
      pidfiles.push([file(`${db}.pid`), 'ovsdb-server']);
      exec('ovsdb-server', [
        file(`${db}.db`),
        `--remote=punix:${file(`${db}.sock`)}`,
        `--pidfile=${file(`${db}.pid`)}`,
        `--unixctl=${file(`${db}.ctl`)}`,
        `--log-file=${file(`${db}.log`)}`,
        '--detach',
        '--no-chdir',
      ]);
    }
    const nbDb = `unix:${file('nb.sock')}`;
    const sbDb = `unix:${file('sb.sock')}`;
    exec('ovn-nbctl', [`--db=${nbDb}`, '--no-wait', 'init']);
    pidfiles.push([file('northd.pid'), 'ovn-northd']);
    exec('ovn-northd', [
      `--ovnnb-db=${nbDb}`,
      `--ovnsb-db=${sbDb}`,
      `--pidfile=${file('northd.pid')}`,
      `--unixctl=${file('northd.ctl')}`,
      `--log-file=${file('northd.log')}`,
      '--detach',
      '--no-chdir',
    ]);
    const northdCtl = (args: string[]): string => exec('ovn-appctl', ['-t', file('northd.ctl'), ...args]);
    if (options.northdThreads) northdCtl(['parallel-build/set-n-threads', String(options.northdThreads)]);
    // northd holds the SB lock before anything is loaded: `pause` on a northd whose lock request is
    // still in flight, on a slow machine, is a race we do not want to time (or depend on)
    await waitNorthdLog(file('northd.log'), /lock acquired/, file('northd.pid'), waitTimeoutMs);
    pidfiles.push([file('nbctl.pid'), 'ovn-nbctl']);
    const daemonSocket = exec('ovn-nbctl', [
      `--db=${nbDb}`,
      `--pidfile=${file('nbctl.pid')}`,
      `--unixctl=${file('nbctl.ctl')}`,
      `--log-file=${file('nbctl.log')}`,
      '--detach',
      '--no-chdir',
    ]).trim();
    const daemonEnv = { OVN_NB_DAEMON: daemonSocket };
    nb = await OvsdbRpc.connect(file('nb.sock'), 'OVN_Northbound', waitTimeoutMs);
    sb = await OvsdbRpc.connect(file('sb.sock'), 'OVN_Southbound', waitTimeoutMs);
    const nbctl = (args: string[]): string => exec('ovn-nbctl', [`--timeout=${Math.max(1, Math.ceil(waitTimeoutMs / 1000))}`, ...args], daemonEnv);
    const northdStatus = (): string => {
      try {
        return northdCtl(['status']).trim();
      } catch (e) {
        return `status unreadable: ${(e as Error).message.split('\n')[0]}`;
      }
    };
    const diagnostics = (): string => {
      const alive = pidfiles.map(([pidfile, program]) => {
        const pid = readPidFile(pidfile);
        return `${path.basename(pidfile, '.pid')} (${program}) ${pid !== undefined && pidAlive(pid) ? `pid ${pid} running` : 'NOT running'}`;
      });
      return [`daemons: ${alive.join('; ')}`, `northd: ${northdStatus()}`, `northd.log:\n${logTail(file('northd.log'))}`, `sb.log:\n${logTail(file('sb.log'), 4)}`].join('\n');
    };
    const instance: OvnInstance = {
      dir,
      nbSock: file('nb.sock'),
      sbSock: file('sb.sock'),
      nb,
      sb,
      nbctl,
      nbctlTimed: (args) => {
        const start = performance.now();
        const stdout = nbctl(args);
        return { ms: performance.now() - start, stdout };
      },
      sbctl: (args) => exec('ovn-sbctl', [`--db=${sbDb}`, ...args]),
      northdCtl,
      pauseNorthd: () => void northdCtl(['pause']),
      resumeNorthd: () => void northdCtl(['resume']),
      waitTimeoutMs,
      northdStatus,
      diagnostics,
      peakRssMiB: () => {
        sampleMemory();
        return peakRssMiB;
      },
      memoryExceeded: () => exceeded,
      stop,
    };
    return instance;
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Waits until a daemon's log shows `pattern` (it logs its state changes), failing fast when it exits. */
async function waitNorthdLog(logFile: string, pattern: RegExp, pidFile: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (pattern.test(logTail(logFile, 50))) return;
    const pid = readPidFile(pidFile);
    if (pid === undefined || !pidAlive(pid)) throw new OvnPeerError(`ovn-northd exited during start\n${logTail(logFile)}`);
    if (performance.now() > deadline) throw new OvnPeerError(`ovn-northd logged no "${pattern.source}" in ${timeoutMs} ms\n${logTail(logFile)}`);
    await sleep(10);
  }
}

export interface LoadReport {
  /** wall time of loading the NB database (northd paused), ms */
  loadMs: number;
  transactions: number;
  logicalSwitchPorts: number;
  /** the nb_cfg value the load ends with: SB has caught up when NB_Global.sb_cfg reaches it */
  nbCfg: number;
}

/** Loads the cluster into NB with northd paused, in transactions of `nodesPerTxn` nodes. */
export async function loadCluster(ovn: OvnInstance, state: ClusterState, nodesPerTxn = 100): Promise<LoadReport> {
  ovn.pauseNorthd();
  if (!/paused/.test(ovn.northdStatus())) throw new OvnPeerError(`northd did not pause\n${ovn.diagnostics()}`);
  const start = performance.now();
  let transactions = 0;
  await ovn.nb.transact(baseTransaction(state));
  transactions++;
  const uuidOf = async (table: string, name: string): Promise<string> => {
    const rows = await ovn.nb.select(table, ['_uuid'], [['name', '==', name]]);
    if (rows.length !== 1) throw new OvnPeerError(`loadCluster: expected one ${table} named ${name}, found ${rows.length}`);
    return (rows[0]._uuid as [string, string])[1];
  };
  const base: BaseUuids = {
    clusterRouter: await uuidOf('Logical_Router', CLUSTER_ROUTER),
    joinSwitch: await uuidOf('Logical_Switch', JOIN_SWITCH),
    lbGroup: await uuidOf('Load_Balancer_Group', LB_GROUP),
  };
  const nodes = [...state.nodes.values()];
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  for (let i = 0; i < nodes.length; i += nodesPerTxn) {
    await ovn.nb.transact(nodesTransaction(state, nodes.slice(i, i + nodesPerTxn), (n) => index.get(n)!, base));
    transactions++;
  }
  // the final bump of nb_cfg is what `--wait=sb` would do: northd reports it back once SB is written
  const [, sel] = await ovn.nb.transact([
    { op: 'mutate', table: 'NB_Global', where: [], mutations: [['nb_cfg', '+=', 1]] },
    { op: 'select', table: 'NB_Global', where: [], columns: ['nb_cfg'] },
  ]);
  transactions++;
  const nbCfg = Number((sel.rows as Array<{ nb_cfg: number }>)[0].nb_cfg);
  const loadMs = performance.now() - start;
  const lsps = await ovn.nb.select('Logical_Switch_Port', ['_uuid']);
  return { loadMs, transactions, logicalSwitchPorts: lsps.length, nbCfg };
}

/** Polls NB_Global.sb_cfg (a few ms apart) until it reaches `nbCfg`; returns when it did. */
export async function waitSbCfg(ovn: OvnInstance, nbCfg: number, timeoutMs = ovn.waitTimeoutMs, pollMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const northdPid = readPidFile(path.join(ovn.dir, 'northd.pid'));
  for (let polls = 0; ; polls++) {
    if (polls % 200 === 199 && northdPid !== undefined && !pidAlive(northdPid)) {
      throw new OvnPeerError(`ovn-northd exited while SB was catching up with nb_cfg ${nbCfg}\n${ovn.diagnostics()}`);
    }
    const over = ovn.memoryExceeded();
    if (over) throw new OvnPeerError(over);
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await ovn.nb.select('NB_Global', ['sb_cfg']);
    } catch (e) {
      throw new OvnPeerError(ovn.memoryExceeded() ?? (e as Error).message);
    }
    if (Number(rows[0]?.sb_cfg ?? -1) >= nbCfg) return;
    if (performance.now() > deadline) {
      throw new OvnPeerError(`northd did not catch up with nb_cfg ${nbCfg} (sb_cfg ${String(rows[0]?.sb_cfg)}) in ${timeoutMs} ms\n${ovn.diagnostics()}`);
    }
    await sleep(pollMs);
  }
}

export interface InitialCompute {
  /** resume of northd → NB_Global.sb_cfg caught up (northd computed and SB committed), ms */
  syncMs: number;
  logicalFlows: number;
  /** northd's own stopwatches (maximum per name, ms) over the initial computation */
  northdStopwatchesMs: Record<string, number>;
}

/** Maximum of northd's own stopwatches (ms), e.g. `ovn-northd-loop`, `build_lflows`, `ovnnb_db_run`. */
export function northdStopwatchesMs(ovn: OvnInstance, names: string[] = ['ovn-northd-loop', 'build_lflows', 'ovnnb_db_run', 'lflows_to_sb']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    try {
      const m = /Maximum:\s*([\d.]+)\s*msec/i.exec(ovn.northdCtl(['stopwatch/show', name]));
      if (m) out[name] = Number(m[1]);
    } catch {
      /* this northd has no such stopwatch */
    }
  }
  return out;
}

export async function countLogicalFlows(ovn: OvnInstance): Promise<number> {
  return (await ovn.sb.select('Logical_Flow', ['_uuid'])).length;
}

/** The initial computation alone: resume northd and wait until SB has everything. */
export async function initialCompute(ovn: OvnInstance, load: LoadReport): Promise<InitialCompute> {
  try {
    ovn.northdCtl(['stopwatch/reset']);
  } catch {
    /* older northd: no stopwatch */
  }
  const start = performance.now();
  ovn.resumeNorthd();
  await waitSbCfg(ovn, load.nbCfg);
  const syncMs = performance.now() - start;
  const logicalFlows = await countLogicalFlows(ovn);
  return { syncMs, logicalFlows, northdStopwatchesMs: northdStopwatchesMs(ovn) };
}
