/**
 * Live edits of links in the scenario file (fabric/lab/scenario-diff.ts diffScenarioEdit): pure —
 * a link removed from the file is a link down, restored a link up, and what cannot change under a
 * running controller (new links, nodes, switches, externals, the cluster block, a link's capacity)
 * is refused with reasons and no events. For real (root): a two-spine lab under `fabric controller`,
 * leaf1's uplinks removed from the watched file one at a time: traffic takes the other spine (port
 * counters), then stops; an edit adding a new link is refused whole (its pod change not applied
 * either); restoring the file brings the links and the traffic back.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, scenarioPorts, tcpConnect, teardownLab } from '../../fabric/lab';
import { diffCounts, diffScenarioEdit, linkKey } from '../../fabric/lab/scenario-diff';
import { startController, RunningController } from '../../fabric/daemon';
import type { Scenario } from '../../topology/types';
import { until } from './until';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-paths.yaml');
const ID = 'tlabe';

function clone(s: Scenario): Scenario {
  return JSON.parse(JSON.stringify(s)) as Scenario;
}

function without(s: Scenario, ...links: [string, string][]): Scenario {
  const next = clone(s);
  const drop = new Set(links.map((l) => linkKey(l)));
  next.fabric.links = next.fabric.links.filter((l) => !drop.has(linkKey(l.between)));
  return next;
}

describe('diffScenarioEdit', () => {
  const built = loadScenario(FIXTURE).scenario;

  test('no change: no events, nothing refused', () => {
    expect(diffScenarioEdit(built, built, clone(built))).toEqual({ events: [], refused: [] });
  });

  test('a link removed from the file goes down; put back (either order of its ends) it comes up', () => {
    const cut = without(built, ['leaf1', 'spine1']);
    expect(diffScenarioEdit(built, built, cut)).toEqual({ events: [{ at: 0, kind: 'link', action: 'down', between: ['leaf1', 'spine1'] }], refused: [] });
    const back = clone(cut);
    back.fabric.links.push({ between: ['spine1', 'leaf1'], gbps: 40, latencyUs: 1 });
    expect(diffScenarioEdit(built, cut, back)).toEqual({ events: [{ at: 0, kind: 'link', action: 'up', between: ['leaf1', 'spine1'] }], refused: [] });
    // a link missing in both versions changes nothing
    expect(diffScenarioEdit(built, cut, clone(cut)).events).toEqual([]);
  });

  test('order: link downs, then pod/service events, then link ups; counts include links', () => {
    const before = without(built, ['leaf2', 'spine2']);
    const after = without(built, ['leaf1', 'spine1']);
    after.pods.push({ name: 'c', node: 'node2', labels: {}, hostPorts: [] });
    const edit = diffScenarioEdit(built, before, after);
    expect(edit.refused).toEqual([]);
    expect(edit.events.map((e) => `${e.kind} ${e.action}`)).toEqual(['link down', 'pod add', 'link up']);
    expect(diffCounts(edit.events)).toEqual({ podsAdded: 1, podsDeleted: 0, podsMoved: 0, servicesAdded: 0, servicesDeleted: 0, linksDown: 1, linksUp: 1 });
  });

  test('what cannot change live is refused, every reason named, and no events at all', () => {
    const next = clone(built);
    next.fabric.links.push({ between: ['leaf1', 'leaf2'], gbps: 10, latencyUs: 1 });
    next.fabric.links = next.fabric.links.filter((l) => linkKey(l.between) !== linkKey(['leaf1', 'spine1']));
    next.fabric.nodes.push({ name: 'node3', ip: '198.51.100.23' });
    next.fabric.switches = next.fabric.switches.filter((s) => s.name !== 'spine2');
    next.fabric.links.find((l) => linkKey(l.between) === linkKey(['node2', 'leaf2']))!.gbps = 25;
    next.cluster.isolation = true;
    next.pods.push({ name: 'c', node: 'node2', labels: {}, hostPorts: [] });
    const edit = diffScenarioEdit(built, built, next);
    expect(edit.events).toEqual([]);
    expect(edit.refused).toEqual([
      'the cluster section changed (mode, CIDRs, isolation, rebalance are fixed at start)',
      'switch spine2 removed',
      'node node3 added',
      'link node2|leaf2: capacity or latency changed (fixed at start)',
      'link leaf1|leaf2 is new (its ports do not exist on the bridges)',
    ]);
    const moved = clone(built);
    moved.fabric.nodes[0].ip = '198.51.100.29';
    expect(diffScenarioEdit(built, built, moved).refused).toEqual(['node node1 changed']);
  });

  test('a link removed earlier and then changed is still judged against the built cluster', () => {
    const cut = without(built, ['leaf1', 'spine1']);
    const back = clone(cut);
    back.fabric.links.push({ between: ['leaf1', 'spine1'], gbps: 100, latencyUs: 1 });
    expect(diffScenarioEdit(built, cut, back).refused).toEqual(['link leaf1|spine1: capacity or latency changed (fixed at start)']);
  });
});

/** tx packets of a bridge port, from `ovs-ofctl dump-ports` */
function txPackets(lab: Lab, sw: string, port: number): number {
  const out = lab.ofctl(sw, 'dump-ports', String(port));
  const tx = /tx pkts=(\d+)/.exec(out);
  if (!tx) throw new Error(`no counters for ${sw} port ${port}: ${out}`);
  return Number(tx[1]);
}

