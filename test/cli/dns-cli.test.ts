/**
 * `fabric dns resolve`, `fabric env` (in process, as a user runs them: commander and the command's own
 * context) and `fabric dns serve` (the built binary, dist/ made by `npx tsc -p tsconfig.json` as
 * `npm test` does), queried with Node's resolver and stopped with SIGTERM. docs/discovery.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { promises as dnsp } from 'dns';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { register as registerDns } from '../../cli/commands/dns';
import { register as registerEnv } from '../../cli/commands/env';
import { buildClusterState, parseScenarioFile } from '../../topology';
import { runCli } from '../support/cli';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'fabric.js');
const FIXTURE = path.join(ROOT, 'test', 'fabric', 'fixtures', 'dns-cluster.yaml');

const fabric = (...args: string[]) => runCli([registerDns, registerEnv], args);

const state = (() => {
  const r = parseScenarioFile(FIXTURE);
  if (!r.scenario) throw new Error('fixture does not parse');
  return buildClusterState(r.scenario);
})();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-dns-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('fabric dns resolve', () => {
  test('a short name through the search path', async () => {
    const r = await fabric('dns', 'resolve', FIXTURE, 'web');
    expect(r).toEqual({ code: 0, out: `web.default.svc.cluster.local has address ${state.services.get('web')!.vip} (service web)\n`, err: '' });
  });

  test('--namespace, --json, pod names', async () => {
    const db = await fabric('dns', 'resolve', FIXTURE, 'db', '--namespace', 'data', '--json');
    expect(db.code).toBe(0);
    expect(JSON.parse(db.out)).toEqual({
      name: 'db',
      namespace: 'data',
      at: 0,
      domain: 'cluster.local',
      tried: ['db.data.svc.cluster.local', 'db.svc.cluster.local', 'db.cluster.local', 'db'],
      status: 'NOERROR',
      fqdn: 'db.data.svc.cluster.local',
      ip: state.services.get('db')!.vip,
      service: 'db',
    });
    const ip = state.pods.get('web-2')!.ip;
    const pod = await fabric('dns', 'resolve', FIXTURE, `${ip.replace(/\./g, '-')}.default.pod`);
    expect(pod.out).toBe(`${ip.replace(/\./g, '-')}.default.pod.cluster.local has address ${ip} (pod web-2)\n`);
  });

  test('NXDOMAIN: exit 1, the names tried', async () => {
    const r = await fabric('dns', 'resolve', FIXTURE, 'db');
    expect(r.code).toBe(1);
    expect(r.out).toBe('db: NXDOMAIN (tried db.default.svc.cluster.local, db.svc.cluster.local, db.cluster.local, db)\n');
    const j = await fabric('dns', 'resolve', FIXTURE, 'example.com.', '--json');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ status: 'NXDOMAIN', tried: ['example.com'] });
  });

  test('--at applies the events up to then', async () => {
    expect((await fabric('dns', 'resolve', FIXTURE, 'cache')).code).toBe(1);
    expect((await fabric('dns', 'resolve', FIXTURE, 'cache', '--at', '2s')).code).toBe(0);
    expect((await fabric('dns', 'resolve', FIXTURE, 'web-api', '--at', '3.5')).code).toBe(0);
    expect((await fabric('dns', 'resolve', FIXTURE, 'web-api', '--at', '4s')).code).toBe(1);
  });
});

describe('fabric env', () => {
  test('KEY=value lines, sorted', async () => {
    const r = await fabric('env', FIXTURE, 'web-1');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toEqual([...lines].sort());
    const web = state.services.get('web')!.vip;
    expect(lines).toEqual(expect.arrayContaining([`WEB_SERVICE_HOST=${web}`, 'WEB_SERVICE_PORT=80', `WEB_PORT=tcp://${web}:80`, `WEB_PORT_80_TCP=tcp://${web}:80`, 'WEB_PORT_80_TCP_PROTO=tcp', 'WEB_PORT_80_TCP_PORT=80', `WEB_PORT_80_TCP_ADDR=${web}`, 'DNS_PORT_53_UDP_PROTO=udp']));
    expect(lines.some((l) => l.startsWith('DB_'))).toBe(false);
    expect(lines.some((l) => l.startsWith('CACHE_'))).toBe(false);
  });

  test('--json and --at', async () => {
    const r = await fabric('env', FIXTURE, 'db-1', '--at', '5s', '--json');
    expect(r.code).toBe(0);
    const env = JSON.parse(r.out);
    expect(env.CACHE_SERVICE_PORT).toBe('6379');
    expect(env.WEB_API_SERVICE_HOST).toBeUndefined();
  });
});

describe('bad input: one line on stderr, exit 2, no stack trace', () => {
  const broken = path.join(tmp, 'broken.yaml');
  fs.writeFileSync(broken, 'name: x\ncluster: [\n');
  for (const args of [
    ['env', FIXTURE, 'wbe-1'],
    ['env', FIXTURE, 'web-1', '--at', 'soon'],
    ['env', path.join(tmp, 'missing.yaml'), 'web-1'],
    ['env', broken, 'web-1'],
    ['dns', 'resolve', FIXTURE, 'web', '--namespace', 'No_Such'],
    ['dns', 'resolve', FIXTURE, 'we b'],
    ['dns', 'resolve', FIXTURE, 'web', '--at', '-1s'],
    ['dns', 'resolve', path.join(tmp, 'missing.yaml'), 'web'],
    ['dns', 'serve', FIXTURE, '--listen', 'localhost:53'],
    ['dns', 'serve', FIXTURE, '--listen', '127.0.0.1:70000'],
    ['dns', 'serve', FIXTURE, '--at', 'later'],
  ]) {
    test(args.map((a) => (a.startsWith('/') ? path.basename(a) : a)).join(' '), async () => {
      const r = await fabric(...args);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n').length).toBeGreaterThanOrEqual(1);
      expect(r.err).not.toMatch(/\n\s+at /);
      if (args[2] === FIXTURE) expect(r.err.trim().split('\n')).toHaveLength(1);
    });
  }

  test('an unknown pod offers the closest name; one added later says so', async () => {
    expect((await fabric('env', FIXTURE, 'wbe-1')).err).toBe("fabric env: no pod named wbe-1 at 0s (did you mean 'web-1'?)\n");
    expect((await fabric('env', FIXTURE, 'web-3')).err).toBe('fabric env: no pod named web-3 at 0s (it is added at 3s: give --at 3s)\n');
    expect((await fabric('env', FIXTURE, 'web-3', '--at', '3s')).code).toBe(0);
  });
});

describe('fabric dns serve (the built binary)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.pid) child.kill('SIGKILL');
    child = undefined;
  });

  function built(): void {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'dns.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  }

  test('serves the state at --at on a free port, answers Node\'s resolver, stops on SIGTERM with exit 0', async () => {
    built();
    child = spawn('node', [BIN, 'dns', 'serve', FIXTURE, '--at', '2s', '--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner after 15 s; stderr: ${err}`)), 15000);
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = / on udp\+tcp 127\.0\.0\.1:(\d+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child!.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    expect(out).toMatch(/^fabric dns: serving cluster\.local at 2s \(5 services, 4 pods\) on udp\+tcp 127\.0\.0\.1:\d+\n$/);
    const resolver = new dnsp.Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`127.0.0.1:${port}`]);
    expect(await resolver.resolve4('cache.default.svc.cluster.local')).toHaveLength(1);
    expect(await resolver.resolve4('web.default.svc.cluster.local')).toEqual([state.services.get('web')!.vip]);
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toMatch(/fabric dns: stopped after \d+ queries \(0 malformed packets dropped\)/);
  });

  test('a port in use: exit 2, one line, no stack trace', async () => {
    built();
    const first = spawn('node', [BIN, 'dns', 'serve', FIXTURE, '--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child = first;
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      first.stdout!.on('data', (d) => {
        out += d;
        const m = /:(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      first.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const r = spawnSync('node', [BIN, 'dns', 'serve', FIXTURE, '--listen', `127.0.0.1:${port}`], { cwd: ROOT, encoding: 'utf8', timeout: 15000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`fabric dns serve: cannot listen on 127.0.0.1:${port}: address in use\n`);
  });
});
