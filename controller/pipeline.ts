/**
 * The OpenFlow pipeline as data: ONE declared list of tables (ids by declaration order), the named
 * register fields, and the check every compiled flow passes through. Node switches (one OVS bridge
 * per node) use every table; fabric switches use the classifier, ARP responder, L3 forwarding and
 * L2 output tables only. docs/pipeline.md describes the same list (a test keeps them in step).
 *
 * Why the check: a flow that matches a field its table does not declare, or jumps backwards, is a
 * compiler bug that would otherwise surface as a silent blackhole or a loop in the data plane.
 */
import type { Action, FieldName, Flow, Group, Match } from '../fabric/openflow/flow';
import type { SwitchRole } from '../topology/types';

export type TableName =
  | 'classifier'
  | 'spoof_guard'
  | 'arp_responder'
  | 'metering'
  | 'conntrack'
  | 'service_lb'
  | 'endpoint_dnat'
  | 'policy'
  | 'snat'
  | 'l3_forwarding'
  | 'l2_output';

export interface TableSpec {
  name: TableName;
  /** match fields a flow of this table may use */
  match: readonly FieldName[];
  /** tables a flow may continue in (goto_table, ct(table=), resubmit); all later in the list */
  next: readonly TableName[];
  /** what a packet no flow matches does: dropped, or continues in the named table */
  miss: 'drop' | TableName;
  /** switch roles that carry this table */
  roles: readonly SwitchRole[];
  does: string;
}

const BOTH: SwitchRole[] = ['node', 'fabric'];
const NODE: SwitchRole[] = ['node'];

