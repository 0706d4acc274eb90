/**
 * The real-OVS driver: accepts bridges' OpenFlow connections on our own channel
 * (fabric/openflow OpenFlowServer), reads what each switch holds (flows, groups, meters over
 * OpenFlow 1.3 multipart), diffs it with the compiled plan (controller `reconcile`, pure) and sends the
 * difference as one bundle, then a barrier. Nothing here decides what a switch should hold.
 *
 * Listening: `tcp:PORT[:ADDR]` (the OpenFlowServer itself) or `unix:PATH` (a unix socket whose
 * connections are attached to the server): a bridge in another network namespace reaches a unix socket
 * through the file system (the lab's case), where 127.0.0.1 would be its own namespace's loopback.
 * Several addresses may be given (one OVS per node in overlay labs): all feed one OpenFlowServer.
 */
import * as fs from 'fs';
import * as net from 'net';
import type { SwitchOp, SwitchPlan } from './openflow/flow';
import { OpenFlowServer, SwitchConnection } from './openflow/channel';
import type { ChannelOptions } from './openflow/channel';
import type * as M from './openflow/messages';
import { reconcile } from '../controller';
import { ControlLoop, portIsDown } from '../controller/loop';
import type { PassPlan, SouthboundPort } from '../controller/loop';
import type { PortCounters } from '../controller/load';
import type { ClusterChange, ClusterState, ScenarioEvent } from '../topology/types';

export interface ReconcileReport {
  switch: string;
  datapathId: string;
  ops: number;
  /** counts by op kind */
  byOp: Record<string, number>;
  durationMs: number;
}

export interface OvsDriverEvents {
  switch: (conn: SwitchConnection) => void;
  'port-status': (conn: SwitchConnection, status: M.PortStatus) => void;
  disconnected: (conn: SwitchConnection, reason: string) => void;
}

function elapsedMs(startNs: bigint): number {
  return Number((process.hrtime.bigint() - startNs) / 1000n) / 1000;
}

/** What one switch's reconcile did: its ops counted by kind, and how long it took since `startNs`. */
function reportOf(switchName: string, datapathId: string, ops: readonly SwitchOp[], startNs: bigint): ReconcileReport {
  const byOp: Record<string, number> = {};
  for (const o of ops) byOp[o.op] = (byOp[o.op] ?? 0) + 1;
  return { switch: switchName, datapathId, ops: ops.length, byOp, durationMs: elapsedMs(startNs) };
}

/** One address the driver listens on besides the OpenFlowServer's own: a socket attached to the server. */
interface ExtraListener {
  server: net.Server;
  unixPath?: string;
}

export class OvsDriver {
  private readonly handlers: { [K in keyof OvsDriverEvents]: OvsDriverEvents[K][] } = { switch: [], 'port-status': [], disconnected: [] };

  private constructor(
    readonly server: OpenFlowServer,
    /** the bridges' controller targets that reach us, one per listen address, in the order given */
    readonly targets: readonly string[],
    private readonly listeners: readonly ExtraListener[],
  ) {
    server.on('switch', (conn) => {
      conn.on('port-status', (status) => {
        for (const fn of this.handlers['port-status']) fn(conn, status);
      });
      conn.on('disconnected', ({ reason }) => {
        for (const fn of this.handlers.disconnected) fn(conn, reason);
      });
      for (const fn of this.handlers.switch) fn(conn);
    });
  }

  /** the bridge's controller target that reaches us (the first listen address) */
  get target(): string {
    return this.targets[0];
  }

