/**
 * Encoders: one pure function per message kind, all writing into a flat BufferWriter whose length
 * fields are patched after the body is written. `encodeMessage` returns a fresh Buffer;
 * `encodeInto` appends to a caller's writer (many messages, one buffer, one socket write).
 */
import { BufferWriter } from './buffer-writer';
import {
  OFPBCT,
  OFPFC,
  OFPG,
  OFPGC,
  OFPGT,
  OFPMBT,
  OFPMC,
  OFPMF,
  OFPMP,
  OFPT,
  OFP_NO_BUFFER,
  OFP_VERSION,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
  ONF_VENDOR_ID,
} from './constants';
import { encodeActions, encodeInstructions } from './actions';
import { OpenFlowError } from './errors';
import type { Bucket, Group, Meter } from './flow';
import { OFPP } from './flow';
import type * as M from './messages';
import { encodeMatch } from './oxm';
import { describeProblems, flowProblems, groupProblems, meterProblems, type FlowProblem } from './validity';

export const FLOW_MOD_COMMANDS: Readonly<Record<M.FlowModCommand, number>> = {
  add: OFPFC.ADD,
  modify: OFPFC.MODIFY,
  modify_strict: OFPFC.MODIFY_STRICT,
  delete: OFPFC.DELETE,
  delete_strict: OFPFC.DELETE_STRICT,
};
const GROUP_MOD_COMMANDS = { add: OFPGC.ADD, modify: OFPGC.MODIFY, delete: OFPGC.DELETE } as const;
const METER_MOD_COMMANDS = { add: OFPMC.ADD, modify: OFPMC.MODIFY, delete: OFPMC.DELETE } as const;
export const BUNDLE_CONTROL_TYPES: Readonly<Record<M.BundleControlType, number>> = {
  open_request: OFPBCT.OPEN_REQUEST,
  open_reply: OFPBCT.OPEN_REPLY,
  close_request: OFPBCT.CLOSE_REQUEST,
  close_reply: OFPBCT.CLOSE_REPLY,
  commit_request: OFPBCT.COMMIT_REQUEST,
  commit_reply: OFPBCT.COMMIT_REPLY,
  discard_request: OFPBCT.DISCARD_REQUEST,
  discard_reply: OFPBCT.DISCARD_REPLY,
};
export const MULTIPART_TYPES = {
  desc: OFPMP.DESC,
  flow: OFPMP.FLOW,
  aggregate: OFPMP.AGGREGATE,
  table: OFPMP.TABLE,
  port_stats: OFPMP.PORT_STATS,
  group: OFPMP.GROUP,
  group_desc: OFPMP.GROUP_DESC,
  meter: OFPMP.METER,
  meter_config: OFPMP.METER_CONFIG,
  port_desc: OFPMP.PORT_DESC,
  queue: OFPMP.QUEUE,
  meter_features: OFPMP.METER_FEATURES,
  group_features: OFPMP.GROUP_FEATURES,
  table_features: OFPMP.TABLE_FEATURES,
} as const;

/** OFPTFPT_* property types of OFPMP_TABLE_FEATURES the model types, by name */
export const TABLE_FEATURE_PROP_TYPES = {
  instructions: 0,
  instructions_miss: 1,
  next_tables: 2,
  next_tables_miss: 3,
  write_actions: 4,
  write_actions_miss: 5,
  apply_actions: 6,
  apply_actions_miss: 7,
  match: 8,
  wildcards: 10,
  write_setfield: 12,
  write_setfield_miss: 13,
  apply_setfield: 14,
  apply_setfield_miss: 15,
  experimenter: 0xfffe,
  experimenter_miss: 0xffff,
} as const;

const SIMPLE_TYPES: Record<string, number> = {
  features_request: OFPT.FEATURES_REQUEST,
  get_config_request: OFPT.GET_CONFIG_REQUEST,
  barrier_request: OFPT.BARRIER_REQUEST,
  barrier_reply: OFPT.BARRIER_REPLY,
  get_async_request: OFPT.GET_ASYNC_REQUEST,
};

const MAX_BY_BITS: readonly number[] = Array.from({ length: 33 }, (_, b) => 2 ** b - 1);

