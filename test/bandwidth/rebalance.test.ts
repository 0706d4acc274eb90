/** Rebalancing policies on hand-built cases (controller/rebalance.ts). */
import { allocateMaxMinFair } from '../../sim/bandwidth';
import { optimumMaxUtilization } from '../../sim/bandwidth-optimum';
import {
  RebalanceModel,
  applyChanges,
  emptyLimitState,
  limit,
  maxOfferedUtilization,
  place,
  serviceBucketWeights,
  steer,
  steerFromLoad,
  waterLevel,
} from '../../controller/rebalance';
import { leafSpine } from './support';

// two leaves, two spines, 10G everywhere, one node per leaf
const f = leafSpine(2, 2, 2, { up: 10, down: 10 });
const viaSpine0 = ['node0-0->leaf0', 'leaf0->spine0', 'spine0->leaf1', 'leaf1->node1-0'];
const viaSpine0b = ['node0-1->leaf0', 'leaf0->spine0', 'spine0->leaf1', 'leaf1->node1-1'];

function model(demands: RebalanceModel['demands']): RebalanceModel {
  const podNode = new Map<string, string>();
  for (const d of demands) {
    if (d.fromPod) podNode.set(d.fromPod, d.src);
    if (d.toPod) podNode.set(d.toPod, d.dst);
  }
  return { links: f.links, demands, paths: (s, t) => f.cache.get(s, t), podNode, nodes: f.nodes };
}

describe('steer', () => {
  test('two 8G demands hashed onto one spine: one is pinned to the other spine, 1.6 -> 0.8, equal to the LP optimum', async () => {
    const m = model([
      { id: 'a', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: 8 },
      { id: 'b', src: 'node0-1', dst: 'node1-1', path: viaSpine0b, demandGbps: 8 },
    ]);
    expect(maxOfferedUtilization(m.links, m.demands)).toBeCloseTo(1.6, 12);
    const pins = steer(m);
    expect(pins).toEqual([
      {
        kind: 'pin',
        demand: 'a',
        path: ['node0-0->leaf0', 'leaf0->spine1', 'spine1->leaf1', 'leaf1->node1-0'],
        hops: [{ switch: 'leaf0', nextHop: 'spine1' }],
      },
    ]);
    const after = applyChanges(m, pins);
    expect(maxOfferedUtilization(after.links, after.demands)).toBeCloseTo(0.8, 12);
    const lp = await optimumMaxUtilization(m.links, m.demands.map((d) => ({ id: d.id, gbps: d.demandGbps, candidates: m.paths(d.src, d.dst) })));
    expect(lp.maxUtilization).toBeCloseTo(0.8, 9);
  });

  test('below the threshold nothing moves; a single path offers nothing to move to', () => {
    const cool = model([{ id: 'a', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: 5 }]);
    expect(steer(cool)).toEqual([]);
    // both demands share the node uplink node0-0 -> leaf0, which has no alternative
    const stuck = model([
      { id: 'a', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: 9 },
      { id: 'b', src: 'node0-0', dst: 'node0-1', path: ['node0-0->leaf0', 'leaf0->node0-1'], demandGbps: 9 },
    ]);
    expect(steer(stuck)).toEqual([]);
  });
});

describe('limit', () => {
  // pod hog sends three elastic flows, pod mouse one, all over node0-0 -> leaf0 (10G)
  const demands = [
    ...[0, 1, 2].map((i) => ({ id: `hog${i}`, fromPod: 'hog', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: Infinity })),
    { id: 'mouse', fromPod: 'mouse', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: Infinity },
  ];
  const m = model(demands);
  m.podNode = new Map([['hog', 'node0-0'], ['mouse', 'node0-0']]);
  const a = allocateMaxMinFair(m.links, m.demands);
  const load = { linkLoadGbps: a.linkLoad, demandRateGbps: a.rates };

  test('waits holdRounds, then meters the hog at its pod-level share of 0.8 x 10G (the mouse keeps its 2.5)', () => {
    // flow-level max-min gives the hog 7.5 and the mouse 2.5
    expect(a.rates.get('hog0')).toBeCloseTo(2.5, 12);
    const r1 = limit(m, load, emptyLimitState());
    expect(r1.changes).toEqual([]);
    const r2 = limit(m, load, r1.state);
    // pods share 8G: mouse asks 2.5 (below 4), hog gets 8 - 2.5 = 5.5
    expect(r2.changes).toEqual([{ kind: 'meter', pod: 'hog', node: 'node0-0', gbps: 5.5, link: 'leaf0->spine0' }]);
    // with the meter the mouse keeps 2.5, the hog 5.5: the link carries 8, below the threshold... and stays metered
    const after = allocateMaxMinFair([...m.links, { id: 'meter:hog', capacityGbps: 5.5 }], m.demands.map((d) => (d.fromPod === 'hog' ? { ...d, path: ['meter:hog', ...d.path] } : d)));
    expect(after.rates.get('mouse')).toBeCloseTo(4.5, 12);
    expect(after.linkLoad.get('leaf0->spine0')).toBeCloseTo(10, 12);
  });

  test('lifts the meter after the link stays clear for holdRounds', () => {
    const r2 = limit(m, load, limit(m, load, emptyLimitState()).state);
    expect(r2.state.meters.has('hog')).toBe(true);
    const quiet = { linkLoadGbps: new Map<string, number>(), demandRateGbps: new Map<string, number>() };
    const r3 = limit(m, quiet, r2.state);
    expect(r3.changes).toEqual([]);
    const r4 = limit(m, quiet, r3.state);
    expect(r4.changes).toEqual([{ kind: 'unmeter', pod: 'hog', node: 'node0-0' }]);
    expect(r4.state.meters.size).toBe(0);
  });

  test('waterLevel: asks below the level keep theirs', () => {
    expect(waterLevel([1, 2, Infinity], 10)).toBeCloseTo(7, 12);
    expect(waterLevel([5, 5], 10)).toBe(Infinity);
    expect(waterLevel([Infinity, Infinity], 8)).toBe(4);
  });
});

