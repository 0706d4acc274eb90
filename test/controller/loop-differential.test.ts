/**
 * The one control loop in both worlds, side by side: each scenario with events is driven through two
 * ControlLoops fed the same events, one whose southbound port is the simulator's driver (sim/driver.ts
 * on simulated switches) and one whose port is real Open vSwitch (a private ovsdb-server and
 * ovs-vswitchd with the dummy datapath, one bridge per switch, programmed over our OpenFlow 1.3
 * channel: fabric/ovsdriver.ts OvsPort and runPass). After the first pass and after every event, every
 * switch read back from OVS holds exactly what the simulated switch holds, and both hold what a full
 * compile of the state says (compared by the reconciler: no operation left either way).
 * A node that goes down is not programmed in either world; when it comes back its bridge is emptied
 * (a rebooted node) and the loop reads it back and refills it.
 */
import * as path from 'path';
import { compileCluster, reconcile } from '../../controller';
import { ControlLoop, runPassSync } from '../../controller/loop';
import type { SwitchOp, SwitchPlan } from '../../fabric/openflow/flow';
import { OvsDriver, OvsPort, runPass } from '../../fabric/ovsdriver';
import { Engine } from '../../sim/engine';
import { SimNetwork } from '../../sim/network';
import { SimDriver } from '../../sim/driver';
import { buildClusterState } from '../../topology';
import type { ClusterState, Scenario, ScenarioEvent } from '../../topology/types';
import { mgmt, PrivateOvs, startPrivateOvs } from '../support/ovs';
import { loadScenario } from './support';

const SCENARIOS = ['link-failure.yaml', 'pod-move.yaml', 'default.yaml', 'services-multi-backend.yaml', 'overlay-vxlan.yaml'];

let ovs: PrivateOvs;
let driver: OvsDriver;
beforeAll(async () => {
  ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  // vswitchd connects only to unix sockets in its own run directory
  driver = await OvsDriver.start(`unix:${path.join(ovs.dir, 'fabric-ctl.sock')}`);
}, 60_000);
afterAll(async () => {
  await driver?.close();
  await ovs?.stop();
});

/** The simulated side: a loop whose port lands every batch at once on simulated switches. */
function simWorld(scenario: Scenario): { state: ClusterState; loop: ControlLoop; network: SimNetwork; pass: () => void } {
  const state = buildClusterState(scenario);
  const network = new SimNetwork(state);
  const sim = new SimDriver(network, new Engine());
  const port = { read: (n: string) => sim.read(n), apply: (n: string, ops: readonly SwitchOp[]) => sim.applyNow(n, ops) };
  const loop = new ControlLoop(state, { reachable: (n) => network.switchUp(n) });
  sim.onFailure = (n) => loop.applied(n, false);
  const pass = (): void => void runPassSync(loop, port);
  return { state, loop, network, pass };
}

/** Bridges named d<index> (OVS limits names to 15 characters), each switch's datapath id, our target. */
function createBridges(state: ClusterState, prefix: string): Map<string, string> {
  const bridges = new Map<string, string>();
  [...state.switches.values()].forEach((sw, i) => {
    const br = `${prefix}${i}`;
    bridges.set(sw.name, br);
    const args = ['add-br', br, '--', 'set', 'bridge', br, 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure', `other_config:datapath-id=${sw.datapathId}`];
    for (const p of sw.ports) {
      const name = `${br}p${p.port}`;
      args.push('--', 'add-port', br, name, '--', 'set', 'interface', name, `ofport_request=${p.port}`);
      if (p.kind === 'tunnel') args.push('type=vxlan', 'options:remote_ip=flow', 'options:key=flow');
      else args.push('type=dummy');
    }
    ovs.vsctl(...args);
    ovs.vsctl('set-controller', br, driver.target);
  });
  return bridges;
}

function expectSameTables(label: string, state: ClusterState, sim: (n: string) => SwitchPlan, real: Map<string, SwitchPlan>, skip: (n: string) => boolean): void {
  const want = compileCluster(state);
  const problems: string[] = [];
  for (const name of [...state.switches.keys()].sort()) {
    if (skip(name)) continue;
    const fromOvs = real.get(name)!;
    const fromSim = sim(name);
    const a = reconcile(fromSim, fromOvs).length;
    const b = reconcile(fromOvs, fromSim).length;
    const c = reconcile(want.get(name)!, fromOvs).length;
    if (a || b || c) problems.push(`${label} ${name}: ovs->sim ${a} ops, sim->ovs ${b} ops, ovs->compiled ${c} ops (flows ovs ${fromOvs.flows.length} / sim ${fromSim.flows.length})`);
  }
  expect(problems).toEqual([]);
}

describe.each(SCENARIOS)('scenarios/%s', (file) => {
  test('the loop through real OVS and through the simulator leaves the same tables after every event', async () => {
    const scenario = loadScenario(path.join(__dirname, '..', '..', 'scenarios', file));
    const sim = simWorld(scenario);
    const state = buildClusterState(scenario);
    const prefix = `d${SCENARIOS.indexOf(file)}x`;
    const bridges = createBridges(state, prefix);
    try {
      const port = new OvsPort(state, () => driver);
      const nodeUp = (n: string): boolean => state.nodes.get(n)?.up !== false;
      const loop = new ControlLoop(state, { reachable: (n) => nodeUp(n) && port.connection(n) !== undefined });
      for (const sw of state.switches.values()) {
        await driver.waitForSwitch(sw.datapathId, 15_000);
        loop.switchConnected(sw.name);
      }
      const readAll = async (): Promise<Map<string, SwitchPlan>> => {
        const out = new Map<string, SwitchPlan>();
        for (const name of state.switches.keys()) if (nodeUp(name)) out.set(name, await port.read(name));
        return out;
      };
      sim.pass();
      await runPass(loop, port);
      expectSameTables('install', state, (n) => sim.network.switch(n).dump(), await readAll(), (n) => !nodeUp(n));
      const events = [...scenario.events].sort((x, y) => x.at - y.at);
      for (const [i, ev] of events.entries()) {
        for (const [world, l] of [['sim', sim.loop], ['ovs', loop]] as const) {
          try {
            l.observe(ev as ScenarioEvent);
          } catch (err) {
            throw new Error(`${world}: event ${i} cannot apply: ${(err as Error).message}`);
          }
        }
        sim.network.sync();
        if (ev.kind === 'node' && ev.action === 'up') {
          // a rebooted node's bridge is empty, in both worlds
          sim.network.resetSwitch(ev.name);
          sim.loop.switchReset(ev.name);
          const target = mgmt(ovs, bridges.get(ev.name)!);
          for (const what of ['del-flows', 'del-groups', 'del-meters']) ovs.ofctl('-O', 'OpenFlow13', what, target);
          loop.switchReset(ev.name);
        }
        sim.pass();
        await runPass(loop, port);
        expectSameTables(`after event ${i} (${ev.kind} ${'action' in ev ? ev.action : ''})`, state, (n) => sim.network.switch(n).dump(), await readAll(), (n) => !nodeUp(n));
      }
      expect(loop.passes).toBe(events.length + 1);
    } finally {
      for (const br of bridges.values()) ovs.vsctl('--if-exists', 'del-br', br);
      // the next scenario's bridges reuse these datapath ids: wait until their connections are gone
      for (let waited = 0; waited < 10_000 && [...state.switches.values()].some((sw) => driver.connection(sw.datapathId)); waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }, 120_000);
});
