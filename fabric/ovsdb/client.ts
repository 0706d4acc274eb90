/**
 * OvsdbClient: the RFC 7047 methods on top of one JSON-RPC connection, plus what long-lived clients
 * need: schema checks before sending, monitors that survive a reconnect (re-sent with their ids, their
 * callbacks told it is a resync), reconnect with exponential backoff, lock notifications.
 *
 * Events: 'disconnect' (error), 'reconnect' (), 'unexpected' (UnexpectedMessage), 'locked' (lockId),
 * 'stolen' (lockId), 'send' (message, for tracing and tests).
 */
import { EventEmitter } from 'events';
import type { Value } from './data';
import { OvsdbCanceledError, OvsdbDisconnectedError, OvsdbProtocolError, OvsdbTransactionError, OvsdbUsageError } from './errors';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framing';
import type { Operation, ResultsOf } from './operations';
import { JsonRpcConnection, UnexpectedMessage } from './rpc';
import { DatabaseSchema, checkOperations, parseSchema } from './schema';
import { OvsdbEndpoint, TlsFiles, openStream, parseOvsdbUrl } from './transport';
import { checkArray, checkStringArray, checkTableUpdates, checkTableUpdates2, checkTransactResults } from './validate';

export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** give up after this many failed attempts in a row (default: never) */
  maxAttempts?: number;
}

export interface OvsdbClientOptions {
  /** largest JSON value accepted from the server (default 64 MiB) */
  maxMessageBytes?: number;
  connectTimeoutMs?: number;
  /** echo keepalive: idle time before we send an echo (default 5000; 0 disables) */
  echoIntervalMs?: number;
  /** close when our echo is unanswered this long (default 5000) */
  echoTimeoutMs?: number;
  /** reject a request unanswered this long (default 0: never, the close still rejects it) */
  requestTimeoutMs?: number;
  /** reconnect after an unexpected close (default off) */
  reconnect?: boolean | ReconnectOptions;
  /** for ssl: URLs */
  tls?: TlsFiles;
  /** check transactions against the database schema before sending (default true) */
  checkSchema?: boolean;
}

/** table → update of one row: RFC 7047 §4.1.6 */
export type { RowUpdate, TableUpdates, RowUpdate2, TableUpdates2 } from './updates';
import type { TableUpdates, TableUpdates2 } from './updates';

export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}
export interface MonitorRequest {
  columns?: string[];
  select?: MonitorSelect;
}
export type MonitorRequests = Record<string, MonitorRequest | MonitorRequest[]>;
export interface MonitorCondRequest extends MonitorRequest {
  where?: [string, string, Value][] | boolean[];
}
export type MonitorCondRequests = Record<string, MonitorCondRequest | MonitorCondRequest[]>;

export interface UpdateInfo {
  monitorId: string;
  /** the monitor's initial contents (the reply to monitor/monitor_cond) */
  initial: boolean;
  /** true for the initial contents re-sent after a reconnect: replace what you held */
  resync: boolean;
}

export interface OvsdbMonitor<U> {
  readonly id: string;
  readonly db: string;
  readonly initial: U;
  cancel(): Promise<void>;
}

interface MonitorEntry {
  id: string;
  db: string;
  method: 'monitor' | 'monitor_cond';
  requests: unknown;
  onUpdate(updates: unknown, info: UpdateInfo): void;
}

let monitorCounter = 0;

export class OvsdbClient extends EventEmitter {
  private connection: JsonRpcConnection | undefined;
  private closedByUser = false;
  private readonly schemas = new Map<string, DatabaseSchema>();
  private readonly monitors = new Map<string, MonitorEntry>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly settings: Required<Omit<OvsdbClientOptions, 'reconnect' | 'tls'>> & {
    reconnect: Required<ReconnectOptions> | undefined;
    tls?: TlsFiles;
  };

  private constructor(
    readonly url: string,
    private readonly endpoint: OvsdbEndpoint,
    options: OvsdbClientOptions,
  ) {
    super();
    const r = options.reconnect;
    this.settings = {
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      echoIntervalMs: options.echoIntervalMs ?? 5_000,
      echoTimeoutMs: options.echoTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 0,
      checkSchema: options.checkSchema ?? true,
      tls: options.tls,
      reconnect: r
        ? {
            initialDelayMs: (typeof r === 'object' && r.initialDelayMs) || 100,
            maxDelayMs: (typeof r === 'object' && r.maxDelayMs) || 5_000,
            maxAttempts: (typeof r === 'object' && r.maxAttempts) || Infinity,
          }
        : undefined,
    };
  }

  /** Connect to `unix:PATH`, `tcp:HOST:PORT` or `ssl:HOST:PORT`. */
  static async connect(url: string, options: OvsdbClientOptions = {}): Promise<OvsdbClient> {
    const client = new OvsdbClient(url, parseOvsdbUrl(url), options);
    await client.open();
    return client;
  }

  get isConnected(): boolean {
    return !!this.connection?.isOpen;
  }

