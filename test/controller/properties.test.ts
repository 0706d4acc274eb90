/**
 * Property tests over random clusters (leaf/spine and irregular fabrics, random pods, services,
 * externals, isolation, overlay) and random event sequences:
 * - no two flows at the same table and priority overlap with different actions;
 * - every pod's node routes to every other pod (routed) / node IP (overlay underlay) whenever a path
 *   exists, without loops, and the fabric never loops or blackholes a destination it could reach;
 * - compileIncremental after each event equals compileCluster of the same state;
 * - reconcile(desired, actual) applied to actual gives desired; reconcile(d, d) is empty.
 * fast-check prints the seed and the shrunk counterexample on failure.
 */
import fc from 'fast-check';
import { applyOps, compileCluster, compileIncremental, reconcile } from '../../controller';
import type { FabricPlan } from '../../controller';
import { flowContentKey, flowIdentity, groupKey, meterKey } from '../../controller/normalize';
import type { Action, Flow, SwitchPlan } from '../../fabric/openflow/flow';
import { ipValue } from '../../controller/flows';
import { TABLE } from '../../controller/pipeline';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { applyEvent, buildClusterState, cloneClusterState } from '../../topology';
import type { ClusterState } from '../../topology/types';
import { clusterArb, eventsArb } from './gen';
import { connected, walk } from './walk';

const RUNS = Number(process.env.FABRIC_PROPERTY_RUNS ?? 60);

function overlaps(a: Flow, b: Flow): boolean {
  for (const name of Object.keys(a.match) as (keyof Flow['match'])[]) {
    const x = a.match[name]!;
    const y = b.match[name];
    if (!y) continue;
    const m = (x.mask ?? (1n << 128n) - 1n) & (y.mask ?? (1n << 128n) - 1n);
    if ((x.value & m) !== (y.value & m)) return false;
  }
  return true;
}

function ambiguous(sp: SwitchPlan): string | undefined {
  const byKey = new Map<string, Flow[]>();
  for (const f of sp.flows) {
    const k = `${f.table}/${f.priority}`;
    let l = byKey.get(k);
    if (!l) byKey.set(k, (l = []));
    l.push(f);
  }
  for (const list of byKey.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (flowContentKey(list[i]) === flowContentKey(list[j])) continue;
        if (overlaps(list[i], list[j])) return `${flowText(list[i])}\n  overlaps\n${flowText(list[j])}`;
      }
    }
  }
  return undefined;
}

function planText(plan: FabricPlan): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, sp] of plan) out[name] = [...sp.flows.map(flowText), ...sp.groups.map(groupText), ...sp.meters.map(meterText)];
  return out;
}

function checkRoutes(state: ClusterState, plan: FabricPlan): void {
  const overlay = state.cluster.mode === 'overlay';
  for (const from of state.nodes.values()) {
    if (!from.up) continue;
    const targets: { ip: string; node: string }[] = [];
    if (!overlay) for (const pod of state.pods.values()) targets.push({ ip: pod.ip, node: pod.node });
    for (const n of state.nodes.values()) targets.push({ ip: n.ip, node: n.name });
    for (const t of targets) {
      const ends = walk(state, plan, from.name, t.ip);
      const reachable = t.node === from.name || connected(state, from.name, t.node);
      for (const e of ends) {
        if (e.kind === 'loop') throw new Error(`loop from ${from.name} to ${t.ip}: ${e.path.join(' -> ')}`);
        if (reachable) {
          if (e.kind !== 'delivered' || e.switch !== t.node) throw new Error(`from ${from.name} to ${t.ip} on ${t.node}: ${JSON.stringify(e)}`);
        } else if (e.kind === 'delivered' && e.switch !== t.node) {
          throw new Error(`from ${from.name} to ${t.ip}: delivered to the wrong switch ${e.switch}`);
        }
      }
    }
  }
}

