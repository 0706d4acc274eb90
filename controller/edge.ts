/**
 * The cluster's edge (docs/pipeline.md "The edge"): what outside hosts may reach, and the public
 * doors of services. One part per switch ('edge'), rebuilt whenever pods, services, readiness or
 * node liveness change (it is small: it exists only where the scenario has externals, public
 * services or closed egress).
 *
 * - Closed by default: a packet entering from an external port addressed to the pod range is dropped
 *   in the classifier, unless `cluster.externalAccess` is true or an allow rule names that source
 *   (an external, or a CIDR) with the destination pod (and its protocol and ports). Stateless and
 *   exact: pod traffic to the outside leaves SNAT'ed to the node IP, so no legitimate reply is
 *   addressed to a pod IP.
 * - NodePort (node switches): a new connection to NODE_IP:nodePort goes to a select group.
 *   externalTrafficPolicy Cluster: the group (shared by every node, in the service's part) DNATs to
 *   any ready backend and marks the connection (ct_mark); marked connections are then SNAT'ed to the
 *   node IP in the node's second conntrack zone (snatZone), so that the reply comes back through this
 *   node; replies are un-SNAT'ed in that zone before the usual conntrack (in the classifier for
 *   packets from the fabric, in spoof_guard for a local backend's). Local: a per-node group of the
 *   local ready backends, no SNAT (the client IP is kept); a node without one drops.
 * - LoadBalancer (fabric switches where externals attach): a connection from an external port to
 *   LB_VIP:port goes to a select group over the node IPs (Local: the nodes with a ready local
 *   backend) that DNATs to NODE_IP:nodePort in the edge conntrack zone; the node then handles it as a
 *   NodePort. Replies from NODE_IP:nodePort are un-DNATed in the same zone on their way out.
 * - Closed egress (`cluster.egress: closed`): a new connection from a local pod to anything but pods
 *   and node IPs is dropped in policy unless an allow rule names that destination.
 */
import type { Action, FieldRef, Flow, Group, Match } from '../fabric/openflow/flow';
import type { ClusterState, ExternalPeer, L4Protocol, NodeState, PodState, ServiceState, SwitchState } from '../topology/types';
import { CT_STATE } from '../fabric/openflow/flow';
import { EMPTY_PART, FlowFactory, Part, cidrMatch, ctState, ctZone, ipMatch, ipValue, macValue, NEW_TRK, PROTO, setReg, sourceIs, withPorts } from './flows';
import { SOURCE, TABLE } from './pipeline';
import { selectorMatches } from '../topology/cluster';

/** Group ids of the edge (docs/pipeline.md): NodePort and LoadBalancer groups, keyed by the nodePort. */
export const EDGE_GROUP_BASE = 0x3000_0000;
export const NODEPORT_CLUSTER_GROUP = (nodePort: number): number => EDGE_GROUP_BASE + nodePort;
export const NODEPORT_LOCAL_GROUP = (nodePort: number): number => EDGE_GROUP_BASE + 0x1_0000 + nodePort;
export const LOADBALANCER_GROUP = (nodePort: number): number => EDGE_GROUP_BASE + 0x2_0000 + nodePort;

/** ct_mark bit of a NodePort connection that is SNAT'ed to the node IP (externalTrafficPolicy Cluster) */
export const NODEPORT_SNAT_MARK = 0x1n;
/** A node's SNAT zone: its ct zone with bit 15 set (node zones are 1..N, N < 32768). */
export const snatZone = (node: NodeState): number => 0x8000 | node.ctZone;
/** The zone of LoadBalancer DNAT on edge switches. */
export const EDGE_ZONE = 0xfff0;

export const EDGE_PRIORITY = { closed: 110, open: 120, loadBalancer: 130, loadBalancerReply: 125, unsnat: 105, nodePort: 100, nodePortEstablished: 210, nodePortSnat: 260, egressDrop: 90, egressCluster: 95, egressAllow: 200 } as const;

const MARKED: Match = { ct_mark: { value: NODEPORT_SNAT_MARK, mask: NODEPORT_SNAT_MARK } };

interface PeerRule {
  peer: ExternalPeer;
  pods: PodState[];
  protocol: L4Protocol | undefined;
  port: number | undefined;
  portEnd: number | undefined;
}

/** What the edge parts of one compile need, computed once. */
export interface EdgeIndex {
  /** allow rules from outside hosts, with the pods they admit */
  ingress: PeerRule[];
  /** allow rules to outside hosts, with the pods they let out */
  egress: PeerRule[];
  /** NodePort and LoadBalancer services, by name */
  public: ServiceState[];
  /** ready backends of each public service on up nodes, by node */
  backendsByNode: Map<string, Map<string, PodState[]>>;
  /** some public service has externalTrafficPolicy Cluster (nodes then un-SNAT replies) */
  anySnat: boolean;
}

