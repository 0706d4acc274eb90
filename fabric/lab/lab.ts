/**
 * A lab: a scenario's cluster built as a real network on this machine. One network namespace
 * (`fab-<id>-ovs`) runs a private ovsdb-server + ovs-vswitchd (userspace datapath) with one bridge per
 * switch of the ClusterState; links between switches are veth pairs inside that namespace (so
 * `ip link set down` makes a link really go down); every pod and external host is its own namespace
 * (`fab-<id>-<name>`) with a veth into the OVS namespace, attached at the port number the cluster
 * state gave it (`ofport_request`), so plans compiled offline match the real bridges.
 *
 * Overlay mode: every node switch runs in an OVS of its own (namespace `fab-<id>-ovs<index>`, docs/real-ovs.md
 * pitfall 7) with its node IP on the bridge's LOCAL interface and a flow-based tunnel port 90, and the
 * node<->fabric veths cross namespaces (the underlay).
 *
 * Mininet builder (`builder: 'mininet'`, routed only): the same namespaces, names, ports and record, but
 * bridges, links and hosts are made by Mininet's Python API in a process of the lab's own (mininet.ts);
 * link, node and pod events then go through that process too.
 *
 * Nothing is configured in the root namespace: veths are created directly inside lab namespaces.
 * Every name carries the lab id, the lab's record (pids, namespaces) lives in /tmp/fabric-lab-<id>/,
 * so `down` works from another process and leftovers of an earlier run are found by name.
 */
import * as fs from 'fs';
import * as path from 'path';
import { macFromIp } from '../../topology/ip';
import type { ClusterState, PortState, SwitchState } from '../../topology/types';
import { coveringPrefix, prefixLength } from './addr';
import { ECHO_PORT, PYTHON, writeAgent } from './agent';
import { LabError } from './errors';
import { inNs, ip, mustRun, pidAlive, pidComm, runCmd, sleep, spawnInNs, stopPid } from './exec';
import { LabOvs, readPidFile } from './ovs';
import { checkLabSafety } from './safety';
import { removeResolvConf } from './dns';
import { checkMininetInstalled, MininetProcess, mininetRequest, mininetRequestSync, MininetRequest, spawnMininet, stopMininet, stopMininetShells, waitMininetReady } from './mininet';

export const LAB_NS_PREFIX = 'fab-';
export const LAB_DIR_PREFIX = 'fabric-lab-';
/** Next hop an external host routes through; it exists only inside that host's namespace, pinned to the attach switch's router MAC. */
export const EXTERNAL_NEXT_HOP = '169.254.0.1';
/** TCP port of the egress check when the expectation names none. */
export const DEFAULT_TCP_PORT = 80;
/** Programs a lab may leave running inside its namespaces (used to clean leftovers by namespace). */
const LAB_PROGRAMS = ['python3', 'ovs-vswitchd', 'ovsdb-server', 'ping', 'iperf3', 'node', 'sleep'];

export type HostKind = 'pod' | 'external' | 'node';
/** Who builds the lab's network: plain `ip netns`/veths + ovs-vsctl (default), or Mininet's Python API. */
export type LabBuilder = 'plain' | 'mininet';

export interface LabHost {
  name: string;
  kind: HostKind;
  ns: string;
  ip: string;
  mac: string;
  /** switch and port it is attached to */
  switch: string;
  port: number;
  /** interface name of its veth end inside the OVS namespace */
  ovsIface: string;
  agentPid?: number;
}

export interface LabLink {
  id: string;
  a: { switch: string; port: number; iface: string };
  b: { switch: string; port: number; iface: string };
}

/** Everything `down` needs, written to <dir>/lab.json. */
export interface LabRecord {
  id: string;
  dir: string;
  ovsNs: string;
  scenario: string;
  scenarioFile?: string;
  /** the process that built it */
  builderPid: number;
  bridges: Record<string, string>;
  /** switch name -> index used in interface names (v<index>p<port>) */
  switchIndex: Record<string, number>;
  hosts: Record<string, LabHost>;
  links: Record<string, LabLink>;
  /** TCP ports every agent listens on */
  agentPorts: number[];
  podAddressing: 'block' | 'host';
  /**
   * Overlay mode only: node switch name -> its own OVS (namespace `fab-<id>-ovs<index>`, run directory
   * `<dir>/ovs<index>`). docs/real-ovs.md pitfall 7: tunnels work cleanly with one vswitchd per node.
   */
  nodeOvs?: Record<string, { ns: string; dir: string; vtep?: { address: string; peers: { ip: string; mac: string }[] } }>;
  /** overlay mode: MTU of pod interfaces (vxlan 1450, geneve 1400) */
  podMtu?: number;
  /**
   * Userspace TSO (`other_config:userspace-tso-enable=true`, set before vswitchd starts) with the
   * veths' offloads left on: routed labs (pod TCP ~5 Gbit/s instead of ~0.5 with tx offload off).
   * Off in overlay labs, where OVS 3.1's tunnels break TCP under TSO: there tx offload is turned off on
   * every veth instead (docs/lab.md "Offloads").
   */
  tso?: boolean;
  /** set once a scenario was played on it (events changed it) */
  played?: boolean;
  /** 'mininet' when Mininet built it (absent: the plain builder) */
  builder?: LabBuilder;
  /** Mininet builder only: its long-lived Python process (links, hosts and teardown go through it) */
  mininet?: MininetProcess;
  /** `fabric lab up --controller`: the background controller's local API (POST /events, GET /state) */
  controllerApi?: string;
  /**
   * `fabric lab up --controller --ha N`: every controller's API, in order (`controllerApi` is the
   * first); `fabric lab pod add|delete` goes to whichever leads
   */
  controllerApis?: string[];
  /** `--ha N`: the shared store and the controllers (their pids are also in `pids`) */
  ha?: { store: string; leaseTtlS?: number; controllers: { pid: number; api: string; log: string }[] };
  pids: { pid: number; comm: string; what: string }[];
}

