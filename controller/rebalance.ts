/**
 * Rebalancing policies (`cluster.rebalance: [steer, limit, place]`): pure functions from the
 * bandwidth model and the measured load to changes the controller can compile.
 *
 * - steer: move heavy demands off the hottest link by pinning them to another equal- or
 *   near-equal-cost path (per-flow pin entries: one high-priority flow per decision hop).
 * - limit: when a link stays above a threshold, meter the pods that take more than their fair
 *   share of it at their own node switch (OpenFlow meters); lift the meter when the link clears.
 * - place: propose moving one pod (keeping its IP) to the node that lowers the maximum link
 *   utilization most.
 * - serviceBucketWeights: select-group bucket weights for a service's endpoints by health and load.
 *
 * Invariant (property-tested): no policy raises the maximum link utilization. steer and place
 * minimise *offered* utilization (what demands ask over capacity, which can exceed 1 and so tells
 * how oversubscribed a hot link is); limit acts on *measured* (carried) utilization, as it would
 * with port counters from a real switch. No clock, no randomness: rounds are counted by the caller.
 */
import type { Meter } from '../fabric/openflow/flow';
import { demandCapGbps, linkEnds } from '../topology/links';
import type { BandwidthLink } from '../topology/links';
import { podMeter } from './meters';

export type RebalancePolicyName = 'steer' | 'limit' | 'place' | 'weights';

export interface RebalanceDemand {
  id: string;
  /** sending and receiving pods when the ends are pods (place and limit act on pods) */
  fromPod?: string;
  toPod?: string;
  /** the switches where the demand enters and leaves the fabric (usually node switches) */
  src: string;
  dst: string;
  /** the directed links it crosses now */
  path: readonly string[];
  demandGbps: number;
  limitGbps?: number;
}

export interface RebalanceModel {
  /** directed physical links that are up */
  links: readonly BandwidthLink[];
  demands: readonly RebalanceDemand[];
  /** candidate paths between two switches (equal or near-equal cost), e.g. a PathCache's get */
  paths: (src: string, dst: string) => string[][];
  /** the node (switch) each pod runs on; required by place */
  podNode?: ReadonlyMap<string, string>;
  /** nodes a pod may move to (up nodes); required by place */
  nodes?: readonly string[];
}

export interface MeasuredLoad {
  /** carried load per directed link (from a UtilizationMeter or the model) */
  linkLoadGbps: ReadonlyMap<string, number>;
  /** carried rate per demand (flow stats); limit uses it to find the hogs */
  demandRateGbps: ReadonlyMap<string, number>;
}

export interface RebalanceOptions {
  /** a link at or above this (fraction of capacity) is hot; default 0.8 */
  thresholdUtilization?: number;
  /** a limited link at or below this has cleared; default 0.6 */
  clearUtilization?: number;
  /** rounds a link must stay hot (or clear) before limit acts; default 2 */
  holdRounds?: number;
  /** steer: most pins per round; default 64 */
  maxPinsPerRound?: number;
  /** place: pods examined on the hottest link; default 4 */
  placeCandidates?: number;
  /** place: target nodes tried per pod, the least loaded first; default 32 */
  placeNodes?: number;
}

export type RebalanceChange =
  /** route this demand over `path`: `hops` are the switches that choose among several next hops */
  | { kind: 'pin'; demand: string; path: string[]; hops: { switch: string; nextHop: string }[] }
  /** the demand's pin is removed (the demand ended, or a link of its path went down) */
  | { kind: 'unpin'; demand: string }
  /** meter this pod's total egress at its node switch */
  | { kind: 'meter'; pod: string; node: string; gbps: number; link: string }
  | { kind: 'unmeter'; pod: string; node: string }
  /** move the pod (keeping its IP) */
  | { kind: 'move'; pod: string; from: string; to: string }
  /** a service's select-group bucket weights (pod -> weight); absent weights: every bucket equal */
  | { kind: 'weights'; service: string; weights?: Record<string, number> };

const EPS = 1e-9;
/** steerFromLoad searches every placement of the movable demands up to this many; greedy above */
const EXHAUSTIVE_PLACEMENTS = 4096;
const NONE: ReadonlySet<string> = new Set();

