import fc from 'fast-check';
import { IpamError, cidrContains, ipToInt, isReservedInBlock, isReservedInServicePool, parseCidr, parseScenarioText, planAddresses, type Scenario } from '../../topology';
import { addressSpec, baseScenario, scenarioFromSpec } from './gen';
import { bigScenario, scenarioYaml } from '../../bench/ipam';
import { checkProperty } from './fc-seed';

function invariantsHold(s: Scenario): true {
  const plan = planAddresses(s);
  const pool = parseCidr(s.cluster.podCidr);
  const blocks = new Set<string>();
  for (const n of s.fabric.nodes) {
    const b = plan.nodes[n.name];
    expect(b.ip).toBe(n.ip);
    const block = parseCidr(b.podCidr);
    expect(block.prefixLen).toBe(s.cluster.nodeMaskLen);
    expect(cidrContains(pool, block)).toBe(true);
    expect(blocks.has(b.podCidr)).toBe(false);
    blocks.add(b.podCidr);
    if (n.podCidr) expect(b.podCidr).toBe(n.podCidr);
  }
  const podIps = new Set<string>();
  for (const p of s.pods) {
    const ip = plan.pods[p.name];
    const block = parseCidr(plan.nodes[p.node].podCidr);
    expect(cidrContains(block, ip)).toBe(true);
    expect(isReservedInBlock(block, ipToInt(ip))).toBe(false);
    expect(podIps.has(ip)).toBe(false);
    podIps.add(ip);
    if (p.ip) expect(ip).toBe(p.ip);
  }
  const svcPool = parseCidr(s.cluster.serviceCidr);
  const vips = new Set<string>();
  for (const svc of s.services) {
    const ip = plan.services[svc.name];
    expect(cidrContains(svcPool, ip)).toBe(true);
    expect(isReservedInServicePool(svcPool, ipToInt(ip))).toBe(false);
    expect(vips.has(ip)).toBe(false);
    vips.add(ip);
    if (svc.ip) expect(ip).toBe(svc.ip);
  }
  expect(Object.keys(plan.pods)).toEqual(s.pods.map((p) => p.name));
  return true;
}

describe('planAddresses', () => {
  test('the documented rules on a small case', () => {
    const s = scenarioFromSpec({ maskLen: 24, nodes: [null, 1, null], pods: [{ node: 0, offset: null }, { node: 1, offset: 2 }, { node: 1, offset: null }, { node: 2, offset: null }], services: [null, 5, null] });
    expect(planAddresses(s)).toEqual({
      nodes: {
        node0: { podCidr: '10.244.0.0/24', ip: '198.51.100.1' },
        node1: { podCidr: '10.244.1.0/24', ip: '198.51.100.2' },
        node2: { podCidr: '10.244.2.0/24', ip: '198.51.100.3' },
      },
      // node1's fixed pod has .2, so the next one gets .3; .1 (gateway) is never used
      pods: { pod0: '10.244.0.2', pod1: '10.244.1.2', pod2: '10.244.1.3', pod3: '10.244.2.2' },
      // .0 and .1 of the service pool are reserved; svc1 fixed at .5
      services: { svc0: '10.96.0.2', svc1: '10.96.0.5', svc2: '10.96.0.3' },
    });
  });

  test('fixed IPs of pods added by events are kept free', () => {
    const s = scenarioFromSpec({ maskLen: 24, nodes: [0], pods: [{ node: 0, offset: null }], services: [] });
    s.events = [{ at: 1, kind: 'pod', action: 'add', name: 'late', node: 'node0', labels: {}, ip: '10.244.0.2' }];
    expect(planAddresses(s).pods.pod0).toBe('10.244.0.3');
  });

  test('exhaustion names the pool', () => {
    const tiny = baseScenario();
    tiny.cluster.podCidr = '10.244.0.0/23';
    tiny.fabric.nodes = [0, 1, 2].map((i) => ({ name: `n${i}`, ip: `198.51.100.${i + 1}` }));
    expect(() => planAddresses(tiny)).toThrow(IpamError);
    expect(() => planAddresses(tiny)).toThrow('podCidr 10.244.0.0/23 is exhausted: no free /24 block left for node n2 (2 blocks)');

    const full = baseScenario();
    full.cluster.nodeMaskLen = 29; // 8 addresses: 5 for pods
    full.fabric.nodes = [{ name: 'n0', ip: '198.51.100.1' }];
    full.pods = Array.from({ length: 6 }, (_, i) => ({ name: `p${i}`, node: 'n0', labels: {}, hostPorts: [] }));
    try {
      planAddresses(full);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(IpamError);
      expect((e as IpamError).pool).toBe('node block 10.244.0.0/29 of n0');
      expect((e as IpamError).path).toBe('pods/5');
    }
    full.pods.pop();
    expect(Object.values(planAddresses(full).pods)).toEqual(['10.244.0.2', '10.244.0.3', '10.244.0.4', '10.244.0.5', '10.244.0.6']);

    const svc = baseScenario();
    svc.cluster.serviceCidr = '10.96.0.0/30'; // one usable VIP
    svc.services = [0, 1].map((i) => ({ name: `s${i}`, selector: { a: 'b' }, port: 80, targetPort: 80, protocol: 'tcp' as const }));
    expect(() => planAddresses(svc)).toThrow('serviceCidr 10.96.0.0/30 is exhausted: no address left for service s1');
  });

  test('no overlaps, every address inside its pool, fixed ones honoured', () => {
    checkProperty('ipam invariants', fc.property(addressSpec, (spec) => invariantsHold(scenarioFromSpec(spec))), 200);
  });

  test('deterministic', () => {
    checkProperty(
      'ipam determinism',
      fc.property(addressSpec, (spec) => {
        const a = planAddresses(scenarioFromSpec(spec));
        const b = planAddresses(structuredClone(scenarioFromSpec(spec)));
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        return true;
      }),
    );
  });

  test('adding a node or a pod never renumbers existing ones', () => {
    checkProperty(
      'ipam stability',
      fc.property(addressSpec, fc.nat(), (spec, pick) => {
        const s = scenarioFromSpec(spec);
        const before = planAddresses(s);
        const withNode = structuredClone(s);
        withNode.fabric.nodes.push({ name: 'newnode', ip: '198.51.100.250' });
        const afterNode = planAddresses(withNode);
        for (const n of s.fabric.nodes) expect(afterNode.nodes[n.name]).toEqual(before.nodes[n.name]);
        expect(Object.entries(afterNode.pods).filter(([k]) => k in before.pods)).toEqual(Object.entries(before.pods));
        const withPod = structuredClone(s);
        const node = s.fabric.nodes[pick % s.fabric.nodes.length].name;
        withPod.pods.push({ name: 'newpod', node, labels: {}, hostPorts: [] });
        let afterPod;
        try {
          afterPod = planAddresses(withPod);
        } catch (e) {
          expect(e).toBeInstanceOf(IpamError); // the block was full: refused, not renumbered
          return true;
        }
        for (const [k, v] of Object.entries(before.pods)) expect(afterPod.pods[k]).toBe(v);
        expect(afterPod.services).toEqual(before.services);
        return true;
      }),
    );
  });
});

describe('the benchmark generator (bench/ipam.ts)', () => {
  test('its scenario validates through YAML and plans the same as in memory', () => {
    const s = bigScenario(40, 12, 6);
    const parsed = parseScenarioText(scenarioYaml(s), 'bench.yaml');
    expect(parsed.diagnostics).toEqual([]);
    expect(planAddresses(parsed.scenario!)).toEqual(planAddresses(s));
    invariantsHold(s);
  });
});
