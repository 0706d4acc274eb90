/**
 * The lab's safety check, run before anything is created: every scenario address must stay clear of
 * the root network namespace's addresses and routes (the machine's own network, 192.0.2.0/24 with its
 * default route, must never see lab traffic or lab configuration). The default route is the one route
 * that covers everything and is ignored; every other overlap refuses the lab.
 */
import * as fs from 'fs';
import type { ClusterState } from '../../topology/types';
import { coveringPrefix, parsePrefix, prefixesOverlap, Prefix } from './addr';
import { LabError } from './errors';
import { runCmd } from './exec';

/** The machine's own network here; forbidden whatever the root namespace shows. */
export const FORBIDDEN_PREFIXES = ['192.0.2.0/24'];

/** Every prefix the scenario would configure somewhere (in its own namespaces). */
export function scenarioPrefixes(state: ClusterState): { what: string; prefix: Prefix }[] {
  const out: { what: string; prefix: Prefix }[] = [];
  out.push({ what: 'cluster podCidr', prefix: parsePrefix(state.cluster.podCidr) });
  out.push({ what: 'cluster serviceCidr', prefix: parsePrefix(state.cluster.serviceCidr) });
  for (const node of state.nodes.values()) {
    out.push({ what: `node ${node.name} ip`, prefix: parsePrefix(node.ip) });
    out.push({ what: `node ${node.name} podCidr`, prefix: parsePrefix(node.podCidr) });
  }
  if (state.cluster.mode === 'overlay' && state.nodes.size > 0) {
    // the lab puts each node IP on its bridge with the prefix covering every node IP (lab.ts configureVteps)
    out.push({ what: 'overlay underlay subnet (node IPs)', prefix: coveringPrefix([...state.nodes.values()].map((n) => n.ip)) });
  }
  for (const ext of state.externals.values()) out.push({ what: `external ${ext.name} ip`, prefix: parsePrefix(ext.ip) });
  for (const pod of state.pods.values()) out.push({ what: `pod ${pod.name} ip`, prefix: parsePrefix(pod.ip) });
  for (const svc of state.services.values()) out.push({ what: `service ${svc.name} ip`, prefix: parsePrefix(svc.vip) });
  return out;
}

interface RootEntry {
  what: string;
  prefix: Prefix;
}

function ipJson(args: string[]): unknown[] {
  // read the ROOT namespace even if this process runs inside another one
  const sameNs = (() => {
    try {
      return fs.readlinkSync('/proc/self/ns/net') === fs.readlinkSync('/proc/1/ns/net');
    } catch {
      return true;
    }
  })();
  const r = sameNs ? runCmd('ip', ['-j', ...args]) : runCmd('nsenter', ['--net=/proc/1/ns/net', 'ip', '-j', ...args]);
  if (r.status !== 0) throw new LabError(`Lab safety: cannot read the root namespace (ip ${args.join(' ')}): ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout || '[]') as unknown[];
  } catch {
    throw new LabError(`Lab safety: unreadable output of ip -j ${args.join(' ')}`);
  }
}

/** Addresses and routes (all tables, IPv4) of the root namespace, without the default route. */
export function rootNamespaceEntries(): RootEntry[] {
  const out: RootEntry[] = [];
  for (const link of ipJson(['-4', 'addr', 'show']) as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) {
    for (const a of link.addr_info ?? []) {
      if (a.local.startsWith('127.')) continue;
      out.push({ what: `root address ${a.local}/${a.prefixlen} on ${link.ifname}`, prefix: parsePrefix(`${a.local}/${a.prefixlen}`) });
      out.push({ what: `root address ${a.local} on ${link.ifname}`, prefix: parsePrefix(a.local) });
    }
  }
  for (const route of ipJson(['-4', 'route', 'show', 'table', 'all']) as { dst: string; dev?: string; type?: string; table?: string }[]) {
    if (!route.dst || route.dst === 'default' || route.dst === '0.0.0.0/0') continue;
    if (route.dst.startsWith('127.')) continue;
    let prefix: Prefix;
    try {
      prefix = parsePrefix(route.dst);
    } catch {
      continue; // multicast or other special entries
    }
    out.push({ what: `root route ${route.dst}${route.dev ? ` dev ${route.dev}` : ''}${route.table ? ` table ${route.table}` : ''}`, prefix });
  }
  for (const text of FORBIDDEN_PREFIXES) out.push({ what: `the machine's own network ${text}`, prefix: parsePrefix(text) });
  return out;
}

/** Throws a LabError listing every overlap; returns quietly when the scenario is safe to build. */
export function checkLabSafety(state: ClusterState, root: RootEntry[] = rootNamespaceEntries()): void {
  const problems: string[] = [];
  for (const s of scenarioPrefixes(state)) {
    for (const r of root) {
      if (prefixesOverlap(s.prefix, r.prefix)) problems.push(`${s.what} ${s.prefix.text} overlaps ${r.what}`);
    }
  }
  if (problems.length > 0) {
    const unique = [...new Set(problems)];
    throw new LabError(`Lab safety: refusing to start: ${unique.slice(0, 5).join('; ')}${unique.length > 5 ? ` (+${unique.length - 5} more)` : ''}`);
  }
}
