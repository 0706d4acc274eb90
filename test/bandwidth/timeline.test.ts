/** The bandwidth model over a run: epochs, expectations, summary, the limit loop (sim/bandwidth-timeline.ts). */
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
    expect(tl.checkMaxLinkUtilization(1, 0.8)).toEqual({ ok: true, value: 0.8, detail: 'node1->tor1' });
    // 2s..6s: 16G offered to tor1->spine1, carried 10: both at 5
    expect(tl.checkMaxLinkUtilization(3, 0.8)).toEqual({ ok: false, value: 1, detail: 'tor1->spine1' });
    expect(tl.checkMaxLinkUtilization(6, 0.8).value).toBe(0.8);
    expect(tl.checkFairShare(3, { demand: 1 })).toEqual({ ok: true, value: 5, detail: 'traffic[1] web-2 -> db-1: granted 5 of fair share 5 Gbit/s' });
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
    expect(tl.checkLimited(3, { pod: 'web-1', gbps: 3 })).toEqual({ ok: true, value: 3, detail: 'web-1 sends 3 Gbit/s (metered at 3 Gbit/s)' });
    expect(tl.checkLimited(3, { pod: 'web-2', gbps: 3 }).ok).toBe(false);
    expect(tl.epochAt(3)!.demands.map((d) => d.grantedGbps)).toEqual([3, 7]);
    // the user's own limit is part of what web-1 asks: both still get their fair share
    expect(tl.checkFairShare(3, { demand: 0 }).ok).toBe(true);
    expect(tl.checkFairShare(3, { demand: 1 }).ok).toBe(true);
  });

  test('the limit policy meters a hog after the hold time, then lifts the meter once the link clears', () => {
    const tl = new BandwidthTimeline({ policies: ['limit'], rebalance: { holdRounds: 2 } });
    // web-1 opens 3 elastic flows, web-2 one; all cross tor1->spine1
    const hog = [0, 1, 2].map((i) => ({ ...d0, index: i, demandGbps: 20 }));
    const mouse = { ...d1, index: 3, demandGbps: 20 };
    const input = (demands: ActiveDemand[]): BandwidthStepInput => ({ links, demands });
    for (let t = 0; t <= 6; t++) tl.step(t, input([...hog, mouse]));
    for (let t = 7; t <= 10; t++) tl.step(t, input([]));
    const changes = tl.summary(10).rebalance.changes;
    const first = changes.find((c) => c.kind === 'meter')!;
    // measured at 1 s and 2 s (a 1 s window needs two samples): metered at 2 s
    expect(first).toMatchObject({ at: 2, kind: 'meter', pod: 'web-1', node: 'node1', gbps: 5.5 });
    expect(tl.checkLimited(2.5, { pod: 'web-1', gbps: 5.5 }).ok).toBe(true);
    // before it, flow-level max-min gave the hog 7.5 of 10 and the mouse 2.5
    expect(tl.checkLimited(1.5, { pod: 'web-1', gbps: 5.5 })).toMatchObject({ ok: false, value: 7.5 });
    // the mouse then grows to 4.5, above the pod-level share of 0.8 x 10 G (4 each): from then on
    // both pods are held at 4 and the link at the threshold
    expect(tl.epochAt(6)!.imposedMeters).toEqual([{ pod: 'web-1', gbps: 4 }, { pod: 'web-2', gbps: 4 }]);
    expect(tl.epochAt(6)!.demands.find((d) => d.index === 3)!.grantedGbps).toBeCloseTo(4, 12);
    expect(tl.checkMaxLinkUtilization(6, 0.8)).toEqual({ ok: true, value: 0.8, detail: 'tor1->spine1' });
    expect(tl.checkFairShare(6, { demand: 3 }).ok).toBe(true);
    // traffic stops at 7: the link is clear at 8 and 9 (measured) -> lifted
    expect(changes.filter((c) => c.kind === 'unmeter')).toEqual([
      { at: 9, kind: 'unmeter', pod: 'web-1', node: 'node1' },
      { at: 9, kind: 'unmeter', pod: 'web-2', node: 'node2' },
    ]);
  });

  test('the steer policy pins a demand off a hot spine; λ* is reported beside the result', async () => {
    const ls = [
      { a: 'n1', b: 'l1', gbps: 10 }, { a: 'n2', b: 'l1', gbps: 10 }, { a: 'n3', b: 'l2', gbps: 10 }, { a: 'n4', b: 'l2', gbps: 10 },
      { a: 'l1', b: 's1', gbps: 10 }, { a: 'l1', b: 's2', gbps: 10 }, { a: 'l2', b: 's1', gbps: 10 }, { a: 'l2', b: 's2', gbps: 10 },
    ];
    const mk = (index: number, src: string, dst: string): ActiveDemand => ({
      index, from: src, to: dst, src, dst, demandGbps: 7,
      path: [`${src}->l1`, 'l1->s1', 's1->l2', `l2->${dst}`],
    });
    const input: BandwidthStepInput = { links: ls, demands: [mk(0, 'n1', 'n3'), mk(1, 'n2', 'n4')], nodes: ['n1', 'n2', 'n3', 'n4'] };
    const plain = new BandwidthTimeline();
    plain.step(0, input);
    expect(plain.checkMaxLinkUtilization(0, 0.8)).toEqual({ ok: false, value: 1, detail: 'l1->s1' });
    // without rebalancing: ECMP put both on s1 (offered 1.4); the optimum splits them (0.7)
    plain.attachOptimum(await loadLpSolver());
    expect(plain.summary(1).rebalance).toMatchObject({ peakOfferedMaxUtilization: 1.4, optimumMaxUtilization: 0.7 });
    const tl = new BandwidthTimeline({ policies: ['steer'] });
    tl.step(0, input);
    expect(tl.checkMaxLinkUtilization(0, 0.8)).toEqual({ ok: true, value: 0.7, detail: 'n1->l1' });
    tl.attachOptimum(await loadLpSolver());
    const s = tl.summary(1);
    expect(s.rebalance.peakOfferedMaxUtilization).toBe(0.7);
    expect(s.rebalance.optimumMaxUtilization).toBe(0.7);
    expect(s.rebalance.changes).toEqual([
      { at: 0, kind: 'pin', demand: '0', path: ['n1->l1', 'l1->s2', 's2->l2', 'l2->n3'], hops: [{ switch: 'l1', nextHop: 's2' }] },
    ]);
  });

  test('a pin is dropped when a link of its path goes down; a move is proposed once', () => {
    const ls = [
      { a: 'n1', b: 'l1', gbps: 10 }, { a: 'n2', b: 'l1', gbps: 10 }, { a: 'n3', b: 'l2', gbps: 10 }, { a: 'n4', b: 'l2', gbps: 10 },
      { a: 'l1', b: 's1', gbps: 10 }, { a: 'l1', b: 's2', gbps: 10 }, { a: 'l2', b: 's1', gbps: 10 }, { a: 'l2', b: 's2', gbps: 10 },
    ];
    const mk = (index: number, src: string, dst: string): ActiveDemand => ({
      index, from: `p${index}`, to: `q${index}`, fromPod: `p${index}`, toPod: `q${index}`, src, dst, demandGbps: 7,
      path: [`${src}->l1`, 'l1->s1', 's1->l2', `l2->${dst}`],
    });
    const podNode = new Map([['p0', 'n1'], ['p1', 'n2'], ['q0', 'n3'], ['q1', 'n4']]);
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    const tl = new BandwidthTimeline({ policies: ['steer', 'place'] });
    tl.step(0, { links: ls, demands: [mk(0, 'n1', 'n3'), mk(1, 'n2', 'n4')], podNode, nodes });
    expect(tl.epochAt(0)!.demands.map((d) => d.pinned)).toEqual([true, false]);
    const down = ls.map((l) => (l.a === 'l1' && l.b === 's2' ? { ...l, up: false } : l));
    tl.step(1, { links: down, demands: [mk(0, 'n1', 'n3'), mk(1, 'n2', 'n4')], podNode, nodes });
    const e1 = tl.epochAt(1)!;
    expect(e1.demands.map((d) => d.pinned)).toEqual([false, false]);
    expect(e1.demands[0].path).toEqual(['n1->l1', 'l1->s1', 's1->l2', 'l2->n3']);
    // l1->s1 now carries 14 of 10: place proposes moving a pod (keeping its IP) -- once
    const moves1 = e1.changes.filter((c) => c.kind === 'move');
    expect(moves1).toHaveLength(1);
    tl.step(2, { links: down, demands: [mk(0, 'n1', 'n3'), mk(1, 'n2', 'n4')], podNode, nodes });
    expect(tl.epochAt(2)!.changes.filter((c) => c.kind === 'move')).toEqual([]);
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
