/**
 * The bandwidth model over a run: piecewise-constant allocations between change points (traffic
 * start/stop, events, rebalancing rounds), the rebalancing loop (pins, meters, proposed moves),
 * simulated port/flow counters read through sliding-window meters, the expectation checks
 * (`maxLinkUtilization`, `fairShare`, `limited`) and the run summary for `fabric sim --json`.
 *
 * The simulator's runner drives it: at every change point it calls `step(at, input)` with the
 * demands active at that time and the directed links their packets cross in the compiled pipeline.
 * Everything is deterministic: no clock, no randomness; time is the runner's virtual time.
 */
import { Allocation, BandwidthDemand, PodMeter, allocateMaxMinFair, offeredUtilization, withPodMeters } from './bandwidth';
import { directedLinkId } from '../topology/links';
import type { BandwidthLink } from '../topology/links';
import { PathCache, TopologyLink, buildPathGraph } from '../topology/paths';
import { OptimumDemand, solveOptimum } from './bandwidth-optimum';
import { serviceBucketWeights } from '../controller/rebalance';
import type { RebalanceChange, RebalanceDemand, RebalancePolicyName } from '../controller/rebalance';
import type { Highs } from 'highs';

/** One traffic demand active at a change point: a rebalancer demand named by its traffic index. */
export interface ActiveDemand extends Omit<RebalanceDemand, 'id'> {
  /** index in the scenario's `traffic` list */
  index: number;
  /** as written in the scenario */
  from: string;
  to: string;
  /** its packets take the path the controller pinned it to */
  pinned?: boolean;
}

/**
 * A traffic demand active at a change point whose packet the switches do not deliver now (isolation,
 * no route, a service without backends, a down node ...): it carries nothing, and says why
 * (sim/blocked.ts).
 */
export interface BlockedDemand {
  index: number;
  from: string;
  to: string;
  askedGbps: number;
  /** in words */
  reason: string;
  /** the drop point ("node1 table policy priority 100"), when there is one */
  where?: string;
}

/** A time span over which a demand was blocked for one reason (`fabric sim --json`: `demands[].blocked`). */
export interface BlockedSpan {
  at: number;
  until: number;
  reason: string;
  where?: string;
}

export interface BandwidthStepInput {
  /** every link of the fabric with its state (LinkState fits): both directions are modelled */
  links: readonly TopologyLink[];
  demands: readonly ActiveDemand[];
  /** user-declared per-pod egress limits (PodSpec.egressGbps): part of what a pod asks */
  podLimits?: readonly PodMeter[];
  /** pod -> node (switch) it runs on, and the nodes that are up: needed by `place` */
  podNode?: ReadonlyMap<string, string>;
  nodes?: readonly string[];
  /** the meters the controller imposed (limit policy) that the switches hold now */
  meters?: readonly PodMeter[];
  /** active demands the switches do not deliver now (they carry nothing) */
  blocked?: readonly BlockedDemand[];
}

export interface DemandOutcome {
  index: number;
  from: string;
  to: string;
  fromPod?: string;
  path: string[];
  askedGbps: number;
  grantedGbps: number;
  /** true when the rebalancer pinned it off its ECMP path */
  pinned: boolean;
}

export interface BandwidthEpoch {
  at: number;
  /** directed physical links that were up, with capacity */
  links: BandwidthLink[];
  linkLoadGbps: Map<string, number>;
  /** carried load / capacity per directed link */
  linkUtilization: Map<string, number>;
  /** max offered utilization (what demands ask, on the paths they take) */
  offeredMaxUtilization: number;
  demands: DemandOutcome[];
  /** meters the rebalancer (limit) has in force during this epoch */
  imposedMeters: PodMeter[];
  podLimits: PodMeter[];
  changes: RebalanceChange[];
  /** λ*: filled by `attachOptimum` */
  optimumMaxUtilization?: number;
  /** the node switches (never transit for candidate paths) */
  nodes?: string[];
  /** crossings in demand paths that are not up links of the model (left out of the allocation) */
  unmodelledLinks: string[];
  /** active demands that are blocked in this epoch: they carry nothing (absent: none) */
  blocked?: BlockedDemand[];
}

export interface CheckResult {
  ok: boolean;
  value?: number;
  detail: string;
}

