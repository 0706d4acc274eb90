/**
 * Why a traffic demand is not delivered, in words (docs/simulator.md "Blocked demands"): the walk of
 * the demand's packet (sim/demands.ts `demandWalk`, the walk the bandwidth model takes paths from)
 * stops somewhere; its drop point (switch, pipeline table, flow priority — or a link or switch that
 * is down) is turned into a sentence a network engineer reads: "no allow rule admits web-1 -> db-1
 * (isolation)", "no route to 10.244.9.9 at tor1", "service web has no ready backend". The table
 * names are controller/pipeline.ts's PIPELINE. Nothing here changes the network: it reads walks.
 */
import type { ClusterState } from '../topology/types';
import { PIPELINE } from '../controller/pipeline';
import { cidrContains } from '../topology/ip';
import type { Host, WalkResult } from './network';
import type { ProbeResult } from './probe';

/** A demand that carries nothing at a time: why, and where its packet died. */
export interface DemandBlock {
  /** in words */
  reason: string;
  /** the drop point: "node1 table policy priority 100", "tor2 port 3", ... (absent when none applies) */
  where?: string;
}

/** What the explanation needs to know of the demand and of its walk. */
export interface BlockedWalk {
  from: string;
  to: string;
  port?: number;
  host: Host;
  /** the destination as resolved (IP; the service when `to` names one) */
  target: { ip: string; service?: string };
  /** the probe of the demand's packet, walked with a trace (packet summaries and steps) */
  probe: ProbeResult;
}

/** The table name of a table id (PIPELINE order), or `table N` */
export function tableName(id: number): string {
  return PIPELINE[id]?.name ?? `table ${id}`;
}

/** A demand whose ends do not exist at this time. */
export function missingEnd(which: 'source' | 'destination', name: string): DemandBlock {
  return { reason: `${which} ${name} does not exist at this time` };
}

/** Why the demand's packet was not delivered, in words. */
export function explainBlocked(state: ClusterState, b: BlockedWalk): DemandBlock {
  const { probe: r } = b;
  const request = r.walks.find((w) => w.label.endsWith(' request'))?.walk;
  if (!request) {
    // the sender's ARP for its gateway got no answer
    const arp = r.walks[0]?.walk;
    const drop = arp ? firstDrop(arp) : undefined;
    const words = drop ? dropWords(state, b, drop) : undefined;
    // the sender's own node is down: that says it all
    if (words && drop?.kind === 'network' && b.host.switch && state.nodes.get(b.host.switch)?.up === false) return words;
    return { reason: `${b.from} gets no ARP answer from its gateway${words ? `: ${words.reason}` : ''}`, where: words?.where };
  }
  const drop = firstDrop(request);
  if (drop) return dropWords(state, b, drop);
  const wrong = request.delivered.find((d) => d.packet.isIp);
  if (wrong) return { reason: `delivered to ${wrong.host.name}, not to ${b.to}` };
  return { reason: `not delivered: ${r.detail}` };
}

type Drop =
  | { kind: 'table'; switch: string; table: number; priority?: number; pass: WalkResult['passes'][number] }
  | { kind: 'other'; switch: string; text: string; pass: WalkResult['passes'][number] }
  | { kind: 'network'; text: string };

/** where the walk's packet died first: a switch pass that dropped it, else what the network dropped */
function firstDrop(w: WalkResult): Drop | undefined {
  for (const p of w.passes) {
    if (p.verdict !== 'dropped') continue;
    const why = p.dropReason ?? '';
    let m = /^dropped by table (\d+) priority (\d+)/.exec(why);
    if (m) return { kind: 'table', switch: p.switch, table: Number(m[1]), priority: Number(m[2]), pass: p };
    m = /^table (\d+) miss$/.exec(why);
    if (m) return { kind: 'table', switch: p.switch, table: Number(m[1]), pass: p };
    return { kind: 'other', switch: p.switch, text: why || 'dropped', pass: p };
  }
  if (w.drops.length > 0) return { kind: 'network', text: w.drops[0] };
  return undefined;
}