export interface LabOptions {
  /** [a-z0-9]{1,12}: part of every name the lab creates */
  id: string;
  /** parent of the lab directory; default /tmp */
  baseDir?: string;
  scenarioFile?: string;
  /** TCP ports the host agents listen on, besides every service's targetPort and 80 */
  extraPorts?: number[];
  /** 'block': pods get IP/nodeMaskLen (Kubernetes bridge style); 'host': IP/32 with an on-link route to the gateway */
  podAddressing?: 'block' | 'host';
  /** 'mininet': build bridges, links and hosts with Mininet (routed mode only); default 'plain' */
  builder?: LabBuilder;
  /** userspace TSO (default: on in routed mode; always off in overlay mode, where it breaks TCP in OVS 3.1) */
  tso?: boolean;
}

export function validateLabId(id: string): string {
  if (!/^[a-z0-9]{1,12}$/.test(id)) throw new LabError(`Lab: bad lab id "${id}": use 1-12 characters [a-z0-9]`);
  return id;
}

export function labDir(id: string, baseDir = '/tmp'): string {
  return path.join(baseDir, `${LAB_DIR_PREFIX}${id}`);
}

export function nsName(id: string, name: string): string {
  return `${LAB_NS_PREFIX}${id}-${name}`;
}

function listNetns(): string[] {
  const r = runCmd('ip', ['netns', 'list']);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n && n.length > 0);
}

/** Our namespaces: exactly `fab-<id>-...`. */
export function labNamespaces(id: string): string[] {
  const prefix = `${LAB_NS_PREFIX}${id}-`;
  return listNetns().filter((n) => n.startsWith(prefix));
}

export function readLabRecord(id: string, baseDir = '/tmp'): LabRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(labDir(id, baseDir), 'lab.json'), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Is the process in one of lab `id`'s named network namespaces? */
function inLabNamespace(pid: number, id: string): boolean {
  const r = runCmd('ip', ['netns', 'identify', String(pid)]);
  return r.status === 0 && r.stdout.split(/\s+/).some((n) => n.startsWith(`${LAB_NS_PREFIX}${id}-`));
}

/** Can this process create network namespaces? Fails with a clear message (never a silent skip). */
export function checkNetnsPermitted(): void {
  if (process.getuid && process.getuid() !== 0) throw new LabError('Lab: must run as root (network namespaces, veths, OVS)');
  const probe = `fab-probe${process.pid}`;
  const r = runCmd('ip', ['netns', 'add', probe]);
  if (r.status !== 0) throw new LabError(`Lab: cannot create network namespaces here (ip netns add): ${r.stderr.trim()}`);
  runCmd('ip', ['netns', 'del', probe]);
}

/**
 * Tear down everything of lab `id`: processes recorded in lab.json (comm checked), processes still
 * inside our namespaces (only known lab programs), the OVS daemons by pidfile, every `fab-<id>-*`
 * namespace (their veths die with them), and the lab directory. Idempotent; safe on a half-built lab.
 */
export async function teardownLab(id: string, baseDir = '/tmp'): Promise<{ namespaces: number; processes: number }> {
  validateLabId(id);
  const dir = labDir(id, baseDir);
  const record = readLabRecord(id, baseDir);
  let processes = 0;
  // Mininet first (net.stop() deletes its bridges and links, ends its host shells), bounded; pids below
  if (record?.mininet) await stopMininet(record.mininet);
  for (const p of record?.pids ?? []) {
    // Mininet's shells are plain `bash`: a recycled pid must also sit in one of our namespaces
    if (p.what.startsWith('mininet') && !inLabNamespace(p.pid, id)) continue;
    if (await stopPid(p.pid, p.comm, 500)) processes++;
  }
  if (record?.builder === 'mininet') processes += await stopMininetShells(dir);
  const ovs = new LabOvs(path.join(dir, 'ovs'), nsName(id, 'ovs'));
  const v = readPidFile(ovs.paths.vswitchdPidFile);
  const d = readPidFile(ovs.paths.dbPidFile);
  if (v && (await stopPid(v, 'ovs-vswitchd'))) processes++;
  if (d && (await stopPid(d, 'ovsdb-server'))) processes++;
  const namespaces = labNamespaces(id);
  for (const ns of namespaces) {
    const pids = runCmd('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      const comm = pidComm(pid);
      if (comm && LAB_PROGRAMS.includes(comm) && (await stopPid(pid, comm, 500))) processes++;
    }
  }
  for (const ns of namespaces) {
    removeResolvConf(ns);
    runCmd('ip', ['netns', 'del', ns]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { namespaces: namespaces.length, processes };
}

/** ovs-vsctl `external_ids:` settings naming what a lab port carries (`ovs-vsctl list Interface` shows them). */
export function portExternalIds(ids: { pod?: string; node?: string; external?: string; switch?: string; link?: string }): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(ids)) if (v !== undefined) out.push(`external_ids:fabric-${k}=${JSON.stringify(v)}`);
  return out;
}

function hostExternalIds(h: LabHost): string[] {
  return h.kind === 'pod' ? portExternalIds({ pod: h.name, node: h.switch }) : portExternalIds({ external: h.name, switch: h.switch });
}

function portIface(switchIndex: number, port: number): string {
  return `v${switchIndex}p${port}`;
}

function bridgeName(sw: SwitchState, index: number): string {
  return /^[a-z][a-z0-9-]{0,14}$/.test(sw.name) && !/^v\d+p\d+$/.test(sw.name) ? sw.name : `br${index}`;
}