/** Every up node switch sends a new connection to each service VIP:port to exactly its endpoints on up nodes, and those are routable. */
function checkServices(state: ClusterState, plan: FabricPlan): void {
  for (const svc of state.services.values()) {
    const want = svc.endpoints
      .map((e) => state.pods.get(e)!)
      .filter((p) => state.nodes.get(p.node)!.up)
      .map((p) => `${p.ip}:${svc.targetPort}`)
      .sort();
    for (const node of state.nodes.values()) {
      if (!node.up) continue;
      const sp = plan.get(node.name)!;
      const vip = sp.flows.find((f) => f.table === TABLE.service_lb && f.match.ipv4_dst?.value === ipValue(svc.vip) && f.priority === 100)!;
      expect(vip).toBeDefined();
      const g = (vip.instructions.apply ?? []).find((a) => a.type === 'group') as { groupId: number } | undefined;
      const got = g
        ? sp.groups
            .find((x) => x.groupId === g.groupId)!
            .buckets.map((b) => {
              const ct = b.actions.find((a) => a.type === 'ct') as Extract<Action, { type: 'ct' }>;
              expect(ct.commit).toBe(true);
              expect(ct.table).toBe(TABLE.policy);
              return `${ct.nat!.ipMin}:${ct.nat!.portMin}`;
            })
            .sort()
        : [];
      expect(got).toEqual(want);
      if (state.cluster.mode === 'routed') {
        for (const ep of want) {
          const ip = ep.split(':')[0];
          const owner = [...state.pods.values()].find((p) => p.ip === ip)!;
          if (!connected(state, node.name, owner.node) && owner.node !== node.name) continue;
          for (const e of walk(state, plan, node.name, ip)) expect(e).toMatchObject({ kind: 'delivered', switch: owner.node });
        }
      }
    }
  }
}

describe('random clusters', () => {
  it('have no ambiguous overlaps, route every pod and node IP without loops or blackholes, and balance every service over its endpoints', () => {
    fc.assert(
      fc.property(clusterArb(), (scenario) => {
        const state = buildClusterState(scenario);
        const plan = compileCluster(state);
        for (const sp of plan.values()) {
          const amb = ambiguous(sp);
          if (amb) throw new Error(`${sp.switch}: ${amb}`);
        }
        checkRoutes(state, plan);
        checkServices(state, plan);
      }),
      { numRuns: RUNS, verbose: 1 },
    );
  });

  it('keep routing correct after random link/node/pod/service events, and incremental equals full', () => {
    fc.assert(
      fc.property(
        clusterArb().chain((s) => fc.tuple(fc.constant(s), eventsArb(s))),
        ([scenario, events]) => {
          const state = buildClusterState(scenario);
          let plan = compileCluster(state);
          for (const ev of events) {
            let changes;
            try {
              changes = applyEvent(state, ev);
            } catch {
              continue; // an event that does not apply to this state (unknown pod ...)
            }
            plan = compileIncremental(plan, state, changes);
            const full = compileCluster(cloneClusterState(state));
            expect(planText(plan)).toEqual(planText(full));
          }
          checkRoutes(state, plan);
          checkServices(state, plan);
        },
      ),
      { numRuns: RUNS, verbose: 1 },
    );
  });
});

describe('reconcile', () => {
  const plansArb = clusterArb()
    .chain((s) => fc.tuple(fc.constant(s), eventsArb(s)))
    .map(([scenario, events]) => {
      const state = buildClusterState(scenario);
      const before = compileCluster(state);
      for (const ev of events) {
        try {
          applyEvent(state, ev);
        } catch {
          /* skip */
        }
      }
      return { before, after: compileCluster(state) };
    });

  const norm = (sp: SwitchPlan) => ({
    flows: sp.flows.map((f) => `${flowIdentity(f)} ${flowContentKey(f)}`).sort(),
    groups: sp.groups.map(groupKey),
    meters: sp.meters.map(meterKey),
  });

  it('apply(reconcile(d, a), a) == d and reconcile(d, d) == [] between random plans', () => {
    fc.assert(
      fc.property(plansArb, ({ before, after }) => {
        for (const [name, desired] of after) {
          const actual = before.get(name)!;
          const ops = reconcile(desired, actual);
          expect(norm(applyOps(actual, ops))).toEqual(norm(desired));
          expect(reconcile(desired, desired)).toEqual([]);
          // make-before-break: no flow is added before the groups/meters it uses, and no group or
          // meter is deleted while a flow still uses it
          let sawFlowOp = false;
          for (const op of ops) {
            if (op.op === 'add-group' || op.op === 'add-meter' || op.op === 'modify-group' || op.op === 'modify-meter') expect(sawFlowOp).toBe(false);
            if (op.op === 'add-flow' || op.op === 'modify-flow' || op.op === 'delete-flow') sawFlowOp = true;
          }
          const firstDelete = ops.findIndex((o) => o.op === 'delete-flow');
          const lastAdd = ops.map((o) => o.op).lastIndexOf('add-flow');
          if (firstDelete >= 0 && lastAdd >= 0) expect(lastAdd).toBeLessThan(firstDelete);
        }
      }),
      { numRuns: Math.max(20, RUNS / 2), verbose: 1 },
    );
  });
});
