/**
 * Flow validity: the one notion, shared by decode and encode, of which flows Open vSwitch 3.1
 * refuses. Each rule was checked against OVS (`ovs-ofctl ofp-print` of the bytes, and
 * `ovs-ofctl parse-flow` of the text); the OVS error it stands for is noted beside it.
 *
 * Decode stays lenient and lossless: a decoded flow_mod / flow stats entry keeps every field and
 * carries the problems found here (`problems`). Encode refuses a flow_mod (add/modify) with any
 * problem, throwing OpenFlowError with `problems` set, unless asked to be lenient.
 */
import { FIELDS } from './fields';
import type { Action, FieldName, FieldRef, Flow, Match, MaskedValue } from './flow';
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
  | 'not-maskable';

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

const NOT_SETTABLE: ReadonlySet<FieldName> = new Set<FieldName>(['in_port', 'eth_type', 'ip_proto', 'dp_hash', 'ct_state', 'ct_zone']);
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
}

function refProblems(where: string, a: Action, ref: FieldRef, write: boolean, st: ActionState, out: FlowProblem[]): void {
  if (!FIELDS.has(ref.field)) return;
  if (write && NOT_SETTABLE.has(ref.field)) {
    out.push({ field: ref.field, action: a.type, rule: 'not-settable', message: `${where}: ${a.type} cannot write ${ref.field}` });
  }
  if (write && CT_FIELDS.has(ref.field)) {
    out.push({ field: ref.field, action: a.type, rule: 'ct-field-outside-ct', message: `${where}: ${a.type} of ${ref.field} only inside ct(commit,exec(...))` });
  }
  const miss = missingPrerequisite(st.match, ref.field, st.vlans);
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
        if (!st.isIp) out.push({ action: 'dec_ttl', rule: 'prerequisite', message: `${where}: dec_ttl needs eth_type=0x800|0x86dd in the match` });
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
        const miss = missingPrerequisite(st.match, f, st.vlans);
        if (miss) out.push({ field: f, action: 'set_field', rule: 'prerequisite', message: `${where}: set_field of ${f} needs ${miss} in the match` });
        break;
      }
      case 'move':
        refProblems(where, a, a.src, false, st, out);
        refProblems(where, a, a.dst, true, st, out);
        break;
      case 'ct': {
        if (!st.isIp) out.push({ action: 'ct', rule: 'prerequisite', message: `${where}: ct needs eth_type=0x800|0x86dd in the match` });
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