function findPort(sw: SwitchState, pred: (p: PortState) => boolean, what: string): PortState {
  const p = sw.ports.find(pred);
  if (!p) throw new LabError(`Lab: switch ${sw.name} has no port for ${what}`);
  return p;
}

/**
 * What the Mininet builder cannot build: overlay labs need one OVS per node namespace (docs/real-ovs.md
 * pitfall 7) and Mininet drives one; Mininet keeps hosts and switches in one name table.
 */
function checkMininetLab(state: ClusterState): void {
  if (state.cluster.mode !== 'routed') {
    throw new LabError(`Lab: --mininet builds routed labs only; this scenario is ${state.cluster.mode} (an overlay lab runs one OVS per node namespace, Mininet drives one OVS): build it without --mininet`);
  }
  const bridges = new Set([...state.switches.values()].map((sw, i) => bridgeName(sw, i)));
  for (const name of [...state.pods.keys(), ...state.externals.keys()]) {
    if (bridges.has(name)) throw new LabError(`Lab: --mininet: host "${name}" has the name of a bridge (Mininet names hosts and switches in one table)`);
  }
}

/**
 * The ports every agent listens on: services' targetPorts, the default egress port, extras. Not the
 * echo port (7), which every agent serves anyway (a service with targetPort 7 reaches the echo).
 */
export function agentPortsFor(state: ClusterState, extra: number[] = []): number[] {
  const ports = new Set<number>([DEFAULT_TCP_PORT, ...extra]);
  for (const s of state.services.values()) if (s.protocol === 'tcp') ports.add(s.targetPort);
  return [...ports].filter((p) => Number.isInteger(p) && p > 0 && p < 65536 && p !== ECHO_PORT).sort((a, b) => a - b);
}

export class Lab {
  readonly ovs: LabOvs;
  private constructor(readonly record: LabRecord) {
    this.ovs = new LabOvs(path.join(record.dir, 'ovs'), record.ovsNs);
  }

  get id(): string {
    return this.record.id;
  }

  /** Every bridge's OpenFlow controller target: a unix socket in the OVS run directory (vswitchd
   *  connects only to sockets there), reachable from any network namespace. */
  get controllerTarget(): string {
    return `unix:${path.join(this.ovs.dir, 'controller.sock')}`;
  }

  /** Attach to a running lab (e.g. `fabric lab test` after `fabric lab up` in another process). */
  static open(id: string, baseDir = '/tmp'): Lab {
    validateLabId(id);
    const record = readLabRecord(id, baseDir);
    if (!record) throw new LabError(`Lab: no lab "${id}" is up (no ${path.join(labDir(id, baseDir), 'lab.json')})`);
    const lab = new Lab(record);
    if (!lab.ovs.running()) throw new LabError(`Lab: lab "${id}" is broken: ovs-vswitchd is not running (run \`fabric lab down\`)`, 1);
    if (record.mininet && !pidAlive(record.mininet.pid)) throw new LabError(`Lab: lab "${id}" is broken: its Mininet process is gone (run \`fabric lab down\`)`, 1);
    return lab;
  }

  /**
   * Build the lab for a cluster state: safety check, cleanup of an earlier lab with the same id,
   * namespaces, OVS, bridges, links, hosts, agents. On any failure everything built is torn down.
   */
  static async up(state: ClusterState, options: LabOptions): Promise<Lab> {
    const id = validateLabId(options.id);
    const baseDir = options.baseDir ?? '/tmp';
    if (state.cluster.mode !== 'routed' && state.cluster.mode !== 'overlay') {
      throw new LabError(`Lab: ${state.cluster.mode} mode is not built by the lab yet (routed and overlay only; see docs/lab.md)`);
    }
    for (const name of [...state.pods.keys(), ...state.externals.keys()]) {
      if (/^ovs\d*$/.test(name)) throw new LabError(`Lab: a host named "${name}" clashes with the lab's OVS namespace names (ovs, ovs<N>)`);
    }
    const mininet = options.builder === 'mininet';
    if (mininet) checkMininetLab(state);
    checkNetnsPermitted();
    if (mininet) checkMininetInstalled();
    checkLabSafety(state);
    await teardownLab(id, baseDir);

    const dir = labDir(id, baseDir);
    fs.mkdirSync(dir, { recursive: true });
    const record: LabRecord = {
      id,
      dir,
      ovsNs: nsName(id, 'ovs'),
      scenario: state.scenario,
      scenarioFile: options.scenarioFile,
      builderPid: process.pid,
      bridges: {},
      switchIndex: {},
      hosts: {},
      links: {},
      agentPorts: agentPortsFor(state, options.extraPorts),
      podAddressing: options.podAddressing ?? 'block',
      tso: state.cluster.mode !== 'overlay' && options.tso !== false,
      pids: [],
    };
    if (mininet) record.builder = 'mininet';
    const lab = new Lab(record);
    try {
      if (mininet) await lab.buildMininet(state, record.podAddressing);
      else await lab.build(state, record.podAddressing);
    } catch (err) {
      await teardownLab(id, baseDir);
      throw err;
    }
    return lab;
  }

  save(): void {
    fs.writeFileSync(path.join(this.record.dir, 'lab.json'), JSON.stringify(this.record, null, 2) + '\n');
  }

