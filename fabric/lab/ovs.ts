/**
 * A lab's private Open vSwitch: ovsdb-server and ovs-vswitchd (userspace `netdev` datapath) running
 * inside the lab's own network namespace, with every socket, pidfile, log and database in the lab's
 * directory. One netdev vswitchd per network namespace (docs/real-ovs.md pitfall 2) is why each lab has its
 * own OVS namespace. OVS tools reach it through unix sockets, which work from any namespace.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LabError } from './errors';
import { mustRun, pidAlive, runCmd, sleep, stopPid } from './exec';

export interface LabOvsPaths {
  dir: string;
  dbFile: string;
  dbSock: string;
  dbPidFile: string;
  dbCtl: string;
  vswitchdPidFile: string;
  vswitchdCtl: string;
}

export function labOvsPaths(dir: string): LabOvsPaths {
  return {
    dir,
    dbFile: path.join(dir, 'conf.db'),
    dbSock: path.join(dir, 'db.sock'),
    dbPidFile: path.join(dir, 'ovsdb-server.pid'),
    dbCtl: path.join(dir, 'ovsdb-server.ctl'),
    vswitchdPidFile: path.join(dir, 'ovs-vswitchd.pid'),
    vswitchdCtl: path.join(dir, 'ovs-vswitchd.ctl'),
  };
}

export function ovsEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OVS_RUNDIR: dir,
    OVS_LOGDIR: dir,
    OVS_DBDIR: dir,
    OVS_SYSCONFDIR: dir,
    OVS_PKGDATADIR: '/usr/share/openvswitch',
  };
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Fail clearly when OVS is missing (the CLI cannot install packages on its own). */
export function checkOvsInstalled(): void {
  for (const tool of ['ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ovsdb-tool']) {
    if (runCmd('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      throw new LabError(`Lab: ${tool} not found: install Open vSwitch (apt-get install -y openvswitch-switch)`);
    }
  }
}

export class LabOvs {
  readonly paths: LabOvsPaths;
  readonly env: NodeJS.ProcessEnv;
  constructor(readonly dir: string, readonly netns: string) {
    this.paths = labOvsPaths(dir);
    this.env = ovsEnv(dir);
  }

  get dbUrl(): string {
    return `unix:${this.paths.dbSock}`;
  }

  /** ovs-ofctl's target for one bridge: its management socket in our run dir. */
  mgmt(bridge: string): string {
    return `unix:${path.join(this.dir, `${bridge}.mgmt`)}`;
  }

  private nsExec(cmd: string, args: string[]): string {
    return mustRun('ip', ['netns', 'exec', this.netns, cmd, ...args], { env: this.env, timeoutMs: 30_000 });
  }

  /** Start ovsdb-server and ovs-vswitchd (netdev) in the namespace; returns their pids. */
  async start(options: { otherConfig?: Record<string, string> } = {}): Promise<{ ovsdbServer: number; vswitchd: number }> {
    checkOvsInstalled();
    fs.mkdirSync(this.dir, { recursive: true });
    const p = this.paths;
    mustRun('ovsdb-tool', ['create', p.dbFile, '/usr/share/openvswitch/vswitch.ovsschema'], { env: this.env });
    this.startOvsdbServer();
    this.vsctl('--no-wait', 'init');
    const extra = Object.entries(options.otherConfig ?? {}).map(([k, v]) => `other_config:${k}=${v}`);
    if (extra.length > 0) this.vsctl('--no-wait', 'set', 'Open_vSwitch', '.', ...extra);
    this.startVswitchd();
    const ovsdbServer = readPidFile(p.dbPidFile);
    const vswitchd = readPidFile(p.vswitchdPidFile);
    if (!ovsdbServer || !vswitchd) throw new LabError('Lab: OVS daemons did not write their pidfiles', 1);
    return { ovsdbServer, vswitchd };
  }

  /** Start ovsdb-server on the existing database file (a restart keeps every bridge and port). */
  startOvsdbServer(): number {
    const p = this.paths;
    this.nsExec('ovsdb-server', [
      p.dbFile,
      `--remote=punix:${p.dbSock}`,
      `--pidfile=${p.dbPidFile}`,
      `--unixctl=${p.dbCtl}`,
      `--log-file=${path.join(this.dir, 'ovsdb-server.log')}`,
      '--detach',
      '--no-chdir',
    ]);
    const pid = readPidFile(p.dbPidFile);
    if (!pid) throw new LabError('Lab: ovsdb-server wrote no pidfile', 1);
    return pid;
  }

  startVswitchd(): number {
    const p = this.paths;
    this.nsExec('ovs-vswitchd', [
      this.dbUrl,
      `--pidfile=${p.vswitchdPidFile}`,
      `--unixctl=${p.vswitchdCtl}`,
      `--log-file=${path.join(this.dir, 'ovs-vswitchd.log')}`,
      '--detach',
      '--no-chdir',
    ]);
    const pid = readPidFile(p.vswitchdPidFile);
    if (!pid) throw new LabError('Lab: ovs-vswitchd wrote no pidfile', 1);
    return pid;
  }

  vsctl(...args: string[]): string {
    return mustRun('ovs-vsctl', [`--db=${this.dbUrl}`, '--timeout=30', ...args], { env: this.env, timeoutMs: 40_000 });
  }

  ofctl(...args: string[]): string {
    return mustRun('ovs-ofctl', args, { env: this.env });
  }

  appctl(...args: string[]): string {
    return mustRun('ovs-appctl', [`--target=${this.paths.vswitchdCtl}`, ...args], { env: this.env });
  }

  /** Stop both daemons by their pidfiles (comm checked). */
  async stop(): Promise<void> {
    const v = readPidFile(this.paths.vswitchdPidFile);
    if (v) await stopPid(v, 'ovs-vswitchd');
    const d = readPidFile(this.paths.dbPidFile);
    if (d) await stopPid(d, 'ovsdb-server');
  }

  running(): boolean {
    const v = readPidFile(this.paths.vswitchdPidFile);
    return v !== undefined && pidAlive(v);
  }
}

export { sleep };
