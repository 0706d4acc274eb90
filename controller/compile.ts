/**
 * The compiler: ClusterState -> FabricPlan (one SwitchPlan per switch, canonical order), in full
 * (`compileCluster`) or incrementally from the previous plan and the changes of applied events
 * (`compileIncremental`). Pure: no I/O, no clock, no randomness; the previous plan is never mutated.
 *
 * A switch's plan is the union of its *parts* (controller/flows.ts). The services part and the
 * shared isolation part are identical on every node switch (the ct zone is in reg5), so they are built
 * once and shared; a SwitchPlan's flows, groups and meters are merged from its parts on first access
 * (then cached), so that a plan of 5,000 nodes x 10,000 services does not hold 50 million flow copies.
 *
 * Incremental compiles keep their cost to what a change touches (docs/pipeline.md "Compiling"): a
 * link between fabric switches re-asks only the switches and attachment sets whose distances it can
 * move and patches next-hop groups in place; one node's uplink or state moves only that node's
 * destinations (patched into each fabric switch's sorted route flows, and into a node switch's
 * routes only when they could differ); a service change patches the sorted services part by
 * binary search; the per-switch and per-service tables are layered on the previous compile's.
 */
import type { Flow, Group, Meter, SwitchPlan } from '../fabric/openflow/flow';
import type { ClusterChange, ClusterState, ServiceState, SwitchState } from '../topology/types';
import { EMPTY_PART, FlowFactory, GROUP_ID_SPAN, Part, ROUTE_GROUP_BASE, RouteEntry, fabricBasePart, nodeBasePart, pinPart, podLimitGbps, podPart, PolicyIndex, policyIndex, policyPart, routeFlow, sharedPolicyPart, routeGroup, servicePart } from './flows';
import { flowContentKey, flowSortKey, groupKey, meterKey } from './normalize';
import { EdgeIndex, edgeIndex, edgeOnNodes, edgePart, edgeSwitches, hasEdge, nodePortClusterGroup } from './edge';
import { Attachment, RouteChoice, Routing, attachmentOf, choiceSignature, upLinkPorts } from './routing';

/** Every switch's plan, by switch name (sorted). */
export type FabricPlan = Map<string, SwitchPlan>;

export interface CompileOptions {
  /** controller generation written into every cookie (default 1) */
  generation?: number;
}

/** Two flows with the same identity but different content, or two groups/meters with one id. */
export interface PlanConflict {
  switch: string;
  what: string;
}

// ---- plan composition -------------------------------------------------------------------------------

const sortKeys = new WeakMap<Flow, string>();
function keyOf(flow: Flow): string {
  let k = sortKeys.get(flow);
  if (k === undefined) {
    k = flowSortKey(flow);
    sortKeys.set(flow, k);
  }
  return k;
}

function compareFlows(a: Flow, b: Flow): number {
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Sorted, de-duplicated flows (identical duplicates dropped; on a conflict the first part wins). */
export function canonicalFlows(flows: Flow[], conflicts?: (what: string) => void): Flow[] {
  const sorted = flows.slice().sort(compareFlows);
  const out: Flow[] = [];
  for (const f of sorted) {
    const prev = out[out.length - 1];
    if (prev && keyOf(prev) === keyOf(f)) {
      if (conflicts && flowContentKey(prev) !== flowContentKey(f)) conflicts(`two flows at table ${f.table} priority ${f.priority} ${keyOf(f).slice(8)}`);
      continue;
    }
    out.push(f);
  }
  return out;
}

function canonicalById<T>(items: T[], id: (t: T) => number, key: (t: T) => string, conflicts?: (what: string) => void): T[] {
  const sorted = items.slice().sort((a, b) => id(a) - id(b));
  const out: T[] = [];
  for (const it of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && id(prev) === id(it)) {
      if (conflicts && key(prev) !== key(it)) conflicts(`two definitions of id ${id(it)}`);
      continue;
    }
    out.push(it);
  }
  return out;
}

/** A compiled plan's hidden state (a non-enumerable symbol property: JSON and deep equality ignore it). */
const LAZY = Symbol('fabric.compiledPlan');
interface LazyPlanState {
  name: string;
  /** the switch's own parts (shared between successive plans while unchanged) */
  own: readonly Part[];
  /** node switches: the parts shared by every node switch (services, isolation) */
  shared: readonly Part[];
  /** own + shared, made when first asked for */
  parts?: readonly Part[];
  merged?: { flows: Flow[]; groups: Group[]; meters: Meter[] };
  conflicts?: PlanConflict[];
}

function lazyState(plan: SwitchPlan): LazyPlanState | undefined {
  return (plan as unknown as { [LAZY]?: LazyPlanState })[LAZY];
}

/**
 * The parts a compiled plan is merged from (undefined for a plan this module did not make, or a
 * materialized copy). Successive plans share part objects: the reconciler diffs only the parts that
 * differ (controller/reconcile.ts).
 */
export function partsOf(plan: SwitchPlan): readonly Part[] | undefined {
  const st = lazyState(plan);
  if (!st) return undefined;
  return (st.parts ??= st.shared.length ? [...st.own, ...st.shared] : st.own);
}

function mergedLists(st: LazyPlanState): { flows: Flow[]; groups: Group[]; meters: Meter[] } {
  if (st.merged) return st.merged;
  const conflicts: PlanConflict[] = [];
  const note = (what: string) => conflicts.push({ switch: st.name, what });
  const flows: Flow[] = [];
  const groups: Group[] = [];
  const meters: Meter[] = [];
  for (const p of (st.parts ??= st.shared.length ? [...st.own, ...st.shared] : st.own)) {
    for (const f of p.flows) flows.push(f);
    for (const g of p.groups) groups.push(g);
    for (const m of p.meters) meters.push(m);
  }
  st.merged = {
    flows: canonicalFlows(flows, note),
    groups: canonicalById(groups, (g) => g.groupId, groupKey, note),
    meters: canonicalById(meters, (m) => m.meterId, meterKey, note),
  };
  st.conflicts = conflicts;
  return st.merged;
}

/**
 * A SwitchPlan whose lists are merged from parts when first read (then cached): own enumerable
 * getters, so JSON and deep equality see them; the parts sit in a non-enumerable symbol property.
 * A node switch's plan is remade on every service change (5,000 of them), so this stays small.
 */
function composePlan(name: string, datapathId: string, own: readonly Part[], shared: readonly Part[]): SwitchPlan {
  const st: LazyPlanState = { name, own, shared };
  const plan: SwitchPlan = {
    switch: name,
    datapathId,
    get flows() {
      return mergedLists(st).flows;
    },
    get groups() {
      return mergedLists(st).groups;
    },
    get meters() {
      return mergedLists(st).meters;
    },
  };
  Object.defineProperty(plan, LAZY, { value: st });
  return plan;
}

/** Conflicts found while merging a plan's parts (for diagnostics and tests). */
export function conflictsOf(plan: SwitchPlan): PlanConflict[] {
  const st = lazyState(plan);
  if (!st) return [];
  mergedLists(st);
  return st.conflicts ?? [];
}

/** A plain (non-lazy) copy of a plan. */
export function materialize(plan: SwitchPlan): SwitchPlan {
  return { switch: plan.switch, datapathId: plan.datapathId, flows: [...plan.flows], groups: [...plan.groups], meters: [...plan.meters] };
}

// ---- routes -----------------------------------------------------------------------------------------

interface Dest {
  cidr: string;
  prefixLen: number;
  /** the switch that delivers it */
  switch: string;
  category: 'route' | 'movedPod';
  /** routed pod blocks are not routed by the fabric in overlay mode */
  podBlockOf?: string;
}

/** Group ids of next-hop groups: FNV-1a of the target key, probed in sorted key order. */
function allocateGroupIds(keys: string[]): Map<string, number> {
  const ids = new Map<string, number>();
  const used = new Set<number>();
  for (const key of [...keys].sort()) {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    let id = h & GROUP_ID_SPAN;
    while (used.has(id)) id = (id + 1) & GROUP_ID_SPAN;
    used.add(id);
    ids.set(key, ROUTE_GROUP_BASE + id);
  }
  return ids;
}

function fingerprint(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `${a.toString(16)}${b.toString(16)}/${text.length}`;
}

const DEFAULT_KEY = '*';
const directKey = (sw: string) => `=${sw}`;

/** The destination tables of a planner derived from another by one node's change (see nodeChangePlanner). */
interface PlannerTables {
  attach: Map<string, Attachment>;
  dests: Dest[];
  destsByKey: Map<string, Dest[]>;
  destsBySwitch: Map<string, Dest[]>;
  movedDests: Dest[];
}
let patchedPlanners = 0;