  /** The lab's namespace and private OVS, and every switch's bridge name and index (both builders). */
  private async startLabOvs(state: ClusterState): Promise<SwitchState[]> {
    const r = this.record;
    ip('netns', 'add', r.ovsNs);
    this.save();
    ip('-n', r.ovsNs, 'link', 'set', 'lo', 'up');
    const pids = await this.ovs.start({ otherConfig: this.ovsOtherConfig() });
    r.pids.push({ pid: pids.ovsdbServer, comm: 'ovsdb-server', what: 'ovsdb-server' });
    r.pids.push({ pid: pids.vswitchd, comm: 'ovs-vswitchd', what: 'ovs-vswitchd' });
    this.save();
    const switches = [...state.switches.values()];
    for (const [i, sw] of switches.entries()) {
      r.bridges[sw.name] = bridgeName(sw, i);
      r.switchIndex[sw.name] = i;
    }
    return switches;
  }

  /** A link's two ends: switch, port number and interface name (switch indexes assigned). */
  private linkOf(state: ClusterState, linkId: string): LabLink {
    const link = state.links.get(linkId)!;
    const end = (name: string): LabLink['a'] => {
      const sw = state.switches.get(name)!;
      const p = findPort(sw, (x) => x.kind === 'link' && x.linkId === linkId, `link ${linkId}`);
      return { switch: sw.name, port: p.port, iface: portIface(this.record.switchIndex[sw.name], p.port) };
    };
    return { id: linkId, a: end(link.a), b: end(link.b) };
  }

  /** An external host where it attaches (switch and port from the cluster state). */
  private externalHost(state: ClusterState, name: string): LabHost {
    const ext = state.externals.get(name)!;
    const sw = state.switches.get(ext.attach);
    if (!sw) throw new LabError(`Lab: external ${ext.name}: no switch ${ext.attach}`);
    const port = findPort(sw, (p) => p.kind === 'external' && p.external === ext.name, `external ${ext.name}`);
    return { name: ext.name, kind: 'external', ns: nsName(this.record.id, ext.name), ip: ext.ip, mac: ext.mac, switch: sw.name, port: port.port, ovsIface: portIface(this.record.switchIndex[sw.name], port.port) };
  }

  /**
   * ovs-vsctl arguments giving a bridge its controller target. It exists from the start: OVS flushes a
   * bridge's flows when it gains its first (or loses its last) controller, so a controller started
   * later must not be the first one; retry every second (default backoff grows to 8 s) so a
   * (re)started controller is found quickly.
   */
  private controllerTx(switchName: string, i: number): string[] {
    const br = this.record.bridges[switchName];
    return ['--', `--id=@c${i}`, 'create', 'Controller', `target="${this.controllerTargetFor(switchName)}"`, 'max_backoff=1000', '--', 'set', 'bridge', br, `controller=@c${i}`];
  }

  /** OVS's other_config at start: userspace TSO where the lab uses it (read by vswitchd at start only). */
  private ovsOtherConfig(): Record<string, string> {
    return this.record.tso ? { 'userspace-tso-enable': 'true' } : {};
  }

  /**
   * Without userspace TSO, TCP through the netdev datapath needs tx offload off on every veth end
   * (checksums left to the device are never filled in: ICMP works, TCP does not); with TSO, OVS
   * handles the offloads and they stay on.
   */
  private offloadsOff(ns: string, iface: string): void {
    if (this.record.tso) return;
    const r = inNs(ns, 'ethtool', ['-K', iface, 'tx', 'off']);
    if (r.status !== 0) throw new LabError(`Lab: ethtool -K ${iface} tx off in ${ns} failed: ${r.stderr.trim()} (TCP fails without it on the userspace datapath without TSO: docs/lab.md "Offloads")`, 1);
  }

  /** Every link's veth ends up, offloads as the lab's TSO mode needs them. */
  private raiseLinkEnds(): void {
    for (const l of Object.values(this.record.links)) {
      for (const end of [l.a, l.b]) {
        const ns = this.nsFor(end.switch);
        ip('-n', ns, 'link', 'set', end.iface, 'up');
        this.offloadsOff(ns, end.iface);
      }
    }
  }

