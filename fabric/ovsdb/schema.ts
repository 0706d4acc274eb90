/**
 * Database schemas (RFC 7047 §3.2) parsed into typed form, and the check of a transaction against a
 * schema's type constraints (tables, columns, atomic types, enums, ranges, lengths, min/max counts,
 * mutability, mutators, named-uuid declarations) before it is sent. A failed check names the operation
 * index, the table and the column.
 */
import { Atom, Row, Value, atomKey, isIdentifier, isMap, isNamedUuid, isSet, isUuid, isUuidString } from './data';
import { OvsdbSchemaError } from './errors';
import type { Condition, Mutation, Operation } from './operations';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface BaseType {
  type: AtomicType;
  enum?: Atom[];
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  /** Infinity for "unlimited" */
  max: number;
}

export interface ColumnSchema {
  name: string;
  type: ColumnType;
  mutable: boolean;
  ephemeral: boolean;
}

export interface TableSchema {
  name: string;
  columns: Map<string, ColumnSchema>;
  isRoot: boolean;
  maxRows?: number;
  indexes: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Map<string, TableSchema>;
  /** the schema as the server sent it */
  json: unknown;
}

const ATOMIC_TYPES = new Set<string>(['integer', 'real', 'boolean', 'string', 'uuid']);

/** The implicit columns of every table. */
const UUID_BASE: BaseType = { type: 'uuid' };
const IMPLICIT_COLUMNS: ColumnSchema[] = [
  { name: '_uuid', type: { key: UUID_BASE, min: 1, max: 1 }, mutable: false, ephemeral: false },
  { name: '_version', type: { key: UUID_BASE, min: 1, max: 1 }, mutable: false, ephemeral: false },
];

function fail(message: string): never {
  throw new OvsdbSchemaError(`getSchema: ${message}`);
}

function parseBaseType(json: unknown, where: string): BaseType {
  if (typeof json === 'string') {
    if (!ATOMIC_TYPES.has(json)) fail(`${where}: unknown atomic type ${JSON.stringify(json)}`);
    return { type: json as AtomicType };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(`${where}: base type must be a string or object`);
  const o = json as Record<string, unknown>;
  if (typeof o.type !== 'string' || !ATOMIC_TYPES.has(o.type)) fail(`${where}: unknown atomic type ${JSON.stringify(o.type)}`);
  const base: BaseType = { type: o.type as AtomicType };
  if (o.enum !== undefined) {
    const elements = isSet(o.enum) ? o.enum[1] : [o.enum as Atom];
    base.enum = elements;
  }
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    if (o[k] !== undefined) {
      if (typeof o[k] !== 'number') fail(`${where}: ${k} must be a number`);
      base[k] = o[k] as number;
    }
  }
  if (o.refTable !== undefined) {
    if (typeof o.refTable !== 'string') fail(`${where}: refTable must be a string`);
    base.refTable = o.refTable;
    base.refType = o.refType === 'weak' ? 'weak' : 'strong';
  }
  return base;
}

function parseColumnType(json: unknown, where: string): ColumnType {
  if (typeof json === 'string') return { key: parseBaseType(json, where), min: 1, max: 1 };
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(`${where}: column type must be a string or object`);
  const o = json as Record<string, unknown>;
  const key = parseBaseType(o.key, `${where} key`);
  const value = o.value !== undefined ? parseBaseType(o.value, `${where} value`) : undefined;
  const min = o.min === undefined ? 1 : o.min;
  const max = o.max === undefined ? 1 : o.max === 'unlimited' ? Infinity : o.max;
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > 1) fail(`${where}: min must be 0 or 1`);
  if (typeof max !== 'number' || max < 1 || max < min) fail(`${where}: max must be ≥ 1 and ≥ min, or "unlimited"`);
  return value ? { key, value, min, max } : { key, min, max };
}

