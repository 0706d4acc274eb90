/**
 * The controller daemon (`fabric controller FILE --ovsdb URL --listen URL` is its command line: flags
 * -> this daemon -> a printed summary): the one control loop (controller/loop.ts, through
 * LiveController) against real Open vSwitch. Ensures
 * every switch of the scenario exists as a bridge (OVSDB: netdev datapath, OpenFlow 1.3,
 * fail_mode=secure, datapath id from the cluster state, our listen address as controller target),
 * accepts the switches' OpenFlow connections, installs the compiled pipeline by reconcile, and
 * recompiles/reconciles when a port status changes a link's liveness. The OVSDB session reconnects
 * (100 ms..1 s backoff) and every bridge is ensured again after a reconnect, so a restarted
 * ovsdb-server, or a bridge edited while we were away, is brought back. Logs are JSON lines on stderr;
 * a summary line (switches connected, flows per switch, last convergence) every --summary seconds.
 *
 * Several OVS processes (overlay labs: one per node): `--ovsdb` and `--listen` repeat, each `URL` (the
 * default) or `SWITCH=URL`; one OVSDB session per distinct URL, one OpenFlow server listening on every
 * address, and each bridge's controller target is the listen address in its OVS's run directory
 * (resolveSwitchTargets).
 *
 * The scenario file is watched: an edit is re-parsed (errors logged as file:line:col, the old state
 * kept), diffed into pod/service/link events (fabric/lab/scenario-diff.ts: a link removed from the file
 * goes down, one restored comes up), checked on a copy of the state, applied, and followed by a
 * recompile/reconcile pass (`scenario-reloaded` log line with the counts). An edit that cannot apply
 * live (new nodes, switches, links that never existed, ...) or whose events fail the check is refused
 * whole (`scenario-reload-refused`, with the reasons). `--api URL` serves GET /metrics, GET /state and
 * POST /events (fabric/controller-api.ts; docs/controller.md). Runs until SIGINT/SIGTERM.
 *
 * Intent (docs/ha.md): every accepted change (API batch, file edit) is appended to the intent store
 * (fabric/store: memory, `--state-dir` log, or etcd) before it is applied and acknowledged, and the
 * store is replayed over the scenario file on start, before any switch connects. With an etcd store
 * the controller takes part in an election (fabric/ha): a standby follows the store by watch and never
 * writes; the leader holds the OpenFlow MASTER role with its generation id.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OvsDriver, LiveController } from './ovsdriver';
import { OvsdbClient } from './ovsdb';
import { ensureBridge } from './vswitch';
import { applyEvent as applyTopologyEvent, cloneClusterState, formatDiagnostic, parseScenarioFile } from '../topology';
import type { ScenarioEvent } from '../topology/types';
import { loadScenario } from './lab/scenario';
import { diffCounts, diffScenarioEdit } from './lab/scenario-diff';
import { EventsRejectedError, parseApiListen, startControllerApi } from './controller-api';
import type { ApplyResult, ControllerApi, ControllerSnapshot } from './controller-api';
import { EtcdStore, openStore } from './store';
import type { IntentStore, StoredBatch } from './store';
import { HaCoordinator } from './ha';

/** Bad options (exit 2). */
export class ControllerUsageError extends Error {
  readonly exitCode = 2;
}

/** Where each switch's bridge lives (OVSDB) and which of our listen addresses its controller target is. */
export interface SwitchTargets {
  /** switch -> OVSDB URL */
  ovsdbOf: Map<string, string>;
  /** switch -> the listen address (one of `listens`) its bridge connects to */
  listenOf: Map<string, string>;
  /** distinct OVSDB URLs, in the order given */
  ovsdbs: string[];
  /** distinct listen addresses, in the order given */
  listens: string[];
}

const NAMED = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)$/;

function splitSpecs(flag: string, specs: readonly string[], switches: ReadonlySet<string>): { named: Map<string, string>; plain: string[] } {
  const named = new Map<string, string>();
  const plain: string[] = [];
  for (const spec of specs) {
    const m = NAMED.exec(spec);
    if (!m) {
      if (!plain.includes(spec)) plain.push(spec);
      continue;
    }
    const [, sw, url] = m;
    if (!switches.has(sw)) throw new ControllerUsageError(`${flag} ${spec}: the scenario has no switch ${sw} (switches: ${[...switches].join(', ')})`);
    if (named.has(sw) && named.get(sw) !== url) throw new ControllerUsageError(`${flag}: switch ${sw} is given twice (${named.get(sw)} and ${url})`);
    named.set(sw, url);
  }
  return { named, plain };
}

