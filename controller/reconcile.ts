/**
 * The reconciler: from (desired, actual) switch contents to the smallest ordered list of operations
 * that turns actual into desired without a packet ever seeing a half-built pipeline
 * (make-before-break), and `applyOps`, the pure meaning of those operations (used by the property
 * tests and by the simulated switch).
 *
 * Order: meters (add / modify), groups (add / modify), flows added or modified (downstream tables
 * first, so a goto never lands in a table whose flows are still missing), stale flows deleted, then
 * groups and meters nobody uses any more. Deleting a meter deletes every flow that uses it (LAB-NOTES
 * pitfall 4), so meters go last. Flows are compared in normal form (controller/normalize.ts) and
 * without the cookie generation: a restarted controller adopts what is installed. Flows without our
 * owner tag, and groups/meters outside our id ranges, are never touched.
 */
import type { Flow, Group, Meter, SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import { isOurs } from './cookie';
import { GROUP_ID_SPAN, ROUTE_GROUP_BASE, SERVICE_GROUP_BASE } from './flows';
import { flowContentKey, flowIdentity, groupKey, meterKey } from './normalize';

/** Group ids the compiler allocates (service and route groups). */
export function isOurGroup(groupId: number): boolean {
  const base = groupId & ~GROUP_ID_SPAN;
  return base === SERVICE_GROUP_BASE || base === ROUTE_GROUP_BASE;
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
  const ops: SwitchOp[] = [];
  const conflicts: Flow[] = [];

  // meters
  const actualMeters = new Map<number, Meter>(actual.meters.map((m) => [m.meterId, m]));
  const desiredMeterIds = new Set<number>();
  for (const m of desired.meters) {
    desiredMeterIds.add(m.meterId);
    const a = actualMeters.get(m.meterId);
    if (!a) ops.push({ op: 'add-meter', meter: m });
    else if (meterKey(a) !== meterKey(m)) ops.push({ op: 'modify-meter', meter: m });
  }
  // groups
  const actualGroups = new Map<number, Group>(actual.groups.map((g) => [g.groupId, g]));
  const desiredGroupIds = new Set<number>();
  for (const g of desired.groups) {
    desiredGroupIds.add(g.groupId);
    const a = actualGroups.get(g.groupId);
    if (!a) ops.push({ op: 'add-group', group: g });
    else if (groupKey(a) !== groupKey(g)) ops.push({ op: 'modify-group', group: g });
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
    else if (flowContentKey(a, true) !== flowContentKey(f, true)) {
      // OF1.3 modify keeps the old cookie unless asked; a timeout or flag change needs a re-add
      const sameMeta = (a.idleTimeout ?? 0) === (f.idleTimeout ?? 0) && (a.hardTimeout ?? 0) === (f.hardTimeout ?? 0) && (a.flags ?? 0) === (f.flags ?? 0);
      upserts.push(sameMeta ? { op: 'modify-flow', flow: f } : { op: 'add-flow', flow: f });
    }
  }
  // downstream tables first: a packet jumping into a table finds its new flows already there
  upserts.sort((x, y) => (y as { flow: Flow }).flow.table - (x as { flow: Flow }).flow.table);
  ops.push(...upserts);
  const remaining: Flow[] = [];
  for (const f of actual.flows) {
    const id = flowIdentity(f);
    if (desiredIds.has(id) || !isOurs(f.cookie)) {
      remaining.push(f);
      continue;
    }
    ops.push({ op: 'delete-flow', flow: f });
  }
  // groups and meters no desired flow or foreign flow uses any more
  const stillUsedGroups = groupsUsed([...desired.flows, ...remaining.filter((f) => !isOurs(f.cookie))]);
  for (const g of actual.groups) {
    if (desiredGroupIds.has(g.groupId) || !isOurGroup(g.groupId) || stillUsedGroups.has(g.groupId)) continue;
    ops.push({ op: 'delete-group', groupId: g.groupId });
  }
  const stillUsedMeters = metersUsed([...desired.flows, ...remaining.filter((f) => !isOurs(f.cookie))]);
  for (const m of actual.meters) {
    if (desiredMeterIds.has(m.meterId) || !isOurMeter(m.meterId) || stillUsedMeters.has(m.meterId)) continue;
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
