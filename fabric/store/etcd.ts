/**
 * The shared intent store (`fabric controller --store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`): the
 * batches live in etcd (3.4, gRPC v3 API through the `etcd3` client) under PREFIX (default /fabric):
 *
 *   PREFIX/intent/head              the last revision, as decimal text
 *   PREFIX/intent/b/0000000000000007  one batch (JSON), revision 7
 *
 * An append is one transaction: `head` still says N (no one appended meanwhile) and, when a fence is
 * set (HA: fabric/ha/election.ts), the leader key still exists with this controller's create
 * revision, then put batch N+1 and head = N+1. etcd commits it on a quorum before answering, so an
 * acknowledged batch survives the loss of a minority of members; a deposed leader's append fails
 * (NotLeaderError) instead of writing. `watch` keeps every other controller current: a range read,
 * then an etcd watch from the read's revision + 1.
 *
 * TLS (`--store etcds://...`): https to every member, with `--etcd-ca FILE` (the CA that signed etcd's
 * server certificates; default the system roots) and `--etcd-cert FILE --etcd-key FILE` (a client
 * certificate for etcd's `--client-cert-auth`). The files are read once, when the store is opened.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { Etcd3 } from 'etcd3';
import type { IntentBatch, IntentStore, StoredBatch } from './types';
import { compactedRecord, NotLeaderError } from './types';

export interface EtcdTarget {
  hosts: string[];
  prefix: string;
  /** etcds://: the PEM contents read from the --etcd-* files (absent: plain http) */
  tls?: EtcdTlsMaterial;
}

/** `--etcd-ca FILE --etcd-cert FILE --etcd-key FILE`: paths, read when the store is opened */
export interface EtcdTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface EtcdTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * A TLS failure between the store and etcd, explained: etcd refused our client certificate (or got
 * none), or etcd's server certificate is not signed by --etcd-ca or does not name the host. `cause`
 * is etcd3's error.
 */
export class EtcdTlsError extends Error {
  constructor(message: string, override readonly cause: Error) {
    super(message);
  }
}

/** etcd3's error for a TLS failure -> EtcdTlsError with the likely reason; any other error as it is. */
export function explainTlsError(err: unknown, describe: string): unknown {
  if (!(err instanceof Error) || err instanceof EtcdTlsError) return err;
  const m = err.message;
  let why: string | undefined;
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown)|certificate_required|peer did not return a certificate/i.test(m)) {
    why = 'etcd refused the client certificate (give --etcd-cert and --etcd-key, signed by a CA in etcd\'s --trusted-ca-file)';
  } else if (/unable to verify|self[- ]signed certificate|unable to get (local )?issuer|certificate (has )?expired|certificate is not yet valid/i.test(m)) {
    why = "etcd's server certificate is not trusted (is it signed by the CA in --etcd-ca?)";
  } else if (/Hostname\/IP does not match|does not match certificate's altnames|ERR_TLS_CERT_ALTNAME/i.test(m)) {
    why = "etcd's server certificate does not name the host in --store";
  } else if (/wrong version number|packet length too long|http\/1\.x/i.test(m)) {
    why = 'etcd does not speak TLS there (use etcd:// for http)';
  }
  const detail = m.split('\n')[0].replace(/\s*Resolution note:.*$/, '');
  return why ? new EtcdTlsError(`${describe}: TLS to etcd failed: ${why}: ${detail}`, err) : err;
}

/** A bad --store URL or --etcd-* flag (the CLI exits 2). */
export class EtcdConfigError extends Error {
  readonly exitCode = 2;
}

const hasTlsFlags = (tls?: EtcdTlsFiles): boolean => tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined);

/**
 * Check the --etcd-* flags against the --store URL without reading anything: TLS flags need an
 * etcds:// store, and a client certificate needs its key (and the key its certificate).
 */
export function checkEtcdTlsFlags(store: string | undefined, tls?: EtcdTlsFiles): void {
  if (!hasTlsFlags(tls)) return;
  const flags = (['ca', 'cert', 'key'] as const).filter((k) => tls![k] !== undefined).map((k) => `--etcd-${k}`).join(' ');
  if (store === undefined || !store.startsWith('etcds://')) {
    const what = store === undefined ? 'no --store' : store.startsWith('etcd://') ? `--store ${store} is plain etcd:// (http)` : `--store ${store} is not etcd`;
    throw new EtcdConfigError(`${flags}: TLS to etcd needs --store etcds://HOST:PORT[,...][/PREFIX] (${what})`);
  }
  if (tls!.cert !== undefined && tls!.key === undefined) throw new EtcdConfigError(`--etcd-cert ${tls!.cert}: give its private key with --etcd-key FILE`);
  if (tls!.key !== undefined && tls!.cert === undefined) throw new EtcdConfigError(`--etcd-key ${tls!.key}: give its certificate with --etcd-cert FILE`);
}