export interface BandwidthModelOptions {
  /** the scenario's rebalancing policies, for the summary (the decisions are the control loop's) */
  reportPolicies?: readonly RebalancePolicyName[];
  /** near-equal-cost slack for the optimum's candidate paths (extra hops); default 0 */
  slackHops?: number;
}

const round6 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);

/**
 * A figure and its bound as text, with 2 decimals, more to write the bound as it is (up to 4) and
 * to tell the two apart (up to 6):
 * `vsBound(0.8, 0.5, true, false, ' on n1->t1')` is "0.80 on n1->t1 > bound 0.50". `atMost`: the figure must not exceed the bound
 * (maxLinkUtilization, limited), else it must reach it (fairShare). Every failing line of `fabric sim`
 * and `fabric lab test` states the bound it broke (docs/contract.md "What a line says").
 */
export function vsBound(value: number, bound: number, atMost: boolean, holds: boolean, between = ''): string {
  let d = 2;
  while (d < 4 && Number(bound.toFixed(d)) !== bound) d++; // the bound as written (0.495), to 4 decimals
  while (d < 6 && value !== bound && value.toFixed(d) === bound.toFixed(d)) d++;
  const op = atMost ? (holds ? '<=' : '>') : holds ? '>=' : '<';
  return `${value.toFixed(d)}${between} ${op} bound ${bound.toFixed(d)}`;
}

/** a tolerance fraction as a percentage: 0.05 -> "5%" */
export const percentText = (tol: number): string => `${Number((tol * 100).toFixed(4))}%`;

/**
 * The model over one run. `step` is called in nondecreasing time order; a second call at the same
 * time replaces that time's epoch (e.g. after the runner applied a move the model proposed).
 */
export class BandwidthTimeline {
  readonly epochs: BandwidthEpoch[] = [];
  private readonly policies: readonly RebalancePolicyName[];
  private counters = new Map<string, number>();
  private pathCache: { key: string; cache: PathCache } | undefined;
  /** undirected links in first-seen order, for the summary */
  private linkOrder = new Map<string, [string, string]>();

  constructor(private readonly options: BandwidthModelOptions = {}) {
    this.policies = options.reportPolicies ?? [];
  }

  /** The candidate paths between two switches over the links of `input` (memoised per link state). */
  private candidates(input: BandwidthStepInput): PathCache {
    const up = input.links.filter((l) => l.up !== false);
    const key = up.map((l) => `${l.a}|${l.b}|${l.gbps}`).join(',') + '#' + [...(input.nodes ?? [])].join(',');
    if (!this.pathCache || this.pathCache.key !== key) {
      const noTransit = new Set(input.nodes ?? []);
      this.pathCache = { key, cache: new PathCache(buildPathGraph(up), { slackHops: this.options.slackHops ?? 0, noTransit }) };
    }
    return this.pathCache.cache;
  }

  /**
   * The model's cumulative byte counters as of the last step: per directed link id ("a->b": what `a`
   * sent toward `b`) and per demand (`demand:INDEX`). What port counters would read on real switches.
   */
  byteCounters(): ReadonlyMap<string, number> {
    return new Map(this.counters);
  }

  /** Advance the byte counters from the last epoch to `at`. */
  private advanceCounters(at: number): void {
    const prev = this.epochs[this.epochs.length - 1];
    if (!prev || at <= prev.at) return;
    const dt = at - prev.at;
    for (const [id, gbps] of prev.linkLoadGbps) this.counters.set(id, (this.counters.get(id) ?? 0) + (gbps * 1e9 * dt) / 8);
    for (const d of prev.demands) {
      const key = `demand:${d.index}`;
      this.counters.set(key, (this.counters.get(key) ?? 0) + (d.grantedGbps * 1e9 * dt) / 8);
    }
  }

  /** Every counter exists from its first epoch on (new links and demands start at 0; an idle one reads as rate 0). */
  private sampleCounters(epoch: BandwidthEpoch): void {
    for (const l of epoch.links) if (!this.counters.has(l.id)) this.counters.set(l.id, 0);
    for (const d of epoch.demands) if (!this.counters.has(`demand:${d.index}`)) this.counters.set(`demand:${d.index}`, 0);
  }

