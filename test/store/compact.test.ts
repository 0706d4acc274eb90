/**
 * Compaction's net events (fabric/store/compact.ts): for random clusters (test/topology/gen.ts) and
 * random batches of events (adds, deletes, moves, readiness, services, link and node down/up, many of
 * them failing so that whole batches are skipped), replaying the net events as ONE batch over the base
 * gives the same state as replaying the batches the daemon's way (a batch whose events fail on a copy
 * is skipped whole); compacting twice (the compacted batch folded again with later ones) too; the
 * base is never touched; an empty list gives no events. FC_SEED=N reruns a failure.
 */
import fc from 'fast-check';
import { applyEvent, buildClusterState, cloneClusterState, intToIp, ipToInt } from '../../topology';
import type { ClusterState, ScenarioEvent, ServiceSpec } from '../../topology/types';
import { compactionPoint, netEvents, needsRebuild, shouldCompact, stateSnapshot, MemoryStore, compactStore } from '../../fabric/store';
import type { StoredBatch } from '../../fabric/store';
import { addressSpec, scenarioFromSpec } from '../topology/gen';
import { checkProperty } from '../topology/fc-seed';

/** The daemon's replay: each batch on a copy of the state, skipped whole if an event fails. */
function replay(base: ClusterState, batches: { events: ScenarioEvent[] }[]): { state: ClusterState; applied: number; skipped: number } {
  let state = cloneClusterState(base);
  let applied = 0;
  let skipped = 0;
  for (const b of batches) {
    const copy = cloneClusterState(state);
    try {
      for (const ev of b.events) applyEvent(copy, ev);
    } catch {
      skipped++;
      continue;
    }
    state = copy;
    applied += b.events.length;
  }
  return { state, applied, skipped };
}

/** A cluster from gen.ts plus the names events draw from (existing ones and some that do not exist). */
const world = fc.tuple(addressSpec, fc.boolean(), fc.boolean(), fc.boolean()).map(([spec, linkDown, nodeDown, unready]) => {
  const scenario = scenarioFromSpec(spec);
  scenario.cluster.loadBalancerCidr = '203.0.113.0/28';
  const base = buildClusterState(scenario);
  const nodes = [...base.nodes.keys()];
  // a base that is not all up and ready, so that net events can also bring things up
  if (linkDown) applyEvent(base, { at: 0, kind: 'link', action: 'down', between: [nodes[0], 'tor1'] });
  if (nodeDown) applyEvent(base, { at: 0, kind: 'node', action: 'down', name: nodes[nodes.length - 1] });
  if (unready && base.pods.size) applyEvent(base, { at: 0, kind: 'pod', action: 'unready', name: [...base.pods.keys()][0] });
  return {
    base,
    nodes: [...nodes, 'nodeX'],
    pods: [...[...base.pods.keys()].slice(0, 8), 'new0', 'new1', 'new2', 'new3', 'new4'],
    services: [...[...base.services.keys()].slice(0, 4), 'nsvc0', 'nsvc1', 'nsvc2'],
    links: [...[...base.links.values()].map((l) => [l.a, l.b] as [string, string]), ['tor1', nodes[0]] as [string, string], [nodes[0], 'nowhere'] as [string, string]],
    // addresses in the first blocks (some in use, some free, some off any block)
    ips: [...base.nodes.values()].slice(0, 3).flatMap((n) => [2, 3, 5, 9].map((o) => intToIp(ipToInt(n.podCidr.split('/')[0]) + o))),
  };
});

type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

