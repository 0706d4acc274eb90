/**
 * The kernel side of an attachment, with iproute2 and ethtool: the veth pair made inside the
 * container's namespace (`CNI_NETNS`: podman gives `/run/netns/NAME`, containerd `/proc/PID/ns/net`;
 * entered with `nsenter --net=`) with its host end sent straight into the namespace ovs-vswitchd runs
 * in (the runtime's own, or a named one: a lab's private OVS), so nothing is ever configured in any
 * other namespace. Inside the container: MAC, MTU, tx offload off (TCP fails through OVS's netdev
 * datapath otherwise: docs/real-ovs.md pitfall 1), address, default route via the node gateway. The
 * host end is only raised.
 */
import { spawnSync } from 'child_process';
import { CniCode, CniError } from './protocol';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 10_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) return { status: 127, stdout: '', stderr: `${cmd}: ${r.error.message}` };
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[], what: string): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new CniError(CniCode.ioFailure, `${what} failed: ${r.stderr.trim() || `exit ${r.status}`}`, `${cmd} ${args.join(' ')}`);
  return r.stdout;
}

/** argv prefix that runs a command in the container's namespace */
function inNetns(netns: string, cmd: string, args: string[]): [string, string[]] {
  return ['nsenter', [`--net=${netns}`, cmd, ...args]];
}

/** argv prefix that runs a command in OVS's namespace (undefined: ours) */
function inOvsNs(ovsNetns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ovsNetns ? ['ip', ['netns', 'exec', ovsNetns, cmd, ...args]] : [cmd, args];
}

export function netnsExists(netns: string): boolean {
  return run('nsenter', [`--net=${netns}`, 'true']).status === 0;
}

interface IpLink {
  ifname: string;
  address?: string;
  mtu?: number;
  operstate?: string;
  flags?: string[];
}

function parseLinks(json: string): IpLink[] {
  try {
    return JSON.parse(json) as IpLink[];
  } catch {
    return [];
  }
}

/** The link `name` in the container namespace (`ip -j`: /sys/class/net would show the host's). */
export function containerLink(netns: string, name: string): IpLink | undefined {
  const [c, a] = inNetns(netns, 'ip', ['-j', 'link', 'show', 'dev', name]);
  const r = run(c, a);
  return r.status === 0 ? parseLinks(r.stdout)[0] : undefined;
}

export function hostLink(ovsNetns: string | undefined, name: string): IpLink | undefined {
  const [c, a] = inOvsNs(ovsNetns, 'ip', ['-j', 'link', 'show', 'dev', name]);
  const r = run(c, a);
  return r.status === 0 ? parseLinks(r.stdout)[0] : undefined;
}

export interface VethSpec {
  netns: string;
  ifname: string;
  hostIface: string;
  ovsNetns?: string;
  mac: string;
  mtu: number;
  ip: string;
  prefix: number;
  gateway: string;
  txOffload: boolean;
}

/**
 * Create and configure the pair. The host end goes to OVS's namespace as it is created (`netns` of
 * `ip link add`): by name for a named namespace, else by our own pid (we run in the runtime's
 * namespace, which is where OVS runs then).
 */
export function createVeth(s: VethSpec): { hostMac: string } {
  if (containerLink(s.netns, s.ifname)) throw new CniError(CniCode.invalidEnv, `interface ${s.ifname} already exists in ${s.netns}`);
  const target = s.ovsNetns ?? String(process.pid);
  let [c, a] = inNetns(s.netns, 'ip', ['link', 'add', s.ifname, 'mtu', String(s.mtu), 'address', s.mac, 'type', 'veth', 'peer', 'name', s.hostIface, 'mtu', String(s.mtu), 'netns', target]);
  must(c, a, `creating veth ${s.ifname}/${s.hostIface}`);
  const ns = (cmd: string, args: string[], what: string): string => {
    [c, a] = inNetns(s.netns, cmd, args);
    return must(c, a, what);
  };
  if (!s.txOffload) ns('ethtool', ['-K', s.ifname, 'tx', 'off'], `ethtool -K ${s.ifname} tx off`);
  ns('ip', ['link', 'set', 'lo', 'up'], 'lo up');
  ns('ip', ['addr', 'add', `${s.ip}/${s.prefix}`, 'dev', s.ifname], `address ${s.ip}/${s.prefix}`);
  ns('ip', ['link', 'set', s.ifname, 'up'], `${s.ifname} up`);
  ns('ip', ['route', 'replace', 'default', 'via', s.gateway, 'dev', s.ifname, 'onlink'], `default route via ${s.gateway}`);
  [c, a] = inOvsNs(s.ovsNetns, 'ip', ['link', 'set', s.hostIface, 'up']);
  must(c, a, `${s.hostIface} up`);
  // the host end keeps its offloads: with OVS's userspace TSO on (the lab's routed mode), turning them
  // off there breaks the replies of SNAT'ed connections (measured: egress TCP timed out; on: answered)
  const host = hostLink(s.ovsNetns, s.hostIface);
  return { hostMac: host?.address ?? '' };
}

/** Delete the pair by its host end (the container end goes with it). Missing: not an error. */
export function deleteVeth(ovsNetns: string | undefined, hostIface: string): boolean {
  if (!hostLink(ovsNetns, hostIface)) return false;
  const [c, a] = inOvsNs(ovsNetns, 'ip', ['link', 'del', hostIface]);
  const r = run(c, a);
  if (r.status !== 0 && hostLink(ovsNetns, hostIface)) throw new CniError(CniCode.ioFailure, `deleting ${hostIface} failed: ${r.stderr.trim()}`);
  return true;
}

/** What CHECK compares: the container's interface, address and default route. */
export function inspectContainer(netns: string, ifname: string): { link?: IpLink; addrs: string[]; defaultVia?: string } {
  const link = containerLink(netns, ifname);
  let [c, a] = inNetns(netns, 'ip', ['-j', 'addr', 'show', 'dev', ifname]);
  const addrJson = run(c, a);
  let addrs: string[] = [];
  try {
    const parsed = JSON.parse(addrJson.stdout) as { addr_info?: { family: string; local: string; prefixlen: number }[] }[];
    addrs = (parsed[0]?.addr_info ?? []).filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`);
  } catch {
    /* no interface */
  }
  [c, a] = inNetns(netns, 'ip', ['-j', 'route', 'show', 'default']);
  let defaultVia: string | undefined;
  try {
    const routes = JSON.parse(run(c, a).stdout) as { gateway?: string; dev?: string }[];
    defaultVia = routes.find((r) => r.dev === ifname)?.gateway;
  } catch {
    /* none */
  }
  return { ...(link ? { link } : {}), addrs, ...(defaultVia ? { defaultVia } : {}) };
}