  /** The control loop's decisions at `at` (after it read the counters of this step), for the summary. */
  recordChanges(at: number, changes: readonly RebalanceChange[]): void {
    const e = this.epochs[this.epochs.length - 1];
    if (!e || e.at !== at) throw new RangeError(`BandwidthTimeline.recordChanges: no epoch at ${at}`);
    e.changes.push(...changes);
  }

  step(at: number, input: BandwidthStepInput): BandwidthEpoch {
    const last = this.epochs[this.epochs.length - 1];
    if (last && at < last.at) throw new RangeError(`BandwidthTimeline.step: time ${at} before ${last.at}`);
    if (last && at === last.at) this.epochs.pop();
    else this.advanceCounters(at);

    for (const l of input.links) {
      const key = `${l.a}|${l.b}`;
      if (!this.linkOrder.has(key)) this.linkOrder.set(key, [l.a, l.b]);
    }
    const links: BandwidthLink[] = [];
    for (const l of input.links) {
      if (l.up === false) continue;
      links.push({ id: directedLinkId(l.a, l.b), capacityGbps: l.gbps }, { id: directedLinkId(l.b, l.a), capacityGbps: l.gbps });
    }
    const linkSet = new Set(links.map((l) => l.id));

    // a crossing the model has no capacity for (a host attachment, a link not up) constrains
    // nothing: it is left out and listed, rather than failing the run
    const unmodelled = new Set<string>();
    const modelled = (path: readonly string[]): string[] => {
      const seen = new Set<string>();
      return path.filter((id) => {
        if (!linkSet.has(id)) return unmodelled.add(id), false;
        if (seen.has(id)) return false; // a loop counts once
        return seen.add(id), true;
      });
    };
    const demands = input.demands.map((d) => ({ ...d, path: d.pinned ? [...d.path] : modelled(d.path), pinned: d.pinned === true }));
    const changes: RebalanceChange[] = [];

    const imposedMeters = [...(input.meters ?? [])];
    const podLimits = [...(input.podLimits ?? [])];
    const alloc = allocateWithMeters(links, demands, [...podLimits, ...imposedMeters]);
    const linkUtilization = new Map<string, number>();
    for (const l of links) {
      const load = alloc.linkLoad.get(l.id) ?? 0;
      linkUtilization.set(l.id, l.capacityGbps > 0 ? load / l.capacityGbps : 0);
    }
    const physicalLoad = new Map<string, number>();
    for (const l of links) physicalLoad.set(l.id, alloc.linkLoad.get(l.id) ?? 0);
    let offeredMax = 0;
    for (const u of offeredUtilization(links, demands.map(asBandwidthDemand)).values()) offeredMax = Math.max(offeredMax, u);
    const epoch: BandwidthEpoch = {
      at,
      links,
      linkLoadGbps: physicalLoad,
      linkUtilization,
      offeredMaxUtilization: offeredMax,
      demands: demands.map((d) => ({
        index: d.index,
        from: d.from,
        to: d.to,
        fromPod: d.fromPod,
        path: [...d.path],
        askedGbps: d.demandGbps,
        grantedGbps: alloc.rates.get(String(d.index)) ?? 0,
        pinned: d.pinned,
      })),
      imposedMeters,
      podLimits,
      changes,
      nodes: input.nodes ? [...input.nodes] : undefined,
      unmodelledLinks: [...unmodelled].sort(),
    };
    if (input.blocked && input.blocked.length > 0) epoch.blocked = input.blocked.map((b) => ({ ...b }));
    this.epochs.push(epoch);
    this.sampleCounters(epoch);
    return epoch;
  }

  /** The epoch in force at time t (the last one starting at or before t). */
  epochAt(t: number): BandwidthEpoch | undefined {
    let found: BandwidthEpoch | undefined;
    for (const e of this.epochs) {
      if (e.at <= t + 1e-12) found = e;
      else break;
    }
    return found;
  }

