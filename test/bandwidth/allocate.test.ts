/** Max-min fair allocation against hand-computed cases. */
import { allocateMaxMinFair, withPodMeters, BandwidthDemand, BandwidthModelError, offeredUtilization } from '../../sim/bandwidth';

const rates = (links: { id: string; capacityGbps: number }[], demands: BandwidthDemand[]): Record<string, number> =>
  Object.fromEntries(allocateMaxMinFair(links, demands).rates);

function expectRates(got: Record<string, number>, want: Record<string, number>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expect(got[k]).toBeCloseTo(want[k], 12);
}

describe('allocateMaxMinFair: hand-computed cases', () => {
  test('single bottleneck: three greedy senders share 10 Gbit/s equally', () => {
    const r = rates([{ id: 'a->b', capacityGbps: 10 }], ['x', 'y', 'z'].map((id) => ({ id, path: ['a->b'], demandGbps: Infinity })));
    expectRates(r, { x: 10 / 3, y: 10 / 3, z: 10 / 3 });
  });

  test('demands below their fair share keep what they ask; the rest goes to the greedy one', () => {
    const r = rates([{ id: 'a->b', capacityGbps: 10 }], [
      { id: 'x', path: ['a->b'], demandGbps: 1 },
      { id: 'y', path: ['a->b'], demandGbps: 2 },
      { id: 'z', path: ['a->b'], demandGbps: Infinity },
    ]);
    expectRates(r, { x: 1, y: 2, z: 7 });
  });

  test('demands that all fit get exactly what they ask', () => {
    const r = rates([{ id: 'a->b', capacityGbps: 10 }], [
      { id: 'x', path: ['a->b'], demandGbps: 3 },
      { id: 'y', path: ['a->b'], demandGbps: 4 },
    ]);
    expectRates(r, { x: 3, y: 4 });
  });

  test('two bottlenecks: B (4G) splits 2/2 first, then A (10G) gives the rest (8) to d1', () => {
    // d1: A; d2: A,B; d3: B.  B saturates at level 2; A then has 10 - 2 = 8 for d1 alone.
    const links = [{ id: 'A', capacityGbps: 10 }, { id: 'B', capacityGbps: 4 }];
    const a = allocateMaxMinFair(links, [
      { id: 'd1', path: ['A'], demandGbps: Infinity },
      { id: 'd2', path: ['A', 'B'], demandGbps: Infinity },
      { id: 'd3', path: ['B'], demandGbps: Infinity },
    ]);
    expectRates(Object.fromEntries(a.rates), { d1: 8, d2: 2, d3: 2 });
    expect(a.linkLoad.get('A')).toBeCloseTo(10, 12);
    expect(a.linkLoad.get('B')).toBeCloseTo(4, 12);
  });

  test('parking lot, equal links: the long flow and each short flow get 1/2', () => {
    const links = ['L1', 'L2', 'L3'].map((id) => ({ id, capacityGbps: 1 }));
    const r = rates(links, [
      { id: 'long', path: ['L1', 'L2', 'L3'], demandGbps: Infinity },
      { id: 's1', path: ['L1'], demandGbps: Infinity },
      { id: 's2', path: ['L2'], demandGbps: Infinity },
      { id: 's3', path: ['L3'], demandGbps: Infinity },
    ]);
    expectRates(r, { long: 0.5, s1: 0.5, s2: 0.5, s3: 0.5 });
  });

  test('parking lot, first link narrower (1, 3, 3): long flow 0.5, later short flows 2.5', () => {
    const links = [{ id: 'L1', capacityGbps: 1 }, { id: 'L2', capacityGbps: 3 }, { id: 'L3', capacityGbps: 3 }];
    const r = rates(links, [
      { id: 'long', path: ['L1', 'L2', 'L3'], demandGbps: Infinity },
      { id: 's1', path: ['L1'], demandGbps: Infinity },
      { id: 's2', path: ['L2'], demandGbps: Infinity },
      { id: 's3', path: ['L3'], demandGbps: Infinity },
    ]);
    expectRates(r, { long: 0.5, s1: 0.5, s2: 2.5, s3: 2.5 });
  });

  test('parking lot with 2 short flows per link and caps: (10G, long + s1a 1G + s1b) ...', () => {
    // L1 = 10: long, s1a (asks 1), s1b. L2 = 6: long, s2. Level rises: s1a stops at 1;
    // L2 saturates at 3 (long, s2 = 3); L1 then gives s1b 10 - 1 - 3 = 6.
    const links = [{ id: 'L1', capacityGbps: 10 }, { id: 'L2', capacityGbps: 6 }];
    const r = rates(links, [
      { id: 'long', path: ['L1', 'L2'], demandGbps: Infinity },
      { id: 's1a', path: ['L1'], demandGbps: 1 },
      { id: 's1b', path: ['L1'], demandGbps: Infinity },
      { id: 's2', path: ['L2'], demandGbps: Infinity },
    ]);
    expectRates(r, { long: 3, s1a: 1, s1b: 6, s2: 3 });
  });

  test('a per-demand limit caps it like a smaller demand', () => {
    const r = rates([{ id: 'a->b', capacityGbps: 10 }], [
      { id: 'x', path: ['a->b'], demandGbps: 8, limitGbps: 1.5 },
      { id: 'y', path: ['a->b'], demandGbps: Infinity },
    ]);
    expectRates(r, { x: 1.5, y: 8.5 });
  });

  test('a per-pod meter caps the pod total and splits it among its own demands', () => {
    // pod P sends p1, p2 (greedy) and Q sends q (greedy) over one 10G link; P is metered at 2.
    const links = [{ id: 'n1->t1', capacityGbps: 10 }];
    const demands = [
      { id: 'p1', pod: 'P', path: ['n1->t1'], demandGbps: Infinity },
      { id: 'p2', pod: 'P', path: ['n1->t1'], demandGbps: Infinity },
      { id: 'q', pod: 'Q', path: ['n1->t1'], demandGbps: Infinity },
    ];
    const m = withPodMeters(links, demands, [{ pod: 'P', gbps: 2 }], (d) => d.pod);
    const a = allocateMaxMinFair(m.links, m.demands);
    expectRates(Object.fromEntries(a.rates), { p1: 1, p2: 1, q: 8 });
    expect(a.linkLoad.get('n1->t1')).toBeCloseTo(10, 12);
    expect(a.linkLoad.get('meter:P')).toBeCloseTo(2, 12);
  });

  test('a demand on no link gets what it asks; zero capacity gives zero', () => {
    const r = rates([{ id: 'x->y', capacityGbps: 0 }], [
      { id: 'local', path: [], demandGbps: 3 },
      { id: 'dead', path: ['x->y'], demandGbps: 5 },
    ]);
    expectRates(r, { local: 3, dead: 0 });
  });

  test('offered utilization counts what demands ask (capped by limits)', () => {
    const u = offeredUtilization([{ id: 'a->b', capacityGbps: 10 }], [
      { id: 'x', path: ['a->b'], demandGbps: 8 },
      { id: 'y', path: ['a->b'], demandGbps: 9, limitGbps: 4 },
    ]);
    expect(u.get('a->b')).toBeCloseTo(1.2, 12);
  });

  test('bad input: unknown link, duplicate ids, negative demand are typed errors', () => {
    const links = [{ id: 'a->b', capacityGbps: 1 }];
    expect(() => allocateMaxMinFair(links, [{ id: 'x', path: ['nope'], demandGbps: 1 }])).toThrow(BandwidthModelError);
    expect(() => allocateMaxMinFair(links, [{ id: 'x', path: [], demandGbps: 1 }, { id: 'x', path: [], demandGbps: 1 }])).toThrow(BandwidthModelError);
    expect(() => allocateMaxMinFair(links, [{ id: 'x', path: [], demandGbps: -1 }])).toThrow(BandwidthModelError);
    expect(() => allocateMaxMinFair([...links, ...links], [])).toThrow(BandwidthModelError);
  });
});
