/**
 * OXM matches (OpenFlow 1.3 §7.2.2) for every field of fields.ts, encoded in Open vSwitch's field
 * order (nx_put_raw) so that decode -> encode of OVS's bytes is byte-identical; and the NXM headers
 * OVS puts inside Nicira actions (move, load, ct zone, output:reg), which prefer the older NXM class.
 */
import { BufferReader } from './buffer-reader';
import { BufferWriter } from './buffer-writer';
import { OpenFlowError } from './errors';
import { FIELDS, ctStateValid, type FieldSpec } from './fields';
import type { FieldName, Match, MaskedValue } from './flow';

/** OVS's emission order of the fields we model (lib/nx-match.c nx_put_raw) */
export const OVS_FIELD_ORDER: readonly FieldName[] = [
  'packet_type',
  'dp_hash',
  'recirc_id',
  'conj_id',
  'in_port',
  'in_port_nxm',
  'actset_output',
  'eth_src',
  'eth_dst',
  'eth_type',
  'vlan_vid',
  'vlan_pcp',
  'vlan_tci',
  'mpls_tc',
  'mpls_bos',
  'mpls_ttl',
  'mpls_label',
  // nxm_put_ip: addresses (v4 or v6), frag, dscp, ecn, ttl, ipv6 label, proto, then L4 by protocol
  'ipv4_src',
  'ipv4_dst',
  'ipv6_src',
  'ipv6_dst',
  'ip_frag',
  'ip_dscp',
  'ip_ecn',
  'nw_ttl',
  'ipv6_label',
  'ip_proto',
  'tcp_src',
  'tcp_dst',
  'tcp_flags',
  'udp_src',
  'udp_dst',
  'sctp_src',
  'sctp_dst',
  'icmpv4_type',
  'icmpv4_code',
  'icmpv6_type',
  'icmpv6_code',
  'nd_reserved',
  'nd_target',
  'nd_options_type',
  'nd_sll',
  'nd_tll',
  'arp_op',
  'arp_spa',
  'arp_tpa',
  'arp_sha',
  'arp_tha',
  'tunnel_id',
  'tun_flags',
  'tun_ipv4_src',
  'tun_ipv4_dst',
  'tun_ipv6_src',
  'tun_ipv6_dst',
  'tun_gbp_id',
  'tun_gbp_flags',
  // (tun_metadata0-63 would come here: variable width, not modelled)
  'tun_erspan_idx',
  'tun_erspan_ver',
  'tun_erspan_dir',
  'tun_erspan_hwid',
  'tun_gtpu_flags',
  'tun_gtpu_msgtype',
  'nsh_flags',
  'nsh_ttl',
  'nsh_mdtype',
  'nsh_np',
  'nsh_spi',
  'nsh_si',
  'nsh_c1',
  'nsh_c2',
  'nsh_c3',
  'nsh_c4',
  'reg0', 'reg1', 'reg2', 'reg3', 'reg4', 'reg5', 'reg6', 'reg7',
  'reg8', 'reg9', 'reg10', 'reg11', 'reg12', 'reg13', 'reg14', 'reg15',
  // never in OVS's OpenFlow 1.3 matches (it sends the regs); accepted, and kept in this place
  'xreg0', 'xreg1', 'xreg2', 'xreg3', 'xreg4', 'xreg5', 'xreg6', 'xreg7',
  'xxreg0', 'xxreg1', 'xxreg2', 'xxreg3',
  'pkt_mark',
  'ct_state',
  'ct_zone',
  'ct_mark',
  'ct_label',
  'ct_nw_src',
  'ct_ipv6_src',
  'ct_nw_dst',
  'ct_ipv6_dst',
  'ct_nw_proto',
  'ct_tp_src',
  'ct_tp_dst',
  'metadata',
];

interface FieldEntry {
  spec: FieldSpec;
  order: number;
  /** OXM header without mask bit */
  header: number;
  /** all-ones over the wire width */
  wireMask: bigint;
  /** all-ones over the meaningful bits */
  bitsMask: bigint;
  /** bytes of the experimenter id after the header: 4 for experimenter OXMs, else 0 */
  expBytes: number;
}