  private async open(): Promise<void> {
    const socket = await openStream(this.endpoint, {
      tls: this.settings.tls,
      connectTimeoutMs: this.settings.connectTimeoutMs,
    });
    if (this.closedByUser) {
      socket.destroy();
      throw new OvsdbDisconnectedError('connect: client closed');
    }
    const connection = new JsonRpcConnection(socket, this.settings);
    this.connection = connection;
    connection.on('send', (message) => this.emit('send', message));
    connection.on('unexpected', (u: UnexpectedMessage) => this.emit('unexpected', u));
    connection.on('notification', (method: string, params: unknown[], message: unknown) =>
      this.onNotification(method, params, message),
    );
    connection.on('close', (reason: Error) => this.onConnectionClose(connection, reason));
  }

  private onConnectionClose(connection: JsonRpcConnection, reason: Error): void {
    if (this.connection !== connection) return;
    this.emit('disconnect', reason);
    if (this.closedByUser || !this.settings.reconnect) return;
    this.reconnecting = this.reconnectLoop();
    this.reconnecting.catch(() => undefined);
  }

  private async reconnectLoop(): Promise<void> {
    const policy = this.settings.reconnect!;
    let delayMs = policy.initialDelayMs;
    for (let attempt = 1; attempt <= policy.maxAttempts && !this.closedByUser; attempt++) {
      await new Promise<void>((resolve) => {
        this.reconnectTimer = setTimeout(resolve, delayMs);
      });
      if (this.closedByUser) return;
      try {
        await this.open();
      } catch {
        delayMs = Math.min(delayMs * 2, policy.maxDelayMs);
        continue;
      }
      // Re-send every monitor with its id; their callbacks get the full contents as a resync.
      // A malformed initial state leaves the monitor unusable: close, so the next attempt resyncs.
      const connection = this.connection;
      for (const entry of this.monitors.values()) {
        this.sendMonitor(entry, true).result.catch((err) => {
          this.emit('unexpected', { kind: 'malformed', message: String(err) });
          if (err instanceof OvsdbProtocolError) connection?.fail(err);
        });
      }
      this.emit('reconnect');
      return;
    }
    this.emit('giveup');
  }

  /**
   * Runs inside the connection's data handler: a malformed update of one of our monitors throws an
   * OvsdbProtocolError, which closes the connection (the monitor missed an update; a reconnect resyncs).
   */
  private onNotification(method: string, params: unknown[], message: unknown): void {
    if ((method === 'update' || method === 'update2') && params.length >= 2) {
      const entry = typeof params[0] === 'string' ? this.monitors.get(params[0]) : undefined;
      if (entry && (entry.method === 'monitor') === (method === 'update')) {
        if (method === 'update') checkTableUpdates(params[1], `update (monitor ${entry.id})`);
        else checkTableUpdates2(params[1], `update2 (monitor ${entry.id})`);
        entry.onUpdate(params[1], { monitorId: entry.id, initial: false, resync: false });
        return;
      }
    } else if ((method === 'locked' || method === 'stolen') && params.length >= 1) {
      this.emit(method, params[0]);
      return;
    }
    this.emit('unexpected', { kind: 'unknown-notification', message } satisfies UnexpectedMessage);
  }

  private rpc(): JsonRpcConnection {
    if (this.closedByUser) throw new OvsdbUsageError('client is closed');
    if (!this.connection || !this.connection.isOpen) throw new OvsdbDisconnectedError('not connected');
    return this.connection;
  }

  private call(method: string, params: unknown[], onReply?: (result: unknown) => void): { id: number; result: Promise<unknown> } {
    let connection: JsonRpcConnection;
    try {
      connection = this.rpc();
    } catch (err) {
      return { id: -1, result: Promise.reject(err) };
    }
    return connection.request(method, params, onReply);
  }

  /** Any JSON-RPC method by name (for methods this client has no wrapper for, e.g. get_server_id). */
  request(method: string, params: unknown[]): Promise<unknown> {
    return this.call(method, params).result;
  }

  async listDbs(): Promise<string[]> {
    const result = await this.call('list_dbs', []).result;
    checkStringArray(result, 'list_dbs');
    return result;
  }

  /** The database's schema (cached after the first call; `refresh` fetches it again). */
  async getSchema(db: string, refresh = false): Promise<DatabaseSchema> {
    const cached = this.schemas.get(db);
    if (cached && !refresh) return cached;
    const schema = parseSchema(await this.call('get_schema', [db]).result);
    this.schemas.set(db, schema);
    return schema;
  }

  /** Run a transaction; resolves with one typed result per operation, or rejects with OvsdbTransactionError. */
  async transact<Ops extends Operation[]>(db: string, ...operations: Ops): Promise<ResultsOf<Ops>> {
    return (await this.beginTransact(db, ...operations)).result;
  }

  /**
   * Like transact, but also gives the request id to `cancel` it. The schema check happens before the
   * request is sent, so the id is known only once this resolves.
   */
  async beginTransact<Ops extends Operation[]>(db: string, ...operations: Ops): Promise<{ requestId: number; result: Promise<ResultsOf<Ops>> }> {
    if (this.settings.checkSchema) checkOperations(await this.getSchema(db), operations);
    const { id, result } = this.call('transact', [db, ...operations]);
    return { requestId: id, result: result.then((r) => interpretTransactResult(r, operations) as ResultsOf<Ops>) };
  }