  private async build(state: ClusterState, podAddressing: 'block' | 'host'): Promise<void> {
    const r = this.record;
    const switches = await this.startLabOvs(state);
    const overlay = state.cluster.mode === 'overlay';
    if (overlay) {
      // one OVS per node (docs/real-ovs.md pitfall 7): its bridge's LOCAL port carries the node IP (VTEP)
      r.nodeOvs = {};
      r.podMtu = state.cluster.encap === 'geneve' ? 1400 : 1450;
      for (const [i, sw] of switches.entries()) {
        if (state.nodes.has(sw.name)) r.nodeOvs[sw.name] = { ns: nsName(r.id, `ovs${i}`), dir: path.join(r.dir, `ovs${i}`) };
      }
      for (const n of Object.values(r.nodeOvs)) {
        ip('netns', 'add', n.ns);
        this.save();
        ip('-n', n.ns, 'link', 'set', 'lo', 'up');
        const np = await new LabOvs(n.dir, n.ns).start({ otherConfig: this.ovsOtherConfig() });
        r.pids.push({ pid: np.ovsdbServer, comm: 'ovsdb-server', what: `ovsdb-server ${n.ns}` });
        r.pids.push({ pid: np.vswitchd, comm: 'ovs-vswitchd', what: `ovs-vswitchd ${n.ns}` });
        this.save();
      }
    }

    // links: a veth pair, each end in the namespace of its switch's OVS (routed: both in the OVS namespace)
    for (const link of state.links.values()) {
      const l = this.linkOf(state, link.id);
      ip('-n', this.nsFor(l.a.switch), 'link', 'add', l.a.iface, 'type', 'veth', 'peer', 'name', l.b.iface, 'netns', this.nsFor(l.b.switch));
      r.links[link.id] = l;
    }

    // hosts: one namespace each, a veth whose far end lands in the OVS namespace
    for (const pod of state.pods.values()) this.createHost(this.podHost(state, pod.name));
    for (const ext of state.externals.keys()) this.createHost(this.externalHost(state, ext));
    this.save();

    // OVS: every bridge and port in one transaction per OVS (docs/real-ovs.md: one transaction per port is slow)
    const txs = new Map<string, string[]>();
    const txFor = (sw: string): string[] => {
      const ns = this.nsFor(sw);
      if (!txs.has(ns)) txs.set(ns, []);
      return txs.get(ns)!;
    };
    for (const [i, sw] of switches.entries()) {
      const br = r.bridges[sw.name];
      const tx = txFor(sw.name);
      tx.push('--', 'add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', 'protocols=OpenFlow13', 'fail_mode=secure', `other_config:datapath-id=${sw.datapathId}`);
      tx.push(...this.controllerTx(sw.name, i));
      const node = overlay ? state.nodes.get(sw.name) : undefined;
      const tun = sw.ports.find((p) => p.kind === 'tunnel');
      if (node && tun) {
        // LOCAL gets the node's MAC: OVS terminates a tunnel only for packets sent to LOCAL with its MAC
        tx.push('--', 'set', 'bridge', br, `other_config:hwaddr=${macFromIp(node.ip)}`);
        tx.push('--', 'add-port', br, tun.name, '--', 'set', 'interface', tun.name, `type=${state.cluster.encap}`, 'options:remote_ip=flow', 'options:key=flow', `options:local_ip=${node.ip}`, `ofport_request=${tun.port}`);
      }
    }
    const addPort = (sw: string, iface: string, port: number, ids: string[]): void => {
      txFor(sw).push('--', 'add-port', r.bridges[sw], iface, '--', 'set', 'interface', iface, `ofport_request=${port}`, ...ids);
    };
    for (const l of Object.values(r.links)) {
      addPort(l.a.switch, l.a.iface, l.a.port, portExternalIds({ link: l.id }));
      addPort(l.b.switch, l.b.iface, l.b.port, portExternalIds({ link: l.id }));
    }
    for (const h of Object.values(r.hosts)) addPort(h.switch, h.ovsIface, h.port, hostExternalIds(h));
    for (const [ns, tx] of txs) this.ovsOfNs(ns).vsctl(...tx);

    this.raiseLinkEnds();
    if (overlay) this.configureVteps(state);
    for (const h of Object.values(r.hosts)) this.raiseOvsEnd(h);
    this.checkPorts();
    for (const h of Object.values(r.hosts)) this.configureHost(state, h, podAddressing);
    await this.startAgents(Object.values(r.hosts));
    this.save();
  }

  /**
   * The Mininet builder: the same lab as build() (same namespaces, interface names, port numbers and
   * record), but bridges, links and host namespaces are created by Mininet's Python API in a process of
   * the lab's own (mininet.ts). Each Mininet host's unnamed namespace gets the lab's name with
   * `ip netns attach`, so everything after this (addresses, agents, probes, programming) is shared.
   */
  private async buildMininet(state: ClusterState, podAddressing: 'block' | 'host'): Promise<void> {
    const r = this.record;
    const switches = await this.startLabOvs(state);
    for (const link of state.links.values()) r.links[link.id] = this.linkOf(state, link.id);
    const hosts: LabHost[] = [...state.pods.keys()].map((name) => this.podHost(state, name));
    for (const ext of state.externals.keys()) hosts.push(this.externalHost(state, ext));

    const proc = spawnMininet({
      dir: r.dir,
      ovsNs: r.ovsNs,
      ovsDir: this.ovs.dir,
      spec: {
        switches: switches.map((sw) => ({ bridge: r.bridges[sw.name], dpid: sw.datapathId })),
        links: Object.values(r.links).map((l) => ({ a: { bridge: r.bridges[l.a.switch], port: l.a.port, iface: l.a.iface }, b: { bridge: r.bridges[l.b.switch], port: l.b.port, iface: l.b.iface } })),
        hosts: hosts.map((h) => ({ name: h.name, bridge: r.bridges[h.switch], port: h.port, iface: h.ovsIface })),
      },
    });
    r.mininet = proc;
    r.pids.push({ pid: proc.pid, comm: 'python3', what: 'mininet' });
    this.save();
    await waitMininetReady(proc);
    const nodes = await mininetRequest(proc.socket, { cmd: 'pids' });
    // Mininet's node shells (bash via mnexec): recorded so teardown stops them by pid even if Mininet cannot
    for (const [br, pid] of Object.entries(nodes.switches ?? {})) r.pids.push({ pid, comm: 'bash', what: `mininet switch ${br}` });
    for (const h of hosts) {
      const pid = nodes.hosts?.[h.name];
      if (!pid) throw new LabError(`Lab: Mininet has no host ${h.name}`, 1);
      this.attachMininetHost(h, pid);
    }
    this.save();

    // the controller target exists before anything programs a flow (OVS flushes a bridge's flows when
    // it gains its first controller; see build()); Mininet created the bridges without one
    const tx: string[] = [];
    for (const [i, sw] of switches.entries()) tx.push(...this.controllerTx(sw.name, i));
    this.ovs.vsctl(...tx);
    this.raiseLinkEnds();
    for (const h of hosts) this.raiseOvsEnd(h);
    this.checkPorts();
    for (const h of hosts) this.configureHost(state, h, podAddressing);
    await this.startAgents(hosts);
    this.save();
  }

  /** A Mininet host's (unnamed) namespace gets the lab's name for it, so `ip netns exec` paths work. */
  private attachMininetHost(h: LabHost, pid: number): void {
    ip('netns', 'attach', h.ns, String(pid));
    this.record.hosts[h.name] = h;
    this.record.pids.push({ pid, comm: 'bash', what: `mininet host ${h.name}` });
  }