/** The destination (cidr) of each route flow of a fabric switch, for patching its sorted route flows. */
const flowCidr = new WeakMap<Flow, string>();

/** Where one switch sends traffic for one destination switch. */
type Target = { kind: 'group'; key: string; choice: RouteChoice } | { kind: 'port'; port: number; mac: string } | undefined;

class RoutePlanner {
  readonly routing: Routing;
  readonly attach = new Map<string, Attachment>();
  readonly dests: Dest[] = [];
  readonly destsByKey = new Map<string, Dest[]>();
  readonly destsBySwitch = new Map<string, Dest[]>();
  /** the non-empty attachment keys of destsByKey, in its order, and their index */
  readonly routeKeys: string[] = [];
  readonly routeKeyIndex = new Map<string, number>();
  readonly movedDests: Dest[] = [];
  readonly groupIds: Map<string, number>;
  readonly destVersion: string;
  readonly groupIdsText: string;
  /** short fingerprint of destVersion (two FNV-1a hashes and the length) */
  readonly destHash: string;

  /**
   * `reuse`: a planner of the same destinations and attachments (only links between fabric switches
   * changed since): its destination tables are taken as they are, only the distances are recomputed,
   * and with one `changedLink`, only for the keys whose distances that link can change.
   */
  constructor(readonly state: ClusterState, reuse?: RoutePlanner, changedLink?: { a: string; b: string; up: boolean }, tables?: PlannerTables) {
    this.routing = new Routing(state);
    if (reuse && tables) {
      // one node's destinations changed key (or appeared / vanished), the set of keys did not:
      // the distances (fabric links only) and group ids stay
      this.attach = tables.attach;
      this.dests = tables.dests;
      this.destsByKey = tables.destsByKey;
      this.destsBySwitch = tables.destsBySwitch;
      this.movedDests = tables.movedDests;
      this.routeKeys = reuse.routeKeys;
      this.routeKeyIndex = reuse.routeKeyIndex;
      this.groupIds = reuse.groupIds;
      this.groupIdsText = reuse.groupIdsText;
      // not a fingerprint of the destinations: a token no other planner has, so that no route
      // signature made with it equals one made for other destinations
      this.destVersion = '';
      this.destHash = `patched#${++patchedPlanners}`;
      for (const key of reuse.destsByKey.keys()) this.routing.adoptDistances(key, reuse.routing.distances(key));
      return;
    }
    if (reuse) {
      this.attach = reuse.attach;
      this.dests = reuse.dests;
      this.destsByKey = reuse.destsByKey;
      this.destsBySwitch = reuse.destsBySwitch;
      this.routeKeys = reuse.routeKeys;
      this.routeKeyIndex = reuse.routeKeyIndex;
      this.movedDests = reuse.movedDests;
      this.groupIds = reuse.groupIds;
      this.destVersion = reuse.destVersion;
      this.groupIdsText = reuse.groupIdsText;
      this.destHash = reuse.destHash;
      for (const key of this.destsByKey.keys()) {
        const before = reuse.routing.distances(key);
        if (changedLink && distancesKept(this.routing, state, before, changedLink)) this.routing.adoptDistances(key, before);
        else this.routing.distances(key);
      }
      return;
    }
    const overlay = state.cluster.mode === 'overlay';
    for (const node of state.nodes.values()) {
      if (!node.up) continue;
      this.attach.set(node.name, attachmentOf(state, node.name));
      if (!overlay) this.dests.push({ cidr: node.podCidr, prefixLen: prefixLenOf(node.podCidr), switch: node.name, category: 'route', podBlockOf: node.name });
      this.dests.push({ cidr: `${node.ip}/32`, prefixLen: 32, switch: node.name, category: 'route' });
    }
    for (const ext of state.externals.values()) {
      const sw = state.switches.get(ext.attach);
      if (!sw || !sw.up) continue;
      if (sw.role === 'fabric') this.attach.set(sw.name, { key: sw.name, switches: [sw.name] });
      this.dests.push({ cidr: `${ext.ip}/32`, prefixLen: 32, switch: ext.attach, category: 'route' });
    }
    if (!overlay) {
      for (const pod of state.pods.values()) {
        if (pod.node === pod.homeNode || !state.nodes.get(pod.node)?.up) continue;
        this.dests.push({ cidr: `${pod.ip}/32`, prefixLen: 32, switch: pod.node, category: 'movedPod' });
      }
    }
    this.dests.sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
    for (const d of this.dests) {
      const key = this.attach.get(d.switch)?.key ?? '';
      let list = this.destsByKey.get(key);
      if (!list) this.destsByKey.set(key, (list = []));
      list.push(d);
      let bySw = this.destsBySwitch.get(d.switch);
      if (!bySw) this.destsBySwitch.set(d.switch, (bySw = []));
      bySw.push(d);
      if (d.category === 'movedPod') this.movedDests.push(d);
    }
    for (const key of this.destsByKey.keys()) {
      if (!key) continue;
      this.routeKeyIndex.set(key, this.routeKeys.length);
      this.routeKeys.push(key);
    }
    const keys = new Set<string>([DEFAULT_KEY]);
    for (const a of this.attach.values()) if (a.key) keys.add(a.key);
    for (const n of state.switches.keys()) keys.add(directKey(n));
    this.groupIds = allocateGroupIds([...keys]);
    this.groupIdsText = [...this.groupIds].map(([k, v]) => `${k}=${v}`).join(';');
    // eager: the state is mutated by later events, so a planner kept for comparison must not compute lazily
    for (const key of this.destsByKey.keys()) this.routing.distances(key);
    const moved: string[] = [];
    for (const pod of state.pods.values()) if (pod.node !== pod.homeNode) moved.push(`${pod.ip}@${pod.node}`);
    this.destVersion = this.dests.map((d) => `${d.cidr}>${d.switch}@${this.attach.get(d.switch)?.key ?? ''}`).join(';') + '#' + moved.sort().join(';');
    this.destHash = fingerprint(this.destVersion);
  }

  /** Up links from `from` straight to `to`. */
  direct(from: string, to: string): { port: number; mac: string }[] {
    const mac = this.state.switches.get(to)!.routerMac;
    return this.routing
      .upLinks(from)
      .filter((p) => p.peerSwitch === to)
      .map((p) => ({ port: p.port, mac }));
  }

  target(from: string, to: string): Target {
    const toSw = this.state.switches.get(to)!;
    if (toSw.role === 'node') {
      const direct = this.direct(from, to);
      if (direct.length === 1) return { kind: 'port', port: direct[0].port, mac: direct[0].mac };
      if (direct.length > 1) return { kind: 'group', key: directKey(to), choice: { kind: 'select', hops: direct } };
    }
    const key = this.attach.get(to)?.key ?? '';
    if (!key) return undefined;
    const choice = this.routing.choice(from, key);
    return choice ? { kind: 'group', key, choice } : undefined;
  }

  entry(d: Dest, t: NonNullable<Target>): RouteEntry {
    if (t.kind === 'port') return { cidr: d.cidr, prefixLen: d.prefixLen, via: { kind: 'port', hop: { port: t.port, mac: t.mac } }, category: d.category };
    return { cidr: d.cidr, prefixLen: d.prefixLen, via: { kind: 'group', groupId: this.groupIds.get(t.key)! }, category: d.category };
  }
}

/**
 * Whether the hop distances `d` towards one key (BFS layers) survive one fabric link changing state.
 * A link that comes up shortens nothing when its ends are less than two layers apart (or both
 * unreachable); a link that goes down was on no shortest path when its ends were in the same layer,
 * and the farther end keeps its distance when another up neighbour is one layer closer (then every
 * shortest path through the lost link has an equally short replacement). Else: recompute.
 */
function distancesKept(routing: Routing, state: ClusterState, d: Map<string, number>, link: { a: string; b: string; up: boolean }): boolean {
  const da = d.get(link.a);
  const db = d.get(link.b);
  if (link.up) {
    if (!state.switches.get(link.a)?.up || !state.switches.get(link.b)?.up) return true;
    if (da === undefined && db === undefined) return true;
    return da !== undefined && db !== undefined && Math.abs(da - db) <= 1;
  }
  if (da === undefined || db === undefined || da === db) return true;
  const far = da < db ? link.b : link.a;
  const dFar = Math.max(da, db);
  for (const p of routing.fabricLinks(far)) if (d.get(p.peerSwitch) === dFar - 1) return true;
  return false;
}

/** A value computed on first use, then kept (one compile's shared index). */
function lazily<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

