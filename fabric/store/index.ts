/**
 * Which intent store a controller uses: `--store etcd://...` (shared, HA), else `--state-dir DIR`
 * (the embedded log), else in memory (nothing survives a restart: the behaviour before the store).
 */
import * as path from 'path';
import { EtcdStore } from './etcd';
import { LogStore } from './log';
import { MemoryStore } from './types';
import type { IntentStore } from './types';

export * from './types';
export { LogStore, parseLog, encodeRecord } from './log';
export { EtcdStore, parseEtcdUrl, etcdClient } from './etcd';
export { netEvents, replayBatches, stateSnapshot, shouldCompact, compactionPoint, needsRebuild, compactStore, COMPACT_EVERY, COMPACT_KEEP } from './compact';

export interface StoreOptions {
  /** etcd://HOST:PORT[,...][/PREFIX] */
  store?: string;
  /** the embedded log's directory */
  stateDir?: string;
  onTorn?: (droppedBytes: number) => void;
}

export function openStore(options: StoreOptions): IntentStore {
  if (options.store !== undefined) {
    if (options.store.startsWith('etcd://')) return EtcdStore.open(options.store);
    if (options.store.startsWith('log:')) return LogStore.open(path.resolve(options.store.slice(4)), { onTorn: options.onTorn });
    if (options.store === 'memory') return new MemoryStore();
    throw new Error(`--store ${options.store}: give etcd://HOST:PORT[,...] (or log:DIR, memory)`);
  }
  if (options.stateDir !== undefined) return LogStore.open(path.resolve(options.stateDir), { onTorn: options.onTorn });
  return new MemoryStore({ retain: false });
}
