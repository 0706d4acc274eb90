/**
 * Flow validity: the one notion, shared by decode and encode, of which flows Open vSwitch 3.1
 * refuses. Each rule was checked against OVS (`ovs-ofctl ofp-print` of the bytes, and
 * `ovs-ofctl parse-flow` of the text); the OVS error it stands for is noted beside it.
 *
 * Decode stays lenient and lossless: a decoded flow_mod / flow stats entry keeps every field and
 * carries the problems found here (`problems`). Encode refuses a flow_mod (add/modify) with any
 * problem, throwing OpenFlowError with `problems` set, unless asked to be lenient.
 */
import { FIELDS, ctStateValid } from './fields';
import type { Action, FieldName, FieldRef, Flow, Group, LearnSpec, Match, MaskedValue, Meter } from './flow';
import { OFPP } from './flow';

export type FlowRule =
  /** a match field, or an action, without its prerequisite in the match (OFPBMC_BAD_PREREQ, OFPBAC_MATCH_INCONSISTENT) */
  | 'prerequisite'
  /** a value outside the bits the field can hold (OFPBMC_BAD_VALUE, OFPBAC_BAD_SET_ARGUMENT) */
  | 'value-range'
  /** a masked value with bits set outside its mask (OFPBMC_BAD_WILDCARDS) */
  | 'mask-bits'
  /** output to OFPP_ANY or to a number between OFPP_MAX and the reserved ports (OFPBAC_BAD_OUT_PORT) */
  | 'reserved-port'
  /** goto_table to a table not after the flow's own (OFPBIC_BAD_TABLE_ID) */
  | 'goto-order'
  /** ct(exec(...)) holding anything but set_field of ct_mark/ct_label, or exec without commit (OFPBAC_BAD_ARGUMENT) */
  | 'ct-nesting'
  /** ct(commit) of a flow matching ct_state=+inv (OFPBAC_BAD_ARGUMENT) */
  | 'ct-commit'
  /** set_field/move of ct_mark or ct_label outside ct(exec(...)) (OFPBAC_BAD_SET_ARGUMENT) */
  | 'ct-field-outside-ct'
  /** ct zone taken from a field slice that is not 16 bits wide (OFPBAC_BAD_SET_LEN) */
  | 'ct-zone-width'
  /** set_field/move into a read-only field: in_port, eth_type, ip_proto, dp_hash, ct_state, ct_zone (OFPBAC_BAD_SET_ARGUMENT) */
  | 'not-settable'
  /** a mask on a field OpenFlow 1.3 does not let be masked (OFPBMC_BAD_MASK) */
  | 'not-maskable'
  /** learn: a source and destination of different widths, or an immediate wider than its destination (OFPBAC_BAD_ARGUMENT) */
  | 'learn-width'
  /** a bucket weight in a group other than select (OFPGMFC_INVALID_GROUP) */
  | 'bucket-weight'
  /** an indirect group without exactly one bucket (OFPGMFC_INVALID_GROUP) */
  | 'bucket-count'
  /** watch_port/watch_group in an all or indirect group (OFPGMFC_WATCH_UNSUPPORTED), or a fast-failover bucket without either (OFPGMFC_INVALID_GROUP) */
  | 'bucket-watch'
  /** adding a group with a reserved id, above OFPG_MAX (OFPGMFC_INVALID_GROUP, from the switch) */
  | 'group-id'
  /** adding a meter with id 0 or above OFPM_MAX but the slowpath/controller meters (OFPMMFC_INVALID_METER, from the switch) */
  | 'meter-id'
  /** a meter without bands (OFPMMFC_OUT_OF_BANDS) */
  | 'meter-bands'
  /** a meter band with rate 0 (OFPMMFC_BAD_RATE) */
  | 'meter-band';

export interface FlowProblem {
  /** the match field, or the field an action writes/reads, concerned */
  field?: FieldName;
  /** the action concerned (its type), when the problem is in the instructions */
  action?: string;
  rule: FlowRule;
  message: string;
}

