/** Sliding-window utilization from counters, capacity discovery, and the token-bucket meter model. */
import { UtilizationMeter, discoverCapacityGbps, windowRateGbps, windowUtilization } from '../../controller/load';
import { tokenBucket, Arrival } from '../../sim/bandwidth-meter';
import { meterBandFor } from '../../controller/meters';

describe('windowRateGbps / UtilizationMeter', () => {
  test('rate over the window from cumulative byte counters', () => {
    // 1.25e9 bytes per second = 10 Gbit/s
    const s = [0, 1, 2, 3, 4].map((t) => ({ atS: t, bytes: t * 1.25e9 }));
    expect(windowRateGbps(s, 2)).toBeCloseTo(10, 12);
    expect(windowUtilization(s, 40, 2)).toBeCloseTo(0.25, 12);
    expect(windowRateGbps(s.slice(0, 1), 2)).toBeUndefined();
  });

  test('only the window counts: a burst that ended leaves it', () => {
    // 10 Gbit/s for 2 s, then idle
    const s = [{ atS: 0, bytes: 0 }, { atS: 1, bytes: 1.25e9 }, { atS: 2, bytes: 2.5e9 }, { atS: 3, bytes: 2.5e9 }, { atS: 4, bytes: 2.5e9 }];
    expect(windowRateGbps(s, 1)).toBe(0);
    expect(windowRateGbps(s, 2)).toBe(0);
    expect(windowRateGbps(s, 3)).toBeCloseTo(10 / 3, 12);
  });

  test('a counter reset (switch restart) restarts the window instead of giving a negative rate', () => {
    const s = [{ atS: 0, bytes: 5e9 }, { atS: 1, bytes: 6.25e9 }, { atS: 2, bytes: 1.25e9 }, { atS: 3, bytes: 2.5e9 }];
    expect(windowRateGbps(s, 10)).toBeCloseTo(10, 12);
  });

  test('the meter keeps what the window needs and is immutable', () => {
    let m = UtilizationMeter.create(2);
    const m0 = m;
    for (let t = 0; t <= 10; t++) m = m.push(t, new Map([['tor1->spine1', t * 0.625e9]]));
    expect(m.rateGbps('tor1->spine1')).toBeCloseTo(5, 12);
    expect(m.samples('tor1->spine1').length).toBe(3);
    expect(m0.rates().size).toBe(0);
    expect(() => UtilizationMeter.create(0)).toThrow(RangeError);
  });
});

describe('capacity discovery', () => {
  test('OpenFlow port speeds (kbit/s) first, the model as the fallback', () => {
    expect(discoverCapacityGbps({ currSpeedKbps: 10_000_000 })).toBe(10);
    expect(discoverCapacityGbps({ currSpeedKbps: 0, maxSpeedKbps: 1_000_000 }, 40)).toBe(1);
    expect(discoverCapacityGbps({ currSpeedKbps: 0, maxSpeedKbps: 0 }, 40)).toBe(40);
  });
});

/** A small LCG so the arrival jitter is deterministic. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('token-bucket meter (OpenFlow meter band drop)', () => {
  const run = (offeredMbps: number, meterGbps: number, seconds: number, seed: number): number => {
    const band = meterBandFor(meterGbps);
    const rnd = lcg(seed);
    const arrivals: Arrival[] = [];
    const gapS = (1500 * 8) / (offeredMbps * 1e6);
    for (let t = 0; t < seconds; t += gapS * (0.5 + rnd())) arrivals.push({ atS: t, bytes: 1500 });
    const r = tokenBucket({ rateKbps: band.rateKbps, burstKbit: band.burstKbit }, arrivals);
    return (r.passedBytes * 8) / seconds / 1e6; // Mbit/s
  };

  test.each([
    [100, 0.05, 1],
    [400, 0.05, 2],
    [60, 0.05, 3],
    [1000, 0.2, 4],
  ])('offered %d Mbit/s through a %d Gbit/s meter passes its rate within 5%%', (offered, meterGbps, seed) => {
    const passed = run(offered, meterGbps, 10, seed);
    const rateMbps = meterGbps * 1000;
    expect(Math.abs(passed - Math.min(rateMbps, offered))).toBeLessThanOrEqual(0.05 * Math.min(rateMbps, offered));
  });

  test('traffic under the rate passes untouched', () => {
    const arrivals = Array.from({ length: 1000 }, (_, i) => ({ atS: i * 0.001, bytes: 1000 })); // 8 Mbit/s
    const r = tokenBucket({ rateKbps: 10_000, burstKbit: 2_000 }, arrivals);
    expect(r.droppedBytes).toBe(0);
  });

  test('meterBandFor: kbps and a burst of a fifth of the rate', () => {
    expect(meterBandFor(0.05)).toEqual({ rateKbps: 50_000, burstKbit: 10_000 });
  });
});
