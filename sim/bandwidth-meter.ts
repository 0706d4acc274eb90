/**
 * A token-bucket meter (OpenFlow 1.3 meter band `drop`, kbps + burst) as a model, to check what a
 * meter lets through (the meter the controller installs for a rate: controller/meters.ts). The
 * counter-to-rate functions the controller's load tracking uses are controller/load.ts.
 * No clock: every arrival carries its own time (seconds).
 */
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
