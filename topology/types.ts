/**
 * The data model shared by every layer: a scenario as the user wrote it (after parsing and defaults),
 * and the resolved cluster state (addresses, MACs, port numbers, link/node liveness) that the
 * controller compiles and the simulator runs. Plain data only: no behaviour, no I/O.
 *
 * Units: time in seconds (number), bandwidth in Gbit/s, latency in microseconds.
 * Addresses are dotted-quad strings in the scenario, and in the cluster state too (readable in JSON);
 * helpers in topology/ip.ts convert them to integers where arithmetic is needed.
 */

// ---------------------------------------------------------------------------------------------
// Scenario (docs/scenarios.md §1)
// ---------------------------------------------------------------------------------------------

/** Where a value came from in the YAML file, for `file:line:col` messages. 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export type ClusterMode = 'routed' | 'overlay';
export type Encap = 'vxlan' | 'geneve';
export type RebalancePolicy = 'steer' | 'limit' | 'place' | 'weights';
export type L4Protocol = 'tcp' | 'udp';

export interface ClusterSpec {
  mode: ClusterMode;
  /** overlay only; default vxlan */
  encap: Encap;
  podCidr: string;
  /** default 24 */
  nodeMaskLen: number;
  serviceCidr: string;
  /** default false: true drops pod-to-pod traffic unless an `allow` rule admits it */
  isolation: boolean;
  /** pod-to-pod allow rules under isolation (our extension): label selectors, optional port */
  allow: AllowRule[];
  rebalance: RebalancePolicy[];
  /**
   * default true: next hops survive a link failure in the data plane (ECMP buckets watch their port,
   * a single best path gets a fast-failover group with a loop-free backup). false: plain next hops, so
   * traffic waits for the controller to recompile after a port status (for comparison, or switches
   * without group liveness).
   */
  fastFailover?: boolean;
  /**
   * default false: an external host reaches a pod IP directly only where an allow rule names it (or
   * its CIDR) as a source; hostPorts, NodePorts and LoadBalancer VIPs are the other doors (Docker's
   * rule, and a pod range the internet cannot route to). true: every external reaches every pod IP.
   */
  externalAccess?: boolean;
  /**
   * default 'open': pods reach external hosts (SNAT'ed to their node IP). 'closed': only where an
   * allow rule names the external (or a CIDR holding it) as a destination.
   */
  egress?: 'open' | 'closed';
  /** external VIPs of `type: LoadBalancer` services come from here (must not overlap podCidr/serviceCidr) */
  loadBalancerCidr?: string;
  /** cluster DNS (docs/discovery.md): the domain, and the service (UDP 53) pods use as nameserver */
  dns?: { domain: string; service?: string };
}

/** An allow rule's peer outside the cluster: a named external host, or any address in a CIDR. */
export interface ExternalPeer {
  /** the external's name when the rule named one */
  external?: string;
  /** the external's IP as a /32, or the CIDR as written */
  cidr: string;
}

export interface AllowRule {
  /** pod label selector (empty when `fromPeer` is set) */
  from: Record<string, string>;
  to: Record<string, string>;
  /** `from: { external: NAME }` or `from: { cidr: X }`: admits outside hosts to the `to` pods */
  fromPeer?: ExternalPeer;
  /** `to: { external: NAME }` or `to: { cidr: X }`: admits the `from` pods to outside hosts (cluster.egress: closed) */
  toPeer?: ExternalPeer;
  /** a port, or the first of a range (`8000-8100`) */
  port?: number;
  /** the last port of a range (absent: one port) */
  portEnd?: number;
  protocol?: L4Protocol;
}

export interface SwitchSpec {
  name: string;
}

export interface NodeSpec {
  name: string;
  ip: string;
  /** optional in the file; IPAM assigns one when absent */
  podCidr?: string;
}

export interface LinkSpec {
  between: [string, string];
  /** capacity per direction */
  gbps: number;
  /** default 1 */
  latencyUs: number;
}

export interface ExternalSpec {
  name: string;
  ip: string;
  /** a fabric switch (or node) name */
  attach: string;
}

export interface HostPortSpec {
  hostPort: number;
  containerPort: number;
  protocol: L4Protocol;
}

