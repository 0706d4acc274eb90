/**
 * Which intent store a controller uses: `--store etcd://...` or `etcds://...` (shared, HA; etcds: TLS
 * with the --etcd-ca, --etcd-cert, --etcd-key files), else `--state-dir DIR`
 * (the embedded log), else in memory (nothing survives a restart: the behaviour before the store).
 */
import * as path from 'path';
import { checkEtcdTlsFlags, EtcdStore } from './etcd';
import type { EtcdTlsFiles } from './etcd';
import { LogStore } from './log';
import { MemoryStore } from './types';
import type { IntentStore } from './types';

export * from './types';
export { LogStore, parseLog, encodeRecord } from './log';
export { EtcdStore, parseEtcdUrl, etcdClient, checkEtcdTlsFlags, readEtcdTls, EtcdConfigError, EtcdTlsError, explainTlsError } from './etcd';
export type { EtcdTarget, EtcdTlsFiles, EtcdTlsMaterial } from './etcd';
export { netEvents, replayBatches, stateSnapshot, shouldCompact, compactionPoint, needsRebuild, compactStore, COMPACT_EVERY, COMPACT_KEEP } from './compact';

export interface StoreOptions {
  /** etcd://HOST:PORT[,...][/PREFIX], or etcds://... (TLS) */
  store?: string;
  /** etcds://: paths of the CA bundle (--etcd-ca), client certificate (--etcd-cert) and key (--etcd-key) */
  etcdTls?: EtcdTlsFiles;
  /** the embedded log's directory */
  stateDir?: string;
  onTorn?: (droppedBytes: number) => void;
}

export function openStore(options: StoreOptions): IntentStore {
  // TLS flags without an etcds:// store, or a certificate without its key: refused before anything opens
  checkEtcdTlsFlags(options.store, options.etcdTls);
  if (options.store !== undefined) {
    if (options.store.startsWith('etcd://') || options.store.startsWith('etcds://')) return EtcdStore.open(options.store, options.etcdTls);
    if (options.store.startsWith('log:')) return LogStore.open(path.resolve(options.store.slice(4)), { onTorn: options.onTorn });
    if (options.store === 'memory') return new MemoryStore();
    throw Object.assign(new Error(`--store ${options.store}: give etcd://HOST:PORT[,...] or etcds://HOST:PORT[,...] (or log:DIR, memory)`), { exitCode: 2 });
  }
  if (options.stateDir !== undefined) return LogStore.open(path.resolve(options.stateDir), { onTorn: options.onTorn });
  return new MemoryStore({ retain: false });
}
