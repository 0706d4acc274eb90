import * as path from 'path';
import { applyEvent, buildClusterState, buildGraph, equalCostPaths, parseScenarioFile, shortestPath, type ClusterState } from '../../topology';

const scenarioDir = path.resolve(__dirname, '..', '..', 'scenarios');
function state(name: string): ClusterState {
  return buildClusterState(parseScenarioFile(path.join(scenarioDir, `${name}.yaml`)).scenario!);
}

describe('cluster graph', () => {
  test('vertices and edges with their attributes', () => {
    const g = buildGraph(state('default'));
    expect(g.order).toBe(9); // 4 nodes, 4 fabric switches, 1 external
    expect(g.size).toBe(9); // 8 links + the external's attachment
    expect(g.getNodeAttributes('internet')).toEqual({ kind: 'external', up: true });
    expect(g.getNodeAttributes('tor1')).toEqual({ kind: 'fabric', up: true });
    expect(g.getEdgeAttributes('tor1|spine1')).toEqual({ kind: 'link', gbps: 40, latencyUs: 2, up: true });
  });

  test('equal-cost paths across a leaf/spine, in a stable order', () => {
    const s = state('default');
    expect(equalCostPaths(s, 'node1', 'node4')).toEqual([
      ['node1', 'tor1', 'spine1', 'tor2', 'node4'],
      ['node1', 'tor1', 'spine2', 'tor2', 'node4'],
    ]);
    // pods stand for their node
    expect(equalCostPaths(s, 'web-1', 'db-1')).toEqual(equalCostPaths(s, 'node1', 'node4'));
    expect(shortestPath(s, 'node1', 'node2')).toEqual(['node1', 'tor1', 'node2']);
    expect(equalCostPaths(s, 'node1', 'internet')).toEqual([['node1', 'tor1', 'spine1', 'internet']]);
    expect(equalCostPaths(s, 'node1', 'node1')).toEqual([['node1']]);
    expect(equalCostPaths(s, 'node1', 'nowhere')).toEqual([]);
    const ecmp = state('leaf-spine-ecmp');
    expect(equalCostPaths(ecmp, 'node11', 'node42')).toHaveLength(2);
    expect(equalCostPaths(ecmp, 'node11', 'node42', 1)).toHaveLength(1);
  });

  test('only up links and up nodes carry paths', () => {
    const s = state('default');
    applyEvent(s, { at: 2, kind: 'link', action: 'down', between: ['tor1', 'spine1'] });
    expect(equalCostPaths(s, 'node1', 'node4')).toEqual([['node1', 'tor1', 'spine2', 'tor2', 'node4']]);
    // the internet hangs off spine1 only: now one hop longer
    expect(shortestPath(s, 'node1', 'internet')).toEqual(['node1', 'tor1', 'spine2', 'tor2', 'spine1', 'internet']);
    applyEvent(s, { at: 3, kind: 'node', action: 'down', name: 'node4' });
    expect(equalCostPaths(s, 'node1', 'node4')).toEqual([]);
    expect(shortestPath(s, 'node1', 'node4')).toBeNull();
    const lf = state('link-failure');
    applyEvent(lf, { at: 4, kind: 'link', action: 'down', between: ['node3', 'tor2'] });
    expect(shortestPath(lf, 'app-1', 'db-1')).toBeNull();
    expect(shortestPath(lf, 'app-1', 'app-2')).toEqual(['node1', 'tor1', 'spine1', 'tor2', 'node2']);
  });
});
