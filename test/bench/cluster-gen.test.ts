/** bench/cluster-gen: the generated cluster has the asked shape, is deterministic and a valid scenario. */
import YAML from 'yaml';
import { generateCluster, ClusterGenError, nodeBlock, nodeIp } from '../../bench/cluster-gen';
import { buildClusterState, parseScenarioText, planAddresses } from '../../topology';

describe('generateCluster', () => {
  const options = { nodes: 7, podsPerNode: 5, services: 6, backendsPerService: 3, nodesPerLeaf: 3, spines: 2 };

  test('has N nodes, N*P pods, S services of exactly B distinct backends each', () => {
    const scenario = generateCluster(options);
    const state = buildClusterState(scenario);
    expect(state.nodes.size).toBe(7);
    expect(state.pods.size).toBe(35);
    expect(state.services.size).toBe(6);
    const seen = new Set<string>();
    for (const svc of state.services.values()) {
      expect(svc.endpoints).toHaveLength(3);
      for (const pod of svc.endpoints) {
        expect(seen.has(pod)).toBe(false); // a pod backs at most one service
        seen.add(pod);
      }
    }
    for (let i = 1; i <= 7; i++) expect([...state.pods.values()].filter((p) => p.node === `node${i}`)).toHaveLength(5);
  });

  test('leaf/spine: each node on one leaf, every leaf on every spine', () => {
    const scenario = generateCluster(options);
    const leaves = scenario.fabric.switches.filter((s) => s.name.startsWith('leaf')).map((s) => s.name);
    const spines = scenario.fabric.switches.filter((s) => s.name.startsWith('spine')).map((s) => s.name);
    expect(leaves).toEqual(['leaf1', 'leaf2', 'leaf3']); // ceil(7 / 3)
    expect(spines).toEqual(['spine1', 'spine2']);
    for (const node of scenario.fabric.nodes) {
      const up = scenario.fabric.links.filter((l) => l.between[0] === node.name);
      expect(up).toHaveLength(1);
      expect(leaves).toContain(up[0].between[1]);
    }
    for (const leaf of leaves) {
      const toSpines = scenario.fabric.links.filter((l) => l.between[0] === leaf).map((l) => l.between[1]);
      expect(toSpines.sort()).toEqual(spines);
    }
  });

  test('deterministic: same seed same scenario; another seed spreads backends differently', () => {
    expect(generateCluster(options)).toEqual(generateCluster(options));
    const a = generateCluster({ ...options, seed: 1 }).pods.map((p) => p.labels.app);
    const b = generateCluster({ ...options, seed: 2 }).pods.map((p) => p.labels.app);
    expect(a).not.toEqual(b);
    expect([...a].sort()).toEqual([...b].sort()); // same multiset of labels
  });

  test('fixed addresses are exactly what IPAM would choose', () => {
    const fixed = generateCluster({ ...options, fixedAddresses: true });
    const free = generateCluster(options);
    const planFree = planAddresses(free);
    for (const [i, node] of fixed.fabric.nodes.entries()) {
      expect(node.podCidr).toBe(nodeBlock(i + 1));
      expect(planFree.nodes[node.name].podCidr).toBe(node.podCidr);
      expect(node.ip).toBe(nodeIp(i + 1));
    }
    for (const pod of fixed.pods) expect(planFree.pods[pod.name]).toBe(pod.ip);
    for (const svc of fixed.services) expect(planFree.services[svc.name]).toBe(svc.ip);
  });

  test('is a valid scenario file once written as YAML, and never uses 192.0.2.0/24', () => {
    const scenario = generateCluster(options);
    const text = YAML.stringify(scenario);
    expect(text).not.toMatch(/192\.0\.2\./);
    const parsed = parseScenarioText(text, 'generated.yaml');
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(parsed.scenario?.pods.map((p) => p.name)).toEqual(scenario.pods.map((p) => p.name));
    expect(parsed.scenario?.services.map((s) => s.selector)).toEqual(scenario.services.map((s) => s.selector));
  });

  test('refuses impossible sizes with a typed error', () => {
    expect(() => generateCluster({ ...options, services: 100 })).toThrow(ClusterGenError);
    expect(() => generateCluster({ ...options, podsPerNode: 254 })).toThrow(ClusterGenError);
    expect(() => generateCluster({ ...options, nodes: 0 })).toThrow(ClusterGenError);
    expect(() => generateCluster({ ...options, nodes: 1.5 })).toThrow(/integer/);
  });
});