/** Parse a schema as returned by `get_schema`. */
export function parseSchema(json: unknown): DatabaseSchema {
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('schema must be an object');
  const o = json as Record<string, unknown>;
  if (typeof o.name !== 'string') fail('schema has no name');
  if (!o.tables || typeof o.tables !== 'object') fail('schema has no tables');
  const tables = new Map<string, TableSchema>();
  for (const [tableName, tableJson] of Object.entries(o.tables as Record<string, unknown>)) {
    const t = tableJson as Record<string, unknown>;
    if (!t || typeof t !== 'object' || !t.columns || typeof t.columns !== 'object') fail(`table ${tableName} has no columns`);
    const columns = new Map<string, ColumnSchema>();
    for (const c of IMPLICIT_COLUMNS) columns.set(c.name, c);
    for (const [columnName, columnJson] of Object.entries(t.columns as Record<string, unknown>)) {
      if (!columnJson || typeof columnJson !== 'object' || Array.isArray(columnJson)) fail(`column ${tableName}.${columnName} is not an object`);
      const c = columnJson as Record<string, unknown>;
      columns.set(columnName, {
        name: columnName,
        type: parseColumnType(c.type, `${tableName}.${columnName}`),
        mutable: c.mutable !== false,
        ephemeral: c.ephemeral === true,
      });
    }
    tables.set(tableName, {
      name: tableName,
      columns,
      isRoot: t.isRoot === true,
      maxRows: typeof t.maxRows === 'number' ? t.maxRows : undefined,
      indexes: Array.isArray(t.indexes) ? (t.indexes as string[][]) : [],
    });
  }
  for (const table of tables.values()) {
    for (const column of table.columns.values()) {
      for (const base of [column.type.key, column.type.value]) {
        if (base?.refTable && !tables.has(base.refTable)) fail(`${table.name}.${column.name}: refTable ${base.refTable} does not exist`);
      }
    }
  }
  return { name: o.name, version: typeof o.version === 'string' || typeof o.version === 'number' ? String(o.version) : '', cksum: typeof o.cksum === 'string' ? o.cksum : undefined, tables, json };
}

/** True for a column holding exactly one value (not a set, not a map). */
export function isScalarType(type: ColumnType): boolean {
  return type.min === 1 && type.max === 1 && !type.value;
}

/** The value OVSDB gives a column nobody set (RFC 7047 §5.1): 0, 0.0, false, "", the zero uuid, or empty. */
export function defaultValue(type: ColumnType): Value {
  if (type.value) return ['map', []];
  if (type.min === 0) return ['set', []];
  switch (type.key.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    default:
      return ['uuid', '00000000-0000-0000-0000-000000000000'];
  }
}

// ---- checking ---------------------------------------------------------------------------------------

interface CheckContext {
  index: number;
  table: string;
  column?: string;
  declared: Set<string>;
  used: { name: string; index: number; table: string; column?: string }[];
}

