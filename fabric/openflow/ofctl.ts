/**
 * The ovs-ofctl syntax printer for the flow IR: one line per flow, group or meter, accepted as is by
 * `ovs-ofctl -O OpenFlow13 add-flows / add-groups` (a file of lines) and `add-meter` (one line per
 * call: OVS 3.1's ovs-ofctl has no `add-meters`; docs/pipeline.md "Printing"). `fabric plan --format ofctl` prints
 * with it; tests load its output into real OVS and compare with `ovs-ofctl diff-flows`.
 *
 * Only printing lives here (the meaning of each IR element is in flow.ts / fields.ts). A `raw`
 * action has no ovs-ofctl text and is refused with an OfctlError.
 */
import type { Action, Bucket, FieldName, FieldRef, Flow, Group, Instructions, Match, MaskedValue, Meter, NatSpec } from './flow';
import { CT_STATE, OFPP } from './flow';
import { FIELDS, fieldSpec, fullMask } from './fields';

export class OfctlError extends Error {
  override readonly name = 'OfctlError';
}

/** ovs-ofctl spellings where they differ from the IR's field names */
const OFCTL_NAME: Partial<Record<FieldName, string>> = {
  ipv4_src: 'nw_src',
  ipv4_dst: 'nw_dst',
  icmpv4_type: 'icmp_type',
  icmpv4_code: 'icmp_code',
  tunnel_id: 'tun_id',
  tun_ipv4_src: 'tun_src',
  tun_ipv4_dst: 'tun_dst',
};

export function ofctlFieldName(field: FieldName): string {
  return OFCTL_NAME[field] ?? field;
}

const PORT_NAMES: Record<number, string> = {
  [OFPP.IN_PORT]: 'IN_PORT',
  [OFPP.TABLE]: 'TABLE',
  [OFPP.NORMAL]: 'NORMAL',
  [OFPP.FLOOD]: 'FLOOD',
  [OFPP.ALL]: 'ALL',
  [OFPP.CONTROLLER]: 'CONTROLLER',
  [OFPP.LOCAL]: 'LOCAL',
  [OFPP.ANY]: 'ANY',
};

export function portText(port: number): string {
  return PORT_NAMES[port] ?? String(port);
}

