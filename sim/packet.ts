/**
 * The simulator's packet model. A packet is what Open vSwitch calls a flow key: one 32-bit word
 * array holding every match field of the flow IR (fabric/openflow/fields.ts), big-endian word order
 * for wider fields, plus the header bits no field exposes (TTL, TCP flags, ICMP echo id, size).
 *
 * Wire headers (eth, arp, ipv4, tcp/udp/icmp) travel between switches; pipeline metadata (in_port,
 * metadata, registers, ct_*, pkt_mark, dp_hash) is per switch pass and is cleared when a packet
 * leaves a switch (`toWire`). Tunnel metadata (tun_*, tunnel_id) exists only on tunnel ports.
 */
import { FIELDS, fullMask } from '../fabric/openflow/fields';
import type { FieldName } from '../fabric/openflow/flow';

/** Fields that are another field's narrower view: NXM_OF_IN_PORT is the 16-bit in_port. */
const ALIASES: Partial<Record<string, string>> = { in_port_nxm: 'in_port' };

export interface FieldSlot {
  /** index of the first (most significant) word */
  offset: number;
  words: number;
  bits: number;
}

/** the word layout, in the order of the field table */
export const SLOTS: ReadonlyMap<FieldName, FieldSlot> = (() => {
  const m = new Map<FieldName, FieldSlot>();
  let offset = 0;
  for (const spec of FIELDS.values()) {
    const alias = ALIASES[spec.name];
    if (alias) continue;
    const words = Math.ceil(spec.bits / 32);
    m.set(spec.name, { offset, words, bits: spec.bits });
    offset += words;
  }
  // views of another field (OVS keeps one value): the low bits of its last word
  for (const spec of FIELDS.values()) {
    const of = ALIASES[spec.name];
    if (!of) continue;
    const base = m.get(of as FieldName);
    if (base) m.set(spec.name, { offset: base.offset + base.words - 1, words: 1, bits: spec.bits });
  }
  return m;
})();

export const KEY_WORDS: number = [...SLOTS.values()].reduce((n, s) => n + s.words, 0);

export function slotOf(field: FieldName): FieldSlot {
  const s = SLOTS.get(field);
  if (!s) throw new Error(`packet: unknown field ${field}`);
  return s;
}

/** offsets used on hot paths */
export const S = {
  in_port: slotOf('in_port').offset,
  eth_type: slotOf('eth_type').offset,
  ip_proto: slotOf('ip_proto').offset,
  ipv4_src: slotOf('ipv4_src').offset,
  ipv4_dst: slotOf('ipv4_dst').offset,
  tcp_src: slotOf('tcp_src').offset,
  tcp_dst: slotOf('tcp_dst').offset,
  udp_src: slotOf('udp_src').offset,
  udp_dst: slotOf('udp_dst').offset,
  icmpv4_type: slotOf('icmpv4_type').offset,
  icmpv4_code: slotOf('icmpv4_code').offset,
  arp_op: slotOf('arp_op').offset,
  arp_spa: slotOf('arp_spa').offset,
  arp_tpa: slotOf('arp_tpa').offset,
  ct_state: slotOf('ct_state').offset,
  ct_zone: slotOf('ct_zone').offset,
  ct_mark: slotOf('ct_mark').offset,
  tun_ipv4_src: slotOf('tun_ipv4_src').offset,
  tun_ipv4_dst: slotOf('tun_ipv4_dst').offset,
  tunnel_id: slotOf('tunnel_id').offset,
  dp_hash: slotOf('dp_hash').offset,
} as const;

/** fields that are per switch pass (cleared on output) */
const PIPELINE_FIELDS: FieldName[] = [
  'in_port', 'metadata', 'pkt_mark', 'ct_state', 'ct_zone', 'ct_mark', 'ct_label', 'dp_hash',
  'reg0', 'reg1', 'reg2', 'reg3', 'reg4', 'reg5', 'reg6', 'reg7',
  'reg8', 'reg9', 'reg10', 'reg11', 'reg12', 'reg13', 'reg14', 'reg15',
];
const TUNNEL_FIELDS: FieldName[] = ['tunnel_id', 'tun_ipv4_src', 'tun_ipv4_dst'];
const PIPELINE_WORDS: number[] = PIPELINE_FIELDS.flatMap((f) => wordsOf(f));
const TUNNEL_WORDS: number[] = TUNNEL_FIELDS.flatMap((f) => wordsOf(f));

function wordsOf(f: FieldName): number[] {
  const s = slotOf(f);
  return Array.from({ length: s.words }, (_, i) => s.offset + i);
}

export const ETH_TYPE_IP = 0x0800;
export const ETH_TYPE_ARP = 0x0806;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const TCP_SYN = 0x02;
export const TCP_ACK = 0x10;
export const TCP_RST = 0x04;

