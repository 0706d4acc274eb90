/**
 * The link vocabulary shared by the bandwidth model (sim/bandwidth.ts), the rebalancer
 * (controller/rebalance.ts) and the lab: directed link ids, a directed link with its capacity, and the
 * cap a demand is allocated at most. Pure data and string helpers.
 *
 * A directed link is named "a->b" (the direction packets travel from switch a to switch b), which is
 * also what the `maxLinkUtilization` expectation prints as its detail. A pod's egress meter is a
 * virtual link "meter:<pod>". Units: Gbit/s.
 */

export interface BandwidthLink {
  /** a directed link, "a->b" by convention (see directedLinkId); any unique string works */
  id: string;
  capacityGbps: number;
}

/** The id of the direction a -> b of a link between switches a and b. */
export function directedLinkId(from: string, to: string): string {
  return `${from}->${to}`;
}

/** Split "a->b" back into its ends (undefined for a virtual link such as a meter). */
export function linkEnds(id: string): [string, string] | undefined {
  const i = id.indexOf('->');
  if (i <= 0) return undefined;
  return [id.slice(0, i), id.slice(i + 2)];
}

/** The virtual link standing for a pod's egress meter. */
export function podMeterLinkId(pod: string): string {
  return `meter:${pod}`;
}

/** The cap progressive filling stops a demand at: what it asks, bounded by its own limit. */
export function demandCapGbps(d: { demandGbps: number; limitGbps?: number }): number {
  return d.limitGbps === undefined ? d.demandGbps : Math.min(d.demandGbps, d.limitGbps);
}
