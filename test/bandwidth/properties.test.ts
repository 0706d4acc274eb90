/**
 * Property tests (fast-check; a failure prints its seed and the shrunk counterexample):
 * allocations never exceed capacity and are max-min fair, rebalancing never raises the maximum
 * utilization, and what we reach is never below the LP optimum.
 */
import fc from 'fast-check';
import type { Highs } from 'highs';
import { allocateMaxMinFair, withPodMeters } from '../../sim/bandwidth';
import { demandCapGbps } from '../../topology/links';
import { loadLpSolver, solveOptimum } from '../../sim/bandwidth-optimum';
import { applyChanges, emptyLimitState, limit, maxOfferedUtilization, place, steer, RebalanceModel } from '../../controller/rebalance';
import { arbScenario, referenceMaxMin } from './support';

const RUNS = Number(process.env.FC_RUNS ?? 150);

/** rebalancing reasons about offered load: give elastic demands a finite ask */
function finite(m: RebalanceModel): RebalanceModel {
  return { ...m, demands: m.demands.map((d) => ({ ...d, demandGbps: Number.isFinite(d.demandGbps) ? d.demandGbps : 50 })) };
}

function carriedMax(m: RebalanceModel, meters: Map<string, number> = new Map()): number {
  const links = [...m.links, ...[...meters].map(([pod, gbps]) => ({ id: `meter:${pod}`, capacityGbps: gbps }))];
  const demands = m.demands.map((d) => ({ ...d, path: d.fromPod && meters.has(d.fromPod) ? [`meter:${d.fromPod}`, ...d.path] : d.path }));
  const a = allocateMaxMinFair(links, demands);
  let max = 0;
  for (const l of m.links) max = Math.max(max, (a.linkLoad.get(l.id) ?? 0) / l.capacityGbps);
  return max;
}