function u(v: unknown, bits: number, what: string): number {
  // hot path: a plain comparison, no allocation
  if (typeof v === 'number' && v >= 0 && v <= MAX_BY_BITS[bits] && Math.floor(v) === v) return v;
  throw new OpenFlowError('bad-value', `${what}: ${String(v)} is not a ${bits}-bit unsigned integer`);
}

function big(v: unknown, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) {
    throw new OpenFlowError('bad-value', `${what}: ${String(v)} is not a 64-bit unsigned bigint`);
  }
  return v;
}

export function macToBytes(mac: string, what = 'hw_addr'): Buffer {
  const m = /^([0-9a-fA-F]{2})(?::([0-9a-fA-F]{2})){5}$/.test(mac) ? mac.split(':') : undefined;
  if (!m) throw new OpenFlowError('bad-value', `${what}: bad MAC address ${mac}`);
  return Buffer.from(m.map((x) => parseInt(x, 16)));
}

function header(w: BufferWriter, type: number, xid: number): number {
  const start = w.offset;
  w.u8(OFP_VERSION).u8(type).u16(0).u32(u(xid, 32, 'xid'));
  return start;
}

function done(w: BufferWriter, start: number): void {
  const len = w.offset - start;
  if (len > 0xffff) throw new OpenFlowError('oversized', `encode: message of ${len} bytes exceeds 65535`);
  w.patch16(start + 2, len);
}

function writePort(w: BufferWriter, p: M.OfpPort): void {
  w.u32(u(p.portNo, 32, 'port_no')).zeros(4).bytes(macToBytes(p.hwAddr)).zeros(2).fixedString(p.name, 16);
  w.u32(p.config).u32(p.state).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer).u32(p.currSpeed).u32(p.maxSpeed);
}

export function encodeBuckets(w: BufferWriter, group: Group): void {
  for (const b of group.buckets) encodeBucket(w, group.type, b);
}

function encodeBucket(w: BufferWriter, type: M.GroupType, b: Bucket): void {
  const start = w.offset;
  w.u16(0)
    .u16(u(b.weight ?? (type === 'select' ? 1 : 0), 16, 'bucket weight'))
    .u32(u(b.watchPort ?? OFPP.ANY, 32, 'watch_port'))
    .u32(u(b.watchGroup ?? OFPG.ANY, 32, 'watch_group'))
    .zeros(4);
  encodeActions(w, b.actions);
  w.patch16(start, w.offset - start);
}

function groupType(t: M.GroupType): number {
  const v = OFPGT[t];
  if (v === undefined) throw new OpenFlowError('bad-value', `group: unknown type ${String(t)}`);
  return v;
}

export function meterFlags(m: Meter): number {
  return (m.unit === 'pktps' ? OFPMF.PKTPS : OFPMF.KBPS) | (m.burst ? OFPMF.BURST : 0) | (m.stats ? OFPMF.STATS : 0);
}

function encodeBands(w: BufferWriter, m: Meter): void {
  for (const b of m.bands) {
    if (b.type === 'drop') {
      w.u16(OFPMBT.DROP).u16(16).u32(u(b.rate, 32, 'band rate')).u32(u(b.burstSize, 32, 'band burst')).zeros(4);
    } else if (b.type === 'dscp_remark') {
      w.u16(OFPMBT.DSCP_REMARK).u16(16).u32(u(b.rate, 32, 'band rate')).u32(u(b.burstSize, 32, 'band burst'));
      w.u8(u(b.precLevel ?? 0, 8, 'prec_level')).zeros(3);
    } else {
      throw new OpenFlowError('bad-value', `meter: unknown band type ${String((b as { type: unknown }).type)}`);
    }
  }
}

function encodeFlowStatsRequest(w: BufferWriter, b: M.FlowStatsRequest): void {
  w.u8(u(b.tableId, 8, 'table_id')).zeros(3).u32(u(b.outPort, 32, 'out_port')).u32(u(b.outGroup, 32, 'out_group')).zeros(4);
  w.u64(big(b.cookie, 'cookie')).u64(big(b.cookieMask, 'cookie_mask'));
  encodeMatch(w, b.match, false);
}

