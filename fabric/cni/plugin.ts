/**
 * `fabric cni`: the CNI plugin (CNI spec 1.0.0; GC and STATUS of 1.1). One call of the runtime is one
 * `runCni(env, stdin)`: it answers what goes to stdout and the exit code, never a stack trace.
 *
 * ADD, in this order, each step undone (in reverse) when a later one fails:
 *  1. the address: node-local IPAM (fabric/cni/ipam.ts) records the attachment (container id,
 *     interface, pod name, host interface) before anything else exists, so DEL and GC can find it;
 *  2. the veth: made in the container's namespace as CNI_IFNAME with the pod MAC (0a:58:+IP), the
 *     MTU, tx offload off, the address/prefix, the default route via the node gateway (.1); the host
 *     end `fc<hash>` lands in OVS's namespace (fabric/cni/links.ts);
 *  3. the controller (when configured): POST /events `pod add` {name, node, ip, labels}, answered after
 *     the reconcile pass that includes it: the pod's flows are installed; GET /state gives its port;
 *  4. the OVS port: the host end added to the node's bridge over OVSDB (fabric/ovsdb, ensurePort) with
 *     ofport_request = that port and external_ids (fabric-pod, fabric-namespace, fabric-container-id,
 *     fabric-ip, fabric-mac, fabric-network); ADD waits until vswitchd gave it exactly that number;
 *  5. the record marked ready; the result (interfaces, ips, routes, dns) printed.
 * DEL undoes whatever the record says exists (missing parts are not errors); CHECK compares the
 * container's interface, address, route, the OVS port and the controller's pod with the record; GC
 * removes every attachment of the network the runtime no longer lists; STATUS says whether the
 * controller and OVSDB answer.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { OvsdbClient } from '../ovsdb';
import { ensurePort, readOfports, removePort, waitOfport } from '../vswitch';
import { ControllerSet, ControllerState } from './controller-client';
import { Allocation, NodeIpam } from './ipam';
import { createVeth, deleteVeth, inspectContainer, netnsExists } from './links';
import {
  buildResult,
  CniCode,
  CniEnv,
  CniError,
  DEFAULT_VERSION,
  errorJson,
  FabricNetConf,
  hostIfaceName,
  intToIp,
  macFromIp,
  parseEnv,
  parseNetConf,
  parseSubnet,
  podIdentity,
  Subnet,
  versionJson,
} from './protocol';

export interface CniOutcome {
  exitCode: number;
  stdout: string;
}

/** One plugin call: its own OVSDB session (opened when needed) and a log of what it did. */
class Call {
  private client?: OvsdbClient;
  /** the configured controllers (one call's: the URL that answered is tried first next time) */
  readonly controllers?: ControllerSet;
  constructor(
    readonly env: CniEnv,
    readonly conf: FabricNetConf,
  ) {
    if (conf.controllers) this.controllers = new ControllerSet(conf.controllers, { timeoutMs: conf.timeoutMs });
  }

  log(event: string, fields: Record<string, unknown> = {}): void {
    try {
      const dir = path.join(this.conf.dataDir, this.conf.node);
      fs.mkdirSync(dir, { recursive: true });
      fs.appendFileSync(path.join(dir, 'plugin.log'), JSON.stringify({ time: new Date().toISOString(), pid: process.pid, event, command: this.env.command, container: this.env.containerId.slice(0, 12), ...fields }) + '\n');
    } catch {
      /* logging never fails a call */
    }
  }

  async ovsdb(): Promise<OvsdbClient> {
    if (!this.client) {
      try {
        this.client = await OvsdbClient.connect(this.conf.ovsdb, { connectTimeoutMs: this.conf.timeoutMs, requestTimeoutMs: this.conf.timeoutMs, echoIntervalMs: 0 });
      } catch (err) {
        throw new CniError(CniCode.ovsFailure, `OVSDB ${this.conf.ovsdb}: ${(err as Error).message}`);
      }
    }
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }

  async subnet(known?: ControllerState): Promise<Subnet> {
    if (this.conf.subnet) return parseSubnet(this.conf.subnet);
    if (!this.controllers) throw new CniError(CniCode.invalidConfig, "network config: give 'subnet' (the node's pod block) or 'controller' (to ask it)");
    const state = known ?? (await this.controllers.getState()).state;
    const node = state.nodes.find((n) => n.name === this.conf.node);
    if (!node) throw new CniError(CniCode.invalidConfig, `the controller has no node ${this.conf.node}`, `nodes: ${state.nodes.map((n) => n.name).join(', ')}`);
    return parseSubnet(node.podCidr);
  }

  gateway(s: Subnet): string {
    return this.conf.gateway ?? intToIp(s.gateway);
  }

