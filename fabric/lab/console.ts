/**
 * A Mininet-like console for a lab that is up (`fabric lab shell`, `fabric lab exec -- COMMAND`):
 * `pingall`, `link A B down|up`, `POD ping POD|IP`, `POD curl SERVICE|POD|IP[:PORT]`, `iperf A B`,
 * `dump [SWITCH]` (flows with table names), `trace FROM TO [PORT]` (`ovs-appctl ofproto/trace` on the
 * live bridges, hop by hop, with names), `inspect`; plus `fabric lab list` / `inspect` (labs, hosts,
 * addresses, OVS bridges and ports, like containerlab's inspect) and `fabric lab pod add|delete` (the
 * pod's namespace, veth and OVS port, and the running lab controller told through POST /events).
 * Every command reads the lab record (lab.json) and the scenario file it was built from; nothing here
 * touches the root namespace's addresses or routes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PIPELINE } from '../../controller/pipeline';
import { applyEvent } from '../../topology';
import { macFromIp } from '../../topology/ip';
import type { ClusterState } from '../../topology/types';
import { ControllerSet } from '../cni/controller-client';
import { controllerRole, labControllerApis } from './ha';
import { LabError } from './errors';
import { inNsAsync, runCmd, sleep } from './exec';
import { Lab, LAB_DIR_PREFIX, LabHost, readLabRecord } from './lab';
import type { LabRecord } from './lab';
import { loadScenario } from './scenario';
import { ping, tcpConnect } from './traffic';

const API_TIMEOUT_MS = 20_000;

/** A table's name (controller/pipeline.ts PIPELINE), or undefined for a table the pipeline has not. */
function tableLabel(id: number): string | undefined {
  return PIPELINE[id]?.name;
}

// ---------------------------------------------------------------------------------------------
// Which labs are up
// ---------------------------------------------------------------------------------------------

export interface LabSummary {
  id: string;
  scenario: string;
  scenarioFile?: string;
  dir: string;
  hosts: number;
  bridges: number;
  links: number;
  controller?: { pid: number; api?: string };
  /** `lab up --controller --ha N`: every controller, with its role (GET /state) once withControllerRoles asked */
  controllers?: LabControllerInfo[];
}

export interface LabControllerInfo {
  pid: number;
  api: string;
  log: string;
  /** as GET /state reports it (`withControllerRoles`): leader, standby, or unreachable */
  role?: 'leader' | 'standby' | 'unreachable';
}

/** The HA controllers a lab records (none: it runs one controller or none). */
function haControllers(r: LabRecord): LabControllerInfo[] | undefined {
  return r.ha ? r.ha.controllers.map((c) => ({ pid: c.pid, api: c.api, log: c.log })) : undefined;
}

/** Ask every recorded HA controller for its role (GET /state; 1 s each, all at once). */
export async function withControllerRoles<T extends { controllers?: LabControllerInfo[] }>(x: T): Promise<T> {
  if (!x.controllers) return x;
  const roles = await Promise.all(x.controllers.map((c) => controllerRole(c.api, 1000)));
  return { ...x, controllers: x.controllers.map((c, i) => ({ ...c, role: roles[i]?.role ?? 'unreachable' })) };
}

/** Every lab with a record under `baseDir` (default /tmp). */
export function listLabs(baseDir = '/tmp'): LabSummary[] {
  const out: LabSummary[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(baseDir).filter((n) => n.startsWith(LAB_DIR_PREFIX)).sort();
  } catch {
    return [];
  }
  for (const n of names) {
    const r = readLabRecord(n.slice(LAB_DIR_PREFIX.length), baseDir);
    if (!r) continue;
    const c = r.pids.find((p) => p.what === 'fabric controller');
    const ha = haControllers(r);
    out.push({
      id: r.id,
      scenario: r.scenario,
      ...(r.scenarioFile ? { scenarioFile: r.scenarioFile } : {}),
      dir: r.dir,
      hosts: Object.keys(r.hosts).length,
      bridges: Object.keys(r.bridges).length,
      links: Object.keys(r.links).length,
      ...(c ? { controller: { pid: c.pid, ...(r.controllerApi ? { api: r.controllerApi } : {}) } } : {}),
      ...(ha ? { controllers: ha } : {}),
    });
  }
  return out;
}

