/**
 * Builders of the flows, groups and meters of one switch, by *part*: a part is everything one cause
 * puts on a switch (the switch's infrastructure, one local pod, the services, the routes, the
 * isolation policy, one moved pod). Parts are the unit of incremental compilation: a change
 * recomputes the parts it touches and keeps the others as they are.
 *
 * Every flow goes through the pipeline check (controller/pipeline.ts) when it is made.
 */
import type { Action, Flow, Group, Instructions, Match, Meter } from '../fabric/openflow/flow';
import { CT_STATE, OFPP } from '../fabric/openflow/flow';
import type { ClusterState, NodeState, PodState, ServiceState, SwitchState } from '../topology/types';
import { ipToInt, macFromIp, parseCidr } from '../topology/ip';
import { selectorMatches } from '../topology/cluster';
import { CategoryName, makeCookie } from './cookie';
import { HAIRPIN_IP, PIPELINE, REG, SOURCE, TABLE, TableName, checkFlow } from './pipeline';
import type { NextHop, RouteChoice } from './routing';
import { podMeter } from './meters';

export interface Part {
  flows: Flow[];
  groups: Group[];
  meters: Meter[];
}

export const EMPTY_PART: Part = Object.freeze({ flows: [], groups: [], meters: [] }) as unknown as Part;

/** Group id ranges (documented in docs/pipeline.md) */
export const SERVICE_GROUP_BASE = 0x1000_0000;
export const ROUTE_GROUP_BASE = 0x2000_0000;
export const GROUP_ID_SPAN = 0x0fff_ffff;

/** Route priorities: longest prefix first. */
export function routePriority(prefixLen: number): number {
  return 100 + prefixLen * 10;
}
export const PRIORITY = {
  localPod: routePriority(32) + 5,
  nodeIp: routePriority(32) + 5,
  ownBlockDrop: routePriority(24) + 5,
} as const;

const ETH_IP = 0x0800n;
const ETH_ARP = 0x0806n;
const ETH_IP_MATCH = { value: ETH_IP };
export const PROTO: Record<'tcp' | 'udp', bigint> = { tcp: 6n, udp: 17n };

const ipCache = new Map<string, bigint>();
/** A dotted quad (already validated by topology/) as a bigint; cached, the compiler asks often. */
export function ipValue(ip: string): bigint {
  let v = ipCache.get(ip);
  if (v === undefined) {
    v = BigInt(ipToInt(ip) >>> 0);
    if (ipCache.size > 1_000_000) ipCache.clear();
    ipCache.set(ip, v);
  }
  return v;
}

const macCache = new Map<string, bigint>();
export function macValue(mac: string): bigint {
  let v = macCache.get(mac);
  if (v === undefined) {
    v = BigInt('0x' + mac.replace(/:/g, ''));
    if (macCache.size > 1_000_000) macCache.clear();
    macCache.set(mac, v);
  }
  return v;
}

const cidrCache = new Map<string, { value: bigint; mask?: bigint }>();
export function cidrMatch(cidr: string): { value: bigint; mask?: bigint } {
  let m = cidrCache.get(cidr);
  if (!m) {
    m = computeCidrMatch(cidr);
    if (cidrCache.size > 1_000_000) cidrCache.clear();
    cidrCache.set(cidr, m);
  }
  return m;
}

function computeCidrMatch(cidr: string): { value: bigint; mask?: bigint } {
  const c = parseCidr(cidr);
  if (c.prefixLen === 32) return { value: BigInt(c.network >>> 0) };
  const mask = c.prefixLen === 0 ? 0n : ((1n << BigInt(c.prefixLen)) - 1n) << BigInt(32 - c.prefixLen);
  return { value: BigInt(c.network >>> 0), mask };
}

export class FlowFactory {
  private readonly cookies = new Map<CategoryName, bigint>();

  constructor(readonly generation: number) {}

  flow(table: TableName, priority: number, match: Match, instructions: Instructions, category: CategoryName): Flow {
    let cookie = this.cookies.get(category);
    if (cookie === undefined) this.cookies.set(category, (cookie = makeCookie(category, this.generation)));
    const flow: Flow = { table: TABLE[table], priority, match, instructions, cookie };
    checkFlow(flow);
    return flow;
  }
}

