/**
 * The operations of an OVSDB transaction (RFC 7047 §5.2) as typed data, their per-operation result
 * types, and small builders. `transact` maps a tuple of operations to the tuple of their result types.
 */
import type { Row, Uuid, Value } from './data';

export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
export type Condition = [column: string, fn: ConditionFunction, value: Value];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = [column: string, mutator: Mutator, value: Value];

export interface InsertOperation {
  op: 'insert';
  table: string;
  row: Row;
  'uuid-name'?: string;
  /** RFC 7047 extension (ovsdb-server ≥ 2.13): choose the new row's uuid */
  uuid?: string;
}
export interface SelectOperation {
  op: 'select';
  table: string;
  where: Condition[];
  columns?: string[];
}
export interface UpdateOperation {
  op: 'update';
  table: string;
  where: Condition[];
  row: Row;
}
export interface MutateOperation {
  op: 'mutate';
  table: string;
  where: Condition[];
  mutations: Mutation[];
}
export interface DeleteOperation {
  op: 'delete';
  table: string;
  where: Condition[];
}
export interface WaitOperation {
  op: 'wait';
  table: string;
  where: Condition[];
  columns: string[];
  until: '==' | '!=';
  rows: Row[];
  timeout?: number;
}
export interface CommitOperation {
  op: 'commit';
  durable: boolean;
}
export interface AbortOperation {
  op: 'abort';
}
export interface CommentOperation {
  op: 'comment';
  comment: string;
}
export interface AssertOperation {
  op: 'assert';
  lock: string;
}

export type Operation =
  | InsertOperation
  | SelectOperation
  | UpdateOperation
  | MutateOperation
  | DeleteOperation
  | WaitOperation
  | CommitOperation
  | AbortOperation
  | CommentOperation
  | AssertOperation;

export interface InsertResult {
  uuid: Uuid;
}
export interface SelectResult {
  rows: Row[];
}
export interface CountResult {
  count: number;
}
export type EmptyResult = Record<string, never>;

export type ResultOf<O extends Operation> = O extends InsertOperation
  ? InsertResult
  : O extends SelectOperation
    ? SelectResult
    : O extends UpdateOperation | MutateOperation | DeleteOperation
      ? CountResult
      : EmptyResult;

export type ResultsOf<Ops extends readonly Operation[]> = { [K in keyof Ops]: Ops[K] extends Operation ? ResultOf<Ops[K]> : never };

/** Operations that change the database (used to prove idempotent helpers send none). */
export function isMutatingOperation(operation: Operation): boolean {
  return operation.op === 'insert' || operation.op === 'update' || operation.op === 'mutate' || operation.op === 'delete';
}

/** Builders: plain data, so callers can also write the objects themselves. */
export const op = {
  insert(table: string, row: Row, uuidName?: string): InsertOperation {
    return uuidName ? { op: 'insert', table, row, 'uuid-name': uuidName } : { op: 'insert', table, row };
  },
  select(table: string, where: Condition[] = [], columns?: string[]): SelectOperation {
    return columns ? { op: 'select', table, where, columns } : { op: 'select', table, where };
  },
  update(table: string, where: Condition[], row: Row): UpdateOperation {
    return { op: 'update', table, where, row };
  },
  mutate(table: string, where: Condition[], mutations: Mutation[]): MutateOperation {
    return { op: 'mutate', table, where, mutations };
  },
  delete(table: string, where: Condition[]): DeleteOperation {
    return { op: 'delete', table, where };
  },
  wait(table: string, where: Condition[], columns: string[], until: '==' | '!=', rows: Row[], timeoutMs?: number): WaitOperation {
    const w: WaitOperation = { op: 'wait', table, where, columns, until, rows };
    if (timeoutMs !== undefined) w.timeout = timeoutMs;
    return w;
  },
  commit(durable = false): CommitOperation {
    return { op: 'commit', durable };
  },
  abort(): AbortOperation {
    return { op: 'abort' };
  },
  comment(comment: string): CommentOperation {
    return { op: 'comment', comment };
  },
  assert(lock: string): AssertOperation {
    return { op: 'assert', lock };
  },
};