function prefixLenOf(cidr: string): number {
  return Number(cidr.split('/')[1]);
}

/**
 * Routes of a fabric switch: every destination, each towards its next-hop group (or its port).
 * Flows and groups are separate parts: a link failure usually changes only the groups' buckets, so
 * the flows part (thousands of prefixes) is kept as it is.
 */
function fabricRouteFlows(f: FlowFactory, p: RoutePlanner, sw: SwitchState): Part {
  const flows: Flow[] = [];
  const targets = new Map<string, Target>();
  for (const d of p.dests) {
    if (d.switch === sw.name) continue;
    let t = targets.get(d.switch);
    if (!targets.has(d.switch)) targets.set(d.switch, (t = p.target(sw.name, d.switch)));
    if (!t) continue;
    flows.push(destRouteFlow(f, p, sw, d, t));
  }
  return { flows, groups: [], meters: [] };
}

function destRouteFlow(f: FlowFactory, p: RoutePlanner, sw: SwitchState, d: Dest, t: NonNullable<Target>): Flow {
  const flow = routeFlow(f, sw, p.entry(d, t));
  flowCidr.set(flow, d.cidr);
  return flow;
}

/** How a fabric switch routes towards one attachment key, as built: what an incremental compile compares. */
interface KeyRoute {
  /** choiceSignature of the switch's choice for this key ('-': unreachable) */
  sig: string;
  /** whether the switch carries this key's next-hop group (some destination behind it is not ours or a direct peer) */
  needed: boolean;
  /** the group, when needed and reachable */
  group: Group | undefined;
}

/** The next-hop groups of a fabric switch, with what they were made from (per key), for incremental patching. */
interface FabricGroups {
  /** groups towards nodes linked to us by several links (`=NODE` keys): they depend on our own links only */
  direct: Group[];
  /** the planner's routeKeys these routes are aligned with */
  keys: readonly string[];
  /** per key of `keys` */
  routes: KeyRoute[];
}

function fabricRouteGroups(p: RoutePlanner, sw: SwitchState): FabricGroups {
  const direct = new Map<number, Group>();
  const directPeers = new Set<string>();
  for (const l of p.routing.upLinks(sw.name)) if (p.state.switches.get(l.peerSwitch)!.role === 'node') directPeers.add(l.peerSwitch);
  for (const peer of directPeers) {
    if (!p.destsBySwitch.has(peer)) continue;
    const t = p.target(sw.name, peer);
    if (t && t.kind === 'group') direct.set(p.groupIds.get(t.key)!, routeGroup(p.groupIds.get(t.key)!, t.choice));
  }
  const routes: KeyRoute[] = [];
  for (const key of p.routeKeys) {
    // used when some destination behind this key is neither us nor a node linked to us directly
    const needed = p.destsByKey.get(key)!.some((d) => d.switch !== sw.name && !directPeers.has(d.switch));
    const choice = p.routing.choice(sw.name, key);
    routes.push({ sig: choiceSignature(choice), needed, group: needed && choice ? routeGroup(p.groupIds.get(key)!, choice) : undefined });
  }
  return { direct: [...direct.values()], keys: p.routeKeys, routes };
}

function fabricGroupsPart(g: FabricGroups): Part {
  const groups = [...g.direct];
  for (const r of g.routes) if (r.group) groups.push(r.group);
  return { flows: [], groups, meters: [] };
}

/**
 * Routes of a node switch. Routed mode: the destinations whose next hops are the most common set
 * collapse into one default route (a node usually has one or two uplinks), the others get their own
 * prefix; pods moved away from their home block always get a /32. Overlay mode: every other node's
 * block (and moved pod) is encapsulated towards its node IP; node IPs and externals are routed.
 */
function nodeRoutes(f: FlowFactory, p: RoutePlanner, sw: SwitchState): Part {
  const state = p.state;
  const overlay = state.cluster.mode === 'overlay';
  const flows: Flow[] = [];
  const groups = new Map<number, Group>();
  const addGroup = (id: number, choice: RouteChoice) => {
    if (!groups.has(id)) groups.set(id, routeGroup(id, choice));
  };
  // per attachment key: how we reach it, and how many destinations share it
  const byKey = new Map<string, { target: Target; sig: string; weight: number }>();
  const sigWeight = new Map<string, number>();
  for (const [key, dests] of p.destsByKey) {
    if (!key) continue;
    const choice = p.routing.choice(sw.name, key);
    const sig = choiceSignature(choice);
    byKey.set(key, { target: choice ? { kind: 'group', key, choice } : undefined, sig, weight: dests.length });
    if (choice) sigWeight.set(sig, (sigWeight.get(sig) ?? 0) + dests.length);
  }
  const defaultSig = defaultOf(sigWeight);
  if (defaultSig !== undefined) {
    const any = [...byKey.values()].find((v) => v.sig === defaultSig)!.target as Extract<Target, { kind: 'group' }>;
    const id = p.groupIds.get(DEFAULT_KEY)!;
    addGroup(id, any.choice);
    flows.push(routeFlow(f, sw, { cidr: '0.0.0.0/0', prefixLen: 0, via: { kind: 'group', groupId: id }, category: 'route' }));
  }
  // explicit routes: destinations whose next hops differ from the default, pods living away from
  // their home block (their /32 must beat the home block's route, and our own block's drop), and
  // nodes linked to us directly
  const explicit = new Set<Dest>(p.movedDests);
  for (const [key, v] of byKey) if (v.target && v.sig !== defaultSig) for (const d of p.destsByKey.get(key)!) explicit.add(d);
  const directPeers = new Set<string>();
  for (const l of p.routing.upLinks(sw.name)) {
    if (state.switches.get(l.peerSwitch)!.role !== 'node') continue;
    directPeers.add(l.peerSwitch);
    for (const d of p.destsBySwitch.get(l.peerSwitch) ?? []) explicit.add(d);
  }
  for (const d of explicit) {
    if (d.switch === sw.name) continue;
    let t: Target;
    if (directPeers.has(d.switch)) t = p.target(sw.name, d.switch);
    else t = byKey.get(p.attach.get(d.switch)?.key ?? '')?.target;
    if (!t) continue;
    const e = p.entry(d, t);
    flows.push(routeFlow(f, sw, e));
    if (t.kind === 'group' && e.via.kind === 'group') addGroup(e.via.groupId, t.choice);
  }
  if (overlay) {
    const tunnel = sw.ports.find((x) => x.kind === 'tunnel');
    if (tunnel) {
      const add = (cidr: string, nodeName: string, category: 'route' | 'movedPod') => {
        const n = state.nodes.get(nodeName)!;
        flows.push(routeFlow(f, sw, { cidr, prefixLen: prefixLenOf(cidr), via: { kind: 'tunnel', port: tunnel.port, remoteIp: n.ip, remoteMac: n.gatewayMac }, category }));
      };
      for (const n of state.nodes.values()) if (n.up && n.name !== sw.name) add(n.podCidr, n.name, 'route');
      for (const pod of state.pods.values()) {
        if (pod.node === pod.homeNode || pod.node === sw.name || !state.nodes.get(pod.node)?.up) continue;
        add(`${pod.ip}/32`, pod.node, 'movedPod');
      }
    }
  }
  const part: Part = { flows, groups: [...groups.values()], meters: [] };
  const keysBySig = new Map<string, string[]>();
  for (const [key, v] of byKey) {
    if (!v.target) continue;
    const list = keysBySig.get(v.sig);
    if (list) list.push(key);
    else keysBySig.set(v.sig, [key]);
  }
  nodeRouteInfo.set(part, { defaultSig, keysBySig: keysBySig.size > 1 ? keysBySig : undefined });
  return part;
}

/** The next-hop set that wins a node's default route: the largest weight, ties to the lowest signature. */
function defaultOf(sigWeight: Map<string, number>): string | undefined {
  let defaultSig: string | undefined;
  let best = 0;
  for (const [sig, w] of [...sigWeight].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (w > best) {
      best = w;
      defaultSig = sig;
    }
  }
  return defaultSig;
}

/**
 * What a node switch's route part was made from, beyond the destinations: its default next-hop set
 * and which keys it reaches through which next hops. Valid as long as the part is kept, since a
 * part is kept only while the node's choices and default stay the same.
 */
interface NodeRouteInfo {
  defaultSig: string | undefined;
  /** reachable keys by choice signature; undefined when they share one signature (or there are none) */
  keysBySig: Map<string, string[]> | undefined;
}
const nodeRouteInfo = new WeakMap<Part, NodeRouteInfo>();

