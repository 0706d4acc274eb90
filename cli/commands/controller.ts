/**
 * `fabric controller FILE --ovsdb URL --listen URL`: the controller against real Open vSwitch. Ensures
 * every switch of the scenario exists as a bridge (OVSDB: netdev datapath, OpenFlow 1.3,
 * fail_mode=secure, datapath id from the cluster state, our listen address as controller target),
 * accepts the switches' OpenFlow connections, installs the compiled pipeline by reconcile, and
 * recompiles/reconciles when a port status changes a link's liveness. The OVSDB session reconnects
 * (100 ms..1 s backoff) and every bridge is ensured again after a reconnect, so a restarted
 * ovsdb-server, or a bridge edited while we were away, is brought back. Logs are JSON lines on stderr;
 * a summary line (switches connected, flows per switch, last convergence) every --summary seconds.
 * The scenario file is watched: an edit is re-parsed (errors logged as file:line:col, the old state
 * kept), diffed into pod/service events (fabric/lab/scenario-diff.ts), applied to the cluster state
 * and followed by a recompile/reconcile pass (`scenario-reloaded` log line with the counts).
 * Runs until SIGINT/SIGTERM.
 */
import * as fs from 'fs';
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { compileCluster, compileIncremental } from '../../controller';
import type { FabricPlan } from '../../controller';
import { OvsDriver, LiveController } from '../../fabric/ovsdriver';
import { OvsdbClient } from '../../fabric/ovsdb';
import { ensureBridge } from '../../fabric/vswitch';
import { applyEvent as applyTopologyEvent, formatDiagnostic, parseScenarioFile } from '../../topology';
import type { ClusterChange, ClusterState, ScenarioEvent } from '../../topology/types';
import { loadScenario } from '../../fabric/lab/scenario';
import { diffCounts, diffScenarios } from '../../fabric/lab/scenario-diff';

interface ControllerFlags {
  ovsdb: string;
  listen: string;
  datapathType?: string;
  summary?: string;
  /** stop after the first convergence (scripts, tests) */
  once?: boolean;
}

