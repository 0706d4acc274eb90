/**
 * The rebalancing loop in the runner (sim/demands.ts, sim/runner.ts): the policies' changes become
 * ClusterState.steering and a `steering-changed` for the controller, so the switches carry the pins
 * and meters after the control latency; `place` moves are applied as pod move events; reports and
 * traces stay byte-identical for the same file and seed.
 */
import * as fs from 'fs';
import fc from 'fast-check';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { parseScenarioFile, parseScenarioText } from '../../topology';
import { SimRun, runScenario } from '../../sim/runner';
import { pinAddresses } from '../../sim/demands';
import { PIN_PRIORITY } from '../../controller/flows';
import type { Scenario } from '../../topology/types';

const root = path.join(__dirname, '..', '..');
const file = path.join(root, 'scenarios', 'hotspot-rebalance.yaml');

function hotspot(policies?: string): Scenario {
  let text = fs.readFileSync(file, 'utf8');
  if (policies !== undefined) text = text.replace(/^  rebalance: \[[^\]]*\]/m, `  rebalance: [${policies}]`);
  const p = parseScenarioText(text, 'hotspot-rebalance.yaml');
  if (!p.scenario) throw new Error(p.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return p.scenario;
}

const byIndex = <T extends { index: number }>(xs: readonly T[], i: number): T => xs.find((x) => x.index === i)!;