/** bits OVS accepts in a field's value, where fewer than the width of fields.ts */
const VALUE_BITS: Partial<Record<FieldName, bigint>> = {
  // OVS keeps arp_op in 8 bits (flow->nw_proto): a larger value is OFPBMC_BAD_VALUE
  arp_op: 0xffn,
  // CS_SUPPORTED_MASK of OVS 3.1: new est rel rpl inv trk snat dnat
  ct_state: 0xffn,
};

const NOT_SETTABLE: ReadonlySet<FieldName> = new Set<FieldName>([
  'in_port', 'eth_type', 'ip_proto', 'dp_hash', 'ct_state', 'ct_zone',
  // read-only in ovs-fields(7) (ovs-ofctl: "... is read-only", "destination field ... is not writable")
  'conj_id', 'recirc_id', 'actset_output', 'packet_type', 'ip_frag', 'tcp_flags', 'mpls_bos',
  'ct_nw_src', 'ct_nw_dst', 'ct_ipv6_src', 'ct_ipv6_dst', 'ct_nw_proto', 'ct_tp_src', 'ct_tp_dst',
  'tun_gtpu_flags', 'tun_gtpu_msgtype', 'nsh_mdtype', 'nsh_np',
]);
const CT_FIELDS: ReadonlySet<FieldName> = new Set<FieldName>(['ct_mark', 'ct_label']);
const VLAN_PRESENT = 0x1000n;
/** ports OVS refuses as an output: (OFPP_MAX .. OFPP_IN_PORT) and OFPP_ANY */
const isBadOutPort = (port: number): boolean => (port >= OFPP.MAX && port < OFPP.IN_PORT) || port === OFPP.ANY;

const hex = (v: bigint): string => '0x' + v.toString(16);

function validBits(name: FieldName): bigint {
  return VALUE_BITS[name] ?? (1n << BigInt(FIELDS.get(name)!.bits)) - 1n;
}

/** true when the match requires an 802.1Q header (vlan_vid with the OFPVID_PRESENT bit matched as set) */
function vlanMatched(match: Match): boolean {
  const v = match.vlan_vid;
  return !!v && (v.value & VLAN_PRESENT) !== 0n && (v.mask === undefined || (v.mask & VLAN_PRESENT) !== 0n);
}

/** the prerequisites of a field, with the match; undefined when met, else what is missing */
function missingPrerequisite(match: Match, name: FieldName, vlans: number): string | undefined {
  const spec = FIELDS.get(name);
  if (!spec) return undefined;
  if (spec.ctValid && !ctStateValid(match)) return 'ct_state of a valid connection (+trk-inv, or +new/+est/+rel/+rpl/+snat/+dnat)';
  for (const pre of spec.prerequisites) {
    const have = match[pre.field];
    if (!have && pre.orAbsent) continue;
    const full = (1n << BigInt(FIELDS.get(pre.field)!.wireBytes * 8)) - 1n;
    const exact = have && (have.mask === undefined || have.mask === full || have.mask === validBits(pre.field));
    if (!have || !exact || !pre.values.includes(have.value)) return `${pre.field}=${pre.values.map(hex).join('|')}`;
  }
  // OVS: vlan_pcp (and a VLAN rewrite) need a VLAN header, i.e. vlan_vid with OFPVID_PRESENT
  if ((name === 'vlan_pcp' || name === 'vlan_vid') && vlans === 0) return 'vlan_vid=0x1000/0x1000 (a VLAN header)';
  return undefined;
}

