/**
 * Measuring and enforcing rates, as pure functions over samples:
 * - capacity discovery: a port's capacity from the model (link gbps) or from what a switch
 *   reports over OpenFlow (ofp_port curr_speed / max_speed in kbit/s);
 * - utilization over a sliding window from cumulative byte counters (OpenFlow port stats from
 *   real OVS, or the simulator's integrated counters): samples in, rate out;
 * - a token-bucket meter (OpenFlow 1.3 meter band `drop`, kbps + burst) as a model, to check what
 *   a meter lets through (the meter the controller installs for a rate: controller/meters.ts).
 * No clock: every sample carries its own time (seconds).
 */

export interface CounterSample {
  /** seconds */
  atS: number;
  /** cumulative bytes sent (tx) or received; a counter reset shows as a decrease */
  bytes: number;
}

/**
 * Capacity of a port in Gbit/s from OpenFlow port description fields (kbit/s): curr_speed when the
 * switch reports one, else max_speed, else the model's value (OVS reports 0 for many virtual ports,
 * e.g. internal and dummy ones, and 10 Gbit/s for taps).
 */
export function discoverCapacityGbps(port: { currSpeedKbps?: number; maxSpeedKbps?: number }, modelGbps?: number): number | undefined {
  if (port.currSpeedKbps && port.currSpeedKbps > 0) return port.currSpeedKbps / 1e6;
  if (port.maxSpeedKbps && port.maxSpeedKbps > 0) return port.maxSpeedKbps / 1e6;
  return modelGbps;
}

/**
 * Rate (Gbit/s) over the last `windowS` seconds ending at the newest sample: the counter
 * difference between the newest sample and the oldest sample inside the window (or the newest one
 * before it, so that a window shorter than the sampling period still has two points). A counter
 * reset restarts the window at the reset. Fewer than two usable samples: undefined.
 */
export function windowRateGbps(samples: readonly CounterSample[], windowS: number): number | undefined {
  const n = samples.length;
  if (n < 2) return undefined;
  const newest = samples[n - 1];
  // walk back while inside the window and the counter does not go backwards
  let j = n - 1;
  while (j > 0) {
    const prev = samples[j - 1];
    if (prev.bytes > samples[j].bytes) break; // reset between j-1 and j
    j--;
    if (newest.atS - samples[j].atS >= windowS) break;
  }
  if (j === n - 1) return undefined;
  const dt = newest.atS - samples[j].atS;
  if (!(dt > 0)) return undefined;
  return ((newest.bytes - samples[j].bytes) * 8) / dt / 1e9;
}

/** Utilization (fraction of capacity) over a sliding window; undefined without enough samples. */
export function windowUtilization(samples: readonly CounterSample[], capacityGbps: number, windowS: number): number | undefined {
  const r = windowRateGbps(samples, windowS);
  if (r === undefined) return undefined;
  return capacityGbps > 0 ? r / capacityGbps : r > 0 ? Infinity : 0;
}

/**
 * A bounded history of counter samples per port (or flow), keyed by name. `push` returns a new
 * meter (the input is not changed), so a controller can keep it in its immutable state.
 */
export class UtilizationMeter {
  private constructor(
    readonly windowS: number,
    private readonly history: ReadonlyMap<string, readonly CounterSample[]>,
  ) {}
  static create(windowS: number): UtilizationMeter {
    if (!(windowS > 0)) throw new RangeError(`UtilizationMeter: window must be > 0 s, got ${windowS}`);
    return new UtilizationMeter(windowS, new Map());
  }
  /** add samples (one per key) taken at `atS`; keeps what the window needs plus one older sample */
  push(atS: number, bytesByKey: ReadonlyMap<string, number>): UtilizationMeter {
    const next = new Map(this.history);
    for (const [key, bytes] of bytesByKey) {
      const old = next.get(key) ?? [];
      const list = old.length > 0 && old[old.length - 1].atS >= atS ? old.filter((s) => s.atS < atS) : old.slice();
      list.push({ atS, bytes });
      // drop samples older than the one just outside the window
      let keepFrom = 0;
      for (let i = list.length - 1; i >= 0; i--) {
        if (atS - list[i].atS >= this.windowS) {
          keepFrom = i;
          break;
        }
      }
      next.set(key, list.slice(keepFrom));
    }
    return new UtilizationMeter(this.windowS, next);
  }
  samples(key: string): readonly CounterSample[] {
    return this.history.get(key) ?? [];
  }
  rateGbps(key: string): number | undefined {
    return windowRateGbps(this.samples(key), this.windowS);
  }
  /** rates of every key with enough samples */
  rates(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of [...this.history.keys()].sort()) {
      const r = this.rateGbps(key);
      if (r !== undefined) out.set(key, r);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Token bucket (OpenFlow meter band `drop`)
// ---------------------------------------------------------------------------------------------

export interface TokenBucketSpec {
  rateKbps: number;
  /** bucket depth in kbit (OpenFlow burst_size for a kbps meter) */
  burstKbit: number;
}

export interface Arrival {
  atS: number;
  bytes: number;
}

/**
 * Run packets through a token bucket: the bucket starts full, fills at rateKbps up to burstKbit,
 * and a packet passes when the bucket holds at least its size (then its size is taken), else it is
 * dropped. Returns, per packet, whether it passed, and the bytes passed.
 */
export function tokenBucket(spec: TokenBucketSpec, arrivals: readonly Arrival[]): { passed: boolean[]; passedBytes: number; droppedBytes: number } {
  let tokensKbit = spec.burstKbit;
  let lastS = arrivals.length > 0 ? arrivals[0].atS : 0;
  const passed: boolean[] = [];
  let passedBytes = 0;
  let droppedBytes = 0;
  for (const a of arrivals) {
    tokensKbit = Math.min(spec.burstKbit, tokensKbit + (a.atS - lastS) * spec.rateKbps);
    lastS = a.atS;
    const kbit = (a.bytes * 8) / 1000;
    if (tokensKbit >= kbit) {
      tokensKbit -= kbit;
      passed.push(true);
      passedBytes += a.bytes;
    } else {
      passed.push(false);
      droppedBytes += a.bytes;
    }
  }
  return { passed, passedBytes, droppedBytes };
}
