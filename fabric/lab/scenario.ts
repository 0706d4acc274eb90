/**
 * A lab for a scenario file: load and resolve the scenario, build its lab, program it, play it, tear
 * it down. The lab id defaults to a hash of the scenario name, so `fabric lab up` and `fabric lab down`
 * of the same file meet the same lab from different processes, and a lab of another scenario (or
 * another `--name`) coexists.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { pidAlive, stopPid } from './exec';
import { applyEvent, buildClusterState, formatDiagnostic, parseScenarioFile } from '../../topology';
import type { ClusterState, Scenario } from '../../topology/types';
import { LabError } from './errors';
import { agentPortsFor, Lab, LabBuilder, readLabRecord, teardownLab, validateLabId } from './lab';
import { LabReport, playScenario, PlayOptions, Programmer } from './play';
import { Programming, ProgrammingHooks, withProgrammer } from './compile';

export interface LoadedScenario {
  scenario: Scenario;
  state: ClusterState;
}

export function loadScenario(file: string): LoadedScenario {
  const parsed = parseScenarioFile(file);
  if (!parsed.scenario) {
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    throw new LabError(errors.length ? errors.map(formatDiagnostic).join('\n') : `${file}: not a valid scenario`);
  }
  try {
    return { scenario: parsed.scenario, state: buildClusterState(parsed.scenario) };
  } catch (err) {
    throw new LabError(`${file}: ${(err as Error).message}`);
  }
}

/** Default lab id of a scenario: 8 hex digits of sha256(name). */
export function labIdFor(scenarioName: string): string {
  return createHash('sha256').update(scenarioName).digest('hex').slice(0, 8);
}

/** Every TCP port the scenario may connect to: services (also those added by events) and explicit expectation ports. */
export function scenarioPorts(scenario: Scenario): number[] {
  const ports: number[] = [];
  // TCP services only: a UDP service's pods run their own server there (the cluster DNS on 53)
  for (const s of scenario.services) if (s.protocol === 'tcp') ports.push(s.targetPort);
  for (const ev of scenario.events) if (ev.kind === 'service' && ev.action === 'add' && ev.service.protocol === 'tcp') ports.push(ev.service.targetPort);
  for (const e of scenario.expect) {
    const ep = e.kind === 'reach' ? e.reach : e.kind === 'noReach' ? e.noReach : e.kind === 'egress' ? e.egress : undefined;
    if (ep?.port !== undefined) ports.push(ep.port);
  }
  return ports;
}

export interface ScenarioLabOptions {
  id?: string;
  baseDir?: string;
  /** how bridges are programmed: our OpenFlow channel (default), ovs-ofctl, or a given Programmer */
  program?: Programming | Programmer;
  hooks?: ProgrammingHooks;
  /** who builds the network: plain namespaces and veths (default) or Mininet's Python API */
  builder?: LabBuilder;
  /** false: no userspace TSO, tx offload off on every veth (routed labs use TSO by default) */
  tso?: boolean;
}

/** Build and program the lab of a scenario (tearing down an earlier lab of the same id first). */
export async function scenarioLabUp(file: string, options: ScenarioLabOptions): Promise<{ lab: Lab; loaded: LoadedScenario }> {
  const loaded = loadScenario(file);
  const id = validateLabId(options.id ?? labIdFor(loaded.scenario.name));
  const lab = await Lab.up(loaded.state, { id, baseDir: options.baseDir, scenarioFile: file, extraPorts: scenarioPorts(loaded.scenario), builder: options.builder, tso: options.tso });
  try {
    await withProgrammer(lab, loaded.state, options.program ?? 'openflow', async (program) => program(lab, loaded.state), options.hooks);
  } catch (err) {
    await lab.down();
    throw err;
  }
  return { lab, loaded };
}

/**
 * Play the scenario on its lab: reuses a lab that is up, not yet played and built the same way, else
 * builds a fresh one (events change the lab, so a played lab is rebuilt). `keep` leaves the lab up
 * afterwards. With the Mininet builder, events go through Mininet (links, pod hosts).
 */
