/**
 * The one control loop (controller/loop.ts), over random clusters and random event sequences, with a
 * southbound port of plain SwitchPlans (applyOps: OpenFlow's semantics) that can lose switches:
 * - after every pass, every reachable switch holds exactly compileCluster(state) (the loop's incremental
 *   compiles, its skips of unchanged switches and its diffs against the plan last sent never drift);
 * - a switch that was unreachable, reset or failed is read back and repaired when it is back;
 * - port status drives link liveness, and an operator's link down holds whatever the ports say;
 * - same inputs, same operations (determinism: two loops fed the same sequence hand out equal ops).
 * fast-check prints the seed (FC_SEED=N reruns a failure).
 */
import fc from 'fast-check';
import { applyOps, compileCluster, reconcile } from '../../controller';
import { ControlLoop, runPassSync, SouthboundPort } from '../../controller/loop';
import { PIN_PRIORITY } from '../../controller/flows';
import type { SwitchOp, SwitchPlan } from '../../fabric/openflow/flow';
import { buildClusterState } from '../../topology';
import type { ClusterState, Scenario, ScenarioEvent } from '../../topology/types';
import { checkProperty } from '../topology/fc-seed';
import { clusterArb, eventsArb, eventsWithSteeringArb, steeringFrom } from './gen';

const RUNS = Number(process.env.FABRIC_PROPERTY_RUNS ?? 40);

const empty = (name: string): SwitchPlan => ({ switch: name, datapathId: '', flows: [], groups: [], meters: [] });

/** Switches as plain plans; a switch can be down (ops lost) or reset (emptied). */
class FakePort implements SouthboundPort {
  readonly held = new Map<string, SwitchPlan>();
  readonly down = new Set<string>();
  readonly log: string[] = [];
  reads = 0;
  read(name: string): SwitchPlan {
    this.reads++;
    return this.held.get(name) ?? empty(name);
  }
  apply(name: string, ops: readonly SwitchOp[]): void {
    this.log.push(`${name}:${ops.length}`);
    if (this.down.has(name)) throw new Error(`${name} is down`);
    this.held.set(name, applyOps(this.held.get(name) ?? empty(name), [...ops]));
  }
}

/** One pass of the loop through the fake port (the shell the simulator's driver uses). */
function runPass(loop: ControlLoop, port: FakePort): void {
  runPassSync(loop, port);
}

function expectConverged(loop: ControlLoop, port: FakePort, state: ClusterState): void {
  const want = compileCluster(state);
  for (const [name, plan] of want) {
    if (port.down.has(name)) continue;
    const held = port.held.get(name) ?? empty(name);
    // holding `plan` exactly: nothing left to reconcile either way
    expect([name, reconcile(plan, held)]).toEqual([name, []]);
  }
}

type Step = { kind: 'event'; ev: ScenarioEvent } | { kind: 'steer'; picks: number[] } | { kind: 'lose' | 'back' | 'reset'; pick: number };

function stepsArb(s: Scenario): fc.Arbitrary<Step[]> {
  const sw = fc.nat().map((pick) => pick);
  const lossy = fc.array(fc.tuple(fc.constantFrom('lose' as const, 'back' as const, 'reset' as const), sw), { maxLength: 6 });
  return fc.tuple(eventsWithSteeringArb(s), lossy, fc.array(fc.nat(), { maxLength: 6 })).map(([evs, losses, at]) => {
    const out: Step[] = evs.map((e) => ('picks' in e ? { kind: 'steer' as const, picks: e.picks } : { kind: 'event' as const, ev: e }));
    losses.forEach(([kind, pick], i) => out.splice(Math.min(out.length, (at[i] ?? 0) % (out.length + 1)), 0, { kind, pick }));
    return out;
  });
}