function bad(ctx: CheckContext, message: string): never {
  const where = ctx.column ? ` column "${ctx.column}"` : '';
  throw new OvsdbSchemaError(
    `transact: operation ${ctx.index} (table ${ctx.table})${where}: ${message}`,
    ctx.index,
    ctx.table,
    ctx.column,
  );
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function checkAtom(ctx: CheckContext, base: BaseType, atom: unknown, what: string): void {
  switch (base.type) {
    case 'integer':
      if (typeof atom !== 'number' || !Number.isInteger(atom)) bad(ctx, `${what} ${describe(atom)} is not an integer`);
      if (base.minInteger !== undefined && atom < base.minInteger) bad(ctx, `${what} ${atom} is less than minimum ${base.minInteger}`);
      if (base.maxInteger !== undefined && atom > base.maxInteger) bad(ctx, `${what} ${atom} is greater than maximum ${base.maxInteger}`);
      break;
    case 'real':
      if (typeof atom !== 'number' || !Number.isFinite(atom)) bad(ctx, `${what} ${describe(atom)} is not a real`);
      if (base.minReal !== undefined && atom < base.minReal) bad(ctx, `${what} ${atom} is less than minimum ${base.minReal}`);
      if (base.maxReal !== undefined && atom > base.maxReal) bad(ctx, `${what} ${atom} is greater than maximum ${base.maxReal}`);
      break;
    case 'boolean':
      if (typeof atom !== 'boolean') bad(ctx, `${what} ${describe(atom)} is not a boolean`);
      break;
    case 'string': {
      if (typeof atom !== 'string') bad(ctx, `${what} ${describe(atom)} is not a string`);
      const length = [...atom].length;
      if (base.minLength !== undefined && length < base.minLength) bad(ctx, `${what} ${describe(atom)} is shorter than ${base.minLength}`);
      if (base.maxLength !== undefined && length > base.maxLength) bad(ctx, `${what} ${describe(atom)} is longer than ${base.maxLength}`);
      break;
    }
    case 'uuid':
      if (isUuid(atom)) {
        if (!isUuidString(atom[1])) bad(ctx, `${what} ${describe(atom)} is not a valid uuid`);
      } else if (isNamedUuid(atom)) {
        if (!isIdentifier(atom[1])) bad(ctx, `${what} ${describe(atom)} is not a valid uuid-name`);
        ctx.used.push({ name: atom[1], index: ctx.index, table: ctx.table, column: ctx.column });
      } else bad(ctx, `${what} ${describe(atom)} is not ["uuid", …] or ["named-uuid", …]`);
      break;
  }
  if (base.enum && !base.enum.some((e) => atomKey(e) === atomKey(atom as Atom))) {
    bad(ctx, `${what} ${describe(atom)} is not one of ${describe(base.enum)}`);
  }
}

/** Check a value against a column type; `countFree` drops min/max (conditions, set mutations). */
function checkValue(ctx: CheckContext, type: ColumnType, value: unknown, countFree = false): void {
  let count: number;
  if (type.value) {
    if (!isMap(value)) bad(ctx, `${describe(value)} is not a ["map", …]`);
    const seen = new Set<string>();
    for (const pair of value[1]) {
      if (!Array.isArray(pair) || pair.length !== 2) bad(ctx, `map entry ${describe(pair)} is not a [key, value] pair`);
      checkAtom(ctx, type.key, pair[0], 'key');
      checkAtom(ctx, type.value, pair[1], 'value');
      const k = atomKey(pair[0] as Atom);
      if (seen.has(k)) bad(ctx, `map key ${describe(pair[0])} appears twice`);
      seen.add(k);
    }
    count = value[1].length;
  } else if (isSet(value)) {
    const seen = new Set<string>();
    for (const atom of value[1]) {
      checkAtom(ctx, type.key, atom, 'value');
      const k = atomKey(atom);
      if (seen.has(k)) bad(ctx, `set element ${describe(atom)} appears twice`);
      seen.add(k);
    }
    count = value[1].length;
  } else if (isMap(value)) {
    bad(ctx, `${describe(value)} is a map but the column is not`);
  } else {
    checkAtom(ctx, type.key, value, 'value');
    count = 1;
  }
  if (!countFree && (count < type.min || count > type.max)) {
    const max = type.max === Infinity ? 'unlimited' : String(type.max);
    bad(ctx, `has ${count} element(s), the column allows ${type.min} to ${max}`);
  }
}

function tableOf(schema: DatabaseSchema, ctx: CheckContext): TableSchema {
  const table = schema.tables.get(ctx.table);
  if (!table) bad(ctx, `no table "${ctx.table}" in database ${schema.name}`);
  return table;
}

function columnOf(table: TableSchema, ctx: CheckContext, name: string): ColumnSchema {
  ctx.column = name;
  const column = table.columns.get(name);
  if (!column) bad(ctx, 'no such column');
  return column;
}

function checkRow(table: TableSchema, ctx: CheckContext, row: unknown, forUpdate: boolean): void {
  if (!row || typeof row !== 'object' || Array.isArray(row)) bad(ctx, 'row must be an object');
  for (const [name, value] of Object.entries(row as Record<string, unknown>)) {
    const column = columnOf(table, ctx, name);
    if (name === '_uuid' || name === '_version') bad(ctx, 'cannot be written');
    if (forUpdate && !column.mutable) bad(ctx, 'is immutable and cannot be updated');
    checkValue(ctx, column.type, value);
  }
  ctx.column = undefined;
}

/** The value a column gets when an insert omits it (RFC 7047 §5.1: 0, 0.0, false, "", or empty). */
function defaultAtom(base: BaseType): Atom | undefined {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    default:
      return undefined; // the all-zero uuid: only the server can judge a reference
  }
}