  /**
   * Listen on `unix:PATH` or `tcp:PORT[:ADDR]` (also accepts ptcp:/punix:), or on several such
   * addresses at once (overlay labs: one OVS per node, and vswitchd connects only to unix sockets in
   * its own run directory). Every address feeds the same OpenFlowServer; `targets[i]` is the controller
   * target of `listen[i]`.
   */
  static async start(listen: string | readonly string[], options: ChannelOptions = {}): Promise<OvsDriver> {
    const all = typeof listen === 'string' ? [listen] : [...listen];
    if (all.length === 0) throw new Error('OvsDriver.start: no listen address');
    const first = all[0];
    let server: OpenFlowServer;
    const targets: string[] = [];
    const listeners: ExtraListener[] = [];
    const firstTcp = !/^p?unix:/.test(first);
    if (firstTcp) {
      server = await OpenFlowServer.listen({ ...options, listen: first.replace(/^ptcp:/, 'tcp:') });
      const host = /^p?tcp:\d+:(.+)$/.exec(first)?.[1] ?? '127.0.0.1';
      targets.push(`tcp:${host === '0.0.0.0' ? '127.0.0.1' : host}:${server.port}`);
    } else {
      server = new OpenFlowServer(options);
    }
    try {
      for (const address of firstTcp ? all.slice(1) : all) {
        const l = await OvsDriver.listenExtra(server, address);
        listeners.push(l.listener);
        targets.push(l.target);
      }
    } catch (err) {
      for (const l of listeners) await closeListener(l);
      await server.close();
      throw err;
    }
    return new OvsDriver(server, targets, listeners);
  }

  private static async listenExtra(server: OpenFlowServer, address: string): Promise<{ listener: ExtraListener; target: string }> {
    const unix = /^p?unix:(.+)$/.exec(address);
    if (unix) {
      const file = unix[1];
      if (fs.existsSync(file)) fs.rmSync(file);
      const s = net.createServer((socket) => {
        server.attach(socket, `unix:${file}`);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(file, () => resolve());
      });
      return { listener: { server: s, unixPath: file }, target: `unix:${file}` };
    }
    const tcp = /^p?tcp:(\d+)(?::(.+))?$/.exec(address);
    if (!tcp) throw new Error(`OvsDriver.start: bad listen address ${address} (unix:PATH or tcp:PORT[:ADDR])`);
    const host = tcp[2] ?? '127.0.0.1';
    const s = net.createServer((socket) => {
      server.attach(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(Number(tcp[1]), host, () => resolve());
    });
    const a = s.address();
    const port = a && typeof a === 'object' ? a.port : Number(tcp[1]);
    return { listener: { server: s }, target: `tcp:${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` };
  }

  on<K extends keyof OvsDriverEvents>(event: K, fn: OvsDriverEvents[K]): this {
    (this.handlers[event] as OvsDriverEvents[K][]).push(fn);
    return this;
  }

  connection(datapathId: string): SwitchConnection | undefined {
    return this.server.switches().find((c) => c.datapathId === datapathId && !c.isClosed);
  }

  waitForSwitch(datapathId: string, timeoutMs = 15_000): Promise<SwitchConnection> {
    return this.server.waitForSwitch(timeoutMs, datapathId);
  }

  /** What the switch holds now, as a SwitchPlan (only what OpenFlow 1.3 can read back). */
  async readSwitch(conn: SwitchConnection, name: string): Promise<SwitchPlan> {
    const [stats, groups, meters] = await Promise.all([conn.dumpFlows(), conn.dumpGroups(), conn.dumpMeters()]);
    return { switch: name, datapathId: conn.datapathId, flows: stats.map((s) => s.flow), groups, meters };
  }

  /**
   * Called before every write to a switch (HA, fabric/ha: the leader's MASTER role for its generation
   * id; a standby's guard throws, so nothing is written). Unset: no check.
   */
  writeGuard?: (conn: SwitchConnection) => Promise<void>;

  /** Apply ops in one bundle where the switch supports it, then wait for a barrier. */
  async apply(conn: SwitchConnection, ops: readonly SwitchOp[]): Promise<void> {
    if (ops.length === 0) return;
    if (this.writeGuard) await this.writeGuard(conn);
    await conn.send(ops, { bundle: true });
    await conn.barrier();
  }

  /** Make the switch hold `desired`: read, diff (controller reconcile), apply the difference. */
  async reconcileSwitch(conn: SwitchConnection, desired: SwitchPlan): Promise<ReconcileReport> {
    const started = process.hrtime.bigint();
    const actual = await this.readSwitch(conn, desired.switch);
    const ops = reconcile(desired, actual);
    await this.apply(conn, ops);
    return reportOf(desired.switch, conn.datapathId, ops, started);
  }

  async close(): Promise<void> {
    await this.server.close();
    for (const l of this.listeners) await closeListener(l);
  }
}

async function closeListener(l: ExtraListener): Promise<void> {
  await new Promise<void>((resolve) => l.server.close(() => resolve()));
  if (l.unixPath) fs.rmSync(l.unixPath, { force: true });
}

// ---------------------------------------------------------------------------------------------
// The live controller: the one control loop (controller/loop.ts) with real switches as its port
// ---------------------------------------------------------------------------------------------

export interface LiveControllerLog {
  (event: string, fields: Record<string, unknown>): void;
}

export interface LiveControllerStats {
  switchesConnected: number;
  switchesTotal: number;
  flowsBySwitch: Record<string, number>;
  /** wall-clock ms of the last full convergence pass (all connected switches reconciled) */
  lastConvergenceMs?: number;
  /** wall-clock time (epoch ms) the last pass ended */
  lastConvergedAtMs?: number;
  passes: number;
  opsSent: number;
  linksDown: string[];
  /** port-statistics polls made (every connected switch once per poll) */
  statsPolls: number;
}

/**
 * The real switches as the loop's southbound port: each switch by name through the connection of
 * its datapath id (several drivers when the switches live in several OVS processes).
 */
export class OvsPort implements SouthboundPort {
  constructor(
    private readonly state: ClusterState,
    private readonly driverOf: (switchName: string) => OvsDriver,
  ) {}

