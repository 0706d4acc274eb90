/**
 * fast-check generators of random clusters (leaf/spine and irregular fabrics, pods, services,
 * externals) as scenarios, and of random event sequences over them. Scenarios go through the real
 * topology model (buildClusterState / applyEvent).
 */
import fc from 'fast-check';
import type { ClusterState, LinkSpec, Scenario, ScenarioEvent, TrafficSteering } from '../../topology/types';
import { scenarioOf } from './support';

const APPS = ['web', 'db', 'cache'];

interface Shape {
  fabric: string[];
  nodes: string[];
  links: [string, string][];
}

const leafSpine: fc.Arbitrary<Shape> = fc
  .record({ spines: fc.integer({ min: 1, max: 3 }), leaves: fc.integer({ min: 1, max: 4 }), perLeaf: fc.integer({ min: 1, max: 3 }), dual: fc.boolean() })
  .map(({ spines, leaves, perLeaf, dual }) => {
    const fabric: string[] = [];
    const nodes: string[] = [];
    const links: [string, string][] = [];
    for (let s = 1; s <= spines; s++) fabric.push(`spine${s}`);
    for (let l = 1; l <= leaves; l++) {
      fabric.push(`leaf${l}`);
      for (let s = 1; s <= spines; s++) links.push([`leaf${l}`, `spine${s}`]);
      for (let n = 1; n <= perLeaf; n++) {
        const node = `node${l}${n}`;
        nodes.push(node);
        links.push([node, `leaf${l}`]);
        if (dual && leaves > 1 && n === 1) links.push([node, `leaf${(l % leaves) + 1}`]);
      }
    }
    return { fabric, nodes, links };
  });

const irregular: fc.Arbitrary<Shape> = fc
  .record({
    fabricCount: fc.integer({ min: 1, max: 5 }),
    nodeCount: fc.integer({ min: 1, max: 6 }),
    tree: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    extra: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
    attach: fc.array(fc.tuple(fc.nat(), fc.option(fc.nat(), { nil: undefined })), { minLength: 6, maxLength: 6 }),
  })
  .map(({ fabricCount, nodeCount, tree, extra, attach }) => {
    const fabric = Array.from({ length: fabricCount }, (_, i) => `sw${i + 1}`);
    const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
    const links: [string, string][] = [];
    const has = (a: string, b: string) => links.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
    for (let i = 1; i < fabricCount; i++) links.push([fabric[i], fabric[tree[i - 1] % i]]);
    for (const [a, b] of extra) {
      const x = fabric[a % fabricCount];
      const y = fabric[b % fabricCount];
      if (x !== y && !has(x, y)) links.push([x, y]);
    }
    nodes.forEach((n, i) => {
      const [first, second] = attach[i];
      links.push([n, fabric[first % fabricCount]]);
      if (second !== undefined && fabric[second % fabricCount] !== fabric[first % fabricCount]) links.push([n, fabric[second % fabricCount]]);
    });
    return { fabric, nodes, links };
  });

export interface ClusterOptions {
  mode?: 'routed' | 'overlay';
  isolation?: boolean;
}

