/**
 * Test helpers for the controller: scenario loading, random clusters (built through the real
 * topology model), and loading a switch plan into a real OVS bridge.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SwitchPlan } from '../../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { buildClusterState, parseScenarioFile } from '../../topology';
import type { ClusterState, Scenario, SwitchState } from '../../topology/types';
import { mgmt, PrivateOvs } from '../support/ovs';

export const SCENARIO_DIR = path.join(__dirname, '..', '..', 'scenarios');

export function scenarioFiles(): string[] {
  return fs
    .readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(SCENARIO_DIR, f));
}

export function loadScenario(file: string): Scenario {
  const r = parseScenarioFile(file);
  if (!r.scenario) throw new Error(`${file}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.scenario;
}

export function loadState(file: string): ClusterState {
  return buildClusterState(loadScenario(file));
}

/** A minimal valid scenario: fill in what a test does not care about. */
export function scenarioOf(partial: Partial<Scenario> & { fabric: Scenario['fabric'] }): Scenario {
  return {
    name: 'test',
    seed: 1,
    cluster: {
      mode: 'routed',
      encap: 'vxlan',
      podCidr: '10.244.0.0/16',
      nodeMaskLen: 24,
      serviceCidr: '10.96.0.0/16',
      isolation: false,
      allow: [],
      rebalance: [],
    },
    pods: [],
    services: [],
    traffic: [],
    events: [],
    expect: [],
    ...partial,
  };
}

/** Creates the bridge of a switch with every port at its planned OpenFlow number. */
export function createBridge(ovs: PrivateOvs, sw: SwitchState, bridge = sw.name): void {
  const args = ['add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=dummy', 'protocols=OpenFlow13'];
  for (const p of sw.ports) {
    const name = `${bridge.slice(0, 6)}p${p.port}`;
    args.push('--', 'add-port', bridge, name, '--', 'set', 'interface', name, `ofport_request=${p.port}`);
    if (p.kind === 'tunnel') args.push('type=vxlan', 'options:remote_ip=flow', 'options:key=flow');
    else args.push('type=dummy');
  }
  ovs.vsctl(...args);
}

function writeTemp(lines: string[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-plan-')), 'lines.txt');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Loads a plan with ovs-ofctl add-meters / add-groups / add-flows (every line must be accepted). */
export function loadPlan(ovs: PrivateOvs, plan: SwitchPlan, bridge = plan.switch): { flowsFile: string } {
  const target = mgmt(ovs, bridge);
  // OVS 3.1's ovs-ofctl has no add-meters: one add-meter per line of `--kind meters`
  for (const m of plan.meters) ovs.ofctl('-O', 'OpenFlow13', 'add-meter', target, meterText(m));
  if (plan.groups.length) ovs.ofctl('-O', 'OpenFlow13', 'add-groups', target, writeTemp(plan.groups.map(groupText)));
  const flowsFile = writeTemp(plan.flows.map(flowText));
  ovs.ofctl('-O', 'OpenFlow13', 'add-flows', target, flowsFile);
  return { flowsFile };
}

/** The flows of a plan written to a temporary file (for `ovs-ofctl diff-flows`). */
export function loadPlanFileOnly(plan: SwitchPlan): string {
  return writeTemp(plan.flows.map(flowText));
}
