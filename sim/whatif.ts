/**
 * What-if failure analysis (`fabric whatif`, docs/whatif.md): for every single failure (a link, a
 * node, a fabric switch), what reachability is lost and how hot the links get, at virtual time T.
 *
 * Incremental, on the simulator's own machinery:
 * - the run is brought to T once (`SimRun.advanceTo`: events up to T applied, the controller's work
 *   landed); the controller's plan at T is the base, compiled once;
 * - per failure, the failure's events are applied to a copy of the controller's view and of the
 *   physical state (copy-on-write: only the links, nodes and switches a failure touches are copied,
 *   the rest is shared read-only), the plan is recompiled incrementally (controller/compile.ts
 *   `compileIncremental`), and the switches whose plan changed get the diff (controller/reconcile.ts)
 *   applied to their simulated switch — when a packet that may need it first enters the switch;
 *   the network reads the failed physical state. Probes and demand walks then run through the
 *   switches executing the compiled flows — the walk `fabric trace`, the `reach` expectations and the
 *   bandwidth model use. Then the inverse operations are applied and the base state is back:
 *   nothing of a failure survives it;
 * - a probe or demand whose baseline walks (ARP, request, reply) passed no switch the failure
 *   affects takes the same walk again: it is not re-walked. Affected: a failed node, an end of a
 *   failed link, a neighbour of a failed node (port liveness), a switch with group or meter changes
 *   or flow changes not bound to destinations; or flow changes matching destination prefixes that
 *   hold an address the walk's packets carried. The walk is a function of the flows, groups and
 *   port liveness of the switches it passes and of its packets, so this is exact (property test);
 * - every probe is a new connection: the switches' conntrack tables are set aside for the analysis
 *   (and put back after) and emptied before the baseline and before each failure.
 *
 * Deterministic: no clock, no randomness but the scenario seed's PRNG (`fork('whatif')`), which
 * samples representative pairs when there are more than the budget.
 */
