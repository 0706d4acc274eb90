/**
 * Test support: a private etcd cluster (Debian etcd-server 3.4) of N members on 127.0.0.1 high ports,
 * in a temporary directory, started and stopped by pid (never by name). Fast elections (50 ms heartbeat,
 * 500 ms election timeout) so tests do not wait on etcd itself.
 *
 * `startEtcdCluster(n, { tls: true })`: a throwaway CA, a server certificate for 127.0.0.1/localhost
 * (client and peer URLs, https) and a client certificate, made with openssl in the cluster's directory;
 * etcd requires the client certificate (`--client-cert-auth`) and `url()` gives etcds://.
 */
import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { etcdClient, readEtcdTls } from '../../../fabric/store';

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
  /** with { tls: true }: the PEM files (in dir) */
  tls?: EtcdTestTls;
  /** etcd://HOST:PORT,... (etcds:// with TLS) of every member (PREFIX appended when given) */
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

export interface EtcdTestTls {
  /** the CA that signed the server and client certificates */
  ca: string;
  caKey: string;
  /** the members' certificate (127.0.0.1, localhost; server and client use: also the peer certificate) */
  serverCert: string;
  serverKey: string;
  /** the controller's client certificate */
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl: ${r.error.message} (is openssl installed? apt-get install -y openssl)`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

/** A self-signed CA (EC P-256, 1 day) in dir: NAME.crt, NAME.key; returns the paths. */
export function makeTestCa(dir: string, name = 'ca'): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=fabric test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

/** A certificate NAME.crt/NAME.key in dir signed by ca, with these extensions (openssl x509 -extfile lines). */
export function makeTestCert(dir: string, ca: { cert: string; key: string }, name: string, cn: string, ext: string[]): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, ext.join('\n') + '\n');
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', extFile]);
  return { cert, key };
}

function makeClusterTls(dir: string): EtcdTestTls {
  const ca = makeTestCa(dir, 'ca');
  const server = makeTestCert(dir, ca, 'server', 'etcd', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const client = makeTestCert(dir, ca, 'client', 'fabric-controller', ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth']);
  return { ca: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, cert: client.cert, key: client.key };
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

export async function startEtcdCluster(n = 3, opts: { tls?: boolean } = {}): Promise<EtcdCluster> {
  ensureEtcdInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-etcd-'));
  let tls: EtcdTestTls | undefined;
  try {
    if (opts.tls) tls = makeClusterTls(dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const scheme = tls ? 'https' : 'http';
  const tlsArgs = tls
    ? [
        '--cert-file', tls.serverCert,
        '--key-file', tls.serverKey,
        '--trusted-ca-file', tls.ca,
        '--client-cert-auth',
        '--peer-cert-file', tls.serverCert,
        '--peer-key-file', tls.serverKey,
        '--peer-trusted-ca-file', tls.ca,
        '--peer-client-cert-auth',
      ]
    : [];
  const ports = await freePorts(2 * n);
  const token = `fabric-test-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  const peers: string[] = [];
  for (let i = 0; i < n; i++) {
    members.push({ name: `m${i}`, client: `127.0.0.1:${ports[2 * i]}`, clientUrl: `${scheme}://127.0.0.1:${ports[2 * i]}` });
    peers.push(`m${i}=${scheme}://127.0.0.1:${ports[2 * i + 1]}`);
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
        '--listen-peer-urls', `${scheme}://127.0.0.1:${ports[2 * i + 1]}`,
        '--initial-advertise-peer-urls', `${scheme}://127.0.0.1:${ports[2 * i + 1]}`,
        '--initial-cluster', peers.join(','),
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', token,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
        ...tlsArgs,
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
    tls,
    url: (prefix = '', which) => `${tls ? 'etcds' : 'etcd'}://${(which ?? members.map((_, i) => i)).map((i) => members[i].client).join(',')}${prefix}`,
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
      const c = etcdClient({ hosts: [m.clientUrl], prefix: '', tls: tls && readEtcdTls({ ca: tls.ca, cert: tls.cert, key: tls.key }) }, 1000);
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
