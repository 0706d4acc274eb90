/**
 * Connection tracking with zones and NAT, as Linux/OVS conntrack behaves for the cases we use:
 * a connection is created by `ct(commit)`; until a reply is seen, packets in the original
 * direction are `new`, afterwards `est`; packets in the reply direction are `est|rpl`. A TCP SYN-ACK
 * that belongs to no connection is `inv` (OVS userspace conntrack's tcp_valid_new); other segments
 * without a connection are `new` (mid-stream pickup). NAT is decided once, at commit, and applied to
 * every later packet of the connection that passes a `ct(nat)`: the original direction gets the
 * translation, the reply direction the inverse (un-NAT).
 *
 * Each entry is indexed three ways: the original tuple, the reply tuple, and the original tuple as
 * it looks after translation (so that a second `ct` in the same zone on an already translated packet
 * finds its connection, as the kernel does through the skb's attached conntrack).
 */
import { CT_STATE, NatSpec } from '../fabric/openflow/flow';
import { IP_PROTO_TCP, Packet, S, TCP_ACK, TCP_SYN, ipToU32 } from './packet';

export interface CtTuple {
  proto: number;
  src: number;
  dst: number;
  sport: number;
  dport: number;
}

export interface CtEntry {
  zone: number;
  orig: CtTuple;
  /** the tuple reply packets carry (after NAT) */
  reply: CtTuple;
  snat: boolean;
  dnat: boolean;
  mark: number;
  label: bigint;
  seenReply: boolean;
  createdUs: number;
}

export interface CtResult {
  /** ct_state bits for the recirculated packet */
  state: number;
  entry?: CtEntry;
  direction?: 'orig' | 'reply';
  /** "10.244.1.2:4000->203.0.113.1:80 becomes 198.51.100.11:4000->..." for traces */
  natText?: string;
  committed: boolean;
}

/** ICMP types that may create a connection: echo, timestamp, information request */
const ICMP_NEW_TYPES = new Set([8, 13, 15]);

function tupleKey(zone: number, t: CtTuple): string {
  return `${zone}|${t.proto}|${t.src}|${t.dst}|${t.sport}|${t.dport}`;
}

function reverse(t: CtTuple): CtTuple {
  return { proto: t.proto, src: t.dst, dst: t.src, sport: t.dport, dport: t.sport };
}

export function tupleOf(pkt: Packet): CtTuple {
  const icmp = pkt.ipProto === 1;
  return {
    proto: pkt.ipProto,
    src: pkt.u32(S.ipv4_src),
    dst: pkt.u32(S.ipv4_dst),
    sport: pkt.l4Src,
    // ICMP echo request and reply share one id: both "ports" are the id
    dport: icmp ? pkt.icmpId : pkt.l4Dst,
  };
}

