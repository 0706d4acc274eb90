/**
 * The simulated network: one SimSwitch per switch of the cluster state, wired by the state's ports.
 * Links carry packets between switch ports (with latency; a down link, or a down switch at either
 * end, drops them). Pods and externals are hosts: they answer ARP for their address and ICMP echo,
 * accept TCP on any port (SYN -> SYN-ACK) and record what they receive (e.g. the source address an
 * external host sees). Tunnel ports carry a packet across the underlay to the node whose IP is the
 * packet's tun_dst (see docs/simulator.md "Overlay").
 *
 * The network reads the *physical* cluster state (what is true now); the controller has its own view.
 */
import type { ClusterState, PortState } from '../topology/types';
import { OFPP } from '../fabric/openflow/flow';
import { macFromIp } from '../topology/ip';
import { Packet, S, TCP_ACK, TCP_SYN, arpPacket, ipToU32, ipv4Packet, macToBigint, macToString, intToIp, BROADCAST_MAC } from './packet';
import { SimSwitch, SwitchPass } from './switch';

export type HostKind = 'pod' | 'external' | 'node';

export interface Host {
  name: string;
  kind: HostKind;
  ip: string;
  ipU32: number;
  mac: string;
  /** where the host is plugged in */
  switch: string;
  port: number;
  /** pods: their node's gateway */
  gatewayIp?: string;
}

/** a directed link crossing: packets went from switch `from` to switch `to` */
export interface LinkCrossing {
  linkId: string;
  from: string;
  to: string;
}

export interface Delivery {
  host: Host;
  packet: Packet;
  atUs: number;
}

export interface WalkResult {
  passes: SwitchPass[];
  crossings: LinkCrossing[];
  delivered: Delivery[];
  /** why packets vanished outside switches (link down, no host, loop ...) */
  drops: string[];
  /** latency of the first delivery, in µs (undefined if nothing was delivered) */
  firstDeliveryUs?: number;
  /** tunnel crossings: which node sent to which, over which underlay switches */
  tunnels: { from: string; to: string; underlay: string[]; tunDst: string; tunnelId: bigint }[];
}

const MAX_SWITCH_PASSES = 128;
const UNDERLAY_LATENCY_US = 1;

export class SimNetwork {
  readonly switches = new Map<string, SimSwitch>();
  /** hosts by name, and by (switch|port) */
  private hostsByName = new Map<string, Host>();
  private hostsByPort = new Map<string, Host>();
  private portsBySwitch = new Map<string, Map<number, PortState>>();
  private nodeByIp = new Map<number, string>();

  constructor(public state: ClusterState) {
    this.sync();
  }

  /** the SimSwitch of a switch, created on first use */
  switch(name: string): SimSwitch {
    let sw = this.switches.get(name);
    if (!sw) {
      const st = this.state.switches.get(name);
      sw = new SimSwitch(name, st?.datapathId ?? '0000000000000000');
      sw.setOptions({ isPortLive: (p) => this.isPortLive(name, p), ports: () => [...(this.portsBySwitch.get(name)?.keys() ?? [])] });
      this.switches.set(name, sw);
    }
    return sw;
  }

  /** a switch lost everything (node power cycle): a blank switch takes its place */
  resetSwitch(name: string): SimSwitch {
    this.switches.delete(name);
    return this.switch(name);
  }

  /** re-read ports and hosts from the state (after every applied event) */
  sync(): void {
    this.hostsByName.clear();
    this.hostsByPort.clear();
    this.portsBySwitch.clear();
    this.nodeByIp.clear();
    for (const n of this.state.nodes.values()) this.nodeByIp.set(ipToU32(n.ip), n.name);
    for (const sw of this.state.switches.values()) {
      this.switch(sw.name);
      const ports = new Map<number, PortState>();
      for (const p of sw.ports) {
        ports.set(p.port, p);
        let host: Host | undefined;
        if (p.kind === 'pod') {
          const pod = this.state.pods.get(p.pod);
          if (pod) {
            const node = this.state.nodes.get(pod.node);
            host = { name: pod.name, kind: 'pod', ip: pod.ip, ipU32: ipToU32(pod.ip), mac: pod.mac, switch: sw.name, port: p.port, gatewayIp: node?.gatewayIp };
          }
        } else if (p.kind === 'external') {
          const ext = this.state.externals.get(p.external);
          if (ext) host = { name: ext.name, kind: 'external', ip: ext.ip, ipU32: ipToU32(ext.ip), mac: ext.mac, switch: sw.name, port: p.port };
        }
        if (host) {
          this.hostsByName.set(host.name, host);
          this.hostsByPort.set(`${sw.name}|${p.port}`, host);
        }
      }
      this.portsBySwitch.set(sw.name, ports);
      const node = sw.role === 'node' ? this.state.nodes.get(sw.name) : undefined;
      if (node) {
        // the node's own stack sits behind the bridge's LOCAL port, with a MAC derived from its IP
        const host: Host = { name: node.name, kind: 'node', ip: node.ip, ipU32: ipToU32(node.ip), mac: macFromIp(node.ip), switch: sw.name, port: OFPP.LOCAL };
        this.hostsByName.set(host.name, host);
        this.hostsByPort.set(`${sw.name}|${OFPP.LOCAL}`, host);
      }
    }
  }

