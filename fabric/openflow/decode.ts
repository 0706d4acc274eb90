/**
 * Decoders: small pure parsers, one per message kind, over a bounds-checked BufferReader.
 * `decodeMessage(frame)` takes exactly one framed message and returns it, or throws an
 * OpenFlowError (never anything else). What the model does not cover comes back as a `raw`
 * message or body, so decode -> encode gives back the same bytes.
 */
import { decodeActions, decodeInstructions } from './actions';
import { BufferReader } from './buffer-reader';
import {
  OFPG,
  OFPMBT,
  OFPMF,
  OFPMP,
  OFPT,
  OFP_NO_BUFFER,
  OFP_VERSION,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
  ONF_VENDOR_ID,
  errorNames,
} from './constants';
import { TABLE_FEATURE_PROP_TYPES } from './encode';
import { OpenFlowError } from './errors';
import type { Bucket, Flow, Group, GroupType, Meter, MeterBand } from './flow';
import { OFPP } from './flow';
import type * as M from './messages';
import { decodeMatch } from './oxm';
import { flowProblems, groupProblems, meterProblems } from './validity';

const FLOW_MOD_COMMAND_NAMES: readonly M.FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];
const MOD_COMMAND_NAMES = ['add', 'modify', 'delete'] as const;
const GROUP_TYPE_NAMES: readonly GroupType[] = ['all', 'select', 'indirect', 'ff'];
const BUNDLE_CONTROL_NAMES: readonly M.BundleControlType[] = [
  'open_request',
  'open_reply',
  'close_request',
  'close_reply',
  'commit_request',
  'commit_reply',
  'discard_request',
  'discard_reply',
];

/** Thrown inside a parser when the model does not cover what it reads: the message stays raw. */
class NotModelled {}
const NOT_MODELLED = new NotModelled();

export function bytesToMac(b: Buffer): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** skips padding; non-zero padding would not survive re-encoding, so the message stays raw */
function pad(r: BufferReader, n: number): void {
  const b = r.bytes(n);
  for (let i = 0; i < n; i++) if (b[i] !== 0) throw NOT_MODELLED;
}

/** char[N]; bytes after the NUL must be zero for the same reason */
function fixedString(r: BufferReader, width: number): string {
  const b = r.bytes(width);
  const nul = b.indexOf(0);
  if (nul >= 0) for (let i = nul; i < width; i++) if (b[i] !== 0) throw NOT_MODELLED;
  return b.toString('latin1', 0, nul < 0 ? width : nul);
}

function copy(b: Buffer): Uint8Array {
  return Uint8Array.from(b);
}

export interface FrameHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

export function readHeader(buf: Buffer, offset = 0): FrameHeader {
  if (buf.length - offset < 8) throw new OpenFlowError('truncated', `header: needs 8 bytes, has ${buf.length - offset}`);
  return { version: buf[offset], type: buf[offset + 1], length: buf.readUInt16BE(offset + 2), xid: buf.readUInt32BE(offset + 4) };
}

/** Decodes exactly one message (the whole of `frame`). */
export function decodeMessage(frame: Buffer): M.OfpMessage {
  const h = readHeader(frame);
  if (h.length < 8) throw new OpenFlowError('bad-length', `message: length ${h.length} < 8`);
  if (h.length > frame.length) throw new OpenFlowError('truncated', `message: length ${h.length} but ${frame.length} bytes`);
  if (h.length < frame.length) throw new OpenFlowError('bad-length', `message: length ${h.length} but ${frame.length} bytes given`);
  const raw = (): M.RawMessage => ({ type: 'raw', xid: h.xid, version: h.version, messageType: h.type, body: copy(frame.subarray(8)) });
  if (h.version !== OFP_VERSION && h.type !== OFPT.HELLO) return raw();
  const r = new BufferReader(frame, 8, h.length, `message type ${h.type}`);
  let msg: M.OfpMessage | undefined;
  try {
    msg = parseBody(r, h);
  } catch (e) {
    if (e === NOT_MODELLED) return raw();
    throw e;
  }
  if (!msg || r.remaining !== 0) return raw();
  return msg;
}

