/**
 * fabric/dns/server.ts against independent clients: Node's own resolver (c-ares, over UDP) and raw TCP
 * queries built with dns-packet (2-byte length framing, several queries per connection). On 127.0.0.1,
 * port 0 (a free port, the same for UDP and TCP).
 */
import * as dgram from 'dgram';
import { promises as dnsp } from 'dns';
import * as net from 'net';
import * as path from 'path';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { checkProperty } from '../topology/fc-seed';
import { lookupName } from '../../topology/dns';
import { applyEvent, buildClusterState, cloneClusterState, parseScenarioFile, type ClusterState, type Scenario } from '../../topology';
import { DnsServer, startDnsServer } from '../../fabric/dns/server';

const FIXTURE = path.join(__dirname, 'fixtures', 'dns-cluster.yaml');

function load(): { scenario: Scenario; state: ClusterState } {
  const r = parseScenarioFile(FIXTURE);
  if (!r.scenario) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return { scenario: r.scenario, state: buildClusterState(r.scenario) };
}

/** A fresh resolver each time (c-ares may cache answers per channel). */
function resolver(port: number): dnsp.Resolver {
  const r = new dnsp.Resolver({ timeout: 2000, tries: 2 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Sends raw bytes over UDP; resolves with the reply, or undefined after `ms`. */
function udpRaw(port: number, bytes: Buffer, ms = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, ms);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.send(bytes, port, '127.0.0.1');
  });
}

