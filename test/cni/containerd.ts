/**
 * A private containerd for the CNI tests: its own root, state, sockets and config (CRI and the
 * snapshotters it does not need disabled), started by us and stopped by its pid. `ctr run --cni`
 * reads its networks from /etc/cni/net.d and its plugins from /opt/cni/bin, so `ctr` runs inside a
 * private mount namespace (`unshare --mount --propagation private`) where a tmpfs covers /opt and our
 * directories are bind-mounted there: nothing changes outside that namespace.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { exec } from './support';

export class Containerd {
  readonly sock: string;
  readonly ns = 'fcni';
  readonly image = 'localhost/fcni-busybox:latest';
  private proc?: ChildProcess;
  constructor(
    readonly dir: string,
    /** plugin directory (the launcher `fabric`, and loopback) and network config directory for ctr */
    readonly cniBin: string,
    readonly cniConf: string,
  ) {
    this.sock = path.join(dir, 'ctr.sock');
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const config = path.join(this.dir, 'config.toml');
    fs.writeFileSync(
      config,
      [
        'version = 2',
        `root = "${path.join(this.dir, 'root')}"`,
        `state = "${path.join(this.dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.opt"]',
        '[grpc]',
        `  address = "${this.sock}"`,
        '[ttrpc]',
        `  address = "${this.sock}.ttrpc"`,
        '[debug]',
        `  address = "${path.join(this.dir, 'debug.sock')}"`,
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.proc = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 15_000;
    while ((await this.ctr('version')).code !== 0) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`containerd did not start: ${fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ctr(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec('ctr', ['-a', this.sock, '-n', this.ns, ...args], { timeoutMs: 60_000 });
  }

  /** ctr in a private mount namespace where /opt/cni/bin and /etc/cni/net.d are ours. */
  ctrWithCni(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const script = 'set -e; mount -t tmpfs fcni-opt /opt; mkdir -p /opt/cni/bin; mount --bind "$1" /opt/cni/bin; mount --bind "$2" /etc/cni/net.d; shift 2; exec "$@"';
    return exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'fcni-ctr', this.cniBin, this.cniConf, 'ctr', '-a', this.sock, '-n', this.ns, ...args], { timeoutMs: 60_000 });
  }

  async importImage(ociArchive: string): Promise<void> {
    const r = await this.ctr('images', 'import', '--snapshotter', 'native', '--base-name', 'localhost/fcni-busybox', ociArchive);
    if (r.code !== 0) throw new Error(`ctr images import: ${r.stderr}`);
  }

  /** Kill and delete every task and container of our namespace, then stop containerd (by its pid). */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const tasks = (await this.ctr('tasks', 'ls', '-q')).stdout.split('\n').filter(Boolean);
    for (const t of tasks) {
      await this.ctr('tasks', 'kill', '-s', 'SIGKILL', t);
      await this.ctr('tasks', 'delete', '-f', t);
    }
    for (const c of (await this.ctr('containers', 'ls', '-q')).stdout.split('\n').filter(Boolean)) await this.ctr('containers', 'rm', c);
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
