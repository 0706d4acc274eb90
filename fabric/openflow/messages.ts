/**
 * The typed, readonly OpenFlow 1.3 message model. Each message is plain data with a `type`
 * discriminant and its `xid`; flows, groups and meters inside are the flow IR's own types
 * (flow.ts), so what the controller computes is what goes on the wire. Counters are bigint
 * (64-bit on the wire); 32-bit numbers are number. A datapath id is 16 hex digits.
 *
 * Anything the model does not cover is kept raw (`type: 'raw'` messages, `raw` multipart bodies,
 * `matchRaw`/`instructionsRaw` bytes) so that decode -> encode is lossless.
 */
import type { Action, Bucket, Flow, Group, GroupType, Match, Meter } from './flow';
import type { FlowProblem } from './validity';

export interface OfpPort {
  portNo: number;
  /** aa:bb:cc:dd:ee:ff */
  hwAddr: string;
  name: string;
  config: number;
  state: number;
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  currSpeed: number;
  maxSpeed: number;
}

export interface Hello {
  type: 'hello';
  xid: number;
  /** versions from the version-bitmap element; absent: no element */
  versions?: number[];
  /** hello elements other than the version bitmap, verbatim */
  extraElements?: Uint8Array;
}

export interface ErrorMsg {
  type: 'error';
  xid: number;
  errorType: number;
  code: number;
  /** OFPET_ name without prefix (e.g. BAD_MATCH), or the number as text */
  typeName: string;
  codeName: string;
  /** experimenter errors (type 0xffff) */
  experimenter?: number;
  /** at least 64 bytes of the offending request, per the spec */
  data: Uint8Array;
}

export interface Echo {
  type: 'echo_request' | 'echo_reply';
  xid: number;
  data: Uint8Array;
}

export interface Empty {
  type: 'features_request' | 'get_config_request' | 'barrier_request' | 'barrier_reply' | 'get_async_request';
  xid: number;
}

/** OFPT_TABLE_MOD */
export interface TableMod {
  type: 'table_mod';
  xid: number;
  /** 0xff: all tables */
  tableId: number;
  /** OFPTC_* bits (OpenFlow 1.3 defines none; OVS uses 3 = deprecated mask) */
  config: number;
}

/** OFPT_GET_ASYNC_REPLY / OFPT_SET_ASYNC: each mask is [master-or-equal, slave], one bit per reason */
export interface AsyncConfig {
  type: 'get_async_reply' | 'set_async';
  xid: number;
  packetInMask: [number, number];
  portStatusMask: [number, number];
  flowRemovedMask: [number, number];
}

export interface FeaturesReply {
  type: 'features_reply';
  xid: number;
  datapathId: string;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  capabilities: number;
  reserved: number;
}

export interface SwitchConfig {
  type: 'get_config_reply' | 'set_config';
  xid: number;
  flags: number;
  missSendLen: number;
}

export interface PacketIn {
  type: 'packet_in';
  xid: number;
  bufferId: number;
  totalLen: number;
  reason: number;
  tableId: number;
  cookie: bigint;
  match: Match;
  matchRaw?: Uint8Array;
  data: Uint8Array;
}

export interface PacketOut {
  type: 'packet_out';
  xid: number;
  bufferId: number;
  inPort: number;
  actions: Action[];
  data: Uint8Array;
}

export interface FlowRemoved {
  type: 'flow_removed';
  xid: number;
  cookie: bigint;
  priority: number;
  reason: number;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  matchRaw?: Uint8Array;
}

