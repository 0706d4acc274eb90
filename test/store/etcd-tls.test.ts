/**
 * TLS between the controller and etcd (`--store etcds://... --etcd-ca --etcd-cert --etcd-key`,
 * docs/ha.md): a real three-member etcd cluster (etcd-server 3.4 on 127.0.0.1 high ports) with a
 * throwaway CA made by openssl, https client and peer URLs and `--client-cert-auth`. Append, load and
 * watch work with the client certificate; without it, with a CA that did not sign etcd's certificate,
 * with a client certificate from another CA, or with a server certificate that does not name the
 * host, the store's calls reject (quickly, with a TLS error
 * that says why) instead of hanging. The flag and URL errors of parseEtcdUrl/openStore are checked
 * without etcd. One real controller (child process, private OVS with the dummy datapath) runs on the
 * etcds:// store and reports it in GET /state.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { EtcdConfigError, EtcdStore, EtcdTlsError, LogStore, openStore, parseEtcdUrl } from '../../fabric/store';
import type { IntentBatch, StoredBatch } from '../../fabric/store';
import { EtcdCluster, makeTestCa, makeTestCert, startEtcdCluster } from './support/etcd';
import { api, ControllerChild, startControllerChild, waitFor } from './support/child';
import { mgmt, PrivateOvs, startPrivateOvs } from '../support/ovs';

const FIXTURE = path.join(__dirname, '..', 'lab', 'fixtures', 'two-nodes.yaml');

let etcd: EtcdCluster;
let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-etcd-tls-'));
  etcd = await startEtcdCluster(3, { tls: true });
}, 60_000);
afterAll(async () => {
  await etcd?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const pod = (name: string): IntentBatch => ({ source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name, node: 'node1', labels: {}, ip: '10.244.1.7' }] });
const clientTls = (): { ca: string; cert: string; key: string } => ({ ca: etcd.tls!.ca, cert: etcd.tls!.cert, key: etcd.tls!.key });

/** the promise rejects, within `ms`; returns the error */
async function rejectsWithin(p: Promise<unknown>, ms: number): Promise<{ err: Error; ms: number }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    p.then(
      () => ({ kind: 'resolved' as const }),
      (err: Error) => ({ kind: 'rejected' as const, err }),
    ),
    new Promise<{ kind: 'hung' }>((resolve) => (timer = setTimeout(() => resolve({ kind: 'hung' }), ms))),
  ]);
  clearTimeout(timer);
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejection within ${ms} ms, got: ${outcome.kind}`);
  return { err: outcome.err, ms: Date.now() - t0 };
}

describe('flags and URLs (no etcd)', () => {
  test('parseEtcdUrl: etcds:// gives https hosts and the files read; etcd:// unchanged', () => {
    expect(parseEtcdUrl('etcd://127.0.0.1:2379')).toEqual({ hosts: ['http://127.0.0.1:2379'], prefix: '/fabric' });
    const t = parseEtcdUrl('etcds://127.0.0.1:1,localhost:2/x/', clientTls());
    expect(t.hosts).toEqual(['https://127.0.0.1:1', 'https://localhost:2']);
    expect(t.prefix).toBe('/x');
    expect(t.tls!.ca!.toString()).toBe(fs.readFileSync(etcd.tls!.ca, 'utf8'));
    expect(t.tls!.cert!.toString()).toContain('BEGIN CERTIFICATE');
    expect(t.tls!.key!.toString()).toContain('PRIVATE KEY');
    // etcds:// without any file: the system roots, no client certificate
    expect(parseEtcdUrl('etcds://127.0.0.1:1')).toEqual({ hosts: ['https://127.0.0.1:1'], prefix: '/fabric', tls: {} });
    expect(() => parseEtcdUrl('https://127.0.0.1:1')).toThrow(/etcds:\/\//);
  });

  test('TLS flags with a plain etcd:// URL, another store or no store are refused', () => {
    const bad = (f: () => unknown, re: RegExp): void => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EtcdConfigError);
      expect((err as Error).message).toMatch(re);
      expect((err as { exitCode: number }).exitCode).toBe(2);
    };
    bad(() => parseEtcdUrl('etcd://127.0.0.1:1', { ca: etcd.tls!.ca }), /--etcd-ca: TLS to etcd needs --store etcds:\/\/.*plain etcd:\/\//);
    bad(() => openStore({ store: 'etcd://127.0.0.1:1', etcdTls: clientTls() }), /--etcd-ca --etcd-cert --etcd-key: TLS to etcd needs --store etcds:\/\//);
    bad(() => openStore({ store: 'memory', etcdTls: { cert: etcd.tls!.cert, key: etcd.tls!.key } }), /needs --store etcds:\/\/.*is not etcd/);
    bad(() => openStore({ stateDir: tmp, etcdTls: { ca: etcd.tls!.ca } }), /needs --store etcds:\/\/.*no --store/);
    // and nothing was opened: no log in the state dir
    expect(fs.existsSync(path.join(tmp, 'intent.log'))).toBe(false);
  });

  test('a certificate without its key, a key without its certificate, files that are missing or wrong', () => {
    const url = 'etcds://127.0.0.1:1';
    const bad = (tls: Record<string, string>, re: RegExp): void => {
      let err: unknown;
      try {
        openStore({ store: url, etcdTls: tls });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EtcdConfigError);
      expect((err as Error).message).toMatch(re);
    };
    bad({ cert: etcd.tls!.cert }, /--etcd-cert .*client\.crt: give its private key with --etcd-key/);
    bad({ ca: etcd.tls!.ca, key: etcd.tls!.key }, /--etcd-key .*client\.key: give its certificate with --etcd-cert/);
    bad({ ca: path.join(tmp, 'missing-ca.crt') }, /--etcd-ca .*missing-ca\.crt: cannot read it \(ENOENT\)/);
    bad({ cert: path.join(tmp, 'missing.crt'), key: etcd.tls!.key }, /--etcd-cert .*missing\.crt: cannot read it \(ENOENT\)/);
    bad({ cert: etcd.tls!.cert, key: path.join(tmp, 'missing.key') }, /--etcd-key .*missing\.key: cannot read it \(ENOENT\)/);
    bad({ ca: tmp }, /--etcd-ca .*: cannot read it \(EISDIR\)/);
    const junk = path.join(tmp, 'junk.pem');
    fs.writeFileSync(junk, 'not a certificate\n');
    bad({ ca: junk }, /--etcd-ca .*junk\.pem: no PEM certificate in it/);
    bad({ cert: junk, key: etcd.tls!.key }, /--etcd-cert .*junk\.pem: no PEM certificate in it/);
    bad({ cert: etcd.tls!.cert, key: junk }, /--etcd-key .*junk\.pem: not a PEM private key/);
    // the server's key is not the client certificate's key
    bad({ cert: etcd.tls!.cert, key: etcd.tls!.serverKey }, /--etcd-key .*server\.key: does not match the certificate in --etcd-cert .*client\.crt/);
    // a good set opens (nothing is dialled until the first call)
    const s = openStore({ store: url, etcdTls: clientTls() });
    expect(s).toBeInstanceOf(EtcdStore);
    expect(s.describe).toBe('etcds://127.0.0.1:1/fabric');
    void s.close();
    // no TLS flags: as before
    expect(openStore({ store: 'memory', etcdTls: {} })).not.toBeInstanceOf(LogStore);
  });
});

describe('a TLS etcd cluster (client-cert-auth)', () => {
  test('written through one store, seen through another store\'s watch and load, over TLS', async () => {
    expect(etcd.url('/ttls1')).toMatch(/^etcds:\/\/127\.0\.0\.1:\d+,/);
    const a = EtcdStore.open(etcd.url('/ttls1', [0]), clientTls());
    const b = EtcdStore.open(etcd.url('/ttls1', [2]), clientTls());
    try {
      expect(a.describe).toBe(etcd.url('/ttls1', [0]));
      expect(await a.load()).toEqual({ revision: 0, batches: [] });
      const seen: StoredBatch[] = [];
      b.watch(0, (x) => seen.push(x));
      const t0 = Date.now();
      const revs: number[] = [];
      for (let i = 1; i <= 10; i++) revs.push(await a.append(pod(`p${i}`)));
      const appendMs = (Date.now() - t0) / 10;
      expect(revs).toEqual([...Array(10).keys()].map((i) => i + 1));
      await waitFor('the watch to deliver 10 batches', () => (seen.length === 10 ? true : undefined), 10_000, 10);
      expect(seen.map((x) => x.revision)).toEqual(revs);
      expect((await b.load()).batches).toEqual(seen);
      // the fenced transaction (HA) over TLS too
      await a.client.put('/ttls1/election/x').value('me');
      const rev = String((await a.client.get('/ttls1/election/x').exec()).kvs[0].create_revision);
      a.fence = () => ({ key: '/ttls1/election/x', createRevision: rev });
      expect(await a.append(pod('fenced'))).toBe(11);
      await waitFor('the fenced batch', () => (seen.length === 11 ? true : undefined), 10_000, 10);
      process.stdout.write(`etcd store over TLS: append ${appendMs.toFixed(1)} ms each (3-member quorum on loopback)\n`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('without a client certificate: a clear error, not a hang', async () => {
    const s = EtcdStore.open(etcd.url('/ttls2'), { ca: etcd.tls!.ca });
    try {
      const load = await rejectsWithin(s.load(), 10_000);
      expect(load.err).toBeInstanceOf(EtcdTlsError);
      expect(load.err.message).toMatch(/^etcds:\/\/.*: TLS to etcd failed: etcd refused the client certificate \(give --etcd-cert and --etcd-key/);
      const append = await rejectsWithin(s.append(pod('x')), 10_000);
      expect(append.err).toBeInstanceOf(EtcdTlsError);
      process.stdout.write(`no client certificate: load rejected after ${load.ms} ms, append after ${append.ms} ms\n`);
    } finally {
      await s.close();
    }
  });

  test('a CA that did not sign etcd\'s certificate, or a client certificate from another CA: refused', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'other-'));
    const other = makeTestCa(dir, 'other-ca');
    const otherClient = makeTestCert(dir, other, 'other-client', 'intruder', ['basicConstraints=CA:FALSE', 'extendedKeyUsage=clientAuth']);
    // wrong CA: we do not trust etcd
    const wrongCa = EtcdStore.open(etcd.url('/ttls3'), { ca: other.cert, cert: etcd.tls!.cert, key: etcd.tls!.key });
    // no CA: the system roots do not have the throwaway CA either
    const noCa = EtcdStore.open(etcd.url('/ttls3'), { cert: etcd.tls!.cert, key: etcd.tls!.key });
    // right CA, client certificate from another CA: etcd does not trust us
    const foreign = EtcdStore.open(etcd.url('/ttls3'), { ca: etcd.tls!.ca, cert: otherClient.cert, key: otherClient.key });
    // plain etcd:// against TLS members
    const plain = EtcdStore.open(etcd.url('/ttls3').replace(/^etcds:/, 'etcd:'));
    try {
      for (const s of [wrongCa, noCa]) {
        const r = await rejectsWithin(s.load(), 10_000);
        expect(r.err).toBeInstanceOf(EtcdTlsError);
        expect(r.err.message).toMatch(/etcd's server certificate is not trusted \(is it signed by the CA in --etcd-ca\?\)/);
        await rejectsWithin(s.append(pod('x')), 10_000);
      }
      const r = await rejectsWithin(foreign.load(), 10_000);
      expect(r.err).toBeInstanceOf(EtcdTlsError);
      expect(r.err.message).toMatch(/etcd refused the client certificate/);
      const p = await rejectsWithin(plain.load(), 10_000);
      process.stdout.write(`plain etcd:// against TLS etcd: rejected after ${p.ms} ms: ${p.err.message.split('\n')[0]}\n`);
      // nothing was written by any of them
      const good = EtcdStore.open(etcd.url('/ttls3'), clientTls());
      expect(await good.load()).toEqual({ revision: 0, batches: [] });
      await good.close();
    } finally {
      for (const s of [wrongCa, noCa, foreign, plain]) await s.close();
    }
  });
});

