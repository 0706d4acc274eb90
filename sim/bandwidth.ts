/**
 * The flow-level bandwidth model: max-min fair allocation of demands over directed links by
 * progressive filling (water-filling), with per-demand caps (what the demand asks, a per-flow
 * limit) and per-pod meters (a pod's total egress cap, modelled as a virtual link that every
 * demand of the pod crosses).
 *
 * Pure functions over explicit inputs: no clock, no randomness, no I/O. A directed link is named
 * "a->b" (the direction packets travel from switch a to switch b), which is also what the
 * `maxLinkUtilization` expectation prints as its detail; the link vocabulary (BandwidthLink,
 * directedLinkId, linkEnds, podMeterLinkId, demandCapGbps) lives in topology/links.ts.
 *
 * Units: Gbit/s everywhere.
 */

import { demandCapGbps, podMeterLinkId } from '../topology/links';
import type { BandwidthLink } from '../topology/links';

export interface BandwidthDemand {
  id: string;
  /** directed link ids, in the order packets cross them; empty: the demand stays on one switch */
  path: readonly string[];
  /** what the demand asks; Infinity for an elastic (greedy) sender */
  demandGbps: number;
  /** a per-demand cap (a per-flow policer); absent: none */
  limitGbps?: number;
}

export interface Allocation {
  /** granted rate per demand id */
  rates: Map<string, number>;
  /** carried load per link id (every link of the input appears, 0 when unused) */
  linkLoad: Map<string, number>;
}

/** Thrown on input the model cannot accept (unknown link in a path, negative capacity ...). */
export class BandwidthModelError extends Error {
  override name = 'BandwidthModelError';
}

// ---------------------------------------------------------------------------------------------
// The indexed core: typed arrays, for 100,000s of demands
// ---------------------------------------------------------------------------------------------

export interface IndexedProblem {
  /** capacity per link index */
  capacityGbps: Float64Array;
  /** per demand: min(asked, limit); Infinity allowed */
  capGbps: Float64Array;
  /** CSR: demand d crosses links pathLinks[pathStart[d] .. pathStart[d+1]) */
  pathStart: Int32Array;
  pathLinks: Int32Array;
}

export interface IndexedAllocation {
  rateGbps: Float64Array;
  linkLoadGbps: Float64Array;
}

/**
 * Progressive filling. All unfrozen demands grow at the same speed (so they share one level t);
 * a link saturates at t_l = (capacity - frozen load) / (unfrozen demands on it), a demand stops
 * at its own cap. The next event is the smaller of the lowest t_l (a lazy min-heap over links:
 * t_l only grows as demands freeze) and the next cap (demands sorted by cap once).
 * Cost: O((D + sum of path lengths) log) for D demands.
 */
