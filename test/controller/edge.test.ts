/**
 * The cluster's edge (controller/edge.ts, issue #15): port ranges as masked matches, closed by
 * default with openings for outside hosts, closed egress with allow rules to outside hosts,
 * NodePorts (Cluster and Local), LoadBalancer VIPs, readiness; in the simulator, and as parse
 * errors for what cannot work. The same flows run on real OVS in the lab (test/lab/shipped.test.ts
 * plays scenarios/public-web.yaml) and agree with ofproto/trace (test/sim/ovs-differential.test.ts).
 */
import fc from 'fast-check';
import { parseScenarioText } from '../../topology';
import type { Scenario } from '../../topology';
import { runScenario } from '../../sim/runner';
import { compileCluster } from '../../controller';
import { portMatches } from '../../controller/flows';
import { buildClusterState } from '../../topology';
import { flowText } from '../../fabric/openflow/ofctl';

function scenario(opts: { cluster?: string; allow?: string; services?: string; pods?: string; expect: string; events?: string }): Scenario {
  const text = `name: edge
seed: 5
cluster:
  podCidr: 10.244.0.0/16
  serviceCidr: 10.96.0.0/16
  loadBalancerCidr: 198.18.20.0/24
${opts.cluster ?? ''}
  allow:
${opts.allow ?? '    []'}
fabric:
  switches: [ { name: tor1 }, { name: spine1 } ]
  nodes:
    - { name: node1, ip: 198.51.100.41 }
    - { name: node2, ip: 198.51.100.42 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
    - { between: [tor1, spine1], gbps: 40 }
  externals:
    - { name: internet, ip: 203.0.113.10, attach: spine1 }
    - { name: partner, ip: 203.0.113.99, attach: spine1 }
pods:
  - { name: web-1, node: node1, labels: { app: web } }
  - { name: web-2, node: node2, labels: { app: web } }
${opts.pods ?? ''}
services:
${opts.services ?? '  []'}
events:
${opts.events ?? '  []'}
expect:
${opts.expect}
`;
  const parsed = parseScenarioText(text.replace(/allow:\n {4}\[\]/, 'allow: []').replace(/services:\n {2}\[\]/, 'services: []').replace(/events:\n {2}\[\]/, 'events: []'), 'edge.yaml');
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(errors.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n'));
  return parsed.scenario!;
}

function failures(s: Scenario): string[] {
  return runScenario(s)
    .expectations.filter((e) => !e.ok)
    .map((e) => `#${e.index} ${e.kind}: ${e.detail}`);
}

describe('port ranges compile to the fewest exact masked matches', () => {
  test('8000-8100 is four blocks; one port is one exact match', () => {
    expect(portMatches(8000, 8100).map((m) => (m.mask === undefined ? `${m.value}` : `${m.value}/0x${m.mask.toString(16)}`))).toEqual([
      '8000/0xffc0',
      '8064/0xffe0',
      '8096/0xfffc',
      '8100',
    ]);
    expect(portMatches(443)).toEqual([{ value: 443n }]);
    expect(portMatches(1, 65535).length).toBe(16);
  });

  test('property: a port is matched by exactly one block iff it is in the range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 65535 }), (lo, span, probe) => {
        const hi = Math.min(65535, lo + span);
        const blocks = portMatches(lo, hi);
        const hits = blocks.filter((b) => (BigInt(probe) & (b.mask ?? 0xffffn)) === b.value).length;
        return hits === (probe >= lo && probe <= hi ? 1 : 0);
      }),
      { numRuns: 2000, seed: Number(process.env.FC_SEED ?? 15) },
    );
  });
});

describe('closed by default', () => {
  test('an outside host reaches no pod IP; cluster.externalAccess opens them all', () => {
    const expect_ = `  - { at: 1s, noReach: { from: internet, to: web-1, port: 8080 } }
  - { at: 1s, noReach: { from: internet, to: web-2 } }`;
    expect(failures(scenario({ expect: expect_ }))).toEqual([]);
    const open = scenario({ cluster: '  externalAccess: true', expect: `  - { at: 1s, reach: { from: internet, to: web-1, port: 8080 } }\n  - { at: 1s, reach: { from: internet, to: web-2 } }` });
    expect(failures(open)).toEqual([]);
  });

  test('an allow rule opens a pod to one external (by name) on a port range, and to nobody else', () => {
    const s = scenario({
      allow: '    - { from: { external: partner }, to: { app: web }, port: 8000-8100 }',
      expect: `  - { at: 1s, reach: { from: partner, to: web-1, port: 8080 } }
  - { at: 1s, reach: { from: partner, to: web-2, port: 8100 } }
  - { at: 1s, noReach: { from: partner, to: web-1, port: 8101 } }
  - { at: 1s, noReach: { from: partner, to: web-1, port: 7999 } }
  - { at: 1s, noReach: { from: internet, to: web-1, port: 8080 } }`,
    });
    expect(failures(s)).toEqual([]);
  });

  test('the replies of a pod-initiated connection to the outside come back (SNAT to the node IP)', () => {
    expect(failures(scenario({ expect: '  - { at: 1s, egress: { from: web-1, to: internet }, srcSeenAs: 198.51.100.41 }' }))).toEqual([]);
  });
});

