/**
 * Test support: a private etcd cluster (Debian etcd-server 3.4) of N members on 127.0.0.1 high ports,
 * in a temporary directory, started and stopped by pid (never by name). Fast elections (50 ms heartbeat,
 * 500 ms election timeout) so tests do not wait on etcd itself.
 */
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { etcdClient } from '../../../fabric/store';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  /** HOST:PORT */
  client: string;
  proc?: ChildProcess;
  pid?: number;
}

export interface EtcdCluster {
  dir: string;
  members: EtcdMember[];
  /** etcd://HOST:PORT,... of every member (PREFIX appended when given) */
  url(prefix?: string, members?: number[]): string;
  kill(member: number): Promise<void>;
  /** SIGSTOP / SIGCONT one member (a member that stops answering: a partition seen from its clients) */
  pause(member: number): void;
  resume(member: number): void;
  stop(): Promise<void>;
}

/** Make sure etcd is installed: as root apt-get installs etcd-server (saying so), else throw with the command. */
export function ensureEtcdInstalled(): void {
  if (spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0) return;
  if (process.getuid?.() === 0) {
    process.stderr.write('test support: installing etcd-server (apt-get install -y etcd-server)\n');
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server'], { stdio: 'inherit' });
    if (spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0) return;
  }
  throw new Error('etcd is not installed: run `sudo apt-get install -y etcd-server`');
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if (!out.includes(p) && (await portFree(p))) out.push(p);
  }
  return out;
}

export async function startEtcdCluster(n = 3): Promise<EtcdCluster> {
  ensureEtcdInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-etcd-'));
  const ports = await freePorts(2 * n);
  const token = `fabric-test-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  const peers: string[] = [];
  for (let i = 0; i < n; i++) {
    members.push({ name: `m${i}`, client: `127.0.0.1:${ports[2 * i]}`, clientUrl: `http://127.0.0.1:${ports[2 * i]}` });
    peers.push(`m${i}=http://127.0.0.1:${ports[2 * i + 1]}`);
  }
  for (let i = 0; i < n; i++) {
    const m = members[i];
    const log = fs.openSync(path.join(dir, `${m.name}.log`), 'a');
    m.proc = spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', path.join(dir, m.name),
        '--listen-client-urls', m.clientUrl,
        '--advertise-client-urls', m.clientUrl,
        '--listen-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`,
        '--initial-cluster', peers.join(','),
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', token,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    m.pid = m.proc.pid;
  }
  const kill = async (i: number): Promise<void> => {
    const p = members[i].proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    process.kill(members[i].pid!, 'SIGKILL');
    await gone;
  };
  const cluster: EtcdCluster = {
    dir,
    members,
    url: (prefix = '', which) => `etcd://${(which ?? members.map((_, i) => i)).map((i) => members[i].client).join(',')}${prefix}`,
    kill,
    pause: (i) => process.kill(members[i].pid!, 'SIGSTOP'),
    resume: (i) => process.kill(members[i].pid!, 'SIGCONT'),
    stop: async () => {
      for (let i = 0; i < members.length; i++) {
        const p = members[i].proc;
        if (!p || p.exitCode !== null || p.signalCode !== null) continue;
        process.kill(members[i].pid!, 'SIGCONT');
        const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
        process.kill(members[i].pid!, 'SIGTERM');
        const t = setTimeout(() => {
          if (p.exitCode === null && p.signalCode === null) process.kill(members[i].pid!, 'SIGKILL');
        }, 5000);
        await gone;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  // healthy: a write through every member
  const started = Date.now();
  for (const m of members) {
    for (;;) {
      const c = etcdClient({ hosts: [m.clientUrl], prefix: '' }, 1000);
      try {
        await c.put('/fabric-test/health').value(m.name);
        c.close();
        break;
      } catch (err) {
        c.close();
        if (Date.now() - started > 30_000) {
          await cluster.stop().catch(() => undefined);
          throw new Error(`etcd cluster did not come up: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  return cluster;
}
