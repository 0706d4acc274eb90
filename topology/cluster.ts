/**
 * The resolved cluster model: from a scenario and its address plan to a ClusterState (switches with
 * stable datapath ids, MACs and port numbers; nodes, pods, services, externals, links), and the one
 * place that applies a scenario event to it. The controller compiles this state; the simulator and
 * the lab replay events through `applyEvent` so that all of them agree on ports and addresses.
 *
 * Conventions (docs/scenarios.md "Cluster model"):
 * - every node has a switch of the same name (role 'node'); fabric switches have role 'fabric';
 * - datapathId: the first 16 hex digits of sha256(switch name) with the first digit forced to 0
 *   (so it is < 2^60, positive as a signed 64-bit number, and stable across runs);
 * - ports: links in `fabric.links` file order get 1, 2, 3 ... on each end (name `to-PEER`), then the
 *   externals attached to the switch in file order (name = external name); in overlay mode every node
 *   switch has the tunnel port 90 (`tun0`), skipped by the numbering above; pods get the lowest free
 *   port >= 100 of their node switch when they are added (name = pod name);
 *   names longer than 15 characters (Linux IFNAMSIZ) become their first 10 characters, '-', and 4 hex
 *   digits of sha256(full name);
 * - gatewayIp = first usable address of the node block; gatewayMac = macFromIp(gatewayIp), also the
 *   node switch's routerMac; pod and external MACs = macFromIp(ip);
 * - fabric switch routerMac = 0a:00: + the last 4 bytes of its datapath id (locally administered);
 * - ctZone = node index in file order + 1;
 * - a service's endpoints are the pods whose labels match its (non-empty) selector, sorted by name.
 */
import { createHash } from 'crypto';
import type {
  ClusterChange,
  ClusterState,
  PodState,
  Scenario,
  ScenarioEvent,
  ServiceSpec,
  ServiceState,
  SwitchState,
} from './types';
import { cidrLast, firstUsable, intToIp, ipToInt, macFromIp, parseCidr } from './ip';
import { IpamError, type IpamPlan, isReservedInBlock, isReservedInServicePool, planAddresses } from './ipam';

/** An event or a state that the model cannot accept (unknown names, taken addresses ...). */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

export const TUNNEL_PORT = 90;
export const TUNNEL_PORT_NAME = 'tun0';
export const FIRST_POD_PORT = 100;
/** Linux interface names (IFNAMSIZ - 1) */
export const MAX_PORT_NAME_LEN = 15;

export function datapathIdOf(switchName: string): string {
  const hex = createHash('sha256').update(switchName).digest('hex');
  return '0' + hex.slice(1, 16);
}

/** MAC a fabric switch routes with: 0a:00 + the low 32 bits of its dpid. */
export function fabricRouterMac(datapathId: string): string {
  const low = datapathId.slice(8, 16);
  return ['0a', '00', low.slice(0, 2), low.slice(2, 4), low.slice(4, 6), low.slice(6, 8)].join(':');
}

export function portName(name: string): string {
  if (name.length <= MAX_PORT_NAME_LEN) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 4);
  return `${name.slice(0, 10)}-${hash}`;
}

export function linkId(a: string, b: string): string {
  return `${a}|${b}`;
}

/** Does a selector match these labels? An empty selector matches nothing (like a selector-less service). */
export function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  if (keys.length === 0) return false;
  for (const k of keys) if (labels[k] !== selector[k]) return false;
  return true;
}