function parseBody(r: BufferReader, h: FrameHeader): M.OfpMessage | undefined {
  const xid = h.xid;
  switch (h.type) {
    case OFPT.HELLO:
      if (h.version !== OFP_VERSION && r.remaining === 0) return { type: 'hello', xid };
      return parseHello(r, xid);
    case OFPT.ERROR: {
      const errorType = r.u16();
      const code = r.u16();
      const experimenter = errorType === 0xffff ? r.u32() : undefined;
      const names = errorNames(errorType, code, experimenter);
      const msg: M.ErrorMsg = { type: 'error', xid, errorType, code, ...names, data: new Uint8Array(0) };
      if (experimenter !== undefined) msg.experimenter = experimenter;
      msg.data = copy(r.rest());
      return msg;
    }
    case OFPT.ECHO_REQUEST:
      return { type: 'echo_request', xid, data: copy(r.rest()) };
    case OFPT.ECHO_REPLY:
      return { type: 'echo_reply', xid, data: copy(r.rest()) };
    case OFPT.EXPERIMENTER:
      return parseExperimenter(r, xid);
    case OFPT.FEATURES_REQUEST:
      return { type: 'features_request', xid };
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'get_config_request', xid };
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrier_request', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrier_reply', xid };
    case OFPT.GET_ASYNC_REQUEST:
      return { type: 'get_async_request', xid };
    case OFPT.GET_ASYNC_REPLY:
    case OFPT.SET_ASYNC: {
      const pair = (): [number, number] => [r.u32(), r.u32()];
      const packetInMask = pair();
      const portStatusMask = pair();
      const flowRemovedMask = pair();
      return { type: h.type === OFPT.SET_ASYNC ? 'set_async' : 'get_async_reply', xid, packetInMask, portStatusMask, flowRemovedMask };
    }
    case OFPT.TABLE_MOD: {
      const tableId = r.u8();
      pad(r, 3);
      return { type: 'table_mod', xid, tableId, config: r.u32() };
    }
    case OFPT.FEATURES_REPLY: {
      const dpid = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      const auxiliaryId = r.u8();
      pad(r, 2);
      return {
        type: 'features_reply',
        xid,
        datapathId: dpid.toString(16).padStart(16, '0'),
        nBuffers,
        nTables,
        auxiliaryId,
        capabilities: r.u32(),
        reserved: r.u32(),
      };
    }
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG:
      return { type: h.type === OFPT.SET_CONFIG ? 'set_config' : 'get_config_reply', xid, flags: r.u16(), missSendLen: r.u16() };
    case OFPT.PACKET_IN: {
      const bufferId = r.u32();
      const totalLen = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const cookie = r.u64();
      const ms = r.pos;
      const dm = decodeMatch(r);
      const msg: M.PacketIn = { type: 'packet_in', xid, bufferId, totalLen, reason, tableId, cookie, match: dm.match, data: new Uint8Array(0) };
      if (!dm.canonical) msg.matchRaw = copy(r.buf.subarray(ms, r.pos));
      pad(r, 2);
      msg.data = copy(r.rest());
      return msg;
    }
    case OFPT.FLOW_REMOVED: {
      const cookie = r.u64();
      const priority = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const durationSec = r.u32();
      const durationNsec = r.u32();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const packetCount = r.u64();
      const byteCount = r.u64();
      const ms = r.pos;
      const dm = decodeMatch(r);
      const msg: M.FlowRemoved = {
        type: 'flow_removed', xid, cookie, priority, reason, tableId, durationSec, durationNsec,
        idleTimeout, hardTimeout, packetCount, byteCount, match: dm.match,
      };
      if (!dm.canonical) msg.matchRaw = copy(r.buf.subarray(ms, r.pos));
      return msg;
    }
    case OFPT.PORT_STATUS: {
      const reason = r.u8();
      pad(r, 7);
      return { type: 'port_status', xid, reason, port: parsePort(r) };
    }
    case OFPT.PACKET_OUT: {
      const bufferId = r.u32();
      const inPort = r.u32();
      const actionsLen = r.u16();
      pad(r, 6);
      const actions = decodeActions(r.sub(actionsLen, 'packet_out actions'));
      return { type: 'packet_out', xid, bufferId, inPort, actions, data: copy(r.rest()) };
    }
    case OFPT.FLOW_MOD:
      return parseFlowMod(r, xid);
    case OFPT.GROUP_MOD: {
      const command = MOD_COMMAND_NAMES[r.u16()];
      const type = GROUP_TYPE_NAMES[r.u8()];
      pad(r, 1);
      const groupId = r.u32();
      if (!command || !type) throw NOT_MODELLED;
      const gm: M.GroupMod = { type: 'group_mod', xid, command, group: { groupId, type, buckets: parseBuckets(r, type) } };
      // lenient: kept as it came, marked with what OVS would refuse it for
      const problems = groupProblems(gm.group, command);
      if (problems.length) gm.problems = problems;
      return gm;
    }
    case OFPT.METER_MOD: {
      const command = MOD_COMMAND_NAMES[r.u16()];
      const flags = r.u16();
      const meterId = r.u32();
      if (!command) throw NOT_MODELLED;
      if (command === 'delete') {
        if (flags !== 0 || r.remaining) throw NOT_MODELLED;
        return { type: 'meter_mod', xid, command, meter: { meterId, unit: 'kbps', burst: false, stats: false, bands: [] } };
      }
      const mm: M.MeterMod = { type: 'meter_mod', xid, command, meter: parseMeter(flags, meterId, r) };
      const problems = meterProblems(mm.meter, command);
      if (problems.length) mm.problems = problems;
      return mm;
    }
    case OFPT.PORT_MOD: {
      const portNo = r.u32();
      pad(r, 4);
      const hwAddr = bytesToMac(r.bytes(6));
      pad(r, 2);
      const msg: M.PortMod = { type: 'port_mod', xid, portNo, hwAddr, config: r.u32(), mask: r.u32(), advertise: r.u32() };
      pad(r, 4);
      return msg;
    }
    case OFPT.QUEUE_GET_CONFIG_REQUEST: {
      if (r.remaining !== 8) throw NOT_MODELLED;
      const port = r.u32();
      pad(r, 4);
      return { type: 'queue_get_config_request', xid, port };
    }
    case OFPT.QUEUE_GET_CONFIG_REPLY: {
      if (r.remaining < 8) throw NOT_MODELLED;
      const port = r.u32();
      pad(r, 4);
      const queues: M.PacketQueue[] = [];
      while (r.remaining > 0) queues.push(parsePacketQueue(r));
      return { type: 'queue_get_config_reply', xid, port, queues };
    }
    case OFPT.ROLE_REQUEST:
    case OFPT.ROLE_REPLY: {
      const role = r.u32();
      pad(r, 4);
      return { type: h.type === OFPT.ROLE_REQUEST ? 'role_request' : 'role_reply', xid, role, generationId: r.u64() };
    }
    case OFPT.MULTIPART_REQUEST: {
      const mpType = r.u16();
      const flags = r.u16();
      pad(r, 4);
      return { type: 'multipart_request', xid, flags, body: parseMultipartRequest(mpType, r) };
    }
    case OFPT.MULTIPART_REPLY: {
      const mpType = r.u16();
      const flags = r.u16();
      pad(r, 4);
      return { type: 'multipart_reply', xid, flags, body: parseMultipartReply(mpType, r) };
    }
    default:
      return undefined;
  }
}

