/**
 * The OVN northbound topology equivalent to one fabric ClusterState, as OVSDB transactions, plus the
 * `ovn-nbctl` commands of the incremental changes the benchmark makes. Modelled on ovn-kubernetes
 * (shared gateway mode), which is how operators run Kubernetes on OVN:
 *
 * - per node: a logical switch `ls-<node>` with one port per pod (addresses "MAC IP", the same MAC and
 *   IP fabric uses) and a router port `stor-<node>` to the cluster router;
 * - one distributed cluster router `lr-cluster` with a port `rtos-<node>` per node switch (the node's
 *   gateway MAC and IP/24), and a port `rtoj` (100.64.0.1/16) on the `join` switch;
 * - per node a gateway router `gr-<node>` (bound to chassis `chassis-<node>`) on the join switch
 *   (100.64.x.y/16) and on an external switch `ext-<node>` (node IP, with a localnet port) that SNATs the
 *   node's /24 to the node IP — the "SNAT of each node's subnet to its node IP on a gateway router";
 *   the cluster router sends each node's pod traffic to its gateway router by a src-ip static route;
 * - one load balancer per service (VIP:port → backends:targetPort, tcp/udp), all in one load-balancer
 *   group `lbg-cluster` attached to every node switch (as ovn-kubernetes does for ClusterIP services).
 * The fabric's leaf/spine switches have no OVN counterpart: OVN tunnels over an underlay it does not
 * program, so they are left out (fabric's figures include them).
 */
import type { ClusterState, NodeState, PodState, ServiceState } from '../../../topology/types';

export const CLUSTER_ROUTER = 'lr-cluster';
export const JOIN_SWITCH = 'join';
export const LB_GROUP = 'lbg-cluster';
const JOIN_ROUTER_IP = '100.64.0.1';

