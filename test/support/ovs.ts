/**
 * Test support: a private Open vSwitch (ovsdb-server + optional ovs-vswitchd) in a temporary
 * directory, with its own sockets, pidfiles and logs, stopped by pid. Never touches the system's OVS.
 *
 *   const ovs = await startPrivateOvs({ vswitchd: 'dummy' });
 *   ovs.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=dummy');
 *   ...
 *   await ovs.stop();
 *
 * When OVS is not installed: as root, it installs `openvswitch-switch` with apt (saying so);
 * otherwise it throws with the exact command to run. A tier is never skipped silently.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pidAlive, stopPid } from '../../fabric/lab/exec';
import { ovsEnv, readPidFile } from '../../fabric/lab/ovs';

export interface PrivateOvs {
  dir: string;
  /** unix socket of ovsdb-server, as `unix:PATH` */
  dbUrl: string;
  dbSock: string;
  /** environment for OVS tools (OVS_RUNDIR etc.) */
  env: NodeJS.ProcessEnv;
  vsctl(...args: string[]): string;
  ofctl(...args: string[]): string;
  appctl(...args: string[]): string;
  /** run any OVS tool with this instance's environment */
  run(cmd: string, args: string[], input?: string): string;
  /** start ovs-vswitchd if it was not started (or after stopVswitchd) */
  startVswitchd(): void;
  /** stop ovs-vswitchd only (to test flow loss and healing) */
  stopVswitchd(): void;
  stop(): Promise<void>;
}

export interface PrivateOvsOptions {
  /** 'dummy': --enable-dummy=override --disable-system (OpenFlow-only tests, no devices);
   *  'netdev': userspace datapath with real devices (needs its own network namespace for a 2nd one);
   *  false: ovsdb-server only */
  vswitchd?: 'dummy' | 'netdev' | false;
  /** also listen for OVSDB on tcp:127.0.0.1:PORT (0 = none) */
  tcpPort?: number;
  /** run the daemons inside this network namespace (ip netns exec) */
  netns?: string;
}

let installed = false;

/** Make sure OVS's binaries exist: install as root, else fail with the exact command. */
export function ensureOvsInstalled(): void {
  if (installed) return;
  const has = spawnSync('sh', ['-c', 'command -v ovsdb-server && command -v ovs-vswitchd && command -v ovs-ofctl'], {
    stdio: 'ignore',
  });
  if (has.status !== 0) {
    if (process.getuid && process.getuid() === 0) {
      process.stderr.write('test support: installing openvswitch-switch (apt-get install -y openvswitch-switch)\n');
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openvswitch-switch'], {
        stdio: 'inherit',
      });
    } else {
      throw new Error('Open vSwitch is not installed: run `sudo apt-get install -y openvswitch-switch`');
    }
  }
  installed = true;
}

/** Stop one daemon of ours by pid (only if /proc/PID/comm still names it). */
async function stopIfRunning(pid: number | undefined, program: string): Promise<void> {
  if (pid !== undefined) await stopPid(pid, program, 2500);
}

export async function startPrivateOvs(options: PrivateOvsOptions = {}): Promise<PrivateOvs> {
  ensureOvsInstalled();
  const mode = options.vswitchd ?? 'dummy';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-ovs-'));
  const db = path.join(dir, 'conf.db');
  const dbSock = path.join(dir, 'db.sock');
  const env = ovsEnv(dir);
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    options.netns ? ['ip', ['netns', 'exec', options.netns, cmd, ...args]] : [cmd, args];
  const exec = (cmd: string, args: string[], input?: string): string => {
    const [c, a] = wrap(cmd, args);
    return execFileSync(c, a, { env, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
  };

  exec('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema']);
  const remotes = [`--remote=punix:${dbSock}`];
  if (options.tcpPort) remotes.push(`--remote=ptcp:${options.tcpPort}:127.0.0.1`);
  exec('ovsdb-server', [
    db,
    ...remotes,
    `--pidfile=${path.join(dir, 'ovsdb-server.pid')}`,
    `--unixctl=${path.join(dir, 'ovsdb-server.ctl')}`,
    `--log-file=${path.join(dir, 'ovsdb-server.log')}`,
    '--detach',
    '--no-chdir',
  ]);
  exec('ovs-vsctl', [`--db=unix:${dbSock}`, '--no-wait', 'init']);

  const vswitchdPidFile = path.join(dir, 'ovs-vswitchd.pid');
  const vswitchdCtl = path.join(dir, 'ovs-vswitchd.ctl');
  const startVswitchd = (): void => {
    if (mode === false) return;
    const args = [
      `unix:${dbSock}`,
      `--pidfile=${vswitchdPidFile}`,
      `--unixctl=${vswitchdCtl}`,
      `--log-file=${path.join(dir, 'ovs-vswitchd.log')}`,
      '--detach',
      '--no-chdir',
    ];
    if (mode === 'dummy') args.push('--enable-dummy=override', '--disable-system');
    exec('ovs-vswitchd', args);
  };
  startVswitchd();

  const ovs: PrivateOvs = {
    dir,
    dbSock,
    dbUrl: `unix:${dbSock}`,
    env,
    run: exec,
    vsctl: (...args) => exec('ovs-vsctl', [`--db=unix:${dbSock}`, '--timeout=20', ...args]),
    ofctl: (...args) => exec('ovs-ofctl', args),
    appctl: (...args) => exec('ovs-appctl', [`--target=${vswitchdCtl}`, ...args]),
    startVswitchd,
    stopVswitchd: () => {
      const pid = readPidFile(vswitchdPidFile);
      if (pid && pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    },
    stop: async () => {
      await stopIfRunning(readPidFile(vswitchdPidFile), 'ovs-vswitchd');
      await stopIfRunning(readPidFile(path.join(dir, 'ovsdb-server.pid')), 'ovsdb-server');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return ovs;
}

/** ovs-ofctl needs the bridge's management socket: unix:DIR/BRIDGE.mgmt */
export function mgmt(ovs: PrivateOvs, bridge: string): string {
  return `unix:${path.join(ovs.dir, `${bridge}.mgmt`)}`;
}
