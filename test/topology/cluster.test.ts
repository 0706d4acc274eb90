import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import {
  applyEvent,
  buildClusterState,
  cidrContains,
  cloneClusterState,
  datapathIdOf,
  macFromIp,
  parseScenarioFile,
  portName,
  selectorMatches,
  TopologyError,
  type ClusterState,
  type Scenario,
  type ScenarioEvent,
} from '../../topology';
import { checkProperty } from './fc-seed';
import { cidrLast, firstUsable, intToIp, ipToInt, parseCidr } from '../../topology/ip';

const scenarioDir = path.resolve(__dirname, '..', '..', 'scenarios');
function load(name: string): Scenario {
  const r = parseScenarioFile(path.join(scenarioDir, `${name}.yaml`));
  if (!r.scenario) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.scenario;
}

describe('buildClusterState conventions', () => {
  const state = buildClusterState(load('default'));

  test('switches: one per node (role node) in node order, then fabric switches', () => {
    expect([...state.switches.values()].map((s) => `${s.name}:${s.role}`)).toEqual([
      'node1:node', 'node2:node', 'node3:node', 'node4:node', 'spine1:fabric', 'spine2:fabric', 'tor1:fabric', 'tor2:fabric',
    ]);
  });

  test('datapath ids: sha256 of the name, first digit 0, stable, distinct', () => {
    const ids = new Set<string>();
    for (const sw of state.switches.values()) {
      expect(sw.datapathId).toMatch(/^0[0-9a-f]{15}$/);
      expect(BigInt('0x' + sw.datapathId) < 2n ** 63n).toBe(true);
      expect(sw.datapathId).toBe(datapathIdOf(sw.name));
      ids.add(sw.datapathId);
    }
    expect(ids.size).toBe(state.switches.size);
    // sha256("node1") = ca12f31b8cbf5f29...; the first digit is cleared
    expect(datapathIdOf('node1')).toBe('0a12f31b8cbf5f29');
  });

  test('ports: links in file order get 1,2,...; then externals; pods from 100', () => {
    const tor1 = state.switches.get('tor1')!;
    expect(tor1.ports.map((p) => `${p.port}:${p.name}`)).toEqual(['1:to-node1', '2:to-node2', '3:to-spine1', '4:to-spine2']);
    const spine1 = state.switches.get('spine1')!;
    expect(spine1.ports.map((p) => `${p.port}:${p.name}:${p.kind}`)).toEqual(['1:to-tor1:link', '2:to-tor2:link', '3:internet:external']);
    const node3 = state.switches.get('node3')!;
    expect(node3.ports.map((p) => `${p.port}:${p.name}:${p.kind}`)).toEqual(['1:to-tor2:link', '100:web-3:pod', '101:client-1:pod']);
    const p = tor1.ports[2];
    expect(p).toEqual({ port: 3, name: 'to-spine1', kind: 'link', linkId: 'tor1|spine1', peerSwitch: 'spine1', peerPort: 1 });
  });

  test('addresses and MACs', () => {
    const node4 = state.nodes.get('node4')!;
    expect(node4).toEqual({ name: 'node4', ip: '198.51.100.14', podCidr: '10.244.4.0/24', gatewayIp: '10.244.4.1', gatewayMac: '0a:58:0a:f4:04:01', ctZone: 4, up: true });
    expect(state.switches.get('node4')!.routerMac).toBe(node4.gatewayMac);
    const spine = state.switches.get('spine1')!;
    expect(spine.routerMac).toBe(`0a:00:${spine.datapathId.slice(8).match(/../g)!.join(':')}`);
    const db = state.pods.get('db-1')!;
    expect(db).toMatchObject({ node: 'node4', homeNode: 'node4', ip: '10.244.4.7', mac: '0a:58:0a:f4:04:07' });
    expect(state.externals.get('internet')).toEqual({ name: 'internet', ip: '203.0.113.1', mac: macFromIp('203.0.113.1'), attach: 'spine1' });
    expect(state.services.get('web')).toMatchObject({ vip: '10.96.0.2', port: 80, targetPort: 8080, protocol: 'tcp', endpoints: ['web-1', 'web-2', 'web-3'] });
    expect(state.links.get('tor1|spine1')).toEqual({ id: 'tor1|spine1', a: 'tor1', b: 'spine1', gbps: 40, latencyUs: 2, up: true });
  });

  test('overlay: node switches have tun0 at port 90', () => {
    const s = buildClusterState(load('overlay-vxlan'));
    const w = s.switches.get('worker-b1')!;
    expect(w.ports.map((p) => `${p.port}:${p.name}:${p.kind}`)).toEqual(['1:to-tor-b:link', '90:tun0:tunnel', '100:api-2:pod', '101:worker-1:pod']);
    expect(s.switches.get('core')!.ports.every((p) => p.kind !== 'tunnel')).toBe(true);
  });

  test('long port names are shortened to 15 characters, uniquely', () => {
    expect(portName('short')).toBe('short');
    const a = portName('to-leaf-switch-0001');
    const b = portName('to-leaf-switch-0002');
    expect(a).toHaveLength(15);
    expect(a.startsWith('to-leaf-sw-')).toBe(true);
    expect(a).not.toBe(b);
  });

  test('selectors: all labels must match; an empty selector matches nothing', () => {
    expect(selectorMatches({ app: 'web' }, { app: 'web', tier: 'x' })).toBe(true);
    expect(selectorMatches({ app: 'web', tier: 'y' }, { app: 'web', tier: 'x' })).toBe(false);
    expect(selectorMatches({}, { app: 'web' })).toBe(false);
  });
});