  /** Expectation `maxLinkUtilization`: value = the measured max over link directions at t. */
  checkMaxLinkUtilization(at: number, max: number): CheckResult {
    const e = this.epochAt(at);
    if (!e) return { ok: true, value: 0, detail: `no traffic: peak ${vsBound(0, max, true, true)}` };
    // a blocked demand carries nothing: the figure is what the fabric carries, and the detail says
    // which demands it does not (so a pass is not mistaken for traffic that fits)
    const note = blockedNote(e);
    const hot = hottest(e.linkUtilization);
    if (!hot) return { ok: true, value: 0, detail: `no links${note}` };
    const value = round6(hot.utilization);
    const ok = value <= max + 1e-9;
    return { ok, value, detail: `peak ${vsBound(value, max, true, ok, ` on ${hot.link}`)}${note}` };
  }

  /**
   * Expectation `fairShare`: the demand gets at least its max-min fair share at t (within
   * `tolerance`, a fraction, default 0.01). The fair share is the max-min allocation of the
   * demands active at t on the paths they take, with the user's own per-pod limits (part of what a
   * pod asks) but without the meters the rebalancer imposed: those are what this check watches.
   */
  checkFairShare(at: number, spec: { demand: number; tolerance?: number }): CheckResult {
    const e = this.epochAt(at);
    const d = e?.demands.find((x) => x.index === spec.demand);
    if (!e || !d) {
      const b = e?.blocked?.find((x) => x.index === spec.demand);
      if (b) return { ok: false, value: 0, detail: `traffic[${b.index}] ${b.from} -> ${b.to} is blocked at ${at}s: ${b.reason}` };
      return { ok: false, detail: `traffic[${spec.demand}] is not active at ${at}s` };
    }
    const fair = allocateWithMeters(e.links, e.demands.map((x) => ({ ...x, demandGbps: x.askedGbps })), e.podLimits);
    const share = fair.rates.get(String(d.index)) ?? 0;
    const tol = spec.tolerance ?? 0.01;
    const value = round6(d.grantedGbps);
    const ok = d.grantedGbps >= share * (1 - tol) - 1e-9;
    return {
      ok,
      value,
      detail: `traffic[${d.index}] ${d.from} -> ${d.to}: granted ${vsBound(value, round6(share * (1 - tol)), false, ok)} Gbit/s (fair share ${round6(share)} less ${percentText(tol)} tolerance)`,
    };
  }

  /** Expectation `limited`: the pod's total egress at t is at most gbps (within tolerance, default 0.05). */
  checkLimited(at: number, spec: { pod: string; gbps: number; tolerance?: number }): CheckResult {
    const e = this.epochAt(at);
    let total = 0;
    for (const d of e?.demands ?? []) if (d.fromPod === spec.pod) total += d.grantedGbps;
    const tol = spec.tolerance ?? 0.05;
    const value = round6(total);
    const meter = [...(e?.imposedMeters ?? []), ...(e?.podLimits ?? [])].filter((m) => m.pod === spec.pod).map((m) => m.gbps);
    const why = meter.length > 0 ? `metered at ${round6(Math.min(...meter))} Gbit/s` : 'no meter';
    const ok = total <= spec.gbps * (1 + tol) + 1e-9;
    return { ok, value, detail: `${spec.pod} sends ${vsBound(value, round6(spec.gbps * (1 + tol)), true, ok)} Gbit/s (limit ${spec.gbps} plus ${percentText(tol)} tolerance; ${why})` };
  }

  /**
   * Select-group bucket weights for a service's endpoints at time t: unhealthy ones 0, the others
   * by the spare capacity of the links into their node (the busiest one counts).
   */
  serviceWeightsAt(at: number, endpoints: readonly { pod: string; node: string; healthy?: boolean }[], maxWeight = 100): { pod: string; weight: number }[] {
    const e = this.epochAt(at);
    const into = (node: string): number => {
      let u = 0;
      for (const [id, x] of e?.linkUtilization ?? []) if (id.endsWith(`->${node}`)) u = Math.max(u, x);
      return u;
    };
    return serviceBucketWeights(
      endpoints.map((p) => ({ pod: p.pod, healthy: p.healthy !== false, utilization: into(p.node) })),
      maxWeight,
    );
  }

