/**
 * Candidate paths for the bandwidth model, rebalancing and the LP optimum: equal-cost (and
 * near-equal-cost) paths between two switches over the up links, as lists of directed link ids.
 *
 * This is the bandwidth model's own view of the topology, built from plain link records so that
 * it needs nothing but the data (the compiled pipeline's actual ECMP choice comes from the
 * simulator's packet walk; these are the alternatives a rebalancer may pin a demand to).
 * Cost is hop count, the metric the controller's ECMP uses.
 */
import { directedLinkId } from './links';

export interface TopologyLink {
  a: string;
  b: string;
  /** capacity per direction */
  gbps: number;
  /** default true */
  up?: boolean;
}

export interface PathGraph {
  /** neighbours per switch, sorted by name (deterministic enumeration order) */
  adjacency: Map<string, string[]>;
  /** directed link id -> capacity */
  capacityGbps: Map<string, number>;
}

/** The graph of up links (both directions of each). Parallel links between a pair are merged (capacities add). */
export function buildPathGraph(links: readonly TopologyLink[]): PathGraph {
  const adjacency = new Map<string, Set<string>>();
  const capacityGbps = new Map<string, number>();
  const add = (x: string, y: string, gbps: number): void => {
    if (!adjacency.has(x)) adjacency.set(x, new Set());
    adjacency.get(x)!.add(y);
    const id = directedLinkId(x, y);
    capacityGbps.set(id, (capacityGbps.get(id) ?? 0) + gbps);
  };
  for (const l of links) {
    if (!adjacency.has(l.a)) adjacency.set(l.a, new Set());
    if (!adjacency.has(l.b)) adjacency.set(l.b, new Set());
    if (l.up === false) continue;
    add(l.a, l.b, l.gbps);
    add(l.b, l.a, l.gbps);
  }
  const sorted = new Map<string, string[]>();
  for (const [k, v] of adjacency) sorted.set(k, [...v].sort());
  return { adjacency: sorted, capacityGbps };
}

/** Hop distance of every switch to `target` (BFS), undefined for unreachable ones. */
export function distancesTo(graph: PathGraph, target: string): Map<string, number> {
  const dist = new Map<string, number>([[target, 0]]);
  let frontier = [target];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const x of frontier) {
      for (const y of graph.adjacency.get(x) ?? []) {
        if (!dist.has(y)) {
          dist.set(y, dist.get(x)! + 1);
          next.push(y);
        }
      }
    }
    frontier = next;
  }
  return dist;
}

export interface PathOptions {
  /** extra hops allowed over the shortest path (near-equal cost); default 0 */
  slackHops?: number;
  /** at most this many paths; default 16 */
  maxPaths?: number;
  /** switches a path may not cross in its middle (node switches are not transit); default none */
  noTransit?: ReadonlySet<string>;
}

/**
 * Loop-free paths from `src` to `dst` of length <= shortest + slackHops, as directed link ids,
 * shortest first, then in name order. `[]` (one empty path) when src === dst; no paths when
 * unreachable. `dist` may be passed in when many sources share one destination.
 */
export function candidatePaths(
  graph: PathGraph,
  src: string,
  dst: string,
  options: PathOptions = {},
  dist: Map<string, number> = distancesTo(graph, dst),
): string[][] {
  if (src === dst) return [[]];
  const shortest = dist.get(src);
  if (shortest === undefined) return [];
  const slack = options.slackHops ?? 0;
  const maxPaths = options.maxPaths ?? 16;
  const budget = shortest + slack;
  const out: string[][] = [];
  const onPath = new Set<string>([src]);
  const hops: string[] = [src];
  const walk = (x: string): void => {
    if (out.length >= maxPaths * 4) return; // enough to pick the shortest maxPaths from
    const used = hops.length - 1;
    for (const y of graph.adjacency.get(x) ?? []) {
      if (onPath.has(y)) continue;
      const dy = dist.get(y);
      if (dy === undefined || used + 1 + dy > budget) continue;
      if (y !== dst && options.noTransit?.has(y)) continue;
      if (y === dst) {
        out.push(pathLinks([...hops, y]));
        continue;
      }
      onPath.add(y);
      hops.push(y);
      walk(y);
      hops.pop();
      onPath.delete(y);
    }
  };
  walk(src);
  const keyed = out.map((p) => ({ p, key: p.join() }));
  keyed.sort((x, y) => x.p.length - y.p.length || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return keyed.slice(0, maxPaths).map((x) => x.p);
}

/** The directed link ids along a list of switches. */
export function pathLinks(switches: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < switches.length; i++) out.push(directedLinkId(switches[i], switches[i + 1]));
  return out;
}

/**
 * A memo of candidate paths per (src, dst), sharing BFS work per destination: the rebalancer and
 * the LP ask for the same pairs many times.
 */
export class PathCache {
  private dist = new Map<string, Map<string, number>>();
  private paths = new Map<string, string[][]>();
  constructor(
    readonly graph: PathGraph,
    readonly options: PathOptions = {},
  ) {}
  get(src: string, dst: string): string[][] {
    const key = `${src}\u0000${dst}`;
    let p = this.paths.get(key);
    if (!p) {
      let d = this.dist.get(dst);
      if (!d) this.dist.set(dst, (d = distancesTo(this.graph, dst)));
      p = candidatePaths(this.graph, src, dst, this.options, d);
      this.paths.set(key, p);
    }
    return p;
  }
}

/**
 * A 32-bit FNV-1a hash of a string: the bandwidth model's stand-in for the switches' ECMP hash
 * when the simulator's packet walk is not available (the walk, when given, is authoritative).
 */
export function flowHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
