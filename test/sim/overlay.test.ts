/**
 * Overlay in the simulator: a pod's frame leaving a node through the tunnel port is encapsulated in
 * an IPv4/UDP packet between node IPs that crosses the fabric through the fabric switches' own flows
 * (routes for node IPs, ECMP, TTL), and is decapsulated at the remote node's LOCAL into its tunnel
 * port — as the real overlay lab does (fabric/lab/lab.ts: node IP on LOCAL, OVS tunnel routes).
 */
import { parseScenarioText } from '../../topology';
import { SimRun } from '../../sim/runner';
import { ENCAP_UDP_PORT, tunnelSourcePort } from '../../sim/network';
import type { ProbeResult } from '../../sim/probe';
import { ipToU32, ipv4Packet, S } from '../../sim/packet';

const TEXT = `
name: overlay-ecmp
seed: 1
cluster: { mode: overlay, encap: vxlan, podCidr: 10.32.0.0/16, serviceCidr: 10.96.0.0/16 }
fabric:
  switches: [ { name: spine1 }, { name: spine2 }, { name: tor1 }, { name: tor2 } ]
  nodes:
    - { name: node1, ip: 198.51.100.11 }
    - { name: node2, ip: 198.51.100.12 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor2], gbps: 10 }
    - { between: [tor1, spine1], gbps: 40 }
    - { between: [tor1, spine2], gbps: 40 }
    - { between: [tor2, spine1], gbps: 40 }
    - { between: [tor2, spine2], gbps: 40 }
pods:
  - { name: a, node: node1 }
  - { name: b, node: node2 }
`;

function run(): SimRun {
  const parsed = parseScenarioText(TEXT, 'overlay-ecmp.yaml');
  if (!parsed.scenario) throw new Error(JSON.stringify(parsed.diagnostics));
  const r = new SimRun(parsed.scenario, { keepTrace: true });
  r.advanceTo(1);
  return r;
}

function connect(r: SimRun, from: string, to: string, port: number): ProbeResult {
  const res = r.connect(from, to, port, 'tcp', true);
  if (typeof res === 'string') throw new Error(res);
  return res;
}

describe('overlay: encapsulated packets cross the fabric through its flows', () => {
  test('the outer packet is UDP 4789 between node IPs, routed hop by hop (TTL), and decapsulated at the remote node', () => {
    const r = run();
    const res = connect(r, 'a', 'b', 8080);
    expect(res.ok).toBe(true);
    expect(res.acceptedBy?.name).toBe('b');
    const walk = res.walks.find((w) => w.walk.tunnels.length > 0)!.walk;
    const t = walk.tunnels[0]!;
    expect(t).toMatchObject({ from: 'node1', to: 'node2', tunDst: '198.51.100.12', decapsulated: true });
    expect(t.underlay[0]).toBe('node1');
    expect(t.underlay[1]).toBe('tor1');
    expect(['spine1', 'spine2']).toContain(t.underlay[2]);
    expect(t.underlay.slice(3)).toEqual(['tor2', 'node2']);
    // every outer pass saw a UDP packet to the encapsulation port of the remote node, TTL falling per hop
    const outer = t.passes.map((i) => walk.passes[i]!);
    expect(outer.map((p) => p.switch)).toEqual(t.underlay);
    const ttls: number[] = [];
    for (const p of outer) {
      const out = p.outputs[0]!.packet;
      expect(out.ipProto).toBe(17);
      expect(out.u32(S.udp_dst)).toBe(ENCAP_UDP_PORT.vxlan);
      expect(out.inner).toBeDefined();
      ttls.push(out.ttl);
    }
    for (let i = 1; i < ttls.length; i++) expect(ttls[i]).toBe(ttls[i - 1]! - 1);
    expect(res.path).toEqual(['node1', `(tunnel: tor1,${t.underlay[2]},tor2)`, 'node2']);
  });

  test('the fabric flows decide: without the spines\' route to node2, tunnelled traffic is dropped (no shortcut over the link graph)', () => {
    const r = run();
    expect(connect(r, 'a', 'b', 8080).ok).toBe(true);
    for (const spine of ['spine1', 'spine2']) {
      const sw = r.network.switch(spine);
      for (const { flow } of sw.flowStats()) {
        // the route to node2's IP (its /32), whatever else the table holds
        if (flow.match.ipv4_dst?.value === BigInt(ipToU32('198.51.100.12'))) sw.applyOp({ op: 'delete-flow', flow });
      }
    }
    const res = connect(r, 'a', 'b', 8081);
    expect(res.ok).toBe(false);
    const walk = res.walks.find((w) => w.walk.tunnels.length > 0)!.walk;
    expect(walk.tunnels[0]!.decapsulated).toBe(false);
    expect(walk.passes.some((p) => p.verdict === 'dropped' && p.switch.startsWith('spine'))).toBe(true);
  });

  test('ECMP in the underlay follows the outer source port, a hash of the inner flow', () => {
    const r = run();
    const spines = new Set<string>();
    for (let port = 8000; port < 8032; port++) {
      const res = connect(r, 'a', 'b', port);
      expect(res.ok).toBe(true);
      const t = res.walks.find((w) => w.walk.tunnels.length > 0)!.walk.tunnels[0]!;
      spines.add(t.underlay[2]!);
    }
    expect([...spines].sort()).toEqual(['spine1', 'spine2']);
    // the source port is a pure function of the inner 5-tuple, inside the ephemeral range
    const inner = ipv4Packet({ ethSrc: '0a:00:00:00:00:01', ethDst: '0a:00:00:00:00:02', ipSrc: '10.32.0.2', ipDst: '10.32.1.2', l4: { proto: 'tcp', srcPort: 40000, dstPort: 80 } });
    const p = tunnelSourcePort(inner);
    expect(p).toBe(tunnelSourcePort(inner.clone()));
    expect(p).toBeGreaterThanOrEqual(32768);
    expect(p).toBeLessThanOrEqual(61000);
  });
});
