/**
 * The ovs-ofctl syntax printer for the flow IR: one line per flow, group or meter, accepted as is by
 * `ovs-ofctl -O OpenFlow13 add-flows / add-groups` (a file of lines) and `add-meter` (one line per
 * call: OVS 3.1's ovs-ofctl has no `add-meters`; docs/pipeline.md "Printing"). `fabric plan --format ofctl` prints
 * with it; tests load its output into real OVS and compare with `ovs-ofctl diff-flows`.
 *
 * Only printing lives here (the meaning of each IR element is in flow.ts / fields.ts). A `raw`
 * action has no ovs-ofctl text and is refused with an OfctlError.
 */
import type { Action, Bucket, FieldName, FieldRef, Flow, Group, Instructions, LearnSpec, Match, MaskedValue, Meter, NatSpec } from './flow';
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
  // the 16-bit NXM_OF_IN_PORT is OVS's `in_port`; as a match field it means the same port
  in_port_nxm: 'in_port',
  ip_frag: 'nw_frag',
};

export function ofctlFieldName(field: FieldName): string {
  return OFCTL_NAME[field] ?? field;
}

/** the name of a field inside an action (move, load, learn, output:reg): OVS's `in_port` is the
 *  16-bit NXM field there, the 32-bit OXM one is `in_port_oxm` */
export function ofctlRefName(field: FieldName): string {
  return field === 'in_port' ? 'in_port_oxm' : ofctlFieldName(field);
}

/** ip_frag values by (value, mask), as OVS's parser reads them back (lib/meta-flow.c all_frags) */
const FRAG_NAMES: Record<string, string> = { '0/3': 'no', '1/3': 'first', '3/3': 'later', '0/1': 'no', '1/1': 'yes', '0/2': 'not_later', '2/2': 'later' };

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

function prefixLen(mask: bigint, bits = 32): number | undefined {
  for (let len = 0; len <= bits; len++) {
    const m = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
    if (m === mask) return len;
  }
  return undefined;
}

/** an IPv6 address as glibc's inet_ntop writes it (OVS prints with it): the longest run of two or
 *  more zero groups (the first on a tie) becomes '::'; ::a.b.c.d and ::ffff:a.b.c.d keep a dotted quad */
export function ipv6Text(v: bigint): string {
  const w = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) best = -1;
  const quad = (): string => ipText(v & 0xffffffffn);
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) return bestLen === 6 ? `::${quad()}` : `::ffff:${quad()}`;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    out += (out && !out.endsWith(':') ? ':' : '') + w[i].toString(16);
  }
  return out;
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
    case 'ipv6': {
      if (mask === undefined) return ipv6Text(value);
      const len = prefixLen(mask, 128);
      return len === undefined ? `${ipv6Text(value)}/${ipv6Text(mask)}` : `${ipv6Text(value)}/${len}`;
    }
    case 'port':
      return portText(Number(value));
    case 'ct_state':
      return ctStateText(value, mask ?? full);
    case 'hex':
      return mask === undefined ? `0x${value.toString(16)}` : `0x${value.toString(16)}/0x${mask.toString(16)}`;
    case 'decimal':
      // masked: hex both sides, as OVS prints them (tcp_dst=0xfde0/0xfff0)
      return mask === undefined ? value.toString(10) : `0x${value.toString(16)}/0x${mask.toString(16)}`;
    case 'frag': {
      // OVS has names only: an exact value is mask 3; 0/1 and 2/2 print as OVS prints them
      const m = mask === undefined ? 3n : mask & 3n;
      return FRAG_NAMES[`${value & m}/${m}`] ?? `0x${value.toString(16)}/0x${m.toString(16)}`;
    }
    case 'packet_type':
      return `(${value >> 16n},0x${(value & 0xffffn).toString(16)})`;
  }
}