/**
 * Cheap fingerprints of what a switch's routes depend on: `flows` (which destinations, through which
 * group id or port) and `groups` (the next hops of every group).
 */
function routeSignature(p: RoutePlanner, sw: SwitchState): { flows: string; groups: string } {
  const links: string[] = [sw.up ? 'up' : 'down'];
  for (const l of p.routing.upLinks(sw.name)) links.push(`L${l.port}>${l.peerSwitch}`);
  const reach: string[] = [];
  const hops: string[] = [];
  for (const key of p.destsByKey.keys()) {
    if (!key) continue;
    const c = p.routing.choice(sw.name, key);
    reach.push(`${key}:${p.groupIds.get(key)}:${c ? 1 : 0}`);
    hops.push(`${key}:${choiceSignature(c)}`);
  }
  if (sw.role === 'node') {
    // node routes aggregate by next hops: any change of next hops may change which flows exist
    const extra = p.state.cluster.mode === 'overlay' ? [...p.state.nodes.values()].map((n) => `${n.name}${n.up ? '+' : '-'}`) : [];
    const all = [...links, ...reach, ...hops, ...extra, p.destHash].join('|');
    return { flows: all, groups: all };
  }
  return { flows: [...links, ...reach, p.destHash].join('|'), groups: [...links, ...hops].join('|') };
}

// ---- the build: parts per switch, kept with the plan for incremental compilation --------------------

interface SwitchBuild {
  name: string;
  datapathId: string;
  role: SwitchState['role'];
  /** part key -> part; keys sort the merge (base, pod:NAME, policy, routes) */
  parts: Map<string, Part>;
  /** what the route parts were made from; UNKNOWN_SIG after a patch that did not compute it (rebuilt when next examined) */
  routeSig: { flows: string; groups: string };
  /** fabric switches: the next-hop groups per attachment key (what a link change patches) */
  fabricGroups?: FabricGroups;
}

/** A route signature no computed one equals: the route parts are rebuilt when the switch is next examined. */
const UNKNOWN_SIG: { flows: string; groups: string } = Object.freeze({ flows: '\0unknown', groups: '\0unknown' });

interface Build {
  generation: number;
  switches: LayeredMap<SwitchBuild>;
  servicePartsByName: LayeredMap<Part>;
  /** the route planner of the state this build was made from (its distances are computed eagerly) */
  planner: RoutePlanner;
  /** all services merged (sorted), shared by every node switch */
  services: Part;
  /** isolation flows that are the same on every node switch (EMPTY_PART without isolation) */
  policyShared: Part;
  /** the steering this build compiled: what a `steering-changed` is compared with */
  steering: SteeringSnapshot;
  /** the state had edge parts (controller/edge.ts): changes then re-examine the switches that carry them */
  hasEdge: boolean;
  /** ... and node switches carried some (NodePorts, closed egress), not only switches with external ports */
  edgeOnNodes: boolean;
}

/** What of ClusterState.steering a build compiled, copied (the state is mutated by later events). */
interface SteeringSnapshot {
  limits: Map<string, number>;
  /** service -> JSON of its weights */
  weights: Map<string, string>;
  /** switches named by some pin hop */
  pinSwitches: Set<string>;
}

function snapshotSteering(state: ClusterState): SteeringSnapshot {
  const s = state.steering;
  const limits = new Map<string, number>();
  for (const [pod, gbps] of Object.entries(s?.limits ?? {})) limits.set(pod, gbps);
  const weights = new Map<string, string>();
  for (const [svc, w] of Object.entries(s?.weights ?? {})) weights.set(svc, JSON.stringify(Object.entries(w).sort((a, b) => (a[0] < b[0] ? -1 : 1))));
  const pinSwitches = new Set<string>();
  for (const pin of s?.pins ?? []) for (const h of pin.hops) pinSwitches.add(h.switch);
  return { limits, weights, pinSwitches };
}

function partText(p: Part | undefined): string {
  return p ? p.flows.map((fl) => `${flowSortKey(fl)} ${flowContentKey(fl)}`).join('\n') : '';
}

function groupsText(p: Part | undefined): string {
  return p ? p.groups.map(groupKey).join('\n') : '';
}

const builds = new WeakMap<FabricPlan, Build>();

/**
 * A map of one compile that shares most of its entries with the previous compile's: a base shared
 * with earlier compiles plus this compile's own entries (undefined: deleted). An incremental compile
 * that touches 100 of 5,000 switches (or 1 of 10,000 services) then copies 100 entries (or 1), not
 * all of them; the layers are folded into a new base once the own entries reach a quarter of it.
 */
class LayeredMap<V> {
  private constructor(
    private readonly base: ReadonlyMap<string, V>,
    private readonly own: Map<string, V | undefined>,
  ) {}

  static of<V>(entries: Map<string, V>): LayeredMap<V> {
    return new LayeredMap<V>(entries, new Map());
  }

  /** A copy to change: what is set on it is not seen here. */
  derive(): LayeredMap<V> {
    if (this.own.size * 4 > this.base.size) {
      const folded = new Map<string, V>();
      for (const k of this.keys()) folded.set(k, this.get(k)!);
      return new LayeredMap<V>(folded, new Map());
    }
    return new LayeredMap<V>(this.base, new Map(this.own));
  }

  get(key: string): V | undefined {
    return this.own.has(key) ? this.own.get(key) : this.base.get(key);
  }

  set(key: string, value: V): void {
    this.own.set(key, value);
  }

  delete(key: string): void {
    this.own.set(key, undefined);
  }

  *keys(): IterableIterator<string> {
    for (const k of this.base.keys()) if (!this.own.has(k) || this.own.get(k) !== undefined) yield k;
    for (const [k, v] of this.own) if (v !== undefined && !this.base.has(k)) yield k;
  }
}

function mergeServices(parts: Iterable<Part>): Part {
  const flows: Flow[] = [];
  const groups: Group[] = [];
  for (const p of parts) {
    flows.push(...p.flows);
    groups.push(...p.groups);
  }
  return { flows: canonicalFlows(flows), groups: canonicalById(groups, (g) => g.groupId, groupKey), meters: [] };
}

const orderedParts = new WeakMap<Map<string, Part>, Part[]>();
/** A switch's own parts in key order (cached per parts map: unchanged switches share it). */
function ownParts(sb: SwitchBuild): Part[] {
  let ordered = orderedParts.get(sb.parts);
  if (!ordered) {
    ordered = [...sb.parts.keys()].sort().map((k) => sb.parts.get(k)!);
    orderedParts.set(sb.parts, ordered);
  }
  return ordered;
}

/** The parts every node switch shares: the services, and under isolation the shared policy. */
function sharedParts(sb: SwitchBuild, build: Build): readonly Part[] {
  if (sb.role !== 'node') return NO_PARTS;
  return build.policyShared === EMPTY_PART ? [build.services] : [build.services, build.policyShared];
}
const NO_PARTS: readonly Part[] = Object.freeze([]);

function switchParts(sb: SwitchBuild, build: Build): Part[] {
  return [...ownParts(sb), ...sharedParts(sb, build)];
}

function podPartsOf(f: FlowFactory, state: ClusterState, sw: SwitchState): Map<string, Part> {
  const node = state.nodes.get(sw.name)!;
  const out = new Map<string, Part>();
  for (const port of sw.ports) {
    if (port.kind !== 'pod') continue;
    const pod = state.pods.get(port.pod);
    if (!pod) continue;
    out.set(`pod:${pod.name}`, podPart(f, sw, node, pod, port.port, podLimitGbps(state, pod.name), state.cluster.isolation));
  }
  return out;
}

/** A service's shared part: its VIP flow and group, and the NodePort group of a public service. */
function serviceAndNodePortPart(f: FlowFactory, state: ClusterState, svc: ServiceState): Part {
  const part = servicePart(f, state, svc);
  const np = nodePortClusterGroup(state, svc);
  return np ? { flows: part.flows, groups: [...part.groups, np], meters: part.meters } : part;
}

