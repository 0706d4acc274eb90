/**
 * Shape checks of what the server sends, run before anything uses it: table-updates (`update`, the
 * `monitor` reply), table-updates2 (`update2`, the `monitor_cond` reply), rows and their values, and
 * the replies of the methods with a fixed result shape. A failure is an OvsdbProtocolError whose
 * message begins with the method and says where the value went wrong. Internal: not part of the API.
 *
 * The checks are iterative over a fixed structure (tables → rows → columns → value → atoms), never a
 * recursion over the peer's nesting, and linear in the size of the message.
 */
import type { RowUpdate, RowUpdate2, TableUpdates, TableUpdates2 } from './updates';
import { Row } from './data';
import { OvsdbProtocolError } from './errors';
import type { Operation } from './operations';

/** A short name of a JSON value's type, for messages (never its content). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringPair(value: unknown, tag: string): boolean {
  return Array.isArray(value) && value.length === 2 && value[0] === tag && typeof value[1] === 'string';
}

/** RFC 7047 §5.1 <atom>: string, number, boolean, ["uuid", s], ["named-uuid", s]. */
export function isAtom(value: unknown): boolean {
  const t = typeof value;
  if (t === 'string' || t === 'boolean') return true;
  if (t === 'number') return Number.isFinite(value);
  return isStringPair(value, 'uuid') || isStringPair(value, 'named-uuid');
}

/** RFC 7047 §5.1 <value>: an atom, ["set", [atom…]] or ["map", [[atom, atom]…]]. */
export function isValue(value: unknown): boolean {
  if (isAtom(value)) return true;
  if (!Array.isArray(value) || value.length !== 2 || !Array.isArray(value[1])) return false;
  const elements = value[1] as unknown[];
  if (value[0] === 'set') {
    for (const e of elements) if (!isAtom(e)) return false;
    return true;
  }
  if (value[0] === 'map') {
    for (const e of elements) if (!Array.isArray(e) || e.length !== 2 || !isAtom(e[0]) || !isAtom(e[1])) return false;
    return true;
  }
  return false;
}

function fail(where: string, message: string): never {
  throw new OvsdbProtocolError(`${where}: ${message}`);
}

/** Name of a table/row/column for a message, cut short (names come from the peer). */
function short(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

export function checkRow(row: unknown, where: string): asserts row is Row {
  if (!isObject(row)) fail(where, `row is ${jsonType(row)}, not an object`);
  for (const column in row) {
    if (!isValue(row[column])) fail(where, `column ${short(column)} is not an OVSDB value`);
  }
}

function checkTables(updates: unknown, where: string, eachRow: (update: unknown, at: string) => void): void {
  if (!isObject(updates)) fail(where, `table updates are ${jsonType(updates)}, not an object`);
  for (const table in updates) {
    const rows = updates[table];
    if (!isObject(rows)) fail(where, `updates of table ${short(table)} are ${jsonType(rows)}, not an object`);
    for (const uuid in rows) eachRow(rows[uuid], `${where}: table ${short(table)} row ${short(uuid)}`);
  }
}

/** `update` / the `monitor` reply (RFC 7047 §4.1.6): table → uuid → { old?: row, new?: row }, at least one. */
export function checkTableUpdates(updates: unknown, where: string): asserts updates is TableUpdates {
  checkTables(updates, where, (update, at) => {
    if (!isObject(update)) fail(at, `row update is ${jsonType(update)}, not an object`);
    const u = update as RowUpdate;
    if (u.old === undefined && u.new === undefined) fail(at, 'row update has neither "old" nor "new"');
    if (u.old !== undefined) checkRow(u.old, `${at} "old"`);
    if (u.new !== undefined) checkRow(u.new, `${at} "new"`);
  });
}

const UPDATE2_KINDS = ['initial', 'insert', 'delete', 'modify'] as const;

/** `update2` / the `monitor_cond` reply (ovsdb-server(7)): exactly one of initial, insert, modify (rows) or delete (null). */
export function checkTableUpdates2(updates: unknown, where: string): asserts updates is TableUpdates2 {
  checkTables(updates, where, (update, at) => {
    if (!isObject(update)) fail(at, `row update is ${jsonType(update)}, not an object`);
    const present = UPDATE2_KINDS.filter((k) => k in update);
    if (present.length !== 1) fail(at, `row update needs exactly one of initial/insert/delete/modify, has ${present.length}`);
    const kind = present[0];
    const body = (update as RowUpdate2)[kind];
    if (kind === 'delete') {
      if (body !== null) fail(at, `"delete" is ${jsonType(body)}, not null`);
    } else checkRow(body, `${at} "${kind}"`);
  });
}

export function checkStringArray(result: unknown, where: string): asserts result is string[] {
  if (!Array.isArray(result)) fail(where, `result is ${jsonType(result)}, not an array`);
  for (let i = 0; i < result.length; i++) if (typeof result[i] !== 'string') fail(where, `element ${i} is ${jsonType(result[i])}, not a string`);
}

export function checkArray(result: unknown, where: string): asserts result is unknown[] {
  if (!Array.isArray(result)) fail(where, `result is ${jsonType(result)}, not an array`);
}

/**
 * The results of a transaction that reported no error: one object per operation, shaped by its kind
 * (insert → uuid, select → rows, update/mutate/delete → count).
 */
export function checkTransactResults(results: readonly unknown[], operations: readonly Operation[]): void {
  for (let i = 0; i < operations.length; i++) {
    const r = results[i];
    const at = `transact: result ${i}`;
    if (!isObject(r)) fail(at, `is ${jsonType(r)}, not an object`);
    const kind = (operations[i] as { op?: unknown } | undefined)?.op;
    if (kind === 'insert') {
      if (!isStringPair(r.uuid, 'uuid')) fail(at, 'insert result has no ["uuid", …]');
    } else if (kind === 'select') {
      if (!Array.isArray(r.rows)) fail(at, `select result "rows" is ${jsonType(r.rows)}, not an array`);
      for (let j = 0; j < r.rows.length; j++) checkRow(r.rows[j], `${at} row ${j}`);
    } else if (kind === 'update' || kind === 'mutate' || kind === 'delete') {
      if (typeof r.count !== 'number' || !Number.isInteger(r.count) || r.count < 0) fail(at, `${kind} result "count" is not a count`);
    }
  }
}
