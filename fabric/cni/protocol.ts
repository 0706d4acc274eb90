/**
 * The CNI protocol (CNI spec 1.0.0, plus GC and STATUS of 1.1): what the runtime hands a plugin (the
 * CNI_* environment variables and the network configuration on stdin), what the plugin answers (a
 * result, a version list, or an error object on stdout with a non-zero exit). Pure: no I/O here, so the
 * parsing and the error shapes are unit-tested without root (test/cni/protocol.test.ts).
 */

/** Versions this plugin accepts in a configuration and answers in. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
/** The version of an answer when the request's version cannot be known (a config that does not parse). */
export const DEFAULT_VERSION = '1.0.0';

/** Well-known error codes of the spec (0-99 are reserved for it; 100+ are the plugin's). */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** STATUS (1.1): the plugin cannot serve ADDs now */
  notAvailable: 50,
  /** fabric's own: the OVS port could not be made */
  ovsFailure: 100,
  /** fabric's own: the controller refused or did not answer */
  controllerFailure: 101,
  /** fabric's own: the node's block is exhausted */
  ipamExhausted: 102,
  /** fabric's own: CHECK found something different from what ADD made */
  checkFailed: 103,
} as const;

/** An error that becomes the CNI error object. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'CniError';
  }
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  /** absent on DEL when the namespace is gone, and on GC/STATUS/VERSION */
  netns?: string;
  ifname: string;
  /** CNI_ARGS, `K=V;K=V` */
  args: Record<string, string>;
  path: string[];
}