describe('allocateMaxMinFair properties', () => {
  test('never above capacity, never above a demand cap, and equal to a reference water-filling', () => {
    fc.assert(
      fc.property(arbScenario, ({ model }) => {
        const a = allocateMaxMinFair(model.links, model.demands);
        for (const l of model.links) expect(a.linkLoad.get(l.id)!).toBeLessThanOrEqual(l.capacityGbps * (1 + 1e-9) + 1e-9);
        for (const d of model.demands) expect(a.rates.get(d.id)!).toBeLessThanOrEqual(demandCapGbps(d) + 1e-9);
        const ref = referenceMaxMin(model.links, model.demands.map((d) => ({ id: d.id, path: d.path, cap: demandCapGbps(d) })));
        for (const d of model.demands) {
          const want = ref.get(d.id)!;
          const got = a.rates.get(d.id)!;
          if (want === Infinity) expect(got).toBe(Infinity);
          else expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, want));
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('every demand gets its max-min fair share: at its cap, or holding a largest rate on a saturated link', () => {
    fc.assert(
      fc.property(arbScenario, ({ model }) => {
        const a = allocateMaxMinFair(model.links, model.demands);
        const cap = new Map(model.links.map((l) => [l.id, l.capacityGbps]));
        for (const d of model.demands) {
          const r = a.rates.get(d.id)!;
          if (r >= demandCapGbps(d) - 1e-9) continue;
          const bottleneck = d.path.some((l) => {
            const saturated = a.linkLoad.get(l)! >= cap.get(l)! * (1 - 1e-9) - 1e-9;
            const largest = model.demands.every((o) => !o.path.includes(l) || a.rates.get(o.id)! <= r * (1 + 1e-9) + 1e-9);
            return saturated && largest;
          });
          expect(bottleneck).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('per-pod meters', () => {
  test('a metered pod never sends more than its meter in total; links stay within capacity', () => {
    fc.assert(
      fc.property(arbScenario, fc.array(fc.tuple(fc.nat({ max: 5 }), fc.double({ min: 0.01, max: 20, noNaN: true })), { maxLength: 4 }), ({ model }, meterSpecs) => {
        const pods = [...new Set(model.demands.map((d) => d.fromPod!))].sort();
        const meters = meterSpecs.map(([i, gbps]) => ({ pod: pods[i % pods.length], gbps }));
        const m = withPodMeters(model.links, model.demands, meters, (d) => d.fromPod);
        const a = allocateMaxMinFair(m.links, m.demands);
        for (const meter of meters) {
          let total = 0;
          for (const d of model.demands) if (d.fromPod === meter.pod) total += a.rates.get(d.id)!;
          expect(total).toBeLessThanOrEqual(meter.gbps * (1 + 1e-9) + 1e-9);
        }
        for (const l of model.links) expect(a.linkLoad.get(l.id)!).toBeLessThanOrEqual(l.capacityGbps * (1 + 1e-9) + 1e-9);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('rebalancing never raises the maximum utilization', () => {
  test('steer: offered and carried maximum do not rise; pins use candidate paths', () => {
    fc.assert(
      fc.property(arbScenario, fc.constantFrom(0, 0.5, 0.8), ({ model: m0 }, threshold) => {
        const m = finite(m0);
        const pins = steer(m, { thresholdUtilization: threshold });
        const after = applyChanges(m, pins);
        expect(maxOfferedUtilization(after.links, after.demands)).toBeLessThanOrEqual(maxOfferedUtilization(m.links, m.demands) + 1e-9);
        expect(carriedMax(after)).toBeLessThanOrEqual(carriedMax(m) + 1e-9);
        for (const p of pins) {
          if (p.kind !== 'pin') continue;
          const d = m.demands.find((x) => x.id === p.demand)!;
          expect(m.paths(d.src, d.dst).map((x) => x.join())).toContain(p.path.join());
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('place: a proposed move lowers the offered maximum and never raises the carried one', () => {
    fc.assert(
      fc.property(arbScenario, ({ model: m0 }) => {
        const m = finite(m0);
        const moves = place(m, { thresholdUtilization: 0 });
        const after = applyChanges(m, moves);
        const before = maxOfferedUtilization(m.links, m.demands);
        if (moves.length > 0) expect(maxOfferedUtilization(after.links, after.demands)).toBeLessThan(before);
        expect(carriedMax(after)).toBeLessThanOrEqual(carriedMax(m) + 1e-9);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  test('limit: meters on hogs never raise the carried maximum', () => {
    fc.assert(
      fc.property(arbScenario, fc.constantFrom(0.3, 0.8, 0.95), ({ model }, threshold) => {
        const a = allocateMaxMinFair(model.links, model.demands);
        const load = { linkLoadGbps: a.linkLoad, demandRateGbps: a.rates };
        const r = limit(model, load, emptyLimitState(), { thresholdUtilization: threshold, holdRounds: 1 });
        const meters = new Map([...r.state.meters].map(([p, x]) => [p, x.gbps]));
        expect(carriedMax(model, meters)).toBeLessThanOrEqual(carriedMax(model) + 1e-9);
        for (const c of r.changes) if (c.kind === 'meter') expect(c.gbps).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the LP optimum is a lower bound', () => {
  let highs: Highs;
  beforeAll(async () => {
    highs = await loadLpSolver();
  });

  test('what ECMP and steering reach is never below λ*', () => {
    fc.assert(
      fc.property(arbScenario, ({ model: m0 }) => {
        const m = finite(m0);
        const lp = solveOptimum(
          highs,
          m.links,
          m.demands.map((d) => ({ id: d.id, gbps: demandCapGbps(d), candidates: m.paths(d.src, d.dst) })),
        ).maxUtilization;
        const before = maxOfferedUtilization(m.links, m.demands);
        const after = applyChanges(m, steer(m, { thresholdUtilization: 0 }));
        const reached = maxOfferedUtilization(after.links, after.demands);
        expect(lp).toBeLessThanOrEqual(reached + 1e-7);
        expect(reached).toBeLessThanOrEqual(before + 1e-9);
      }),
      { numRuns: Math.ceil(RUNS / 1.5) },
    );
  });
});
