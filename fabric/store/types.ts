/**
 * The intent store: every accepted change of the cluster (an API batch, a live edit of the scenario
 * file, a CNI ADD/DEL, which arrive as API batches) is appended here, durably, before it is applied
 * and acknowledged; a (re)started controller replays it over the scenario file. One small interface,
 * three implementations: in memory (no --state-dir: as before, nothing survives a restart), an
 * append-only log file with fsync (`--state-dir DIR`, fabric/store/log.ts) and etcd (`--store
 * etcd://HOST:PORT[,...]`, fabric/store/etcd.ts: shared by several controllers, see docs/ha.md).
 */
import type { ScenarioEvent } from '../../topology/types';

/** What one accepted change is: the events as applied (pod IPs pinned), and where it came from. */
export interface IntentBatch {
  /** 'api' (POST /events, CNI), 'file' (a live edit of the scenario file) */
  source: string;
  events: ScenarioEvent[];
  /** ISO time it was accepted (informational) */
  at?: string;
  /** source 'file': SHA-256 of the scenario file's bytes that gave this edit (HA: a standby with the same file follows it) */
  fileSha256?: string;
  /** an API batch sent with an Idempotency-Key: the key and the SHA-256 of the events as sent */
  idempotency?: { key: string; digest: string };
  /**
   * Only on a compacted batch (`source: 'compacted'`, fabric/store/compact.ts): it replaces the
   * batches from..to (its revision is `to`); its events take the scenario file's state to the state
   * those batches gave.
   */
  compacted?: { from: number; to: number };
}

export interface StoredBatch extends IntentBatch {
  /** 1, 2, 3, ...: dense, in the order the batches were accepted */
  revision: number;
}

export interface IntentStore {
  /** 'memory', 'log:DIR', 'etcd://...' */
  readonly describe: string;
  /** Every batch stored, in order, and the last revision (0: empty). */
  load(): Promise<{ revision: number; batches: StoredBatch[] }>;
  /** Store one batch; resolves with its revision once it is durable (fsync'ed / committed by etcd). */
  append(batch: IntentBatch): Promise<number>;
  /**
   * Call `cb` for every batch with a revision above `fromRevision`, in order, as they are stored (by
   * this process or, for a shared store, by another one). Returns the function that stops watching.
   */
  watch(fromRevision: number, cb: (batch: StoredBatch) => void): () => void;
  /**
   * Replace batches 1..upTo by ONE batch with revision `upTo`, `source: 'compacted'` and
   * `compacted: { from, to: upTo }` (set by the store). Later batches keep their revisions; the next
   * append still gets the next dense revision; load() returns the compacted batch first. A watcher that
   * already applied `upTo` ignores it (revision <= its last); one that applied some but not all of
   * 1..upTo must rebuild (compact.ts needsRebuild).
   */
  compact?(upTo: number, batch: IntentBatch): Promise<void>;
  close(): Promise<void>;
}

/** The batch a store writes for compact(upTo, batch); checks upTo against what it holds. */
export function compactedRecord(upTo: number, batch: IntentBatch, first: StoredBatch | undefined, last: number): IntentBatch {
  if (!Number.isInteger(upTo) || upTo < 1 || upTo > last) throw new Error(`intent store: cannot compact up to ${upTo}: the last revision is ${last}`);
  if (first && upTo < first.revision) throw new Error(`intent store: cannot compact up to ${upTo}: batches up to ${first.revision} are already compacted`);
  const from = first?.compacted?.from ?? first?.revision ?? 1;
  const { revision: _r, ...plain } = batch as StoredBatch;
  return { ...plain, source: 'compacted', compacted: { from, to: upTo } };
}

/** An append refused because this controller does not lead (a shared store): HTTP 503. */
export class NotLeaderError extends Error {
  readonly httpStatus = 503;
  constructor(
    message: string,
    /** the leader's announced identity (its API URL), when known */
    readonly leader?: string,
  ) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

/** A store that cannot be read: a corrupt record that is not the torn last line of a crash. */
export class StoreCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCorruptError';
  }
}

/**
 * The in-memory store (no --state-dir): today's behaviour, nothing survives the process. With
 * `retain: false` (the controller's default) it counts revisions and tells watchers but keeps no
 * history: no one can load it after a restart anyway.
 */
export class MemoryStore implements IntentStore {
  readonly describe = 'memory';
  private readonly batches: StoredBatch[] = [];
  private revision = 0;
  private readonly watchers = new Set<(b: StoredBatch) => void>();

  constructor(private readonly options: { retain?: boolean } = {}) {}

  async load(): Promise<{ revision: number; batches: StoredBatch[] }> {
    return { revision: this.revision, batches: [...this.batches] };
  }

  async append(batch: IntentBatch): Promise<number> {
    const stored: StoredBatch = { ...batch, revision: ++this.revision };
    if (this.options.retain ?? true) this.batches.push(stored);
    for (const w of [...this.watchers]) w(stored);
    return stored.revision;
  }

  watch(fromRevision: number, cb: (batch: StoredBatch) => void): () => void {
    for (const b of this.batches) if (b.revision > fromRevision) cb(b);
    this.watchers.add(cb);
    return () => this.watchers.delete(cb);
  }

  async compact(upTo: number, batch: IntentBatch): Promise<void> {
    const record = compactedRecord(upTo, batch, this.batches[0], this.revision);
    const keep = this.batches.filter((b) => b.revision > upTo);
    if (this.options.retain ?? true) this.batches.splice(0, this.batches.length, { ...record, revision: upTo }, ...keep);
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