function opts(o: RebalanceOptions = {}): Required<RebalanceOptions> {
  return {
    thresholdUtilization: o.thresholdUtilization ?? 0.8,
    clearUtilization: o.clearUtilization ?? 0.6,
    holdRounds: o.holdRounds ?? 2,
    maxPinsPerRound: o.maxPinsPerRound ?? 64,
    placeCandidates: o.placeCandidates ?? 4,
    placeNodes: o.placeNodes ?? 32,
  };
}

/** Offered load per link index; links outside the model (meters) are ignored. */
class OfferedLoad {
  readonly index: Map<string, number>;
  readonly cap: Float64Array;
  readonly load: Float64Array;
  constructor(links: readonly BandwidthLink[], demands: readonly RebalanceDemand[], from?: OfferedLoad) {
    if (from) {
      this.index = from.index;
      this.cap = from.cap;
      this.load = from.load.slice();
      return;
    }
    this.index = new Map();
    links.forEach((l, i) => this.index.set(l.id, i));
    this.cap = Float64Array.from(links, (l) => l.capacityGbps);
    this.load = new Float64Array(links.length);
    for (const d of demands) this.add(d.path, demandCapGbps(d));
  }
  clone(): OfferedLoad {
    return new OfferedLoad([], [], this);
  }
  add(path: readonly string[], gbps: number): void {
    for (const id of path) {
      const i = this.index.get(id);
      if (i !== undefined) this.load[i] += gbps;
    }
  }
  util(i: number): number {
    return this.cap[i] > 0 ? this.load[i] / this.cap[i] : this.load[i] > EPS ? Infinity : 0;
  }
  /** the hottest link index (ties: lowest index), -1 when there are no links */
  hottest(): number {
    let best = -1;
    let bestU = -Infinity;
    for (let i = 0; i < this.cap.length; i++) {
      const u = this.util(i);
      if (u > bestU) (bestU = u), (best = i);
    }
    return best;
  }
  max(): number {
    const h = this.hottest();
    return h < 0 ? 0 : this.util(h);
  }
  /** utilization of `path` links if `gbps` were added to them (the worst one) */
  worstWith(path: readonly string[], gbps: number, except: ReadonlySet<string>): number {
    let worst = 0;
    for (const id of path) {
      if (except.has(id)) continue;
      const i = this.index.get(id);
      if (i === undefined) return Infinity; // a path over a link that is not up
      const u = this.cap[i] > 0 ? (this.load[i] + gbps) / this.cap[i] : gbps > 0 ? Infinity : 0;
      if (u > worst) worst = u;
    }
    return worst;
  }
}

/** The maximum offered utilization of a model (what steer and place minimise). */
export function maxOfferedUtilization(links: readonly BandwidthLink[], demands: readonly RebalanceDemand[]): number {
  return new OfferedLoad(links, demands).max();
}

/** Switches on `path` where the candidates diverge: where a pin needs its own flow. */
function decisionHops(path: readonly string[], candidates: readonly (readonly string[])[]): { switch: string; nextHop: string }[] {
  const hops: { switch: string; nextHop: string }[] = [];
  for (let k = 0; k < path.length; k++) {
    const ends = linkEnds(path[k]);
    if (!ends) continue;
    const prefix = path.slice(0, k).join('|');
    const choices = new Set<string>();
    for (const c of candidates) if (c.slice(0, k).join('|') === prefix && c[k] !== undefined) choices.add(c[k]);
    if (choices.size > 1) hops.push({ switch: ends[0], nextHop: ends[1] });
  }
  return hops;
}

/**
 * steer: while some link not yet given up on is at or above the threshold, take the hottest one
 * and move the heaviest demand crossing it to the candidate path whose worst link, with the demand
 * added, stays strictly below that link's utilization. Every accepted move lowers the hot link and
 * keeps every link it loads below it, so the maximum never rises. A link no single move can relieve
 * is given up on and the next hottest is tried (a lower hotspot still deserves relief).
 * Returns pins (one per moved demand, with its final path).
 */