function readPem(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new EtcdConfigError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Read and check the --etcd-* files: PEM certificates, a private key that matches the certificate. */
export function readEtcdTls(tls: EtcdTlsFiles = {}): EtcdTlsMaterial {
  const out: EtcdTlsMaterial = {};
  const certs = (flag: string, file: string, pem: Buffer): crypto.X509Certificate[] => {
    const blocks = pem.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new EtcdConfigError(`${flag} ${file}: no PEM certificate in it`);
    return blocks.map((b) => {
      try {
        return new crypto.X509Certificate(b);
      } catch (err) {
        throw new EtcdConfigError(`${flag} ${file}: not a valid certificate (${(err as Error).message})`);
      }
    });
  };
  if (tls.ca !== undefined) {
    out.ca = readPem('--etcd-ca', tls.ca);
    certs('--etcd-ca', tls.ca, out.ca);
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    out.cert = readPem('--etcd-cert', tls.cert);
    out.key = readPem('--etcd-key', tls.key);
    const [leaf] = certs('--etcd-cert', tls.cert, out.cert);
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey(out.key);
    } catch (err) {
      throw new EtcdConfigError(`--etcd-key ${tls.key}: not a PEM private key (${(err as Error).message})`);
    }
    if (!leaf.checkPrivateKey(key)) throw new EtcdConfigError(`--etcd-key ${tls.key}: does not match the certificate in --etcd-cert ${tls.cert}`);
  }
  return out;
}

/**
 * `etcd://127.0.0.1:2379,127.0.0.1:22379/fabric` -> hosts and prefix (no trailing slash);
 * `etcds://...` -> https hosts and the TLS files read (`tls`: --etcd-ca, --etcd-cert, --etcd-key).
 */
export function parseEtcdUrl(url: string, tls?: EtcdTlsFiles): EtcdTarget {
  const m = /^(etcds?):\/\/([^/]+)(\/.*)?$/.exec(url);
  if (!m) throw new EtcdConfigError(`--store ${url}: give etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (etcds:// for TLS)`);
  const secure = m[1] === 'etcds';
  const hosts = m[2].split(',').map((h) => {
    if (!/^[A-Za-z0-9.[\]:-]+:\d+$/.test(h)) throw new EtcdConfigError(`--store ${url}: ${h} is not HOST:PORT`);
    return `${secure ? 'https' : 'http'}://${h}`;
  });
  const prefix = (m[3] ?? '/fabric').replace(/\/+$/, '') || '/fabric';
  checkEtcdTlsFlags(url, tls);
  return secure ? { hosts, prefix, tls: readEtcdTls(tls) } : { hosts, prefix };
}