const BY_NAME = new Map<FieldName, FieldEntry>();
/** by (class << 7 | field), i.e. header >>> 9 */
const BY_OXM = new Map<number, FieldEntry>();
/** experimenter OXMs, by experimenter * 128 + field */
const BY_EXP = new Map<number, FieldEntry>();

OVS_FIELD_ORDER.forEach((name, order) => {
  const spec = FIELDS.get(name);
  if (!spec) throw new Error(`oxm: ${name} is in the order list but not in fields.ts`);
  const e: FieldEntry = {
    spec,
    order,
    header: ((spec.oxmClass << 16) | (spec.oxmField << 9) | (spec.wireBytes + (spec.experimenter !== undefined ? 4 : 0))) >>> 0,
    wireMask: (1n << BigInt(spec.wireBytes * 8)) - 1n,
    bitsMask: (1n << BigInt(spec.bits)) - 1n,
    expBytes: spec.experimenter !== undefined ? 4 : 0,
  };
  BY_NAME.set(name, e);
  if (spec.experimenter !== undefined) BY_EXP.set(spec.experimenter * 128 + spec.oxmField, e);
  else BY_OXM.set(e.header >>> 9, e);
});

/** the field of an OXM header (and, for class 0xffff, the experimenter id that follows it) */
function lookup(header: number, body: BufferReader): FieldEntry | undefined {
  if (header >>> 16 !== 0xffff) return BY_OXM.get(header >>> 9);
  if ((header & 0xff) < 4 || body.remaining < 4) return undefined;
  return BY_EXP.get(body.buf.readUInt32BE(body.pos) * 128 + ((header >>> 9) & 0x7f));
}

/** true when OVS would send this mask as the exact form */
function isExactMask(e: FieldEntry, mask: bigint): boolean {
  return mask === e.wireMask || (mask === e.bitsMask && (!e.spec.maskable || !!e.spec.exactAtBits));
}
for (const name of FIELDS.keys()) {
  if (!BY_NAME.has(name)) throw new Error(`oxm: field ${name} of fields.ts has no place in OVS_FIELD_ORDER`);
}

function entry(name: string, op: string): FieldEntry {
  const e = BY_NAME.get(name as FieldName);
  if (!e) throw new OpenFlowError('bad-value', `${op}: unknown field ${name}`);
  return e;
}

export function fieldWireBytes(name: FieldName): number {
  return entry(name, 'fieldWireBytes').spec.wireBytes;
}

/** throws OpenFlowError('prerequisite') when a field's prerequisite is missing from the match */
export function checkPrerequisites(match: Match): void {
  for (const name of Object.keys(match) as FieldName[]) {
    if (match[name]) checkFieldPrerequisites(match, entry(name, 'match'));
  }
}

/** the value and mask fit the wire; `strict`: and a mask only where OF1.3 allows one (validity.ts says so for flows) */
function checkValue(e: FieldEntry, mv: MaskedValue, strict = true): void {
  if (typeof mv.value !== 'bigint' || mv.value < 0n || mv.value > e.wireMask) {
    throw new OpenFlowError('bad-value', `match: ${e.spec.name} value ${String(mv.value)} does not fit ${e.spec.wireBytes} bytes`);
  }
  if (mv.mask !== undefined) {
    if (typeof mv.mask !== 'bigint' || mv.mask < 0n || mv.mask > e.wireMask) {
      throw new OpenFlowError('bad-value', `match: ${e.spec.name} mask ${String(mv.mask)} does not fit ${e.spec.wireBytes} bytes`);
    }
    if (strict && !e.spec.maskable && mv.mask !== e.wireMask && mv.mask !== e.bitsMask) {
      throw new OpenFlowError('bad-value', `match: ${e.spec.name} cannot be masked`);
    }
  }
}

