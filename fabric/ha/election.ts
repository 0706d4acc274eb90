/**
 * Leader election on etcd for `fabric controller --store etcd://...` (docs/ha.md). Each controller
 * holds a lease (TTL `ttlS`, kept alive by the client every TTL/3) and a key
 * PREFIX/election/<lease id> bound to it, whose value is its identity (its API URL). The leader is the
 * live key with the lowest create revision (etcd's own election recipe); that create revision is the
 * leader's generation id (OpenFlow role requests) and its store fence: any later leader's key was
 * created later, so its generation id is higher.
 *
 * A leader stops leading (`lost`) when: the lease is lost (the client says so), its key is no longer the
 * first (seen by the 100 ms poll), or, without any word from etcd, its own deadline passes: the time
 * the last successful keep-alive was *sent* + TTL − margin. The deadline is what keeps a partitioned
 * leader (etcd gone, switches still there) from writing after etcd has let its lease expire: it steps
 * down before another controller can be elected. After losing, it campaigns again with a new lease.
 */
import type { Etcd3, Lease } from 'etcd3';
import type { StoreFence } from '../store/etcd';

export interface ElectionOptions {
  /** lease TTL in seconds (etcd's minimum usable is 1; default 3) */
  ttlS?: number;
  /** step down this long before the lease could expire at the server (default 20% of the TTL) */
  marginMs?: number;
  /** leadership poll (default 100 ms) */
  pollMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface Leadership {
  generationId: bigint;
  key: string;
  electedAtMs: number;
}

export class EtcdElection {
  private lease: Lease | undefined;
  private key: string | undefined;
  private createRevision: string | undefined;
  private validUntilMs = 0;
  private leading: Leadership | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private polling = false;
  private campaigning: Promise<void> | undefined;
  /** the current leader's identity (value of the first key), as last polled */
  leaderIdentity: string | undefined;
  private readonly ttlS: number;
  private readonly marginMs: number;
  private readonly pollMs: number;
  private readonly log: NonNullable<ElectionOptions['log']>;
  onElected: (l: Leadership) => void = () => undefined;
  onLost: (reason: string) => void = () => undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly identity: string,
    options: ElectionOptions = {},
  ) {
    this.ttlS = options.ttlS ?? 3;
    this.marginMs = options.marginMs ?? Math.round(this.ttlS * 200);
    this.pollMs = options.pollMs ?? 100;
    this.log = options.log ?? (() => undefined);
  }

  get electionPrefix(): string {
    return `${this.prefix}/election/`;
  }

  /** Leading now: elected and the local lease deadline not passed. */
  get leader(): Leadership | undefined {
    if (this.leading && Date.now() >= this.validUntilMs) this.lose('lease deadline passed without a keep-alive answer');
    return this.leading;
  }

  /** The store fence while leading (fabric/store/etcd.ts), else undefined. */
  fence(): StoreFence | undefined {
    const l = this.leader;
    return l ? { key: l.key, createRevision: String(l.generationId) } : undefined;
  }

  start(): void {
    this.campaigning = this.campaign().catch((err: Error) => this.retry(`campaign failed: ${err.message}`));
    // the deadline is checked on every tick by itself: a poll may hang on an unreachable etcd
    this.timer = setInterval(() => {
      void this.leader;
      void this.poll();
    }, this.pollMs);
  }

  private async campaign(): Promise<void> {
    if (this.closed) return;
    const lease = this.client.lease(this.ttlS, { autoKeepAlive: true });
    this.lease = lease;
    let firedAt = Date.now();
    const grantSentAt = Date.now();
    lease.on('keepaliveFired', () => {
      firedAt = Date.now();
    });
    lease.on('keepaliveSucceeded', () => {
      if (this.lease === lease) this.validUntilMs = firedAt + this.ttlS * 1000 - this.marginMs;
    });
    lease.on('lost', (err: Error) => {
      if (this.lease === lease) this.retry(`lease lost: ${err.message}`);
    });
    const id = await lease.grant();
    this.validUntilMs = grantSentAt + this.ttlS * 1000 - this.marginMs;
    const key = this.electionPrefix + id;
    await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(this.identity).lease(id)).commit();
    const got = await this.client.get(key).exec();
    if (got.kvs.length === 0) throw new Error(`election key ${key} vanished`);
    this.key = key;
    this.createRevision = String(got.kvs[0].create_revision);
    this.log('election-campaign', { key, createRevision: this.createRevision, ttlS: this.ttlS });
    await this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const res = await this.client.getAll().prefix(this.electionPrefix).sort('Create', 'Ascend').limit(1).exec();
      const first = res.kvs[0];
      this.leaderIdentity = first?.value.toString();
      const mine = first !== undefined && this.key !== undefined && first.key.toString() === this.key && String(first.create_revision) === this.createRevision;
      if (this.leading && !mine) this.lose('our election key is no longer the first (expired or deleted)');
      else if (!this.leading && mine && Date.now() < this.validUntilMs) {
        this.leading = { generationId: BigInt(this.createRevision!), key: this.key!, electedAtMs: Date.now() };
        this.log('election-won', { key: this.key, generationId: this.createRevision });
        this.onElected(this.leading);
      }
      if (this.leading) void this.leader; // check the deadline
    } catch (err) {
      if (this.leading) void this.leader; // etcd unreachable: only the deadline decides
      if (!this.closed) this.log('election-poll-failed', { error: (err as Error).message });
    } finally {
      this.polling = false;
    }
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = undefined;
    this.log('election-lost', { reason, key: this.key });
    this.onLost(reason);
    this.retry(reason);
  }

  /** Give up the current lease and key (best effort) and campaign again. */
  private retry(reason: string): void {
    if (this.closed) return;
    if (this.leading) {
      this.lose(reason);
      return;
    }
    const old = this.lease;
    this.lease = undefined;
    this.key = undefined;
    this.createRevision = undefined;
    if (old) void old.revoke().catch(() => undefined);
    setTimeout(() => {
      if (!this.closed && !this.lease) this.campaigning = this.campaign().catch((err: Error) => this.retry(`campaign failed: ${err.message}`));
    }, 500).unref();
  }

  /** Stop: resign (revoke the lease: a standby takes over at once) unless `abandon` (crash-like). */
  async close(abandon = false): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.leading = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      if (abandon) lease.release();
      else await lease.revoke().catch(() => undefined);
    }
    await this.campaigning?.catch(() => undefined);
  }
}
