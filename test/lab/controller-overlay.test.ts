/**
 * `fabric controller` with several OVS processes: an overlay lab (scenarios/overlay-vxlan.yaml: one
 * ovsdb-server + vswitchd per node, tors and core in the lab's own OVS) driven (1) in-process by
 * startController with `--ovsdb SWITCH=URL` per node and one `--listen` per OVS run directory (each
 * bridge gets the socket in its own OVS's directory), and (2) by a real `fabric controller` process
 * started by `fabric lab up --controller` (built CLI in dist/). Both: every switch connects and is
 * programmed, pods ping and connect across nodes through the vxlan tunnel, the service answers.
 * Plus the pure option resolution (resolveSwitchTargets). Root only; never skipped.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { OvsDriver } from '../../fabric/ovsdriver';
import { checkNetnsPermitted, Lab, loadScenario, ping, scenarioPorts, tcpConnect, teardownLab } from '../../fabric/lab';
import { labControllerArgs } from '../../fabric/lab/controller';
import { stopPid } from '../../fabric/lab/exec';
import { readPidFile } from '../../fabric/lab/ovs';
import { peerTargetsFor, resolveSwitchTargets, startController, RunningController } from '../../fabric/daemon';
import { until } from './until';

const ROOT = path.join(__dirname, '..', '..');
const FILE = path.join(ROOT, 'scenarios', 'overlay-vxlan.yaml');
const BIN = path.join(ROOT, 'bin', 'fabric.js');
const ID = 'tovlc';
const ID_CLI = 'tovld';

describe('resolveSwitchTargets', () => {
  const sws = ['core', 'tor-a', 'n1', 'n2'];

  test('one --ovsdb and one --listen: every switch on them (the single-OVS form, unchanged)', () => {
    const t = resolveSwitchTargets(sws, 'unix:/r/ovs/db.sock', 'unix:/r/ovs/controller.sock');
    expect(t.ovsdbs).toEqual(['unix:/r/ovs/db.sock']);
    expect(t.listens).toEqual(['unix:/r/ovs/controller.sock']);
    expect([...t.listenOf.values()]).toEqual(Array(4).fill('unix:/r/ovs/controller.sock'));
  });

  test('SWITCH=URL for node OVSDBs; plain listens matched to the OVS run directory of each switch', () => {
    const t = resolveSwitchTargets(sws, ['unix:/r/ovs/db.sock', 'n1=unix:/r/ovs1/db.sock', 'n2=unix:/r/ovs2/db.sock'], ['unix:/r/ovs/controller.sock', 'unix:/r/ovs2/c.sock', 'unix:/r/ovs1/c.sock']);
    expect(Object.fromEntries(t.ovsdbOf)).toEqual({ core: 'unix:/r/ovs/db.sock', 'tor-a': 'unix:/r/ovs/db.sock', n1: 'unix:/r/ovs1/db.sock', n2: 'unix:/r/ovs2/db.sock' });
    expect(Object.fromEntries(t.listenOf)).toEqual({ core: 'unix:/r/ovs/controller.sock', 'tor-a': 'unix:/r/ovs/controller.sock', n1: 'unix:/r/ovs1/c.sock', n2: 'unix:/r/ovs2/c.sock' });
    expect(t.ovsdbs).toHaveLength(3);
  });

  test('SWITCH=URL listens win; a tcp OVSDB falls back to the first plain listen', () => {
    const t = resolveSwitchTargets(sws, ['tcp:127.0.0.1:6640', 'n1=unix:/r/ovs1/db.sock'], ['tcp:6653', 'n2=tcp:6654']);
    expect(Object.fromEntries(t.listenOf)).toEqual({ core: 'tcp:6653', 'tor-a': 'tcp:6653', n1: 'tcp:6653', n2: 'tcp:6654' });
    expect(t.listens).toEqual(['tcp:6653', 'tcp:6654']);
  });

  test('HA peers: a plain URL goes to every bridge, SWITCH=URL to that switch only', () => {
    const peers = ['unix:/r/ovs/ctl-b.sock', 'n1=unix:/r/ovs1/ctl-b.sock', 'n2=tcp:127.0.0.1:6654'];
    expect(peerTargetsFor(peers, 'core')).toEqual(['unix:/r/ovs/ctl-b.sock']);
    expect(peerTargetsFor(peers, 'n1')).toEqual(['unix:/r/ovs/ctl-b.sock', 'unix:/r/ovs1/ctl-b.sock']);
    expect(peerTargetsFor(peers, 'n2')).toEqual(['unix:/r/ovs/ctl-b.sock', 'tcp:127.0.0.1:6654']);
    expect(peerTargetsFor([], 'n1')).toEqual([]);
  });

  test('bad combinations are usage errors (exit 2) naming what is wrong', () => {
    const err = (o: string[], l: string[]): unknown => {
      try {
        resolveSwitchTargets(sws, o, l);
      } catch (e) {
        return { message: (e as Error).message, exitCode: (e as { exitCode?: number }).exitCode };
      }
      return 'no error';
    };
    expect(err(['nope=unix:/x'], ['tcp:1'])).toEqual({ exitCode: 2, message: expect.stringContaining('the scenario has no switch nope') });
    expect(err(['unix:/a', 'unix:/b'], ['tcp:1'])).toEqual({ exitCode: 2, message: expect.stringContaining('more than one default URL') });
    expect(err(['n1=unix:/a'], ['tcp:1'])).toEqual({ exitCode: 2, message: expect.stringContaining('switch core has no OVSDB') });
    expect(err(['unix:/a'], ['n1=tcp:1'])).toEqual({ exitCode: 2, message: expect.stringContaining('switch core has no OpenFlow listen address') });
    expect(err(['n1=unix:/a', 'n1=unix:/b', 'unix:/c'], ['tcp:1'])).toEqual({ exitCode: 2, message: expect.stringContaining('switch n1 is given twice') });
  });
});

describe('OvsDriver on several addresses', () => {
  test('tcp and unix addresses feed one server: a target per address, each answers with an OpenFlow 1.3 HELLO', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-drv-'));
    const driver = await OvsDriver.start(['tcp:0', 'tcp:0:127.0.0.1', `unix:${path.join(dir, 'c.sock')}`]);
    try {
      expect(driver.targets).toHaveLength(3);
      expect(driver.targets[0]).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
      expect(driver.targets[1]).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
      expect(driver.targets[1]).not.toBe(driver.targets[0]);
      expect(driver.targets[2]).toBe(`unix:${path.join(dir, 'c.sock')}`);
      expect(driver.target).toBe(driver.targets[0]);
      for (const t of driver.targets) {
        const first = await new Promise<Buffer>((resolve, reject) => {
          const tcp = /^tcp:(.+):(\d+)$/.exec(t);
          const sock = tcp ? net.connect(Number(tcp[2]), tcp[1]) : net.connect(t.slice('unix:'.length));
          sock.once('data', (d: Buffer) => {
            sock.destroy();
            resolve(d);
          });
          sock.once('error', reject);
        });
        expect([t, first[0], first[1]]).toEqual([t, 0x04, 0]); // version 1.3, OFPT_HELLO
      }
    } finally {
      await driver.close();
      expect(fs.existsSync(path.join(dir, 'c.sock'))).toBe(false);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad address fails start and leaves nothing listening', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-drv-'));
    try {
      await expect(OvsDriver.start([`unix:${path.join(dir, 'a.sock')}`, 'udp:1'])).rejects.toThrow('bad listen address udp:1');
      expect(fs.existsSync(path.join(dir, 'a.sock'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('overlay lab under fabric controller (one OVS per node)', () => {
  beforeAll(async () => {
    checkNetnsPermitted();
    await teardownLab(ID);
    await teardownLab(ID_CLI);
  });
  afterAll(async () => {
    await teardownLab(ID);
    await teardownLab(ID_CLI);
  });

  async function checkTraffic(lab: Lab, ips: (pod: string) => string): Promise<void> {
    // pod <-> pod across nodes (through the vxlan tunnel), TCP both ways, and the service VIP
    const icmp = await ping(lab, 'frontend-1', ips('api-2'));
    expect(icmp.received).toBeGreaterThan(0);
    expect((await tcpConnect(lab, 'worker-1', ips('frontend-1'), 80))[0]).toMatchObject({ ok: true, server: 'frontend-1' });
    expect((await tcpConnect(lab, 'frontend-1', ips('worker-1'), 80))[0]).toMatchObject({ ok: true, server: 'worker-1' });
  }

  test('startController: per-switch OVSDBs and listen sockets; pods reach each other across nodes', async () => {
    const loaded = loadScenario(FILE);
    const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
    let running: RunningController | undefined;
    const events: string[] = [];
    try {
      const nodes = Object.keys(lab.record.nodeOvs ?? {});
      expect(nodes.sort()).toEqual(['worker-a1', 'worker-a2', 'worker-b1']);
      const startedAt = Date.now();
      running = await startController(FILE, {
        ovsdb: [lab.ovs.dbUrl, ...nodes.map((n) => `${n}=${lab.ovsFor(n).dbUrl}`)],
        // plain listen addresses: each bridge gets the one in its own OVS's run directory
        listen: [lab.controllerTarget, ...nodes.map((n) => lab.controllerTargetFor(n))],
        log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
        watch: false,
      });
      const r = running;
      const c = r.controller;
      await until('6 switches and a pass', () => c.stats.switchesConnected === 6 && c.stats.passes > 0);
      await c.idle();
      const convergedMs = Date.now() - startedAt;
      expect(r.ovsdbs.size).toBe(4);
      for (const sw of loaded.state.switches.keys()) {
        expect([sw, r.switchTargets[sw].controller]).toEqual([sw, lab.controllerTargetFor(sw)]);
        expect([sw, r.switchTargets[sw].ovsdb]).toEqual([sw, lab.ovsFor(sw).dbUrl]);
        // the bridge, in its own OVS, points at the socket in that OVS's run directory
        expect([sw, lab.ovsFor(sw).vsctl('get-controller', sw).trim()]).toEqual([sw, lab.controllerTargetFor(sw)]);
        expect(c.stats.flowsBySwitch[sw]).toBeGreaterThan(0);
      }
      // the bridges carry their node MAC (other_config merged, not replaced): tunnels terminate
      expect(lab.ovsFor('worker-b1').vsctl('get', 'bridge', 'worker-b1', 'other_config:hwaddr').trim()).toMatch(/0a:58/);
      const ip = (p: string): string => c.state.pods.get(p)!.ip;
      await checkTraffic(lab, ip);
      // a link cut under a node's own OVS is seen through that OVS's connection
      lab.setLink('worker-b1|tor-b', false);
      await until('link down seen', () => c.stats.linksDown.includes('worker-b1|tor-b'));
      await c.idle();
      expect((await tcpConnect(lab, 'frontend-1', ip('worker-1'), 80, 1, 1))[0]).toMatchObject({ ok: false });
      lab.setLink('worker-b1|tor-b', true);
      await until('link up seen', () => c.stats.linksDown.length === 0);
      await c.idle();
      expect((await tcpConnect(lab, 'frontend-1', ip('worker-1'), 80))[0]).toMatchObject({ ok: true, server: 'worker-1' });

      // one node's ovsdb-server restarted: only that session reconnects and re-ensures its bridge
      // (a drifted external id repaired); the other sessions and the flows are untouched
      const nodeOvs = lab.ovsFor('worker-b1');
      nodeOvs.vsctl('set', 'bridge', 'worker-b1', 'external_ids:fabric-switch=drifted');
      const oldDb = readPidFile(nodeOvs.paths.dbPidFile)!;
      const opsBefore = c.stats.opsSent;
      const cutAt = Date.now();
      await stopPid(oldDb, 'ovsdb-server', 0);
      const newDb = nodeOvs.startOvsdbServer();
      lab.record.pids = lab.record.pids.filter((p) => p.pid !== oldDb);
      lab.record.pids.push({ pid: newDb, comm: 'ovsdb-server', what: `ovsdb-server ${lab.record.nodeOvs!['worker-b1'].ns}` });
      lab.save();
      await until('the node OVSDB session back', () => r.ovsdbStats.reconnects >= 1);
      await r.ovsdbIdle();
      const dbMs = Date.now() - cutAt;
      expect(r.ovsdbStats.reconnects).toBe(1);
      expect(r.ovsdbStats.bridgesRepaired).toBe(1);
      expect(nodeOvs.vsctl('get', 'bridge', 'worker-b1', 'external_ids:fabric-switch').replace(/"/g, '').trim()).toBe('worker-b1');
      expect(events.filter((e) => e.startsWith('ovsdb-reconnected'))).toEqual([`ovsdb-reconnected ${JSON.stringify({ ovsdb: lab.ovsFor('worker-b1').dbUrl })}`]);
      let back = false;
      while (!back && Date.now() - cutAt < 15_000) {
        await new Promise((res) => setTimeout(res, 50));
        back = ((await tcpConnect(lab, 'frontend-1', ip('worker-1'), 80, 1, 1))[0] as { ok: boolean }).ok;
      }
      expect(back).toBe(true);
      expect(c.stats.opsSent).toBe(opsBefore);

      // one node's vswitchd killed (flows, groups, tunnel routes lost) and restarted: the lab puts its
      // VTEP back (node IP on LOCAL, OVS tunnel routes), the bridge reconnects to its own socket and the
      // controller reinstalls its pipeline; pods reach each other across nodes through the tunnel again
      const flowsBefore = c.stats.flowsBySwitch['worker-a1'];
      const vsAt = Date.now();
      await lab.restartVswitchd('worker-a1');
      expect(lab.ovsFor('worker-a1').appctl('ovs/route/show')).toContain(`${loaded.state.nodes.get('worker-b1')!.ip}/32`);
      let healed = false;
      while (!healed && Date.now() - vsAt < 20_000) {
        await new Promise((res) => setTimeout(res, 50));
        healed = ((await tcpConnect(lab, 'frontend-1', ip('worker-1'), 80, 1, 1))[0] as { ok: boolean }).ok;
      }
      expect(healed).toBe(true);
      await c.idle();
      expect(c.stats.flowsBySwitch['worker-a1']).toBe(flowsBefore);
      expect((await ping(lab, 'frontend-1', ip('api-2'))).received).toBeGreaterThan(0);
      process.stdout.write(`controller-overlay: worker-a1's vswitchd restarted -> pods across nodes again after ${Date.now() - vsAt} ms\n`);
      process.stdout.write(
        `controller-overlay: 6 switches in 4 OVS connected and converged ${convergedMs} ms after start; last pass ${c.stats.lastConvergenceMs?.toFixed(1)} ms; worker-b1's ovsdb-server restarted -> its session back and bridge repaired ${dbMs} ms, traffic ${Date.now() - cutAt} ms\n`,
      );
    } finally {
      await running?.stop();
      await lab.down();
    }
  }, 60_000);

  test('fabric lab up --controller on an overlay lab: a real controller process with per-node OVSDBs', async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'controller.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
    const started = Date.now();
    const up = spawnSync('node', [BIN, 'lab', 'up', FILE, '--name', ID_CLI, '--controller'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const upMs = Date.now() - started;
    try {
      expect({ status: up.status, stderr: up.stderr }).toEqual({ status: 0, stderr: '' });
      expect(up.stdout).toMatch(/fabric controller running, pid \d+/);
      const lab = Lab.open(ID_CLI);
      const ctl = lab.record.pids.find((p) => p.what === 'fabric controller');
      expect(ctl).toBeDefined();
      const cmdline = fs.readFileSync(`/proc/${ctl!.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(cmdline.indexOf('controller') + 2, -3)).toEqual(labControllerArgs(lab));
      const log = fs.readFileSync(path.join(lab.record.dir, 'controller.log'), 'utf8');
      expect(log).toMatch(/"event":"converged".*"connected":6,"total":6/);
      const state = loadScenario(FILE).state;
      await checkTraffic(lab, (p) => state.pods.get(p)!.ip);
      process.stdout.write(`controller-overlay: fabric lab up --controller (overlay, 4 OVS) ${upMs} ms\n`);
    } finally {
      const down = spawnSync('node', [BIN, 'lab', 'down', FILE, '--name', ID_CLI], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(down.status).toBe(0);
    }
  }, 90_000);
});