  /** Undo an attachment: controller pod, OVS port, veth, then (only if all that worked) the address. */
  async teardown(ipam: NodeIpam | undefined, a: Allocation | undefined, hostIface: string): Promise<string[]> {
    const errors: string[] = [];
    if (a && this.controllers) {
      try {
        const { state } = await this.controllers.getState();
        // only our pod: the same name AND our address (the name may belong to someone else's pod)
        if (state.pods.some((p) => p.name === a.podName && p.ip === a.ip)) {
          // "no pod": gone already (a retry after a leader that stored the delete died before answering)
          const del = [{ kind: 'pod', action: 'delete', name: a.podName }];
          const r = await this.controllers.postEvents(del, { idempotencyKey: idempotencyKey('del') });
          if (r.status !== 200 && !/no pod/.test(String(r.json?.error))) errors.push(`controller ${r.url}: pod delete ${a.podName}: ${r.status} ${r.json?.error ?? ''}`);
          else this.log('pod-deleted', { pod: a.podName, ip: a.ip, controller: r.url, ...(r.attempts > 1 ? { attempts: r.attempts } : {}) });
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    try {
      const client = await this.ovsdb();
      const r = await removePort(client, this.conf.bridge, hostIface);
      if (r.changed) this.log('port-removed', { port: hostIface });
    } catch (err) {
      errors.push(`OVS: removing port ${hostIface}: ${(err as Error).message}`);
    }
    try {
      if (deleteVeth(this.conf.ovsNetns, hostIface)) this.log('veth-deleted', { iface: hostIface });
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (ipam && a && errors.length === 0) {
      ipam.release(a.containerId, a.ifname);
      this.log('released', { ip: a.ip });
    }
    return errors;
  }

  async add(): Promise<string> {
    const { env, conf } = this;
    const ident = podIdentity(env, conf);
    if (!netnsExists(env.netns!)) throw new CniError(CniCode.unknownContainer, `network namespace ${env.netns} does not exist`);
    // the controller's view first: the node's block, and the addresses its own pods (the scenario's) hold
    const before = this.controllers ? (await this.controllers.getState()).state : undefined;
    const subnet = await this.subnet(before);
    const gateway = this.gateway(subnet);
    const ipam = new NodeIpam(conf.dataDir, conf.node, subnet);
    const hostIface = hostIfaceName(env.containerId, env.ifname);
    const taken = new Set((before?.pods ?? []).filter((p) => p.name !== ident.name).map((p) => p.ip));
    // the controller is the authority on addresses: a pod it placed meanwhile (an API add without an
    // IP, another allocator) may hold the one chosen here; then the attachment is undone and made again
    // with another address
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attach(ident, subnet, gateway, ipam, hostIface, taken);
      } catch (err) {
        if (!(err instanceof AddressInUse) || attempt >= 5) throw err;
        taken.add(err.ip);
        this.log('address-in-use', { ip: err.ip, attempt, error: err.message });
      }
    }
  }

  private async attach(ident: ReturnType<typeof podIdentity>, subnet: ReturnType<typeof parseSubnet>, gateway: string, ipam: NodeIpam, hostIface: string, taken: ReadonlySet<string>): Promise<string> {
    const { env, conf } = this;
    const a = ipam.allocate({ network: conf.name, containerId: env.containerId, ifname: env.ifname, podName: ident.name, hostIface, netns: env.netns }, taken);
    this.log('allocated', { ip: a.ip, pod: ident.name, iface: hostIface });
    const mac = macFromIp(a.ip);
    try {
      // leftovers of an earlier, killed ADD of this same attachment
      deleteVeth(conf.ovsNetns, hostIface);
      const { hostMac } = createVeth({ netns: env.netns!, ifname: env.ifname, hostIface, ovsNetns: conf.ovsNetns, mac, mtu: conf.mtu, ip: a.ip, prefix: subnet.prefix, gateway, txOffload: conf.txOffload });
      this.log('veth', { iface: hostIface, mtu: conf.mtu });
      let port: number | undefined;
      if (this.controllers) {
        const t0 = process.hrtime.bigint();
        const add = [{ kind: 'pod', action: 'add', name: ident.name, node: conf.node, ip: a.ip, labels: ident.labels }];
        const r = await this.controllers.postEvents(add, { idempotencyKey: idempotencyKey('add') });
        // the controller that took the POST (a standby's state may lag it). A retried POST may have been
        // stored by a leader that died before answering: then "already used", and the state decides
        const { state } = await this.controllers.getState({ only: r.url });
        const pod = state.pods.find((p) => p.name === ident.name);
        if (r.status !== 200 && !(pod && pod.ip === a.ip && pod.node === conf.node)) {
          if (r.status === 400 && /\bip \S+ is in use by pod\b/.test(String(r.json?.error))) throw new AddressInUse(a.ip, `controller refused pod add ${ident.name}: ${r.json?.error}`);
          throw new CniError(CniCode.controllerFailure, `controller refused pod add ${ident.name}: ${r.json?.error ?? r.status}`);
        }
        if (!pod || pod.ip !== a.ip) throw new CniError(CniCode.controllerFailure, `controller: pod ${ident.name} is not in its state with ${a.ip} after the add`);
        if (pod.port === undefined) throw new CniError(CniCode.controllerFailure, `controller: pod ${ident.name} has no port in GET /state (a controller older than fabric cni?)`);
        port = pod.port;
        this.log('announced', { pod: ident.name, port, controller: r.url, ...(r.attempts > 1 ? { attempts: r.attempts } : {}), reconciledMs: r.json?.reconciledMs, roundTripMs: Number((process.hrtime.bigint() - t0) / 1000n) / 1000 });
      }
      const client = await this.ovsdb();
      await ensurePort(client, conf.bridge, {
        name: hostIface,
        ...(port !== undefined ? { ofportRequest: port } : {}),
        externalIds: {
          'fabric-network': conf.name,
          'fabric-pod': ident.name,
          'fabric-namespace': ident.namespace ?? '',
          'fabric-container-id': env.containerId,
          'fabric-ifname': env.ifname,
          'fabric-ip': a.ip,
          'fabric-mac': mac,
          'attached-mac': mac,
        },
      });
      const ofport = await waitOfport(client, hostIface, conf.timeoutMs);
      if (ofport < 0 || (port !== undefined && ofport !== port)) throw new CniError(CniCode.ovsFailure, `OVS gave ${hostIface} ofport ${ofport}${port !== undefined ? ` instead of ${port}` : ''}`);
      const ready: Allocation = { ...a, phase: 'ready', port: ofport };
      ipam.update(ready);
      this.log('ready', { ip: a.ip, pod: ident.name, ofport });
      return JSON.stringify(buildResult(conf.cniVersion, { hostIface, hostMac, ifname: env.ifname, mac, mtu: conf.mtu, netns: env.netns!, ip: a.ip, prefix: subnet.prefix, gateway }, conf.dns));
    } catch (err) {
      const errors = await this.teardown(ipam, a, hostIface);
      this.log('add-failed', { error: (err as Error).message, rollbackErrors: errors });
      if (errors.length > 0 && err instanceof CniError) throw new CniError(err.code, err.message, `rollback incomplete (DEL or GC will finish it): ${errors.join('; ')}`);
      throw err;
    }
  }

  /** The IPAM of this network without asking anyone (DEL and GC must work with the controller gone). */
  private ipamForCleanup(): NodeIpam {
    // the subnet does not matter to find, list and release records
    return new NodeIpam(this.conf.dataDir, this.conf.node, this.conf.subnet ? parseSubnet(this.conf.subnet) : { network: 0, prefix: 24, gateway: 1 });
  }

  async del(): Promise<void> {
    const { env } = this;
    const ipam = this.ipamForCleanup();
    const a = ipam.find(env.containerId, env.ifname);
    const hostIface = a?.hostIface ?? hostIfaceName(env.containerId, env.ifname);
    const errors = await this.teardown(ipam, a, hostIface);
    if (errors.length > 0) throw new CniError(CniCode.tryAgainLater, `DEL ${env.containerId.slice(0, 12)}: ${errors.join('; ')}`, 'the address stays allocated until a DEL or GC succeeds');
  }

  async check(): Promise<void> {
    const { env, conf } = this;
    const ipam = this.ipamForCleanup();
    const a = ipam.find(env.containerId, env.ifname);
    if (!a) throw new CniError(CniCode.unknownContainer, `no attachment ${env.containerId.slice(0, 12)}/${env.ifname} in ${ipam.dir}`);
    const problems: string[] = [];
    if (a.phase !== 'ready') problems.push(`the attachment is in phase ${a.phase} (ADD did not complete)`);
    const subnet = await this.subnet();
    const got = inspectContainer(env.netns!, env.ifname);
    const mac = macFromIp(a.ip);
    if (!got.link) problems.push(`no interface ${env.ifname} in ${env.netns}`);
    else {
      if (got.link.address !== mac) problems.push(`${env.ifname} has MAC ${got.link.address}, expected ${mac}`);
      if (got.link.mtu !== conf.mtu) problems.push(`${env.ifname} has MTU ${got.link.mtu}, expected ${conf.mtu}`);
    }
    if (!got.addrs.includes(`${a.ip}/${subnet.prefix}`)) problems.push(`${env.ifname} lacks ${a.ip}/${subnet.prefix} (has ${got.addrs.join(', ') || 'none'})`);
    if (got.defaultVia !== this.gateway(subnet)) problems.push(`default route via ${got.defaultVia ?? 'none'}, expected ${this.gateway(subnet)}`);
    const ofports = await readOfports(await this.ovsdb(), conf.bridge);
    const ofport = ofports.get(a.hostIface);
    if (ofport === undefined) problems.push(`no port ${a.hostIface} on bridge ${conf.bridge}`);
    else if (a.port !== undefined && ofport !== a.port) problems.push(`port ${a.hostIface} has ofport ${ofport}, expected ${a.port}`);
    if (this.controllers) {
      const { state } = await this.controllers.getState();
      const pod = state.pods.find((p) => p.name === a.podName);
      if (!pod || pod.ip !== a.ip) problems.push(`the controller has no pod ${a.podName} with ${a.ip}`);
      else if (pod.port !== undefined && pod.port !== ofport) problems.push(`the controller has ${a.podName} at port ${pod.port}, OVS at ${ofport}`);
    }
    if (problems.length > 0) throw new CniError(CniCode.checkFailed, `CHECK ${env.containerId.slice(0, 12)}/${env.ifname}: ${problems.join('; ')}`);
  }

  async gc(): Promise<void> {
    const valid = new Set((this.conf.validAttachments ?? []).map((v) => `${v.containerID}/${v.ifname}`));
    const ipam = this.ipamForCleanup();
    const errors: string[] = [];
    let removed = 0;
    for (const a of ipam.list()) {
      if (a.network !== this.conf.name || valid.has(`${a.containerId}/${a.ifname}`)) continue;
      const e = await this.teardown(ipam, a, a.hostIface);
      if (e.length > 0) errors.push(...e);
      else removed++;
    }
    const temps = ipam.removeStaleTemps();
    this.log('gc', { removed, temps, errors: errors.length });
    if (errors.length > 0) throw new CniError(CniCode.tryAgainLater, `GC: ${errors.join('; ')}`);
  }

  async status(): Promise<void> {
    try {
      if (this.controllers) await this.controllers.getState({ timeoutMs: Math.min(this.conf.timeoutMs, 5000) });
      await this.ovsdb();
    } catch (err) {
      throw new CniError(CniCode.notAvailable, `not ready: ${(err as Error).message}`);
    }
  }
}

/** One call of the plugin: environment and stdin in, stdout and exit code out. */
export async function runCni(processEnv: NodeJS.ProcessEnv, stdin: string): Promise<CniOutcome> {
  let version = DEFAULT_VERSION;
  try {
    const env = parseEnv(processEnv);
    if (env.command === 'VERSION') {
      // the config may be absent or minimal ({"cniVersion": ...})
      let v = DEFAULT_VERSION;
      try {
        v = parseNetConf(stdin.trim() === '' ? '{}' : stdin, 'VERSION').cniVersion;
      } catch {
        /* answer with our default */
      }
      return { exitCode: 0, stdout: JSON.stringify(versionJson(v)) };
    }
    const conf = parseNetConf(stdin, env.command);
    version = conf.cniVersion;
    const call = new Call(env, conf);
    try {
      switch (env.command) {
        case 'ADD':
          return { exitCode: 0, stdout: await call.add() };
        case 'DEL':
          await call.del();
          return { exitCode: 0, stdout: '' };
        case 'CHECK':
          await call.check();
          return { exitCode: 0, stdout: '' };
        case 'GC':
          await call.gc();
          return { exitCode: 0, stdout: '' };
        default:
          await call.status();
          return { exitCode: 0, stdout: '' };
      }
    } catch (err) {
      call.log('error', { error: (err as Error).message });
      throw err;
    } finally {
      await call.close();
    }
  } catch (err) {
    return { exitCode: 1, stdout: JSON.stringify(errorJson(err, version)) };
  }
}

/** Read stdin to the end (the runtime closes it), run, print, exit. */
export async function cniMain(): Promise<number> {
  const chunks: Buffer[] = [];
  if (!process.stdin.isTTY) for await (const c of process.stdin) chunks.push(c as Buffer);
  const out = await runCni(process.env, Buffer.concat(chunks).toString('utf8'));
  if (out.stdout) process.stdout.write(out.stdout + '\n');
  return out.exitCode;
}

/** The controller refused the address chosen for a pod: another pod holds it there (ADD retries with another). */
class AddressInUse extends CniError {
  constructor(
    readonly ip: string,
    message: string,
  ) {
    super(CniCode.controllerFailure, message);
  }
}

/**
 * The Idempotency-Key of one POST /events of the plugin: the same on each retry of that call (on
 * another controller after a leader died), new for every call. A runtime's later ADD or DEL of the
 * same container (podman restart: DEL then ADD with the same id) is a new change, not a retry.
 */
function idempotencyKey(what: 'add' | 'del'): string {
  return `fabric-cni-${what}-${randomUUID()}`;
}
