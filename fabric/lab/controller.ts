/**
 * The lab programmed over our own OpenFlow channel instead of ovs-ofctl: every bridge gets the
 * driver's target (`unix:` socket in the lab directory: it crosses network namespaces) as its
 * controller, the driver waits for each datapath id to connect, and each programming pass is a
 * reconcile (read, diff, one bundle) per switch. Also the background `fabric controller` of a lab
 * with several OVS processes (overlay), reached through `--ovsdb/--listen SWITCH=URL`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { OvsDriver, OvsPort, ReconcileReport, runPass } from '../ovsdriver';
import { ControlLoop } from '../../controller/loop';
import type { ClusterChange, ClusterState } from '../../topology/types';
import { LabError } from './errors';
import { pidAlive, sleep } from './exec';
import type { Lab } from './lab';
import type { Programmer } from './programmer';

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
  // our own connection is the readiness signal (Controller.is_connected lags: docs/real-ovs.md pitfall 3)
  for (const sw of state.switches.values()) {
    try {
      await driver.waitForSwitch(sw.datapathId, timeoutMs);
    } catch {
      throw new LabError(`Lab: switch ${sw.name} (dpid ${sw.datapathId}) did not connect to ${driver.target} within ${timeoutMs} ms`, 1);
    }
  }
  return Number((process.hrtime.bigint() - started) / 1_000_000n);
}

/**
 * A Programmer that runs the one control loop (controller/loop.ts) over OpenFlow: each call is a pass
 * that compiles (incrementally from the changes the caller hands over, as the play does for its
 * events; in full when it does not say what changed) and reads, diffs and reconciles every switch
 * (the loop's steering, set by its rebalancing rounds, compiles with it:
 * pins to flows at their hop switches, limits to pod meters). `loop` is that loop (after the first
 * call). `driverOf` gives the driver a switch connects to (several in overlay labs:
 * one per OVS).
 */
export function driverProgrammer(driverOf: OvsDriver | ((switchName: string) => OvsDriver), onReconciled?: (reports: ReconcileReport[]) => void): Programmer {
  const of = typeof driverOf === 'function' ? driverOf : () => driverOf;
  let loop: ControlLoop | undefined;
  let port: OvsPort | undefined;
  const program = async (_lab: Lab, state: ClusterState, changes?: readonly ClusterChange[]): Promise<void> => {
    if (!loop || loop.state !== state) {
      loop = new ControlLoop(state, { verify: 'always' });
      port = new OvsPort(state, of);
    } else if (changes) loop.stateChanged(changes);
    else loop.stateReplaced();
    for (const sw of state.switches.values()) {
      if (!port!.connection(sw.name)) await of(sw.name).waitForSwitch(sw.datapathId, 15_000);
      loop.switchConnected(sw.name);
    }
    const { reports } = await runPass(loop, port!, 'lab program');
    for (const sw of state.switches.keys()) if (!loop.plans?.has(sw)) throw new LabError(`Lab.program: the compiled plans have no switch ${sw}`, 1);
    onReconciled?.(reports);
  };
  // the loop that programs is the loop the play's rebalancing phase decides with (play.ts rebalancingLoop)
  Object.defineProperty(program, 'loop', { get: () => loop, enumerable: true });
  return program as Programmer;
}

/**
 * The `fabric controller` arguments that reach every bridge of the lab: its OVSDB and controller
 * socket, plus (overlay: one OVS per node) `SWITCH=URL` for each node switch's own OVS.
 */
export function labControllerArgs(lab: Lab): string[] {
  const args = ['--ovsdb', lab.ovs.dbUrl, '--listen', lab.controllerTarget];
  for (const sw of Object.keys(lab.record.nodeOvs ?? {})) {
    args.push('--ovsdb', `${sw}=${lab.ovsFor(sw).dbUrl}`, '--listen', `${sw}=${lab.controllerTargetFor(sw)}`);
  }
  // the API `fabric lab pod add` talks to (recorded before the controller starts)
  if (lab.record.controllerApi) args.push('--api', lab.record.controllerApi);
  return args;
}

/**
 * Start `fabric controller` for a lab with several OVS processes (overlay) in the background, recorded
 * in the lab as `fabric lab up --controller` records it (so `lab down` and stopLabController find it);
 * ready when its log shows a pass with every switch connected. Returns its pid.
 */
export async function startMultiOvsLabController(lab: Lab, file: string, fabricBin: string, timeoutMs = 20_000, api = `unix:${path.join(lab.record.dir, 'api.sock')}`): Promise<number> {
  const log = path.join(lab.record.dir, 'controller.log');
  const fd = fs.openSync(log, 'a');
  lab.record.controllerApi = api;
  try {
    const child = spawn(process.execPath, [fabricBin, 'controller', path.resolve(file), ...labControllerArgs(lab), '--summary', '30'], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new LabError('Lab: could not start fabric controller', 1);
    lab.record.pids.push({ pid: child.pid, comm: path.basename(process.execPath), what: 'fabric controller' });
    lab.save();
    for (let waited = 0; waited < timeoutMs; waited += 100) {
      const text = fs.readFileSync(log, 'utf8');
      if (/"event":"converged".*"connected":(\d+),"total":\1/.test(text)) return child.pid;
      if (!pidAlive(child.pid)) throw new LabError(`Lab: fabric controller exited: ${text.trim().split('\n').slice(-2).join(' | ')}`, 1);
      await sleep(100);
    }
    throw new LabError(`Lab: fabric controller did not converge within ${timeoutMs / 1000} s (see controller.log in the lab directory)`, 1);
  } finally {
    fs.closeSync(fd);
  }
}
