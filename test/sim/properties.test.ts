/**
 * Properties of the whole loop (controller + simulated switches) on random clusters and random
 * event sequences, after the controller has converged:
 *  - determinism: the same scenario and seed give the same report bytes;
 *  - every pod reaches every other pod (ICMP echo and back) exactly when a path of up links between
 *    their (up) nodes exists — a moved pod keeps its IP and is reached there;
 *  - egress to an external leaves with the pod's current node IP and the reply comes back;
 *  - no packet's TTL expires inside the fabric (no loops).
 * fast-check prints the seed and the shrunk scenario on failure.
 */
import fc from 'fast-check';
import { parseScenarioText } from '../../topology';
import { SimRun, runScenario } from '../../sim/runner';
import { followUp } from '../../sim/probe';

interface Gen {
  racks: number;
  nodesPerRack: number;
  pods: number[];
  events: Array<{ kind: 'uplink-down' | 'uplink-up' | 'move' | 'add'; a: number; b: number }>;
}

const genArb: fc.Arbitrary<Gen> = fc.record({
  racks: fc.integer({ min: 1, max: 3 }),
  nodesPerRack: fc.integer({ min: 1, max: 3 }),
  pods: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 2, maxLength: 8 }),
  events: fc.array(
    fc.record({ kind: fc.constantFrom('uplink-down', 'uplink-up', 'move', 'add'), a: fc.nat(50), b: fc.nat(50) }),
    { maxLength: 6 },
  ),
});

function scenarioText(g: Gen): string {
  const nodes: string[] = [];
  const L: string[] = ['name: prop', 'seed: 3', 'cluster:', '  mode: routed', '  podCidr: 10.244.0.0/16', '  serviceCidr: 10.96.0.0/16', 'fabric:', '  switches:', '    - { name: spine1 }', '    - { name: spine2 }'];
  for (let r = 1; r <= g.racks; r++) L.push(`    - { name: tor${r} }`);
  L.push('  nodes:');
  for (let r = 1; r <= g.racks; r++)
    for (let n = 1; n <= g.nodesPerRack; n++) {
      const name = `n${r}-${n}`;
      nodes.push(name);
      L.push(`    - { name: ${name}, ip: 198.51.100.${nodes.length + 10} }`);
    }
  L.push('  links:');
  nodes.forEach((n) => L.push(`    - { between: [${n}, tor${n.split('-')[0]!.slice(1)}], gbps: 10 }`));
  for (let r = 1; r <= g.racks; r++) L.push(`    - { between: [tor${r}, spine1], gbps: 40 }`, `    - { between: [tor${r}, spine2], gbps: 40 }`);
  L.push('  externals:', '    - { name: internet, ip: 203.0.113.1, attach: spine1 }');
  L.push('pods:');
  g.pods.forEach((k, i) => L.push(`  - { name: p${i}, node: ${nodes[k % nodes.length]}, labels: { app: a${i % 2} } }`));
  L.push('services:', '  - { name: svc, selector: { app: a0 }, port: 80, targetPort: 8080 }');
  L.push('events:');
  let added = 0;
  g.events.forEach((e, i) => {
    const at = `${i + 1}s`;
    const tor = `tor${(e.a % g.racks) + 1}`;
    const spine = `spine${(e.b % 2) + 1}`;
    if (e.kind === 'uplink-down') L.push(`  - { at: ${at}, link: down, between: [${tor}, ${spine}] }`);
    else if (e.kind === 'uplink-up') L.push(`  - { at: ${at}, link: up, between: [${tor}, ${spine}] }`);
    else if (e.kind === 'move') L.push(`  - { at: ${at}, pod: move, name: p${e.a % g.pods.length}, to: ${nodes[e.b % nodes.length]} }`);
    else L.push(`  - { at: ${at}, pod: add, name: x${added++}, node: ${nodes[e.b % nodes.length]}, labels: { app: a0 } }`);
  });
  L.push('expect:', `  - { at: ${g.events.length + 1}s, reach: { from: p0, to: p1 } }`);
  return L.join('\n') + '\n';
}