export function edgeIndex(state: ClusterState): EdgeIndex {
  const pods = [...state.pods.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ingress: PeerRule[] = [];
  const egress: PeerRule[] = [];
  for (const rule of state.cluster.allow) {
    const peer = rule.fromPeer ?? rule.toPeer;
    if (!peer || !peer.cidr) continue;
    const selector = rule.fromPeer ? rule.to : rule.from;
    const protocol = rule.port !== undefined ? (rule.protocol ?? 'tcp') : rule.protocol;
    const r: PeerRule = { peer, pods: pods.filter((p) => selectorMatches(selector, p.labels)), protocol, port: rule.port, portEnd: rule.portEnd };
    (rule.fromPeer ? ingress : egress).push(r);
  }
  const pub = [...state.services.values()].filter((s) => s.nodePort !== undefined && (s.type === 'NodePort' || s.type === 'LoadBalancer')).sort((a, b) => (a.name < b.name ? -1 : 1));
  const backendsByNode = new Map<string, Map<string, PodState[]>>();
  for (const svc of pub) {
    const byNode = new Map<string, PodState[]>();
    for (const name of svc.endpoints) {
      const pod = state.pods.get(name);
      if (!pod || state.nodes.get(pod.node)?.up === false) continue;
      let l = byNode.get(pod.node);
      if (!l) byNode.set(pod.node, (l = []));
      l.push(pod);
    }
    backendsByNode.set(svc.name, byNode);
  }
  return { ingress, egress, public: pub, backendsByNode, anySnat: pub.some((s) => s.externalTrafficPolicy !== 'Local') };
}

/** Do node switches carry edge flows (NodePorts, or closed egress)? Otherwise only switches with external ports do. */
export function edgeOnNodes(state: ClusterState): boolean {
  if (state.cluster.egress === 'closed') return true;
  for (const s of state.services.values()) if (s.type === 'NodePort' || s.type === 'LoadBalancer') return true;
  return false;
}

/** The switches whose edge part a change may touch: those with external ports, and every node switch when `nodes`. */
export function edgeSwitches(state: ClusterState, nodes: boolean): Set<string> {
  const out = new Set<string>();
  for (const sw of state.switches.values()) if ((nodes && sw.role === 'node') || sw.ports.some((p) => p.kind === 'external')) out.add(sw.name);
  return out;
}

/** Does the cluster need edge parts at all? (Otherwise every edge part is empty and skipped.) */
export function hasEdge(state: ClusterState): boolean {
  if (state.externals.size > 0 || state.cluster.egress === 'closed') return true;
  for (const s of state.services.values()) if (s.type === 'NodePort' || s.type === 'LoadBalancer') return true;
  return false;
}

const dnatBucket = (ip: string, port: number, zone: number | FieldRef, mark: boolean, table: number): Action => ({
  type: 'ct',
  commit: true,
  zone,
  nat: { kind: 'dst', ipMin: ip, portMin: port },
  ...(mark ? { exec: [{ type: 'set_field', field: 'ct_mark', value: NODEPORT_SNAT_MARK, mask: NODEPORT_SNAT_MARK }] } : {}),
  table,
});

/**
 * The NodePort group of a service with externalTrafficPolicy Cluster: the same on every node switch
 * (the zone is in reg5), so it lives in the service's shared part. Absent without backends.
 */
export function nodePortClusterGroup(state: ClusterState, svc: ServiceState): Group | undefined {
  if (svc.nodePort === undefined || svc.externalTrafficPolicy === 'Local') return undefined;
  const backends = svc.endpoints.map((n) => state.pods.get(n)).filter((p): p is PodState => p !== undefined && state.nodes.get(p.node)?.up !== false);
  if (backends.length === 0) return undefined;
  return { groupId: NODEPORT_CLUSTER_GROUP(svc.nodePort), type: 'select', buckets: backends.map((pod) => ({ actions: [dnatBucket(pod.ip, svc.targetPort, ctZone, true, TABLE.policy)] })) };
}

/** The classifier's own actions for a packet from a fabric link or external port (as nodeBasePart / fabricBasePart). */
function ingressActions(node: NodeState | undefined): { apply?: Action[]; gotoTable: number } {
  if (!node) return { gotoTable: TABLE.l3_forwarding };
  return { apply: [setReg('reg0', SOURCE.fabric), setReg('reg5', BigInt(node.ctZone))], gotoTable: TABLE.conntrack };
}

function l4(protocol: L4Protocol, port: number, dir: 'src' | 'dst'): Match {
  return { ip_proto: { value: PROTO[protocol] }, [`${protocol}_${dir}`]: { value: BigInt(port) } } as Match;
}

/** Everything of the edge on one switch. */
export function edgePart(f: FlowFactory, state: ClusterState, sw: SwitchState, index: EdgeIndex): Part {
  const flows: Flow[] = [];
  const groups: Group[] = [];
  const node = sw.role === 'node' ? state.nodes.get(sw.name) : undefined;
  const routerMac = { value: macValue(sw.routerMac) };
  const externalPorts = sw.ports.filter((p) => p.kind === 'external');

  // --- closed by default, and the openings of allow rules from outside hosts
  const podRange = cidrMatch(state.cluster.podCidr);
  for (const p of externalPorts) {
    const inPort = { value: BigInt(p.port) };
    if (state.cluster.externalAccess) continue;
    flows.push(f.flow('classifier', EDGE_PRIORITY.closed, ipMatch({ in_port: inPort, ipv4_dst: podRange }), {}, 'edge'));
    const seen = new Set<string>();
    for (const rule of index.ingress) {
      for (const pod of rule.pods) {
        const key = `${rule.peer.cidr}>${pod.ip}/${rule.protocol ?? ''}/${rule.port ?? ''}-${rule.portEnd ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const base = ipMatch({ in_port: inPort, eth_dst: routerMac, ipv4_src: cidrMatch(rule.peer.cidr), ipv4_dst: { value: ipValue(pod.ip) } });
        for (const m of withPorts(base, rule.protocol, rule.port, rule.portEnd)) flows.push(f.flow('classifier', EDGE_PRIORITY.open, m, ingressActions(node), 'edge'));
      }
    }
  }

  // --- LoadBalancer intake, on fabric switches with external ports
  if (sw.role === 'fabric' && externalPorts.length > 0) {
    const up = [...state.nodes.values()].filter((n) => n.up).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const svc of index.public) {
      if (svc.type !== 'LoadBalancer' || !svc.loadBalancerIp || svc.nodePort === undefined) continue;
      const local = svc.externalTrafficPolicy === 'Local';
      const byNode = index.backendsByNode.get(svc.name)!;
      const targets = up.filter((n) => (local ? (byNode.get(n.name)?.length ?? 0) > 0 : byNode.size > 0));
      const vip = ipMatch({ eth_dst: routerMac, ipv4_dst: { value: ipValue(svc.loadBalancerIp) }, ...l4(svc.protocol, svc.port, 'dst') });
      let instructions: { apply?: Action[] } = {};
      if (targets.length > 0) {
        const groupId = LOADBALANCER_GROUP(svc.nodePort);
        groups.push({ groupId, type: 'select', buckets: targets.map((n) => ({ actions: [dnatBucket(n.ip, svc.nodePort!, EDGE_ZONE, false, TABLE.l3_forwarding)] })) });
        instructions = { apply: [{ type: 'group', groupId }] };
      }
      for (const p of externalPorts) flows.push(f.flow('classifier', EDGE_PRIORITY.loadBalancer, { ...vip, in_port: { value: BigInt(p.port) } }, instructions, 'edge'));
      // replies from NODE_IP:nodePort: un-DNAT in the edge zone (a connection this switch did not DNAT is left as it is)
      for (const n of state.nodes.values()) {
        flows.push(
          f.flow(
            'classifier',
            EDGE_PRIORITY.loadBalancerReply,
            ipMatch({ eth_dst: routerMac, ipv4_src: { value: ipValue(n.ip) }, ...l4(svc.protocol, svc.nodePort, 'src') }),
            { apply: [{ type: 'ct', zone: EDGE_ZONE, nat: {}, table: TABLE.l3_forwarding }] },
            'edge',
          ),
        );
      }
    }
  }

  if (node) {
    const nodeIp = { value: ipValue(node.ip) };
    // --- NodePorts
    for (const svc of index.public) {
      const np = svc.nodePort!;
      const match = { ...NEW_TRK, ...ipMatch({ ipv4_dst: nodeIp, ...l4(svc.protocol, np, 'dst') }) };
      if (svc.externalTrafficPolicy === 'Local') {
        const local = index.backendsByNode.get(svc.name)!.get(node.name) ?? [];
        if (node.up && local.length > 0) {
          const groupId = NODEPORT_LOCAL_GROUP(np);
          groups.push({ groupId, type: 'select', buckets: local.map((pod) => ({ actions: [dnatBucket(pod.ip, svc.targetPort, ctZone, false, TABLE.policy)] })) });
          flows.push(f.flow('service_lb', EDGE_PRIORITY.nodePort, match, { apply: [{ type: 'group', groupId }] }, 'edge'));
        } else flows.push(f.flow('service_lb', EDGE_PRIORITY.nodePort, match, {}, 'edge'));
      } else {
        const any = (index.backendsByNode.get(svc.name)?.size ?? 0) > 0;
        flows.push(f.flow('service_lb', EDGE_PRIORITY.nodePort, match, any ? { apply: [{ type: 'group', groupId: NODEPORT_CLUSTER_GROUP(np) }] } : {}, 'edge'));
      }
    }
    // --- SNAT of NodePort connections (externalTrafficPolicy Cluster) in the node's second zone
    if (index.anySnat) {
      const zone = snatZone(node);
      // original direction only (-rpl): a reply is un-SNAT'ed before conntrack, then un-DNATed there
      flows.push(f.flow('service_lb', EDGE_PRIORITY.nodePortEstablished, { ...ctState(CT_STATE.trk, CT_STATE.new | CT_STATE.rpl), ...ipMatch(), ...MARKED }, { gotoTable: TABLE.snat }, 'edge'));
      flows.push(
        f.flow('snat', EDGE_PRIORITY.nodePortSnat, { ...ctState(CT_STATE.trk, CT_STATE.rpl), ...ipMatch(), ...MARKED }, { apply: [{ type: 'ct', commit: true, zone, nat: { kind: 'src', ipMin: node.ip }, table: TABLE.l3_forwarding }] }, 'edge'),
      );
      for (const p of sw.ports) {
        if (p.kind === 'link' || p.kind === 'external') {
          flows.push(
            f.flow(
              'classifier',
              EDGE_PRIORITY.unsnat,
              ipMatch({ in_port: { value: BigInt(p.port) }, eth_dst: routerMac, ipv4_dst: nodeIp }),
              // in_port 0: a NodePort connection (and its reply) may leave through the port it came in by
              // (OVS skips output to the ingress port; the rewritten in_port survives the recirculation)
              { apply: [setReg('reg0', SOURCE.fabric), setReg('reg5', BigInt(node.ctZone)), { type: 'set_field', field: 'in_port_nxm', value: 0n }, { type: 'ct', zone, nat: {}, table: TABLE.conntrack }] },
              'edge',
            ),
          );
        } else if (p.kind === 'pod') {
          const pod = state.pods.get(p.pod);
          if (!pod) continue;
          flows.push(
            f.flow(
              'spoof_guard',
              EDGE_PRIORITY.unsnat,
              ipMatch({ in_port: { value: BigInt(p.port) }, eth_src: { value: macValue(pod.mac) }, ipv4_src: { value: ipValue(pod.ip) }, ipv4_dst: nodeIp }),
              { apply: [{ type: 'ct', zone, nat: {}, table: TABLE.metering }] },
              'edge',
            ),
          );
        }
      }
    }
    // --- closed egress
    if (state.cluster.egress === 'closed') {
      const fromPod = { ...NEW_TRK, ...sourceIs(SOURCE.pod) };
      flows.push(f.flow('policy', EDGE_PRIORITY.egressDrop, { ...fromPod, ...ipMatch() }, {}, 'edge'));
      flows.push(f.flow('policy', EDGE_PRIORITY.egressCluster, { ...fromPod, ...ipMatch({ ipv4_dst: podRange }) }, { gotoTable: TABLE.snat }, 'edge'));
      for (const n of state.nodes.values()) flows.push(f.flow('policy', EDGE_PRIORITY.egressCluster, { ...fromPod, ...ipMatch({ ipv4_dst: { value: ipValue(n.ip) } }) }, { gotoTable: TABLE.snat }, 'edge'));
      const seen = new Set<string>();
      for (const rule of index.egress) {
        for (const pod of rule.pods) {
          if (pod.node !== node.name) continue;
          const key = `${pod.ip}>${rule.peer.cidr}/${rule.protocol ?? ''}/${rule.port ?? ''}-${rule.portEnd ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const base = { ...fromPod, ...ipMatch({ ipv4_src: { value: ipValue(pod.ip) }, ipv4_dst: cidrMatch(rule.peer.cidr) }) };
          for (const m of withPorts(base, rule.protocol, rule.port, rule.portEnd)) flows.push(f.flow('policy', EDGE_PRIORITY.egressAllow, m, { gotoTable: TABLE.snat }, 'edge'));
        }
      }
    }
  }
  return flows.length || groups.length ? { flows, groups, meters: [] } : EMPTY_PART;
}