function macText(v: bigint): string {
  const hex = v.toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

function ipText(v: bigint): string {
  const n = Number(v);
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function prefixLen(mask: bigint): number | undefined {
  for (let len = 0; len <= 32; len++) {
    const m = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(32 - len);
    if (m === mask) return len;
  }
  return undefined;
}

function ctStateText(value: bigint, mask: bigint): string {
  let out = '';
  for (const [name, bit] of Object.entries(CT_STATE)) {
    const b = BigInt(bit);
    if (mask & b) out += (value & b ? '+' : '-') + name;
  }
  return out;
}

/** A field value in ovs-ofctl syntax (mask included when partial). */
export function valueText(field: FieldName, mv: MaskedValue): string {
  const spec = fieldSpec(field);
  const full = fullMask(field);
  const mask = mv.mask === undefined || mv.mask === full ? undefined : mv.mask;
  const value = mv.value & (mask ?? full);
  switch (spec.format) {
    case 'mac':
      return mask === undefined ? macText(value) : `${macText(value)}/${macText(mask)}`;
    case 'ipv4': {
      if (mask === undefined) return ipText(value);
      const len = prefixLen(mask);
      return len === undefined ? `${ipText(value)}/${ipText(mask)}` : `${ipText(value)}/${len}`;
    }
    case 'port':
      return portText(Number(value));
    case 'ct_state':
      return ctStateText(value, mask ?? full);
    case 'hex':
      return mask === undefined ? `0x${value.toString(16)}` : `0x${value.toString(16)}/0x${mask.toString(16)}`;
    case 'decimal':
      return mask === undefined ? value.toString(10) : `${value.toString(10)}/0x${mask.toString(16)}`;
  }
}

const SHORTHAND: { name: string; eth: bigint; proto?: bigint }[] = [
  { name: 'tcp', eth: 0x0800n, proto: 6n },
  { name: 'udp', eth: 0x0800n, proto: 17n },
  { name: 'icmp', eth: 0x0800n, proto: 1n },
  { name: 'ip', eth: 0x0800n },
  { name: 'arp', eth: 0x0806n },
];

export function matchText(match: Match): string {
  const parts: string[] = [];
  const done = new Set<FieldName>();
  const eth = match.eth_type?.value;
  const proto = match.ip_proto?.value;
  for (const s of SHORTHAND) {
    if (eth === s.eth && (s.proto === undefined || proto === s.proto)) {
      parts.push(s.name);
      done.add('eth_type');
      if (s.proto !== undefined) done.add('ip_proto');
      break;
    }
  }
  for (const name of FIELDS.keys()) {
    const mv = match[name];
    if (!mv || done.has(name)) continue;
    parts.push(`${ofctlFieldName(name)}=${valueText(name, mv)}`);
  }
  return parts.join(',');
}

function refText(ref: FieldRef): string {
  const name = ofctlFieldName(ref.field);
  const bits = fieldSpec(ref.field).bits;
  const ofs = ref.ofs ?? 0;
  const n = ref.nBits ?? bits - ofs;
  if (ofs === 0 && n === bits) return name;
  return `${name}[${ofs}..${ofs + n - 1}]`;
}

function natText(n: NatSpec): string {
  if (!n.kind) return 'nat';
  let range = '';
  if (n.ipMin) {
    range = n.ipMin + (n.ipMax && n.ipMax !== n.ipMin ? `-${n.ipMax}` : '');
    if (n.portMin !== undefined) range += `:${n.portMin}` + (n.portMax !== undefined && n.portMax !== n.portMin ? `-${n.portMax}` : '');
  }
  const flags = [n.persistent ? 'persistent' : '', n.portSelection ?? ''].filter(Boolean);
  return `nat(${[`${n.kind}${range ? '=' + range : ''}`, ...flags].join(',')})`;
}

function hexBytes(data: Uint8Array): string {
  return [...data].map((b) => b.toString(16).padStart(2, '0')).join('.');
}

export function actionText(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === OFPP.IN_PORT) return 'IN_PORT';
      if (a.port === OFPP.CONTROLLER) return a.maxLen !== undefined ? `controller(max_len=${a.maxLen})` : 'CONTROLLER';
      return `output:${portText(a.port)}`;
    case 'group':
      return `group:${a.groupId}`;
    case 'set_field': {
      const mv: MaskedValue = a.mask === undefined ? { value: a.value } : { value: a.value, mask: a.mask };
      const spec = fieldSpec(a.field);
      if (spec.format === 'ct_state') throw new OfctlError(`ofctl: set_field of ${a.field} is not an action`);
      return `set_field:${valueText(a.field, mv)}->${ofctlFieldName(a.field)}`;
    }
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'dec_ttl':
      return 'dec_ttl';
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'move':
      return `move:${refText(a.src)}->${refText(a.dst)}`;
    case 'ct': {
      const args: string[] = [];
      if (a.commit) args.push('commit');
      if (a.zone !== undefined) args.push(`zone=${typeof a.zone === 'number' ? a.zone : refText(a.zone)}`);
      if (a.table !== undefined) args.push(`table=${a.table}`);
      if (a.nat) args.push(natText(a.nat));
      if (a.exec && a.exec.length) args.push(`exec(${a.exec.map(actionText).join(',')})`);
      return args.length ? `ct(${args.join(',')})` : 'ct';
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'resubmit':
      return `resubmit(${a.port === undefined ? '' : portText(a.port)},${a.table ?? ''})`;
    case 'note':
      return `note:${hexBytes(a.data)}`;
    case 'controller': {
      const args: string[] = [];
      if (a.maxLen !== undefined) args.push(`max_len=${a.maxLen}`);
      if (a.reason !== undefined) args.push(`reason=${['no_match', 'action', 'invalid_ttl'][a.reason] ?? a.reason}`);
      if (a.userdata) args.push(`userdata=${hexBytes(a.userdata)}`);
      return `controller(${args.join(',')})`;
    }
    case 'raw':
      throw new OfctlError(`ofctl: a raw action (type ${a.actionType}) has no ovs-ofctl syntax`);
  }
}

export function instructionsText(ins: Instructions): string {
  const parts: string[] = [];
  if (ins.meter !== undefined) parts.push(`meter:${ins.meter}`);
  for (const a of ins.apply ?? []) parts.push(actionText(a));
  if (ins.clear) parts.push('clear_actions');
  if (ins.write && ins.write.length) parts.push(`write_actions(${ins.write.map(actionText).join(',')})`);
  if (ins.writeMetadata) parts.push(`write_metadata:0x${ins.writeMetadata.value.toString(16)}/0x${ins.writeMetadata.mask.toString(16)}`);
  if (ins.gotoTable !== undefined) parts.push(`goto_table:${ins.gotoTable}`);
  return parts.length ? parts.join(',') : 'drop';
}

/** One line for `ovs-ofctl -O OpenFlow13 add-flows`. */
export function flowText(flow: Flow): string {
  const head = [`cookie=0x${flow.cookie.toString(16)}`, `table=${flow.table}`, `priority=${flow.priority}`];
  if (flow.idleTimeout) head.push(`idle_timeout=${flow.idleTimeout}`);
  if (flow.hardTimeout) head.push(`hard_timeout=${flow.hardTimeout}`);
  if (flow.flags) {
    const names: [number, string][] = [[1, 'send_flow_rem'], [2, 'check_overlap'], [4, 'reset_counts'], [8, 'no_packet_counts'], [16, 'no_byte_counts']];
    for (const [bit, name] of names) if (flow.flags & bit) head.push(name);
  }
  const m = matchText(flow.match);
  if (m) head.push(m);
  return `${head.join(',')} actions=${instructionsText(flow.instructions)}`;
}

function bucketText(b: Bucket): string {
  const params: string[] = [];
  if (b.weight !== undefined) params.push(`weight:${b.weight}`);
  if (b.watchPort !== undefined) params.push(`watch_port:${portText(b.watchPort)}`);
  if (b.watchGroup !== undefined) params.push(`watch_group:${b.watchGroup}`);
  params.push(`actions=${b.actions.length ? b.actions.map(actionText).join(',') : 'drop'}`);
  return `bucket=${params.join(',')}`;
}

const GROUP_TYPE: Record<Group['type'], string> = { all: 'all', select: 'select', indirect: 'indirect', ff: 'fast_failover' };

/** One line for `ovs-ofctl -O OpenFlow13 add-groups`. */
export function groupText(g: Group): string {
  return [`group_id=${g.groupId}`, `type=${GROUP_TYPE[g.type]}`, ...g.buckets.map(bucketText)].join(',');
}

/** One meter as the argument of `ovs-ofctl -O OpenFlow13 add-meter BRIDGE LINE` (one call per meter; OVS 3.1 has no add-meters). */
export function meterText(m: Meter): string {
  const flags = [m.unit, ...(m.burst ? ['burst'] : []), ...(m.stats ? ['stats'] : [])];
  const bands = m.bands.map((b) => {
    const parts = [`type=${b.type}`, `rate=${b.rate}`];
    if (m.burst) parts.push(`burst_size=${b.burstSize}`);
    if (b.type === 'dscp_remark') parts.push(`prec_level=${b.precLevel ?? 0}`);
    return parts.join(',');
  });
  return `meter=${m.meterId},${flags.join(',')},bands=${bands.join(',')}`;
}