export const ctZone = { field: REG.ctZone.field, ofs: REG.ctZone.ofs, nBits: REG.ctZone.nBits };
export const setReg = (field: 'reg0' | 'reg1' | 'reg5', value: bigint): Action => ({ type: 'set_field', field, value });
export const ipMatch = (extra: Match = {}): Match => ({ eth_type: ETH_IP_MATCH, ...extra });
export const ctState = (on: number, off = 0): Match => ({ ct_state: { value: BigInt(on), mask: BigInt(on | off) } });
export const NEW_TRK = ctState(CT_STATE.new | CT_STATE.trk);
export const sourceIs = (src: bigint): Match => ({ reg0: { value: src, mask: REG.source.mask } });

/**
 * A port range as the fewest value/mask matches that cover exactly [lo, hi] (aligned power-of-two
 * blocks, as OVS's own range expansion does): 8000-8100 is 4 matches. One port: one exact match.
 */
export function portMatches(lo: number, hi: number = lo): { value: bigint; mask?: bigint }[] {
  const out: { value: bigint; mask?: bigint }[] = [];
  let p = lo;
  while (p <= hi) {
    let size = 1;
    while ((p & (size * 2 - 1)) === 0 && p + size * 2 - 1 <= hi && size * 2 <= 0x10000) size *= 2;
    out.push(size === 1 ? { value: BigInt(p) } : { value: BigInt(p), mask: BigInt(0xffff & ~(size - 1)) });
    p += size;
  }
  return out;
}

/** `match` once per port block of [port, portEnd] (no port: `match` as it is). */
export function withPorts(match: Match, protocol: 'tcp' | 'udp' | undefined, port: number | undefined, portEnd?: number): Match[] {
  if (!protocol) return [match];
  const m: Match = { ...match, ip_proto: { value: PROTO[protocol] } };
  if (port === undefined) return [m];
  const field = protocol === 'tcp' ? 'tcp_dst' : 'udp_dst';
  return portMatches(port, portEnd ?? port).map((pm) => ({ ...m, [field]: pm }));
}

function proxyArp(routerMac: string): Action[] {
  const scratch = { field: REG.scratch.field };
  return [
    { type: 'move', src: { field: 'eth_src' }, dst: { field: 'eth_dst' } },
    { type: 'set_field', field: 'eth_src', value: macValue(routerMac) },
    { type: 'set_field', field: 'arp_op', value: 2n },
    { type: 'move', src: { field: 'arp_sha' }, dst: { field: 'arp_tha' } },
    { type: 'set_field', field: 'arp_sha', value: macValue(routerMac) },
    { type: 'move', src: { field: 'arp_tpa' }, dst: scratch },
    { type: 'move', src: { field: 'arp_spa' }, dst: { field: 'arp_tpa' } },
    { type: 'move', src: scratch, dst: { field: 'arp_spa' } },
    { type: 'output', port: OFPP.IN_PORT },
  ];
}

const DEC_TTL: Action = { type: 'dec_ttl' };
const setEthSrc = new Map<string, Action>();
/** dec_ttl + router MAC, then either reg1 (one port) or a group. Shared sub-objects: plans are read-only. */
function routeActions(routerMac: string, last: Action[]): Action[] {
  let src = setEthSrc.get(routerMac);
  if (!src) {
    src = { type: 'set_field', field: 'eth_src', value: macValue(routerMac) };
    if (setEthSrc.size > 100_000) setEthSrc.clear();
    setEthSrc.set(routerMac, src);
  }
  return [DEC_TTL, src, ...last];
}

function toPort(port: number, mac: string): Action[] {
  return [{ type: 'set_field', field: 'eth_dst', value: macValue(mac) }, setReg('reg1', BigInt(port >>> 0))];
}

/** Table-miss flows of the tables this role carries. */
export function missFlows(f: FlowFactory, role: SwitchState['role']): Flow[] {
  const out: Flow[] = [];
  for (const spec of PIPELINE) {
    if (!spec.roles.includes(role)) continue;
    out.push(f.flow(spec.name, 0, {}, spec.miss === 'drop' ? {} : { gotoTable: TABLE[spec.miss] }, 'base'));
  }
  return out;
}