/** The run directory of a unix: URL (vswitchd connects only to unix sockets in its own run dir). */
function unixDir(url: string): string | undefined {
  const m = /^p?unix:(.+)$/.exec(url);
  return m ? path.dirname(path.resolve(m[1])) : undefined;
}

/**
 * Resolve `--ovsdb` and `--listen`, each given once or more as `URL` or `SWITCH=URL`. OVSDB: a switch
 * named in `SWITCH=URL` uses that URL, every other switch the one plain URL (two plain URLs are
 * ambiguous). Listen: a named switch uses its URL; else the plain `unix:` address in the same directory
 * as the switch's `unix:` OVSDB (its OVS's run directory), else the first plain address.
 */
export function resolveSwitchTargets(switchNames: readonly string[], ovsdb: string | readonly string[], listen: string | readonly string[]): SwitchTargets {
  const switches = new Set(switchNames);
  const o = splitSpecs('--ovsdb', typeof ovsdb === 'string' ? [ovsdb] : ovsdb, switches);
  const l = splitSpecs('--listen', typeof listen === 'string' ? [listen] : listen, switches);
  if (o.plain.length > 1) throw new ControllerUsageError(`--ovsdb: more than one default URL (${o.plain.join(', ')}): give the others as SWITCH=URL`);
  const ovsdbOf = new Map<string, string>();
  const listenOf = new Map<string, string>();
  for (const sw of switchNames) {
    const db = o.named.get(sw) ?? o.plain[0];
    if (!db) throw new ControllerUsageError(`switch ${sw} has no OVSDB: give --ovsdb URL (for every switch not named) or --ovsdb ${sw}=URL`);
    ovsdbOf.set(sw, db);
    const dir = unixDir(db);
    const target = l.named.get(sw) ?? (dir !== undefined ? l.plain.find((u) => unixDir(u) === dir) : undefined) ?? l.plain[0];
    if (!target) throw new ControllerUsageError(`switch ${sw} has no OpenFlow listen address: give --listen URL or --listen ${sw}=URL`);
    listenOf.set(sw, target);
  }
  const distinct = (xs: Iterable<string>): string[] => [...new Set(xs)];
  return { ovsdbOf, listenOf, ovsdbs: distinct([...o.plain, ...o.named.values()].filter((u) => [...ovsdbOf.values()].includes(u))), listens: distinct([...l.plain, ...l.named.values()]) };
}

export interface RunningController {
  controller: LiveController;
  driver: OvsDriver;
  /** the OVSDB session of the first URL (the only one with a single --ovsdb) */
  ovsdb: OvsdbClient;
  /** every OVSDB session, by URL */
  ovsdbs: ReadonlyMap<string, OvsdbClient>;
  /** switch -> its OVSDB URL and the controller target its bridge got */
  switchTargets: Record<string, { ovsdb: string; controller: string }>;
  /** OVSDB sessions lost and re-established, and bridges changed by the re-ensure after each (all sessions) */
  ovsdbStats: { disconnects: number; reconnects: number; bridgesRepaired: number };
  /** resolves when the bridge re-ensures started by the last OVSDB reconnects are done */
  ovsdbIdle(): Promise<void>;
  /** live edits of the scenario file: reloads applied, failed (parse or build errors) and refused (cannot apply live) */
  reloadStats: { reloads: number; failures: number; refused: number };
  /** re-read the scenario file now (the watcher calls it after a change; tests may call it directly) */
  reload(): Promise<void>;
  /**
   * Apply events now, all or nothing (checked first on a copy of the state: EventsRejectedError, nothing
   * applied), then wait for the reconcile pass that includes them. POST /events calls this.
   */
  applyEvents(events: ScenarioEvent[], receivedAtNs?: bigint): Promise<ApplyResult>;
  /** what GET /state returns */
  snapshot(): ControllerSnapshot;
  /** the local API, when started with `api` */
  api?: ControllerApi;
  /** the intent store (memory, the --state-dir log, or etcd) and the last revision applied from it */
  store: IntentStore;
  storeRevision(): number;
  /** with an etcd store: the election and OpenFlow roles (fabric/ha) */
  ha?: HaCoordinator;
  stop(): Promise<void>;
}