function parseHello(r: BufferReader, xid: number): M.Hello {
  const msg: M.Hello = { type: 'hello', xid };
  const extra: Buffer[] = [];
  while (r.remaining >= 4) {
    const elStart = r.pos;
    const type = r.u16();
    const len = r.u16();
    if (len < 4) throw new OpenFlowError('bad-length', `hello: element length ${len} < 4`);
    const el = r.sub(len - 4, 'hello element');
    pad(r, Math.min((8 - (len % 8)) % 8, r.remaining));
    if (type === 1 && !msg.versions && extra.length === 0) {
      const versions: number[] = [];
      for (let word = 0; el.remaining >= 4; word++) {
        const bits = el.u32();
        for (let b = 0; b < 32; b++) if (bits & (1 << b)) versions.push(word * 32 + b);
      }
      msg.versions = versions;
      // anything odd about the element (size, padding) would not re-encode the same way
      const reencoded = 8;
      if (r.pos - elStart !== reencoded || versions.some((v) => v >= 32)) throw NOT_MODELLED;
    } else {
      extra.push(r.buf.subarray(elStart, r.pos));
    }
  }
  if (r.remaining) extra.push(r.rest());
  if (extra.length) msg.extraElements = copy(Buffer.concat(extra));
  return msg;
}

function parseExperimenter(r: BufferReader, xid: number): M.OfpMessage {
  const experimenter = r.u32();
  const expType = r.u32();
  if (experimenter === ONF_VENDOR_ID && expType === ONFT_BUNDLE_CONTROL) {
    const bundleId = r.u32();
    const controlType = BUNDLE_CONTROL_NAMES[r.u16()];
    const flags = r.u16();
    if (!controlType) throw NOT_MODELLED;
    const msg: M.BundleControl = { type: 'bundle_control', xid, bundleId, controlType, flags };
    if (r.remaining) msg.properties = copy(r.rest());
    return msg;
  }
  if (experimenter === ONF_VENDOR_ID && expType === ONFT_BUNDLE_ADD_MESSAGE) {
    const start = r.pos - 16;
    const bundleId = r.u32();
    pad(r, 2);
    const flags = r.u16();
    if (r.remaining < 8) throw new OpenFlowError('truncated', 'bundle_add: no inner message');
    const innerLen = r.peekU16(r.pos + 2);
    if (innerLen < 8) throw new OpenFlowError('bad-length', `bundle_add: inner length ${innerLen} < 8`);
    const inner = r.sub(innerLen, 'bundle_add inner message');
    const message = decodeMessage(inner.buf.subarray(inner.pos, inner.end));
    const msg: M.BundleAdd = { type: 'bundle_add', xid, bundleId, flags, message };
    if (r.remaining) {
      const padBytes = (8 - ((r.pos - start) % 8)) % 8;
      if (r.remaining <= padBytes) throw NOT_MODELLED;
      pad(r, padBytes);
      msg.properties = copy(r.rest());
    }
    return msg;
  }
  return { type: 'experimenter', xid, experimenter, expType, data: copy(r.rest()) };
}