/** Infrastructure of a node switch: ports other than pods, ARP, conntrack, SNAT, own block, host. */
export function nodeBasePart(f: FlowFactory, state: ClusterState, sw: SwitchState, node: NodeState): Part {
  const flows: Flow[] = missFlows(f, 'node');
  const zone = setReg('reg5', BigInt(node.ctZone));
  const nodeIp = ipValue(node.ip);
  for (const p of sw.ports) {
    if (p.kind === 'link' || p.kind === 'external') {
      flows.push(
        f.flow('classifier', 100, ipMatch({ in_port: { value: BigInt(p.port) }, eth_dst: { value: macValue(sw.routerMac) } }), { apply: [setReg('reg0', SOURCE.fabric), zone], gotoTable: TABLE.conntrack }, 'base'),
      );
      if (p.kind === 'external') {
        flows.push(f.flow('classifier', 100, { in_port: { value: BigInt(p.port) }, eth_type: { value: ETH_ARP } }, { apply: [setReg('reg0', SOURCE.fabric)], gotoTable: TABLE.arp_responder }, 'base'));
      }
    } else if (p.kind === 'tunnel') {
      flows.push(f.flow('classifier', 100, ipMatch({ in_port: { value: BigInt(p.port) } }), { apply: [setReg('reg0', SOURCE.tunnel), zone], gotoTable: TABLE.conntrack }, 'base'));
    }
    if (p.kind !== 'pod') flows.push(f.flow('l2_output', 100, { reg1: { value: BigInt(p.port) } }, { apply: [{ type: 'output', port: p.port }] }, 'base'));
  }
  const local = BigInt(OFPP.LOCAL);
  flows.push(
    f.flow('classifier', 100, ipMatch({ in_port: { value: local } }), { apply: [setReg('reg0', SOURCE.host), zone], gotoTable: TABLE.conntrack }, 'base'),
    f.flow('classifier', 100, { in_port: { value: local }, eth_type: { value: ETH_ARP } }, { apply: [setReg('reg0', SOURCE.host)], gotoTable: TABLE.arp_responder }, 'base'),
    f.flow('arp_responder', 100, { eth_type: { value: ETH_ARP }, arp_op: { value: 1n } }, { apply: proxyArp(sw.routerMac) }, 'base'),
    f.flow('conntrack', 100, ipMatch(), { apply: [{ type: 'ct', zone: ctZone, nat: {}, table: TABLE.service_lb }] }, 'base'),
    f.flow('service_lb', 300, ctState(CT_STATE.inv | CT_STATE.trk), {}, 'base'),
    f.flow('service_lb', 200, ctState(CT_STATE.trk, CT_STATE.new), { gotoTable: TABLE.l3_forwarding }, 'base'),
    f.flow('service_lb', 50, ipMatch({ ipv4_dst: cidrMatch(state.cluster.serviceCidr) }), {}, 'base'),
    // Every new connection that stays inside the cluster is committed here, at both of its ends:
    // without an entry, conntrack marks the reply +inv (a SYN-ACK or an echo reply cannot create a
    // connection) and table service_lb drops it. A second commit of a connection already committed
    // (service DNAT, isolation allow) finds the same entry and changes nothing.
    f.flow('snat', 250, { ...NEW_TRK, ...ipMatch({ ipv4_dst: cidrMatch(state.cluster.podCidr) }) }, { apply: [{ type: 'ct', commit: true, zone: ctZone, table: TABLE.l3_forwarding }] }, 'base'),
    f.flow('snat', 250, { ...NEW_TRK, ...ipMatch({ ipv4_dst: { value: nodeIp } }) }, { apply: [{ type: 'ct', commit: true, zone: ctZone, table: TABLE.l3_forwarding }] }, 'base'),
    f.flow('snat', 200, ipMatch({ ipv4_dst: cidrMatch(state.cluster.podCidr) }), { gotoTable: TABLE.l3_forwarding }, 'base'),
    f.flow('snat', 200, ipMatch({ ipv4_dst: { value: nodeIp } }), { gotoTable: TABLE.l3_forwarding }, 'base'),
    // new connections from the fabric or the host to anything else (e.g. hostPort DNAT'ed ones)
    f.flow('snat', 1, { ...NEW_TRK, ...ipMatch() }, { apply: [{ type: 'ct', commit: true, zone: ctZone, table: TABLE.l3_forwarding }] }, 'base'),
    f.flow(
      'snat',
      100,
      { ...NEW_TRK, ...ipMatch(), ...sourceIs(SOURCE.pod) },
      { apply: [{ type: 'ct', commit: true, zone: ctZone, nat: { kind: 'src', ipMin: node.ip }, table: TABLE.l3_forwarding }] },
      'base',
    ),
    f.flow('l3_forwarding', PRIORITY.nodeIp, ipMatch({ ipv4_dst: { value: nodeIp } }), { apply: routeActions(sw.routerMac, toPort(OFPP.LOCAL, macFromIp(node.ip))), gotoTable: TABLE.l2_output }, 'base'),
    f.flow('l3_forwarding', PRIORITY.ownBlockDrop, ipMatch({ ipv4_dst: cidrMatch(node.podCidr) }), {}, 'base'),
    f.flow('l2_output', 100, { reg1: { value: local } }, { apply: [{ type: 'output', port: OFPP.LOCAL }] }, 'base'),
  );
  flows.push(...localExternalRoutes(f, state, sw));
  return { flows, groups: [], meters: [] };
}

