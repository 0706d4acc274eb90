/**
 * The shipped scenarios (scenarios/*.yaml) through the bandwidth model: demands routed by ECMP
 * hash over their equal-cost candidates, then steered; what steering reaches is never below the LP
 * optimum and is within 5% of it. (The simulator's runner feeds the same model with the paths of
 * the compiled pipeline; here the candidate-path model stands in, so the test needs only the files.)
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseScenarioFile } from '../../topology/scenario';
import { buildClusterState } from '../../topology/cluster';
import { directedLinkId } from '../../topology/links';
import { PathCache, buildPathGraph, flowHash } from '../../topology/paths';
import { optimumMaxUtilization } from '../../sim/bandwidth-optimum';
import { RebalanceDemand, applyChanges, maxOfferedUtilization, steer } from '../../controller/rebalance';

const dir = path.join(__dirname, '..', '..', 'scenarios');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : [];

describe('shipped scenarios: steering against the LP optimum', () => {
  test('there are shipped scenarios with traffic', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test.each(files)('%s', async (file) => {
    const parsed = parseScenarioFile(path.join(dir, file));
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const sc = parsed.scenario!;
    const state = buildClusterState(sc);
    const topo = [...state.links.values()].map((l) => ({ a: l.a, b: l.b, gbps: l.gbps, up: l.up }));
    const links = topo.flatMap((l) => [
      { id: directedLinkId(l.a, l.b), capacityGbps: l.gbps },
      { id: directedLinkId(l.b, l.a), capacityGbps: l.gbps },
    ]);
    const nodes = [...state.nodes.keys()];
    const cache = new PathCache(buildPathGraph(topo), { noTransit: new Set(nodes) });
    const where = (name: string): string[] => {
      const pod = state.pods.get(name);
      if (pod) return [pod.node];
      const ext = state.externals.get(name);
      if (ext) return [ext.attach];
      if (state.nodes.has(name)) return [name];
      const svc = state.services.get(name);
      if (svc) return svc.endpoints.map((e) => state.pods.get(e)!.node);
      return [];
    };
    // every demand at once (the worst case over the run); a service demand splits over its endpoints
    const demands: RebalanceDemand[] = [];
    sc.traffic.forEach((t, i) => {
      const [src] = where(t.from);
      const dsts = where(t.to);
      dsts.forEach((dst, k) => {
        const cands = cache.get(src, dst);
        if (!src || cands.length === 0) return;
        demands.push({ id: `${i}.${k}`, src, dst, path: cands[flowHash(`${i}.${k}`) % cands.length], demandGbps: t.gbps / dsts.length });
      });
    });
    if (demands.length === 0) return;
    const model = { links, demands, paths: (s: string, d: string) => cache.get(s, d) };
    const ecmp = maxOfferedUtilization(links, demands);
    const after = applyChanges(model, steer(model, { thresholdUtilization: 0 }));
    const reached = maxOfferedUtilization(after.links, after.demands);
    const lp = await optimumMaxUtilization(links, demands.map((d) => ({ id: d.id, gbps: d.demandGbps, candidates: cache.get(d.src, d.dst) })));
    expect(reached).toBeLessThanOrEqual(ecmp + 1e-9);
    expect(reached).toBeGreaterThanOrEqual(lp.maxUtilization - 1e-7);
    expect(reached).toBeLessThanOrEqual(lp.maxUtilization * 1.05 + 1e-9);
  });
});
