/**
 * Normal forms and keys of flows, groups and meters: the identity of a flow (table, priority, match),
 * the canonical sort key of a plan, and content keys that compare two flows the way the switch sees
 * them (a full mask is no mask, a whole-field move has no bit range, a zero timeout is no timeout).
 * docs/real-ovs.md: an un-normalised diff sees every flow as changed.
 *
 * The keys of a flow, group or meter object are computed once and cached (WeakMap): these objects
 * must not be mutated after they were keyed (plans are read-only; make a new object instead).
 */
import type { Action, Bucket, FieldName, FieldRef, Flow, Group, Instructions, Match, MaskedValue, Meter } from '../fabric/openflow/flow';
import { FIELDS, fullMask } from '../fabric/openflow/fields';
import { COOKIE_IDENTITY_MASK } from './cookie';

const FIELD_ORDER: FieldName[] = [...FIELDS.keys()];
const FIELD_INDEX = new Map<string, number>(FIELD_ORDER.map((f, i) => [f, i]));
const byFieldOrder = (a: string, b: string) => FIELD_INDEX.get(a)! - FIELD_INDEX.get(b)!;

export function normalizeMatch(match: Match): Match {
  const out: Match = {};
  for (const name of FIELD_ORDER) {
    const mv = match[name];
    if (!mv) continue;
    const full = fullMask(name);
    if (mv.mask === undefined || mv.mask === full) out[name] = { value: mv.value & full };
    else out[name] = { value: mv.value & mv.mask, mask: mv.mask };
  }
  return out;
}

function mvKey(mv: MaskedValue): string {
  return mv.mask === undefined ? mv.value.toString(16) : `${mv.value.toString(16)}/${mv.mask.toString(16)}`;
}

/** Canonical text of a match: fields in the field table's order, masks normalised. */
export function matchKey(match: Match): string {
  let key = '';
  const names = Object.keys(match) as FieldName[];
  if (names.length > 1) names.sort(byFieldOrder);
  for (const name of names) {
    const mv = match[name];
    if (!mv) continue;
    const full = fullMask(name);
    const norm = mv.mask === undefined || mv.mask === full ? { value: mv.value & full } : { value: mv.value & mv.mask, mask: mv.mask };
    key += `${name}=${mvKey(norm)},`;
  }
  return key;
}

// Keys are cached per object: plans are read-only and successive plans share their flow, group and
// meter objects, so the reconciler diffing 1,000 node switches computes each key once, not 1,000 times.
const identityCache = new WeakMap<object, string>();
const contentCache = new WeakMap<object, string>();
const contentNoGenCache = new WeakMap<object, string>();
const groupCache = new WeakMap<object, string>();
const meterCache = new WeakMap<object, string>();

/** Flow identity as OpenFlow sees it (OFPFC_*_STRICT): table, priority, match. */
export function flowIdentity(flow: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  let k = identityCache.get(flow);
  if (k === undefined) {
    k = `${flow.table}/${flow.priority}/${matchKey(flow.match)}`;
    identityCache.set(flow, k);
  }
  return k;
}

/** Sorts by table ascending, priority descending, then match text. */
export function flowSortKey(flow: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `${String(flow.table).padStart(3, '0')}${String(65535 - flow.priority).padStart(5, '0')}${matchKey(flow.match)}`;
}

function refKey(ref: FieldRef): string {
  const bits = BigInt(ref.nBits ?? 0);
  const whole = (ref.ofs ?? 0) === 0 && (ref.nBits === undefined || fullMask(ref.field) === (1n << bits) - 1n);
  return whole ? ref.field : `${ref.field}[${ref.ofs ?? 0}+${ref.nBits}]`;
}

function hex(data: Uint8Array): string {
  return Buffer.from(data).toString('hex');
}

