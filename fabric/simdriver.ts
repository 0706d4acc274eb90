/**
 * The southbound driver interface the controller programs switches through — one interface for
 * real Open vSwitch and for the simulator — and its simulator implementation.
 *
 * The sim driver applies a batch of ops to a SimSwitch at virtual time now + controlLatencyUs
 * (the control channel's one-way delay), in order, as one bundle: OVS answers errors per op, and
 * so does this driver (they are logged to the engine's trace and kept in `errors`). A switch that
 * is down (its node is down) loses the batch, as a real switch would lose the connection.
 */
import type { SwitchOp, SwitchPlan } from './openflow/flow';
import type { Engine } from '../sim/engine';
import type { SimNetwork } from '../sim/network';

export type MaybePromise<T> = T | Promise<T>;

export interface SwitchDriver {
  /** apply ops to one switch, in order */
  applyOps(switchName: string, ops: SwitchOp[]): MaybePromise<void>;
  /** what the switch holds now, in the IR */
  dump(switchName: string): MaybePromise<SwitchPlan>;
}

export interface SimDriverOptions {
  /** one-way control-channel latency; default 1000 µs */
  controlLatencyUs?: number;
}

export interface DriverError {
  atUs: number;
  switch: string;
  message: string;
}

export class SimDriver implements SwitchDriver {
  readonly controlLatencyUs: number;
  readonly errors: DriverError[] = [];
  /** ops applied so far (for reports) */
  opsApplied = 0;
  /** time the last batch landed */
  lastAppliedUs = 0;
  /** switches where an op failed or a batch was lost */
  private dirty = new Set<string>();

  constructor(
    private readonly network: SimNetwork,
    private readonly engine: Engine,
    options: SimDriverOptions = {},
  ) {
    this.controlLatencyUs = options.controlLatencyUs ?? 1000;
  }

  /** the batch lands after the control latency (tag 'control': the runner waits for it) */
  applyOps(switchName: string, ops: SwitchOp[]): void {
    if (ops.length === 0) return;
    this.engine.schedule(
      this.engine.nowUs() + this.controlLatencyUs,
      `control ${switchName}: ${ops.length} ops`,
      () => this.applyNow(switchName, ops),
      'control',
    );
  }

  /** apply at the current virtual time (bootstrap, tests) */
  applyNow(switchName: string, ops: SwitchOp[]): void {
    if (!this.network.switchUp(switchName)) {
      this.engine.log(`control ${switchName}: switch is down, ${ops.length} ops lost`);
      this.dirty.add(switchName);
      return;
    }
    const sw = this.network.switch(switchName);
    for (const op of ops) {
      try {
        sw.applyOp(op);
        this.opsApplied++;
      } catch (err) {
        const message = (err as Error).message;
        this.errors.push({ atUs: this.engine.nowUs(), switch: switchName, message });
        this.dirty.add(switchName);
        this.engine.log(`control error ${message}`);
      }
    }
    this.lastAppliedUs = this.engine.nowUs();
  }

  /** no op to this switch failed or was lost since the last call (and resets the flag) */
  cleanSince(switchName: string): boolean {
    const dirty = this.dirty.has(switchName);
    this.dirty.delete(switchName);
    return !dirty;
  }

  dump(switchName: string): SwitchPlan {
    return this.network.switch(switchName).dump();
  }
}
