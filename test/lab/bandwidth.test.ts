/**
 * `limited` on real OVS: the meter the controller installed, read back, and iperf3 from the pod through
 * it (scaled by BANDWIDTH_SCALE, restored afterwards). The check must discriminate: a claimed limit
 * below the meter fails, a pod without a meter fails. Root only; never skipped. Below: the verdict rules
 * of maxLinkUtilization and fairShare on given measurements (real OVS: bandwidth-shared.test.ts), and
 * that no verdict moves when the machine carries everything four times slower.
 */
import * as path from 'path';
import { checkNetnsPermitted, linkDirections, readShaping, scenarioLabTest, scenarioLabUp, shapeLinks, teardownLab, unshapeLinks } from '../../fabric/lab';
import { BANDWIDTH_SCALE, BandwidthMeasurement, evaluate, judgeFairShare, judgeMaxLinkUtilization, LabDemand, LinkMeasurement } from '../../fabric/lab/bandwidth';

const FIXTURE = path.join(__dirname, 'fixtures', 'limited.yaml');
const ID = 'tlabd';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});

afterAll(async () => {
  await teardownLab(ID);
});

test('limited: the meter read back from the switch meets the claim, and holds a real TCP flow to its rate', async () => {
  const report = await scenarioLabTest(FIXTURE, { id: ID });
  const [holds, tooLow, noMeter] = report.expectations;
  process.stdout.write(`limited: ${holds.detail}\n`);
  expect(holds).toMatchObject({ kind: 'limited', ok: true, value: 1 });
  expect(holds.skipped).toBeUndefined();
  expect(holds.detail).toMatch(/^capped metered at 1\.00 <= bound 1\.10 Gbit\/s \(limit 1 plus 10% tolerance\) by meter \d+ on node1; measured /);
  expect(holds.detail).toContain(`x${BANDWIDTH_SCALE}`);
  // measured, reported: a flow got through (how fast depends on the machine, and is not judged)
  expect(holds.measured).toBeGreaterThan(0);
  // the meter the first measurement scaled was restored: read back at its real rate again
  expect(tooLow).toMatchObject({ kind: 'limited', ok: false, value: 1 });
  expect(tooLow.detail).toContain('meter');
  expect(tooLow.detail).toContain('is 1 Gbit/s, above 0.5');
  expect(noMeter).toMatchObject({ kind: 'limited', ok: false, detail: expect.stringMatching(/no meter/) });
}, 60_000);

test('shaping: the kernel holds each link direction at capacity x scale, one class per demand, and none after', async () => {
  const { lab, loaded } = await scenarioLabUp(path.join(__dirname, 'fixtures', 'fair-share.yaml'), { id: ID });
  try {
    const dirs = linkDirections(lab, loaded.state);
    const classes = [
      { dstIp: '10.244.2.2', dstPort: 5301 },
      { dstIp: '10.244.2.3', dstPort: 5302 },
    ];
    shapeLinks(dirs, 0.05, classes, { tso: lab.record.tso });
    const shaped = readShaping(dirs);
    for (const d of dirs) expect([d.id, shaped.get(d.id)]).toEqual([d.id, { rateBps: d.capacityGbps * 1e9 * 0.05, demandClasses: 2 }]);
    expect(unshapeLinks(dirs)).toEqual([]);
    for (const d of dirs) expect([d.id, readShaping([d]).get(d.id)]).toEqual([d.id, undefined]);
  } finally {
    await lab.down();
  }
}, 60_000);