export function buildClusterState(scenario: Scenario, plan: IpamPlan = planAddresses(scenario)): ClusterState {
  const state: ClusterState = {
    scenario: scenario.name,
    cluster: scenario.cluster,
    switches: new Map(),
    nodes: new Map(),
    pods: new Map(),
    services: new Map(),
    externals: new Map(),
    links: new Map(),
  };
  const overlay = scenario.cluster.mode === 'overlay';
  const dpidOwner = new Map<string, string>();
  const addSwitch = (name: string, role: 'node' | 'fabric', routerMac?: string): SwitchState => {
    if (state.switches.has(name)) throw new TopologyError(`buildClusterState: duplicate switch name ${name}`);
    const datapathId = datapathIdOf(name);
    const clash = dpidOwner.get(datapathId);
    if (clash) throw new TopologyError(`buildClusterState: switches ${clash} and ${name} hash to the same datapath id ${datapathId}`);
    dpidOwner.set(datapathId, name);
    const sw: SwitchState = { name, role, datapathId, routerMac: routerMac ?? fabricRouterMac(datapathId), ports: [], up: true };
    state.switches.set(name, sw);
    return sw;
  };

  scenario.fabric.nodes.forEach((node, i) => {
    const entry = plan.nodes[node.name];
    if (!entry) throw new TopologyError(`buildClusterState: the address plan has no block for node ${node.name}`);
    const gatewayIp = intToIp(firstUsable(parseCidr(entry.podCidr)));
    const gatewayMac = macFromIp(gatewayIp);
    state.nodes.set(node.name, { name: node.name, ip: node.ip, podCidr: entry.podCidr, gatewayIp, gatewayMac, ctZone: i + 1, up: true });
    const sw = addSwitch(node.name, 'node', gatewayMac);
    if (overlay) sw.ports.push({ port: TUNNEL_PORT, name: TUNNEL_PORT_NAME, kind: 'tunnel' });
  });
  for (const s of scenario.fabric.switches) addSwitch(s.name, 'fabric');

  const nextInfraPort = new Map<string, number>();
  const takeInfraPort = (sw: SwitchState): number => {
    let p = nextInfraPort.get(sw.name) ?? 1;
    while (overlay && sw.role === 'node' && p === TUNNEL_PORT) p++;
    nextInfraPort.set(sw.name, p + 1);
    return p;
  };
  for (const link of scenario.fabric.links) {
    const [a, b] = link.between;
    const swA = state.switches.get(a);
    const swB = state.switches.get(b);
    if (!swA || !swB) throw new TopologyError(`buildClusterState: link ${a}|${b} has an unknown endpoint`);
    const id = linkId(a, b);
    if (state.links.has(id) || state.links.has(linkId(b, a))) throw new TopologyError(`buildClusterState: duplicate link ${id}`);
    const portA = takeInfraPort(swA);
    const portB = takeInfraPort(swB);
    swA.ports.push({ port: portA, name: portName(`to-${b}`), kind: 'link', linkId: id, peerSwitch: b, peerPort: portB });
    swB.ports.push({ port: portB, name: portName(`to-${a}`), kind: 'link', linkId: id, peerSwitch: a, peerPort: portA });
    state.links.set(id, { id, a, b, gbps: link.gbps, latencyUs: link.latencyUs, up: true });
  }
  for (const ext of scenario.fabric.externals) {
    const sw = state.switches.get(ext.attach);
    if (!sw) throw new TopologyError(`buildClusterState: external ${ext.name} attaches to unknown switch ${ext.attach}`);
    sw.ports.push({ port: takeInfraPort(sw), name: portName(ext.name), kind: 'external', external: ext.name });
    state.externals.set(ext.name, { name: ext.name, ip: ext.ip, mac: macFromIp(ext.ip), attach: ext.attach });
  }
  for (const sw of state.switches.values()) sortPorts(sw);

  // fixed addresses of later events: kept free when something is allocated earlier
  const reserved = new Set<string>();
  for (const ev of scenario.events) {
    if (ev.kind === 'pod' && ev.action === 'add' && ev.ip) reserved.add(ev.ip);
    if (ev.kind === 'service' && ev.action === 'add' && ev.service.ip) reserved.add(ev.service.ip);
    if (ev.kind === 'service' && ev.action === 'add' && ev.service.loadBalancerIp) reserved.add(ev.service.loadBalancerIp);
  }
  if (reserved.size > 0) state.reservedAddresses = [...reserved];
  const nodePorts = new Set<number>();
  for (const svc of scenario.services) if (svc.nodePort !== undefined) nodePorts.add(svc.nodePort);
  for (const ev of scenario.events) if (ev.kind === 'service' && ev.action === 'add' && ev.service.nodePort !== undefined) nodePorts.add(ev.service.nodePort);
  if (nodePorts.size > 0) state.reservedNodePorts = [...nodePorts].sort((a, b) => a - b);

  for (const pod of scenario.pods) {
    const ip = plan.pods[pod.name];
    if (!ip) throw new TopologyError(`buildClusterState: the address plan has no IP for pod ${pod.name}`);
    addPod(state, {
      name: pod.name,
      node: pod.node,
      homeNode: pod.node,
      ip,
      mac: macFromIp(ip),
      labels: { ...pod.labels },
      hostPorts: pod.hostPorts.map((h) => ({ ...h })),
      ...(pod.egressGbps !== undefined ? { egressGbps: pod.egressGbps } : {}),
      ...(pod.ready === false ? { ready: false } : {}),
    });
  }
  const podsByLabel = indexPodsByLabel(state);
  for (const svc of scenario.services) {
    const vip = plan.services[svc.name];
    if (!vip) throw new TopologyError(`buildClusterState: the address plan has no VIP for service ${svc.name}`);
    state.services.set(svc.name, serviceState(state, svc, vip, podsByLabel));
  }
  // public-facing services: NodePorts and LoadBalancer VIPs, the given ones first, then allocated in file order
  for (const svc of scenario.services) {
    const st = state.services.get(svc.name)!;
    if (st.type === 'NodePort' || st.type === 'LoadBalancer') st.nodePort = svc.nodePort ?? allocateNodePort(state, svc.name);
    if (st.type === 'LoadBalancer') st.loadBalancerIp = svc.loadBalancerIp ?? allocateLoadBalancerIp(state, svc.name);
  }
  return state;
}

