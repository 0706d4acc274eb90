/** The bandwidth model over a run: epochs, expectations, meters and pins in force, summary (sim/bandwidth-timeline.ts). */
import { ActiveDemand, BandwidthStepInput, BandwidthTimeline, bandwidthStepTimes } from '../../sim/bandwidth-timeline';
import { loadLpSolver } from '../../sim/bandwidth-optimum';

// node1, node2 -- tor1 -- spine1 -- tor2 -- node3 ; all 10G
const links = [
  { a: 'node1', b: 'tor1', gbps: 10 },
  { a: 'node2', b: 'tor1', gbps: 10 },
  { a: 'tor1', b: 'spine1', gbps: 10 },
  { a: 'tor2', b: 'spine1', gbps: 10 },
  { a: 'node3', b: 'tor2', gbps: 10 },
];
const toNode3 = (from: string) => [`${from}->tor1`, 'tor1->spine1', 'spine1->tor2', 'tor2->node3'];
const d0: ActiveDemand = { index: 0, from: 'web-1', to: 'db-1', fromPod: 'web-1', toPod: 'db-1', src: 'node1', dst: 'node3', path: toNode3('node1'), demandGbps: 8 };
const d1: ActiveDemand = { index: 1, from: 'web-2', to: 'db-1', fromPod: 'web-2', toPod: 'db-1', src: 'node2', dst: 'node3', path: toNode3('node2'), demandGbps: 8 };

function run(tl: BandwidthTimeline, podLimits: BandwidthStepInput['podLimits'] = []): void {
  tl.step(0, { links, demands: [d0], podLimits });
  tl.step(2, { links, demands: [d0, d1], podLimits });
  tl.step(6, { links, demands: [d0], podLimits });
  tl.step(10, { links, demands: [], podLimits });
}