/** /32 routes to externals attached to this switch. */
function localExternalRoutes(f: FlowFactory, state: ClusterState, sw: SwitchState): Flow[] {
  const flows: Flow[] = [];
  for (const p of sw.ports) {
    if (p.kind !== 'external') continue;
    const ext = state.externals.get(p.external);
    if (!ext) continue;
    flows.push(f.flow('l3_forwarding', routePriority(32), ipMatch({ ipv4_dst: { value: ipValue(ext.ip) } }), { apply: routeActions(sw.routerMac, toPort(p.port, ext.mac)), gotoTable: TABLE.l2_output }, 'route'));
  }
  return flows;
}

/** Infrastructure of a fabric switch. */
export function fabricBasePart(f: FlowFactory, state: ClusterState, sw: SwitchState): Part {
  const flows: Flow[] = missFlows(f, 'fabric');
  for (const p of sw.ports) {
    if (p.kind !== 'link' && p.kind !== 'external') continue;
    const port = BigInt(p.port);
    flows.push(f.flow('classifier', 100, ipMatch({ in_port: { value: port }, eth_dst: { value: macValue(sw.routerMac) } }), { gotoTable: TABLE.l3_forwarding }, 'base'));
    if (p.kind === 'external') flows.push(f.flow('classifier', 100, { in_port: { value: port }, eth_type: { value: ETH_ARP } }, { gotoTable: TABLE.arp_responder }, 'base'));
    flows.push(f.flow('l2_output', 100, { reg1: { value: port } }, { apply: [{ type: 'output', port: p.port }] }, 'base'));
  }
  flows.push(f.flow('arp_responder', 100, { eth_type: { value: ETH_ARP }, arp_op: { value: 1n } }, { apply: proxyArp(sw.routerMac) }, 'base'));
  flows.push(...localExternalRoutes(f, state, sw));
  return { flows, groups: [], meters: [] };
}

/** Meter of a pod with an egress limit: the one meter rule, in meters.ts (kbps, burst = rate / 5). */
export { podMeter };

const HAIRPIN = ipValue(HAIRPIN_IP);
export const HAIRPIN_PRIORITY = { forward: 120, reply: 110, allow: 210 } as const;

/**
 * Hairpin of one local pod (docs/pipeline.md "Hairpin"): the pod reaches itself through a service
 * whose select group picked it. Stateless rewrites around conntrack, so conntrack keeps the
 * pod -> VIP tuple and its DNAT:
 * - l2_output: a packet the pod sent to itself (after DNAT) leaves through IN_PORT with the hairpin
 *   address as source (Linux drops a packet from its own address); any other packet whose output
 *   port is its ingress port (the un-DNATed reply, from VIP:port) leaves through IN_PORT too, since
 *   OpenFlow skips a plain output to the ingress port;
 * - spoof_guard: the pod's answer to the hairpin address gets the pod's own IP as destination, before
 *   conntrack, which then sees the expected reply (POD:targetPort -> POD:sport) and un-DNATs it;
 * - policy, under isolation: the pod's new connection to itself is admitted (it is the same pod; a
 *   packet from a pod to its own IP reaches the switch only through a service).
 */
function hairpinFlows(f: FlowFactory, pod: PodState, port: number, isolation: boolean): Flow[] {
  const p = BigInt(port);
  const ip = ipValue(pod.ip);
  const inIp = { value: ip };
  const flows = [
    f.flow(
      'spoof_guard',
      HAIRPIN_PRIORITY.reply,
      ipMatch({ in_port: { value: p }, eth_src: { value: macValue(pod.mac) }, ipv4_src: inIp, ipv4_dst: { value: HAIRPIN } }),
      { apply: [{ type: 'set_field', field: 'ipv4_dst', value: ip }], gotoTable: TABLE.metering },
      'pod',
    ),
    f.flow(
      'l2_output',
      HAIRPIN_PRIORITY.forward,
      ipMatch({ reg1: { value: p }, in_port: { value: p }, ipv4_src: inIp, ipv4_dst: inIp }),
      { apply: [{ type: 'set_field', field: 'ipv4_src', value: HAIRPIN }, { type: 'output', port: OFPP.IN_PORT }] },
      'pod',
    ),
    f.flow('l2_output', HAIRPIN_PRIORITY.reply, { reg1: { value: p }, in_port: { value: p } }, { apply: [{ type: 'output', port: OFPP.IN_PORT }] }, 'pod'),
  ];
  if (isolation) {
    flows.push(f.flow('policy', HAIRPIN_PRIORITY.allow, { ...NEW_TRK, ...ipMatch({ ipv4_src: inIp, ipv4_dst: inIp }), ...sourceIs(SOURCE.pod) }, ALLOW, 'pod'));
  }
  return flows;
}