export async function scenarioLabTest(file: string, options: ScenarioLabOptions & PlayOptions & { keep?: boolean }): Promise<LabReport> {
  const loaded = loadScenario(file);
  const id = validateLabId(options.id ?? labIdFor(loaded.scenario.name));
  const existing = readLabRecord(id, options.baseDir);
  let lab: Lab;
  const sameBuild =
    existing &&
    !existing.played &&
    existing.scenario === loaded.scenario.name &&
    (existing.builder ?? 'plain') === (options.builder ?? 'plain') &&
    (existing.tso ?? false) === (loaded.state.cluster.mode !== 'overlay' && options.tso !== false) &&
    agentPortsFor(loaded.state, scenarioPorts(loaded.scenario)).join() === existing.agentPorts.join();
  if (sameBuild) {
    lab = Lab.open(id, options.baseDir);
    // a background controller would fight the play's own programmer for the controller socket
    await stopLabController(lab);
  } else {
    lab = (await scenarioLabUp(file, options)).lab;
  }
  try {
    lab.record.played = true;
    lab.save();
    return await withProgrammer(
      lab,
      loaded.state,
      options.program ?? 'openflow',
      async (program) => {
        // a reused lab was programmed by another process: make sure it holds the plan (no-op when it does)
        await program(lab, loaded.state);
        return playScenario(lab, loaded.scenario, loaded.state, program, { applyEvent }, options);
      },
      options.hooks,
    );
  } finally {
    if (!options.keep) await lab.down();
  }
}

export async function scenarioLabDown(file: string, options: { id?: string; baseDir?: string } = {}): Promise<{ id: string; namespaces: number; processes: number }> {
  let id = options.id;
  if (!id) id = labIdFor(loadScenario(file).scenario.name);
  const r = await teardownLab(validateLabId(id), options.baseDir);
  return { id, ...r };
}

/** Where `fabric lab up --controller` serves the controller's API unless `--api` says: `unix:<lab dir>/api.sock`. */
export function defaultLabApi(lab: Lab): string {
  return `unix:${path.join(lab.record.dir, 'api.sock')}`;
}

/** The lab's recorded controller process (`fabric lab up --controller`), if any. */
const CONTROLLER_WHAT = 'fabric controller';

/**
 * Start `fabric controller` for the lab in the background (root namespace; it reaches the lab's OVSDB
 * and bridges through unix sockets), recorded in the lab so `down` stops it by pid. Returns its pid.
 */
export async function startLabController(lab: Lab, file: string, fabricBin: string, api = defaultLabApi(lab)): Promise<number> {
  const log = path.join(lab.record.dir, 'controller.log');
  const fd = fs.openSync(log, 'a');
  try {
    const child = spawn(process.execPath, [fabricBin, 'controller', path.resolve(file), '--ovsdb', lab.ovs.dbUrl, '--listen', lab.controllerTarget, '--api', api, '--summary', '30'], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    if (!child.pid) throw new LabError('Lab: could not start fabric controller', 1);
    lab.record.pids.push({ pid: child.pid, comm: path.basename(process.execPath), what: CONTROLLER_WHAT });
    lab.record.controllerApi = api;
    lab.save();
    // ready when it logged its first convergence with every switch connected
    for (let waited = 0; waited < 20_000; waited += 100) {
      const text = fs.readFileSync(log, 'utf8');
      if (/"event":"converged".*"connected":(\d+),"total":\1/.test(text)) return child.pid;
      if (!pidAlive(child.pid)) throw new LabError(`Lab: fabric controller exited: ${text.trim().split('\n').slice(-2).join(' | ')}`, 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new LabError('Lab: fabric controller did not converge within 20 s (see controller.log in the lab directory)', 1);
  } finally {
    fs.closeSync(fd);
  }
}

/** Stop the lab's background controller (before another programmer takes the controller socket). */
export async function stopLabController(lab: Lab): Promise<boolean> {
  // every one of them: `--ha N` records N
  const entries = lab.record.pids.filter((p) => p.what === CONTROLLER_WHAT);
  if (entries.length === 0) return false;
  for (const entry of entries) await stopPid(entry.pid, entry.comm);
  lab.record.pids = lab.record.pids.filter((p) => !entries.includes(p));
  delete lab.record.controllerApi;
  delete lab.record.controllerApis;
  delete lab.record.ha;
  lab.save();
  return true;
}