function buildSwitch(f: FlowFactory, state: ClusterState, sw: SwitchState, planner: RoutePlanner, policy: () => PolicyIndex, edge: () => EdgeIndex | undefined): SwitchBuild {
  const parts = new Map<string, Part>();
  let fabricGroups: FabricGroups | undefined;
  if (sw.role === 'node') {
    const node = state.nodes.get(sw.name)!;
    parts.set('base', nodeBasePart(f, state, sw, node));
    for (const [k, v] of podPartsOf(f, state, sw)) parts.set(k, v);
    const policyFlows = policyPart(f, state, sw.name, policy());
    if (policyFlows !== EMPTY_PART) parts.set('policy', policyFlows);
    parts.set('routes', nodeRoutes(f, planner, sw));
  } else {
    parts.set('base', fabricBasePart(f, state, sw));
    parts.set('routes', fabricRouteFlows(f, planner, sw));
    fabricGroups = fabricRouteGroups(planner, sw);
    parts.set('route-groups', fabricGroupsPart(fabricGroups));
  }
  const pins = pinPart(f, state, sw, upLinkPorts(state, sw.name));
  if (pins !== EMPTY_PART) parts.set('pins', pins);
  const index = edge();
  if (index) {
    const e = edgePart(f, state, sw, index);
    if (e !== EMPTY_PART) parts.set('edge', e);
  }
  return { name: sw.name, datapathId: sw.datapathId, role: sw.role, parts, routeSig: routeSignature(planner, sw), fabricGroups };
}

function finish(build: Build): FabricPlan {
  const plan: FabricPlan = new Map();
  for (const name of [...build.switches.keys()].sort()) {
    const sb = build.switches.get(name)!;
    plan.set(name, composePlan(sb.name, sb.datapathId, ownParts(sb), sharedParts(sb, build)));
  }
  builds.set(plan, build);
  return plan;
}

/** Compiles every switch of the cluster. */
export function compileCluster(state: ClusterState, options: CompileOptions = {}): FabricPlan {
  const generation = options.generation ?? 1;
  const f = new FlowFactory(generation);
  const planner = new RoutePlanner(state);
  const servicePartsByName = new Map<string, Part>();
  for (const name of [...state.services.keys()].sort()) servicePartsByName.set(name, serviceAndNodePortPart(f, state, state.services.get(name)!));
  const build: Build = {
    generation,
    switches: LayeredMap.of(new Map()),
    servicePartsByName: LayeredMap.of(servicePartsByName),
    services: mergeServices(servicePartsByName.values()),
    policyShared: EMPTY_PART,
    planner,
    steering: snapshotSteering(state),
    hasEdge: hasEdge(state),
    edgeOnNodes: edgeOnNodes(state),
  };
  const policies = lazily(() => policyIndex(state));
  if (state.cluster.isolation) build.policyShared = sharedPolicyPart(f, state, policies());
  const edge = lazily(() => (hasEdge(state) ? edgeIndex(state) : undefined));
  for (const sw of state.switches.values()) build.switches.set(sw.name, buildSwitch(f, state, sw, planner, policies, edge));
  return finishWithPlans(build, undefined, undefined);
}

/**
 * Recompiles only what the changes touch: the parts of the switches whose pods, policy or routes
 * changed, and the services whose endpoints changed. Equals `compileCluster(state)` (property test).
 * Without a previous build (a plan not made by this module), compiles in full.
 */
export function compileIncremental(prevPlan: FabricPlan, state: ClusterState, changes: ClusterChange[], options: CompileOptions = {}): FabricPlan {
  const prev = builds.get(prevPlan);
  const generation = options.generation ?? prev?.generation ?? 1;
  if (!prev || prev.generation !== generation) return compileCluster(state, { generation });
  const f = new FlowFactory(generation);
  const touchedNodes = new Set<string>();
  const touchedServices = new Set<string>();
  let routesMayChange = false;
  let policyChanged = false;
  let nodeStateChanged = false;
  // pins depend on the steering and on which links and switches are up
  let pinsMayChange = false;
  // the edge parts depend on pods, readiness, services and node liveness (controller/edge.ts)
  let edgeMayChange = false;
  // without a steering-changed the build keeps describing what was compiled
  const steering = changes.some((c) => c.kind === 'steering-changed') ? snapshotSteering(state) : prev.steering;
  for (const c of changes) {
    switch (c.kind) {
      case 'pod-added': {
        const pod = state.pods.get(c.pod);
        if (pod) touchedNodes.add(pod.node);
        policyChanged = true;
        break;
      }
      case 'pod-deleted':
        touchedNodes.add(c.pod.node);
        if (c.pod.node !== c.pod.homeNode) routesMayChange = true;
        policyChanged = true;
        break;
      case 'pod-moved':
        touchedNodes.add(c.from);
        touchedNodes.add(c.to);
        routesMayChange = true;
        policyChanged = true;
        for (const svc of state.services.values()) if (svc.endpoints.includes(c.pod)) touchedServices.add(svc.name);
        break;
      case 'service-added':
        touchedServices.add(c.service);
        break;
      case 'service-deleted':
        touchedServices.add(c.service.name);
        break;
      case 'endpoints-changed':
        touchedServices.add(c.service);
        break;
      case 'steering-changed': {
        pinsMayChange = true;
        for (const pod of new Set([...prev.steering.limits.keys(), ...steering.limits.keys()])) {
          if (prev.steering.limits.get(pod) === steering.limits.get(pod)) continue;
          const p = state.pods.get(pod);
          if (p) touchedNodes.add(p.node);
        }
        for (const svc of new Set([...prev.steering.weights.keys(), ...steering.weights.keys()])) {
          if (prev.steering.weights.get(svc) !== steering.weights.get(svc) && state.services.has(svc)) touchedServices.add(svc);
        }
        break;
      }
      case 'link-state':
        routesMayChange = true;
        pinsMayChange = true;
        break;
      case 'node-state':
        routesMayChange = true;
        pinsMayChange = true;
        nodeStateChanged = true;
        touchedNodes.add(c.node);
        break;
      case 'port-added':
      case 'port-deleted':
        if (state.switches.get(c.switch)?.role === 'node') touchedNodes.add(c.switch);
        break;
    }
  }
  if (nodeStateChanged) {
    // endpoints on down nodes are left out of service groups
    for (const svc of state.services.values()) {
      if (svc.endpoints.some((e) => touchedNodes.has(state.pods.get(e)?.node ?? ''))) touchedServices.add(svc.name);
    }
  }
  if (policyChanged && !state.cluster.isolation) policyChanged = false;
  if (hasEdge(state) || prev.hasEdge) {
    edgeMayChange = changes.some((c) => c.kind !== 'link-state' && c.kind !== 'steering-changed');
  }

  const build: Build = {
    generation,
    switches: prev.switches.derive(),
    servicePartsByName: prev.servicePartsByName,
    services: prev.services,
    policyShared: prev.policyShared,
    planner: prev.planner,
    steering,
    hasEdge: hasEdge(state),
    edgeOnNodes: edgeOnNodes(state),
  };
  const pinSwitches = pinsMayChange ? new Set([...prev.steering.pinSwitches, ...steering.pinSwitches]) : new Set<string>();
  if (touchedServices.size) {
    const byName = prev.servicePartsByName.derive();
    for (const name of touchedServices) {
      const svc = state.services.get(name);
      if (svc) byName.set(name, serviceAndNodePortPart(f, state, svc));
      else byName.delete(name);
    }
    // insertion order of byName does not matter: the merged part is sorted, and VIPs are unique
    build.servicePartsByName = byName;
    build.services = patchServices(prev, byName, touchedServices);
  }
  // a link between two fabric switches changes distances only: destinations and attachments stay
  const fabricLinksOnly = changes.every((c) => {
    if (c.kind !== 'link-state') return c.kind === 'port-added' || c.kind === 'port-deleted' ? false : !isRouteChange(c);
    const l = state.links.get(c.link);
    return !!l && state.switches.get(l.a)?.role === 'fabric' && state.switches.get(l.b)?.role === 'fabric';
  });
  const linkChanges = changes.filter((c): c is Extract<ClusterChange, { kind: 'link-state' }> => c.kind === 'link-state');
  const oneLink = fabricLinksOnly && linkChanges.length === 1 ? state.links.get(linkChanges[0].link) : undefined;
  // one node's uplinks, or the node itself: only that node's destinations change key (see nodeChangePlanner)
  const changedNode = routesMayChange && !fabricLinksOnly ? nodeOfChanges(state, changes) : undefined;
  const nodeChange = changedNode !== undefined ? nodeChangePlanner(prev.planner, state, changedNode, nodeStateChanged) : undefined;
  const planner = nodeChange
    ? nodeChange.planner
    : routesMayChange
      ? new RoutePlanner(state, fabricLinksOnly ? prev.planner : undefined, oneLink && { a: oneLink.a, b: oneLink.b, up: linkChanges[0].up })
      : undefined;
  let routeAffected: Set<string> | 'all' = 'all';
  // fabric links only: which keys of which fabric switches may route differently (the rest keep their groups)
  let linkPatch: FabricLinkImpact | undefined;
  if (planner) {
    if (nodeChange) routeAffected = 'all';
    else if (fabricLinksOnly) {
      linkPatch = affectedByFabricLinks(prev.planner, planner, changes);
      routeAffected = new Set([...linkPatch.fabric.keys(), ...linkPatch.nodes.keys()]);
    } else routeAffected = affectedByRouting(prev.planner, planner, changes);
    build.planner = planner;
  }
  const changed = new Set<string>();
  const policies = lazily(() => policyIndex(state));
  if (policyChanged) build.policyShared = sharedPolicyPart(f, state, policies());
  // without policy changes and with a known set of route-affected switches, only those and the
  // touched node switches can change: skip the others
  const edge = lazily(() => (hasEdge(state) ? edgeIndex(state) : undefined));
  const edgeNames = edgeMayChange ? edgeSwitches(state, build.edgeOnNodes || prev.edgeOnNodes) : new Set<string>();
  const candidates =
    policyChanged || (planner && routeAffected === 'all')
      ? state.switches.values()
      : [...new Set([...touchedNodes, ...pinSwitches, ...edgeNames, ...(planner ? routeAffected : [])])].map((n) => state.switches.get(n)!).filter(Boolean);
  for (const sw of candidates) {
    const old = prev.switches.get(sw.name)!;
    let parts: Map<string, Part> | undefined;
    const edit = () => (parts ??= new Map(old.parts));
    if (sw.role === 'node' && touchedNodes.has(sw.name)) {
      const p = edit();
      for (const k of [...p.keys()]) if (k.startsWith('pod:')) p.delete(k);
      for (const [k, v] of podPartsOf(f, state, sw)) p.set(k, v);
      p.set('base', nodeBasePart(f, state, sw, state.nodes.get(sw.name)!));
    }
    if (sw.role === 'node' && policyChanged) {
      const policy = policyPart(f, state, sw.name, policies());
      if (policy === EMPTY_PART) edit().delete('policy');
      else edit().set('policy', policy);
    }
    if (edgeNames.has(sw.name)) {
      const index = edge();
      const e = index ? edgePart(f, state, sw, index) : EMPTY_PART;
      const before = old.parts.get('edge');
      if (partText(e === EMPTY_PART ? undefined : e) !== partText(before) || groupsText(e === EMPTY_PART ? undefined : e) !== groupsText(before)) {
        if (e === EMPTY_PART) edit().delete('edge');
        else edit().set('edge', e);
      }
    }
    if (pinSwitches.has(sw.name)) {
      const pins = pinPart(f, state, sw, upLinkPorts(state, sw.name));
      const before = old.parts.get('pins');
      if (partText(pins === EMPTY_PART ? undefined : pins) !== partText(before)) {
        if (pins === EMPTY_PART) edit().delete('pins');
        else edit().set('pins', pins);
      }
    }
    let routeSig = old.routeSig;
    let fabricGroups = old.fabricGroups;
    const linkKeys = linkPatch?.fabric.get(sw.name);
    if (nodeChange) {
      if (sw.role === 'node') {
        if (nodeRoutesDiffer(nodeChange, sw, old)) {
          edit().set('routes', nodeRoutes(f, nodeChange.planner, sw));
          routeSig = UNKNOWN_SIG;
        }
      } else {
        const patched = patchFabricForNode(f, nodeChange, sw, old);
        if (patched) {
          if (patched.routes) edit().set('routes', patched.routes);
          if (patched.groups) {
            fabricGroups = patched.groups;
            edit().set('route-groups', fabricGroupsPart(patched.groups));
          }
          routeSig = UNKNOWN_SIG;
        }
      }
    } else if (planner && linkKeys && sw.role === 'fabric' && old.fabricGroups) {
      // a fabric link changed: only groups whose next hops moved are rebuilt; the route flows only
      // when a key became reachable or unreachable
      const patched = patchFabricGroups(planner, sw, old.fabricGroups, linkKeys);
      if (patched) {
        fabricGroups = patched.groups;
        edit().set('route-groups', fabricGroupsPart(patched.groups));
        if (patched.reachChanged) edit().set('routes', fabricRouteFlows(f, planner, sw));
        routeSig = UNKNOWN_SIG;
      }
    } else if (planner && linkKeys === undefined && linkPatch && sw.role === 'node' && !nodeChoicesDiffer(prev.planner, planner, sw.name, linkPatch.nodes.get(sw.name))) {
      // the node's links are as they were and it chooses the same next hops for every key whose
      // distances moved: its routes (and their signature) stay
    } else if (planner && (routeAffected === 'all' || routeAffected.has(sw.name))) {
      routeSig = routeSignature(planner, sw);
      if (sw.role === 'node') {
        if (routeSig.flows !== old.routeSig.flows) edit().set('routes', nodeRoutes(f, planner, sw));
      } else {
        if (routeSig.flows !== old.routeSig.flows) edit().set('routes', fabricRouteFlows(f, planner, sw));
        if (routeSig.groups !== old.routeSig.groups) {
          fabricGroups = fabricRouteGroups(planner, sw);
          edit().set('route-groups', fabricGroupsPart(fabricGroups));
        }
      }
    }
    if (parts || routeSig.flows !== old.routeSig.flows || routeSig.groups !== old.routeSig.groups) {
      build.switches.set(sw.name, { ...old, parts: parts ?? old.parts, routeSig, fabricGroups });
      changed.add(sw.name);
    }
  }
  // a shared part changed: every node switch gets a new plan (fabric switches keep theirs)
  if (touchedServices.size || build.policyShared !== prev.policyShared) for (const sw of state.switches.values()) if (sw.role === 'node') changed.add(sw.name);
  return finishWithPlans(build, prevPlan, changed);
}