import type { ClusterChange, ClusterState, Endpoints, LinkState, NodeState, ScenarioEvent, SurvivesSpec, SwitchState } from '../topology/types';
import type { FabricPlan } from '../controller/compile';
import { compileCluster, compileIncremental, partsOf } from '../controller/compile';
import type { Part } from '../controller/flows';
import { reconcile } from '../controller/reconcile';
import { demandId } from '../controller/demands';
import { applyEvent, selectorMatches } from '../topology/cluster';
import type { Flow, Group, Meter, SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import { flowIdentity } from '../controller/normalize';
import { Conntrack } from './conntrack';
import { Prng } from './prng';
import { probe } from './probe';
import { S, ipToU32 } from './packet';
import type { Packet } from './packet';
import type { SimSwitch } from './switch';
import type { ProbeSpec } from './probe';
import { SimNetwork } from './network';
import type { Host } from './network';
import type { ControlLoop } from '../controller/loop';
import type { SimDriver } from './driver';
import { demandWalk } from './demands';
import type { DemandWorld } from './demands';
import { BandwidthTimeline } from './bandwidth-timeline';
import type { ActiveDemand, BlockedDemand } from './bandwidth-timeline';
import type { PodMeter } from './bandwidth';

/**
 * What the analysis needs of a run (sim/runner.ts's SimRun is one): a structural type, so that the
 * runner evaluates `survives` expectations through this module without the two importing each other.
 */
export interface WhatIfRun extends Omit<DemandWorld, 'loop' | 'driver'> {
  readonly seed: number;
  readonly loop: ControlLoop;
  readonly driver: SimDriver;
}

export type FailKind = 'links' | 'nodes' | 'switches' | 'each';
/**
 * Named failures: each entry is one failure made of its elements failing together (a link `a|b`, a
 * node, or a fabric switch: all its links): `[['tor1|spine1', 'tor2|spine1'], ['node3']]`.
 */
export interface FailCombinations {
  combinations: string[][];
}

/** One failure: a link, a node, or a fabric switch (all its links down at once). */
export interface Failure {
  kind: 'link' | 'node' | 'switch' | 'combination';
  /** a link's id `a|b`, a node's or a switch's name; a combination's elements joined by ' + ' */
  name: string;
  /** the scenario events that make it (a switch: one link down per link of it that is up) */
  events: ScenarioEvent[];
}

export type PairKind = 'pod-pod' | 'pod-service' | 'external-service' | 'external-pod' | 'pod-external' | 'listed';

/** One probed pair: a connection from `from` to `to` (TCP when a port is given, else ICMP echo). */
export interface ProbePair {
  kind: PairKind;
  from: string;
  to: string;
  port?: number;
  protocol?: 'tcp' | 'udp';
  /** the groups the pair counts under: a pod's app label (or first label), `svc NAME`, `ext NAME` */
  fromGroup: string;
  toGroup: string;
  /** the connection's source port (and ICMP id): fixed per pair */
  srcPort: number;
}

export interface LostGroup {
  from: string;
  to: string;
  /** pairs of this group pair that reached before and do not under the failure */
  lost: number;
  /** pairs of this group pair that reached before the failure */
  of: number;
  /** the first lost pair, with why */
  example: { from: string; to: string; port?: number; detail: string };
}

export interface OverLink {
  link: string;
  utilization: number;
}

export interface BandwidthFigure {
  /** the highest carried utilization of any link direction (rounded to 6 decimals) */
  maxUtilization: number;
  /** that direction, `a->b` (absent: no traffic) */
  hottest?: string;
  /** directions above the threshold, hottest first */
  overThreshold: OverLink[];
  /** demands active at T whose packets the switches do not deliver (they carry nothing) */
  blocked: { index: number; from: string; to: string; reason: string }[];
}

export interface FailureResult extends BandwidthFigure {
  failure: { kind: Failure['kind']; name: string };
  /** representative pairs that reached before and do not now */
  lostPairs: number;
  /** by group pair, most lost first */
  lost: LostGroup[];
  /** pairs walked again (their baseline walks passed a switch this failure affects) */
  reprobed: number;
  /** switches whose compiled plan changed */
  switchesChanged: number;
  /** the failure cannot be applied (never happens for failures this module lists) */
  error?: string;
}

export interface WhatIfReport {
  scenario: string;
  at: number;
  fail: string;
  threshold: number;
  sampling: {
    /** one pod per (node, label group) */
    representatives: number;
    /** pairs probed before any failure, by kind */
    pairs: Partial<Record<PairKind, number>>;
    probed: number;
    /** of which reached: the pairs whose loss is looked for */
    reachable: number;
    /** all representative pairs, before sampling down to the budget */
    candidates: number;
    note: string;
  };
  baseline: BandwidthFigure;
  /** failures evaluated */
  evaluated: number;
  /** ranked worst first: lost pairs, then max utilization */
  failures: FailureResult[];
}

export interface WhatIfOptions {
  /** virtual time (s), default 0 */
  at?: number;
  /** which single failures (default 'each'), or named links */
  fail?: FailKind | [string, string][] | FailCombinations;
  /** utilization above which a link direction is reported (default 0.9) */
  threshold?: number;
  /** the most representative pairs probed (default 2000): more are sampled down with the seed's PRNG */
  maxPairs?: number;
  /** explicit pairs instead of the representative ones (the `survives` gate) */
  pairs?: Endpoints[];
  /** called after each failure */
  onProgress?: (done: number, total: number) => void;
  /** called once the failures are listed (a progress bar's total) */
  onStart?: (total: number) => void;
  /**
   * A clock (ms) to split the time of each failure into phases (`WhatIfSession.timings`): benchmarks
   * pass one; sim/ never reads a clock itself.
   */
  clock?: () => number;
}

/** Milliseconds spent per phase over the failures evaluated (with `WhatIfOptions.clock`). */
export interface WhatIfTimings {
  compile: number;
  program: number;
  probes: number;
  bandwidth: number;
  restore: number;
}

export const DEFAULT_THRESHOLD = 0.9;
export const DEFAULT_MAX_PAIRS = 2000;
export const SAMPLING_NOTE = 'reachability is probed between representatives: one pod per (node, label group: its app label, else its first label); pods to pods, pods to services (VIP:port), externals to LoadBalancer services and to pods, pods to externals; pairs beyond the budget are sampled with the scenario seed';

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** The group a pod counts under: its `app` label, else its first label `k=v`, else `(no labels)`. */
export function podGroup(labels: Record<string, string>): string {
  if (labels.app !== undefined) return labels.app;
  const keys = Object.keys(labels).sort();
  return keys.length > 0 ? `${keys[0]}=${labels[keys[0]!]}` : '(no labels)';
}

/** The single failures of a kind in the state at T: links and nodes that are up, fabric switches with a link up. */
export function listFailures(state: ClusterState, fail: FailKind | [string, string][] | FailCombinations, at = 0): Failure[] {
  const out: Failure[] = [];
  const linkDown = (l: LinkState): ScenarioEvent => ({ at, kind: 'link', action: 'down', between: [l.a, l.b] });
  if (!Array.isArray(fail) && typeof fail === 'object') {
    for (const combo of fail.combinations) {
      const events: ScenarioEvent[] = [];
      const seen = new Set<string>();
      const down = (l: LinkState) => {
        if (l.up && !seen.has(l.id)) events.push(linkDown(l));
        seen.add(l.id);
      };
      for (const element of combo) {
        if (element.includes('|')) {
          const [a, b] = element.split('|');
          const l = state.links.get(`${a}|${b}`) ?? state.links.get(`${b}|${a}`);
          if (!l) throw new WhatIfError(`whatif: there is no link between ${a} and ${b}`);
          down(l);
        } else if (state.nodes.has(element)) {
          if (state.nodes.get(element)!.up) events.push({ at, kind: 'node', action: 'down', name: element });
        } else if (state.switches.get(element)?.role === 'fabric') {
          for (const l of state.links.values()) if (l.a === element || l.b === element) down(l);
        } else {
          throw new WhatIfError(`whatif: '${element}' is not a link (a|b), a node or a fabric switch`);
        }
      }
      out.push({ kind: combo.length === 1 ? (combo[0].includes('|') ? 'link' : state.nodes.has(combo[0]) ? 'node' : 'switch') : 'combination', name: combo.join(' + '), events });
    }
    return out;
  }
  if (Array.isArray(fail)) {
    for (const [a, b] of fail) {
      const l = state.links.get(`${a}|${b}`) ?? state.links.get(`${b}|${a}`);
      if (!l) throw new WhatIfError(`whatif: there is no link between ${a} and ${b}`);
      out.push({ kind: 'link', name: l.id, events: l.up ? [linkDown(l)] : [] });
    }
    return out;
  }
  if (fail === 'links' || fail === 'each') for (const l of state.links.values()) if (l.up) out.push({ kind: 'link', name: l.id, events: [linkDown(l)] });
  if (fail === 'nodes' || fail === 'each') for (const n of state.nodes.values()) if (n.up) out.push({ kind: 'node', name: n.name, events: [{ at, kind: 'node', action: 'down', name: n.name }] });
  if (fail === 'switches' || fail === 'each') {
    for (const sw of state.switches.values()) {
      if (sw.role !== 'fabric' || !sw.up) continue;
      const links = [...state.links.values()].filter((l) => l.up && (l.a === sw.name || l.b === sw.name));
      if (links.length > 0) out.push({ kind: 'switch', name: sw.name, events: links.map(linkDown) });
    }
  }
  return out;
}

export class WhatIfError extends Error {
  override readonly name = 'WhatIfError';
  readonly exitCode = 2;
}

/**
 * A copy of the state that a failure's events can be applied to: new maps of links, nodes and
 * switches, with fresh objects for the ones the events touch; everything else is shared (read only).
 */
export function failureCopy(state: ClusterState, events: readonly ScenarioEvent[]): ClusterState {
  const links = new Map(state.links);
  const nodes = new Map(state.nodes);
  const switches = new Map(state.switches);
  for (const ev of events) {
    if (ev.kind === 'link') {
      const [a, b] = ev.between;
      const id = links.has(`${a}|${b}`) ? `${a}|${b}` : `${b}|${a}`;
      const l = links.get(id);
      if (l) links.set(id, { ...l } as LinkState);
    } else if (ev.kind === 'node') {
      const n = nodes.get(ev.name);
      if (n) nodes.set(ev.name, { ...n } as NodeState);
      const sw = switches.get(ev.name);
      if (sw) switches.set(ev.name, { ...sw } as SwitchState);
    } else {
      throw new WhatIfError(`whatif: only link and node events are failures, not ${ev.kind}`);
    }
  }
  return { ...state, links, nodes, switches };
}

interface Resolved {
  pair: ProbePair;
  host: Host;
  spec: Omit<ProbeSpec, 'srcPort' | 'icmpId'>;
}

interface Verdict {
  ok: boolean;
  detail: string;
  /** switch indexes the probe's walks passed */
  visited: Int32Array;
  /** every IPv4 address the probe's packets carried, sent or output by a switch (before and after NAT) */
  ips: Uint32Array;
}

/**
 * What a failure changed on one switch: everything (`all`: its ports' liveness, its groups or
 * meters, a flow not bound to destinations), or only flows that match destinations in these
 * prefixes (a routing change: a packet to another address looks up exactly what it did).
 */
type SwitchDelta = 'all' | { value: number; mask: number }[];

/** The addresses a walk's packets carried: what the host sent, and what every switch output. */
function walkIps(walks: readonly { walk: { passes: readonly { outputs: readonly { packet: { isIp: boolean; u32(slot: number): number } }[] }[] } }[], sent: readonly number[]): Uint32Array {
  const ips = new Set<number>(sent.map((x) => x >>> 0));
  for (const w of walks) {
    for (const p of w.walk.passes) {
      for (const o of p.outputs) {
        if (!o.packet.isIp) continue;
        ips.add(o.packet.u32(S.ipv4_src) >>> 0);
        ips.add(o.packet.u32(S.ipv4_dst) >>> 0);
      }
    }
  }
  return Uint32Array.from(ips);
}

/** Whether a baseline walk (its switches and addresses) may walk differently under the deltas. */
function touches(visited: Int32Array, ips: Uint32Array, deltas: (SwitchDelta | undefined)[]): boolean {
  for (let i = 0; i < visited.length; i++) {
    const d = deltas[visited[i]!];
    if (d === undefined) continue;
    if (d === 'all') return true;
    for (const p of d) for (let k = 0; k < ips.length; k++) if (((ips[k]! & p.mask) >>> 0) === p.value) return true;
  }
  return false;
}

/** The probe of one pair: the walk `reach` expectations and `fabric trace` use, with the pair's fixed source port. */
export function probePair(net: WhatIfRun['network'], host: Host, spec: Omit<ProbeSpec, 'srcPort' | 'icmpId'>, srcPort: number, nowUs: number): ReturnType<typeof probe> {
  return probe(net, host, { ...spec, srcPort, icmpId: srcPort }, nowUs, false);
}

/**
 * An analysis session on a run brought to T (converged). `evaluate` applies one failure, measures
 * and restores; `close` gives the switches their conntrack tables back.
 */
export class WhatIfSession {
  readonly basePlan: FabricPlan;
  readonly pairs: ProbePair[];
  readonly candidates: number;
  readonly representatives: number;
  private readonly resolved: (Resolved | undefined)[] = [];
  private readonly unresolved = new Map<number, string>();
  private baselineVerdicts: Verdict[] = [];
  private readonly switchIndex = new Map<string, number>();
  private readonly savedConntrack = new Map<string, Conntrack>();
  private closed = false;
  private readonly podCache: { podLimits?: PodMeter[]; podNode?: Map<string, string> } = {};
  /** the demands carried with nothing failed: their walk, and what it depends on */
  private readonly baseDemands = new Map<number, { result: DemandWalkResult; visited: Int32Array; ips: Uint32Array }>();
  readonly timings: WhatIfTimings = { compile: 0, program: 0, probes: 0, bandwidth: 0, restore: 0 };
  private tick(phase: keyof WhatIfTimings | undefined): void {
    const clock = this.options.clock;
    if (!clock) return;
    const t = clock();
    if (phase) this.timings[phase] += t - this.lastTick;
    this.lastTick = t;
  }
  private lastTick = 0;
  baseline: BandwidthFigure | undefined;

  constructor(
    readonly run: WhatIfRun,
    readonly at: number,
    readonly options: WhatIfOptions = {},
  ) {
    this.basePlan = run.loop.plans ?? compileCluster(run.loop.state);
    let i = 0;
    for (const name of run.physical.switches.keys()) this.switchIndex.set(name, i++);
    const { pairs, candidates, representatives } = options.pairs ? listedPairs(options.pairs) : representativePairs(run.physical, run.seed, options.maxPairs ?? DEFAULT_MAX_PAIRS);
    this.pairs = pairs;
    this.candidates = candidates;
    this.representatives = representatives;
    pairs.forEach((p, k) => {
      const host = run.sourceHost(p.from);
      const target = typeof host === 'string' ? host : run.resolveTarget(p.to, p.port, p.protocol, p.from);
      if (typeof host === 'string' || typeof target === 'string') {
        this.resolved.push(undefined);
        this.unresolved.set(k, typeof host === 'string' ? host : (target as string));
      } else this.resolved.push({ pair: p, host, spec: target.spec });
    });
    // every probe is a new connection: the run's conntrack tables are set aside until close()
    for (const [name, sw] of run.network.switches) {
      this.savedConntrack.set(name, sw.conntrack);
      (sw as unknown as { conntrack: Conntrack }).conntrack = new Conntrack();
    }
  }

  private clearConntrack(): void {
    for (const sw of this.run.network.switches.values()) if (sw.conntrack.size > 0) sw.conntrack.clear();
  }

  private probeOne(k: number): Verdict {
    const r = this.resolved[k];
    if (!r) return { ok: false, detail: this.unresolved.get(k) ?? 'unresolved', visited: new Int32Array(0), ips: new Uint32Array(0) };
    const res = probePair(this.run.network, r.host, r.spec, r.pair.srcPort, this.run.engine.nowUs());
    const seen = new Set<number>();
    for (const w of res.walks) for (const p of w.walk.passes) seen.add(this.switchIndex.get(p.switch) ?? -1);
    return { ok: res.ok, detail: res.detail, visited: Int32Array.from(seen), ips: walkIps(res.walks, [r.host.ipU32, ipToU32(r.spec.dstIp)]) };
  }

  /** Probe every pair and measure the bandwidth with nothing failed. */
  runBaseline(): { verdicts: { pair: ProbePair; ok: boolean; detail: string }[]; bandwidth: BandwidthFigure } {
    this.clearConntrack();
    this.baselineVerdicts = this.pairs.map((_, k) => this.probeOne(k));
    this.baseDemands.clear();
    this.baseline = measureBandwidth(this.world(this.run.physical), this.at, this.options.threshold ?? DEFAULT_THRESHOLD, this.podCache, undefined, (index, result) => {
      if ('blocked' in result) return;
      // the demand's packet once more, to know which switches and addresses its walk depends on
      const d = this.run.scenario.traffic[index]!;
      const host = this.run.sourceHost(d.from);
      const target = typeof host === 'string' ? host : this.run.resolveTarget(d.to, d.port, undefined, d.from);
      if (typeof host === 'string' || typeof target === 'string') return;
      const srcPort = 20000 + (index % 10000);
      const r = probe(this.run.network, host, { ...target.spec, srcPort, icmpId: srcPort }, this.run.engine.nowUs(), false);
      const visited = new Set<number>();
      for (const w of r.walks) for (const p of w.walk.passes) visited.add(this.switchIndex.get(p.switch) ?? -1);
      this.baseDemands.set(index, { result, visited: Int32Array.from(visited), ips: walkIps(r.walks, [host.ipU32, ipToU32(target.spec.dstIp)]) });
    });
    return { verdicts: this.pairs.map((pair, k) => ({ pair, ok: this.baselineVerdicts[k]!.ok, detail: this.baselineVerdicts[k]!.detail })), bandwidth: this.baseline };
  }

  get reachableBefore(): number {
    return this.baselineVerdicts.filter((v) => v.ok).length;
  }

  private world(physical: ClusterState): DemandWorld {
    const run = this.run;
    return {
      scenario: run.scenario,
      loop: run.loop,
      engine: run.engine,
      network: run.network,
      physical,
      driver: run.driver,
      sourceHost: (from) => run.sourceHost(from),
      resolveTarget: (to, port, protocol, from) => run.resolveTarget(to, port, protocol, from),
      whenConvergedPublic: (atUs, label, fn) => run.whenConvergedPublic(atUs, label, fn),
    };
  }

  /**
   * Apply `failure` on copies, recompile incrementally, program the changed switches, run `fn` on
   * the failed world, then put everything back.
   */
  withFailure<T>(failure: Failure, fn: (ctx: { physical: ClusterState; changed: string[]; deltas: (SwitchDelta | undefined)[] }) => T): T {
    const run = this.run;
    this.tick(undefined);
    const view = failureCopy(run.loop.state, failure.events);
    const physical = failureCopy(run.physical, failure.events);
    const changes: ClusterChange[] = [];
    for (const ev of failure.events) {
      changes.push(...applyEvent(view, ev));
      applyEvent(physical, ev);
    }
    const plan = changes.length > 0 ? compileIncremental(this.basePlan, view, changes) : this.basePlan;
    const changed: string[] = [];
    for (const [name, p] of plan) if (this.basePlan.get(name) !== p) changed.push(name);
    this.tick('compile');
    // what the failure changes per switch: failed elements and the neighbours whose ports to them
    // die change everything; a changed plan changes what its diff touches (below)
    const deltas: (SwitchDelta | undefined)[] = new Array(this.switchIndex.size);
    const mark = (name: string): void => {
      const i = this.switchIndex.get(name);
      if (i !== undefined) deltas[i] = 'all';
    };
    for (const name of changed) if (physical.switches.get(name)?.up !== true) mark(name);
    for (const ev of failure.events) {
      if (ev.kind === 'link') ev.between.forEach(mark);
      else if (ev.kind === 'node') {
        mark(ev.name);
        for (const l of run.physical.links.values()) if (l.a === ev.name || l.b === ev.name) (mark(l.a), mark(l.b));
      }
    }
    // program what the controller would: the switches it can reach (a failed node is not). The diff
    // lands on a switch when a packet first enters it (what no packet enters cannot tell the
    // difference, and a simulated table re-indexes itself after a change: the untouched ones skip it)
    const programmed: { name: string; undo: SwitchOp[] }[] = [];
    const pending = new Map<string, SwitchOp[]>();
    const net = run.network;
    const lazyPlans = new Map<string, SwitchPlan>();
    const gates = new Map<string, { value: number; mask: number }[]>();
    const land = (name: string): void => {
      let ops = pending.get(name);
      if (!ops) return;
      pending.delete(name);
      if (ops === LAZY_DIFF) ops = reconcile(lazyPlans.get(name)!, this.basePlan.get(name)!);
      const sw = SimNetwork.prototype.switch.call(net, name);
      programmed.push({ name, undo: this.inverse(name, this.basePlan.get(name)!, ops) });
      for (const op of ops) sw.applyOp(op);
    };
    try {
      for (const name of changed) {
        if (physical.switches.get(name)?.up !== true) continue;
        const base = this.basePlan.get(name);
        const next = plan.get(name);
        if (!base || !next) continue;
        const i = this.switchIndex.get(name);
        // what changed, from the compiled parts (flows are shared objects between plans): a superset
        // of the diff, cheap; the diff itself is computed when a packet enters the switch
        const quick = this.partDelta(name, base, next);
        if (quick === undefined) {
          const ops = reconcile(next, base);
          if (ops.length === 0) continue;
          pending.set(name, ops);
          if (i !== undefined && deltas[i] !== 'all') deltas[i] = deltaOfOps(ops, deltas[i]);
          continue;
        }
        if (quick === 'none') continue;
        pending.set(name, LAZY_DIFF);
        if (i !== undefined && deltas[i] !== 'all') deltas[i] = quick === 'all' ? 'all' : [...(deltas[i] === undefined ? [] : (deltas[i] as { value: number; mask: number }[])), ...quick];
        lazyPlans.set(name, next);
        // a switch whose changed flows all match destinations, and whose flows and groups never rewrite
        // a destination: a packet to another destination looks up the same flows in either table
        if (quick !== 'all' && !this.rewritesDst(name, base) && !this.lastChanged.some(flowRewritesDst)) gates.set(name, quick);
      }
      // meters are read straight from the switches' tables (the bandwidth model): those land now
      // (with a rebalancer, whose meters may change, every diff lands now)
      const rebalancing = run.scenario.cluster.rebalance.length > 0;
      for (const [name, ops] of [...pending]) if (rebalancing || ops.some((o) => o.op.endsWith('meter'))) land(name);
      (net as { switch: SimNetwork['switch'] }).switch = (name: string) => {
        const sw = SimNetwork.prototype.switch.call(net, name);
        if (!pending.has(name)) return sw;
        const gate = gates.get(name);
        if (!gate) {
          land(name);
          return sw;
        }
        // the walk hands the switch one packet: the diff lands first when that packet may need it
        return {
          process: (pkt: Packet, inPort: number, atUs: number, trace?: boolean, owned?: boolean) => {
            if (pkt.isIp) {
              const dst = pkt.u32(S.ipv4_dst) >>> 0;
              if (gate.some((g) => ((dst & g.mask) >>> 0) === g.value)) land(name);
            }
            return sw.process(pkt, inPort, atUs, trace, owned);
          },
        } as unknown as SimSwitch;
      };
      net.state = physical;
      this.clearConntrack();
      this.tick('program');
      return fn({ physical, changed, deltas });
    } finally {
      this.tick(undefined);
      delete (net as { switch?: unknown }).switch;
      net.state = run.physical;
      for (const { name, undo } of programmed.reverse()) {
        const sw = net.switch(name);
        for (const op of undo) sw.applyOp(op);
      }
      this.tick('restore');
    }
  }

  private readonly baseIndex = new Map<string, { flows: Map<string, Flow>; groups: Map<number, Group>; meters: Map<number, Meter> }>();

  /**
   * The operations that take a switch holding `base` plus `ops` back to `base` (cheaper than the
   * reverse diff): every op undone with what the base plan holds, in reverse order.
   */
  private inverse(name: string, base: SwitchPlan, ops: readonly SwitchOp[]): SwitchOp[] {
    let ix = this.baseIndex.get(name);
    if (!ix) {
      ix = { flows: new Map(base.flows.map((f) => [flowIdentity(f), f] as [string, Flow])), groups: new Map(base.groups.map((g) => [g.groupId, g] as [number, Group])), meters: new Map(base.meters.map((m) => [m.meterId, m] as [number, Meter])) };
      this.baseIndex.set(name, ix);
    }
    const undo: SwitchOp[] = [];
    for (const op of ops) {
      switch (op.op) {
        case 'add-flow':
        case 'modify-flow': {
          const old = ix.flows.get(flowIdentity(op.flow));
          undo.push(old ? { op: 'add-flow', flow: old } : { op: 'delete-flow', flow: op.flow });
          break;
        }
        case 'delete-flow':
          undo.push({ op: 'add-flow', flow: ix.flows.get(flowIdentity(op.flow)) ?? op.flow });
          break;
        case 'add-group':
        case 'modify-group': {
          const old = ix.groups.get(op.group.groupId);
          undo.push(old ? { op: 'modify-group', group: old } : { op: 'delete-group', groupId: op.group.groupId });
          break;
        }
        case 'delete-group': {
          const old = ix.groups.get(op.groupId);
          if (old) undo.push({ op: 'add-group', group: old });
          break;
        }
        case 'add-meter':
        case 'modify-meter': {
          const old = ix.meters.get(op.meter.meterId);
          undo.push(old ? { op: 'modify-meter', meter: old } : { op: 'delete-meter', meterId: op.meter.meterId });
          break;
        }
        case 'delete-meter': {
          const old = ix.meters.get(op.meterId);
          if (old) undo.push({ op: 'add-meter', meter: old });
          break;
        }
      }
    }
    undo.reverse();
    // a deleted group or meter takes the flows using it along (OpenFlow 1.3 §6.5): put those back last
    if (ops.some((o) => o.op === 'delete-group' || o.op === 'delete-meter')) {
      const dropped = new Set(ops.filter((o) => o.op === 'delete-group').map((o) => (o as { groupId: number }).groupId));
      const droppedMeters = new Set(ops.filter((o) => o.op === 'delete-meter').map((o) => (o as { meterId: number }).meterId));
      for (const f of ix.flows.values()) {
        const usesGroup = [...(f.instructions.apply ?? []), ...(f.instructions.write ?? [])].some((a) => a.type === 'group' && dropped.has(a.groupId));
        if (usesGroup || (f.instructions.meter !== undefined && droppedMeters.has(f.instructions.meter))) undo.push({ op: 'add-flow', flow: f });
      }
    }
    return undo;
  }

  /** the flows of the last `partDelta` that only one plan holds */
  private lastChanged: Flow[] = [];
  private readonly baseRewrites = new Map<string, boolean>();

  /** whether any flow or group bucket of the switch's base plan may rewrite a packet's destination */
  private rewritesDst(name: string, base: SwitchPlan): boolean {
    let r = this.baseRewrites.get(name);
    if (r === undefined) {
      r = base.flows.some(flowRewritesDst) || base.groups.some((g) => g.buckets.some((b) => b.actions.some(actionRewritesDst)));
      this.baseRewrites.set(name, r);
    }
    return r;
  }

  /** per switch: each flow of the base plan's parts -> the parts holding it */
  private readonly baseParts = new Map<string, { flows: Map<Flow, Part[]>; groups: Set<Group>; meters: Set<Meter> }>();

  /**
   * What changed between two compiled plans of a switch, from their parts: `none`, `all` (groups or
   * meters changed), or the ipv4_dst prefixes of the flows only one side holds (a superset of the
   * diff: a flow rebuilt equal counts as changed). Undefined: not compiled plans (use the diff).
   */
  private partDelta(name: string, base: SwitchPlan, next: SwitchPlan): 'none' | 'all' | { value: number; mask: number }[] | undefined {
    const bp = partsOf(base);
    const np = partsOf(next);
    if (!bp || !np) return undefined;
    let ix = this.baseParts.get(name);
    if (!ix) {
      ix = { flows: new Map(), groups: new Set(), meters: new Set() };
      for (const p of bp) {
        for (const f of p.flows) {
          const l = ix.flows.get(f);
          if (l) l.push(p);
          else ix.flows.set(f, [p]);
        }
        for (const g of p.groups) ix.groups.add(g);
        for (const m of p.meters) ix.meters.add(m);
      }
      this.baseParts.set(name, ix);
    }
    const bSet = new Set(bp);
    const nSet = new Set(np);
    const dOnly = np.filter((p) => !bSet.has(p));
    const aOnly = bp.filter((p) => !nSet.has(p));
    if (dOnly.length === 0 && aOnly.length === 0) return 'none';
    const dFlows = new Set<Flow>();
    const dGroups = new Set<Group>();
    const dMeters = new Set<Meter>();
    for (const p of dOnly) {
      for (const f of p.flows) dFlows.add(f);
      for (const g of p.groups) dGroups.add(g);
      for (const m of p.meters) dMeters.add(m);
    }
    const changedFlows: Flow[] = [];
    for (const f of dFlows) if (!ix.flows.has(f)) changedFlows.push(f);
    for (const p of aOnly) {
      for (const f of p.flows) {
        if (dFlows.has(f)) continue;
        // still held by a part both plans share?
        if ((ix.flows.get(f) ?? []).some((q) => nSet.has(q))) continue;
        changedFlows.push(f);
      }
      for (const g of p.groups) if (!dGroups.has(g)) return 'all';
      for (const m of p.meters) if (!dMeters.has(m)) return 'all';
    }
    for (const g of dGroups) if (!ix.groups.has(g)) return 'all';
    for (const m of dMeters) if (!ix.meters.has(m)) return 'all';
    this.lastChanged = changedFlows;
    if (changedFlows.length === 0) return 'none';
    const out: { value: number; mask: number }[] = [];
    for (const f of changedFlows) {
      const m = f.match.ipv4_dst;
      if (!m) return 'all';
      const mask = m.mask === undefined ? 0xffffffff : Number(m.mask & 0xffffffffn) >>> 0;
      out.push({ value: (Number(m.value & 0xffffffffn) & mask) >>> 0, mask });
    }
    return out;
  }

  /** One failure: lost pairs (by group pair) and the bandwidth figure. */
  evaluate(failure: Failure): FailureResult {
    if (this.baselineVerdicts.length !== this.pairs.length || !this.baseline) this.runBaseline();
    const threshold = this.options.threshold ?? DEFAULT_THRESHOLD;
    return this.withFailure(failure, ({ physical, changed, deltas }) => {
      let reprobed = 0;
      const groups = new Map<string, LostGroup>();
      let lostPairs = 0;
      const of = new Map<string, number>();
      this.pairs.forEach((p, k) => {
        const before = this.baselineVerdicts[k]!;
        const key = `${p.fromGroup}\u0000${p.toGroup}`;
        if (!before.ok && !this.options.pairs) return;
        if (before.ok) of.set(key, (of.get(key) ?? 0) + 1);
        if (before.ok && !touches(before.visited, before.ips, deltas)) return;
        reprobed++;
        const now = this.probeOne(k);
        if (now.ok) return;
        lostPairs++;
        const g = groups.get(key);
        if (g) g.lost++;
        else groups.set(key, { from: p.fromGroup, to: p.toGroup, lost: 1, of: 0, example: { from: p.from, to: p.to, ...(p.port !== undefined ? { port: p.port } : {}), detail: now.detail } });
      });
      for (const [key, g] of groups) g.of = of.get(key) ?? 0;
      const lost = [...groups.values()].sort((a, b) => b.lost - a.lost || cmp(a.from, b.from) || cmp(a.to, b.to));
      this.tick('probes');
      // a demand whose walk passed nothing the failure changed takes the same path: not walked again
      const bw = measureBandwidth(this.world(physical), this.at, threshold, this.podCache, (index) => {
        const b = this.baseDemands.get(index);
        return b && !touches(b.visited, b.ips, deltas) ? b.result : undefined;
      });
      this.tick('bandwidth');
      return { failure: { kind: failure.kind, name: failure.name }, lostPairs, lost, ...bw, reprobed, switchesChanged: changed.length };
    });
  }

  /** The verdict of every pair under a failure (tests compare it with a full run). */
  verdictsUnder(failure: Failure): boolean[] {
    if (this.baselineVerdicts.length !== this.pairs.length) this.runBaseline();
    return this.withFailure(failure, () => this.pairs.map((_, k) => this.probeOne(k).ok));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [name, ct] of this.savedConntrack) {
      const sw = this.run.network.switches.get(name);
      if (sw) (sw as unknown as { conntrack: Conntrack }).conntrack = ct;
    }
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** an action that may change a packet's IPv4 destination (NAT, set_field, move), or one we do not know */
function actionRewritesDst(a: import('../fabric/openflow/flow').Action): boolean {
  switch (a.type) {
    case 'output':
    case 'group':
    case 'push_vlan':
    case 'pop_vlan':
    case 'dec_ttl':
    case 'set_queue':
    case 'ct_clear':
    case 'resubmit':
    case 'note':
    case 'controller':
    case 'output_reg':
      return false;
    case 'set_field':
      return a.field === 'ipv4_dst';
    case 'move':
      return a.dst.field === 'ipv4_dst';
    case 'ct':
      return !!(a as { nat?: unknown }).nat;
    default:
      return true;
  }
}

const flowRewritesDst = (f: Flow): boolean => [...(f.instructions.apply ?? []), ...(f.instructions.write ?? [])].some(actionRewritesDst);

/** a switch whose diff is computed when a packet first enters it */
const LAZY_DIFF: SwitchOp[] = [];

/** The delta of a switch's diff: the destination prefixes its flows match, or `all`. */
function deltaOfOps(ops: readonly SwitchOp[], prev: SwitchDelta | undefined): SwitchDelta {
  const out = prev === undefined || prev === 'all' ? [] : [...prev];
  for (const op of ops) {
    if (op.op !== 'add-flow' && op.op !== 'modify-flow' && op.op !== 'delete-flow') return 'all';
    const m = op.flow.match.ipv4_dst;
    if (!m) return 'all';
    const mask = m.mask === undefined ? 0xffffffff : Number(m.mask & 0xffffffffn) >>> 0;
    out.push({ value: (Number(m.value & 0xffffffffn) & mask) >>> 0, mask });
  }
  return out;
}

/** The meters the rebalancer imposed that the switches hold (as sim/demands.ts reads them). */
function imposedMeters(world: DemandWorld): PodMeter[] {
  const out: PodMeter[] = [];
  if (world.scenario.cluster.rebalance.length === 0) return out;
  for (const pod of [...world.physical.pods.values()].sort((a, b) => cmp(a.name, b.name))) {
    const sw = world.physical.switches.get(pod.node);
    const port = sw?.ports.find((p) => p.kind === 'pod' && p.pod === pod.name);
    const simSw = sw ? world.network.switches.get(sw.name) : undefined;
    if (!port || !simSw) continue;
    const band = simSw.dump().meters.find((m) => m.meterId === port.port)?.bands.find((b) => b.type === 'drop');
    if (!band) continue;
    const gbps = band.rate / 1e6;
    if (pod.egressGbps === undefined || gbps < pod.egressGbps - 1e-9) out.push({ pod: pod.name, gbps });
  }
  return out;
}

/**
 * The bandwidth model at T (sim/bandwidth-timeline.ts, one step): the demands active at T walked
 * through the switches (sim/demands.ts `demandWalk`, the demand's fixed 5-tuple), allocated max-min.
 */
export function measureBandwidth(
  world: DemandWorld,
  at: number,
  threshold: number,
  cache?: { podLimits?: PodMeter[]; podNode?: Map<string, string> },
  known?: (index: number) => DemandWalkResult | undefined,
  seen?: (index: number, result: DemandWalkResult) => void,
): BandwidthFigure {
  const sc = world.scenario;
  const demands: ActiveDemand[] = [];
  const blocked: BlockedDemand[] = [];
  const pinned = world.loop.pinnedPaths;
  sc.traffic.forEach((d, index) => {
    if (d.at > at || (d.until !== undefined && d.until <= at)) return;
    const p = known?.(index) ?? demandWalk(world, d.from, d.to, d.port, index);
    seen?.(index, p);
    if ('blocked' in p) {
      blocked.push({ index, from: d.from, to: d.to, askedGbps: d.gbps, ...p.blocked });
      return;
    }
    const pin = pinned.get(demandId(index));
    demands.push({ index, from: d.from, to: d.to, fromPod: p.fromPod, toPod: p.toPod, src: p.src, dst: p.dst, path: p.path, demandGbps: d.gbps, pinned: !!pin && pin.join() === p.path.join() });
  });
  const phys = world.physical;
  const timeline = new BandwidthTimeline();
  // pods neither move nor change limits under a link or node failure: a session computes these once
  const podLimits = (cache ? (cache.podLimits ??= podLimitsOf(phys)) : podLimitsOf(phys));
  const podNode = (cache ? (cache.podNode ??= podNodeOf(phys)) : podNodeOf(phys));
  const nodes = [...phys.nodes.values()].filter((n) => n.up).map((n) => n.name);
  const epoch = timeline.step(at, { links: [...phys.links.values()], demands, podLimits, podNode, nodes, meters: imposedMeters(world), blocked });
  // the figure `maxLinkUtilization` checks: the hottest direction (the first of equals, in the model's order)
  let hot: { link: string; u: number } | undefined;
  const overThreshold: OverLink[] = [];
  for (const [link, u] of epoch.linkUtilization) {
    if (!hot || u > hot.u + 1e-12) hot = { link, u };
    if (u > threshold + 1e-9) overThreshold.push({ link, utilization: round6(u) });
  }
  overThreshold.sort((a, b) => b.utilization - a.utilization || cmp(a.link, b.link));
  const maxUtilization = hot ? round6(hot.u) : 0;
  const hottest = hot && maxUtilization > 0 ? hot.link : undefined;
  return {
    maxUtilization,
    ...(hottest ? { hottest } : {}),
    overThreshold,
    blocked: blocked.map((b) => ({ index: b.index, from: b.from, to: b.to, reason: b.reason })),
  };
}

type DemandWalkResult = ReturnType<typeof demandWalk>;

const podLimitsOf = (s: ClusterState): PodMeter[] => [...s.pods.values()].filter((p) => p.egressGbps !== undefined).map((p) => ({ pod: p.name, gbps: p.egressGbps! }));
const podNodeOf = (s: ClusterState): Map<string, string> => new Map([...s.pods.values()].map((p) => [p.name, p.node] as [string, string]));

/** Pairs named by the user (the `survives` gate). */
function listedPairs(list: readonly Endpoints[]): { pairs: ProbePair[]; candidates: number; representatives: number } {
  const pairs = list.map((e, i) => ({
    kind: 'listed' as const,
    from: e.from,
    to: e.to,
    ...(e.port !== undefined ? { port: e.port } : {}),
    ...(e.protocol !== undefined ? { protocol: e.protocol } : {}),
    fromGroup: e.from,
    toGroup: e.to,
    srcPort: 40000 + (i % 20000),
  }));
  return { pairs, candidates: pairs.length, representatives: 0 };
}

/**
 * The representative pairs: one pod per (node, label group) as source and as destination. A pod
 * destination is probed on the port it serves (a service's targetPort; else an allow rule's port
 * when isolation is on; else ICMP echo); a service on its VIP:port; an external by ICMP echo.
 * More candidates than `maxPairs`: a sample drawn with the scenario seed's PRNG (fork 'whatif').
 */
export function representativePairs(state: ClusterState, seed: number, maxPairs: number): { pairs: ProbePair[]; candidates: number; representatives: number } {
  const reps: { name: string; group: string }[] = [];
  const seen = new Set<string>();
  const pods = [...state.pods.values()].sort((a, b) => cmp(a.name, b.name));
  const nodeOrder = new Map([...state.nodes.keys()].map((n, i) => [n, i] as [string, number]));
  for (const p of pods) {
    if (p.ready === false) continue;
    const group = podGroup(p.labels);
    const key = `${p.node}\u0000${group}`;
    if (seen.has(key)) continue;
    seen.add(key);
    reps.push({ name: p.name, group });
  }
  reps.sort((a, b) => (nodeOrder.get(state.pods.get(a.name)!.node) ?? 0) - (nodeOrder.get(state.pods.get(b.name)!.node) ?? 0) || cmp(a.group, b.group));
  const portOf = new Map<string, { port?: number; protocol?: 'tcp' | 'udp' }>();
  for (const r of reps) {
    const pod = state.pods.get(r.name)!;
    const svc = [...state.services.values()].sort((a, b) => cmp(a.name, b.name)).find((s) => s.endpoints.includes(r.name));
    if (svc) {
      portOf.set(r.name, { port: svc.targetPort, protocol: svc.protocol === 'udp' ? 'udp' : 'tcp' });
      continue;
    }
    const rule = state.cluster.isolation ? state.cluster.allow.find((a) => a.port !== undefined && Object.keys(a.to).length > 0 && selectorMatches(a.to, pod.labels)) : undefined;
    portOf.set(r.name, rule ? { port: rule.port, protocol: rule.protocol === 'udp' ? 'udp' : 'tcp' } : {});
  }
  const services = [...state.services.values()].sort((a, b) => cmp(a.name, b.name));
  const externals = [...state.externals.values()].sort((a, b) => cmp(a.name, b.name));
  // candidate pairs, by kind, as index tuples (enumerated lazily when sampling)
  type Gen = { kind: PairKind; count: number; at: (i: number) => Omit<ProbePair, 'srcPort'> | undefined };
  const R = reps.length;
  const gens: Gen[] = [
    {
      kind: 'pod-pod',
      count: R * Math.max(0, R - 1),
      at: (i) => {
        const s = reps[Math.floor(i / (R - 1))]!;
        let j = i % (R - 1);
        if (j >= Math.floor(i / (R - 1))) j++;
        const d = reps[j]!;
        const po = portOf.get(d.name)!;
        return { kind: 'pod-pod', from: s.name, to: d.name, ...po, fromGroup: s.group, toGroup: d.group };
      },
    },
    {
      kind: 'pod-service',
      count: R * services.length,
      at: (i) => {
        const s = reps[Math.floor(i / services.length)]!;
        const v = services[i % services.length]!;
        return { kind: 'pod-service', from: s.name, to: v.name, port: v.port, protocol: v.protocol === 'udp' ? 'udp' : 'tcp', fromGroup: s.group, toGroup: `svc ${v.name}` };
      },
    },
    {
      kind: 'external-service',
      count: externals.length * services.filter((v) => v.loadBalancerIp).length,
      at: (i) => {
        const lbs = services.filter((v) => v.loadBalancerIp);
        const e = externals[Math.floor(i / lbs.length)]!;
        const v = lbs[i % lbs.length]!;
        return { kind: 'external-service', from: e.name, to: v.name, port: v.port, protocol: v.protocol === 'udp' ? 'udp' : 'tcp', fromGroup: `ext ${e.name}`, toGroup: `svc ${v.name}` };
      },
    },
    {
      kind: 'external-pod',
      count: externals.length * R,
      at: (i) => {
        const e = externals[Math.floor(i / R)]!;
        const d = reps[i % R]!;
        return { kind: 'external-pod', from: e.name, to: d.name, ...portOf.get(d.name)!, fromGroup: `ext ${e.name}`, toGroup: d.group };
      },
    },
    {
      kind: 'pod-external',
      count: R * externals.length,
      at: (i) => {
        const s = reps[Math.floor(i / externals.length)]!;
        const e = externals[i % externals.length]!;
        return { kind: 'pod-external', from: s.name, to: e.name, fromGroup: s.group, toGroup: `ext ${e.name}` };
      },
    },
  ];
  const candidates = gens.reduce((n, g) => n + g.count, 0);
  const picked: Omit<ProbePair, 'srcPort'>[] = [];
  if (candidates <= maxPairs) {
    for (const g of gens) for (let i = 0; i < g.count; i++) picked.push(g.at(i)!);
  } else {
    // each kind gets a share of the budget in proportion to its candidates (at least one where it has
    // any, LoadBalancer services and externals being few and precious), drawn without replacement
    const prng = new Prng(seed).fork('whatif');
    const nonEmpty = gens.filter((g) => g.count > 0);
    let budget = maxPairs;
    const shares = nonEmpty.map((g) => {
      const share = Math.min(g.count, Math.max(1, Math.floor((maxPairs * g.count) / candidates)));
      return share;
    });
    // "at least one" may overshoot: take back from the largest shares
    while (shares.reduce((a, b) => a + b, 0) > maxPairs) {
      let k = 0;
      shares.forEach((x, j) => (x > shares[k]! ? (k = j) : undefined));
      if (shares[k]! <= 1) break;
      shares[k] = shares[k]! - 1;
    }
    budget -= shares.reduce((a, b) => a + b, 0);
    // hand out what rounding left to the kinds that have more
    for (let k = 0; budget > 0 && k < nonEmpty.length; k++) {
      const extra = Math.min(budget, nonEmpty[k]!.count - shares[k]!);
      shares[k] = shares[k]! + extra;
      budget -= extra;
    }
    nonEmpty.forEach((g, k) => {
      const want = shares[k]!;
      if (want >= g.count) {
        for (let i = 0; i < g.count; i++) picked.push(g.at(i)!);
        return;
      }
      const chosen = new Set<number>();
      while (chosen.size < want) chosen.add(prng.int(g.count));
      for (const i of [...chosen].sort((a, b) => a - b)) picked.push(g.at(i)!);
    });
  }
  const pairs = picked.map((p, i) => ({ ...p, srcPort: 40000 + (i % 20000) }));
  return { pairs, candidates, representatives: R };
}

/** The analysis on a run already at T. */
export function analyse(run: WhatIfRun, at: number, options: WhatIfOptions = {}): WhatIfReport {
  const fail = options.fail ?? 'each';
  const failures = listFailures(run.physical, fail, at);
  options.onStart?.(failures.length);
  const session = new WhatIfSession(run, at, options);
  try {
    const base = session.runBaseline();
    const results: FailureResult[] = [];
    failures.forEach((f, i) => {
      results.push(session.evaluate(f));
      options.onProgress?.(i + 1, failures.length);
    });
    const order = new Map(results.map((r, i) => [r, i] as [FailureResult, number]));
    results.sort((a, b) => b.lostPairs - a.lostPairs || b.maxUtilization - a.maxUtilization || order.get(a)! - order.get(b)!);
    const byKind: Partial<Record<PairKind, number>> = {};
    for (const p of session.pairs) byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
    return {
      scenario: run.scenario.name,
      at,
      fail: Array.isArray(fail) ? fail.map((l) => l.join('|')).join(',') : typeof fail === 'object' ? fail.combinations.map((c) => c.join('+')).join(',') : fail,
      threshold: options.threshold ?? DEFAULT_THRESHOLD,
      sampling: {
        representatives: session.representatives,
        pairs: byKind,
        probed: session.pairs.length,
        reachable: base.verdicts.filter((v) => v.ok).length,
        candidates: session.candidates,
        note: options.pairs ? 'the pairs listed' : SAMPLING_NOTE,
      },
      baseline: base.bandwidth,
      evaluated: results.length,
      failures: results,
    };
  } finally {
    session.close();
  }
}

/** `fail:` of a `survives` expectation as a whatif failure kind. */
export function survivesFailKind(fail: SurvivesSpec['fail']): FailKind | [string, string][] {
  if (Array.isArray(fail)) return fail;
  return fail === 'each-link' ? 'links' : fail === 'each-node' ? 'nodes' : fail === 'each-switch' ? 'switches' : 'each';
}

/**
 * The `survives` gate on a run at its time (the runner calls it converged): ok when under every
 * single failure every listed reach holds and the max utilization stays at or under the bound. The
 * detail names the worst failure.
 */
export function evaluateSurvives(run: WhatIfRun, spec: SurvivesSpec, at: number): { ok: boolean; detail: string; value?: number } {
  let failures: Failure[];
  try {
    failures = listFailures(run.physical, survivesFailKind(spec.fail), at);
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
  const bound = spec.maxLinkUtilization;
  const session = new WhatIfSession(run, at, { pairs: spec.reach, threshold: bound ?? DEFAULT_THRESHOLD });
  try {
    const base = session.runBaseline();
    const what = Array.isArray(spec.fail) ? `${failures.length} listed link failures` : `${failures.length} single failures (${spec.fail})`;
    const baseLost = base.verdicts.filter((v) => !v.ok);
    if (baseLost.length > 0) {
      const v = baseLost[0]!;
      return { ok: false, detail: `even with nothing failed: ${v.pair.from} -> ${v.pair.to}${v.pair.port !== undefined ? `:${v.pair.port}` : ''}: ${v.detail}` };
    }
    let worst: { r: FailureResult; bad: boolean } | undefined;
    let failing = 0;
    let peak = bound !== undefined ? base.bandwidth.maxUtilization : 0;
    for (const f of failures) {
      const r = session.evaluate(f);
      const over = bound !== undefined && r.maxUtilization > bound + 1e-9;
      const bad = r.lostPairs > 0 || over;
      if (bad) failing++;
      peak = Math.max(peak, r.maxUtilization);
      const worse = !worst || (bad && !worst.bad) || (bad === worst.bad && (r.lostPairs > worst.r.lostPairs || (r.lostPairs === worst.r.lostPairs && r.maxUtilization > worst.r.maxUtilization)));
      if (worse) worst = { r, bad };
    }
    const value = bound !== undefined ? round6(peak) : undefined;
    if (!worst) return { ok: true, detail: `no failure of that kind at ${at}s`, ...(value !== undefined ? { value } : {}) };
    const w = worst.r;
    const name = `${w.failure.kind} ${w.failure.name}`;
    const parts: string[] = [];
    for (const g of w.lost) parts.push(`${g.example.from} -> ${g.example.to}${g.example.port !== undefined ? `:${g.example.port}` : ''} lost (${g.example.detail})`);
    if (bound !== undefined) parts.push(`max utilization ${w.maxUtilization}${w.maxUtilization > bound + 1e-9 ? ` > ${bound}` : ''}${w.hottest ? ` (${w.hottest})` : ''}`);
    const detail = failing > 0 ? `fails under ${failing} of ${what}; worst ${name}: ${parts.join('; ')}` : `survives ${what}; worst ${name}${parts.length ? `: ${parts.join('; ')}` : ''}`;
    return { ok: failing === 0, detail, ...(value !== undefined ? { value } : {}) };
  } finally {
    session.close();
  }
}