  /**
   * Cancel a request (RFC 7047 §4.1.4): sends the `cancel` notification and stops waiting, so the
   * caller's promise rejects with OvsdbCanceledError at once. The server may still complete the
   * transaction; a late reply is reported as 'unexpected'. Returns false for an unknown id.
   */
  cancel(requestId: number): boolean {
    const connection = this.connection;
    if (!connection?.isOpen) return false;
    connection.notify('cancel', [requestId]);
    return connection.abandon(requestId, new OvsdbCanceledError(`request ${requestId} canceled by the client`));
  }

  private sendMonitor(entry: MonitorEntry, resync: boolean): { id: number; result: Promise<unknown> } {
    return this.call(entry.method, [entry.db, entry.id, entry.requests], (initial) => {
      if (entry.method === 'monitor') checkTableUpdates(initial, `monitor (${entry.id})`);
      else checkTableUpdates2(initial, `monitor_cond (${entry.id})`);
      entry.onUpdate(initial, { monitorId: entry.id, initial: true, resync });
    });
  }

  private async startMonitor(
    method: 'monitor' | 'monitor_cond',
    db: string,
    requests: unknown,
    onUpdate: (updates: never, info: UpdateInfo) => void,
  ): Promise<OvsdbMonitor<unknown>> {
    const id = `m${++monitorCounter}`;
    const entry: MonitorEntry = { id, db, method, requests, onUpdate: onUpdate as MonitorEntry['onUpdate'] };
    this.monitors.set(id, entry);
    let initial: unknown;
    try {
      initial = await this.sendMonitor(entry, false).result;
    } catch (err) {
      this.monitors.delete(id);
      throw err;
    }
    return { id, db, initial, cancel: () => this.monitorCancel(id) };
  }

  /** RFC 7047 `monitor`; `onUpdate` receives the initial contents first, then every `update`. */
  monitor(db: string, requests: MonitorRequests, onUpdate: (updates: TableUpdates, info: UpdateInfo) => void): Promise<OvsdbMonitor<TableUpdates>> {
    return this.startMonitor('monitor', db, requests, onUpdate) as Promise<OvsdbMonitor<TableUpdates>>;
  }

  /** `monitor_cond` with `update2` notifications (ovsdb-server(7)). */
  monitorCond(
    db: string,
    requests: MonitorCondRequests,
    onUpdate: (updates: TableUpdates2, info: UpdateInfo) => void,
  ): Promise<OvsdbMonitor<TableUpdates2>> {
    return this.startMonitor('monitor_cond', db, requests, onUpdate) as Promise<OvsdbMonitor<TableUpdates2>>;
  }

  async monitorCancel(monitorId: string): Promise<void> {
    if (!this.monitors.delete(monitorId)) throw new OvsdbUsageError(`monitor_cancel: no monitor ${monitorId}`);
    await this.call('monitor_cancel', [monitorId]).result;
  }

  /** Round trip; resolves with what the server echoed. */
  async echo(...params: unknown[]): Promise<unknown[]> {
    const result = await this.call('echo', params).result;
    checkArray(result, 'echo');
    return result;
  }

  /** true when the lock was granted now; otherwise a 'locked' event follows when it is. */
  async lock(lockId: string): Promise<boolean> {
    return lockResult('lock', await this.call('lock', [lockId]).result);
  }

  /** Take the lock from its holder (who gets 'stolen'). */
  async steal(lockId: string): Promise<boolean> {
    return lockResult('steal', await this.call('steal', [lockId]).result);
  }

  async unlock(lockId: string): Promise<void> {
    await this.call('unlock', [lockId]).result;
  }

  /** Close for good: no reconnect; waiting requests fail with OvsdbDisconnectedError. */
  async close(): Promise<void> {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.monitors.clear();
    this.connection?.close();
  }
}

function lockResult(method: string, result: unknown): boolean {
  const locked = result && typeof result === 'object' ? (result as { locked?: unknown }).locked : undefined;
  if (typeof locked !== 'boolean') throw new OvsdbProtocolError(`${method}: result has no boolean "locked"`);
  return locked;
}

/** Turn a transact reply into results, or an OvsdbTransactionError naming the failing operation. */
export function interpretTransactResult(result: unknown, operations: readonly Operation[]): unknown[] {
  if (!Array.isArray(result)) throw new OvsdbProtocolError('transact: result is not an array');
  for (let i = 0; i < result.length; i++) {
    const r = result[i] as { error?: unknown; details?: unknown } | null;
    if (r && typeof r === 'object' && typeof r.error === 'string') {
      throw new OvsdbTransactionError(
        r.error,
        typeof r.details === 'string' ? r.details : undefined,
        i,
        operations[i],
        result,
      );
    }
  }
  if (result.length < operations.length) throw new OvsdbProtocolError(`transact: ${result.length} results for ${operations.length} operations`);
  checkTransactResults(result, operations);
  return result.slice(0, operations.length);
}