  host(name: string): Host | undefined {
    return this.hostsByName.get(name);
  }

  hosts(): Host[] {
    return [...this.hostsByName.values()];
  }

  port(sw: string, port: number): PortState | undefined {
    return this.portsBySwitch.get(sw)?.get(port);
  }

  switchUp(name: string): boolean {
    return this.state.switches.get(name)?.up ?? false;
  }

  /** a port is live when its switch is up and, for links, the link and the peer switch are up */
  isPortLive(sw: string, port: number): boolean {
    if (!this.switchUp(sw)) return false;
    if (port === OFPP.LOCAL) return true;
    const p = this.port(sw, port);
    if (!p) return false;
    if (p.kind === 'link') return (this.state.links.get(p.linkId)?.up ?? false) && this.switchUp(p.peerSwitch);
    return true;
  }

  /**
   * Carry a packet from `host` into the fabric at virtual time nowUs and follow it until every copy
   * is delivered to a host or dropped. Hosts do not answer here: see `answer`.
   */
  send(host: Host, pkt: Packet, nowUs: number, trace = true): WalkResult {
    return this.inject(host.switch, host.port, pkt, nowUs, trace);
  }

  inject(switchName: string, inPort: number, pkt: Packet, nowUs: number, trace = true): WalkResult {
    const result: WalkResult = { passes: [], crossings: [], delivered: [], drops: [], tunnels: [] };
    const queue: Array<{ sw: string; port: number; pkt: Packet; atUs: number; owned: boolean }> = [{ sw: switchName, port: inPort, pkt, atUs: nowUs, owned: false }];
    let passes = 0;
    while (queue.length > 0) {
      const item = queue.shift()!;
      if (!this.switchUp(item.sw)) {
        result.drops.push(`${item.sw} is down`);
        continue;
      }
      if (++passes > MAX_SWITCH_PASSES) {
        result.drops.push(`more than ${MAX_SWITCH_PASSES} switch passes: forwarding loop`);
        break;
      }
      // packets in the queue are copies made by the previous switch: without a trace nobody else
      // holds them, so no defensive copy; with a trace, the previous pass's outputs must stay as sent
      const pass = this.switch(item.sw).process(item.pkt, item.port, item.atUs, trace, item.owned);
      result.passes.push(pass);
      for (const out of pass.outputs) {
        if (out.port === OFPP.LOCAL) {
          const host = this.hostsByPort.get(`${item.sw}|${OFPP.LOCAL}`);
          if (!host) {
            result.drops.push(`${item.sw}: output to LOCAL: no node stack behind it`);
            continue;
          }
          result.delivered.push({ host, packet: out.packet.stripToWire(), atUs: item.atUs });
          result.firstDeliveryUs ??= item.atUs - nowUs;
          continue;
        }
        const p = this.port(item.sw, out.port);
        if (!p) {
          result.drops.push(`${item.sw}: output to port ${out.port} which does not exist`);
          continue;
        }
        if (p.kind === 'link') {
          const link = this.state.links.get(p.linkId);
          if (!link || !link.up) {
            result.drops.push(`${item.sw}:${out.port}: link ${p.linkId} is down`);
            continue;
          }
          result.crossings.push({ linkId: p.linkId, from: item.sw, to: p.peerSwitch });
          queue.push({ sw: p.peerSwitch, port: p.peerPort, pkt: out.packet.stripToWire(), atUs: item.atUs + link.latencyUs, owned: !trace });
        } else if (p.kind === 'pod' || p.kind === 'external') {
          const host = this.hostsByPort.get(`${item.sw}|${out.port}`);
          if (!host) {
            result.drops.push(`${item.sw}:${out.port}: no host attached`);
            continue;
          }
          result.delivered.push({ host, packet: out.packet.stripToWire(), atUs: item.atUs });
          result.firstDeliveryUs ??= item.atUs - nowUs;
        } else if (p.kind === 'tunnel') {
          const tunDst = out.packet.u32(S.tun_ipv4_dst);
          const remote = this.nodeByIp.get(tunDst);
          const local = this.state.nodes.get(item.sw);
          if (!remote || !local) {
            result.drops.push(`${item.sw}: tunnel to ${intToIp(tunDst)}: no node has that IP`);
            continue;
          }
          const rport = this.state.switches.get(remote)?.ports.find((x) => x.kind === 'tunnel');
          if (!rport) {
            result.drops.push(`${item.sw}: tunnel to ${remote}: it has no tunnel port`);
            continue;
          }
          const path = this.underlayPath(item.sw, remote);
          if (!path) {
            result.drops.push(`${item.sw}: tunnel to ${remote}: no underlay path`);
            continue;
          }
          let latency = UNDERLAY_LATENCY_US;
          for (let i = 0; i + 1 < path.length; i++) {
            const l = this.linkBetween(path[i]!, path[i + 1]!);
            if (l) {
              result.crossings.push({ linkId: l.id, from: path[i]!, to: path[i + 1]! });
              latency += l.latencyUs;
            }
          }
          result.tunnels.push({ from: item.sw, to: remote, underlay: path, tunDst: intToIp(tunDst), tunnelId: out.packet.get('tunnel_id') });
          const inner = out.packet.stripToWire(true);
          inner.key[S.tun_ipv4_src] = ipToU32(local.ip) | 0;
          inner.key[S.tun_ipv4_dst] = tunDst | 0;
          queue.push({ sw: remote, port: rport.port, pkt: inner, atUs: item.atUs + latency, owned: !trace });
        } else {
          result.drops.push(`${item.sw}:${out.port}: ${p.kind} port is not modelled`);
        }
      }
      for (const _ of pass.toController) result.drops.push(`${item.sw}: packet-in to the controller (not answered in the simulation)`);
    }
    return result;
  }