/**
 * Everything one local pod puts on its node switch. The meter id is the pod's port number. A limit of
 * the rebalancer (`limitGbps`, from ClusterState.steering.limits) replaces the pod's own meter rate
 * with min(egressGbps, limit): one meter per pod, in the same id range, so the reconciler's ownership
 * range and the metering flow stay as they are (docs/pipeline.md "Steering").
 */
export function podPart(f: FlowFactory, sw: SwitchState, node: NodeState, pod: PodState, port: number, limitGbps?: number, isolation = false): Part {
  const p = BigInt(port);
  const mac = macValue(pod.mac);
  const ip = ipValue(pod.ip);
  const flows: Flow[] = [
    f.flow('classifier', 100, { in_port: { value: p } }, { apply: [setReg('reg0', SOURCE.pod), setReg('reg5', BigInt(node.ctZone))], gotoTable: TABLE.spoof_guard }, 'pod'),
    f.flow('spoof_guard', 100, ipMatch({ in_port: { value: p }, eth_src: { value: mac }, ipv4_src: { value: ip } }), { gotoTable: TABLE.metering }, 'pod'),
    ...hairpinFlows(f, pod, port, isolation),
    f.flow(
      'spoof_guard',
      100,
      { in_port: { value: p }, eth_type: { value: ETH_ARP }, eth_src: { value: mac }, arp_spa: { value: ip }, arp_sha: { value: mac } },
      { gotoTable: TABLE.arp_responder },
      'pod',
    ),
    f.flow('l3_forwarding', PRIORITY.localPod, ipMatch({ ipv4_dst: { value: ip } }), { apply: routeActions(sw.routerMac, toPort(port, pod.mac)), gotoTable: TABLE.l2_output }, 'pod'),
    f.flow('l2_output', 100, { reg1: { value: p } }, { apply: [{ type: 'output', port }] }, 'pod'),
  ];
  const meters: Meter[] = [];
  const rates = [pod.egressGbps, limitGbps].filter((r): r is number => r !== undefined && Number.isFinite(r) && r > 0);
  if (rates.length > 0) {
    meters.push(podMeter(port, Math.min(...rates)));
    flows.push(f.flow('metering', 100, { in_port: { value: p } }, { meter: port, gotoTable: TABLE.conntrack }, 'pod'));
  }
  for (const hp of pod.hostPorts) {
    const proto = PROTO[hp.protocol];
    const dstField = hp.protocol === 'tcp' ? 'tcp_dst' : 'udp_dst';
    flows.push(
      f.flow(
        'endpoint_dnat',
        100,
        { ...NEW_TRK, eth_type: { value: ETH_IP }, ip_proto: { value: proto }, ipv4_dst: { value: ipValue(node.ip) }, [dstField]: { value: BigInt(hp.hostPort) } },
        { apply: [{ type: 'ct', commit: true, zone: ctZone, nat: { kind: 'dst', ipMin: pod.ip, portMin: hp.containerPort }, table: TABLE.policy }] },
        'pod',
      ),
    );
  }
  return { flows, groups: [], meters };
}

export function serviceGroupId(state: ClusterState, svc: ServiceState): number {
  const pool = parseCidr(state.cluster.serviceCidr);
  const offset = ((ipToInt(svc.vip) >>> 0) - (pool.network >>> 0)) & GROUP_ID_SPAN;
  return SERVICE_GROUP_BASE + offset;
}

/**
 * One service on every node switch: the VIP:port flow and its select group. Identical on every node
 * (the zone comes from reg5), so the compiler builds it once and shares it. Endpoints on down nodes
 * are left out.
 */