function fieldValueProblems(where: string, name: FieldName, mv: MaskedValue, out: FlowProblem[], action?: string): void {
  const spec = FIELDS.get(name);
  if (!spec || typeof mv.value !== 'bigint') return; // unknown fields and non-bigints: the encoder's bad-value
  const bits = validBits(name);
  const at = action ? { action } : {};
  if (mv.value & ~bits) {
    out.push({ field: name, ...at, rule: 'value-range', message: `${where}: ${name} value ${hex(mv.value)} has bits outside ${hex(bits)}` });
  }
  if (typeof mv.mask === 'bigint' && mv.value & ~mv.mask) {
    out.push({ field: name, ...at, rule: 'mask-bits', message: `${where}: ${name} value ${hex(mv.value)} has bits outside its mask ${hex(mv.mask)}` });
  }
  if (where === 'match' && typeof mv.mask === 'bigint' && !spec.maskable) {
    const full = (1n << BigInt(spec.wireBytes * 8)) - 1n;
    if (mv.mask !== full && mv.mask !== bits) out.push({ field: name, rule: 'not-maskable', message: `match: ${name} cannot be masked (mask ${hex(mv.mask)})` });
  }
}

/** problems of a match alone: value ranges, mask bits and (unless `prerequisites` is false) prerequisites */
export function matchProblems(match: Match, prerequisites = true): FlowProblem[] {
  const out: FlowProblem[] = [];
  for (const name of Object.keys(match) as FieldName[]) {
    const mv = match[name];
    if (!mv) continue;
    fieldValueProblems('match', name, mv, out);
    if (!prerequisites) continue;
    if (name === 'vlan_vid') continue; // matching the VLAN itself needs nothing
    const miss = missingPrerequisite(match, name, vlanMatched(match) ? 1 : 0);
    if (miss) out.push({ field: name, rule: 'prerequisite', message: `match: ${name} needs ${miss}` });
  }
  return out;
}

interface ActionState {
  match: Match;
  /** VLAN headers known to be present (matched or pushed) */
  vlans: number;
  isIp: boolean;
  /** false in group buckets: OVS checks a bucket's actions without a match (no prerequisites) */
  prerequisites?: boolean;
}

function refProblems(where: string, a: Action, ref: FieldRef, write: boolean, st: ActionState, out: FlowProblem[]): void {
  if (!FIELDS.has(ref.field)) return;
  if (write && NOT_SETTABLE.has(ref.field)) {
    out.push({ field: ref.field, action: a.type, rule: 'not-settable', message: `${where}: ${a.type} cannot write ${ref.field}` });
  }
  if (write && CT_FIELDS.has(ref.field)) {
    out.push({ field: ref.field, action: a.type, rule: 'ct-field-outside-ct', message: `${where}: ${a.type} of ${ref.field} only inside ct(commit,exec(...))` });
  }
  const miss = st.prerequisites === false ? undefined : missingPrerequisite(st.match, ref.field, st.vlans);
  if (miss && ref.field !== 'vlan_vid') {
    out.push({ field: ref.field, action: a.type, rule: 'prerequisite', message: `${where}: ${a.type} of ${ref.field} needs ${miss} in the match` });
  }
}

