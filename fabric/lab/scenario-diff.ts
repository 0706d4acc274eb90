/**
 * The cluster events that turn one version of a scenario into the next (a live edit of the scenario
 * file under `fabric controller`): pods added, deleted and moved (a pod whose node changed moves and
 * keeps its IP), services added and deleted, links removed from the file (link down) and restored
 * (link up). What cannot change under a running controller — switches, nodes, externals, the cluster
 * block, a link that never existed (its ports were never created), a link's capacity — is refused
 * with a reason naming it (`diffScenarioEdit`); a refused edit applies nothing. Pure: no I/O.
 */
import type { LinkSpec, PodSpec, Scenario, ScenarioEvent, ServiceSpec } from '../../topology/types';

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

/** Counts of a diff, for the `scenario-reloaded` log line (link counts only when links changed). */
export function diffCounts(events: ScenarioEvent[]): Record<string, number> {
  const counts: Record<string, number> = { podsAdded: 0, podsDeleted: 0, podsMoved: 0, servicesAdded: 0, servicesDeleted: 0 };
  for (const ev of events) {
    if (ev.kind === 'pod') counts[ev.action === 'add' ? 'podsAdded' : ev.action === 'delete' ? 'podsDeleted' : 'podsMoved']++;
    else if (ev.kind === 'service') counts[ev.action === 'add' ? 'servicesAdded' : 'servicesDeleted']++;
    else if (ev.kind === 'link') {
      const key = ev.action === 'down' ? 'linksDown' : 'linksUp';
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

/** A link's identity regardless of the order of its ends. */
export function linkKey(between: readonly [string, string]): string {
  return [...between].sort().join('|');
}

export interface ScenarioEdit {
  /** events in apply order: link downs, pod/service events (diffScenarios), link ups */
  events: ScenarioEvent[];
  /** why the edit cannot be applied live (empty: it can); when not empty, apply nothing */
  refused: string[];
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((x) => [x.name, x]));
}

/** Added, removed and changed entries of two name-keyed lists, as refusal reasons. */
function fixedSet<T extends { name: string }>(what: string, built: readonly T[], after: readonly T[]): string[] {
  const reasons: string[] = [];
  const b = byName(built);
  const a = byName(after);
  for (const name of a.keys()) if (!b.has(name)) reasons.push(`${what} ${name} added`);
  for (const name of b.keys()) if (!a.has(name)) reasons.push(`${what} ${name} removed`);
  for (const [name, x] of a) {
    const y = b.get(name);
    if (y && !sameJson(x, y)) reasons.push(`${what} ${name} changed`);
  }
  return reasons;
}

/**
 * The live edit from `before` (the file as last applied) to `after` (the file now). `built` is the
 * scenario the running cluster state was built from: its switches, nodes, externals and links are the
 * bridges and ports that exist, so `after` may only remove or restore links of `built` and change pods
 * and services. Anything else is refused (every reason listed), and then `events` is empty.
 */
export function diffScenarioEdit(built: Scenario, before: Scenario, after: Scenario): ScenarioEdit {
  const refused: string[] = [];
  if (!sameJson(built.cluster, after.cluster)) refused.push('the cluster section changed (mode, CIDRs, isolation, rebalance are fixed at start)');
  refused.push(...fixedSet('switch', built.fabric.switches, after.fabric.switches));
  refused.push(...fixedSet('node', built.fabric.nodes, after.fabric.nodes));
  refused.push(...fixedSet('external', built.fabric.externals, after.fabric.externals));
  const builtLinks = new Map<string, LinkSpec>(built.fabric.links.map((l) => [linkKey(l.between), l]));
  const beforeLinks = new Set(before.fabric.links.map((l) => linkKey(l.between)));
  const afterLinks = new Map<string, LinkSpec>(after.fabric.links.map((l) => [linkKey(l.between), l]));
  for (const [key, l] of afterLinks) {
    const b = builtLinks.get(key);
    if (!b) refused.push(`link ${l.between.join('|')} is new (its ports do not exist on the bridges)`);
    else if (b.gbps !== l.gbps || b.latencyUs !== l.latencyUs) refused.push(`link ${l.between.join('|')}: capacity or latency changed (fixed at start)`);
  }
  if (refused.length > 0) return { events: [], refused };
  const downs: ScenarioEvent[] = [];
  const ups: ScenarioEvent[] = [];
  // links of the built cluster, in its order: removed from the file -> down; back in the file -> up
  for (const [key, l] of builtLinks) {
    const was = beforeLinks.has(key);
    const is = afterLinks.has(key);
    if (was && !is) downs.push({ at: 0, kind: 'link', action: 'down', between: [l.between[0], l.between[1]] });
    else if (!was && is) ups.push({ at: 0, kind: 'link', action: 'up', between: [l.between[0], l.between[1]] });
  }
  return { events: [...downs, ...diffScenarios(before, after), ...ups], refused };
}
