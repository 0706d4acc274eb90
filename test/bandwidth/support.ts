/** Test support for the bandwidth tests: small random leaf/spine fabrics and demands (fast-check). */
import fc from 'fast-check';
import { BandwidthLink, directedLinkId } from '../../topology/links';
import { PathCache, TopologyLink, buildPathGraph, flowHash } from '../../topology/paths';
import { RebalanceDemand, RebalanceModel } from '../../controller/rebalance';

export interface Fabric {
  topo: TopologyLink[];
  links: BandwidthLink[];
  nodes: string[];
  cache: PathCache;
}

export function leafSpine(spines: number, leaves: number, nodesPerLeaf: number, caps: { up: number; down: number }): Fabric {
  const topo: TopologyLink[] = [];
  const nodes: string[] = [];
  for (let l = 0; l < leaves; l++) {
    for (let s = 0; s < spines; s++) topo.push({ a: `leaf${l}`, b: `spine${s}`, gbps: caps.up });
    for (let n = 0; n < nodesPerLeaf; n++) {
      const node = `node${l}-${n}`;
      nodes.push(node);
      topo.push({ a: node, b: `leaf${l}`, gbps: caps.down });
    }
  }
  return fromTopo(topo, nodes);
}

export function fromTopo(topo: TopologyLink[], nodes: string[]): Fabric {
  const links: BandwidthLink[] = [];
  for (const l of topo) links.push({ id: directedLinkId(l.a, l.b), capacityGbps: l.gbps }, { id: directedLinkId(l.b, l.a), capacityGbps: l.gbps });
  return { topo, links, nodes, cache: new PathCache(buildPathGraph(topo), { noTransit: new Set(nodes) }) };
}

/** ECMP by hash over the equal-cost candidates, the way a select group picks a bucket. */
export function ecmpPath(f: Fabric, src: string, dst: string, key: string): string[] {
  const c = f.cache.get(src, dst);
  return c.length === 0 ? [] : c[flowHash(key) % c.length];
}

export interface Scenario {
  fabric: Fabric;
  model: RebalanceModel;
}

/** fast-check: a small leaf/spine with unequal capacities and a mix of elastic and bounded demands. */
export const arbScenario: fc.Arbitrary<Scenario> = fc
  .record({
    spines: fc.integer({ min: 1, max: 3 }),
    leaves: fc.integer({ min: 2, max: 4 }),
    perLeaf: fc.integer({ min: 1, max: 3 }),
    up: fc.constantFrom(1, 4, 10, 40),
    down: fc.constantFrom(1, 10, 25),
    demands: fc.array(
      fc.record({
        from: fc.nat(),
        to: fc.nat(),
        gbps: fc.oneof(fc.double({ min: 0.1, max: 30, noNaN: true }), fc.constant(Infinity)),
        limit: fc.option(fc.double({ min: 0.1, max: 10, noNaN: true }), { nil: undefined }),
        podFrom: fc.nat({ max: 5 }),
      }),
      { minLength: 1, maxLength: 24 },
    ),
  })
  .map((r) => {
    const f = leafSpine(r.spines, r.leaves, r.perLeaf, { up: r.up, down: r.down });
    const podNode = new Map<string, string>();
    const demands: RebalanceDemand[] = r.demands.map((d, i) => {
      const src = f.nodes[d.from % f.nodes.length];
      const dst = f.nodes[d.to % f.nodes.length];
      const fromPod = `p${d.podFrom}-${src}`;
      const toPod = `q${i}-${dst}`;
      podNode.set(fromPod, src);
      podNode.set(toPod, dst);
      return {
        id: `d${i}`,
        fromPod,
        toPod,
        src,
        dst,
        path: ecmpPath(f, src, dst, `d${i}`),
        // rebalancing works on what demands offer: give elastic ones a finite ask for steer/place
        demandGbps: d.gbps,
        limitGbps: d.limit,
      };
    });
    return {
      fabric: f,
      model: { links: f.links, demands, paths: (s: string, t: string) => f.cache.get(s, t), podNode, nodes: f.nodes },
    };
  });

/** A simple reference water-filling: raise all unfrozen demands by the smallest headroom until none is left. */
export function referenceMaxMin(links: readonly BandwidthLink[], demands: { id: string; path: readonly string[]; cap: number }[]): Map<string, number> {
  const cap = new Map(links.map((l) => [l.id, l.capacityGbps]));
  const rate = new Map(demands.map((d) => [d.id, 0]));
  const frozen = new Set<string>();
  for (let guard = 0; guard < 10000 && frozen.size < demands.length; guard++) {
    const active = demands.filter((d) => !frozen.has(d.id));
    let inc = Infinity;
    for (const d of active) inc = Math.min(inc, d.cap - rate.get(d.id)!);
    for (const l of links) {
      const users = active.filter((d) => d.path.includes(l.id)).length;
      if (users === 0) continue;
      let used = 0;
      for (const d of demands) if (d.path.includes(l.id)) used += rate.get(d.id)!;
      inc = Math.min(inc, (cap.get(l.id)! - used) / users);
    }
    if (inc === Infinity) {
      for (const d of active) rate.set(d.id, Infinity), frozen.add(d.id);
      break;
    }
    for (const d of active) rate.set(d.id, rate.get(d.id)! + inc);
    for (const d of active) {
      if (rate.get(d.id)! >= d.cap - 1e-9) frozen.add(d.id);
    }
    for (const l of links) {
      let used = 0;
      for (const d of demands) if (d.path.includes(l.id)) used += rate.get(d.id)!;
      if (used >= cap.get(l.id)! - 1e-9) for (const d of active) if (d.path.includes(l.id)) frozen.add(d.id);
    }
  }
  return rate;
}