function parsePort(r: BufferReader): M.OfpPort {
  const portNo = r.u32();
  pad(r, 4);
  const hwAddr = bytesToMac(r.bytes(6));
  pad(r, 2);
  return {
    portNo,
    hwAddr,
    name: fixedString(r, 16),
    config: r.u32(),
    state: r.u32(),
    curr: r.u32(),
    advertised: r.u32(),
    supported: r.u32(),
    peer: r.u32(),
    currSpeed: r.u32(),
    maxSpeed: r.u32(),
  };
}

function parseFlowMod(r: BufferReader, xid: number): M.FlowMod {
  const cookie = r.u64();
  const cookieMask = r.u64();
  const table = r.u8();
  const command = FLOW_MOD_COMMAND_NAMES[r.u8()];
  const idleTimeout = r.u16();
  const hardTimeout = r.u16();
  const priority = r.u16();
  const bufferId = r.u32();
  const outPort = r.u32();
  const outGroup = r.u32();
  const flags = r.u16();
  pad(r, 2);
  if (!command) throw NOT_MODELLED;
  const ms = r.pos;
  const dm = decodeMatch(r);
  const is = r.pos;
  const di = decodeInstructions(r);
  const flow: Flow = { table, priority, match: dm.match, instructions: di.instructions, cookie };
  if (idleTimeout) flow.idleTimeout = idleTimeout;
  if (hardTimeout) flow.hardTimeout = hardTimeout;
  if (flags) flow.flags = flags;
  const msg: M.FlowMod = { type: 'flow_mod', xid, command, flow };
  if (cookieMask) msg.cookieMask = cookieMask;
  if (outPort !== OFPP.ANY) msg.outPort = outPort;
  if (outGroup !== OFPG.ANY) msg.outGroup = outGroup;
  if (bufferId !== OFP_NO_BUFFER) msg.bufferId = bufferId;
  if (!dm.canonical) msg.matchRaw = copy(r.buf.subarray(ms, is));
  if (!di.canonical) msg.instructionsRaw = copy(r.buf.subarray(is, r.pos));
  // lenient: the flow is kept as it came, marked with what OVS would refuse it for
  const problems = flowProblems(flow, { full: command === 'add' || command === 'modify' || command === 'modify_strict' });
  if (problems.length) msg.problems = problems;
  return msg;
}

function parseBuckets(r: BufferReader, type: GroupType): Bucket[] {
  const buckets: Bucket[] = [];
  while (r.remaining > 0) {
    const len = r.u16();
    if (len < 16) throw new OpenFlowError('bad-length', `bucket: length ${len} < 16`);
    const br = r.sub(len - 2, 'bucket');
    const weight = br.u16();
    const watchPort = br.u32();
    const watchGroup = br.u32();
    pad(br, 4);
    const b: Bucket = { actions: decodeActions(br) };
    if (weight !== (type === 'select' ? 1 : 0)) b.weight = weight;
    if (watchPort !== OFPP.ANY) b.watchPort = watchPort;
    if (watchGroup !== OFPG.ANY) b.watchGroup = watchGroup;
    buckets.push(b);
  }
  return buckets;
}