export function steer(model: RebalanceModel, options?: RebalanceOptions): RebalanceChange[] {
  const o = opts(options);
  const load = new OfferedLoad(model.links, model.demands);
  const paths: (readonly string[])[] = model.demands.map((d) => d.path);
  const caps = model.demands.map((d) => demandCapGbps(d));
  // link index -> demands crossing it (kept up to date as demands move)
  const on: Set<number>[] = model.links.map(() => new Set<number>());
  const track = (di: number, path: readonly string[], add: boolean): void => {
    for (const id of path) {
      const i = load.index.get(id);
      if (i === undefined) continue;
      if (add) on[i].add(di);
      else on[i].delete(di);
    }
  };
  model.demands.forEach((_, di) => track(di, paths[di], true));
  const candidatesOf = new Map<string, string[][]>();
  const cands = (d: RebalanceDemand): string[][] => {
    const key = `${d.src}\u0000${d.dst}`;
    let c = candidatesOf.get(key);
    if (!c) candidatesOf.set(key, (c = model.paths(d.src, d.dst)));
    return c;
  };
  const moved = new Set<number>();
  const stuck = new Set<number>();
  let pins = 0;
  while (pins < o.maxPinsPerRound) {
    let h = -1;
    let hU = -Infinity;
    for (let i = 0; i < load.cap.length; i++) {
      if (stuck.has(i)) continue;
      const u = load.util(i);
      if (u > hU) (hU = u), (h = i);
    }
    if (h < 0 || hU < o.thresholdUtilization) break;
    const hotId = model.links[h].id;
    const onHot = [...on[h]].filter((di) => caps[di] > 0).sort((a, b) => caps[b] - caps[a] || a - b);
    let best: { di: number; path: string[]; worst: number } | undefined;
    for (const di of onHot) {
      const cur = new Set(paths[di]);
      for (const q of cands(model.demands[di])) {
        if (q.includes(hotId)) continue;
        const worst = load.worstWith(q, caps[di], cur);
        if (worst < hU - EPS && (!best || worst < best.worst - EPS)) best = { di, path: q, worst };
      }
      if (best) break; // heaviest movable demand first
    }
    if (!best) {
      stuck.add(h);
      continue;
    }
    const gbps = caps[best.di];
    track(best.di, paths[best.di], false);
    load.add(paths[best.di], -gbps);
    load.add(best.path, gbps);
    paths[best.di] = best.path;
    track(best.di, best.path, true);
    moved.add(best.di);
    pins++;
  }
  const out: RebalanceChange[] = [];
  model.demands.forEach((d, di) => {
    if (!moved.has(di)) return;
    const path = [...paths[di]];
    // a demand moved back to where it was needs no pin
    if (path.join('|') === d.path.join('|')) return;
    out.push({ kind: 'pin', demand: d.id, path, hops: decisionHops(path, cands(d)) });
  });
  return out;
}

/** A demand as a controller sees it from counters: it may not know which ECMP path the switches chose. */
export interface MeasuredDemand {
  id: string;
  /** what the demand asks (Gbit/s): its natural rate, not the (possibly congested) measured one */
  demandGbps: number;
  /** every candidate path between its ends (the switches' ECMP picks one the controller cannot see) */
  candidates: readonly (readonly string[])[];
  /** the path it is pinned to, when it is */
  pinned?: readonly string[];
}

/**
 * steer from load (Hedera's global first fit, on measured hot links): the controller sees each
 * link's load in the port counters but not which ECMP path a flow hashed onto. When some link is
 * measured at or above the threshold, every demand that may cross a hot link (some candidate, or
 * its pin, crosses it) and has more than one candidate is placed explicitly: the placement whose
 * worst decisive link (links some but not all of a demand's candidates cross: the choice changes
 * them), with what the demands whose paths are known already put there, is lowest — every placement
 * is tried when there are at most 4,096 (ties: the first in candidate order), else global first fit
 * (heaviest first, ties: the lower index; each on the candidate whose decisive links stay lowest).
 * At most `maxPinsPerRound` (64) demands are placed in a round, the heaviest. The placement is taken only when the
 * maximum offered utilization of the links it chose is strictly below the hottest link's measured
 * utilization: a fabric already as good as the placement is left alone (no churn). Returns pins for the placed demands
 * whose path changed (hops: where candidates diverge).
 */