export function allocateIndexed(p: IndexedProblem): IndexedAllocation {
  const L = p.capacityGbps.length;
  const D = p.capGbps.length;
  const rate = new Float64Array(D);
  const frozen = new Uint8Array(D);
  const frozenLoad = new Float64Array(L);
  const active = new Int32Array(L);
  const saturated = new Uint8Array(L);

  // link -> demands incidence (CSR), built from the demand -> links one
  const incStart = new Int32Array(L + 1);
  for (let k = 0; k < p.pathLinks.length; k++) incStart[p.pathLinks[k] + 1]++;
  for (let l = 0; l < L; l++) incStart[l + 1] += incStart[l];
  const incFill = incStart.slice(0, L);
  const incDemands = new Int32Array(p.pathLinks.length);
  for (let d = 0; d < D; d++) {
    for (let k = p.pathStart[d]; k < p.pathStart[d + 1]; k++) {
      const l = p.pathLinks[k];
      incDemands[incFill[l]++] = d;
      active[l]++;
    }
  }

  // demands by cap, ascending (a stable order: ties by index)
  const order = new Int32Array(D);
  for (let d = 0; d < D; d++) order[d] = d;
  const caps = p.capGbps;
  order.sort((a, b) => caps[a] - caps[b] || a - b);

  const heap = new LinkHeap(L * 2 + 16);
  const levelOf = (l: number): number => {
    const room = p.capacityGbps[l] - frozenLoad[l];
    return room <= 0 ? 0 : room / active[l];
  };
  for (let l = 0; l < L; l++) if (active[l] > 0) heap.push(levelOf(l), l);

  const freeze = (d: number, r: number): void => {
    frozen[d] = 1;
    rate[d] = r;
    for (let k = p.pathStart[d]; k < p.pathStart[d + 1]; k++) {
      const l = p.pathLinks[k];
      frozenLoad[l] += r;
      active[l]--;
      if (active[l] > 0 && !saturated[l]) heap.push(levelOf(l), l);
    }
  };

  let next = 0; // into order
  let remaining = D;
  while (remaining > 0) {
    // lowest valid link level (entries are stale when the link's level moved or it saturated)
    let linkLevel = Infinity;
    let link = -1;
    while (heap.size > 0) {
      const l = heap.topLink();
      const key = heap.topKey();
      if (saturated[l] || active[l] === 0 || key !== levelOf(l)) {
        heap.pop();
        continue;
      }
      linkLevel = key;
      link = l;
      break;
    }
    while (next < D && frozen[order[next]]) next++;
    const capLevel = next < D ? caps[order[next]] : Infinity;
    if (capLevel <= linkLevel) {
      if (capLevel === Infinity) {
        // elastic demands that cross no link: unbounded; report Infinity honestly
        for (let d = 0; d < D; d++) if (!frozen[d]) freeze(d, Infinity), remaining--;
        break;
      }
      freeze(order[next], capLevel);
      remaining--;
      continue;
    }
    // the link saturates: every unfrozen demand on it stops at this level
    heap.pop();
    saturated[link] = 1;
    for (let k = incStart[link]; k < incStart[link + 1]; k++) {
      const d = incDemands[k];
      if (!frozen[d]) {
        freeze(d, linkLevel);
        remaining--;
      }
    }
  }

  const linkLoad = new Float64Array(L);
  for (let d = 0; d < D; d++) {
    const r = rate[d];
    if (r === 0) continue;
    for (let k = p.pathStart[d]; k < p.pathStart[d + 1]; k++) linkLoad[p.pathLinks[k]] += r;
  }
  return { rateGbps: rate, linkLoadGbps: linkLoad };
}

/** A binary min-heap of (level, link) with typed arrays; stale entries are skipped by the caller. */
class LinkHeap {
  private keys: Float64Array;
  private links: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.links = new Int32Array(capacity);
  }
  push(key: number, link: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      const l = new Int32Array(this.size * 2);
      l.set(this.links);
      this.keys = k;
      this.links = l;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent] <= key) break;
      this.keys[i] = this.keys[parent];
      this.links[i] = this.links[parent];
      i = parent;
    }
    this.keys[i] = key;
    this.links[i] = link;
  }
  topKey(): number {
    return this.keys[0];
  }
  topLink(): number {
    return this.links[0];
  }
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const key = this.keys[n];
    const link = this.links[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.keys[c + 1] < this.keys[c]) c++;
      if (this.keys[c] >= key) break;
      this.keys[i] = this.keys[c];
      this.links[i] = this.links[c];
      i = c;
    }
    this.keys[i] = key;
    this.links[i] = link;
  }
}

// ---------------------------------------------------------------------------------------------
// The named API
// ---------------------------------------------------------------------------------------------

/** Links and demands to the indexed form; checks the input. */
export function indexProblem(
  links: readonly BandwidthLink[],
  demands: readonly BandwidthDemand[],
): { problem: IndexedProblem; linkIndex: Map<string, number> } {
  const linkIndex = new Map<string, number>();
  const capacityGbps = new Float64Array(links.length);
  links.forEach((l, i) => {
    if (linkIndex.has(l.id)) throw new BandwidthModelError(`allocateMaxMinFair: link ${l.id} given twice`);
    if (!(l.capacityGbps >= 0) || !Number.isFinite(l.capacityGbps)) {
      throw new BandwidthModelError(`allocateMaxMinFair: link ${l.id} has capacity ${l.capacityGbps}`);
    }
    linkIndex.set(l.id, i);
    capacityGbps[i] = l.capacityGbps;
  });
  const capGbps = new Float64Array(demands.length);
  const pathStart = new Int32Array(demands.length + 1);
  let total = 0;
  for (const d of demands) total += d.path.length;
  const pathLinks = new Int32Array(total);
  let k = 0;
  demands.forEach((d, i) => {
    const cap = demandCapGbps(d);
    if (!(cap >= 0)) throw new BandwidthModelError(`allocateMaxMinFair: demand ${d.id} asks ${cap} Gbit/s`);
    capGbps[i] = cap;
    pathStart[i] = k;
    const seen = new Set<number>();
    for (const id of d.path) {
      const l = linkIndex.get(id);
      if (l === undefined) throw new BandwidthModelError(`allocateMaxMinFair: demand ${d.id} crosses unknown link ${id}`);
      // a path that crosses a link twice would count once per crossing; a loop is a bug upstream
      if (seen.has(l)) throw new BandwidthModelError(`allocateMaxMinFair: demand ${d.id} crosses link ${id} twice`);
      seen.add(l);
      pathLinks[k++] = l;
    }
  });
  pathStart[demands.length] = k;
  return { problem: { capacityGbps, capGbps, pathStart, pathLinks }, linkIndex };
}

