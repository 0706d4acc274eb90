/**
 * IPAM: the address plan of a scenario — one block of `nodeMaskLen` from `podCidr` per node, one pod IP
 * per pod inside its node's block, one VIP per service from `serviceCidr`. Pure and deterministic: the
 * same scenario always gives the same plan, and adding a node or a pod never renumbers existing ones.
 *
 * Rules (docs/scenarios.md "Addresses"):
 * - node blocks: fixed `podCidr`s are claimed first; the other nodes, in file order, take the lowest
 *   free block. A new node therefore only takes a block nobody had.
 * - pod IPs: fixed IPs (of `pods` and of `pod: add` events) are claimed first; the others, in file
 *   order, take the lowest free address of their node's block, skipping the network address, the
 *   gateway (first usable, .1 of a /24) and the broadcast address.
 * - service VIPs: fixed ones first; the others take the lowest free address of `serviceCidr`, skipping
 *   the network address, the first usable address (reserved like the `kubernetes` service's 10.96.0.1)
 *   and the broadcast address.
 * Pods and services added by events are not in the plan: they get addresses when the event applies
 * (topology/cluster.ts), by the same rules, from what is free at that time.
 *
 * Hot loops work on integers and Sets of integers; strings are made once per address for the output.
 */
import type { Scenario } from './types';
import { type Cidr, cidrLast, cidrProblem, firstUsable, intToIp, ipToInt, isValidIp, parseCidr } from './ip';

export interface IpamPlan {
  nodes: Record<string, { podCidr: string; ip: string }>;
  pods: Record<string, string>;
  services: Record<string, string>;
}