function eventArb(w: World): fc.Arbitrary<ScenarioEvent> {
  const pod = fc.constantFrom(...w.pods);
  const node = fc.constantFrom(...w.nodes);
  const svcName = fc.constantFrom(...w.services);
  const labels = fc.constantFrom<Record<string, string>>({ app: 'a0' }, { app: 'a1' }, { app: 'a2', tier: 'x' }, {});
  const service: fc.Arbitrary<ServiceSpec> = fc
    .record({
      name: svcName,
      selector: fc.constantFrom<Record<string, string>>({ app: 'a0' }, { app: 'a1' }, { tier: 'x' }),
      port: fc.constantFrom(80, 443),
      ip: fc.option(fc.constantFrom('10.96.0.20', '10.96.0.21', '10.96.0.2'), { nil: undefined }),
      type: fc.constantFrom<ServiceSpec['type']>(undefined, 'ClusterIP', 'NodePort', 'LoadBalancer'),
      nodePort: fc.option(fc.constantFrom(30080, 30081), { nil: undefined }),
    })
    .map((s) => {
      const spec: ServiceSpec = { name: s.name, selector: s.selector, port: s.port, targetPort: 8080, protocol: 'tcp' };
      if (s.ip) spec.ip = s.ip;
      if (s.type) spec.type = s.type;
      if (s.nodePort) spec.nodePort = s.nodePort;
      return spec;
    });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ name: pod, node, labels, ip: fc.option(fc.constantFrom(...w.ips), { nil: undefined, freq: 3 }), egressGbps: fc.option(fc.constantFrom(1, 2.5), { nil: undefined }), ready: fc.constantFrom(undefined, true, false) }).map((p): ScenarioEvent => ({ at: 0, kind: 'pod', action: 'add', name: p.name, node: p.node, labels: p.labels, ...(p.ip ? { ip: p.ip } : {}), ...(p.egressGbps !== undefined ? { egressGbps: p.egressGbps } : {}), ...(p.ready !== undefined ? { ready: p.ready } : {}) })) },
    { weight: 3, arbitrary: pod.map((name): ScenarioEvent => ({ at: 0, kind: 'pod', action: 'delete', name })) },
    { weight: 2, arbitrary: fc.tuple(pod, node).map(([name, to]): ScenarioEvent => ({ at: 0, kind: 'pod', action: 'move', name, to })) },
    { weight: 2, arbitrary: fc.tuple(fc.oneof(pod, fc.constantFrom(w.pods[0], 'new0')), fc.boolean()).map(([name, r]): ScenarioEvent => ({ at: 0, kind: 'pod', action: r ? 'ready' : 'unready', name })) },
    { weight: 2, arbitrary: service.map((s): ScenarioEvent => ({ at: 0, kind: 'service', action: 'add', service: s })) },
    { weight: 2, arbitrary: svcName.map((name): ScenarioEvent => ({ at: 0, kind: 'service', action: 'delete', name })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...w.links), fc.boolean()).map(([between, up]): ScenarioEvent => ({ at: 0, kind: 'link', action: up ? 'up' : 'down', between })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(w.nodes[0], w.nodes[w.nodes.length - 2], 'nodeX'), fc.boolean()).map(([name, up]): ScenarioEvent => ({ at: 0, kind: 'node', action: up ? 'up' : 'down', name })) },
  );
}