function sortPorts(sw: SwitchState): void {
  sw.ports.sort((x, y) => x.port - y.port);
}

/** pod names by "label\0value": a selector only looks at the pods carrying its rarest pair */
function indexPodsByLabel(state: ClusterState): Map<string, PodState[]> {
  const index = new Map<string, PodState[]>();
  for (const pod of state.pods.values()) {
    for (const [k, v] of Object.entries(pod.labels)) {
      const key = `${k}\u0000${v}`;
      const bucket = index.get(key);
      if (bucket) bucket.push(pod);
      else index.set(key, [pod]);
    }
  }
  return index;
}

function serviceState(state: ClusterState, svc: ServiceSpec, vip: string, podsByLabel?: Map<string, PodState[]>): ServiceState {
  return {
    name: svc.name,
    vip,
    port: svc.port,
    targetPort: svc.targetPort,
    protocol: svc.protocol,
    selector: { ...svc.selector },
    endpoints: endpointsOf(state, svc.selector, podsByLabel),
    ...(svc.type && svc.type !== 'ClusterIP' ? { type: svc.type, externalTrafficPolicy: svc.externalTrafficPolicy ?? 'Cluster' } : {}),
    // given ones are set here (so that allocation skips them); allocated ones by the caller
    ...(svc.nodePort !== undefined && svc.type && svc.type !== 'ClusterIP' ? { nodePort: svc.nodePort } : {}),
    ...(svc.loadBalancerIp !== undefined && svc.type === 'LoadBalancer' ? { loadBalancerIp: svc.loadBalancerIp } : {}),
    ...(svc.namespace !== undefined ? { namespace: svc.namespace } : {}),
  };
}

/** The NodePort range (Kubernetes' default). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/** The lowest free NodePort (ports given in the scenario's services and events are skipped). */
function allocateNodePort(state: ClusterState, svcName: string): number {
  const used = new Set<number>();
  for (const s of state.services.values()) if (s.nodePort !== undefined) used.add(s.nodePort);
  for (const p of state.reservedNodePorts ?? []) used.add(p);
  for (let p = NODE_PORT_RANGE.min; p <= NODE_PORT_RANGE.max; p++) if (!used.has(p)) return p;
  throw new IpamError(`the NodePort range ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max} is exhausted: no port left for service ${svcName}`, 'nodePort');
}

/** The lowest free address of cluster.loadBalancerCidr (network and broadcast left out). */
function allocateLoadBalancerIp(state: ClusterState, svcName: string): string {
  const cidr = state.cluster.loadBalancerCidr;
  if (!cidr) throw new TopologyError(`service ${svcName}: type LoadBalancer needs cluster.loadBalancerCidr (or the service's loadBalancerIp)`);
  const pool = parseCidr(cidr);
  const used = new Set<number>();
  for (const s of state.services.values()) if (s.loadBalancerIp) used.add(ipToInt(s.loadBalancerIp));
  for (const ip of state.reservedAddresses ?? []) used.add(ipToInt(ip));
  const first = pool.size >= 4 ? firstUsable(pool) : pool.network;
  const last = pool.size >= 4 ? cidrLast(pool) - 1 : cidrLast(pool);
  for (let n = first; n <= last; n++) if (!used.has(n)) return intToIp(n);
  throw new IpamError(`loadBalancerCidr ${cidr} is exhausted: no address left for service ${svcName}`, `loadBalancerCidr ${cidr}`);
}

