/**
 * The one control loop: what turns cluster changes and switch events into operations per switch.
 * `fabric sim` (sim/driver.ts), `fabric controller` on real Open vSwitch (fabric/ovsdriver.ts
 * LiveController), the lab's OpenFlow programmer and the benchmarks all drive this class, so what the
 * simulator property-tests is what programs real switches.
 *
 * Pure and deterministic, in Faucet's valve shape: inputs go in, operations come out; it takes `now`
 * where it needs time, reads no clock and does no I/O. Its shell (a `SouthboundPort` and the code
 * that feeds it events) reads a switch back when the loop asks, and sends what the loop returns.
 *
 * Inputs
 * - cluster changes: scenario events, API batches, file edits (`applyEvents`); the rebalancer's
 *   steering (`setSteering`);
 * - switch connected / lost (`switchConnected`, `switchLost`): a switch that (re)connects may hold
 *   anything, so it is read back before it is diffed;
 * - port status (`portStatus`) and an operator's link down/up (`setLinkAdmin`): a link is up when no
 *   operator set it down and neither end reports its port down; a change becomes a link event;
 * - load samples (`portCounters`): the switches' port counters with the time they were read (OpenFlow
 *   port statistics on real OVS), turned into per-port rates and per-link utilization (`load`,
 *   controller/load.ts, the same counter-to-rate code the simulator's rebalancer runs on).
 *
 * A pass (`pass`) compiles (incrementally from the previous plan and the changes since, in full the
 * first time) and decides per reachable switch: nothing to do (the same plan object as last time and
 * the switch clean since), a diff against the plan last sent (a clean switch holds it: we are its only
 * writer), or a read-back first (stale: reconnected, an op failed or a batch was lost, or the loop
 * verifies every pass: `verify: 'always'`, the real-OVS default). `diffRead` then gives the ops for
 * a switch read back; `applied(switch, false)` marks a switch whose ops failed stale again.
 */
