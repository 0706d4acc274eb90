/**
 * The cluster DNS: an authoritative server for the cluster domain on UDP and TCP (docs/discovery.md).
 *
 * Messages are read and written by the `dns-packet` library (no DNS parsing of ours); what a name means
 * comes from topology/dns.ts (`lookupName`), the same logic as `fabric dns resolve`, `fabric env` and the
 * simulator. Answers:
 * - A (or ANY) of a service or pod name: its address, TTL 5 s, AA set;
 * - another type (AAAA, TXT, ...) of an existing name, or a name that exists without an address
 *   (the apex, `svc.<domain>`, `<ns>.svc.<domain>`, ...): NOERROR, no answer, the zone's SOA in the
 *   authority section (RFC 2308 NODATA); SOA at the apex is answered;
 * - an unknown name under the domain: NXDOMAIN (rcode 3), AA set, SOA in the authority section;
 * - a name outside the domain, or a class other than IN/ANY: REFUSED (rcode 5; no recursion here);
 * - an opcode other than QUERY: NOTIMP (rcode 4); not exactly one question: FORMERR (rcode 1);
 * - a packet the library cannot decode, or a response: counted (`stats.malformed`) and dropped.
 * TCP: messages framed by a 2-byte length (RFC 1035 §4.2.2), any number per connection, in order; a
 * connection idle for 30 s is closed. Nothing a client sends makes the server throw.
 *
 * `update(state)` replaces the state answers come from (the controller calls it after events); the
 * server reads `state` at each query and keeps no index, so in-place changes (applyEvent) are seen too.
 */
import * as dgram from 'dgram';
import * as net from 'net';
import * as dnsPacket from 'dns-packet';
import type { ClusterState } from '../../topology/types';
import { dnsDomain, DNS_TTL, lookupName } from '../../topology/dns';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsServerOptions {
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** port for both UDP and TCP (default 53; 0: a free port, the same for both) */
  port?: number;
  /** default true */
  udp?: boolean;
  /** default true */
  tcp?: boolean;
  /** TTL of answers in seconds (default 5) */
  ttl?: number;
  /** idle TCP connections are closed after this many ms (default 30000) */
  tcpIdleMs?: number;
  /** one line per notable event (malformed packets, socket errors); default: nothing */
  log?: (line: string) => void;
}

export interface DnsServerStats {
  /** queries answered, by rcode name */
  queries: number;
  noerror: number;
  nxdomain: number;
  refused: number;
  notimp: number;
  formerr: number;
  servfail: number;
  /** packets dropped because they could not be decoded (or were responses, or empty TCP frames) */
  malformed: number;
  tcpConnections: number;
}

interface DecodedQuery extends dnsPacket.DecodedPacket {
  opcode?: string;
  rcode?: string;
}

/** UDP answers larger than this (without EDNS) are truncated (TC set, answers dropped: retry over TCP). */
const UDP_PLAIN_MAX = 512;
/** the EDNS payload size we advertise and honour at most */
const EDNS_PAYLOAD = 1232;
/** a TCP client that keeps more than this unframed is cut off */
const TCP_MAX_BUFFER = 4 * 65537;

export class DnsServer {
  private state: ClusterState;
  private readonly opts: Required<Omit<DnsServerOptions, 'log'>> & { log?: (line: string) => void };
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private boundPort = 0;
  /** the SOA serial: bumped by every update() */
  private serial = 1;
  readonly stats: DnsServerStats = { queries: 0, noerror: 0, nxdomain: 0, refused: 0, notimp: 0, formerr: 0, servfail: 0, malformed: 0, tcpConnections: 0 };