describe('applyEvent', () => {
  test('pod add / delete / move and the changes they report', () => {
    const state = buildClusterState(load('default'));
    const add = applyEvent(state, { at: 1, kind: 'pod', action: 'add', name: 'web-4', node: 'node4', labels: { app: 'web' } });
    expect(add).toEqual([
      { kind: 'pod-added', pod: 'web-4' },
      { kind: 'port-added', switch: 'node4', port: 101 },
      { kind: 'endpoints-changed', service: 'web', before: ['web-1', 'web-2', 'web-3'], after: ['web-1', 'web-2', 'web-3', 'web-4'] },
    ]);
    // db-1 holds .7 on node4; the new pod takes the lowest free: .2
    expect(state.pods.get('web-4')!.ip).toBe('10.244.4.2');

    const del = applyEvent(state, { at: 2, kind: 'pod', action: 'delete', name: 'web-1' });
    expect(del[0]).toMatchObject({ kind: 'pod-deleted', pod: { name: 'web-1', ip: '10.244.0.2' } });
    expect(del[1]).toEqual({ kind: 'port-deleted', switch: 'node1', port: 100 });
    expect(del[2]).toEqual({ kind: 'endpoints-changed', service: 'web', before: ['web-1', 'web-2', 'web-3', 'web-4'], after: ['web-2', 'web-3', 'web-4'] });

    const move = applyEvent(state, { at: 3, kind: 'pod', action: 'move', name: 'db-1', to: 'node1' });
    expect(move).toEqual([
      { kind: 'pod-moved', pod: 'db-1', from: 'node4', to: 'node1' },
      { kind: 'port-deleted', switch: 'node4', port: 100 },
      { kind: 'port-added', switch: 'node1', port: 100 }, // web-1's old port is free again
    ]);
    expect(state.pods.get('db-1')).toMatchObject({ node: 'node1', homeNode: 'node4', ip: '10.244.4.7' });

    // a pod added on node4 after the move must not take db-1's address
    applyEvent(state, { at: 4, kind: 'pod', action: 'add', name: 'x', node: 'node4', labels: {} });
    expect(state.pods.get('x')!.ip).toBe('10.244.4.3');
    expect(state.switches.get('node4')!.ports.find((p) => p.kind === 'pod' && p.pod === 'x')!.port).toBe(100);
  });

  test('links and nodes; repeated state changes nothing', () => {
    const state = buildClusterState(load('default'));
    expect(applyEvent(state, { at: 1, kind: 'link', action: 'down', between: ['spine1', 'tor1'] })).toEqual([{ kind: 'link-state', link: 'tor1|spine1', up: false }]);
    expect(applyEvent(state, { at: 1, kind: 'link', action: 'down', between: ['tor1', 'spine1'] })).toEqual([]);
    expect(applyEvent(state, { at: 2, kind: 'node', action: 'down', name: 'node2' })).toEqual([{ kind: 'node-state', node: 'node2', up: false }]);
    expect(state.switches.get('node2')!.up).toBe(false);
    expect(() => applyEvent(state, { at: 3, kind: 'link', action: 'up', between: ['tor1', 'tor2'] })).toThrow(TopologyError);
    expect(() => applyEvent(state, { at: 3, kind: 'pod', action: 'delete', name: 'ghost' })).toThrow('no pod ghost exists at 3s');
  });

  test('services: add allocates the lowest free VIP, delete reports the old state', () => {
    const state = buildClusterState(load('default'));
    const svc = { name: 'db', selector: { app: 'db' }, port: 5432, targetPort: 5432, protocol: 'tcp' as const };
    expect(applyEvent(state, { at: 1, kind: 'service', action: 'add', service: svc })).toEqual([{ kind: 'service-added', service: 'db' }]);
    expect(state.services.get('db')).toMatchObject({ vip: '10.96.0.3', endpoints: ['db-1'] });
    const del = applyEvent(state, { at: 2, kind: 'service', action: 'delete', name: 'db' });
    expect(del).toEqual([{ kind: 'service-deleted', service: expect.objectContaining({ name: 'db', vip: '10.96.0.3' }) }]);
    expect(() => applyEvent(state, { at: 3, kind: 'service', action: 'add', service: { ...svc, name: 'node1' } })).toThrow(/already used by a node/);
  });

  test('automatic addresses at event time keep clear of fixed addresses that later events claim', () => {
    const s = load('default');
    s.events = [
      { at: 1, kind: 'pod', action: 'add', name: 'auto', node: 'node1', labels: {} },
      { at: 2, kind: 'pod', action: 'add', name: 'fixed', node: 'node1', labels: {}, ip: '10.244.0.3' },
      { at: 3, kind: 'service', action: 'add', service: { name: 'auto-svc', selector: { app: 'web' }, port: 81, targetPort: 81, protocol: 'tcp' } },
      { at: 4, kind: 'service', action: 'add', service: { name: 'fixed-svc', selector: { app: 'web' }, port: 82, targetPort: 82, protocol: 'tcp', ip: '10.96.0.3' } },
    ];
    const state = cloneClusterState(buildClusterState(s));
    for (const ev of s.events) applyEvent(state, ev);
    expect(state.pods.get('auto')!.ip).toBe('10.244.0.4'); // .2 is web-1's, .3 is kept for 'fixed'
    expect(state.pods.get('fixed')!.ip).toBe('10.244.0.3');
    expect(state.services.get('auto-svc')!.vip).toBe('10.96.0.4');
    expect(state.services.get('fixed-svc')!.vip).toBe('10.96.0.3');
  });

  test('cloneClusterState is deep', () => {
    const state = buildClusterState(load('default'));
    const copy = cloneClusterState(state);
    applyEvent(copy, { at: 1, kind: 'pod', action: 'delete', name: 'web-1' });
    applyEvent(copy, { at: 1, kind: 'link', action: 'down', between: ['tor1', 'spine1'] });
    expect(state.pods.has('web-1')).toBe(true);
    expect(state.links.get('tor1|spine1')!.up).toBe(true);
    expect(state.switches.get('node1')!.ports).toHaveLength(2);
    expect(state.services.get('web')!.endpoints).toEqual(['web-1', 'web-2', 'web-3']);
  });

  test('no state holds an object twice (cloneClusterState copies without keeping shared references), and a clone is deeply equal to its original', () => {
    const dir = path.join(__dirname, '..', '..', 'scenarios');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      const state = buildClusterState(load(f.replace(/\.yaml$/, '')));
      expect({ scenario: f, shared: sharedReferences(state) }).toEqual({ scenario: f, shared: [] });
      expect({ scenario: f, equal: isDeepStrictEqual(cloneClusterState(state), state) }).toEqual({ scenario: f, equal: true });
    }
  });

  test('event sequences keep the invariants: unique IPs and MACs, unique ports, endpoints = selector', () => {
    type Op = { op: number; a: number; b: number };
    const ops = fc.array(fc.record({ op: fc.integer({ min: 0, max: 7 }), a: fc.nat(), b: fc.nat() }), { maxLength: 60 });
    checkProperty(
      'applyEvent invariants',
      fc.property(ops, (list: Op[]) => {
        const scenario = load('default');
        scenario.cluster.nodeMaskLen = 28; // small blocks: exhaustion happens too
        for (const n of scenario.fabric.nodes) delete n.podCidr;
        for (const p of scenario.pods) delete p.ip;
        const state = buildClusterState(scenario);
        const nodes = [...state.nodes.keys()];
        const links = [...state.links.values()];
        let serial = 0;
        for (const { op, a, b } of list) {
          const pods = [...state.pods.keys()];
          const services = [...state.services.keys()];
          let ev: ScenarioEvent | undefined;
          if (op === 0 || op === 1) ev = { at: 0, kind: 'pod', action: 'add', name: `p${serial++}`, node: nodes[a % nodes.length], labels: { app: b % 2 ? 'web' : 'db' } };
          else if (op === 2 && pods.length) ev = { at: 0, kind: 'pod', action: 'delete', name: pods[a % pods.length] };
          else if (op === 3 && pods.length) ev = { at: 0, kind: 'pod', action: 'move', name: pods[a % pods.length], to: nodes[b % nodes.length] };
          else if (op === 4) ev = { at: 0, kind: 'link', action: b % 2 ? 'up' : 'down', between: [links[a % links.length].a, links[a % links.length].b] };
          else if (op === 5) ev = { at: 0, kind: 'node', action: b % 2 ? 'up' : 'down', name: nodes[a % nodes.length] };
          else if (op === 6) ev = { at: 0, kind: 'service', action: 'add', service: { name: `s${serial++}`, selector: { app: b % 2 ? 'web' : 'db' }, port: 80, targetPort: 80, protocol: 'tcp' } };
          else if (op === 7 && services.length) ev = { at: 0, kind: 'service', action: 'delete', name: services[a % services.length] };
          if (!ev) continue;
          // reference for the indexed allocator: the lowest address of the block no pod (or reservation) holds
          const expectedIp = ev.kind === 'pod' && ev.action === 'add' ? lowestFreeByScan(state, ev.node) : undefined;
          const servicesInOrder = [...state.services.keys()];
          try {
            const changes = applyEvent(state, ev);
            if (ev.kind === 'pod' && ev.action === 'add') expect(state.pods.get(ev.name)!.ip).toBe(expectedIp);
            const touched = changes.filter((c) => c.kind === 'endpoints-changed').map((c) => (c as { service: string }).service);
            expect(touched).toEqual(servicesInOrder.filter((n) => touched.includes(n)));
          } catch (e) {
            // only a full block may refuse a pod
            expect((e as Error).name).toBe('IpamError');
            expect(expectedIp).toBeNull();
          }
          checkInvariants(state);
        }
        return true;
      }),
      60,
    );
  });
});

