/**
 * Virtual time for the simulator. Integer microseconds internally (no float drift when events
 * are ordered); the scenario and reports speak seconds. Only the engine advances it.
 */

export const US_PER_S = 1_000_000;

/** seconds (scenario units) to integer microseconds */
export function secondsToUs(seconds: number): number {
  return Math.round(seconds * US_PER_S);
}

export function usToSeconds(us: number): number {
  return us / US_PER_S;
}

export interface Clock {
  /** current virtual time in microseconds */
  nowUs(): number;
}

export class VirtualClock implements Clock {
  private timeUs = 0;

  nowUs(): number {
    return this.timeUs;
  }

  nowSeconds(): number {
    return this.timeUs / US_PER_S;
  }

  /** moves time forward; going back is a bug in the caller */
  advanceTo(timeUs: number): void {
    if (timeUs < this.timeUs) throw new Error(`VirtualClock.advanceTo: ${timeUs}us is before now (${this.timeUs}us)`);
    this.timeUs = timeUs;
  }
}