test('after every pass each reachable switch holds compileCluster(state), through lost, reset and returning switches', () => {
  checkProperty(
    'loop converges',
    fc.property(
      clusterArb().chain((s) => fc.tuple(fc.constant(s), stepsArb(s))),
      ([scenario, steps]) => {
        const state = buildClusterState(scenario);
        const port = new FakePort();
        const loop = new ControlLoop(state, { reachable: (n) => !port.down.has(n) });
        runPass(loop, port);
        expectConverged(loop, port, state);
        const names = [...state.switches.keys()].sort();
        for (const step of steps) {
          if (step.kind === 'event') {
            try {
              loop.observe(step.ev);
            } catch {
              continue; // an event the generator made impossible here (the state is unchanged)
            }
          } else if (step.kind === 'steer') loop.setSteering(steeringFrom(state, step.picks));
          else {
            const name = names[step.pick % names.length];
            if (step.kind === 'lose') port.down.add(name);
            else if (step.kind === 'back') port.down.delete(name);
            else {
              port.held.delete(name); // emptied under the loop (a restarted vswitchd)
              loop.switchReset(name);
            }
          }
          runPass(loop, port);
          expectConverged(loop, port, state);
        }
        // everything back: the whole fabric converges
        for (const n of [...port.down]) port.down.delete(n);
        runPass(loop, port);
        expectConverged(loop, port, state);
      },
    ),
    RUNS,
  );
});

test("'stale' verification reads a switch back only when it may have changed; 'always' every pass", () => {
  const scenario = fc.sample(clusterArb(), { numRuns: 1, seed: 7 })[0];
  for (const verify of ['stale', 'always'] as const) {
    const state = buildClusterState(scenario);
    const port = new FakePort();
    const loop = new ControlLoop(state, { verify, reachable: () => true });
    runPass(loop, port);
    const n = state.switches.size;
    expect(port.reads).toBe(n);
    runPass(loop, port);
    runPass(loop, port);
    expect(port.reads).toBe(verify === 'stale' ? n : 3 * n);
    const first = [...state.switches.keys()].sort()[0];
    loop.switchReset(first);
    const pass = loop.pass();
    expect(pass.reads).toEqual(verify === 'stale' ? [first] : [...state.switches.keys()].sort());
  }
});

test('port status: a link is down while either port is, and an operator holds it down whatever the ports say', () => {
  const scenario = fc.sample(clusterArb(), { numRuns: 1, seed: 11 })[0];
  const state = buildClusterState(scenario);
  const loop = new ControlLoop(state);
  const link = [...state.links.values()][0];
  const portOf = (sw: string): number => state.switches.get(sw)!.ports.find((p) => p.kind === 'link' && p.linkId === link.id)!.port;
  expect(loop.portStatus(link.a, portOf(link.a), true)).toEqual([expect.objectContaining({ kind: 'link-state', link: link.id, up: false })]);
  expect(loop.linksDown).toContain(link.id);
  // the other end going down too changes nothing; one end back up leaves it down
  expect(loop.portStatus(link.b, portOf(link.b), true).filter((c) => c.kind === 'link-state')).toEqual([]);
  expect(loop.portStatus(link.a, portOf(link.a), false).filter((c) => c.kind === 'link-state')).toEqual([]);
  expect(loop.portStatus(link.b, portOf(link.b), false)).toEqual([expect.objectContaining({ kind: 'link-state', up: true })]);
  // an operator's down holds while the ports are up; up hands the link back to its ports
  expect(loop.setLinkAdmin(link.b, link.a, false)).toEqual([expect.objectContaining({ kind: 'link-state', up: false })]);
  expect(loop.linksAdminDown).toEqual([link.id]);
  expect(loop.portStatus(link.a, portOf(link.a), false)).toEqual([]);
  expect(loop.applyEvents([{ at: 0, kind: 'link', action: 'up', between: [link.a, link.b] }])).toEqual([expect.objectContaining({ kind: 'link-state', up: true })]);
  expect(() => loop.setLinkAdmin('nope', link.a, false)).toThrow(/no link between nope/);
});

test('same inputs, same operations: two loops fed one sequence hand out identical ops', () => {
  checkProperty(
    'loop determinism',
    fc.property(
      clusterArb().chain((s) => fc.tuple(fc.constant(s), eventsArb(s))),
      ([scenario, events]) => {
        const runs = [0, 1].map(() => {
          const state = buildClusterState(scenario);
          const port = new FakePort();
          const loop = new ControlLoop(state, { reachable: () => true });
          runPass(loop, port);
          for (const ev of events) {
            try {
              loop.observe(ev);
            } catch {
              continue;
            }
            const pass = loop.pass();
            port.log.push(JSON.stringify(pass.ops, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)), pass.reads.join());
            for (const name of pass.reads) port.apply(name, loop.diffRead(name, port.read(name)));
            for (const { switch: name, ops } of pass.ops) port.apply(name, ops);
          }
          return port.log;
        });
        expect(runs[1]).toEqual(runs[0]);
      },
    ),
    Math.max(5, Math.round(RUNS / 4)),
  );
});

