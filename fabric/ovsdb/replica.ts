/**
 * Replica: an in-memory copy of chosen tables kept current by one monitor (update2 by default),
 * applying updates in the order the server sent them. Callers read rows, listen to 'change', or await
 * a condition with waitFor. After a reconnect the client re-sends the monitor and the replica replaces
 * its contents with the fresh initial state, so rows deleted while disconnected disappear.
 *
 * The client checks the shape of every update before it arrives here; the replica then checks each
 * value against its column's kind (a map column gets a map, a set column no map) for the whole update
 * before applying any of it, so a bad update changes nothing and throws OvsdbProtocolError (which
 * closes the connection: a reconnecting client resyncs).
 */
import { EventEmitter } from 'events';
import type { OvsdbClient, TableUpdates, TableUpdates2, UpdateInfo, OvsdbMonitor } from './client';
import { Atom, Row, Value, atomKey, isMap, isSet, mapEntries, setElements } from './data';
import { OvsdbDisconnectedError, OvsdbProtocolError, OvsdbTimeoutError, OvsdbUsageError } from './errors';
import { ColumnType, DatabaseSchema, defaultValue } from './schema';

export interface ReplicaOptions {
  /** 'monitor_cond' (update2 diffs, default) or 'monitor' (RFC 7047 update with full rows) */
  method?: 'monitor' | 'monitor_cond';
}

interface Waiter {
  predicate(replica: Replica): boolean;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Apply an update2 column diff (ovsdb-server(7)): sets toggle elements, maps add/replace/remove keys. */
export function applyColumnDiff(type: ColumnType, old: Value | undefined, diff: Value): Value {
  if (type.value) {
    const entries = new Map<string, [Atom, Atom]>();
    for (const [k, v] of mapEntries(old)) entries.set(atomKey(k), [k, v]);
    for (const [k, v] of mapEntries(diff)) {
      const key = atomKey(k);
      const existing = entries.get(key);
      if (existing && atomKey(existing[1]) === atomKey(v)) entries.delete(key);
      else entries.set(key, [k, v]);
    }
    return ['map', [...entries.values()]];
  }
  // A column holding at most one value (scalar or optional) carries its new value, not a diff
  // (observed with ovsdb-server 3.1: clearing an optional column sends ["set", []]).
  if (type.max === 1) return diff;
  const elements = new Map<string, Atom>();
  for (const a of setElements(old)) elements.set(atomKey(a), a);
  for (const a of setElements(diff)) {
    const key = atomKey(a);
    if (elements.has(key)) elements.delete(key);
    else elements.set(key, a);
  }
  return ['set', [...elements.values()]];
}

/** Whether a received value (already known to be an OVSDB value) is of the column's kind. */
function fitsColumn(type: ColumnType, value: Value): boolean {
  if (type.value) return isMap(value) || (isSet(value) && value[1].length === 0);
  return !isMap(value);
}

/** Set a column without letting a column named `__proto__` replace the row's prototype. */
function setColumn(row: Row, column: string, value: Value): void {
  if (column === '__proto__') Object.defineProperty(row, column, { value, writable: true, enumerable: true, configurable: true });
  else row[column] = value;
}

export class Replica extends EventEmitter {
  private readonly tables = new Map<string, Map<string, Row>>();
  private readonly waiters = new Set<Waiter>();
  /** per table, the monitored columns with their default values (the server omits default columns) */
  private readonly defaults = new Map<string, Row>();
  private monitorHandle: OvsdbMonitor<unknown> | undefined;
  /** updates applied so far (initial contents count as one) */
  updateCount = 0;
  /** times the contents were replaced after a reconnect */
  resyncCount = 0;

  private constructor(
    readonly client: OvsdbClient,
    readonly db: string,
    readonly schema: DatabaseSchema,
  ) {
    super();
  }

  /** Monitor `tables` (table → columns, or undefined for all columns) and fill the replica. */
  static async create(
    client: OvsdbClient,
    db: string,
    tables: Record<string, string[] | undefined>,
    options: ReplicaOptions = {},
  ): Promise<Replica> {
    const schema = await client.getSchema(db);
    const replica = new Replica(client, db, schema);
    const requests: Record<string, { columns?: string[] }> = {};
    for (const [table, columns] of Object.entries(tables)) {
      if (!schema.tables.has(table)) throw new OvsdbUsageError(`Replica.create: no table ${table} in ${db}`);
      replica.tables.set(table, new Map());
      const tableSchema = schema.tables.get(table)!;
      const defaults: Row = {};
      for (const column of columns ?? [...tableSchema.columns.keys()]) {
        const columnSchema = tableSchema.columns.get(column);
        if (!columnSchema) throw new OvsdbUsageError(`Replica.create: no column ${column} in ${table}`);
        if (!column.startsWith('_')) defaults[column] = defaultValue(columnSchema.type);
      }
      replica.defaults.set(table, defaults);
      requests[table] = columns ? { columns } : {};
    }
    if ((options.method ?? 'monitor_cond') === 'monitor') {
      replica.monitorHandle = await client.monitor(db, requests, (u, info) => replica.applyUpdate(u, info));
    } else {
      replica.monitorHandle = await client.monitorCond(db, requests, (u, info) => replica.applyUpdate2(u, info));
    }
    return replica;
  }