/** An omitted column whose default violates the column's constraints would fail at the server. */
function checkDefaults(table: TableSchema, ctx: CheckContext, row: Row | undefined): void {
  for (const column of table.columns.values()) {
    if (column.type.min === 0 || column.type.value || column.name.startsWith('_') || (row && column.name in row)) continue;
    ctx.column = column.name;
    if (column.type.key.type === 'uuid' && column.type.key.refTable && column.type.key.refType !== 'weak') {
      bad(ctx, `is omitted; its default, the all-zero uuid, references no ${column.type.key.refTable} row`);
    }
    const atom = defaultAtom(column.type.key);
    if (atom === undefined) continue;
    try {
      checkAtom(ctx, column.type.key, atom, 'default value');
    } catch (err) {
      bad(ctx, `is omitted and its default ${JSON.stringify(atom)} is not allowed: ${(err as Error).message.split(': ').pop()}`);
    }
  }
  ctx.column = undefined;
}

function checkWhere(table: TableSchema, ctx: CheckContext, where: unknown): void {
  if (!Array.isArray(where)) bad(ctx, '"where" must be an array of conditions');
  for (const condition of where as Condition[]) {
    if (!Array.isArray(condition) || condition.length !== 3) bad(ctx, `condition ${describe(condition)} is not [column, function, value]`);
    const [name, fn, value] = condition;
    const column = columnOf(table, ctx, name);
    const ordered = fn === '<' || fn === '<=' || fn === '>' || fn === '>=';
    if (ordered) {
      if (!isScalarType(column.type) || (column.type.key.type !== 'integer' && column.type.key.type !== 'real')) {
        bad(ctx, `function "${fn}" needs an integer or real column`);
      }
    } else if (!['==', '!=', 'includes', 'excludes'].includes(fn)) bad(ctx, `unknown condition function ${describe(fn)}`);
    checkValue(ctx, column.type, value, fn === 'includes' || fn === 'excludes');
  }
  ctx.column = undefined;
}

function checkMutations(table: TableSchema, ctx: CheckContext, mutations: unknown): void {
  if (!Array.isArray(mutations)) bad(ctx, '"mutations" must be an array');
  for (const mutation of mutations as Mutation[]) {
    if (!Array.isArray(mutation) || mutation.length !== 3) bad(ctx, `mutation ${describe(mutation)} is not [column, mutator, value]`);
    const [name, mutator, value] = mutation;
    const column = columnOf(table, ctx, name);
    if (!column.mutable || name === '_uuid' || name === '_version') bad(ctx, 'is immutable and cannot be mutated');
    const type = column.type;
    if (mutator === 'insert' || mutator === 'delete') {
      if (isScalarType(type)) bad(ctx, `mutator "${mutator}" needs a set or map column`);
      if (type.value && mutator === 'delete' && !isMap(value)) {
        // deleting from a map by a set of keys
        checkValue(ctx, { key: type.key, min: 0, max: Infinity }, value, true);
      } else checkValue(ctx, type, value, true);
    } else if (['+=', '-=', '*=', '/=', '%='].includes(mutator)) {
      const t = type.key.type;
      if (type.value || (t !== 'integer' && t !== 'real') || (mutator === '%=' && t !== 'integer')) {
        bad(ctx, `mutator "${mutator}" needs an integer${mutator === '%=' ? '' : ' or real'} column (or set of them)`);
      }
      // the operand is one atom of the column's type, without range checks (the result is checked by the server)
      checkAtom(ctx, { type: t }, value, 'operand');
    } else bad(ctx, `unknown mutator ${describe(mutator)}`);
  }
  ctx.column = undefined;
}

