/**
 * Compaction of the intent store: batches 1..N are replaced by ONE batch (revision N, `source:
 * 'compacted'`, `compacted: { from, to }`) whose events take the base state (the scenario file) to
 * the state that replaying those batches gives. `netEvents` computes those events on shadow copies
 * (never on live state) and verifies them: the net events, replayed on another copy of the base, must
 * give the same pods, services, link and node admin states as the batches; otherwise it throws
 * (compaction never changes the state). `shouldCompact` and `compactStore` are what the daemon calls.
 *
 * Replay has the daemon's semantics (fabric/daemon.ts applyStored / checkBatch): a batch whose events
 * do not all apply on a copy of the state is skipped whole.
 */
import { applyEvent, cloneClusterState, linkId } from '../../topology';
import type { ClusterState, PodState, ScenarioEvent, ServiceSpec, ServiceState } from '../../topology/types';
import type { IntentBatch, IntentStore, StoredBatch } from './types';

/** What replaying batches over a base gave (on a shadow copy). */
export interface Replayed {
  state: ClusterState;
  /** link id -> admin state (up) set by the last successful link event */
  linkAdmin: Map<string, boolean>;
  /** node name -> admin state (up) set by the last successful node event */
  nodeAdmin: Map<string, boolean>;
  /** service name -> the spec of its last successful `service add` */
  serviceSpecs: Map<string, ServiceSpec>;
  /** revisions of the batches skipped (an event failed) */
  skipped: number[];
}

/**
 * Replay batches over a COPY of `base` with the daemon's checks: a batch whose events fail is
 * skipped whole. `base` is not touched.
 */
export function replayBatches(base: ClusterState, batches: readonly Pick<StoredBatch, 'events' | 'revision'>[]): Replayed {
  let state = cloneClusterState(base);
  const linkAdmin = new Map<string, boolean>();
  const nodeAdmin = new Map<string, boolean>();
  const serviceSpecs = new Map<string, ServiceSpec>();
  const skipped: number[] = [];
  for (const b of batches) {
    // a single event that fails leaves the state as it was (applyEvent checks before it changes
    // anything), so it is applied in place; a batch of several is tried on a copy first
    const target = b.events.length <= 1 ? state : cloneClusterState(state);
    let ok = true;
    for (const ev of b.events) {
      try {
        applyEvent(target, ev);
      } catch {
        ok = false;
        break;
      }
    }
    if (!ok) {
      skipped.push(b.revision);
      continue;
    }
    state = target;
    for (const ev of b.events) {
      if (ev.kind === 'link') {
        const [a, z] = ev.between;
        const id = state.links.has(linkId(a, z)) ? linkId(a, z) : linkId(z, a);
        linkAdmin.set(id, ev.action === 'up');
      } else if (ev.kind === 'node') nodeAdmin.set(ev.name, ev.action === 'up');
      else if (ev.kind === 'service' && ev.action === 'add') serviceSpecs.set(ev.service.name, ev.service);
    }
  }
  return { state, linkAdmin, nodeAdmin, serviceSpecs, skipped };
}

const isReady = (p: PodState): boolean => p.ready !== false;

/** JSON with sorted object keys (labels, selectors): equal content, equal text. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Map) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** What a pod is apart from where it runs and whether it is ready: changed means delete + add. */
function podIdentity(p: PodState): string {
  return canonical({ homeNode: p.homeNode, ip: p.ip, mac: p.mac, labels: p.labels, hostPorts: p.hostPorts, egressGbps: p.egressGbps });
}

/** A service's spec as the state holds it (endpoints are derived from the pods): changed means delete + add. */
function serviceIdentity(s: ServiceState): string {
  const { endpoints: _endpoints, ...rest } = s;
  return canonical(rest);
}

/**
 * The smallest list of events that takes `base` to the state that replaying `batches` gives
 * (daemon semantics: a failing batch is skipped whole). Order: link and node admin changes, service
 * deletes, pod deletes, pod adds (ip pinned, at the pod's home node, then a move if it runs elsewhere),
 * moves and readiness of the other pods, service adds (VIP, nodePort and loadBalancerIp pinned).
 * Verified before it returns: throws if replaying the result gives a different state.
 */
export function netEvents(base: ClusterState, batches: readonly Pick<StoredBatch, 'events' | 'revision'>[]): ScenarioEvent[] {
  const r = replayBatches(base, batches);
  const final = r.state;
  const out: ScenarioEvent[] = [];
  for (const [id, up] of r.linkAdmin) {
    const link = base.links.get(id);
    if (!link) throw new Error(`compaction: link ${id} is not in the base state`);
    if (link.up !== up) out.push({ at: 0, kind: 'link', action: up ? 'up' : 'down', between: [link.a, link.b] });
  }
  for (const [name, up] of r.nodeAdmin) {
    const node = base.nodes.get(name);
    if (!node) throw new Error(`compaction: node ${name} is not in the base state`);
    if (node.up !== up) out.push({ at: 0, kind: 'node', action: up ? 'up' : 'down', name });
  }
  const serviceChanged = (name: string): boolean => {
    const b = base.services.get(name);
    const f = final.services.get(name);
    return !b || !f || serviceIdentity(b) !== serviceIdentity(f);
  };
  const podChanged = (name: string): boolean => {
    const b = base.pods.get(name);
    const f = final.pods.get(name);
    return !b || !f || podIdentity(b) !== podIdentity(f);
  };
  for (const name of base.services.keys()) if (serviceChanged(name)) out.push({ at: 0, kind: 'service', action: 'delete', name });
  for (const name of base.pods.keys()) if (podChanged(name)) out.push({ at: 0, kind: 'pod', action: 'delete', name });
  for (const f of final.pods.values()) {
    if (podChanged(f.name)) {
      out.push({
        at: 0,
        kind: 'pod',
        action: 'add',
        name: f.name,
        node: f.homeNode,
        labels: { ...f.labels },
        ip: f.ip,
        ...(f.egressGbps !== undefined ? { egressGbps: f.egressGbps } : {}),
        ...(f.ready === false ? { ready: false } : {}),
      });
      if (f.node !== f.homeNode) out.push({ at: 0, kind: 'pod', action: 'move', name: f.name, to: f.node });
    } else {
      const b = base.pods.get(f.name)!;
      if (b.node !== f.node) out.push({ at: 0, kind: 'pod', action: 'move', name: f.name, to: f.node });
      if (isReady(b) !== isReady(f)) out.push({ at: 0, kind: 'pod', action: isReady(f) ? 'ready' : 'unready', name: f.name });
    }
  }
  for (const f of final.services.values()) {
    if (!serviceChanged(f.name)) continue;
    const spec = r.serviceSpecs.get(f.name);
    if (!spec) throw new Error(`compaction: service ${f.name} changed but no batch added it`);
    const pinned: ServiceSpec = { ...spec, ip: f.vip };
    if (f.nodePort !== undefined) pinned.nodePort = f.nodePort;
    if (f.loadBalancerIp !== undefined) pinned.loadBalancerIp = f.loadBalancerIp;
    out.push({ at: 0, kind: 'service', action: 'add', service: pinned });
  }
  verifyNetEvents(base, out, r);
  return out;
}