/** An address pool is exhausted or a fixed address cannot be honoured. `path` locates the culprit. */
export class IpamError extends Error {
  override readonly name = 'IpamError';
  constructor(
    message: string,
    /** the pool: "podCidr 10.244.0.0/16", "node block 10.244.1.0/24 of node1", "serviceCidr ..." */
    readonly pool: string,
    /** scenario path of the value at fault ("pods/3/ip", "fabric/nodes/2") */
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Addresses of a node block that are never given to pods: network, gateway (first usable), broadcast. */
export function isReservedInBlock(block: Cidr, ip: number): boolean {
  return ip === block.network || ip === firstUsable(block) || (block.size >= 4 && ip === cidrLast(block));
}

/** Addresses of the service pool that are never given to services: network, first usable, broadcast. */
export function isReservedInServicePool(pool: Cidr, ip: number): boolean {
  return isReservedInBlock(pool, ip);
}

export function planAddresses(scenario: Scenario): IpamPlan {
  const podPool = parseCidr(scenario.cluster.podCidr);
  const nodeMaskLen = scenario.cluster.nodeMaskLen;
  const podPoolName = `podCidr ${scenario.cluster.podCidr}`;
  if (nodeMaskLen < podPool.prefixLen || nodeMaskLen > 32) {
    throw new IpamError(`nodeMaskLen /${nodeMaskLen} does not fit in ${podPoolName}`, podPoolName, 'cluster/nodeMaskLen');
  }
  const blockSize = 2 ** (32 - nodeMaskLen);
  const blockCount = podPool.size / blockSize;
  const nodes = scenario.fabric.nodes;

  // --- node blocks: fixed first, then the lowest free block in file order
  const blockIndexOfNode = new Array<number>(nodes.length).fill(-1);
  const takenBlocks = new Map<number, string>();
  nodes.forEach((node, i) => {
    if (node.podCidr === undefined) return;
    const problem = cidrProblem(node.podCidr);
    if (problem) throw new IpamError(`node ${node.name}: podCidr ${problem}`, podPoolName, `fabric/nodes/${i}/podCidr`);
    const block = parseCidr(node.podCidr);
    if (block.prefixLen !== nodeMaskLen || block.network < podPool.network || cidrLast(block) > cidrLast(podPool)) {
      throw new IpamError(`node ${node.name}: podCidr ${node.podCidr} is not a /${nodeMaskLen} inside ${podPoolName}`, podPoolName, `fabric/nodes/${i}/podCidr`);
    }
    const index = (block.network - podPool.network) / blockSize;
    const owner = takenBlocks.get(index);
    if (owner !== undefined) {
      throw new IpamError(`node ${node.name}: podCidr ${node.podCidr} is already the block of node ${owner}`, podPoolName, `fabric/nodes/${i}/podCidr`);
    }
    takenBlocks.set(index, node.name);
    blockIndexOfNode[i] = index;
  });
  let nextBlock = 0;
  nodes.forEach((node, i) => {
    if (blockIndexOfNode[i] >= 0) return;
    while (takenBlocks.has(nextBlock)) nextBlock++;
    if (nextBlock >= blockCount) {
      throw new IpamError(
        `${podPoolName} is exhausted: no free /${nodeMaskLen} block left for node ${node.name} (${blockCount} blocks)`,
        podPoolName,
        `fabric/nodes/${i}`,
      );
    }
    takenBlocks.set(nextBlock, node.name);
    blockIndexOfNode[i] = nextBlock++;
  });
  const nodeIndex = new Map<string, number>();
  nodes.forEach((n, i) => nodeIndex.set(n.name, i));
  const blockOf = (i: number): Cidr => ({ network: podPool.network + blockIndexOfNode[i] * blockSize, prefixLen: nodeMaskLen, size: blockSize });
  const blockName = (i: number): string => `node block ${intToIp(blockOf(i).network)}/${nodeMaskLen} of ${nodes[i].name}`;

  // --- pod IPs: every fixed address (initial pods and pod-add events) is claimed before any is handed out
  const takenPodIps = new Map<number, string>();
  const claimFixedPod = (name: string, nodeName: string, ip: string, path: string): number => {
    const i = nodeIndex.get(nodeName);
    if (i === undefined) throw new IpamError(`pod ${name}: unknown node ${nodeName}`, podPoolName, path);
    if (!isValidIp(ip)) throw new IpamError(`pod ${name}: '${ip}' is not an IPv4 address`, blockName(i), path);
    const n = ipToInt(ip);
    const block = blockOf(i);
    if (n < block.network || n > cidrLast(block)) {
      throw new IpamError(`pod ${name}: ip ${ip} is outside ${blockName(i)}`, blockName(i), path);
    }
    if (isReservedInBlock(block, n)) {
      throw new IpamError(`pod ${name}: ip ${ip} is reserved in ${blockName(i)} (network, gateway or broadcast)`, blockName(i), path);
    }
    return n;
  };
  scenario.pods.forEach((pod, p) => {
    if (pod.ip === undefined) return;
    const n = claimFixedPod(pod.name, pod.node, pod.ip, `pods/${p}/ip`);
    const owner = takenPodIps.get(n);
    if (owner !== undefined) throw new IpamError(`pod ${pod.name}: ip ${pod.ip} is already taken by pod ${owner}`, podPoolName, `pods/${p}/ip`);
    takenPodIps.set(n, pod.name);
  });
  // Fixed IPs of pods added later are kept free so that the event can honour them. Two events may
  // reuse an address at different times (after a delete); the cluster model checks them when they apply.
  const reservedForEvents = new Set<number>();
  scenario.events.forEach((ev, e) => {
    if (ev.kind === 'pod' && ev.action === 'add' && ev.ip !== undefined && nodeIndex.has(ev.node) && isValidIp(ev.ip)) {
      const n = ipToInt(ev.ip);
      const i = nodeIndex.get(ev.node)!;
      const block = blockOf(i);
      if (n >= block.network && n <= cidrLast(block) && !isReservedInBlock(block, n)) reservedForEvents.add(n);
      else claimFixedPod(ev.name, ev.node, ev.ip, `events/${e}/ip`); // throws the precise reason
    }
  });

  const cursorOfNode = new Array<number>(nodes.length).fill(-1);
  const pods: Record<string, string> = {};
  scenario.pods.forEach((pod, p) => {
    if (pod.ip !== undefined) {
      pods[pod.name] = pod.ip;
      return;
    }
    const i = nodeIndex.get(pod.node);
    if (i === undefined) throw new IpamError(`pod ${pod.name}: unknown node ${pod.node}`, podPoolName, `pods/${p}/node`);
    const block = blockOf(i);
    const last = block.size >= 4 ? cidrLast(block) - 1 : cidrLast(block);
    let cursor = cursorOfNode[i] < 0 ? firstUsable(block) + 1 : cursorOfNode[i];
    while (cursor <= last && (takenPodIps.has(cursor) || reservedForEvents.has(cursor))) cursor++;
    if (cursor > last) {
      throw new IpamError(`${blockName(i)} is exhausted: no address left for pod ${pod.name}`, blockName(i), `pods/${p}`);
    }
    pods[pod.name] = intToIp(cursor);
    cursorOfNode[i] = cursor + 1;
  });

  // --- service VIPs
  const servicePool = parseCidr(scenario.cluster.serviceCidr);
  const servicePoolName = `serviceCidr ${scenario.cluster.serviceCidr}`;
  const takenVips = new Map<number, string>();
  const claimFixedVip = (name: string, ip: string, path: string): number => {
    if (!isValidIp(ip)) throw new IpamError(`service ${name}: '${ip}' is not an IPv4 address`, servicePoolName, path);
    const n = ipToInt(ip);
    if (n < servicePool.network || n > cidrLast(servicePool)) {
      throw new IpamError(`service ${name}: ip ${ip} is outside ${servicePoolName}`, servicePoolName, path);
    }
    if (isReservedInServicePool(servicePool, n)) {
      throw new IpamError(`service ${name}: ip ${ip} is reserved in ${servicePoolName} (network, first address or broadcast)`, servicePoolName, path);
    }
    return n;
  };
  scenario.services.forEach((svc, s) => {
    if (svc.ip === undefined) return;
    const n = claimFixedVip(svc.name, svc.ip, `services/${s}/ip`);
    const owner = takenVips.get(n);
    if (owner !== undefined) throw new IpamError(`service ${svc.name}: ip ${svc.ip} is already taken by service ${owner}`, servicePoolName, `services/${s}/ip`);
    takenVips.set(n, svc.name);
  });
  scenario.events.forEach((ev, e) => {
    if (ev.kind === 'service' && ev.action === 'add' && ev.service.ip !== undefined) {
      reservedForEvents.add(claimFixedVip(ev.service.name, ev.service.ip, `events/${e}/ip`));
    }
  });
  const services: Record<string, string> = {};
  const lastVip = servicePool.size >= 4 ? cidrLast(servicePool) - 1 : cidrLast(servicePool);
  let vipCursor = firstUsable(servicePool) + 1;
  scenario.services.forEach((svc, s) => {
    if (svc.ip !== undefined) {
      services[svc.name] = svc.ip;
      return;
    }
    while (vipCursor <= lastVip && (takenVips.has(vipCursor) || reservedForEvents.has(vipCursor))) vipCursor++;
    if (vipCursor > lastVip) {
      throw new IpamError(`${servicePoolName} is exhausted: no address left for service ${svc.name}`, servicePoolName, `services/${s}`);
    }
    services[svc.name] = intToIp(vipCursor++);
  });

  const planNodes: Record<string, { podCidr: string; ip: string }> = {};
  nodes.forEach((node, i) => {
    planNodes[node.name] = { podCidr: `${intToIp(blockOf(i).network)}/${nodeMaskLen}`, ip: node.ip };
  });
  return { nodes: planNodes, pods, services };
}
