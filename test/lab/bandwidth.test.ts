/**
 * `limited` measured on real OVS: iperf3 from a pod through the meter the controller installed
 * (scaled by BANDWIDTH_SCALE, restored afterwards). The check must discriminate: a claimed limit below
 * the meter fails, a pod without a meter fails. Root only; never skipped. Below: the verdict rules of
 * maxLinkUtilization and fairShare on given measurements (real OVS: bandwidth-shared.test.ts).
 */
import * as path from 'path';
import { checkNetnsPermitted, scenarioLabTest, teardownLab } from '../../fabric/lab';
import {
  BANDWIDTH_SCALE,
  BandwidthMeasurement,
  evaluate,
  FAITHFUL_FRACTION,
  judgeFairShare,
  judgeMaxLinkUtilization,
  LabDemand,
  LinkMeasurement,
  RATE_TOLERANCE,
  UTILIZATION_TOLERANCE,
} from '../../fabric/lab/bandwidth';

const FIXTURE = path.join(__dirname, 'fixtures', 'limited.yaml');
const ID = 'tlabd';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});

afterAll(async () => {
  await teardownLab(ID);
});

test('limited: the pod meter holds iperf3 to egressGbps (scaled) within 10%', async () => {
  const report = await scenarioLabTest(FIXTURE, { id: ID });
  const [holds, tooLow, noMeter] = report.expectations;
  process.stdout.write(`limited: ${holds.detail}\n`);
  expect(holds).toMatchObject({ kind: 'limited', ok: true });
  expect(holds.skipped).toBeUndefined();
  expect(holds.value).toBeGreaterThan(0.5);
  expect(holds.value).toBeLessThanOrEqual(1.1);
  expect(holds.detail).toContain(`x${BANDWIDTH_SCALE}`);
  expect(tooLow).toMatchObject({ kind: 'limited', ok: false });
  // measured again at the meter's real rate: the first measurement restored the meter it scaled
  expect(tooLow.value).toBeGreaterThan(0.5);
  expect(tooLow.value).toBeLessThanOrEqual(1.1);
  expect(noMeter).toMatchObject({ kind: 'limited', ok: false, detail: expect.stringMatching(/no meter/) });
}, 60_000);

/**
 * The verdicts of maxLinkUtilization and fairShare on measurements given as data (pure): the same
 * rules as `fabric sim`, plus the documented lab tolerances, ECMP paths inferred from link counters,
 * and a run the CPU starved never turning into a pass (maxLinkUtilization) or a fail (fairShare).
 */
