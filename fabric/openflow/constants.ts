/**
 * OpenFlow 1.3 wire constants (OpenFlow Switch Specification 1.3.5, §7) and the Open vSwitch
 * extension numbers this codec speaks. Sizes are the spec's OFP_*_SIZE, asserted by tests.
 */
export const OFP_VERSION = 0x04;
export const OFP_HEADER_SIZE = 8;
export const OFP_MATCH_HEADER_SIZE = 4;
export const OFP_FLOW_MOD_FIXED_SIZE = 48; // header + body before the match
export const OFP_PORT_SIZE = 64;
export const OFP_FLOW_STATS_FIXED_SIZE = 48; // before the match
export const OFP_PORT_STATS_SIZE = 112;
export const OFP_BUCKET_FIXED_SIZE = 16;
export const OFP_METER_BAND_SIZE = 16;
export const OFP_DESC_SIZE = 1056;
export const OFP_TABLE_STATS_SIZE = 24;

export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;

export const OFPMPF_REQ_MORE = 1;
export const OFPMPF_REPLY_MORE = 1;

export const OFPFC = { ADD: 0, MODIFY: 1, MODIFY_STRICT: 2, DELETE: 3, DELETE_STRICT: 4 } as const;
export const OFPGC = { ADD: 0, MODIFY: 1, DELETE: 2 } as const;
export const OFPMC = { ADD: 0, MODIFY: 1, DELETE: 2 } as const;
export const OFPGT = { all: 0, select: 1, indirect: 2, ff: 3 } as const;
export const OFPG = { MAX: 0xffffff00, ALL: 0xfffffffc, ANY: 0xffffffff } as const;
export const OFPM = { MAX: 0xffff0000, SLOWPATH: 0xfffffffd, CONTROLLER: 0xfffffffe, ALL: 0xffffffff } as const;
export const OFPTT_ALL = 0xff;
export const OFP_NO_BUFFER = 0xffffffff;

export const OFPMF = { KBPS: 1, PKTPS: 2, BURST: 4, STATS: 8 } as const;
export const OFPMBT = { DROP: 1, DSCP_REMARK: 2, EXPERIMENTER: 0xffff } as const;

export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
  EXPERIMENTER: 0xffff,
} as const;

export const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  PUSH_PBB: 26,
  POP_PBB: 27,
  EXPERIMENTER: 0xffff,
} as const;

/** Nicira (Open vSwitch) experimenter id and the action subtypes we model */
export const NX_VENDOR_ID = 0x00002320;
export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  REG_LOAD: 7,
  NOTE: 8,
  CONTROLLER: 20,
  RESUBMIT_TABLE: 14,
  OUTPUT_REG: 15,
  LEARN: 16,
  DEC_TTL_CNT_IDS: 21,
  REG_LOAD2: 33,
  CT: 35,
  NAT: 36,
  CONTROLLER2: 37,
  CT_CLEAR: 43,
} as const;

/** ONF experimenter id: OVS's OpenFlow 1.3 bundle extension (ONF EXT-230) */
export const ONF_VENDOR_ID = 0x4f4e4600;
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;
export const OFPBCT = {
  OPEN_REQUEST: 0,
  OPEN_REPLY: 1,
  CLOSE_REQUEST: 2,
  CLOSE_REPLY: 3,
  COMMIT_REQUEST: 4,
  COMMIT_REPLY: 5,
  DISCARD_REQUEST: 6,
  DISCARD_REPLY: 7,
} as const;
export const OFPBF = { ATOMIC: 1, ORDERED: 2 } as const;

export const OFPCR_ROLE = { NOCHANGE: 0, EQUAL: 1, MASTER: 2, SLAVE: 3 } as const;

export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;

