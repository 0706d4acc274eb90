/**
 * The running controller's small local HTTP API (`fabric controller --api URL`), on Node's own http
 * module: `GET /metrics` (Prometheus text format 0.0.4), `GET /state` (JSON: the same numbers plus
 * pods, services, links, nodes), `POST /events` (a JSON array of scenario events without `at`, applied
 * all-or-nothing as a live edit, answered after the resulting reconcile). Listens on `unix:PATH` or
 * `tcp:PORT[:ADDR]` (loopback unless an address is given): it changes the network, so it is not
 * exposed by default. This module owns the wire shapes (metrics text, event validation); what a
 * snapshot holds and how events apply is the controller's (cli/commands/controller.ts).
 */
import * as fs from 'fs';
import * as http from 'http';
import type { ScenarioEvent, ServiceSpec } from '../topology/types';
import { readScenarioEvent } from '../topology/scenario';

/** What the controller reports (GET /state is this object; GET /metrics is derived from it). */
export interface ControllerSnapshot {
  scenario: string;
  file: string;
  switchesConnected: number;
  switchesTotal: number;
  switches: { name: string; datapathId: string; connected: boolean; flows?: number; ovsdb: string; controller: string }[];
  lastConvergenceMs?: number;
  /** ISO time the last pass ended */
  lastConvergedAt?: string;
  passes: number;
  opsSent: number;
  linksDown: string[];
  /** links an operator set down (POST /events, a link removed from the file) */
  linksAdminDown: string[];
  reloads: { applied: number; failed: number; refused: number; deferred?: number };
  ovsdb: { disconnects: number; reconnects: number; bridgesRepaired: number };
  api: { requests: number; eventsApplied: number; batchesRejected: number };
  /** the intent store (fabric/store): which, and the last revision applied from it */
  store?: { describe: string; revision: number };
  /** HA (an etcd store, fabric/ha): this controller's role, the leader, the generation id, the last takeover */
  ha?: { role: 'leader' | 'standby'; identity: string; leader?: string; generationId?: string; elections: number; lastTakeover?: Record<string, number> };
  /** `port`: the pod's OpenFlow port on its node switch (what a CNI plugin attaches it at, `ofport_request`) */
  pods: { name: string; node: string; ip: string; labels: Record<string, string>; mac?: string; port?: number }[];
  services: { name: string; vip: string; port: number; targetPort: number; protocol: string; endpoints: string[] }[];
  links: { id: string; up: boolean; gbps: number }[];
  nodes: { name: string; ip: string; podCidr: string; up: boolean }[];
  /** port statistics polled (OpenFlow), their rates over the load window, each link direction's utilization */
  load?: {
    polls: number;
    windowS: number;
    ports: { switch: string; port: number; txBps: number; rxBps: number }[];
    links: { link: string; bps: number; capacityGbps: number; utilization: number }[];
  };
  /**
   * the rebalancer on the measured load (`rebalance: [steer, limit, place]`): rounds, pins set and
   * removed, meters set and lifted, moves proposed, the limits (Gbit/s) and pins (demand -> hops) in force
   */
  rebalance?: {
    policies: string[];
    rounds: number;
    meters: number;
    unmeters: number;
    pins?: number;
    unpins?: number;
    moves?: number;
    weights?: number;
    limits: Record<string, number>;
    /** service -> pod -> bucket weight, where the weights policy set them */
    bucketWeights?: Record<string, Record<string, number>>;
    pinned?: Record<string, string>;
  };
}

export interface ApplyResult {
  applied: number;
  /** cluster changes the events made (0: the batch changed nothing) */
  changes: number;
  /** from the request's arrival to the end of the reconcile pass that includes the events */
  reconciledMs: number;
  /** duration of that last pass */
  convergenceMs?: number;
  passes: number;
  /** switches that pass reconciled (connected) of all: one not connected gets the new state when it connects */
  switchesConnected: number;
  switchesTotal: number;
  /** the intent store revision the batch was stored at (durable before this answer) */
  revision?: number;
  /** a retry with an Idempotency-Key already stored: answered from the store, nothing applied again */
  replayed?: boolean;
}