export function steerFromLoad(
  links: readonly BandwidthLink[],
  demands: readonly MeasuredDemand[],
  /** known path of demands that are not placed here (pinned, single candidate, or the links all candidates share) */
  knownPath: (d: MeasuredDemand) => readonly string[],
  linkUtilization: ReadonlyMap<string, number>,
  options?: RebalanceOptions,
): RebalanceChange[] {
  const o = opts(options);
  const hot = new Set<string>();
  let hotU = 0;
  for (const l of links) {
    const u = linkUtilization.get(l.id) ?? 0;
    if (u >= o.thresholdUtilization - EPS) hot.add(l.id), (hotU = Math.max(hotU, u));
  }
  if (hot.size === 0) return [];
  const crosses = (d: MeasuredDemand): boolean => (d.pinned ? d.pinned.some((id) => hot.has(id)) : d.candidates.some((c) => c.some((id) => hot.has(id))));
  const candidates = demands.map((d, i) => ({ d, i })).filter(({ d }) => d.candidates.length > 1 && demandCapGbps(d) > 0 && crosses(d));
  if (candidates.length === 0) return [];
  // the heaviest maxPinsPerRound are placed; the lighter ones that may be there count nowhere (their
  // path is unknown) and keep what ECMP gave them
  candidates.sort((a, b) => demandCapGbps(b.d) - demandCapGbps(a.d) || a.i - b.i);
  const movable = candidates.slice(0, o.maxPinsPerRound);
  const unplaced = new Set(candidates.slice(o.maxPinsPerRound).map(({ i }) => i));
  const moving = new Set(movable.map(({ i }) => i));
  const load = new OfferedLoad(links, []);
  demands.forEach((d, i) => {
    if (!moving.has(i) && !unplaced.has(i)) load.add(knownPath(d), demandCapGbps(d));
  });
  // the links every candidate of a demand crosses do not depend on the choice: only the others
  // (the decisive links) are compared (else one busy shared link would make every candidate equal)
  const commons = movable.map(({ d }) => new Set(d.candidates[0].filter((id) => d.candidates.every((c) => c.includes(id)))));
  const decisive: number[] = [];
  {
    const seen = new Set<string>();
    movable.forEach(({ d }, k) => {
      for (const c of d.candidates) for (const id of c) if (!commons[k].has(id) && !seen.has(id)) seen.add(id);
    });
    for (const id of seen) {
      const k = load.index.get(id);
      if (k !== undefined) decisive.push(k);
    }
  }
  const worstDecisive = (l: OfferedLoad): number => decisive.reduce((w, k) => Math.max(w, l.util(k)), 0);
  let choice: number[] | undefined;
  let combos = 1;
  for (const { d } of movable) combos *= d.candidates.length;
  if (combos <= EXHAUSTIVE_PLACEMENTS) {
    // few enough: the best unsplittable placement (ties: the first in candidate order)
    let best = Infinity;
    const pick = new Array<number>(movable.length).fill(0);
    const walk = (k: number, l: OfferedLoad): void => {
      if (k === movable.length) {
        const w = worstDecisive(l);
        if (w < best - EPS) (best = w), (choice = [...pick]);
        return;
      }
      const { d } = movable[k];
      d.candidates.forEach((q, j) => {
        if (q.some((id) => !load.index.has(id))) return; // over a link that is not up
        const next = l.clone();
        next.add(q, demandCapGbps(d));
        pick[k] = j;
        walk(k + 1, next);
      });
    };
    walk(0, load);
  } else {
    // global first fit: heaviest first, each on the candidate whose decisive links stay lowest
    choice = [];
    for (const [k, { d }] of movable.entries()) {
      const gbps = demandCapGbps(d);
      let j = -1;
      let jWorst = Infinity;
      d.candidates.forEach((q, n) => {
        const w = load.worstWith(q, gbps, commons[k]);
        if (w < jWorst - EPS) (jWorst = w), (j = n);
      });
      if (j < 0 || !Number.isFinite(jWorst)) return []; // no candidate over up links: leave the fabric alone
      load.add(d.candidates[j], gbps);
      choice.push(j);
    }
  }
  if (!choice) return [];
  const result = load.clone();
  const placed = new Map<number, readonly string[]>();
  movable.forEach(({ d, i }, k) => {
    const q = d.candidates[choice![k]];
    placed.set(i, q);
    if (combos <= EXHAUSTIVE_PLACEMENTS) result.add(q, demandCapGbps(d));
  });
  if (!(worstDecisive(result) < hotU - EPS)) return [];
  const out: RebalanceChange[] = [];
  for (const { d, i } of [...movable].sort((a, b) => a.i - b.i)) {
    const path = placed.get(i)!;
    if (d.pinned && d.pinned.join('|') === path.join('|')) continue;
    out.push({ kind: 'pin', demand: d.id, path: [...path], hops: decisionHops(path, d.candidates) });
  }
  return out;
}