  /** Rows of a table by uuid (each row also carries `_uuid` as ["uuid", …]). */
  rows(table: string): ReadonlyMap<string, Row> {
    const rows = this.tables.get(table);
    if (!rows) throw new OvsdbUsageError(`Replica.rows: table ${table} is not replicated`);
    return rows;
  }

  get(table: string, uuid: string): Row | undefined {
    return this.rows(table).get(uuid);
  }

  find(table: string, predicate: (row: Row) => boolean): Row[] {
    return [...this.rows(table).values()].filter(predicate);
  }

  /** Resolve once `predicate(replica)` holds (checked now and after every update); else OvsdbTimeoutError. */
  waitFor(predicate: (replica: Replica) => boolean, timeoutMs: number): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new OvsdbTimeoutError(`Replica.waitFor: condition not met within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Stop monitoring; pending waitFor calls fail. */
  async cancel(): Promise<void> {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new OvsdbUsageError('Replica.waitFor: replica cancelled'));
    }
    this.waiters.clear();
    const handle = this.monitorHandle;
    this.monitorHandle = undefined;
    if (!handle) return;
    // Forget the monitor in the client even while disconnected, so a reconnect does not re-send it.
    await handle.cancel().catch((err: Error) => {
      if (!(err instanceof OvsdbDisconnectedError) && !(err instanceof OvsdbUsageError)) throw err;
    });
  }

  private beginUpdate(info: UpdateInfo): void {
    if (info.resync) {
      for (const rows of this.tables.values()) rows.clear();
      this.resyncCount++;
    }
  }

  private finishUpdate(info: UpdateInfo): void {
    this.updateCount++;
    this.emit('change', info);
    for (const w of [...this.waiters]) {
      let done: boolean;
      try {
        done = w.predicate(this);
      } catch (err) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(err as Error);
        continue;
      }
      if (done) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  /** Every value of the rows we replicate fits its column's kind; else OvsdbProtocolError, before any change. */
  private checkKinds(method: string, updates: Record<string, Record<string, Record<string, unknown>>>): void {
    for (const [table, rowUpdates] of Object.entries(updates)) {
      const tableSchema = this.tables.has(table) ? this.schema.tables.get(table) : undefined;
      if (!tableSchema) continue;
      for (const [uuid, update] of Object.entries(rowUpdates)) {
        for (const [kind, row] of Object.entries(update)) {
          if (!row || typeof row !== 'object') continue;
          for (const [column, value] of Object.entries(row as Row)) {
            const columnSchema = tableSchema.columns.get(column);
            if (columnSchema && !fitsColumn(columnSchema.type, value)) {
              throw new OvsdbProtocolError(
                `${method}: table ${table} row ${uuid} "${kind}": column ${column} is ${isMap(value) ? 'a map' : 'not a map'}, unlike its type`,
              );
            }
          }
        }
      }
    }
  }

  private applyUpdate(updates: TableUpdates, info: UpdateInfo): void {
    this.checkKinds('update', updates);
    this.beginUpdate(info);
    for (const [table, rowUpdates] of Object.entries(updates ?? {})) {
      const rows = this.tables.get(table);
      if (!rows) continue;
      for (const [uuid, update] of Object.entries(rowUpdates)) {
        if (!update.new) rows.delete(uuid);
        else rows.set(uuid, { ...(rows.get(uuid) ?? this.defaults.get(table)), ...update.new, _uuid: ['uuid', uuid] });
      }
    }
    this.finishUpdate(info);
  }

  private applyUpdate2(updates: TableUpdates2, info: UpdateInfo): void {
    this.checkKinds('update2', updates);
    this.beginUpdate(info);
    for (const [table, rowUpdates] of Object.entries(updates ?? {})) {
      const rows = this.tables.get(table);
      const tableSchema = this.schema.tables.get(table);
      if (!rows || !tableSchema) continue;
      for (const [uuid, update] of Object.entries(rowUpdates)) {
        const full = update.initial ?? update.insert;
        if (full) rows.set(uuid, { ...this.defaults.get(table), ...full, _uuid: ['uuid', uuid] });
        else if ('delete' in update) rows.delete(uuid);
        else if (update.modify) {
          const row = { ...(rows.get(uuid) ?? { _uuid: ['uuid', uuid] as Value }) };
          for (const [column, diff] of Object.entries(update.modify)) {
            const columnSchema = tableSchema.columns.get(column);
            setColumn(row, column, columnSchema ? applyColumnDiff(columnSchema.type, row[column], diff) : diff);
          }
          rows.set(uuid, row);
        }
      }
    }
    this.finishUpdate(info);
  }
}