/**
 * Max-min fair rates for `demands` over `links` (progressive filling). Demand ids must be unique
 * (the result is keyed by them).
 */
export function allocateMaxMinFair(links: readonly BandwidthLink[], demands: readonly BandwidthDemand[]): Allocation {
  const { problem } = indexProblem(links, demands);
  const out = allocateIndexed(problem);
  const rates = new Map<string, number>();
  demands.forEach((d, i) => {
    if (rates.has(d.id)) throw new BandwidthModelError(`allocateMaxMinFair: demand ${d.id} given twice`);
    rates.set(d.id, out.rateGbps[i]);
  });
  const linkLoad = new Map<string, number>();
  links.forEach((l, i) => linkLoad.set(l.id, out.linkLoadGbps[i]));
  return { rates, linkLoad };
}

export interface PodMeter {
  pod: string;
  /** the pod's total egress rate */
  gbps: number;
}

/**
 * Per-pod meters as virtual links: a meter of rate R on pod P is a link of capacity R that every
 * demand sent by P crosses first, so the pod's demands share R max-min fairly among themselves
 * and with nothing else. Returns new arrays; the inputs are not changed.
 */
export function withPodMeters<D extends BandwidthDemand>(
  links: readonly BandwidthLink[],
  demands: readonly D[],
  meters: readonly PodMeter[],
  podOf: (demand: D) => string | undefined,
): { links: BandwidthLink[]; demands: D[] } {
  const byPod = new Map<string, number>();
  for (const m of meters) byPod.set(m.pod, Math.min(m.gbps, byPod.get(m.pod) ?? Infinity));
  const outLinks = links.slice();
  for (const [pod, gbps] of [...byPod].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    outLinks.push({ id: podMeterLinkId(pod), capacityGbps: gbps });
  }
  const outDemands = demands.map((d) => {
    const pod = podOf(d);
    if (pod === undefined || !byPod.has(pod)) return d;
    return { ...d, path: [podMeterLinkId(pod), ...d.path] };
  });
  return { links: outLinks, demands: outDemands };
}

/** Carried utilization per link: load / capacity (a link of capacity 0 with no load: 0). */
export function linkUtilization(links: readonly BandwidthLink[], linkLoad: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of links) {
    const load = linkLoad.get(l.id) ?? 0;
    out.set(l.id, l.capacityGbps > 0 ? load / l.capacityGbps : load > 0 ? Infinity : 0);
  }
  return out;
}

/**
 * Offered utilization per link: what the demands ask (each capped by its limit) over capacity,
 * as if every demand got what it asks. Above 1 means the link cannot carry its offered load.
 * This is the quantity rebalancing and the LP optimum minimise (carried utilization is capped at 1
 * by construction and says nothing about how oversubscribed a hot link is).
 */
export function offeredUtilization(links: readonly BandwidthLink[], demands: readonly BandwidthDemand[]): Map<string, number> {
  const load = new Map<string, number>();
  for (const l of links) load.set(l.id, 0);
  for (const d of demands) {
    const cap = demandCapGbps(d);
    for (const id of d.path) load.set(id, (load.get(id) ?? 0) + cap);
  }
  return linkUtilization(links, load);
}

/** The hottest link (ties: the smallest id, so the answer is deterministic). Physical links only. */
export function hottestLink(utilization: ReadonlyMap<string, number>): { link: string; utilization: number } | undefined {
  let best: { link: string; utilization: number } | undefined;
  for (const [link, u] of utilization) {
    if (link.startsWith('meter:')) continue;
    if (!best || u > best.utilization || (u === best.utilization && link < best.link)) best = { link, utilization: u };
  }
  return best;
}