export interface RunningController {
  controller: LiveController;
  driver: OvsDriver;
  ovsdb: OvsdbClient;
  /** OVSDB sessions lost and re-established, and bridges changed by the re-ensure after each */
  ovsdbStats: { disconnects: number; reconnects: number; bridgesRepaired: number };
  /** resolves when the bridge re-ensure started by the last OVSDB reconnect is done */
  ovsdbIdle(): Promise<void>;
  /** live edits of the scenario file: reloads applied, and reloads refused (parse or build errors) */
  reloadStats: { reloads: number; failures: number };
  /** re-read the scenario file now (the watcher calls it after a change; tests may call it directly) */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** Start the controller (the command's body, usable in-process by tests and the lab). */
export async function startController(
  file: string,
  options: {
    ovsdb: string;
    listen: string;
    datapathType?: string;
    log?: (event: string, fields: Record<string, unknown>) => void;
    /** watch the scenario file for live edits (default true) and the debounce after a change */
    watch?: boolean;
    watchDebounceMs?: number;
  },
): Promise<RunningController> {
  const loaded = loadScenario(file);
  const { state } = loaded;
  let current = loaded.scenario;
  const log = options.log ?? (() => undefined);
  const driver = await OvsDriver.start(options.listen);
  let ovsdb: OvsdbClient | undefined;
  try {
    ovsdb = await OvsdbClient.connect(options.ovsdb, { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } });
    // every state change (port status, live edit) goes through applyEvent, so a pass compiles
    // incrementally from the previous plan with the changes since; the first pass compiles in full
    let plan: FabricPlan | undefined;
    let pending: ClusterChange[] = [];
    const applyEvent = (s: ClusterState, ev: ScenarioEvent): ClusterChange[] => {
      const changes = applyTopologyEvent(s, ev);
      pending.push(...changes);
      return changes;
    };
    const compile = (s: ClusterState): FabricPlan => {
      const changes = pending;
      pending = [];
      if (plan === undefined) plan = compileCluster(s);
      else if (changes.length > 0) {
        try {
          plan = compileIncremental(plan, s, changes);
        } catch (err) {
          log('compile-incremental-failed', { error: (err as Error).message });
          plan = compileCluster(s);
        }
      }
      return plan;
    };
    const controller = new LiveController(driver, state, compile, applyEvent, log);
    log('listening', { target: driver.target, ovsdb: options.ovsdb });
    const client = ovsdb;
    const ensureAll = async (): Promise<number> => {
      let changed = 0;
      for (const sw of state.switches.values()) {
        const r = await ensureBridge(client, {
          name: sw.name,
          datapathType: options.datapathType ?? 'netdev',
          datapathId: sw.datapathId,
          controller: driver.target,
          protocols: ['OpenFlow13'],
          failMode: 'secure',
          externalIds: { 'fabric-switch': sw.name },
        });
        if (r.changed) changed++;
        log('bridge', { switch: sw.name, datapathId: sw.datapathId, changed: r.changed });
      }
      return changed;
    };
    await ensureAll();
    const ovsdbStats = { disconnects: 0, reconnects: 0, bridgesRepaired: 0 };
    let ensuring: Promise<void> = Promise.resolve();
    client.on('disconnect', (reason: Error) => {
      ovsdbStats.disconnects++;
      log('ovsdb-disconnected', { reason: reason?.message ?? String(reason) });
    });
    client.on('reconnect', () => {
      ovsdbStats.reconnects++;
      log('ovsdb-reconnected', {});
      // re-ensure after the previous pass; a failure (the server gone again) waits for the next reconnect
      ensuring = ensuring
        .then(ensureAll)
        .then((n) => {
          ovsdbStats.bridgesRepaired += n;
        })
        .catch((err: unknown) => log('ovsdb-ensure-failed', { error: err instanceof Error ? err.message : String(err) }));
    });
    const reloadStats = { reloads: 0, failures: 0 };
    let reloading: Promise<void> = Promise.resolve();
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
      const events = diffScenarios(current, next);
      let applied = 0;
      const failed: string[] = [];
      for (const ev of events) {
        try {
          applyEvent(state, ev);
          applied++;
        } catch (err) {
          failed.push((err as Error).message);
        }
      }
      current = next;
      reloadStats.reloads++;
      log('scenario-reloaded', { file, ...diffCounts(events), applied, ...(failed.length ? { failed } : {}) });
      if (events.length > 0) await controller.schedule();
    };
    const reload = (): Promise<void> => (reloading = reloading.then(reloadOnce, reloadOnce));
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
    return {
      controller,
      driver,
      ovsdb: client,
      ovsdbStats,
      ovsdbIdle: () => ensuring,
      reloadStats,
      reload,
      stop: async () => {
        if (watching) fs.unwatchFile(file, onChange);
        if (debounce) clearTimeout(debounce);
        await reloading;
        await driver.close();
        await client.close();
      },
    };
  } catch (err) {
    await driver.close();
    await ovsdb?.close();
    throw err;
  }
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('controller')
    .argument('<file>', 'scenario file')
    .requiredOption('--ovsdb <url>', 'OVSDB server: unix:PATH or tcp:HOST:PORT')
    .requiredOption('--listen <url>', 'OpenFlow listen address: tcp:PORT[:ADDR] or unix:PATH')
    .option('--datapath-type <type>', 'bridge datapath_type (netdev: userspace; system; dummy)', 'netdev')
    .option('--summary <seconds>', 'print a summary line this often (0: never)', '10')
    .option('--once', 'exit after every switch connected and the first convergence')
    .description('run the controller against real Open vSwitch (runs until stopped)')
    .action(async (file: string, flags: ControllerFlags) => {
      const log = (event: string, fields: Record<string, unknown>): void => {
        ctx.stderr(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
      };
      let running: RunningController;
      try {
        running = await startController(file, { ovsdb: flags.ovsdb, listen: flags.listen, datapathType: flags.datapathType, log });
      } catch (err) {
        ctx.stderr(`fabric controller: ${(err as Error).message}\n`);
        ctx.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
        return;
      }
      const summarize = (): void => {
        const s = running.controller.stats;
        ctx.stdout(
          `switches ${s.switchesConnected}/${s.switchesTotal} connected; flows ${Object.entries(s.flowsBySwitch).map(([k, v]) => `${k}=${v}`).join(' ') || '-'}; ` +
            `last convergence ${s.lastConvergenceMs === undefined ? '-' : `${s.lastConvergenceMs.toFixed(1)} ms`}; passes ${s.passes}; ops ${s.opsSent}; links down ${s.linksDown.join(',') || 'none'}\n`,
        );
      };
      await new Promise<void>((resolve) => {
        const seconds = Number(flags.summary ?? '10');
        const timer = seconds > 0 ? setInterval(summarize, seconds * 1000) : undefined;
        let check: NodeJS.Timeout | undefined;
        const stop = (): void => {
          if (timer) clearInterval(timer);
          if (check) clearInterval(check);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        if (flags.once) {
          check = setInterval(() => {
            const s = running.controller.stats;
            if (s.switchesConnected === s.switchesTotal && s.passes > 0) {
              clearInterval(check);
              running.controller.idle().then(stop, stop);
            }
          }, 100);
        }
      });
      summarize();
      await running.stop();
      ctx.exitCode = 0;
    });
}