describe('bandwidth verdicts (pure)', () => {
  const scale = 0.05;
  const link = (id: string, capacityGbps: number, utilization: number): LinkMeasurement => ({
    id,
    linkId: id.split('->').sort().join('|'),
    capacityGbps,
    rateBps: utilization * capacityGbps * 1e9 * scale,
    utilization,
  });
  const demand = (index: number, from: string, to: string, askedGbps: number, candidates: string[][], measuredGbps: number): LabDemand => ({
    index,
    from,
    to,
    askedGbps,
    srcSwitch: candidates[0][0].split('->')[0],
    dstSwitch: candidates[0][candidates[0].length - 1].split('->')[1],
    dstHost: to,
    dstIp: `10.244.2.${index + 2}`,
    port: 5301 + index,
    candidates,
    goodputBps: (measuredGbps * 1e9 * scale * 1448) / 1514,
    wireBps: measuredGbps * 1e9 * scale,
    measuredGbps,
  });
  // two leaves under two spines; both demands go leaf1 -> leaf2, one via each spine (ECMP)
  const viaS1 = ['leaf1->spine1', 'spine1->leaf2'];
  const viaS2 = ['leaf1->spine2', 'spine2->leaf2'];
  const modelLinks = ['leaf1->spine1', 'spine1->leaf2', 'leaf1->spine2', 'spine2->leaf2'].flatMap((id) => [
    { id, capacityGbps: 1 },
    { id: id.split('->').reverse().join('->'), capacityGbps: 1 },
  ]);
  const measurement = (rates: [number, number], linkUtil: Record<string, number>): BandwidthMeasurement =>
    evaluate({
      at: 1,
      scale,
      windowS: 2.6,
      demands: [demand(0, 'p1', 'q1', 2, [viaS1, viaS2], rates[0]), demand(1, 'p2', 'q2', 2, [viaS1, viaS2], rates[1])],
      links: modelLinks.map((l) => link(l.id, 1, linkUtil[l.id] ?? 0)),
      modelLinks,
      podLimits: [],
    });

  test('ECMP: the paths are inferred from the link counters, and the fair share follows them', () => {
    // counters say: both demands on spine1 (a 1 Gbit/s link shared: 0.5 each)
    const same = measurement([0.49, 0.5], { 'leaf1->spine1': 0.99, 'spine1->leaf2': 0.99 });
    expect(same.paths).toEqual([viaS1, viaS1]);
    expect(same.modelGbps).toEqual([0.5, 0.5]);
    expect(same.combinations).toBe(4);
    const fair = judgeFairShare(same, { demand: 0, tolerance: 0.01 });
    expect(fair).toMatchObject({ ok: true, value: 0.49 });
    expect(fair.detail).toContain('of fair share 0.5 Gbit/s');
    expect(fair.detail).toContain('via leaf1->spine1,spine1->leaf2 (ECMP: inferred from link counters among 4 combinations)');
    // counters say: one per spine (then each may have 1 Gbit/s), told apart by their rates
    const split = measurement([0.3, 0.6], { 'leaf1->spine1': 0.3, 'spine1->leaf2': 0.3, 'leaf1->spine2': 0.6, 'spine2->leaf2': 0.6 });
    expect(split.paths).toEqual([viaS1, viaS2]);
    expect(split.modelGbps).toEqual([1, 1]);
    expect(judgeFairShare(split, { demand: 0 })).toMatchObject({ ok: false, value: 0.3 });
    const swapped = measurement([0.3, 0.6], { 'leaf1->spine1': 0.6, 'spine1->leaf2': 0.6, 'leaf1->spine2': 0.3, 'spine2->leaf2': 0.3 });
    expect(swapped.paths).toEqual([viaS2, viaS1]);
  });

  test('fairShare passes within tolerance + RATE_TOLERANCE, fails below, fails when iperf3 could not connect', () => {
    const atShare = (r: number): BandwidthMeasurement => measurement([r, 1], { 'leaf1->spine1': r, 'spine1->leaf2': r, 'leaf1->spine2': 1, 'spine2->leaf2': 1 });
    const floor = 1 - 0.05 - RATE_TOLERANCE;
    expect(judgeFairShare(atShare(floor + 0.005), { demand: 0, tolerance: 0.05 }).ok).toBe(true);
    // the other demand carried its share, so the run was not starved: a shortfall is a real fail
    const low = judgeFairShare(atShare(0.7), { demand: 0, tolerance: 0.05 });
    expect(low).toMatchObject({ ok: false, value: 0.7 });
    expect(low.skipped).toBeUndefined();
    const broken = measurement([0, 1], { 'leaf1->spine2': 1, 'spine2->leaf2': 1 });
    broken.demands[0].error = 'iperf3 failed: unable to connect';
    expect(judgeFairShare(broken, { demand: 0 })).toMatchObject({ ok: false });
    expect(judgeFairShare(broken, { demand: 0 }).skipped).toBeUndefined();
    expect(judgeFairShare(broken, { demand: 7 })).toMatchObject({ ok: false, detail: 'traffic[7] is not active at 1s' });
  });

  test('maxLinkUtilization: hottest direction against bound + UTILIZATION_TOLERANCE; a starved pass is skipped, a fail stays a fail', () => {
    const full = measurement([0.98, 0.98], { 'leaf1->spine1': 0.98, 'spine1->leaf2': 0.97, 'leaf1->spine2': 0.98, 'spine2->leaf2': 0.98 });
    const holds = judgeMaxLinkUtilization(full, 1);
    expect(holds).toMatchObject({ ok: true, value: 0.98 });
    expect(holds.detail).toMatch(/^leaf1->spine1: measured 49\.0 Mbit\/s of 50\.0 \(capacity 1 Gbit\/s scaled x0\.05\)/);
    expect(judgeMaxLinkUtilization(full, 0.98 - UTILIZATION_TOLERANCE + 0.001).ok).toBe(true);
    expect(judgeMaxLinkUtilization(full, 0.5)).toMatchObject({ ok: false, value: 0.98 });
    // both demands carried 40% of their grants (CPU): a low reading proves nothing
    const starved = measurement([0.4, 0.4], { 'leaf1->spine1': 0.4, 'spine1->leaf2': 0.4, 'leaf1->spine2': 0.4, 'spine2->leaf2': 0.4 });
    expect(starved.carried).toBeCloseTo(0.4, 6);
    expect(starved.carried).toBeLessThan(FAITHFUL_FRACTION);
    const noVerdict = judgeMaxLinkUtilization(starved, 0.9);
    expect(noVerdict).toMatchObject({ ok: false, skipped: true });
    expect(noVerdict.detail).toContain('the lab carried only 40% of what the model grants');
    expect(judgeMaxLinkUtilization(starved, 0.3)).toMatchObject({ ok: false, value: 0.4 });
    expect(judgeMaxLinkUtilization(starved, 0.3).skipped).toBeUndefined();
    expect(judgeFairShare(starved, { demand: 0 })).toMatchObject({ ok: false, skipped: true });
  });

  test('a skipped measurement skips every verdict with its reason; no traffic is utilization 0', () => {
    const skipped: BandwidthMeasurement = { at: 6, skipped: 'rebalance [steer]: ...', scale: 0, windowS: 0, demands: [], links: [], modelLinks: [], podLimits: [] };
    expect(judgeMaxLinkUtilization(skipped, 0.8)).toEqual({ ok: false, skipped: true, detail: 'rebalance [steer]: ...' });
    expect(judgeFairShare(skipped, { demand: 0 })).toEqual({ ok: false, skipped: true, detail: 'rebalance [steer]: ...' });
    expect(judgeMaxLinkUtilization({ ...skipped, skipped: undefined }, 0.8)).toEqual({ ok: true, value: 0, detail: 'no traffic active at 6s' });
  });
});
