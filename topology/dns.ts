/**
 * Service discovery over a ClusterState (docs/discovery.md): the cluster DNS names, the resolver's
 * search path, name resolution and Kubernetes-style service environment variables.
 *
 * Pure and deterministic: no I/O, nothing kept between calls. The DNS server (fabric/dns/server.ts),
 * `fabric dns resolve`, `fabric env` and the simulator all answer through these functions, so they
 * agree by construction.
 *
 * Names (as Kubernetes' cluster DNS gives them, with `<domain>` = cluster.dns.domain, default
 * cluster.local):
 * - `<service>.<namespace>.svc.<domain>`  A  the service VIP (its ClusterIP; whatever its endpoints)
 * - `<a-b-c-d>.<namespace>.pod.<domain>`  A  a.b.c.d, when a pod of that namespace has that IP
 * Names are compared case-insensitively; a trailing dot marks a name as absolute.
 */
import type { ClusterState, PodState, ServiceState } from './types';

export const DEFAULT_DNS_DOMAIN = 'cluster.local';
export const DEFAULT_NAMESPACE = 'default';
/** TTL of every answer, in seconds (short: a deleted or re-added service is seen again soon) */
export const DNS_TTL = 5;
/** Kubernetes' resolv.conf option: a name with fewer dots than this is tried with the search list first */
export const DNS_NDOTS = 5;

export type DnsAnswer = { kind: 'service'; service: string; ip: string } | { kind: 'pod'; pod: string; ip: string };

/**
 * What an authoritative server says about one absolute name (no search list applied):
 * - `answer`: the name has an A record;
 * - `nodata`: the name exists without an A record (the domain apex, `svc.<domain>`, `pod.<domain>`,
 *   `<namespace>.svc.<domain>` of a namespace that has services, `<namespace>.pod.<domain>`):
 *   NOERROR with no answer;
 * - `nxdomain`: under the domain, but no such name;
 * - `outside`: not under the cluster domain (an authoritative-only server refuses it).
 */
export type DnsLookup =
  | { status: 'answer'; name: string; answer: DnsAnswer }
  | { status: 'nodata'; name: string }
  | { status: 'nxdomain'; name: string }
  | { status: 'outside'; name: string };

/** Lower case, no trailing dot. */
function normalize(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** The cluster domain: cluster.dns.domain (lower case, without a trailing dot), default cluster.local. */
export function dnsDomain(state: Pick<ClusterState, 'cluster'>): string {
  const d = state.cluster.dns?.domain;
  const n = d === undefined ? '' : normalize(d);
  return n === '' ? DEFAULT_DNS_DOMAIN : n;
}

/** The namespace of a service (default 'default'). */
export function serviceNamespace(svc: Pick<ServiceState, 'namespace'>): string {
  return svc.namespace ?? DEFAULT_NAMESPACE;
}

/** The namespace of a pod: pods have no namespace in the model yet, so 'default' (unless a later model gives one). */
export function podNamespace(pod: PodState): string {
  const ns = (pod as PodState & { namespace?: unknown }).namespace;
  return typeof ns === 'string' && ns !== '' ? ns : DEFAULT_NAMESPACE;
}

/** The search list of a pod's resolv.conf in `namespace`, as Kubernetes writes it. */
export function searchPath(namespace: string = DEFAULT_NAMESPACE, domain: string = DEFAULT_DNS_DOMAIN): string[] {
  const d = normalize(domain) || DEFAULT_DNS_DOMAIN;
  return [`${namespace.toLowerCase()}.svc.${d}`, `svc.${d}`, d];
}

/** `<service>.<namespace>.svc.<domain>` (undefined: no such service). */
export function serviceFqdn(state: ClusterState, service: string): string | undefined {
  const svc = state.services.get(service);
  return svc ? `${svc.name}.${serviceNamespace(svc)}.svc.${dnsDomain(state)}` : undefined;
}

/** `<a-b-c-d>.<namespace>.pod.<domain>` (undefined: no such pod). */
export function podFqdn(state: ClusterState, pod: string): string | undefined {
  const p = state.pods.get(pod);
  return p ? `${p.ip.replace(/\./g, '-')}.${podNamespace(p)}.pod.${dnsDomain(state)}` : undefined;
}

/** The service the cluster's pods use as nameserver (cluster.dns.service), when it exists in the state. */
export function dnsService(state: ClusterState): ServiceState | undefined {
  const name = state.cluster.dns?.service;
  return name === undefined ? undefined : state.services.get(name);
}

/** Is this (absolute) name the cluster domain or under it? */
export function isUnderDomain(state: Pick<ClusterState, 'cluster'>, name: string): boolean {
  const n = normalize(name);
  const d = dnsDomain(state);
  return n === d || n.endsWith('.' + d);
}

/** 1 to 63 characters per label, a name of at most 253: anything else is no name at all. */
function wellFormed(n: string): boolean {
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => l.length > 0 && l.length <= 63);
}

/** `a-b-c-d` with four decimal octets 0..255, no leading zeros (as an IP prints): the address, or undefined. */
function dashedIp(label: string): string | undefined {
  const parts = label.split('-');
  if (parts.length !== 4) return undefined;
  for (const p of parts) if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
  return parts.join('.');
}