export function clusterArb(options: ClusterOptions = {}): fc.Arbitrary<Scenario> {
  return fc
    .record({
      shape: fc.oneof(leafSpine, irregular),
      overlay: options.mode ? fc.constant(options.mode === 'overlay') : fc.boolean(),
      isolation: options.isolation !== undefined ? fc.constant(options.isolation) : fc.boolean(),
      pods: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }), fc.option(fc.integer({ min: 8000, max: 8003 }), { nil: undefined })), { maxLength: 10 }),
      services: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 80, max: 82 }), fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp')), { maxLength: 3 }),
      external: fc.option(fc.nat(), { nil: undefined }),
      // the edge (controller/edge.ts): public services, openings for outside hosts, closed egress, readiness
      edge: fc.record({
        types: fc.array(fc.tuple(fc.constantFrom<'ClusterIP' | 'NodePort' | 'LoadBalancer'>('ClusterIP', 'NodePort', 'LoadBalancer'), fc.boolean()), { minLength: 3, maxLength: 3 }),
        externalAccess: fc.boolean(),
        egressClosed: fc.boolean(),
        openings: fc.boolean(),
        unready: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
      }),
    })
    .map(({ shape, overlay, isolation, pods, services, external, edge }) => {
      const linkSpecs: LinkSpec[] = shape.links.map(([a, b]) => ({ between: [a, b], gbps: 10, latencyUs: 1 }));
      const usedHostPorts = new Set<string>();
      return scenarioOf({
        cluster: {
          mode: overlay ? 'overlay' : 'routed',
          encap: 'vxlan',
          podCidr: '10.244.0.0/16',
          nodeMaskLen: 24,
          serviceCidr: '10.96.0.0/16',
          isolation,
          allow: [
            ...(isolation ? [{ from: { app: 'web' }, to: { app: 'db' }, port: 8080, protocol: 'tcp' as const }] : []),
            ...(isolation ? [{ from: { app: 'cache' }, to: { app: 'web' }, port: 8000, portEnd: 8100, protocol: 'tcp' as const }] : []),
            ...(edge.openings
              ? [
                  { from: {}, to: { app: 'db' }, fromPeer: { cidr: '203.0.113.0/24' }, port: 8000, portEnd: 8100, protocol: 'tcp' as const },
                  { from: {}, to: { app: 'web' }, fromPeer: { external: 'internet', cidr: '203.0.113.1/32' } },
                  { from: { app: 'web' }, to: {}, toPeer: { external: 'internet', cidr: '203.0.113.1/32' }, port: 443, protocol: 'tcp' as const },
                ]
              : []),
          ],
          rebalance: [],
          loadBalancerCidr: '198.18.0.0/24',
          ...(edge.externalAccess ? { externalAccess: true } : {}),
          ...(edge.egressClosed ? { egress: 'closed' as const } : {}),
        },
        fabric: {
          switches: shape.fabric.map((name) => ({ name })),
          nodes: shape.nodes.map((name, i) => ({ name, ip: `198.51.100.${10 + i}` })),
          links: linkSpecs,
          externals: external !== undefined ? [{ name: 'internet', ip: '203.0.113.1', attach: shape.fabric[external % shape.fabric.length] }] : [],
        },
        pods: pods.map(([n, app, egress, hostPort], i) => {
          const node = shape.nodes[n % shape.nodes.length];
          const key = `${node}:${hostPort}`;
          const hp = hostPort !== undefined && !usedHostPorts.has(key) ? [{ hostPort, containerPort: 8080, protocol: 'tcp' as const }] : [];
          if (hp.length) usedHostPorts.add(key);
          return {
            name: `pod${i}`,
            node,
            labels: { app: APPS[app % APPS.length] },
            hostPorts: hp,
            ...(egress !== undefined ? { egressGbps: egress / 10 } : {}),
            ...(edge.unready[i] && i % 3 === 0 ? { ready: false } : {}),
          };
        }),
        services: services.map(([app, port, protocol], i) => {
          const [type, local] = edge.types[i];
          return {
            name: `svc${i}`,
            selector: { app: APPS[app % APPS.length] },
            port,
            targetPort: 8080,
            protocol,
            ...(type !== 'ClusterIP' ? { type, nodePort: 30000 + i, ...(local ? { externalTrafficPolicy: 'Local' as const } : {}) } : {}),
          };
        }),
      });
    });
}

/** Random events valid or not for the state at their time: the test skips those applyEvent refuses. */
export function eventsArb(s: Scenario): fc.Arbitrary<ScenarioEvent[]> {
  const links = s.fabric.links.map((l) => l.between);
  const nodes = s.fabric.nodes.map((n) => n.name);
  const ev: fc.Arbitrary<ScenarioEvent> = fc.oneof(
    fc.tuple(fc.nat(), fc.boolean()).map(([i, up]) => ({ at: 0, kind: 'link' as const, action: up ? ('up' as const) : ('down' as const), between: links[i % links.length] })),
    fc.tuple(fc.nat(), fc.boolean()).map(([i, up]) => ({ at: 0, kind: 'node' as const, action: up ? ('up' as const) : ('down' as const), name: nodes[i % nodes.length] })),
    fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([i, n, app]) => ({ at: 0, kind: 'pod' as const, action: 'add' as const, name: `new${i % 5}`, node: nodes[n % nodes.length], labels: { app: APPS[app % APPS.length] } })),
    fc.nat().map((i) => ({ at: 0, kind: 'pod' as const, action: 'delete' as const, name: i % 2 ? `pod${i % 10}` : `new${i % 5}` })),
    fc.tuple(fc.nat(), fc.nat()).map(([i, n]) => ({ at: 0, kind: 'pod' as const, action: 'move' as const, name: i % 2 ? `pod${i % 10}` : `new${i % 5}`, to: nodes[n % nodes.length] })),
    fc.tuple(fc.nat(), fc.nat()).map(([i, app]) => ({
      at: 0,
      kind: 'service' as const,
      action: 'add' as const,
      service: { name: `nsvc${i % 3}`, selector: { app: APPS[app % APPS.length] }, port: 90, targetPort: 8080, protocol: 'tcp' as const },
    })),
    fc.nat().map((i) => ({ at: 0, kind: 'service' as const, action: 'delete' as const, name: i % 2 ? `svc${i % 3}` : `nsvc${i % 3}` })),
    fc.tuple(fc.nat(), fc.boolean()).map(([i, ready]) => ({ at: 0, kind: 'pod' as const, action: ready ? ('ready' as const) : ('unready' as const), name: i % 2 ? `pod${i % 10}` : `new${i % 5}` })),
    fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([i, app, local]) => ({
      at: 0,
      kind: 'service' as const,
      action: 'add' as const,
      service: { name: `psvc${i % 2}`, selector: { app: APPS[app % APPS.length] }, port: 91, targetPort: 8080, protocol: 'tcp' as const, type: 'LoadBalancer' as const, ...(local ? { externalTrafficPolicy: 'Local' as const } : {}) },
    })),
  );
  return fc.array(ev, { maxLength: 8 });
}