/** Is this pod a service backend? Ready (the default) and on a node that is up. */
export function podIsReady(pod: PodState): boolean {
  return pod.ready !== false;
}

function endpointsOf(state: ClusterState, selector: Record<string, string>, podsByLabel?: Map<string, PodState[]>): string[] {
  let candidates: Iterable<PodState> = state.pods.values();
  if (podsByLabel) {
    let smallest: PodState[] | undefined;
    for (const [k, v] of Object.entries(selector)) {
      const bucket = podsByLabel.get(`${k}\u0000${v}`) ?? [];
      if (!smallest || bucket.length < smallest.length) smallest = bucket;
    }
    candidates = smallest ?? [];
  }
  const names: string[] = [];
  for (const pod of candidates) if (podIsReady(pod) && selectorMatches(selector, pod.labels)) names.push(pod.name);
  return names.sort(compareNames);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Adds the pod's port on its node switch (lowest free >= 100) and the pod itself. */
function addPod(state: ClusterState, pod: PodState): number {
  const sw = state.switches.get(pod.node);
  if (!sw || sw.role !== 'node') throw new TopologyError(`pod ${pod.name}: unknown node ${pod.node}`);
  const port = lowestFreePodPort(sw);
  sw.ports.push({ port, name: portName(pod.name), kind: 'pod', pod: pod.name });
  sortPorts(sw);
  state.pods.set(pod.name, pod);
  return port;
}

function lowestFreePodPort(sw: SwitchState): number {
  const used = new Set(sw.ports.map((p) => p.port));
  let port = FIRST_POD_PORT;
  while (used.has(port)) port++;
  return port;
}

function removePodPort(state: ClusterState, pod: PodState): number {
  const sw = state.switches.get(pod.node)!;
  const index = sw.ports.findIndex((p) => p.kind === 'pod' && p.pod === pod.name);
  const port = sw.ports[index].port;
  sw.ports.splice(index, 1);
  return port;
}

/**
 * Deep copy: applying events to the copy leaves the original untouched. A plain recursive copy of the
 * state's data (objects, arrays, Maps, Sets), about 5x faster than structuredClone on a large state
 * (30,000 pods: 25 ms instead of 120 ms), which every POST /events pays for its dry run. A state
 * holds no object twice (test/topology/cluster.test.ts checks every shipped scenario and random
 * clusters after random events), so there are no shared references to keep shared.
 */
export function cloneClusterState(state: ClusterState): ClusterState {
  return clonePlain(state) as ClusterState;
}

function clonePlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clonePlain(v[i]);
    return out;
  }
  if (v instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, x] of v) out.set(k, clonePlain(x));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set<unknown>();
    for (const x of v) out.add(clonePlain(x));
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  // anything else (none in a ClusterState today): structuredClone's own rules
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = clonePlain((v as Record<string, unknown>)[k]);
  return out;
}

/** The port of a pod on its current node switch, if the pod exists. */
export function podPort(state: ClusterState, pod: string): number | undefined {
  const p = state.pods.get(pod);
  if (!p) return undefined;
  const port = state.switches.get(p.node)?.ports.find((x) => x.kind === 'pod' && x.pod === pod);
  return port?.port;
}

/**
 * What applyEvent needs to stay O(change) on a large cluster: pod IPs in use, the lowest address of
 * each node block that may be free, and the services by selector pair. Built on first use and kept
 * up to date by applyEvent; rebuilt when the pod or service maps were replaced or changed size
 * behind applyEvent's back (state changes should go through applyEvent).
 */