/** an ofp_match (type OXM) with its padding; `check` runs the prerequisite check */
export function encodeMatch(w: BufferWriter, match: Match, check = true): void {
  const start = w.offset;
  w.u16(1).u16(0);
  const entries: FieldEntry[] = [];
  for (const n in match) {
    if (match[n as FieldName] === undefined) continue;
    entries.push(entry(n, 'match'));
  }
  if (entries.length > 1) entries.sort((a, b) => a.order - b.order);
  for (const e of entries) {
    const mv = match[e.spec.name]!;
    if (check && (e.spec.prerequisites.length || e.spec.ctValid)) checkFieldPrerequisites(match, e);
    checkValue(e, mv, check);
    writeOxm(w, e, mv.value, mv.mask);
  }
  w.patch16(start + 2, w.offset - start);
  w.padTo(start, 8);
}

function checkFieldPrerequisites(match: Match, e: FieldEntry): void {
  if (e.spec.ctValid && !ctStateValid(match)) {
    throw new OpenFlowError('prerequisite', `match: ${e.spec.name} needs ct_state of a valid connection (+trk-inv, or +new/+est/+rel/+rpl/+snat/+dnat)`);
  }
  for (const pre of e.spec.prerequisites) {
    const have = match[pre.field];
    if (!have && pre.orAbsent) continue;
    const preEntry = BY_NAME.get(pre.field)!;
    if (!have || (have.mask !== undefined && have.mask !== preEntry.wireMask) || !pre.values.includes(have.value)) {
      throw new OpenFlowError('prerequisite', `match: ${e.spec.name} needs ${pre.field}=${pre.values.map((v) => '0x' + v.toString(16)).join('|')}`);
    }
  }
}

function writeOxm(w: BufferWriter, e: FieldEntry, value: bigint, mask: bigint | undefined): void {
  const n = e.spec.wireBytes;
  // OVS never sends an all-ones mask: it sends the exact-match form instead
  if (mask !== undefined && !isExactMask(e, mask)) {
    w.u32((((e.header & ~0xff) | 0x100 | (2 * n + e.expBytes)) >>> 0));
    if (e.expBytes) w.u32(e.spec.experimenter!);
    w.uint(value, n).uint(mask, n);
  } else {
    w.u32(e.header);
    if (e.expBytes) w.u32(e.spec.experimenter!);
    w.uint(value, n);
  }
}

export interface DecodedMatch {
  match: Match;
  /** false when our encoding of `match` would differ from the bytes read (unknown or out-of-order
   *  fields, all-ones masks): the caller keeps the raw bytes to stay lossless */
  canonical: boolean;
}

/** reads an ofp_match including its padding */
export function decodeMatch(r: BufferReader): DecodedMatch {
  const type = r.u16();
  const length = r.u16();
  if (type !== 1) throw new OpenFlowError('bad-value', `match: type ${type} is not OFPMT_OXM`);
  if (length < 4) throw new OpenFlowError('bad-length', `match: length ${length} < 4`);
  const body = r.sub(length - 4, 'match');
  const padStart = r.pos;
  r.skip((8 - (length % 8)) % 8);
  const decoded = decodeOxmFields(body);
  for (let i = padStart; i < r.pos; i++) if (r.buf[i] !== 0) decoded.canonical = false;
  return decoded;
}

/** a sequence of OXM TLVs (no ofp_match header) */
export function decodeOxmFields(body: BufferReader): DecodedMatch {
  const match: Match = {};
  let canonical = true;
  let lastOrder = -1;
  while (body.remaining > 0) {
    const header = body.u32();
    const len = header & 0xff;
    const hasMask = (header & 0x100) !== 0;
    if (len > body.remaining) throw new OpenFlowError('bad-length', `oxm: field length ${len} runs past the match (${body.remaining} left)`);
    const e = lookup(header, body);
    if (!e || len !== e.spec.wireBytes * (hasMask ? 2 : 1) + e.expBytes) {
      body.skip(len);
      canonical = false;
      continue;
    }
    body.skip(e.expBytes);
    const value = body.uint(e.spec.wireBytes);
    const mv: MaskedValue = { value };
    if (hasMask) {
      mv.mask = body.uint(e.spec.wireBytes);
      if (isExactMask(e, mv.mask)) canonical = false;
    }
    if (e.order <= lastOrder || match[e.spec.name]) canonical = false;
    lastOrder = e.order;
    if (!match[e.spec.name]) match[e.spec.name] = mv;
  }
  return { match, canonical };
}