function parseMeter(flags: number, meterId: number, r: BufferReader): Meter {
  const unitBits = flags & (OFPMF.KBPS | OFPMF.PKTPS);
  // the IR has one unit; anything else (none, both, unknown flags) would not re-encode the same
  if ((unitBits !== OFPMF.KBPS && unitBits !== OFPMF.PKTPS) || flags & ~0xf) throw NOT_MODELLED;
  const bands: MeterBand[] = [];
  while (r.remaining > 0) {
    const type = r.u16();
    const len = r.u16();
    if (len !== 16) throw NOT_MODELLED;
    const rate = r.u32();
    const burstSize = r.u32();
    if (type === OFPMBT.DROP) {
      if (r.u32() !== 0) throw NOT_MODELLED;
      bands.push({ type: 'drop', rate, burstSize });
    } else if (type === OFPMBT.DSCP_REMARK) {
      const precLevel = r.u8();
      pad(r, 3);
      bands.push({ type: 'dscp_remark', rate, burstSize, precLevel });
    } else {
      throw NOT_MODELLED;
    }
  }
  return {
    meterId,
    unit: unitBits === OFPMF.PKTPS ? 'pktps' : 'kbps',
    burst: (flags & OFPMF.BURST) !== 0,
    stats: (flags & OFPMF.STATS) !== 0,
    bands,
  };
}

function parseFlowStatsRequest(r: BufferReader): M.FlowStatsRequest {
  const tableId = r.u8();
  pad(r, 3);
  const outPort = r.u32();
  const outGroup = r.u32();
  pad(r, 4);
  const cookie = r.u64();
  const cookieMask = r.u64();
  const dm = decodeMatch(r);
  if (!dm.canonical) throw NOT_MODELLED;
  return { tableId, outPort, outGroup, cookie, cookieMask, match: dm.match };
}

function parseMultipartRequest(mpType: number, r: BufferReader): M.MultipartRequestBody {
  const raw = (): M.MultipartRequestBody => ({ kind: 'raw', multipartType: mpType, data: copy(r.rest()) });
  const start = r.pos;
  try {
    switch (mpType) {
      case OFPMP.DESC:
        return { kind: 'desc' };
      case OFPMP.TABLE:
        return { kind: 'table' };
      case OFPMP.PORT_DESC:
        return { kind: 'port_desc' };
      case OFPMP.GROUP_DESC:
        return { kind: 'group_desc' };
      case OFPMP.FLOW:
        return { kind: 'flow', ...parseFlowStatsRequest(r) };
      case OFPMP.AGGREGATE:
        return { kind: 'aggregate', ...parseFlowStatsRequest(r) };
      case OFPMP.PORT_STATS: {
        const portNo = r.u32();
        pad(r, 4);
        return { kind: 'port_stats', portNo };
      }
      case OFPMP.GROUP: {
        const groupId = r.u32();
        pad(r, 4);
        return { kind: 'group', groupId };
      }
      case OFPMP.METER:
      case OFPMP.METER_CONFIG: {
        const meterId = r.u32();
        pad(r, 4);
        return { kind: mpType === OFPMP.METER ? 'meter' : 'meter_config', meterId };
      }
      case OFPMP.QUEUE:
        return { kind: 'queue', portNo: r.u32(), queueId: r.u32() };
      case OFPMP.METER_FEATURES:
        return { kind: 'meter_features' };
      case OFPMP.GROUP_FEATURES:
        if (r.remaining) throw NOT_MODELLED;
        return { kind: 'group_features' };
      case OFPMP.TABLE_FEATURES:
        return { kind: 'table_features', tables: parseTableFeaturesList(r) };
      default:
        return raw();
    }
  } catch (e) {
    if (e !== NOT_MODELLED) throw e;
    r.pos = start;
    return raw();
  }
}

function parseMultipartReply(mpType: number, r: BufferReader): M.MultipartReplyBody {
  const start = r.pos;
  try {
    const body = parseMultipartReplyBody(mpType, r);
    if (body) return body;
  } catch (e) {
    if (e !== NOT_MODELLED) throw e;
  }
  r.pos = start;
  return { kind: 'raw', multipartType: mpType, data: copy(r.rest()) };
}

