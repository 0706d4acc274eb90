/**
 * Test support for the OVSDB client: a private ovsdb-server on any schema (unix, tcp, ssl remotes,
 * restartable on the same database file), fake servers that misbehave on purpose, free ports, and
 * self-made certificates. Every process is stopped by pid; every temp dir removed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ensureOvsInstalled } from '../support/ovs';

export const LAB_SCHEMA = path.join(__dirname, 'fixtures', 'lab.ovsschema');
export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \([^)]*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export interface TlsSet {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
}

/** A CA and a server and a client certificate signed by it (openssl, a few hundred ms). */
export function makeCertificates(dir: string): TlsSet {
  const f = (name: string): string => path.join(dir, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=fabric-test-ca');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=fabric-test-${who}`);
    ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.crt`), '-days', '2');
  }
  return {
    dir,
    caCert: f('ca.crt'),
    serverKey: f('server.key'),
    serverCert: f('server.crt'),
    clientKey: f('client.key'),
    clientCert: f('client.crt'),
  };
}

export interface PrivateOvsdb {
  dir: string;
  dbFile: string;
  sock: string;
  unixUrl: string;
  tcpUrl?: string;
  sslUrl?: string;
  tls?: TlsSet;
  pid(): number | undefined;
  /** run ovsdb-client against the unix socket */
  client(...args: string[]): string;
  /** kill the server (SIGKILL: an abrupt loss) */
  kill(): Promise<void>;
  /** start again on the same database file and remotes */
  restart(): void;
  stop(): Promise<void>;
}

export async function startOvsdb(
  options: { schema?: string; tcp?: boolean; ssl?: boolean; /** vswitch schema: also serve Open_vSwitch.manager_options */ managers?: boolean } = {},
): Promise<PrivateOvsdb> {
  ensureOvsInstalled();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-ovsdb-'));
  const dbFile = path.join(dir, 'test.db');
  const sock = path.join(dir, 'db.sock');
  const pidFile = path.join(dir, 'ovsdb-server.pid');
  execFileSync('ovsdb-tool', ['create', dbFile, options.schema ?? LAB_SCHEMA], { stdio: 'pipe' });
  const tcpPort = options.tcp ? await freePort() : 0;
  const sslPort = options.ssl ? await freePort() : 0;
  const tls = options.ssl ? makeCertificates(dir) : undefined;
  const args = [
    dbFile,
    `--remote=punix:${sock}`,
    `--pidfile=${pidFile}`,
    `--unixctl=${path.join(dir, 'ovsdb-server.ctl')}`,
    `--log-file=${path.join(dir, 'ovsdb-server.log')}`,
    '--detach',
    '--no-chdir',
  ];
  if (tcpPort) args.push(`--remote=ptcp:${tcpPort}:127.0.0.1`);
  if (options.managers) args.push('--remote=db:Open_vSwitch,Open_vSwitch,manager_options');
  if (tls) {
    args.push(`--remote=pssl:${sslPort}:127.0.0.1`, `--private-key=${tls.serverKey}`, `--certificate=${tls.serverCert}`, `--ca-cert=${tls.caCert}`);
  }
  const start = (): void => {
    execFileSync('ovsdb-server', args, { stdio: 'pipe', timeout: 20_000 });
  };
  start();
  const pid = (): number | undefined => {
    try {
      const n = Number(fs.readFileSync(pidFile, 'utf8').trim());
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const p = pid();
    if (!p || !alive(p)) return;
    try {
      if (fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() !== 'ovsdb-server') return;
      process.kill(p, signal);
    } catch {
      return;
    }
    for (let i = 0; i < 100 && alive(p); i++) await sleep(20);
  };
  return {
    dir,
    dbFile,
    sock,
    unixUrl: `unix:${sock}`,
    tcpUrl: tcpPort ? `tcp:127.0.0.1:${tcpPort}` : undefined,
    sslUrl: sslPort ? `ssl:127.0.0.1:${sslPort}` : undefined,
    tls,
    pid,
    client: (...a: string[]) => execFileSync('ovsdb-client', [...a.slice(0, 1), `unix:${sock}`, ...a.slice(1)], { encoding: 'utf8', timeout: 20_000 }),
    kill: async () => {
      await kill('SIGKILL');
      fs.rmSync(pidFile, { force: true });
    },
    restart: start,
    stop: async () => {
      await kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fake OVSDB server: `onConnection` scripts what it sends; sockets are tracked and destroyed at close. */
export interface FakeServer {
  url: string;
  sockets: Set<net.Socket>;
  /** everything received, per connection */
  received: string[];
  close(): Promise<void>;
}

export async function startFakeServer(onConnection: (socket: net.Socket, received: () => string) => void): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const received: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const index = received.push('') - 1;
    socket.on('data', (d) => (received[index] += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket, () => received[index]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `tcp:127.0.0.1:${port}`,
    sockets,
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
