/** The shapes of monitor updates (RFC 7047 table-updates, and monitor_cond's table-updates2). */
import type { Row } from './data';

export type RowUpdate = { old?: Row; new?: Row };
export type TableUpdates = Record<string, Record<string, RowUpdate>>;
/** monitor_cond's table-updates2 (ovsdb-server(7)) */
export type RowUpdate2 = { initial?: Row; insert?: Row; modify?: Row; delete?: null };
export type TableUpdates2 = Record<string, Record<string, RowUpdate2>>;
