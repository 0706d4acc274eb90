/**
 * Benchmark cluster generator: a Scenario of N nodes with P pods each and S services of B backends on a
 * leaf/spine fabric. Deterministic: the same options (and seed) always give the same scenario, so
 * fabric and its peers (OVN) are fed the very same cluster, and a figure can be reproduced.
 *
 *   const scenario = generateCluster({ nodes: 100, podsPerNode: 30, services: 1000, backendsPerService: 3 });
 *   const state = buildClusterState(scenario);
 *
 * Layout (chosen so that even 5,000 nodes / 150,000 pods fit, and nothing touches 192.0.2.0/24):
 * - podCidr 10.0.0.0/9 (32,768 node blocks of /24), serviceCidr 10.128.0.0/16;
 * - node i (1-based) is `node<i>` with IP 172.16.0.0 + 10 + i (172.16.0.0/12), on leaf ceil(i / nodesPerLeaf);
 * - every leaf links to every spine (ECMP); the external `internet` (203.0.113.1) hangs off spine1;
 * - pods are `node<i>-pod<j>` (j from 0); each service `svc<k>` selects `{ app: svc<k> }`, and its B
 *   backends are drawn without replacement from all pods by a seeded shuffle (so backends are spread
 *   over nodes); pods that back no service carry `{ app: idle }`.
 * With `fixedAddresses`, node blocks, pod IPs and VIPs are written into the scenario (block i-1, pods .2
 * upwards, VIPs 10.128.0.2 upwards) — exactly what IPAM would pick; without, IPAM assigns them.
 */
import type { PodSpec, Scenario, ServiceSpec } from '../topology/types';

export interface ClusterGenOptions {
  nodes: number;
  podsPerNode: number;
  services: number;
  backendsPerService: number;
  /** default 1 */
  seed?: number;
  /** default 40 */
  nodesPerLeaf?: number;
  /** default 2 */
  spines?: number;
  /** default 'routed' */
  mode?: 'routed' | 'overlay';
  /** write node blocks, pod IPs and VIPs into the scenario (default false: IPAM assigns them) */
  fixedAddresses?: boolean;
  /** default `bench-n<N>-p<P>-s<S>-b<B>` */
  name?: string;
}

export const BENCH_POD_CIDR = '10.0.0.0/9';
export const BENCH_SERVICE_CIDR = '10.128.0.0/16';
export const BENCH_NODE_IP_BASE = '172.16.0.0';
export const BENCH_EXTERNAL_IP = '203.0.113.1';
export const SERVICE_PORT = 80;
export const SERVICE_TARGET_PORT = 8080;
/** usable pod addresses of a /24: .2 to .254 (.0 network, .1 gateway, .255 broadcast) */
export const MAX_PODS_PER_NODE = 253;
const MAX_NODES = 32_768; // /24 blocks in 10.0.0.0/9

export class ClusterGenError extends Error {
  override readonly name = 'ClusterGenError';
}

/** mulberry32: a tiny, well-known 32-bit PRNG; bench code only, never the core's randomness. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ipOf(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
function intOf(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function nodeName(i: number): string {
  return `node${i}`;
}
export function podName(node: number, j: number): string {
  return `node${node}-pod${j}`;
}
export function serviceName(k: number): string {
  return `svc${k}`;
}
/** the pod block of node i (1-based) when addresses are fixed (and what IPAM gives in file order) */
export function nodeBlock(i: number): string {
  return `${ipOf(intOf('10.0.0.0') + (i - 1) * 256)}/24`;
}
export function nodeIp(i: number): string {
  return ipOf(intOf(BENCH_NODE_IP_BASE) + 10 + i);
}