function actionProblems(where: string, actions: readonly Action[], st: ActionState, out: FlowProblem[]): void {
  for (const a of actions) {
    switch (a.type) {
      case 'output':
        if (isBadOutPort(a.port)) {
          out.push({ action: 'output', rule: 'reserved-port', message: `${where}: output to port 0x${a.port.toString(16)} (OFPP_ANY or between OFPP_MAX and the reserved ports)` });
        }
        break;
      case 'push_vlan':
        st.vlans++;
        break;
      case 'pop_vlan':
        if (st.vlans > 0) st.vlans--;
        break;
      case 'dec_ttl':
        if (!st.isIp && st.prerequisites !== false) out.push({ action: 'dec_ttl', rule: 'prerequisite', message: `${where}: dec_ttl needs eth_type=0x800|0x86dd in the match` });
        break;
      case 'set_field': {
        const f = a.field;
        if (!FIELDS.has(f)) break;
        if (NOT_SETTABLE.has(f)) {
          out.push({ field: f, action: 'set_field', rule: 'not-settable', message: `${where}: set_field cannot write ${f}` });
          break;
        }
        if (CT_FIELDS.has(f)) {
          out.push({ field: f, action: 'set_field', rule: 'ct-field-outside-ct', message: `${where}: set_field of ${f} only inside ct(commit,exec(...))` });
          break;
        }
        fieldValueProblems(`${where}: set_field`, f, { value: a.value, mask: a.mask }, out, 'set_field');
        // OpenFlow 1.3 set_field of vlan_vid carries OFPVID_PRESENT
        if (f === 'vlan_vid' && a.mask === undefined && typeof a.value === 'bigint' && !(a.value & VLAN_PRESENT)) {
          out.push({ field: f, action: 'set_field', rule: 'value-range', message: `${where}: set_field of vlan_vid ${hex(a.value)} lacks OFPVID_PRESENT (0x1000)` });
        }
        const miss = st.prerequisites === false ? undefined : missingPrerequisite(st.match, f, st.vlans);
        if (miss) out.push({ field: f, action: 'set_field', rule: 'prerequisite', message: `${where}: set_field of ${f} needs ${miss} in the match` });
        break;
      }
      case 'learn':
        learnProblems(where, a, st, out);
        break;
      case 'move':
        refProblems(where, a, a.src, false, st, out);
        refProblems(where, a, a.dst, true, st, out);
        break;
      case 'ct': {
        if (!st.isIp && st.prerequisites !== false) out.push({ action: 'ct', rule: 'prerequisite', message: `${where}: ct needs eth_type=0x800|0x86dd in the match` });
        if (a.zone !== undefined && typeof a.zone === 'object') {
          const width = a.zone.nBits ?? (FIELDS.get(a.zone.field) ? FIELDS.get(a.zone.field)!.wireBytes * 8 : 16);
          if (width !== 16) {
            out.push({ field: a.zone.field, action: 'ct', rule: 'ct-zone-width', message: `${where}: ct zone from ${a.zone.field} is ${width} bits, must be 16` });
          }
        }
        const cs = st.match.ct_state;
        if (a.commit && cs && cs.value & (cs.mask ?? 0xffffffffn) & 0x10n) {
          out.push({ field: 'ct_state', action: 'ct', rule: 'ct-commit', message: `${where}: ct(commit) in a flow matching ct_state=+inv` });
        }
        if (a.exec && a.exec.length) {
          if (!a.commit) out.push({ action: 'ct', rule: 'ct-nesting', message: `${where}: ct(exec(...)) needs commit` });
          for (const x of a.exec) {
            if (x.type === 'set_field' && CT_FIELDS.has(x.field)) {
              fieldValueProblems(`${where}: ct(exec(set_field))`, x.field, { value: x.value, mask: x.mask }, out, 'set_field');
            } else {
              out.push({
                ...(x.type === 'set_field' ? { field: x.field } : {}),
                action: x.type,
                rule: 'ct-nesting',
                message: `${where}: ct(exec(...)) holds ${x.type}${x.type === 'set_field' ? ' of ' + x.field : ''}: only set_field of ct_mark/ct_label`,
              });
            }
          }
        }
        break;
      }
      default:
        break;
    }
  }
}

/** a field reference's width: nBits, or the rest of the field from ofs */
function refWidth(ref: FieldRef): number {
  const spec = FIELDS.get(ref.field);
  return ref.nBits ?? (spec ? spec.bits - (ref.ofs ?? 0) : 0);
}

/**
 * OVS's learn_check: each source field's prerequisites hold in this flow's match; each destination's
 * prerequisites hold in the learned flow as built by the immediate match specs before it (OVS writes
 * only immediates into it); a load destination is writable; widths agree.
 */