export function actionKey(a: Action): string {
  switch (a.type) {
    case 'output':
      return a.port === 0xfffffffd ? `output:${a.port}:${a.maxLen ?? 0xffff}` : `output:${a.port}`;
    case 'group':
      return `group:${a.groupId}`;
    case 'set_field': {
      const full = fullMask(a.field);
      if (a.mask === undefined || a.mask === full) return `set:${a.field}=${(a.value & full).toString(16)}`;
      return `set:${a.field}=${(a.value & a.mask).toString(16)}/${a.mask.toString(16)}`;
    }
    case 'push_vlan':
      return `push_vlan:${a.ethertype}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'dec_ttl':
      return a.ids === undefined ? 'dec_ttl' : `dec_ttl(${a.ids.join(',')})`;
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'move':
      return `move:${refKey(a.src)}>${refKey(a.dst)}`;
    case 'ct': {
      const zone = a.zone === undefined ? '0' : typeof a.zone === 'number' ? String(a.zone) : refKey(a.zone);
      const n = a.nat;
      const nat = n
        ? `nat(${n.kind ?? ''},${n.ipMin ?? ''}-${n.ipMax ?? n.ipMin ?? ''}:${n.portMin ?? ''}-${n.portMax ?? n.portMin ?? ''},${n.persistent ? 'p' : ''},${n.portSelection ?? ''})`
        : '';
      return `ct(${a.commit ? 'commit,' : ''}${a.force ? 'force,' : ''}zone=${zone},table=${a.table ?? 'none'},${nat},exec(${(a.exec ?? []).map(actionKey).join(';')})${a.alg ? `,alg=${a.alg}` : ''})`;
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'resubmit':
      return `resubmit(${a.port ?? 'in'},${a.table ?? 'none'}${a.ct ? ',ct' : ''}${a.legacy ? ',legacy' : ''})`;
    case 'note':
      return `note:${hex(a.data)}`;
    case 'controller':
      return `controller(${a.maxLen ?? 0xffff},${a.reason ?? 0},${a.userdata ? hex(a.userdata) : ''}${a.controllerId ? `,id=${a.controllerId}` : ''}${a.pause ? ',pause' : ''}${a.meterId !== undefined ? `,meter=${a.meterId}` : ''})`;
    case 'output_reg':
      return `output_reg:${refKey(a.src)}:${a.maxLen ?? 0xffff}`;
    case 'exit':
      return 'exit';
    case 'fin_timeout':
      return `fin_timeout(${a.idleTimeout ?? 0},${a.hardTimeout ?? 0})`;
    case 'set_tunnel':
      return `set_tunnel${a.wide || a.tunId > 0xffffffffn ? '64' : ''}:${a.tunId.toString(16)}`;
    case 'sample':
      return `sample(${a.probability},${a.collectorSetId},${a.obsDomainId},${a.obsPointId},${a.samplingPort ?? 'none'},${a.direction ?? ''})`;
    case 'multipath':
      return `multipath(${a.fields},${a.basis},${a.algorithm},${a.links},${a.arg},${refKey(a.dst)})`;
    case 'bundle':
      return `bundle(${a.fields},${a.basis},${a.algorithm},${a.members.join(',')},${a.dst ? refKey(a.dst) : ''})`;
    case 'learn': {
      const specs = a.specs.map((s) => `${s.kind}:${'src' in s ? refKey(s.src) : `0x${s.value.toString(16)}`}${s.kind === 'output' ? '' : `>${refKey(s.dst)}`}`);
      return `learn(${a.table},${a.idleTimeout ?? 0},${a.hardTimeout ?? 0},${a.finIdleTimeout ?? 0},${a.finHardTimeout ?? 0},${a.priority ?? 0x8000},${(a.cookie ?? 0n).toString(16)},${a.sendFlowRem ? 'r' : ''}${a.deleteLearned ? 'd' : ''},${a.limit ?? 0},${a.resultDst ? refKey(a.resultDst) : ''},${specs.join(';')})`;
    }
    case 'raw':
      return `raw(${a.actionType},${a.experimenter ?? ''},${a.subtype ?? ''},${hex(a.data)})`;
  }
}

export function instructionsKey(ins: Instructions): string {
  const parts: string[] = [];
  if (ins.meter !== undefined) parts.push(`meter:${ins.meter}`);
  if (ins.apply && ins.apply.length) parts.push(`apply(${ins.apply.map(actionKey).join(';')})`);
  if (ins.clear) parts.push('clear');
  if (ins.write && ins.write.length) parts.push(`write(${[...ins.write.map(actionKey)].sort().join(';')})`);
  if (ins.writeMetadata) parts.push(`meta:${ins.writeMetadata.value.toString(16)}/${ins.writeMetadata.mask.toString(16)}`);
  if (ins.gotoTable !== undefined) parts.push(`goto:${ins.gotoTable}`);
  return parts.join(' ');
}

/** Everything a modify could change: instructions, cookie (optionally without generation), timeouts, flags. */
export function flowContentKey(flow: Flow, ignoreGeneration = false): string {
  const cache = ignoreGeneration ? contentNoGenCache : contentCache;
  let k = cache.get(flow);
  if (k === undefined) {
    k = computeFlowContentKey(flow, ignoreGeneration);
    cache.set(flow, k);
  }
  return k;
}

function computeFlowContentKey(flow: Flow, ignoreGeneration: boolean): string {
  const cookie = ignoreGeneration ? flow.cookie & COOKIE_IDENTITY_MASK : flow.cookie;
  return `${cookie.toString(16)}|${flow.idleTimeout ?? 0}|${flow.hardTimeout ?? 0}|${flow.flags ?? 0}|${instructionsKey(flow.instructions)}`;
}

function bucketKey(b: Bucket, type: Group['type']): string {
  const weight = type === 'select' ? (b.weight ?? 1) : 0;
  return `w${weight},p${b.watchPort ?? 'any'},g${b.watchGroup ?? 'any'}:${b.actions.map(actionKey).join(';')}`;
}

export function groupKey(g: Group): string {
  let k = groupCache.get(g);
  if (k === undefined) {
    k = computeGroupKey(g);
    groupCache.set(g, k);
  }
  return k;
}

function computeGroupKey(g: Group): string {
  return `${g.groupId}|${g.type}|${g.buckets.map((b) => bucketKey(b, g.type)).join(' ')}`;
}

export function meterKey(m: Meter): string {
  let k = meterCache.get(m);
  if (k === undefined) {
    k = computeMeterKey(m);
    meterCache.set(m, k);
  }
  return k;
}

function computeMeterKey(m: Meter): string {
  const bands = m.bands.map((b) => `${b.type}:${b.rate}:${m.burst ? b.burstSize : 0}:${b.precLevel ?? 0}`).join(' ');
  return `${m.meterId}|${m.unit}|${m.burst}|${m.stats}|${bands}`;
}