describe('rebalancing on measured load (limit): port counters in, meters out', () => {
  const yaml = `
name: limit-from-counters
seed: 1
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16, rebalance: [limit] }
fabric:
  switches: [ { name: tor1 } ]
  nodes: [ { name: node1, ip: 198.51.100.11 }, { name: node2, ip: 198.51.100.12 } ]
  links:
    - { between: [node1, tor1], gbps: 1 }
    - { between: [node2, tor1], gbps: 1 }
pods:
  - { name: a, node: node1 }
  - { name: b, node: node1 }
  - { name: c, node: node1 }
  - { name: d, node: node2 }
`;
  const { parseScenarioText } = jest.requireActual('../../topology') as typeof import('../../topology');
  const setup = () => {
    const parsed = parseScenarioText(yaml, 'limit.yaml');
    const state = buildClusterState(parsed.scenario!);
    const loop = new ControlLoop(state, { reachable: () => true });
    const node1 = state.switches.get('node1')!;
    const portOf = (pod: string) => node1.ports.find((p) => p.kind === 'pod' && p.pod === pod)!.port;
    const uplink = node1.ports.find((p) => p.kind === 'link')!.port;
    const bytes = new Map<string, number>();
    /** one second at these rates (Gbit/s): each pod's port receives what it sends, the uplink sends the sum */
    const second = (t: number, rates: Record<string, number>): void => {
      const counters = [];
      let up = 0;
      for (const pod of ['a', 'b', 'c']) {
        const rx = (bytes.get(pod) ?? 0) + ((rates[pod] ?? 0) * 1e9) / 8;
        bytes.set(pod, rx);
        up += rates[pod] ?? 0;
        counters.push({ switch: 'node1', port: portOf(pod), txBytes: 0, rxBytes: rx });
      }
      bytes.set('up', (bytes.get('up') ?? 0) + (up * 1e9) / 8);
      counters.push({ switch: 'node1', port: uplink, txBytes: bytes.get('up')!, rxBytes: 0 });
      loop.portCounters(t, counters);
    };
    return { state, loop, second, portOf };
  };

  test('a link hot for two rounds meters its hogs at the max-min level; the meter is compiled and lifted when the link clears', () => {
    const { state, loop, second, portOf } = setup();
    const hog = { a: 0.6, b: 0.35, c: 0.05 };
    second(0, hog);
    second(1, hog);
    expect(loop.load.linkUtilization().find((l) => l.link === 'node1->tor1')!.utilization).toBeCloseTo(1, 9);
    expect(loop.rebalanceFromLoad()).toEqual([]); // hot for one round: not yet
    second(2, hog);
    const changes = loop.rebalanceFromLoad();
    // 0.8 of 1 Gbit/s shared max-min by asks 0.6, 0.35, 0.05: c and b fit, a gets the 0.4 left
    expect(changes).toEqual([{ kind: 'meter', pod: 'a', node: 'node1', gbps: 0.4, link: 'node1->tor1' }]);
    expect(loop.limits).toEqual({ a: 0.4 });
    const plan = loop.pass().plans.get('node1')!;
    expect(plan.meters.find((m) => m.meterId === portOf('a'))?.bands[0]).toMatchObject({ rate: 400_000 });
    // the link clears (a held to its meter, the others quieter) for two rounds: the meter goes
    const calm = { a: 0.3, b: 0.1, c: 0.05 };
    second(3, calm);
    expect(loop.rebalanceFromLoad()).toEqual([]);
    second(4, calm);
    expect(loop.rebalanceFromLoad()).toEqual([{ kind: 'unmeter', pod: 'a', node: 'node1' }]);
    expect(loop.limits).toEqual({});
    expect(loop.pass().plans.get('node1')!.meters.find((m) => m.meterId === portOf('a'))).toBeUndefined();
    expect(loop.rebalanceStats).toEqual({ rounds: 4, meters: 1, unmeters: 1, pins: 0, unpins: 0, moves: 0, weights: 0 });
    expect(state.steering?.limits).toEqual({});
  });

  test('one pod alone on a hot link is not metered (its own uplink is its to fill)', () => {
    const { loop, second } = setup();
    for (let t = 0; t < 4; t++) second(t, { a: 1 });
    for (let i = 0; i < 3; i++) expect(loop.rebalanceFromLoad()).toEqual([]);
  });
});