function encodeMultipartRequestBody(w: BufferWriter, b: M.MultipartRequestBody): void {
  switch (b.kind) {
    case 'desc':
    case 'table':
    case 'port_desc':
    case 'group_desc':
      return;
    case 'flow':
    case 'aggregate':
      encodeFlowStatsRequest(w, b);
      return;
    case 'port_stats':
      w.u32(u(b.portNo, 32, 'port_no')).zeros(4);
      return;
    case 'group':
      w.u32(u(b.groupId, 32, 'group_id')).zeros(4);
      return;
    case 'meter':
    case 'meter_config':
      w.u32(u(b.meterId, 32, 'meter_id')).zeros(4);
      return;
    case 'queue':
      w.u32(u(b.portNo, 32, 'port_no')).u32(u(b.queueId, 32, 'queue_id'));
      return;
    case 'meter_features':
    case 'group_features':
      return;
    case 'table_features':
      for (const t of b.tables) encodeTableFeatures(w, t);
      return;
    case 'raw':
      w.bytes(b.data);
      return;
  }
}

function encodeMultipartReplyBody(w: BufferWriter, b: M.MultipartReplyBody): void {
  switch (b.kind) {
    case 'desc':
      w.fixedString(b.desc.mfrDesc, 256).fixedString(b.desc.hwDesc, 256).fixedString(b.desc.swDesc, 256);
      w.fixedString(b.desc.serialNum, 32).fixedString(b.desc.dpDesc, 256);
      return;
    case 'flow':
      for (const s of b.flows) encodeFlowStats(w, s);
      return;
    case 'aggregate':
      w.u64(b.stats.packetCount).u64(b.stats.byteCount).u32(b.stats.flowCount).zeros(4);
      return;
    case 'table':
      for (const t of b.tables) w.u8(t.tableId).zeros(3).u32(t.activeCount).u64(t.lookupCount).u64(t.matchedCount);
      return;
    case 'port_stats':
      for (const p of b.ports) {
        w.u32(p.portNo).zeros(4);
        w.u64(p.rxPackets).u64(p.txPackets).u64(p.rxBytes).u64(p.txBytes).u64(p.rxDropped).u64(p.txDropped);
        w.u64(p.rxErrors).u64(p.txErrors).u64(p.rxFrameErr).u64(p.rxOverErr).u64(p.rxCrcErr).u64(p.collisions);
        w.u32(p.durationSec).u32(p.durationNsec);
      }
      return;
    case 'port_desc':
      for (const p of b.ports) writePort(w, p);
      return;
    case 'group':
      for (const g of b.groups) {
        const start = w.offset;
        w.u16(0).zeros(2).u32(g.groupId).u32(g.refCount).zeros(4).u64(g.packetCount).u64(g.byteCount);
        w.u32(g.durationSec).u32(g.durationNsec);
        for (const c of g.buckets) w.u64(c.packetCount).u64(c.byteCount);
        w.patch16(start, w.offset - start);
      }
      return;
    case 'group_desc':
      for (const g of b.groups) {
        const start = w.offset;
        w.u16(0).u8(groupType(g.type)).u8(0).u32(u(g.groupId, 32, 'group_id'));
        encodeBuckets(w, g);
        w.patch16(start, w.offset - start);
      }
      return;
    case 'meter':
      for (const m of b.meters) {
        const start = w.offset;
        w.u32(m.meterId).u16(0).zeros(6).u32(m.flowCount).u64(m.packetInCount).u64(m.byteInCount);
        w.u32(m.durationSec).u32(m.durationNsec);
        for (const band of m.bands) w.u64(band.packetBandCount).u64(band.byteBandCount);
        w.patch16(start + 4, w.offset - start);
      }
      return;
    case 'meter_config':
      for (const m of b.meters) {
        const start = w.offset;
        w.u16(0).u16(meterFlags(m)).u32(u(m.meterId, 32, 'meter_id'));
        encodeBands(w, m);
        w.patch16(start, w.offset - start);
      }
      return;
    case 'queue':
      for (const q of b.queues) {
        w.u32(u(q.portNo, 32, 'port_no')).u32(u(q.queueId, 32, 'queue_id'));
        w.u64(big(q.txBytes, 'tx_bytes')).u64(big(q.txPackets, 'tx_packets')).u64(big(q.txErrors, 'tx_errors'));
        w.u32(u(q.durationSec, 32, 'duration_sec')).u32(u(q.durationNsec, 32, 'duration_nsec'));
      }
      return;
    case 'meter_features': {
      const f = b.features;
      w.u32(u(f.maxMeter, 32, 'max_meter')).u32(u(f.bandTypes, 32, 'band_types')).u32(u(f.capabilities, 32, 'capabilities'));
      w.u8(u(f.maxBands, 8, 'max_bands')).u8(u(f.maxColor, 8, 'max_color')).zeros(2);
      return;
    }
    case 'group_features': {
      const f = b.features;
      w.u32(u(f.types, 32, 'types')).u32(u(f.capabilities, 32, 'capabilities'));
      for (let i = 0; i < 4; i++) w.u32(u(f.maxGroups?.[i] ?? 0, 32, 'max_groups'));
      for (let i = 0; i < 4; i++) w.u32(u(f.actions?.[i] ?? 0, 32, 'actions'));
      return;
    }
    case 'table_features':
      for (const t of b.tables) encodeTableFeatures(w, t);
      return;
    case 'raw':
      w.bytes(b.data);
      return;
  }
}

