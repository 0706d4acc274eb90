/**
 * High availability of `fabric controller --store etcd://...` (docs/ha.md): every controller connects
 * to every switch and follows the shared intent store; the one elected (fabric/ha/election.ts) is the
 * only writer. The coordinator ties the election to the rest:
 *
 * - standby: the loop does not pass (LiveController.standby), the OvsDriver's write guard refuses every
 *   write, the store refuses appends (no fence: POST /events answers 503 with the leader), stored
 *   batches arrive by watch and are applied to the state; every switch is asked for SLAVE (with the
 *   leader's generation id, so as not to raise OVS's generation above the leader's).
 * - elected: catch up with the store (every batch not applied yet), ask every connected switch for
 *   MASTER with the generation id (the create revision of the leader key), then resume the loop: its
 *   first pass reads every switch back and sends only the difference (the flows a dead leader installed
 *   are adopted, not wiped). A switch that connects later gets MASTER before its first write (the guard).
 * - lost (lease lost, key gone, local deadline passed): standby again at once; a switch answering a
 *   role request STALE means a newer leader exists: stand down.
 */
import type { SwitchConnection } from '../openflow/channel';
import type { LiveController, OvsDriver } from '../ovsdriver';
import type { EtcdStore } from '../store/etcd';
import { NotLeaderError } from '../store/types';
import { EtcdElection } from './election';
import type { ElectionOptions, Leadership } from './election';
import { requestRole, StaleGenerationError } from './roles';

export { EtcdElection } from './election';
export { requestRole, isSlaveRefusal, StaleGenerationError } from './roles';

export interface HaStatus {
  role: 'leader' | 'standby';
  generationId?: string;
  /** the leader's identity as last seen (its API URL or --ha-id) */
  leader?: string;
  identity: string;
  elections: number;
  /** the last takeover: elected -> store caught up -> roles set -> first pass done (ms each, from elected) */
  lastTakeover?: { caughtUpMs: number; rolesMs: number; passMs: number; opsSent: number; switches: number };
}

export interface HaOptions extends ElectionOptions {
  store: EtcdStore;
  driver: OvsDriver;
  controller: LiveController;
  identity: string;
  /** apply every stored batch not applied yet (runs in the controller's serial queue) */
  catchUp(): Promise<void>;
  /** after the takeover pass (e.g. compare the scenario file with the state again) */
  onLeading?(): Promise<void>;
  log: (event: string, fields: Record<string, unknown>) => void;
}

export class HaCoordinator {
  readonly election: EtcdElection;
  private readonly mastered = new WeakMap<SwitchConnection, bigint>();
  private readonly status: HaStatus;
  private activating: Promise<void> | undefined;

  constructor(private readonly o: HaOptions) {
    const prefix = o.store.target.prefix;
    this.election = new EtcdElection(o.store.client, prefix, o.identity, { ttlS: o.ttlS, marginMs: o.marginMs, pollMs: o.pollMs, log: o.log });
    this.status = { role: 'standby', identity: o.identity, elections: 0 };
    o.controller.standby = true;
    o.store.fence = () => (this.status.role === 'leader' ? this.election.fence() : undefined);
    o.store.leaderHint = () => this.election.leaderIdentity;
    o.driver.writeGuard = (conn) => this.guard(conn);
    o.driver.on('switch', (conn) => void this.onSwitch(conn));
    this.election.onElected = (l) => {
      this.activating = this.activate(l);
    };
    this.election.onLost = (reason) => this.standDown(reason);
  }

  start(): void {
    this.election.start();
  }

  snapshot(): HaStatus {
    return { ...this.status, leader: this.election.leaderIdentity, ...(this.status.role === 'leader' && this.election.leader ? { generationId: String(this.election.leader.generationId) } : {}) };
  }

  get isLeader(): boolean {
    return this.status.role === 'leader' && this.election.leader !== undefined;
  }

  /** Before any write to a switch: leading, and the switch has granted MASTER for our generation. */
  private async guard(conn: SwitchConnection): Promise<void> {
    const l = this.status.role === 'leader' ? this.election.leader : undefined;
    if (!l) throw new NotLeaderError('standby: this controller does not write to switches');
    if (this.mastered.get(conn) === l.generationId) return;
    try {
      await requestRole(conn, 'master', l.generationId);
    } catch (err) {
      if (err instanceof StaleGenerationError) this.standDown(err.message);
      throw err;
    }
    this.mastered.set(conn, l.generationId);
  }

  private async onSwitch(conn: SwitchConnection): Promise<void> {
    // a leader asks for MASTER before its first write (the guard); a standby asks for SLAVE now
    if (this.status.role === 'leader') return;
    await this.slave(conn);
  }

  private async slave(conn: SwitchConnection): Promise<void> {
    const gen = await this.leaderGeneration();
    if (gen === undefined) return;
    try {
      await requestRole(conn, 'slave', gen);
      this.o.log('ha-role', { switch: conn.datapathId, role: 'slave', generationId: String(gen) });
    } catch (err) {
      this.o.log('ha-role-failed', { switch: conn.datapathId, role: 'slave', error: (err as Error).message });
    }
  }

  /** the create revision of the first election key (the leader's generation id), if any */
  private async leaderGeneration(): Promise<bigint | undefined> {
    try {
      const res = await this.o.store.client.getAll().prefix(this.election.electionPrefix).sort('Create', 'Ascend').limit(1).exec();
      return res.kvs[0] ? BigInt(String(res.kvs[0].create_revision)) : undefined;
    } catch {
      return undefined;
    }
  }

  private async activate(l: Leadership): Promise<void> {
    const t0 = Date.now();
    this.status.elections++;
    try {
      await this.o.catchUp();
      const caughtUpMs = Date.now() - t0;
      if (this.election.leader !== l) return;
      this.status.role = 'leader';
      const conns = this.o.driver.server.switches().filter((c) => !c.isClosed && c.datapathId);
      await Promise.all(
        conns.map(async (c) => {
          try {
            await this.guard(c);
            this.o.log('ha-role', { switch: c.datapathId, role: 'master', generationId: String(l.generationId) });
          } catch (err) {
            this.o.log('ha-role-failed', { switch: c.datapathId, role: 'master', error: (err as Error).message });
          }
        }),
      );
      const rolesMs = Date.now() - t0;
      if (!this.isLeader) return;
      const opsBefore = this.o.controller.stats.opsSent;
      this.o.controller.standby = false;
      await this.o.controller.schedule();
      await this.o.controller.idle();
      const passMs = Date.now() - t0;
      this.status.lastTakeover = { caughtUpMs, rolesMs, passMs, opsSent: this.o.controller.stats.opsSent - opsBefore, switches: conns.length };
      this.o.log('ha-leader', { generationId: String(l.generationId), ...this.status.lastTakeover });
      await this.o.onLeading?.();
    } catch (err) {
      this.o.log('ha-activate-failed', { error: (err as Error).message });
      this.standDown(`activation failed: ${(err as Error).message}`);
    }
  }

  private standDown(reason: string): void {
    const was = this.status.role;
    this.status.role = 'standby';
    this.o.controller.standby = true;
    if (was === 'leader') {
      this.o.log('ha-standby', { reason });
      for (const c of this.o.driver.server.switches()) if (!c.isClosed) void this.slave(c);
    }
  }

  async stop(abandon = false): Promise<void> {
    this.standDown('stopping');
    await this.election.close(abandon);
    await this.activating?.catch(() => undefined);
  }
}