export function etcdClient(target: EtcdTarget, callTimeoutMs = 3000): Etcd3 {
  const tls = target.tls;
  return new Etcd3({
    hosts: target.hosts,
    dialTimeout: callTimeoutMs,
    // https hosts without a CA or client certificate: etcd3 uses the system roots by itself;
    // grpc takes a null root certificate as "the system roots" too
    credentials:
      tls && (tls.ca || tls.cert) ? { rootCertificate: (tls.ca ?? null) as Buffer, privateKey: tls.key, certChain: tls.cert } : undefined,
    // a unary call that etcd does not answer in time fails (a partitioned leader learns it quickly)
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
}

/** Who may append: the leader key and its create revision (the OpenFlow generation id too). */
export interface StoreFence {
  key: string;
  createRevision: string;
}

const pad = (n: number): string => String(n).padStart(16, '0');

export class EtcdStore implements IntentStore {
  readonly describe: string;
  readonly client: Etcd3;
  private readonly owned: boolean;
  private readonly head: string;
  private readonly batchPrefix: string;
  /**
   * When set (HA), every append is fenced: undefined means "not the leader now" (refused at once);
   * otherwise the transaction requires the leader key with that create revision.
   */
  fence?: () => StoreFence | undefined;
  /** who leads (for the 503 answer of a standby) */
  leaderHint?: () => string | undefined;
  private readonly watchers = new Set<{ cancel(): Promise<void> } | (() => void)>();

  constructor(
    readonly target: EtcdTarget,
    client?: Etcd3,
  ) {
    this.describe = `${target.hosts.some((h) => h.startsWith('https://')) ? 'etcds' : 'etcd'}://${target.hosts.map((h) => h.replace(/^https?:\/\//, '')).join(',')}${target.prefix}`;
    this.client = client ?? etcdClient(target);
    this.owned = client === undefined;
    this.head = `${target.prefix}/intent/head`;
    this.batchPrefix = `${target.prefix}/intent/b/`;
  }

  /** `etcd://...` or `etcds://...` (with `tls`: the --etcd-ca, --etcd-cert, --etcd-key files) */
  static open(url: string, tls?: EtcdTlsFiles): EtcdStore {
    return new EtcdStore(parseEtcdUrl(url, tls));
  }

  private async readAll(): Promise<{ revision: number; batches: StoredBatch[]; etcdRevision: string }> {
    const res = await this.client.getAll().prefix(this.batchPrefix).sort('Key', 'Ascend').exec();
    const batches = res.kvs.map((kv) => decode(kv.key.toString(), kv.value.toString(), this.batchPrefix));
    return { revision: batches.length ? batches[batches.length - 1].revision : 0, batches, etcdRevision: String(res.header.revision) };
  }

  async load(): Promise<{ revision: number; batches: StoredBatch[] }> {
    try {
      const { revision, batches } = await this.readAll();
      return { revision, batches };
    } catch (err) {
      throw explainTlsError(err, this.describe);
    }
  }

  private appending: Promise<unknown> = Promise.resolve();

  /** One append at a time per store (a leader's batches are serial anyway); optimistic across stores. */
  append(batch: IntentBatch): Promise<number> {
    const run = this.appending
      .then(
        () => this.appendNow(batch),
        () => this.appendNow(batch),
      )
      .catch((err: unknown) => {
        throw explainTlsError(err, this.describe);
      });
    this.appending = run.catch(() => undefined);
    return run;
  }

  private async appendNow(batch: IntentBatch): Promise<number> {
    const json = JSON.stringify(batch);
    for (let attempt = 0; attempt < 50; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * attempt)));
      const fence = this.fence?.();
      if (this.fence && !fence) throw new NotLeaderError('this controller is a standby: changes go to the leader', this.leaderHint?.());
      const headValue = await this.client.get(this.head).string();
      const n = headValue === null ? 0 : Number(headValue);
      let txn = headValue === null ? this.client.if(this.head, 'Create', '==', 0) : this.client.if(this.head, 'Value', '==', headValue);
      if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision);
      const res = await txn
        .then(this.client.put(this.batchPrefix + pad(n + 1)).value(json), this.client.put(this.head).value(String(n + 1)))
        .commit();
      if (res.succeeded) return n + 1;
      if (fence) {
        const leaderKey = await this.client.get(fence.key).exec();
        if (leaderKey.kvs.length === 0 || String(leaderKey.kvs[0].create_revision) !== fence.createRevision) {
          throw new NotLeaderError('this controller lost the leadership (its leader key is gone): nothing written', this.leaderHint?.());
        }
      }
      // someone else appended between our read and our transaction: read the head again
    }
    throw new Error('intent store: the head kept moving (50 attempts)');
  }

  /**
   * Replace batches 1..upTo by one compacted batch (revision upTo), in one transaction: `head` still
   * holds what was read, batch upTo is still the one read (its mod revision), and the HA fence as for
   * append; then delete the batch keys below upTo and put batch upTo. Then etcd's own key history is
   * compacted at the etcd revision at which batch upTo had been written (see compactHistory).
   */
  compact(upTo: number, batch: IntentBatch): Promise<void> {
    const run = this.appending
      .then(
        () => this.compactNow(upTo, batch),
        () => this.compactNow(upTo, batch),
      )
      .catch((err: unknown) => {
        throw explainTlsError(err, this.describe);
      });
    this.appending = run.catch(() => undefined);
    return run;
  }

  /** the last etcd history compaction this store asked for (revision, and the error if etcd refused it) */
  lastHistoryCompaction?: { revision: string; error?: string };
  /** false: leave etcd's key history alone (compact the batches only) */
  compactEtcdHistory = true;

  private async compactNow(upTo: number, batch: IntentBatch): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * attempt)));
      const fence = this.fence?.();
      if (this.fence && !fence) throw new NotLeaderError('this controller is a standby: only the leader compacts', this.leaderHint?.());
      const headValue = await this.client.get(this.head).string();
      const last = headValue === null ? 0 : Number(headValue);
      const firstKv = (await this.client.getAll().prefix(this.batchPrefix).sort('Key', 'Ascend').limit(1).exec()).kvs[0];
      const first = firstKv ? decode(firstKv.key.toString(), firstKv.value.toString(), this.batchPrefix) : undefined;
      const record = compactedRecord(upTo, batch, first, last);
      const upToKv = (await this.client.get(this.batchPrefix + pad(upTo)).exec()).kvs[0];
      if (!upToKv) throw new Error(`intent store: batch ${upTo} is not stored`);
      let txn = this.client.if(this.head, 'Value', '==', headValue!).and(this.batchPrefix + pad(upTo), 'Mod', '==', String(upToKv.mod_revision));
      if (fence) txn = txn.and(fence.key, 'Create', '==', fence.createRevision);
      const res = await txn
        .then(
          this.client.delete().inRange({ start: this.batchPrefix, end: this.batchPrefix + pad(upTo) }),
          this.client.put(this.batchPrefix + pad(upTo)).value(JSON.stringify(record)),
        )
        .commit();
      if (res.succeeded) {
        if (this.compactEtcdHistory) await this.compactHistory(String(upToKv.mod_revision));
        return;
      }
      if (fence) {
        const leaderKey = await this.client.get(fence.key).exec();
        if (leaderKey.kvs.length === 0 || String(leaderKey.kvs[0].create_revision) !== fence.createRevision) {
          throw new NotLeaderError('this controller lost the leadership (its leader key is gone): nothing compacted', this.leaderHint?.());
        }
      }
      // an append (or another compaction) between our reads and the transaction: read again
    }
    throw new Error('intent store: the head kept moving (50 attempts to compact)');
  }

  /**
   * Compact etcd's key history (the whole keyspace: etcd has one history) at `revision`: the etcd
   * revision at which batch upTo had been written. A watcher that has applied batch upTo received it
   * at that revision or read the store after it, so it resumes (etcd3 re-creates a watch from its
   * last revision + 1) above the compaction point and never meets "required revision has been
   * compacted". A watcher further behind would; it restarts with a range read (watch below). The
   * margin is the daemon's: it compacts up to COMPACT_KEEP batches before the head (compact.ts), so
   * the compaction point is that many appends old. A refusal by etcd (already compacted further) is
   * recorded, not thrown: the batches are compacted already.
   */
  private async compactHistory(revision: string): Promise<void> {
    try {
      await this.client.kv.compact({ revision, physical: false });
      this.lastHistoryCompaction = { revision };
    } catch (err) {
      this.lastHistoryCompaction = { revision, error: (err as Error).message };
    }
  }

  /**
   * Every batch after `fromRevision`, then each new one as it is stored. A batch at or below the last
   * one delivered is ignored (so a compacted batch whose revision the watcher passed already). If etcd
   * cancels the watch (its history was compacted past the point the watch resumes from, after a
   * disconnection), the watch starts again: a range read, then a new etcd watch.
   */
  watch(fromRevision: number, cb: (batch: StoredBatch) => void): () => void {
    let stopped = false;
    let last = fromRevision;
    let watcher: { cancel(): Promise<void> } | undefined;
    const deliver = (b: StoredBatch): void => {
      if (stopped || b.revision <= last) return;
      last = b.revision;
      cb(b);
    };
    const restart = (): void => {
      if (stopped) return;
      const old = watcher;
      if (old) {
        this.watchers.delete(old);
        watcher = undefined;
        void old.cancel().catch(() => undefined);
      }
      setTimeout(() => void start().catch(restart), 100);
    };
    const start = async (): Promise<void> => {
      if (stopped) return;
      const { batches, etcdRevision } = await this.readAll();
      for (const b of batches) deliver(b);
      if (stopped) return;
      const w = await this.client
        .watch()
        .prefix(this.batchPrefix)
        .startRevision(String(BigInt(etcdRevision) + 1n))
        .create();
      w.on('put', (kv) => deliver(decode(kv.key.toString(), kv.value.toString(), this.batchPrefix)));
      w.on('error', () => {
        if (watcher === w) restart();
      });
      watcher = w;
      this.watchers.add(w);
      if (stopped) void w.cancel();
    };
    void start().catch(() => undefined);
    const stop = (): void => {
      stopped = true;
      if (watcher) {
        this.watchers.delete(watcher);
        void watcher.cancel().catch(() => undefined);
      }
      this.watchers.delete(stop);
    };
    this.watchers.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    for (const w of [...this.watchers]) {
      if (typeof w === 'function') w();
      else await w.cancel().catch(() => undefined);
    }
    this.watchers.clear();
    if (this.owned) this.client.close();
  }
}

function decode(key: string, value: string, prefix: string): StoredBatch {
  const revision = Number(key.slice(prefix.length));
  const batch = JSON.parse(value) as IntentBatch;
  return { ...batch, revision };
}