function lowestFreeByScan(state: ClusterState, nodeName: string): string | null {
  const block = parseCidr(state.nodes.get(nodeName)!.podCidr);
  const used = new Set<number>([...state.pods.values()].map((p) => ipToInt(p.ip) >>> 0));
  for (const ip of state.reservedAddresses ?? []) used.add(ipToInt(ip) >>> 0);
  const last = (block.size >= 4 ? cidrLast(block) - 1 : cidrLast(block)) >>> 0;
  for (let n = (firstUsable(block) + 1) >>> 0; n <= last; n++) if (!used.has(n)) return intToIp(n);
  return null;
}

/** Paths at which an object of the state is reached a second time (none: a plain tree). */
function sharedReferences(state: ClusterState): string[] {
  const seen = new Map<object, string>();
  const out: string[] = [];
  const walk = (v: unknown, at: string): void => {
    if (v === null || typeof v !== 'object') return;
    const first = seen.get(v);
    if (first !== undefined) {
      out.push(`${at} is ${first}`);
      return;
    }
    seen.set(v, at);
    if (v instanceof Map) for (const [k, x] of v) walk(x, `${at}[${String(k)}]`);
    else if (v instanceof Set) [...v].forEach((x, i) => walk(x, `${at}{${i}}`));
    else for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
  };
  walk(state, 'state');
  return out;
}