export interface ControllerOptions {
  /** `URL` or `SWITCH=URL`, once or more (resolveSwitchTargets) */
  ovsdb: string | readonly string[];
  /** `URL` or `SWITCH=URL`, once or more (resolveSwitchTargets) */
  listen: string | readonly string[];
  datapathType?: string;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** watch the scenario file for live edits (default true) and the debounce after a change */
  watch?: boolean;
  watchDebounceMs?: number;
  /** serve GET /metrics, GET /state, POST /events at unix:PATH or tcp:PORT[:ADDR] */
  api?: string;
  /** poll every switch's OpenFlow port statistics this often (the links' load; default 1000 ms, 0: never) */
  statsIntervalMs?: number;
  /** the embedded intent store's directory (an fsync'ed log; fabric/store/log.ts); absent: in memory */
  stateDir?: string;
  /** `etcd://HOST:PORT[,...][/PREFIX]`: the shared intent store, and HA (election, OpenFlow roles) */
  store?: string;
  /** HA: lease TTL (s, default 3) and this controller's identity (default its --api URL, else host:pid) */
  ha?: { ttlS?: number; identity?: string };
  /** more controller targets every bridge gets besides ours (HA: the other controllers' listen addresses) */
  peerControllers?: readonly string[];
}

function elapsedMsSince(startNs: bigint): number {
  return Number((process.hrtime.bigint() - startNs) / 1000n) / 1000;
}