/**
 * place: take the pods with the most offered load on the hottest link and find the node that
 * gives the lowest maximum offered utilization when the pod moves there (its demands re-routed
 * greedily over their candidate paths). Proposes at most one move, and only one that lowers the
 * maximum strictly.
 */
export function place(model: RebalanceModel, options?: RebalanceOptions): RebalanceChange[] {
  const o = opts(options);
  if (!model.podNode || !model.nodes) return [];
  const base = new OfferedLoad(model.links, model.demands);
  const h = base.hottest();
  if (h < 0) return [];
  const before = base.util(h);
  if (before < o.thresholdUtilization) return [];
  const hotId = model.links[h].id;
  const share = new Map<string, number>();
  for (const d of model.demands) {
    if (!d.path.includes(hotId)) continue;
    for (const p of [d.fromPod, d.toPod]) if (p !== undefined && model.podNode.has(p)) share.set(p, (share.get(p) ?? 0) + demandCapGbps(d));
  }
  const pods = [...share].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, o.placeCandidates);
  // target nodes: the least loaded (by their busiest attached link) first
  const nodeLoad = new Map<string, number>(model.nodes.map((n) => [n, 0]));
  model.links.forEach((l, i) => {
    const ends = linkEnds(l.id);
    if (!ends) return;
    for (const e of ends) if (nodeLoad.has(e)) nodeLoad.set(e, Math.max(nodeLoad.get(e)!, base.util(i)));
  });
  const targets = [...nodeLoad].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([n]) => n);
  let best: { pod: string; from: string; to: string; max: number } | undefined;
  for (const [pod] of pods) {
    const from = model.podNode.get(pod)!;
    const mine = model.demands.filter((d) => d.fromPod === pod || d.toPod === pod);
    const without = base.clone();
    for (const d of mine) without.add(d.path, -demandCapGbps(d));
    for (const to of targets.filter((n) => n !== from).slice(0, o.placeNodes)) {
      const trial = without.clone();
      let feasible = true;
      for (const d of mine) {
        const src = d.fromPod === pod ? to : d.src;
        const dst = d.toPod === pod ? to : d.dst;
        const cands = model.paths(src, dst);
        const gbps = demandCapGbps(d);
        let pick: string[] | undefined;
        let pickWorst = Infinity;
        for (const q of cands) {
          const w = trial.worstWith(q, gbps, NONE);
          if (w < pickWorst) (pickWorst = w), (pick = q);
        }
        if (!pick) {
          feasible = false;
          break;
        }
        trial.add(pick, gbps);
      }
      if (!feasible) continue;
      const max = trial.max();
      if (max < before - EPS && (!best || max < best.max - EPS)) best = { pod, from, to, max };
    }
  }
  return best ? [{ kind: 'move', pod: best.pod, from: best.from, to: best.to }] : [];
}

// ---------------------------------------------------------------------------------------------
// limit: hysteresis state, carried from round to round by the caller
// ---------------------------------------------------------------------------------------------

export interface LimitState {
  /** consecutive rounds each link was at or above the threshold */
  hotRounds: Map<string, number>;
  /** consecutive rounds each link was at or below the clear level */
  clearRounds: Map<string, number>;
  /** meters in force: pod -> its rate, node and the link it was installed for */
  meters: Map<string, { gbps: number; node: string; link: string }>;
}

export function emptyLimitState(): LimitState {
  return { hotRounds: new Map(), clearRounds: new Map(), meters: new Map() };
}

