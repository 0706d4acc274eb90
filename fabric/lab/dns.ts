/**
 * The cluster DNS in the lab (docs/discovery.md): a pod namespace's resolv.conf, and `fabric dns serve`
 * run inside a namespace.
 *
 * `ip netns exec NS PROGRAM` bind-mounts every file of /etc/netns/NS/ over the same name in /etc for
 * PROGRAM, so writing /etc/netns/NS/resolv.conf gives the pod its own resolver configuration (Kubernetes'
 * `nameserver <dns VIP>`, `search <ns>.svc.<domain> svc.<domain> <domain>`, `options ndots:5`) without
 * touching the host's /etc/resolv.conf: `ip netns exec NS getent hosts web` then asks the cluster DNS.
 * The lab calls these; nothing here changes the root network namespace.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { LabError } from './errors';
import { pidAlive, sleep, stopPid } from './exec';

export const NETNS_ETC = '/etc/netns';

export interface ResolvConf {
  /** one or more nameserver IPs (the DNS service VIP, or the server's own address) */
  nameserver: string | string[];
  /** the search list (topology/dns.ts searchPath) */
  search?: string[];
  /** the options line, e.g. 'ndots:5' (Kubernetes' value) */
  options?: string;
}

function checkNsName(nsName: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(nsName) || nsName === '.' || nsName === '..') {
    throw new LabError(`dns: '${nsName}' is not a usable network namespace name`, 2);
  }
}

/** /etc/netns/<ns>/resolv.conf */
export function resolvConfPath(nsName: string): string {
  checkNsName(nsName);
  return path.join(NETNS_ETC, nsName, 'resolv.conf');
}

/** The text of a resolv.conf. */
export function resolvConfText(conf: ResolvConf): string {
  const servers = Array.isArray(conf.nameserver) ? conf.nameserver : [conf.nameserver];
  if (servers.length === 0) throw new LabError('dns: resolv.conf needs at least one nameserver', 2);
  for (const s of servers) if (net.isIP(s) === 0) throw new LabError(`dns: nameserver '${s}' is not an IP address`, 2);
  for (const d of conf.search ?? []) if (!/^[A-Za-z0-9.-]+$/.test(d)) throw new LabError(`dns: search domain '${d}' is not a DNS name`, 2);
  if (conf.options !== undefined && /[\n\r]/.test(conf.options)) throw new LabError('dns: resolv.conf options must be one line', 2);
  const lines = ['# written by fabric (fabric/lab/dns.ts): the cluster DNS'];
  for (const s of servers) lines.push(`nameserver ${s}`);
  if (conf.search && conf.search.length > 0) lines.push(`search ${conf.search.join(' ')}`);
  if (conf.options) lines.push(`options ${conf.options}`);
  return lines.join('\n') + '\n';
}

/**
 * Writes /etc/netns/<nsName>/resolv.conf (creating the directory), used by every program started with
 * `ip netns exec <nsName>` from then on. Returns the path.
 */
export function writeResolvConf(nsName: string, conf: ResolvConf): string {
  const file = resolvConfPath(nsName);
  const text = resolvConfText(conf);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
  return file;
}

/** Removes /etc/netns/<nsName>/resolv.conf, and the directory when that leaves it empty. Idempotent. */
export function removeResolvConf(nsName: string): void {
  const file = resolvConfPath(nsName);
  fs.rmSync(file, { force: true });
  try {
    fs.rmdirSync(path.dirname(file));
  } catch {
    /* not empty (other files of this namespace), or already gone */
  }
}

export interface DnsServerHandle {
  pid: number;
  ns: string;
  /** HOST:PORT as given to --listen */
  listen: string;
  /** the server's stdout and stderr */
  logFile: string;
  /** SIGTERM (SIGKILL after 2 s) to this pid only, if it is still our node process */
  stop(): Promise<void>;
}

/**
 * Starts `fabric dns serve FILE --at T --listen LISTEN` inside namespace `nsName` (`ip netns exec`,
 * which execs node: the pid is the server's), detached in its own process group, output to `logFile`.
 * Resolves when the server prints its banner (it is then bound on UDP and TCP); a LabError when it exits
 * or does not start within `timeoutMs`.
 */
export async function startDnsServerInNamespace(
  nsName: string,
  scenarioFile: string,
  at: number | string = 0,
  listen = '0.0.0.0:53',
  opts: { fabricBin?: string; logFile?: string; timeoutMs?: number } = {},
): Promise<DnsServerHandle> {
  checkNsName(nsName);
  // dist/fabric/lab/ or fabric/lab/ (under jest): bin/ of the repository
  const candidates = opts.fabricBin ? [opts.fabricBin] : [path.join(__dirname, '..', '..', '..', 'bin', 'fabric.js'), path.join(__dirname, '..', '..', 'bin', 'fabric.js')];
  const bin = candidates.find((c) => fs.existsSync(c));
  if (!bin) throw new LabError(`dns: cannot find bin/fabric.js (looked at ${candidates.join(', ')})`, 1);
  const logFile = opts.logFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-dns-')), `dns-${nsName}.log`);
  const atText = typeof at === 'number' ? `${at}s` : at;
  const fd = fs.openSync(logFile, 'a');
  let pid: number | undefined;
  try {
    const child = spawn('ip', ['netns', 'exec', nsName, process.execPath, bin, 'dns', 'serve', path.resolve(scenarioFile), '--at', atText, '--listen', listen], { detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    fs.closeSync(fd);
  }
  if (pid === undefined) throw new LabError(`dns: could not start fabric dns serve in ${nsName}`, 1);
  const comm = path.basename(process.execPath);
  const handle: DnsServerHandle = {
    pid,
    ns: nsName,
    listen,
    logFile,
    stop: async () => {
      await stopPid(pid!, comm);
    },
  };
  const timeoutMs = opts.timeoutMs ?? 15_000;
  for (let waited = 0; ; waited += 50) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    if (/^fabric dns: serving .* on udp\+tcp /m.test(text)) return handle;
    if (!pidAlive(pid)) throw new LabError(`dns: fabric dns serve in ${nsName} exited: ${text.trim().split('\n').slice(-2).join(' | ') || 'no output'}`, 1);
    if (waited >= timeoutMs) {
      await handle.stop();
      throw new LabError(`dns: fabric dns serve in ${nsName} did not start within ${timeoutMs / 1000} s (log: ${logFile})`, 1);
    }
    await sleep(50);
  }
}
