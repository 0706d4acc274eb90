/**
 * The lab's link to the controller: its compiler (controller/ compileCluster: ClusterState ->
 * Map<switch, SwitchPlan>) and the two ways the lab programs bridges with it: `ofctl` (plans printed
 * in ovs-ofctl syntax and loaded with ovs-ofctl, the interim path) and `openflow` (our own OpenFlow
 * channel: fabric/ovsdriver.ts reconciling each switch).
 */
import { compileCluster } from '../../controller';
import { OvsDriver, ReconcileReport } from '../ovsdriver';
import type { ClusterState } from '../../topology/types';
import { connectLab, driverProgrammer, labControllerSocket } from './controller';
import { LabError } from './errors';
import type { InstallCount } from './install';
import type { Lab } from './lab';
import type { Programmer } from './play';
import { Compiler, ofctlProgrammer } from './program';

export const compilePlans: Compiler = (state) => compileCluster(state);

export type Programming = 'openflow' | 'ofctl';

/** The interim programmer: compile, print, `ovs-ofctl` load. */
export function labProgrammer(onInstalled?: (counts: Map<string, InstallCount>) => void): Programmer {
  return ofctlProgrammer(compilePlans, onInstalled);
}

export interface ProgrammingHooks {
  onInstalled?: (counts: Map<string, InstallCount>) => void;
  onReconciled?: (reports: ReconcileReport[]) => void;
  /** ms the switches took to connect to our OpenFlow channel */
  onConnected?: (ms: number) => void;
}

/**
 * Run `fn` with a programmer of the chosen kind. For `openflow` a driver listens on the lab's
 * controller socket for the duration of `fn` only: flows stay in the switches after it closes
 * (fail_mode=secure), and the next driver adopts them (reconcile finds nothing to do).
 */
export async function withProgrammer<T>(lab: Lab, state: ClusterState, how: Programming | Programmer, fn: (program: Programmer) => Promise<T>, hooks: ProgrammingHooks = {}): Promise<T> {
  if (typeof how === 'function') return fn(how);
  if (how === 'ofctl') return fn(labProgrammer(hooks.onInstalled));
  if (lab.record.nodeOvs) return withDrivers(lab, state, fn, hooks);
  const driver = await OvsDriver.start(`unix:${labControllerSocket(lab)}`);
  try {
    const ms = await connectLab(lab, driver, state);
    hooks.onConnected?.(ms);
    return await fn(driverProgrammer(driver, hooks.onReconciled));
  } finally {
    await driver.close();
  }
}

/**
 * `openflow` for a lab with several OVS processes (overlay: one per node). vswitchd connects only to
 * `unix:` targets in its own run directory, so one driver listens in each OVS's directory (the target
 * every bridge of that OVS got when it was created) and each switch is reconciled by the driver of
 * its OVS.
 */
async function withDrivers<T>(lab: Lab, state: ClusterState, fn: (program: Programmer) => Promise<T>, hooks: ProgrammingHooks): Promise<T> {
  const drivers = new Map<string, OvsDriver>();
  const driverOf = (sw: string): OvsDriver => {
    const d = drivers.get(lab.controllerTargetFor(sw));
    if (!d) throw new LabError(`Lab.program: no OpenFlow driver for switch ${sw}`, 1);
    return d;
  };
  try {
    const started = process.hrtime.bigint();
    for (const sw of state.switches.keys()) {
      const target = lab.controllerTargetFor(sw);
      if (!drivers.has(target)) drivers.set(target, await OvsDriver.start(target));
    }
    for (const sw of state.switches.values()) {
      try {
        await driverOf(sw.name).waitForSwitch(sw.datapathId, 15_000);
      } catch {
        throw new LabError(`Lab: switch ${sw.name} (dpid ${sw.datapathId}) did not connect to ${lab.controllerTargetFor(sw.name)} within 15000 ms`, 1);
      }
    }
    hooks.onConnected?.(Number((process.hrtime.bigint() - started) / 1_000_000n));
    const program = driverProgrammer(driverOf, hooks.onReconciled);
    return await fn(program);
  } finally {
    for (const d of drivers.values()) await d.close();
  }
}