  connection(switchName: string): SwitchConnection | undefined {
    const sw = this.state.switches.get(switchName);
    return sw ? this.driverOf(switchName).connection(sw.datapathId) : undefined;
  }

  private must(switchName: string): SwitchConnection {
    const conn = this.connection(switchName);
    if (!conn) throw new Error(`switch ${switchName} is not connected`);
    return conn;
  }

  async read(switchName: string): Promise<SwitchPlan> {
    return this.driverOf(switchName).readSwitch(this.must(switchName), switchName);
  }

  async apply(switchName: string, ops: readonly SwitchOp[]): Promise<void> {
    await this.driverOf(switchName).apply(this.must(switchName), ops);
  }
}

/**
 * One pass of the loop against real switches: what the loop asks read back is read, diffed and sent
 * (one bundle, then a barrier) switch by switch; a switch that fails is marked stale and the error is
 * thrown after the others were done.
 */
export async function runPass(loop: ControlLoop, port: SouthboundPort, reason = 'pass'): Promise<{ pass: PassPlan; reports: ReconcileReport[] }> {
  const pass = loop.pass(reason);
  const reports: ReconcileReport[] = [];
  const failures: string[] = [];
  const one = async (name: string, getOps: () => Promise<SwitchOp[]>): Promise<void> => {
    const started = process.hrtime.bigint();
    try {
      const ops = await getOps();
      await port.apply(name, ops);
      reports.push(reportOf(name, loop.state.switches.get(name)?.datapathId ?? '', ops, started));
    } catch (err) {
      loop.applied(name, false);
      failures.push(`${name}: ${(err as Error).message}`);
    }
  };
  for (const { switch: name, ops } of pass.ops) await one(name, async () => ops);
  for (const name of pass.reads) await one(name, async () => loop.diffRead(name, await port.read(name)));
  if (failures.length > 0) throw new Error(`reconcile failed on ${failures.join('; ')}`);
  return { pass, reports };
}

/**
 * Keeps every switch of a cluster state programmed: the one control loop, fed the switches'
 * connections and port status (a link is up while no operator set it down and neither end's port is
 * down) and the operator's events, with real switches as its port. It verifies every switch on every
 * pass (`verify: 'always'`: read, diff, send the difference). One pass at a time: events only mark the
 * loop dirty (kube-proxy's syncProxyRules shape).
 */
export class LiveController {
  readonly loop: ControlLoop;
  readonly port: OvsPort;
  private running: Promise<void> | undefined;
  private dirty = false;
  readonly stats: LiveControllerStats;
  /** HA standby (fabric/ha): passes are held (a request is remembered) until this is false again */
  standby = false;

