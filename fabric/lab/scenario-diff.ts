/**
 * The cluster events that turn one version of a scenario into the next (a live edit of the scenario
 * file under `fabric controller`): pods added, deleted and moved (a pod whose node changed moves and
 * keeps its IP), services added and deleted. Pure: no I/O. Links and nodes are not diffed (yet).
 */
import type { PodSpec, Scenario, ScenarioEvent, ServiceSpec } from '../../topology/types';

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function podAdd(p: PodSpec): ScenarioEvent {
  return { at: 0, kind: 'pod', action: 'add', name: p.name, node: p.node, labels: { ...p.labels }, ...(p.ip ? { ip: p.ip } : {}), ...(p.egressGbps !== undefined ? { egressGbps: p.egressGbps } : {}) };
}

/**
 * Events in apply order: service deletions, pod deletions, moves, pod additions, service additions.
 * A pod whose labels, IP or limit changed (not only its node) is deleted and added again.
 */
export function diffScenarios(before: Scenario, after: Scenario): ScenarioEvent[] {
  const events: ScenarioEvent[] = [];
  const oldPods = new Map(before.pods.map((p) => [p.name, p]));
  const newPods = new Map(after.pods.map((p) => [p.name, p]));
  const oldSvcs = new Map(before.services.map((s) => [s.name, s]));
  const newSvcs = new Map(after.services.map((s) => [s.name, s]));
  const svcChanged = (a: ServiceSpec, b: ServiceSpec): boolean => !sameJson(a, b);

  for (const [name, s] of oldSvcs) {
    const n = newSvcs.get(name);
    if (!n || svcChanged(s, n)) events.push({ at: 0, kind: 'service', action: 'delete', name });
  }
  const readd: PodSpec[] = [];
  for (const [name, p] of oldPods) {
    const n = newPods.get(name);
    if (!n) events.push({ at: 0, kind: 'pod', action: 'delete', name });
    else if (!sameJson({ ...p, node: '' }, { ...n, node: '' })) {
      events.push({ at: 0, kind: 'pod', action: 'delete', name });
      readd.push(n);
    }
  }
  for (const [name, p] of oldPods) {
    const n = newPods.get(name);
    if (n && n.node !== p.node && !readd.includes(n)) events.push({ at: 0, kind: 'pod', action: 'move', name, to: n.node });
  }
  for (const p of readd) events.push(podAdd(p));
  for (const [name, p] of newPods) if (!oldPods.has(name)) events.push(podAdd(p));
  for (const [name, s] of newSvcs) {
    const o = oldSvcs.get(name);
    if (!o || svcChanged(o, s)) events.push({ at: 0, kind: 'service', action: 'add', service: { ...s } });
  }
  return events;
}

/** Counts of a diff, for the `scenario-reloaded` log line. */
export function diffCounts(events: ScenarioEvent[]): Record<string, number> {
  const counts: Record<string, number> = { podsAdded: 0, podsDeleted: 0, podsMoved: 0, servicesAdded: 0, servicesDeleted: 0 };
  for (const ev of events) {
    if (ev.kind === 'pod') counts[ev.action === 'add' ? 'podsAdded' : ev.action === 'delete' ? 'podsDeleted' : 'podsMoved']++;
    else if (ev.kind === 'service') counts[ev.action === 'add' ? 'servicesAdded' : 'servicesDeleted']++;
  }
  return counts;
}
