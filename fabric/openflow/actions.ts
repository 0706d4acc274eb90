/**
 * Actions and instructions of the flow IR on the wire: OpenFlow 1.3 actions plus the Nicira
 * experimenter actions exactly as Open vSwitch 3.1 encodes them over OpenFlow 1.3 (ct with nested
 * nat, ct_clear, resubmit, move, load for masked set_field, note, controller).
 *
 * Lossless by construction: every decoded action is re-encoded and compared with its source bytes;
 * anything our IR cannot reproduce exactly (unknown types, unmodelled flags, odd padding) stays a
 * `{ type: 'raw' }` action carrying its bytes.
 */
import { BufferReader } from './buffer-reader';
import { BufferWriter } from './buffer-writer';
import { NXAST, NX_VENDOR_ID, OFPAT, OFPIT } from './constants';
import { OpenFlowError } from './errors';
import type { Action, FieldName, FieldRef, HashFields, Instructions, LearnSpec, NatSpec } from './flow';
import { OFPP } from './flow';
import { decodeOxmTlv, encodeOxmTlv, fieldBits, fieldByNxHeader, fieldWireBits, nxHeader } from './oxm';

const NX_NAT_F = { SRC: 1, DST: 2, PERSISTENT: 4, PROTO_HASH: 8, PROTO_RANDOM: 16 } as const;
const NX_NAT_RANGE = { IPV4_MIN: 1, IPV4_MAX: 2, IPV6_MIN: 4, IPV6_MAX: 8, PROTO_MIN: 16, PROTO_MAX: 32 } as const;
const NX_CT_F_COMMIT = 1;
const NX_CT_F_FORCE = 2;
const NX_CT_RECIRC_NONE = 0xff;
const NXAC2PT = { MAX_LEN: 0, CONTROLLER_ID: 1, REASON: 2, USERDATA: 3, PAUSE: 4, METER_ID: 5 } as const;
/** Nicira subtypes not in constants.NXAST (OVS's lib/ofp-actions.c numbering) */
const NXAST_MORE = {
  SET_TUNNEL: 2,
  SET_TUNNEL64: 9,
  MULTIPATH: 10,
  BUNDLE: 12,
  BUNDLE_LOAD: 13,
  EXIT: 17,
  FIN_TIMEOUT: 19,
  SAMPLE: 29,
  SAMPLE2: 38,
  SAMPLE3: 41,
  RESUBMIT_TABLE_CT: 44,
  LEARN: 16,
  LEARN2: 45,
} as const;
const NX_LEARN_F = { SEND_FLOW_REM: 1, DELETE_LEARNED: 2, WRITE_RESULT: 4 } as const;
/** flow_mod_spec header bits: source immediate (else a field); destination load / output (else match) */
const NX_LEARN_SRC_IMMEDIATE = 1 << 13;
const NX_LEARN_DST_LOAD = 1 << 11;
const NX_LEARN_DST_OUTPUT = 2 << 11;
const OFP_DEFAULT_PRIORITY = 0x8000;
/** NXM_OF_IN_PORT, the only member type of bundle actions */
const NXM_OF_IN_PORT = 0x00000002;
const HASH_FIELDS: readonly HashFields[] = ['eth_src', 'symmetric_l4', 'symmetric_l3l4', 'symmetric_l3l4+udp', 'nw_src', 'nw_dst', 'symmetric_l3'];
const MP_ALGORITHMS = ['modulo_n', 'hash_threshold', 'hrw', 'iter_hash'] as const;
const BD_ALGORITHMS = ['active_backup', 'hrw'] as const;
const SAMPLE_DIRECTIONS = [undefined, 'ingress', 'egress'] as const;
const OFPR_ACTION = 1;

// ---- encode -------------------------------------------------------------------------------------

export function encodeActions(w: BufferWriter, actions: readonly Action[]): void {
  for (const a of actions) encodeAction(w, a);
}

function nxStart(w: BufferWriter, subtype: number): number {
  const start = w.offset;
  w.u16(OFPAT.EXPERIMENTER).u16(0).u32(NX_VENDOR_ID).u16(subtype);
  return start;
}

/** pads to 8 and patches the action length */
function finish(w: BufferWriter, start: number): void {
  w.padTo(start, 8);
  w.patch16(start + 2, w.offset - start);
}

function ipv4ToU32(ip: string, what: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new OpenFlowError('bad-value', `${what}: bad IPv4 address ${ip}`);
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new OpenFlowError('bad-value', `${what}: bad IPv4 address ${ip}`);
    v = v * 256 + n;
  }
  return v;
}