  constructor(
    readonly driver: OvsDriver,
    readonly state: ClusterState,
    private readonly log: LiveControllerLog = () => undefined,
  ) {
    this.loop = new ControlLoop(state, { verify: 'always' });
    this.port = new OvsPort(state, () => driver);
    this.stats = { switchesConnected: 0, switchesTotal: state.switches.size, flowsBySwitch: {}, passes: 0, opsSent: 0, linksDown: [], statsPolls: 0 };
    this.listen(driver);
  }

  private listen(driver: OvsDriver): void {
    driver.on('switch', (conn) => {
      const name = this.switchOf(conn.datapathId)?.name;
      this.log('switch-connected', { datapathId: conn.datapathId, switch: name });
      if (!name) return;
      this.loop.switchConnected(name);
      for (const p of conn.ports) this.loop.portStatus(name, p.portNo, portIsDown(p.config, p.state));
      this.afterLinks();
      this.updateConnected();
      void this.schedule();
    });
    driver.on('disconnected', (conn, reason) => {
      const name = this.switchOf(conn.datapathId)?.name;
      this.log('switch-disconnected', { datapathId: conn.datapathId, reason });
      // a newer connection of the same datapath may already be up
      if (name && !this.port.connection(name)) this.loop.switchLost(name);
      this.updateConnected();
    });
    driver.on('port-status', (conn, status) => {
      const name = this.switchOf(conn.datapathId)?.name;
      const down = status.reason === 1 || portIsDown(status.port.config, status.port.state);
      this.log('port-status', { switch: name, port: status.port.portNo, name: status.port.name, down });
      if (!name) return;
      if (this.afterLinks(this.loop.portStatus(name, status.port.portNo, down))) void this.schedule();
    });
  }

  private switchOf(datapathId: string) {
    for (const sw of this.state.switches.values()) if (sw.datapathId === datapathId) return sw;
    return undefined;
  }

  private updateConnected(): void {
    let n = 0;
    for (const sw of this.state.switches.values()) if (this.port.connection(sw.name)) n++;
    this.stats.switchesConnected = n;
  }

  /** Log the link changes, refresh the down list; true when any link changed. */
  private afterLinks(changes: ClusterChange[] = []): boolean {
    for (const c of changes) if (c.kind === 'link-state') this.log('link-state', { link: c.link, up: c.up, ...(this.loop.linksAdminDown.includes(c.link) ? { admin: true } : {}) });
    this.stats.linksDown = this.loop.linksDown;
    return changes.some((c) => c.kind === 'link-state');
  }

  /**
   * An operator's link down/up (POST /events, a link removed from or restored to the scenario file).
   * Down holds whatever the ports report; up hands the link back to its ports (it stays down while a
   * port is down). Returns true when the state changed (the caller schedules the pass). Throws when
   * there is no such link.
   */
  setLinkAdmin(a: string, b: string, up: boolean): boolean {
    return this.afterLinks(this.loop.setLinkAdmin(a, b, up));
  }

  /** Apply checked events (pods, services, nodes; links as an operator's); returns the changes made. */
  applyEvents(events: readonly ScenarioEvent[]): ClusterChange[] {
    const changes = this.loop.applyEvents(events);
    this.afterLinks(changes);
    return changes;
  }