/** The pipeline. Order is the table id. */
export const PIPELINE: readonly TableSpec[] = [
  {
    name: 'classifier',
    match: ['in_port', 'eth_type', 'eth_dst', 'ipv4_src', 'ipv4_dst', 'ip_proto', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst'],
    next: ['spoof_guard', 'arp_responder', 'conntrack', 'l3_forwarding'],
    miss: 'drop',
    roles: BOTH,
    does:
      'Sorts packets by ingress port: a pod port sets reg0.source=pod and goes to spoof_guard; a fabric link or external port accepts only IPv4 addressed to the switch router MAC (docs/real-ovs.md pitfall 5) and ARP from externals; the tunnel port and the host (LOCAL) port are accepted as they are. Node switches load the node ct zone into reg5. The edge (controller/edge.ts): from an external port, IPv4 to the pod range is dropped (closed by default, priority 110) unless an allow rule names the source (an external or a CIDR) with the destination pod, protocol and ports (120) or cluster.externalAccess is true; on fabric switches with external ports, a LoadBalancer VIP:port goes to a select group that DNATs to NODE_IP:nodePort in the edge zone (130), and replies from NODE_IP:nodePort are un-DNATed there (130); on node switches with NodePorts of externalTrafficPolicy Cluster, packets to the node IP are first un-SNATed in the node\'s SNAT zone (105).',
  },
  {
    name: 'spoof_guard',
    match: ['in_port', 'eth_type', 'eth_src', 'ipv4_src', 'ipv4_dst', 'arp_spa', 'arp_sha'],
    next: ['arp_responder', 'metering'],
    miss: 'drop',
    roles: NODE,
    does:
      'A pod port may send only IPv4 from its own IP and MAC, and ARP with its own sender IP and MAC; anything else is dropped. Hairpin replies: a pod\'s packet to the hairpin address (HAIRPIN_IP) gets the pod\'s own IP as destination before conntrack, which then sees the reply of the pod-to-VIP connection and un-DNATs it. A local pod\'s packet to its node IP is first un-SNATed in the node\'s SNAT zone (105) when NodePorts of externalTrafficPolicy Cluster exist (the reply of a NodePort connection it served).',
  },
  {
    name: 'arp_responder',
    match: ['eth_type', 'arp_op', 'arp_tpa', 'in_port', 'reg0'],
    next: [],
    miss: 'drop',
    roles: BOTH,
    does:
      'Proxy ARP in flows: every ARP request that got here is answered with the switch router MAC (the pod gateway MAC on node switches), by rewriting the request into a reply and sending it back out IN_PORT. No ARP is flooded.',
  },
  {
    name: 'metering',
    match: ['in_port'],
    next: ['conntrack'],
    miss: 'conntrack',
    roles: NODE,
    does: 'Pods with an egress limit pass their meter (kbps, burst = rate/5, band drop); others go straight on.',
  },
  {
    name: 'conntrack',
    match: ['eth_type', 'ipv4_src'],
    next: ['service_lb'],
    miss: 'drop',
    roles: NODE,
    does:
      'Every IPv4 packet goes through conntrack in the node zone (reg5) with `nat`: replies of SNAT/DNAT connections are un-NATed and packets of established service connections are re-DNATed to their backend; then service_lb. Isolation mode: a packet from a pod some cluster.allow rule admits as a source first loads that pod\'s rule bits into reg3 (bit i = rule i), by its source IP.',
  },
  {
    name: 'service_lb',
    match: ['ct_state', 'ct_mark', 'eth_type', 'ip_proto', 'ipv4_dst', 'tcp_dst', 'udp_dst'],
    next: ['endpoint_dnat', 'policy', 'snat', 'l3_forwarding'],
    miss: 'endpoint_dnat',
    roles: NODE,
    does:
      'Invalid connections are dropped; established/related ones skip straight to l3_forwarding (they keep their backend); a new connection to a service VIP:port goes to the service select group, whose buckets do ct(commit,zone=reg5,nat(dst=POD:targetPort),table=policy). A VIP without endpoints, or an unknown address in the service range, is dropped. NodePorts: a new connection to NODE_IP:nodePort goes to the service\'s NodePort group (externalTrafficPolicy Cluster: any ready backend, the connection marked in ct_mark for SNAT; Local: this node\'s ready backends, else dropped); established packets of marked connections in the original direction continue in snat.',
  },
  {
    name: 'endpoint_dnat',
    match: ['ct_state', 'eth_type', 'ip_proto', 'ipv4_dst', 'tcp_dst', 'udp_dst'],
    next: ['policy'],
    miss: 'policy',
    roles: NODE,
    does: 'hostPort DNAT: a new connection to NODE_IP:hostPort is committed with nat(dst=POD:containerPort).',
  },
  {
    name: 'policy',
    match: ['ct_state', 'eth_type', 'ip_proto', 'ipv4_src', 'ipv4_dst', 'tcp_dst', 'udp_dst', 'reg0', 'reg3'],
    next: ['snat'],
    miss: 'snat',
    roles: NODE,
    does:
      'Isolation mode only: a new pod-to-pod connection is dropped unless a cluster.allow rule admits it or it is a pod reaching itself through a service (hairpin: source and destination the same local pod); admitted ones are committed (ct(commit,zone=reg5)) on both the source and the destination node so that their replies are established. Rule i admits a destination pod by its IP (and the rule\'s protocol and port) when reg3 bit i is set (the source matched the rule in conntrack), on the destination\'s node, and on any node for packets from a local pod (reg0.source=pod). Rules beyond the 32nd are matched per (source, destination) pair. Port ranges compile to masked tcp/udp port matches. With cluster.egress: closed, a new connection from a local pod is dropped (90) unless it goes to the pod range or a node IP (95) or an allow rule names its destination outside (200).',
  },
  {
    name: 'snat',
    match: ['ct_state', 'ct_mark', 'eth_type', 'ipv4_dst', 'reg0'],
    next: ['l3_forwarding'],
    miss: 'l3_forwarding',
    roles: NODE,
    does: 'A new connection from a local pod to anything outside the pod range and the node itself is committed with nat(src=NODE_IP). NodePort connections marked in ct_mark (externalTrafficPolicy Cluster) are committed in the node\'s SNAT zone with nat(src=NODE_IP), so that the backend answers through this node (260).',
  },
  {
    name: 'l3_forwarding',
    match: ['eth_type', 'ipv4_dst', 'ipv4_src', 'ip_proto', 'tcp_dst', 'udp_dst'],
    next: ['l2_output'],
    miss: 'drop',
    roles: BOTH,
    does:
      'Longest prefix first (priority = 100 + 10 x prefix length): a /32 per local pod and the node IP; per destination node /24, node IP and external /32 (moved pods: a /32 that overrides their home block). Rewrites eth_src to the router MAC and eth_dst to the next hop MAC, decrements the TTL, then either sets reg1 to the output port (one next hop) or outputs through a next-hop group (ECMP select, fast-failover, or indirect). Demands pinned by the rebalancer (priority 470, above every route): ipv4_src + ipv4_dst (+ ip_proto, tcp_dst/udp_dst) straight to the pinned next hop while that link is up.',
  },
  {
    name: 'l2_output',
    match: ['reg1', 'in_port', 'eth_type', 'ipv4_src', 'ipv4_dst'],
    next: [],
    miss: 'drop',
    roles: BOTH,
    does:
      'Outputs on the port in reg1. Hairpin (node switches, per local pod): a packet whose output port is its ingress port goes out IN_PORT (OpenFlow skips a plain output to the ingress port); one that the pod sent to itself (through a service VIP DNATed to that pod) first gets the hairpin address (HAIRPIN_IP) as source, so that the pod accepts it and answers to the switch. This is after every ct commit, so conntrack keeps the pod-to-VIP tuple.',
  },
];

export const TABLE: Readonly<Record<TableName, number>> = Object.fromEntries(PIPELINE.map((t, i) => [t.name, i])) as Record<
  TableName,
  number
>;

export function tableSpec(name: TableName): TableSpec {
  return PIPELINE[TABLE[name]];
}

export function tableName(id: number): TableName | undefined {
  return PIPELINE[id]?.name;
}

/**
 * Named register fields. Registers survive conntrack recirculation, which is why the zone and the
 * source kind live there.
 */
export const REG = {
  /** reg0[0..3]: where the packet entered (SOURCE values) */
  source: { field: 'reg0' as FieldName, ofs: 0, nBits: 4, mask: 0xfn },
  /** reg1: the output port chosen by l3_forwarding, used by l2_output */
  outPort: { field: 'reg1' as FieldName, ofs: 0, nBits: 32 },
  /** reg2: scratch (the ARP responder swaps arp_spa/arp_tpa through it) */
  scratch: { field: 'reg2' as FieldName, ofs: 0, nBits: 32 },
  /** reg3: isolation, bit i set when the source pod is admitted by allow rule i (first 32 rules) */
  policyRules: { field: 'reg3' as FieldName, ofs: 0, nBits: 32 },
  /** reg5[0..15]: the node's conntrack zone (docs/real-ovs.md pitfall 6) */
  ctZone: { field: 'reg5' as FieldName, ofs: 0, nBits: 16 },
} as const;

export const SOURCE = { pod: 1n, fabric: 2n, tunnel: 3n, host: 4n } as const;

/**
 * The hairpin address: a pod that reaches itself through a service sees this as the source of the
 * connection (the switch rewrites it after every conntrack commit) and answers to it. Link-local,
 * so it is never a pod, node, gateway or service address (pods may talk to their gateway).
 */
export const HAIRPIN_IP = '169.254.169.252';

/** A flow that breaks the declared pipeline. */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';
}

