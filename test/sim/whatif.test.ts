/**
 * `fabric whatif` (sim/whatif.ts, docs/whatif.md): a failure evaluated on a copy of the state at T
 * equals a full simulation of the scenario with that failure added as an event at T; a small
 * leaf/spine example; the `survives` gate; the command's output and JSON shape.
 */
import fc from 'fast-check';
import { parseScenarioText } from '../../topology';
import type { Scenario } from '../../topology/types';
import { SimRun, runScenario, whatIf, WhatIfSession, listFailures, probePair, failureCopy } from '../../sim';
import { register } from '../../cli/commands/whatif';
import { checkProperty } from '../topology/fc-seed';
import { runCli } from '../support/cli';

interface Shape {
  leaves: number;
  spines: number;
  nodesPerLeaf: number;
  podsPerNode: number;
  spineGbps: number;
  traffic: string[];
  service?: boolean;
  expect?: string[];
  seed?: number;
}

/** a leaf/spine scenario: nodes nLN on leafL (single-homed), pods pLN-P labelled web/api/db in turn */
function leafSpineYaml(o: Shape): string {
  const apps = ['web', 'api', 'db'];
  const L: string[] = [`name: ls-${o.leaves}x${o.spines}`, `seed: ${o.seed ?? 7}`, 'cluster:', '  mode: routed', '  podCidr: 10.244.0.0/16', '  serviceCidr: 10.96.0.0/16', 'fabric:', '  switches:'];
  for (let s = 1; s <= o.spines; s++) L.push(`    - { name: spine${s} }`);
  for (let l = 1; l <= o.leaves; l++) L.push(`    - { name: leaf${l} }`);
  L.push('  nodes:');
  for (let l = 1; l <= o.leaves; l++) for (let n = 1; n <= o.nodesPerLeaf; n++) L.push(`    - { name: n${l}${n}, ip: 198.51.100.${l * 10 + n} }`);
  L.push('  links:');
  for (let l = 1; l <= o.leaves; l++) for (let n = 1; n <= o.nodesPerLeaf; n++) L.push(`    - { between: [n${l}${n}, leaf${l}], gbps: 25 }`);
  for (let l = 1; l <= o.leaves; l++) for (let s = 1; s <= o.spines; s++) L.push(`    - { between: [leaf${l}, spine${s}], gbps: ${o.spineGbps} }`);
  L.push('  externals:', '    - { name: internet, ip: 203.0.113.10, attach: spine1 }');
  L.push('pods:');
  let k = 0;
  for (let l = 1; l <= o.leaves; l++)
    for (let n = 1; n <= o.nodesPerLeaf; n++)
      for (let p = 1; p <= o.podsPerNode; p++) L.push(`  - { name: p${l}${n}-${p}, node: n${l}${n}, labels: { app: ${apps[k++ % apps.length]} } }`);
  if (o.service) L.push('services:', '  - { name: db, selector: { app: db }, port: 5432 }');
  if (o.traffic.length) L.push('traffic:', ...o.traffic.map((t) => `  - ${t}`));
  if (o.expect?.length) L.push('expect:', ...o.expect.map((e) => `  - ${e}`));
  return L.join('\n') + '\n';
}