/** Water level at which `asks` (Infinity allowed) fill `capacity`; Infinity when they all fit. */
export function waterLevel(asks: readonly number[], capacityGbps: number): number {
  const sorted = [...asks].sort((a, b) => a - b);
  let room = capacityGbps;
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted.length - i;
    if (sorted[i] * n > room) return room / n;
    room -= sorted[i];
  }
  return Infinity;
}

/**
 * limit: one round. Links at or above the threshold for holdRounds rounds, shared by at least two
 * sending pods, get their hogs metered:
 * the pods sending over the link share `threshold x capacity` max-min fairly (already metered pods
 * count as asking without bound), and every pod taking more than that level is metered at the
 * level plus what it sends elsewhere. A meter is lifted once its link has stayed at or below the
 * clear level for holdRounds rounds. Returns the changes and the next state (the input is not
 * changed).
 */
export function limit(
  model: RebalanceModel,
  load: MeasuredLoad,
  state: LimitState,
  options?: RebalanceOptions,
): { changes: RebalanceChange[]; state: LimitState } {
  const o = opts(options);
  const next: LimitState = { hotRounds: new Map(), clearRounds: new Map(), meters: new Map(state.meters) };
  const changes: RebalanceChange[] = [];
  const utilOf = new Map<string, number>();
  for (const l of model.links) {
    const u = l.capacityGbps > 0 ? (load.linkLoadGbps.get(l.id) ?? 0) / l.capacityGbps : 0;
    utilOf.set(l.id, u);
    next.hotRounds.set(l.id, u >= o.thresholdUtilization - EPS ? (state.hotRounds.get(l.id) ?? 0) + 1 : 0);
    next.clearRounds.set(l.id, u <= o.clearUtilization + EPS ? (state.clearRounds.get(l.id) ?? 0) + 1 : 0);
  }
  // lift first: a link that cleared frees its pods
  for (const [pod, m] of [...next.meters].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const linkGone = !utilOf.has(m.link);
    if (linkGone || (next.clearRounds.get(m.link) ?? 0) >= o.holdRounds) {
      next.meters.delete(pod);
      changes.push({ kind: 'unmeter', pod, node: m.node });
    }
  }
  const podNodeOf = (d: RebalanceDemand): string | undefined => (d.fromPod ? model.podNode?.get(d.fromPod) ?? d.src : undefined);
  const hot = model.links
    .filter((l) => (next.hotRounds.get(l.id) ?? 0) >= o.holdRounds)
    .sort((a, b) => utilOf.get(b.id)! - utilOf.get(a.id)! || (a.id < b.id ? -1 : 1));
  const set = new Map<string, { gbps: number; node: string; link: string }>();
  // per pod: measured total egress; per link: the demands crossing it (built once)
  const total = new Map<string, number>();
  const demandsOn = new Map<string, RebalanceDemand[]>();
  const rateOf = (d: RebalanceDemand): number => {
    // a measured rate is finite; the model's unbounded node-local flows are not metered here
    const measured = load.demandRateGbps.get(d.id) ?? 0;
    return Number.isFinite(measured) ? measured : 0;
  };
  const hotIds = new Set(hot.map((l) => l.id));
  for (const d of model.demands) {
    if (!d.fromPod) continue;
    total.set(d.fromPod, (total.get(d.fromPod) ?? 0) + rateOf(d));
    for (const id of d.path) {
      if (!hotIds.has(id)) continue;
      let list = demandsOn.get(id);
      if (!list) demandsOn.set(id, (list = []));
      list.push(d);
    }
  }
  for (const l of hot) {
    const onLink = new Map<string, number>();
    const nodeOf = new Map<string, string>();
    for (const d of demandsOn.get(l.id) ?? []) {
      onLink.set(d.fromPod!, (onLink.get(d.fromPod!) ?? 0) + rateOf(d));
      nodeOf.set(d.fromPod!, podNodeOf(d)!);
    }
    // one pod alone on a link hogs no one: its own access link is its to fill
    if (onLink.size < 2) continue;
    const pods = [...onLink.keys()].sort();
    const asks = pods.map((p) => (next.meters.has(p) ? Infinity : onLink.get(p)!));
    const level = waterLevel(asks, o.thresholdUtilization * l.capacityGbps);
    if (level === Infinity) continue;
    for (const p of pods) {
      const mine = onLink.get(p)!;
      if (!next.meters.has(p) && mine <= level * (1 + 1e-6)) continue; // within its share: not a hog
      const gbps = level + Math.max(0, (total.get(p) ?? 0) - mine);
      const prev = set.get(p);
      if (!prev || gbps < prev.gbps) set.set(p, { gbps, node: nodeOf.get(p)!, link: l.id });
    }
  }
  for (const [pod, m] of [...set].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const cur = next.meters.get(pod);
    // only a meaningful change is sent (a meter modify costs a switch round trip)
    if (cur && Math.abs(cur.gbps - m.gbps) <= 0.02 * cur.gbps) continue;
    next.meters.set(pod, m);
    changes.push({ kind: 'meter', pod, node: m.node, gbps: m.gbps, link: m.link });
  }
  return { changes, state: next };
}