/**
 * The key words, each a signed 32-bit integer. A plain packed array rather than an Int32Array:
 * V8 allocates a 240-byte typed array off-heap, which made cloning packets the top cost of a walk.
 */
export type PacketKey = number[];

export class Packet {
  /** the flow key: every IR field, as 32-bit words (always stored `| 0`) */
  readonly key: PacketKey;
  /** IPv4 TTL (no IR field exposes it; dec_ttl changes it) */
  ttl: number;
  tcpFlags: number;
  /** ICMP echo identifier: conntrack's "port" for ICMP */
  icmpId: number;
  sizeBytes: number;
  /** a label that ties the packet to the probe that sent it (for traces) */
  probe: string;
  /**
   * Overlay: the packet this one carries (an outer IPv4/UDP tunnel packet between node IPs carries the
   * pod's frame, with its tunnel metadata), restored by the receiving node's tunnel port.
   */
  inner?: Packet;

  constructor(key?: PacketKey) {
    this.key = key ?? new Array<number>(KEY_WORDS).fill(0);
    this.ttl = 64;
    this.tcpFlags = 0;
    this.icmpId = 0;
    this.sizeBytes = 64;
    this.probe = '';
  }

  clone(): Packet {
    const p = new Packet(this.key.slice());
    p.ttl = this.ttl;
    p.tcpFlags = this.tcpFlags;
    p.icmpId = this.icmpId;
    p.sizeBytes = this.sizeBytes;
    p.probe = this.probe;
    if (this.inner) p.inner = this.inner.clone();
    return p;
  }

  /** a copy as it appears on a wire: pipeline metadata cleared; tunnel metadata kept only if asked */
  toWire(keepTunnel = false): Packet {
    return this.clone().stripToWire(keepTunnel);
  }

  /** in place: clear pipeline metadata (and tunnel metadata unless asked to keep it) */
  stripToWire(keepTunnel = false): Packet {
    const k = this.key;
    for (let i = 0; i < PIPELINE_WORDS.length; i++) k[PIPELINE_WORDS[i]!] = 0;
    if (!keepTunnel) for (let i = 0; i < TUNNEL_WORDS.length; i++) k[TUNNEL_WORDS[i]!] = 0;
    return this;
  }

  /** read a field of up to 32 bits as an unsigned number */
  u32(offset: number): number {
    return this.key[offset]! >>> 0;
  }

  get(field: FieldName): bigint {
    const s = slotOf(field);
    let v = 0n;
    for (let i = 0; i < s.words; i++) v = (v << 32n) | BigInt(this.key[s.offset + i]! >>> 0);
    return v;
  }

  set(field: FieldName, value: bigint, mask?: bigint): void {
    const s = slotOf(field);
    const full = fullMask(field);
    const m = mask === undefined ? full : mask & full;
    const next = (this.get(field) & ~m) | (value & m);
    for (let i = s.words - 1, v = next; i >= 0; i--, v >>= 32n) this.key[s.offset + i] = Number(v & 0xffffffffn) | 0;
  }

  get isIp(): boolean {
    return this.u32(S.eth_type) === ETH_TYPE_IP;
  }

  get isArp(): boolean {
    return this.u32(S.eth_type) === ETH_TYPE_ARP;
  }

  get ipProto(): number {
    return this.u32(S.ip_proto);
  }

  /** L4 source "port": tcp/udp port, or the ICMP echo id */
  get l4Src(): number {
    const p = this.ipProto;
    return p === IP_PROTO_TCP ? this.u32(S.tcp_src) : p === IP_PROTO_UDP ? this.u32(S.udp_src) : this.icmpId;
  }

  get l4Dst(): number {
    const p = this.ipProto;
    return p === IP_PROTO_TCP ? this.u32(S.tcp_dst) : p === IP_PROTO_UDP ? this.u32(S.udp_dst) : this.icmpId;
  }

  setL4Src(port: number): void {
    const p = this.ipProto;
    if (p === IP_PROTO_TCP) this.key[S.tcp_src] = port;
    else if (p === IP_PROTO_UDP) this.key[S.udp_src] = port;
    else this.icmpId = port;
  }

  setL4Dst(port: number): void {
    const p = this.ipProto;
    if (p === IP_PROTO_TCP) this.key[S.tcp_dst] = port;
    else if (p === IP_PROTO_UDP) this.key[S.udp_dst] = port;
    else this.icmpId = port;
  }