  /** One request to the lab's Mininet process, synchronously (callers that the play does not await). */
  private mininetSync(req: MininetRequest): void {
    mininetRequestSync(this.record.mininet!, req);
  }

  /** The OVS running a switch's bridge: the node's own in overlay mode, else the lab's. */
  ovsFor(switchName: string): LabOvs {
    const n = this.record.nodeOvs?.[switchName];
    return n ? new LabOvs(n.dir, n.ns) : this.ovs;
  }

  /** The namespace of a switch's bridge (and of the OVS-side ends of its veths). */
  nsFor(switchName: string): string {
    return this.record.nodeOvs?.[switchName]?.ns ?? this.record.ovsNs;
  }

  /** A bridge's controller target: a unix socket in the run directory of the OVS it lives in. */
  controllerTargetFor(switchName: string): string {
    return `unix:${path.join(this.ovsFor(switchName).dir, 'controller.sock')}`;
  }

  private ovsOfNs(ns: string): LabOvs {
    const n = Object.values(this.record.nodeOvs ?? {}).find((o) => o.ns === ns);
    return n ? new LabOvs(n.dir, n.ns) : this.ovs;
  }

  /**
   * Overlay: the node IP on the node bridge's LOCAL interface (inside the node's namespace), and OVS's
   * tunnel route + neighbour for every other node IP through it, so an encapsulated packet enters the
   * node bridge at LOCAL and is routed by the plan like any node traffic (docs/pipeline.md). The
   * neighbour MAC does not matter on the wire: the plan's uplink rewrites the outer eth_dst.
   */
  private configureVteps(state: ClusterState): void {
    for (const sw of Object.keys(this.record.nodeOvs ?? {})) {
      const node = state.nodes.get(sw)!;
      const n = this.record.nodeOvs![sw];
      // OVS picks a tunnel route's source among the device's addresses whose subnet holds the
      // destination, so the address carries the prefix that covers every node IP (not /32)
      n.vtep = {
        address: `${node.ip}/${coveringPrefix([...state.nodes.values()].map((x) => x.ip)).len}`,
        peers: [...state.nodes.values()].filter((o) => o.name !== sw).map((o) => ({ ip: o.ip, mac: macFromIp(o.ip) })),
      };
      this.applyVtep(sw);
    }
    this.save();
  }

  /**
   * The VTEP of one node's OVS: the node IP on its bridge's LOCAL device, OVS's tunnel route and
   * neighbour to every other node. Runtime state of vswitchd and of its tap device: a restarted
   * vswitchd needs it again (restartVswitchd does that).
   */
  private applyVtep(sw: string): void {
    const n = this.record.nodeOvs?.[sw];
    if (!n?.vtep) return;
    const br = this.record.bridges[sw];
    const ovs = new LabOvs(n.dir, n.ns);
    ip('-n', n.ns, 'addr', 'replace', n.vtep.address, 'dev', br);
    ip('-n', n.ns, 'link', 'set', br, 'up');
    for (const peer of n.vtep.peers) {
      ovs.appctl('ovs/route/add', `${peer.ip}/32`, br);
      ovs.appctl('tnl/neigh/set', br, peer.ip, peer.mac);
    }
  }

  private podHost(state: ClusterState, name: string): LabHost {
    const pod = state.pods.get(name);
    if (!pod) throw new LabError(`Lab: no pod ${name} in the cluster state`);
    const sw = state.switches.get(pod.node);
    if (!sw) throw new LabError(`Lab: pod ${pod.name}: no switch for node ${pod.node}`);
    const port = findPort(sw, (p) => p.kind === 'pod' && p.pod === pod.name, `pod ${pod.name}`);
    const index = this.record.switchIndex[sw.name];
    return { name: pod.name, kind: 'pod', ns: nsName(this.record.id, pod.name), ip: pod.ip, mac: pod.mac, switch: sw.name, port: port.port, ovsIface: portIface(index, port.port) };
  }

  private raiseOvsEnd(h: LabHost): void {
    ip('-n', this.nsFor(h.switch), 'link', 'set', h.ovsIface, 'up');
    this.offloadsOff(this.nsFor(h.switch), h.ovsIface);
  }

  /**
   * A pod that appeared (event pod add, or the new place of a moved pod): namespace, port, agent.
   * `port`: the OpenFlow port a running controller gave it (`fabric lab pod add`), instead of this state's.
   */
  async addPod(state: ClusterState, name: string, options: { port?: number } = {}): Promise<LabHost> {
    const h = this.podHost(state, name);
    if (options.port !== undefined) {
      h.port = options.port;
      h.ovsIface = portIface(this.record.switchIndex[h.switch], options.port);
    }
    if (this.record.mininet) return this.addMininetPod(state, h);
    this.createHost(h);
    this.ovsFor(h.switch).vsctl('--', 'add-port', this.bridge(h.switch), h.ovsIface, '--', 'set', 'interface', h.ovsIface, `ofport_request=${h.port}`, ...hostExternalIds(h));
    this.raiseOvsEnd(h);
    this.checkPorts();
    this.configureHost(state, h, this.record.podAddressing);
    await this.startAgents([h]);
    this.save();
    return h;
  }

  /** Mininet: the pod is a new Mininet host (addHost, addLink, attach at its port), then as addPod. */
  private async addMininetPod(state: ClusterState, h: LabHost): Promise<LabHost> {
    const reply = await mininetRequest(this.record.mininet!.socket, { cmd: 'addHost', name: h.name, bridge: this.bridge(h.switch), port: h.port, iface: h.ovsIface });
    this.attachMininetHost(h, reply.pid!);
    this.save();
    this.raiseOvsEnd(h);
    this.checkPorts();
    this.configureHost(state, h, this.record.podAddressing);
    await this.startAgents([h]);
    this.save();
    return h;
  }

