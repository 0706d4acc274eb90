/**
 * The Mininet builder (`fabric lab up|test --mininet`) on real Open vSwitch, as root: the two-node
 * fixture built by Mininet's Python API must be the same lab as the plain builder's (namespaces,
 * interface names, port numbers), programmed by our OpenFlow channel, with traffic checks; link
 * down/up and pod add/delete go through Mininet; teardown leaves no namespace or process of the lab.
 * Then `fabric lab test --mininet --json` on shipped routed scenarios agrees with `fabric sim --json`.
 */
import { spawn } from 'child_process';
import { Command } from 'commander';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, labDir, labNamespaces, loadScenario, ping, tcpConnect, teardownLab } from '../../fabric/lab';
import { withProgrammer } from '../../fabric/lab/compile';
import { pidAlive, runCmd } from '../../fabric/lab/exec';
import { applyLabEvent } from '../../fabric/lab/play';
import { MININET_PIDS_FILE, stopMininetShells } from '../../fabric/lab/mininet';
import { until } from './until';
import { applyEvent } from '../../topology';
import type { ScenarioEvent } from '../../topology/types';
import { register as registerLab } from '../../cli/commands/lab';
import { register as registerSim } from '../../cli/commands/sim';
import type { CommandContext } from '../../cli/main';
import { compareWithSim } from '../../fabric/lab';
import type { LabReport, SimLikeReport } from '../../fabric/lab';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');
// ids of this test file; leftovers of an earlier (crashed) run are removed by these names
const ID = 'tmnet';
const ID_CLI = 'tmncli';
// played by `fabric lab test --mininet`: two shipped routed scenarios (link down/up, pod move) and the
// lab's events fixture (pod add, move, delete, node down/up: every lab event kind through Mininet)
const CASES = [path.join('scenarios', 'link-failure.yaml'), path.join('scenarios', 'pod-move.yaml'), path.join('test', 'lab', 'fixtures', 'events.yaml')];

/** The `fabric` CLI in-process (the commands' own register()), as test/openflow/cli.test.ts does. */
async function fabric(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: CommandContext = { exitCode: 0, stdout: (t) => (out += t), stderr: (t) => (err += t), debug: false };
  const program = new Command('fabric').exitOverride().configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  registerLab(program, ctx);
  registerSim(program, ctx);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch {
    return { code: 2, out, err };
  }
  return { code: ctx.exitCode, out, err };
}

function ofportsOf(lab: Lab, sw: string): Record<string, number> {
  const out = lab.ofctl(sw, 'dump-ports-desc');
  const ports: Record<string, number> = {};
  for (const m of out.matchAll(/^\s*(\d+)\(([^)]+)\):/gm)) ports[m[2]] = Number(m[1]);
  return ports;
}

function linkDown(lab: Lab, sw: string, iface: string): boolean {
  const out = lab.ofctl(sw, 'dump-ports-desc');
  const block = out.split(/\n(?=\s*\d+\()/).find((b) => b.includes(`(${iface}):`)) ?? '';
  return /state:\s+LINK_DOWN/.test(block);
}

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
  await teardownLab(ID_CLI);
});

afterAll(async () => {
  await teardownLab(ID);
  await teardownLab(ID_CLI);
});