test('a failing incremental compile falls back to a full compile and says so in the pass', () => {
  const scenario = fc.sample(clusterArb(), { numRuns: 1, seed: 5 })[0];
  const state = buildClusterState(scenario);
  const loop = new ControlLoop(state, {
    reachable: () => true,
    compiler: { compileCluster: (s) => compileCluster(s), compileIncremental: () => { throw new Error('boom'); }, reconcile },
  });
  expect(loop.pass().compileFallback).toBeUndefined(); // the first pass compiles in full anyway
  const second = loop.pass();
  expect(second.compileFallback).toBe('boom');
  const full = compileCluster(state);
  for (const [name, plan] of full) expect([name, reconcile(plan, second.plans.get(name)!)]).toEqual([name, []]);
});

describe('rebalancing on measured load (steer): declared demands, port counters in, pins out', () => {
  const yaml = `
name: steer-from-counters
seed: 1
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16, rebalance: [steer, limit] }
fabric:
  switches: [ { name: spine1 }, { name: spine2 }, { name: leaf1 }, { name: leaf2 } ]
  nodes:
    - { name: node1, ip: 198.51.100.11 }
    - { name: node2, ip: 198.51.100.12 }
    - { name: node3, ip: 198.51.100.13 }
    - { name: node4, ip: 198.51.100.14 }
  links:
    - { between: [node1, leaf1], gbps: 25 }
    - { between: [node2, leaf1], gbps: 25 }
    - { between: [node3, leaf2], gbps: 25 }
    - { between: [node4, leaf2], gbps: 25 }
    - { between: [leaf1, spine1], gbps: 10 }
    - { between: [leaf1, spine2], gbps: 10 }
    - { between: [leaf2, spine1], gbps: 10 }
    - { between: [leaf2, spine2], gbps: 10 }
pods:
  - { name: a, node: node1 }
  - { name: b, node: node2 }
  - { name: x, node: node3 }
  - { name: y, node: node4 }
traffic:
  - { from: a, to: x, gbps: 8 }
  - { from: b, to: y, gbps: 8 }
`;
  const { parseScenarioText } = jest.requireActual('../../topology') as typeof import('../../topology');
  const via = (src: string, dst: string, spine: string): string[] => [`${src}->leaf1`, `leaf1->${spine}`, `${spine}->leaf2`, `leaf2->${dst}`];
  const setup = () => {
    const parsed = parseScenarioText(yaml, 'steer.yaml');
    const state = buildClusterState(parsed.scenario!);
    const loop = new ControlLoop(state, { reachable: () => true });
    loop.declareDemands(parsed.scenario!.traffic);
    const bytes = new Map<string, number>();
    /** one second of flows (pod, Gbit/s, path): counters as the switches would count them */
    const second = (t: number, flows: { pod: string; gbps: number; path: string[] }[]): void => {
      for (const f of flows) {
        bytes.set(`pod:${f.pod}`, (bytes.get(`pod:${f.pod}`) ?? 0) + (f.gbps * 1e9) / 8);
        for (const id of f.path) bytes.set(id, (bytes.get(id) ?? 0) + (f.gbps * 1e9) / 8);
      }
      const counters = [];
      for (const sw of state.switches.values()) {
        for (const p of sw.ports) {
          if (p.kind === 'link') counters.push({ switch: sw.name, port: p.port, txBytes: bytes.get(`${sw.name}->${p.peerSwitch}`) ?? 0, rxBytes: bytes.get(`${p.peerSwitch}->${sw.name}`) ?? 0 });
          else if (p.kind === 'pod') counters.push({ switch: sw.name, port: p.port, txBytes: 0, rxBytes: bytes.get(`pod:${p.pod}`) ?? 0 });
        }
      }
      loop.portCounters(t, counters);
    };
    return { state, loop, second };
  };

  test('two demands colliding on one spine (as the counters show it) are placed one per spine; pins go when the demands stop', () => {
    const { state, loop, second } = setup();
    const collided = [
      { pod: 'a', gbps: 5, path: via('node1', 'node3', 'spine1') },
      { pod: 'b', gbps: 5, path: via('node2', 'node4', 'spine1') },
    ];
    second(0, collided);
    second(1, collided);
    const changes = loop.rebalanceFromLoad();
    // the controller cannot see which spine each took: both may cross the hot leaf1->spine1, both are placed
    expect(changes).toEqual([
      { kind: 'pin', demand: 'traffic-0', path: via('node1', 'node3', 'spine1'), hops: [{ switch: 'leaf1', nextHop: 'spine1' }] },
      { kind: 'pin', demand: 'traffic-1', path: via('node2', 'node4', 'spine2'), hops: [{ switch: 'leaf1', nextHop: 'spine2' }] },
    ]);
    const a = state.pods.get('a')!;
    const x = state.pods.get('x')!;
    expect(state.steering!.pins[0]).toEqual({ id: 'traffic-0', srcIp: a.ip, dstIp: x.ip, hops: [{ switch: 'leaf1', nextHop: 'spine1' }] });
    // compiled: one pin flow per demand at leaf1, none elsewhere
    const plans = loop.pass().plans;
    const pinFlows = (sw: string) => plans.get(sw)!.flows.filter((f) => f.priority === PIN_PRIORITY).length;
    expect([pinFlows('leaf1'), pinFlows('leaf2'), pinFlows('spine1'), pinFlows('node1')]).toEqual([2, 0, 0, 0]);
    // the pins hold: 0.8 per spine is at the threshold, but no placement does better: no churn
    const placed = [
      { pod: 'a', gbps: 8, path: via('node1', 'node3', 'spine1') },
      { pod: 'b', gbps: 8, path: via('node2', 'node4', 'spine2') },
    ];
    second(2, placed);
    second(3, placed);
    expect(loop.rebalanceFromLoad()).toEqual([]);
    // a stops sending: its pin goes (an idle pin would steer a later flow); b's stays
    second(4, [placed[1]]);
    second(5, [placed[1]]);
    expect(loop.rebalanceFromLoad()).toEqual([{ kind: 'unpin', demand: 'traffic-0' }]);
    expect(state.steering!.pins.map((p) => p.id)).toEqual(['traffic-1']);
    expect(loop.rebalanceStats).toMatchObject({ pins: 2, unpins: 1 });
  });

  test('a pin over a link that goes down is removed', () => {
    const { state, loop, second } = setup();
    const collided = [
      { pod: 'a', gbps: 5, path: via('node1', 'node3', 'spine2') },
      { pod: 'b', gbps: 5, path: via('node2', 'node4', 'spine2') },
    ];
    second(0, collided);
    second(1, collided);
    expect(loop.rebalanceFromLoad().map((c) => c.kind)).toEqual(['pin', 'pin']);
    const spine2 = state.steering!.pins.find((p) => p.hops[0].nextHop === 'spine2')!;
    loop.applyEvents([{ at: 2, kind: 'link', action: 'down', between: ['leaf1', 'spine2'] }]);
    second(2, [{ pod: 'a', gbps: 8, path: via('node1', 'node3', 'spine1') }, { pod: 'b', gbps: 2, path: via('node2', 'node4', 'spine1') }]);
    const changes = loop.rebalanceFromLoad();
    expect(changes).toContainEqual({ kind: 'unpin', demand: spine2.id });
    expect(state.steering!.pins.every((p) => p.hops.every((h) => h.nextHop !== 'spine2'))).toBe(true);
  });

  test('limit counts a declared demand on the links it certainly crosses (the receiver\'s downlink too)', () => {
    const { loop, second } = setup();
    // a and b both to y over leaf2->node4 (25): x's link is idle; the uplinks are not hot
    loop.declareDemands([
      { from: 'a', to: 'y', gbps: 30, at: 0 },
      { from: 'b', to: 'y', gbps: 8, at: 0 },
    ]);
    const flows = [
      { pod: 'a', gbps: 17, path: ['node1->leaf1', 'leaf1->spine1', 'spine1->leaf2', 'leaf2->node4'] },
      { pod: 'b', gbps: 8, path: ['node2->leaf1', 'leaf1->spine2', 'spine2->leaf2', 'leaf2->node4'] },
    ];
    for (let t = 0; t <= 2; t++) second(t, flows);
    loop.rebalanceFromLoad({ holdRounds: 2 });
    const changes = loop.rebalanceFromLoad({ holdRounds: 2 });
    // 0.8 x 25 shared max-min by [17, 8]: b fits, a gets 12
    expect(changes.filter((c) => c.kind === 'meter')).toEqual([{ kind: 'meter', pod: 'a', node: 'node1', gbps: 12, link: 'leaf2->node4' }]);
  });
});