/** One node's change (its uplinks, or the node going down or up) as seen by the routes. */
interface NodeChange {
  node: string;
  planner: RoutePlanner;
  /** the node's destinations before and after, and their attachment keys ('' when unattached or down) */
  oldDests: Dest[];
  newDests: Dest[];
  oldKey: string;
  newKey: string;
  /** every node switch rebuilds its routes: pods living away from their block on this node (a /32 on every node), or overlay tunnels towards a node that went down or up */
  allNodes: boolean;
}

/** The node whose uplinks or own state are the only route changes, if there is one such node. */
function nodeOfChanges(state: ClusterState, changes: ClusterChange[]): string | undefined {
  let node: string | undefined;
  for (const c of changes) {
    if (!isRouteChange(c)) continue;
    let n: string;
    if (c.kind === 'node-state') n = c.node;
    else if (c.kind === 'link-state') {
      const l = state.links.get(c.link);
      if (!l) return undefined;
      const ra = state.switches.get(l.a)?.role;
      const rb = state.switches.get(l.b)?.role;
      if (ra === 'node' && rb === 'fabric') n = l.a;
      else if (ra === 'fabric' && rb === 'node') n = l.b;
      else return undefined;
    } else return undefined;
    if (node !== undefined && node !== n) return undefined;
    node = n;
  }
  return node !== undefined && state.nodes.has(node) && state.switches.get(node)?.role === 'node' ? node : undefined;
}

const byCidr = (a: Dest, b: Dest) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0);

/** The destinations a node switch delivers in this state (what the full planner gives it). */
function nodeDestsOf(state: ClusterState, name: string): Dest[] {
  const out: Dest[] = [];
  const overlay = state.cluster.mode === 'overlay';
  const node = state.nodes.get(name);
  if (node?.up) {
    if (!overlay) out.push({ cidr: node.podCidr, prefixLen: prefixLenOf(node.podCidr), switch: name, category: 'route', podBlockOf: name });
    out.push({ cidr: `${node.ip}/32`, prefixLen: 32, switch: name, category: 'route' });
  }
  if (state.switches.get(name)?.up) for (const ext of state.externals.values()) if (ext.attach === name) out.push({ cidr: `${ext.ip}/32`, prefixLen: 32, switch: name, category: 'route' });
  if (!overlay && node?.up) {
    // the pods living on a node are those with a port on its switch (not a scan of every pod)
    for (const port of state.switches.get(name)?.ports ?? []) {
      if (port.kind !== 'pod') continue;
      const pod = state.pods.get(port.pod);
      if (!pod || pod.node !== name || pod.node === pod.homeNode) continue;
      out.push({ cidr: `${pod.ip}/32`, prefixLen: 32, switch: name, category: 'movedPod' });
    }
  }
  return out.sort(byCidr);
}

/**
 * The planner after one node's uplinks or state changed, derived from the previous one: only that
 * node's destinations leave their attachment key and join another (or vanish / appear). Distances
 * depend on links between fabric switches only and stay; undefined when the set of attachment keys
 * changes (group ids and the per-key tables would move: the caller compiles as before).
 */
