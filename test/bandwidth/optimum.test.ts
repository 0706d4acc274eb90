/** The LP optimum (HiGHS) against hand-computed cases. */
import { optimumMaxUtilization } from '../../sim/bandwidth-optimum';

describe('optimumMaxUtilization (path-based multi-commodity LP, HiGHS)', () => {
  test('one demand over two unequal parallel paths: 9 over 10 + 5 -> 0.6', async () => {
    const r = await optimumMaxUtilization([{ id: 'A', capacityGbps: 10 }, { id: 'B', capacityGbps: 5 }], [
      { id: 'x', gbps: 9, candidates: [['A'], ['B']] },
    ]);
    expect(r.status).toBe('Optimal');
    expect(r.maxUtilization).toBeCloseTo(0.6, 9);
  });

  test('a forced link dominates: fixed load 12 on a 5G link -> 2.4 without an LP', async () => {
    const r = await optimumMaxUtilization(
      [{ id: 'A', capacityGbps: 10 }, { id: 'B', capacityGbps: 10 }, { id: 'C', capacityGbps: 5 }],
      [{ id: 'x', gbps: 12, candidates: [['A', 'C'], ['B', 'C']] }, { id: 'y', gbps: 6, candidates: [['A'], ['B']] }],
    );
    // A/B carry 18 over 20 (0.9) but C carries all 12 of x: 12 / 5
    expect(r.maxUtilization).toBeCloseTo(2.4, 9);
  });

  test('demands with one candidate each are fixed; the free one fills the gap: 6 + 2 over A, B', async () => {
    // A has 6 fixed, B has 0 fixed (cap 10 each). z (8) can go either way: best split leaves 7/7 -> 0.7
    const r = await optimumMaxUtilization([{ id: 'A', capacityGbps: 10 }, { id: 'B', capacityGbps: 10 }], [
      { id: 'fixed', gbps: 6, candidates: [['A']] },
      { id: 'z', gbps: 8, candidates: [['A'], ['B']] },
    ]);
    expect(r.maxUtilization).toBeCloseTo(0.7, 9);
  });

  test('identical candidate sets aggregate into one commodity', async () => {
    const r = await optimumMaxUtilization([{ id: 'A', capacityGbps: 10 }, { id: 'B', capacityGbps: 10 }], [
      { id: 'a', gbps: 3, candidates: [['A'], ['B']] },
      { id: 'b', gbps: 5, candidates: [['B'], ['A']] },
    ]);
    expect(r.commodities).toBe(1);
    expect(r.maxUtilization).toBeCloseTo(0.4, 9);
  });

  test('a demand without a usable path is reported unrouted', async () => {
    const r = await optimumMaxUtilization([{ id: 'A', capacityGbps: 10 }], [{ id: 'lost', gbps: 1, candidates: [['gone']] }]);
    expect(r.unrouted).toEqual(['lost']);
    expect(r.maxUtilization).toBe(0);
  });
});
