/**
 * The reconciler: from (desired, actual) switch contents to the smallest ordered list of operations
 * that turns actual into desired without a packet ever seeing a half-built pipeline
 * (make-before-break), and `applyOps`, the pure meaning of those operations (used by the property
 * tests and by the simulated switch).
 *
 * Order: meters (add / modify), groups (add / modify), flows added or modified (downstream tables
 * first, so a goto never lands in a table whose flows are still missing), stale flows deleted, then
 * groups and meters nobody uses any more. Deleting a meter deletes every flow that uses it (docs/real-ovs.md
 * pitfall 4), so meters go last. Flows are compared in normal form (controller/normalize.ts) and
 * without the cookie generation: a restarted controller adopts what is installed. Flows without our
 * owner tag, and groups/meters outside our id ranges, are never touched.
 *
 * Two plans made by controller/compile.ts share their unchanged parts (the services part of 10,000
 * groups is one object on every node switch): for them the diff looks only at the parts that differ
 * (`reconcileByParts`), with the same result as the full diff of the merged lists (property test).
 */
import type { Flow, Group, Meter, SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import { isOurs } from './cookie';
import { GROUP_ID_SPAN, ROUTE_GROUP_BASE, SERVICE_GROUP_BASE } from './flows';
import { flowContentKey, flowIdentity, flowSortKey, groupKey, meterKey } from './normalize';
import { partsOf } from './compile';
import { EDGE_GROUP_BASE } from './edge';
import type { Part } from './flows';

/** Group ids the compiler allocates (service, route and edge groups). */
export function isOurGroup(groupId: number): boolean {
  const base = groupId & ~GROUP_ID_SPAN;
  return base === SERVICE_GROUP_BASE || base === ROUTE_GROUP_BASE || base === EDGE_GROUP_BASE;
}

/** Meter ids the compiler allocates: the pod port numbers (>= 100). */
export const METER_ID_MIN = 100;
export const METER_ID_MAX = 0xffff;
export function isOurMeter(meterId: number): boolean {
  return meterId >= METER_ID_MIN && meterId <= METER_ID_MAX;
}

export interface ReconcileResult {
  ops: SwitchOp[];
  /** desired flows left out because a flow we do not own holds the same table/priority/match */
  conflicts: Flow[];
}

function groupsUsed(flows: Iterable<Flow>): Set<number> {
  const used = new Set<number>();
  for (const f of flows) for (const a of f.instructions.apply ?? []) if (a.type === 'group') used.add(a.groupId);
  for (const f of flows) for (const a of f.instructions.write ?? []) if (a.type === 'group') used.add(a.groupId);
  return used;
}

function metersUsed(flows: Iterable<Flow>): Set<number> {
  const used = new Set<number>();
  for (const f of flows) if (f.instructions.meter !== undefined) used.add(f.instructions.meter);
  return used;
}

export function reconcileDetailed(desired: SwitchPlan, actual: SwitchPlan): ReconcileResult {
  const dParts = partsOf(desired);
  const aParts = partsOf(actual);
  if (dParts && aParts) {
    const fast = reconcileByParts(dParts, aParts);
    if (fast) return fast;
  }
  return reconcileLists(desired, actual);
}

// ---- fast path: two compiled plans that share parts --------------------------------------------

/** One part's contents by identity, computed once per part object (parts are shared by many plans). */
interface PartIndex {
  flows: Map<string, Flow>;
  groups: Map<number, Group>;
  meters: Map<number, Meter>;
  groupsUsed: Set<number>;
  metersUsed: Set<number>;
  /** two items of this part with one identity and different contents */
  conflicted: boolean;
}

const partIndexes = new WeakMap<Part, PartIndex>();

function indexOfPart(p: Part): PartIndex {
  let x = partIndexes.get(p);
  if (x) return x;
  x = { flows: new Map(), groups: new Map(), meters: new Map(), groupsUsed: groupsUsed(p.flows), metersUsed: metersUsed(p.flows), conflicted: false };
  for (const f of p.flows) {
    const id = flowIdentity(f);
    const prev = x.flows.get(id);
    if (prev === undefined) x.flows.set(id, f);
    else if (prev !== f && flowContentKey(prev) !== flowContentKey(f)) x.conflicted = true;
  }
  for (const g of p.groups) {
    const prev = x.groups.get(g.groupId);
    if (prev === undefined) x.groups.set(g.groupId, g);
    else if (prev !== g && groupKey(prev) !== groupKey(g)) x.conflicted = true;
  }
  for (const m of p.meters) {
    const prev = x.meters.get(m.meterId);
    if (prev === undefined) x.meters.set(m.meterId, m);
    else if (prev !== m && meterKey(prev) !== meterKey(m)) x.conflicted = true;
  }
  partIndexes.set(p, x);
  return x;
}

const CONFLICT = Symbol('conflict');

/** Items of the parts one side does not share, by key; CONFLICT when two of them disagree. */
function collect<K, T>(parts: PartIndex[], pick: (x: PartIndex) => Map<K, T>, key: (t: T) => string): Map<K, T> | typeof CONFLICT {
  const out = new Map<K, T>();
  for (const x of parts) {
    for (const [k, t] of pick(x)) {
      const prev = out.get(k);
      if (prev === undefined) out.set(k, t);
      else if (prev !== t && key(prev) !== key(t)) return CONFLICT;
    }
  }
  return out;
}

/** The first common part's item with this key; CONFLICT when it disagrees with `mine`. */
function inCommon<K, T>(common: PartIndex[], pick: (x: PartIndex) => Map<K, T>, k: K, mine: T, key: (t: T) => string): T | undefined | typeof CONFLICT {
  for (const x of common) {
    const t = pick(x).get(k);
    if (t === undefined) continue;
    return t === mine || key(t) === key(mine) ? t : CONFLICT;
  }
  return undefined;
}

/** The items of the differing parts of each side, without those identical on both sides. */
interface Delta {
  dFlows: Map<string, Flow>;
  aFlows: Map<string, Flow>;
  dGroups: Map<number, Group>;
  aGroups: Map<number, Group>;
  dMeters: Map<number, Meter>;
  aMeters: Map<number, Meter>;
}

// one part replaced by another (the shared services part after a service change) is the same delta on
// every node switch: computed once per pair
const pairDeltas = new WeakMap<PartIndex, WeakMap<PartIndex, Delta>>();

function deltaOf(dOnly: PartIndex[], aOnly: PartIndex[]): Delta | typeof CONFLICT {
  const pair = dOnly.length === 1 && aOnly.length === 1;
  if (pair) {
    const d = pairDeltas.get(dOnly[0])?.get(aOnly[0]);
    if (d) return d;
  }
  const dFlows = collect(dOnly, byFlows, contentKey);
  const aFlows = collect(aOnly, byFlows, contentKey);
  const dGroups = collect(dOnly, byGroups, groupKey);
  const aGroups = collect(aOnly, byGroups, groupKey);
  const dMeters = collect(dOnly, byMeters, meterKey);
  const aMeters = collect(aOnly, byMeters, meterKey);
  if (dFlows === CONFLICT || aFlows === CONFLICT || dGroups === CONFLICT || aGroups === CONFLICT || dMeters === CONFLICT || aMeters === CONFLICT) return CONFLICT;
  cancel(dFlows, aFlows, contentKey);
  cancel(dGroups, aGroups, groupKey);
  cancel(dMeters, aMeters, meterKey);
  const delta: Delta = { dFlows, aFlows, dGroups, aGroups, dMeters, aMeters };
  if (pair) {
    let m = pairDeltas.get(dOnly[0]);
    if (!m) pairDeltas.set(dOnly[0], (m = new WeakMap()));
    m.set(aOnly[0], delta);
  }
  return delta;
}

/** Drops the items present on both sides with the same content (nothing to do for them). */
function cancel<K, T>(d: Map<K, T>, a: Map<K, T>, key: (t: T) => string): void {
  for (const [k, t] of d) {
    const other = a.get(k);
    if (other !== undefined && (other === t || key(other) === key(t))) {
      d.delete(k);
      a.delete(k);
    }
  }
}

const byFlows = (x: PartIndex) => x.flows;
const byGroups = (x: PartIndex) => x.groups;
const byMeters = (x: PartIndex) => x.meters;
const contentKey = (f: Flow) => flowContentKey(f);

/**
 * The same result as `reconcileLists` for two compiled plans, in time proportional to the parts that
 * differ: what the shared parts hold is on both sides, so only the other parts' items are compared
 * (each against the shared parts and the other side). Undefined (use the full diff) when a conflict
 * makes the merged plans' first-wins resolution matter.
 */
function reconcileByParts(dParts: readonly Part[], aParts: readonly Part[]): ReconcileResult | undefined {
  const aSet = new Set(aParts);
  const dSet = new Set(dParts);
  const common: PartIndex[] = [];
  const dOnly: PartIndex[] = [];
  const aOnly: PartIndex[] = [];
  for (const p of dParts) (aSet.has(p) ? common : dOnly).push(indexOfPart(p));
  for (const p of aParts) if (!dSet.has(p)) aOnly.push(indexOfPart(p));
  if ([...common, ...dOnly, ...aOnly].some((x) => x.conflicted)) return undefined;
  const delta = deltaOf(dOnly, aOnly);
  if (delta === CONFLICT) return undefined;
  const { dFlows, aFlows, dGroups, aGroups, dMeters, aMeters } = delta;

  const ops: SwitchOp[] = [];
  const conflicts: Flow[] = [];
  // meters and groups: desired ones (by id) not identical on the other side
  const meterOps: SwitchOp[] = [];
  for (const [id, m] of dMeters) {
    const c = inCommon(common, byMeters, id, m, meterKey);
    if (c === CONFLICT) return undefined;
    if (c !== undefined) continue;
    const a = aMeters.get(id);
    if (!a) meterOps.push({ op: 'add-meter', meter: m });
    else if (a !== m && meterKey(a) !== meterKey(m)) meterOps.push({ op: 'modify-meter', meter: m });
  }
  const groupOps: SwitchOp[] = [];
  for (const [id, g] of dGroups) {
    const c = inCommon(common, byGroups, id, g, groupKey);
    if (c === CONFLICT) return undefined;
    if (c !== undefined) continue;
    const a = aGroups.get(id);
    if (!a) groupOps.push({ op: 'add-group', group: g });
    else if (a !== g && groupKey(a) !== groupKey(g)) groupOps.push({ op: 'modify-group', group: g });
  }
  const byId = (o: SwitchOp) => (o.op === 'add-meter' || o.op === 'modify-meter' ? o.meter.meterId : (o as { group: Group }).group.groupId);
  meterOps.sort((x, y) => byId(x) - byId(y));
  groupOps.sort((x, y) => byId(x) - byId(y));
  ops.push(...meterOps, ...groupOps);
  // flows
  const upserts: Flow[] = [];
  const modifies = new Set<Flow>();
  for (const [id, f] of dFlows) {
    const c = inCommon(common, byFlows, id, f, contentKey);
    if (c === CONFLICT) return undefined;
    if (c !== undefined) continue;
    const a = aFlows.get(id);
    if (!a) upserts.push(f);
    else if (!isOurs(a.cookie)) conflicts.push(f);
    else if (a !== f && flowContentKey(a, true) !== flowContentKey(f, true)) {
      const sameMeta = (a.idleTimeout ?? 0) === (f.idleTimeout ?? 0) && (a.hardTimeout ?? 0) === (f.hardTimeout ?? 0) && (a.flags ?? 0) === (f.flags ?? 0);
      upserts.push(f);
      if (sameMeta) modifies.add(f);
    }
  }
  // the order of the full diff: downstream tables first, then the plan's order (the sort key)
  upserts.sort((x, y) => y.table - x.table || cmp(flowSortKey(x), flowSortKey(y)));
  conflicts.sort((x, y) => cmp(flowSortKey(x), flowSortKey(y)));
  for (const f of upserts) ops.push(modifies.has(f) ? { op: 'modify-flow', flow: f } : { op: 'add-flow', flow: f });
  const foreign: Flow[] = [];
  const deletes: Flow[] = [];
  for (const [id, a] of aFlows) {
    if (!isOurs(a.cookie)) {
      foreign.push(a);
      continue;
    }
    if (dFlows.has(id)) continue;
    const c = inCommon(common, byFlows, id, a, contentKey);
    if (c === CONFLICT) return undefined;
    if (c === undefined) deletes.push(a);
  }
  deletes.sort((x, y) => cmp(flowSortKey(x), flowSortKey(y)));
  for (const f of deletes) ops.push({ op: 'delete-flow', flow: f });
  // groups and meters no desired flow or foreign flow uses any more
  const used = (pick: (x: PartIndex) => Set<number>, extra: Set<number>) => (n: number) => extra.has(n) || [...common, ...dOnly].some((x) => pick(x).has(n));
  const groupInUse = used((x) => x.groupsUsed, groupsUsed(foreign));
  const deletedGroups: number[] = [];
  for (const [id, g] of aGroups) {
    if (dGroups.has(id)) continue;
    const c = inCommon(common, byGroups, id, g, groupKey);
    if (c === CONFLICT) return undefined;
    if (c === undefined && isOurGroup(id) && !groupInUse(id)) deletedGroups.push(id);
  }
  const meterInUse = used((x) => x.metersUsed, metersUsed(foreign));
  const deletedMeters: number[] = [];
  for (const [id, m] of aMeters) {
    if (dMeters.has(id)) continue;
    const c = inCommon(common, byMeters, id, m, meterKey);
    if (c === CONFLICT) return undefined;
    if (c === undefined && isOurMeter(id) && !meterInUse(id)) deletedMeters.push(id);
  }
  for (const id of deletedGroups.sort((x, y) => x - y)) ops.push({ op: 'delete-group', groupId: id });
  for (const id of deletedMeters.sort((x, y) => x - y)) ops.push({ op: 'delete-meter', meterId: id });
  return { ops, conflicts };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- the full diff of two lists ----------------------------------------------------------------

function reconcileLists(desired: SwitchPlan, actual: SwitchPlan): ReconcileResult {
  const ops: SwitchOp[] = [];
  const conflicts: Flow[] = [];

  // meters
  const actualMeters = new Map<number, Meter>(actual.meters.map((m) => [m.meterId, m]));
  const desiredMeterIds = new Set<number>();
  for (const m of desired.meters) {
    desiredMeterIds.add(m.meterId);
    const a = actualMeters.get(m.meterId);
    if (!a) ops.push({ op: 'add-meter', meter: m });
    else if (a !== m && meterKey(a) !== meterKey(m)) ops.push({ op: 'modify-meter', meter: m });
  }
  // groups
  const actualGroups = new Map<number, Group>(actual.groups.map((g) => [g.groupId, g]));
  const desiredGroupIds = new Set<number>();
  for (const g of desired.groups) {
    desiredGroupIds.add(g.groupId);
    const a = actualGroups.get(g.groupId);
    if (!a) ops.push({ op: 'add-group', group: g });
    else if (a !== g && groupKey(a) !== groupKey(g)) ops.push({ op: 'modify-group', group: g });
  }
  // flows
  const actualFlows = new Map<string, Flow>();
  for (const f of actual.flows) actualFlows.set(flowIdentity(f), f);
  const desiredIds = new Set<string>();
  const upserts: SwitchOp[] = [];
  for (const f of desired.flows) {
    const id = flowIdentity(f);
    desiredIds.add(id);
    const a = actualFlows.get(id);
    if (!a) upserts.push({ op: 'add-flow', flow: f });
    else if (!isOurs(a.cookie)) conflicts.push(f);
    else if (a !== f && flowContentKey(a, true) !== flowContentKey(f, true)) {
      // OF1.3 modify keeps the old cookie unless asked; a timeout or flag change needs a re-add
      const sameMeta = (a.idleTimeout ?? 0) === (f.idleTimeout ?? 0) && (a.hardTimeout ?? 0) === (f.hardTimeout ?? 0) && (a.flags ?? 0) === (f.flags ?? 0);
      upserts.push(sameMeta ? { op: 'modify-flow', flow: f } : { op: 'add-flow', flow: f });
    }
  }
  // downstream tables first: a packet jumping into a table finds its new flows already there
  upserts.sort((x, y) => (y as { flow: Flow }).flow.table - (x as { flow: Flow }).flow.table);
  ops.push(...upserts);
  const foreign: Flow[] = [];
  for (const f of actual.flows) {
    if (!isOurs(f.cookie)) {
      foreign.push(f);
      continue;
    }
    if (desiredIds.has(flowIdentity(f))) continue;
    ops.push({ op: 'delete-flow', flow: f });
  }
  // groups and meters no desired flow or foreign flow uses any more (the usage sets only when needed)
  let stillUsedGroups: Set<number> | undefined;
  for (const g of actual.groups) {
    if (desiredGroupIds.has(g.groupId) || !isOurGroup(g.groupId)) continue;
    stillUsedGroups ??= groupsUsed([...desired.flows, ...foreign]);
    if (stillUsedGroups.has(g.groupId)) continue;
    ops.push({ op: 'delete-group', groupId: g.groupId });
  }
  let stillUsedMeters: Set<number> | undefined;
  for (const m of actual.meters) {
    if (desiredMeterIds.has(m.meterId) || !isOurMeter(m.meterId)) continue;
    stillUsedMeters ??= metersUsed([...desired.flows, ...foreign]);
    if (stillUsedMeters.has(m.meterId)) continue;
    ops.push({ op: 'delete-meter', meterId: m.meterId });
  }
  return { ops, conflicts };
}

/** The minimal ordered operations that turn `actual` into `desired` (see module comment). */
export function reconcile(desired: SwitchPlan, actual: SwitchPlan): SwitchOp[] {
  return reconcileDetailed(desired, actual).ops;
}

/**
 * What a switch holds after the operations, with OpenFlow semantics: add replaces a flow of the same
 * identity, modify changes instructions and cookie of an existing flow (and never creates one),
 * deleting a meter removes the flows that use it, deleting a group removes the flows that use it
 * (OpenFlow 1.3 §6.5). Pure: the input plan is not changed. Result in canonical order.
 */
export function applyOps(plan: SwitchPlan, ops: SwitchOp[]): SwitchPlan {
  const flows = new Map<string, Flow>();
  for (const f of plan.flows) flows.set(flowIdentity(f), f);
  const groups = new Map<number, Group>(plan.groups.map((g) => [g.groupId, g]));
  const meters = new Map<number, Meter>(plan.meters.map((m) => [m.meterId, m]));
  const dropUsing = (pred: (f: Flow) => boolean) => {
    for (const [id, f] of flows) if (pred(f)) flows.delete(id);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add-flow':
        flows.set(flowIdentity(op.flow), op.flow);
        break;
      case 'modify-flow': {
        const id = flowIdentity(op.flow);
        if (flows.has(id)) flows.set(id, op.flow);
        break;
      }
      case 'delete-flow':
        flows.delete(flowIdentity(op.flow));
        break;
      case 'add-group':
      case 'modify-group':
        groups.set(op.group.groupId, op.group);
        break;
      case 'delete-group':
        groups.delete(op.groupId);
        dropUsing((f) => (f.instructions.apply ?? []).some((a) => a.type === 'group' && a.groupId === op.groupId));
        break;
      case 'add-meter':
      case 'modify-meter':
        meters.set(op.meter.meterId, op.meter);
        break;
      case 'delete-meter':
        meters.delete(op.meterId);
        dropUsing((f) => f.instructions.meter === op.meterId);
        break;
    }
  }
  const byKey = [...flows.entries()].sort((a, b) => {
    const ta = a[1].table - b[1].table || b[1].priority - a[1].priority;
    return ta !== 0 ? ta : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  });
  return {
    switch: plan.switch,
    datapathId: plan.datapathId,
    flows: byKey.map((e) => e[1]),
    groups: [...groups.values()].sort((a, b) => a.groupId - b.groupId),
    meters: [...meters.values()].sort((a, b) => a.meterId - b.meterId),
  };
}