function nodeChangePlanner(prev: RoutePlanner, state: ClusterState, node: string, nodeStateChanged: boolean): NodeChange | undefined {
  const oldDests = prev.destsBySwitch.get(node) ?? [];
  const newDests = nodeDestsOf(state, node);
  const oldKey = prev.attach.get(node)?.key ?? '';
  const up = !!state.nodes.get(node)?.up;
  const att = up ? attachmentOf(state, node) : undefined;
  const newKey = att?.key ?? '';
  const destsByKey = new Map(prev.destsByKey);
  for (const key of new Set([oldKey, newKey])) {
    const list = (prev.destsByKey.get(key) ?? []).filter((d) => d.switch !== node);
    if (key === newKey) list.push(...newDests);
    if (key && list.length > 0 !== prev.routeKeyIndex.has(key)) return undefined;
    if (list.length) destsByKey.set(key, list);
    else destsByKey.delete(key);
  }
  const dests = prev.dests.filter((d) => d.switch !== node);
  for (const d of newDests) dests.splice(lowerBound(dests, d.cidr, (x) => x.cidr), 0, d);
  const destsBySwitch = new Map(prev.destsBySwitch);
  if (newDests.length) destsBySwitch.set(node, newDests);
  else destsBySwitch.delete(node);
  const movedDests = prev.movedDests.filter((d) => d.switch !== node);
  for (const d of newDests) if (d.category === 'movedPod') movedDests.push(d);
  const attach = new Map(prev.attach);
  if (att) attach.set(node, att);
  else attach.delete(node);
  const planner = new RoutePlanner(state, prev, undefined, { attach, dests, destsByKey, destsBySwitch, movedDests });
  const moved = [...oldDests, ...newDests].some((d) => d.category === 'movedPod');
  return { node, planner, oldDests, newDests, oldKey, newKey, allNodes: moved || (nodeStateChanged && state.cluster.mode === 'overlay') };
}

function linkedTo(sw: SwitchState, peer: string): boolean {
  return sw.ports.some((p) => p.kind === 'link' && p.peerSwitch === peer);
}

/**
 * Whether a node switch's routes may differ after one node's change. Not when: it is another node,
 * not linked to that node, whose choices are unchanged (its links and the distances are), whose
 * default next-hop set still wins with the new weights, and which routes the node's destinations
 * by that default before and after (or cannot reach them).
 */
function nodeRoutesDiffer(nc: NodeChange, sw: SwitchState, old: SwitchBuild): boolean {
  if (sw.name === nc.node || nc.allNodes || linkedTo(sw, nc.node)) return true;
  const routes = old.parts.get('routes');
  const info = routes && nodeRouteInfo.get(routes);
  if (!info) return true;
  // one next-hop set for every reachable key (a node with one uplink): the moved destinations are
  // routed by the default before and after (or not at all), and the default stays
  if (!info.keysBySig) return false;
  const p = nc.planner;
  const sigOf = (key: string, n: number) => (key && n ? choiceSignature(p.routing.choice(sw.name, key)) : '-');
  const sOld = sigOf(nc.oldKey, nc.oldDests.length);
  if (sOld !== '-' && sOld !== info.defaultSig) return true;
  const sNew = sigOf(nc.newKey, nc.newDests.length);
  if (sNew !== '-' && sNew !== info.defaultSig) return true;
  const weights = new Map<string, number>();
  for (const [sig, keys] of info.keysBySig) {
    let w = 0;
    for (const k of keys) w += p.destsByKey.get(k)?.length ?? 0;
    weights.set(sig, w);
  }
  return defaultOf(weights) !== info.defaultSig;
}

/**
 * A fabric switch's route flows and groups after one node's change: that node's destinations'
 * flows removed and added by binary search in the sorted route flows (the other destinations keep
 * their targets: the switch's links to them, their keys and its choices are as they were), the
 * `needed` flag of the two keys' groups fixed, and at a switch linked to the node its groups
 * towards directly linked nodes remade.
 */
function patchFabricForNode(f: FlowFactory, nc: NodeChange, sw: SwitchState, old: SwitchBuild): { routes?: Part; groups?: FabricGroups } | undefined {
  const p = nc.planner;
  const full = () => ({ routes: fabricRouteFlows(f, p, sw), groups: fabricRouteGroups(p, sw) });
  const before = old.fabricGroups;
  const oldRoutes = old.parts.get('routes');
  if (!before || before.keys !== p.routeKeys || !oldRoutes) return full();
  const linked = linkedTo(sw, nc.node);
  // the node's flows were there when it had a target then: removed where present
  let flows: Flow[] | undefined;
  const cidrOf = (fl: Flow) => flowCidr.get(fl) ?? '';
  for (const d of nc.oldDests) {
    const list: readonly Flow[] = flows ?? oldRoutes.flows;
    const i = lowerBound(list, d.cidr, cidrOf);
    if (i >= list.length || cidrOf(list[i]) !== d.cidr) continue;
    flows ??= oldRoutes.flows.slice();
    flows.splice(i, 1);
  }
  const t = nc.newDests.length ? p.target(sw.name, nc.node) : undefined;
  if (t) {
    flows ??= oldRoutes.flows.slice();
    for (const d of nc.newDests) {
      const i = lowerBound(flows, d.cidr, cidrOf);
      if (i < flows.length && cidrOf(flows[i]) === d.cidr) return full();
      flows.splice(i, 0, destRouteFlow(f, p, sw, d, t));
    }
  }
  const routes: Part | undefined = flows && { flows, groups: [], meters: [] };
  const directPeers = new Set<string>();
  for (const l of p.routing.upLinks(sw.name)) if (p.state.switches.get(l.peerSwitch)!.role === 'node') directPeers.add(l.peerSwitch);
  let groups: FabricGroups | undefined;
  if (linked) {
    // groups towards nodes linked by several links: the node's may appear, change or vanish
    const direct = new Map<number, Group>();
    for (const peer of directPeers) {
      if (!p.destsBySwitch.has(peer)) continue;
      const dt = p.target(sw.name, peer);
      if (dt && dt.kind === 'group') direct.set(p.groupIds.get(dt.key)!, routeGroup(p.groupIds.get(dt.key)!, dt.choice));
    }
    groups = { direct: [...direct.values()], keys: before.keys, routes: before.routes };
  }
  for (const key of new Set([nc.oldKey, nc.newKey])) {
    const i = key ? p.routeKeyIndex.get(key) : undefined;
    if (i === undefined) continue;
    const needed = p.destsByKey.get(key)!.some((d) => d.switch !== sw.name && !directPeers.has(d.switch));
    const was = before.routes[i];
    if (needed === was.needed) continue;
    const choice = p.routing.choice(sw.name, key);
    groups ??= { direct: before.direct, keys: before.keys, routes: before.routes };
    if (groups.routes === before.routes) groups.routes = before.routes.slice();
    groups.routes[i] = { sig: was.sig, needed, group: needed && choice ? routeGroup(p.groupIds.get(key)!, choice) : undefined };
  }
  return routes || groups ? { routes, groups } : undefined;
}

/** What a change of links between fabric switches may alter. */
interface FabricLinkImpact {
  /** fabric switch -> the attachment keys whose choice may differ there ('all' at the ends of a changed link) */
  fabric: Map<string, Set<string> | 'all'>;
  /** node switches next to a fabric switch whose distance to some key changed -> those keys */
  nodes: Map<string, Set<string>>;
}

/**
 * A switch's choice towards a key depends on its own up links, its own distance and its neighbours'
 * distances to the key. Between two planners with the same destinations and attachments (only
 * fabric-fabric links changed), that gives: every key at the ends of a changed link; at a switch
 * whose distance to a key changed, and at each of its neighbours, that key. Nothing else can differ.
 */