/** one ofp_packet_queue with its properties (each padded to 8 bytes) */
function encodePacketQueue(w: BufferWriter, q: M.PacketQueue): void {
  const start = w.offset;
  w.u32(u(q.queueId, 32, 'queue_id')).u32(u(q.port, 32, 'port')).u16(0).zeros(6);
  for (const p of q.properties) {
    const ps = w.offset;
    switch (p.prop) {
      case 'min_rate':
      case 'max_rate':
        w.u16(p.prop === 'min_rate' ? 1 : 2).u16(16).zeros(4).u16(u(p.rate, 16, 'rate')).zeros(6);
        break;
      case 'experimenter':
        w.u16(0xffff).u16(0).zeros(4).u32(u(p.experimenter, 32, 'experimenter')).zeros(4).bytes(p.data);
        w.patch16(ps + 2, w.offset - ps);
        break;
      case 'raw':
        w.u16(u(p.propType, 16, 'queue property')).u16(0).zeros(4).bytes(p.data);
        w.patch16(ps + 2, w.offset - ps);
        break;
      default:
        throw new OpenFlowError('bad-value', `queue: unknown property ${String((p as { prop: unknown }).prop)}`);
    }
  }
  w.patch16(start + 8, w.offset - start);
}

function encodeFlowStats(w: BufferWriter, s: M.FlowStats): void {
  const f = s.flow;
  const start = w.offset;
  w.u16(0).u8(u(f.table, 8, 'table_id')).u8(0).u32(s.durationSec).u32(s.durationNsec);
  w.u16(u(f.priority, 16, 'priority')).u16(f.idleTimeout ?? 0).u16(f.hardTimeout ?? 0).u16(f.flags ?? 0).zeros(4);
  w.u64(big(f.cookie, 'cookie')).u64(s.packetCount).u64(s.byteCount);
  if (s.matchRaw) w.bytes(s.matchRaw);
  else encodeMatch(w, f.match, false);
  if (s.instructionsRaw) w.bytes(s.instructionsRaw);
  else encodeInstructions(w, f.instructions);
  w.patch16(start, w.offset - start);
}

function encodeTableFeatures(w: BufferWriter, t: M.TableFeatures): void {
  const start = w.offset;
  w.u16(0).u8(u(t.tableId, 8, 'table_id')).zeros(5).fixedString(t.name, 32);
  w.u64(big(t.metadataMatch, 'metadata_match')).u64(big(t.metadataWrite, 'metadata_write'));
  w.u32(u(t.config, 32, 'table features config')).u32(u(t.maxEntries, 32, 'max_entries'));
  for (const p of t.properties) encodeTableFeatureProp(w, p);
  w.patch16(start, u(w.offset - start, 16, 'table features length'));
}

