/**
 * `fabric lab up FILE --controller --ha N --store etcd://...`: N `fabric controller` processes for one
 * lab, sharing the etcd intent store and electing one leader (docs/ha.md, docs/lab.md). Each has its
 * own OpenFlow listen socket in the run directory of every OVS of the lab (`ctl-I.sock`), its own API
 * (`unix:<lab dir>/api-I.sock`, also its `--ha-id`, so a standby's 503 names a URL clients can use), the
 * others' sockets as `--peer-controller` (per switch, `SWITCH=URL`, in an overlay lab with one OVS per
 * node) and its own log (`controller-I.log`). All are recorded in the lab (`pids`, `controllerApis`,
 * `ha`), so `fabric lab down` stops them by pid.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { request } from '../cni/controller-client';
import { LabError } from './errors';
import { pidAlive, sleep } from './exec';
import type { Lab, LabRecord } from './lab';

/** what the lab record calls every controller process (one, or each of the HA ones) */
export const LAB_CONTROLLER_WHAT = 'fabric controller';

export interface HaLabOptions {
  /** 2-5 controllers */
  count: number;
  /** etcd://HOST:PORT[,HOST:PORT...][/PREFIX] */
  store: string;
  /** one API URL per controller (default unix:<lab dir>/api-I.sock) */
  apis?: string[];
  /** --lease-ttl of each controller (seconds; default: the controller's, 3) */
  leaseTtlS?: number;
  /** how long to wait for all of them up, one leading, every switch connected to each (default 60 s) */
  timeoutMs?: number;
}

export interface HaLabController {
  /** 1..N */
  index: number;
  pid: number;
  api: string;
  log: string;
  /** the OpenFlow address each switch connects to */
  listen: Record<string, string>;
}

/** One controller's GET /state as far as the lab cares (undefined: not reachable). */
export interface ControllerRole {
  role?: 'leader' | 'standby';
  leader?: string;
  switchesConnected?: number;
  switchesTotal?: number;
  lastTakeover?: Record<string, number>;
  storeRevision?: number;
}

/** The controllers' APIs a lab records: every HA controller's, else the one controller's. */
export function labControllerApis(record: LabRecord): string[] {
  if (record.controllerApis && record.controllerApis.length > 0) return [...record.controllerApis];
  return record.controllerApi ? [record.controllerApi] : [];
}