  /**
   * The run summary for `fabric sim --json`: per link (both directions) the highest utilization
   * over the run, per demand what it asked and what it got (time-weighted mean over the time it
   * was active, up to `endS`).
   */
  summary(endS: number): RunBandwidthSummary {
    const linkMax = new Map<string, number>();
    const granted = new Map<number, { from: string; to: string; asked: number; gbit: number; seconds: number; min: number; blocked?: BlockedSpan[] }>();
    this.epochs.forEach((e, i) => {
      const until = i + 1 < this.epochs.length ? this.epochs[i + 1].at : Math.max(endS, e.at);
      const dt = Math.max(0, until - e.at);
      for (const [id, u] of e.linkUtilization) {
        const [a, b] = id.split('->');
        const key = this.linkOrder.has(`${a}|${b}`) ? `${a}|${b}` : `${b}|${a}`;
        linkMax.set(key, Math.max(linkMax.get(key) ?? 0, u));
      }
      for (const d of e.demands) {
        const g = granted.get(d.index) ?? { from: d.from, to: d.to, asked: d.askedGbps, gbit: 0, seconds: 0, min: Infinity };
        g.gbit += d.grantedGbps * dt;
        g.seconds += dt;
        if (dt > 0 || g.seconds === 0) g.min = Math.min(g.min, d.grantedGbps);
        g.asked = d.askedGbps;
        granted.set(d.index, g);
      }
      // a blocked demand is active and gets nothing: 0 Gbit/s over the epoch, and a span saying why
      for (const b of e.blocked ?? []) {
        const g = granted.get(b.index) ?? { from: b.from, to: b.to, asked: b.askedGbps, gbit: 0, seconds: 0, min: Infinity };
        g.seconds += dt;
        if (dt > 0 || g.seconds === 0) g.min = 0;
        g.asked = b.askedGbps;
        const spans = (g.blocked ??= []);
        const last = spans[spans.length - 1];
        const end = Math.max(e.at, until);
        if (last && last.until === e.at && last.reason === b.reason && last.where === b.where) last.until = end;
        else spans.push({ at: e.at, until: end, reason: b.reason, ...(b.where !== undefined ? { where: b.where } : {}) });
        granted.set(b.index, g);
      }
    });
    const links = [...this.linkOrder].map(([key, between]) => ({ between, maxUtilization: round6(linkMax.get(key) ?? 0) }));
    const demands = [...granted]
      .sort((a, b) => a[0] - b[0])
      .map(([index, g]) => ({
        index,
        from: g.from,
        to: g.to,
        askedGbps: round6(g.asked),
        grantedGbps: round6(g.seconds > 0 ? g.gbit / g.seconds : g.min === Infinity ? 0 : g.min),
        minGrantedGbps: round6(g.min === Infinity ? 0 : g.min),
        ...(g.blocked ? { blocked: g.blocked.map((b) => ({ ...b, at: round6(b.at), until: round6(b.until) })) } : {}),
      }));
    const changes = this.epochs.flatMap((e) => e.changes.map((c) => ({ at: e.at, ...c })));
    let offeredMax = 0;
    let optimum: number | undefined;
    for (const e of this.epochs) {
      if (e.offeredMaxUtilization >= offeredMax) {
        offeredMax = e.offeredMaxUtilization;
        optimum = e.optimumMaxUtilization;
      }
    }
    return {
      links,
      demands,
      rebalance: {
        policies: [...this.policies],
        changes,
        peakOfferedMaxUtilization: round6(offeredMax),
        optimumMaxUtilization: optimum === undefined ? undefined : round6(optimum),
      },
    };
  }

  /**
   * λ* (the LP optimum) for every epoch with demands, over the candidate paths of each demand
   * (the same ones steering may pin to). Needs the solver loaded (`await loadLpSolver()`).
   */
  attachOptimum(highs: Highs): void {
    for (const e of this.epochs) {
      if (e.demands.length === 0) continue;
      // the candidates over the links that were up in that epoch (one record per link pair)
      const topo: TopologyLink[] = [];
      const ids = new Set(e.links.map((l) => l.id));
      for (const l of e.links) {
        const [a, b] = l.id.split('->');
        if (a < b || !ids.has(`${b}->${a}`)) topo.push({ a, b, gbps: l.capacityGbps });
      }
      const cache = this.candidates({ links: topo, demands: [], nodes: e.nodes });
      const demands: OptimumDemand[] = e.demands.map((d) => {
        const ends = endpointsOf(d.path);
        const cands = cache && ends ? cache.get(ends[0], ends[1]) : [];
        // the path the demand takes is always a candidate (the pipeline may choose a longer one)
        const all = cands.some((c) => c.join() === d.path.join()) ? cands : [...cands, d.path];
        return { id: String(d.index), gbps: d.askedGbps, candidates: all };
      });
      e.optimumMaxUtilization = solveOptimum(highs, e.links, demands).maxUtilization;
    }
  }
}