/** The lab `id`, or the only lab that is up when no id is given. */
export function openLab(id: string | undefined, baseDir = '/tmp'): Lab {
  if (id) return Lab.open(id, baseDir);
  const labs = listLabs(baseDir);
  if (labs.length === 0) throw new LabError('lab: no lab is up (fabric lab up FILE)');
  if (labs.length > 1) throw new LabError(`lab: ${labs.length} labs are up (${labs.map((l) => l.id).join(', ')}): give --id`);
  return Lab.open(labs[0].id, baseDir);
}

// ---------------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------------

export interface InspectHost {
  name: string;
  kind: string;
  namespace: string;
  ip: string;
  mac: string;
  switch: string;
  bridge: string;
  ofport: number;
  /** the veth end on the OVS side */
  interface: string;
  agentPid?: number;
}

export interface LabInspection {
  id: string;
  scenario: string;
  scenarioFile?: string;
  dir: string;
  bridges: { switch: string; bridge: string; namespace: string; db: string; mgmt: string }[];
  hosts: InspectHost[];
  links: { id: string; a: string; b: string }[];
  controller?: { pid: number; api?: string; log: string };
  /** `lab up --controller --ha N`: every controller (roles filled by withControllerRoles) */
  controllers?: LabControllerInfo[];
  /** `--ha N`: the shared intent store */
  store?: string;
}

export function inspectLab(lab: Lab): LabInspection {
  const r = lab.record;
  const c = r.pids.find((p) => p.what === 'fabric controller');
  const ha = haControllers(r);
  return {
    id: r.id,
    scenario: r.scenario,
    ...(r.scenarioFile ? { scenarioFile: r.scenarioFile } : {}),
    dir: r.dir,
    bridges: Object.keys(r.bridges).map((sw) => ({ switch: sw, bridge: r.bridges[sw], namespace: lab.nsFor(sw), db: lab.ovsFor(sw).dbUrl, mgmt: lab.ovsFor(sw).mgmt(r.bridges[sw]) })),
    hosts: Object.values(r.hosts)
      .sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'pod' ? -1 : 1))
      .map((h) => ({ name: h.name, kind: h.kind, namespace: h.ns, ip: h.ip, mac: h.mac, switch: h.switch, bridge: r.bridges[h.switch], ofport: h.port, interface: h.ovsIface, ...(h.agentPid ? { agentPid: h.agentPid } : {}) })),
    links: Object.values(r.links).map((l) => ({ id: l.id, a: `${l.a.switch}:${l.a.port} (${l.a.iface})`, b: `${l.b.switch}:${l.b.port} (${l.b.iface})` })),
    ...(c && !ha ? { controller: { pid: c.pid, ...(r.controllerApi ? { api: r.controllerApi } : {}), log: path.join(r.dir, 'controller.log') } } : {}),
    ...(ha ? { controllers: ha, store: r.ha!.store } : {}),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