/** GET /state of one controller API, reduced to its HA role; undefined when it does not answer. */
export async function controllerRole(api: string, timeoutMs = 1000): Promise<ControllerRole | undefined> {
  try {
    const r = await request(api, 'GET', '/state', undefined, timeoutMs);
    if (r.status !== 200 || !r.json) return undefined;
    const s = r.json as { ha?: { role?: 'leader' | 'standby'; leader?: string; lastTakeover?: Record<string, number> }; switchesConnected?: number; switchesTotal?: number; store?: { revision?: number } };
    return {
      ...(s.ha?.role ? { role: s.ha.role } : {}),
      ...(s.ha?.leader ? { leader: s.ha.leader } : {}),
      ...(s.ha?.lastTakeover ? { lastTakeover: s.ha.lastTakeover } : {}),
      switchesConnected: s.switchesConnected,
      switchesTotal: s.switchesTotal,
      ...(s.store?.revision !== undefined ? { storeRevision: s.store.revision } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The OVS run directory a switch's bridge lives in (the lab's OVS, or the node's own in overlay labs). */
function runDirFor(lab: Lab, sw: string): string {
  return lab.ovsFor(sw).dir;
}

/** Controller I's OpenFlow listen target for switch `sw`: `unix:<run dir of its OVS>/ctl-I.sock`. */
export function haListenTarget(lab: Lab, sw: string | undefined, index: number): string {
  return `unix:${path.join(sw === undefined ? lab.ovs.dir : runDirFor(lab, sw), `ctl-${index}.sock`)}`;
}

/** The `fabric controller` arguments of HA controller `index` (1..count) of the lab. */
export function haControllerArgs(lab: Lab, index: number, count: number, store: string, api: string, leaseTtlS?: number): string[] {
  const nodeOvs = Object.keys(lab.record.nodeOvs ?? {});
  const args = ['--ovsdb', lab.ovs.dbUrl, '--listen', haListenTarget(lab, undefined, index)];
  for (const sw of nodeOvs) args.push('--ovsdb', `${sw}=${lab.ovsFor(sw).dbUrl}`, '--listen', `${sw}=${haListenTarget(lab, sw, index)}`);
  for (let j = 1; j <= count; j++) {
    if (j === index) continue;
    // one OVS: the peer's socket goes to every bridge; one OVS per node: each bridge gets the peer's
    // socket in its own OVS's run directory (SWITCH=URL)
    if (nodeOvs.length === 0) args.push('--peer-controller', haListenTarget(lab, undefined, j));
    else for (const sw of Object.keys(lab.record.bridges)) args.push('--peer-controller', `${sw}=${haListenTarget(lab, sw, j)}`);
  }
  args.push('--api', api, '--ha-id', api, '--store', store);
  if (leaseTtlS !== undefined) args.push('--lease-ttl', String(leaseTtlS));
  return args;
}

function tail(file: string, lines = 2): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/**
 * Start the lab's HA controllers in the background, one after the other (each once the previous one
 * serves its API), and wait until one leads (GET /state `ha.role`
 * leader with `ha.lastTakeover`) and every controller has every switch connected. Recorded in the lab
 * as they start (a failure leaves them in `pids`: the caller's `lab.down()` stops them).
 */
export async function startHaLabControllers(lab: Lab, file: string, fabricBin: string, o: HaLabOptions): Promise<{ controllers: HaLabController[]; leader: HaLabController; readyMs: number; storeRevision?: number }> {
  if (!Number.isInteger(o.count) || o.count < 2 || o.count > 5) throw new LabError(`lab up: --ha ${o.count}: give 2 to 5 controllers`);
  if (!/^etcd:\/\/[^/]+(\/.*)?$/.test(o.store)) throw new LabError(`lab up: --store ${o.store}: give etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (docs/ha.md)`);
  const apis = o.apis ?? Array.from({ length: o.count }, (_, i) => `unix:${path.join(lab.record.dir, `api-${i + 1}.sock`)}`);
  if (apis.length !== o.count) throw new LabError(`lab up: --ha ${o.count} wants ${o.count} API URLs (comma-separated --api), got ${apis.length}`);
  if (new Set(apis).size !== apis.length) throw new LabError(`lab up: the API URLs must differ: ${apis.join(', ')}`);
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? 60_000;
  const controllers: HaLabController[] = [];
  lab.record.controllerApis = apis;
  lab.record.controllerApi = apis[0];
  lab.record.ha = { store: o.store, ...(o.leaseTtlS !== undefined ? { leaseTtlS: o.leaseTtlS } : {}), controllers: [] };
  for (let i = 1; i <= o.count; i++) {
    const api = apis[i - 1];
    const log = path.join(lab.record.dir, `controller-${i}.log`);
    const fd = fs.openSync(log, 'a');
    try {
      const args = haControllerArgs(lab, i, o.count, o.store, api, o.leaseTtlS);
      const child = spawn(process.execPath, [fabricBin, 'controller', path.resolve(file), ...args, '--summary', '30'], { detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      if (!child.pid) throw new LabError(`Lab: could not start fabric controller ${i}`, 1);
      const listen: Record<string, string> = {};
      for (const sw of Object.keys(lab.record.bridges)) listen[sw] = haListenTarget(lab, sw, i);
      const c: HaLabController = { index: i, pid: child.pid, api, log, listen };
      controllers.push(c);
      lab.record.pids.push({ pid: child.pid, comm: path.basename(process.execPath), what: LAB_CONTROLLER_WHAT });
      lab.record.ha.controllers.push({ pid: c.pid, api: c.api, log: c.log });
      lab.save();
    } finally {
      fs.closeSync(fd);
    }
    // one at a time: a controller ensures every bridge (controller set, protocols) before it serves its
    // API; two doing it at once collide in OVSDB ("concurrent change"), which ensureBridge now retries,
    // but one at a time keeps each start's log readable; the next starts once this one answers GET /state
    const c = controllers[controllers.length - 1];
    for (;;) {
      if (!pidAlive(c.pid)) throw new LabError(`Lab: fabric controller ${c.index} (pid ${c.pid}) exited: ${tail(c.log)}`, 1);
      if (await controllerRole(c.api, 1000)) break;
      if (Date.now() - started > timeoutMs) throw new LabError(`Lab: fabric controller ${c.index} did not serve its API ${c.api} within ${timeoutMs / 1000} s (see ${c.log})`, 1);
      await sleep(100);
    }
  }
  let last = '';
  for (;;) {
    for (const c of controllers) {
      if (!pidAlive(c.pid)) throw new LabError(`Lab: fabric controller ${c.index} (pid ${c.pid}) exited: ${tail(c.log)}`, 1);
    }
    const roles = await Promise.all(controllers.map((c) => controllerRole(c.api, 1000)));
    const leaders = controllers.filter((_, k) => roles[k]?.role === 'leader' && roles[k]?.lastTakeover);
    const connected = roles.every((r) => r !== undefined && r.switchesTotal !== undefined && r.switchesConnected === r.switchesTotal);
    if (leaders.length === 1 && connected) {
      const k = controllers.indexOf(leaders[0]);
      return { controllers, leader: leaders[0], readyMs: Date.now() - started, ...(roles[k]?.storeRevision !== undefined ? { storeRevision: roles[k]!.storeRevision } : {}) };
    }
    last = controllers.map((c, k) => `${c.index}: ${roles[k] ? `${roles[k]!.role ?? 'no HA'}, switches ${roles[k]!.switchesConnected}/${roles[k]!.switchesTotal}` : 'no answer'}`).join('; ');
    if (Date.now() - started > timeoutMs) throw new LabError(`Lab: the HA controllers did not elect a leader with every switch connected within ${timeoutMs / 1000} s (${last}; see controller-N.log in ${lab.record.dir})`, 1);
    await sleep(200);
  }
}
