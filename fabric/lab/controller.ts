/**
 * The lab programmed over our own OpenFlow channel instead of ovs-ofctl: every bridge gets the
 * driver's target (`unix:` socket in the lab directory: it crosses network namespaces) as its
 * controller, the driver waits for each datapath id to connect, and each programming pass is a
 * reconcile (read, diff, one bundle) per switch.
 */
import { OvsDriver, ReconcileReport } from '../ovsdriver';
import type { ClusterState } from '../../topology/types';
import { LabError } from './errors';
import type { Lab } from './lab';
import type { Programmer } from './play';
import type { Compiler } from './program';

export function labControllerSocket(lab: Lab): string {
  return lab.controllerTarget.slice('unix:'.length);
}

/** Point every bridge at the driver and wait until each switch has connected. */
export async function connectLab(lab: Lab, driver: OvsDriver, state: ClusterState, timeoutMs = 15_000): Promise<number> {
  const started = process.hrtime.bigint();
  // the lab's bridges point at its controller socket from the start (lab.ts: adding a first controller
  // would flush their flows); another target is set only when a driver listens elsewhere
  const tx: string[] = [];
  for (const br of Object.values(lab.record.bridges)) {
    if (lab.ovs.vsctl('get-controller', br).trim() !== driver.target) tx.push('--', 'set-controller', br, driver.target);
  }
  if (tx.length > 0) lab.ovs.vsctl(...tx);
  // our own connection is the readiness signal (Controller.is_connected lags: LAB-NOTES pitfall 3)
  for (const sw of state.switches.values()) {
    try {
      await driver.waitForSwitch(sw.datapathId, timeoutMs);
    } catch {
      throw new LabError(`Lab: switch ${sw.name} (dpid ${sw.datapathId}) did not connect to ${driver.target} within ${timeoutMs} ms`, 1);
    }
  }
  return Number((process.hrtime.bigint() - started) / 1_000_000n);
}

/** A Programmer that compiles the cluster and reconciles every switch over OpenFlow. */
export function driverProgrammer(driver: OvsDriver, compile: Compiler, onReconciled?: (reports: ReconcileReport[]) => void): Programmer {
  return async (_lab, state) => {
    const plans = compile(state);
    const reports: ReconcileReport[] = [];
    for (const sw of state.switches.values()) {
      const conn = driver.connection(sw.datapathId) ?? (await driver.waitForSwitch(sw.datapathId, 15_000));
      const plan = plans.get(sw.name);
      if (!plan) throw new LabError(`Lab.program: the compiled plans have no switch ${sw.name}`, 1);
      reports.push(await driver.reconcileSwitch(conn, plan));
    }
    onReconciled?.(reports);
  };
}