describe('rebalancing on measured load (weights): a service\'s buckets follow the load in front of its endpoints', () => {
  const yaml = `
name: weights-from-counters
seed: 1
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16, rebalance: [weights] }
fabric:
  switches: [ { name: tor1 } ]
  nodes:
    - { name: node1, ip: 198.51.100.11 }
    - { name: node2, ip: 198.51.100.12 }
    - { name: node3, ip: 198.51.100.13 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
    - { between: [node3, tor1], gbps: 10 }
pods:
  - { name: client, node: node1 }
  - { name: web-a, node: node2, labels: { app: web } }
  - { name: web-b, node: node3, labels: { app: web } }
services:
  - { name: web, selector: { app: web }, port: 80, targetPort: 8080 }
`;
  const { parseScenarioText } = jest.requireActual('../../topology') as typeof import('../../topology');

  test('busy in front of web-b: its bucket weighs less; even load: equal buckets again; small moves change nothing', () => {
    const state = buildClusterState(parseScenarioText(yaml, 'weights.yaml').scenario!);
    const loop = new ControlLoop(state, { reachable: () => true });
    const tor = state.switches.get('tor1')!;
    const portTo = (node: string) => tor.ports.find((p) => p.kind === 'link' && p.peerSwitch === node)!.port;
    const sent = new Map<string, number>();
    /** one second with these Gbit/s sent by tor1 towards each node */
    const second = (t: number, gbps: Record<string, number>): void => {
      for (const [n, g] of Object.entries(gbps)) sent.set(n, (sent.get(n) ?? 0) + (g * 1e9) / 8);
      loop.portCounters(t, ['node2', 'node3'].map((n) => ({ switch: 'tor1', port: portTo(n), txBytes: sent.get(n) ?? 0, rxBytes: 0 })));
    };
    second(0, { node2: 1, node3: 9 });
    second(1, { node2: 1, node3: 9 });
    expect(loop.rebalanceFromLoad()).toEqual([{ kind: 'weights', service: 'web', weights: { 'web-a': 90, 'web-b': 10 } }]);
    expect(state.steering!.weights).toEqual({ web: { 'web-a': 90, 'web-b': 10 } });
    const plan = loop.pass().plans.get('node1')!;
    const group = plan.groups.find((g) => g.type === 'select' && g.buckets.length === 2)!;
    expect(group.buckets.map((b) => b.weight)).toEqual([90, 10]);
    // a few percent either way: no churn
    second(2, { node2: 1.5, node3: 8.5 });
    second(3, { node2: 1.5, node3: 8.5 });
    expect(loop.rebalanceFromLoad()).toEqual([]);
    // even: plain select group again
    second(4, { node2: 3, node3: 3 });
    second(5, { node2: 3, node3: 3 });
    expect(loop.rebalanceFromLoad()).toEqual([{ kind: 'weights', service: 'web' }]);
    expect(state.steering!.weights).toBeUndefined();
    expect(loop.pass().plans.get('node1')!.groups.find((g) => g.type === 'select' && g.buckets.length === 2)!.buckets.map((b) => b.weight)).toEqual([undefined, undefined]);
    expect(loop.rebalanceStats.weights).toBe(2);
  });
});
