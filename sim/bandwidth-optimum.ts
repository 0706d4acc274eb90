/**
 * The reference optimum: the least possible maximum link utilization for a set of demands, each
 * free to split over its candidate paths (a path-based multi-commodity flow LP), solved by HiGHS
 * (the `highs` package, WebAssembly, loaded once per process).
 *
 *   minimise  λ
 *   s.t.      Σ_p x[c,p] = D_c                               for every commodity c
 *             Σ_{(c,p) ∋ l} x[c,p] + fixed_l ≤ λ · cap_l     for every link l
 *             x ≥ 0
 *
 * D is what a demand offers (its ask capped by its limit). Because splitting is allowed and the
 * candidate sets include the paths our rebalancer may choose, λ* is a lower bound on the maximum
 * offered utilization any of our unsplittable choices reaches.
 *
 * Size reduction (exact for a splittable LP): links every candidate of a demand shares carry its
 * load whatever the choice ("fixed" load), and demands whose remaining candidate parts are
 * identical are one commodity. On a leaf/spine this turns 100,000 demands into one commodity per
 * (leaf, leaf) pair.
 */
import type { Highs } from 'highs';
import type { BandwidthLink } from '../topology/links';

export interface OptimumDemand {
  id: string;
  /** offered rate (ask capped by limit); Infinity is not allowed here */
  gbps: number;
  /** candidate paths (directed link ids); at least one for the demand to be routed */
  candidates: readonly (readonly string[])[];
}

export interface OptimumResult {
  /** λ*: the least possible maximum offered utilization (Infinity: a demand must cross a dead link) */
  maxUtilization: number;
  /** HiGHS's model status text ("Optimal", or "trivial" when no LP was needed) */
  status: string;
  commodities: number;
  variables: number;
  rows: number;
  /** demands with no candidate path (left out) */
  unrouted: string[];
}

export class OptimumError extends Error {
  override name = 'OptimumError';
}

let solverPromise: Promise<Highs> | undefined;

/** Load the WebAssembly solver once per process (later calls share it). */
export function loadLpSolver(): Promise<Highs> {
  if (!solverPromise) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const loader = require('highs') as (o?: object) => Promise<Highs>;
    solverPromise = loader();
  }
  return solverPromise;
}

/** λ* for `demands` over `links`, loading the solver if needed. */
export async function optimumMaxUtilization(links: readonly BandwidthLink[], demands: readonly OptimumDemand[]): Promise<OptimumResult> {
  return solveOptimum(await loadLpSolver(), links, demands);
}

/** λ* with an already loaded solver (synchronous: for callers that loaded it once up front). */
export function solveOptimum(highs: Highs, links: readonly BandwidthLink[], demands: readonly OptimumDemand[]): OptimumResult {
  const linkIndex = new Map<string, number>();
  links.forEach((l, i) => linkIndex.set(l.id, i));
  const cap = Float64Array.from(links, (l) => l.capacityGbps);
  const fixed = new Float64Array(links.length);
  const unrouted: string[] = [];

  // commodities: key = the candidates' variable parts
  const commodities = new Map<string, { gbps: number; paths: number[][] }>();
  for (const d of demands) {
    if (!(d.gbps >= 0) || !Number.isFinite(d.gbps)) throw new OptimumError(`optimum: demand ${d.id} offers ${d.gbps} Gbit/s`);
    if (d.gbps === 0) continue;
    const cands: number[][] = [];
    for (const c of d.candidates) {
      const idx = c.map((id) => linkIndex.get(id));
      if (idx.some((i) => i === undefined)) continue; // a path over a link that is down
      if ((idx as number[]).some((i) => cap[i] <= 0)) continue;
      cands.push(idx as number[]);
    }
    if (cands.length === 0) {
      unrouted.push(d.id);
      continue;
    }
    const shared = cands.slice(1).reduce((s, c) => new Set(c.filter((i) => s.has(i))), new Set(cands[0]));
    for (const i of shared) fixed[i] += d.gbps;
    const parts = cands.map((c) => c.filter((i) => !shared.has(i)).sort((a, b) => a - b));
    if (parts.every((p) => p.length === 0)) continue;
    const uniq = [...new Map(parts.map((p) => [p.join(','), p])).values()].sort((a, b) => (a.join(',') < b.join(',') ? -1 : 1));
    const key = uniq.map((p) => p.join(',')).join('|');
    const c = commodities.get(key);
    if (c) c.gbps += d.gbps;
    else commodities.set(key, { gbps: d.gbps, paths: uniq });
  }

  let lower = 0;
  for (let i = 0; i < links.length; i++) {
    if (fixed[i] > 0) lower = Math.max(lower, cap[i] > 0 ? fixed[i] / cap[i] : Infinity);
  }
  const comms = [...commodities.values()];
  if (lower === Infinity || comms.length === 0) {
    return { maxUtilization: lower, status: 'trivial', commodities: comms.length, variables: 0, rows: 0, unrouted };
  }

  // rows: commodities first, then the links some variable part uses
  const rowOfLink = new Map<number, number>();
  for (const c of comms) for (const p of c.paths) for (const i of p) if (!rowOfLink.has(i)) rowOfLink.set(i, comms.length + rowOfLink.size);
  const numRows = comms.length + rowOfLink.size;
  const rowLower = new Float64Array(numRows);
  const rowUpper = new Float64Array(numRows);
  comms.forEach((c, k) => ((rowLower[k] = c.gbps), (rowUpper[k] = c.gbps)));
  for (const [i, r] of rowOfLink) {
    rowLower[r] = -highs.infinity;
    rowUpper[r] = -fixed[i];
  }

  // columns (CSC): λ, then one per (commodity, path)
  let numCols = 1;
  for (const c of comms) numCols += c.paths.length;
  const starts = new Int32Array(numCols + 1);
  const indices: number[] = [];
  const values: number[] = [];
  const linkRows = [...rowOfLink].sort((a, b) => a[1] - b[1]);
  for (const [i, r] of linkRows) indices.push(r), values.push(-cap[i]);
  let col = 1;
  starts[1] = indices.length;
  comms.forEach((c, k) => {
    for (const p of c.paths) {
      indices.push(k);
      values.push(1);
      const rows = p.map((i) => rowOfLink.get(i)!).sort((a, b) => a - b);
      for (const r of rows) indices.push(r), values.push(1);
      starts[++col] = indices.length;
    }
  });
  const colCost = new Float64Array(numCols);
  colCost[0] = 1;
  const colLower = new Float64Array(numCols);
  colLower[0] = lower;
  const colUpper = new Float64Array(numCols).fill(highs.infinity);

  const model = highs.createModel({
    numCols,
    numRows,
    colCost,
    colLower,
    colUpper,
    rowLower,
    rowUpper,
    matrix: { format: 'csc', numRows, numCols, starts, indices: Int32Array.from(indices), values: Float64Array.from(values) },
  });
  try {
    model.options.set({ output_flag: false });
    model.run();
    const status = model.getModelStatus();
    const statusText = statusName(highs, status);
    if (statusText !== 'Optimal') throw new OptimumError(`optimum: HiGHS ended with status ${statusText}`);
    const lambda = model.getSolution().colValue[0];
    return { maxUtilization: lambda, status: statusText, commodities: comms.length, variables: numCols, rows: numRows, unrouted };
  } finally {
    model.dispose();
  }
}

function statusName(highs: Highs, status: number): string {
  const table = (highs.constants as unknown as { modelStatus: Record<string, number> }).modelStatus;
  for (const [name, code] of Object.entries(table)) if (code === status) return name === 'optimal' ? 'Optimal' : name;
  return String(status);
}