/** One TCP connection: writes `chunks` (with a pause between them), collects `count` framed replies. */
function tcpExchange(port: number, chunks: Buffer[], count: number): Promise<dnsPacket.DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const replies: dnsPacket.DecodedPacket[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: ${replies.length} of ${count} replies`));
    }, 5000);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        replies.push(dnsPacket.decode(buf.subarray(2, 2 + len)));
        buf = buf.subarray(2 + len);
      }
      if (replies.length >= count) {
        clearTimeout(timer);
        sock.end();
        resolve(replies);
      }
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        sock.write(c);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  });
}

function query(id: number, name: string, type: dnsPacket.RecordType = 'A', extra: Partial<dnsPacket.Packet> = {}): dnsPacket.Packet {
  return { type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }], ...extra };
}

const rcodeOf = (p: dnsPacket.DecodedPacket) => (p as dnsPacket.DecodedPacket & { rcode: string }).rcode;

describe('the cluster DNS server', () => {
  let server: DnsServer;
  let port: number;
  let state: ClusterState;
  let scenario: Scenario;
  const logs: string[] = [];

  beforeAll(async () => {
    ({ scenario, state } = load());
    server = await startDnsServer(state, { host: '127.0.0.1', port: 0, log: (l) => logs.push(l) });
    port = server.address().port;
  });
  afterAll(async () => {
    await server?.close();
  });

  test('listens on UDP and TCP at one port', () => {
    expect(port).toBeGreaterThan(0);
    expect(server.domain).toBe('cluster.local');
  });

  test("Node's resolver gets the VIP of a service, TTL 5 s", async () => {
    const web = state.services.get('web')!.vip;
    expect(await resolver(port).resolve4('web.default.svc.cluster.local')).toEqual([web]);
    expect(await resolver(port).resolve4('WEB.default.svc.Cluster.Local', { ttl: true })).toEqual([{ address: web, ttl: 5 }]);
    expect(await resolver(port).resolve4('db.data.svc.cluster.local')).toEqual([state.services.get('db')!.vip]);
    expect(await resolver(port).resolve4('dns.default.svc.cluster.local')).toEqual(['10.96.0.10']);
  });

  test('pod A records', async () => {
    const pod = state.pods.get('web-2')!;
    expect(await resolver(port).resolve4(`${pod.ip.replace(/\./g, '-')}.default.pod.cluster.local`)).toEqual([pod.ip]);
  });

  test('NXDOMAIN under the domain, REFUSED outside it, NODATA for AAAA of an existing name', async () => {
    expect(await errorCode(resolver(port).resolve4('nope.default.svc.cluster.local'))).toBe('ENOTFOUND');
    expect(await errorCode(resolver(port).resolve4('db.default.svc.cluster.local'))).toBe('ENOTFOUND');
    expect(await errorCode(resolver(port).resolve4('example.com'))).toBe('EREFUSED');
    expect(await errorCode(resolver(port).resolve6('web.default.svc.cluster.local'))).toBe('ENODATA');
  });

  test('the SOA at the apex', async () => {
    const soa = await resolver(port).resolveSoa('cluster.local');
    expect(soa).toMatchObject({ nsname: 'ns.dns.cluster.local', hostmaster: 'hostmaster.cluster.local', minttl: 5 });
  });

  test('raw UDP: AA set, question echoed, SOA in the authority section of NXDOMAIN, NOTIMP, FORMERR, EDNS', async () => {
    const ok = dnsPacket.decode((await udpRaw(port, dnsPacket.encode(query(7, 'web.default.svc.cluster.local'))))!);
    expect(ok).toMatchObject({ id: 7, type: 'response', flag_aa: true, flag_rd: true, flag_ra: false, questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }] });
    expect(rcodeOf(ok)).toBe('NOERROR');
    expect(ok.answers).toEqual([expect.objectContaining({ type: 'A', ttl: 5, data: state.services.get('web')!.vip })]);

    const nx = dnsPacket.decode((await udpRaw(port, dnsPacket.encode(query(8, 'nope.default.svc.cluster.local'))))!);
    expect(rcodeOf(nx)).toBe('NXDOMAIN');
    expect(nx.flag_aa).toBe(true);
    expect(nx.answers).toEqual([]);
    expect(nx.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: 'cluster.local' })]);

    const refused = dnsPacket.decode((await udpRaw(port, dnsPacket.encode(query(9, 'www.example.org'))))!);
    expect(rcodeOf(refused)).toBe('REFUSED');
    expect(refused.flag_aa).toBe(false);

    const notify = dnsPacket.decode((await udpRaw(port, dnsPacket.encode({ ...query(10, 'web.default.svc.cluster.local'), flags: 4 << 11 })))!);
    expect(rcodeOf(notify)).toBe('NOTIMP');
    expect((notify as unknown as { opcode: string }).opcode).toBe('NOTIFY');
    expect(notify.id).toBe(10);

    const two = dnsPacket.decode((await udpRaw(port, dnsPacket.encode({ ...query(11, 'web.default.svc.cluster.local'), questions: [{ type: 'A', name: 'a.cluster.local' }, { type: 'A', name: 'b.cluster.local' }] })))!);
    expect(rcodeOf(two)).toBe('FORMERR');

    const edns = dnsPacket.decode(
      (await udpRaw(port, dnsPacket.encode(query(12, 'web.default.svc.cluster.local', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] }))))!,
    );
    expect(edns.answers).toHaveLength(1);
    expect(edns.additionals).toEqual([expect.objectContaining({ type: 'OPT', udpPayloadSize: 1232 })]);

    const txt = dnsPacket.decode((await udpRaw(port, dnsPacket.encode(query(13, 'web.default.svc.cluster.local', 'TXT'))))!);
    expect(rcodeOf(txt)).toBe('NOERROR');
    expect(txt.answers).toEqual([]);
    expect(txt.authorities).toEqual([expect.objectContaining({ type: 'SOA' })]);
  });

  test('TCP: several queries on one connection, in one write and split across writes', async () => {
    const names = ['web.default.svc.cluster.local', 'nope.default.svc.cluster.local', 'db.data.svc.cluster.local', 'example.com'];
    const frames = names.map((n, i) => dnsPacket.streamEncode(query(100 + i, n)));
    const together = await tcpExchange(port, [Buffer.concat(frames)], names.length);
    expect(together.map((r) => [r.id, rcodeOf(r), r.answers?.map((a) => (a as dnsPacket.StringAnswer).data)])).toEqual([
      [100, 'NOERROR', [state.services.get('web')!.vip]],
      [101, 'NXDOMAIN', []],
      [102, 'NOERROR', [state.services.get('db')!.vip]],
      [103, 'REFUSED', []],
    ]);
    // byte by byte across the boundaries of two frames
    const all = Buffer.concat(frames.slice(0, 2));
    const bytes = [...all].map((b) => Buffer.from([b]));
    const split = await tcpExchange(port, [Buffer.concat(bytes.slice(0, 1)), Buffer.concat(bytes.slice(1, 20)), Buffer.concat(bytes.slice(20, all.length - 3)), Buffer.concat(bytes.slice(all.length - 3))], 2);
    expect(split.map((r) => r.id)).toEqual([100, 101]);
  });

  test('garbage is counted and dropped; the server keeps answering on UDP and TCP', async () => {
    const before = server.stats.malformed;
    const garbage = [Buffer.from([1]), Buffer.from('hello, world'), Buffer.alloc(12, 0xff), Buffer.concat([dnsPacket.encode(query(1, 'web.default.svc.cluster.local')).subarray(0, 20)]), Buffer.alloc(600, 0x3f)];
    for (const g of garbage) expect(await udpRaw(port, g, 200)).toBeUndefined();
    // a response sent to the server is dropped too
    expect(await udpRaw(port, dnsPacket.encode({ ...query(2, 'web.default.svc.cluster.local'), type: 'response' }), 200)).toBeUndefined();
    expect(server.stats.malformed).toBe(before + garbage.length + 1);
    expect(await resolver(port).resolve4('web.default.svc.cluster.local')).toEqual([state.services.get('web')!.vip]);
    // TCP: a garbage frame, an empty frame, then a good query on the same connection
    const bad = Buffer.concat([Buffer.from([0, 5, 1, 2, 3, 4, 5]), Buffer.from([0, 0]), dnsPacket.streamEncode(query(55, 'web.default.svc.cluster.local'))]);
    const replies = await tcpExchange(port, [bad], 1);
    expect(replies.map((r) => r.id)).toEqual([55]);
    expect(server.stats.malformed).toBe(before + garbage.length + 3);
    expect(logs.some((l) => l.startsWith('dns: malformed packet'))).toBe(true);
    // random bytes, many of them
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 300; i++) {
      const len = 1 + (rnd() % 64);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd();
      // look like a query with one question now and then
      if (i % 3 === 0 && len >= 6) {
        b.writeUInt16BE(0x0100, 2);
        b.writeUInt16BE(1, 4);
      }
      const r = server.handle(b);
      expect(r === undefined || Buffer.isBuffer(r)).toBe(true);
    }
    expect(await resolver(port).resolve4('db.data.svc.cluster.local')).toEqual([state.services.get('db')!.vip]);
  });

  test('update(state): answers follow the new state at once', async () => {
    const next = cloneClusterState(state);
    for (const ev of scenario.events) applyEvent(next, ev); // cache added at 2s, web-api deleted at 4s
    expect(await errorCode(resolver(port).resolve4('cache.default.svc.cluster.local'))).toBe('ENOTFOUND');
    server.update(next);
    expect(await resolver(port).resolve4('cache.default.svc.cluster.local')).toEqual([next.services.get('cache')!.vip]);
    expect(await errorCode(resolver(port).resolve4('web-api.default.svc.cluster.local'))).toBe('ENOTFOUND');
    server.update(state);
    expect(await resolver(port).resolve4('web-api.default.svc.cluster.local')).toEqual([state.services.get('web-api')!.vip]);
  });
});

describe('binding', () => {
  test('a port in use is an error from listen(), not a crash', async () => {
    const { state } = load();
    const a = await startDnsServer(state, { port: 0 });
    try {
      await expect(startDnsServer(state, { port: a.address().port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await a.close();
    }
  });

  test('UDP only, another domain', async () => {
    const { state } = load();
    const s = cloneClusterState(state);
    s.cluster = { ...s.cluster, dns: { domain: 'corp.internal' } };
    const srv = await startDnsServer(s, { port: 0, tcp: false });
    try {
      expect(await resolver(srv.address().port).resolve4('web.default.svc.corp.internal')).toEqual([s.services.get('web')!.vip]);
      expect(await errorCode(resolver(srv.address().port).resolve4('web.default.svc.cluster.local'))).toBe('EREFUSED');
    } finally {
      await srv.close();
    }
  });
});

describe('the server agrees with lookupName (property, no sockets)', () => {
  test('rcode, AA and the answer of any A question follow lookupName', () => {
    const { state } = load();
    const server = new DnsServer(state, { port: 0 });
    const known = [...state.services.values()].flatMap((s) => [s.name, s.namespace ?? 'default']);
    const label = fc.oneof(fc.constantFrom(...known, 'svc', 'pod', 'cluster', 'local', 'default', 'data', '10-244-0-2', '10-244-1-2'), fc.stringMatching(/^[a-z0-9-]{1,12}$/));
    const name = fc.oneof(
      fc.array(label, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('.')),
      fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.') + '.cluster.local'),
      fc.tuple(label, label, fc.constantFrom('svc', 'pod')).map(([a, b, k]) => `${a}.${b}.${k}.cluster.local`),
    );
    checkProperty(
      'server = lookupName',
      fc.property(name, fc.integer({ min: 0, max: 65535 }), fc.constantFrom('A', 'AAAA', 'TXT'), (qname, id, qtype) => {
        const reply = server.handle(dnsPacket.encode({ type: 'query', id, questions: [{ type: qtype as dnsPacket.RecordType, name: qname }] }));
        expect(reply).toBeDefined();
        const r = dnsPacket.decode(reply!) as dnsPacket.DecodedPacket & { rcode: string };
        const want = lookupName(state, qname);
        expect(r.id).toBe(id);
        expect(r.rcode).toBe({ answer: 'NOERROR', nodata: 'NOERROR', nxdomain: 'NXDOMAIN', outside: 'REFUSED' }[want.status]);
        expect(r.flag_aa).toBe(want.status !== 'outside');
        const ips = (r.answers ?? []).filter((a) => a.type === 'A').map((a) => (a as dnsPacket.StringAnswer).data);
        expect(ips).toEqual(want.status === 'answer' && qtype === 'A' ? [want.answer.ip] : []);
      }),
      300,
    );
  });
});