function affectedByFabricLinks(before: RoutePlanner, after: RoutePlanner, changes: ClusterChange[]): FabricLinkImpact {
  const state = after.state;
  const fabric = new Map<string, Set<string> | 'all'>();
  const nodes = new Map<string, Set<string>>();
  for (const c of changes) {
    if (c.kind !== 'link-state') continue;
    const l = state.links.get(c.link);
    if (!l) continue;
    fabric.set(l.a, 'all');
    fabric.set(l.b, 'all');
  }
  const addKey = (sw: string, key: string) => {
    const keys = fabric.get(sw);
    if (keys === 'all') return;
    if (keys) keys.add(key);
    else fabric.set(sw, new Set([key]));
  };
  const touch = (name: string, key: string) => {
    const sw = state.switches.get(name);
    if (!sw) return;
    if (sw.role === 'fabric') addKey(name, key);
    for (const p of sw.ports) {
      if (p.kind !== 'link') continue;
      if (state.switches.get(p.peerSwitch)?.role === 'fabric') addKey(p.peerSwitch, key);
      else {
        const keys = nodes.get(p.peerSwitch);
        if (keys) keys.add(key);
        else nodes.set(p.peerSwitch, new Set([key]));
      }
    }
  };
  for (const key of after.destsByKey.keys()) {
    if (!key) continue;
    const a = before.routing.distances(key);
    const b = after.routing.distances(key);
    if (a === b) continue;
    for (const [sw, d] of b) if (a.get(sw) !== d) touch(sw, key);
    for (const sw of a.keys()) if (!b.has(sw)) touch(sw, key);
  }
  return { fabric, nodes };
}

/** Whether a node switch (whose own links did not change) chooses differently towards any of `keys` now. */
function nodeChoicesDiffer(before: RoutePlanner, after: RoutePlanner, node: string, keys: Set<string> | undefined): boolean {
  if (!keys) return false;
  for (const key of keys) {
    const was = after.routing.choiceWith(node, before.routing.distances(key));
    if (choiceSignature(was) !== choiceSignature(after.routing.choice(node, key))) return true;
  }
  return false;
}

/**
 * A fabric switch's next-hop groups after a fabric link change: the keys in `keys` whose choice
 * differs get a new group (the others keep theirs, by reference). Undefined when nothing differs;
 * `reachChanged` when some key became reachable or unreachable (its route flows appear or vanish).
 */
function patchFabricGroups(p: RoutePlanner, sw: SwitchState, old: FabricGroups, keys: Set<string> | 'all'): { groups: FabricGroups; reachChanged: boolean } | undefined {
  // made for other destinations (cannot happen on this path, which keeps the planner's tables): rebuild
  if (old.keys !== p.routeKeys) return { groups: fabricRouteGroups(p, sw), reachChanged: true };
  let routes: KeyRoute[] | undefined;
  let reachChanged = false;
  for (const key of keys === 'all' ? p.routeKeys : keys) {
    const i = p.routeKeyIndex.get(key);
    if (i === undefined) continue;
    const before = old.routes[i];
    const choice = p.routing.choice(sw.name, key);
    const sig = choiceSignature(choice);
    if (sig === before.sig) continue;
    if ((sig === '-') !== (before.sig === '-')) reachChanged = true;
    routes ??= old.routes.slice();
    routes[i] = { sig, needed: before.needed, group: before.needed && choice ? routeGroup(p.groupIds.get(key)!, choice) : undefined };
  }
  return routes ? { groups: { direct: old.direct, keys: old.keys, routes }, reachChanged } : undefined;
}

/**
 * The switches whose routes may differ between two planners: every switch when the destinations or
 * group ids changed; else every fabric switch (few) when some attachment's distances changed, plus
 * the node switches at the ends of changed links and next to a fabric switch whose distance to some
 * attachment changed. Everything else keeps its route parts (and its signature stays valid).
 */
function affectedByRouting(before: RoutePlanner, after: RoutePlanner, changes: ClusterChange[]): Set<string> | 'all' {
  if (before.destHash !== after.destHash || before.groupIdsText !== after.groupIdsText) return 'all';
  const state = after.state;
  const moved = new Set<string>();
  for (const key of after.destsByKey.keys()) {
    if (!key) continue;
    const a = before.routing.distances(key);
    const b = after.routing.distances(key);
    for (const [sw, d] of b) if (a.get(sw) !== d) moved.add(sw);
    for (const [sw, d] of a) if (b.get(sw) !== d) moved.add(sw);
  }
  const affected = new Set<string>();
  const touchSwitch = (name: string) => {
    affected.add(name);
    for (const p of state.switches.get(name)?.ports ?? []) if (p.kind === 'link') affected.add(p.peerSwitch);
  };
  for (const c of changes) {
    if (c.kind === 'link-state') {
      const l = state.links.get(c.link);
      if (l) {
        touchSwitch(l.a);
        touchSwitch(l.b);
      }
    } else if (c.kind === 'node-state') touchSwitch(c.node);
    else if (c.kind === 'port-added' || c.kind === 'port-deleted') affected.add(c.switch);
    else if (c.kind === 'pod-moved') {
      affected.add(c.from);
      affected.add(c.to);
    }
  }
  if (moved.size) for (const sw of state.switches.values()) if (sw.role === 'fabric') affected.add(sw.name);
  for (const name of moved) for (const p of state.switches.get(name)?.ports ?? []) if (p.kind === 'link') affected.add(p.peerSwitch);
  return affected;
}

/** Changes that can alter destinations or attachments (anything but service changes). */
function isRouteChange(c: ClusterChange): boolean {
  return c.kind !== 'service-added' && c.kind !== 'service-deleted' && c.kind !== 'endpoints-changed' && c.kind !== 'steering-changed';
}

/**
 * The shared services part with the touched services' flows and groups replaced: each one removed
 * and inserted by binary search in the sorted lists, so the cost follows the touched services, not
 * the 10,000 others. When an identity is taken twice (two services claiming one flow or group id, a
 * conflict the full compile settles by service name), merges every service again as the full
 * compile does.
 */
function patchServices(prev: Build, byName: LayeredMap<Part>, touched: Set<string>): Part {
  const removedFlows: Flow[] = [];
  const removedGroups: Group[] = [];
  const addedFlows: Flow[] = [];
  const addedGroups: Group[] = [];
  for (const name of touched) {
    const old = prev.servicePartsByName.get(name);
    if (old) {
      removedFlows.push(...old.flows);
      removedGroups.push(...old.groups);
    }
    const p = byName.get(name);
    if (p) {
      addedFlows.push(...p.flows);
      addedGroups.push(...p.groups);
    }
  }
  const flows = patchSorted(prev.services.flows, removedFlows, addedFlows, keyOf);
  const groups = flows && patchSorted(prev.services.groups, removedGroups, addedGroups, (g) => g.groupId);
  if (!flows || !groups) return mergeServices([...byName.keys()].sort().map((k) => byName.get(k)!));
  return { flows, groups, meters: [] };
}

/** First index whose key is not below `key` in a list sorted by `keyFn`. */
function lowerBound<T, K extends string | number>(list: readonly T[], key: K, keyFn: (t: T) => K): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyFn(list[mid]) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A copy of a sorted list of unique keys without `remove` (by identity) and with `add`; undefined when a key would repeat or an item is missing. */
function patchSorted<T, K extends string | number>(list: readonly T[], remove: readonly T[], add: readonly T[], keyFn: (t: T) => K): T[] | undefined {
  const out = list.slice();
  for (const r of remove) {
    const i = lowerBound(out, keyFn(r), keyFn);
    if (out[i] !== r) return undefined;
    out.splice(i, 1);
  }
  for (const a of add) {
    const k = keyFn(a);
    const i = lowerBound(out, k, keyFn);
    if (i < out.length && keyFn(out[i]) === k) return undefined;
    out.splice(i, 0, a);
  }
  return out;
}

/** Plans for every switch; switches outside `changed` keep their previous plan object. */
function finishWithPlans(build: Build, prevPlan: FabricPlan | undefined, changed: Set<string> | undefined): FabricPlan {
  if (!prevPlan || !changed) return finish(build);
  // a copy keeps the previous order (sorted); changed switches are replaced in place
  const plan: FabricPlan = new Map(prevPlan);
  for (const name of changed) {
    if (!plan.has(name)) return finish(build);
    const sb = build.switches.get(name)!;
    plan.set(name, composePlan(sb.name, sb.datapathId, ownParts(sb), sharedParts(sb, build)));
  }
  builds.set(plan, build);
  return plan;
}

/** Number of flows per switch without materialising the plans (for the benchmark). */
export function flowCounts(plan: FabricPlan): Map<string, { flows: number; groups: number; meters: number }> {
  const out = new Map<string, { flows: number; groups: number; meters: number }>();
  const build = builds.get(plan);
  for (const [name, sp] of plan) {
    const sb = build?.switches.get(name);
    if (!sb) {
      out.set(name, { flows: sp.flows.length, groups: sp.groups.length, meters: sp.meters.length });
      continue;
    }
    let flows = 0;
    let groups = 0;
    let meters = 0;
    for (const p of switchParts(sb, build!)) {
      flows += p.flows.length;
      groups += p.groups.length;
      meters += p.meters.length;
    }
    out.set(name, { flows, groups, meters });
  }
  return out;
}
