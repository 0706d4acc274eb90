/**
 * Probes: real packet exchanges between hosts, as the expectations need them. A pod first ARPs for
 * its gateway, then sends the IP packet (ICMP echo, or TCP SYN to a port); the host that owns the
 * destination address answers (echo reply, SYN-ACK), after ARPing for its own gateway when it is a
 * pod; the reply must come back to the sender with the addresses the sender used (un-NAT).
 */
import { Host, SimNetwork, WalkResult } from './network';
import { BROADCAST_MAC, Packet, S, TCP_ACK, ZERO_MAC, arpPacket, intToIp, ipToU32, ipv4Packet, macToString } from './packet';

export interface ProbeSpec {
  proto: 'tcp' | 'udp' | 'icmp';
  dstIp: string;
  dstPort?: number;
  srcPort?: number;
  icmpId?: number;
}

export interface ProbeResult {
  /** the reply came back to the sender with the expected addresses */
  ok: boolean;
  /** the host that accepted the request */
  acceptedBy?: Host;
  /** source address and port the accepting host saw */
  seenSrc?: string;
  seenSrcPort?: number;
  /** switches the request crossed, in order */
  path: string[];
  /** switches the reply crossed */
  replyPath: string[];
  walks: { label: string; walk: WalkResult }[];
  detail: string;
  /** the packet as the sender sent it (for keep-alive / follow-up packets) */
  request?: Packet;
  gatewayMac?: string;
}

function whyDropped(w: WalkResult): string {
  const reasons: string[] = [];
  for (const p of w.passes) if (p.verdict === 'dropped') reasons.push(`${p.switch}: ${p.dropReason ?? 'dropped'}`);
  reasons.push(...w.drops);
  return reasons.length ? reasons.slice(0, 3).join('; ') : 'nothing delivered';
}

/** switches a walk crossed, in order; a tunnel hop shows its underlay as "(tunnel: a,b,c)" */
function switchesOf(w: WalkResult): string[] {
  const outer = new Set<number>();
  for (const t of w.tunnels) for (const i of t.passes) outer.add(i);
  const seen: string[] = [];
  for (const [i, p] of w.passes.entries()) {
    if (outer.has(i)) continue;
    const last = seen[seen.length - 1];
    if (last === p.switch) continue;
    const tun = last ? w.tunnels.find((t) => t.from === last && t.to === p.switch && t.decapsulated) : undefined;
    if (tun && tun.underlay.length > 2) seen.push(`(tunnel: ${tun.underlay.slice(1, -1).join(',')})`);
    seen.push(p.switch);
  }
  return seen;
}

/** ARP for `targetIp` from a host: the answering MAC, or undefined */
export function arpResolve(net: SimNetwork, host: Host, targetIp: string, nowUs: number, trace: boolean, walks?: ProbeResult['walks']): string | undefined {
  const req = arpPacket({ op: 1, ethSrc: host.mac, ethDst: BROADCAST_MAC, sha: host.mac, spa: host.ipU32, tha: ZERO_MAC, tpa: targetIp });
  const w = net.send(host, req, nowUs, trace);
  walks?.push({ label: `${host.name} arp who-has ${targetIp}`, walk: w });
  const tpa = ipToU32(targetIp);
  for (const d of w.delivered) {
    if (d.host.name === host.name && d.packet.isArp && d.packet.u32(S.arp_op) === 2 && d.packet.u32(S.arp_spa) === tpa) {
      return macToString(d.packet.get('arp_sha'));
    }
  }
  // the target may be a host on the same segment that answers itself
  for (const d of w.delivered) {
    const reply = net.answer(d.host, d.packet);
    if (reply) {
      const back = net.send(d.host, reply, nowUs, trace);
      walks?.push({ label: `${d.host.name} arp reply`, walk: back });
      for (const r of back.delivered) if (r.host.name === host.name && r.packet.isArp) return macToString(r.packet.get('arp_sha'));
    }
  }
  return undefined;
}

/** the next-hop MAC a host sends to: a pod ARPs for its gateway; an external uses its router */
export function nextHopMac(net: SimNetwork, host: Host, nowUs: number, trace: boolean, walks?: ProbeResult['walks']): string | undefined {
  if (host.kind === 'pod') return host.gatewayIp ? arpResolve(net, host, host.gatewayIp, nowUs, trace, walks) : undefined;
  return net.state.switches.get(host.switch)?.routerMac;
}