export interface PortStatus {
  type: 'port_status';
  xid: number;
  /** 0 add, 1 delete, 2 modify */
  reason: number;
  port: OfpPort;
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

export interface FlowMod {
  type: 'flow_mod';
  xid: number;
  command: FlowModCommand;
  /** table, priority, match, instructions, cookie, timeouts, flags */
  flow: Flow;
  /** modify/delete: only flows whose cookie matches under this mask (0: any) */
  cookieMask?: bigint;
  /** delete: only flows that output to this port / group (default ANY) */
  outPort?: number;
  outGroup?: number;
  bufferId?: number;
  /** set by decode when the match bytes are not in OVS's canonical form: encode uses them */
  matchRaw?: Uint8Array;
  instructionsRaw?: Uint8Array;
  /** set by decode: why OVS would refuse this flow (validity.ts); encode refuses it unless lenient */
  problems?: FlowProblem[];
}

export interface GroupMod {
  type: 'group_mod';
  xid: number;
  command: 'add' | 'modify' | 'delete';
  group: Group;
  /** set by decode: why OVS would refuse this group (validity.ts groupProblems); encode refuses it unless lenient */
  problems?: FlowProblem[];
}

export interface MeterMod {
  type: 'meter_mod';
  xid: number;
  command: 'add' | 'modify' | 'delete';
  meter: Meter;
  /** set by decode: why OVS would refuse this meter (validity.ts meterProblems); encode refuses it unless lenient */
  problems?: FlowProblem[];
}

export interface PortMod {
  type: 'port_mod';
  xid: number;
  portNo: number;
  hwAddr: string;
  config: number;
  mask: number;
  advertise: number;
}

export interface Role {
  type: 'role_request' | 'role_reply';
  xid: number;
  /** 0 nochange, 1 equal, 2 master, 3 slave */
  role: number;
  generationId: bigint;
}

// ---- multipart --------------------------------------------------------------------------------

export interface FlowStatsRequest {
  tableId: number;
  outPort: number;
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

// ---- OFPMP_TABLE_FEATURES (OpenFlow 1.3 §7.3.5.5) ------------------------------------------------

/** an instruction or action id: its type; `data` is what follows the 4-byte type/len header
 *  (experimenter ids: the experimenter id and more), omitted when empty */
export interface TableFeatureId {
  type: number;
  data?: Uint8Array;
}

/** an OXM id: the 32-bit header; experimenter OXMs (class 0xffff) carry the experimenter id too */
export interface TableFeatureOxmId {
  header: number;
  experimenter?: number;
}

/** one ofp_table_feature_prop; types the model does not know stay raw (`prop: 'raw'`, the
 *  bytes after the 4-byte header up to its length, without the padding) */
export type TableFeatureProp =
  | { prop: 'instructions' | 'instructions_miss'; instructions: TableFeatureId[] }
  | { prop: 'next_tables' | 'next_tables_miss'; tableIds: number[] }
  | { prop: 'write_actions' | 'write_actions_miss' | 'apply_actions' | 'apply_actions_miss'; actions: TableFeatureId[] }
  | {
      prop: 'match' | 'wildcards' | 'write_setfield' | 'write_setfield_miss' | 'apply_setfield' | 'apply_setfield_miss';
      oxms: TableFeatureOxmId[];
    }
  | { prop: 'experimenter' | 'experimenter_miss'; experimenter: number; expType: number; data: Uint8Array }
  | { prop: 'raw'; propType: number; data: Uint8Array };

/** one ofp_table_features */
export interface TableFeatures {
  tableId: number;
  /** char[32], latin1 up to the first NUL */
  name: string;
  metadataMatch: bigint;
  metadataWrite: bigint;
  config: number;
  maxEntries: number;
  properties: TableFeatureProp[];
}

export type MultipartRequestBody =
  | { kind: 'desc' | 'table' | 'port_desc' | 'group_desc' }
  | ({ kind: 'flow' | 'aggregate' } & FlowStatsRequest)
  | { kind: 'port_stats'; portNo: number }
  | { kind: 'group'; groupId: number }
  | { kind: 'meter' | 'meter_config'; meterId: number }
  /** OFPMP_QUEUE: portNo OFPP_ANY (0xffffffff) / queueId OFPQ_ALL (0xffffffff) for all */
  | { kind: 'queue'; portNo: number; queueId: number }
  | { kind: 'meter_features' }
  | { kind: 'group_features' }
  /** empty `tables`: a query; else the tables to set */
  | { kind: 'table_features'; tables: TableFeatures[] }
  | { kind: 'raw'; multipartType: number; data: Uint8Array };

export interface MultipartRequest {
  type: 'multipart_request';
  xid: number;
  flags: number;
  body: MultipartRequestBody;
}

export interface Desc {
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

export interface FlowStats {
  flow: Flow;
  durationSec: number;
  durationNsec: number;
  packetCount: bigint;
  byteCount: bigint;
  matchRaw?: Uint8Array;
  instructionsRaw?: Uint8Array;
  /** set by decode: why OVS would refuse this flow (validity.ts) */
  problems?: FlowProblem[];
}

export interface AggregateStats {
  packetCount: bigint;
  byteCount: bigint;
  flowCount: number;
}

export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  buckets: { packetCount: bigint; byteCount: bigint }[];
}

export interface QueueStats {
  portNo: number;
  queueId: number;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface MeterFeatures {
  maxMeter: number;
  /** bitmap of 1 << OFPMBT_* */
  bandTypes: number;
  /** OFPMF_* bits */
  capabilities: number;
  maxBands: number;
  maxColor: number;
}

/** OFPMP_GROUP_FEATURES reply (ofp_group_features) */
export interface GroupFeatures {
  /** bitmap of 1 << OFPGT_* (all 0, select 1, indirect 2, ff 3) */
  types: number;
  /** OFPGFC_* bits: select_weight 1, select_liveness 2, chaining 4, chaining_checks 8 */
  capabilities: number;
  /** maximum groups of each type, indexed by OFPGT_* (4 entries) */
  maxGroups: number[];
  /** bitmaps of 1 << OFPAT_* supported by each group type (4 entries) */
  actions: number[];
}

export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bands: { packetBandCount: bigint; byteBandCount: bigint }[];
}

export type MultipartReplyBody =
  | { kind: 'desc'; desc: Desc }
  | { kind: 'flow'; flows: FlowStats[] }
  | { kind: 'aggregate'; stats: AggregateStats }
  | { kind: 'table'; tables: TableStats[] }
  | { kind: 'port_stats'; ports: PortStats[] }
  | { kind: 'port_desc'; ports: OfpPort[] }
  | { kind: 'group'; groups: GroupStats[] }
  | { kind: 'group_desc'; groups: Group[] }
  | { kind: 'meter'; meters: MeterStats[] }
  | { kind: 'meter_config'; meters: Meter[] }
  | { kind: 'queue'; queues: QueueStats[] }
  | { kind: 'meter_features'; features: MeterFeatures }
  | { kind: 'group_features'; features: GroupFeatures }
  | { kind: 'table_features'; tables: TableFeatures[] }
  | { kind: 'raw'; multipartType: number; data: Uint8Array };

export interface MultipartReply {
  type: 'multipart_reply';
  xid: number;
  /** OFPMPF_REPLY_MORE (1): more parts follow with the same xid */
  flags: number;
  body: MultipartReplyBody;
}

// ---- OVS's OpenFlow 1.3 bundle extension (ONF experimenter) ----------------------------------------

export type BundleControlType =
  | 'open_request'
  | 'open_reply'
  | 'close_request'
  | 'close_reply'
  | 'commit_request'
  | 'commit_reply'
  | 'discard_request'
  | 'discard_reply';

export interface BundleControl {
  type: 'bundle_control';
  xid: number;
  bundleId: number;
  controlType: BundleControlType;
  /** OFPBF_ATOMIC 1 | OFPBF_ORDERED 2 */
  flags: number;
  /** bundle properties, verbatim */
  properties?: Uint8Array;
}

export interface BundleAdd {
  type: 'bundle_add';
  xid: number;
  bundleId: number;
  flags: number;
  /** the inner message (its xid must equal the outer one, per the spec) */
  message: OfpMessage;
  properties?: Uint8Array;
}

export interface Experimenter {
  type: 'experimenter';
  xid: number;
  experimenter: number;
  expType: number;
  data: Uint8Array;
}

/** OFPT_QUEUE_GET_CONFIG_REQUEST: the queues of a port (OFPP_ANY: all ports) */
export interface QueueGetConfigRequest {
  type: 'queue_get_config_request';
  xid: number;
  port: number;
}

/** one ofp_queue_prop_*: min_rate / max_rate in 1/10 of a percent (0xffff and above 1000: disabled) */
export type QueueProp =
  | { prop: 'min_rate' | 'max_rate'; rate: number }
  | { prop: 'experimenter'; experimenter: number; data: Uint8Array }
  /** a property we do not model: its type and the bytes after its 8-byte header */
  | { prop: 'raw'; propType: number; data: Uint8Array };

/** one ofp_packet_queue */
export interface PacketQueue {
  queueId: number;
  port: number;
  properties: QueueProp[];
}

export interface QueueGetConfigReply {
  type: 'queue_get_config_reply';
  xid: number;
  port: number;
  queues: PacketQueue[];
}

/** A message the model does not cover (its header fields plus body, verbatim) */
export interface RawMessage {
  type: 'raw';
  xid: number;
  version: number;
  messageType: number;
  body: Uint8Array;
}

export type OfpMessage =
  | Hello
  | ErrorMsg
  | Echo
  | Empty
  | FeaturesReply
  | SwitchConfig
  | PacketIn
  | PacketOut
  | FlowRemoved
  | PortStatus
  | FlowMod
  | GroupMod
  | MeterMod
  | PortMod
  | Role
  | TableMod
  | AsyncConfig
  | MultipartRequest
  | MultipartReply
  | BundleControl
  | BundleAdd
  | Experimenter
  | QueueGetConfigRequest
  | QueueGetConfigReply
  | RawMessage;

export type MessageType = OfpMessage['type'];

export type { Bucket, Flow, Group, GroupType, Meter };