/** the destination address of the packet where it died (after a DNAT in that pass, when one happened) */
function dstIpAt(pass: WalkResult['passes'][number], fallback: string): string {
  let ip: string | undefined;
  const arrived = / > (\d+\.\d+\.\d+\.\d+)/.exec(pass.packet);
  if (arrived) ip = arrived[1];
  for (const s of pass.steps) {
    if (s.kind !== 'ct') continue;
    const nat = /=> \S+->(\d+\.\d+\.\d+\.\d+)/.exec(s.text);
    if (nat) ip = nat[1];
  }
  return ip ?? fallback;
}

/** who owns an address now: a pod, a node, an external */
function ownerOf(state: ClusterState, ip: string): { name: string; node?: string; kind: 'pod' | 'node' | 'external' } | undefined {
  for (const p of state.pods.values()) if (p.ip === ip) return { name: p.name, node: p.node, kind: 'pod' };
  for (const n of state.nodes.values()) if (n.ip === ip) return { name: n.name, node: n.name, kind: 'node' };
  for (const e of state.externals.values()) if (e.ip === ip) return { name: e.name, kind: 'external' };
  return undefined;
}

/** why a node cannot be reached, if the state says so */
function nodeTrouble(state: ClusterState, node: string): string | undefined {
  if (state.nodes.get(node)?.up === false) return 'is down';
  const links = [...state.links.values()].filter((l) => l.a === node || l.b === node);
  if (links.length > 0 && links.every((l) => !l.up)) return 'has no link up';
  return undefined;
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

function policyWords(state: ClusterState, b: BlockedWalk, dstIp: string): string {
  const src = b.host;
  const owner = ownerOf(state, dstIp);
  const svc = b.target.service ? state.services.get(b.target.service) : undefined;
  // the port the policy sees: a service's target port after the DNAT
  const port = svc ? svc.targetPort : b.port;
  const dst = owner ? owner.name : b.to === dstIp ? dstIp : `${b.to} (${dstIp})`;
  const what = `${src.name} -> ${dst}${port !== undefined ? ` port ${port}` : ''}`;
  const notes: string[] = [];
  if (svc) notes.push(owner ? `a backend of service ${svc.name}` : `service ${svc.name}`);
  if (src.kind === 'external') notes.push('externals are closed: cluster.externalAccess is off');
  else if (owner?.kind === 'external' || (!owner && (state.cluster as { egress?: string }).egress === 'closed' && !cidrContains(state.cluster.podCidr, dstIp)))
    notes.push('egress is closed: cluster.egress');
  else notes.push('isolation');
  // a rule that admits the pods on some port, while the demand has none (walked as ICMP) or another
  const sp = state.pods.get(src.name);
  const dp = owner?.kind === 'pod' ? state.pods.get(owner.name) : undefined;
  if (sp && dp) {
    const ports = state.cluster.allow
      .filter((rule) => labelsMatch(rule.from, sp.labels) && labelsMatch(rule.to, dp.labels) && rule.port !== undefined)
      .map((rule) => `${rule.protocol ?? 'tcp'} ${rule.port}${rule.portEnd !== undefined ? `-${rule.portEnd}` : ''}`);
    if (ports.length > 0) notes.push(`rules admit only ${[...new Set(ports)].join(', ')}${port === undefined ? ': the demand has no port' : ''}`);
  }
  return `no allow rule admits ${what} (${notes.join('; ')})`;
}

function serviceWords(state: ClusterState, ip: string, port: number | undefined): string | undefined {
  const svc = [...state.services.values()].find((s) => s.vip === ip);
  if (!svc) return `no service has the address ${ip}`;
  if (port !== undefined && port !== svc.port) return `service ${svc.name} has no port ${port} (it serves ${svc.protocol} ${svc.port})`;
  if (svc.endpoints.length === 0) return `service ${svc.name} has no ready backend`;
  return undefined;
}

function dropWords(state: ClusterState, b: BlockedWalk, d: Drop): DemandBlock {
  if (d.kind === 'network') return networkWords(state, b, d.text);
  const sw = d.switch;
  if (d.kind === 'other') {
    if (d.text === 'ttl expired') return { reason: `TTL expired at ${sw} (a forwarding loop?)`, where: sw };
    const meter = /^meter (\d+) band drop$/.exec(d.text);
    if (meter) return { reason: `over the rate of meter ${meter[1]} at ${sw}`, where: `${sw} meter ${meter[1]}` };
    return { reason: `dropped at ${sw}: ${d.text}`, where: sw };
  }
  const name = tableName(d.table);
  const where = `${sw} table ${name}${d.priority !== undefined ? ` priority ${d.priority}` : ''}`;
  const dstIp = dstIpAt(d.pass, b.target.ip);
  switch (name) {
    case 'policy':
      return { reason: policyWords(state, b, dstIp), where };
    case 'service_lb': {
      const words = serviceWords(state, b.target.ip, b.port);
      if (words) return { reason: words, where };
      if (b.target.service) return { reason: `service ${b.target.service} refused the connection at ${sw}`, where };
      break;
    }
    case 'l3_forwarding': {
      const owner = ownerOf(state, dstIp);
      const trouble = owner?.node ? nodeTrouble(state, owner.node) : undefined;
      const label = owner ? ` (${owner.name})` : '';
      let hint = '';
      const here = state.nodes.has(sw) ? nodeTrouble(state, sw) : undefined;
      if (here) hint = `: ${sw} ${here}`;
      else if (trouble && owner) hint = owner.kind === 'node' ? `: node ${owner.name} ${trouble}` : `: ${owner.name}'s node ${owner.node} ${trouble}`;
      else if (!owner) hint = ': no host has this address';
      return { reason: `no route to ${dstIp}${label} at ${sw}${hint}`, where };
    }
    case 'classifier':
      // the closed door at the edge: outside hosts reach pod IPs only where the scenario opens them
      if (b.host.kind === 'external' && ownerOf(state, dstIp)?.kind === 'pod') return { reason: policyWords(state, b, dstIp), where };
      break;
    case 'spoof_guard':
      return { reason: `${sw}'s spoof guard refused ${b.from}'s packet`, where };
    default:
      break;
  }
  return { reason: `dropped at ${sw} table ${name}${d.priority !== undefined ? ` priority ${d.priority}` : ' (no flow matched)'}`, where };
}

function networkWords(state: ClusterState, b: BlockedWalk, text: string): DemandBlock {
  let m = /^(\S+) is down$/.exec(text);
  if (m) {
    const name = m[1];
    if (state.nodes.has(name)) {
      const runs = [b.from, b.to].filter((x) => state.pods.get(x)?.node === name);
      return { reason: `node ${name} is down${runs.length ? ` (${runs.join(' and ')} run${runs.length === 1 ? 's' : ''} there)` : ''}`, where: name };
    }
    return { reason: `switch ${name} is down`, where: name };
  }
  m = /^(\S+):(\d+): link (\S+) is down$/.exec(text);
  if (m) return { reason: `link ${m[3]} is down`, where: `${m[1]} port ${m[2]}` };
  if (/forwarding loop/.test(text)) return { reason: `forwarding loop (${text})` };
  m = /^(\S+?):(\d+): no host attached$/.exec(text);
  if (m) return { reason: `nothing is attached to ${m[1]} port ${m[2]} any more (${b.to} moved or was deleted?)`, where: `${m[1]} port ${m[2]}` };
  const sw = /^(\S+?)[:]/.exec(text);
  return { reason: text, where: sw?.[1] };
}
