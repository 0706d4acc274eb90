/**
 * A private podman for the CNI tests: its own root, runroot, tmp dir, events log and containers.conf
 * (CONTAINERS_CONF: cgroupfs, file events, runc, nofile/nproc within the hard limits, CNI backend with
 * our plugin and config directories, vfs storage: no overlay mounts to leak), and a busybox image
 * imported offline from busybox-static. Nothing system-wide is configured; what podman 4.3 still
 * writes outside (the blob-info cache of image commands) goes to a private tmpfs (isolated()), and
 * libcni's result cache in /var/lib/cni/results loses each entry at DEL.
 */
import * as fs from 'fs';
import * as path from 'path';
import { exec } from './support';

export class Podman {
  readonly env: NodeJS.ProcessEnv;
  readonly image = 'localhost/fcni-busybox:latest';
  constructor(
    readonly dir: string,
    readonly pluginDir: string,
    readonly confDir: string,
  ) {
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const conf = path.join(dir, 'containers.conf');
    fs.writeFileSync(
      conf,
      [
        '[containers]',
        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
        'netns = "private"',
        'log_driver = "k8s-file"',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${path.join(dir, 'events.log')}"`,
        `tmp_dir = "${path.join(dir, 'tmp')}"`,
        'runtime = "runc"',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${pluginDir}", "/usr/lib/cni"]`,
        `network_config_dir = "${confDir}"`,
        '',
      ].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
  }

  args(...rest: string[]): string[] {
    return ['--root', path.join(this.dir, 'root'), '--runroot', path.join(this.dir, 'runroot'), '--storage-driver', 'vfs', ...rest];
  }

  run(...rest: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec('podman', this.args(...rest), { env: this.env, timeoutMs: 90_000 });
  }

  /**
   * podman in a private mount namespace with a tmpfs on /var/lib: image commands (import, save, and
   * `pod create`, which builds the pause image) write a blob-info cache to /var/lib/containers/cache
   * whatever --root says. Only for commands that start nothing: a container's namespace files
   * (/run/netns) must be visible outside.
   */
  isolated(...rest: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs fcni-varlib /var/lib && exec "$@"', 'fcni-podman', 'podman', ...this.args(...rest)], { env: this.env, timeoutMs: 90_000 });
  }

  async must(...rest: string[]): Promise<string> {
    const r = await this.run(...rest);
    if (r.code !== 0) throw new Error(`podman ${rest.join(' ')}: exit ${r.code}: ${r.stderr.trim()}; stdout: ${r.stdout.trim()}`);
    return r.stdout;
  }

  async mustIsolated(...rest: string[]): Promise<string> {
    const r = await this.isolated(...rest);
    if (r.code !== 0) throw new Error(`podman ${rest.join(' ')}: exit ${r.code}: ${r.stderr.trim()}; stdout: ${r.stdout.trim()}`);
    return r.stdout;
  }

  /** busybox-static's binary as a one-layer image, with the applets the tests use */
  async importBusybox(): Promise<void> {
    const rootfs = path.join(this.dir, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'ping', 'ip', 'nc', 'sleep', 'cat', 'echo', 'hostname', 'seq', 'grep', 'true', 'wc', 'sort', 'uniq', 'timeout', 'ls', 'printf', 'head']) {
      fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
    }
    for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'run']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    const tar = path.join(this.dir, 'busybox.tar');
    const t = await exec('tar', ['-C', rootfs, '-cf', tar, '.']);
    if (t.code !== 0) throw new Error(`tar: ${t.stderr}`);
    await this.mustIsolated('import', tar, this.image);
  }

  /** Remove every container and pod (called in afterAll even after failures; the caller removes the directory). */
  async cleanup(): Promise<void> {
    await this.run('pod', 'rm', '-af', '-t', '0');
    await this.run('rm', '-af', '-t', '0');
  }
}