function encodeTableFeatureProp(w: BufferWriter, p: M.TableFeatureProp): void {
  const start = w.offset;
  if (p.prop === 'raw') w.u16(u(p.propType, 16, 'table feature property type'));
  else {
    const type = TABLE_FEATURE_PROP_TYPES[p.prop];
    if (type === undefined) throw new OpenFlowError('bad-value', `table features: unknown property ${String(p.prop)}`);
    w.u16(type);
  }
  w.u16(0);
  const ids = (list: readonly M.TableFeatureId[], what: string): void => {
    for (const id of list) {
      const data = id.data ?? new Uint8Array(0);
      w.u16(u(id.type, 16, what)).u16(u(4 + data.length, 16, `${what} length`)).bytes(data);
    }
  };
  switch (p.prop) {
    case 'instructions':
    case 'instructions_miss':
      ids(p.instructions, 'instruction id');
      break;
    case 'write_actions':
    case 'write_actions_miss':
    case 'apply_actions':
    case 'apply_actions_miss':
      ids(p.actions, 'action id');
      break;
    case 'next_tables':
    case 'next_tables_miss':
      for (const t of p.tableIds) w.u8(u(t, 8, 'next table id'));
      break;
    case 'experimenter':
    case 'experimenter_miss':
      w.u32(u(p.experimenter, 32, 'experimenter')).u32(u(p.expType, 32, 'exp_type')).bytes(p.data);
      break;
    case 'raw':
      w.bytes(p.data);
      break;
    default:
      for (const o of p.oxms) {
        w.u32(u(o.header, 32, 'oxm id'));
        if (o.header >>> 16 === 0xffff) {
          if (o.experimenter === undefined) throw new OpenFlowError('bad-value', 'table features: experimenter oxm id without experimenter');
          w.u32(u(o.experimenter, 32, 'oxm experimenter'));
        } else if (o.experimenter !== undefined) {
          throw new OpenFlowError('bad-value', 'table features: experimenter on a non-experimenter oxm id');
        }
      }
  }
  w.patch16(start + 2, u(w.offset - start, 16, 'table feature property length'));
  w.padTo(start, 8);
}

function multipartType(b: M.MultipartRequestBody | M.MultipartReplyBody): number {
  return b.kind === 'raw' ? b.multipartType : MULTIPART_TYPES[b.kind];
}

export interface EncodeOptions {
  /** encode a flow_mod even when validity.ts finds problems OVS would refuse it for (re-encoding
   *  decoded bytes as they came); default false: such a flow_mod throws OpenFlowError */
  lenient?: boolean;
}

/** refuses a flow_mod OVS would refuse: kind 'prerequisite' when that is the first problem, else 'invalid' */
function checkFlowMod(msg: M.FlowMod, full: boolean): void {
  const problems = flowProblems(msg.flow, { full });
  if (problems.length === 0) return;
  throw new OpenFlowError(problems[0].rule === 'prerequisite' ? 'prerequisite' : 'invalid', `flow_mod: ${describeProblems(problems)}`, undefined, problems);
}

/** refuses a group_mod / meter_mod OVS would refuse (kind 'invalid', every problem in `problems`) */
function refuse(what: string, problems: FlowProblem[]): void {
  if (problems.length) throw new OpenFlowError('invalid', `${what}: ${describeProblems(problems)}`, undefined, problems);
}

