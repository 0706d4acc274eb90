/**
 * Load from counters, as pure functions over samples: the controller's view of how busy each link is,
 * the same on real Open vSwitch (OpenFlow port statistics polled by fabric/ovsdriver.ts) and in the
 * simulator (the bandwidth model's integrated byte counters, sim/bandwidth-timeline.ts):
 * - capacity discovery: a port's capacity from the model (link gbps) or from what a switch
 *   reports over OpenFlow (ofp_port curr_speed / max_speed in kbit/s);
 * - utilization over a sliding window from cumulative byte counters: samples in, rate out;
 * - `LinkLoad`: port counters of the switches -> per directed link ("a->b") rate and utilization.
 * No clock: every sample carries its own time (seconds).
 */
import type { ClusterState } from '../topology/types';
import { directedLinkId } from '../topology/links';

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

/** One port's cumulative counters as a switch reports them (OpenFlow port stats). */
export interface PortCounters {
  switch: string;
  port: number;
  txBytes: number;
  rxBytes: number;
}

export interface PortRate {
  switch: string;
  port: number;
  txGbps: number;
  rxGbps: number;
}

export interface LinkUtilization {
  /** directed link id "from->to": what `from`'s port toward `to` sent */
  link: string;
  gbps: number;
  capacityGbps: number;
  utilization: number;
}

/**
 * The load of a cluster's links from its switches' port counters: each switch's link port counts
 * what that switch sent toward its peer (tx), so the tx rate of `a`'s port on link a|b is the load
 * of the direction a->b. Capacities are the scenario's link gbps. Immutable samples in (`sample`),
 * rates out; a counter reset restarts a port's window.
 */
export class LinkLoad {
  private meter: UtilizationMeter;
  polls = 0;

  constructor(private readonly state: ClusterState, readonly windowS = 1) {
    this.meter = UtilizationMeter.create(windowS);
  }

  /** Counters read at `atS` (seconds, any origin; only differences count). */
  sample(atS: number, counters: readonly PortCounters[]): void {
    const bytes = new Map<string, number>();
    for (const c of counters) {
      bytes.set(`tx:${c.switch}/${c.port}`, c.txBytes);
      bytes.set(`rx:${c.switch}/${c.port}`, c.rxBytes);
    }
    this.meter = this.meter.push(atS, bytes);
    this.polls++;
  }

  /** Per port, the tx and rx rates over the window (ports with two samples), by switch and port. */
  portRates(): PortRate[] {
    const rates = this.meter.rates();
    const out = new Map<string, PortRate>();
    for (const [key, gbps] of rates) {
      const m = /^(tx|rx):(.+)\/(\d+)$/.exec(key);
      if (!m) continue;
      const id = `${m[2]}/${m[3]}`;
      const r = out.get(id) ?? { switch: m[2], port: Number(m[3]), txGbps: 0, rxGbps: 0 };
      if (m[1] === 'tx') r.txGbps = gbps;
      else r.rxGbps = gbps;
      out.set(id, r);
    }
    return [...out.values()].sort((a, b) => (a.switch === b.switch ? a.port - b.port : a.switch < b.switch ? -1 : 1));
  }

  /** Per directed link with a measured rate: its load and utilization (rate / the link's gbps). */
  linkUtilization(): LinkUtilization[] {
    const out: LinkUtilization[] = [];
    for (const sw of [...this.state.switches.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      for (const p of sw.ports) {
        if (p.kind !== 'link') continue;
        const link = this.state.links.get(p.linkId);
        const gbps = this.meter.rateGbps(`tx:${sw.name}/${p.port}`);
        if (!link || gbps === undefined) continue;
        out.push({ link: directedLinkId(sw.name, p.peerSwitch), gbps, capacityGbps: link.gbps, utilization: link.gbps > 0 ? gbps / link.gbps : 0 });
      }
    }
    return out;
  }
}
