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
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OvsDriver, LiveController } from './ovsdriver';
import { OvsdbClient } from './ovsdb';
import { ensureBridge } from './vswitch';
import { applyEvent as applyTopologyEvent, cloneClusterState, formatDiagnostic, parseScenarioFile } from '../topology';
import type { ClusterState, ScenarioEvent } from '../topology/types';
import { loadScenario } from './lab/scenario';
import { diffCounts, diffScenarioEdit } from './lab/scenario-diff';
import { EventsRejectedError, IdempotencyKeyReusedError, parseApiListen, startControllerApi } from './controller-api';
import type { ApplyResult, ControllerApi, ControllerSnapshot } from './controller-api';
import { COMPACT_EVERY, COMPACT_KEEP, compactStore, EtcdStore, needsRebuild, NotLeaderError, openStore, shouldCompact } from './store';
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
  /** resolves (with the reason) when the controller cannot go on and must be restarted (a store compacted under it) */
  failed: Promise<string>;
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
  /** `deferred`: edits a standby left to the leader (HA; compared again when this controller leads) */
  reloadStats: { reloads: number; failures: number; refused: number; deferred: number };
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
  /** `etcds://` store: the CA bundle, client certificate and key files (--etcd-ca, --etcd-cert, --etcd-key) */
  etcdTls?: { ca?: string; cert?: string; key?: string };
  /** HA: lease TTL (s, default 3) and this controller's identity (default its --api URL, else host:pid) */
  ha?: { ttlS?: number; identity?: string };
  /** fold stored batches into one every `every` batches (0: never; default 1000), keeping the `keep` most recent (default 100) */
  compact?: { every?: number; keep?: number };
  /**
   * more controller targets a bridge gets besides ours (HA: the other controllers' listen addresses):
   * `URL` for every bridge, `SWITCH=URL` for one (one OVS per node, each with its own addresses)
   */
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
  for (const p of options.peerControllers ?? []) {
    const sw = peerSwitch(p);
    if (sw !== undefined && !state.switches.has(sw)) throw new Error(`--peer-controller ${p}: no switch ${sw} in ${file}`);
  }
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
    const intent = (store = openStore({ store: options.store, etcdTls: options.etcdTls, stateDir: options.stateDir, onTorn: (bytes) => log('store-torn-record-dropped', { bytes }) }));
    let storeRevision = 0;
    let failedWith: (reason: string) => void = () => undefined;
    const failed = new Promise<string>((resolve) => (failedWith = resolve));
    // Idempotency-Key -> the batch stored under it (from this controller's appends and from the store)
    const keys = new Map<string, { revision: number; digest: string }>();
    const rememberKey = (key: string, v: { revision: number; digest: string }): void => {
      keys.set(key, v);
      if (keys.size > MAX_IDEMPOTENCY_KEYS) keys.delete(keys.keys().next().value as string);
    };
    // compaction (fabric/store/compact.ts): how many batches the store holds, and the last compacted revision
    let batchesStored = 0;
    let lastCompactedAt = 0;
    let rebuildNeeded: string | undefined;
    /** during the start's replay: a copy of the state as of storeRevision (a failed check spoils it: cloned again) */
    let replayShadow: ClusterState | undefined;
    const checkStored = (events: readonly ScenarioEvent[]): ReturnType<typeof checkBatch> => {
      if (!replayShadow) return checkBatch(state, events);
      const r = checkBatchOn(replayShadow, events);
      if (r.failed) replayShadow = cloneClusterState(state);
      return r;
    };
    const applyStored = (b: StoredBatch): void => {
      if (b.revision <= storeRevision || rebuildNeeded !== undefined) return;
      if (needsRebuild(storeRevision, b)) {
        // batches 1..N were folded into one while this controller had applied only some of them: its
        // state cannot take the folded batch; it must start again from the file and the store
        rebuildNeeded = `the store was compacted up to revision ${b.revision} while this controller had applied up to ${storeRevision}: restart it to rebuild its state`;
        log('store-rebuild-needed', { revision: b.revision, applied: storeRevision });
        failedWith(rebuildNeeded);
        return;
      }
      if (b.idempotency) rememberKey(b.idempotency.key, { revision: b.revision, digest: b.idempotency.digest });
      if (b.compacted) {
        // the net effect of many batches: event by event, so that one event the file now contains
        // (a later edit of the file) does not drop the others
        for (const ev of b.events) {
          const one = checkStored([ev]);
          if (one.failed) log('store-event-skipped', { revision: b.revision, source: b.source, event: describeEvent(ev), error: one.failed.message });
          else controller.applyEvents(one.events);
        }
        storeRevision = b.revision;
        lastCompactedAt = b.revision;
        batchesStored = 1;
        return;
      }
      batchesStored++;
      const checked = checkStored(b.events);
      if (checked.failed) log('store-batch-skipped', { revision: b.revision, source: b.source, index: checked.failed.index, error: checked.failed.message });
      else {
        controller.applyEvents(checked.events);
        // another controller's edit of the same file (the same bytes here): this is now the file this
        // state reflects, so a later edit is diffed from it (HA standbys; docs/ha.md "File edits")
        if (b.source === 'file' && b.fileSha256 !== undefined && b.fileSha256 === fileSha256(file)) {
          const parsed = parseScenarioFileQuiet(file);
          if (parsed) {
            current = parsed;
            controller.loop.declareDemands(parsed.traffic);
          }
        }
      }
      storeRevision = b.revision;
    };
    const stored = await intent.load();
    // the start's replay: nothing else changes the state meanwhile, so one copy checks every batch
    replayShadow = cloneClusterState(state);
    for (const b of stored.batches) applyStored(b);
    replayShadow = undefined;
    const compactEvery = options.compact?.every ?? COMPACT_EVERY;
    const compactKeep = options.compact?.keep ?? COMPACT_KEEP;
    let compacting: Promise<void> | undefined;
    /** After an acknowledged append: fold old batches into one when enough have accumulated (in the background). */
    const maybeCompact = (): void => {
      if (compacting || compactEvery <= 0 || !intent.compact || intent.describe === 'memory') return;
      if (ha && !ha.isLeader) return;
      if (!shouldCompact(storeRevision, batchesStored, lastCompactedAt, { every: compactEvery, keep: compactKeep })) return;
      const t0 = process.hrtime.bigint();
      compacting = (async () => {
        // the base is the state the file gives now, before any stored batch: what a restart replays over
        const r = await compactStore(intent, loadScenario(file).state, { keep: compactKeep });
        if (!r) return;
        lastCompactedAt = Math.max(lastCompactedAt, r.upTo);
        batchesStored = Math.max(1, batchesStored - r.folded + 1);
        log('store-compacted', { upTo: r.upTo, folded: r.folded, events: r.events, ms: elapsedMsSince(t0) });
      })()
        .catch((err: unknown) => log('store-compaction-failed', { error: err instanceof Error ? err.message : String(err) }))
        .finally(() => {
          compacting = undefined;
        });
    };
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
            if (rebuildNeeded !== undefined) throw new Error(rebuildNeeded);
          }),
        // an edit of the file this controller saw as a standby (or that the old leader never stored)
        onLeading: () => (watching ? reload() : Promise.resolve()),
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
        const peers = peerTargetsFor(options.peerControllers ?? [], sw.name);
        const r = await ensureBridge(client, {
          name: sw.name,
          datapathType: options.datapathType ?? 'netdev',
          datapathId: sw.datapathId,
          controller: peers.length ? [controllerTargetOf(sw.name), ...peers] : controllerTargetOf(sw.name),
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
    /** Apply a checked batch: link events as an operator's (ports can't undo them), the rest as is. */
    const applyChecked = (events: readonly ScenarioEvent[]): number => controller.applyEvents(events).length;

    const reloadStats = { reloads: 0, failures: 0, refused: 0, deferred: 0 };
    const reloadOnce = async (): Promise<void> => {
      let parsed;
      let sha: string | undefined;
      try {
        sha = fileSha256(file);
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
      // one check on a copy of the state: the first failing event, or the events with pod IPs pinned
      const checked = checkBatch(state, edit.events);
      const failed = checked.failed;
      if (edit.refused.length > 0 || failed) {
        reloadStats.refused++;
        const reasons = edit.refused.length > 0 ? edit.refused : [`${describeEvent(edit.events[failed!.index])}: ${failed!.message}`];
        log('scenario-reload-refused', { file, reasons, note: 'nothing applied; the running state is kept (restart the controller for these changes)' });
        return;
      }
      const pinned = checked.events;
      if (pinned.length > 0) {
        try {
          storeRevision = await intent.append({ source: 'file', events: pinned, at: new Date().toISOString(), fileSha256: sha });
          batchesStored++;
          maybeCompact();
        } catch (err) {
          if (err instanceof NotLeaderError) {
            // HA: the leader stores file edits (it reads the same file); when this controller leads
            // it compares the file with what it has again (onLeading below)
            reloadStats.deferred++;
            log('scenario-reload-deferred', { file, leader: err.leader, note: 'standby: the leader stores this edit; compared again if this controller becomes the leader' });
            return;
          }
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
    const applyEvents = (events: ScenarioEvent[], receivedAtNs = process.hrtime.bigint(), idempotencyKey?: string): Promise<ApplyResult> =>
      serial(async () => {
        // under HA the leader decides (a standby's state may lag it by a batch): 503 before any check
        if (ha && !ha.isLeader) throw new NotLeaderError('this controller is a standby: changes go to the leader', ha.snapshot().leader);
        const digest = idempotencyKey !== undefined ? createHash('sha256').update(JSON.stringify(events)).digest('hex') : undefined;
        const seen = idempotencyKey !== undefined ? keys.get(idempotencyKey) : undefined;
        if (seen) {
          if (seen.digest !== digest) throw new IdempotencyKeyReusedError(`Idempotency-Key ${JSON.stringify(idempotencyKey)} was used for other events (revision ${seen.revision}); nothing applied`);
          // a retry of a stored batch (its answer was lost, or its controller died before answering): applied once
          await controller.schedule();
          await controller.idle();
          const s = controller.stats;
          log('events-replayed', { key: idempotencyKey, revision: seen.revision, events: events.length });
          return { applied: events.length, changes: 0, reconciledMs: elapsedMsSince(receivedAtNs), passes: 0, switchesConnected: s.switchesConnected, switchesTotal: s.switchesTotal, revision: seen.revision, replayed: true };
        }
        const checked = checkBatch(state, events);
        const failed = checked.failed;
        if (failed) {
          log('events-rejected', { index: failed.index, error: failed.message, events: events.length });
          throw new EventsRejectedError(`event ${failed.index} (${describeEvent(events[failed.index])}): ${failed.message}; nothing applied`, failed.index);
        }
        // durable before it is applied and acknowledged (a NotLeaderError on an HA standby: 503)
        const revision = await intent.append({ source: 'api', events: checked.events, at: new Date().toISOString(), ...(idempotencyKey !== undefined ? { idempotency: { key: idempotencyKey, digest: digest! } } : {}) });
        storeRevision = revision;
        batchesStored++;
        maybeCompact();
        if (idempotencyKey !== undefined) rememberKey(idempotencyKey, { revision, digest: digest! });
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
        reloads: { applied: reloadStats.reloads, failed: reloadStats.failures, refused: reloadStats.refused, deferred: reloadStats.deferred },
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
        await compacting;
        await driver.close();
        for (const c of clients.values()) await c.close();
        await intent.close();
      },
      failed,
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
  return checkBatchOn(cloneClusterState(state), events);
}

/**
 * checkBatch on a copy the caller owns: the events are applied to `copy` itself (left half-applied
 * when one fails: throw the copy away then). Replaying a store keeps one copy for every batch
 * instead of one per batch.
 */
export function checkBatchOn(copy: Parameters<typeof cloneClusterState>[0], events: readonly ScenarioEvent[]): { failed?: { index: number; message: string }; events: ScenarioEvent[] } {
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

/**
 * The peer controller targets of one switch: every `URL`, and every `SWITCH=URL` naming it (an
 * OpenFlow target has no '=': unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT).
 */
export function peerTargetsFor(peers: readonly string[], switchName: string): string[] {
  const out: string[] = [];
  for (const p of peers) {
    const sw = peerSwitch(p);
    if (sw === undefined) out.push(p);
    else if (sw === switchName) out.push(p.slice(sw.length + 1));
  }
  return out;
}

/** The switch a `SWITCH=URL` peer names; undefined for a plain URL (for every bridge). */
function peerSwitch(peer: string): string | undefined {
  const eq = peer.indexOf('=');
  return eq < 0 ? undefined : peer.slice(0, eq);
}

/** Idempotency keys remembered (the oldest forgotten first): a retry comes within seconds, not after 100k batches. */
const MAX_IDEMPOTENCY_KEYS = 100_000;

/** SHA-256 of a file's bytes (hex), or undefined when it cannot be read. */
function fileSha256(file: string): string | undefined {
  try {
    return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** The scenario a file holds now, or undefined (unreadable, invalid). */
function parseScenarioFileQuiet(file: string): ReturnType<typeof parseScenarioFile>['scenario'] | undefined {
  try {
    return parseScenarioFile(file).scenario ?? undefined;
  } catch {
    return undefined;
  }
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
