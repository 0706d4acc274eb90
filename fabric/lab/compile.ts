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
  const driver = await OvsDriver.start(`unix:${labControllerSocket(lab)}`);
  try {
    const ms = await connectLab(lab, driver, state);
    hooks.onConnected?.(ms);
    return await fn(driverProgrammer(driver, compilePlans, hooks.onReconciled));
  } finally {
    await driver.close();
  }
}
