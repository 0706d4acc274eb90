/**
 * A symbolic walk of one IPv4 destination through compiled plans, for the routing properties: at each
 * switch, the highest-priority l3_forwarding flow matching the destination decides; a group fans out
 * to its live buckets (select: every live bucket, fast-failover: the first live one, indirect: its
 * bucket); reg1 + l2_output name the port; the port's peer is the next switch. The packet walk with
 * conntrack and NAT is the simulator's job; this checks the route tables only.
 */
import type { FabricPlan } from '../../controller';
import { TABLE } from '../../controller/pipeline';
import type { Action, Flow, Group, SwitchPlan } from '../../fabric/openflow/flow';
import { OFPP } from '../../fabric/openflow/flow';
import { ipToInt } from '../../topology';
import type { ClusterState } from '../../topology/types';

export type WalkEnd =
  | { kind: 'delivered'; switch: string; port: number }
  | { kind: 'drop'; switch: string; why: string }
  | { kind: 'loop'; path: string[] }
  | { kind: 'tunnel'; switch: string; remoteIp: string };

function l3Lookup(sp: SwitchPlan, ip: number): Flow | undefined {
  let best: Flow | undefined;
  for (const f of sp.flows) {
    if (f.table !== TABLE.l3_forwarding) continue;
    if (f.match.eth_type && f.match.eth_type.value !== 0x800n) continue;
    const m = f.match.ipv4_dst;
    if (m) {
      const mask = m.mask ?? 0xffffffffn;
      if ((BigInt(ip >>> 0) & mask) !== m.value) continue;
    }
    if (!best || f.priority > best.priority) best = f;
  }
  return best;
}

function portLive(state: ClusterState, sw: string, port: number): boolean {
  const p = state.switches.get(sw)!.ports.find((x) => x.port === port);
  if (!p) return false;
  if (p.kind !== 'link') return true;
  return !!state.links.get(p.linkId)?.up && !!state.switches.get(p.peerSwitch)?.up;
}

function outPorts(state: ClusterState, sw: string, sp: SwitchPlan, flow: Flow): { ports: number[]; tunnel?: string; why?: string } {
  const actions: Action[] = flow.instructions.apply ?? [];
  let reg1: number | undefined;
  let tunDst: string | undefined;
  for (const a of actions) {
    if (a.type === 'set_field' && a.field === 'reg1') reg1 = Number(a.value);
    if (a.type === 'set_field' && a.field === 'tun_ipv4_dst') {
      const n = Number(a.value);
      tunDst = [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    }
    if (a.type === 'group') {
      const g: Group | undefined = sp.groups.find((x) => x.groupId === a.groupId);
      if (!g) return { ports: [], why: `missing group ${a.groupId}` };
      const live = g.buckets.filter((b) => b.watchPort === undefined || portLive(state, sw, b.watchPort));
      const chosen = g.type === 'ff' ? live.slice(0, 1) : g.type === 'indirect' ? g.buckets.slice(0, 1) : live;
      const ports: number[] = [];
      for (const b of chosen) for (const x of b.actions) if (x.type === 'output') ports.push(x.port);
      return { ports, why: ports.length ? undefined : 'no live bucket' };
    }
  }
  if (tunDst) return { ports: [], tunnel: tunDst };
  if (reg1 === undefined) return { ports: [], why: 'dropped by l3_forwarding' };
  return { ports: [reg1] };
}

/** Every end a packet to `ip` entering `start` can reach (ECMP explores every bucket). */
export function walk(state: ClusterState, plan: FabricPlan, start: string, ip: string, maxHops = 32): WalkEnd[] {
  const dst = ipToInt(ip);
  const ends: WalkEnd[] = [];
  const visit = (sw: string, path: string[]) => {
    if (path.includes(sw) || path.length > maxHops) {
      ends.push({ kind: 'loop', path: [...path, sw] });
      return;
    }
    const sp = plan.get(sw)!;
    const flow = l3Lookup(sp, dst);
    if (!flow) {
      ends.push({ kind: 'drop', switch: sw, why: 'no route' });
      return;
    }
    const out = outPorts(state, sw, sp, flow);
    if (out.tunnel) {
      ends.push({ kind: 'tunnel', switch: sw, remoteIp: out.tunnel });
      return;
    }
    if (!out.ports.length) {
      ends.push({ kind: 'drop', switch: sw, why: out.why ?? 'no port' });
      return;
    }
    for (const port of out.ports) {
      const p = state.switches.get(sw)!.ports.find((x) => x.port === port);
      if (port === OFPP.LOCAL || !p || p.kind !== 'link') {
        ends.push({ kind: 'delivered', switch: sw, port });
        continue;
      }
      if (!portLive(state, sw, port)) {
        ends.push({ kind: 'drop', switch: sw, why: `port ${port} down` });
        continue;
      }
      visit(p.peerSwitch, [...path, sw]);
    }
  };
  visit(start, []);
  return ends;
}

/** Is there a path between two node switches over up links, through fabric switches only? */
export function connected(state: ClusterState, from: string, to: string): boolean {
  if (!state.switches.get(from)?.up || !state.switches.get(to)?.up) return false;
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const v = queue.shift()!;
    if (v === to) return true;
    if (v !== from && state.switches.get(v)!.role === 'node') continue;
    for (const p of state.switches.get(v)!.ports) {
      if (p.kind !== 'link' || !state.links.get(p.linkId)?.up) continue;
      const peer = state.switches.get(p.peerSwitch)!;
      if (!peer.up || seen.has(peer.name)) continue;
      seen.add(peer.name);
      queue.push(peer.name);
    }
  }
  return false;
}