function checkCount(label: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ClusterGenError(`generateCluster: ${label} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

export function describeCluster(o: ClusterGenOptions): string {
  return `N=${o.nodes} P=${o.podsPerNode} S=${o.services} B=${o.backendsPerService}`;
}

export function generateCluster(options: ClusterGenOptions): Scenario {
  const { nodes, podsPerNode, services, backendsPerService } = options;
  const seed = options.seed ?? 1;
  const nodesPerLeaf = options.nodesPerLeaf ?? 40;
  const spineCount = options.spines ?? 2;
  checkCount('nodes', nodes, 1, MAX_NODES);
  checkCount('podsPerNode', podsPerNode, 0, MAX_PODS_PER_NODE);
  checkCount('services', services, 0, 65_000);
  checkCount('backendsPerService', backendsPerService, 0, 1_000_000);
  checkCount('nodesPerLeaf', nodesPerLeaf, 1, 100_000);
  checkCount('spines', spineCount, 1, 64);
  const podCount = nodes * podsPerNode;
  if (services * backendsPerService > podCount) {
    throw new ClusterGenError(
      `generateCluster: ${services} services x ${backendsPerService} backends need ${services * backendsPerService} pods, but there are only ${podCount}`,
    );
  }
  const fixed = options.fixedAddresses ?? false;
  const leafCount = Math.ceil(nodes / nodesPerLeaf);

  const switches = [];
  for (let s = 1; s <= spineCount; s++) switches.push({ name: `spine${s}` });
  for (let l = 1; l <= leafCount; l++) switches.push({ name: `leaf${l}` });

  const nodeSpecs = [];
  const links = [];
  for (let i = 1; i <= nodes; i++) {
    nodeSpecs.push(fixed ? { name: nodeName(i), ip: nodeIp(i), podCidr: nodeBlock(i) } : { name: nodeName(i), ip: nodeIp(i) });
    links.push({ between: [nodeName(i), `leaf${Math.ceil(i / nodesPerLeaf)}`] as [string, string], gbps: 25, latencyUs: 1 });
  }
  for (let l = 1; l <= leafCount; l++) {
    for (let s = 1; s <= spineCount; s++) links.push({ between: [`leaf${l}`, `spine${s}`] as [string, string], gbps: 100, latencyUs: 2 });
  }

  // Backends: a seeded Fisher-Yates shuffle of all pod indices; service k takes positions [kB, kB+B).
  const random = seededRandom(seed);
  const order = new Int32Array(podCount);
  for (let x = 0; x < podCount; x++) order[x] = x;
  for (let x = podCount - 1; x > 0; x--) {
    const y = Math.floor(random() * (x + 1));
    const t = order[x];
    order[x] = order[y];
    order[y] = t;
  }
  const serviceOfPod = new Int32Array(podCount).fill(-1);
  for (let k = 0; k < services; k++) {
    for (let b = 0; b < backendsPerService; b++) serviceOfPod[order[k * backendsPerService + b]] = k;
  }

  const pods: PodSpec[] = [];
  for (let i = 1; i <= nodes; i++) {
    const blockBase = intOf('10.0.0.0') + (i - 1) * 256;
    for (let j = 0; j < podsPerNode; j++) {
      const index = (i - 1) * podsPerNode + j;
      const k = serviceOfPod[index];
      const pod: PodSpec = { name: podName(i, j), node: nodeName(i), labels: { app: k >= 0 ? serviceName(k) : 'idle' }, hostPorts: [] };
      if (fixed) pod.ip = ipOf(blockBase + 2 + j);
      pods.push(pod);
    }
  }
  const serviceSpecs: ServiceSpec[] = [];
  for (let k = 0; k < services; k++) {
    const svc: ServiceSpec = { name: serviceName(k), selector: { app: serviceName(k) }, port: SERVICE_PORT, targetPort: SERVICE_TARGET_PORT, protocol: 'tcp' };
    if (fixed) svc.ip = ipOf(intOf('10.128.0.0') + 2 + k);
    serviceSpecs.push(svc);
  }

  const mode = options.mode ?? 'routed';
  return {
    name: options.name ?? `bench-n${nodes}-p${podsPerNode}-s${services}-b${backendsPerService}`,
    seed,
    cluster: {
      mode,
      encap: 'vxlan',
      podCidr: BENCH_POD_CIDR,
      nodeMaskLen: 24,
      serviceCidr: BENCH_SERVICE_CIDR,
      isolation: false,
      allow: [],
      rebalance: [],
    },
    fabric: {
      switches,
      nodes: nodeSpecs,
      links,
      externals: [{ name: 'internet', ip: BENCH_EXTERNAL_IP, attach: 'spine1' }],
    },
    pods,
    services: serviceSpecs,
    traffic: [],
    events: [],
    expect: [],
  };
}