/** connected over up links, through fabric switches only */
function connected(run: SimRun, a: string, b: string): boolean {
  return run.network.underlayPath(a, b) !== undefined;
}

describe('properties on random clusters and event sequences', () => {
  test('converged: pod<->pod reach iff a path exists; egress SNATs to the node IP; no TTL expiry; deterministic', () => {
    let checks = 0;
    fc.assert(
      fc.property(genArb, (g) => {
        const text = scenarioText(g);
        const parsed = parseScenarioText(text, 'prop.yaml');
        if (!parsed.scenario) throw new Error(`generator made an invalid scenario:\n${parsed.diagnostics.map((d) => d.message).join('\n')}\n${text}`);
        const sc = parsed.scenario;
        expect(JSON.stringify(runScenario(sc))).toBe(JSON.stringify(runScenario(sc)));
        const run = new SimRun(sc);
        run.advanceTo(g.events.length + 1);
        const pods = [...run.physical.pods.values()];
        for (const a of pods) {
          for (const b of pods) {
            if (a === b) continue;
            const r = run.connect(a.name, b.name);
            if (typeof r === 'string') throw new Error(r);
            const expected = a.node === b.node || connected(run, a.node, b.node);
            for (const w of r.walks) for (const p of w.walk.passes) expect(p.dropReason === 'ttl expired' ? `${a.name}->${b.name} ttl expired at ${p.switch}` : '').toBe('');
            if (r.ok !== expected) throw new Error(`${a.name}@${a.node} -> ${b.name}@${b.node}: ${r.ok ? 'answered' : r.detail}, expected ${expected ? 'reach' : 'no reach'}\n${text}`);
            checks++;
          }
          const e = run.connect(a.name, 'internet', 80);
          if (typeof e === 'string') throw new Error(e);
          const nodeIp = run.physical.nodes.get(a.node)!.ip;
          if (connected(run, a.node, 'spine1')) {
            if (!e.ok || e.seenSrc !== nodeIp) throw new Error(`egress ${a.name}@${a.node}: ${e.detail}; seen ${e.seenSrc}, expected ${nodeIp}\n${text}`);
          } else expect(e.ok).toBe(false);
          checks++;
        }
        return true;
      }),
      { numRuns: 25, seed: Number(process.env.FC_SEED ?? 20261124), verbose: 1 },
    );
    expect(checks).toBeGreaterThan(100);
  });

  test('a service connection keeps its backend: every packet of it lands on the pod its SYN reached', () => {
    let connections = 0;
    fc.assert(
      fc.property(genArb, fc.nat(1000), (g, salt) => {
        const sc = parseScenarioText(scenarioText(g), 'prop.yaml').scenario!;
        const run = new SimRun(sc);
        run.advanceTo(g.events.length + 1);
        const endpoints = new Set(run.physical.services.get('svc')!.endpoints);
        const pods = [...run.physical.pods.values()];
        for (let i = 0; i < 8; i++) {
          const from = pods[(salt + i) % pods.length]!;
          const r = run.connect(from.name, 'svc');
          if (typeof r === 'string') throw new Error(r);
          if (!r.acceptedBy) continue; // unreachable now (no path): nothing to keep
          expect(endpoints.has(r.acceptedBy.name)).toBe(true);
          for (let k = 0; k < 3; k++) {
            const again = followUp(run.network, run.network.host(from.name)!, r, run.engine.nowUs());
            expect(again?.name).toBe(r.acceptedBy.name);
          }
          connections++;
        }
        return true;
      }),
      { numRuns: 20, seed: Number(process.env.FC_SEED ?? 20261125), verbose: 1 },
    );
    expect(connections).toBeGreaterThan(50);
  });
});