interface EventIndex {
  pods: Map<string, PodState>;
  podCount: number;
  services: Map<string, ServiceState>;
  serviceCount: number;
  reserved: string[] | undefined;
  /** pod IPs (as unsigned ints) in use */
  podIps: Set<number>;
  reservedIps: Set<number>;
  /** per node: every address of its block below this one is taken */
  lowestFree: Map<string, number>;
  /** "label\0value" -> services whose selector has that pair */
  servicesByPair: Map<string, Set<string>>;
  /** service name -> position in state.services (changes are reported in that order) */
  serviceSeq: Map<string, number>;
  nextSeq: number;
}

const eventIndexes = new WeakMap<ClusterState, EventIndex>();

function eventIndex(state: ClusterState): EventIndex {
  const cur = eventIndexes.get(state);
  if (cur && cur.pods === state.pods && cur.podCount === state.pods.size && cur.services === state.services && cur.serviceCount === state.services.size && cur.reserved === state.reservedAddresses) {
    return cur;
  }
  const index: EventIndex = {
    pods: state.pods,
    podCount: state.pods.size,
    services: state.services,
    serviceCount: state.services.size,
    reserved: state.reservedAddresses,
    podIps: new Set(),
    reservedIps: new Set((state.reservedAddresses ?? []).map((ip) => ipToInt(ip) >>> 0)),
    lowestFree: new Map(),
    servicesByPair: new Map(),
    serviceSeq: new Map(),
    nextSeq: 0,
  };
  for (const p of state.pods.values()) index.podIps.add(ipToInt(p.ip) >>> 0);
  for (const svc of state.services.values()) indexService(index, svc);
  eventIndexes.set(state, index);
  return index;
}

function indexService(index: EventIndex, svc: ServiceState): void {
  index.serviceSeq.set(svc.name, index.nextSeq++);
  for (const [k, v] of Object.entries(svc.selector)) {
    const key = `${k}\u0000${v}`;
    let set = index.servicesByPair.get(key);
    if (!set) index.servicesByPair.set(key, (set = new Set()));
    set.add(svc.name);
  }
}

function unindexService(index: EventIndex, svc: ServiceState): void {
  index.serviceSeq.delete(svc.name);
  for (const [k, v] of Object.entries(svc.selector)) index.servicesByPair.get(`${k}\u0000${v}`)?.delete(svc.name);
}

/** Records that the state's maps were changed by applyEvent itself (so the index stays valid). */
function indexSynced(state: ClusterState, index: EventIndex): void {
  index.podCount = state.pods.size;
  index.serviceCount = state.services.size;
}

function releasePodIp(state: ClusterState, index: EventIndex, pod: PodState): void {
  const n = ipToInt(pod.ip) >>> 0;
  index.podIps.delete(n);
  const hint = index.lowestFree.get(pod.homeNode);
  if (hint !== undefined && n < hint) index.lowestFree.set(pod.homeNode, n);
}

/** The lowest free pod address of the node's block (as before), from a per-block cursor instead of a scan of all pods. */
function allocatePodIp(state: ClusterState, nodeName: string, podName: string): string {
  const index = eventIndex(state);
  const node = state.nodes.get(nodeName)!;
  const block = parseCidr(node.podCidr);
  const last = (block.size >= 4 ? cidrLast(block) - 1 : cidrLast(block)) >>> 0;
  const first = (firstUsable(block) + 1) >>> 0;
  let n = Math.max(first, index.lowestFree.get(nodeName) ?? first);
  while (n <= last && (index.podIps.has(n) || index.reservedIps.has(n))) n++;
  index.lowestFree.set(nodeName, n);
  if (n <= last) return intToIp(n);
  throw new IpamError(`node block ${node.podCidr} of ${nodeName} is exhausted: no address left for pod ${podName}`, `node block ${node.podCidr} of ${nodeName}`);
}

function allocateVip(state: ClusterState, svcName: string): string {
  const pool = parseCidr(state.cluster.serviceCidr);
  const used = new Set<number>();
  for (const s of state.services.values()) used.add(ipToInt(s.vip));
  for (const ip of state.reservedAddresses ?? []) used.add(ipToInt(ip));
  const last = pool.size >= 4 ? cidrLast(pool) - 1 : cidrLast(pool);
  for (let n = firstUsable(pool) + 1; n <= last; n++) if (!used.has(n)) return intToIp(n);
  throw new IpamError(`serviceCidr ${state.cluster.serviceCidr} is exhausted: no address left for service ${svcName}`, `serviceCidr ${state.cluster.serviceCidr}`);
}

