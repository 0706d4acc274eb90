/**
 * The simulated network: one SimSwitch per switch of the cluster state, wired by the state's ports.
 * Links carry packets between switch ports (with latency; a down link, or a down switch at either
 * end, drops them). Pods and externals are hosts: they answer ARP for their address and ICMP echo,
 * accept TCP on any port (SYN -> SYN-ACK) and record what they receive (e.g. the source address an
 * external host sees). Output to a tunnel port encapsulates, as OVS's tunnel port does: an outer
 * IPv4/UDP packet from the node IP to tun_dst enters the node's own bridge at LOCAL and crosses the
 * fabric through its flows like any node traffic; delivered to the remote node's LOCAL, it is
 * decapsulated into that node's tunnel port (see docs/simulator.md "Overlay").
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
  tunnels: TunnelCrossing[];
}

export interface TunnelCrossing {
  from: string;
  to: string;
  /** switches the outer packet passed, from the sending node's bridge to the receiving one's */
  underlay: string[];
  tunDst: string;
  tunnelId: bigint;
  /** indexes into `passes` of the outer packet's passes */
  passes: number[];
  /** false until the outer packet reached the remote node's tunnel port */
  decapsulated: boolean;
}

/** UDP destination port of each encapsulation (IANA: VXLAN 4789, Geneve 6081) */
export const ENCAP_UDP_PORT: Record<'vxlan' | 'geneve', number> = { vxlan: 4789, geneve: 6081 };
/** outer header bytes added: eth 14 + IPv4 20 + UDP 8 + VXLAN/Geneve 8 */
const ENCAP_OVERHEAD_BYTES = 50;

/**
 * The outer UDP source port: a hash of the inner flow into 32768..61000, as Linux and OVS do, so
 * equal-cost underlay paths spread tunnelled flows (deterministic: FNV-1a over the inner 5-tuple).
 */
export function tunnelSourcePort(inner: Packet): number {
  let h = 0x811c9dc5;
  for (const v of [inner.u32(S.ipv4_src), inner.u32(S.ipv4_dst), inner.ipProto, inner.l4Src, inner.l4Dst]) {
    for (let b = 0; b < 4; b++) {
      h ^= (v >>> (b * 8)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return 32768 + (h % (61000 - 32768 + 1));
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
    // `tunnel`: index into result.tunnels while the item is an outer (encapsulated) packet
    const queue: Array<{ sw: string; port: number; pkt: Packet; atUs: number; owned: boolean; tunnel?: number }> = [{ sw: switchName, port: inPort, pkt, atUs: nowUs, owned: false }];
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
      const tunnel = item.tunnel === undefined ? undefined : result.tunnels[item.tunnel];
      if (tunnel) {
        tunnel.passes.push(result.passes.length - 1);
        if (tunnel.underlay[tunnel.underlay.length - 1] !== item.sw) tunnel.underlay.push(item.sw);
      }
      for (const out of pass.outputs) {
        // outputs of an outer packet stay outer packets (the tunnel record follows them)
        const outTunnel = out.packet.inner ? item.tunnel : undefined;
        if (out.port === OFPP.LOCAL) {
          const host = this.hostsByPort.get(`${item.sw}|${OFPP.LOCAL}`);
          if (!host) {
            result.drops.push(`${item.sw}: output to LOCAL: no node stack behind it`);
            continue;
          }
          const decap = this.decapsulate(item.sw, out.packet);
          if (decap) {
            if (outTunnel !== undefined) {
              const t = result.tunnels[outTunnel]!;
              t.decapsulated = true;
              t.to = item.sw;
            }
            queue.push({ sw: item.sw, port: decap.port, pkt: decap.inner, atUs: item.atUs + UNDERLAY_LATENCY_US, owned: !trace });
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
          queue.push({ sw: p.peerSwitch, port: p.peerPort, pkt: out.packet.stripToWire(), atUs: item.atUs + link.latencyUs, owned: !trace, tunnel: outTunnel });
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
          const local = this.state.nodes.get(item.sw);
          if (!local) {
            result.drops.push(`${item.sw}: tunnel port on a switch that is not a node`);
            continue;
          }
          if (tunDst === 0) {
            result.drops.push(`${item.sw}: output to tunnel port ${out.port} without tun_dst`);
            continue;
          }
          // encapsulate: the pod's frame (with its tunnel metadata) inside IPv4/UDP from the node IP,
          // handed to the node's own stack side of the bridge (LOCAL) like OVS's tunnel route does
          const inner = out.packet.stripToWire(true);
          inner.key[S.tun_ipv4_src] = ipToU32(local.ip) | 0;
          const encap = this.state.cluster.encap === 'geneve' ? 'geneve' : 'vxlan';
          const outer = ipv4Packet({
            ethSrc: macFromIp(local.ip),
            ethDst: macFromIp(intToIp(tunDst)),
            ipSrc: local.ip,
            ipDst: tunDst,
            l4: { proto: 'udp', srcPort: tunnelSourcePort(inner), dstPort: ENCAP_UDP_PORT[encap] },
            sizeBytes: inner.sizeBytes + ENCAP_OVERHEAD_BYTES,
          });
          outer.inner = inner;
          outer.probe = inner.probe;
          const remote = this.nodeByIp.get(tunDst);
          result.tunnels.push({ from: item.sw, to: remote ?? intToIp(tunDst), underlay: [item.sw], tunDst: intToIp(tunDst), tunnelId: inner.get('tunnel_id'), passes: [], decapsulated: false });
          queue.push({ sw: item.sw, port: OFPP.LOCAL, pkt: outer, atUs: item.atUs + UNDERLAY_LATENCY_US, owned: !trace, tunnel: result.tunnels.length - 1 });
        } else {
          result.drops.push(`${item.sw}:${out.port}: ${p.kind} port is not modelled`);
        }
      }
      for (const _ of pass.toController) result.drops.push(`${item.sw}: packet-in to the controller (not answered in the simulation)`);
    }
    return result;
  }

  /**
   * A packet a node bridge outputs to LOCAL that is a tunnel packet for this node (UDP to the
   * encapsulation's port, to the node's IP, carrying a frame): the inner frame as the node's tunnel
   * port receives it (tun_src/tun_dst from the outer header), or undefined (delivered to the stack).
   */
  private decapsulate(sw: string, pkt: Packet): { inner: Packet; port: number } | undefined {
    if (!pkt.inner || !pkt.isIp || pkt.ipProto !== 17) return undefined;
    const node = this.state.nodes.get(sw);
    if (!node || pkt.u32(S.ipv4_dst) !== ipToU32(node.ip)) return undefined;
    const encap = this.state.cluster.encap === 'geneve' ? 'geneve' : 'vxlan';
    if (pkt.u32(S.udp_dst) !== ENCAP_UDP_PORT[encap]) return undefined;
    const tport = this.state.switches.get(sw)?.ports.find((x) => x.kind === 'tunnel');
    if (!tport) return undefined;
    const inner = pkt.inner.clone();
    inner.key[S.tun_ipv4_src] = pkt.key[S.ipv4_src]!;
    inner.key[S.tun_ipv4_dst] = pkt.key[S.ipv4_dst]!;
    return { inner, port: tport.port };
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