describe('closed egress', () => {
  test('pods reach outside only where an allow rule names the destination; pods and nodes stay reachable', () => {
    const s = scenario({
      cluster: '  egress: closed',
      allow: '    - { from: { app: web }, to: { cidr: 203.0.113.96/27 }, port: 443 }',
      expect: `  - { at: 1s, noReach: { from: web-1, to: internet, port: 80 } }
  - { at: 1s, egress: { from: web-1, to: partner, port: 443 }, srcSeenAs: 198.51.100.41 }
  - { at: 1s, noReach: { from: web-1, to: partner, port: 80 } }
  - { at: 1s, reach: { from: web-1, to: web-2, port: 8080 } }
  - { at: 1s, reach: { from: web-1, to: node2 } }`,
    });
    expect(failures(s)).toEqual([]);
  });
});

describe('NodePort, LoadBalancer and readiness', () => {
  const services = `  - { name: web, selector: { app: web }, port: 80, targetPort: 8080, type: LoadBalancer, nodePort: 30080 }
  - { name: local, selector: { app: web }, port: 81, targetPort: 8080, type: NodePort, nodePort: 30081, externalTrafficPolicy: Local }`;

  test('a LoadBalancer VIP spreads over ready backends; an unready pod leaves and comes back', () => {
    const s = scenario({
      services,
      pods: '  - { name: web-3, node: node2, labels: { app: web }, ready: false }',
      events: '  - { at: 2s, pod: ready, name: web-3 }\n  - { at: 3s, pod: unready, name: web-1 }',
      expect: `  - { at: 1s, reach: { from: internet, to: web }, backends: [web-1, web-2] }
  - { at: 2s, reach: { from: internet, to: web }, backends: [web-1, web-2, web-3] }
  - { at: 3s, reach: { from: internet, to: web }, backends: [web-2, web-3] }
  - { at: 3s, reach: { from: web-2, to: web }, backends: [web-2, web-3] }`,
    });
    expect(failures(s)).toEqual([]);
  });

  test('NodePort Cluster answers on every node (SNAT); Local only where a ready backend runs', () => {
    const s = scenario({
      services,
      events: '  - { at: 2s, pod: unready, name: web-2 }',
      expect: `  - { at: 1s, reach: { from: internet, to: node1, port: 30080 }, backends: [web-1, web-2] }
  - { at: 1s, reach: { from: internet, to: node2, port: 30081 }, backends: [web-2] }
  - { at: 2s, noReach: { from: internet, to: node2, port: 30081 } }
  - { at: 2s, reach: { from: internet, to: node2, port: 30080 }, backends: [web-1] }`,
    });
    expect(failures(s)).toEqual([]);
  });

  test('a ClusterIP service is not reachable from outside', () => {
    const s = scenario({ services: '  - { name: inside, selector: { app: web }, port: 80, targetPort: 8080 }', expect: '  - { at: 1s, noReach: { from: internet, to: inside } }' });
    expect(failures(s)).toEqual([]);
  });

  test('the edge flows: the LoadBalancer group on the edge switch, NodePort flows on every node', () => {
    const s = scenario({ services, expect: '  []' });
    const plan = compileCluster(buildClusterState(s));
    const spine = plan.get('spine1')!;
    expect(spine.groups.filter((g) => g.type === 'select').map((g) => g.buckets.length)).toEqual([2]);
    expect(spine.flows.map(flowText).filter((t) => t.includes('nw_dst=198.18.20.1'))).toHaveLength(2);
    for (const n of ['node1', 'node2']) expect(plan.get(n)!.flows.map(flowText).filter((t) => /tcp_dst=3008[01]/.test(t))).toHaveLength(2);
  });
});

describe('bad input', () => {
  const bad = (yaml: string) =>
    parseScenarioText(yaml, 'bad.yaml')
      .diagnostics.filter((d) => d.severity === 'error')
      .map((d) => `${d.line}:${d.col}: ${d.message}`);
  const base = (cluster: string, services = 'services: []') => `name: bad
cluster: { podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16${cluster} }
fabric:
  switches: [ { name: tor1 } ]
  nodes: [ { name: node1, ip: 198.51.100.41 } ]
  links: [ { between: [node1, tor1], gbps: 10 } ]
  externals: [ { name: internet, ip: 203.0.113.10, attach: tor1 } ]
pods: [ { name: web-1, node: node1, labels: { app: web } } ]
${services}
`;
  test('a LoadBalancer without a loadBalancerCidr, a bad range, an unknown external, an overlapping CIDR', () => {
    expect(bad(base('', 'services: [ { name: web, selector: { app: web }, port: 80, type: LoadBalancer } ]'))).toEqual([expect.stringContaining('type LoadBalancer needs cluster.loadBalancerCidr')]);
    expect(bad(base(', isolation: true, allow: [ { from: { app: web }, to: { app: web }, port: 9000-8000 } ]'))).toEqual([expect.stringContaining("port range '9000-8000'")]);
    expect(bad(base(', allow: [ { from: { external: internt }, to: { app: web } } ]'))).toEqual([expect.stringMatching(/'internt' is not an external.*did you mean 'internet'/)]);
    expect(bad(base(', allow: [ { from: { cidr: 10.244.1.0/24 }, to: { app: web } } ]'))).toEqual([expect.stringContaining('overlaps podCidr')]);
    expect(bad(base(', loadBalancerCidr: 10.96.5.0/24'))).toEqual([expect.stringContaining('loadBalancerCidr 10.96.5.0/24 overlaps serviceCidr')]);
    expect(bad(base('', 'services: [ { name: web, selector: { app: web }, port: 80, nodePort: 30001 } ]'))).toEqual([expect.stringContaining("'nodePort' needs type: NodePort or LoadBalancer")]);
    expect(bad(base('', 'services: [ { name: web, selector: { app: web }, port: 80, type: NodePort, nodePort: 80 } ]'))).toEqual([expect.stringContaining('nodePort')]);
  });
});