function nameInUse(state: ClusterState, name: string): string | undefined {
  if (state.nodes.has(name)) return 'node';
  if (state.switches.has(name)) return 'switch';
  if (state.pods.has(name)) return 'pod';
  if (state.services.has(name)) return 'service';
  if (state.externals.has(name)) return 'external';
  return undefined;
}

/** Adds or removes one pod in the endpoints of every service that selects it; reports those services (in state.services order). */
function updateEndpoints(state: ClusterState, pod: PodState, present: boolean): ClusterChange[] {
  const index = eventIndex(state);
  const candidates = new Set<string>();
  for (const [k, v] of Object.entries(pod.labels)) for (const name of index.servicesByPair.get(`${k}\u0000${v}`) ?? []) candidates.add(name);
  const ordered = [...candidates].sort((a, b) => index.serviceSeq.get(a)! - index.serviceSeq.get(b)!);
  const changes: ClusterChange[] = [];
  for (const name of ordered) {
    const svc = state.services.get(name);
    if (!svc || !selectorMatches(svc.selector, pod.labels)) continue;
    const before = svc.endpoints;
    const at = lowerBound(before, pod.name);
    const has = at < before.length && before[at] === pod.name;
    if (has === present) continue;
    const after = present ? [...before.slice(0, at), pod.name, ...before.slice(at)] : [...before.slice(0, at), ...before.slice(at + 1)];
    svc.endpoints = after;
    changes.push({ kind: 'endpoints-changed', service: svc.name, before, after });
  }
  return changes;
}