describe('hotspot-rebalance: steer and limit through the controller', () => {
  const run = new SimRun(hotspot());
  const report = run.run();

  test('without rebalancing the ECMP collision and the hog break the expectations', () => {
    const r = runScenario(hotspot(''));
    expect(r.rebalance).toBeUndefined();
    // both loaders hash onto the same uplink: 16 Gbit/s asked of 10
    expect(Math.max(...r.links.filter((l) => l.between[1].startsWith('spine')).map((l) => l.maxUtilization))).toBe(1);
    expect(byIndex(r.expectations, 1)).toMatchObject({ ok: false, value: 1 });
    expect(byIndex(r.expectations, 2)).toMatchObject({ ok: true, value: 5 }); // the fair share on the collided path is 5
    expect(byIndex(r.expectations, 4)).toMatchObject({ ok: false });
    expect(byIndex(r.demands!, 0)).toMatchObject({ askedGbps: 8, grantedGbps: 5 });
  });

  test('with [steer, limit] every expectation holds, with the numbers a hand computation gives', () => {
    expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(byIndex(report.expectations, 1).value).toBe(0.8); // 8 of 10 per uplink; hog + loader-2 = 20 of 25
    expect(byIndex(report.expectations, 4).value).toBe(12); // water level of [8, 30] in 0.8 x 25
    // until the first round (1 s: a rate needs two counter samples) the loaders share one uplink (5 each)
    expect(report.demands!.map((d) => [d.index, d.askedGbps, d.minGrantedGbps])).toEqual([[0, 8, 5], [1, 8, 5], [2, 30, 12]]);
    // the loop's rounds on the model's counters: at 1 s leaf1's uplink to spine2 is measured full, and
    // both loaders (the demands that may cross it) are placed, one per spine; leaf2->node4 is hot at
    // 1 s and 2 s: the hog is metered at 2 s at its share of 0.8 x 25 shared with loader-2 by what
    // they declare (the water level of [8, 30] in 20: 12)
    expect(report.rebalance).toMatchObject({ policies: ['steer', 'limit'], steeringUpdates: 2, movesApplied: 0, pinsNotCarried: 0 });
    expect(report.rebalance!.pinsCarried).toBeGreaterThan(0);
    expect(report.rebalance!.changes.map((c) => [c.at, c.kind, c.kind === 'pin' ? c.hops : c.kind === 'meter' ? c.gbps : undefined])).toEqual([
      [1, 'pin', [{ switch: 'leaf1', nextHop: 'spine1' }]],
      [1, 'pin', [{ switch: 'leaf1', nextHop: 'spine2' }]],
      [2, 'meter', 12],
    ]);
  });

  test('the switches carry the pins and the meter while the demands run (not only the model), and drop them after', () => {
    const mid = new SimRun(hotspot());
    mid.advanceTo(6);
    const pod = (n: string) => mid.physical.pods.get(n)!;
    const pins = mid.driver.read('leaf1').flows.filter((f) => f.priority === PIN_PRIORITY);
    expect(pins).toHaveLength(2);
    expect(mid.view.steering!.pins).toEqual([
      { id: 'traffic-0', srcIp: pod('loader-1').ip, dstIp: pod('store-1').ip, hops: [{ switch: 'leaf1', nextHop: 'spine1' }] },
      { id: 'traffic-1', srcIp: pod('loader-2').ip, dstIp: pod('store-2').ip, hops: [{ switch: 'leaf1', nextHop: 'spine2' }] },
    ]);
    // packets of the demands walk the pinned paths through the switches
    expect(mid.connect('loader-1', 'store-1')).toMatchObject({ ok: true, path: ['node1', 'leaf1', 'spine1', 'leaf2', 'node3'] });
    expect(mid.connect('loader-2', 'store-2')).toMatchObject({ ok: true, path: ['node2', 'leaf1', 'spine2', 'leaf2', 'node4'] });
    // the limit is the hog's meter at its node switch: 12 Gbit/s in kbps
    expect(mid.view.steering!.limits).toEqual({ hog: 12 });
    expect(mid.driver.read('node3').meters.map((m) => m.bands[0]!.rate)).toContain(12_000_000);
    // a run that goes on after the traffic (an expectation at 14 s): the counters show the demands
    // gone at 11 s (pins removed) and the link clear at 11 s and 12 s (meter lifted)
    const longer = hotspot();
    longer.expect.push({ ...longer.expect[0]!, at: 14 });
    const after = new SimRun(longer);
    const r = after.run();
    expect(r.rebalance!.changes.filter((c) => c.at > 10).map((c) => [c.at, c.kind])).toEqual([
      [11, 'unpin'],
      [11, 'unpin'],
      [12, 'unmeter'],
    ]);
    expect(after.view.steering).toMatchObject({ pins: [], limits: {} });
    expect(after.driver.read('leaf1').flows.filter((f) => f.priority === PIN_PRIORITY)).toEqual([]);
  });

  test('the steering reaches the switches one control round trip after the decision', () => {
    const r = new SimRun(hotspot(), { keepTrace: true, controlLatencyUs: 5000 });
    r.run();
    const lines = r.engine.traceLines.join('');
    expect(lines).toMatch(/controller rebalance 1s: 2 pins, 0 limits: \d+ ops/);
    expect(r.convergence.filter((c) => c.event.startsWith('rebalance')).map((c) => c.convergedUs - c.atUs)).toEqual([5000, 5000]);
  });

  test('pinAddresses: pod IPs inside the fabric, the node IP after SNAT to an external, TCP to a port', () => {
    const sc = parseScenarioFile(path.join(root, 'scenarios', 'default.yaml')).scenario!;
    const r = new SimRun(sc);
    const pod = [...r.physical.pods.values()][0]!;
    const ext = [...r.physical.externals.values()][0];
    const other = [...r.physical.pods.values()][1]!;
    expect(pinAddresses(r, { from: pod.name, to: other.name }, other.name)).toEqual({ srcIp: pod.ip, dstIp: other.ip });
    expect(pinAddresses(r, { from: pod.name, to: other.name, port: 8080 }, other.name)).toEqual({ srcIp: pod.ip, dstIp: other.ip, protocol: 'tcp', dstPort: 8080 });
    if (ext) expect(pinAddresses(r, { from: pod.name, to: ext.name })).toEqual({ srcIp: r.physical.nodes.get(pod.node)!.ip, dstIp: ext.ip });
    expect(pinAddresses(r, { from: pod.name, to: 'nowhere' })).toBeUndefined();
  });
});