/** one OXM TLV as a standalone value: used by set_field */
export function encodeOxmTlv(w: BufferWriter, name: FieldName, value: bigint, mask?: bigint): void {
  const e = entry(name, 'set_field');
  checkValue(e, { value, mask });
  writeOxm(w, e, value, mask);
}

export function decodeOxmTlv(r: BufferReader): { field: FieldName; value: bigint; mask?: bigint } | undefined {
  const header = r.u32();
  const len = header & 0xff;
  const hasMask = (header & 0x100) !== 0;
  const tlv = r.sub(len, 'oxm');
  const e = lookup(header, tlv);
  if (!e || len !== e.spec.wireBytes * (hasMask ? 2 : 1) + e.expBytes) return undefined;
  tlv.skip(e.expBytes);
  const value = tlv.uint(e.spec.wireBytes);
  return hasMask ? { field: e.spec.name, value, mask: tlv.uint(e.spec.wireBytes) } : { field: e.spec.name, value };
}

// ---- NXM headers inside Nicira actions ------------------------------------------------------

/** [class, field] of the NXM header OVS prefers inside Nicira actions, where one exists */
const NXM_PREFERRED: Partial<Record<FieldName, [number, number]>> = {
  eth_dst: [0, 1],
  eth_src: [0, 2],
  eth_type: [0, 3],
  ip_proto: [0, 6],
  ipv4_src: [0, 7],
  ipv4_dst: [0, 8],
  tcp_src: [0, 9],
  tcp_dst: [0, 10],
  udp_src: [0, 11],
  udp_dst: [0, 12],
  icmpv4_type: [0, 13],
  icmpv4_code: [0, 14],
  arp_op: [0, 15],
  arp_spa: [0, 16],
  arp_tpa: [0, 17],
  arp_sha: [1, 17],
  arp_tha: [1, 18],
  tunnel_id: [1, 16],
  ip_ecn: [1, 28],
  ipv6_src: [1, 19],
  ipv6_dst: [1, 20],
  icmpv6_type: [1, 21],
  icmpv6_code: [1, 22],
  nd_target: [1, 23],
  nd_sll: [1, 24],
  nd_tll: [1, 25],
  ipv6_label: [1, 27],
  tcp_flags: [1, 34],
};

const NX_HEADER_BY_NAME = new Map<FieldName, number>();
const NAME_BY_NX_HEADER = new Map<number, FieldName>();
for (const [name, e] of BY_NAME) {
  const pref = NXM_PREFERRED[name];
  // an experimenter OXM has a 64-bit header: not modelled inside actions (they stay raw)
  if (!pref && e.expBytes) continue;
  const header = pref ? ((pref[0] << 16) | (pref[1] << 9) | e.spec.wireBytes) >>> 0 : e.header;
  NX_HEADER_BY_NAME.set(name, header);
  NAME_BY_NX_HEADER.set(header, name);
  // the OXM form is accepted on decode too; re-encoding then differs, so the action stays raw
  if (!NAME_BY_NX_HEADER.has(e.header)) NAME_BY_NX_HEADER.set(e.header, name);
}

/** the 32-bit header (no mask) naming a field inside a Nicira action */
export function nxHeader(name: FieldName): number {
  const h = NX_HEADER_BY_NAME.get(name);
  if (h === undefined) throw new OpenFlowError('bad-value', `action: unknown field ${name}`);
  return h;
}

export function fieldByNxHeader(header: number): FieldName | undefined {
  return NAME_BY_NX_HEADER.get((header & ~0x100) >>> 0);
}

export function fieldBits(name: FieldName): number {
  return entry(name, 'field').spec.bits;
}

/** bits addressable by move/load: the wire width (vlan_vid: 16) */
export function fieldWireBits(name: FieldName): number {
  return entry(name, 'field').spec.wireBytes * 8;
}