function intOf(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}
function ipOf(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
/** 0a:58 + the IPv4 bytes, the convention fabric and Kubernetes plugins use */
export function macOf(ip: string): string {
  return ['0a', '58', ...ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

export const switchOf = (node: string): string => `ls-${node}`;
export const gatewayRouterOf = (node: string): string => `gr-${node}`;

type Uuid = ['uuid', string] | ['named-uuid', string];
const set = (values: unknown[]): unknown => ['set', values];
const map = (entries: Record<string, string>): unknown => ['map', Object.entries(entries)];

/** Builds the rows of the topology with named uuids; the caller sends them in batches. */
class TxnBuilder {
  ops: object[] = [];
  private next = 0;
  insert(table: string, row: Record<string, unknown>): Uuid {
    const name = `row${this.next++}`;
    this.ops.push({ op: 'insert', table, row, 'uuid-name': name });
    return ['named-uuid', name];
  }
  mutateInsert(table: string, uuid: string, column: string, refs: Uuid[]): void {
    if (refs.length) this.ops.push({ op: 'mutate', table, where: [['_uuid', '==', ['uuid', uuid]]], mutations: [[column, 'insert', set(refs)]] });
  }
}

export function lbVipKey(svc: ServiceState): string {
  return `${svc.vip}:${svc.port}`;
}
export function lbBackends(state: ClusterState, svc: ServiceState, extraBackendIps: string[] = []): string {
  const ips = svc.endpoints.map((p) => state.pods.get(p)?.ip).filter((ip): ip is string => !!ip);
  return [...ips, ...extraBackendIps].map((ip) => `${ip}:${svc.targetPort}`).join(',');
}

/** Transaction 1: load balancers and their group, the cluster router and the join switch. */
export function baseTransaction(state: ClusterState): object[] {
  const t = new TxnBuilder();
  const lbs: Uuid[] = [];
  for (const svc of state.services.values()) {
    const backends = lbBackends(state, svc);
    lbs.push(t.insert('Load_Balancer', { name: svc.name, protocol: svc.protocol, vips: map(backends ? { [lbVipKey(svc)]: backends } : {}) }));
  }
  t.insert('Load_Balancer_Group', { name: LB_GROUP, load_balancer: set(lbs) });
  const rtoj = t.insert('Logical_Router_Port', { name: 'rtoj', mac: macOf(JOIN_ROUTER_IP), networks: `${JOIN_ROUTER_IP}/16` });
  t.insert('Logical_Router', { name: CLUSTER_ROUTER, ports: set([rtoj]), options: map({ dynamic_neigh_routers: 'true', always_learn_from_arp_request: 'false' }) });
  const jtor = t.insert('Logical_Switch_Port', { name: 'jtor-cluster', type: 'router', addresses: 'router', options: map({ 'router-port': 'rtoj' }) });
  t.insert('Logical_Switch', { name: JOIN_SWITCH, ports: set([jtor]) });
  return t.ops;
}

export interface BaseUuids {
  clusterRouter: string;
  joinSwitch: string;
  lbGroup: string;
}

function podPort(t: TxnBuilder, pod: PodState): Uuid {
  return t.insert('Logical_Switch_Port', { name: pod.name, addresses: `${pod.mac} ${pod.ip}` });
}

/**
 * The rows of a batch of nodes (their switches, pods, gateway routers, external switches) and the
 * mutations that hook them to the cluster router and the join switch.
 */
export function nodesTransaction(state: ClusterState, nodes: NodeState[], indexOf: (node: string) => number, base: BaseUuids): object[] {
  const t = new TxnBuilder();
  const podsByNode = new Map<string, PodState[]>();
  for (const pod of state.pods.values()) {
    const list = podsByNode.get(pod.node);
    if (list) list.push(pod);
    else podsByNode.set(pod.node, [pod]);
  }
  const routerPorts: Uuid[] = [];
  const routes: Uuid[] = [];
  const joinPorts: Uuid[] = [];
  const podCidrOfCluster = state.cluster.podCidr;
  for (const node of nodes) {
    const i = indexOf(node.name);
    const prefixLen = node.podCidr.split('/')[1];
    // node switch with its pods and the port to the cluster router
    const ports = (podsByNode.get(node.name) ?? []).map((p) => podPort(t, p));
    ports.push(t.insert('Logical_Switch_Port', { name: `stor-${node.name}`, type: 'router', addresses: 'router', options: map({ 'router-port': `rtos-${node.name}` }) }));
    t.insert('Logical_Switch', { name: switchOf(node.name), ports: set(ports), load_balancer_group: set([['uuid', base.lbGroup]]) });
    routerPorts.push(t.insert('Logical_Router_Port', { name: `rtos-${node.name}`, mac: node.gatewayMac, networks: `${node.gatewayIp}/${prefixLen}` }));

    // gateway router: join side, external side, SNAT, routes
    const joinIp = ipOf(intOf(JOIN_ROUTER_IP) + 1 + i);
    const extBase = intOf(node.ip) & 0xffffff00;
    const extNextHop = ipOf(intOf(node.ip) === extBase + 1 ? extBase + 2 : extBase + 1);
    const gtoj = t.insert('Logical_Router_Port', { name: `gtoj-${node.name}`, mac: macOf(joinIp), networks: `${joinIp}/16` });
    const gtoe = t.insert('Logical_Router_Port', { name: `gtoe-${node.name}`, mac: macOf(node.ip), networks: `${node.ip}/24` });
    const snat = t.insert('NAT', { type: 'snat', external_ip: node.ip, logical_ip: node.podCidr });
    const toCluster = t.insert('Logical_Router_Static_Route', { ip_prefix: podCidrOfCluster, nexthop: JOIN_ROUTER_IP });
    const toWorld = t.insert('Logical_Router_Static_Route', { ip_prefix: '0.0.0.0/0', nexthop: extNextHop, output_port: `gtoe-${node.name}` });
    t.insert('Logical_Router', {
      name: gatewayRouterOf(node.name),
      ports: set([gtoj, gtoe]),
      nat: set([snat]),
      static_routes: set([toCluster, toWorld]),
      // as ovn-kubernetes sets them: without dynamic_neigh_routers every gateway router gets an ARP
      // entry for every other router on the join switch (N² logical flows)
      options: map({ chassis: `chassis-${node.name}`, dynamic_neigh_routers: 'true', always_learn_from_arp_request: 'false' }),
    });
    joinPorts.push(t.insert('Logical_Switch_Port', { name: `jtor-${node.name}`, type: 'router', addresses: 'router', options: map({ 'router-port': `gtoj-${node.name}` }) }));
    const etor = t.insert('Logical_Switch_Port', { name: `etor-${node.name}`, type: 'router', addresses: 'router', options: map({ 'router-port': `gtoe-${node.name}` }) });
    const localnet = t.insert('Logical_Switch_Port', { name: `ln-${node.name}`, type: 'localnet', addresses: 'unknown', options: map({ network_name: 'physnet' }) });
    t.insert('Logical_Switch', { name: `ext-${node.name}`, ports: set([etor, localnet]) });
    // the cluster router sends this node's pod traffic (to anything not routed more specifically) to its gateway router
    routes.push(t.insert('Logical_Router_Static_Route', { ip_prefix: node.podCidr, nexthop: joinIp, policy: 'src-ip' }));
  }
  t.mutateInsert('Logical_Router', base.clusterRouter, 'ports', routerPorts);
  t.mutateInsert('Logical_Router', base.clusterRouter, 'static_routes', routes);
  t.mutateInsert('Logical_Switch', base.joinSwitch, 'ports', joinPorts);
  return t.ops;
}

// --- incremental changes, as ovn-nbctl arguments (one invocation each, so one NB transaction) ---------

export function podAddCommand(node: string, pod: { name: string; mac: string; ip: string }): string[] {
  return ['lsp-add', switchOf(node), pod.name, '--', 'lsp-set-addresses', pod.name, `${pod.mac} ${pod.ip}`];
}

export function podDeleteCommand(pod: string): string[] {
  return ['lsp-del', pod];
}

/** Replaces a service's backends (the way a CMS updates an endpoint set). */
export function setBackendsCommand(svc: ServiceState, backends: string): string[] {
  return ['set', 'Load_Balancer', svc.name, `vips:"${lbVipKey(svc)}"="${backends}"`];
}