function parseMultipartReplyBody(mpType: number, r: BufferReader): M.MultipartReplyBody | undefined {
  switch (mpType) {
    case OFPMP.DESC:
      return {
        kind: 'desc',
        desc: {
          mfrDesc: fixedString(r, 256),
          hwDesc: fixedString(r, 256),
          swDesc: fixedString(r, 256),
          serialNum: fixedString(r, 32),
          dpDesc: fixedString(r, 256),
        },
      };
    case OFPMP.FLOW: {
      const flows: M.FlowStats[] = [];
      while (r.remaining > 0) flows.push(parseFlowStats(r));
      return { kind: 'flow', flows };
    }
    case OFPMP.AGGREGATE: {
      const stats = { packetCount: r.u64(), byteCount: r.u64(), flowCount: r.u32() };
      pad(r, 4);
      return { kind: 'aggregate', stats };
    }
    case OFPMP.TABLE: {
      const tables: M.TableStats[] = [];
      while (r.remaining > 0) {
        const tableId = r.u8();
        pad(r, 3);
        tables.push({ tableId, activeCount: r.u32(), lookupCount: r.u64(), matchedCount: r.u64() });
      }
      return { kind: 'table', tables };
    }
    case OFPMP.PORT_STATS: {
      const ports: M.PortStats[] = [];
      while (r.remaining > 0) {
        const portNo = r.u32();
        pad(r, 4);
        ports.push({
          portNo,
          rxPackets: r.u64(),
          txPackets: r.u64(),
          rxBytes: r.u64(),
          txBytes: r.u64(),
          rxDropped: r.u64(),
          txDropped: r.u64(),
          rxErrors: r.u64(),
          txErrors: r.u64(),
          rxFrameErr: r.u64(),
          rxOverErr: r.u64(),
          rxCrcErr: r.u64(),
          collisions: r.u64(),
          durationSec: r.u32(),
          durationNsec: r.u32(),
        });
      }
      return { kind: 'port_stats', ports };
    }
    case OFPMP.PORT_DESC: {
      const ports: M.OfpPort[] = [];
      while (r.remaining > 0) ports.push(parsePort(r));
      return { kind: 'port_desc', ports };
    }
    case OFPMP.GROUP: {
      const groups: M.GroupStats[] = [];
      while (r.remaining > 0) {
        const len = r.u16();
        if (len < 40 || (len - 40) % 16) throw new OpenFlowError('bad-length', `group stats: length ${len}`);
        const g = r.sub(len - 2, 'group stats');
        pad(g, 2);
        const groupId = g.u32();
        const refCount = g.u32();
        pad(g, 4);
        const s: M.GroupStats = {
          groupId, refCount, packetCount: g.u64(), byteCount: g.u64(), durationSec: g.u32(), durationNsec: g.u32(), buckets: [],
        };
        while (g.remaining > 0) s.buckets.push({ packetCount: g.u64(), byteCount: g.u64() });
        groups.push(s);
      }
      return { kind: 'group', groups };
    }
    case OFPMP.GROUP_DESC: {
      const groups: Group[] = [];
      while (r.remaining > 0) {
        const len = r.u16();
        if (len < 8) throw new OpenFlowError('bad-length', `group desc: length ${len} < 8`);
        const g = r.sub(len - 2, 'group desc');
        const type = GROUP_TYPE_NAMES[g.u8()];
        pad(g, 1);
        const groupId = g.u32();
        if (!type) throw NOT_MODELLED;
        groups.push({ groupId, type, buckets: parseBuckets(g, type) });
      }
      return { kind: 'group_desc', groups };
    }
    case OFPMP.METER: {
      const meters: M.MeterStats[] = [];
      while (r.remaining > 0) {
        const meterId = r.u32();
        const len = r.u16();
        if (len < 40 || (len - 40) % 16) throw new OpenFlowError('bad-length', `meter stats: length ${len}`);
        const m = r.sub(len - 6, 'meter stats');
        pad(m, 6);
        const s: M.MeterStats = {
          meterId, flowCount: m.u32(), packetInCount: m.u64(), byteInCount: m.u64(), durationSec: m.u32(), durationNsec: m.u32(), bands: [],
        };
        while (m.remaining > 0) s.bands.push({ packetBandCount: m.u64(), byteBandCount: m.u64() });
        meters.push(s);
      }
      return { kind: 'meter', meters };
    }
    case OFPMP.METER_CONFIG: {
      const meters: Meter[] = [];
      while (r.remaining > 0) {
        const len = r.u16();
        if (len < 8) throw new OpenFlowError('bad-length', `meter config: length ${len} < 8`);
        const m = r.sub(len - 2, 'meter config');
        const flags = m.u16();
        const meterId = m.u32();
        meters.push(parseMeter(flags, meterId, m));
      }
      return { kind: 'meter_config', meters };
    }
    case OFPMP.QUEUE: {
      const queues: M.QueueStats[] = [];
      while (r.remaining > 0) {
        queues.push({
          portNo: r.u32(),
          queueId: r.u32(),
          txBytes: r.u64(),
          txPackets: r.u64(),
          txErrors: r.u64(),
          durationSec: r.u32(),
          durationNsec: r.u32(),
        });
      }
      return { kind: 'queue', queues };
    }
    case OFPMP.METER_FEATURES: {
      const features: M.MeterFeatures = { maxMeter: r.u32(), bandTypes: r.u32(), capabilities: r.u32(), maxBands: r.u8(), maxColor: r.u8() };
      pad(r, 2);
      return { kind: 'meter_features', features };
    }
    case OFPMP.GROUP_FEATURES: {
      // ofp_group_features is 40 bytes: anything else stays raw
      if (r.remaining !== 40) throw NOT_MODELLED;
      const types = r.u32();
      const capabilities = r.u32();
      const maxGroups = [r.u32(), r.u32(), r.u32(), r.u32()];
      const actions = [r.u32(), r.u32(), r.u32(), r.u32()];
      return { kind: 'group_features', features: { types, capabilities, maxGroups, actions } };
    }
    case OFPMP.TABLE_FEATURES:
      return { kind: 'table_features', tables: parseTableFeaturesList(r) };
    default:
      return undefined;
  }
}

