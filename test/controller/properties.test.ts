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
import { applyOps, compileCluster, compileIncremental, materialize, reconcile, reconcileDetailed } from '../../controller';
import type { FabricPlan } from '../../controller';
import { flowContentKey, flowIdentity, groupKey, meterKey } from '../../controller/normalize';
import type { Action, Flow, SwitchPlan } from '../../fabric/openflow/flow';
import { CT_STATE } from '../../fabric/openflow/flow';
import { ipValue } from '../../controller/flows';
import { TABLE } from '../../controller/pipeline';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { applyEvent, buildClusterState, cloneClusterState } from '../../topology';
import type { ClusterChange, ClusterState, Scenario, ScenarioEvent } from '../../topology/types';
import { PIN_PRIORITY, bucketWeight } from '../../controller/flows';
import { upLinkPorts } from '../../controller/routing';
import { clusterArb, eventsArb, eventsWithSteeringArb, linkHeavyEventsArb, nodeHeavyEventsArb, steeringFrom } from './gen';
import { connected, walk } from './walk';
import { scenarioOf } from './support';

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

/** Pins, limits and weights of state.steering appear in the plan as docs/pipeline.md says. */
function checkSteering(state: ClusterState, plan: FabricPlan): void {
  const s = state.steering;
  if (!s) return;
  for (const pin of s.pins) {
    for (const hop of pin.hops) {
      const sp = plan.get(hop.switch);
      if (!sp) continue;
      const flows = sp.flows.filter((f) => f.table === TABLE.l3_forwarding && f.priority === PIN_PRIORITY && f.match.ipv4_src?.value === ipValue(pin.srcIp) && f.match.ipv4_dst?.value === ipValue(pin.dstIp));
      const up = upLinkPorts(state, hop.switch).filter((l) => l.peerSwitch === hop.nextHop);
      const same = (p: typeof pin) => p.srcIp === pin.srcIp && p.dstIp === pin.dstIp && (p.dstPort ?? -1) === (pin.dstPort ?? -1) && (p.dstPort !== undefined ? (p.protocol ?? 'tcp') : p.protocol) === (pin.dstPort !== undefined ? (pin.protocol ?? 'tcp') : pin.protocol);
      // the first pin (by id) with this match that has an up link at this switch owns the flow
      const owner = [...s.pins]
        .filter((p) => same(p))
        .sort((x, y) => (x.id < y.id ? -1 : 1))
        .flatMap((p) => p.hops.filter((h) => h.switch === hop.switch && upLinkPorts(state, hop.switch).some((l) => l.peerSwitch === h.nextHop)))[0];
      const mine = flows.filter((f) => sameProto(f, pin));
      if (!owner) {
        expect(up).toHaveLength(0);
        expect(mine).toHaveLength(0);
        continue;
      }
      expect(mine).toHaveLength(1);
      const reg1 = (mine[0].instructions.apply ?? []).find((a) => a.type === 'set_field' && a.field === 'reg1') as { value: bigint } | undefined;
      const ownerPorts = upLinkPorts(state, hop.switch).filter((l) => l.peerSwitch === owner.nextHop);
      expect(reg1!.value).toBe(BigInt(Math.min(...ownerPorts.map((l) => l.port))));
    }
  }
  for (const [podName, gbps] of Object.entries(s.limits)) {
    const pod = state.pods.get(podName);
    if (!pod) continue;
    const sp = plan.get(pod.node)!;
    const port = state.switches.get(pod.node)!.ports.find((p) => p.kind === 'pod' && p.pod === podName)!.port;
    const meter = sp.meters.find((m) => m.meterId === port)!;
    expect(meter).toBeDefined();
    const want = Math.round(Math.min(gbps, pod.egressGbps ?? Infinity) * 1e6);
    expect(meter.bands[0].rate).toBe(Math.max(1, want));
    expect(sp.flows.some((f) => f.table === TABLE.metering && f.instructions.meter === port)).toBe(true);
  }
  for (const [svcName, weights] of Object.entries(s.weights ?? {})) {
    const svc = state.services.get(svcName);
    if (!svc) continue;
    for (const node of state.nodes.values()) {
      if (!node.up) continue;
      const sp = plan.get(node.name)!;
      const vip = sp.flows.find((f) => f.table === TABLE.service_lb && f.match.ipv4_dst?.value === ipValue(svc.vip) && f.priority === 100)!;
      const g = (vip.instructions.apply ?? []).find((a) => a.type === 'group') as { groupId: number } | undefined;
      if (!g) continue;
      for (const b of sp.groups.find((x) => x.groupId === g.groupId)!.buckets) {
        const ct = b.actions.find((a) => a.type === 'ct') as Extract<Action, { type: 'ct' }>;
        const pod = [...state.pods.values()].find((p) => p.ip === ct.nat!.ipMin)!;
        expect(b.weight).toBe(bucketWeight(weights[pod.name]));
      }
    }
  }
}

