/**
 * The cluster as a graph (graphology): node switches, fabric switches and externals are vertices;
 * links are edges carrying capacity, latency and liveness, and each external hangs off the switch it
 * attaches to by an always-up edge. Path queries count hops and use only up links between up vertices;
 * their results are deterministic (neighbours are explored in name order), so ECMP choices made from
 * them are reproducible.
 */
import Graph, { UndirectedGraph } from 'graphology';
import { singleSourceLength } from 'graphology-shortest-path/unweighted';
import type { ClusterState } from './types';

export type VertexKind = 'node' | 'fabric' | 'external';

export interface VertexAttributes {
  kind: VertexKind;
  up: boolean;
}

export interface EdgeAttributes {
  kind: 'link' | 'attach';
  /** capacity per direction; Infinity for an external's attachment */
  gbps: number;
  latencyUs: number;
  up: boolean;
}

export type ClusterGraph = Graph<VertexAttributes, EdgeAttributes>;

/** Every vertex and edge, down ones included (attributes say which are up). Edge keys are link ids. */
export function buildGraph(state: ClusterState): ClusterGraph {
  const graph = new UndirectedGraph<VertexAttributes, EdgeAttributes>();
  for (const sw of state.switches.values()) graph.addNode(sw.name, { kind: sw.role === 'node' ? 'node' : 'fabric', up: sw.up });
  for (const ext of state.externals.values()) graph.addNode(ext.name, { kind: 'external', up: true });
  for (const link of state.links.values()) {
    graph.addEdgeWithKey(link.id, link.a, link.b, { kind: 'link', gbps: link.gbps, latencyUs: link.latencyUs, up: link.up });
  }
  for (const ext of state.externals.values()) {
    graph.addEdgeWithKey(`${ext.name}|${ext.attach}`, ext.name, ext.attach, { kind: 'attach', gbps: Number.POSITIVE_INFINITY, latencyUs: 0, up: true });
  }
  return graph;
}

/** Only what traffic can use now: up vertices and up edges. */
export function buildUpGraph(state: ClusterState): ClusterGraph {
  const full = buildGraph(state);
  const graph = new UndirectedGraph<VertexAttributes, EdgeAttributes>();
  full.forEachNode((v, attrs) => {
    if (attrs.up) graph.addNode(v, attrs);
  });
  full.forEachEdge((e, attrs, a, b) => {
    if (attrs.up && graph.hasNode(a) && graph.hasNode(b)) graph.addEdgeWithKey(e, a, b, attrs);
  });
  return graph;
}

/** A pod stands for the node it runs on; anything else must be a vertex. */
function vertexOf(state: ClusterState, name: string): string {
  return state.pods.get(name)?.node ?? name;
}

function sortedNeighbors(graph: ClusterGraph, v: string): string[] {
  return [...new Set(graph.neighbors(v))].sort();
}

/**
 * Every shortest path (by hops) from `from` to `to` as lists of vertex names, in lexicographic order
 * of their vertex names; at most `limit` of them. Pods may be named and stand for their current node.
 * [] when there is no path (or an end is down or unknown); [[v]] when both ends are the same vertex.
 * Parallel links between the same two vertices are not distinguished.
 */
export function equalCostPaths(state: ClusterState, from: string, to: string, limit = 256): string[][] {
  const graph = buildUpGraph(state);
  const source = vertexOf(state, from);
  const target = vertexOf(state, to);
  if (!graph.hasNode(source) || !graph.hasNode(target)) return [];
  const distToTarget = singleSourceLength(graph, target);
  if (distToTarget[source] === undefined) return [];
  const paths: string[][] = [];
  const walk = (v: string, path: string[]): void => {
    if (paths.length >= limit) return;
    if (v === target) {
      paths.push(path);
      return;
    }
    const d = distToTarget[v];
    for (const n of sortedNeighbors(graph, v)) {
      // only hosts at the ends: a path never transits an external
      if (n !== target && graph.getNodeAttribute(n, 'kind') === 'external') continue;
      if (distToTarget[n] === d - 1) walk(n, [...path, n]);
    }
  };
  walk(source, [source]);
  return paths;
}

/** The first of the equal-cost paths, or null when none exists. */
export function shortestPath(state: ClusterState, from: string, to: string): string[] | null {
  return equalCostPaths(state, from, to, 1)[0] ?? null;
}