/** The parts of the runtime's environment the spec defines; which are required depends on the command. */
export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CniCode.invalidEnv, 'CNI_COMMAND is not set', 'this program is a CNI plugin: the container runtime runs it with CNI_COMMAND=ADD|DEL|CHECK|VERSION|GC|STATUS and the network configuration on stdin (or run `fabric cni install`)');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CniCode.invalidEnv, `unknown CNI_COMMAND ${JSON.stringify(command)}`, `one of ${COMMANDS.join(', ')}`);
  const cmd = command as CniCommand;
  const needs = (name: string): boolean => (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') && (name !== 'CNI_NETNS' || cmd !== 'DEL');
  for (const name of ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']) {
    if (needs(name) && !env[name]) throw new CniError(CniCode.invalidEnv, `${name} is not set (required for ${cmd})`);
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) throw new CniError(CniCode.invalidEnv, `CNI_CONTAINERID ${JSON.stringify(containerId)} is not a valid container id (alphanumerics, then _ . -)`);
  const ifname = env.CNI_IFNAME ?? 'eth0';
  if (!/^[^\s/:]{1,15}$/.test(ifname) || ifname === '.' || ifname === '..') throw new CniError(CniCode.invalidEnv, `CNI_IFNAME ${JSON.stringify(ifname)} is not a valid interface name (1-15 characters, no space, / or :)`);
  return {
    command: cmd,
    containerId,
    ...(env.CNI_NETNS ? { netns: env.CNI_NETNS } : {}),
    ifname,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}

/** `IgnoreUnknown=1;K8S_POD_NAME=web;FABRIC_LABELS=app=web,tier=front` -> a record (the first `=` splits). */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.invalidEnv, `CNI_ARGS: ${JSON.stringify(part)} is not KEY=VALUE`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** `app=web,tier=front` (or `;`-separated) -> labels. */
export function parseLabelList(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,;]/)) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.invalidConfig, `${where}: label ${JSON.stringify(part)} is not KEY=VALUE`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export interface FabricNetConf {
  cniVersion: string;
  /** the network's name (the conflist's `name`) */
  name: string;
  type: string;
  /** the scenario's node this network attaches to (its switch is the bridge, its block the pod IPs) */
  node: string;
  /** OVS bridge (default: the node's name, as the controller creates it) */
  bridge: string;
  /** OVSDB of the bridge's Open vSwitch */
  ovsdb: string;
  /** the network namespace ovs-vswitchd runs in (a name under /run/netns), when it is not the runtime's */
  ovsNetns?: string;
  /**
   * the controllers' local APIs (`unix:PATH`, `tcp:PORT[:ADDR]` or `http://HOST:PORT`), from the
   * config's `controller`: one URL, a list, or a comma-separated string. Several: the controllers of
   * one HA group, the plugin follows the leader (controller-client.ts ControllerSet). Absent: no
   * controller (ports only, no flows)
   */
  controllers?: string[];
  /** the node's pod block; absent: asked from the controller (GET /state) */
  subnet?: string;
  /** default: the first address of the block (.1) */
  gateway?: string;
  mode: 'routed' | 'overlay';
  /** pod MTU (default 1500 routed, 1450 overlay vxlan, 1400 geneve) */
  mtu: number;
  encap: 'vxlan' | 'geneve';
  /** persistent IPAM state: <dataDir>/<node>/ (default /var/lib/fabric-cni) */
  dataDir: string;
  /** labels every pod of this network gets (CNI_ARGS and aliases add to them) */
  labels: Record<string, string>;
  /** tx offload inside the pod (default false: TCP fails through the netdev datapath with it on) */
  txOffload: boolean;
  /** how long ADD waits for the controller and OVS (default 20000 ms) */
  timeoutMs: number;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  /** runtime-provided (capabilities): podman's aliases by network name */
  runtimeConfig: { aliases?: Record<string, string[]> };
  /** CNI args in the config (conventions: args.cni.labels = [{key, value}]) */
  args?: { cni?: { labels?: { key: string; value: string }[] } };
  /** GC (1.1): the attachments the runtime still knows */
  validAttachments?: { containerID: string; ifname: string }[];
  prevResult?: unknown;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function str(o: Record<string, unknown>, key: string, def?: string): string {
  const v = o[key];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'string' || v === '') throw new CniError(CniCode.invalidConfig, `network config: '${key}' must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** Where a controller URL points: `unix:PATH`, `tcp:PORT[:ADDR]` or `http://HOST:PORT` (anything else: code 7). */
export function controllerTarget(url: string): { socketPath: string } | { host: string; port: number } {
  const unix = /^unix:(.+)$/.exec(url);
  if (unix) return { socketPath: unix[1] };
  const tcp = /^tcp:(\d{1,5})(?::(.+))?$/.exec(url);
  if (tcp) return { host: tcp[2] ?? '127.0.0.1', port: Number(tcp[1]) };
  const h = /^http:\/\/([^/:]+):(\d{1,5})\/?$/.exec(url);
  if (h) return { host: h[1], port: Number(h[2]) };
  throw new CniError(CniCode.invalidConfig, `network config: controller ${JSON.stringify(url)} must be unix:PATH, tcp:PORT[:ADDR] or http://HOST:PORT`);
}

/**
 * The config's `controller`: one URL, a JSON list of URLs, or a comma-separated string of them
 * (surrounding spaces dropped; a duplicate counted once). An empty entry, a non-string or a URL of
 * another shape: code 7.
 */
export function controllerList(v: unknown): string[] {
  const bad = (why: string): CniError => new CniError(CniCode.invalidConfig, `network config: 'controller' ${why}`, "one URL, a list of URLs, or URLs separated by commas: unix:PATH, tcp:PORT[:ADDR] or http://HOST:PORT");
  let entries: unknown[];
  if (typeof v === 'string') entries = v.split(',');
  else if (Array.isArray(v)) entries = v;
  else throw bad(`must be a string or a list of strings, got ${JSON.stringify(v)}`);
  const out: string[] = [];
  for (const e of entries) {
    if (typeof e !== 'string' || e.trim() === '') throw bad(`has an empty or non-string entry ${JSON.stringify(e)}`);
    const url = e.trim();
    controllerTarget(url);
    if (!out.includes(url)) out.push(url);
  }
  if (out.length === 0) throw bad('names no URL');
  return out;
}

/** Versions as numbers to compare: "1.0.0" -> [1,0,0]. */
function versionParts(v: string): number[] {
  return v.split('.').map((x) => Number(x));
}

/** Parse the network configuration on stdin (one plugin's config as the runtime hands it). */
export function parseNetConf(stdin: string, command: CniCommand): FabricNetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.decodeFailure, 'the network configuration on stdin is not JSON', (err as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CniError(CniCode.decodeFailure, 'the network configuration on stdin must be a JSON object');
  const o = raw as Record<string, unknown>;
  const cniVersion = str(o, 'cniVersion', DEFAULT_VERSION);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) throw new CniError(CniCode.incompatibleVersion, `cniVersion ${cniVersion} is not supported`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  if (command === 'VERSION') return { cniVersion } as FabricNetConf;
  if (o.ipam !== undefined) throw new CniError(CniCode.unsupportedField, "network config: 'ipam' is not supported: fabric allocates pod IPs itself (node-local, from the node's block)");
  const name = str(o, 'name');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new CniError(CniCode.invalidConfig, `network config: name ${JSON.stringify(name)} must be alphanumerics, then _ . -`);
  const node = str(o, 'node');
  const mode = str(o, 'mode', 'routed');
  if (mode !== 'routed' && mode !== 'overlay') throw new CniError(CniCode.invalidConfig, `network config: mode must be routed or overlay, got ${JSON.stringify(mode)}`);
  const encap = str(o, 'encap', 'vxlan');
  if (encap !== 'vxlan' && encap !== 'geneve') throw new CniError(CniCode.invalidConfig, `network config: encap must be vxlan or geneve, got ${JSON.stringify(encap)}`);
  const mtuDefault = mode === 'overlay' ? (encap === 'geneve' ? 1400 : 1450) : 1500;
  const mtu = o.mtu === undefined ? mtuDefault : o.mtu;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new CniError(CniCode.invalidConfig, `network config: mtu must be an integer 576-9000, got ${JSON.stringify(mtu)}`);
  const subnet = o.subnet === undefined ? undefined : str(o, 'subnet');
  if (subnet !== undefined) parseSubnet(subnet);
  const gateway = o.gateway === undefined ? undefined : str(o, 'gateway');
  const labels = o.labels === undefined ? {} : o.labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) throw new CniError(CniCode.invalidConfig, 'network config: labels must be a mapping of strings');
  const timeoutMs = o.timeoutMs === undefined ? 20_000 : o.timeoutMs;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new CniError(CniCode.invalidConfig, 'network config: timeoutMs must be a number > 0');
  const rc = o.runtimeConfig;
  const conf: FabricNetConf = {
    cniVersion,
    name,
    type: str(o, 'type', 'fabric'),
    node,
    bridge: str(o, 'bridge', node),
    ovsdb: str(o, 'ovsdb', 'unix:/var/run/openvswitch/db.sock'),
    ...(o.ovsNetns !== undefined ? { ovsNetns: str(o, 'ovsNetns') } : {}),
    ...(o.controller !== undefined ? { controllers: controllerList(o.controller) } : {}),
    ...(subnet !== undefined ? { subnet } : {}),
    ...(gateway !== undefined ? { gateway } : {}),
    mode,
    mtu,
    encap,
    dataDir: str(o, 'dataDir', '/var/lib/fabric-cni'),
    labels: { ...(labels as Record<string, string>) },
    txOffload: o.txOffload === true,
    timeoutMs,
    runtimeConfig: typeof rc === 'object' && rc !== null ? (rc as FabricNetConf['runtimeConfig']) : {},
  };
  if (o.dns !== undefined) conf.dns = o.dns as FabricNetConf['dns'];
  if (o.args !== undefined) conf.args = o.args as FabricNetConf['args'];
  if (o.prevResult !== undefined) conf.prevResult = o.prevResult;
  const valid = o['cni.dev/valid-attachments'];
  if (valid !== undefined) {
    if (!Array.isArray(valid) || valid.some((a) => typeof a !== 'object' || a === null || typeof (a as Record<string, unknown>).containerID !== 'string')) {
      throw new CniError(CniCode.invalidConfig, "network config: 'cni.dev/valid-attachments' must be a list of {containerID, ifname}");
    }
    conf.validAttachments = (valid as { containerID: string; ifname?: string }[]).map((a) => ({ containerID: a.containerID, ifname: a.ifname ?? 'eth0' }));
  }
  const [major, minor] = versionParts(cniVersion);
  if ((command === 'GC' || command === 'STATUS') && (major < 1 || (major === 1 && minor < 1))) {
    throw new CniError(CniCode.incompatibleVersion, `${command} needs cniVersion 1.1.0 or later (the config says ${cniVersion})`);
  }
  return conf;
}

export interface Subnet {
  network: number;
  prefix: number;
  /** .1 of the block */
  gateway: number;
}

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new CniError(CniCode.invalidConfig, `${JSON.stringify(ip)} is not an IPv4 address`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseSubnet(cidr: string): Subnet {
  const m = CIDR.exec(cidr);
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || prefix < 8 || prefix > 30) throw new CniError(CniCode.invalidConfig, `subnet ${JSON.stringify(cidr)} must be an IPv4 CIDR with a prefix of 8-30`);
  const base = ipToInt(`${m[1]}.${m[2]}.${m[3]}.${m[4]}`);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const network = (base & mask) >>> 0;
  return { network, prefix, gateway: network + 1 };
}

/** Pod addresses of a block: every address but the network, the gateway (.1) and the broadcast. */
export function poolOf(s: Subnet): { first: number; last: number } {
  const size = 2 ** (32 - s.prefix);
  return { first: s.network + 2, last: s.network + size - 2 };
}

/** `0a:58:` + the four bytes of the IP: the MAC the controller gives a pod (topology/ip.ts macFromIp). */
export function macFromIp(ip: string): string {
  const n = ipToInt(ip);
  return ['0a', '58', ...[(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/**
 * The pod's name and labels in the controller: K8S_POD_NAME (prefixed `NAMESPACE.` when
 * K8S_POD_NAMESPACE is set and is neither `default` nor the name itself), else `c-` + 12 characters of
 * the container id. Labels: the network's `labels`, then `args.cni.labels`, then aliases written
 * `label:KEY=VALUE` (podman: `--network NET:alias=label:app=web`), then CNI_ARGS FABRIC_LABELS
 * (`app=web,tier=front`): later ones win.
 */
export function podIdentity(env: CniEnv, conf: FabricNetConf): { name: string; namespace?: string; labels: Record<string, string> } {
  const podName = env.args.K8S_POD_NAME;
  const ns = env.args.K8S_POD_NAMESPACE;
  let name = podName && podName.length > 0 ? podName : `c-${env.containerId.slice(0, 12)}`;
  if (podName && ns && ns !== 'default' && ns !== podName) name = `${ns}.${podName}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) throw new CniError(CniCode.invalidEnv, `pod name ${JSON.stringify(name)} (from CNI_ARGS) must be 1-63 alphanumerics, _ . -`);
  const labels: Record<string, string> = { ...conf.labels };
  for (const l of conf.args?.cni?.labels ?? []) if (typeof l?.key === 'string' && typeof l.value === 'string') labels[l.key] = l.value;
  for (const alias of conf.runtimeConfig.aliases?.[conf.name] ?? []) {
    if (typeof alias === 'string' && alias.startsWith('label:')) Object.assign(labels, parseLabelList(alias.slice('label:'.length), `alias ${alias}`));
  }
  if (env.args.FABRIC_LABELS) Object.assign(labels, parseLabelList(env.args.FABRIC_LABELS, 'CNI_ARGS FABRIC_LABELS'));
  return { name, ...(ns ? { namespace: ns } : {}), labels };
}

export interface CniResult {
  cniVersion: string;
  interfaces: { name: string; mac: string; mtu?: number; sandbox?: string }[];
  ips: { address: string; gateway: string; interface: number; version?: '4' }[];
  routes: { dst: string; gw: string }[];
  dns: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** The ADD result in the shape of the requested version (0.4.0 has `version` on ips; 1.x does not). */
export function buildResult(
  cniVersion: string,
  r: { hostIface: string; hostMac: string; ifname: string; mac: string; mtu: number; netns: string; ip: string; prefix: number; gateway: string },
  dns: FabricNetConf['dns'],
): CniResult {
  const v0 = cniVersion.startsWith('0.');
  return {
    cniVersion,
    interfaces: [
      { name: r.hostIface, mac: r.hostMac, ...(v0 ? {} : { mtu: r.mtu }) },
      { name: r.ifname, mac: r.mac, ...(v0 ? {} : { mtu: r.mtu }), sandbox: r.netns },
    ],
    ips: [{ ...(v0 ? { version: '4' as const } : {}), address: `${r.ip}/${r.prefix}`, gateway: r.gateway, interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: r.gateway }],
    dns: dns ?? {},
  };
}

/** The error object of the spec: `{cniVersion, code, msg, details?}`. Anything not a CniError is an I/O failure (5). */
export function errorJson(err: unknown, cniVersion = DEFAULT_VERSION): { cniVersion: string; code: number; msg: string; details?: string } {
  if (err instanceof CniError) return { cniVersion, code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
  const e = err as Error;
  return { cniVersion, code: CniCode.ioFailure, msg: e && typeof e.message === 'string' ? e.message : String(err) };
}

export function versionJson(cniVersion = DEFAULT_VERSION): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** The host side veth (and OVS port) name: deterministic from the attachment, so DEL and GC find it without state. */
export function hostIfaceName(containerId: string, ifname: string): string {
  // FNV-1a 64 over the attachment id, 11 hex digits: 'fc' + 11 = 13 characters (Linux allows 15)
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(`${containerId}/${ifname}`)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `fc${h.toString(16).padStart(16, '0').slice(0, 11)}`;
}