export function servicePart(f: FlowFactory, state: ClusterState, svc: ServiceState): Part {
  const proto = PROTO[svc.protocol];
  const dstField = svc.protocol === 'tcp' ? 'tcp_dst' : 'udp_dst';
  const match: Match = { ...NEW_TRK, eth_type: { value: ETH_IP }, ip_proto: { value: proto }, ipv4_dst: { value: ipValue(svc.vip) }, [dstField]: { value: BigInt(svc.port) } };
  const backends = svc.endpoints
    .map((name) => state.pods.get(name))
    .filter((p): p is PodState => p !== undefined && state.nodes.get(p.node)?.up !== false);
  if (backends.length === 0) return { flows: [f.flow('service_lb', 100, match, {}, 'service')], groups: [], meters: [] };
  const groupId = serviceGroupId(state, svc);
  const weights = state.steering?.weights?.[svc.name];
  const group: Group = {
    groupId,
    type: 'select',
    buckets: backends.map((pod) => ({
      ...(weights ? { weight: bucketWeight(weights[pod.name]) } : {}),
      actions: [{ type: 'ct', commit: true, zone: ctZone, nat: { kind: 'dst', ipMin: pod.ip, portMin: svc.targetPort }, table: TABLE.policy }],
    })),
  };
  const flow = f.flow('service_lb', 100, match, { apply: [{ type: 'group', groupId }] }, 'service');
  checkFlow(flow, new Map([[groupId, group]]));
  return { flows: [flow], groups: [group], meters: [] };
}

/** A select-bucket weight (OpenFlow: 16 bits); an absent or invalid weight is 1. */
export function bucketWeight(w: number | undefined): number {
  if (w === undefined || !Number.isFinite(w)) return 1;
  return Math.min(0xffff, Math.max(0, Math.round(w)));
}

/** Rebalancer limit of one pod (ClusterState.steering.limits), if any. */
export function podLimitGbps(state: ClusterState, pod: string): number | undefined {
  const l = state.steering?.limits?.[pod];
  return l !== undefined && Number.isFinite(l) && l > 0 ? l : undefined;
}

/** Pins beat every route (the longest is a /32 at routePriority(32) + 5). */
export const PIN_PRIORITY = routePriority(32) + 50;

/**
 * Pinned demands (ClusterState.steering.pins) on one switch: at each hop on this switch, a flow in
 * l3_forwarding matching source, destination (and protocol/port) that sends straight to the next hop
 * through the lowest-numbered up link towards it. A hop whose link is down (or whose next hop is not
 * a switch) is left out: the packet then follows the ordinary routes. Pins are taken in id order; a
 * second pin with the same match on the same switch is ignored.
 */