function fmt(t: CtTuple): string {
  const ip = (n: number): string => `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  return `${ip(t.src)}:${t.sport}->${ip(t.dst)}:${t.dport}`;
}

/** deterministic 32-bit mix of a tuple (for choosing addresses and ports inside NAT ranges) */
function tupleHash(t: CtTuple): number {
  let h = 0x811c9dc5;
  for (const w of [t.proto, t.src, t.dst, t.sport, t.dport]) {
    h = Math.imul(h ^ w, 0x01000193);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

export class Conntrack {
  private index = new Map<string, { entry: CtEntry; direction: 'orig' | 'reply' }>();
  private entries: CtEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  list(): readonly CtEntry[] {
    return this.entries;
  }

  clear(): void {
    this.index.clear();
    this.entries = [];
  }

  /**
   * Run one packet through conntrack in `zone`. Mutates `pkt` (NAT) only when `applyNat` is set;
   * the caller decides which packet instance that is (the recirculated one).
   */
  execute(
    pkt: Packet,
    zone: number,
    opts: { commit: boolean; nat?: NatSpec; mark?: number; label?: bigint; nowUs: number },
  ): CtResult {
    if (!pkt.isIp) return { state: CT_STATE.trk | CT_STATE.inv, committed: false };
    const t = tupleOf(pkt);
    const found = this.index.get(tupleKey(zone, t));
    if (found) {
      const { entry, direction } = found;
      let state = CT_STATE.trk;
      if (direction === 'reply') {
        entry.seenReply = true;
        state |= CT_STATE.est | CT_STATE.rpl;
      } else {
        state |= entry.seenReply ? CT_STATE.est : CT_STATE.new;
      }
      if (opts.commit) {
        if (opts.mark !== undefined) entry.mark = opts.mark;
        if (opts.label !== undefined) entry.label = opts.label;
      }
      let natText: string | undefined;
      if (opts.nat && (entry.snat || entry.dnat)) {
        const before = tupleOf(pkt);
        // translate to what the other side expects to see
        const want = direction === 'orig' ? reverse(entry.reply) : reverse(entry.orig);
        if (before.src !== want.src || before.dst !== want.dst || before.sport !== want.sport || before.dport !== want.dport) {
          applyTuple(pkt, want);
          natText = `${fmt(before)} => ${fmt(want)}`;
        }
        // the bits say what this packet had translated: a reply to a SNATed connection has its
        // destination translated back (+dnat), and vice versa (OVS conntrack handle_nat / kernel ovs_ct_nat)
        const srcBit = direction === 'orig' ? CT_STATE.snat : CT_STATE.dnat;
        const dstBit = direction === 'orig' ? CT_STATE.dnat : CT_STATE.snat;
        if (entry.snat) state |= srcBit;
        if (entry.dnat) state |= dstBit;
      }
      return { state, entry, direction, natText, committed: false };
    }
    // no connection: as OVS's userspace conntrack (tcp_valid_new) and the kernel's both decide,
    // a SYN-ACK cannot create a connection (invalid); a SYN or a mid-stream segment can (loose pickup)
    if (t.proto === IP_PROTO_TCP && (pkt.tcpFlags & TCP_SYN) !== 0 && (pkt.tcpFlags & TCP_ACK) !== 0) {
      return { state: CT_STATE.trk | CT_STATE.inv, committed: false };
    }
    // ICMP: only a request (echo, timestamp, info) may start a connection (OVS icmp_valid_new);
    // an echo reply with no connection is invalid, as real OVS showed in the lab
    if (t.proto === 1 && !ICMP_NEW_TYPES.has(pkt.u32(S.icmpv4_type))) {
      return { state: CT_STATE.trk | CT_STATE.inv, committed: false };
    }
    let state = CT_STATE.trk | CT_STATE.new;
    if (!opts.commit) return { state, committed: false };
    let translated = t;
    let snat = false;
    let dnat = false;
    if (opts.nat?.kind) {
      translated = this.chooseTranslation(zone, t, opts.nat);
      snat = opts.nat.kind === 'src';
      dnat = opts.nat.kind === 'dst';
    }
    const entry: CtEntry = {
      zone,
      orig: t,
      reply: reverse(translated),
      snat,
      dnat,
      mark: opts.mark ?? 0,
      label: opts.label ?? 0n,
      seenReply: false,
      createdUs: opts.nowUs,
    };
    this.entries.push(entry);
    this.index.set(tupleKey(zone, t), { entry, direction: 'orig' });
    this.index.set(tupleKey(zone, entry.reply), { entry, direction: 'reply' });
    if (snat || dnat) this.index.set(tupleKey(zone, translated), { entry, direction: 'orig' });
    let natText: string | undefined;
    if (snat || dnat) {
      applyTuple(pkt, translated);
      natText = `${fmt(t)} => ${fmt(translated)}`;
      if (snat) state |= CT_STATE.snat;
      if (dnat) state |= CT_STATE.dnat;
    }
    return { state, entry, direction: 'orig', natText, committed: true };
  }

  private chooseTranslation(zone: number, t: CtTuple, nat: NatSpec): CtTuple {
    const ipMin = nat.ipMin !== undefined ? ipToU32(nat.ipMin) : undefined;
    const ipMax = nat.ipMax !== undefined ? ipToU32(nat.ipMax) : ipMin;
    const h = tupleHash(t);
    const pickIp = (current: number): number =>
      ipMin === undefined ? current : ipMin + (ipMax! > ipMin ? h % (ipMax! - ipMin + 1) : 0);
    const out: CtTuple = { ...t };
    if (nat.kind === 'dst') {
      out.dst = pickIp(t.dst) >>> 0;
      if (nat.portMin !== undefined) {
        const max = nat.portMax ?? nat.portMin;
        out.dport = nat.portMin + (max > nat.portMin ? h % (max - nat.portMin + 1) : 0);
      }
      return out;
    }
    out.src = pickIp(t.src) >>> 0;
    // SNAT keeps the source port when it is free and in range; else the first free port of the
    // range, starting at a tuple-hash offset (Linux's behaviour without --random-fully)
    const lo = nat.portMin ?? (t.sport < 1024 ? 1 : 1024);
    const hi = nat.portMax ?? (t.sport < 1024 ? 1023 : 65535);
    const free = (port: number): boolean =>
      !this.index.has(tupleKey(zone, reverse({ ...out, sport: port })));
    if (t.proto === 1) return out; // ICMP: the id stays
    if (t.sport >= lo && t.sport <= hi && free(t.sport)) return out;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      const port = lo + ((h + i) % span);
      if (free(port)) {
        out.sport = port;
        return out;
      }
    }
    return out; // range exhausted: keep the port (a clash the report will show as a failed reply)
  }
}

function applyTuple(pkt: Packet, t: CtTuple): void {
  pkt.key[S.ipv4_src] = t.src | 0;
  pkt.key[S.ipv4_dst] = t.dst | 0;
  if (pkt.ipProto === 1) return;
  pkt.setL4Src(t.sport);
  pkt.setL4Dst(t.dport);
}