  /** A pod that went away (or left for another node): agent, port and namespace removed. */
  async removePod(name: string): Promise<void> {
    const h = this.record.hosts[name];
    if (!h) return;
    if (h.agentPid) await stopPid(h.agentPid, path.basename(PYTHON), 500);
    this.record.pids = this.record.pids.filter((p) => p.pid !== h.agentPid);
    if (this.record.mininet) {
      // Mininet detaches the port, deletes the link and ends the host's shell; the name goes last
      await mininetRequest(this.record.mininet.socket, { cmd: 'delHost', name });
      this.record.pids = this.record.pids.filter((p) => p.what !== `mininet host ${name}`);
      runCmd('ip', ['netns', 'del', h.ns]);
      delete this.record.hosts[name];
      this.save();
      return;
    }
    this.ovsFor(h.switch).vsctl('--if-exists', 'del-port', this.bridge(h.switch), h.ovsIface);
    runCmd('ip', ['netns', 'del', h.ns]);
    delete this.record.hosts[name];
    this.save();
  }

  /**
   * A node going down: every link of its switch and every pod port on it loses carrier (as when the
   * machine dies); up restores those whose link is up in the state.
   */
  setNode(state: ClusterState, node: string, up: boolean): void {
    if (this.record.mininet) {
      const ops: MininetRequest[] = [];
      for (const l of Object.values(this.record.links)) {
        if (l.a.switch !== node && l.b.switch !== node) continue;
        ops.push({ cmd: 'link', a: l.a.iface, b: l.b.iface, up: up && (state.links.get(l.id)?.up ?? true) });
      }
      const ports = Object.values(this.record.hosts).filter((h) => h.switch === node).map((h) => h.ovsIface);
      if (ports.length > 0) ops.push({ cmd: 'intf', names: ports, up });
      this.mininetSync({ cmd: 'batch', ops });
      return;
    }
    for (const l of Object.values(this.record.links)) {
      if (l.a.switch !== node && l.b.switch !== node) continue;
      const linkUp = up && (state.links.get(l.id)?.up ?? true);
      for (const end of [l.a, l.b]) ip('-n', this.nsFor(end.switch), 'link', 'set', end.iface, linkUp ? 'up' : 'down');
    }
    for (const h of Object.values(this.record.hosts)) {
      if (h.switch === node) ip('-n', this.nsFor(h.switch), 'link', 'set', h.ovsIface, up ? 'up' : 'down');
    }
  }

  private createHost(h: LabHost): void {
    const r = this.record;
    ip('netns', 'add', h.ns);
    r.hosts[h.name] = h;
    this.save();
    ip('-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', h.ovsIface, 'netns', this.nsFor(h.switch));
  }

  /** Address, MAC, routes, offloads inside one host namespace. */
  private configureHost(state: ClusterState, h: LabHost, podAddressing: 'block' | 'host'): void {
    ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    ip('-n', h.ns, 'link', 'set', 'eth0', 'address', h.mac);
    // overlay: room for the encapsulation inside the underlay's 1500 bytes (docs/real-ovs.md pitfall 7)
    if (h.kind === 'pod' && this.record.podMtu) ip('-n', h.ns, 'link', 'set', 'eth0', 'mtu', String(this.record.podMtu));
    this.offloadsOff(h.ns, 'eth0');
    ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
    if (h.kind === 'pod') {
      const pod = state.pods.get(h.name)!;
      const node = state.nodes.get(pod.node)!;
      const home = state.nodes.get(pod.homeNode) ?? node;
      if (podAddressing === 'block' && home.name === node.name) {
        ip('-n', h.ns, 'addr', 'add', `${h.ip}/${prefixLength(home.podCidr)}`, 'dev', 'eth0');
      } else {
        // a moved pod keeps its IP outside its new node's block: /32 and an on-link gateway
        ip('-n', h.ns, 'addr', 'add', `${h.ip}/32`, 'dev', 'eth0');
        ip('-n', h.ns, 'route', 'add', node.gatewayIp, 'dev', 'eth0', 'scope', 'link');
      }
      ip('-n', h.ns, 'route', 'add', 'default', 'via', node.gatewayIp, 'dev', 'eth0', 'onlink');
    } else {
      const sw = state.switches.get(h.switch)!;
      ip('-n', h.ns, 'addr', 'add', `${h.ip}/32`, 'dev', 'eth0');
      ip('-n', h.ns, 'neigh', 'replace', EXTERNAL_NEXT_HOP, 'lladdr', sw.routerMac, 'dev', 'eth0', 'nud', 'permanent');
      ip('-n', h.ns, 'route', 'add', 'default', 'via', EXTERNAL_NEXT_HOP, 'dev', 'eth0', 'onlink');
    }
  }

  /** Every port got the OpenFlow number we asked for (else offline plans would not match). */
  private checkPorts(): void {
    const byNs = new Map<string, Map<string, number>>();
    const add = (sw: string, iface: string, port: number): void => {
      const ns = this.nsFor(sw);
      if (!byNs.has(ns)) byNs.set(ns, new Map());
      byNs.get(ns)!.set(iface, port);
    };
    for (const l of Object.values(this.record.links)) {
      add(l.a.switch, l.a.iface, l.a.port);
      add(l.b.switch, l.b.iface, l.b.port);
    }
    for (const h of Object.values(this.record.hosts)) add(h.switch, h.ovsIface, h.port);
    for (const [ns, want] of byNs) this.checkPortsOf(this.ovsOfNs(ns), want);
  }

