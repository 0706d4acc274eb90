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
import type { ClusterState, ScenarioEvent } from '../topology/types';

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

  /** Apply ops in one bundle where the switch supports it, then wait for a barrier. */
  async apply(conn: SwitchConnection, ops: readonly SwitchOp[]): Promise<void> {
    if (ops.length === 0) return;
    await conn.send(ops, { bundle: true });
    await conn.barrier();
  }

  /** Make the switch hold `desired`: read, diff (controller reconcile), apply the difference. */
  async reconcileSwitch(conn: SwitchConnection, desired: SwitchPlan): Promise<ReconcileReport> {
    const started = process.hrtime.bigint();
    const actual = await this.readSwitch(conn, desired.switch);
    const ops = reconcile(desired, actual);
    await this.apply(conn, ops);
    const byOp: Record<string, number> = {};
    for (const o of ops) byOp[o.op] = (byOp[o.op] ?? 0) + 1;
    return { switch: desired.switch, datapathId: conn.datapathId, ops: ops.length, byOp, durationMs: elapsedMs(started) };
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
// The live controller: scenario -> bridges over OVSDB -> switches over OpenFlow -> pipeline kept right
// ---------------------------------------------------------------------------------------------

/** OFPPC_PORT_DOWN (config) and OFPPS_LINK_DOWN (state): either means the port carries nothing. */
const OFPPC_PORT_DOWN = 1;
const OFPPS_LINK_DOWN = 1;

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
}

/**
 * Keeps every switch of a cluster state programmed: reconciles a switch when it connects, and on a
 * port status that changes a link's liveness applies the link event to the state (topology
 * applyEvent), recompiles and reconciles every connected switch. One pass at a time (events only
 * mark the state dirty; a pass recomputes everything: kube-proxy's syncProxyRules shape).
 */
export class LiveController {
  private readonly portDown = new Map<string, boolean>();
  /** links set down by an operator (API, scenario file edit): down whatever their ports say */
  private readonly adminDown = new Set<string>();
  private running: Promise<void> | undefined;
  private dirty = false;
  readonly stats: LiveControllerStats;

  constructor(
    readonly driver: OvsDriver,
    readonly state: ClusterState,
    private readonly compile: (state: ClusterState) => Map<string, SwitchPlan>,
    private readonly applyEvent: (state: ClusterState, ev: ScenarioEvent) => unknown,
    private readonly log: LiveControllerLog = () => undefined,
  ) {
    this.stats = { switchesConnected: 0, switchesTotal: state.switches.size, flowsBySwitch: {}, passes: 0, opsSent: 0, linksDown: [] };
    driver.on('switch', (conn) => {
      this.log('switch-connected', { datapathId: conn.datapathId, switch: this.switchOf(conn.datapathId)?.name });
      for (const p of conn.ports) this.portDown.set(`${conn.datapathId}/${p.portNo}`, this.isDown(p));
      this.syncLinks();
      this.schedule();
    });
    driver.on('disconnected', (conn, reason) => {
      this.log('switch-disconnected', { datapathId: conn.datapathId, reason });
      this.updateConnected();
    });
    driver.on('port-status', (conn, status) => {
      const down = status.reason === 1 || this.isDown(status.port);
      this.portDown.set(`${conn.datapathId}/${status.port.portNo}`, down);
      this.log('port-status', { switch: this.switchOf(conn.datapathId)?.name, port: status.port.portNo, name: status.port.name, down });
      if (this.syncLinks()) this.schedule();
    });
  }

  private isDown(p: M.OfpPort): boolean {
    return (p.config & OFPPC_PORT_DOWN) !== 0 || (p.state & OFPPS_LINK_DOWN) !== 0;
  }

  private switchOf(datapathId: string) {
    for (const sw of this.state.switches.values()) if (sw.datapathId === datapathId) return sw;
    return undefined;
  }

  private updateConnected(): void {
    let n = 0;
    for (const sw of this.state.switches.values()) if (this.driver.connection(sw.datapathId)) n++;
    this.stats.switchesConnected = n;
  }

  /**
   * An operator's link down/up (POST /events, a link removed from or restored to the scenario file).
   * Down holds whatever the ports report; up hands the link back to its ports (it stays down while a
   * port is down). Applies the resulting link state at once; returns true when the state changed
   * (the caller schedules the pass). Throws when there is no such link.
   */
  setLinkAdmin(a: string, b: string, up: boolean): boolean {
    const link = this.state.links.get(`${a}|${b}`) ?? this.state.links.get(`${b}|${a}`);
    if (!link) throw new Error(`link ${up ? 'up' : 'down'}: there is no link between ${a} and ${b}`);
    if (up) this.adminDown.delete(link.id);
    else this.adminDown.add(link.id);
    return this.syncLinks();
  }

  /** link ids an operator set down */
  get linksAdminDown(): string[] {
    return [...this.adminDown];
  }

  /** A link is up when an operator did not set it down and neither end reports its port down; returns true when a link changed. */
  private syncLinks(): boolean {
    let changed = false;
    for (const link of this.state.links.values()) {
      const ends: boolean[] = [];
      for (const name of [link.a, link.b]) {
        const sw = this.state.switches.get(name)!;
        const port = sw.ports.find((p) => p.kind === 'link' && p.linkId === link.id);
        const known = port ? this.portDown.get(`${sw.datapathId}/${port.port}`) : undefined;
        ends.push(known === true);
      }
      const up = !ends.some(Boolean) && !this.adminDown.has(link.id);
      if (up !== link.up) {
        this.applyEvent(this.state, { at: 0, kind: 'link', action: up ? 'up' : 'down', between: [link.a, link.b] });
        this.log('link-state', { link: link.id, up, ...(this.adminDown.has(link.id) ? { admin: true } : {}) });
        changed = true;
      }
    }
    this.stats.linksDown = [...this.state.links.values()].filter((l) => !l.up).map((l) => l.id);
    return changed;
  }

  /** Ask for a pass; passes never overlap, and a request during a pass causes one more pass. */
  schedule(): Promise<void> {
    this.dirty = true;
    if (!this.running) {
      this.running = (async () => {
        while (this.dirty) {
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

  private async pass(): Promise<void> {
    const started = process.hrtime.bigint();
    const plans = this.compile(this.state);
    let ops = 0;
    for (const sw of this.state.switches.values()) {
      const conn = this.driver.connection(sw.datapathId);
      if (!conn) continue;
      const plan = plans.get(sw.name);
      if (!plan) continue;
      const r = await this.driver.reconcileSwitch(conn, plan);
      ops += r.ops;
      this.stats.flowsBySwitch[sw.name] = plan.flows.length;
      if (r.ops > 0) this.log('reconciled', { switch: sw.name, ops: r.ops, byOp: r.byOp, ms: r.durationMs });
    }
    this.updateConnected();
    this.stats.passes++;
    this.stats.opsSent += ops;
    this.stats.lastConvergenceMs = elapsedMs(started);
    this.stats.lastConvergedAtMs = Date.now();
    this.log('converged', { ms: this.stats.lastConvergenceMs, ops, connected: this.stats.switchesConnected, total: this.stats.switchesTotal });
  }
}