function u32ToIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** IPv6 text (any RFC 4291 form, optionally [bracketed]) -> 16 bytes */
export function ipv6ToBytes(text: string, what: string): Buffer {
  const bad = (): never => {
    throw new OpenFlowError('bad-value', `${what}: bad IPv6 address ${text}`);
  };
  let s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const words: number[] = [];
  const tail: number[] = [];
  const m = /^(.*):(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = ipv4ToU32(m[2], what);
    s = `${m[1]}:${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const parse = (part: string, into: number[]): void => {
    if (part === '') return;
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
      into.push(parseInt(g, 16));
    }
  };
  parse(halves[0], words);
  if (halves.length === 2) {
    parse(halves[1], tail);
    if (words.length + tail.length > 7) bad();
    while (words.length + tail.length < 8) words.push(0);
  }
  words.push(...tail);
  if (words.length !== 8) bad();
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}

/** 16 bytes -> IPv6 text exactly as glibc's inet_ntop (and so OVS) writes it */
export function bytesToIpv6(b: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => (b[2 * i] << 8) | b[2 * i + 1]);
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // an embedded IPv4 address: ::a.b.c.d (compatible) or ::ffff:a.b.c.d (mapped)
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
      break;
    }
    out += words[i].toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

function checkU(v: unknown, bits: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) {
    throw new OpenFlowError('bad-value', `${what}: ${String(v)} is not a ${bits}-bit unsigned integer`);
  }
  return v;
}

function ofsNbits(ref: FieldRef, what: string): [number, number] {
  const width = fieldBits(ref.field);
  const ofs = ref.ofs ?? 0;
  const nBits = ref.nBits ?? width - ofs;
  if (!Number.isInteger(ofs) || !Number.isInteger(nBits) || ofs < 0 || nBits < 1 || ofs + nBits > Math.max(width, fieldWireBits(ref.field))) {
    throw new OpenFlowError('bad-value', `${what}: bits ${ofs}+${nBits} outside ${ref.field}`);
  }
  return [ofs, nBits];
}

/** port numbers of OF1.0-style 16-bit fields (resubmit) */
function port16(port: number): number {
  return port >= OFPP.MAX ? port - 0xffff0000 : checkU(port, 16, 'resubmit port');
}

function port32(port16v: number): number {
  return port16v >= 0xff00 ? port16v + 0xffff0000 : port16v;
}

export function encodeAction(w: BufferWriter, a: Action): void {
  const start = w.offset;
  switch (a.type) {
    case 'output': {
      const port = checkU(a.port, 32, 'output port');
      const maxLen = a.maxLen ?? (port === OFPP.CONTROLLER ? 0xffff : 0);
      w.u16(OFPAT.OUTPUT).u16(16).u32(port).u16(checkU(maxLen, 16, 'output max_len')).zeros(6);
      return;
    }
    case 'group':
      w.u16(OFPAT.GROUP).u16(8).u32(checkU(a.groupId, 32, 'group id'));
      return;
    case 'push_vlan':
      w.u16(OFPAT.PUSH_VLAN).u16(8).u16(checkU(a.ethertype, 16, 'push_vlan')).zeros(2);
      return;
    case 'pop_vlan':
      w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
      return;
    case 'dec_ttl':
      if (a.ids === undefined) {
        w.u16(OFPAT.DEC_NW_TTL).u16(8).zeros(4);
      } else {
        nxStart(w, NXAST.DEC_TTL_CNT_IDS);
        w.u16(checkU(a.ids.length, 16, 'dec_ttl ids')).zeros(4);
        for (const id of a.ids) w.u16(checkU(id, 16, 'dec_ttl controller id'));
        finish(w, start);
      }
      return;
    case 'set_queue':
      w.u16(OFPAT.SET_QUEUE).u16(8).u32(checkU(a.queueId, 32, 'set_queue'));
      return;
    case 'set_field':
      if (a.mask === undefined) {
        w.u16(OFPAT.SET_FIELD).u16(0);
        encodeOxmTlv(w, a.field, a.value);
        finish(w, start);
      } else {
        encodeRegLoads(w, a.field, a.value, a.mask);
      }
      return;
    case 'move': {
      const [srcOfs, nBits] = ofsNbits(a.src, 'move');
      const dstRef = { ...a.dst, nBits: a.dst.nBits ?? nBits };
      const [dstOfs, dstBits] = ofsNbits(dstRef, 'move');
      if (dstBits !== nBits) throw new OpenFlowError('bad-value', `move: source has ${nBits} bits, destination ${dstBits}`);
      nxStart(w, NXAST.REG_MOVE);
      w.u16(nBits).u16(srcOfs).u16(dstOfs).u32(nxHeader(a.src.field)).u32(nxHeader(a.dst.field));
      finish(w, start);
      return;
    }
    case 'ct': {
      nxStart(w, NXAST.CT);
      w.u16((a.commit ? NX_CT_F_COMMIT : 0) | (a.force ? NX_CT_F_FORCE : 0));
      if (a.zone === undefined || typeof a.zone === 'number') {
        w.u32(0).u16(checkU(a.zone ?? 0, 16, 'ct zone'));
      } else {
        const [ofs, nBits] = ofsNbits(a.zone, 'ct zone');
        w.u32(nxHeader(a.zone.field)).u16((ofs << 6) | (nBits - 1));
      }
      w.u8(a.table === undefined ? NX_CT_RECIRC_NONE : checkU(a.table, 8, 'ct table')).zeros(3).u16(checkU(a.alg ?? 0, 16, 'ct alg'));
      if (a.nat) encodeNat(w, a.nat);
      if (a.exec) encodeActions(w, a.exec);
      finish(w, start);
      return;
    }
    case 'ct_clear':
      nxStart(w, NXAST.CT_CLEAR);
      finish(w, start);
      return;
    case 'resubmit':
      if (a.legacy) {
        if (a.table !== undefined || a.ct) throw new OpenFlowError('bad-value', 'resubmit: the legacy NXAST_RESUBMIT has no table and no ct');
        nxStart(w, NXAST.RESUBMIT);
        w.u16(a.port === undefined ? 0xfff8 : port16(a.port));
      } else {
        nxStart(w, a.ct ? NXAST_MORE.RESUBMIT_TABLE_CT : NXAST.RESUBMIT_TABLE);
        w.u16(a.port === undefined ? 0xfff8 : port16(a.port)).u8(a.table === undefined ? 0xff : checkU(a.table, 8, 'resubmit table'));
      }
      finish(w, start);
      return;
    case 'note':
      nxStart(w, NXAST.NOTE);
      w.bytes(a.data);
      finish(w, start);
      return;
    case 'controller':
      encodeController(w, a);
      return;
    case 'output_reg': {
      const [ofs, nBits] = ofsNbits(a.src, 'output_reg');
      nxStart(w, NXAST.OUTPUT_REG);
      w.u16((ofs << 6) | (nBits - 1)).u32(nxHeader(a.src.field)).u16(checkU(a.maxLen ?? 0xffff, 16, 'output_reg max_len'));
      finish(w, start);
      return;
    }
    case 'exit':
      nxStart(w, NXAST_MORE.EXIT);
      finish(w, start);
      return;
    case 'fin_timeout':
      nxStart(w, NXAST_MORE.FIN_TIMEOUT);
      w.u16(checkU(a.idleTimeout ?? 0, 16, 'fin_timeout idle_timeout')).u16(checkU(a.hardTimeout ?? 0, 16, 'fin_timeout hard_timeout'));
      finish(w, start);
      return;
    case 'set_tunnel': {
      if (typeof a.tunId !== 'bigint' || a.tunId < 0n || a.tunId >> 64n !== 0n) throw new OpenFlowError('bad-value', 'set_tunnel: tun_id is not a 64-bit unsigned integer');
      if (a.wide || a.tunId > 0xffffffffn) {
        nxStart(w, NXAST_MORE.SET_TUNNEL64);
        w.zeros(6).u64(a.tunId);
      } else {
        nxStart(w, NXAST_MORE.SET_TUNNEL);
        w.zeros(2).u32(Number(a.tunId));
      }
      finish(w, start);
      return;
    }
    case 'sample': {
      if (a.probability === 0) throw new OpenFlowError('bad-value', 'sample: probability must not be 0');
      const dir = a.direction === undefined ? 0 : SAMPLE_DIRECTIONS.indexOf(a.direction);
      if (dir < 0) throw new OpenFlowError('bad-value', `sample: bad direction ${String(a.direction)}`);
      const v2 = dir !== 0 || a.samplingPort !== undefined;
      nxStart(w, dir !== 0 ? NXAST_MORE.SAMPLE3 : v2 ? NXAST_MORE.SAMPLE2 : NXAST_MORE.SAMPLE);
      w.u16(checkU(a.probability, 16, 'sample probability'))
        .u32(checkU(a.collectorSetId, 32, 'sample collector_set_id'))
        .u32(checkU(a.obsDomainId, 32, 'sample obs_domain_id'))
        .u32(checkU(a.obsPointId, 32, 'sample obs_point_id'));
      if (v2) w.u16(a.samplingPort === undefined ? 0xffff : port16(a.samplingPort)).u8(dir);
      finish(w, start);
      return;
    }
    case 'multipath': {
      const fields = HASH_FIELDS.indexOf(a.fields);
      const alg = MP_ALGORITHMS.indexOf(a.algorithm);
      if (fields < 0 || alg < 0) throw new OpenFlowError('bad-value', `multipath: bad fields ${a.fields} or algorithm ${a.algorithm}`);
      const links = checkU(a.links, 17, 'multipath links');
      if (links < 1 || links > 0x10000) throw new OpenFlowError('bad-value', `multipath: ${links} links`);
      const [ofs, nBits] = ofsNbits(a.dst, 'multipath');
      nxStart(w, NXAST_MORE.MULTIPATH);
      w.u16(fields).u16(checkU(a.basis, 16, 'multipath basis')).u16(0);
      w.u16(alg).u16(links - 1).u32(checkU(a.arg, 32, 'multipath arg')).u16(0);
      w.u16((ofs << 6) | (nBits - 1)).u32(nxHeader(a.dst.field));
      finish(w, start);
      return;
    }
    case 'bundle': {
      const fields = HASH_FIELDS.indexOf(a.fields);
      const alg = BD_ALGORITHMS.indexOf(a.algorithm);
      if (fields < 0 || alg < 0) throw new OpenFlowError('bad-value', `bundle: bad fields ${a.fields} or algorithm ${a.algorithm}`);
      nxStart(w, a.dst ? NXAST_MORE.BUNDLE_LOAD : NXAST_MORE.BUNDLE);
      w.u16(alg).u16(fields).u16(checkU(a.basis, 16, 'bundle basis')).u32(NXM_OF_IN_PORT).u16(checkU(a.members.length, 16, 'bundle members'));
      if (a.dst) {
        const [ofs, nBits] = ofsNbits(a.dst, 'bundle_load');
        w.u16((ofs << 6) | (nBits - 1)).u32(nxHeader(a.dst.field));
      } else {
        w.u16(0).u32(0);
      }
      w.zeros(4);
      for (const m of a.members) w.u16(port16(m));
      finish(w, start);
      return;
    }
    case 'learn':
      encodeLearn(w, a);
      return;
    case 'raw':
      w.u16(checkU(a.actionType, 16, 'raw action type')).u16(0);
      if (a.experimenter !== undefined) w.u32(a.experimenter);
      if (a.subtype !== undefined) w.u16(a.subtype);
      w.bytes(a.data);
      w.patch16(start + 2, w.offset - start);
      return;
    default:
      throw new OpenFlowError('bad-value', `action: unknown type ${(a as { type: unknown }).type}`);
  }
}

/** masked set_field, the way OVS sends it in OpenFlow 1.3: one NXAST_REG_LOAD per contiguous run
 *  of mask bits (lowest first), each at most 64 bits wide */
function encodeRegLoads(w: BufferWriter, field: FieldName, value: bigint, mask: bigint): void {
  const header = nxHeader(field);
  const width = BigInt((header & 0xff) * 8);
  if (mask <= 0n || mask >> width !== 0n) throw new OpenFlowError('bad-value', `set_field: mask of ${field} out of range`);
  if (value < 0n || (value & ~mask) !== 0n) throw new OpenFlowError('bad-value', `set_field: value of ${field} has bits outside its mask`);
  let bit = 0n;
  while (bit < width) {
    if (((mask >> bit) & 1n) === 0n) {
      bit++;
      continue;
    }
    let n = 0n;
    while (bit + n < width && n < 64n && ((mask >> (bit + n)) & 1n) === 1n) n++;
    const start = nxStart(w, NXAST.REG_LOAD);
    w.u16(Number((bit << 6n) | (n - 1n))).u32(header).u64((value >> bit) & ((1n << n) - 1n));
    finish(w, start);
    bit += n;
  }
}

/** NXAST_LEARN, or NXAST_LEARN2 when there is a limit or a result_dst (as OVS chooses) */
function encodeLearn(w: BufferWriter, a: Extract<Action, { type: 'learn' }>): void {
  const v2 = (a.limit ?? 0) !== 0 || a.resultDst !== undefined;
  const start = nxStart(w, v2 ? NXAST_MORE.LEARN2 : NXAST_MORE.LEARN);
  const flags = (a.sendFlowRem ? NX_LEARN_F.SEND_FLOW_REM : 0) | (a.deleteLearned ? NX_LEARN_F.DELETE_LEARNED : 0) | (a.resultDst ? NX_LEARN_F.WRITE_RESULT : 0);
  const cookie = a.cookie ?? 0n;
  if (typeof cookie !== 'bigint' || cookie < 0n || cookie >> 64n !== 0n) throw new OpenFlowError('bad-value', 'learn: cookie is not a 64-bit unsigned integer');
  w.u16(checkU(a.idleTimeout ?? 0, 16, 'learn idle_timeout'))
    .u16(checkU(a.hardTimeout ?? 0, 16, 'learn hard_timeout'))
    .u16(checkU(a.priority ?? OFP_DEFAULT_PRIORITY, 16, 'learn priority'))
    .u64(cookie)
    .u16(flags)
    .u8(checkU(a.table, 8, 'learn table'))
    .u8(0)
    .u16(checkU(a.finIdleTimeout ?? 0, 16, 'learn fin_idle_timeout'))
    .u16(checkU(a.finHardTimeout ?? 0, 16, 'learn fin_hard_timeout'));
  if (v2) {
    w.u32(checkU(a.limit ?? 0, 32, 'learn limit'));
    if (a.resultDst) {
      const [ofs, nBits] = ofsNbits(a.resultDst, 'learn result_dst');
      if (nBits !== 1) throw new OpenFlowError('bad-value', 'learn: result_dst is one bit');
      w.u16(ofs).u16(0).u32(nxHeader(a.resultDst.field));
    } else {
      w.u16(0).u16(0);
    }
  }
  for (const spec of a.specs) encodeLearnSpec(w, spec);
  finish(w, start);
}

function encodeLearnSpec(w: BufferWriter, s: LearnSpec): void {
  if (s.kind === 'output') {
    const [ofs, nBits] = ofsNbits(s.src, 'learn output');
    w.u16(NX_LEARN_DST_OUTPUT | nBits).u32(nxHeader(s.src.field)).u16(ofs);
    return;
  }
  const [dstOfs, nBits] = ofsNbits(s.dst, 'learn');
  const dstType = s.kind === 'load' ? NX_LEARN_DST_LOAD : 0;
  if ('src' in s) {
    const [srcOfs, srcBits] = ofsNbits(s.src, 'learn');
    if (srcBits !== nBits) throw new OpenFlowError('bad-value', `learn: source has ${srcBits} bits, destination ${nBits}`);
    w.u16(dstType | nBits).u32(nxHeader(s.src.field)).u16(srcOfs);
  } else {
    if (typeof s.value !== 'bigint' || s.value < 0n || s.value >> BigInt(nBits) !== 0n) throw new OpenFlowError('bad-value', `learn: value does not fit in ${nBits} bits`);
    w.u16(NX_LEARN_SRC_IMMEDIATE | dstType | nBits);
    // the value in 2 * ceil(n_bits / 16) bytes, big-endian
    for (let i = 2 * Math.ceil(nBits / 16) - 1; i >= 0; i--) w.u8(Number((s.value >> BigInt(8 * i)) & 0xffn));
  }
  w.u32(nxHeader(s.dst.field)).u16(dstOfs);
}

function encodeNat(w: BufferWriter, nat: NatSpec): void {
  const start = nxStart(w, NXAST.NAT);
  let flags = 0;
  if (nat.kind === 'src') flags |= NX_NAT_F.SRC;
  if (nat.kind === 'dst') flags |= NX_NAT_F.DST;
  if (nat.persistent) flags |= NX_NAT_F.PERSISTENT;
  if (nat.portSelection === 'hash') flags |= NX_NAT_F.PROTO_HASH;
  if (nat.portSelection === 'random') flags |= NX_NAT_F.PROTO_RANDOM;
  const v6 = [nat.ipMin, nat.ipMax].filter((ip) => ip !== undefined).map((ip) => ip!.includes(':'));
  if (v6.length === 2 && v6[0] !== v6[1]) throw new OpenFlowError('bad-value', `nat: ${nat.ipMin} and ${nat.ipMax} are not of one address family`);
  const six = v6[0] === true;
  let range = 0;
  if (nat.ipMin !== undefined) range |= six ? NX_NAT_RANGE.IPV6_MIN : NX_NAT_RANGE.IPV4_MIN;
  if (nat.ipMax !== undefined) range |= six ? NX_NAT_RANGE.IPV6_MAX : NX_NAT_RANGE.IPV4_MAX;
  if (nat.portMin !== undefined) range |= NX_NAT_RANGE.PROTO_MIN;
  if (nat.portMax !== undefined) range |= NX_NAT_RANGE.PROTO_MAX;
  w.u16(0).u16(flags).u16(range);
  for (const ip of [nat.ipMin, nat.ipMax]) {
    if (ip === undefined) continue;
    if (six) w.bytes(ipv6ToBytes(ip, 'nat'));
    else w.u32(ipv4ToU32(ip, 'nat'));
  }
  if (nat.portMin !== undefined) w.u16(checkU(nat.portMin, 16, 'nat port'));
  if (nat.portMax !== undefined) w.u16(checkU(nat.portMax, 16, 'nat port'));
  finish(w, start);
}

/** OVS's choice: userdata needs NXAST_CONTROLLER2; the default reason is a plain output to
 *  CONTROLLER; any other reason is NXAST_CONTROLLER */
function encodeController(w: BufferWriter, a: Extract<Action, { type: 'controller' }>): void {
  const maxLen = checkU(a.maxLen ?? 0xffff, 16, 'controller max_len');
  const reason = checkU(a.reason ?? OFPR_ACTION, 8, 'controller reason');
  const id = checkU(a.controllerId ?? 0, 16, 'controller id');
  const userdata = a.userdata && a.userdata.length > 0 ? a.userdata : undefined;
  if (userdata || a.pause || a.meterId !== undefined) {
    const start = nxStart(w, NXAST.CONTROLLER2);
    w.zeros(6);
    if (maxLen !== 0xffff) w.u16(NXAC2PT.MAX_LEN).u16(8).u16(maxLen).zeros(2);
    if (id !== 0) w.u16(NXAC2PT.CONTROLLER_ID).u16(8).u16(id).zeros(2);
    if (reason !== OFPR_ACTION) {
      const p = w.offset;
      w.u16(NXAC2PT.REASON).u16(5).u8(reason);
      w.padTo(p, 8);
    }
    if (userdata) {
      const p = w.offset;
      w.u16(NXAC2PT.USERDATA).u16(4 + userdata.length).bytes(userdata);
      w.padTo(p, 8);
    }
    if (a.pause) w.u16(NXAC2PT.PAUSE).u16(4).zeros(4);
    if (a.meterId !== undefined) w.u16(NXAC2PT.METER_ID).u16(8).u32(checkU(a.meterId, 32, 'controller meter_id'));
    finish(w, start);
  } else if (reason === OFPR_ACTION && id === 0) {
    w.u16(OFPAT.OUTPUT).u16(16).u32(OFPP.CONTROLLER).u16(maxLen).zeros(6);
  } else {
    const start = nxStart(w, NXAST.CONTROLLER);
    w.u16(maxLen).u16(id).u8(reason).u8(0);
    finish(w, start);
  }
}

// ---- decode -------------------------------------------------------------------------------------

const scratch = new BufferWriter(256);

/** a sequence of actions filling the reader */
export function decodeActions(r: BufferReader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(decodeAction(r));
  return out;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.equals(b);
}

export function decodeAction(r: BufferReader): Action {
  const start = r.pos;
  const type = r.peekU16(start);
  const len = r.peekU16(start + 2);
  if (len < 8 || len % 8 !== 0) throw new OpenFlowError('bad-length', `action: type ${type} has length ${len}`);
  if (len > r.remaining) throw new OpenFlowError('bad-length', `action: length ${len} at offset ${start} runs past the end (${r.remaining} left)`);
  // the commonest action, checked in place: output with zero padding
  if (type === OFPAT.OUTPUT && len === 16 && r.buf.readUIntBE(start + 10, 6) === 0) {
    const port = r.buf.readUInt32BE(start + 4);
    const maxLen = r.buf.readUInt16BE(start + 8);
    r.pos += 16;
    return maxLen === (port === OFPP.CONTROLLER ? 0xffff : 0) ? { type: 'output', port } : { type: 'output', port, maxLen };
  }
  const fast = fastStandardAction(r.buf, start, type, len);
  if (fast) {
    r.pos += len;
    return fast;
  }
  r.pos += len;
  const src = r.buf.subarray(start, start + len);
  let parsed: Action | undefined;
  try {
    parsed = parseAction(new BufferReader(src, 0, len, 'action'), type, len);
  } catch {
    parsed = undefined;
  }
  if (parsed) {
    scratch.reset();
    try {
      encodeAction(scratch, parsed);
      if (sameBytes(scratch.view(), src)) return parsed;
    } catch {
      /* falls through to raw */
    }
  }
  return rawAction(src, type, len);
}

function zeroBetween(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** the common fixed-size OpenFlow actions decoded in place, when their padding is canonical (zero);
 *  anything else takes the general parse + re-encode + compare path */
function fastStandardAction(b: Buffer, at: number, type: number, len: number): Action | undefined {
  switch (type) {
    case OFPAT.GROUP:
      return len === 8 ? { type: 'group', groupId: b.readUInt32BE(at + 4) } : undefined;
    case OFPAT.SET_QUEUE:
      return len === 8 ? { type: 'set_queue', queueId: b.readUInt32BE(at + 4) } : undefined;
    case OFPAT.DEC_NW_TTL:
      return len === 8 && zeroBetween(b, at + 4, at + 8) ? { type: 'dec_ttl' } : undefined;
    case OFPAT.POP_VLAN:
      return len === 8 && zeroBetween(b, at + 4, at + 8) ? { type: 'pop_vlan' } : undefined;
    case OFPAT.PUSH_VLAN:
      return len === 8 && zeroBetween(b, at + 6, at + 8) ? { type: 'push_vlan', ethertype: b.readUInt16BE(at + 4) } : undefined;
    case OFPAT.SET_FIELD: {
      if (len < 16) return undefined;
      const header = b.readUInt32BE(at + 4);
      const oxmLen = header & 0xff;
      // unmasked, and exactly padded to 8 with zeros, as our encoder writes it
      const paddedLen = (8 + oxmLen + 7) & ~7;
      if (header & 0x100 || paddedLen !== len || !zeroBetween(b, at + 8 + oxmLen, at + len)) return undefined;
      const tlv = decodeOxmTlv(new BufferReader(b, at + 4, at + 8 + oxmLen, 'set_field'));
      return tlv && tlv.mask === undefined ? { type: 'set_field', field: tlv.field, value: tlv.value } : undefined;
    }
    default:
      return undefined;
  }
}

function rawAction(src: Buffer, type: number, len: number): Action {
  if (type === OFPAT.EXPERIMENTER && len >= 8) {
    const experimenter = src.readUInt32BE(4);
    if (experimenter === NX_VENDOR_ID && len >= 10) {
      return { type: 'raw', actionType: type, experimenter, subtype: src.readUInt16BE(8), data: Uint8Array.from(src.subarray(10)) };
    }
    return { type: 'raw', actionType: type, experimenter, data: Uint8Array.from(src.subarray(8)) };
  }
  return { type: 'raw', actionType: type, data: Uint8Array.from(src.subarray(4)) };
}

function parseAction(r: BufferReader, type: number, len: number): Action | undefined {
  r.skip(4);
  switch (type) {
    case OFPAT.OUTPUT: {
      const port = r.u32();
      const maxLen = r.u16();
      const def = port === OFPP.CONTROLLER ? 0xffff : 0;
      return maxLen === def ? { type: 'output', port } : { type: 'output', port, maxLen };
    }
    case OFPAT.GROUP:
      return { type: 'group', groupId: r.u32() };
    case OFPAT.PUSH_VLAN:
      return { type: 'push_vlan', ethertype: r.u16() };
    case OFPAT.POP_VLAN:
      return { type: 'pop_vlan' };
    case OFPAT.DEC_NW_TTL:
      return { type: 'dec_ttl' };
    case OFPAT.SET_QUEUE:
      return { type: 'set_queue', queueId: r.u32() };
    case OFPAT.SET_FIELD: {
      const tlv = decodeOxmTlv(r);
      if (!tlv || tlv.mask !== undefined) return undefined;
      return { type: 'set_field', field: tlv.field, value: tlv.value };
    }
    case OFPAT.EXPERIMENTER: {
      if (len < 16 || r.u32() !== NX_VENDOR_ID) return undefined;
      return parseNicira(r, r.u16());
    }
    default:
      return undefined;
  }
}

function fieldRef(header: number, ofs: number, nBits: number): FieldRef | undefined {
  const field = fieldByNxHeader(header);
  if (!field) return undefined;
  const whole = ofs === 0 && nBits === fieldBits(field);
  return whole ? { field } : { field, ofs, nBits };
}

function parseNicira(r: BufferReader, subtype: number): Action | undefined {
  switch (subtype) {
    case NXAST.REG_MOVE: {
      const nBits = r.u16();
      const srcOfs = r.u16();
      const dstOfs = r.u16();
      const src = fieldRef(r.u32(), srcOfs, nBits);
      const dst = fieldRef(r.u32(), dstOfs, nBits);
      return src && dst ? { type: 'move', src, dst } : undefined;
    }
    case NXAST.REG_LOAD: {
      const ofsNbitsV = r.u16();
      const field = fieldByNxHeader(r.u32());
      if (!field) return undefined;
      const ofs = BigInt(ofsNbitsV >> 6);
      const n = BigInt((ofsNbitsV & 63) + 1);
      const v = r.u64();
      const mask = ((1n << n) - 1n) << ofs;
      return { type: 'set_field', field, value: v << ofs, mask };
    }
    case NXAST.CT: {
      const flags = r.u16();
      const zoneSrc = r.u32();
      const zone = r.u16();
      const table = r.u8();
      r.skip(3);
      const alg = r.u16();
      const a: Extract<Action, { type: 'ct' }> = { type: 'ct' };
      if (flags & NX_CT_F_COMMIT) a.commit = true;
      if (flags & NX_CT_F_FORCE) a.force = true;
      if (zoneSrc === 0) {
        if (zone !== 0) a.zone = zone;
      } else {
        const ref = fieldRef(zoneSrc, zone >> 6, (zone & 63) + 1);
        if (!ref) return undefined;
        a.zone = ref;
      }
      if (table !== NX_CT_RECIRC_NONE) a.table = table;
      if (alg !== 0) a.alg = alg;
      let first = true;
      while (r.remaining > 0) {
        const t = r.peekU16();
        const isNat = t === OFPAT.EXPERIMENTER && r.remaining >= 10 && r.buf.readUInt32BE(r.pos + 4) === NX_VENDOR_ID && r.buf.readUInt16BE(r.pos + 8) === NXAST.NAT;
        if (isNat && first) {
          const l = r.peekU16(r.pos + 2);
          const nr = r.sub(l, 'nat');
          nr.skip(10);
          const nat = parseNat(nr);
          if (!nat) return undefined;
          a.nat = nat;
        } else {
          (a.exec ??= []).push(decodeAction(r));
        }
        first = false;
      }
      return a;
    }
    case NXAST.CT_CLEAR:
      return { type: 'ct_clear' };
    case NXAST.RESUBMIT: {
      const port = r.u16();
      const a: Extract<Action, { type: 'resubmit' }> = { type: 'resubmit', legacy: true };
      if (port !== 0xfff8) a.port = port32(port);
      return a;
    }
    case NXAST.RESUBMIT_TABLE:
    case NXAST_MORE.RESUBMIT_TABLE_CT: {
      const port = r.u16();
      const table = r.u8();
      const a: Extract<Action, { type: 'resubmit' }> = { type: 'resubmit' };
      if (port !== 0xfff8) a.port = port32(port);
      if (table !== 0xff) a.table = table;
      if (subtype === NXAST_MORE.RESUBMIT_TABLE_CT) a.ct = true;
      return a;
    }
    case NXAST.DEC_TTL_CNT_IDS: {
      const n = r.u16();
      r.skip(4);
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(r.u16());
      return { type: 'dec_ttl', ids };
    }
    case NXAST.OUTPUT_REG: {
      const ofsNbitsV = r.u16();
      const src = fieldRef(r.u32(), ofsNbitsV >> 6, (ofsNbitsV & 63) + 1);
      const maxLen = r.u16();
      if (!src) return undefined;
      return maxLen === 0xffff ? { type: 'output_reg', src } : { type: 'output_reg', src, maxLen };
    }
    case NXAST_MORE.EXIT:
      return { type: 'exit' };
    case NXAST_MORE.FIN_TIMEOUT: {
      const idle = r.u16();
      const hard = r.u16();
      const a: Extract<Action, { type: 'fin_timeout' }> = { type: 'fin_timeout' };
      if (idle) a.idleTimeout = idle;
      if (hard) a.hardTimeout = hard;
      return a;
    }
    case NXAST_MORE.SET_TUNNEL:
      r.skip(2);
      return { type: 'set_tunnel', tunId: BigInt(r.u32()) };
    case NXAST_MORE.SET_TUNNEL64: {
      r.skip(6);
      const tunId = r.u64();
      return tunId > 0xffffffffn ? { type: 'set_tunnel', tunId } : { type: 'set_tunnel', tunId, wide: true };
    }
    case NXAST_MORE.SAMPLE:
    case NXAST_MORE.SAMPLE2:
    case NXAST_MORE.SAMPLE3: {
      const a: Extract<Action, { type: 'sample' }> = { type: 'sample', probability: r.u16(), collectorSetId: r.u32(), obsDomainId: r.u32(), obsPointId: r.u32() };
      if (subtype === NXAST_MORE.SAMPLE) return a;
      const port = r.u16();
      const dir = r.u8();
      if (port !== 0xffff) a.samplingPort = port32(port);
      if (subtype === NXAST_MORE.SAMPLE3) {
        const d = SAMPLE_DIRECTIONS[dir];
        if (d === undefined) return undefined; // direction default in SAMPLE3: not modelled (re-encodes as SAMPLE/2)
        a.direction = d;
      }
      return a;
    }
    case NXAST_MORE.MULTIPATH: {
      const fields = HASH_FIELDS[r.u16()];
      const basis = r.u16();
      r.skip(2);
      const algorithm = MP_ALGORITHMS[r.u16()];
      const links = r.u16() + 1;
      const arg = r.u32();
      r.skip(2);
      const ofsNbitsV = r.u16();
      const dst = fieldRef(r.u32(), ofsNbitsV >> 6, (ofsNbitsV & 63) + 1);
      if (fields === undefined || algorithm === undefined || !dst) return undefined;
      return { type: 'multipath', fields, basis, algorithm, links, arg, dst };
    }
    case NXAST_MORE.BUNDLE:
    case NXAST_MORE.BUNDLE_LOAD: {
      const algorithm = BD_ALGORITHMS[r.u16()];
      const fields = HASH_FIELDS[r.u16()];
      const basis = r.u16();
      if (r.u32() !== NXM_OF_IN_PORT) return undefined;
      const n = r.u16();
      const ofsNbitsV = r.u16();
      const dstHeader = r.u32();
      r.skip(4);
      if (fields === undefined || algorithm === undefined) return undefined;
      const members: number[] = [];
      for (let i = 0; i < n; i++) members.push(port32(r.u16()));
      const a: Extract<Action, { type: 'bundle' }> = { type: 'bundle', fields, basis, algorithm, members };
      if (subtype === NXAST_MORE.BUNDLE_LOAD) {
        const dst = fieldRef(dstHeader, ofsNbitsV >> 6, (ofsNbitsV & 63) + 1);
        if (!dst) return undefined;
        a.dst = dst;
      }
      return a;
    }
    case NXAST_MORE.LEARN:
    case NXAST_MORE.LEARN2:
      return parseLearn(r, subtype === NXAST_MORE.LEARN2);
    case NXAST.NOTE:
      return { type: 'note', data: Uint8Array.from(r.rest()) };
    case NXAST.CONTROLLER: {
      const maxLen = r.u16();
      const id = r.u16();
      const reason = r.u8();
      const a: Extract<Action, { type: 'controller' }> = { type: 'controller', reason };
      if (maxLen !== 0xffff) a.maxLen = maxLen;
      if (id !== 0) a.controllerId = id;
      return a;
    }
    case NXAST.CONTROLLER2: {
      r.skip(6);
      const a: Extract<Action, { type: 'controller' }> = { type: 'controller' };
      while (r.remaining > 0) {
        const ptype = r.u16();
        const plen = r.u16();
        if (plen < 4) return undefined;
        const p = r.sub(plen - 4, 'controller property');
        r.skip((8 - (plen % 8)) % 8);
        if (ptype === NXAC2PT.MAX_LEN) a.maxLen = p.u16();
        else if (ptype === NXAC2PT.REASON) a.reason = p.u8();
        else if (ptype === NXAC2PT.USERDATA) a.userdata = Uint8Array.from(p.rest());
        else if (ptype === NXAC2PT.CONTROLLER_ID) a.controllerId = p.u16();
        else if (ptype === NXAC2PT.PAUSE) a.pause = true;
        else if (ptype === NXAC2PT.METER_ID) a.meterId = p.u32();
        else return undefined;
      }
      return a;
    }
    default:
      return undefined;
  }
}

function parseLearn(r: BufferReader, v2: boolean): Action | undefined {
  const idle = r.u16();
  const hard = r.u16();
  const priority = r.u16();
  const cookie = r.u64();
  const flags = r.u16();
  const table = r.u8();
  r.skip(1);
  const finIdle = r.u16();
  const finHard = r.u16();
  const a: Extract<Action, { type: 'learn' }> = { type: 'learn', table, specs: [] };
  if (idle) a.idleTimeout = idle;
  if (hard) a.hardTimeout = hard;
  if (finIdle) a.finIdleTimeout = finIdle;
  if (finHard) a.finHardTimeout = finHard;
  if (priority !== OFP_DEFAULT_PRIORITY) a.priority = priority;
  if (cookie !== 0n) a.cookie = cookie;
  if (flags & NX_LEARN_F.SEND_FLOW_REM) a.sendFlowRem = true;
  if (flags & NX_LEARN_F.DELETE_LEARNED) a.deleteLearned = true;
  if (v2) {
    const limit = r.u32();
    const ofs = r.u16();
    r.skip(2);
    if (limit) a.limit = limit;
    if (flags & NX_LEARN_F.WRITE_RESULT) {
      const ref = fieldRef(r.u32(), ofs, 1);
      if (!ref) return undefined;
      a.resultDst = ref;
    }
  }
  // specs until the end of the action; a zero header starts the padding (checked by re-encoding)
  while (r.remaining >= 2) {
    const h = r.u16();
    if (h === 0) break;
    const nBits = h & 0x7ff;
    const dstType = h & (3 << 11);
    if (h & 0xc000 || nBits === 0) return undefined;
    let src: FieldRef | undefined;
    let value: bigint | undefined;
    if (h & NX_LEARN_SRC_IMMEDIATE) {
      value = 0n;
      for (let i = 2 * Math.ceil(nBits / 16); i > 0; i--) value = (value << 8n) | BigInt(r.u8());
    } else {
      const header = r.u32();
      src = fieldRef(header, r.u16(), nBits);
      if (!src) return undefined;
    }
    if (dstType === NX_LEARN_DST_OUTPUT) {
      if (!src) return undefined;
      a.specs.push({ kind: 'output', src });
      continue;
    }
    if (dstType !== 0 && dstType !== NX_LEARN_DST_LOAD) return undefined;
    const header = r.u32();
    const dst = fieldRef(header, r.u16(), nBits);
    if (!dst) return undefined;
    const kind = dstType === NX_LEARN_DST_LOAD ? 'load' : 'match';
    a.specs.push(src ? { kind, dst, src } : { kind, dst, value: value! });
  }
  return a;
}

function parseNat(r: BufferReader): NatSpec | undefined {
  r.skip(2);
  const flags = r.u16();
  const range = r.u16();
  const nat: NatSpec = {};
  if (flags & NX_NAT_F.SRC) nat.kind = 'src';
  if (flags & NX_NAT_F.DST) nat.kind = 'dst';
  if (flags & NX_NAT_F.PERSISTENT) nat.persistent = true;
  if (flags & NX_NAT_F.PROTO_HASH) nat.portSelection = 'hash';
  if (flags & NX_NAT_F.PROTO_RANDOM) nat.portSelection = 'random';
  const v4 = range & (NX_NAT_RANGE.IPV4_MIN | NX_NAT_RANGE.IPV4_MAX);
  const v6 = range & (NX_NAT_RANGE.IPV6_MIN | NX_NAT_RANGE.IPV6_MAX);
  if (v4 && v6) return undefined;
  if (range & NX_NAT_RANGE.IPV4_MIN) nat.ipMin = u32ToIpv4(r.u32());
  if (range & NX_NAT_RANGE.IPV4_MAX) nat.ipMax = u32ToIpv4(r.u32());
  if (range & NX_NAT_RANGE.IPV6_MIN) nat.ipMin = bytesToIpv6(r.bytes(16));
  if (range & NX_NAT_RANGE.IPV6_MAX) nat.ipMax = bytesToIpv6(r.bytes(16));
  if (range & NX_NAT_RANGE.PROTO_MIN) nat.portMin = r.u16();
  if (range & NX_NAT_RANGE.PROTO_MAX) nat.portMax = r.u16();
  return nat;
}

// ---- instructions ---------------------------------------------------------------------------------

/** OVS's instruction order (ovsinst_type order): meter, apply, clear, write, metadata, goto */
export function encodeInstructions(w: BufferWriter, ins: Instructions): void {
  if (ins.meter !== undefined) w.u16(OFPIT.METER).u16(8).u32(checkU(ins.meter, 32, 'meter instruction'));
  // an empty apply list is no instruction at all (as OVS sends "actions=drop")
  if (ins.apply !== undefined && ins.apply.length > 0) actionsInstruction(w, OFPIT.APPLY_ACTIONS, ins.apply);
  if (ins.clear) w.u16(OFPIT.CLEAR_ACTIONS).u16(8).zeros(4);
  if (ins.write !== undefined) actionsInstruction(w, OFPIT.WRITE_ACTIONS, ins.write);
  if (ins.writeMetadata !== undefined) {
    w.u16(OFPIT.WRITE_METADATA).u16(24).zeros(4).u64(ins.writeMetadata.value).u64(ins.writeMetadata.mask);
  }
  if (ins.gotoTable !== undefined) w.u16(OFPIT.GOTO_TABLE).u16(8).u8(checkU(ins.gotoTable, 8, 'goto_table')).zeros(3);
}

function actionsInstruction(w: BufferWriter, type: number, actions: readonly Action[]): void {
  const start = w.offset;
  w.u16(type).u16(0).zeros(4);
  encodeActions(w, actions);
  w.patch16(start + 2, w.offset - start);
}

const INSTRUCTION_RANK: Record<number, number> = {
  [OFPIT.METER]: 0,
  [OFPIT.APPLY_ACTIONS]: 1,
  [OFPIT.CLEAR_ACTIONS]: 2,
  [OFPIT.WRITE_ACTIONS]: 3,
  [OFPIT.WRITE_METADATA]: 4,
  [OFPIT.GOTO_TABLE]: 5,
};

export interface DecodedInstructions {
  instructions: Instructions;
  /** false when encodeInstructions(instructions) would not give back the bytes read */
  canonical: boolean;
}

/** skips n bytes; true when they are all zero (no subarray allocation) */
function zeros(r: BufferReader, n: number): boolean {
  r.need(n);
  const at = r.pos;
  r.pos += n;
  return zeroBetween(r.buf, at, at + n);
}

export function decodeInstructions(r: BufferReader): DecodedInstructions {
  const ins: Instructions = {};
  let canonical = true;
  let lastRank = -1;
  while (r.remaining > 0) {
    const type = r.peekU16();
    const len = r.peekU16(r.pos + 2);
    if (len < 8 || len % 8 !== 0) throw new OpenFlowError('bad-length', `instruction: type ${type} has length ${len}`);
    const ir = r.sub(len, 'instruction');
    ir.skip(4);
    const rank = INSTRUCTION_RANK[type];
    if (rank === undefined || rank <= lastRank) canonical = false;
    if (rank !== undefined) lastRank = Math.max(lastRank, rank);
    switch (type) {
      case OFPIT.METER:
        if (len !== 8) canonical = false;
        ins.meter = ir.u32();
        break;
      case OFPIT.APPLY_ACTIONS:
      case OFPIT.WRITE_ACTIONS: {
        if (!zeros(ir, 4)) canonical = false;
        const list = decodeActions(ir);
        if (type === OFPIT.APPLY_ACTIONS && list.length === 0) canonical = false;
        if (type === OFPIT.APPLY_ACTIONS) ins.apply = list;
        else ins.write = list;
        break;
      }
      case OFPIT.CLEAR_ACTIONS:
        if (len !== 8 || !zeros(ir, 4)) canonical = false;
        ins.clear = true;
        break;
      case OFPIT.WRITE_METADATA:
        if (len !== 24 || !zeros(ir, 4)) canonical = false;
        ins.writeMetadata = { value: ir.u64(), mask: ir.u64() };
        break;
      case OFPIT.GOTO_TABLE:
        ins.gotoTable = ir.u8();
        if (len !== 8 || !zeros(ir, 3)) canonical = false;
        break;
      default:
        canonical = false;
    }
  }
  return { instructions: ins, canonical };
}