describe('place', () => {
  test('two pods on one node fill its 10G uplink: one moves to the node that balances best', () => {
    const m = model([
      { id: 'a', fromPod: 'a', toPod: 'x', src: 'node0-0', dst: 'node1-0', path: viaSpine0, demandGbps: 8 },
      { id: 'b', fromPod: 'b', toPod: 'y', src: 'node0-0', dst: 'node1-1', path: ['node0-0->leaf0', 'leaf0->spine1', 'spine1->leaf1', 'leaf1->node1-1'], demandGbps: 8 },
    ]);
    const moves = place(m);
    expect(moves).toHaveLength(1);
    const mv = moves[0];
    expect(mv.kind).toBe('move');
    const after = applyChanges(m, moves);
    expect(maxOfferedUtilization(after.links, after.demands)).toBeCloseTo(0.8, 12);
    // the moved pod's demand now starts at its new node
    if (mv.kind === 'move') expect(after.demands.find((d) => d.fromPod === mv.pod)!.src).toBe(mv.to);
  });
});

describe('steerFromLoad (the loop: ECMP paths unknown, hot links measured)', () => {
  const cands = (src: string, dst: string) => f.cache.get(src, dst);
  const shared = (c: readonly (readonly string[])[]) => c[0].filter((id) => c.every((q) => q.includes(id)));
  const demands = [
    { id: 'a', demandGbps: 8, candidates: cands('node0-0', 'node1-0') },
    { id: 'b', demandGbps: 8, candidates: cands('node0-1', 'node1-1') },
  ];
  test('a spine measured full: both demands that may be there are placed, one per spine', () => {
    const util = new Map([['leaf0->spine0', 1], ['spine0->leaf1', 1]]);
    const pins = steerFromLoad(f.links, demands, (d) => shared(d.candidates), util);
    expect(pins.map((p) => (p.kind === 'pin' ? [p.demand, p.path[1], p.hops] : []))).toEqual([
      ['a', 'leaf0->spine0', [{ switch: 'leaf0', nextHop: 'spine0' }]],
      ['b', 'leaf0->spine1', [{ switch: 'leaf0', nextHop: 'spine1' }]],
    ]);
  });
  test('nothing hot, or nothing better than what is measured: no pins (no churn)', () => {
    expect(steerFromLoad(f.links, demands, (d) => shared(d.candidates), new Map([['leaf0->spine0', 0.5]]))).toEqual([]);
    // 0.8 on each spine already: a placement reaches 0.8, not below
    const even = new Map([['leaf0->spine0', 0.8], ['leaf0->spine1', 0.8]]);
    expect(steerFromLoad(f.links, demands, (d) => shared(d.candidates), even)).toEqual([]);
  });
  test('an already pinned demand keeps its pin when the placement chooses the same path', () => {
    const util = new Map([['leaf0->spine0', 1]]);
    const first = steerFromLoad(f.links, demands, (d) => shared(d.candidates), util);
    const pinned = demands.map((d) => ({ ...d, pinned: (first.find((c) => c.kind === 'pin' && c.demand === d.id) as { path: string[] }).path }));
    expect(steerFromLoad(f.links, pinned, (d) => d.pinned ?? [], new Map([['leaf0->spine0', 0.9]]))).toEqual([]);
  });
  test('more movable demands than maxPinsPerRound: the heaviest are placed', () => {
    const many = [6, 9, 7].map((g, i) => ({ id: `d${i}`, demandGbps: g, candidates: cands('node0-0', 'node1-0') }));
    const pins = steerFromLoad(f.links, many, (d) => shared(d.candidates), new Map([['leaf0->spine0', 1]]), { maxPinsPerRound: 2 });
    expect(pins.map((p) => (p.kind === 'pin' ? p.demand : ''))).toEqual(['d1', 'd2']);
  });
});

describe('serviceBucketWeights', () => {
  test('unhealthy endpoints get 0, loaded ones less, never below 1 while healthy', () => {
    expect(
      serviceBucketWeights([
        { pod: 'web-2', healthy: true, utilization: 0.75 },
        { pod: 'web-1', healthy: true, utilization: 0 },
        { pod: 'web-3', healthy: false, utilization: 0 },
        { pod: 'web-4', healthy: true, utilization: 1.5 },
      ]),
    ).toEqual([
      { pod: 'web-1', weight: 100 },
      { pod: 'web-2', weight: 25 },
      { pod: 'web-3', weight: 0 },
      { pod: 'web-4', weight: 1 },
    ]);
  });
});