/** First position in a sorted (compareNames) list whose name is not below `name`. */
function lowerBound(list: string[], name: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findLink(state: ClusterState, a: string, b: string) {
  return state.links.get(linkId(a, b)) ?? state.links.get(linkId(b, a));
}

/**
 * Applies one scenario event to the state (mutating it) and returns what changed, in this order:
 * the primary change, port changes, then endpoint changes. Returns [] when the event changes nothing
 * (a link set down twice). Throws TopologyError (or IpamError) when the event cannot apply.
 */
export function applyEvent(state: ClusterState, event: ScenarioEvent): ClusterChange[] {
  switch (event.kind) {
    case 'link': {
      const [a, b] = event.between;
      const link = findLink(state, a, b);
      if (!link) throw new TopologyError(`link ${event.action}: there is no link between ${a} and ${b}`);
      const up = event.action === 'up';
      if (link.up === up) return [];
      link.up = up;
      return [{ kind: 'link-state', link: link.id, up }];
    }
    case 'node': {
      const node = state.nodes.get(event.name);
      if (!node) throw new TopologyError(`node ${event.action}: unknown node ${event.name}`);
      const up = event.action === 'up';
      if (node.up === up) return [];
      node.up = up;
      state.switches.get(node.name)!.up = up;
      return [{ kind: 'node-state', node: node.name, up }];
    }
    case 'pod': {
      if (event.action === 'add') {
        const other = nameInUse(state, event.name);
        if (other) throw new TopologyError(`pod add: name ${event.name} is already used by a ${other}`);
        const node = state.nodes.get(event.node);
        if (!node) throw new TopologyError(`pod add ${event.name}: unknown node ${event.node}`);
        let ip: string;
        if (event.ip !== undefined) {
          const block = parseCidr(node.podCidr);
          const n = ipToInt(event.ip);
          if (n < block.network || n > cidrLast(block) || isReservedInBlock(block, n)) {
            throw new TopologyError(`pod add ${event.name}: ip ${event.ip} is not a pod address of node block ${node.podCidr} of ${node.name}`);
          }
          if (eventIndex(state).podIps.has(n >>> 0)) {
            const owner = [...state.pods.values()].find((p) => p.ip === event.ip);
            throw new TopologyError(`pod add ${event.name}: ip ${event.ip} is in use by pod ${owner?.name ?? '?'}`);
          }
          ip = event.ip;
        } else {
          ip = allocatePodIp(state, node.name, event.name);
        }
        const pod: PodState = {
          name: event.name,
          node: node.name,
          homeNode: node.name,
          ip,
          mac: macFromIp(ip),
          labels: { ...event.labels },
          hostPorts: [],
          ...(event.egressGbps !== undefined ? { egressGbps: event.egressGbps } : {}),
          ...(event.ready === false ? { ready: false } : {}),
        };
        const index = eventIndex(state);
        const port = addPod(state, pod);
        index.podIps.add(ipToInt(ip) >>> 0);
        indexSynced(state, index);
        return [{ kind: 'pod-added', pod: pod.name }, { kind: 'port-added', switch: node.name, port }, ...updateEndpoints(state, pod, podIsReady(pod))];
      }
      const pod = state.pods.get(event.name);
      if (!pod) throw new TopologyError(`pod ${event.action}: no pod ${event.name} exists at ${event.at}s`);
      if (event.action === 'ready' || event.action === 'unready') {
        const ready = event.action === 'ready';
        if (podIsReady(pod) === ready) return [];
        if (ready) delete pod.ready;
        else pod.ready = false;
        return [{ kind: 'pod-readiness', pod: pod.name, ready }, ...updateEndpoints(state, pod, ready)];
      }
      if (event.action === 'delete') {
        const index = eventIndex(state);
        const port = removePodPort(state, pod);
        state.pods.delete(pod.name);
        releasePodIp(state, index, pod);
        indexSynced(state, index);
        return [{ kind: 'pod-deleted', pod }, { kind: 'port-deleted', switch: pod.node, port }, ...updateEndpoints(state, pod, false)];
      }
      // move: the pod keeps its IP (and MAC); only its port and node change
      if (!state.nodes.has(event.to)) throw new TopologyError(`pod move ${pod.name}: unknown node ${event.to}`);
      if (event.to === pod.node) return [];
      const from = pod.node;
      const oldPort = removePodPort(state, pod);
      pod.node = event.to;
      const newPort = addPod(state, pod);
      return [
        { kind: 'pod-moved', pod: pod.name, from, to: event.to },
        { kind: 'port-deleted', switch: from, port: oldPort },
        { kind: 'port-added', switch: event.to, port: newPort },
      ];
    }
    case 'service': {
      if (event.action === 'add') {
        const svc = event.service;
        const other = nameInUse(state, svc.name);
        if (other) throw new TopologyError(`service add: name ${svc.name} is already used by a ${other}`);
        let vip: string;
        if (svc.ip !== undefined) {
          const pool = parseCidr(state.cluster.serviceCidr);
          const n = ipToInt(svc.ip);
          if (n < pool.network || n > cidrLast(pool) || isReservedInServicePool(pool, n)) {
            throw new TopologyError(`service add ${svc.name}: ip ${svc.ip} is not a service address of serviceCidr ${state.cluster.serviceCidr}`);
          }
          for (const s of state.services.values()) {
            if (s.vip === svc.ip) throw new TopologyError(`service add ${svc.name}: ip ${svc.ip} is in use by service ${s.name}`);
          }
          vip = svc.ip;
        } else {
          vip = allocateVip(state, svc.name);
        }
        const index = eventIndex(state);
        for (const s of state.services.values()) {
          if (svc.nodePort !== undefined && s.nodePort === svc.nodePort) throw new TopologyError(`service add ${svc.name}: nodePort ${svc.nodePort} is in use by service ${s.name}`);
          if (svc.loadBalancerIp !== undefined && s.loadBalancerIp === svc.loadBalancerIp) throw new TopologyError(`service add ${svc.name}: loadBalancerIp ${svc.loadBalancerIp} is in use by service ${s.name}`);
        }
        const added = serviceState(state, svc, vip);
        if (added.type === 'NodePort' || added.type === 'LoadBalancer') added.nodePort ??= allocateNodePort(state, svc.name);
        if (added.type === 'LoadBalancer') added.loadBalancerIp ??= allocateLoadBalancerIp(state, svc.name);
        state.services.set(svc.name, added);
        indexService(index, added);
        indexSynced(state, index);
        return [{ kind: 'service-added', service: svc.name }];
      }
      const svc = state.services.get(event.name);
      if (!svc) throw new TopologyError(`service delete: no service ${event.name} exists at ${event.at}s`);
      const index = eventIndex(state);
      state.services.delete(svc.name);
      unindexService(index, svc);
      indexSynced(state, index);
      return [{ kind: 'service-deleted', service: svc }];
    }
  }
}