export interface RunBandwidthSummary {
  links: { between: [string, string]; maxUtilization: number }[];
  /** `blocked`: only for a demand that was blocked at some time (docs/simulator.md "Blocked demands") */
  demands: { index: number; from: string; to: string; askedGbps: number; grantedGbps: number; minGrantedGbps: number; blocked?: BlockedSpan[] }[];
  rebalance: {
    policies: RebalancePolicyName[];
    changes: (RebalanceChange & { at: number })[];
    /** the highest max offered utilization of any epoch (after rebalancing) */
    peakOfferedMaxUtilization: number;
    /** λ* at that epoch, when attachOptimum ran */
    optimumMaxUtilization?: number;
  };
}

function endpointsOf(path: readonly string[]): [string, string] | undefined {
  if (path.length === 0) return undefined;
  const first = path[0].split('->');
  const last = path[path.length - 1].split('->');
  return [first[0], last[1]];
}

function asBandwidthDemand(d: { index: number; path: readonly string[]; demandGbps: number; limitGbps?: number }): BandwidthDemand {
  return { id: String(d.index), path: d.path, demandGbps: d.demandGbps, limitGbps: d.limitGbps };
}

/** Max-min allocation with per-pod meters (several on one pod: the smallest wins). */
export function allocateWithMeters(
  links: readonly BandwidthLink[],
  demands: readonly { index: number; fromPod?: string; path: readonly string[]; demandGbps: number; limitGbps?: number }[],
  meters: readonly PodMeter[],
): Allocation {
  const bd = demands.map((d) => ({ ...asBandwidthDemand(d), pod: d.fromPod }));
  const m = withPodMeters(links, bd, meters, (d) => d.pod);
  return allocateMaxMinFair(m.links, m.demands);
}

/** "; blocked (carry nothing): traffic[0] a -> b (reason), ..." for an epoch with blocked demands, else "" */
function blockedNote(e: BandwidthEpoch): string {
  const b = e.blocked ?? [];
  if (b.length === 0) return '';
  if (b.length === 1) return `; blocked, carrying nothing: traffic[${b[0].index}] ${b[0].from} -> ${b[0].to}: ${b[0].reason}`;
  const shown = b.slice(0, 3).map((x) => `traffic[${x.index}] ${x.from} -> ${x.to}`);
  return `; ${b.length} demands blocked, carrying nothing: ${shown.join(', ')}${b.length > 3 ? ` and ${b.length - 3} more` : ''}`;
}

function hottest(util: ReadonlyMap<string, number>): { link: string; utilization: number } | undefined {
  let best: { link: string; utilization: number } | undefined;
  for (const [link, u] of util) if (!best || u > best.utilization + 1e-12) best = { link, utilization: u };
  return best;
}

/**
 * Change points the runner should step at: traffic start/stop, event times, and a round every
 * `intervalS` while traffic runs and `tailS` seconds after (a rebalancing controller notices the
 * end of a demand in its counters and lifts its pins and meters), never past `endS`.
 */
export function bandwidthStepTimes(
  traffic: readonly { at: number; until?: number }[],
  eventTimes: readonly number[],
  endS: number,
  intervalS = 1,
  tailS = 0,
): number[] {
  const times = new Set<number>([0]);
  for (const t of traffic) {
    times.add(t.at);
    if (t.until !== undefined) times.add(t.until);
  }
  for (const t of eventTimes) times.add(t);
  if (traffic.length > 0 && intervalS > 0) {
    const start = Math.min(...traffic.map((t) => t.at));
    const stop = Math.min(endS, Math.max(...traffic.map((t) => t.until ?? endS)) + tailS);
    for (let k = 0; start + k * intervalS <= stop && k < 100000; k++) times.add(round6(start + k * intervalS));
  }
  return [...times].filter((t) => t >= 0 && t <= endS).sort((a, b) => a - b);
}