  private linkBetween(a: string, b: string): { id: string; latencyUs: number } | undefined {
    for (const l of this.state.links.values()) if (l.up && ((l.a === a && l.b === b) || (l.a === b && l.b === a))) return l;
    return undefined;
  }

  /** shortest path by hops over up links and up switches, ties broken by name order (BFS) */
  underlayPath(from: string, to: string): string[] | undefined {
    if (!this.switchUp(from) || !this.switchUp(to)) return undefined;
    const adj = new Map<string, string[]>();
    for (const l of this.state.links.values()) {
      if (!l.up || !this.switchUp(l.a) || !this.switchUp(l.b)) continue;
      (adj.get(l.a) ?? adj.set(l.a, []).get(l.a)!).push(l.b);
      (adj.get(l.b) ?? adj.set(l.b, []).get(l.b)!).push(l.a);
    }
    const prev = new Map<string, string>([[from, from]]);
    const q = [from];
    while (q.length > 0) {
      const v = q.shift()!;
      if (v === to) break;
      for (const n of (adj.get(v) ?? []).sort()) {
        if (prev.has(n)) continue;
        // node switches do not transit underlay traffic for others
        if (n !== to && this.state.switches.get(n)?.role === 'node') continue;
        prev.set(n, v);
        q.push(n);
      }
    }
    if (!prev.has(to)) return undefined;
    const path = [to];
    while (path[0] !== from) path.unshift(prev.get(path[0]!)!);
    return path;
  }

  /**
   * What a host sends back for a packet it received, or undefined: ARP reply for its address, ICMP
   * echo reply, SYN-ACK for a TCP SYN (any port). `dstMac` is where the reply frame goes.
   */
  answer(host: Host, pkt: Packet, dstMac?: string): Packet | undefined {
    const mac = macToBigint(host.mac);
    const ethDst = pkt.get('eth_dst');
    const bcast = macToBigint(BROADCAST_MAC);
    if (pkt.isArp) {
      if (pkt.u32(S.arp_op) !== 1 || pkt.u32(S.arp_tpa) !== host.ipU32) return undefined;
      const sha = macToString(pkt.get('arp_sha'));
      return arpPacket({ op: 2, ethSrc: host.mac, ethDst: sha, sha: host.mac, spa: host.ipU32, tha: sha, tpa: pkt.u32(S.arp_spa) });
    }
    if (!pkt.isIp || (ethDst !== mac && ethDst !== bcast) || pkt.u32(S.ipv4_dst) !== host.ipU32) return undefined;
    const replyMac = dstMac ?? macToString(pkt.get('eth_src'));
    const base = { ethSrc: host.mac, ethDst: replyMac, ipSrc: host.ipU32, ipDst: pkt.u32(S.ipv4_src) };
    const proto = pkt.ipProto;
    if (proto === 1 && pkt.u32(S.icmpv4_type) === 8) {
      return ipv4Packet({ ...base, l4: { proto: 'icmp', icmpType: 0, icmpId: pkt.icmpId } });
    }
    if (proto === 6 && pkt.tcpFlags & TCP_SYN && !(pkt.tcpFlags & TCP_ACK)) {
      return ipv4Packet({ ...base, l4: { proto: 'tcp', srcPort: pkt.l4Dst, dstPort: pkt.l4Src, tcpFlags: TCP_SYN | TCP_ACK } });
    }
    return undefined;
  }

  /** the host with this IP, if any (pods first, then externals) */
  hostByIp(ip: string): Host | undefined {
    const n = ipToU32(ip);
    for (const h of this.hostsByName.values()) if (h.ipU32 === n && h.kind === 'pod') return h;
    for (const h of this.hostsByName.values()) if (h.ipU32 === n) return h;
    return undefined;
  }
}

export { OFPP };