/**
 * Long sequences dominated by link failures and recoveries (fabric-fabric and node uplinks alike,
 * several links down at once), mixed with pod adds, deletes and moves and service changes: the
 * incremental paths that patch next-hop groups in place must keep equalling a full compile.
 */
export function linkHeavyEventsArb(s: Scenario): fc.Arbitrary<ScenarioEvent[]> {
  const links = s.fabric.links.map((l) => l.between);
  const nodes = s.fabric.nodes.map((n) => n.name);
  const link: fc.Arbitrary<ScenarioEvent> = fc
    .tuple(fc.nat(), fc.boolean())
    .map(([i, up]) => ({ at: 0, kind: 'link' as const, action: up ? ('up' as const) : ('down' as const), between: links[i % links.length] }));
  const other: fc.Arbitrary<ScenarioEvent> = fc.oneof(
    fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([i, n, app]) => ({ at: 0, kind: 'pod' as const, action: 'add' as const, name: `new${i % 5}`, node: nodes[n % nodes.length], labels: { app: APPS[app % APPS.length] } })),
    fc.nat().map((i) => ({ at: 0, kind: 'pod' as const, action: 'delete' as const, name: i % 2 ? `pod${i % 10}` : `new${i % 5}` })),
    fc.tuple(fc.nat(), fc.nat()).map(([i, n]) => ({ at: 0, kind: 'pod' as const, action: 'move' as const, name: i % 2 ? `pod${i % 10}` : `new${i % 5}`, to: nodes[n % nodes.length] })),
    fc.tuple(fc.nat(), fc.nat()).map(([i, app]) => ({
      at: 0,
      kind: 'service' as const,
      action: 'add' as const,
      service: { name: `nsvc${i % 3}`, selector: { app: APPS[app % APPS.length] }, port: 90, targetPort: 8080, protocol: 'tcp' as const },
    })),
    fc.tuple(fc.nat(), fc.boolean()).map(([i, up]) => ({ at: 0, kind: 'node' as const, action: up ? ('up' as const) : ('down' as const), name: nodes[i % nodes.length] })),
  );
  return fc.array(fc.oneof({ arbitrary: link, weight: 4 }, { arbitrary: other, weight: 1 }), { minLength: 4, maxLength: 20 });
}

/**
 * Long sequences dominated by node uplinks going down and up and nodes going down and up (the
 * incremental path that moves one node's destinations between attachment keys), mixed with pod
 * moves (pods living away from their block on the changed node), pod adds and fabric link changes.
 */