function sameProto(f: Flow, pin: NonNullable<ClusterState['steering']>['pins'][number]): boolean {
  const protocol = pin.dstPort !== undefined ? (pin.protocol ?? 'tcp') : pin.protocol;
  const want = protocol === 'tcp' ? 6n : protocol === 'udp' ? 17n : undefined;
  if (f.match.ip_proto?.value !== want) return false;
  const port = f.match.tcp_dst?.value ?? f.match.udp_dst?.value;
  return port === (pin.dstPort !== undefined ? BigInt(pin.dstPort) : undefined);
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

  it('keep routing correct after random link/node/pod/service events and steering decisions, and incremental equals full', () => {
    fc.assert(
      fc.property(
        clusterArb().chain((s) => fc.tuple(fc.constant(s), eventsWithSteeringArb(s))),
        ([scenario, events]) => {
          const state = buildClusterState(scenario);
          let plan = compileCluster(state);
          for (const ev of events) {
            let changes: ClusterChange[];
            if (ev.kind === 'steer') {
              state.steering = steeringFrom(state, ev.picks);
              plan = compileIncremental(plan, state, [{ kind: 'steering-changed' }]);
              expect(planText(plan)).toEqual(planText(compileCluster(cloneClusterState(state))));
              checkSteering(state, plan);
              continue;
            }
            try {
              changes = applyEvent(state, ev);
            } catch {
              continue; // an event that does not apply to this state (unknown pod ...)
            }
            plan = compileIncremental(plan, state, changes);
            const full = compileCluster(cloneClusterState(state));
            expect(planText(plan)).toEqual(planText(full));
          }
          checkSteering(state, plan);
          // pins override routes on purpose (they may even loop): check routing without them
          state.steering = undefined;
          plan = compileIncremental(plan, state, [{ kind: 'steering-changed' }]);
          expect(planText(plan)).toEqual(planText(compileCluster(cloneClusterState(state))));
          checkRoutes(state, plan);
          checkServices(state, plan);
        },
      ),
      { numRuns: RUNS, verbose: 1 },
    );
  });
});

/**
 * Applies the events one by one, compiling incrementally: after every event the plan equals a full
 * compile, and switches whose plan object changed reconcile exactly as their materialized plans do
 * (an unchanged switch keeps the same object: nothing to reconcile); at the end routing and services
 * are correct. Events that do not apply to the state (an unknown pod ...) are skipped.
 */
function replayIncremental(scenario: Scenario, events: ScenarioEvent[]): void {
  const state = buildClusterState(scenario);
  let plan = compileCluster(state);
  for (const ev of events) {
    let changes: ClusterChange[];
    try {
      changes = applyEvent(state, ev);
    } catch {
      continue;
    }
    const before = plan;
    plan = compileIncremental(plan, state, changes);
    expect(planText(plan)).toEqual(planText(compileCluster(cloneClusterState(state))));
    for (const [name, sp] of plan) if (sp !== before.get(name)) expect(reconcileDetailed(sp, before.get(name)!)).toEqual(reconcileDetailed(materialize(sp), materialize(before.get(name)!)));
  }
  checkRoutes(state, plan);
  checkServices(state, plan);
}

describe('link failures and recoveries mixed with pod and service changes', () => {
  it('incremental equals full after every event, and routing stays correct', () => {
    fc.assert(
      fc.property(
        clusterArb().chain((s) => fc.tuple(fc.constant(s), linkHeavyEventsArb(s))),
        ([scenario, events]) => replayIncremental(scenario, events),
      ),
      { numRuns: RUNS, verbose: 1 },
    );
  });
});

describe('node uplinks and nodes going down and up, mixed with pod moves and fabric link changes', () => {
  it('incremental equals full after every event, unchanged switches keep their plan, and routing stays correct', () => {
    fc.assert(
      fc.property(
        clusterArb().chain((s) => fc.tuple(fc.constant(s), nodeHeavyEventsArb(s))),
        ([scenario, events]) => replayIncremental(scenario, events),
      ),
      { numRuns: RUNS, verbose: 1 },
    );
  });
});