describe('BandwidthTimeline', () => {
  test('utilization is piecewise constant between change points; checks read the epoch in force', () => {
    const tl = new BandwidthTimeline();
    run(tl);
    expect(tl.checkMaxLinkUtilization(1, 0.8)).toEqual({ ok: true, value: 0.8, detail: 'peak 0.80 on node1->tor1 <= bound 0.80' });
    // 2s..6s: 16G offered to tor1->spine1, carried 10: both at 5
    expect(tl.checkMaxLinkUtilization(3, 0.8)).toEqual({ ok: false, value: 1, detail: 'peak 1.00 on tor1->spine1 > bound 0.80' });
    expect(tl.checkMaxLinkUtilization(6, 0.8).value).toBe(0.8);
    expect(tl.checkFairShare(3, { demand: 1 })).toEqual({ ok: true, value: 5, detail: 'traffic[1] web-2 -> db-1: granted 5.00 >= bound 4.95 Gbit/s (fair share 5 less 1% tolerance)' });
    expect(tl.checkFairShare(7, { demand: 1 }).ok).toBe(false); // not active
  });

  test('summary: per link the run maximum, per demand the time-weighted mean', () => {
    const tl = new BandwidthTimeline();
    run(tl);
    const s = tl.summary(10);
    expect(s.links).toEqual([
      { between: ['node1', 'tor1'], maxUtilization: 0.8 },
      { between: ['node2', 'tor1'], maxUtilization: 0.5 },
      { between: ['tor1', 'spine1'], maxUtilization: 1 },
      { between: ['tor2', 'spine1'], maxUtilization: 1 },
      { between: ['node3', 'tor2'], maxUtilization: 1 },
    ]);
    // d0: 8 for 2 s, 5 for 4 s, 8 for 4 s -> 68 / 10 = 6.8
    expect(s.demands).toEqual([
      { index: 0, from: 'web-1', to: 'db-1', askedGbps: 8, grantedGbps: 6.8, minGrantedGbps: 5 },
      { index: 1, from: 'web-2', to: 'db-1', askedGbps: 8, grantedGbps: 5, minGrantedGbps: 5 },
    ]);
  });

  test('a per-pod limit (egressGbps) caps the pod; `limited` holds and the other demand takes the rest', () => {
    const tl = new BandwidthTimeline();
    run(tl, [{ pod: 'web-1', gbps: 3 }]);
    expect(tl.checkLimited(3, { pod: 'web-1', gbps: 3 })).toEqual({ ok: true, value: 3, detail: 'web-1 sends 3.00 <= bound 3.15 Gbit/s (limit 3 plus 5% tolerance; metered at 3 Gbit/s)' });
    expect(tl.checkLimited(3, { pod: 'web-2', gbps: 3 }).ok).toBe(false);
    expect(tl.epochAt(3)!.demands.map((d) => d.grantedGbps)).toEqual([3, 7]);
    // the user's own limit is part of what web-1 asks: both still get their fair share
    expect(tl.checkFairShare(3, { demand: 0 }).ok).toBe(true);
    expect(tl.checkFairShare(3, { demand: 1 }).ok).toBe(true);
  });

  test('meters the controller imposed (read from the switches) hold their pod; fair shares ignore them', () => {
    // the decisions are the control loop's (test/controller/loop.test.ts); the model takes the meters in force
    const tl = new BandwidthTimeline({ reportPolicies: ['limit'] });
    const hog = [0, 1, 2].map((i) => ({ ...d0, index: i, demandGbps: 20 }));
    const mouse = { ...d1, index: 3, demandGbps: 20 };
    tl.step(0, { links, demands: [...hog, mouse] });
    // flow-level max-min: the hog's three flows take 7.5 of 10, the mouse 2.5
    expect(tl.checkLimited(0.5, { pod: 'web-1', gbps: 4 })).toMatchObject({ ok: false, value: 7.5 });
    tl.step(1, { links, demands: [...hog, mouse], meters: [{ pod: 'web-1', gbps: 4 }] });
    tl.recordChanges(1, [{ kind: 'meter', pod: 'web-1', node: 'node1', gbps: 4, link: 'tor1->spine1' }]);
    expect(tl.epochAt(1)!.imposedMeters).toEqual([{ pod: 'web-1', gbps: 4 }]);
    expect(tl.checkLimited(1.5, { pod: 'web-1', gbps: 4 })).toMatchObject({ ok: true, value: 4 });
    expect(tl.epochAt(1)!.demands.find((d) => d.index === 3)!.grantedGbps).toBeCloseTo(6, 12);
    // the fair share is computed without the imposed meter: the mouse's share is 2.5, it gets 6
    expect(tl.checkFairShare(1, { demand: 3 }).ok).toBe(true);
    expect(tl.summary(2).rebalance).toMatchObject({ policies: ['limit'], changes: [{ at: 1, kind: 'meter', pod: 'web-1', gbps: 4 }] });
    expect(() => tl.recordChanges(0, [])).toThrow(/no epoch at 0/);
  });

  test('a pinned demand keeps the path the switches carry; λ* is reported beside the result', async () => {
    const ls = [
      { a: 'n1', b: 'l1', gbps: 10 }, { a: 'n2', b: 'l1', gbps: 10 }, { a: 'n3', b: 'l2', gbps: 10 }, { a: 'n4', b: 'l2', gbps: 10 },
      { a: 'l1', b: 's1', gbps: 10 }, { a: 'l1', b: 's2', gbps: 10 }, { a: 'l2', b: 's1', gbps: 10 }, { a: 'l2', b: 's2', gbps: 10 },
    ];
    const mk = (index: number, src: string, dst: string, spine = 's1', pinned = false): ActiveDemand => ({
      index, from: src, to: dst, src, dst, demandGbps: 7, pinned,
      path: [`${src}->l1`, `l1->${spine}`, `${spine}->l2`, `l2->${dst}`],
    });
    const plain = new BandwidthTimeline();
    plain.step(0, { links: ls, demands: [mk(0, 'n1', 'n3'), mk(1, 'n2', 'n4')], nodes: ['n1', 'n2', 'n3', 'n4'] });
    expect(plain.checkMaxLinkUtilization(0, 0.8)).toEqual({ ok: false, value: 1, detail: 'peak 1.00 on l1->s1 > bound 0.80' });
    // ECMP put both on s1 (offered 1.4); the optimum splits them (0.7)
    plain.attachOptimum(await loadLpSolver());
    expect(plain.summary(1).rebalance).toMatchObject({ peakOfferedMaxUtilization: 1.4, optimumMaxUtilization: 0.7 });
    const tl = new BandwidthTimeline();
    tl.step(0, { links: ls, demands: [mk(0, 'n1', 'n3', 's2', true), mk(1, 'n2', 'n4')], nodes: ['n1', 'n2', 'n3', 'n4'] });
    expect(tl.epochAt(0)!.demands.map((d) => d.pinned)).toEqual([true, false]);
    expect(tl.checkMaxLinkUtilization(0, 0.8)).toEqual({ ok: true, value: 0.7, detail: 'peak 0.70 on n1->l1 <= bound 0.80' });
    tl.attachOptimum(await loadLpSolver());
    expect(tl.summary(1).rebalance).toMatchObject({ peakOfferedMaxUtilization: 0.7, optimumMaxUtilization: 0.7 });
  });

  test('service bucket weights follow the load in front of each endpoint', () => {
    const tl = new BandwidthTimeline();
    run(tl);
    // at 3 s node3's downlink is full; node1 and node2 receive nothing
    expect(
      tl.serviceWeightsAt(3, [
        { pod: 'db-1', node: 'node3' },
        { pod: 'db-2', node: 'node1' },
        { pod: 'db-3', node: 'node2', healthy: false },
      ]),
    ).toEqual([
      { pod: 'db-1', weight: 1 },
      { pod: 'db-2', weight: 100 },
      { pod: 'db-3', weight: 0 },
    ]);
  });

  test('a crossing the model does not know is left out and listed, not fatal', () => {
    const tl = new BandwidthTimeline();
    const odd = { ...d0, path: ['spine1->internet', ...toNode3('node1'), 'tor1->spine1'] };
    const e = tl.step(0, { links, demands: [odd] });
    expect(e.unmodelledLinks).toEqual(['spine1->internet']);
    expect(e.demands[0].path).toEqual(toNode3('node1'));
    expect(e.demands[0].grantedGbps).toBe(8);
  });

  test('bandwidthStepTimes: change points and a round every interval while traffic runs', () => {
    expect(bandwidthStepTimes([{ at: 0.5, until: 3 }], [2.25], 5, 1)).toEqual([0, 0.5, 1.5, 2.25, 2.5, 3]);
  });
});