  /** one-line human summary: "tcp 10.244.1.2:40000 > 10.96.0.10:80 [S] ttl 64" */
  summary(): string {
    const macs = `${macToString(this.get('eth_src'))} > ${macToString(this.get('eth_dst'))}`;
    if (this.isArp) {
      const op = this.u32(S.arp_op) === 1 ? 'request' : 'reply';
      return `arp ${op} who-has ${intToIp(this.u32(S.arp_tpa))} tell ${intToIp(this.u32(S.arp_spa))} (${macs})`;
    }
    if (!this.isIp) return `eth_type 0x${this.u32(S.eth_type).toString(16)} (${macs})`;
    const src = intToIp(this.u32(S.ipv4_src));
    const dst = intToIp(this.u32(S.ipv4_dst));
    const p = this.ipProto;
    if (p === IP_PROTO_TCP) return `tcp ${src}:${this.l4Src} > ${dst}:${this.l4Dst} [${tcpFlagsText(this.tcpFlags)}] ttl ${this.ttl}`;
    if (p === IP_PROTO_UDP) return `udp ${src}:${this.l4Src} > ${dst}:${this.l4Dst} ttl ${this.ttl}${this.inner ? ` [tunnel id 0x${this.inner.get('tunnel_id').toString(16)}: ${this.inner.summary()}]` : ''}`;
    if (p === IP_PROTO_ICMP) {
      const t = this.u32(S.icmpv4_type);
      const kind = t === 8 ? 'echo request' : t === 0 ? 'echo reply' : `type ${t}`;
      return `icmp ${src} > ${dst} ${kind} id ${this.icmpId} ttl ${this.ttl}`;
    }
    return `ip proto ${p} ${src} > ${dst} ttl ${this.ttl}`;
  }
}

export function tcpFlagsText(flags: number): string {
  let s = '';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_ACK) s += '.';
  return s || 'none';
}

export function ipToU32(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`packet: bad IPv4 address ${ip}`);
  let n = 0;
  for (const p of parts) {
    const b = Number(p);
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new Error(`packet: bad IPv4 address ${ip}`);
    n = n * 256 + b;
  }
  return n >>> 0;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function macToBigint(mac: string): bigint {
  const hex = mac.replace(/:/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new Error(`packet: bad MAC address ${mac}`);
  return BigInt('0x' + hex);
}

export function macToString(mac: bigint): string {
  const hex = mac.toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

export interface L4Spec {
  proto: 'tcp' | 'udp' | 'icmp';
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  icmpType?: number;
  icmpId?: number;
}

/** an IPv4 packet (eth + ip + l4) */
export function ipv4Packet(args: {
  ethSrc: string;
  ethDst: string;
  ipSrc: string | number;
  ipDst: string | number;
  l4: L4Spec;
  ttl?: number;
  sizeBytes?: number;
}): Packet {
  const p = new Packet();
  p.set('eth_src', macToBigint(args.ethSrc));
  p.set('eth_dst', macToBigint(args.ethDst));
  p.key[S.eth_type] = ETH_TYPE_IP;
  p.key[S.ipv4_src] = typeof args.ipSrc === 'number' ? args.ipSrc | 0 : ipToU32(args.ipSrc) | 0;
  p.key[S.ipv4_dst] = typeof args.ipDst === 'number' ? args.ipDst | 0 : ipToU32(args.ipDst) | 0;
  p.ttl = args.ttl ?? 64;
  p.sizeBytes = args.sizeBytes ?? 64;
  const l4 = args.l4;
  if (l4.proto === 'tcp') {
    p.key[S.ip_proto] = IP_PROTO_TCP;
    p.key[S.tcp_src] = l4.srcPort ?? 0;
    p.key[S.tcp_dst] = l4.dstPort ?? 0;
    p.tcpFlags = l4.tcpFlags ?? TCP_SYN;
  } else if (l4.proto === 'udp') {
    p.key[S.ip_proto] = IP_PROTO_UDP;
    p.key[S.udp_src] = l4.srcPort ?? 0;
    p.key[S.udp_dst] = l4.dstPort ?? 0;
  } else {
    p.key[S.ip_proto] = IP_PROTO_ICMP;
    p.key[S.icmpv4_type] = l4.icmpType ?? 8;
    p.key[S.icmpv4_code] = 0;
    p.icmpId = l4.icmpId ?? 1;
  }
  return p;
}

/** an ARP request (op 1) or reply (op 2) */
export function arpPacket(args: {
  op: 1 | 2;
  ethSrc: string;
  ethDst: string;
  sha: string;
  spa: string | number;
  tha: string;
  tpa: string | number;
}): Packet {
  const p = new Packet();
  p.set('eth_src', macToBigint(args.ethSrc));
  p.set('eth_dst', macToBigint(args.ethDst));
  p.key[S.eth_type] = ETH_TYPE_ARP;
  p.key[S.arp_op] = args.op;
  p.set('arp_sha', macToBigint(args.sha));
  p.set('arp_tha', macToBigint(args.tha));
  p.key[S.arp_spa] = (typeof args.spa === 'number' ? args.spa : ipToU32(args.spa)) | 0;
  p.key[S.arp_tpa] = (typeof args.tpa === 'number' ? args.tpa : ipToU32(args.tpa)) | 0;
  p.sizeBytes = 42;
  return p;
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';