/** What the cluster's authoritative DNS says about one absolute name (no search list). */
export function lookupName(state: ClusterState, name: string): DnsLookup {
  const n = normalize(name);
  if (!isUnderDomain(state, n)) return { status: 'outside', name: n };
  const d = dnsDomain(state);
  if (n === d) return { status: 'nodata', name: n };
  if (!wellFormed(n)) return { status: 'nxdomain', name: n };
  const labels = n.slice(0, n.length - d.length - 1).split('.');
  // labels, right to left: svc|pod, namespace, service|dashed IP
  if (labels.length === 1) return labels[0] === 'svc' || labels[0] === 'pod' ? { status: 'nodata', name: n } : { status: 'nxdomain', name: n };
  const [kindLabel, ns] = [labels[labels.length - 1], labels[labels.length - 2]];
  if (kindLabel === 'svc') {
    if (labels.length === 2) {
      for (const svc of state.services.values()) if (serviceNamespace(svc).toLowerCase() === ns) return { status: 'nodata', name: n };
      return { status: 'nxdomain', name: n };
    }
    if (labels.length !== 3) return { status: 'nxdomain', name: n };
    const svc = state.services.get(labels[0]);
    if (svc && serviceNamespace(svc).toLowerCase() === ns) return { status: 'answer', name: n, answer: { kind: 'service', service: svc.name, ip: svc.vip } };
    return { status: 'nxdomain', name: n };
  }
  if (kindLabel === 'pod') {
    if (labels.length === 2) {
      for (const pod of state.pods.values()) if (podNamespace(pod).toLowerCase() === ns) return { status: 'nodata', name: n };
      return { status: 'nxdomain', name: n };
    }
    if (labels.length !== 3) return { status: 'nxdomain', name: n };
    const ip = dashedIp(labels[0]);
    if (ip === undefined) return { status: 'nxdomain', name: n };
    // the first pod (in map order) with that IP: pod IPs are unique in a valid state
    for (const pod of state.pods.values()) {
      if (pod.ip === ip && podNamespace(pod).toLowerCase() === ns) return { status: 'answer', name: n, answer: { kind: 'pod', pod: pod.name, ip } };
    }
    return { status: 'nxdomain', name: n };
  }
  return { status: 'nxdomain', name: n };
}

/**
 * The names a pod's resolver tries for `name`, in order (resolv.conf semantics, `options ndots:5`): a
 * name with a trailing dot is only itself; one with at least 5 dots is tried as is first, then with the
 * search list; any other with the search list first, then as is.
 */
export function candidateNames(name: string, namespace: string = DEFAULT_NAMESPACE, domain: string = DEFAULT_DNS_DOMAIN): string[] {
  const raw = name.trim().toLowerCase();
  if (raw === '' || raw === '.') return [];
  if (raw.endsWith('.')) return [raw.slice(0, -1)];
  const searched = searchPath(namespace, domain).map((s) => `${raw}.${s}`);
  const dots = raw.split('.').length - 1;
  return dots >= DNS_NDOTS ? [raw, ...searched] : [...searched, raw];
}

/**
 * Resolves a name as a pod's resolver in `opts.namespace` (default 'default') would, against the
 * cluster DNS: the first candidate (candidateNames) that has an A record. undefined: NXDOMAIN (or a
 * name that exists without an address, or a name outside the cluster domain).
 */
export function resolveName(state: ClusterState, name: string, opts: { namespace?: string } = {}): DnsAnswer | undefined {
  for (const candidate of candidateNames(name, opts.namespace ?? DEFAULT_NAMESPACE, dnsDomain(state))) {
    const r = lookupName(state, candidate);
    if (r.status === 'answer') return r.answer;
  }
  return undefined;
}

/** `web-api` -> `WEB_API` (the prefix of a service's variables). */
export function envPrefix(service: string): string {
  return service.toUpperCase().replace(/-/g, '_');
}

/**
 * The Kubernetes-style environment variables a pod gets for the services of its namespace:
 * `X_SERVICE_HOST`, `X_SERVICE_PORT`, `X_PORT=proto://IP:PORT`, `X_PORT_P_PROTO=...` and
 * `X_PORT_P_PROTO_{PROTO,PORT,ADDR}` with X the service name upper-cased, '-' as '_' and PROTO `TCP` or
 * `UDP`. Keys sorted. When two services spell the same key (a service `web-service` and a service
 * `web`: WEB_SERVICE_PORT), the `_SERVICE_HOST` / `_SERVICE_PORT` variable wins; otherwise the service
 * later in name order. Throws when there is no such pod.
 */
export function serviceEnv(state: ClusterState, podName: string): Record<string, string> {
  const pod = state.pods.get(podName);
  if (!pod) throw new DnsError(`no pod named ${podName}`);
  const ns = podNamespace(pod);
  const services = [...state.services.values()].filter((s) => serviceNamespace(s) === ns).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const env = new Map<string, string>();
  for (const s of services) {
    const x = envPrefix(s.name);
    const proto = s.protocol;
    const url = `${proto}://${s.vip}:${s.port}`;
    const p = `${x}_PORT_${s.port}_${proto.toUpperCase()}`;
    env.set(`${x}_PORT`, url);
    env.set(p, url);
    env.set(`${p}_PROTO`, proto);
    env.set(`${p}_PORT`, String(s.port));
    env.set(`${p}_ADDR`, s.vip);
  }
  for (const s of services) {
    const x = envPrefix(s.name);
    env.set(`${x}_SERVICE_HOST`, s.vip);
    env.set(`${x}_SERVICE_PORT`, String(s.port));
  }
  const out: Record<string, string> = {};
  for (const k of [...env.keys()].sort()) out[k] = env.get(k)!;
  return out;
}

/** A discovery question that has no answer because its subject does not exist (a pod name, ...). */
export class DnsError extends Error {
  override readonly name = 'DnsError';
}
