/**
 * Service discovery in the lab (docs/discovery.md): pods resolve names with real clients against
 * fabric's cluster DNS, which runs as `fabric dns serve` inside the namespaces of the pods that back
 * the DNS service (cluster.dns.service), reached through that service's VIP like any other service.
 * Each pod namespace gets /etc/netns/NS/resolv.conf (bind-mounted over /etc/resolv.conf by
 * `ip netns exec`): the DNS VIP, the Kubernetes search path, ndots:5.
 */
import type { ClusterState } from '../../topology/types';
import { dnsDomain, searchPath } from '../../topology/dns';
import { inNs } from './exec';
import { DnsServerHandle, removeResolvConf, startDnsServerInNamespace, writeResolvConf } from './dns';
import type { Lab } from './lab';

/** The cluster DNS's VIP, when the scenario has one. */
export function dnsVip(state: ClusterState): string | undefined {
  const name = state.cluster.dns?.service;
  return name ? state.services.get(name)?.vip : undefined;
}

/** resolv.conf of one pod namespace (no-op without cluster.dns). */
export function configurePodDns(lab: Lab, state: ClusterState, pod: string): void {
  const vip = dnsVip(state);
  const host = lab.record.hosts[pod];
  if (!vip || !host || host.kind !== 'pod') return;
  writeResolvConf(host.ns, { nameserver: vip, search: searchPath('default', dnsDomain(state)), options: 'ndots:5' });
}

/** The running DNS servers of a lab, by pod. */
export class LabDns {
  private readonly servers = new Map<string, DnsServerHandle>();

  constructor(
    private readonly lab: Lab,
    private readonly scenarioFile: string,
  ) {}

  /** resolv.conf in every pod, a server in every DNS backend pod (answering from the state at `at`). */
  async start(state: ClusterState, at: number): Promise<void> {
    const vip = dnsVip(state);
    if (!vip) return;
    for (const pod of state.pods.keys()) configurePodDns(this.lab, state, pod);
    await this.refresh(state, at);
  }

  /** After events: servers follow the DNS service's backends and answer from the state at `at`. */
  async refresh(state: ClusterState, at: number): Promise<void> {
    const name = state.cluster.dns?.service;
    const svc = name ? state.services.get(name) : undefined;
    if (!svc) return;
    for (const pod of state.pods.keys()) configurePodDns(this.lab, state, pod);
    for (const [pod, h] of [...this.servers]) {
      await h.stop();
      this.servers.delete(pod);
    }
    for (const pod of svc.endpoints) {
      const host = this.lab.record.hosts[pod];
      if (!host) continue;
      this.servers.set(pod, await startDnsServerInNamespace(host.ns, this.scenarioFile, at, `0.0.0.0:${svc.targetPort}`));
    }
  }

  async stop(): Promise<void> {
    for (const h of this.servers.values()) await h.stop();
    this.servers.clear();
  }
}

/** Resolves a name from inside a pod with the C library's resolver (`getent hosts`): the IP, or why not. */
export function resolveInPod(lab: Lab, pod: string, name: string): { ip: string } | { error: string } {
  const host = lab.record.hosts[pod];
  if (!host) return { error: `${pod} is not a host of the lab` };
  const r = inNs(host.ns, 'getent', ['hosts', name], { timeoutMs: 10_000 });
  const ip = /^(\d+\.\d+\.\d+\.\d+)\s/m.exec(r.stdout)?.[1];
  if (r.status !== 0 || !ip) return { error: `getent hosts ${name} in ${pod}: ${r.status === 2 ? 'not found (NXDOMAIN)' : `exit ${r.status} ${r.stderr.trim()}`}` };
  return { ip };
}

/** Removes the resolv.conf of the lab's namespaces (teardown). */
export function removeLabResolvConfs(namespaces: string[]): void {
  for (const ns of namespaces) removeResolvConf(ns);
}