/** Appends one message to `w`. */
export function encodeInto(w: BufferWriter, msg: M.OfpMessage, opts: EncodeOptions = {}): void {
  let start: number;
  switch (msg.type) {
    case 'hello': {
      start = header(w, OFPT.HELLO, msg.xid);
      if (msg.versions) {
        const el = w.offset;
        let bitmap = 0;
        for (const v of msg.versions) bitmap |= 1 << u(v, 5, 'hello version');
        w.u16(1).u16(8).u32(bitmap >>> 0);
        w.padTo(el, 8);
      }
      if (msg.extraElements) w.bytes(msg.extraElements);
      break;
    }
    case 'error':
      start = header(w, OFPT.ERROR, msg.xid);
      w.u16(u(msg.errorType, 16, 'error type')).u16(u(msg.code, 16, 'error code'));
      if (msg.errorType === 0xffff) w.u32(u(msg.experimenter ?? 0, 32, 'experimenter'));
      w.bytes(msg.data);
      break;
    case 'echo_request':
    case 'echo_reply':
      start = header(w, msg.type === 'echo_request' ? OFPT.ECHO_REQUEST : OFPT.ECHO_REPLY, msg.xid);
      w.bytes(msg.data ?? new Uint8Array(0)); // an echo without data (e.g. JSON that leaves it out)
      break;
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
    case 'get_async_request':
      start = header(w, SIMPLE_TYPES[msg.type], msg.xid);
      break;
    case 'get_async_reply':
    case 'set_async': {
      start = header(w, msg.type === 'set_async' ? OFPT.SET_ASYNC : OFPT.GET_ASYNC_REPLY, msg.xid);
      const masks: [string, readonly number[]][] = [['packet_in_mask', msg.packetInMask], ['port_status_mask', msg.portStatusMask], ['flow_removed_mask', msg.flowRemovedMask]];
      for (const [what, pair] of masks) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new OpenFlowError('bad-value', `${msg.type}: ${what} is not a [master, slave] pair`);
        w.u32(u(pair[0], 32, what)).u32(u(pair[1], 32, what));
      }
      break;
    }
    case 'table_mod':
      start = header(w, OFPT.TABLE_MOD, msg.xid);
      w.u8(u(msg.tableId, 8, 'table_id')).zeros(3).u32(u(msg.config, 32, 'config'));
      break;
    case 'features_reply':
      start = header(w, OFPT.FEATURES_REPLY, msg.xid);
      if (!/^[0-9a-fA-F]{16}$/.test(msg.datapathId)) throw new OpenFlowError('bad-value', `features_reply: datapathId ${msg.datapathId} is not 16 hex digits`);
      w.u64(BigInt('0x' + msg.datapathId)).u32(msg.nBuffers).u8(msg.nTables).u8(msg.auxiliaryId).zeros(2);
      w.u32(msg.capabilities).u32(msg.reserved);
      break;
    case 'get_config_reply':
    case 'set_config':
      start = header(w, msg.type === 'set_config' ? OFPT.SET_CONFIG : OFPT.GET_CONFIG_REPLY, msg.xid);
      w.u16(u(msg.flags, 16, 'config flags')).u16(u(msg.missSendLen, 16, 'miss_send_len'));
      break;
    case 'packet_in':
      start = header(w, OFPT.PACKET_IN, msg.xid);
      w.u32(msg.bufferId).u16(msg.totalLen).u8(msg.reason).u8(msg.tableId).u64(msg.cookie);
      if (msg.matchRaw) w.bytes(msg.matchRaw);
      else encodeMatch(w, msg.match, false);
      w.zeros(2).bytes(msg.data);
      break;
    case 'packet_out': {
      start = header(w, OFPT.PACKET_OUT, msg.xid);
      w.u32(u(msg.bufferId, 32, 'buffer_id')).u32(u(msg.inPort, 32, 'in_port')).u16(0).zeros(6);
      const a = w.offset;
      encodeActions(w, msg.actions);
      w.patch16(start + 16, w.offset - a);
      w.bytes(msg.data);
      break;
    }
    case 'flow_removed':
      start = header(w, OFPT.FLOW_REMOVED, msg.xid);
      w.u64(msg.cookie).u16(msg.priority).u8(msg.reason).u8(msg.tableId).u32(msg.durationSec).u32(msg.durationNsec);
      w.u16(msg.idleTimeout).u16(msg.hardTimeout).u64(msg.packetCount).u64(msg.byteCount);
      if (msg.matchRaw) w.bytes(msg.matchRaw);
      else encodeMatch(w, msg.match, false);
      break;
    case 'port_status':
      start = header(w, OFPT.PORT_STATUS, msg.xid);
      w.u8(msg.reason).zeros(7);
      writePort(w, msg.port);
      break;
    case 'flow_mod': {
      start = header(w, OFPT.FLOW_MOD, msg.xid);
      const f = msg.flow;
      const command = FLOW_MOD_COMMANDS[msg.command];
      if (command === undefined) throw new OpenFlowError('bad-value', `flow_mod: unknown command ${String(msg.command)}`);
      // raw match/instructions bytes are sent as they are: only what we encode is checked
      if (!opts.lenient && !msg.matchRaw && !msg.instructionsRaw) {
        checkFlowMod(msg, command === OFPFC.ADD || command === OFPFC.MODIFY || command === OFPFC.MODIFY_STRICT);
      }
      w.u64(big(f.cookie, 'cookie')).u64(big(msg.cookieMask ?? 0n, 'cookie_mask'));
      w.u8(u(f.table, 8, 'table')).u8(command).u16(u(f.idleTimeout ?? 0, 16, 'idle_timeout')).u16(u(f.hardTimeout ?? 0, 16, 'hard_timeout'));
      w.u16(u(f.priority, 16, 'priority')).u32(u(msg.bufferId ?? OFP_NO_BUFFER, 32, 'buffer_id'));
      w.u32(u(msg.outPort ?? OFPP.ANY, 32, 'out_port')).u32(u(msg.outGroup ?? OFPG.ANY, 32, 'out_group'));
      w.u16(u(f.flags ?? 0, 16, 'flags')).zeros(2);
      if (msg.matchRaw) w.bytes(msg.matchRaw);
      else encodeMatch(w, f.match, false);
      if (msg.instructionsRaw) w.bytes(msg.instructionsRaw);
      else encodeInstructions(w, f.instructions);
      break;
    }
    case 'group_mod': {
      start = header(w, OFPT.GROUP_MOD, msg.xid);
      const command = GROUP_MOD_COMMANDS[msg.command];
      if (command === undefined) throw new OpenFlowError('bad-value', `group_mod: unknown command ${String(msg.command)}`);
      if (!opts.lenient) refuse('group_mod', groupProblems(msg.group, msg.command));
      w.u16(command).u8(groupType(msg.group.type)).u8(0).u32(u(msg.group.groupId, 32, 'group_id'));
      encodeBuckets(w, msg.group);
      break;
    }
    case 'meter_mod': {
      start = header(w, OFPT.METER_MOD, msg.xid);
      const command = METER_MOD_COMMANDS[msg.command];
      if (command === undefined) throw new OpenFlowError('bad-value', `meter_mod: unknown command ${String(msg.command)}`);
      if (!opts.lenient) refuse('meter_mod', meterProblems(msg.meter, msg.command));
      // OVS sends no flags with a delete (the switch ignores them)
      w.u16(command).u16(command === OFPMC.DELETE ? 0 : meterFlags(msg.meter)).u32(u(msg.meter.meterId, 32, 'meter_id'));
      encodeBands(w, msg.meter);
      break;
    }
    case 'port_mod':
      start = header(w, OFPT.PORT_MOD, msg.xid);
      w.u32(u(msg.portNo, 32, 'port_no')).zeros(4).bytes(macToBytes(msg.hwAddr)).zeros(2);
      w.u32(u(msg.config, 32, 'config')).u32(u(msg.mask, 32, 'mask')).u32(u(msg.advertise, 32, 'advertise')).zeros(4);
      break;
    case 'role_request':
    case 'role_reply':
      start = header(w, msg.type === 'role_request' ? OFPT.ROLE_REQUEST : OFPT.ROLE_REPLY, msg.xid);
      w.u32(u(msg.role, 32, 'role')).zeros(4).u64(big(msg.generationId, 'generation_id'));
      break;
    case 'multipart_request':
      start = header(w, OFPT.MULTIPART_REQUEST, msg.xid);
      w.u16(multipartType(msg.body)).u16(u(msg.flags, 16, 'multipart flags')).zeros(4);
      encodeMultipartRequestBody(w, msg.body);
      break;
    case 'multipart_reply':
      start = header(w, OFPT.MULTIPART_REPLY, msg.xid);
      w.u16(multipartType(msg.body)).u16(u(msg.flags, 16, 'multipart flags')).zeros(4);
      encodeMultipartReplyBody(w, msg.body);
      break;
    case 'bundle_control': {
      start = header(w, OFPT.EXPERIMENTER, msg.xid);
      const t = BUNDLE_CONTROL_TYPES[msg.controlType];
      if (t === undefined) throw new OpenFlowError('bad-value', `bundle_control: unknown type ${String(msg.controlType)}`);
      w.u32(ONF_VENDOR_ID).u32(ONFT_BUNDLE_CONTROL).u32(u(msg.bundleId, 32, 'bundle_id')).u16(t).u16(u(msg.flags, 16, 'bundle flags'));
      if (msg.properties) w.bytes(msg.properties);
      break;
    }
    case 'bundle_add':
      start = header(w, OFPT.EXPERIMENTER, msg.xid);
      w.u32(ONF_VENDOR_ID).u32(ONFT_BUNDLE_ADD_MESSAGE).u32(u(msg.bundleId, 32, 'bundle_id')).zeros(2).u16(u(msg.flags, 16, 'bundle flags'));
      encodeInto(w, msg.message, opts);
      if (msg.properties) {
        w.padTo(start, 8);
        w.bytes(msg.properties);
      }
      break;
    case 'experimenter':
      start = header(w, OFPT.EXPERIMENTER, msg.xid);
      w.u32(u(msg.experimenter, 32, 'experimenter')).u32(u(msg.expType, 32, 'exp_type')).bytes(msg.data);
      break;
    case 'queue_get_config_request':
      start = header(w, OFPT.QUEUE_GET_CONFIG_REQUEST, msg.xid);
      w.u32(u(msg.port, 32, 'port')).zeros(4);
      break;
    case 'queue_get_config_reply':
      start = header(w, OFPT.QUEUE_GET_CONFIG_REPLY, msg.xid);
      w.u32(u(msg.port, 32, 'port')).zeros(4);
      for (const q of msg.queues) encodePacketQueue(w, q);
      break;
    case 'raw':
      start = w.offset;
      w.u8(u(msg.version, 8, 'version')).u8(u(msg.messageType, 8, 'type')).u16(0).u32(u(msg.xid, 32, 'xid')).bytes(msg.body);
      break;
    default:
      throw new OpenFlowError('unsupported', `encode: unknown message type ${String((msg as { type: unknown }).type)}`);
  }
  done(w, start);
}