  constructor(state: ClusterState, opts: DnsServerOptions = {}) {
    this.state = state;
    this.opts = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 53,
      udp: opts.udp ?? true,
      tcp: opts.tcp ?? true,
      ttl: opts.ttl ?? DNS_TTL,
      tcpIdleMs: opts.tcpIdleMs ?? 30_000,
      ...(opts.log ? { log: opts.log } : {}),
    };
    if (!this.opts.udp && !this.opts.tcp) throw new Error('dns server: neither UDP nor TCP');
  }

  /** Answers from this state from now on. */
  update(state: ClusterState): void {
    this.state = state;
    this.serial = (this.serial + 1) >>> 0 || 1;
  }

  /** The domain served now. */
  get domain(): string {
    return dnsDomain(this.state);
  }

  /** Where it listens (after listen()). */
  address(): { host: string; port: number } {
    return { host: this.opts.host, port: this.boundPort };
  }

  /** Binds UDP and TCP to the same port (with port 0: a free one, tried a few times). */
  async listen(): Promise<{ host: string; port: number }> {
    const attempts = this.opts.port === 0 ? 10 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        let port = this.opts.port;
        if (this.opts.udp) port = await this.bindUdp(port);
        if (this.opts.tcp) port = await this.bindTcp(port);
        this.boundPort = port;
        return this.address();
      } catch (err) {
        lastErr = err;
        await this.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.opts.port !== 0) break;
      }
    }
    throw lastErr;
  }

  private bindUdp(port: number): Promise<number> {
    const family = net.isIPv6(this.opts.host) ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type: family, reuseAddr: false });
    this.udp = sock;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      sock.once('error', onError);
      sock.bind(port, this.opts.host, () => {
        sock.off('error', onError);
        sock.on('error', (err) => this.opts.log?.(`dns: udp socket error: ${err.message}`));
        sock.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
        resolve(sock.address().port);
      });
    });
  }

  private bindTcp(port: number): Promise<number> {
    const server = net.createServer((socket) => this.onTcp(socket));
    this.tcp = server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ port, host: this.opts.host, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.log?.(`dns: tcp server error: ${err.message}`));
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops listening and closes every TCP connection. */
  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all([
      udp ? new Promise<void>((r) => { try { udp.close(() => r()); } catch { r(); } }) : Promise.resolve(),
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : Promise.resolve(),
    ]);
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.handle(msg, 'udp');
    if (!reply || !this.udp) return;
    this.udp.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err) this.opts.log?.(`dns: udp send to ${rinfo.address}:${rinfo.port}: ${err.message}`);
    });
  }

  private onTcp(socket: net.Socket): void {
    this.stats.tcpConnections++;
    this.sockets.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    socket.setTimeout(this.opts.tcpIdleMs, () => socket.destroy());
    socket.on('error', (err) => this.opts.log?.(`dns: tcp connection error: ${err.message}`));
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > TCP_MAX_BUFFER) {
        this.stats.malformed++;
        socket.destroy();
        return;
      }
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        if (len === 0) {
          this.stats.malformed++;
          continue;
        }
        const reply = this.handle(Buffer.from(msg), 'tcp');
        if (reply && !socket.destroyed) {
          const frame = Buffer.alloc(2 + reply.length);
          frame.writeUInt16BE(reply.length, 0);
          reply.copy(frame, 2);
          socket.write(frame);
        }
      }
    });
  }

  /**
   * One query in, its response out (undefined: dropped). Exposed for tests and for callers with their
   * own transport. Never throws.
   */
  handle(msg: Buffer, transport: 'udp' | 'tcp' = 'udp'): Buffer | undefined {
    let q: DecodedQuery;
    try {
      q = dnsPacket.decode(msg) as DecodedQuery;
    } catch (err) {
      this.stats.malformed++;
      this.opts.log?.(`dns: malformed packet (${msg.length} bytes): ${(err as Error).message}`);
      return undefined;
    }
    if (q.flag_qr) {
      this.stats.malformed++;
      this.opts.log?.('dns: dropped a response sent to the server');
      return undefined;
    }
    try {
      return this.answer(q, transport);
    } catch (err) {
      // an answer the library cannot encode (a question it decoded but cannot write back): SERVFAIL without the question
      this.opts.log?.(`dns: cannot answer: ${(err as Error).message}`);
      try {
        return this.encode(q, RCODE.SERVFAIL, { questions: [] });
      } catch {
        this.stats.malformed++;
        return undefined;
      }
    }
  }

  private answer(q: DecodedQuery, transport: 'udp' | 'tcp'): Buffer {
    const questions = q.questions ?? [];
    const opcode = ((q.flags ?? 0) >> 11) & 0xf;
    if (opcode !== 0) return this.encode(q, RCODE.NOTIMP, { questions });
    if (questions.length !== 1) return this.encode(q, RCODE.FORMERR, { questions });
    const question = questions[0];
    const klass = (question.class ?? 'IN').toUpperCase();
    if (klass !== 'IN' && klass !== 'ANY') return this.encode(q, RCODE.REFUSED, { questions });
    const type = String(question.type).toUpperCase();
    const r = lookupName(this.state, question.name);
    if (r.status === 'outside') return this.encode(q, RCODE.REFUSED, { questions });
    const soa = this.soa();
    if (r.status === 'nxdomain') return this.encode(q, RCODE.NXDOMAIN, { questions, authorities: [soa], aa: true }, transport);
    const answers: dnsPacket.Answer[] = [];
    if (r.status === 'answer' && (type === 'A' || type === 'ANY')) answers.push({ type: 'A', name: question.name, ttl: this.opts.ttl, class: 'IN', data: r.answer.ip });
    if (r.status === 'nodata' && r.name === this.domain && (type === 'SOA' || type === 'ANY')) answers.push({ ...soa, name: question.name });
    return this.encode(q, RCODE.NOERROR, { questions, answers, ...(answers.length === 0 ? { authorities: [soa] } : {}), aa: true }, transport);
  }

  /** The zone's SOA (RFC 2308: its minimum is the negative-caching TTL). */
  private soa(): dnsPacket.SoaAnswer {
    const d = this.domain;
    return {
      type: 'SOA',
      name: d,
      ttl: this.opts.ttl,
      class: 'IN',
      data: { mname: `ns.dns.${d}`, rname: `hostmaster.${d}`, serial: this.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: this.opts.ttl },
    };
  }

  private encode(
    q: DecodedQuery,
    rcode: number,
    parts: { questions: dnsPacket.Question[]; answers?: dnsPacket.Answer[]; authorities?: dnsPacket.Answer[]; aa?: boolean },
    transport: 'udp' | 'tcp' = 'udp',
  ): Buffer {
    const opcode = ((q.flags ?? 0) >> 11) & 0xf;
    const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    const additionals: dnsPacket.Answer[] = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
    const packet: dnsPacket.Packet = {
      type: 'response',
      id: q.id ?? 0,
      flags: (opcode << 11) | (parts.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rd | rcode,
      questions: parts.questions,
      answers: parts.answers ?? [],
      authorities: parts.authorities ?? [],
      additionals,
    };
    let out = dnsPacket.encode(packet);
    if (transport === 'udp') {
      const max = opt ? Math.max(UDP_PLAIN_MAX, Math.min(opt.udpPayloadSize || UDP_PLAIN_MAX, EDNS_PAYLOAD)) : UDP_PLAIN_MAX;
      if (out.length > max) out = dnsPacket.encode({ ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] });
    }
    this.count(rcode);
    return out;
  }

  private count(rcode: number): void {
    this.stats.queries++;
    if (rcode === RCODE.NOERROR) this.stats.noerror++;
    else if (rcode === RCODE.NXDOMAIN) this.stats.nxdomain++;
    else if (rcode === RCODE.REFUSED) this.stats.refused++;
    else if (rcode === RCODE.NOTIMP) this.stats.notimp++;
    else if (rcode === RCODE.FORMERR) this.stats.formerr++;
    else if (rcode === RCODE.SERVFAIL) this.stats.servfail++;
  }
}

/** Creates a server and binds it: the usual way to start one. */
export async function startDnsServer(state: ClusterState, opts: DnsServerOptions = {}): Promise<DnsServer> {
  const server = new DnsServer(state, opts);
  await server.listen();
  return server;
}
