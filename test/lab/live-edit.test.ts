/**
 * Live edits of the scenario file under `fabric controller`: the pure scenario diff (pods added,
 * deleted, moved with their IP; services added/deleted), and for real: the lab up with the controller,
 * a changed copy of the scenario adding a pod written over the watched file, the reload seen, the pod's
 * namespace created (as the lab plays `pod: add`) and reached with real TCP; then the pod deleted again.
 * Root only for the second test.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, scenarioPorts, tcpConnect, teardownLab } from '../../fabric/lab';
import { diffCounts, diffScenarios } from '../../fabric/lab/scenario-diff';
import { startController, RunningController } from '../../fabric/daemon';
import { until } from './until';
import type { Scenario } from '../../topology/types';
import { compileCluster } from '../../controller';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');
const ID = 'tlabl';
const LATE_POD = '  - { name: late, node: node2, labels: { app: late } }\n';

function clone(s: Scenario): Scenario {
  return JSON.parse(JSON.stringify(s)) as Scenario;
}

describe('diffScenarios', () => {
  const base = loadScenario(FIXTURE).scenario;

  test('identical scenarios: no events', () => {
    expect(diffScenarios(base, clone(base))).toEqual([]);
  });

  test('pod added, deleted, moved (keeps its IP: a move, not delete+add); services added and deleted', () => {
    const next = clone(base);
    next.pods = next.pods.filter((p) => p.name !== 'client');
    next.pods.find((p) => p.name === 'web-1')!.node = 'node2';
    next.pods.push({ name: 'late', node: 'node2', labels: { app: 'late' }, hostPorts: [] });
    next.services = [{ name: 'late', selector: { app: 'late' }, port: 81, targetPort: 8080, protocol: 'tcp' }];
    const events = diffScenarios(base, next);
    expect(events).toEqual([
      { at: 0, kind: 'service', action: 'delete', name: 'web' },
      { at: 0, kind: 'pod', action: 'delete', name: 'client' },
      { at: 0, kind: 'pod', action: 'move', name: 'web-1', to: 'node2' },
      { at: 0, kind: 'pod', action: 'add', name: 'late', node: 'node2', labels: { app: 'late' } },
      { at: 0, kind: 'service', action: 'add', service: next.services[0] },
    ]);
    expect(diffCounts(events)).toEqual({ podsAdded: 1, podsDeleted: 1, podsMoved: 1, servicesAdded: 1, servicesDeleted: 1 });
  });

  test('a pod whose labels changed is deleted and added again; a changed service is replaced', () => {
    const next = clone(base);
    next.pods.find((p) => p.name === 'web-2')!.labels = { app: 'other' };
    next.services[0].port = 81;
    const kinds = diffScenarios(base, next).map((e) => `${e.kind} ${e.action}`);
    expect(kinds).toEqual(['service delete', 'pod delete', 'pod add', 'service add']);
  });
});

describe('live edit on real OVS', () => {
  let dir = '';
  beforeAll(async () => {
    checkNetnsPermitted();
    await teardownLab(ID);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-live-'));
  });
  afterAll(async () => {
    await teardownLab(ID);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a pod added to the scenario file is programmed and reachable; deleting it removes it', async () => {
    const file = path.join(dir, 'scenario.yaml');
    const original = fs.readFileSync(FIXTURE, 'utf8');
    fs.writeFileSync(file, original);
    const loaded = loadScenario(file);
    const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
    let running: RunningController | undefined;
    const events: string[] = [];
    try {
      running = await startController(file, {
        ovsdb: lab.ovs.dbUrl,
        listen: `unix:${path.join(lab.ovs.dir, 'controller.sock')}`,
        log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
      });
      const r = running;
      const c = r.controller;
      await until('3 switches and a pass', () => c.stats.switchesConnected === 3 && c.stats.passes > 0);
      await c.idle();

      // a broken edit: logged with file:line:col, nothing changes
      fs.writeFileSync(file, original.replace('pods:\n', 'pods:\n  - { name: [oops\n'));
      await until('the failed reload', () => r.reloadStats.failures >= 1);
      expect(events.find((e) => e.startsWith('scenario-reload-failed'))).toMatch(/scenario\.yaml:\d+:\d+/);
      expect(c.state.pods.size).toBe(3);

      // the pod added to the file
      const node2FlowsBefore = c.stats.flowsBySwitch.node2;
      const editedAt = Date.now();
      fs.writeFileSync(file, original.replace('pods:\n', 'pods:\n' + LATE_POD));
      await until('the reload', () => r.reloadStats.reloads >= 1);
      await r.reload(); // serialises behind the watcher's reload, so its pass is done
      await c.idle();
      const reloadMs = Date.now() - editedAt;
      expect(events.some((e) => e.startsWith('scenario-reloaded') && e.includes('"podsAdded":1'))).toBe(true);
      const late = c.state.pods.get('late');
      expect(late).toBeDefined();
      expect(c.stats.flowsBySwitch.node2).toBeGreaterThan(node2FlowsBefore); // its flows were reconciled in
      // the incremental compile the controller used agrees with a full compile of the same state
      const full = compileCluster(c.state);
      for (const [name, n] of Object.entries(c.stats.flowsBySwitch)) expect(n).toBe(full.get(name)!.flows.length);
      expect(events.some((e) => e.startsWith('compile-incremental-failed'))).toBe(false);
      await lab.addPod(c.state, 'late');
      const replies = await tcpConnect(lab, 'client', late!.ip, 8080, 1, 1.5);
      expect(replies[0]).toMatchObject({ ok: true });
      const reachMs = Date.now() - editedAt;

      // and deleted again
      fs.writeFileSync(file, original);
      await until('the second reload', () => events.filter((e) => e.startsWith('scenario-reloaded') && e.includes('"podsDeleted":1')).length >= 1);
      await c.idle();
      expect(c.state.pods.has('late')).toBe(false);
      await lab.removePod('late');
      expect(await tcpConnect(lab, 'client', late!.ip, 8080, 1, 1)).toEqual([expect.objectContaining({ ok: false })]);
      // the rest of the cluster still works
      expect((await tcpConnect(lab, 'client', c.state.pods.get('web-2')!.ip, 8080, 1, 1.5))[0]).toMatchObject({ ok: true });
      process.stdout.write(`live-edit: pod added to the file -> reloaded and reconciled ${reloadMs} ms, reachable ${reachMs} ms\n`);
    } finally {
      await running?.stop();
      await lab.down();
    }
  }, 30_000);
});