function parseFlowStats(r: BufferReader): M.FlowStats {
  const len = r.u16();
  if (len < 56) throw new OpenFlowError('bad-length', `flow stats: length ${len} < 56`);
  const e = r.sub(len - 2, 'flow stats');
  const table = e.u8();
  pad(e, 1);
  const durationSec = e.u32();
  const durationNsec = e.u32();
  const priority = e.u16();
  const idleTimeout = e.u16();
  const hardTimeout = e.u16();
  const flags = e.u16();
  pad(e, 4);
  const cookie = e.u64();
  const packetCount = e.u64();
  const byteCount = e.u64();
  const ms = e.pos;
  const dm = decodeMatch(e);
  const is = e.pos;
  const di = decodeInstructions(e);
  const flow: Flow = { table, priority, match: dm.match, instructions: di.instructions, cookie };
  if (idleTimeout) flow.idleTimeout = idleTimeout;
  if (hardTimeout) flow.hardTimeout = hardTimeout;
  if (flags) flow.flags = flags;
  const s: M.FlowStats = { flow, durationSec, durationNsec, packetCount, byteCount };
  if (!dm.canonical) s.matchRaw = copy(e.buf.subarray(ms, is));
  if (!di.canonical) s.instructionsRaw = copy(e.buf.subarray(is, e.pos));
  const problems = flowProblems(flow);
  if (problems.length) s.problems = problems;
  return s;
}

// ---- OFPMP_TABLE_FEATURES ----------------------------------------------------------------------

const TABLE_FEATURE_PROP_NAMES = new Map<number, M.TableFeatureProp['prop']>(
  Object.entries(TABLE_FEATURE_PROP_TYPES).map(([name, t]) => [t, name as M.TableFeatureProp['prop']]),
);

/**
 * A list of ofp_table_features (request or reply body). Anything that would not re-encode to the
 * same bytes (non-zero padding, bytes after the name's NUL) or does not parse (bad lengths) makes
 * the whole body raw; a property of a type the model does not know, or a known one whose contents
 * do not parse, stays raw inside its typed entry.
 */
function parseTableFeaturesList(r: BufferReader): M.TableFeatures[] {
  try {
    const tables: M.TableFeatures[] = [];
    while (r.remaining > 0) tables.push(parseTableFeatures(r));
    return tables;
  } catch (e) {
    if (e instanceof OpenFlowError) throw NOT_MODELLED;
    throw e;
  }
}

function parseTableFeatures(r: BufferReader): M.TableFeatures {
  const len = r.u16();
  if (len < 64) throw NOT_MODELLED;
  const e = r.sub(len - 2, 'table features');
  const tableId = e.u8();
  pad(e, 5);
  const name = fixedString(e, 32);
  const t: M.TableFeatures = {
    tableId, name, metadataMatch: e.u64(), metadataWrite: e.u64(), config: e.u32(), maxEntries: e.u32(), properties: [],
  };
  while (e.remaining > 0) {
    const propType = e.u16();
    const plen = e.u16();
    if (plen < 4) throw NOT_MODELLED;
    const body = e.bytes(plen - 4);
    const padLen = (8 - (plen % 8)) % 8;
    if (padLen > e.remaining) throw NOT_MODELLED;
    pad(e, padLen);
    t.properties.push(parseTableFeatureProp(propType, body));
  }
  return t;
}

