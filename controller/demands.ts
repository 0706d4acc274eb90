/**
 * The demands the control loop rebalances, as a controller can know them: the scenario's `traffic`
 * (what the operator declares a pod sends, to whom, how much it asks) measured through the switches'
 * port counters. The same on real Open vSwitch (OpenFlow port statistics) and in the simulator (the
 * bandwidth model's byte counters), so both worlds make the same decisions from the same inputs.
 *
 * What counters can and cannot tell:
 * - a demand's rate: its sending pod's port (what the switch receives from the pod), shared among
 *   that pod's declared demands in proportion to what they ask; a demand is active while its share
 *   is at least 1 % of its ask;
 * - its path: known when it is pinned or has one candidate; otherwise the switches' ECMP hash chose
 *   one of the candidates and only the links every candidate shares are certain.
 * Demands the loop does not rebalance: those from externals or nodes (no pod port measures them), and
 * those to services, nodes or bare IPs (the destination switch depends on a choice the switches make).
 * No clock, no I/O.
 */
import type { ClusterState, TrafficDemand, TrafficSteering } from '../topology/types';
import { PathCache, buildPathGraph } from '../topology/paths';
import type { TopologyLink } from '../topology/paths';

export type SteeringPin = TrafficSteering['pins'][number];

/** the pin id of the scenario's traffic[index] */
export const demandId = (index: number): string => `traffic-${index}`;

/**
 * The addresses a demand's packets carry inside the fabric, for a pin's match: the source pod's IP
 * (its node's IP when the packet is SNAT'ed to an external), the accepting pod's IP (a service's VIP
 * is DNAT'ed at the source node), else the target's IP. A demand with a port is TCP to that port (a
 * service's targetPort after DNAT); without one the pin matches every protocol between the two.
 */
export function pinMatch(state: ClusterState, d: { from: string; to: string; port?: number }, toPod?: string): Omit<SteeringPin, 'id' | 'hops'> | undefined {
  const fromPod = state.pods.get(d.from);
  const ext = state.externals.get(d.to);
  let srcIp: string | undefined;
  if (fromPod) srcIp = ext ? state.nodes.get(fromPod.node)?.ip : fromPod.ip;
  else srcIp = state.nodes.get(d.from)?.ip ?? state.externals.get(d.from)?.ip;
  const svc = state.services.get(d.to);
  const dstIp = toPod ? state.pods.get(toPod)?.ip : ext?.ip ?? state.nodes.get(d.to)?.ip ?? (/^\d+\.\d+\.\d+\.\d+$/.test(d.to) ? d.to : undefined);
  if (!srcIp || !dstIp) return undefined;
  if (d.port === undefined) return { srcIp, dstIp };
  return { srcIp, dstIp, protocol: svc?.protocol ?? 'tcp', dstPort: svc ? svc.targetPort : d.port };
}

/** The links that carry traffic now: up, between switches of up nodes. */
export function upTopology(state: ClusterState): TopologyLink[] {
  const down = new Set([...state.nodes.values()].filter((n) => !n.up).map((n) => n.name));
  return [...state.links.values()].filter((l) => l.up && !down.has(l.a) && !down.has(l.b)).map((l) => ({ a: l.a, b: l.b, gbps: l.gbps }));
}

/** Candidate paths over the up links (node switches are never transit), rebuilt when the links change. */
export class CandidatePaths {
  private key = '';
  private cache: PathCache | undefined;
  get(state: ClusterState, links: readonly TopologyLink[]): PathCache {
    const key = links.map((l) => `${l.a}|${l.b}|${l.gbps}`).join(',');
    if (!this.cache || key !== this.key) {
      this.key = key;
      this.cache = new PathCache(buildPathGraph(links), { noTransit: new Set(state.nodes.keys()) });
    }
    return this.cache;
  }
}

export interface LoopDemand {
  /** demandId(index) */
  id: string;
  index: number;
  fromPod: string;
  toPod?: string;
  /** the switches where it enters and leaves the fabric */
  src: string;
  dst: string;
  /** what it asks (the scenario's gbps) */
  demandGbps: number;
  candidates: string[][];
  /** the path it is pinned to (absent: the switches' ECMP chooses) */
  pinned?: string[];
  /** the links it certainly crosses: its pin, its one candidate, or what all candidates share */
  known: string[];
  /** measured (its share of its pod's port rate), Gbit/s */
  rateGbps: number;
  active: boolean;
}

function shared(candidates: readonly (readonly string[])[]): string[] {
  if (candidates.length === 0) return [];
  const rest = candidates.slice(1).map((c) => new Set(c));
  return candidates[0].filter((id) => rest.every((s) => s.has(id)));
}

/**
 * The declared demands the loop can rebalance, with their measured rates and what is known of their
 * paths. `podRateGbps` is a pod's send rate from its port counters (undefined: not measured yet);
 * `pinPaths` the paths of the pins in force (by demand id); a pin over a link that is not up is ignored.
 */
export function measuredDemands(
  state: ClusterState,
  traffic: readonly TrafficDemand[],
  links: readonly TopologyLink[],
  paths: PathCache,
  podRateGbps: (pod: string) => number | undefined,
  pinPaths: ReadonlyMap<string, readonly string[]>,
): LoopDemand[] {
  const up = new Set<string>();
  for (const l of links) up.add(`${l.a}->${l.b}`), up.add(`${l.b}->${l.a}`);
  const out: LoopDemand[] = [];
  const askOf = new Map<string, number>();
  traffic.forEach((d, index) => {
    const from = state.pods.get(d.from);
    if (!from || !state.nodes.get(from.node)?.up) return;
    const toPod = state.pods.get(d.to);
    const ext = state.externals.get(d.to);
    const dst = toPod ? toPod.node : ext?.attach;
    if (!dst || (toPod && !state.nodes.get(toPod.node)?.up)) return;
    const candidates = from.node === dst ? [] : paths.get(from.node, dst);
    const id = demandId(index);
    const pin = pinPaths.get(id);
    const pinned = pin && pin.every((l) => up.has(l)) ? [...pin] : undefined;
    const known = pinned ?? (candidates.length === 1 ? [...candidates[0]] : shared(candidates));
    askOf.set(d.from, (askOf.get(d.from) ?? 0) + d.gbps);
    out.push({ id, index, fromPod: d.from, toPod: toPod?.name, src: from.node, dst, demandGbps: d.gbps, candidates, pinned, known, rateGbps: 0, active: false });
  });
  for (const d of out) {
    const rate = podRateGbps(d.fromPod) ?? 0;
    const total = askOf.get(d.fromPod)!;
    d.rateGbps = total > 0 ? (rate * d.demandGbps) / total : 0;
    d.active = d.rateGbps > 1e-6 && d.rateGbps >= 0.01 * d.demandGbps;
  }
  return out;
}