/**
 * Check operations against the schema; throws OvsdbSchemaError naming the first bad operation.
 * `firstIndex` shifts the reported indexes when the caller prepends operations.
 */
export function checkOperations(schema: DatabaseSchema, operations: readonly Operation[]): void {
  const declared = new Set<string>();
  const used: CheckContext['used'] = [];
  operations.forEach((operation, index) => {
    const ctx: CheckContext = { index, table: (operation as { table?: string })?.table ?? '', declared, used };
    if (!operation || typeof operation !== 'object') bad(ctx, 'an operation must be an object');
    switch (operation.op) {
      case 'insert': {
        const table = tableOf(schema, ctx);
        checkRow(table, ctx, operation.row, false);
        checkDefaults(table, ctx, operation.row);
        const name = operation['uuid-name'];
        if (name !== undefined) {
          if (typeof name !== 'string' || !isIdentifier(name)) bad(ctx, `uuid-name ${describe(name)} is not an identifier`);
          if (declared.has(name)) bad(ctx, `uuid-name "${name}" is declared twice`);
          declared.add(name);
        }
        if (operation.uuid !== undefined && !isUuidString(operation.uuid)) bad(ctx, `uuid ${describe(operation.uuid)} is not a uuid`);
        break;
      }
      case 'select': {
        const table = tableOf(schema, ctx);
        checkWhere(table, ctx, operation.where);
        for (const c of operation.columns ?? []) columnOf(table, ctx, c);
        break;
      }
      case 'update': {
        const table = tableOf(schema, ctx);
        checkWhere(table, ctx, operation.where);
        checkRow(table, ctx, operation.row, true);
        break;
      }
      case 'mutate': {
        const table = tableOf(schema, ctx);
        checkWhere(table, ctx, operation.where);
        checkMutations(table, ctx, operation.mutations);
        break;
      }
      case 'delete':
        checkWhere(tableOf(schema, ctx), ctx, operation.where);
        break;
      case 'wait': {
        const table = tableOf(schema, ctx);
        checkWhere(table, ctx, operation.where);
        if (operation.until !== '==' && operation.until !== '!=') bad(ctx, `"until" must be "==" or "!="`);
        if (!Array.isArray(operation.columns)) bad(ctx, '"columns" must be an array');
        for (const c of operation.columns) columnOf(table, ctx, c);
        ctx.column = undefined;
        if (!Array.isArray(operation.rows)) bad(ctx, '"rows" must be an array');
        for (const row of operation.rows) {
          for (const [name, value] of Object.entries(row)) {
            if (!operation.columns.includes(name)) bad(ctx, `row column "${name}" is not in "columns"`);
            checkValue(ctx, columnOf(table, ctx, name).type, value);
          }
        }
        if (operation.timeout !== undefined && (typeof operation.timeout !== 'number' || operation.timeout < 0)) bad(ctx, '"timeout" must be ≥ 0');
        break;
      }
      case 'commit':
        if (typeof operation.durable !== 'boolean') bad(ctx, '"durable" must be a boolean');
        break;
      case 'abort':
        break;
      case 'comment':
        if (typeof operation.comment !== 'string') bad(ctx, '"comment" must be a string');
        break;
      case 'assert':
        if (typeof operation.lock !== 'string' || !isIdentifier(operation.lock)) bad(ctx, '"lock" must be an identifier');
        break;
      default:
        bad(ctx, `unknown operation ${describe((operation as { op?: unknown }).op)}`);
    }
  });
  for (const use of used) {
    if (!declared.has(use.name)) {
      bad({ index: use.index, table: use.table, column: use.column, declared, used }, `named-uuid "${use.name}" is not declared by any insert`);
    }
  }
}