function checkInvariants(state: ClusterState): void {
  expect(sharedReferences(state)).toEqual([]);
  const ips = new Set<string>();
  for (const pod of state.pods.values()) {
    expect(ips.has(pod.ip)).toBe(false);
    ips.add(pod.ip);
    expect(pod.mac).toBe(macFromIp(pod.ip));
    expect(cidrContains(state.nodes.get(pod.homeNode)!.podCidr, pod.ip)).toBe(true);
    const ports = state.switches.get(pod.node)!.ports.filter((p) => p.kind === 'pod' && p.pod === pod.name);
    expect(ports).toHaveLength(1);
    expect(ports[0].port).toBeGreaterThanOrEqual(100);
  }
  for (const sw of state.switches.values()) {
    const numbers = sw.ports.map((p) => p.port);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect([...numbers].sort((x, y) => x - y)).toEqual(numbers);
    for (const p of sw.ports) if (p.kind === 'pod') expect(state.pods.get(p.pod)!.node).toBe(sw.name);
  }
  const vips = new Set<string>();
  for (const svc of state.services.values()) {
    expect(vips.has(svc.vip)).toBe(false);
    vips.add(svc.vip);
    const expected = [...state.pods.values()].filter((p) => selectorMatches(svc.selector, p.labels)).map((p) => p.name).sort();
    expect(svc.endpoints).toEqual(expected);
  }
}