function learnProblems(where: string, a: Extract<Action, { type: 'learn' }>, st: ActionState, out: FlowProblem[]): void {
  const learned: Match = {};
  const specs: readonly LearnSpec[] = Array.isArray(a.specs) ? a.specs : [];
  for (const s of specs) {
    if ('src' in s && s.src && FIELDS.has(s.src.field) && st.prerequisites !== false) {
      const miss = missingPrerequisite(st.match, s.src.field, st.vlans);
      if (miss) out.push({ field: s.src.field, action: 'learn', rule: 'prerequisite', message: `${where}: learn reads ${s.src.field}, which needs ${miss} in the match` });
    }
    if (s.kind === 'output') continue;
    const dst = s.dst;
    if (!dst || !FIELDS.has(dst.field)) continue;
    const width = refWidth(dst);
    if ('src' in s && s.src && FIELDS.has(s.src.field) && refWidth(s.src) !== width) {
      out.push({ field: dst.field, action: 'learn', rule: 'learn-width', message: `${where}: learn ${s.kind} of ${dst.field} (${width} bits) from ${s.src.field} (${refWidth(s.src)} bits)` });
    }
    if ('value' in s && typeof s.value === 'bigint' && width > 0 && s.value >> BigInt(width) !== 0n) {
      out.push({ field: dst.field, action: 'learn', rule: 'learn-width', message: `${where}: learn value ${hex(s.value)} does not fit ${dst.field} (${width} bits)` });
    }
    const miss = missingPrerequisite(learned, dst.field, vlanMatched(learned) ? 1 : 0);
    if (miss && dst.field !== 'vlan_vid') {
      out.push({ field: dst.field, action: 'learn', rule: 'prerequisite', message: `${where}: learn ${s.kind === 'load' ? 'loads' : 'matches'} ${dst.field}, which needs ${miss} among the learned flow's immediate matches before it` });
    }
    if (s.kind === 'load' && NOT_SETTABLE.has(dst.field)) {
      out.push({ field: dst.field, action: 'learn', rule: 'not-settable', message: `${where}: learn cannot load ${dst.field}` });
    }
    if (s.kind === 'match' && 'value' in s && typeof s.value === 'bigint') {
      const spec = FIELDS.get(dst.field)!;
      const ofs = dst.ofs ?? 0;
      const whole = ofs === 0 && width >= spec.bits;
      const prev = learned[dst.field];
      const bitsMask = ((1n << BigInt(width)) - 1n) << BigInt(ofs);
      const mask = whole ? undefined : (prev?.mask ?? 0n) | bitsMask;
      learned[dst.field] = mask === undefined ? { value: s.value } : { value: ((prev?.value ?? 0n) & ~bitsMask) | (s.value << BigInt(ofs)), mask };
    }
  }
}

export interface FlowCheckOptions {
  /** check prerequisites (match and actions) and instructions: true for add/modify; delete checks
   *  only the values of its match */
  full?: boolean;
}

/** every reason OVS would refuse this flow (empty: OVS accepts it as far as these rules know) */
export function flowProblems(flow: Flow, opts: FlowCheckOptions = {}): FlowProblem[] {
  const full = opts.full ?? true;
  const match = flow.match ?? {};
  const out = matchProblems(match, full);
  if (!full) return out;
  const ins = flow.instructions ?? {};
  const eth = match.eth_type;
  const st: ActionState = {
    match,
    vlans: vlanMatched(match) ? 1 : 0,
    isIp: !!eth && eth.mask === undefined && (eth.value === 0x800n || eth.value === 0x86ddn),
  };
  if (ins.apply) actionProblems('apply_actions', ins.apply, st, out);
  if (ins.write) actionProblems('write_actions', ins.write, st, out);
  if (ins.gotoTable !== undefined && ins.gotoTable <= flow.table) {
    out.push({ action: 'goto_table', rule: 'goto-order', message: `goto_table:${ins.gotoTable} from table ${flow.table}: must go to a later table` });
  }
  return out;
}

/** one line naming every problem, for an error message */
export function describeProblems(problems: readonly FlowProblem[]): string {
  return problems.map((p) => `${p.message} [${p.rule}]`).join('; ');
}

const OFPG_MAX = 0xffffff00;
const OFPG_ANY = 0xffffffff;
const OFPP_ANY = 0xffffffff;
const OFPM_MAX = 0xffff0000;
const OFPM_SLOWPATH = 0xfffffffd;
const OFPM_CONTROLLER = 0xfffffffe;

