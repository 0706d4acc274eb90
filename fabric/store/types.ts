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
  close(): Promise<void>;
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

  async close(): Promise<void> {
    this.watchers.clear();
  }
}