const SHORTHAND: { name: string; eth: bigint; proto?: bigint }[] = [
  { name: 'tcp', eth: 0x0800n, proto: 6n },
  { name: 'udp', eth: 0x0800n, proto: 17n },
  { name: 'icmp', eth: 0x0800n, proto: 1n },
  { name: 'ip', eth: 0x0800n },
  { name: 'arp', eth: 0x0806n },
  { name: 'tcp6', eth: 0x86ddn, proto: 6n },
  { name: 'udp6', eth: 0x86ddn, proto: 17n },
  { name: 'icmp6', eth: 0x86ddn, proto: 58n },
  { name: 'ipv6', eth: 0x86ddn },
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
    // an all-zero mask matches anything: OVS drops the field, and so do we
    if (!mv || done.has(name) || mv.mask === 0n) continue;
    // OVS prints a matched flow label with 5 hex digits (0x0479f, 0x00045/0xff0ff); set_field does not pad
    const text = name === 'ipv6_label' ? valueText(name, mv).replace(/0x([0-9a-f]+)/g, (_m, d: string) => '0x' + d.padStart(5, '0')) : valueText(name, mv);
    parts.push(`${ofctlFieldName(name)}=${text}`);
  }
  return parts.join(',');
}

function refText(ref: FieldRef): string {
  const name = ofctlRefName(ref.field);
  const bits = fieldSpec(ref.field).bits;
  const ofs = ref.ofs ?? 0;
  const n = ref.nBits ?? bits - ofs;
  if (ofs === 0 && n === bits) return name;
  // one bit: OVS's mf_format_subfield writes [ofs]
  return n === 1 ? `${name}[${ofs}]` : `${name}[${ofs}..${ofs + n - 1}]`;
}

/** one flow_mod_spec as OVS's learn_format writes it */
function learnSpecText(s: LearnSpec): string {
  if (s.kind === 'output') return `output:${refText(s.src)}`;
  // an immediate as OVS's ds_put_hex writes it: 0x-prefixed hex, but a bare 0 for zero
  const imm = (v: bigint): string => (v === 0n ? '0' : `0x${v.toString(16)}`);
  if (s.kind === 'load') return `load:${'src' in s ? refText(s.src) : imm(s.value)}->${refText(s.dst)}`;
  if ('src' in s) {
    const same = s.src.field === s.dst.field && (s.src.ofs ?? 0) === (s.dst.ofs ?? 0);
    return same ? refText(s.dst) : `${refText(s.dst)}=${refText(s.src)}`;
  }
  const bits = fieldSpec(s.dst.field).bits;
  const whole = (s.dst.ofs ?? 0) === 0 && (s.dst.nBits ?? bits) === bits;
  if (!whole) return `${refText(s.dst)}=${imm(s.value)}`;
  const text = fieldSpec(s.dst.field).format === 'hex' ? imm(s.value) : valueText(s.dst.field, { value: s.value });
  return `${ofctlRefName(s.dst.field)}=${text}`;
}