import type { SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import { applyEvent as applyTopologyEvent } from '../topology/cluster';
import type { ClusterChange, ClusterState, ScenarioEvent, TrafficDemand, TrafficSteering } from '../topology/types';
import { directedLinkId } from '../topology/links';
import { compileCluster, compileIncremental } from './compile';
import type { FabricPlan } from './compile';
import { reconcile } from './reconcile';
import { LinkLoad } from './load';
import type { PortCounters } from './load';
import { emptyLimitState, limit, place, serviceBucketWeights, steerFromLoad } from './rebalance';
import type { LimitState, RebalanceChange, RebalanceDemand, RebalanceOptions, RebalancePolicyName } from './rebalance';
import { CandidatePaths, measuredDemands, pinMatch, upTopology } from './demands';
import type { LoopDemand } from './demands';

/**
 * The southbound port: implemented by the simulator (sim/driver.ts, virtual time) and by the real
 * OVS driver (fabric/ovsdriver.ts, OpenFlow 1.3). Switch events come back through the loop's
 * `switchConnected`, `switchLost` and `portStatus`.
 */
export interface SouthboundPort {
  /** send operations to one switch, in order (one bundle where the switch supports it) */
  apply(switchName: string, ops: readonly SwitchOp[]): void | Promise<void>;
  /** what the switch holds now, in the flow IR */
  read(switchName: string): SwitchPlan | Promise<SwitchPlan>;
}

/** The compiler and reconciler the loop runs (the real ones unless a test injects others). */
export interface LoopCompiler {
  compileCluster(state: ClusterState): FabricPlan;
  compileIncremental?(prev: FabricPlan, state: ClusterState, changes: ClusterChange[]): FabricPlan;
  reconcile(desired: SwitchPlan, actual: SwitchPlan): SwitchOp[];
}

export const DEFAULT_COMPILER: LoopCompiler = { compileCluster: (s) => compileCluster(s), compileIncremental: (p, s, c) => compileIncremental(p, s, c), reconcile };

export interface ControlLoopOptions {
  compiler?: LoopCompiler;
  /**
   * 'stale' (the simulator): a clean switch is diffed against the plan last sent to it, without a
   * read; 'always' (real OVS): every pass reads every switch back (someone else may have written it).
   */
  verify?: 'stale' | 'always';
  /**
   * Which switches the loop can program now. Default: every switch that `switchConnected` announced
   * and `switchLost` did not take away. The simulator answers from its physical world instead.
   */
  reachable?: (switchName: string) => boolean;
  /** the window (s) over which port counters become rates (default 1) */
  loadWindowS?: number;
}

/** What one pass asks of its shell. */
export interface PassPlan {
  /** why the pass ran (for logs) */
  reason: string;
  /** per switch (sorted by name), the operations to send now: diffs against the plan last sent */
  ops: { switch: string; ops: SwitchOp[] }[];
  /** switches to read back and diff (`diffRead`), in name order */
  reads: string[];
  /** switches whose plan and state did not change: nothing sent */
  unchanged: number;
  /** switches that could not be programmed now (unreachable): diffed in full when they are back */
  unreachable: string[];
  /** the compile fell back to a full compile (the message of the incremental failure) */
  compileFallback?: string;
  /** the plans this pass compiled */
  plans: FabricPlan;
}

/** OFPPC_PORT_DOWN (config) and OFPPS_LINK_DOWN (state): either means the port carries nothing. */
export function portIsDown(config: number, state: number): boolean {
  return (config & 1) !== 0 || (state & 1) !== 0;
}

export class ControlLoop {
  readonly compiler: LoopCompiler;
  readonly verify: 'stale' | 'always';
  private readonly reachableOf: (switchName: string) => boolean;
  /** the last compiled plan */
  private desired: FabricPlan | undefined;
  /** changes applied to the state since the last compile */
  private pending: ClusterChange[] = [];
  /** switches whose contents may differ from the last plan sent (reconnected, failed, unreachable) */
  private readonly stale = new Set<string>();
  /** switches the shell announced as connected */
  private readonly connected = new Set<string>();
  /** `switch/port` -> the port reports down */
  private readonly portDown = new Map<string, boolean>();
  /** links set down by an operator (API, scenario file edit): down whatever their ports say */
  private readonly adminDown = new Set<string>();
  /** the plan last handed out per switch (what a clean switch holds once its ops land) */
  private readonly sent = new Map<string, SwitchPlan>();
  /** passes run */
  passes = 0;
  /** the links' load from the switches' port counters */
  readonly load: LinkLoad;

  constructor(readonly state: ClusterState, options: ControlLoopOptions = {}) {
    this.load = new LinkLoad(state, options.loadWindowS ?? 1);
    this.compiler = options.compiler ?? DEFAULT_COMPILER;
    this.verify = options.verify ?? 'stale';
    this.reachableOf = options.reachable ?? ((name) => this.connected.has(name));
  }

  // ---- inputs ---------------------------------------------------------------------------------

  /** Apply cluster events in order (throws on the first that cannot apply: check batches on a copy first). */
  applyEvents(events: readonly ScenarioEvent[]): ClusterChange[] {
    const out: ClusterChange[] = [];
    for (const ev of events) {
      if (ev.kind === 'link') {
        // an operator's link event holds whatever the ports say (up hands it back to its ports)
        this.setLinkAdmin(ev.between[0], ev.between[1], ev.action === 'up', out);
        continue;
      }
      out.push(...this.record(applyTopologyEvent(this.state, ev)));
    }
    return out;
  }

  /**
   * Apply one event as the simulated world reports it (a link's own state, not an operator's): the
   * simulator's controller learns each event after the control latency and applies it as is.
   */
  observe(ev: ScenarioEvent): ClusterChange[] {
    return this.record(applyTopologyEvent(this.state, ev));
  }

  /** The rebalancer's steering (pins, limits, weights) becomes part of the desired state. */
  setSteering(steering: TrafficSteering): ClusterChange[] {
    this.state.steering = steering;
    return this.record([{ kind: 'steering-changed' }]);
  }

  /** the limit policy's hysteresis, carried from round to round */
  private limitState: LimitState = emptyLimitState();
  /** the demands the operator declares (the scenario's traffic): what steer, place and limit act on */
  private declared: readonly TrafficDemand[] = [];
  /** pin id -> the path it pins (what the pin's hops make the switches do) */
  private readonly pinPaths = new Map<string, string[]>();
  /** moves already proposed (pod NUL node): a move nobody applied is proposed once */
  private readonly proposedMoves = new Set<string>();
  private readonly candidatePaths = new CandidatePaths();
  /** rebalancing rounds run on the measured load, and the changes they made */
  readonly rebalanceStats = { rounds: 0, meters: 0, unmeters: 0, pins: 0, unpins: 0, moves: 0, weights: 0 };

  /**
   * The demands the operator declares (the scenario's `traffic`): what the rebalancer steers, moves
   * and meters. Their rates are measured (controller/demands.ts); what they ask sizes a placement.
   */
  declareDemands(traffic: readonly TrafficDemand[]): void {
    this.declared = traffic.map((t) => ({ ...t }));
  }

  /**
   * One rebalancing round on the load the switches' counters measured (`portCounters`), where a real
   * controller sees it, with the scenario's policies (`cluster.rebalance`) unless given:
   * - steer (controller/rebalance.ts `steerFromLoad`): a link measured at or above the threshold gets
   *   the declared demands that may cross it placed explicitly (pins), heaviest first, when that
   *   lowers the maximum; a pin goes when its demand stops sending or a link of its path goes down;
   * - place (`place`): proposes moving one pod (returned as a `move`; the caller applies it or not);
   * - weights (`serviceBucketWeights`): services' select-group bucket weights by the measured load
   *   into each endpoint's node;
   * - limit (`limit`): links hot for `holdRounds` rounds get their hogs metered at their node switch,
   *   lifted when the link stays clear. A declared demand counts on the links it certainly crosses,
   *   asking what it declares; a pod without declared demands counts what it sends on every uplink
   *   of its node.
   * Decisions become `steering` (pins, limits) with one steering-changed for the next pass. Returns
   * the changes.
   */
  rebalanceFromLoad(options?: RebalanceOptions, policies: readonly RebalancePolicyName[] = this.state.cluster.rebalance): RebalanceChange[] {
    const topo = upTopology(this.state);
    const modelLinks = topo.flatMap((l) => [
      { id: directedLinkId(l.a, l.b), capacityGbps: l.gbps },
      { id: directedLinkId(l.b, l.a), capacityGbps: l.gbps },
    ]);
    const portRate = new Map(this.load.portRates().map((r) => [`${r.switch}/${r.port}`, r]));
    const podRate = (name: string): number | undefined => {
      const pod = this.state.pods.get(name);
      const sw = pod ? this.state.switches.get(pod.node) : undefined;
      const port = sw?.ports.find((p) => p.kind === 'pod' && p.pod === name);
      return port ? portRate.get(`${sw!.name}/${port.port}`)?.rxGbps : undefined;
    };
    const paths = this.candidatePaths.get(this.state, topo);
    const demands = measuredDemands(this.state, this.declared, topo, paths, podRate, this.pinPaths);
    const byId = new Map(demands.map((d) => [d.id, d]));
    const measured = this.load.linkUtilization();
    const linkLoadGbps = new Map(measured.map((l) => [l.link, l.gbps]));
    const utilization = new Map(measured.map((l) => [l.link, l.utilization]));
    const changes: RebalanceChange[] = [];
    const steering = this.state.steering;
    const pins = new Map((steering?.pins ?? []).map((p) => [p.id, p]));

    // a pin lives while its demand sends over up links (an idle pin would steer a later flow)
    for (const id of [...pins.keys()].sort()) {
      const d = byId.get(id);
      if (d?.active && d.pinned) continue;
      pins.delete(id);
      this.pinPaths.delete(id);
      if (d) (d.pinned = undefined), (d.known = d.candidates.length === 1 ? [...d.candidates[0]] : d.known);
      changes.push({ kind: 'unpin', demand: id });
    }
    const active = demands.filter((d) => d.active);
    if (policies.includes('steer')) {
      // demands whose packets a pin cannot tell apart (the same addresses, protocol and port) move
      // together: one aggregate under the first one's id, asking what they ask together
      const groups = new Map<string, LoopDemand[]>();
      for (const d of active) {
        const match = pinMatch(this.state, this.declared[d.index], d.toPod);
        if (!match) continue;
        const key = `${match.srcIp}>${match.dstIp}/${match.protocol ?? ''}/${match.dstPort ?? ''}`;
        const g = groups.get(key);
        if (g) g.push(d);
        else groups.set(key, [d]);
      }
      const aggregates = [...groups.values()].map((g) => ({ ...g[0], demandGbps: g.reduce((sum, d) => sum + d.demandGbps, 0), members: g }));
      for (const c of steerFromLoad(modelLinks, aggregates, (d) => (d as LoopDemand).known, utilization, options)) {
        if (c.kind !== 'pin') continue;
        const agg = aggregates.find((a) => a.id === c.demand)!;
        const match = pinMatch(this.state, this.declared[agg.index], agg.toPod)!;
        pins.set(agg.id, { id: agg.id, ...match, hops: c.hops });
        this.pinPaths.set(agg.id, c.path);
        for (const d of agg.members) (d.pinned = c.path), (d.known = c.path);
        changes.push(c);
      }
    }
    const rdemands: RebalanceDemand[] = active.map((d) => ({ id: d.id, fromPod: d.fromPod, toPod: d.toPod, src: d.src, dst: d.dst, path: d.known, demandGbps: d.demandGbps }));
    // limit shares a hot link by natural demand: an active declared demand asks what the scenario
    // says it asks, not the rate it gets now (held down, maybe, by the very hotspot being relieved;
    // Hedera's demand estimation makes the same point, or a little above its ask in one noisy round),
    // so the meters do not follow the noise of the counters
    const demandRateGbps = new Map(active.map((d) => [d.id, d.demandGbps]));
    const podNode = new Map([...this.state.pods.values()].map((p) => [p.name, p.node] as [string, string]));
    if (policies.includes('place')) {
      const nodes = [...this.state.nodes.values()].filter((n) => n.up).map((n) => n.name);
      // place weighs whole paths: a demand whose ECMP path is unknown is taken to be on the hottest
      // measured link among its candidates (the worst case the counters allow), else on what its
      // candidates share
      const threshold = options?.thresholdUtilization ?? 0.8;
      const estimated = rdemands.map((r, i) => {
        const d = active[i];
        if (d.pinned || d.candidates.length < 2) return r;
        let best: { path: string[]; u: number } | undefined;
        for (const c of d.candidates) {
          const u = Math.max(0, ...c.map((id) => utilization.get(id) ?? 0));
          if (u >= threshold && (!best || u > best.u)) best = { path: c, u };
        }
        return best ? { ...r, path: best.path } : r;
      });
      for (const c of place({ links: modelLinks, demands: estimated, paths: (a, b) => paths.get(a, b), podNode, nodes }, options)) {
        if (c.kind !== 'move') continue;
        const key = `${c.pod}\u0000${c.to}`;
        if (this.proposedMoves.has(key)) continue;
        this.proposedMoves.add(key);
        changes.push(c);
      }
    }
    if (policies.includes('limit')) {
      // pods without declared demands: what they send, over every uplink of their node
      const declaredPods = new Set(demands.map((d) => d.fromPod));
      for (const pod of [...this.state.pods.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (declaredPods.has(pod.name) || !this.state.nodes.get(pod.node)?.up) continue;
        const rate = podRate(pod.name);
        // a pod that sends nothing (or was not read twice yet) is no demand on any link
        if (rate === undefined || rate < 1e-6) continue;
        const path = topo.filter((l) => l.a === pod.node || l.b === pod.node).map((l) => directedLinkId(pod.node, l.a === pod.node ? l.b : l.a));
        const id = `pod:${pod.name}`;
        rdemands.push({ id, fromPod: pod.name, src: pod.node, dst: '', path, demandGbps: rate });
        demandRateGbps.set(id, rate);
      }
      const r = limit({ links: modelLinks, demands: rdemands, paths: () => [], podNode }, { linkLoadGbps, demandRateGbps }, this.limitState, options);
      this.limitState = r.state;
      changes.push(...r.changes);
    }
    let weights = steering?.weights;
    if (policies.includes('weights')) {
      const next = this.serviceWeights(utilization, weights ?? {});
      for (const c of next.changes) changes.push(c);
      weights = next.weights;
    }
    this.rebalanceStats.rounds++;
    if (changes.length === 0) return [];
    const limits = { ...(steering?.limits ?? {}) };
    for (const c of changes) {
      if (c.kind === 'meter') (limits[c.pod] = c.gbps), this.rebalanceStats.meters++;
      else if (c.kind === 'unmeter') delete limits[c.pod], this.rebalanceStats.unmeters++;
      else if (c.kind === 'pin') this.rebalanceStats.pins++;
      else if (c.kind === 'unpin') this.rebalanceStats.unpins++;
      else if (c.kind === 'move') this.rebalanceStats.moves++;
      else if (c.kind === 'weights') this.rebalanceStats.weights++;
    }
    if (changes.some((c) => c.kind !== 'move')) {
      const sortedPins = [...pins.values()].sort((a, b) => byIndex(a.id) - byIndex(b.id) || (a.id < b.id ? -1 : 1));
      this.setSteering({ pins: sortedPins, limits, ...(weights && Object.keys(weights).length > 0 ? { weights } : {}) });
    }
    return changes;
  }

  /**
   * The `weights` policy: a service's select-group bucket weights follow the measured load in front of
   * each endpoint (controller/rebalance.ts `serviceBucketWeights`: 100 x (1 - utilization) of the
   * busiest link direction into the endpoint's node, at least 1), so new connections go less to the
   * backends behind a busy link. Weights all equal are dropped (plain select group); a service's
   * weights change only when one moves by at least 10 (no churn on counter noise).
   */
  private serviceWeights(utilization: ReadonlyMap<string, number>, current: Record<string, Record<string, number>>): { weights: Record<string, Record<string, number>>; changes: RebalanceChange[] } {
    const into = new Map<string, number>();
    for (const [id, u] of utilization) {
      const to = id.slice(id.indexOf('->') + 2);
      into.set(to, Math.max(into.get(to) ?? 0, u));
    }
    const weights: Record<string, Record<string, number>> = {};
    const changes: RebalanceChange[] = [];
    for (const svc of [...this.state.services.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const eps = svc.endpoints.map((n) => this.state.pods.get(n)).filter((p) => p !== undefined && this.state.nodes.get(p.node)?.up !== false);
      const old = current[svc.name];
      let next: Record<string, number> | undefined;
      if (eps.length >= 2) {
        const w = serviceBucketWeights(eps.map((p) => ({ pod: p!.name, healthy: true, utilization: into.get(p!.node) ?? 0 })));
        if (new Set(w.map((x) => x.weight)).size > 1) next = Object.fromEntries(w.map((x) => [x.pod, x.weight]));
      }
      const moved = (a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean => {
        if (!a || !b) return a !== b;
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        for (const k of keys) if (a[k] === undefined || b[k] === undefined || Math.abs(a[k] - b[k]) >= 10) return true;
        return false;
      };
      if (moved(old, next)) {
        if (next) weights[svc.name] = next;
        changes.push(next ? { kind: 'weights', service: svc.name, weights: next } : { kind: 'weights', service: svc.name });
      } else if (old) weights[svc.name] = old;
    }
    return { weights, changes };
  }

  /** the paths of the pins in force, by demand id */
  get pinnedPaths(): ReadonlyMap<string, readonly string[]> {
    return this.pinPaths;
  }

  /** Pods the load-driven rebalancer meters now: pod -> Gbit/s. */
  get limits(): Record<string, number> {
    return { ...(this.state.steering?.limits ?? {}) };
  }

  /** Port counters read at `nowS` (seconds; only differences count): the links' load. */
  portCounters(nowS: number, counters: readonly PortCounters[]): void {
    this.load.sample(nowS, counters);
  }

  /** A switch (re)connected: it may hold anything, so it is read back before it is diffed. */
  switchConnected(name: string): void {
    this.connected.add(name);
    this.stale.add(name);
  }

  /** A switch's connection is gone (or its node went down): programmed in full when it is back. */
  switchLost(name: string): void {
    this.connected.delete(name);
    this.stale.add(name);
  }

  /** A switch was reset under us (a rebooted node's bridge is empty): read it back before the next diff. */
  switchReset(name: string): void {
    this.stale.add(name);
  }

  /**
   * A port's status (from the switch's features reply or a port-status message). Returns the link
   * changes it caused (a link is down while either end's port is).
   */
  portStatus(switchName: string, port: number, down: boolean): ClusterChange[] {
    this.portDown.set(`${switchName}/${port}`, down);
    return this.syncLinks();
  }

  /**
   * An operator's link down/up (POST /events, a link removed from or restored to the scenario file).
   * Down holds whatever the ports report; up hands the link back to its ports. Throws when there is no
   * such link.
   */
  setLinkAdmin(a: string, b: string, up: boolean, out: ClusterChange[] = []): ClusterChange[] {
    const link = this.state.links.get(`${a}|${b}`) ?? this.state.links.get(`${b}|${a}`);
    if (!link) throw new Error(`link ${up ? 'up' : 'down'}: there is no link between ${a} and ${b}`);
    if (up) this.adminDown.delete(link.id);
    else this.adminDown.add(link.id);
    out.push(...this.syncLinks());
    return out;
  }

  /** link ids an operator set down */
  get linksAdminDown(): string[] {
    return [...this.adminDown];
  }

  /** link ids that are down now */
  get linksDown(): string[] {
    return [...this.state.links.values()].filter((l) => !l.up).map((l) => l.id);
  }

  /** Links whose liveness (admin state, both ports) differs from the state: applied as link events. */
  private syncLinks(): ClusterChange[] {
    const out: ClusterChange[] = [];
    for (const link of this.state.links.values()) {
      let portDown = false;
      for (const name of [link.a, link.b]) {
        const sw = this.state.switches.get(name);
        const port = sw?.ports.find((p) => p.kind === 'link' && p.linkId === link.id);
        if (port && this.portDown.get(`${name}/${port.port}`) === true) portDown = true;
      }
      const up = !portDown && !this.adminDown.has(link.id);
      if (up !== link.up) out.push(...this.record(applyTopologyEvent(this.state, { at: 0, kind: 'link', action: up ? 'up' : 'down', between: [link.a, link.b] })));
    }
    return out;
  }

  private record(changes: ClusterChange[]): ClusterChange[] {
    this.pending.push(...changes);
    return changes;
  }

  /**
   * The state was changed by someone else who says how (the lab's play applies its events to the
   * state itself and hands over the changes they made): the next pass compiles incrementally.
   */
  stateChanged(changes: readonly ClusterChange[]): void {
    this.record([...changes]);
  }

  /**
   * The state was changed behind the loop's back, and nobody says how: the next pass compiles in full.
   */
  stateReplaced(): void {
    this.desired = undefined;
    this.pending = [];
  }

  /** changes not yet compiled */
  get dirty(): boolean {
    return this.pending.length > 0 || this.desired === undefined;
  }

  // ---- the pass -------------------------------------------------------------------------------

  /** The last compiled plan (undefined before the first pass). */
  get plans(): FabricPlan | undefined {
    return this.desired;
  }

  /** Compile (incrementally from the previous plan and the pending changes) and plan every switch. */
  pass(reason = 'pass'): PassPlan {
    const changes = this.pending;
    this.pending = [];
    const previous = this.desired;
    let compileFallback: string | undefined;
    let desired: FabricPlan;
    if (previous && this.compiler.compileIncremental) {
      try {
        desired = this.compiler.compileIncremental(previous, this.state, changes);
      } catch (err) {
        compileFallback = (err as Error).message;
        desired = this.compiler.compileCluster(this.state);
      }
    } else desired = this.compiler.compileCluster(this.state);
    this.desired = desired;
    this.passes++;
    const plan: PassPlan = { reason, ops: [], reads: [], unchanged: 0, unreachable: [], plans: desired, ...(compileFallback !== undefined ? { compileFallback } : {}) };
    for (const name of [...this.state.switches.keys()].sort()) {
      if (!this.reachableOf(name)) {
        this.stale.add(name); // it cannot be programmed now: diff it in full when it is back
        plan.unreachable.push(name);
        continue;
      }
      const want = desired.get(name);
      if (!want) continue;
      const last = this.sent.get(name);
      const clean = !this.stale.has(name) && this.verify === 'stale';
      // the same plan object as last time, and nothing touched the switch since: the diff is empty
      if (clean && last === want) {
        plan.unchanged++;
        continue;
      }
      if (clean && last) {
        // a clean switch holds (or, with ops in flight, will hold) exactly the plan we last sent it:
        // diff against that plan, which lets the reconciler compare only the parts that changed
        const ops = this.compiler.reconcile(want, last);
        this.sent.set(name, want);
        plan.ops.push({ switch: name, ops });
        continue;
      }
      plan.reads.push(name);
    }
    return plan;
  }

  /** The ops for a switch the pass asked to read back, diffed against what it holds (`actual`). */
  diffRead(name: string, actual: SwitchPlan): SwitchOp[] {
    const want = this.desired?.get(name);
    if (!want) return [];
    const ops = this.compiler.reconcile(want, actual);
    this.stale.delete(name);
    this.sent.set(name, want);
    return ops;
  }

  /** What the shell reports after sending a switch its ops: a failure (or a lost batch) makes it stale. */
  applied(name: string, ok: boolean): void {
    if (!ok) this.stale.add(name);
  }
}

/**
 * One pass through a synchronous port (the simulator's driver, test ports): the ops of every switch
 * the pass planned, in switch-name order, each switch read back first where the pass asked. A port
 * whose `apply` throws marks that switch stale. Returns the ops sent per switch, in that order.
 */
export function runPassSync(loop: ControlLoop, port: { read(name: string): SwitchPlan; apply(name: string, ops: readonly SwitchOp[]): void }, reason = 'pass'): { pass: PassPlan; sent: { switch: string; ops: number }[] } {
  const pass = loop.pass(reason);
  const planned = new Map<string, SwitchOp[] | 'read'>();
  for (const { switch: name, ops } of pass.ops) planned.set(name, ops);
  for (const name of pass.reads) planned.set(name, 'read');
  const sent: { switch: string; ops: number }[] = [];
  for (const name of [...planned.keys()].sort()) {
    const p = planned.get(name)!;
    const ops = p === 'read' ? loop.diffRead(name, port.read(name)) : p;
    try {
      port.apply(name, ops);
    } catch {
      loop.applied(name, false);
    }
    sent.push({ switch: name, ops: ops.length });
  }
  return { pass, sent };
}

/** traffic-INDEX -> INDEX (other ids sort after) */
function byIndex(id: string): number {
  const m = /^traffic-(\d+)$/.exec(id);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}
