/**
 * Public API of the OVSDB client (RFC 7047): connect, list/get schema, typed transactions checked
 * against the schema, monitors and a monitor-backed replica, locks, echo, cancel. Self-contained:
 * depends on Node's standard library only.
 */
export { OvsdbClient, interpretTransactResult } from './client';
export type {
  OvsdbClientOptions,
  ReconnectOptions,
  MonitorRequest,
  MonitorRequests,
  MonitorCondRequest,
  MonitorCondRequests,
  MonitorSelect,
  OvsdbMonitor,
  RowUpdate,
  RowUpdate2,
  TableUpdates,
  TableUpdates2,
  UpdateInfo,
} from './client';
export * from './data';
export * from './errors';
export { JsonStreamReader, DEFAULT_MAX_MESSAGE_BYTES } from './framing';
export type { JsonStreamReaderOptions } from './framing';
export { op, isMutatingOperation } from './operations';
export type * from './operations';
export { Replica, applyColumnDiff } from './replica';
export type { ReplicaOptions } from './replica';
export { parseSchema, checkOperations, defaultValue, isScalarType } from './schema';
export type { AtomicType, BaseType, ColumnSchema, ColumnType, DatabaseSchema, TableSchema } from './schema';
export { parseOvsdbUrl } from './transport';
export type { OvsdbEndpoint, TlsFiles } from './transport';
export type { UnexpectedMessage } from './rpc';