const EGRESS = `
name: egress-steer
seed: 3
cluster:
  mode: routed
  podCidr: 10.220.0.0/16
  serviceCidr: 10.120.0.0/20
  rebalance: [steer]
fabric:
  switches: [ { name: spine1 }, { name: spine2 }, { name: leaf1 }, { name: border } ]
  nodes:
    - { name: node1, ip: 198.51.100.31 }
    - { name: node2, ip: 198.51.100.32 }
  links:
    - { between: [node1, leaf1], gbps: 25 }
    - { between: [node2, leaf1], gbps: 25 }
    - { between: [leaf1, spine1], gbps: 10 }
    - { between: [leaf1, spine2], gbps: 10 }
    - { between: [border, spine1], gbps: 10 }
    - { between: [border, spine2], gbps: 10 }
  externals:
    - { name: backup, ip: 203.0.113.60, attach: border }
pods:
  - { name: up-a, node: node1 }
  - { name: up-b, node: node2 }
traffic:
  - { from: up-a, to: backup, gbps: 8 }
  - { from: up-b, to: backup, gbps: 8 }
expect:
  - { at: 3s, maxLinkUtilization: 0.8 }
`;

describe('steer on egress: the pin matches the SNAT address the packets carry in the fabric', () => {
  test('two uploads to an external collide on one spine; the pin on the node IP moves one, and the switches carry it', () => {
    const p = parseScenarioText(EGRESS, 'egress-steer.yaml');
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const run = new SimRun(p.scenario!);
    const unsteered = runScenario(parseScenarioText(EGRESS.replace('rebalance: [steer]', 'rebalance: []'), 'e.yaml').scenario!);
    expect(unsteered.expectations[0]).toMatchObject({ ok: false, value: 1 }); // 16 Gbit/s asked of one 10 Gbit/s uplink
    const report = run.run();
    expect(report.expectations[0]).toMatchObject({ ok: true, value: 0.8 });
    expect(report.rebalance).toMatchObject({ steeringUpdates: 1, pinsNotCarried: 0 });
    expect(report.rebalance!.pinsCarried).toBeGreaterThan(0);
    const pin = run.view.steering!.pins[0]!;
    const pod = run.physical.pods.get(`up-${pin.id === 'traffic-0' ? 'a' : 'b'}`)!;
    expect(pin.srcIp).toBe(run.physical.nodes.get(pod.node)!.ip);
    expect(pin.dstIp).toBe('203.0.113.60');
  });
});

describe('place: proposed moves are applied as pod move events (keeping the IP)', () => {
  test('the pods move next to their peers and keep their addresses', () => {
    const run = new SimRun(hotspot('place'), { keepTrace: true });
    const before = new Map([...run.physical.pods.values()].map((p) => [p.name, p.ip]));
    const report = run.run();
    expect(report.rebalance!.movesApplied).toBeGreaterThan(0);
    const moves = report.rebalance!.changes.filter((c) => c.kind === 'move');
    expect(moves).toHaveLength(report.rebalance!.movesApplied);
    // a pod may move more than once (each round proposes one move on what was measured): its last move holds
    const last = new Map<string, string>();
    for (const m of moves) if (m.kind === 'move') last.set(m.pod, m.to);
    for (const [pod, to] of last) {
      const m = { pod, to };
      expect(run.physical.pods.get(m.pod)!.node).toBe(m.to);
      expect(run.physical.pods.get(m.pod)!.ip).toBe(before.get(m.pod));
      expect(run.view.pods.get(m.pod)!.node).toBe(m.to);
    }
    // the moved pods still reach their peers through the reprogrammed fabric
    expect(run.connect('loader-1', 'store-1')).toMatchObject({ ok: true });
    expect(run.engine.traceLines.join('')).toMatch(/event -1 rebalance pod move/);
    // with every pair on one node nothing crosses a fabric link any more
    expect(byIndex(report.expectations, 1)).toMatchObject({ ok: true, value: 0 });
  });
});