  private checkPortsOf(ovs: LabOvs, want: Map<string, number>): void {
    if (want.size === 0) return;
    const out = ovs.vsctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,ofport,error', 'list', 'Interface');
    const got = new Map<string, { ofport: number; error: string }>();
    for (const line of out.split('\n').filter(Boolean)) {
      const [name, ofport, ...err] = line.split(',');
      got.set(name, { ofport: Number(ofport), error: err.join(',') });
    }
    for (const [iface, port] of want) {
      const g = got.get(iface);
      if (!g || g.ofport !== port) throw new LabError(`Lab: interface ${iface} got ofport ${g?.ofport ?? 'none'} instead of ${port}${g?.error ? `: ${g.error}` : ''}`, 1);
    }
  }

  private async startAgents(hosts: LabHost[]): Promise<void> {
    const r = this.record;
    const agent = writeAgent(r.dir);
    const ports = r.agentPorts.join(',');
    for (const h of hosts) {
      const log = path.join(r.dir, `agent-${h.name}.log`);
      fs.writeFileSync(log, '');
      const pid = spawnInNs(h.ns, PYTHON, [agent, 'server', h.name, ports], log);
      h.agentPid = pid;
      r.pids.push({ pid, comm: path.basename(PYTHON), what: `agent ${h.name}` });
    }
    this.save();
    for (const h of hosts) {
      const log = path.join(r.dir, `agent-${h.name}.log`);
      for (let waited = 0; ; waited += 20) {
        const text = fs.readFileSync(log, 'utf8');
        if (text.includes('ready')) break;
        if (!pidAlive(h.agentPid!) || waited > 10_000) throw new LabError(`Lab: agent of ${h.name} did not start: ${text.trim().split('\n').slice(-2).join(' | ')}`, 1);
        await sleep(20);
      }
    }
  }

  bridge(switchName: string): string {
    const br = this.record.bridges[switchName];
    if (!br) throw new LabError(`Lab: no switch ${switchName}`);
    return br;
  }

  host(name: string): LabHost {
    const h = this.record.hosts[name];
    if (!h) throw new LabError(`Lab: no host ${name} (pods and externals only)`);
    return h;
  }

  /** Set a link's two veth ends down or up (OVS sees the carrier change, like a cut cable). */
  setLink(linkId: string, up: boolean): void {
    const l = this.record.links[linkId];
    if (!l) throw new LabError(`Lab: no link ${linkId}`);
    if (this.record.mininet) return this.mininetSync({ cmd: 'link', a: l.a.iface, b: l.b.iface, up });
    for (const end of [l.a, l.b]) ip('-n', this.nsFor(end.switch), 'link', 'set', end.iface, up ? 'up' : 'down');
  }

  /**
   * Kill ovs-vswitchd (SIGKILL: every flow, group and meter is lost) and start it again with the same
   * database; the bridges come back empty and reconnect to their controller. Returns the new pid.
   * `switchName`: the OVS of that switch (an overlay node's own), else the lab's; an overlay node's
   * VTEP (node IP on LOCAL, tunnel routes and neighbours) is configured again.
   */
  async restartVswitchd(switchName?: string): Promise<number> {
    const node = switchName ? this.record.nodeOvs?.[switchName] : undefined;
    const ovs = switchName ? this.ovsFor(switchName) : this.ovs;
    const what = node ? `ovs-vswitchd ${node.ns}` : 'ovs-vswitchd';
    const old = readPidFile(ovs.paths.vswitchdPidFile);
    if (old) {
      await stopPid(old, 'ovs-vswitchd', 0);
      // SIGKILL is not death: until the old one is gone its pidfile lock makes the new one abort
      // ("already running"), which a loaded machine showed
      for (let waited = 0; pidAlive(old); waited += 10) {
        if (waited > 10_000) throw new LabError(`Lab: ovs-vswitchd ${old} did not exit within 10 s of SIGKILL`, 1);
        await sleep(10);
      }
    }
    this.record.pids = this.record.pids.filter((p) => p.pid !== old);
    const pid = ovs.startVswitchd();
    this.record.pids.push({ pid, comm: 'ovs-vswitchd', what });
    this.save();
    if (node?.vtep && switchName) {
      // overlay node: the bridge's tap device came back without the node IP, and vswitchd forgot its
      // tunnel routes and neighbours
      const br = this.record.bridges[switchName];
      for (let waited = 0; runCmd('ip', ['-n', node.ns, 'link', 'show', br]).status !== 0; waited += 20) {
        if (waited > 10_000) throw new LabError(`Lab: bridge ${br} did not come back after vswitchd restarted in ${node.ns}`, 1);
        await sleep(20);
      }
      this.applyVtep(switchName);
    }
    return pid;
  }

  /**
   * Stop ovsdb-server (SIGTERM, no grace: every OVSDB client sees its connection drop) and start it again on
   * the same database file after `downMs`; vswitchd keeps forwarding meanwhile. Returns the new pid.
   */
  async restartOvsdbServer(downMs = 0): Promise<number> {
    const old = readPidFile(this.ovs.paths.dbPidFile);
    if (old) await stopPid(old, 'ovsdb-server', 0);
    this.record.pids = this.record.pids.filter((p) => p.pid !== old);
    this.save();
    if (downMs > 0) await sleep(downMs);
    const pid = this.ovs.startOvsdbServer();
    this.record.pids.push({ pid, comm: 'ovsdb-server', what: 'ovsdb-server' });
    this.save();
    return pid;
  }

  /** ovs-ofctl against one bridge (OpenFlow 1.3). */
  ofctl(switchName: string, command: string, ...args: string[]): string {
    const ovs = this.ovsFor(switchName);
    return ovs.ofctl('-O', 'OpenFlow13', command, ovs.mgmt(this.bridge(switchName)), ...args);
  }

  async down(): Promise<void> {
    await teardownLab(this.record.id, path.dirname(this.record.dir));
  }
}

export { mustRun };