/**
 * Every reason OVS 3.1 would refuse this group in a GROUP_MOD (`command`): the bucket rules of
 * ofputil_check_group_mod (checked with `ovs-ofctl ofp-print` of our bytes), the group id (add only;
 * checked against a running ovs-vswitchd), and each bucket's actions as OVS checks them: without a match
 * (no prerequisites), but reserved ports, read-only fields, values and ct nesting as in flows.
 */
export function groupProblems(group: Group, command: 'add' | 'modify' | 'delete' = 'add'): FlowProblem[] {
  const out: FlowProblem[] = [];
  const buckets = Array.isArray(group.buckets) ? group.buckets : [];
  if (command === 'add' && typeof group.groupId === 'number' && group.groupId > OFPG_MAX) {
    out.push({ action: 'group', rule: 'group-id', message: `group ${group.groupId}: ids above OFPG_MAX (0xffffff00) are reserved` });
  }
  if (group.type === 'indirect' && buckets.length !== 1) {
    out.push({ action: 'group', rule: 'bucket-count', message: `group ${group.groupId}: an indirect group has exactly one bucket, not ${buckets.length}` });
  }
  buckets.forEach((b, i) => {
    const where = `group ${group.groupId} bucket ${i}`;
    if (group.type !== 'select' && b.weight !== undefined && b.weight !== 0) {
      out.push({ action: 'group', rule: 'bucket-weight', message: `${where}: weight ${b.weight} in a ${group.type} group (only select groups weigh buckets)` });
    }
    const watches = (b.watchPort !== undefined && b.watchPort !== OFPP_ANY) || (b.watchGroup !== undefined && b.watchGroup !== OFPG_ANY);
    if ((group.type === 'all' || group.type === 'indirect') && watches) {
      out.push({ action: 'group', rule: 'bucket-watch', message: `${where}: watch_port/watch_group in a ${group.type} group` });
    }
    if (group.type === 'ff' && !watches) {
      out.push({ action: 'group', rule: 'bucket-watch', message: `${where}: a fast-failover bucket needs watch_port or watch_group` });
    }
    if (Array.isArray(b.actions)) actionProblems(where, b.actions, { match: {}, vlans: 0, isIp: false, prerequisites: false }, out);
  });
  return out;
}

/**
 * Every reason OVS 3.1 would refuse this meter in a METER_MOD add/modify: the id (0, and above
 * OFPM_MAX except the virtual slowpath and controller meters: OFPMMFC_INVALID_METER), no bands
 * (OFPMMFC_OUT_OF_BANDS), a band of rate 0 (OFPMMFC_BAD_RATE). OVS's decoder prints these without
 * complaint; the switch refuses them (checked against a running ovs-vswitchd, userspace datapath).
 */
export function meterProblems(meter: Meter, command: 'add' | 'modify' | 'delete' = 'add'): FlowProblem[] {
  const out: FlowProblem[] = [];
  if (command === 'delete') return out;
  const virtual = meter.meterId === OFPM_SLOWPATH || meter.meterId === OFPM_CONTROLLER;
  if (typeof meter.meterId === 'number' && (meter.meterId === 0 || (meter.meterId > OFPM_MAX && !virtual))) {
    out.push({ action: 'meter', rule: 'meter-id', message: `meter ${meter.meterId}: ids are 1..OFPM_MAX (0xffff0000), slowpath or controller` });
  }
  const bands = Array.isArray(meter.bands) ? meter.bands : [];
  if (bands.length === 0) out.push({ action: 'meter', rule: 'meter-bands', message: `meter ${meter.meterId}: no bands` });
  bands.forEach((b, i) => {
    if (b.rate === 0) out.push({ action: 'meter', rule: 'meter-band', message: `meter ${meter.meterId} band ${i}: rate 0` });
  });
  return out;
}