export function pinPart(f: FlowFactory, state: ClusterState, sw: SwitchState, upLinks: { port: number; peerSwitch: string }[]): Part {
  const pins = state.steering?.pins;
  if (!pins || pins.length === 0) return EMPTY_PART;
  const flows: Flow[] = [];
  const seen = new Set<string>();
  const sorted = [...pins].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const pin of sorted) {
    for (const hop of pin.hops) {
      if (hop.switch !== sw.name) continue;
      const next = state.switches.get(hop.nextHop);
      if (!next) continue;
      const link = upLinks.filter((l) => l.peerSwitch === hop.nextHop).sort((a, b) => a.port - b.port)[0];
      if (!link) continue;
      const protocol = pin.dstPort !== undefined ? (pin.protocol ?? 'tcp') : pin.protocol;
      const match: Match = ipMatch({ ipv4_src: { value: ipValue(pin.srcIp) }, ipv4_dst: { value: ipValue(pin.dstIp) } });
      if (protocol) match.ip_proto = { value: PROTO[protocol] };
      if (pin.dstPort !== undefined && protocol) match[protocol === 'tcp' ? 'tcp_dst' : 'udp_dst'] = { value: BigInt(pin.dstPort) };
      const key = `${pin.srcIp}>${pin.dstIp}/${protocol ?? ''}/${pin.dstPort ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      flows.push(f.flow('l3_forwarding', PIN_PRIORITY, match, { apply: routeActions(sw.routerMac, toPort(link.port, next.routerMac)), gotoTable: TABLE.l2_output }, 'pin'));
    }
  }
  return flows.length ? { flows, groups: [], meters: [] } : EMPTY_PART;
}

/** One allow rule resolved against the pods: who matches each side, and by node. */
interface ResolvedRule {
  /** the rule's reg3 bit (rules after the 32nd have none and are matched per pair) */
  bit: bigint | undefined;
  from: PodState[];
  to: PodState[];
  fromByNode: Map<string, PodState[]>;
  toByNode: Map<string, PodState[]>;
  protocol: 'tcp' | 'udp' | undefined;
  port: number | undefined;
  portEnd: number | undefined;
}

/** The allow rules resolved once per compile (selectors matched against every pod), shared by every node switch's policy. */
export interface PolicyIndex {
  rules: ResolvedRule[];
  /** source pod IP -> the reg3 bits of the rules that admit it as a source */
  sourceBits: Map<string, bigint>;
}

/** Allow rules with a reg3 bit; later ones fall back to one flow per (source, destination) pair. */
export const POLICY_RULE_BITS = 32;

function byNode(pods: PodState[]): Map<string, PodState[]> {
  const out = new Map<string, PodState[]>();
  for (const p of pods) {
    let l = out.get(p.node);
    if (!l) out.set(p.node, (l = []));
    l.push(p);
  }
  return out;
}

export function policyIndex(state: ClusterState): PolicyIndex {
  const sourceBits = new Map<string, bigint>();
  if (!state.cluster.isolation) return { rules: [], sourceBits };
  const pods = [...state.pods.values()];
  // rules that name outside hosts are compiled at the edge (controller/edge.ts); their reg3 bit stays unused
  const rules = state.cluster.allow.flatMap((rule, i): ResolvedRule[] => {
    if (rule.fromPeer || rule.toPeer) return [];
    const from = pods.filter((p) => selectorMatches(rule.from, p.labels));
    const to = pods.filter((p) => selectorMatches(rule.to, p.labels));
    const bit = i < POLICY_RULE_BITS ? 1n << BigInt(i) : undefined;
    if (bit !== undefined) for (const p of from) sourceBits.set(p.ip, (sourceBits.get(p.ip) ?? 0n) | bit);
    return [{ bit, from, to, fromByNode: byNode(from), toByNode: byNode(to), protocol: rule.port !== undefined ? (rule.protocol ?? 'tcp') : rule.protocol, port: rule.port, portEnd: rule.portEnd }];
  });
  return { rules, sourceBits };
}

function allowMatches(dstIp: string, rule: { protocol: 'tcp' | 'udp' | undefined; port: number | undefined; portEnd: number | undefined }, extra: Match): Match[] {
  const match: Match = { ...NEW_TRK, eth_type: { value: ETH_IP }, ...extra, ipv4_dst: { value: ipValue(dstIp) } };
  return withPorts(match, rule.protocol, rule.port, rule.portEnd);
}

const ALLOW: Instructions = { apply: [{ type: 'ct', commit: true, zone: ctZone }], gotoTable: TABLE.snat };

/**
 * Isolation flows that are the same on every node switch (built once per compile and shared, like
 * the services): in conntrack, each admitted source pod loads its rule bits into reg3 by its source
 * IP; in policy, for each rule with a bit and each destination pod it admits, a new connection from
 * a local pod (reg0.source = pod: spoof_guard has checked its source IP) with that bit is admitted.
 * |sources| + sum of |to| flows: linear in the pods the rules select.
 */
export function sharedPolicyPart(f: FlowFactory, state: ClusterState, index: PolicyIndex): Part {
  if (!state.cluster.isolation) return EMPTY_PART;
  const flows: Flow[] = [];
  for (const [ip, bits] of index.sourceBits) {
    flows.push(
      f.flow(
        'conntrack',
        110,
        ipMatch({ ipv4_src: { value: ipValue(ip) } }),
        { apply: [{ type: 'set_field', field: REG.policyRules.field, value: bits }, { type: 'ct', zone: ctZone, nat: {}, table: TABLE.service_lb }] },
        'policy',
      ),
    );
  }
  const fromLocalPod = sourceIs(SOURCE.pod);
  const seen = new Set<string>();
  for (const rule of index.rules) {
    if (rule.bit === undefined) continue;
    const bit: Match = { reg3: { value: rule.bit, mask: rule.bit } };
    for (const b of rule.to) {
      const key = `${rule.bit}>${b.ip}/${rule.protocol ?? ''}/${rule.port ?? ''}-${rule.portEnd ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const m of allowMatches(b.ip, rule, { ...bit, ...fromLocalPod })) flows.push(f.flow('policy', 200, m, ALLOW, 'policy'));
    }
  }
  return flows.length ? { flows, groups: [], meters: [] } : EMPTY_PART;
}