function scenarioOf(o: Shape): Scenario {
  const p = parseScenarioText(leafSpineYaml(o), 'whatif-test.yaml');
  if (!p.scenario) throw new Error(p.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return p.scenario;
}

/** two racks, two spines of 10 Gbit/s; two 6 Gbit/s demands that ECMP splits over the spines */
const EXAMPLE: Shape = {
  leaves: 2,
  spines: 2,
  nodesPerLeaf: 2,
  podsPerNode: 2,
  spineGbps: 10,
  service: true,
  traffic: ['{ from: p11-1, to: p21-1, gbps: 6 }', '{ from: p11-2, to: p22-1, gbps: 6 }'],
};

describe('whatif: a small leaf/spine', () => {
  const report = whatIf(scenarioOf(EXAMPLE), { at: 0 });
  const byName = (kind: string, name: string) => report.failures.find((f) => f.failure.kind === kind && f.failure.name === name)!;

  test('baseline: the two demands split over the spines', () => {
    expect(report.baseline.maxUtilization).toBe(0.6);
    expect(report.baseline.overThreshold).toEqual([]);
    expect(report.sampling.reachable).toBeGreaterThan(0);
    expect(report.evaluated).toBe(8 + 4 + 4); // links, nodes, fabric switches
  });

  test('one spine uplink down: both demands on the other, over the threshold, nothing lost', () => {
    const f = byName('link', 'leaf1|spine1');
    expect(f.lostPairs).toBe(0);
    expect(f.maxUtilization).toBe(1);
    expect(f.overThreshold.map((o) => o.link)).toEqual(['leaf1->spine2', 'spine2->leaf2']);
    expect(f.switchesChanged).toBeGreaterThan(0);
  });

  test('a node down: the pairs to and from its pods are lost, grouped by app label', () => {
    const f = byName('node', 'n21');
    expect(f.lostPairs).toBeGreaterThan(0);
    // n21 runs p21-1 (app api... by turn) and p21-2; every lost pair has one end there, or is the service
    for (const g of f.lost) expect(g.lost).toBeLessThanOrEqual(g.of);
    expect(f.lost.some((g) => /p21-/.test(g.example.from + g.example.to))).toBe(true);
    expect(f.blocked.map((b) => b.index)).toEqual([0]);
  });

  test('a named combination fails together: both spine uplinks of leaf1 cut the rack off (each alone loses nothing)', () => {
    const combo = whatIf(scenarioOf(EXAMPLE), { at: 0, fail: { combinations: [['leaf1|spine1', 'leaf1|spine2'], ['n21']] } });
    expect(combo.failures.map((f) => `${f.failure.kind} ${f.failure.name}`).sort()).toEqual(['combination leaf1|spine1 + leaf1|spine2', 'node n21']);
    const both = combo.failures.find((f) => f.failure.kind === 'combination')!;
    expect(byName('link', 'leaf1|spine1').lostPairs).toBe(0);
    expect(byName('link', 'leaf1|spine2').lostPairs).toBe(0);
    expect(both.lostPairs).toBeGreaterThan(0);
    expect(both.lost.some((g) => /p1\d-/.test(g.example.from + g.example.to))).toBe(true);
    // the same as a full simulation with both events: a pod of rack 1 no longer reaches rack 2
    const s = scenarioOf({ ...EXAMPLE, traffic: [] });
    s.events = [
      { at: 0, kind: 'link', action: 'down', between: ['leaf1', 'spine1'] },
      { at: 0, kind: 'link', action: 'down', between: ['leaf1', 'spine2'] },
    ];
    const run = new SimRun(s);
    run.advanceTo(0.5);
    const r = run.connect('p11-1', 'p21-1');
    expect(typeof r !== 'string' && r.ok).toBe(false);
    expect(() => whatIf(scenarioOf(EXAMPLE), { at: 0, fail: { combinations: [['leaf1|nowhere']] } })).toThrow(/no link between leaf1 and nowhere/);
  });

  test('ranked worst first: lost pairs, then utilization', () => {
    for (let i = 1; i < report.failures.length; i++) {
      const a = report.failures[i - 1]!;
      const b = report.failures[i]!;
      expect(a.lostPairs > b.lostPairs || (a.lostPairs === b.lostPairs && a.maxUtilization >= b.maxUtilization)).toBe(true);
    }
  });

  test('deterministic, and the run is left as it was (flows and conntrack)', () => {
    expect(JSON.stringify(whatIf(scenarioOf(EXAMPLE), { at: 0 }))).toBe(JSON.stringify(report));
    const run = new SimRun(scenarioOf(EXAMPLE));
    run.advanceTo(0);
    const dump = () => [...run.network.switches.values()].map((s) => JSON.stringify(s.dump(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).join('\n');
    const before = dump();
    const conntrack = [...run.network.switches.values()].map((s) => s.conntrack);
    const session = new WhatIfSession(run, 0);
    session.runBaseline();
    for (const f of listFailures(run.physical, 'each', 0)) session.evaluate(f);
    session.close();
    expect(dump()).toBe(before);
    expect([...run.network.switches.values()].map((s) => s.conntrack)).toEqual(conntrack);
    expect(run.network.state).toBe(run.physical);
  });

  test('failureCopy leaves the original state untouched', () => {
    const run = new SimRun(scenarioOf(EXAMPLE));
    const copy = failureCopy(run.physical, [{ at: 0, kind: 'node', action: 'down', name: 'n11' }]);
    copy.nodes.get('n11')!.up = false;
    copy.switches.get('n11')!.up = false;
    expect(run.physical.nodes.get('n11')!.up).toBe(true);
    expect(run.physical.switches.get('n11')!.up).toBe(true);
  });
});

describe('whatif equals a full simulation with the failure added as an event at T', () => {
  const at = 1;
  const shape = fc
    .record({
      leaves: fc.integer({ min: 2, max: 3 }),
      spines: fc.integer({ min: 1, max: 2 }),
      nodesPerLeaf: fc.integer({ min: 1, max: 2 }),
      podsPerNode: fc.integer({ min: 1, max: 2 }),
      spineGbps: fc.constantFrom(10, 20, 40),
      service: fc.boolean(),
      demands: fc.array(fc.record({ a: fc.nat(), b: fc.nat(), gbps: fc.integer({ min: 1, max: 15 }), toService: fc.boolean() }), { minLength: 1, maxLength: 4 }),
      failure: fc.nat(),
      seed: fc.integer({ min: 1, max: 1000 }),
    })
    .map((r) => {
      const pods: string[] = [];
      for (let l = 1; l <= r.leaves; l++) for (let n = 1; n <= r.nodesPerLeaf; n++) for (let p = 1; p <= r.podsPerNode; p++) pods.push(`p${l}${n}-${p}`);
      const traffic = r.demands.map((d) => {
        const from = pods[d.a % pods.length]!;
        let to = pods[d.b % pods.length]!;
        if (to === from) to = pods[(d.b + 1) % pods.length]!;
        // the demands start at T: no connection of theirs is older than the failure
        return r.service && d.toService ? `{ from: ${from}, to: db, gbps: ${d.gbps}, at: ${at}s }` : `{ from: ${from}, to: ${to}, gbps: ${d.gbps}, at: ${at}s }`;
      });
      return { shape: { ...r, traffic } as Shape, failure: r.failure };
    });

  test('same reach verdicts on the pairs, same max utilization', () => {
    checkProperty(
      'whatif = full sim',
      fc.property(shape, ({ shape: s, failure }) => {
        const sc = scenarioOf(s);
        const run = new SimRun(sc);
        run.advanceTo(at);
        const failures = listFailures(run.physical, 'each', at);
        const f = failures[failure % failures.length]!;
        const session = new WhatIfSession(run, at, { maxPairs: 40 });
        const before = session.runBaseline().verdicts.map((v) => v.ok);
        const result = session.evaluate(f);
        const verdicts = session.verdictsUnder(f);
        const pairs = session.pairs;
        session.close();

        // the full run: the failure is an event at T, the controller reacts, then the same probes
        const failed: Scenario = { ...sc, events: [...sc.events, ...f.events] };
        const full = new SimRun(failed);
        full.advanceTo(at);
        const fullVerdicts = pairs.map((p) => {
          const host = full.sourceHost(p.from);
          const target = typeof host === 'string' ? host : full.resolveTarget(p.to, p.port, p.protocol, p.from);
          if (typeof host === 'string' || typeof target === 'string') return false;
          return probePair(full.network, host, target.spec, p.srcPort, full.engine.nowUs()).ok;
        });
        expect(verdicts).toEqual(fullVerdicts);
        // the pairs not walked again (nothing they depend on changed) are counted right too
        expect(result.lostPairs).toBe(before.filter((ok, k) => ok && !fullVerdicts[k]).length);
        const report = runScenario({ ...failed, expect: [{ at, kind: 'maxLinkUtilization', maxLinkUtilization: 1e9 }] });
        expect(result.maxUtilization).toBe(report.expectations[0]!.value ?? 0);
      }),
      Number(process.env.WHATIF_RUNS ?? 12),
    );
  });
});

describe('the survives gate', () => {
  const reach = '[ { from: p11-1, to: p21-1 }, { from: p11-1, to: db, port: 5432 } ]';

  test('ok: one spine uplink may fail (the other carries), utilization under 1', () => {
    const sc = scenarioOf({ ...EXAMPLE, expect: [`{ at: 1s, survives: { fail: [[leaf1, spine1], [leaf1, spine2]], reach: ${reach}, maxLinkUtilization: 1 } }`] });
    const r = runScenario(sc);
    const e = r.expectations[0]!;
    expect(e.kind).toBe('survives');
    expect(e.ok).toBe(true);
    expect(e.detail).toMatch(/^survives 2 listed link failures; worst link leaf1\|spine[12]/);
    expect(e.value).toBe(1);
  });

  test('failing: a single-homed node link loses the reach; the detail names the worst failure', () => {
    const sc = scenarioOf({ ...EXAMPLE, expect: [`{ at: 1s, survives: { fail: each-link, reach: [ { from: p11-1, to: p21-1 } ] } }`] });
    const e = runScenario(sc).expectations[0]!;
    expect(e.ok).toBe(false);
    expect(e.detail).toMatch(/^fails under 2 of 8 single failures \(each-link\); worst link (n11\|leaf1|n21\|leaf2): p11-1 -> p21-1 lost/);
  });

  test('failing on utilization alone', () => {
    const sc = scenarioOf({ ...EXAMPLE, expect: ['{ at: 1s, survives: { fail: each-switch, maxLinkUtilization: 0.9 } }'] });
    const e = runScenario(sc).expectations[0]!;
    expect(e.ok).toBe(false);
    expect(e.detail).toMatch(/worst switch spine[12]: max utilization 1 > 0\.9/);
    expect(e.value).toBe(1);
  });

  test('the rest of the run is unchanged by the gate', () => {
    const plain = runScenario(scenarioOf(EXAMPLE));
    const gated = runScenario(scenarioOf({ ...EXAMPLE, expect: ['{ at: 1s, survives: { fail: each, maxLinkUtilization: 2 } }'] }));
    expect(gated.links).toEqual(plain.links);
    expect(gated.demands).toEqual(plain.demands);
  });

  test('the scenario checker reads it, and says what is wrong', () => {
    const bad = parseScenarioText(leafSpineYaml({ ...EXAMPLE, expect: ['{ at: 1s, survives: { fail: each-lnk, reach: [] } }'] }), 'bad.yaml');
    expect(bad.scenario).toBeUndefined();
    expect(bad.diagnostics.map((d) => d.message).join('\n')).toMatch(/'fail' must be each-link.*did you mean 'each-link'/);
    const none = parseScenarioText(leafSpineYaml({ ...EXAMPLE, expect: ['{ at: 1s, survives: { fail: each } }'] }), 'none.yaml');
    expect(none.diagnostics.map((d) => d.message).join('\n')).toMatch(/needs 'reach' or 'maxLinkUtilization'/);
  });
});

describe('fabric whatif', () => {
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'whatif-'));
  const file = path.join(dir, 'ls.yaml');
  fs.writeFileSync(file, leafSpineYaml(EXAMPLE));

  const cli = (args: string[]) => runCli(register, args);

  test('human report: header, sampling note, ranked table, lost groups', async () => {
    const r = await cli(['whatif', file, '--fail', 'each', '--top', '3']);
    expect(r.code).toBe(0);
    expect(r.err).toBe(''); // no bar when stderr is not a terminal
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('whatif ls-2x2 at 0s: 16 failures (8 links, 4 nodes, 4 switches)');
    expect(r.out).toMatch(/one pod per \(node, label group\) stands for its group/);
    expect(r.out).toMatch(/max link utilization with nothing failed 60\.0% \(leaf1->spine[12]\); threshold 90\.0%/);
    expect(r.out).toMatch(/^rank +failure +lost pairs +max util +over threshold$/m);
    expect(r.out).toMatch(/^1 +(switch|node|link) /m);
    expect(r.out).toMatch(/pairs lost \(e\.g\. /);
    expect(r.out).toMatch(/13 more failures not shown: --top/);
  });

  test('--json: the report object', async () => {
    const r = await cli(['whatif', file, '--fail', 'links', '--threshold', '0.95', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['scenario', 'at', 'fail', 'threshold', 'sampling', 'baseline', 'evaluated', 'failures']);
    expect(j.fail).toBe('links');
    expect(j.threshold).toBe(0.95);
    expect(j.evaluated).toBe(8);
    expect(Object.keys(j.sampling)).toEqual(['representatives', 'pairs', 'probed', 'reachable', 'candidates', 'note']);
    const f = j.failures[0];
    expect(Object.keys(f)).toEqual(['failure', 'lostPairs', 'lost', 'maxUtilization', 'hottest', 'overThreshold', 'blocked', 'reprobed', 'switchesChanged'].filter((k) => k in f));
    expect(f.failure.kind).toBe('link');
    const spine = j.failures.find((x: { failure: { name: string } }) => x.failure.name === 'leaf1|spine1');
    expect(spine.overThreshold).toEqual([{ link: 'leaf1->spine2', utilization: 1 }, { link: 'spine2->leaf2', utilization: 1 }]);
  });

  test('named links, and bad input exits 2', async () => {
    const r = await cli(['whatif', file, '--fail', 'leaf1|spine1', '--json']);
    expect(JSON.parse(r.out).evaluated).toBe(1);
    expect((await cli(['whatif', file, '--fail', 'everything'])).code).toBe(2);
    expect((await cli(['whatif', file, '--fail', 'leaf1|nowhere'])).code).toBe(2);
    expect((await cli(['whatif', file, '--top', '0'])).code).toBe(2);
  });
});

describe('whatif --fail', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { parseFail } = require('../../cli/commands/whatif') as typeof import('../../cli/commands/whatif');
  test('kinds, named links, and combinations failing together', () => {
    expect(parseFail('links')).toBe('links');
    expect(parseFail('a|b,c|d')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(parseFail('a|b+c|d,node3')).toEqual({ combinations: [['a|b', 'c|d'], ['node3']] });
    expect(() => parseFail('a||b')).toThrow(/--fail must be/);
  });
});