export interface PodSpec {
  name: string;
  node: string;
  ip?: string;
  labels: Record<string, string>;
  /** Docker-style port mappings from the node IP (our extension) */
  hostPorts: HostPortSpec[];
  /** per-pod egress limit (our extension), enforced by an OpenFlow meter on its node switch */
  egressGbps?: number;
  /** default true: an unready pod is left out of every service's backends */
  ready?: boolean;
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export type ExternalTrafficPolicy = 'Cluster' | 'Local';

export interface ServiceSpec {
  name: string;
  selector: Record<string, string>;
  port: number;
  /** default: port */
  targetPort: number;
  /** default tcp */
  protocol: L4Protocol;
  ip?: string;
  /** default ClusterIP */
  type?: ServiceType;
  /** NodePort and LoadBalancer: the port on every node IP (default: allocated from 30000-32767) */
  nodePort?: number;
  /** LoadBalancer: the external VIP (default: allocated from cluster.loadBalancerCidr) */
  loadBalancerIp?: string;
  /** NodePort and LoadBalancer; default Cluster */
  externalTrafficPolicy?: ExternalTrafficPolicy;
  /** for DNS names (<name>.<namespace>.svc.<domain>); default 'default' */
  namespace?: string;
}

export interface TrafficDemand {
  from: string;
  to: string;
  gbps: number;
  /** seconds; default 0 */
  at: number;
  /** seconds; default: the end of the run */
  until?: number;
  /** destination port (for services); optional */
  port?: number;
}

export type ScenarioEvent =
  | { at: number; kind: 'link'; action: 'down' | 'up'; between: [string, string] }
  | { at: number; kind: 'node'; action: 'down' | 'up'; name: string }
  | { at: number; kind: 'pod'; action: 'add'; name: string; node: string; labels: Record<string, string>; ip?: string; egressGbps?: number; ready?: boolean }
  | { at: number; kind: 'pod'; action: 'delete'; name: string }
  | { at: number; kind: 'pod'; action: 'move'; name: string; to: string }
  | { at: number; kind: 'pod'; action: 'ready'; name: string }
  | { at: number; kind: 'pod'; action: 'unready'; name: string }
  | { at: number; kind: 'service'; action: 'add'; service: ServiceSpec }
  | { at: number; kind: 'service'; action: 'delete'; name: string };

export interface Endpoints {
  from: string;
  /** a name (pod, service, external, node) or an IPv4 address */
  to: string;
  port?: number;
  protocol?: L4Protocol;
}

export type Expectation =
  | { at: number; kind: 'reach'; reach: Endpoints; backends?: string[] }
  | { at: number; kind: 'noReach'; noReach: Endpoints }
  | { at: number; kind: 'egress'; egress: Endpoints; srcSeenAs: string }
  | { at: number; kind: 'maxLinkUtilization'; maxLinkUtilization: number }
  | { at: number; kind: 'fairShare'; fairShare: { demand: number; tolerance?: number } }
  | { at: number; kind: 'limited'; limited: { pod: string; gbps: number; tolerance?: number } }
  | { at: number; kind: 'survives'; survives: SurvivesSpec };

/**
 * The `survives` gate (docs/scenarios.md §1, docs/whatif.md): under every single failure of `fail`
 * (each link, each node, each fabric switch, all three, or the links listed), every `reach` holds and
 * no link direction carries more than `maxLinkUtilization`.
 */
export interface SurvivesSpec {
  fail: 'each-link' | 'each-node' | 'each-switch' | 'each' | [string, string][];
  reach: Endpoints[];
  maxLinkUtilization?: number;
}

export interface Scenario {
  name: string;
  seed: number;
  cluster: ClusterSpec;
  fabric: {
    switches: SwitchSpec[];
    nodes: NodeSpec[];
    links: LinkSpec[];
    externals: ExternalSpec[];
  };
  pods: PodSpec[];
  services: ServiceSpec[];
  traffic: TrafficDemand[];
  /** sorted by time, file order kept for equal times */
  events: ScenarioEvent[];
  expect: Expectation[];
  /** source positions of every value, keyed by JSON-pointer-like path ("pods/0/node") */
  positions?: Map<string, SourcePos>;
  file?: string;
}

// ---------------------------------------------------------------------------------------------
// Cluster state: the resolved model the controller compiles (and events update)
// ---------------------------------------------------------------------------------------------

export type SwitchRole = 'node' | 'fabric';

/** One OpenFlow port on a switch. Numbers are stable: they become `Interface.ofport_request`. */
export type PortState =
  | { port: number; name: string; kind: 'link'; linkId: string; peerSwitch: string; peerPort: number }
  | { port: number; name: string; kind: 'pod'; pod: string }
  | { port: number; name: string; kind: 'external'; external: string }
  | { port: number; name: string; kind: 'tunnel' }
  | { port: number; name: string; kind: 'host' };

export interface SwitchState {
  name: string;
  role: SwitchRole;
  /** 64-bit datapath id, derived from the name (stable), as 16 hex digits */
  datapathId: string;
  /** MAC the switch uses as a router (0a:58:... for node gateways; derived from the dpid for fabric) */
  routerMac: string;
  /** by port number, ascending */
  ports: PortState[];
  up: boolean;
}

export interface NodeState {
  name: string;
  ip: string;
  podCidr: string;
  /** first usable address of the block (.1): the pods' default gateway */
  gatewayIp: string;
  gatewayMac: string;
  /** conntrack zone of this node (one vswitchd may host several nodes: docs/real-ovs.md pitfall 6) */
  ctZone: number;
  up: boolean;
}

export interface PodState {
  name: string;
  /** the node it runs on now (after moves) */
  node: string;
  /** the node whose block its IP came from (differs from `node` after a move) */
  homeNode: string;
  ip: string;
  mac: string;
  labels: Record<string, string>;
  hostPorts: HostPortSpec[];
  egressGbps?: number;
  /** absent: ready */
  ready?: boolean;
}

export interface ServiceState {
  name: string;
  vip: string;
  port: number;
  targetPort: number;
  protocol: L4Protocol;
  selector: Record<string, string>;
  /** ready pod names, sorted, that the selector matches now */
  endpoints: string[];
  /** absent: ClusterIP */
  type?: ServiceType;
  nodePort?: number;
  loadBalancerIp?: string;
  externalTrafficPolicy?: ExternalTrafficPolicy;
  namespace?: string;
}

export interface ExternalState {
  name: string;
  ip: string;
  mac: string;
  attach: string;
}

export interface LinkState {
  /** "a|b" with the names in file order */
  id: string;
  a: string;
  b: string;
  gbps: number;
  latencyUs: number;
  up: boolean;
}

/**
 * Decisions of the rebalancer (controller/rebalance.ts) that the controller compiles into flows:
 * set by whoever runs the rebalancing loop (the simulator's runner, or the live controller).
 */
export interface TrafficSteering {
  /** a demand pinned to a path: at each hop switch, packets of this flow go to `nextHop` */
  pins: {
    id: string;
    /** addresses as the packet carries them in the fabric (pod IPs; the node IP after SNAT) */
    srcIp: string;
    dstIp: string;
    protocol?: L4Protocol;
    dstPort?: number;
    hops: { switch: string; nextHop: string }[];
  }[];
  /** pods metered at their node switch by the limit policy: pod name -> Gbit/s */
  limits: Record<string, number>;
  /** service select-group bucket weights: service -> pod -> weight (absent: all 1) */
  weights?: Record<string, Record<string, number>>;
}

export interface ClusterState {
  scenario: string;
  cluster: ClusterSpec;
  switches: Map<string, SwitchState>;
  nodes: Map<string, NodeState>;
  pods: Map<string, PodState>;
  services: Map<string, ServiceState>;
  externals: Map<string, ExternalState>;
  links: Map<string, LinkState>;
  /** rebalancer decisions to compile (absent: none) */
  steering?: TrafficSteering;
  /**
   * Fixed pod IPs and service VIPs that `pod: add` / `service: add` events of the scenario will claim:
   * automatic allocation at event time skips them (topology/cluster.ts). Optional for hand-built states.
   */
  reservedAddresses?: string[];
  /** NodePorts that services of the scenario (and its events) give: allocation skips them */
  reservedNodePorts?: number[];
}

/**
 * What one applied event changed, so that the controller recompiles only what it touches.
 * `applyEvent` (topology/cluster.ts) mutates a ClusterState and returns these.
 */
export type ClusterChange =
  | { kind: 'pod-added'; pod: string }
  | { kind: 'pod-deleted'; pod: PodState }
  | { kind: 'pod-moved'; pod: string; from: string; to: string }
  | { kind: 'pod-readiness'; pod: string; ready: boolean }
  | { kind: 'service-added'; service: string }
  | { kind: 'service-deleted'; service: ServiceState }
  | { kind: 'endpoints-changed'; service: string; before: string[]; after: string[] }
  | { kind: 'link-state'; link: string; up: boolean }
  | { kind: 'node-state'; node: string; up: boolean }
  /** a port appeared on or vanished from a switch (pod add/delete/move) */
  | { kind: 'port-added'; switch: string; port: number }
  | { kind: 'port-deleted'; switch: string; port: number }
  /** state.steering was replaced (pins, limits or weights) */
  | { kind: 'steering-changed' };
