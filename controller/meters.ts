/**
 * The one meter rule (docs/real-ovs.md): a pod's egress meter and a rebalancer limit are OpenFlow 1.3 meters
 * in kbps with one `drop` band and a burst of rate / 5 (a burst about a fifth of the rate per second
 * gives accurate TCP results on OVS; a tiny one collapses TCP), with stats so the limit can be
 * watched. The compiler (flows.ts podMeter), the rebalancer (rebalance.ts meterForLimit), the
 * simulator's model and the lab's meter read-back all use these.
 */
import type { Meter } from '../fabric/openflow/flow';

/** The burst (kbit) of a meter of `rateKbps`: a fifth of the rate, at least 1. */
export function meterBurstKbit(rateKbps: number): number {
  return Math.max(1, Math.round(rateKbps / 5));
}

/** The OpenFlow meter settings for a rate in Gbit/s: kbps (at least 1) and a burst of rate/5. */
export function meterBandFor(gbps: number): { rateKbps: number; burstKbit: number } {
  const rateKbps = Math.max(1, Math.round(gbps * 1e6));
  return { rateKbps, burstKbit: meterBurstKbit(rateKbps) };
}

/** The meter `meterId` holding a pod's egress to `gbps`: kbps, one drop band, burst = rate / 5, stats. */
export function podMeter(meterId: number, gbps: number): Meter {
  const band = meterBandFor(gbps);
  return { meterId, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate: band.rateKbps, burstSize: band.burstKbit }] };
}