function continuationTables(actions: Action[] | undefined, out: number[]): void {
  for (const a of actions ?? []) {
    if (a.type === 'ct' && a.table !== undefined) out.push(a.table);
    if (a.type === 'resubmit' && a.table !== undefined) out.push(a.table);
  }
}

function checkContinuations(from: TableSpec, fromId: number, targets: number[], what: string): void {
  for (const t of targets) {
    const target = PIPELINE[t];
    if (!target) throw new PipelineError(`pipeline: ${what} in table ${from.name} continues in undeclared table ${t}`);
    if (t <= fromId) throw new PipelineError(`pipeline: ${what} in table ${from.name} jumps backwards to ${target.name}`);
    if (!from.next.includes(target.name)) throw new PipelineError(`pipeline: ${what} in table ${from.name} may not continue in ${target.name}`);
  }
}

export function checkMatch(spec: TableSpec, match: Match): void {
  for (const field of Object.keys(match) as FieldName[]) {
    if (!spec.match.includes(field)) throw new PipelineError(`pipeline: table ${spec.name} does not match on ${field}`);
  }
}

/** Throws PipelineError when the flow breaks its table's declaration. */
export function checkFlow(flow: Flow, groups?: ReadonlyMap<number, Group>): void {
  const spec = PIPELINE[flow.table];
  if (!spec) throw new PipelineError(`pipeline: table ${flow.table} is not declared`);
  checkMatch(spec, flow.match);
  const targets: number[] = [];
  if (flow.instructions.gotoTable !== undefined) targets.push(flow.instructions.gotoTable);
  continuationTables(flow.instructions.apply, targets);
  continuationTables(flow.instructions.write, targets);
  checkContinuations(spec, flow.table, targets, 'a flow');
  if (groups) {
    for (const a of flow.instructions.apply ?? []) {
      if (a.type !== 'group') continue;
      const g = groups.get(a.groupId);
      if (!g) throw new PipelineError(`pipeline: a flow in table ${spec.name} uses missing group ${a.groupId}`);
      const bucketTargets: number[] = [];
      for (const b of g.buckets) continuationTables(b.actions, bucketTargets);
      checkContinuations(spec, flow.table, bucketTargets, `group ${a.groupId}`);
    }
  }
}

/** The per-table section of docs/pipeline.md, rendered from PIPELINE (a test keeps the doc equal). */
export function renderPipelineTables(): string {
  const code = (s: string) => '`' + s + '`';
  return PIPELINE.map((t, i) =>
    [
      `### ${i}. ${t.name}`,
      '',
      `- roles: ${t.roles.join(', ')}`,
      `- match: ${t.match.map(code).join(', ')}`,
      `- next: ${t.next.length ? t.next.map(code).join(', ') : '(none: the table outputs)'}`,
      `- miss: ${t.miss === 'drop' ? 'drop' : `goto ${code(t.miss)}`}`,
      '',
      t.does,
      '',
    ].join('\n'),
  ).join('\n');
}
