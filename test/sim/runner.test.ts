/**
 * The controller in the loop: events reach the controller one control latency after they happen,
 * its ops land one latency later; expectations are checked after convergence; the sim driver
 * applies ops in order and loses them when the switch is down.
 */
import { parseScenarioText } from '../../topology';
import { SimRun } from '../../sim/runner';
import { SimDriver } from '../../sim/driver';
import { Engine } from '../../sim/engine';
import { SimNetwork } from '../../sim/network';

const TEXT = `
name: loop
seed: 5
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16 }
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
events:
  - { at: 2s, link: down, between: [tor1, spine1] }
  - { at: 3s, link: down, between: [tor1, spine2] }
  - { at: 4s, link: up, between: [tor1, spine2] }
  - { at: 5s, pod: move, name: b, to: node1 }
expect:
  - { at: 2s, reach: { from: a, to: b } }
  - { at: 3s, noReach: { from: a, to: b } }
  - { at: 4s, reach: { from: a, to: b } }
  - { at: 5s, reach: { from: a, to: b } }
`;

function scenario() {
  const p = parseScenarioText(TEXT, 'loop.yaml');
  if (!p.scenario) throw new Error(p.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return p.scenario;
}

describe('controller in the loop', () => {
  test.each([1000, 5000])('convergence takes two control latencies (%ius one way) and expectations see the converged fabric', (latency) => {
    const run = new SimRun(scenario(), { controlLatencyUs: latency, keepTrace: true });
    const report = run.run();
    expect(report.expectations.map((e) => [e.index, e.ok, e.detail])).toEqual(report.expectations.map((e) => [e.index, true, e.detail]));
    expect(run.convergence.map((c) => c.convergedUs - c.atUs)).toEqual([2 * latency, 2 * latency, 2 * latency, 2 * latency]);
    // at 2s the path avoids the dead uplink
    expect(report.expectations[0]!.detail).toMatch(/tor1,spine2/);
    // the order in the trace: the event, the controller learning it, the ops landing, the check
    const lines = run.engine.traceLines.join('');
    const ev = lines.indexOf('event 0 link down');
    const learn = lines.indexOf('controller learns link down tor1|spine1');
    const check = lines.indexOf('expect 0 reach ok');
    expect(ev).toBeGreaterThanOrEqual(0);
    expect(learn).toBeGreaterThan(ev);
    expect(check).toBeGreaterThan(learn);
  });

  test('between the event and convergence, packets follow the old flows (and die on the down link)', () => {
    const run = new SimRun(scenario());
    run.advanceTo(1);
    run.engine.runUntil(1_999_999);
    // take both uplinks of tor1 down at once by hand, without telling the controller
    for (const l of run.physical.links.values()) if (l.a === 'tor1' && l.b.startsWith('spine')) l.up = false;
    const r = run.connect('a', 'b');
    expect(typeof r).not.toBe('string');
    if (typeof r !== 'string') {
      expect(r.ok).toBe(false);
      expect(r.detail).toMatch(/down|no live bucket|miss|no output/);
    }
  });

  test('SimDriver: ops land after the latency, in order; a down switch loses them', () => {
    const run = new SimRun(scenario());
    const engine = new Engine();
    const net = new SimNetwork(run.physical);
    const driver = new SimDriver(net, engine, { controlLatencyUs: 700 });
    const flow = { table: 0, priority: 5, match: {}, instructions: { apply: [] }, cookie: 1n };
    driver.apply('tor1', [{ op: 'add-flow', flow }, { op: 'modify-flow', flow: { ...flow, cookie: 2n } }]);
    expect(driver.read('tor1').flows).toHaveLength(0);
    engine.runUntil(699);
    expect(driver.read('tor1').flows).toHaveLength(0);
    engine.runUntil(700);
    expect(driver.read('tor1').flows.map((f) => f.cookie)).toEqual([2n]);
    run.physical.switches.get('tor2')!.up = false;
    driver.apply('tor2', [{ op: 'add-flow', flow }]);
    engine.runUntil(2000);
    expect(driver.read('tor2').flows).toHaveLength(0);
    driver.applyNow('tor1', [{ op: 'add-group', group: { groupId: 1, type: 'all', buckets: [] } }, { op: 'add-group', group: { groupId: 1, type: 'all', buckets: [] } }]);
    expect(driver.errors.map((e) => e.message)).toEqual([expect.stringMatching(/GROUP_EXISTS/)]);
  });
});