describe('link edits of the scenario file on real OVS', () => {
  let dir = '';
  beforeAll(async () => {
    checkNetnsPermitted();
    await teardownLab(ID);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-linkedit-'));
  });
  afterAll(async () => {
    await teardownLab(ID);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a link removed from the file: traffic takes the other spine, then stops; a new link is refused; restored it flows', async () => {
    const file = path.join(dir, 'scenario.yaml');
    const original = fs.readFileSync(FIXTURE, 'utf8');
    const CUT1 = '    - { between: [leaf1, spine1], gbps: 40 }\n';
    const CUT2 = '    - { between: [leaf1, spine2], gbps: 40 }\n';
    expect(original).toContain(CUT1);
    expect(original).toContain(CUT2);
    fs.writeFileSync(file, original);
    const loaded = loadScenario(file);
    const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
    let running: RunningController | undefined;
    const events: string[] = [];
    try {
      running = await startController(file, {
        ovsdb: lab.ovs.dbUrl,
        listen: lab.controllerTarget,
        log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
      });
      const r = running;
      const c = r.controller;
      await until('6 switches and a pass', () => c.stats.switchesConnected === 6 && c.stats.passes > 0);
      await c.idle();
      const bIp = c.state.pods.get('b')!.ip;
      const reach = async (count = 3): Promise<boolean[]> => (await tcpConnect(lab, 'a', bIp, 80, count, 1)).map((x) => x.ok);
      expect(await reach(1)).toEqual([true]);
      const leaf1 = c.state.switches.get('leaf1')!;
      const portTo = (link: string): number => leaf1.ports.find((p) => p.kind === 'link' && p.linkId === link)!.port;
      const uplinks = [
        { link: 'leaf1|spine1', line: CUT1, port: portTo('leaf1|spine1') },
        { link: 'leaf1|spine2', line: CUT2, port: portTo('leaf1|spine2') },
      ];
      const tx = (): number[] => uplinks.map((u) => txPackets(lab, 'leaf1', u.port));
      /** tx packets on leaf1's two uplinks while `reach(3)` runs (counters are pulled from the datapath ~0.5 s late: poll up to 3 s) */
      const carried = async (): Promise<{ ok: boolean[]; delta: number[] }> => {
        // a baseline only once earlier traffic's counts have landed (unchanged for 700 ms)
        let before = tx();
        for (let settled = false; !settled; ) {
          await new Promise((res) => setTimeout(res, 700));
          const now = tx();
          settled = now.every((n, i) => n === before[i]);
          before = now;
        }
        const ok = await reach(3);
        let delta = tx().map((n, i) => n - before[i]);
        for (let waited = 0; waited < 3000 && ok.every(Boolean) && delta[0] + delta[1] < 3; waited += 100) {
          await new Promise((res) => setTimeout(res, 100));
          delta = tx().map((n, i) => n - before[i]);
        }
        return { ok, delta };
      };
      // the spine the flow hashes to now: the one whose uplink carried it
      const first = await carried();
      expect(first.ok).toEqual([true, true, true]);
      const used = first.delta[0] >= first.delta[1] ? 0 : 1;
      expect(first.delta[used]).toBeGreaterThanOrEqual(3);
      const [cut, other] = [uplinks[used], uplinks[1 - used]];

      // that uplink removed from the file: down; the traffic goes by the other spine only
      const cutAt = Date.now();
      fs.writeFileSync(file, original.replace(cut.line, ''));
      await until(`${cut.link} down`, () => c.stats.linksDown.includes(cut.link));
      await c.idle();
      const cutMs = Date.now() - cutAt;
      expect(events.some((e) => e.startsWith('scenario-reloaded') && e.includes('"linksDown":1'))).toBe(true);
      const second = await carried();
      expect(second.ok).toEqual([true, true, true]);
      expect(second.delta[1 - used]).toBeGreaterThanOrEqual(3);
      expect(second.delta[used]).toBe(0);

      // the other uplink removed as well: no path left
      fs.writeFileSync(file, original.replace(CUT1, '').replace(CUT2, ''));
      await until(`${other.link} down`, () => c.stats.linksDown.includes(other.link));
      await c.idle();
      expect(await reach(1)).toEqual([false]);

      // restoring the links but also adding one that never existed (and a pod): refused whole
      const reloads = r.reloadStats.reloads;
      fs.writeFileSync(file, original.replace('    - { between: [node1, leaf1], gbps: 10 }\n', '    - { between: [node1, leaf1], gbps: 10 }\n    - { between: [leaf1, leaf2], gbps: 10 }\n').replace('pods:\n', 'pods:\n  - { name: c, node: node2 }\n'));
      await until('the refusal', () => r.reloadStats.refused >= 1);
      const refusal = events.find((e) => e.startsWith('scenario-reload-refused'))!;
      expect(refusal).toContain(file);
      expect(refusal).toContain('link leaf1|leaf2 is new');
      expect(r.reloadStats.reloads).toBe(reloads);
      expect(c.state.pods.has('c')).toBe(false);
      expect([...c.stats.linksDown].sort()).toEqual(['leaf1|spine1', 'leaf1|spine2']);

      // the original file again: both links up (diffed against the last applied version), traffic back
      const restoreAt = Date.now();
      fs.writeFileSync(file, original);
      await until('links up', () => c.stats.linksDown.length === 0);
      await c.idle();
      const restoreMs = Date.now() - restoreAt;
      expect(events.some((e) => e.startsWith('scenario-reloaded') && e.includes('"linksUp":2'))).toBe(true);
      expect(await reach(1)).toEqual([true]);
      process.stdout.write(`scenario-diff: the used uplink (${cut.link}) removed from the file -> down and reconciled ${cutMs} ms, traffic on ${other.link} (file watch 100 ms poll + 100 ms debounce); restored -> up ${restoreMs} ms\n`);
    } finally {
      await running?.stop();
      await lab.down();
    }
  }, 60_000);
});
