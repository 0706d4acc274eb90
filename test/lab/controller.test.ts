/**
 * `fabric controller` against real OVS in a lab: bridges ensured over OVSDB, switches accepted on our
 * own OpenFlow channel (unix socket in the lab's OVS run directory), the pipeline installed by
 * reconcile, and a real link cut (`ip link set down` of a veth) turned into port status, recompile
 * and reconcile, checked with egress traffic before, during and after; then ovs-vswitchd killed and
 * restarted (flows lost) and healed by the controller; the controller restarted without disturbing
 * traffic (the new one adopts the flows: 0 ops); ovsdb-server stopped and restarted: the controller
 * reconnects and re-ensures its bridges (a drifted one repaired), traffic comes back, flows untouched.
 * Root only; never skipped.
 */
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, scenarioPorts, tcpConnect, teardownLab } from '../../fabric/lab';
import { startController, RunningController } from '../../fabric/daemon';
import { until } from './until';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');
const ID = 'tlabc';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});

afterAll(async () => {
  await teardownLab(ID);
});

test('controller: bridges over OVSDB, pipeline over OpenFlow, link down/up from port status', async () => {
  const loaded = loadScenario(FIXTURE);
  const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
  let running: RunningController | undefined;
  const events: string[] = [];
  try {
    running = await startController(FIXTURE, {
      ovsdb: lab.ovs.dbUrl,
      listen: `unix:${path.join(lab.ovs.dir, 'controller.sock')}`,
      log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
    });
    const c = running.controller;
    const connectMs = await until('3 switches and a pass', () => c.stats.switchesConnected === 3 && c.stats.passes > 0);
    await c.idle();
    expect(c.stats.flowsBySwitch).toEqual({ node1: expect.any(Number), node2: expect.any(Number), tor1: expect.any(Number) });
    // bridges as the controller ensured them
    // bridges as the controller ensured them (its external id and controller target prove it wrote them)
    for (const sw of loaded.state.switches.values()) {
      expect(lab.ovs.vsctl('get', 'bridge', sw.name, 'fail_mode', 'protocols', 'datapath_type', 'external_ids:fabric-switch').replace(/"/g, '').split('\n').slice(0, 4)).toEqual(['secure', '[OpenFlow13]', 'netdev', sw.name]);
      expect(lab.ovs.vsctl('get', 'bridge', sw.name, 'other_config:datapath-id').replace(/"/g, '').trim()).toBe(sw.datapathId);
      expect(lab.ovs.vsctl('get-controller', sw.name).trim()).toBe(`unix:${path.join(lab.ovs.dir, 'controller.sock')}`);
    }

    const egress = async (): Promise<unknown> => (await tcpConnect(lab, 'web-2', '203.0.113.1', 80, 1, 1))[0];
    const node2Ip = loaded.state.nodes.get('node2')!.ip;
    expect(await egress()).toEqual({ ok: true, server: 'internet', seenSrc: node2Ip });

    lab.setLink('node2|tor1', false);
    const downMs = await until('link down seen', () => c.stats.linksDown.includes('node2|tor1'));
    await c.idle();
    expect(await egress()).toMatchObject({ ok: false });

    lab.setLink('node2|tor1', true);
    const upMs = await until('link up seen', () => c.stats.linksDown.length === 0);
    await c.idle();
    expect(await egress()).toEqual({ ok: true, server: 'internet', seenSrc: node2Ip });
    expect(events.some((e) => e.startsWith('link-state {"link":"node2|tor1","up":false}'))).toBe(true);

    // ovs-vswitchd killed (flows lost) and restarted: the switches reconnect and the controller heals them
    const passesBefore = c.stats.passes;
    const killedAt = Date.now();
    await lab.restartVswitchd();
    let healed = false;
    while (!healed && Date.now() - killedAt < 15_000) {
      await new Promise((r) => setTimeout(r, 50)); // let the controller's event loop run between probes
      healed = ((await egress()) as { ok: boolean }).ok;
    }
    const healMs = Date.now() - killedAt;
    expect(healed).toBe(true);
    expect(c.stats.passes).toBeGreaterThan(passesBefore);
    // the controller restarted: traffic keeps flowing while it is away (fail_mode=secure keeps the
    // flows), and the new one adopts what is installed (cookies) instead of wiping it
    await c.idle();
    await running.stop();
    running = undefined;
    expect(await egress()).toEqual({ ok: true, server: 'internet', seenSrc: node2Ip });
    const log2: string[] = [];
    running = await startController(FIXTURE, {
      ovsdb: lab.ovs.dbUrl,
      listen: `unix:${path.join(lab.ovs.dir, 'controller.sock')}`,
      log: (event, fields) => log2.push(`${event} ${JSON.stringify(fields)}`),
    });
    const c2 = running.controller;
    await until('the restarted controller to converge', () => c2.stats.switchesConnected === 3 && c2.stats.passes > 0);
    await c2.idle();
    expect(c2.stats.opsSent).toBe(0);
    expect(await egress()).toEqual({ ok: true, server: 'internet', seenSrc: node2Ip });

    // OVSDB lost: ovsdb-server stopped and restarted on the same database 0.5 s later. A bridge edited
    // behind the controller's back before (its external id) is repaired by the re-ensure after the
    // reconnect. Forwarding pauses meanwhile on this datapath (docs/lab.md: vswitchd's main loop, which
    // polls the netdev ports, skips the bridges while it does not hold its OVSDB lock) and comes back.
    lab.ovs.vsctl('set', 'bridge', 'node1', 'external_ids:fabric-switch=drifted');
    const r2 = running;
    const dbCutAt = Date.now();
    await lab.restartOvsdbServer(500);
    await until('the OVSDB session to come back', () => r2.ovsdbStats.reconnects >= 1);
    await r2.ovsdbIdle();
    const dbHealMs = Date.now() - dbCutAt;
    expect(r2.ovsdbStats.disconnects).toBeGreaterThanOrEqual(1);
    expect(r2.ovsdbStats.bridgesRepaired).toBe(1);
    expect(lab.ovs.vsctl('get', 'bridge', 'node1', 'external_ids:fabric-switch').replace(/"/g, '').trim()).toBe('node1');
    expect(log2.some((e) => e.startsWith('ovsdb-reconnected'))).toBe(true);
    let back = false;
    while (!back && Date.now() - dbCutAt < 15_000) {
      await new Promise((r) => setTimeout(r, 50));
      back = ((await egress()) as { ok: boolean }).ok;
    }
    const dbTrafficMs = Date.now() - dbCutAt;
    expect(back).toBe(true);
    expect(c2.stats.switchesConnected).toBe(3);
    expect(c2.stats.opsSent).toBe(0); // the flows survived the OVSDB outage: nothing to reinstall
    process.stdout.write(
      `controller: switches connected+converged ${connectMs} ms; link down seen ${downMs} ms; up seen ${upMs} ms; last convergence ${c.stats.lastConvergenceMs?.toFixed(1)} ms; vswitchd restart healed in ${healMs} ms; ovsdb-server down 500 ms -> reconnected and bridges re-ensured ${dbHealMs} ms, egress answered ${dbTrafficMs} ms after the cut\n`,
    );
  } finally {
    await running?.stop();
    await lab.down();
  }
});