/** Start the controller (the command's body, usable in-process by tests and the lab). */
export async function startController(file: string, options: ControllerOptions): Promise<RunningController> {
  const loaded = loadScenario(file);
  const { state } = loaded;
  const built = loaded.scenario;
  let current = loaded.scenario;
  const log = options.log ?? (() => undefined);
  const targets = resolveSwitchTargets([...state.switches.keys()], options.ovsdb, options.listen);
  if (options.api !== undefined) parseApiListen(options.api); // a bad --api fails before anything starts
  const driver = await OvsDriver.start(targets.listens);
  const controllerTargetOf = (sw: string): string => driver.targets[targets.listens.indexOf(targets.listenOf.get(sw)!)];
  const clients = new Map<string, OvsdbClient>();
  let api: ControllerApi | undefined;
  let store: IntentStore | undefined;
  let ha: HaCoordinator | undefined;
  try {
    for (const url of targets.ovsdbs) clients.set(url, await OvsdbClient.connect(url, { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }));
    // the one control loop: every state change (port status, live edit, API batch) goes through it,
    // so a pass compiles incrementally from the previous plan with the changes since
    const controller = new LiveController(driver, state, log);
    // the scenario's traffic: the demands the rebalancer steers, moves and meters (measured by port counters)
    controller.loop.declareDemands(built.traffic);
    controller.pollEvery(options.statsIntervalMs ?? 1000);
    // the intent store: every accepted change is stored before it is applied; replayed here over the
    // scenario file before any switch connects (a batch that no longer applies is skipped and logged)
    const intent = (store = openStore({ store: options.store, stateDir: options.stateDir, onTorn: (bytes) => log('store-torn-record-dropped', { bytes }) }));
    let storeRevision = 0;
    const applyStored = (b: StoredBatch): void => {
      if (b.revision <= storeRevision) return;
      const checked = checkBatch(state, b.events);
      if (checked.failed) log('store-batch-skipped', { revision: b.revision, source: b.source, index: checked.failed.index, error: checked.failed.message });
      else controller.applyEvents(checked.events);
      storeRevision = b.revision;
    };
    const stored = await intent.load();
    for (const b of stored.batches) applyStored(b);
    log('store-replayed', { store: intent.describe, revision: stored.revision, batches: stored.batches.length });
    if (intent instanceof EtcdStore) {
      ha = new HaCoordinator({
        store: intent,
        driver,
        controller,
        identity: options.ha?.identity ?? options.api ?? `${os.hostname()}:${process.pid}`,
        ttlS: options.ha?.ttlS,
        log,
        catchUp: () =>
          serial(async () => {
            for (const b of (await intent.load()).batches) applyStored(b);
          }),
      });
    }
    log('listening', { target: driver.target, targets: driver.targets, ovsdb: targets.ovsdbs.length === 1 ? targets.ovsdbs[0] : targets.ovsdbs });
    const switchTargets: RunningController['switchTargets'] = {};
    for (const sw of state.switches.keys()) switchTargets[sw] = { ovsdb: targets.ovsdbOf.get(sw)!, controller: controllerTargetOf(sw) };
    const ensureOn = async (url: string): Promise<number> => {
      const client = clients.get(url)!;
      let changed = 0;
      for (const sw of state.switches.values()) {
        if (targets.ovsdbOf.get(sw.name) !== url) continue;
        const r = await ensureBridge(client, {
          name: sw.name,
          datapathType: options.datapathType ?? 'netdev',
          datapathId: sw.datapathId,
          controller: options.peerControllers?.length ? [controllerTargetOf(sw.name), ...options.peerControllers] : controllerTargetOf(sw.name),
          protocols: ['OpenFlow13'],
          failMode: 'secure',
          externalIds: { 'fabric-switch': sw.name },
        });
        if (r.changed) changed++;
        log('bridge', { switch: sw.name, datapathId: sw.datapathId, changed: r.changed, ...(clients.size > 1 ? { ovsdb: url } : {}) });
      }
      return changed;
    };
    for (const url of clients.keys()) await ensureOn(url);
    const ovsdbStats = { disconnects: 0, reconnects: 0, bridgesRepaired: 0 };
    const ensuring = new Map<string, Promise<void>>();
    for (const [url, client] of clients) {
      ensuring.set(url, Promise.resolve());
      const where = clients.size > 1 ? { ovsdb: url } : {};
      client.on('disconnect', (reason: Error) => {
        ovsdbStats.disconnects++;
        log('ovsdb-disconnected', { reason: reason?.message ?? String(reason), ...where });
      });
      client.on('reconnect', () => {
        ovsdbStats.reconnects++;
        log('ovsdb-reconnected', where);
        // re-ensure after the previous pass; a failure (the server gone again) waits for the next reconnect
        ensuring.set(
          url,
          ensuring
            .get(url)!
            .then(() => ensureOn(url))
            .then((n) => {
              ovsdbStats.bridgesRepaired += n;
            })
            .catch((err: unknown) => log('ovsdb-ensure-failed', { error: err instanceof Error ? err.message : String(err), ...where })),
        );
      });
    }

    // every change of the state from outside (file edits, API batches) runs one at a time
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const run = queue.then(fn, fn);
      queue = run.catch(() => undefined);
      return run;
    };
    /** Check the whole batch against a copy of the state: the first failing event's message, or undefined. */
    const dryRun = (events: readonly ScenarioEvent[]): { index: number; message: string } | undefined => {
      const copy = cloneClusterState(state);
      for (const [index, ev] of events.entries()) {
        try {
          applyTopologyEvent(copy, ev);
        } catch (err) {
          return { index, message: (err as Error).message };
        }
      }
      return undefined;
    };
    /** Apply a checked batch: link events as an operator's (ports can't undo them), the rest as is. */
    const applyChecked = (events: readonly ScenarioEvent[]): number => controller.applyEvents(events).length;

    const reloadStats = { reloads: 0, failures: 0, refused: 0 };
    const reloadOnce = async (): Promise<void> => {
      let parsed;
      try {
        parsed = parseScenarioFile(file);
      } catch (err) {
        reloadStats.failures++;
        log('scenario-reload-failed', { file, errors: [(err as Error).message] });
        return;
      }
      if (!parsed.scenario) {
        reloadStats.failures++;
        const errors = parsed.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
        log('scenario-reload-failed', { file, errors: errors.length ? errors : [`${file}: not a valid scenario`] });
        return;
      }
      const next = parsed.scenario;
      const edit = diffScenarioEdit(built, current, next);
      const failed = dryRun(edit.events);
      if (edit.refused.length > 0 || failed) {
        reloadStats.refused++;
        const reasons = edit.refused.length > 0 ? edit.refused : [`${describeEvent(edit.events[failed!.index])}: ${failed!.message}`];
        log('scenario-reload-refused', { file, reasons, note: 'nothing applied; the running state is kept (restart the controller for these changes)' });
        return;
      }
      const pinned = checkBatch(state, edit.events).events;
      if (pinned.length > 0) {
        try {
          storeRevision = await intent.append({ source: 'file', events: pinned, at: new Date().toISOString() });
        } catch (err) {
          reloadStats.failures++;
          log('scenario-reload-failed', { file, errors: [`intent store: ${(err as Error).message}`] });
          return;
        }
      }
      const changes = applyChecked(pinned);
      current = next;
      controller.loop.declareDemands(next.traffic);
      reloadStats.reloads++;
      log('scenario-reloaded', { file, ...diffCounts(edit.events), applied: edit.events.length, changes });
      if (edit.events.length > 0) await controller.schedule();
    };
    const reload = (): Promise<void> => serial(reloadOnce);

    const apiCounters = { requests: 0, eventsApplied: 0, batchesRejected: 0 };
    const applyEvents = (events: ScenarioEvent[], receivedAtNs = process.hrtime.bigint()): Promise<ApplyResult> =>
      serial(async () => {
        const checked = checkBatch(state, events);
        const failed = checked.failed;
        if (failed) {
          log('events-rejected', { index: failed.index, error: failed.message, events: events.length });
          throw new EventsRejectedError(`event ${failed.index} (${describeEvent(events[failed.index])}): ${failed.message}; nothing applied`, failed.index);
        }
        // durable before it is applied and acknowledged (a NotLeaderError on an HA standby: 503)
        const revision = await intent.append({ source: 'api', events: checked.events, at: new Date().toISOString() });
        storeRevision = revision;
        const changes = applyChecked(checked.events);
        const passesBefore = controller.stats.passes;
        await controller.schedule();
        await controller.idle();
        const result: ApplyResult = {
          applied: events.length,
          changes,
          reconciledMs: elapsedMsSince(receivedAtNs),
          convergenceMs: controller.stats.lastConvergenceMs,
          passes: controller.stats.passes - passesBefore,
          switchesConnected: controller.stats.switchesConnected,
          switchesTotal: controller.stats.switchesTotal,
          revision,
        };
        log('events-applied', { ...result, events: events.map(describeEvent) });
        return result;
      });

    const snapshot = (): ControllerSnapshot => {
      const s = controller.stats;
      return {
        scenario: state.scenario,
        file,
        switchesConnected: s.switchesConnected,
        switchesTotal: s.switchesTotal,
        switches: [...state.switches.values()].map((sw) => ({
          name: sw.name,
          datapathId: sw.datapathId,
          connected: driver.connection(sw.datapathId) !== undefined,
          ...(s.flowsBySwitch[sw.name] !== undefined ? { flows: s.flowsBySwitch[sw.name] } : {}),
          ovsdb: switchTargets[sw.name].ovsdb,
          controller: switchTargets[sw.name].controller,
        })),
        ...(s.lastConvergenceMs !== undefined ? { lastConvergenceMs: s.lastConvergenceMs } : {}),
        ...(s.lastConvergedAtMs !== undefined ? { lastConvergedAt: new Date(s.lastConvergedAtMs).toISOString() } : {}),
        passes: s.passes,
        opsSent: s.opsSent,
        linksDown: [...s.linksDown],
        linksAdminDown: controller.linksAdminDown,
        reloads: { applied: reloadStats.reloads, failed: reloadStats.failures, refused: reloadStats.refused },
        ovsdb: { ...ovsdbStats },
        api: { ...apiCounters },
        store: { describe: intent.describe, revision: storeRevision },
        ...(ha ? { ha: ha.snapshot() } : {}),
        pods: [...state.pods.values()].map((p) => ({ name: p.name, node: p.node, ip: p.ip, labels: { ...p.labels }, mac: p.mac, port: state.switches.get(p.node)?.ports.find((q) => q.kind === 'pod' && q.pod === p.name)?.port })),
        services: [...state.services.values()].map((v) => ({ name: v.name, vip: v.vip, port: v.port, targetPort: v.targetPort, protocol: v.protocol, endpoints: [...v.endpoints] })),
        links: [...state.links.values()].map((l) => ({ id: l.id, up: l.up, gbps: l.gbps })),
        nodes: [...state.nodes.values()].map((n) => ({ name: n.name, ip: n.ip, podCidr: n.podCidr, up: n.up })),
        load: {
          polls: controller.loop.load.polls,
          windowS: controller.loop.load.windowS,
          ports: controller.loop.load.portRates().map((p) => ({ switch: p.switch, port: p.port, txBps: p.txGbps * 1e9, rxBps: p.rxGbps * 1e9 })),
          links: controller.loop.load.linkUtilization().map((l) => ({ link: l.link, bps: l.gbps * 1e9, capacityGbps: l.capacityGbps, utilization: l.utilization })),
        },
        rebalance: {
          policies: [...state.cluster.rebalance],
          ...controller.loop.rebalanceStats,
          limits: controller.loop.limits,
          pinned: Object.fromEntries([...controller.loop.pinnedPaths].map(([id, path]) => [id, path.join(',')])),
          ...(state.steering?.weights ? { bucketWeights: state.steering.weights } : {}),
        },
      };
    };

    if (options.api !== undefined) {
      api = await startControllerApi(options.api, { snapshot, applyEvents }, apiCounters);
      log('api-listening', { url: api.url });
    }

    let debounce: NodeJS.Timeout | undefined;
    const onChange = (cur: fs.Stats, prev: fs.Stats): void => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        void reload();
      }, options.watchDebounceMs ?? 100);
    };
    const watching = options.watch ?? true;
    if (watching) fs.watchFile(file, { interval: 100 }, onChange);
    // a shared store: batches stored by the leader reach this controller (a standby's state stays current)
    const unwatchStore = intent instanceof EtcdStore ? intent.watch(storeRevision, (b) => void serial(async () => applyStored(b))) : undefined;
    ha?.start();
    const running: RunningController = {
      controller,
      driver,
      ovsdb: clients.get(targets.ovsdbs[0])!,
      ovsdbs: clients,
      switchTargets,
      ovsdbStats,
      ovsdbIdle: async () => {
        await Promise.all([...ensuring.values()]);
      },
      reloadStats,
      reload,
      applyEvents,
      snapshot,
      api,
      store: intent,
      storeRevision: () => storeRevision,
      ha,
      stop: async () => {
        controller.pollEvery(0);
        if (watching) fs.unwatchFile(file, onChange);
        if (debounce) clearTimeout(debounce);
        unwatchStore?.();
        await api?.close();
        await ha?.stop();
        await queue;
        await driver.close();
        for (const c of clients.values()) await c.close();
        await intent.close();
      },
    };
    return running;
  } catch (err) {
    await api?.close();
    await ha?.stop();
    await driver.close();
    for (const c of clients.values()) await c.close();
    await store?.close();
    throw err;
  }
}