/** What compaction must keep: pods, services (with endpoints), link and node admin state. */
export function stateSnapshot(state: ClusterState): string {
  const byName = <T extends { name: string }>(m: Map<string, T>): T[] => [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return canonical({
    pods: byName(state.pods).map((p) => ({ name: p.name, node: p.node, homeNode: p.homeNode, ip: p.ip, mac: p.mac, labels: p.labels, hostPorts: p.hostPorts, egressGbps: p.egressGbps, ready: isReady(p) })),
    services: byName(state.services),
    links: [...state.links.values()].map((l) => [l.id, l.up]).sort(),
    nodes: byName(state.nodes).map((n) => [n.name, n.up, state.switches.get(n.name)?.up]),
  });
}

/** Replay `events` as one batch on a copy of `base` and compare with the batches' replay: throws if they differ. */
function verifyNetEvents(base: ClusterState, events: ScenarioEvent[], expected: Replayed): void {
  const copy = cloneClusterState(base);
  for (const [index, ev] of events.entries()) {
    try {
      applyEvent(copy, ev);
    } catch (err) {
      throw new Error(`compaction: net event ${index} (${ev.kind} ${ev.action}) does not apply: ${(err as Error).message}; nothing compacted`);
    }
  }
  const want = stateSnapshot(expected.state);
  const got = stateSnapshot(copy);
  if (want !== got) {
    let at = 0;
    while (at < want.length && want[at] === got[at]) at++;
    throw new Error(`compaction: the net events give a different state (first difference near ${JSON.stringify(want.slice(Math.max(0, at - 60), at + 60))}); nothing compacted`);
  }
}

/** Every how many batches (beyond the last compaction) the daemon compacts, and how many recent batches it keeps as they are. */
export const COMPACT_EVERY = 1000;
export const COMPACT_KEEP = 100;

/**
 * Whether the daemon should compact now: when at least `every` batches beyond the last compacted
 * revision can be folded while the `keep` most recent ones stay as they are (so that a standby that is
 * current, or a few batches behind, never meets the compacted batch). `lastCompactedAt`: the revision
 * of the compacted batch (0: never compacted); `batchesStored`: how many batches the store holds.
 */
export function shouldCompact(revision: number, batchesStored: number, lastCompactedAt: number, options: { every?: number; keep?: number } = {}): boolean {
  const every = options.every ?? COMPACT_EVERY;
  const keep = options.keep ?? COMPACT_KEEP;
  return batchesStored > keep + 1 && compactionPoint(revision, options) - lastCompactedAt >= every;
}

/** The revision to compact up to: the last one minus the `keep` most recent batches. */
export function compactionPoint(revision: number, options: { keep?: number } = {}): number {
  return Math.max(0, revision - (options.keep ?? COMPACT_KEEP));
}

/** Does a watcher that has applied up to `lastApplied` need to rebuild from scratch to take `b`? */
export function needsRebuild(lastApplied: number, b: StoredBatch): boolean {
  return b.compacted !== undefined && lastApplied > 0 && lastApplied < b.revision;
}

/**
 * Compact `store` up to `upTo` (default: compactionPoint of its last revision): load, fold batches
 * 1..upTo over `base` (the state the scenario file gives NOW, before any stored batch: what a
 * restarted controller replays over), verify, store. Returns undefined when there is nothing to fold.
 */
export async function compactStore(store: IntentStore, base: ClusterState, options: { upTo?: number; keep?: number; at?: string } = {}): Promise<{ upTo: number; folded: number; events: number } | undefined> {
  if (!store.compact) return undefined;
  const { revision, batches } = await store.load();
  const upTo = options.upTo ?? compactionPoint(revision, options);
  const folded = batches.filter((b) => b.revision <= upTo);
  if (upTo <= 0 || folded.length === 0 || (folded.length === 1 && folded[0].compacted && folded[0].revision === upTo)) return undefined;
  if (folded[folded.length - 1].revision !== upTo) throw new Error(`compaction: revision ${upTo} is not stored`);
  const events = netEvents(base, folded);
  const batch: IntentBatch = { source: 'compacted', events, at: options.at ?? new Date().toISOString(), compacted: { from: folded[0].compacted?.from ?? folded[0].revision, to: upTo } };
  await store.compact(upTo, batch);
  return { upTo, folded: folded.length, events: events.length };
}
