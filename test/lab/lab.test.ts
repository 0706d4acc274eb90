/**
 * The lab tier on real Open vSwitch (userspace datapath) and network namespaces, as root.
 * Builds the two-node fixture for real, programs it with the controller's compiled plan, checks
 * pod<->pod ICMP across nodes, a service VIP over TCP (backends), egress SNAT, plays the scenario
 * (link down/up), and proves that teardown leaves no namespace, veth, process or directory of ours.
 * Never skipped: without root or `ip netns` it fails with the reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  checkNetnsPermitted,
  Lab,
  labDir,
  labNamespaces,
  loadScenario,
  ping,
  playScenario,
  scenarioLabTest,
  scenarioLabUp,
  tcpConnect,
  teardownLab,
} from '../../fabric/lab';
import { withProgrammer } from '../../fabric/lab/compile';
import type { ReconcileReport } from '../../fabric/ovsdriver';
import { pidAlive } from '../../fabric/lab/exec';
import { applyEvent } from '../../topology';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');
// ids of this test file; leftovers of an earlier (crashed) run are removed by these names
const ID_A = 'tlaba';
const ID_B = 'tlabb';

function rootHasNoLabInterface(): void {
  const links = fs.readdirSync('/sys/class/net');
  expect(links.filter((l) => /^v\d+p\d+$/.test(l))).toEqual([]);
}

async function expectGone(id: string, pids: number[]): Promise<void> {
  expect(labNamespaces(id)).toEqual([]);
  expect(fs.existsSync(labDir(id))).toBe(false);
  // reaping lags ~2 s here: a zombie counts as gone (pidAlive says false for zombies)
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  rootHasNoLabInterface();
}

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID_A);
  await teardownLab(ID_B);
});

afterAll(async () => {
  await teardownLab(ID_A);
  await teardownLab(ID_B);
});

describe('lab on real OVS', () => {
  test('two-node scenario: ping across nodes, service VIP, egress SNAT, events, clean teardown', async () => {
    const started = Date.now();
    // installed with ovs-ofctl (the printed plan) ...
    const { lab, loaded } = await scenarioLabUp(FIXTURE, { id: ID_A, program: 'ofctl' });
    const upMs = Date.now() - started;
    const pids = lab.record.pids.map((p) => p.pid);
    try {
      expect(labNamespaces(ID_A).sort()).toEqual(['fab-tlaba-client', 'fab-tlaba-internet', 'fab-tlaba-ovs', 'fab-tlaba-web-1', 'fab-tlaba-web-2']);
      const { state } = loaded;
      const web2 = state.pods.get('web-2')!;
      const web1 = state.pods.get('web-1')!;

      // Every observation first, one comparison at the end: a failure shows everything that is wrong
      // on real OVS at once (docs/lab.md "Findings" explains the known plan problems).
      // pod -> pod across nodes (node1 -> tor1 -> node2) and on one node, ICMP
      const across = await ping(lab, 'web-1', web2.ip);
      const same = await ping(lab, 'client', web1.ip);
      // service VIP over TCP: every connection answered, by both backends
      const svc = state.services.get('web')!;
      const replies = await tcpConnect(lab, 'client', svc.vip, svc.port, 30, 1, 5);
      // egress: the external host sees the node IP, and the reply gets back
      const [egress] = await tcpConnect(lab, 'web-2', state.externals.get('internet')!.ip, 80, 1, 1.5);

      // the scenario's own expectations and events (link down/up) with real traffic, programmed by our
      // own OpenFlow channel, which adopts what ovs-ofctl installed: its first reconcile changes nothing
      const passes: ReconcileReport[][] = [];
      const report = await withProgrammer(
        lab,
        state,
        'openflow',
        async (program) => {
          await program(lab, state);
          return playScenario(lab, loaded.scenario, state, program, { applyEvent });
        },
        { onReconciled: (r) => passes.push(r) },
      );
      const backends = replies.reduce<Record<string, number>>((m, r) => (r.ok ? ((m[r.server!] = (m[r.server!] ?? 0) + 1), m) : m), {});
      const observed = {
        pingAcrossNodes: across.received > 0,
        pingSameNode: same.received > 0,
        serviceAnswered: replies.filter((r) => r.ok).length,
        serviceBackends: Object.keys(backends).sort(),
        egress,
        adoptionOps: passes[0].map((r) => [r.switch, r.ops]),
        // one pass to adopt, one per event (link down, link up)
        passes: passes.length,
        failedExpectations: report.expectations.filter((e) => !e.ok).map((e) => `#${e.index} ${e.kind}: ${e.detail}`),
        events: report.events.map((e) => e.ok),
      };
      expect(observed).toEqual({
        pingAcrossNodes: true,
        pingSameNode: true,
        serviceAnswered: 30,
        serviceBackends: ['web-1', 'web-2'],
        egress: { ok: true, server: 'internet', seenSrc: state.nodes.get('node2')!.ip },
        adoptionOps: [['node1', 0], ['node2', 0], ['tor1', 0]],
        passes: 3,
        failedExpectations: [],
        events: [true, true],
      });
      expect(report.ok).toBe(true);
      process.stdout.write(
        `lab up ${upMs} ms; rtt across nodes ${Math.min(...across.rttMs).toFixed(2)} ms; backends ${JSON.stringify(backends)}; play ${report.durationMs} ms\n`,
      );
    } finally {
      await lab.down();
    }
    await expectGone(ID_A, pids);
  });

  test('two labs coexist; a leftover lab of the same id is replaced; down of one leaves the other working', async () => {
    const a = await scenarioLabUp(FIXTURE, { id: ID_A, program: 'ofctl' });
    const pidsA1 = a.lab.record.pids.map((p) => p.pid);
    // simulate a crashed earlier run: lab A left up, then built again with the same id
    const a2 = await scenarioLabUp(FIXTURE, { id: ID_A, program: 'openflow' });
    for (const pid of pidsA1) expect(pidAlive(pid)).toBe(false);
    let b: Lab | undefined;
    try {
      b = (await scenarioLabUp(FIXTURE, { id: ID_B, program: 'openflow' })).lab;
      // the same addresses live in both labs; each lab's traffic stays in its own namespaces
      const internet = a2.loaded.state.externals.get('internet')!.ip;
      const node1 = a2.loaded.state.nodes.get('node1')!.ip;
      expect(await tcpConnect(a2.lab, 'web-1', internet, 80)).toEqual([{ ok: true, server: 'internet', seenSrc: node1 }]);
      expect(await tcpConnect(b, 'web-1', internet, 80)).toEqual([{ ok: true, server: 'internet', seenSrc: node1 }]);
      const pidsA2 = a2.lab.record.pids.map((p) => p.pid);
      await a2.lab.down();
      await expectGone(ID_A, pidsA2);
      expect(await tcpConnect(b, 'web-1', internet, 80)).toEqual([{ ok: true, server: 'internet', seenSrc: node1 }]);
    } finally {
      await a2.lab.down();
      const pidsB = b ? b.record.pids.map((p) => p.pid) : [];
      await teardownLab(ID_B);
      await expectGone(ID_B, pidsB);
    }
  });

  test('events for real: pod add, pod move (keeps its IP), node down/up, pod delete, checked by egress', async () => {
    const file = path.join(__dirname, 'fixtures', 'events.yaml');
    const report = await scenarioLabTest(file, { id: ID_B, program: 'openflow' });
    expect(report.expectations.map((e) => [e.index, e.kind, e.ok, e.detail])).toEqual([
      [0, 'egress', true, 'web-1 -> internet 203.0.113.1:80: seen as 198.51.100.11'],
      [1, 'egress', true, 'web-3 -> internet 203.0.113.1:80: seen as 198.51.100.12'],
      [2, 'egress', true, 'web-1 -> internet 203.0.113.1:80: seen as 198.51.100.12'],
      [3, 'noReach', true, expect.stringMatching(/^web-3 -> internet 203.0.113.1: no connection/)],
      [4, 'egress', true, 'web-3 -> internet 203.0.113.1:80: seen as 198.51.100.12'],
      [5, 'egress', true, 'web-1 -> internet 203.0.113.1:80: seen as 198.51.100.12'],
    ]);
    expect(report.events.map((e) => `${e.event}: ${e.ok}`)).toEqual([
      'pod add web-3: true',
      'pod move web-1 to node2: true',
      'node down node2: true',
      'node up node2: true',
      'pod delete web-3: true',
    ]);
    expect(report.ok).toBe(true);
    // scenarioLabTest tears down unless keep
    await expectGone(ID_B, []);
  });

  test('refuses a scenario that overlaps the machine network, before creating anything', async () => {
    const { state } = loadScenario(FIXTURE);
    state.externals.get('internet')!.ip = '192.0.2.77';
    await expect(Lab.up(state, { id: ID_A })).rejects.toThrow(/Lab safety: refusing to start: external internet ip 192.0.2.77/);
    expect(labNamespaces(ID_A)).toEqual([]);
  });
});
