/**
 * Equal-cost routing over the state's up links, computed once per *attachment*: a node switch is a
 * leaf of the fabric (never transit), so every destination behind the same set of fabric switches
 * (all the nodes of one rack, the externals of one switch) shares the same routes everywhere but at
 * its last hop. One multi-source BFS per attachment set gives every switch its next hops: ECMP over
 * all neighbours one hop closer, or, with a single such neighbour, a loop-free alternate (a neighbour
 * not farther than ourselves, which never routes back through us) for a fast-failover group.
 */
import type { ClusterState, PortState } from '../topology/types';

export interface NextHop {
  port: number;
  /** MAC to put in eth_dst: the peer switch's router MAC, or the external host's MAC */
  mac: string;
}

/** How a switch reaches one attachment set. */
export interface RouteChoice {
  kind: 'select' | 'ff' | 'indirect';
  hops: NextHop[];
  /** select only: buckets without watch_port (`cluster.fastFailover: false`): a dead bucket keeps its share until the controller reacts */
  noLiveness?: true;
}

export interface Attachment {
  /** sorted fabric switch names joined by ',' ('' when the destination hangs off no fabric switch) */
  key: string;
  switches: string[];
}

type LinkPort = Extract<PortState, { kind: 'link' }>;

/** Up link ports of a switch (the link and the peer switch up). */
export function upLinkPorts(state: ClusterState, switchName: string): LinkPort[] {
  const sw = state.switches.get(switchName);
  if (!sw || !sw.up) return [];
  const out: LinkPort[] = [];
  for (const p of sw.ports) {
    if (p.kind !== 'link') continue;
    if (!state.links.get(p.linkId)?.up) continue;
    if (!state.switches.get(p.peerSwitch)?.up) continue;
    out.push(p);
  }
  return out;
}

/** The fabric switches a node switch (or the switch an external hangs off) is attached to now. */
export function attachmentOf(state: ClusterState, switchName: string): Attachment {
  const sw = state.switches.get(switchName);
  if (!sw || !sw.up) return { key: '', switches: [] };
  if (sw.role === 'fabric') return { key: sw.name, switches: [sw.name] };
  const set = new Set<string>();
  for (const p of upLinkPorts(state, switchName)) if (state.switches.get(p.peerSwitch)!.role === 'fabric') set.add(p.peerSwitch);
  const switches = [...set].sort();
  return { key: switches.join(','), switches };
}

function macOf(state: ClusterState, peer: string): string {
  return state.switches.get(peer)!.routerMac;
}

/**
 * Routing toward every attachment set in use: for each key, hop distance of every fabric switch
 * (multi-source BFS from the set, through up links between up fabric switches only).
 */
export class Routing {
  private readonly dist = new Map<string, Map<string, number>>();
  private readonly links = new Map<string, LinkPort[]>();
  private readonly choices = new Map<string, RouteChoice | undefined>();

  constructor(private readonly state: ClusterState) {}

  private readonly fabricLinkCache = new Map<string, LinkPort[]>();

  /** up links towards fabric switches only (routing never transits a node switch) */
  fabricLinks(switchName: string): LinkPort[] {
    let l = this.fabricLinkCache.get(switchName);
    if (!l) {
      l = this.upLinks(switchName).filter((p) => this.state.switches.get(p.peerSwitch)!.role === 'fabric');
      this.fabricLinkCache.set(switchName, l);
    }
    return l;
  }

  /** upLinkPorts, cached for this state snapshot */
  upLinks(switchName: string): LinkPort[] {
    let l = this.links.get(switchName);
    if (!l) this.links.set(switchName, (l = upLinkPorts(this.state, switchName)));
    return l;
  }

  /** Takes another Routing's distances for `key` (known to be unchanged in this state) instead of a BFS. */
  adoptDistances(key: string, d: Map<string, number>): void {
    this.dist.set(key, d);
  }

  distances(key: string): Map<string, number> {
    let d = this.dist.get(key);
    if (d) return d;
    d = new Map();
    const queue = key === '' ? [] : key.split(',');
    for (const s of queue) d.set(s, 0);
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i];
      const dv = d.get(v)!;
      for (const p of this.fabricLinks(v)) {
        const peer = this.state.switches.get(p.peerSwitch)!;
        if (d.has(peer.name)) continue;
        d.set(peer.name, dv + 1);
        queue.push(peer.name);
      }
    }
    this.dist.set(key, d);
    return d;
  }

  /**
   * How `from` (not itself one of the key's switches) reaches the key's switches; undefined when it
   * cannot. Hops are sorted by port.
   */
  choice(from: string, key: string): RouteChoice | undefined {
    const memo = `${from}\n${key}`;
    if (this.choices.has(memo)) return this.choices.get(memo);
    const c = this.computeChoice(from, key);
    this.choices.set(memo, c);
    return c;
  }

  private computeChoice(from: string, key: string): RouteChoice | undefined {
    return this.choiceWith(from, this.distances(key));
  }

  /**
   * The choice `from` would make with the distances `d` (another state's, for the same key) over its
   * current up links: lets a compiler compare before and after without keeping every choice.
   */
  choiceWith(from: string, d: ReadonlyMap<string, number>): RouteChoice | undefined {
    const sw = this.state.switches.get(from);
    if (!sw || !sw.up) return undefined;
    const own = sw.role === 'fabric' ? d.get(from) : undefined;
    // two passes over the links instead of a candidate list: a spine asks this for every key over
    // hundreds of links, and an incremental compile should not allocate for each
    const links = this.fabricLinks(from);
    let best = Infinity;
    for (const p of links) {
      const dp = d.get(p.peerSwitch);
      if (dp !== undefined && dp < best) best = dp;
    }
    if (best === Infinity) return undefined;
    const primary: LinkPort[] = [];
    for (const p of links) if (d.get(p.peerSwitch) === best) primary.push(p);
    if (primary.length > 1) primary.sort((a, b) => a.port - b.port);
    const hop = (p: LinkPort): NextHop => ({ port: p.port, mac: macOf(this.state, p.peerSwitch) });
    if (primary.length > 1) return { kind: 'select', hops: primary.map(hop), ...(this.state.cluster.fastFailover === false ? { noLiveness: true as const } : {}) };
    // loop-free alternate: a neighbour whose own distance is not larger than ours never sends back
    // through us (node switches are never transit, so any other uplink of a node qualifies); the
    // nearest, then the lowest port
    const limit = own === undefined ? Infinity : own;
    let backup: LinkPort | undefined;
    let backupCost = Infinity;
    for (const p of links) {
      if (p.port === primary[0].port) continue;
      const dp = d.get(p.peerSwitch);
      if (dp === undefined || dp > limit) continue;
      if (dp < backupCost || (dp === backupCost && p.port < backup!.port)) {
        backup = p;
        backupCost = dp;
      }
    }
    if (backup && this.state.cluster.fastFailover !== false) return { kind: 'ff', hops: [hop(primary[0]), hop(backup)] };
    return { kind: 'indirect', hops: [hop(primary[0])] };
  }
}

export function choiceSignature(c: RouteChoice | undefined): string {
  if (!c) return '-';
  return `${c.kind}${c.noLiveness ? '-nolive' : ''}:${c.hops.map((h) => `${h.port}>${h.mac}`).join(',')}`;
}