function natText(n: NatSpec): string {
  if (!n.kind) return 'nat';
  let range = '';
  if (n.ipMin) {
    // IPv6 addresses are bracketed when a port range follows (OVS's ipv6_format_addr_bracket)
    const ip = (a: string): string => (a.includes(':') && n.portMin !== undefined ? `[${a}]` : a);
    range = ip(n.ipMin) + (n.ipMax && n.ipMax !== n.ipMin ? `-${ip(n.ipMax)}` : '');
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
      // one NXAST_REG_LOAD of the whole field (a full mask): OVS's `load:V->F[]`; set_field:V->F would be OFPAT_SET_FIELD
      if (a.mask !== undefined && (a.mask === fullMask(a.field) || a.mask === (1n << BigInt(spec.wireBytes * 8)) - 1n)) {
        return `load:0x${(a.value & a.mask).toString(16)}->${refText({ field: a.field })}`;
      }
      // OVS's text `in_port` here is the 16-bit field: OVS sends NXM_OF_IN_PORT inside the SET_FIELD,
      // which it accepts (the 32-bit OXM_OF_IN_PORT it refuses); same port for numbers below 0xff00
      return `set_field:${valueText(a.field, mv)}->${ofctlFieldName(a.field)}`;
    }
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'dec_ttl':
      return a.ids === undefined ? 'dec_ttl' : `dec_ttl(${a.ids.join(',')})`;
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'move':
      return `move:${refText(a.src)}->${refText(a.dst)}`;
    case 'ct': {
      const args: string[] = [];
      // OVS's order (format_CT): commit, force, table, zone, nat, exec, alg
      if (a.commit) args.push('commit');
      if (a.force) args.push('force');
      if (a.table !== undefined) args.push(`table=${a.table}`);
      if (a.zone !== undefined) args.push(`zone=${typeof a.zone === 'number' ? a.zone : refText(a.zone)}`);
      if (a.nat) args.push(natText(a.nat));
      if (a.exec && a.exec.length) args.push(`exec(${a.exec.map(actionText).join(',')})`);
      if (a.alg) args.push(`alg=${a.alg === 21 ? 'ftp' : a.alg === 69 ? 'tftp' : a.alg}`);
      return args.length ? `ct(${args.join(',')})` : 'ct';
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'resubmit':
      if (a.port !== undefined && a.port !== OFPP.IN_PORT && a.table === undefined && !a.ct) return `resubmit:${portText(a.port)}`;
      if (a.legacy) throw new OfctlError('ofctl: the legacy NXAST_RESUBMIT to IN_PORT has no ovs-ofctl syntax');
      return `resubmit(${a.port === undefined || a.port === OFPP.IN_PORT ? '' : portText(a.port)},${a.table ?? ''}${a.ct ? ',ct' : ''})`;
    case 'note':
      return `note:${hexBytes(a.data)}`;
    case 'controller': {
      // OVS's order (format_CONTROLLER): reason, max_len, id, userdata, pause, meter_id
      const args: string[] = [];
      if (a.reason !== undefined && a.reason !== 1) args.push(`reason=${['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'][a.reason] ?? a.reason}`);
      if (a.maxLen !== undefined && a.maxLen !== 0xffff) args.push(`max_len=${a.maxLen}`);
      if (a.controllerId) args.push(`id=${a.controllerId}`);
      if (a.userdata && a.userdata.length) args.push(`userdata=${hexBytes(a.userdata)}`);
      if (a.pause) args.push('pause');
      if (a.meterId !== undefined) args.push(`meter_id=${a.meterId}`);
      return `controller(${args.join(',')})`;
    }
    case 'output_reg':
      // ovs-ofctl's output:FIELD[] syntax always means max_len 65535
      if (a.maxLen !== undefined && a.maxLen !== 0xffff) throw new OfctlError('ofctl: output_reg with a max_len has no ovs-ofctl syntax');
      return `output:${refText(a.src)}`;
    case 'exit':
      return 'exit';
    case 'fin_timeout': {
      const args: string[] = [];
      if (a.idleTimeout) args.push(`idle_timeout=${a.idleTimeout}`);
      if (a.hardTimeout) args.push(`hard_timeout=${a.hardTimeout}`);
      return `fin_timeout(${args.join(',')})`;
    }
    case 'set_tunnel':
      return `set_tunnel${a.wide || a.tunId > 0xffffffffn ? '64' : ''}:0x${a.tunId.toString(16)}`;
    case 'sample': {
      let t = `sample(probability=${a.probability},collector_set_id=${a.collectorSetId},obs_domain_id=${a.obsDomainId},obs_point_id=${a.obsPointId}`;
      if (a.samplingPort !== undefined) t += `,sampling_port=${portText(a.samplingPort)}`;
      if (a.direction) t += `,${a.direction}`;
      return `${t})`;
    }
    case 'multipath':
      return `multipath(${a.fields},${a.basis},${a.algorithm},${a.links},${a.arg},${refText(a.dst)})`;
    case 'bundle': {
      const members = `members:${a.members.map(portText).join(',')}`;
      return a.dst
        ? `bundle_load(${a.fields},${a.basis},${a.algorithm},ofport,${refText(a.dst)},${members})`
        : `bundle(${a.fields},${a.basis},${a.algorithm},ofport,${members})`;
    }
    case 'learn': {
      // OVS's order (learn_format)
      const args = [`table=${a.table}`];
      if (a.idleTimeout) args.push(`idle_timeout=${a.idleTimeout}`);
      if (a.hardTimeout) args.push(`hard_timeout=${a.hardTimeout}`);
      if (a.finIdleTimeout) args.push(`fin_idle_timeout=${a.finIdleTimeout}`);
      if (a.finHardTimeout) args.push(`fin_hard_timeout=${a.finHardTimeout}`);
      if (a.priority !== undefined && a.priority !== 0x8000) args.push(`priority=${a.priority}`);
      if (a.sendFlowRem) args.push('send_flow_rem');
      if (a.deleteLearned) args.push('delete_learned');
      if (a.cookie) args.push(`cookie=0x${a.cookie.toString(16)}`);
      if (a.limit) args.push(`limit=${a.limit}`);
      if (a.resultDst) args.push(`result_dst=${refText(a.resultDst)}`);
      for (const s of a.specs) args.push(learnSpecText(s));
      return `learn(${args.join(',')})`;
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