/**
 * The OpenFlow meter a `meter` change compiles to at the pod's node switch: the pod meter rule of
 * meters.ts (kbps, one `drop` band, burst = rate / 5, stats so that the limit can be watched).
 */
export function meterForLimit(meterId: number, gbps: number): Meter {
  return podMeter(meterId, gbps);
}

// ---------------------------------------------------------------------------------------------
// Applying decisions to a model (the policies are chained by the control loop: controller/loop.ts
// rebalanceFromLoad)
// ---------------------------------------------------------------------------------------------

/** Apply pins and moves to a model (new object; the input is not changed). */
export function applyChanges(model: RebalanceModel, changes: readonly RebalanceChange[]): RebalanceModel {
  const pins = new Map<string, string[]>();
  const moves = new Map<string, string>();
  for (const c of changes) {
    if (c.kind === 'pin') pins.set(c.demand, c.path);
    if (c.kind === 'move') moves.set(c.pod, c.to);
  }
  if (pins.size === 0 && moves.size === 0) return model;
  const podNode = new Map(model.podNode ?? []);
  for (const [p, n] of moves) podNode.set(p, n);
  const demands = model.demands.map((d) => {
    const pin = pins.get(d.id);
    if (pin) return { ...d, path: pin };
    const fromMoved = d.fromPod !== undefined && moves.has(d.fromPod);
    const toMoved = d.toPod !== undefined && moves.has(d.toPod);
    if (!fromMoved && !toMoved) return d;
    const src = fromMoved ? moves.get(d.fromPod!)! : d.src;
    const dst = toMoved ? moves.get(d.toPod!)! : d.dst;
    return { ...d, src, dst, path: [] as string[] };
  });
  // moved demands: route greedily in a fixed order over their candidates
  const load = new OfferedLoad(model.links, demands);
  const out = demands.map((d, i) => {
    const old = model.demands[i];
    if (d.src === old.src && d.dst === old.dst) return d;
    const gbps = demandCapGbps(d);
    let pick: string[] = [];
    let worst = Infinity;
    for (const q of model.paths(d.src, d.dst)) {
      const w = load.worstWith(q, gbps, NONE);
      if (w < worst) (worst = w), (pick = q);
    }
    load.add(pick, gbps);
    return { ...d, path: pick };
  });
  return { ...model, demands: out, podNode };
}

// ---------------------------------------------------------------------------------------------
// Service load balancing by health and load
// ---------------------------------------------------------------------------------------------

export interface EndpointLoad {
  pod: string;
  healthy: boolean;
  /** utilization of the path into the endpoint (e.g. its node's downlink), 0..1 (above 1 counts as 1) */
  utilization: number;
}

/**
 * Select-group bucket weights for a service's endpoints: 0 for an unhealthy endpoint (never
 * chosen), else proportional to the spare capacity in front of it, at least 1 (a loaded but healthy
 * endpoint keeps a trickle so that its load is still measured). When no endpoint is healthy every
 * weight is 0 and the controller should answer with a reject rather than a black hole.
 */
export function serviceBucketWeights(endpoints: readonly EndpointLoad[], maxWeight = 100): { pod: string; weight: number }[] {
  return [...endpoints]
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0))
    .map((e) => ({
      pod: e.pod,
      weight: e.healthy ? Math.max(1, Math.round(maxWeight * (1 - Math.min(1, Math.max(0, e.utilization))))) : 0,
    }));
}