export interface ControllerApiBackend {
  snapshot(): ControllerSnapshot;
  /** validate the whole batch (throw EventsRejectedError: nothing applied), apply, await the pass */
  applyEvents(events: ScenarioEvent[], receivedAtNs: bigint, idempotencyKey?: string): Promise<ApplyResult>;
}

/** A batch refused before anything was applied: the HTTP answer is 400 with this message. */
export class EventsRejectedError extends Error {
  constructor(
    message: string,
    /** index of the offending event in the batch, when one is to blame */
    readonly index?: number,
  ) {
    super(message);
    this.name = 'EventsRejectedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Event validation: the JSON shape only (names and addresses are checked against the state by a dry run)
// ---------------------------------------------------------------------------------------------

const KEYS: Record<string, readonly string[]> = {
  'link down': ['kind', 'action', 'between'],
  'link up': ['kind', 'action', 'between'],
  'node down': ['kind', 'action', 'name'],
  'node up': ['kind', 'action', 'name'],
  'pod add': ['kind', 'action', 'name', 'node', 'labels', 'ip', 'egressGbps'],
  'pod delete': ['kind', 'action', 'name'],
  'pod move': ['kind', 'action', 'name', 'to'],
  'service add': ['kind', 'action', 'service'],
  'service delete': ['kind', 'action', 'name'],
};
const SERVICE_KEYS = ['name', 'selector', 'port', 'targetPort', 'protocol', 'ip'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) throw new EventsRejectedError(`${where}: '${key}' must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function labelsOf(v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new EventsRejectedError(`${where}: must be a mapping of strings, got ${JSON.stringify(v)}`);
  return { ...(v as Record<string, string>) };
}

function portOf(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new EventsRejectedError(`${where}: must be a port 1-65535, got ${JSON.stringify(v)}`);
  return v;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function serviceOf(v: unknown, where: string): ServiceSpec {
  if (!isObject(v)) throw new EventsRejectedError(`${where}: 'service' must be an object {name, selector, port, targetPort?, protocol?, ip?}`);
  for (const k of Object.keys(v)) if (!SERVICE_KEYS.includes(k)) throw new EventsRejectedError(`${where}: unknown key 'service.${k}' (allowed: ${SERVICE_KEYS.join(', ')})`);
  const port = portOf(v.port, `${where}: service.port`);
  const protocol = v.protocol ?? 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') throw new EventsRejectedError(`${where}: service.protocol must be tcp or udp, got ${JSON.stringify(protocol)}`);
  const svc: ServiceSpec = {
    name: text(v, 'name', `${where}: service`),
    selector: labelsOf(v.selector, `${where}: service.selector`),
    port,
    targetPort: v.targetPort === undefined ? port : portOf(v.targetPort, `${where}: service.targetPort`),
    protocol,
  };
  if (v.ip !== undefined) {
    if (typeof v.ip !== 'string' || !IPV4.test(v.ip)) throw new EventsRejectedError(`${where}: service.ip must be an IPv4 address, got ${JSON.stringify(v.ip)}`);
    svc.ip = v.ip;
  }
  return svc;
}

/**
 * The body of POST /events: a JSON array (or `{ "events": [...] }`) of events, each either in the
 * scenario file's shape (`{"pod":"add","name":"web-3","node":"node2","labels":{"app":"web"}}`,
 * `{"link":"down","between":["node2","tor1"]}`: topology/scenario.ts readScenarioEvent, `at` optional and
 * ignored) or in the shape of ScenarioEvent without `at`, e.g. `{"kind":"pod","action":"add","name":"web-3","node":"node2",
 * "labels":{"app":"web"}}` or `{"kind":"link","action":"down","between":["node2","tor1"]}`. Throws
 * EventsRejectedError naming the first bad event (by index) and what is wrong with it.
 */
export function parseEvents(body: unknown): ScenarioEvent[] {
  const list = isObject(body) && Array.isArray(body.events) ? body.events : body;
  if (!Array.isArray(list)) throw new EventsRejectedError('the body must be a JSON array of events (or {"events": [...]})');
  if (list.length === 0) throw new EventsRejectedError('no events in the batch');
  if (list.length > 10_000) throw new EventsRejectedError(`too many events in one batch (${list.length}; at most 10000)`);
  return list.map((raw, i): ScenarioEvent => {
    const where = `event ${i}`;
    try {
      if (!isObject(raw)) throw new EventsRejectedError(`${where}: must be an object, got ${JSON.stringify(raw)}`);
      if (!('kind' in raw) && !('action' in raw)) {
        // the scenario's own shape ({pod: add, name, node, labels}, {link: down, between: [a, b]}, ...),
        // read by the scenario parser (same checks, same messages); `at` optional: events apply now
        const read = readScenarioEvent(raw, where, { requireAt: false });
        if (!read.event) throw new EventsRejectedError(read.errors.join('; '));
        return { ...read.event, at: 0 };
      }
      const kind = raw.kind;
      const action = raw.action;
      const allowed = KEYS[`${String(kind)} ${String(action)}`];
      if (!allowed) throw new EventsRejectedError(`${where}: unknown kind/action ${JSON.stringify(kind)}/${JSON.stringify(action)} (one of: ${Object.keys(KEYS).join(', ')})`);
      for (const k of Object.keys(raw)) if (!allowed.includes(k)) throw new EventsRejectedError(`${where} (${String(kind)} ${String(action)}): unknown key '${k}'${k === 'at' ? ' (events apply now: no at)' : ''} (allowed: ${allowed.join(', ')})`);
      const w = `${where} (${String(kind)} ${String(action)})`;
      switch (kind) {
        case 'link': {
          const b = raw.between;
          if (!Array.isArray(b) || b.length !== 2 || b.some((x) => typeof x !== 'string' || x.length === 0)) throw new EventsRejectedError(`${w}: 'between' must be two switch names, got ${JSON.stringify(b)}`);
          return { at: 0, kind: 'link', action: action as 'down' | 'up', between: [b[0] as string, b[1] as string] };
        }
        case 'node':
          return { at: 0, kind: 'node', action: action as 'down' | 'up', name: text(raw, 'name', w) };
        case 'pod': {
          const name = text(raw, 'name', w);
          if (action === 'delete') return { at: 0, kind: 'pod', action: 'delete', name };
          if (action === 'move') return { at: 0, kind: 'pod', action: 'move', name, to: text(raw, 'to', w) };
          const ev: ScenarioEvent = { at: 0, kind: 'pod', action: 'add', name, node: text(raw, 'node', w), labels: labelsOf(raw.labels, `${w}: labels`) };
          if (raw.ip !== undefined) {
            if (typeof raw.ip !== 'string' || !IPV4.test(raw.ip)) throw new EventsRejectedError(`${w}: 'ip' must be an IPv4 address, got ${JSON.stringify(raw.ip)}`);
            ev.ip = raw.ip;
          }
          if (raw.egressGbps !== undefined) {
            if (typeof raw.egressGbps !== 'number' || !(raw.egressGbps > 0)) throw new EventsRejectedError(`${w}: 'egressGbps' must be a number > 0, got ${JSON.stringify(raw.egressGbps)}`);
            ev.egressGbps = raw.egressGbps;
          }
          return ev;
        }
        default: {
          if (action === 'delete') return { at: 0, kind: 'service', action: 'delete', name: text(raw, 'name', w) };
          return { at: 0, kind: 'service', action: 'add', service: serviceOf(raw.service, w) };
        }
      }
    } catch (err) {
      if (err instanceof EventsRejectedError) throw new EventsRejectedError(err.message, i);
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics: Prometheus text exposition format
// ---------------------------------------------------------------------------------------------

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The snapshot as Prometheus text (version 0.0.4): HELP and TYPE once per metric family. */
export function formatMetrics(s: ControllerSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? String(value) : 'NaN'}`);
    }
  };
  const one = (value: number): [Record<string, string>, number][] => [[{}, value]];
  family('fabric_switches_connected', 'gauge', 'Switches of the scenario connected over OpenFlow.', one(s.switchesConnected));
  family('fabric_switches_total', 'gauge', 'Switches of the scenario.', one(s.switchesTotal));
  family('fabric_switch_connected', 'gauge', 'Whether a switch is connected (1) or not (0).', s.switches.map((w) => [{ switch: w.name }, w.connected ? 1 : 0]));
  family('fabric_flows', 'gauge', 'Flows the last pass installed on a switch (its compiled plan).', s.switches.filter((w) => w.flows !== undefined).map((w) => [{ switch: w.name }, w.flows!]));
  family('fabric_last_convergence_ms', 'gauge', 'Duration of the last reconcile pass over every connected switch, in ms (NaN before the first).', one(s.lastConvergenceMs ?? NaN));
  family('fabric_last_convergence_timestamp_seconds', 'gauge', 'Unix time the last pass ended (NaN before the first).', one(s.lastConvergedAt ? Date.parse(s.lastConvergedAt) / 1000 : NaN));
  family('fabric_passes_total', 'counter', 'Reconcile passes run.', one(s.passes));
  family('fabric_ops_sent_total', 'counter', 'OpenFlow operations (flow/group/meter adds, modifies, deletes) sent.', one(s.opsSent));
  family('fabric_links_down', 'gauge', 'Links down now (port status or operator).', one(s.linksDown.length));
  family('fabric_links_admin_down', 'gauge', 'Links an operator set down (API, scenario file).', one(s.linksAdminDown.length));
  family('fabric_pods', 'gauge', 'Pods in the cluster state.', one(s.pods.length));
  family('fabric_services', 'gauge', 'Services in the cluster state.', one(s.services.length));
  family('fabric_scenario_reloads_total', 'counter', 'Edits of the scenario file applied.', one(s.reloads.applied));
  family('fabric_scenario_reload_failures_total', 'counter', 'Edits of the scenario file that did not parse or build.', one(s.reloads.failed));
  family('fabric_scenario_reload_refused_total', 'counter', 'Edits of the scenario file refused (cannot apply live; nothing applied).', one(s.reloads.refused));
  family('fabric_scenario_reload_deferred_total', 'counter', 'Edits of the scenario file a standby left to the leader (HA).', one(s.reloads.deferred ?? 0));
  family('fabric_ovsdb_disconnects_total', 'counter', 'OVSDB sessions lost.', one(s.ovsdb.disconnects));
  family('fabric_ovsdb_reconnects_total', 'counter', 'OVSDB sessions re-established.', one(s.ovsdb.reconnects));
  family('fabric_ovsdb_bridges_repaired_total', 'counter', 'Bridges changed by the re-ensure after an OVSDB reconnect.', one(s.ovsdb.bridgesRepaired));
  family('fabric_api_requests_total', 'counter', 'Requests to this API.', one(s.api.requests));
  family('fabric_api_events_applied_total', 'counter', 'Events applied through POST /events.', one(s.api.eventsApplied));
  family('fabric_api_batches_rejected_total', 'counter', 'POST /events batches refused (nothing applied).', one(s.api.batchesRejected));
  if (s.store) family('fabric_store_revision', 'gauge', 'The last intent store revision applied (docs/ha.md).', one(s.store.revision));
  if (s.ha) {
    family('fabric_ha_leader', 'gauge', '1 while this controller leads (writes to switches and the store), 0 standby.', one(s.ha.role === 'leader' ? 1 : 0));
    family('fabric_ha_elections_total', 'counter', 'Times this controller was elected leader.', one(s.ha.elections));
  }
  if (s.load) {
    family('fabric_port_stats_polls_total', 'counter', 'Polls of every connected switch\'s OpenFlow port statistics.', one(s.load.polls));
    family('fabric_port_tx_bits_per_second', 'gauge', 'A port\'s transmit rate over the load window (OpenFlow port statistics).', s.load.ports.map((p) => [{ switch: p.switch, port: String(p.port) }, p.txBps]));
    family('fabric_port_rx_bits_per_second', 'gauge', 'A port\'s receive rate over the load window (OpenFlow port statistics).', s.load.ports.map((p) => [{ switch: p.switch, port: String(p.port) }, p.rxBps]));
    family('fabric_link_utilization', 'gauge', 'A link direction\'s load / its capacity (scenario gbps), from the sending port\'s counters.', s.load.links.map((l) => [{ link: l.link }, l.utilization]));
  }
  if (s.rebalance) {
    family('fabric_rebalance_rounds_total', 'counter', 'Rebalancing rounds run on the measured load.', one(s.rebalance.rounds));
    family('fabric_rebalance_meters_set_total', 'counter', 'Pod meters the limit policy set or changed.', one(s.rebalance.meters));
    family('fabric_rebalance_meters_lifted_total', 'counter', 'Pod meters the limit policy lifted.', one(s.rebalance.unmeters));
    family('fabric_rebalance_limit_gbps', 'gauge', 'A pod metered by the limit policy now, in Gbit/s.', Object.entries(s.rebalance.limits).sort().map(([pod, gbps]) => [{ pod }, gbps]));
    family('fabric_rebalance_pins_set_total', 'counter', 'Demands the steer policy pinned to a path.', one(s.rebalance.pins ?? 0));
    family('fabric_rebalance_pins_removed_total', 'counter', 'Pins removed (their demand stopped sending, or a link of the path went down).', one(s.rebalance.unpins ?? 0));
    family('fabric_rebalance_moves_proposed_total', 'counter', 'Pod moves the place policy proposed (logged, not applied to running containers).', one(s.rebalance.moves ?? 0));
    family('fabric_rebalance_weights_set_total', 'counter', 'Service bucket weights the weights policy set or cleared.', one(s.rebalance.weights ?? 0));
    family(
      'fabric_service_bucket_weight',
      'gauge',
      'A service endpoint\'s select-group bucket weight set by the weights policy (absent: all equal).',
      Object.entries(s.rebalance.bucketWeights ?? {})
        .sort()
        .flatMap(([service, w]) => Object.entries(w).sort().map(([pod, weight]) => [{ service, pod }, weight] as [Record<string, string>, number])),
    );
    family('fabric_rebalance_pinned', 'gauge', 'A demand pinned now (1), with the path it is pinned to.', Object.entries(s.rebalance.pinned ?? {}).sort().map(([demand, path]) => [{ demand, path }, 1]));
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export interface ControllerApi {
  /** where it listens: unix:PATH or tcp:ADDR:PORT (the bound port) */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;

/** Parse `unix:PATH` or `tcp:PORT[:ADDR]` (ADDR default 127.0.0.1). */
export function parseApiListen(url: string): { path: string } | { port: number; host: string } {
  const unix = /^unix:(.+)$/.exec(url);
  if (unix) return { path: unix[1] };
  const tcp = /^tcp:(\d{1,5})(?::(.+))?$/.exec(url);
  if (tcp && Number(tcp[1]) <= 65535) return { port: Number(tcp[1]), host: tcp[2] ?? '127.0.0.1' };
  throw new EventsRejectedError(`--api ${url}: use unix:PATH or tcp:PORT[:ADDR]`);
}

/**
 * The `Idempotency-Key` header of POST /events (optional): 1-200 visible ASCII characters. A batch
 * retried with the same key and the same events is answered from the store (`replayed: true`),
 * applied once; the same key with other events is refused (422).
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const v = Array.isArray(header) ? header[0] : header;
  if (!/^[\x21-\x7e]{1,200}$/.test(v)) throw new EventsRejectedError(`Idempotency-Key must be 1-200 visible ASCII characters, got ${JSON.stringify(v.slice(0, 40))}`);
  return v;
}

/** The same Idempotency-Key with other events than the batch stored under it: 422, nothing applied. */
export class IdempotencyKeyReusedError extends Error {
  readonly httpStatus = 422;
  constructor(message: string) {
    super(message);
    this.name = 'IdempotencyKeyReusedError';
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serve the API for `backend` at `listen`; the counters of requests go into `counters`. */
export async function startControllerApi(listen: string, backend: ControllerApiBackend, counters: ControllerSnapshot['api']): Promise<ControllerApi> {
  const where = parseApiListen(listen);
  const server = http.createServer((req, res) => {
    const receivedAtNs = process.hrtime.bigint();
    counters.requests++;
    const route = `${req.method ?? ''} ${(req.url ?? '').split('?')[0]}`;
    if (route === 'GET /metrics') return send(res, 200, formatMetrics(backend.snapshot()), 'text/plain; version=0.0.4; charset=utf-8');
    if (route === 'GET /state') return send(res, 200, backend.snapshot());
    if (route !== 'POST /events') {
      const known = ['GET /metrics', 'GET /state', 'POST /events'];
      return send(res, known.some((k) => k.endsWith(` ${(req.url ?? '').split('?')[0]}`)) ? 405 : 404, { error: `no ${route}: this API serves ${known.join(', ')}` });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) {
        counters.batchesRejected++;
        return send(res, 413, { error: `the body is larger than ${MAX_BODY_BYTES} bytes` });
      }
      let events: ScenarioEvent[];
      let key: string | undefined;
      try {
        key = idempotencyKeyOf(req.headers['idempotency-key']);
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (err) {
          throw new EventsRejectedError(`the body is not JSON: ${(err as Error).message}`);
        }
        events = parseEvents(body);
      } catch (err) {
        counters.batchesRejected++;
        const e = err as EventsRejectedError;
        return send(res, 400, { error: e.message, ...(e.index !== undefined ? { index: e.index } : {}), applied: 0 });
      }
      backend.applyEvents(events, receivedAtNs, key).then(
        (result) => {
          counters.eventsApplied += result.applied;
          send(res, 200, result);
        },
        (err: unknown) => {
          if (err instanceof EventsRejectedError) {
            counters.batchesRejected++;
            return send(res, 400, { error: err.message, ...(err.index !== undefined ? { index: err.index } : {}), applied: 0 });
          }
          // a store that refuses (an HA standby: 503 with the leader) or fails: nothing was applied
          const status = (err as { httpStatus?: number }).httpStatus ?? 500;
          const leader = (err as { leader?: string }).leader;
          send(res, status, { error: err instanceof Error ? err.message : String(err), ...(leader !== undefined ? { leader } : {}) });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in where) {
      // a stale socket of an earlier run is replaced; any other file is not ours to delete
      const st = fs.statSync(where.path, { throwIfNoEntry: false });
      if (st && !st.isSocket()) return reject(new Error(`--api ${listen}: ${where.path} exists and is not a socket`));
      if (st) fs.rmSync(where.path);
      server.listen(where.path, () => resolve());
    } else server.listen(where.port, where.host, () => resolve());
  });
  const addr = server.address();
  const url = 'path' in where ? `unix:${where.path}` : `tcp:${where.host}:${addr && typeof addr === 'object' ? addr.port : where.port}`;
  return {
    url,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if ('path' in where) fs.rmSync(where.path, { force: true });
    },
  };
}