export function probe(net: SimNetwork, from: Host, spec: ProbeSpec, nowUs: number, trace = true): ProbeResult {
  const walks: ProbeResult['walks'] = [];
  const gwMac = nextHopMac(net, from, nowUs, trace, walks);
  if (!gwMac) {
    return { ok: false, path: [], replyPath: [], walks, detail: `${from.name}: ARP for its gateway ${from.gatewayIp ?? ''} got no answer (${walks[0] ? whyDropped(walks[0].walk) : 'no walk'})` };
  }
  const request = ipv4Packet({
    ethSrc: from.mac,
    ethDst: gwMac,
    ipSrc: from.ipU32,
    ipDst: spec.dstIp,
    l4:
      spec.proto === 'icmp'
        ? { proto: 'icmp', icmpType: 8, icmpId: spec.icmpId ?? 1 }
        : { proto: spec.proto, srcPort: spec.srcPort ?? 40000, dstPort: spec.dstPort ?? 0 },
  });
  const w = net.send(from, request, nowUs, trace);
  walks.push({ label: `${from.name} -> ${spec.dstIp} request`, walk: w });
  const path = switchesOf(w);
  let responder: Host | undefined;
  let received: Packet | undefined;
  for (const d of w.delivered) {
    if (d.packet.isIp && d.packet.u32(S.ipv4_dst) === d.host.ipU32) {
      responder = d.host;
      received = d.packet;
      break;
    }
  }
  if (!responder || !received) {
    const wrong = w.delivered.find((d) => d.packet.isIp);
    const why = wrong ? `delivered to ${wrong.host.name} addressed to ${intToIp(wrong.packet.u32(S.ipv4_dst))}` : whyDropped(w);
    return { ok: false, path, replyPath: [], walks, detail: `request not delivered: ${why}`, request, gatewayMac: gwMac };
  }
  const seenSrc = intToIp(received.u32(S.ipv4_src));
  const seenSrcPort = received.l4Src;
  const base = { acceptedBy: responder, seenSrc, seenSrcPort, path, request, gatewayMac: gwMac };
  if (spec.proto === 'udp') {
    // UDP has no answer in our hosts: delivery is the outcome
    return { ok: true, ...base, replyPath: [], walks, detail: `delivered to ${responder.name}` };
  }
  // the responder replies through its own next hop: a pod ARPs for its gateway, an external
  // answers the MAC the request came from
  const replyMac = responder.kind === 'pod' ? nextHopMac(net, responder, nowUs, trace, walks) : macToString(received.get('eth_src'));
  if (!replyMac) return { ok: false, ...base, replyPath: [], walks, detail: `${responder.name}: ARP for its gateway got no answer` };
  const reply = net.answer(responder, received, replyMac);
  if (!reply) return { ok: false, ...base, replyPath: [], walks, detail: `${responder.name} does not answer ${received.summary()}` };
  const rw = net.send(responder, reply, nowUs, trace);
  walks.push({ label: `${responder.name} reply`, walk: rw });
  const replyPath = switchesOf(rw);
  const dstIpU32 = ipToU32(spec.dstIp);
  for (const d of rw.delivered) {
    if (d.host.name !== from.name || !d.packet.isIp) continue;
    const p = d.packet;
    const srcOk = p.u32(S.ipv4_src) === dstIpU32 && p.u32(S.ipv4_dst) === from.ipU32;
    const portsOk = spec.proto === 'icmp' ? p.icmpId === (spec.icmpId ?? 1) : p.l4Src === (spec.dstPort ?? 0) && p.l4Dst === (spec.srcPort ?? 40000);
    if (srcOk && portsOk) return { ok: true, ...base, replyPath, walks, detail: `${from.name} -> ${spec.dstIp} via ${path.join(',')}` };
    return { ok: false, ...base, replyPath, walks, detail: `reply came back as ${p.summary()} (expected from ${spec.dstIp}): NAT not undone` };
  }
  return { ok: false, ...base, replyPath, walks, detail: `reply from ${responder.name} lost: ${whyDropped(rw)}` };
}

/** a follow-up packet of an established TCP connection (ACK): which host receives it */
export function followUp(net: SimNetwork, from: Host, first: ProbeResult, nowUs: number, trace = false): Host | undefined {
  if (!first.request || !first.gatewayMac) return undefined;
  const pkt = first.request.clone();
  pkt.tcpFlags = TCP_ACK;
  const w = net.send(from, pkt, nowUs, trace);
  for (const d of w.delivered) if (d.packet.isIp && d.packet.u32(S.ipv4_dst) === d.host.ipU32) return d.host;
  return undefined;
}