/**
 * Check a batch on a copy of the state (the first failing event, or none) and pin what the state
 * chose for it: a pod added without an IP gets the one it was given, so replaying the stored batch
 * gives the pod the same address.
 */
export function checkBatch(state: Parameters<typeof cloneClusterState>[0], events: readonly ScenarioEvent[]): { failed?: { index: number; message: string }; events: ScenarioEvent[] } {
  const copy = cloneClusterState(state);
  const pinned: ScenarioEvent[] = [];
  for (const [index, ev] of events.entries()) {
    try {
      applyTopologyEvent(copy, ev);
    } catch (err) {
      return { failed: { index, message: (err as Error).message }, events: [...events] };
    }
    const ip = ev.kind === 'pod' && ev.action === 'add' && ev.ip === undefined ? copy.pods.get(ev.name)?.ip : undefined;
    pinned.push(ip !== undefined && ev.kind === 'pod' && ev.action === 'add' ? { ...ev, ip } : ev);
  }
  return { events: pinned };
}

/** One event in a log line or error message: "pod add web-3", "link down node2|tor1". */
export function describeEvent(ev: ScenarioEvent | undefined): string {
  if (!ev) return 'event';
  switch (ev.kind) {
    case 'link':
      return `link ${ev.action} ${ev.between.join('|')}`;
    case 'service':
      return `service ${ev.action} ${ev.action === 'add' ? ev.service.name : ev.name}`;
    default:
      return `${ev.kind} ${ev.action} ${ev.name}`;
  }
}

/** commander: a repeatable option collects its values */
