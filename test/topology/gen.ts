/** Scenario builders and fast-check arbitraries for the topology tests (valid by construction). */
import fc from 'fast-check';
import type { PodSpec, Scenario, ServiceSpec, NodeSpec } from '../../topology';
import { intToIp, ipToInt } from '../../topology';

export function baseScenario(overrides: Partial<Scenario> = {}): Scenario {
  return {
    name: 'gen',
    seed: 1,
    cluster: { mode: 'routed', encap: 'vxlan', podCidr: '10.244.0.0/16', nodeMaskLen: 24, serviceCidr: '10.96.0.0/20', isolation: false, allow: [], rebalance: [] },
    fabric: { switches: [{ name: 'tor1' }], nodes: [], links: [], externals: [] },
    pods: [],
    services: [],
    traffic: [],
    events: [],
    expect: [],
    ...overrides,
  };
}

export interface AddressSpec {
  maskLen: number;
  /** per node: a fixed block index or null */
  nodes: (number | null)[];
  /** per pod: node index and, for nodes with a fixed block, an optional fixed host offset */
  pods: { node: number; offset: number | null }[];
  /** per service: an optional fixed offset in the service pool */
  services: (number | null)[];
}

export const addressSpec: fc.Arbitrary<AddressSpec> = fc
  .record({
    maskLen: fc.constantFrom(24, 26, 28),
    nodes: fc.array(fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }), { minLength: 1, maxLength: 12 }),
    pods: fc.array(fc.record({ node: fc.nat(), offset: fc.option(fc.integer({ min: 2, max: 13 }), { nil: null }) }), { maxLength: 60 }),
    services: fc.array(fc.option(fc.integer({ min: 2, max: 4000 }), { nil: null }), { maxLength: 12 }),
  })
  .map((s) => ({ ...s, pods: s.pods.map((p) => ({ node: p.node % s.nodes.length, offset: p.offset })) }));

/** A valid scenario from a spec: duplicate fixed blocks/IPs are dropped, pods beyond a block's room too. */
export function scenarioFromSpec(spec: AddressSpec): Scenario {
  const s = baseScenario();
  s.cluster.nodeMaskLen = spec.maskLen;
  const blockSize = 2 ** (32 - spec.maskLen);
  const pool = ipToInt('10.244.0.0');
  const usedBlocks = new Set<number>();
  s.fabric.nodes = spec.nodes.map((b, i): NodeSpec => {
    const node: NodeSpec = { name: `node${i}`, ip: `198.51.100.${i + 1}` };
    if (b !== null && !usedBlocks.has(b)) {
      usedBlocks.add(b);
      node.podCidr = `${intToIp(pool + b * blockSize)}/${spec.maskLen}`;
    }
    return node;
  });
  s.fabric.links = s.fabric.nodes.map((n) => ({ between: [n.name, 'tor1'] as [string, string], gbps: 10, latencyUs: 1 }));
  const room = blockSize - 3;
  const countOnNode = new Map<number, number>();
  const usedIps = new Set<string>();
  spec.pods.forEach((p, i) => {
    const count = countOnNode.get(p.node) ?? 0;
    if (count >= room) return;
    countOnNode.set(p.node, count + 1);
    const node = s.fabric.nodes[p.node];
    const pod: PodSpec = { name: `pod${i}`, node: node.name, labels: { app: `a${i % 3}` }, hostPorts: [] };
    if (p.offset !== null && node.podCidr && p.offset <= blockSize - 2) {
      const ip = intToIp(ipToInt(node.podCidr.split('/')[0]) + p.offset);
      if (!usedIps.has(ip)) {
        usedIps.add(ip);
        pod.ip = ip;
      }
    }
    s.pods.push(pod);
  });
  const usedVips = new Set<string>();
  s.services = spec.services.map((o, i): ServiceSpec => {
    const svc: ServiceSpec = { name: `svc${i}`, selector: { app: `a${i % 3}` }, port: 80, targetPort: 80, protocol: 'tcp' };
    if (o !== null) {
      const ip = intToIp(ipToInt('10.96.0.0') + o);
      if (!usedVips.has(ip)) {
        usedVips.add(ip);
        svc.ip = ip;
      }
    }
    return svc;
  });
  return s;
}