test('a server certificate that does not name the host in --store is refused', async () => {
  // a TLS server on loopback with a certificate from the right CA, but for another name only
  const dir = fs.mkdtempSync(path.join(tmp, 'name-'));
  const other = makeTestCert(dir, { cert: etcd.tls!.ca, key: etcd.tls!.caKey }, 'elsewhere', 'elsewhere', ['basicConstraints=CA:FALSE', 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:elsewhere.invalid']);
  const server = tls.createServer({ cert: fs.readFileSync(other.cert), key: fs.readFileSync(other.key), ALPNProtocols: ['h2'] }, (sock) => sock.destroy());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const s = EtcdStore.open(`etcds://127.0.0.1:${port}/ttls7`, clientTls());
  try {
    const r = await rejectsWithin(s.load(), 10_000);
    expect(r.err).toBeInstanceOf(EtcdTlsError);
    expect(r.err.message).toMatch(/etcd's server certificate does not name the host in --store/);
  } finally {
    await s.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('the controller on an etcds:// store', () => {
  let ovs: PrivateOvs;
  const children: ControllerChild[] = [];
  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  }, 60_000);
  afterAll(async () => {
    for (const c of children) await c.kill9();
    await ovs?.stop();
  });

  test('TLS flags with a plain etcd:// store: exit 2 with the reason', async () => {
    const file = path.join(tmp, 'two-nodes.yaml');
    fs.copyFileSync(FIXTURE, file);
    const child = startControllerChild([file, '--ovsdb', ovs.dbUrl, '--listen', `unix:${path.join(ovs.dir, 'ttls-bad.sock')}`, '--store', etcd.url('/ttls4').replace(/^etcds:/, 'etcd:'), '--etcd-ca', etcd.tls!.ca, '--datapath-type', 'dummy', '--summary', '0']);
    children.push(child);
    expect(await child.exited).toBe(2);
    expect(child.stderr.join('\n')).toMatch(/fabric controller: --etcd-ca: TLS to etcd needs --store etcds:\/\//);
    const noKey = startControllerChild([file, '--ovsdb', ovs.dbUrl, '--listen', `unix:${path.join(ovs.dir, 'ttls-bad.sock')}`, '--store', etcd.url('/ttls4'), '--etcd-cert', etcd.tls!.cert, '--datapath-type', 'dummy', '--summary', '0']);
    children.push(noKey);
    expect(await noKey.exited).toBe(2);
    expect(noKey.stderr.join('\n')).toMatch(/--etcd-cert .*: give its private key with --etcd-key/);
    const missing = startControllerChild([file, '--ovsdb', ovs.dbUrl, '--listen', `unix:${path.join(ovs.dir, 'ttls-bad.sock')}`, '--store', etcd.url('/ttls4'), '--etcd-ca', path.join(tmp, 'nope.crt'), '--datapath-type', 'dummy', '--summary', '0']);
    children.push(missing);
    expect(await missing.exited).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(/fabric controller: --etcd-ca .*nope\.crt: cannot read it \(ENOENT\)/);
  }, 60_000);

  test('etcd refuses the controller (no client certificate): it exits with the reason, it does not hang', async () => {
    const file = path.join(tmp, 'two-nodes.yaml');
    fs.copyFileSync(FIXTURE, file);
    const child = startControllerChild([file, '--ovsdb', ovs.dbUrl, '--listen', `unix:${path.join(ovs.dir, 'ttls-nocert.sock')}`, '--store', etcd.url('/ttls6'), '--etcd-ca', etcd.tls!.ca, '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0']);
    children.push(child);
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([child.exited, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 20_000)))]);
    clearTimeout(timer);
    expect(code).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(child.stderr.join('\n')).toMatch(/fabric controller: etcds:\/\/.*: TLS to etcd failed: etcd refused the client certificate/);
    process.stdout.write(`controller without a client certificate: exit ${code} after ${Date.now() - t0} ms\n`);
  }, 60_000);

  test('GET /state shows the etcds:// store; an API pod is stored in etcd over TLS', async () => {
    const file = path.join(tmp, 'two-nodes.yaml');
    fs.copyFileSync(FIXTURE, file);
    const sock = path.join(tmp, 'api.sock');
    const url = etcd.url('/ttls5');
    const child = startControllerChild([
      file, '--ovsdb', ovs.dbUrl, '--listen', `unix:${path.join(ovs.dir, 'ttls-ctl.sock')}`, '--api', `unix:${sock}`,
      '--store', url, '--etcd-ca', etcd.tls!.ca, '--etcd-cert', etcd.tls!.cert, '--etcd-key', etcd.tls!.key,
      '--lease-ttl', '2', '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0',
    ]);
    children.push(child);
    const { value: state } = await waitFor('the controller to lead and converge', async () => {
      if (child.proc.exitCode !== null) throw new Error(`controller exited ${child.proc.exitCode}: ${child.stderr.join('\n')}`);
      const s = await api(sock, 'GET', '/state').catch(() => undefined);
      return s?.status === 200 && s.body.ha?.role === 'leader' && s.body.switchesConnected === 3 && s.body.passes > 0 ? s.body : undefined;
    }, 60_000);
    expect(state.store.describe).toBe(url);
    expect(state.store.describe.startsWith('etcds://')).toBe(true);
    const r = await api(sock, 'POST', '/events', [{ kind: 'pod', action: 'add', name: 'tls-pod', node: 'node1', labels: { app: 'web' } }]);
    expect(r.status).toBe(200);
    const s = EtcdStore.open(url, clientTls());
    try {
      const { batches } = await s.load();
      expect(batches.flatMap((b) => b.events.map((e) => (e as { name?: string }).name))).toContain('tls-pod');
    } finally {
      await s.close();
    }
    // the leader programs the switches (flows with our cookies on node1)
    await waitFor('flows on node1', () => (ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', mgmt(ovs, 'node1')).split('\n').some((l) => l.includes('cookie=')) ? true : undefined), 15_000, 100);
    await child.stop();
  }, 90_000);
});