function parseTableFeatureProp(propType: number, body: Buffer): M.TableFeatureProp {
  const name = TABLE_FEATURE_PROP_NAMES.get(propType);
  const raw = (): M.TableFeatureProp => ({ prop: 'raw', propType, data: copy(body) });
  if (!name) return raw();
  const r = new BufferReader(body, 0, body.length, 'table feature property');
  const ids = (): M.TableFeatureId[] => {
    const out: M.TableFeatureId[] = [];
    while (r.remaining > 0) {
      const type = r.u16();
      const len = r.u16();
      if (len < 4) throw NOT_MODELLED;
      const id: M.TableFeatureId = { type };
      if (len > 4) id.data = copy(r.bytes(len - 4));
      out.push(id);
    }
    return out;
  };
  try {
    switch (name) {
      case 'instructions':
      case 'instructions_miss':
        return { prop: name, instructions: ids() };
      case 'write_actions':
      case 'write_actions_miss':
      case 'apply_actions':
      case 'apply_actions_miss':
        return { prop: name, actions: ids() };
      case 'next_tables':
      case 'next_tables_miss':
        return { prop: name, tableIds: [...body] };
      case 'experimenter':
      case 'experimenter_miss':
        return { prop: name, experimenter: r.u32(), expType: r.u32(), data: copy(r.rest()) };
      case 'raw':
        return raw();
      default: {
        const oxms: M.TableFeatureOxmId[] = [];
        while (r.remaining > 0) {
          const header = r.u32();
          oxms.push(header >>> 16 === 0xffff ? { header, experimenter: r.u32() } : { header });
        }
        return { prop: name, oxms };
      }
    }
  } catch (e) {
    if (e === NOT_MODELLED || e instanceof OpenFlowError) return raw();
    throw e;
  }
}

/** Joins the parts of a multipart reply (OFPMPF_REPLY_MORE) into one body. */
export function mergeMultipartReplies(parts: readonly M.MultipartReply[]): M.MultipartReplyBody {
  if (parts.length === 0) throw new OpenFlowError('bad-value', 'mergeMultipartReplies: no parts');
  const first = parts[0].body;
  if (parts.length === 1) return first;
  const kind = first.kind;
  for (const p of parts) {
    if (p.body.kind !== kind) throw new OpenFlowError('bad-value', `multipart: parts of kinds ${kind} and ${p.body.kind}`);
  }
  const all = <T>(pick: (b: M.MultipartReplyBody) => T[]): T[] => parts.flatMap((p) => pick(p.body));
  switch (first.kind) {
    case 'flow':
      return { kind: 'flow', flows: all((b) => (b as typeof first).flows) };
    case 'table':
      return { kind: 'table', tables: all((b) => (b as typeof first).tables) };
    case 'port_stats':
      return { kind: 'port_stats', ports: all((b) => (b as typeof first).ports) };
    case 'port_desc':
      return { kind: 'port_desc', ports: all((b) => (b as typeof first).ports) };
    case 'group':
      return { kind: 'group', groups: all((b) => (b as typeof first).groups) };
    case 'group_desc':
      return { kind: 'group_desc', groups: all((b) => (b as typeof first).groups) };
    case 'meter':
      return { kind: 'meter', meters: all((b) => (b as typeof first).meters) };
    case 'meter_config':
      return { kind: 'meter_config', meters: all((b) => (b as typeof first).meters) };
    case 'queue':
      return { kind: 'queue', queues: all((b) => (b as typeof first).queues) };
    case 'table_features':
      return { kind: 'table_features', tables: all((b) => (b as typeof first).tables) };
    case 'raw':
      return { kind: 'raw', multipartType: first.multipartType, data: Buffer.concat(parts.map((p) => (p.body as typeof first).data)) };
    default:
      return first;
  }
}

/** one ofp_packet_queue; lengths or padding OVS would not write keep the whole message raw */
function parsePacketQueue(r: BufferReader): M.PacketQueue {
  if (r.remaining < 16) throw NOT_MODELLED;
  const queueId = r.u32();
  const port = r.u32();
  const len = r.u16();
  pad(r, 6);
  if (len < 16 || len % 8 !== 0 || len - 16 > r.remaining) throw NOT_MODELLED;
  const pr = r.sub(len - 16, 'packet queue');
  const properties: M.QueueProp[] = [];
  while (pr.remaining > 0) {
    const propType = pr.u16();
    const plen = pr.u16();
    pad(pr, 4);
    if (plen < 8 || plen % 8 !== 0 || plen - 8 > pr.remaining) throw NOT_MODELLED;
    const body = pr.sub(plen - 8, 'queue property');
    if ((propType === 1 || propType === 2) && plen === 16) {
      const rate = body.u16();
      pad(body, 6);
      properties.push({ prop: propType === 1 ? 'min_rate' : 'max_rate', rate });
    } else if (propType === 0xffff && plen >= 16) {
      const experimenter = body.u32();
      pad(body, 4);
      properties.push({ prop: 'experimenter', experimenter, data: copy(body.rest()) });
    } else {
      properties.push({ prop: 'raw', propType, data: copy(body.rest()) });
    }
  }
  return { queueId, port, properties };
}