/**
 * The verdicts of maxLinkUtilization and fairShare on measurements given as data (pure): the
 * simulator's rules on the paths the switches chose (inferred from link counters among ECMP
 * candidates) and the meters they hold; measured rates reported, never judged.
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
    fromPod: from,
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
  /** `slower`: every rate and counter divided by this (a machine that carries everything that much slower) */
  const measurement = (rates: [number, number], linkUtil: Record<string, number>, extra: Partial<BandwidthMeasurement> = {}, slower = 1): BandwidthMeasurement =>
    evaluate({
      at: 1,
      scale,
      windowS: 2.6,
      demands: [demand(0, 'p1', 'q1', 2, [viaS1, viaS2], rates[0] / slower), demand(1, 'p2', 'q2', 2, [viaS1, viaS2], rates[1] / slower)],
      links: modelLinks.map((l) => link(l.id, 1, (linkUtil[l.id] ?? 0) / slower)),
      modelLinks,
      podLimits: [],
      ...extra,
    });
  const bothOnS1 = { 'leaf1->spine1': 0.99, 'spine1->leaf2': 0.99 };
  const oneEach = { 'leaf1->spine1': 0.3, 'spine1->leaf2': 0.3, 'leaf1->spine2': 0.6, 'spine2->leaf2': 0.6 };

  test('ECMP: the paths are inferred from the link counters, and the fair share follows them', () => {
    // counters say: both demands on spine1 (a 1 Gbit/s link shared: 0.5 each)
    const same = measurement([0.49, 0.5], bothOnS1);
    expect(same.paths).toEqual([viaS1, viaS1]);
    expect(same.modelGbps).toEqual([0.5, 0.5]);
    expect(same.fairGbps).toEqual([0.5, 0.5]);
    expect(same.combinations).toBe(4);
    const fair = judgeFairShare(same, { demand: 0, tolerance: 0.01 });
    expect(fair).toMatchObject({ ok: true, value: 0.5, measured: 0.49 });
    expect(fair.detail).toContain('granted 0.500 >= bound 0.495 Gbit/s (fair share 0.5 less 1% tolerance)');
    expect(fair.detail).toContain('via leaf1->spine1,spine1->leaf2 (ECMP: inferred from link counters among 4 combinations)');
    // counters say: one per spine (then each may have 1 Gbit/s), told apart by their rates
    const split = measurement([0.3, 0.6], oneEach);
    expect(split.paths).toEqual([viaS1, viaS2]);
    expect(split.modelGbps).toEqual([1, 1]);
    // 0.3 measured of a 1 Gbit/s share: the machine's speed, not the fabric's decision
    expect(judgeFairShare(split, { demand: 0 })).toMatchObject({ ok: true, value: 1, measured: 0.3 });
    const swapped = measurement([0.3, 0.6], { 'leaf1->spine1': 0.6, 'spine1->leaf2': 0.6, 'leaf1->spine2': 0.3, 'spine2->leaf2': 0.3 });
    expect(swapped.paths).toEqual([viaS2, viaS1]);
  });

  test("ECMP: the demands' own class counters tell their paths, however little they carried", () => {
    // counters and rates say both on spine1; the classes say one each (a starved pair of flows)
    const m = measurement([0.001, 0.002], bothOnS1);
    m.demands[0].bytesOn = { 'leaf1->spine1': 9000, 'spine1->leaf2': 9000, 'leaf1->spine2': 300 };
    m.demands[1].bytesOn = { 'leaf1->spine2': 12000, 'spine2->leaf2': 11000, 'leaf1->spine1': 200, 'spine1->leaf2': 200 };
    const told = evaluate({ ...m, paths: undefined });
    expect(told.paths).toEqual([viaS1, viaS2]);
    expect(told.inferredBy).toBe('classes');
    expect(told.modelGbps).toEqual([1, 1]);
    expect(judgeFairShare(told, { demand: 1 }).detail).toContain("ECMP: inferred from the demands' own class counters among 4 combinations");
    // a connected flow that carried nothing measurable still got through
    const slow = measurement([0, 0], {});
    slow.demands.forEach((d) => Object.assign(d, { connected: true, wireBps: 0, bytesOn: { 'leaf1->spine1': 100, 'spine1->leaf2': 100 } }));
    expect(judgeFairShare(evaluate({ ...slow, paths: undefined }), { demand: 0 })).toMatchObject({ ok: true, value: 0.5 });
  });

  test('fairShare fails under a meter the switch holds below the fair share, and when the flow did not get through', () => {
    // a meter of 0.2 Gbit/s on p1 read back from its switch (the scenario gave p1 no limit)
    const metered = measurement([0.2, 0.8], bothOnS1, { meters: [{ pod: 'p1', gbps: 0.2, switch: 'leaf1', id: 3 }] });
    expect(metered.modelGbps).toEqual([0.2, 0.8]);
    expect(metered.fairGbps).toEqual([0.5, 0.5]);
    expect(judgeFairShare(metered, { demand: 0 })).toMatchObject({ ok: false, value: 0.2 });
    expect(judgeFairShare(metered, { demand: 1 })).toMatchObject({ ok: true, value: 0.8 });
    // the user's own limit is part of the fair share: the same meter from egressGbps passes
    const own = measurement([0.2, 0.8], bothOnS1, { meters: [{ pod: 'p1', gbps: 0.2, switch: 'leaf1', id: 3 }], podLimits: [{ pod: 'p1', gbps: 0.2 }] });
    expect(judgeFairShare(own, { demand: 0 })).toMatchObject({ ok: true, value: 0.2 });
    const broken = measurement([0, 1], { 'leaf1->spine2': 1, 'spine2->leaf2': 1 });
    broken.demands[0].error = 'iperf3 failed: unable to connect';
    const again = evaluate({ ...broken, paths: undefined });
    expect(judgeFairShare(again, { demand: 0 })).toMatchObject({ ok: false, value: 0 });
    expect(judgeFairShare(again, { demand: 0 }).detail).toContain('unable to connect');
    // the other demand has the link to itself
    expect(judgeFairShare(again, { demand: 1 })).toMatchObject({ ok: true, value: 1 });
    expect(judgeFairShare(again, { demand: 7 })).toMatchObject({ ok: false, detail: 'traffic[7] is not active at 1s' });
  });

  test('maxLinkUtilization: the hottest direction the model loads on the switches\' paths, against the bound; the counters reported', () => {
    const full = measurement([0.49, 0.49], bothOnS1);
    const holds = judgeMaxLinkUtilization(full, 1);
    expect(holds).toMatchObject({ ok: true, value: 1, measured: 0.99 });
    expect(holds.detail).toMatch(/^peak 1\.00 on leaf1->spine1 <= bound 1\.00 \(the model's grants on the paths the switches chose\); measured 0\.99 \(49\.5 Mbit\/s of 50\.0, capacity 1 Gbit\/s scaled x0\.05/);
    expect(judgeMaxLinkUtilization(full, 0.5)).toMatchObject({ ok: false, value: 1 });
    // one demand per spine: each link carries one 2 Gbit/s demand on 1 Gbit/s
    expect(judgeMaxLinkUtilization(measurement([0.3, 0.6], oneEach), 0.99)).toMatchObject({ ok: false, value: 1 });
  });

  test('a machine four times slower gets the same paths, values and verdicts (only `measured` moves)', () => {
    for (const [rates, util] of [
      [[0.49, 0.5], bothOnS1],
      [[0.3, 0.6], oneEach],
    ] as const) {
      const quick = measurement([rates[0], rates[1]], util);
      const slow = measurement([rates[0], rates[1]], util, {}, 4);
      expect(slow.paths).toEqual(quick.paths);
      for (const bound of [0.5, 1]) {
        const [a, b] = [judgeMaxLinkUtilization(quick, bound), judgeMaxLinkUtilization(slow, bound)];
        expect([b.ok, b.value]).toEqual([a.ok, a.value]);
        expect(b.measured!).toBeCloseTo(a.measured! / 4, 3);
      }
      for (const demand of [0, 1]) {
        const [a, b] = [judgeFairShare(quick, { demand }), judgeFairShare(slow, { demand })];
        expect([b.ok, b.value]).toEqual([a.ok, a.value]);
      }
    }
  });

  test('a skipped measurement skips every verdict with its reason; no traffic is utilization 0', () => {
    const skipped: BandwidthMeasurement = { at: 6, skipped: 'rebalance [steer]: ...', scale: 0, windowS: 0, demands: [], links: [], modelLinks: [], podLimits: [] };
    expect(judgeMaxLinkUtilization(skipped, 0.8)).toEqual({ ok: false, skipped: true, detail: 'rebalance [steer]: ...' });
    expect(judgeFairShare(skipped, { demand: 0 })).toEqual({ ok: false, skipped: true, detail: 'rebalance [steer]: ...' });
    expect(judgeMaxLinkUtilization({ ...skipped, skipped: undefined }, 0.8)).toEqual({ ok: true, value: 0, detail: `no traffic active at 6s` });
  });
});