describe('every node uplink and every node, down and back up, in pairs', () => {
  // nodes share attachment sets (so the set of keys usually stays) and dual-homed nodes choose
  // different next hops per key (so a moved node's destinations can leave or join a default route)
  const fabric = {
    switches: [{ name: 'sw1' }, { name: 'sw2' }, { name: 'sw3' }],
    nodes: ['node1', 'node2', 'node3', 'node4', 'node5', 'node6'].map((name, i) => ({ name, ip: `198.51.100.${10 + i}` })),
    links: (
      [
        ['sw1', 'sw2'],
        ['sw2', 'sw3'],
        ['sw1', 'sw3'],
        ['node1', 'sw1'],
        ['node2', 'sw1'],
        ['node2', 'sw2'],
        ['node3', 'sw1'],
        ['node3', 'sw2'],
        ['node4', 'sw2'],
        ['node5', 'sw2'],
        ['node5', 'sw3'],
        ['node6', 'sw2'],
        ['node6', 'sw3'],
      ] as [string, string][]
    ).map((between) => ({ between, gbps: 10, latencyUs: 1 })),
    externals: [{ name: 'internet', ip: '203.0.113.1', attach: 'sw3' }],
  };
  const pods = ['node1', 'node2', 'node3', 'node5'].map((node, i) => ({ name: `pod${i}`, node, labels: { app: 'web' }, hostPorts: [] }));
  const downs: ScenarioEvent[] = [
    ...fabric.links.filter((l) => l.between[0].startsWith('node')).map((l): ScenarioEvent => ({ at: 0, kind: 'link', action: 'down', between: l.between as [string, string] })),
    ...fabric.nodes.map((n): ScenarioEvent => ({ at: 0, kind: 'node', action: 'down', name: n.name })),
  ];
  const upOf = (e: ScenarioEvent): ScenarioEvent => ({ ...e, action: 'up' }) as ScenarioEvent;

  for (const mode of ['routed', 'overlay'] as const) {
    it(`${mode}: incremental equals full after each event (with a pod living away from its block)`, () => {
      const scenario = scenarioOf({ fabric, pods, services: [{ name: 'svc0', selector: { app: 'web' }, port: 80, targetPort: 8080, protocol: 'tcp' }] });
      scenario.cluster.mode = mode;
      let compared = 0;
      for (const [i, a] of downs.entries()) {
        for (const b of downs.slice(i)) {
          const state = buildClusterState(scenario);
          let plan = compileCluster(state);
          const moves: ScenarioEvent[] = [{ at: 0, kind: 'pod', action: 'move', name: 'pod0', to: 'node4' }];
          for (const ev of [...moves, a, b, upOf(a), upOf(b)]) {
            let changes: ClusterChange[];
            try {
              changes = applyEvent(state, ev);
            } catch {
              continue;
            }
            plan = compileIncremental(plan, state, changes);
            expect(planText(plan)).toEqual(planText(compileCluster(cloneClusterState(state))));
            compared++;
          }
        }
      }
      expect(compared).toBeGreaterThan(((downs.length * (downs.length + 1)) / 2) * 3);
    });
  }
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

describe('reconcile of plans that share parts (incremental compiles)', () => {
  it('gives exactly the operations of the full diff of the merged lists', () => {
    fc.assert(
      fc.property(
        clusterArb().chain((s) => fc.tuple(fc.constant(s), eventsWithSteeringArb(s))),
        ([scenario, events]) => {
          const state = buildClusterState(scenario);
          const first = compileCluster(state);
          let plan = first;
          for (const ev of events) {
            let changes: ClusterChange[];
            if (ev.kind === 'steer') {
              state.steering = steeringFrom(state, ev.picks);
              changes = [{ kind: 'steering-changed' }];
            } else {
              try {
                changes = applyEvent(state, ev);
              } catch {
                continue;
              }
            }
            const next = compileIncremental(plan, state, changes);
            for (const [name, desired] of next) {
              for (const actual of [plan.get(name)!, first.get(name)!]) {
                // materialize() makes plain plans: the full diff of the merged lists
                expect(reconcileDetailed(desired, actual)).toEqual(reconcileDetailed(materialize(desired), materialize(actual)));
              }
            }
            plan = next;
          }
        },
      ),
      { numRuns: Math.max(20, RUNS / 2), verbose: 1 },
    );
  });
});

/**
 * Isolation, evaluated on the compiled tables: a new TCP connection from pod a to pod b on port P,
 * seen by node switch N (a packet from a local pod entered on its pod port, so reg0 = pod; on any
 * other node it came from the fabric), passes conntrack (the highest-priority flow matching loads reg3) and policy (the
 * highest-priority flow matching decides: ct(commit) admits, no actions drop). It must be admitted
 * exactly on a's and b's nodes when some allow rule selects a as source and b as destination with
 * that protocol/port (a node hosting neither end drops it) — the meaning of the per-pair flows the register scheme replaced. Rule lists are padded past 32
 * rules sometimes, so the per-pair fallback for rules without a reg3 bit is covered too.
 */
describe('isolation on random clusters', () => {
  const NEW_TRK = BigInt(CT_STATE.new | CT_STATE.trk);
  const matches = (f: Flow, pkt: Record<string, bigint>) =>
    Object.entries(f.match).every(([name, m]) => {
      const mask = m!.mask ?? (1n << 128n) - 1n;
      return ((pkt[name] ?? 0n) & mask) === (m!.value & mask);
    });
  const best = (sp: SwitchPlan, table: number, pkt: Record<string, bigint>) => {
    let win: Flow | undefined;
    for (const f of sp.flows) if (f.table === table && matches(f, pkt) && (!win || f.priority > win.priority)) win = f;
    return win;
  };
  const regOf = (actions: Action[] | undefined, field: string) => {
    for (const a of actions ?? []) if (a.type === 'set_field' && a.field === field) return a.value;
    return 0n;
  };

  it('admits a new connection on either end node exactly when an allow rule selects both ends (register scheme and per-pair fallback)', () => {
    fc.assert(
      fc.property(
        clusterArb({ isolation: true, mode: 'routed' }).chain((s) => fc.tuple(fc.constant(s), fc.boolean(), fc.array(fc.tuple(fc.nat(2), fc.nat(2), fc.constantFrom(8080, 5432)), { minLength: 1, maxLength: 3 }), eventsArb(s))),
        ([scenario, pad, extra, events]) => {
          const apps = ['web', 'db', 'cache'];
          const rules = extra.map(([f, t, port]) => ({ from: { app: apps[f] }, to: { app: apps[t] }, port, protocol: 'tcp' as const }));
          const padding = pad ? Array.from({ length: 32 }, (_, i) => ({ from: { app: `none${i}` }, to: { app: 'none' } })) : [];
          scenario.cluster.allow = [...padding, ...scenario.cluster.allow, ...rules];
          const state = buildClusterState(scenario);
          let plan = compileCluster(state);
          const check = () => {
            for (const a of state.pods.values()) {
              for (const b of state.pods.values()) {
                if (a === b) continue;
                for (const port of [8080, 5432]) {
                  // pod-to-pod rules only (a rule naming an outside host is compiled at the edge); a port or a range
                  const want = state.cluster.allow.some(
                    (r) =>
                      !r.fromPeer &&
                      !r.toPeer &&
                      Object.entries(r.from).every(([k, v]) => a.labels[k] === v) &&
                      Object.entries(r.to).every(([k, v]) => b.labels[k] === v) &&
                      (r.port === undefined || (port >= r.port && port <= (r.portEnd ?? r.port))),
                  );
                  for (const n of state.nodes.keys()) {
                    if (!state.nodes.get(n)?.up) continue;
                    const wantHere = want && (n === a.node || n === b.node);
                    const sp = plan.get(n)!;
                    const pkt: Record<string, bigint> = { eth_type: 0x800n, ip_proto: 6n, tcp_dst: BigInt(port), ipv4_src: ipValue(a.ip), ipv4_dst: ipValue(b.ip), reg0: a.node === n ? 1n : 2n };
                    const ct = best(sp, TABLE.conntrack, pkt);
                    pkt.reg3 = regOf(ct?.instructions.apply, 'reg3');
                    pkt.ct_state = NEW_TRK;
                    const pol = best(sp, TABLE.policy, pkt);
                    const admitted = !!pol?.instructions.apply?.some((x) => x.type === 'ct' && x.commit);
                    if (admitted !== wantHere) throw new Error(`${a.name} -> ${b.name}:${port} on ${n}: admitted ${admitted}, want ${wantHere} (${pol ? flowText(pol) : 'no flow'})`);
                  }
                }
              }
            }
          };
          check();
          for (const ev of events) {
            let changes: ClusterChange[];
            try {
              changes = applyEvent(state, ev);
            } catch {
              continue;
            }
            plan = compileIncremental(plan, state, changes);
            expect(planText(plan)).toEqual(planText(compileCluster(cloneClusterState(state))));
            check();
          }
        },
      ),
      { numRuns: Math.max(20, RUNS / 2), verbose: 1 },
    );
  });
});