  /** link ids an operator set down */
  get linksAdminDown(): string[] {
    return this.loop.linksAdminDown;
  }

  /** Ask for a pass; passes never overlap, and a request during a pass causes one more pass. */
  schedule(): Promise<void> {
    this.dirty = true;
    if (this.standby) return this.running ?? Promise.resolve();
    if (!this.running) {
      this.running = (async () => {
        while (this.dirty && !this.standby) {
          this.dirty = false;
          await this.pass().catch((err: Error) => {
            this.log('pass-failed', { error: err.message });
          });
        }
        this.running = undefined;
      })();
    }
    return this.running;
  }

  /** Wait until no pass is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private statsTimer: NodeJS.Timeout | undefined;
  private polling = false;

  /**
   * Read every connected switch's port statistics now and hand them to the loop (its links' load:
   * per-port rates, per-link utilization against the scenario's capacities). Monotonic seconds.
   */
  async pollPortStats(): Promise<void> {
    if (this.polling) return; // one poll at a time: a slow switch delays the next, never doubles it
    this.polling = true;
    try {
      const counters: PortCounters[] = [];
      for (const sw of this.state.switches.values()) {
        const conn = this.port.connection(sw.name);
        if (!conn) continue;
        try {
          for (const p of await conn.portStats()) counters.push({ switch: sw.name, port: p.portNo, txBytes: Number(p.txBytes), rxBytes: Number(p.rxBytes) });
        } catch (err) {
          this.log('port-stats-failed', { switch: sw.name, error: (err as Error).message });
        }
      }
      this.loop.portCounters(Number(process.hrtime.bigint()) / 1e9, counters);
      this.stats.statsPolls++;
      // the scenario's `rebalance: [steer, limit, place]`: one round on the measured load after every
      // poll; pins and meters go out with the next pass, a proposed move is logged (a running
      // container is not moved by the controller)
      if (this.state.cluster.rebalance.length > 0) {
        const changes = this.loop.rebalanceFromLoad();
        for (const c of changes) this.log(c.kind === 'move' ? 'rebalance-proposed-move' : 'rebalance', { ...c });
        if (changes.some((c) => c.kind !== 'move')) void this.schedule();
      }
    } finally {
      this.polling = false;
    }
  }

  /** Poll port statistics every `intervalMs` (0: stop). */
  pollEvery(intervalMs: number): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    if (intervalMs > 0) {
      this.statsTimer = setInterval(() => void this.pollPortStats(), intervalMs);
      this.statsTimer.unref();
    }
  }

  private async pass(): Promise<void> {
    const started = process.hrtime.bigint();
    let reports: ReconcileReport[] = [];
    let failed: Error | undefined;
    try {
      const r = await runPass(this.loop, this.port);
      reports = r.reports;
      if (r.pass.compileFallback !== undefined) this.log('compile-incremental-failed', { error: r.pass.compileFallback });
    } catch (err) {
      failed = err as Error;
    }
    const plans = this.loop.plans;
    for (const sw of this.state.switches.values()) {
      const plan = plans?.get(sw.name);
      if (plan && this.port.connection(sw.name)) this.stats.flowsBySwitch[sw.name] = plan.flows.length;
    }
    let ops = 0;
    for (const r of reports) {
      ops += r.ops;
      if (r.ops > 0) this.log('reconciled', { switch: r.switch, ops: r.ops, byOp: r.byOp, ms: r.durationMs });
    }
    this.updateConnected();
    this.stats.passes++;
    this.stats.opsSent += ops;
    this.stats.lastConvergenceMs = elapsedMs(started);
    this.stats.lastConvergedAtMs = Date.now();
    if (failed) throw failed;
    this.log('converged', { ms: this.stats.lastConvergenceMs, ops, connected: this.stats.switchesConnected, total: this.stats.switchesTotal });
  }
}