describe('Mininet builder', () => {
  test('two-node fixture: same lab as plain, traffic, link down/up and pod add/delete through Mininet, clean teardown', async () => {
    const { state } = loadScenario(FIXTURE);
    const started = process.hrtime.bigint();
    const lab = await Lab.up(state, { id: ID, scenarioFile: FIXTURE, extraPorts: [8080], builder: 'mininet' });
    const upMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
    const pids = () => lab.record.pids.map((p) => p.pid);
    const allPids = new Set<number>(pids());
    try {
      expect(lab.record.builder).toBe('mininet');
      expect(pidAlive(lab.record.mininet!.pid)).toBe(true);
      expect(labNamespaces(ID).sort()).toEqual(['fab-tmnet-client', 'fab-tmnet-internet', 'fab-tmnet-ovs', 'fab-tmnet-web-1', 'fab-tmnet-web-2']);
      // the port numbers and interface names of the cluster state, as the plain builder makes them
      for (const sw of state.switches.values()) {
        const want: Record<string, number> = {};
        for (const p of sw.ports) if (p.kind !== 'tunnel' && p.kind !== 'host') want[`v${lab.record.switchIndex[sw.name]}p${p.port}`] = p.port;
        expect(ofportsOf(lab, sw.name)).toEqual(expect.objectContaining(want));
      }
      // built by Mininet: its bridge options (dp-desc) and its node shells behind the named namespaces
      expect(lab.ovs.vsctl('get', 'bridge', 'tor1', 'other_config:dp-desc').trim()).toBe('tor1');
      const shell = lab.record.pids.find((p) => p.what === 'mininet host web-1')!.pid;
      expect(fs.readFileSync(`/proc/${shell}/cmdline`, 'utf8').split('\0')).toContain('mininet:web-1');
      expect(runCmd('ip', ['netns', 'identify', String(shell)]).stdout.trim()).toBe('fab-tmnet-web-1');
      // nothing of the lab in the root namespace
      expect(fs.readdirSync('/sys/class/net').filter((l) => /^v\d+p\d+$/.test(l))).toEqual([]);

      const web1 = state.pods.get('web-1')!;
      const web2 = state.pods.get('web-2')!;
      const svc = state.services.get('web')!;
      const internet = state.externals.get('internet')!;
      const linkId = lab.record.links[Object.keys(lab.record.links).find((id) => lab.record.links[id].a.switch === 'node2' || lab.record.links[id].b.switch === 'node2')!].id;
      const l = lab.record.links[linkId];
      const event = (ev: ScenarioEvent) => applyLabEvent(lab, state, ev, { applyEvent });

      await withProgrammer(lab, state, 'openflow', async (program) => {
        await program(lab, state);
        const across = await ping(lab, 'web-1', web2.ip);
        const same = await ping(lab, 'client', web1.ip);
        const replies = await tcpConnect(lab, 'client', svc.vip, svc.port, 30, 1, 5);
        const [egress] = await tcpConnect(lab, 'web-2', internet.ip, 80, 1, 1.5);
        const backends = replies.reduce<Record<string, number>>((m, r) => (r.ok ? ((m[r.server!] = (m[r.server!] ?? 0) + 1), m) : m), {});

        // link node2-tor1 down through Mininet: OVS sees the carrier go, traffic across stops
        const down = await event({ at: 2, kind: 'link', action: 'down', between: ['node2', 'tor1'] });
        await program(lab, state);
        const downSeen = [linkDown(lab, l.a.switch, l.a.iface), linkDown(lab, l.b.switch, l.b.iface)];
        const acrossWhileDown = await ping(lab, 'web-1', web2.ip, 2, 0.2, 0.5);
        const up = await event({ at: 3, kind: 'link', action: 'up', between: ['node2', 'tor1'] });
        await program(lab, state);
        const upSeen = [linkDown(lab, l.a.switch, l.a.iface), linkDown(lab, l.b.switch, l.b.iface)];
        const acrossAfterUp = await ping(lab, 'web-1', web2.ip, 5, 0.2, 1);

        // a pod added as a Mininet host on node2, reachable and load-balanced to; then deleted
        const added = await event({ at: 4, kind: 'pod', action: 'add', name: 'web-3', node: 'node2', labels: { app: 'web' } });
        await program(lab, state);
        const web3 = lab.record.hosts['web-3'];
        const web3Pid = lab.record.pids.find((p) => p.what === 'mininet host web-3')?.pid;
        lab.record.pids.forEach((p) => allPids.add(p.pid));
        const web3Port = ofportsOf(lab, 'node2')[web3.ovsIface];
        const toWeb3 = await tcpConnect(lab, 'web-1', web3.ip, 8080, 1, 1.5);
        const fromWeb3 = await tcpConnect(lab, 'web-3', internet.ip, 80, 1, 1.5);
        const deleted = await event({ at: 5, kind: 'pod', action: 'delete', name: 'web-3' });
        await program(lab, state);
        const toWeb3AfterDelete = await tcpConnect(lab, 'web-1', web3.ip, 8080, 1, 0.5, 1);

        expect({
          pingAcrossNodes: across.received,
          pingSameNode: same.received,
          serviceAnswered: replies.filter((r) => r.ok).length,
          serviceBackends: Object.keys(backends).sort(),
          egress,
          events: [down, up, added, deleted].map((e) => `${e.event}: ${e.ok} ${e.ok ? '' : e.detail}`.trim()),
          downSeen,
          acrossWhileDown: acrossWhileDown.received,
          upSeen,
          acrossAfterUp: acrossAfterUp.received > 0,
          web3: { port: web3Port, want: web3.port, ns: labNamespaces(ID).includes('fab-tmnet-web-3') || 'deleted', shellPid: typeof web3Pid },
          toWeb3,
          fromWeb3,
          afterDelete: {
            reach: toWeb3AfterDelete[0].ok,
            ns: labNamespaces(ID).includes('fab-tmnet-web-3'),
            port: ofportsOf(lab, 'node2')[web3.ovsIface] ?? 'gone',
            shell: web3Pid !== undefined && pidAlive(web3Pid),
          },
        }).toEqual({
          pingAcrossNodes: 3,
          pingSameNode: 3,
          serviceAnswered: 30,
          serviceBackends: ['web-1', 'web-2'],
          egress: { ok: true, server: 'internet', seenSrc: state.nodes.get('node2')!.ip },
          events: ['link down node2|tor1: true', 'link up node2|tor1: true', 'pod add web-3: true', 'pod delete web-3: true'],
          downSeen: [true, true],
          acrossWhileDown: 0,
          upSeen: [false, false],
          acrossAfterUp: true,
          web3: { port: web3.port, want: web3.port, ns: 'deleted', shellPid: 'number' },
          toWeb3: [{ ok: true, server: 'web-3', seenSrc: web1.ip }],
          fromWeb3: [{ ok: true, server: 'internet', seenSrc: state.nodes.get('node2')!.ip }],
          afterDelete: { reach: false, ns: false, port: 'gone', shell: false },
        });
      });
      process.stdout.write(`mininet lab up ${upMs} ms\n`);
    } finally {
      pids().forEach((p) => allPids.add(p));
      await lab.down();
    }
    expect(labNamespaces(ID)).toEqual([]);
    expect(fs.existsSync(labDir(ID))).toBe(false);
    // reaping lags ~2 s here: a zombie counts as gone (pidAlive says false for zombies)
    expect([...allPids].filter((pid) => pidAlive(pid))).toEqual([]);
    expect(fs.readdirSync('/sys/class/net').filter((l) => /^v\d+p\d+$/.test(l))).toEqual([]);
  }, 60_000);

  test('a Mininet process killed with SIGKILL: a new lab of the same id leaves nothing of it, then down', async () => {
    const { state } = loadScenario(FIXTURE);
    const first = await Lab.up(state, { id: ID, builder: 'mininet' });
    const firstPids = first.record.pids.map((p) => p.pid);
    process.kill(first.record.mininet!.pid, 'SIGKILL');
    // as if it had died mid-build, before lab.json knew its shells (they end with it when their pty's
    // master closes; any still alive are found through Mininet's own pid file)
    const file = path.join(labDir(ID), 'lab.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { pids: { what: string }[] };
    saved.pids = saved.pids.filter((p) => !p.what.startsWith('mininet '));
    fs.writeFileSync(file, JSON.stringify(saved));
    const second = await Lab.up(state, { id: ID, builder: 'mininet' });
    const secondPids = second.record.pids.map((p) => p.pid);
    try {
      expect(firstPids.filter((pid) => pidAlive(pid))).toEqual([]);
      expect(Object.keys(second.record.hosts).sort()).toEqual(['client', 'internet', 'web-1', 'web-2']);
    } finally {
      await second.down();
    }
    expect(labNamespaces(ID)).toEqual([]);
    expect(secondPids.filter((pid) => pidAlive(pid))).toEqual([]);
  }, 30_000);

  test('stopMininetShells stops a listed shell only while it is bash in the listed mount namespace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-mnshells-'));
    // a shell in a private mount namespace (as Mininet's are), and a decoy bash in ours
    const ours = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', 'while :; do sleep 1; done'], { stdio: 'ignore' });
    const decoy = spawn('bash', ['-c', 'while :; do sleep 1; done'], { stdio: 'ignore' });
    try {
      await until('both shells run bash', () => [ours.pid!, decoy.pid!].every((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'bash'));
      const mnt = fs.readlinkSync(`/proc/${ours.pid}/ns/mnt`);
      expect(mnt).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
      const lines = [{ pid: ours.pid, name: 'h1', mnt }, { pid: decoy.pid, name: 'h2', mnt }, { pid: 'x' }];
      fs.writeFileSync(path.join(dir, MININET_PIDS_FILE), lines.map((l) => JSON.stringify(l)).join('\n') + '\nnot json\n');
      expect(await stopMininetShells(dir)).toBe(1);
      await until('the listed shell exits', () => !pidAlive(ours.pid!));
      expect(pidAlive(decoy.pid!)).toBe(true);
    } finally {
      decoy.kill('SIGKILL');
      ours.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses an overlay scenario with a clear error, before creating anything', async () => {
    const { state } = loadScenario(path.join(ROOT, 'scenarios', 'overlay-vxlan.yaml'));
    await expect(Lab.up(state, { id: ID, builder: 'mininet' })).rejects.toThrow(/--mininet builds routed labs only; this scenario is overlay/);
    expect(labNamespaces(ID)).toEqual([]);
  });

  test.each(CASES)('`fabric lab test --mininet --json` on %s agrees with `fabric sim --json` on every expectation', async (file) => {
    const full = path.join(ROOT, file);
    const lab = await fabric(['lab', 'test', full, '--mininet', '--json', '--name', ID_CLI]);
    const sim = await fabric(['sim', full, '--json']);
    expect(lab.err).toBe('');
    const labReport = JSON.parse(lab.out) as LabReport;
    const simReport = JSON.parse(sim.out) as SimLikeReport;
    // row by row as `fabric lab test --compare` does: kinds the lab does not measure (link
    // utilisation) are reported skipped and never disagree; every other verdict must be the simulator's
    const comparison = compareWithSim(labReport, simReport);
    expect(comparison.rows.filter((r) => !r.agree).map((r) => `#${r.index} ${r.kind}: lab ${r.lab} (${r.labDetail}) / sim ${r.sim} (${r.simDetail})`)).toEqual([]);
    const measured = labReport.expectations.filter((e) => !e.skipped);
    expect(measured.map((e) => [e.index, e.ok])).toEqual(simReport.expectations.filter((e) => measured.some((m) => m.index === e.index)).map((e) => [e.index, e.ok]));
    expect(measured.length).toBeGreaterThanOrEqual(5);
    expect(labReport.events.filter((e) => !e.ok)).toEqual([]);
    expect(lab.code).toBe(sim.code);
    expect(labNamespaces(ID_CLI)).toEqual([]);
    process.stdout.write(`${file}: ${measured.length} measured expectations agree with sim (${labReport.expectations.length - measured.length} skipped), play ${labReport.durationMs} ms\n`);
  }, 60_000);
});