export function formatInspection(x: LabInspection): string {
  let out = `lab ${x.id}: scenario ${x.scenario}${x.scenarioFile ? ` (${x.scenarioFile})` : ''}, directory ${x.dir}\n`;
  if (x.controller) out += `controller: pid ${x.controller.pid}${x.controller.api ? `, API ${x.controller.api}` : ''}, log ${x.controller.log}\n`;
  if (x.controllers) {
    out += `controllers (HA, store ${x.store ?? '?'}):\n`;
    for (const c of x.controllers) out += `  pid ${c.pid}  ${c.role ?? '?'}  API ${c.api}  log ${c.log}\n`;
  }
  out += '\n' + table([['HOST', 'KIND', 'IP', 'MAC', 'SWITCH', 'BRIDGE', 'OFPORT', 'OVS IFACE', 'NAMESPACE'], ...x.hosts.map((h) => [h.name, h.kind, h.ip, h.mac, h.switch, h.bridge, String(h.ofport), h.interface, h.namespace])]);
  out += '\n' + table([['SWITCH', 'BRIDGE', 'NAMESPACE', 'OVSDB'], ...x.bridges.map((b) => [b.switch, b.bridge, b.namespace, b.db])]);
  if (x.links.length > 0) out += '\n' + table([['LINK', 'END A', 'END B'], ...x.links.map((l) => [l.id, l.a, l.b])]);
  const b = x.bridges[0];
  if (b) out += `\novs-vsctl --db=${b.db} show\novs-ofctl -O OpenFlow13 dump-flows ${b.mgmt}\n`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// pod add / delete against a running lab controller
// ---------------------------------------------------------------------------------------------

export interface PodAddOptions {
  name: string;
  node: string;
  labels?: Record<string, string>;
  ip?: string;
  /** the controller's API; default: the one `lab up --controller` recorded */
  api?: string;
}

/**
 * The controllers a pod add or delete goes to: `--api URL`, else every API the lab recorded (one, or
 * each HA controller's). With several, ControllerSet tries them in turn until one that is not a standby
 * takes the POST (a standby's 503 names the leader: that one next). One URL: one attempt, as before.
 */
function controllerSetOf(lab: Lab, api?: string): ControllerSet | undefined {
  const urls = api ? [api] : labControllerApis(lab.record);
  return urls.length > 0 ? new ControllerSet(urls, { timeoutMs: API_TIMEOUT_MS }) : undefined;
}

/** one key per pod add or delete, the same on every retry (a dying leader may have stored the batch) */
function idempotencyKey(what: string, name: string): string {
  return `fabric-lab-${what}-${name}-${process.pid}-${Date.now()}`;
}

/**
 * The lab's view of the cluster with the controller's pods: the scenario's state, then the pod `name`
 * as the controller has it (node, IP, labels), so the host is configured as the controller compiled it.
 */
function stateWithPod(lab: Lab, pod: { name: string; node: string; ip: string; labels: Record<string, string> }): ClusterState {
  if (!lab.record.scenarioFile) throw new LabError(`lab: lab ${lab.id} does not record its scenario file`);
  const { state } = loadScenario(lab.record.scenarioFile);
  const clash = [...state.pods.values()].filter((p) => p.name === pod.name || p.ip === pod.ip);
  for (const p of clash) applyEvent(state, { at: 0, kind: 'pod', action: 'delete', name: p.name });
  applyEvent(state, { at: 0, kind: 'pod', action: 'add', name: pod.name, node: pod.node, labels: pod.labels, ip: pod.ip });
  return state;
}

/**
 * `fabric lab pod add`: the controller first (POST /events in the scenario's event shape, answered after
 * the pass that installed the pod's flows; GET /state gives its IP and port), then the pod's namespace,
 * veth and OVS port at that port, and its agent. If the host cannot be built, the controller is told to
 * delete the pod again.
 */
export async function labPodAdd(lab: Lab, o: PodAddOptions): Promise<{ host: LabHost; reconciledMs?: number; totalMs: number; controller: string }> {
  const started = Date.now();
  const set = controllerSetOf(lab, o.api);
  if (!set) throw new LabError(`lab: lab ${lab.id} has no controller with an API: start it with \`fabric lab up FILE --controller\` (or give --api URL)`);
  if (lab.record.hosts[o.name]) throw new LabError(`lab pod add: lab ${lab.id} already has a host ${o.name}`);
  const event: Record<string, unknown> = { pod: 'add', name: o.name, node: o.node, labels: o.labels ?? {} };
  if (o.ip) event.ip = o.ip;
  const r = await set.postEvents([event], { idempotencyKey: idempotencyKey('add', o.name) });
  if (r.status !== 200) throw new LabError(`lab pod add: the controller refused it: ${r.json?.error ?? r.status}`);
  try {
    // the controller that took the POST (a standby's state may lag)
    const { state: st } = await set.getState({ only: r.url });
    const pod = st.pods.find((p) => p.name === o.name);
    if (!pod || pod.port === undefined) throw new LabError(`lab pod add: the controller's state has no port for ${o.name}`, 1);
    const state = stateWithPod(lab, { name: pod.name, node: pod.node, ip: pod.ip, labels: pod.labels });
    const host = await lab.addPod(state, o.name, { port: pod.port });
    return { host, reconciledMs: r.json?.reconciledMs, totalMs: Date.now() - started, controller: r.url };
  } catch (err) {
    await set.postEvents([{ pod: 'delete', name: o.name }], { idempotencyKey: idempotencyKey('undo', o.name) }).catch(() => undefined);
    await lab.removePod(o.name).catch(() => undefined);
    throw err;
  }
}

/** `fabric lab pod delete`: the controller forgets the pod (no longer a backend), then its host goes. */
export async function labPodDelete(lab: Lab, name: string, api?: string): Promise<{ controller: boolean; host: boolean }> {
  const set = controllerSetOf(lab, api);
  let controller = false;
  if (set) {
    const r = await set.postEvents([{ pod: 'delete', name }], { idempotencyKey: idempotencyKey('delete', name) });
    if (r.status === 200) controller = true;
    else if (!/no pod/.test(String(r.json?.error))) throw new LabError(`lab pod delete: the controller refused it: ${r.json?.error ?? r.status}`);
  }
  const host = lab.record.hosts[name] !== undefined;
  if (host && lab.record.hosts[name].kind !== 'pod') throw new LabError(`lab pod delete: ${name} is not a pod`);
  await lab.removePod(name);
  if (!controller && !host) throw new LabError(`lab pod delete: no pod ${name} (neither the controller nor the lab has it)`);
  return { controller, host };
}

// ---------------------------------------------------------------------------------------------
// The console
// ---------------------------------------------------------------------------------------------

export const CONSOLE_HELP = `commands:
  pingall                          ICMP from every host to every other host (X: no reply)
  link A B down|up                 cut or restore the link between switches A and B (both veth ends)
  POD ping POD|IP                  3 ICMP echo requests
  POD curl SERVICE|POD|IP[:PORT]   one TCP connection through the lab agent; prints who answered
  iperf A B                        iperf3 (TCP, 1 s) from host A to host B
  dump [SWITCH]                    flows of every switch (or one), table names beside numbers
  trace FROM TO [PORT]             ofproto/trace on the live bridges, hop by hop, with names
  inspect                          hosts, addresses, OVS ports
  help, exit
`;

interface Target {
  ip: string;
  port?: number;
  label: string;
}

/** The scenario's state, for service VIPs and gateways (loaded once per console). */
class Names {
  private cached?: ClusterState;
  constructor(private readonly lab: Lab) {}
  get state(): ClusterState | undefined {
    if (!this.cached && this.lab.record.scenarioFile) {
      try {
        this.cached = loadScenario(this.lab.record.scenarioFile).state;
      } catch {
        this.cached = undefined;
      }
    }
    return this.cached;
  }

  /** A host, a service (its VIP and port), or an IP; `:PORT` overrides the port. */
  target(spec: string, defaultPort?: number): Target {
    const m = /^(.+?)(?::(\d{1,5}))?$/.exec(spec)!;
    const name = m[1];
    const port = m[2] !== undefined ? Number(m[2]) : undefined;
    const h = this.lab.record.hosts[name];
    if (h) return { ip: h.ip, port: port ?? defaultPort, label: `${name} (${h.ip})` };
    const svc = this.state?.services.get(name);
    if (svc) return { ip: svc.vip, port: port ?? svc.port, label: `service ${name} (${svc.vip}:${port ?? svc.port})` };
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return { ip: name, port: port ?? defaultPort, label: name };
    const known = [...Object.keys(this.lab.record.hosts), ...(this.state ? [...this.state.services.keys()] : [])];
    throw new LabError(`no host, service or IP "${name}" (known: ${known.join(', ')})`);
  }

  /** What is at port `port` of switch `sw`: a host, or a link to another switch. */
  portOwner(sw: string, port: number): { text: string; peer?: { switch: string; port: number } } {
    const r = this.lab.record;
    for (const h of Object.values(r.hosts)) if (h.switch === sw && h.port === port) return { text: `${h.kind} ${h.name}` };
    for (const l of Object.values(r.links)) {
      if (l.a.switch === sw && l.a.port === port) return { text: `link to ${l.b.switch}`, peer: { switch: l.b.switch, port: l.b.port } };
      if (l.b.switch === sw && l.b.port === port) return { text: `link to ${l.a.switch}`, peer: { switch: l.a.switch, port: l.a.port } };
    }
    const tun = this.state?.switches.get(sw)?.ports.find((p) => p.port === port);
    if (tun) return { text: `${tun.kind} ${tun.name}` };
    return { text: 'nothing known' };
  }

  /** The MAC a host sends routed packets to: its node's gateway (pods) or its switch's router MAC (externals). */
  gatewayMac(h: LabHost): string | undefined {
    const st = this.state;
    if (!st) return undefined;
    if (h.kind === 'pod') {
      const node = st.nodes.get(h.switch);
      return node ? macFromIp(node.gatewayIp) : undefined;
    }
    return st.switches.get(h.switch)?.routerMac;
  }
}

/** `table=9` in ovs-ofctl output gets its name: `table=9(l3_forwarding)`. */
export function nameTables(text: string): string {
  return text.replace(/\btable=(\d+)(?![\d(])/g, (all, n: string) => {
    const name = tableLabel(Number(n));
    return name ? `${all}(${name})` : all;
  });
}

function splitWords(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

export class LabConsole {
  private readonly names: Names;
  constructor(readonly lab: Lab) {
    this.names = new Names(lab);
  }

  private host(name: string): LabHost {
    const h = this.lab.record.hosts[name];
    if (!h) throw new LabError(`no host ${name} (hosts: ${Object.keys(this.lab.record.hosts).join(', ')})`);
    return h;
  }

  /** One console line; returns what to print (errors come back as `error: ...` lines, never thrown). */
  async run(line: string): Promise<{ ok: boolean; text: string }> {
    const w = splitWords(line);
    if (w.length === 0) return { ok: true, text: '' };
    try {
      const text = await this.dispatch(w);
      return { ok: true, text };
    } catch (err) {
      return { ok: false, text: `error: ${(err as Error).message}\n` };
    }
  }

  private async dispatch(w: string[]): Promise<string> {
    const [cmd, ...args] = w;
    switch (cmd) {
      case 'help':
      case '?':
        return CONSOLE_HELP;
      case 'pingall':
        return this.pingall();
      case 'link':
        if (args.length !== 3 || !['down', 'up'].includes(args[2])) throw new LabError('usage: link A B down|up');
        return this.link(args[0], args[1], args[2] === 'up');
      case 'iperf':
        if (args.length !== 2) throw new LabError('usage: iperf A B');
        return this.iperf(args[0], args[1]);
      case 'dump':
        return this.dump(args[0]);
      case 'trace':
        if (args.length < 2 || args.length > 3) throw new LabError('usage: trace FROM TO [PORT]');
        return this.trace(args[0], args[1], args[2] !== undefined ? Number(args[2]) : undefined);
      case 'inspect':
        return formatInspection(inspectLab(this.lab));
      default:
        break;
    }
    if (this.lab.record.hosts[cmd] && args[0] === 'ping' && args.length === 2) return this.ping(cmd, args[1]);
    if (this.lab.record.hosts[cmd] && args[0] === 'curl' && args.length === 2) return this.curl(cmd, args[1]);
    if (this.lab.record.hosts[cmd]) throw new LabError(`usage: ${cmd} ping POD|IP, ${cmd} curl SERVICE|POD|IP[:PORT]`);
    throw new LabError(`unknown command "${cmd}" (help lists them)`);
  }

  async pingall(): Promise<string> {
    const hosts = Object.values(this.lab.record.hosts).sort((a, b) => a.name.localeCompare(b.name));
    let sent = 0;
    let received = 0;
    const lines: string[] = ['*** Ping: testing ping reachability'];
    for (const a of hosts) {
      const results = await Promise.all(hosts.filter((b) => b !== a).map(async (b) => ({ b, r: await ping(this.lab, a.name, b.ip, 1, 0.1, 1) })));
      const cells = results.map(({ b, r }) => {
        sent++;
        if (r.received > 0) received++;
        return r.received > 0 ? b.name : 'X';
      });
      lines.push(`${a.name} -> ${cells.join(' ')}`);
    }
    const dropped = sent === 0 ? 0 : Math.round((100 * (sent - received)) / sent);
    lines.push(`*** Results: ${dropped}% dropped (${received}/${sent} received)`);
    return lines.join('\n') + '\n';
  }

  link(a: string, b: string, up: boolean): string {
    const l = Object.values(this.lab.record.links).find((x) => (x.a.switch === a && x.b.switch === b) || (x.a.switch === b && x.b.switch === a));
    if (!l) throw new LabError(`no link between ${a} and ${b} (links: ${Object.values(this.lab.record.links).map((x) => `${x.a.switch}-${x.b.switch}`).join(', ')})`);
    this.lab.setLink(l.id, up);
    return `link ${l.a.switch}:${l.a.port} (${l.a.iface}) <-> ${l.b.switch}:${l.b.port} (${l.b.iface}) ${up ? 'up' : 'down'}\n`;
  }

  async ping(from: string, to: string): Promise<string> {
    this.host(from);
    const t = this.names.target(to);
    const r = await ping(this.lab, from, t.ip, 3, 0.2, 1);
    const rtt = r.rttMs.length ? `, rtt ${Math.min(...r.rttMs).toFixed(2)}/${(r.rttMs.reduce((x, y) => x + y, 0) / r.rttMs.length).toFixed(2)}/${Math.max(...r.rttMs).toFixed(2)} ms` : '';
    return `${from} ping ${t.label}: ${r.sent} sent, ${r.received} received${rtt}${r.received === 0 ? ' (no reply)' : ''}\n`;
  }

  async curl(from: string, to: string): Promise<string> {
    this.host(from);
    const t = this.names.target(to, 80);
    const [r] = await tcpConnect(this.lab, from, t.ip, t.port ?? 80, 1, 1.5, 1);
    if (!r?.ok) return `${from} -> ${t.label} port ${t.port}: failed (${r?.error ?? 'no answer'})\n`;
    return `${from} -> ${t.label} port ${t.port}: answered by ${r.server}, which saw the source as ${r.seenSrc}\n`;
  }

  async iperf(a: string, b: string): Promise<string> {
    const ha = this.host(a);
    const hb = this.host(b);
    const port = '5201';
    const server = inNsAsync(hb.ns, 'iperf3', ['-s', '-1', '-p', port], { timeoutMs: 15_000 });
    await sleep(300);
    const c = await inNsAsync(ha.ns, 'iperf3', ['-c', hb.ip, '-p', port, '-t', '1', '-J'], { timeoutMs: 12_000 });
    await server;
    if (c.status !== 0) return `iperf ${a} -> ${b}: failed (${(c.stdout + c.stderr).trim().split('\n').slice(-1)[0]})\n`;
    try {
      const j = JSON.parse(c.stdout);
      const bps = j.end.sum_received.bits_per_second as number;
      return `iperf ${a} -> ${b}: ${(bps / 1e6).toFixed(1)} Mbit/s (TCP, 1 s)\n`;
    } catch {
      return `iperf ${a} -> ${b}: ${c.stdout.trim().split('\n').slice(-1)[0]}\n`;
    }
  }

  dump(sw?: string): string {
    const switches = sw ? [sw] : Object.keys(this.lab.record.bridges);
    let out = '';
    for (const s of switches) {
      this.lab.bridge(s);
      out += `*** ${s} (bridge ${this.lab.bridge(s)})\n`;
      let last = -1;
      for (const line of this.lab.ofctl(s, 'dump-flows', '--no-stats').split('\n')) {
        if (!line.trim() || /^OFPST_FLOW/.test(line)) continue;
        const t = Number(/\btable=(\d+)/.exec(line)?.[1] ?? 0);
        if (t !== last) out += `  # table ${t}: ${tableLabel(t) ?? '?'}\n`;
        last = t;
        out += `${line}\n`;
      }
    }
    return out;
  }

  /**
   * `ovs-appctl ofproto/trace` from a host's port, switch after switch: the packet leaving one bridge
   * on a link is traced again at the far switch (the final flow of the hop, in_port its port there).
   * Tables get their names; each hop ends with the output port's owner (host or link) or the drop.
   */
  async trace(from: string, to: string, port?: number): Promise<string> {
    const h = this.host(from);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new LabError(`trace: PORT must be 1..65535, got ${port}`);
    const t = this.names.target(to, port);
    const gw = this.names.gatewayMac(h) ?? 'ff:ff:ff:ff:ff:ff';
    const l4 = t.port !== undefined ? `tcp,tp_src=40000,tp_dst=${t.port},tcp_flags=syn` : 'icmp,icmp_type=8,icmp_code=0';
    // the packet as it leaves a switch: these fields, updated from the datapath's set() actions
    const pkt: Record<string, string> = { dl_src: h.mac, dl_dst: gw, nw_src: h.ip, nw_dst: t.ip, nw_ttl: '64' };
    if (t.port !== undefined) Object.assign(pkt, { tp_src: '40000', tp_dst: String(t.port) });
    let inPort = h.port;
    let sw = h.switch;
    let out = `trace ${from} (${h.ip}) -> ${t.label}${t.port !== undefined ? ` tcp port ${t.port}` : ' icmp echo'}\n`;
    const path: string[] = [`${sw}:${inPort}`];
    let verdict = '';
    const seen = new Set<string>();
    for (let hop = 0; hop < 10; hop++) {
      if (seen.has(sw)) {
        verdict = `loop: back at ${sw}`;
        break;
      }
      seen.add(sw);
      const flow = `in_port=${inPort},${l4.replace(/tp_src=\d+,tp_dst=\d+/, '')},${Object.entries(pkt).map(([k, v]) => `${k}=${v}`).join(',')}`.replace(/,,+/g, ',');
      const ovs = this.lab.ovsFor(sw);
      const args = ['ofproto/trace', this.lab.bridge(sw), flow];
      for (let i = 0; i < 4; i++) args.push('--ct-next', 'trk,new');
      const r = runCmd('ovs-appctl', [`--target=${ovs.paths.vswitchdCtl}`, ...args], { env: ovs.env });
      if (r.status !== 0) throw new LabError(`ofproto/trace on ${sw}: ${r.stderr.trim()}`);
      const text = r.stdout;
      out += `== ${sw} (bridge ${this.lab.bridge(sw)}) in_port=${inPort}: ${this.names.portOwner(sw, inPort).text}\n`;
      out +=
        text
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => {
            const m = /^(\s*)(\d+)\. (.*)$/.exec(l);
            if (m) {
              const name = tableLabel(Number(m[2]));
              return `${m[1]}${m[2]}. ${name ? `(${name}) ` : ''}${m[3]}`;
            }
            const o = /^(\s*)output:(\d+)\s*$/.exec(l);
            if (o) return `${l}   -> ${this.names.portOwner(sw, Number(o[2])).text}`;
            return nameTables(l);
          })
          .join('\n') + '\n';
      const outputs = [...text.matchAll(/^\s*output:(\d+)\s*$/gm)].map((m) => Number(m[1]));
      const dps = [...text.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]);
      const lastDp = dps[dps.length - 1] ?? '';
      if (outputs.length === 0) {
        if (/hash\(/.test(lastDp)) {
          const svc = this.names.state ? [...this.names.state.services.values()].find((x) => x.vip === t.ip) : undefined;
          verdict = `undecided at ${sw}: a select group (dp_hash) picks the backend, which ofproto/trace cannot simulate${svc ? `; trace a backend of service ${svc.name} instead: ${svc.endpoints.map((e) => `trace ${from} ${e} ${svc.targetPort}`).join(', ') || '(none)'}` : ''}`;
          break;
        }
        const lastTable = [...text.matchAll(/^\s*(\d+)\. /gm)].map((m) => Number(m[1])).pop();
        verdict = `dropped at ${sw}${lastTable !== undefined ? ` in table ${lastTable}${tableLabel(lastTable) ? ` (${tableLabel(lastTable)})` : ''}` : ''}`;
        break;
      }
      for (const dp of dps) {
        for (const m of dp.matchAll(/set\((eth|ipv4|tcp|udp)\(([^)]*)\)\)/g)) {
          for (const kv of m[2].split(',')) {
            const [k, v] = kv.split('=');
            const field = { eth: { src: 'dl_src', dst: 'dl_dst' }, ipv4: { src: 'nw_src', dst: 'nw_dst', ttl: 'nw_ttl' }, tcp: { src: 'tp_src', dst: 'tp_dst' }, udp: { src: 'tp_src', dst: 'tp_dst' } }[m[1] as 'eth'][k as 'src'];
            if (field && v !== undefined) pkt[field] = v;
          }
        }
      }
      const tunnel = dps.find((d) => /tnl_push/.test(d));
      if (tunnel) {
        // overlay: the packet leaves encapsulated; the outer header is not reconstructed here
        verdict = `encapsulated at ${sw} (${/tnl_push\(tnl_port\(\d+\),header\(size=\d+,type=\d+,eth\([^)]*\),ipv4\(([^)]*)\)/.exec(tunnel)?.[1] ?? 'tunnel'}): this trace does not follow tunnels; trace on the far node from its tunnel port`;
        break;
      }
      const o = outputs[outputs.length - 1];
      const owner = this.names.portOwner(sw, o);
      path.push(`${sw}:${o}`);
      out += `${sw}: output to port ${o}: ${owner.text}\n`;
      if (!owner.peer) {
        verdict = `delivered to ${owner.text} (${Object.entries(pkt).map(([k, v]) => `${k}=${v}`).join(',')})`;
        break;
      }
      sw = owner.peer.switch;
      inPort = owner.peer.port;
      path.push(`${sw}:${inPort}`);
    }
    const hops: string[] = [];
    for (let i = 0; i < path.length; i += 2) hops.push(path.slice(i, i + 2).join(' -> '));
    out += `path: ${hops.join(' => ')}\nverdict: ${verdict}\n`;
    return out;
  }
}

