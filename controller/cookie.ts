/**
 * Flow cookies: who owns a flow, which controller generation wrote it, and which category of the
 * compiler made it. Layout (64 bits):
 *
 *   [63..48] owner tag 0xfab1   [47..32] generation   [31..24] category   [23..0] zero
 *
 * The reconciler touches only flows carrying our owner tag (other controllers' flows, or flows an
 * operator added by hand, are left alone), and compares flows without the generation so that a
 * restarted controller adopts what is installed instead of rewriting it (Antrea's cookie allocator
 * and stale-flow sweep follow the same idea).
 */

export const OWNER_TAG = 0xfab1n;
const OWNER_SHIFT = 48n;
const GENERATION_SHIFT = 32n;
const CATEGORY_SHIFT = 24n;

export const CATEGORY = {
  /** per-switch infrastructure: classifier, ARP, conntrack, SNAT, table-miss flows, port outputs */
  base: 1,
  /** flows of one local pod (classifier, spoof guard, meter, /32, hostPorts, output) */
  pod: 2,
  /** service VIPs */
  service: 3,
  /** routes to other switches */
  route: 4,
  /** isolation policy */
  policy: 5,
  /** /32 routes of pods that moved away from their home node */
  movedPod: 6,
  /** demands pinned to a path by the rebalancer (ClusterState.steering.pins) */
  pin: 7,
  /** the cluster's edge: closed doors, openings for outside hosts, NodePorts, LoadBalancer intake, closed egress */
  edge: 8,
} as const;

export type CategoryName = keyof typeof CATEGORY;

export const GENERATION_MASK = 0xffffn << GENERATION_SHIFT;
/** all bits but the generation */
export const COOKIE_IDENTITY_MASK = 0xffff_ffff_ffff_ffffn & ~GENERATION_MASK;

export function makeCookie(category: CategoryName, generation = 1): bigint {
  if (!Number.isInteger(generation) || generation < 0 || generation > 0xffff) throw new RangeError(`cookie: generation ${generation} is not in 0..65535`);
  return (OWNER_TAG << OWNER_SHIFT) | (BigInt(generation) << GENERATION_SHIFT) | (BigInt(CATEGORY[category]) << CATEGORY_SHIFT);
}

export function isOurs(cookie: bigint): boolean {
  return cookie >> OWNER_SHIFT === OWNER_TAG;
}

export function generationOf(cookie: bigint): number {
  return Number((cookie >> GENERATION_SHIFT) & 0xffffn);
}

export function categoryOf(cookie: bigint): number {
  return Number((cookie >> CATEGORY_SHIFT) & 0xffn);
}

export function withGeneration(cookie: bigint, generation: number): bigint {
  return (cookie & ~GENERATION_MASK) | (BigInt(generation & 0xffff) << GENERATION_SHIFT);
}

/** The cookie mask that selects every flow we own (for a delete by cookie). */
export const OWNER_COOKIE_MASK = 0xffffn << OWNER_SHIFT;