const shared = new BufferWriter(64 * 1024);

/** One message as a new Buffer. */
export function encodeMessage(msg: M.OfpMessage, opts: EncodeOptions = {}): Buffer {
  try {
    encodeInto(shared, msg, opts);
    return shared.flush();
  } catch (e) {
    shared.reset();
    throw e;
  }
}

// ---- constructors for the common cases --------------------------------------------------------

export const encodeHello = (xid: number, versions: number[] = [OFP_VERSION]): Buffer => encodeMessage({ type: 'hello', xid, versions });
export const encodeEchoRequest = (xid: number, data: Uint8Array = new Uint8Array(0)): Buffer =>
  encodeMessage({ type: 'echo_request', xid, data });
export const encodeEchoReply = (xid: number, data: Uint8Array = new Uint8Array(0)): Buffer => encodeMessage({ type: 'echo_reply', xid, data });
export const encodeFeaturesRequest = (xid: number): Buffer => encodeMessage({ type: 'features_request', xid });
export const encodeBarrierRequest = (xid: number): Buffer => encodeMessage({ type: 'barrier_request', xid });
export const encodeFlowMod = (m: Omit<M.FlowMod, 'type'>): Buffer => encodeMessage({ type: 'flow_mod', ...m });
export const encodeGroupMod = (m: Omit<M.GroupMod, 'type'>): Buffer => encodeMessage({ type: 'group_mod', ...m });
export const encodeMeterMod = (m: Omit<M.MeterMod, 'type'>): Buffer => encodeMessage({ type: 'meter_mod', ...m });
export const encodeMultipartRequest = (xid: number, body: M.MultipartRequestBody, flags = 0): Buffer =>
  encodeMessage({ type: 'multipart_request', xid, flags, body });