describe('determinism with rebalancing', () => {
  test.each(['steer, limit', 'place', 'steer, limit, place'])('[%s]: same file and seed, byte-identical report and trace', (policies) => {
    const a = runScenario(hotspot(policies));
    const b = runScenario(hotspot(policies));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a.traceHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('the CLI: --json and --report are byte-identical across runs', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'simreb-'));
    try {
      const cli = path.join(root, 'bin', 'fabric.js');
      const go = (out: string) => spawnSync('node', [cli, 'sim', 'scenarios/hotspot-rebalance.yaml', '--json', '--report', out], { cwd: root, encoding: 'utf8' });
      const a = go(path.join(tmp, 'a.html'));
      const b = go(path.join(tmp, 'b.html'));
      expect(a.stderr).toBe('');
      expect(a.status).toBe(0);
      expect(b.stdout).toBe(a.stdout);
      const html = fs.readFileSync(path.join(tmp, 'a.html'), 'utf8');
      expect(fs.readFileSync(path.join(tmp, 'b.html'), 'utf8')).toBe(html);
      expect(html).toMatch(/<svg[^>]*aria-label="topology coloured by load"/);
      expect(html).toMatch(/<svg[^>]*aria-label="link utilization over time"/);
      expect(html).toContain('meter hog at node3: 12 Gbit/s');
      const r = JSON.parse(a.stdout);
      expect(Object.keys(r)).toEqual(['scenario', 'seed', 'ok', 'expectations', 'links', 'demands', 'rebalance', 'traceHash']);
      expect(r.demands[2]).toMatchObject({ index: 2, from: 'hog', to: 'sink', askedGbps: 30 });
      // an unwritable report path: exit 2, one line
      const bad = spawnSync('node', [cli, 'sim', 'scenarios/hotspot-rebalance.yaml', '--report', path.join(tmp, 'no', 'such', 'dir.html')], { cwd: root, encoding: 'utf8' });
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('property: the loop on random traffic (fast-check)', () => {
  const pods = ['loader-1', 'loader-2', 'store-1', 'store-2', 'hog', 'sink'];
  test('deterministic; every pin handed over is what the switches do; limits are the meters in force', () => {
    const base = fs.readFileSync(file, 'utf8').replace(/^traffic:[\s\S]*$/m, '');
    const demand = fc.record({ from: fc.constantFrom(...pods), to: fc.constantFrom(...pods), gbps: fc.integer({ min: 1, max: 30 }), at: fc.integer({ min: 0, max: 3 }) });
    const policies = fc.subarray(['steer', 'limit', 'place'], { minLength: 1 });
    const seen = { pinned: 0, limited: 0, moved: 0 };
    fc.assert(
      fc.property(fc.array(demand, { minLength: 1, maxLength: 6 }), policies, (ds, pol) => {
        const traffic = ds.filter((d) => d.from !== d.to).map((d) => `  - { from: ${d.from}, to: ${d.to}, gbps: ${d.gbps}, at: ${d.at}s, until: 6s }`);
        if (traffic.length === 0) return;
        const text = base.replace(/^  rebalance: \[[^\]]*\]/m, `  rebalance: [${pol.join(', ')}]`) + `traffic:\n${traffic.join('\n')}\nexpect:\n  - { at: 5s, maxLinkUtilization: 1 }\n`;
        const sc = parseScenarioText(text, 'prop.yaml').scenario!;
        const run = new SimRun(sc);
        const a = run.run();
        const b = runScenario(sc);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        expect(a.rebalance!.pinsNotCarried).toBe(0);
        const last = run.bandwidthModel()!.timeline.epochs.at(-1)!;
        const meters = Object.fromEntries(last.imposedMeters.map((m) => [m.pod, m.gbps]));
        expect(run.view.steering?.limits ?? {}).toEqual(meters);
        expect(a.expectations[0]!.ok).toBe(true);
        if (a.rebalance!.pinsCarried > 0) seen.pinned++;
        if (a.rebalance!.changes.some((c) => c.kind === 'meter')) seen.limited++;
        seen.moved += a.rebalance!.movesApplied;
      }),
      { numRuns: 25, seed: Number(process.env.FC_SEED ?? 20261124), verbose: 1 },
    );
    // the runs exercised the hand-off, not only idle fabrics
    expect(seen.pinned + seen.limited + seen.moved).toBeGreaterThan(0);
    console.log(`rebalance property: ${JSON.stringify(seen)} over 25 runs`);
  });
});