export function nodeHeavyEventsArb(s: Scenario): fc.Arbitrary<ScenarioEvent[]> {
  const nodes = s.fabric.nodes.map((n) => n.name);
  const isNode = new Set(nodes);
  const uplinks = s.fabric.links.map((l) => l.between).filter(([a, b]) => isNode.has(a) !== isNode.has(b));
  const fabricLinks = s.fabric.links.map((l) => l.between).filter(([a, b]) => !isNode.has(a) && !isNode.has(b));
  const linkOf = (links: [string, string][]) =>
    fc.tuple(fc.nat(), fc.boolean()).map(([i, up]): ScenarioEvent => ({ at: 0, kind: 'link', action: up ? 'up' : 'down', between: links[i % links.length] }));
  const node: fc.Arbitrary<ScenarioEvent> = fc.tuple(fc.nat(), fc.boolean()).map(([i, up]) => ({ at: 0, kind: 'node' as const, action: up ? ('up' as const) : ('down' as const), name: nodes[i % nodes.length] }));
  const move: fc.Arbitrary<ScenarioEvent> = fc
    .tuple(fc.nat(), fc.nat())
    .map(([i, n]) => ({ at: 0, kind: 'pod' as const, action: 'move' as const, name: i % 2 ? `pod${i % 10}` : `new${i % 5}`, to: nodes[n % nodes.length] }));
  const other: fc.Arbitrary<ScenarioEvent> = fc.oneof(
    fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([i, n, app]) => ({ at: 0, kind: 'pod' as const, action: 'add' as const, name: `new${i % 5}`, node: nodes[n % nodes.length], labels: { app: APPS[app % APPS.length] } })),
    ...(fabricLinks.length ? [linkOf(fabricLinks)] : []),
  );
  const arbs = [
    { arbitrary: node, weight: 3 },
    { arbitrary: move, weight: 2 },
    { arbitrary: other, weight: 1 },
  ];
  if (uplinks.length) arbs.push({ arbitrary: linkOf(uplinks), weight: 4 });
  return fc.array(fc.oneof(...arbs), { minLength: 8, maxLength: 30 });
}

/** A rebalancer decision in a random event sequence: resolved against the state when it is applied. */
export interface SteerEvent {
  kind: 'steer';
  picks: number[];
}

/** Random events mixed with random steering decisions (pins, limits, weights). */
export function eventsWithSteeringArb(s: Scenario): fc.Arbitrary<(ScenarioEvent | SteerEvent)[]> {
  const steer: fc.Arbitrary<SteerEvent> = fc.array(fc.nat(), { minLength: 12, maxLength: 40 }).map((picks) => ({ kind: 'steer' as const, picks }));
  return fc.tuple(eventsArb(s), fc.array(steer, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 4 })).map(([evs, steers, at]) => {
    const out: (ScenarioEvent | SteerEvent)[] = [...evs];
    steers.forEach((st, i) => out.splice(Math.min(out.length, (at[i] ?? 0) % (out.length + 1)), 0, st));
    return out;
  });
}

/**
 * Steering decisions made from `picks` against the current state: pins along random walks over the
 * fabric's links (up or down: the compiler must leave out hops whose link is down), limits on random
 * pods, weights on random services' endpoints (some pods named that are not endpoints).
 */
export function steeringFrom(state: ClusterState, picks: number[]): TrafficSteering {
  let i = 0;
  const next = () => picks[i++ % picks.length];
  const pods = [...state.pods.values()];
  const switches = [...state.switches.values()];
  const steering: TrafficSteering = { pins: [], limits: {} };
  const nPins = next() % 3;
  for (let k = 0; k < nPins && pods.length >= 2; k++) {
    const a = pods[next() % pods.length];
    const b = pods[next() % pods.length];
    const hops: { switch: string; nextHop: string }[] = [];
    let at = state.switches.get(a.node) ?? switches[0];
    const len = 1 + (next() % 4);
    for (let h = 0; h < len; h++) {
      const links = at.ports.filter((p) => p.kind === 'link');
      if (links.length === 0) break;
      const l = links[next() % links.length] as Extract<(typeof links)[number], { kind: 'link' }>;
      hops.push({ switch: at.name, nextHop: l.peerSwitch });
      at = state.switches.get(l.peerSwitch)!;
    }
    const proto = next() % 3;
    steering.pins.push({
      id: `pin${k}`,
      srcIp: a.ip,
      dstIp: b.ip,
      ...(proto === 1 ? { protocol: 'tcp' as const, dstPort: 8080 } : proto === 2 ? { protocol: 'udp' as const } : {}),
      hops,
    });
  }
  const nLimits = next() % 3;
  for (let k = 0; k < nLimits && pods.length; k++) steering.limits[pods[next() % pods.length].name] = (1 + (next() % 20)) / 10;
  const services = [...state.services.values()];
  if (services.length && next() % 2) {
    steering.weights = {};
    const svc = services[next() % services.length];
    const w: Record<string, number> = {};
    for (const e of svc.endpoints) w[e] = next() % 5;
    if (pods.length) w[pods[next() % pods.length].name] = 3;
    steering.weights[svc.name] = w;
  }
  return steering;
}
