/**
 * The simulator's side of the controller's southbound port (controller/loop.ts SouthboundPort; the
 * real OVS driver is the other side).
 *
 * The sim driver applies a batch of ops to a SimSwitch at virtual time now + controlLatencyUs
 * (the control channel's one-way delay), in order, as one bundle: OVS answers errors per op, and
 * so does this driver (they are logged to the engine's trace and kept in `errors`). A switch that
 * is down (its node is down) loses the batch, as a real switch would lose the connection.
 */
import type { SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import type { SouthboundPort } from '../controller/loop';
import type { Engine } from './engine';
import type { SimNetwork } from './network';

export interface SimDriverOptions {
  /** one-way control-channel latency; default 1000 µs */
  controlLatencyUs?: number;
}

export interface DriverError {
  atUs: number;
  switch: string;
  message: string;
}

export class SimDriver implements SouthboundPort {
  readonly controlLatencyUs: number;
  readonly errors: DriverError[] = [];
  /** ops applied so far (for reports) */
  opsApplied = 0;
  /** time the last batch landed */
  lastAppliedUs = 0;
  /** told when a batch failed or was lost (the loop then reads the switch back before its next diff) */
  onFailure: (switchName: string) => void = () => undefined;

  constructor(
    private readonly network: SimNetwork,
    private readonly engine: Engine,
    options: SimDriverOptions = {},
  ) {
    this.controlLatencyUs = options.controlLatencyUs ?? 1000;
  }

  /** the batch lands after the control latency (tag 'control': the runner waits for it) */
  apply(switchName: string, ops: readonly SwitchOp[]): void {
    if (ops.length === 0) return;
    this.engine.schedule(
      this.engine.nowUs() + this.controlLatencyUs,
      `control ${switchName}: ${ops.length} ops`,
      () => this.applyNow(switchName, ops),
      'control',
    );
  }

  /** apply at the current virtual time (bootstrap, tests) */
  applyNow(switchName: string, ops: readonly SwitchOp[]): void {
    if (!this.network.switchUp(switchName)) {
      this.engine.log(`control ${switchName}: switch is down, ${ops.length} ops lost`);
      this.onFailure(switchName);
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
        this.onFailure(switchName);
        this.engine.log(`control error ${message}`);
      }
    }
    this.lastAppliedUs = this.engine.nowUs();
  }

  read(switchName: string): SwitchPlan {
    return this.network.switch(switchName).dump();
  }
}