/**
 * Isolation on one node switch: drop new pod-to-pod connections unless an allow rule admits them.
 * A connection is admitted on the source's node and on the destination's node. With the shared part
 * (sharedPolicyPart) this part holds the default drop and, per rule with a bit, one flow per
 * destination pod on this node that admits any source with the bit (|to here| flows). Rules beyond
 * POLICY_RULE_BITS keep one flow per (source, destination) pair with an end on this node
 * (|from here| x |to| + |from| x |to here|); only those pairs are visited.
 */
export function policyPart(f: FlowFactory, state: ClusterState, nodeName: string, index: PolicyIndex = policyIndex(state)): Part {
  if (!state.cluster.isolation) return EMPTY_PART;
  const pod = cidrMatch(state.cluster.podCidr);
  const flows: Flow[] = [f.flow('policy', 100, { ...NEW_TRK, ...ipMatch({ ipv4_src: pod, ipv4_dst: pod }) }, {}, 'policy')];
  const seen = new Set<string>();
  for (const rule of index.rules) {
    const { protocol, port, portEnd } = rule;
    if (rule.bit !== undefined) {
      const bit: Match = { reg3: { value: rule.bit, mask: rule.bit } };
      for (const b of rule.toByNode.get(nodeName) ?? []) {
        const key = `${rule.bit}>${b.ip}/${protocol ?? ''}/${port ?? ''}-${portEnd ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        for (const m of allowMatches(b.ip, rule, bit)) flows.push(f.flow('policy', 200, m, ALLOW, 'policy'));
      }
      continue;
    }
    const allow = (a: PodState, b: PodState) => {
      const key = `${a.ip}>${b.ip}/${protocol ?? ''}/${port ?? ''}-${portEnd ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      for (const m of allowMatches(b.ip, rule, { ipv4_src: { value: ipValue(a.ip) } })) flows.push(f.flow('policy', 200, m, ALLOW, 'policy'));
    };
    for (const a of rule.fromByNode.get(nodeName) ?? []) for (const b of rule.to) allow(a, b);
    for (const b of rule.toByNode.get(nodeName) ?? []) for (const a of rule.from) if (a.node !== nodeName) allow(a, b);
  }
  return { flows, groups: [], meters: [] };
}

// ---- routes ---------------------------------------------------------------------------------------

/** A route on one switch: a prefix and where it goes. */
export interface RouteEntry {
  cidr: string;
  prefixLen: number;
  /** 'group': via the next-hop group; 'port': direct on one port; 'tunnel': overlay encapsulation */
  via:
    | { kind: 'group'; groupId: number }
    | { kind: 'port'; hop: NextHop }
    | { kind: 'tunnel'; port: number; remoteIp: string; remoteMac: string };
  category: CategoryName;
}

export function routeFlow(f: FlowFactory, sw: SwitchState, r: RouteEntry): Flow {
  const match = ipMatch({ ipv4_dst: cidrMatch(r.cidr) });
  const prio = r.prefixLen === 0 ? routePriority(0) : routePriority(r.prefixLen);
  const m: Match = r.prefixLen === 0 ? ipMatch() : match;
  switch (r.via.kind) {
    case 'group':
      return f.flow('l3_forwarding', prio, m, { apply: routeActions(sw.routerMac, [{ type: 'group', groupId: r.via.groupId }]) }, r.category);
    case 'port':
      return f.flow('l3_forwarding', prio, m, { apply: routeActions(sw.routerMac, toPort(r.via.hop.port, r.via.hop.mac)), gotoTable: TABLE.l2_output }, r.category);
    case 'tunnel':
      return f.flow(
        'l3_forwarding',
        prio,
        m,
        {
          apply: routeActions(sw.routerMac, [
            { type: 'set_field', field: 'eth_dst', value: macValue(r.via.remoteMac) },
            { type: 'set_field', field: 'tun_ipv4_dst', value: ipValue(r.via.remoteIp) },
            setReg('reg1', BigInt(r.via.port)),
          ]),
          gotoTable: TABLE.l2_output,
        },
        r.category,
      );
  }
}

/** The next-hop group of a route choice: select (ECMP), fast-failover (primary, backup) or indirect. */
export function routeGroup(groupId: number, choice: RouteChoice): Group {
  return {
    groupId,
    type: choice.kind,
    // OVS refuses watch_port in indirect groups; select groups use it for bucket liveness
    buckets: choice.hops.map((h) => ({
      ...(choice.kind === 'indirect' || choice.noLiveness ? {} : { watchPort: h.port }),
      actions: [
        { type: 'set_field', field: 'eth_dst', value: macValue(h.mac) },
        { type: 'output', port: h.port },
      ],
    })),
  };
}