const scenarioArb = world.chain((w) =>
  fc.record({
    w: fc.constant(w),
    batches: fc.array(fc.oneof({ weight: 3, arbitrary: fc.array(eventArb(w), { minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.array(eventArb(w), { minLength: 2, maxLength: 3 }) }), { maxLength: 40 }),
    split: fc.nat(),
  }),
);

const stored = (events: ScenarioEvent[][]): StoredBatch[] => events.map((e, i) => ({ source: 'api', events: e, revision: i + 1 }));

test('property: replaying the net events as one batch gives the state the batches give (skipped batches included)', () => {
  let skippedSeen = 0;
  let eventsIn = 0;
  let eventsOut = 0;
  const kinds = new Map<string, number>();
  checkProperty(
    'compact netEvents',
    fc.property(scenarioArb, ({ w, batches }) => {
      const before = stateSnapshot(w.base);
      const want = replay(w.base, batches.map((events) => ({ events })));
      const net = netEvents(w.base, stored(batches));
      expect(stateSnapshot(w.base)).toBe(before); // the base is not touched
      const got = replay(w.base, [{ events: net }]);
      expect(got.applied).toBe(net.length); // the net batch applies whole
      expect(stateSnapshot(got.state)).toBe(stateSnapshot(want.state));
      // never more events than the batches applied
      expect(net.length).toBeLessThanOrEqual(want.applied);
      skippedSeen += want.skipped;
      eventsIn += batches.reduce((n, b) => n + b.length, 0);
      eventsOut += net.length;
      for (const ev of net) kinds.set(`${ev.kind} ${ev.action}`, (kinds.get(`${ev.kind} ${ev.action}`) ?? 0) + 1);
    }),
    150,
  );
  expect(skippedSeen).toBeGreaterThan(0);
  // which kinds of net events random runs produced (printed; the test below produces each kind for sure)
  process.stdout.write(`compact property: ${eventsIn} events in, ${eventsOut} net events out over 150 runs; ${skippedSeen} batches skipped; ${JSON.stringify(Object.fromEntries(kinds))}\n`);
});

test('property: compacting twice (the compacted batch folded again with later batches) gives the same state', () => {
  checkProperty(
    'compact twice',
    fc.property(scenarioArb, ({ w, batches, split }) => {
      const all = stored(batches);
      const cut = batches.length ? split % (batches.length + 1) : 0;
      const first: StoredBatch = { source: 'compacted', events: netEvents(w.base, all.slice(0, cut)), revision: cut, compacted: { from: 1, to: cut } };
      const second = netEvents(w.base, [first, ...all.slice(cut)]);
      expect(stateSnapshot(replay(w.base, [{ events: second }]).state)).toBe(stateSnapshot(replay(w.base, batches.map((events) => ({ events }))).state));
    }),
    100,
  );
});

test('net events: empty in, empty out; changes that undo themselves give nothing; a pod keeps its IP and node', () => {
  const base = buildClusterState(scenarioFromSpec({ maskLen: 24, nodes: [1, 2], pods: [{ node: 0, offset: null }], services: [null] }));
  expect(netEvents(base, [])).toEqual([]);
  const pod0 = base.pods.get('pod0')!;
  const undo: ScenarioEvent[][] = [
    [{ at: 0, kind: 'link', action: 'down', between: ['node0', 'tor1'] }],
    [{ at: 0, kind: 'link', action: 'up', between: ['tor1', 'node0'] }],
    [{ at: 0, kind: 'pod', action: 'unready', name: 'pod0' }],
    [{ at: 0, kind: 'pod', action: 'ready', name: 'pod0' }],
    [{ at: 0, kind: 'pod', action: 'move', name: 'pod0', to: 'node1' }],
    [{ at: 0, kind: 'pod', action: 'move', name: 'pod0', to: 'node0' }],
    [{ at: 0, kind: 'pod', action: 'add', name: 'tmp', node: 'node1', labels: {} }],
    [{ at: 0, kind: 'pod', action: 'delete', name: 'tmp' }],
    [{ at: 0, kind: 'node', action: 'down', name: 'nope' }], // fails: skipped
  ];
  expect(netEvents(base, stored(undo))).toEqual([]);
  // an added pod that moved: added at its home node with its IP pinned, then moved
  const net = netEvents(base, stored([
    [{ at: 0, kind: 'pod', action: 'add', name: 'web', node: 'node0', labels: { app: 'web' }, ready: false }],
    [{ at: 0, kind: 'pod', action: 'move', name: 'web', to: 'node1' }],
    [{ at: 0, kind: 'pod', action: 'move', name: 'pod0', to: 'node1' }],
    [{ at: 0, kind: 'service', action: 'delete', name: 'svc0' }],
    [{ at: 0, kind: 'service', action: 'add', service: { name: 'svc0', selector: { app: 'web' }, port: 80, targetPort: 80, protocol: 'tcp' } }],
  ]));
  const webIp = replay(base, [{ events: [{ at: 0, kind: 'pod', action: 'add', name: 'web', node: 'node0', labels: { app: 'web' } }] }]).state.pods.get('web')!.ip;
  expect(net).toEqual([
    { at: 0, kind: 'service', action: 'delete', name: 'svc0' },
    { at: 0, kind: 'pod', action: 'move', name: 'pod0', to: 'node1' },
    { at: 0, kind: 'pod', action: 'add', name: 'web', node: 'node0', labels: { app: 'web' }, ip: webIp, ready: false },
    { at: 0, kind: 'pod', action: 'move', name: 'web', to: 'node1' },
    { at: 0, kind: 'service', action: 'add', service: { name: 'svc0', selector: { app: 'web' }, port: 80, targetPort: 80, protocol: 'tcp', ip: base.services.get('svc0')!.vip } },
  ]);
  expect(pod0.node).toBe('node0'); // base untouched
});

test('net events of every kind, from a base with a link and a node down and a pod unready', () => {
  const base = buildClusterState(scenarioFromSpec({ maskLen: 24, nodes: [1, 2, 3], pods: [{ node: 0, offset: null }, { node: 1, offset: null }, { node: 2, offset: null }], services: [null] }));
  applyEvent(base, { at: 0, kind: 'link', action: 'down', between: ['node0', 'tor1'] });
  applyEvent(base, { at: 0, kind: 'node', action: 'down', name: 'node2' });
  applyEvent(base, { at: 0, kind: 'pod', action: 'unready', name: 'pod0' });
  const net = netEvents(base, stored([
    [{ at: 0, kind: 'link', action: 'up', between: ['node0', 'tor1'] }],
    [{ at: 0, kind: 'link', action: 'down', between: ['node1', 'tor1'] }],
    [{ at: 0, kind: 'node', action: 'up', name: 'node2' }],
    [{ at: 0, kind: 'node', action: 'down', name: 'node1' }],
    [{ at: 0, kind: 'pod', action: 'ready', name: 'pod0' }],
    [{ at: 0, kind: 'pod', action: 'unready', name: 'pod1' }],
    [{ at: 0, kind: 'pod', action: 'move', name: 'pod2', to: 'node0' }],
    [{ at: 0, kind: 'pod', action: 'delete', name: 'pod1' }],
    [{ at: 0, kind: 'pod', action: 'add', name: 'fresh', node: 'node1', labels: { app: 'x' } }],
    [{ at: 0, kind: 'service', action: 'delete', name: 'svc0' }],
    [{ at: 0, kind: 'service', action: 'add', service: { name: 'svc9', selector: { app: 'x' }, port: 80, targetPort: 80, protocol: 'tcp' } }],
  ]));
  expect([...new Set(net.map((e) => `${e.kind} ${e.action}`))].sort()).toEqual(['link down', 'link up', 'node down', 'node up', 'pod add', 'pod delete', 'pod move', 'pod ready', 'service add', 'service delete']);
  // the unready pod1 was deleted: its unready is folded away; an unready of a kept pod stays
  expect(netEvents(base, stored([[{ at: 0, kind: 'pod', action: 'unready', name: 'pod2' }]]))).toEqual([{ at: 0, kind: 'pod', action: 'unready', name: 'pod2' }]);
});

test('shouldCompact, compactionPoint, needsRebuild', () => {
  expect(shouldCompact(1099, 1099, 0)).toBe(false); // 999 foldable
  expect(shouldCompact(1100, 1100, 0)).toBe(true); // 1000 foldable, 100 kept
  expect(shouldCompact(2099, 1100, 1000)).toBe(false);
  expect(shouldCompact(2100, 1101, 1000)).toBe(true);
  expect(shouldCompact(20, 20, 0, { every: 5, keep: 10 })).toBe(true);
  expect(compactionPoint(1100)).toBe(1000);
  expect(compactionPoint(50)).toBe(0);
  const c: StoredBatch = { source: 'compacted', events: [], revision: 10, compacted: { from: 1, to: 10 } };
  expect(needsRebuild(0, c)).toBe(false); // a fresh replay takes it
  expect(needsRebuild(4, c)).toBe(true); // applied part of 1..10
  expect(needsRebuild(10, c)).toBe(false); // the watch ignores it anyway
  expect(needsRebuild(4, { source: 'api', events: [], revision: 5 })).toBe(false);
});

test('MemoryStore.compact and compactStore: one batch first, later revisions kept, appends continue', async () => {
  const base = buildClusterState(scenarioFromSpec({ maskLen: 24, nodes: [1, 2], pods: [], services: [] }));
  const s = new MemoryStore();
  for (let i = 0; i < 30; i++) await s.append({ source: 'api', events: [{ at: 0, kind: 'pod', action: i % 2 ? 'delete' : 'add', name: `p${Math.floor(i / 4)}`, ...(i % 2 ? {} : { node: 'node0', labels: {} }) } as ScenarioEvent] });
  const want = stateSnapshot(replay(base, (await s.load()).batches).state);
  expect(await compactStore(s, base, { keep: 5 })).toMatchObject({ upTo: 25, folded: 25 });
  const after = await s.load();
  expect(after.revision).toBe(30);
  expect(after.batches.map((b) => b.revision)).toEqual([25, 26, 27, 28, 29, 30]);
  expect(after.batches[0]).toMatchObject({ source: 'compacted', compacted: { from: 1, to: 25 } });
  expect(stateSnapshot(replay(base, after.batches).state)).toBe(want);
  expect(await s.append({ source: 'api', events: [] })).toBe(31);
  expect(await compactStore(s, base, { keep: 6 })).toBeUndefined(); // 25 is compacted already
  await expect(s.compact(20, { source: 'x', events: [] })).rejects.toThrow(/already compacted/);
  await expect(s.compact(40, { source: 'x', events: [] })).rejects.toThrow(/last revision is 31/);
});
