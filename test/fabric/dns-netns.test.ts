/**
 * fabric/lab/dns.ts for real: `fabric dns serve` (the built binary) in one network namespace, glibc's
 * resolver (`getent hosts`) in another whose /etc/netns/NS/resolv.conf we wrote, a veth pair between
 * them (10.99.53.0/24, inside the namespaces only: nothing is configured in the root namespace).
 * Our own namespaces (fdns-<pid>, fdns-<pid>-c) and processes only, removed in afterAll even on failure.
 * Needs root (skipped, loudly, otherwise) and dist/ (`npx tsc -p tsconfig.json`).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildClusterState, parseScenarioFile, searchPath } from '../../topology';
import { removeResolvConf, resolvConfPath, resolvConfText, startDnsServerInNamespace, writeResolvConf, type DnsServerHandle } from '../../fabric/lab/dns';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'dns-cluster.yaml');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SERVER_NS = `fdns-${process.pid}`;
const CLIENT_NS = `fdns-${process.pid}-c`;
const VETH_A = `fdnsa${process.pid}`;
const VETH_B = `fdnsb${process.pid}`;
const SERVER_IP = '10.99.53.1';
const CLIENT_IP = '10.99.53.2';

function sh(cmd: string, args: string[], timeout = 20_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

const getent = (...args: string[]) => sh('ip', ['netns', 'exec', CLIENT_NS, 'getent', ...args]);

describe('resolv.conf text (no root needed)', () => {
  test("Kubernetes' pod resolv.conf", () => {
    expect(resolvConfText({ nameserver: '10.96.0.10', search: searchPath('default', 'cluster.local'), options: 'ndots:5' })).toBe(
      '# written by fabric (fabric/lab/dns.ts): the cluster DNS\nnameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
    expect(resolvConfPath('pod-web-1')).toBe('/etc/netns/pod-web-1/resolv.conf');
    expect(() => resolvConfText({ nameserver: 'dns' })).toThrow(/not an IP/);
    expect(() => resolvConfPath('../etc')).toThrow(/not a usable/);
  });
});

const maybe = isRoot ? describe : describe.skip;
if (!isRoot) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED test/fabric/dns-netns.test.ts: needs root (network namespaces, veths, /etc/netns); running as uid ${process.getuid?.()}`);
}

maybe('the cluster DNS between two network namespaces', () => {
  let server: DnsServerHandle | undefined;
  const netnsEtcExisted = fs.existsSync('/etc/netns');
  const hostResolvConf = fs.existsSync('/etc/resolv.conf') ? fs.readFileSync('/etc/resolv.conf', 'utf8') : undefined;
  const state = (() => {
    const r = parseScenarioFile(FIXTURE);
    return buildClusterState(r.scenario!);
  })();

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'dns.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
    must('ip', ['netns', 'add', SERVER_NS]);
    must('ip', ['netns', 'add', CLIENT_NS]);
    // created directly inside the namespaces: never in the root namespace
    must('ip', ['link', 'add', VETH_A, 'netns', SERVER_NS, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', CLIENT_NS]);
    for (const [ns, dev, addr] of [[SERVER_NS, VETH_A, SERVER_IP], [CLIENT_NS, VETH_B, CLIENT_IP]]) {
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      must('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    server = await startDnsServerInNamespace(SERVER_NS, FIXTURE, '2s', '0.0.0.0:53');
    writeResolvConf(CLIENT_NS, { nameserver: SERVER_IP, search: searchPath('default', 'cluster.local'), options: 'ndots:5 timeout:1 attempts:2' });
  }, 60_000);

  afterAll(async () => {
    const problems: string[] = [];
    try {
      await server?.stop();
    } catch (err) {
      problems.push(String(err));
    }
    for (const ns of [CLIENT_NS, SERVER_NS]) {
      try {
        removeResolvConf(ns);
      } catch (err) {
        problems.push(String(err));
      }
      // deleting the namespace deletes the veth end inside it (and so the pair)
      const r = sh('ip', ['netns', 'del', ns]);
      if (r.status !== 0 && !/No such file/.test(r.stderr)) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
    if (server) fs.rmSync(path.dirname(server.logFile), { recursive: true, force: true });
    if (!netnsEtcExisted) {
      try {
        fs.rmdirSync('/etc/netns'); // ours, and empty again (another user's files there keep it)
      } catch {
        /* not empty: someone else's */
      }
    }
    if (problems.length > 0) throw new Error(`cleanup: ${problems.join('; ')}`);
  }, 30_000);

  test('the namespaces see each other', () => {
    const r = sh('ip', ['netns', 'exec', CLIENT_NS, 'ping', '-c', '1', '-W', '2', SERVER_IP]);
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  test('getent hosts: full names, short names through the search path, pod names', () => {
    const web = state.services.get('web')!.vip;
    expect(getent('hosts', 'web.default.svc.cluster.local').stdout.split(/\s+/).slice(0, 2)).toEqual([web, 'web.default.svc.cluster.local']);
    expect(getent('hosts', 'web').stdout.split(/\s+/)[0]).toBe(web);
    expect(getent('hosts', 'db.data').stdout.split(/\s+/)[0]).toBe(state.services.get('db')!.vip);
    expect(getent('ahostsv4', 'cache').stdout.split(/\s+/)[0]).toMatch(/^10\.96\./); // added at 2s, served --at 2s
    const pod = state.pods.get('db-1')!;
    expect(getent('hosts', `${pod.ip.replace(/\./g, '-')}.default.pod.cluster.local`).stdout.split(/\s+/)[0]).toBe(pod.ip);
  });

  test('unknown names: getent exits 2 (not found)', () => {
    expect(getent('hosts', 'nope').status).toBe(2);
    expect(getent('hosts', 'db').status).toBe(2); // db is in namespace data
    expect(getent('hosts', 'nope.default.svc.cluster.local').status).toBe(2);
  });

  test('TCP too: dig is optional, so a raw TCP query from the client namespace with node', () => {
    const script = `
      const net = require('net'); const p = require(${JSON.stringify(require.resolve('dns-packet'))});
      const s = net.connect(53, ${JSON.stringify(SERVER_IP)}, () => s.write(p.streamEncode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] })));
      let b = Buffer.alloc(0);
      s.on('data', (d) => { b = Buffer.concat([b, d]); if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) { console.log(JSON.stringify(p.decode(b.subarray(2)).answers.map((a) => a.data))); s.end(); } });
      s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
    const r = sh('ip', ['netns', 'exec', CLIENT_NS, process.execPath, '-e', script]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(JSON.parse(r.stdout)).toEqual([state.services.get('web')!.vip]);
  });

  test('busybox nslookup (another client) through the same resolv.conf', () => {
    if (!fs.existsSync('/usr/bin/busybox') && !fs.existsSync('/bin/busybox')) {
      // eslint-disable-next-line no-console
      console.warn('busybox is not installed: the nslookup client check is skipped');
      return;
    }
    const r = sh('ip', ['netns', 'exec', CLIENT_NS, 'busybox', 'nslookup', 'web.default.svc.cluster.local']);
    expect(r.stdout).toContain(`Address: ${state.services.get('web')!.vip}`);
    const nx = sh('ip', ['netns', 'exec', CLIENT_NS, 'busybox', 'nslookup', 'nope.default.svc.cluster.local']);
    expect(nx.stdout + nx.stderr).toMatch(/NXDOMAIN/);
  });

  test("the host's /etc/resolv.conf is untouched; ours is in /etc/netns", () => {
    expect(fs.existsSync('/etc/resolv.conf') ? fs.readFileSync('/etc/resolv.conf', 'utf8') : undefined).toBe(hostResolvConf);
    expect(fs.readFileSync(resolvConfPath(CLIENT_NS), 'utf8')).toContain(`nameserver ${SERVER_IP}`);
    expect(sh('ip', ['netns', 'exec', CLIENT_NS, 'cat', '/etc/resolv.conf']).stdout).toContain(`nameserver ${SERVER_IP}`);
  });

  test('the server is the pid we were given, a node process in the server namespace', () => {
    expect(fs.readFileSync(`/proc/${server!.pid}/comm`, 'utf8').trim()).toBe(path.basename(process.execPath));
    const r = sh('ip', ['netns', 'pids', SERVER_NS]);
    expect(r.stdout.split('\n')).toContain(String(server!.pid));
  });
});