/** Error types and codes, OpenFlow 1.3.5 §7.4.4, by number */
const ERROR_TABLE: ReadonlyArray<readonly [number, string, readonly string[]]> = [
  [0, 'HELLO_FAILED', ['INCOMPATIBLE', 'EPERM']],
  [
    1,
    'BAD_REQUEST',
    ['BAD_VERSION', 'BAD_TYPE', 'BAD_MULTIPART', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'EPERM', 'BAD_LEN', 'BUFFER_EMPTY',
      'BUFFER_UNKNOWN', 'BAD_TABLE_ID', 'IS_SLAVE', 'BAD_PORT', 'BAD_PACKET', 'MULTIPART_BUFFER_OVERFLOW'],
  ],
  [
    2,
    'BAD_ACTION',
    ['BAD_TYPE', 'BAD_LEN', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_OUT_PORT', 'BAD_ARGUMENT', 'EPERM', 'TOO_MANY',
      'BAD_QUEUE', 'BAD_OUT_GROUP', 'MATCH_INCONSISTENT', 'UNSUPPORTED_ORDER', 'BAD_TAG', 'BAD_SET_TYPE', 'BAD_SET_LEN',
      'BAD_SET_ARGUMENT'],
  ],
  [
    3,
    'BAD_INSTRUCTION',
    ['UNKNOWN_INST', 'UNSUP_INST', 'BAD_TABLE_ID', 'UNSUP_METADATA', 'UNSUP_METADATA_MASK', 'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE', 'BAD_LEN', 'EPERM'],
  ],
  [
    4,
    'BAD_MATCH',
    ['BAD_TYPE', 'BAD_LEN', 'BAD_TAG', 'BAD_DL_ADDR_MASK', 'BAD_NW_ADDR_MASK', 'BAD_WILDCARDS', 'BAD_FIELD', 'BAD_VALUE',
      'BAD_MASK', 'BAD_PREREQ', 'DUP_FIELD', 'EPERM'],
  ],
  [5, 'FLOW_MOD_FAILED', ['UNKNOWN', 'TABLE_FULL', 'BAD_TABLE_ID', 'OVERLAP', 'EPERM', 'BAD_TIMEOUT', 'BAD_COMMAND', 'BAD_FLAGS']],
  [
    6,
    'GROUP_MOD_FAILED',
    ['GROUP_EXISTS', 'INVALID_GROUP', 'WEIGHT_UNSUPPORTED', 'OUT_OF_GROUPS', 'OUT_OF_BUCKETS', 'CHAINING_UNSUPPORTED',
      'WATCH_UNSUPPORTED', 'LOOP', 'UNKNOWN_GROUP', 'CHAINED_GROUP', 'BAD_TYPE', 'BAD_COMMAND', 'BAD_BUCKET', 'BAD_WATCH',
      'EPERM'],
  ],
  [7, 'PORT_MOD_FAILED', ['BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM']],
  [8, 'TABLE_MOD_FAILED', ['BAD_TABLE', 'BAD_CONFIG', 'EPERM']],
  [9, 'QUEUE_OP_FAILED', ['BAD_PORT', 'BAD_QUEUE', 'EPERM']],
  [10, 'SWITCH_CONFIG_FAILED', ['BAD_FLAGS', 'BAD_LEN', 'EPERM']],
  [11, 'ROLE_REQUEST_FAILED', ['STALE', 'UNSUP', 'BAD_ROLE']],
  [
    12,
    'METER_MOD_FAILED',
    ['UNKNOWN', 'METER_EXISTS', 'INVALID_METER', 'UNKNOWN_METER', 'BAD_COMMAND', 'BAD_FLAGS', 'BAD_RATE', 'BAD_BURST',
      'BAD_BAND', 'BAD_BAND_VALUE', 'OUT_OF_METERS', 'OUT_OF_BANDS'],
  ],
  [13, 'TABLE_FEATURES_FAILED', ['BAD_TABLE', 'BAD_METADATA', 'BAD_TYPE', 'BAD_LEN', 'BAD_ARGUMENT', 'EPERM']],
  [0xffff, 'EXPERIMENTER', []],
];

const ERROR_BY_TYPE = new Map(ERROR_TABLE.map(([t, name, codes]) => [t, { name, codes }]));
const ERROR_BY_NAME = new Map(ERROR_TABLE.map(([t, name, codes]) => [name, { type: t, codes }]));

/** ONF experimenter errors of the bundle extension (codes 2300.., OpenFlow 1.4's OFPBFC_*) */
const ONF_BUNDLE_ERRORS = [
  'UNKNOWN', 'EPERM', 'BAD_ID', 'BUNDLE_EXIST', 'BUNDLE_CLOSED', 'OUT_OF_BUNDLES', 'BAD_TYPE', 'BAD_FLAGS', 'MSG_BAD_LEN',
  'MSG_BAD_XID', 'MSG_UNSUP', 'MSG_CONFLICT', 'MSG_TOO_MANY', 'MSG_FAILED', 'TIMEOUT', 'BUNDLE_IN_PROGRESS',
];

/** OFPET_/OFPxxC_ names of an error; unknown numbers print as numbers */
export function errorNames(type: number, code: number, experimenter?: number): { typeName: string; codeName: string } {
  if (type === 0xffff && experimenter === ONF_VENDOR_ID && code >= 2300 && code - 2300 < ONF_BUNDLE_ERRORS.length) {
    return { typeName: 'BUNDLE_FAILED', codeName: ONF_BUNDLE_ERRORS[code - 2300] };
  }
  const t = ERROR_BY_TYPE.get(type);
  if (!t) return { typeName: String(type), codeName: String(code) };
  return { typeName: t.name, codeName: t.codes[code] ?? String(code) };
}

/** the numbers of an error given by names (or numbers as strings) */
export function errorNumbers(typeName: string, codeName: string): { type: number; code: number } | undefined {
  const t = ERROR_BY_NAME.get(typeName);
  const type = t ? t.type : /^\d+$/.test(typeName) ? Number(typeName) : undefined;
  if (type === undefined) return undefined;
  const idx = t ? t.codes.indexOf(codeName) : -1;
  const code = idx >= 0 ? idx : /^\d+$/.test(codeName) ? Number(codeName) : undefined;
  return code === undefined ? undefined : { type, code };
}

export const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(OFPT).map(([k, v]) => [v, k]),
);
