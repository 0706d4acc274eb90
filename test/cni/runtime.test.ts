/**
 * `fabric cni` with real container runtimes (root tier): a routed lab of two nodes behind a ToR
 * (test/cni/fixtures/fcni.yaml: a private ovsdb-server + netdev vswitchd in the lab's namespace), the
 * controller running on it with its local API, the plugin installed for node1 and node2
 * (`fabric cni install`, the launcher exec'ing the plugin transpiled by swc), and a private podman
 * (test/cni/podman.ts). Checked with real packets: containers on node1 and node2 reach each other
 * across the fabric; a service VIP reaches the containers its selector picks (labels given as podman
 * aliases); egress to the external host is SNAT'ed to the node IP; a podman pod of two containers has
 * one IP; removing a container calls DEL and frees its IP, OVS port and controller pod; 20 containers
 * started at once get 20 distinct working IPs; ADDs killed half-way leave nothing after DEL or GC;
 * containerd's `ctr run --cni` attaches too. Everything created is named fcni*, and removed in afterAll.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, teardownLab } from '../../fabric/lab';
import { startController, RunningController } from '../../fabric/daemon';
import { NodeIpam } from '../../fabric/cni/ipam';
import { parseSubnet } from '../../fabric/cni/protocol';
import { buildPlugin, callPlugin, exec, installForTest } from './support';
import { Podman } from './podman';
import { Containerd } from './containerd';

const FIXTURE = path.join(__dirname, 'fixtures', 'fcni.yaml');
const LAB_ID = 'fcni1';
const VIP = '10.96.0.2';

let dir = '';
let lab: Lab | undefined;
let ctl: RunningController | undefined;
let podman: Podman | undefined;
let containerd: Containerd | undefined;
let launcher = '';
let apiSock = '';
const timings: string[] = [];

function ms(t0: bigint): number {
  return Number((process.hrtime.bigint() - t0) / 1000n) / 1000;
}

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(LAB_ID);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-rt-'));
  const t0 = process.hrtime.bigint();
  const loaded = loadScenario(FIXTURE);
  lab = await Lab.up(loaded.state, { id: LAB_ID, extraPorts: [8080] });
  apiSock = path.join(dir, 'api.sock');
  ctl = await startController(FIXTURE, { ovsdb: lab.ovs.dbUrl, listen: lab.controllerTarget, api: `unix:${apiSock}`, watch: false, statsIntervalMs: 0 });
  const c = ctl.controller;
  const deadline = Date.now() + 20_000;
  while (!(c.stats.switchesConnected === 3 && c.stats.passes > 0)) {
    if (Date.now() > deadline) throw new Error('switches did not connect');
    await new Promise((r) => setTimeout(r, 20));
  }
  await c.idle();
  const main = buildPlugin(path.join(dir, 'plugin'));
  for (const node of ['node1', 'node2']) {
    launcher = installForTest(dir, main, { node, ovsdb: lab.ovs.dbUrl, ovsNetns: lab.record.ovsNs, controller: `unix:${apiSock}`, dataDir: path.join(dir, 'data') }).launcher;
  }
  podman = new Podman(path.join(dir, 'podman'), path.join(dir, 'bin'), path.join(dir, 'net.d'));
  await podman.importBusybox();
  timings.push(`setup (lab, controller, plugin build, image) ${ms(t0).toFixed(0)} ms`);
}, 60_000);

/** From the plugin's logs: each completed ADD's duration inside the plugin (allocated -> ready) and the controller's part. */
function addStats(): string {
  const adds: number[] = [];
  const controller: number[] = [];
  for (const node of ['node1', 'node2']) {
    const file = path.join(dir, 'data', node, 'plugin.log');
    if (!fs.existsSync(file)) continue;
    const started = new Map<string, number>();
    for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { time: string; pid: number; event: string; roundTripMs?: number };
      if (e.event === 'allocated') started.set(String(e.pid), Date.parse(e.time));
      if (e.event === 'announced' && e.roundTripMs !== undefined) controller.push(e.roundTripMs);
      if (e.event === 'ready' && started.has(String(e.pid))) adds.push(Date.parse(e.time) - started.get(String(e.pid))!);
    }
  }
  const q = (xs: number[], f: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))] : NaN);
  return `plugin ADDs completed: ${adds.length}; allocated -> ready median ${q(adds, 0.5)} ms, max ${q(adds, 1)} ms; of which POST /events + GET /state median ${q(controller, 0.5).toFixed(1)} ms, max ${q(controller, 1).toFixed(1)} ms`;
}

afterAll(async () => {
  if (dir) timings.push(addStats());
  await containerd?.stop().catch(() => undefined);
  await podman?.cleanup().catch(() => undefined);
  await ctl?.stop().catch(() => undefined);
  await lab?.down().catch(() => undefined);
  await teardownLab(LAB_ID).catch(() => undefined);
  for (const ns of ['fcni-kill1', 'fcni-kill2']) await exec('ip', ['netns', 'del', ns]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`fabric cni runtime tests:\n  ${timings.join('\n  ')}\n`);
}, 60_000);

function ipamOf(node: string): NodeIpam {
  return new NodeIpam(path.join(dir, 'data'), node, parseSubnet(node === 'node1' ? '10.244.1.0/24' : '10.244.2.0/24'));
}

/** The IPv4 address of eth0 inside a running container. */
async function ipOf(name: string): Promise<string> {
  const out = await podman!.must('exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0');
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out);
  if (!m) throw new Error(`no address in ${name}: ${out}`);
  return m[1];
}

async function ovsPorts(bridge: string): Promise<Map<string, { ofport: number; ext: Record<string, string> }>> {
  const out = lab!.ovs.vsctl('--format=json', '--columns=name,ofport,external_ids', 'find', 'Interface', `external_ids:fabric-network=fabric-${bridge}`);
  const rows = (JSON.parse(out) as { data: [string, number, ['map', [string, string][]]][] }).data;
  return new Map(rows.map(([name, ofport, ext]) => [name, { ofport, ext: Object.fromEntries(ext[1]) }]));
}

/** The controller's pods but the scenario's own (`fixed`). */
function podsInController(): Map<string, { ip: string; node: string; labels: Record<string, string> }> {
  return new Map([...ctl!.controller.state.pods.values()].filter((p) => p.name !== 'fixed').map((p) => [p.name, { ip: p.ip, node: p.node, labels: p.labels }]));
}

test('containers on two nodes reach each other; a service VIP reaches them by label; egress is SNATed to the node IP; CHECK; DEL frees IP, port and pod', async () => {
  const p = podman!;
  const t0 = process.hrtime.bigint();
  // two servers (answering their hostname on 8080) labelled app=fcniweb through podman aliases
  await p.must('run', '-d', '--name', 'fcni-a', '--hostname', 'fcni-a', '--network', 'fabric-node1:alias=label:app=fcniweb', p.image, 'nc', '-ll', '-p', '8080', '-e', 'hostname');
  const tA = ms(t0);
  await p.must('run', '-d', '--name', 'fcni-b', '--hostname', 'fcni-b', '--network', 'fabric-node2:alias=label:app=fcniweb', p.image, 'nc', '-ll', '-p', '8080', '-e', 'hostname');
  const ipA = await ipOf('fcni-a');
  const ipB = await ipOf('fcni-b');
  expect(ipA).toMatch(/^10\.244\.1\.\d+$/);
  // the scenario's own pod holds 10.244.1.2: the plugin's IPAM skipped it
  expect(ctl!.controller.state.pods.get('fixed')!.ip).toBe('10.244.1.2');
  expect(ipA).not.toBe('10.244.1.2');
  expect(ipB).toMatch(/^10\.244\.2\.\d+$/);
  timings.push(`podman run -d (ADD through the controller) ${tA.toFixed(0)} ms`);

  // the controller knows them, with their labels; the service has both as endpoints
  const pods = podsInController();
  expect(pods.get('fcni-a')).toEqual({ ip: ipA, node: 'node1', labels: { app: 'fcniweb' } });
  expect(pods.get('fcni-b')).toEqual({ ip: ipB, node: 'node2', labels: { app: 'fcniweb' } });
  expect(ctl!.controller.state.services.get('fcniweb')!.endpoints).toEqual(['fcni-a', 'fcni-b']);

  // OVS: the port at the controller's port number, with the external_ids
  const ports1 = await ovsPorts('node1');
  const portA = [...ports1.values()].find((x) => x.ext['fabric-pod'] === 'fcni-a')!;
  expect(portA.ext).toMatchObject({ 'fabric-ip': ipA, 'fabric-mac': `0a:58:${ipA.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}`, 'fabric-network': 'fabric-node1' });
  expect(portA.ext['fabric-container-id']).toHaveLength(64);
  const sw1 = ctl!.controller.state.switches.get('node1')!;
  expect(portA.ofport).toBe(sw1.ports.find((q) => q.kind === 'pod' && q.pod === 'fcni-a')!.port);

  // a client on node2: ping and TCP to node1's container across the ToR, then the VIP, then the external
  const script = [
    `ping -c 1 -W 2 ${ipA} >/dev/null && echo PING-OK`,
    `echo | nc -w 2 ${ipA} 8080`,
    'ping -c 1 -W 2 10.244.1.2 >/dev/null && echo PING-FIXED-OK',
    `for i in $(seq 1 12); do echo | nc -w 2 ${VIP} 80; done`,
    'echo | nc -w 2 203.0.113.1 80',
  ].join('; ');
  const out = await p.must('run', '--rm', '--name', 'fcni-c', '--network', 'fabric-node2', p.image, 'sh', '-c', script);
  const lines = out.trim().split('\n');
  expect(lines[0]).toBe('PING-OK');
  expect(lines[1]).toBe('fcni-a');
  expect(lines[2]).toBe('PING-FIXED-OK');
  const viaVip = lines.slice(3, 15);
  expect(new Set(viaVip)).toEqual(new Set(['fcni-a', 'fcni-b']));
  // the external's agent says which source it saw: node2's IP (SNAT)
  expect(lines[15]).toMatch(/^internet 198\.51\.100\.12\b/);
  // fcni-c was --rm: its DEL ran
  expect(podsInController().has('fcni-c')).toBe(false);

  // CHECK on a running container, as a runtime would call it
  const netnsA = (await p.must('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'fcni-a')).trim();
  const idA = (await p.must('inspect', '-f', '{{.Id}}', 'fcni-a')).trim();
  const confText = JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node1.conflist'), 'utf8')).plugins[0], cniVersion: '1.0.0', name: 'fabric-node1' });
  const check = await callPlugin(launcher, { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: idA, CNI_NETNS: netnsA, CNI_IFNAME: 'eth0', CNI_PATH: path.join(dir, 'bin') }, confText);
  expect(check).toMatchObject({ code: 0, stdout: '' });
  // ... and CHECK notices a change: the default route removed inside the container
  await exec('nsenter', [`--net=${netnsA}`, 'ip', 'route', 'del', 'default']);
  const bad = await callPlugin(launcher, { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: idA, CNI_NETNS: netnsA, CNI_IFNAME: 'eth0' }, confText);
  expect(bad).toMatchObject({ code: 1, json: { code: 103, msg: expect.stringContaining('default route via none') } });

  // removing the container calls DEL: IP file, OVS port, controller pod all gone
  expect(ipamOf('node1').list().map((a) => a.ip)).toContain(ipA);
  const t1 = process.hrtime.bigint();
  await p.must('rm', '-f', '-t', '0', 'fcni-a');
  timings.push(`podman rm -f (DEL) ${ms(t1).toFixed(0)} ms`);
  expect(ipamOf('node1').list().map((a) => a.ip)).not.toContain(ipA);
  expect([...(await ovsPorts('node1')).values()].some((x) => x.ext['fabric-pod'] === 'fcni-a')).toBe(false);
  expect(podsInController().has('fcni-a')).toBe(false);
  expect(ctl!.controller.state.services.get('fcniweb')!.endpoints).toEqual(['fcni-b']);
  await p.must('rm', '-f', '-t', '0', 'fcni-b');
  expect(ipamOf('node2').list()).toEqual([]);
  expect(podsInController().size).toBe(0);
}, 120_000);

test('a podman pod of two containers: one ADD, one IP shared by both; pod rm calls DEL once', async () => {
  const p = podman!;
  await p.mustIsolated('pod', 'create', '--name', 'fcni-pod', '--network', 'fabric-node1:alias=label:app=fcnipod');
  await p.must('run', '-d', '--pod', 'fcni-pod', '--name', 'fcni-pod-a', p.image, 'sleep', '300');
  await p.must('run', '-d', '--pod', 'fcni-pod', '--name', 'fcni-pod-b', p.image, 'sleep', '300');
  const a = await ipOf('fcni-pod-a');
  const b = await ipOf('fcni-pod-b');
  expect(b).toBe(a);
  const records = ipamOf('node1').list();
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ ip: a, phase: 'ready', podName: 'fcni-pod' });
  expect(podsInController().get('fcni-pod')).toEqual({ ip: a, node: 'node1', labels: { app: 'fcnipod' } });
  const log = fs.readFileSync(path.join(dir, 'data', 'node1', 'plugin.log'), 'utf8').split('\n').filter((l) => l.includes('"event":"allocated"') && l.includes(`"ip":"${a}"`));
  expect(log).toHaveLength(1);
  await p.must('pod', 'rm', '-f', '-t', '0', 'fcni-pod');
  expect(ipamOf('node1').list()).toEqual([]);
  expect(podsInController().has('fcni-pod')).toBe(false);
}, 60_000);

test('20 containers started at once get 20 distinct working IPs; removed at once, all freed', async () => {
  const p = podman!;
  const names = Array.from({ length: 20 }, (_, i) => `fcni-m${i}`);
  const t0 = process.hrtime.bigint();
  const runs = await Promise.all(names.map((n, i) => p.run('run', '-d', '--name', n, '--network', `fabric-node${(i % 2) + 1}`, p.image, 'sleep', '300')));
  const startMs = ms(t0);
  expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
  const ips = await Promise.all(names.map(ipOf));
  expect(new Set(ips).size).toBe(20);
  expect(ips.filter((x) => x.startsWith('10.244.1.'))).toHaveLength(10);
  expect(ipamOf('node1').list()).toHaveLength(10);
  expect(ipamOf('node2').list()).toHaveLength(10);
  // every one answers a ping from a container on node1 (half of them across the ToR)
  const out = await p.must('run', '--rm', '--name', 'fcni-pinger', '--network', 'fabric-node1', p.image, 'sh', '-c', `for ip in ${ips.join(' ')}; do ping -c 1 -W 2 $ip >/dev/null && echo ok $ip; done; true`);
  expect(out.trim().split('\n').sort()).toEqual(ips.map((x) => `ok ${x}`).sort());
  // the OVS ports sit at the controller's port numbers
  const state = ctl!.controller.state;
  for (const node of ['node1', 'node2']) {
    for (const port of (await ovsPorts(node)).values()) {
      const want = state.switches.get(node)!.ports.find((q) => q.kind === 'pod' && q.pod === port.ext['fabric-pod']);
      expect(port.ofport).toBe(want?.port);
    }
  }
  const t1 = process.hrtime.bigint();
  const rms = await Promise.all(names.map((n) => p.run('rm', '-f', '-t', '0', n)));
  const rmMs = ms(t1);
  expect(rms.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
  expect(ipamOf('node1').list()).toEqual([]);
  expect(ipamOf('node2').list()).toEqual([]);
  expect((await ovsPorts('node1')).size + (await ovsPorts('node2')).size).toBe(0);
  expect(podsInController().size).toBe(0);
  timings.push(`20 x podman run -d at once ${startMs.toFixed(0)} ms; 20 x podman rm -f at once ${rmMs.toFixed(0)} ms`);
}, 120_000);

/** Start an ADD of the plugin for netns `ns` and SIGKILL it right after it logs `event` (returns that event's line). */
async function killedAdd(ns: string, containerId: string, event: string): Promise<string> {
  await exec('ip', ['netns', 'add', ns]);
  const confText = JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node1.conflist'), 'utf8')).plugins[0], cniVersion: '1.1.0', name: 'fabric-node1' });
  const logFile = path.join(dir, 'data', 'node1', 'plugin.log');
  const child = spawn(launcher, [], { env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_ARGS: `K8S_POD_NAME=${containerId}` }, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.end(confText);
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const line = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes(`"container":"${containerId.slice(0, 12)}"`) && l.includes(`"event":"${event}"`)) : undefined;
    if (line) {
      child.kill('SIGKILL');
      await exited;
      return line;
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the ADD of ${containerId} ended (${child.exitCode}) before logging ${event}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('an ADD killed half-way leaves nothing behind after DEL (killed after the veth) or GC (killed after the controller add)', async () => {
  const confOf = (v: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node1.conflist'), 'utf8')).plugins[0], cniVersion: v, name: 'fabric-node1', ...extra });
  const ovsNs = lab!.record.ovsNs;
  const hostIfaces = async () => (await exec('ip', ['-n', ovsNs, '-o', 'link', 'show'])).stdout.split('\n').map((l) => /^\d+: (fc[0-9a-f]{11})@/.exec(l)?.[1]).filter(Boolean);
  // 1: killed after the veth was made, before the controller heard of it
  await killedAdd('fcni-kill1', 'fcnikill1', 'veth');
  expect(ipamOf('node1').list()).toMatchObject([{ containerId: 'fcnikill1', phase: 'allocated' }]);
  expect(await hostIfaces()).toHaveLength(1);
  const del = await callPlugin(launcher, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'fcnikill1', CNI_IFNAME: 'eth0' }, confOf('1.0.0'));
  expect(del).toMatchObject({ code: 0, stdout: '' });
  expect(ipamOf('node1').list()).toEqual([]);
  expect(await hostIfaces()).toEqual([]);
  // DEL again: nothing left to do, still success
  expect(await callPlugin(launcher, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'fcnikill1', CNI_IFNAME: 'eth0' }, confOf('1.0.0'))).toMatchObject({ code: 0 });

  // 2: killed after the controller installed the pod's flows (the OVS port may or may not exist yet)
  await killedAdd('fcni-kill2', 'fcnikill2', 'announced');
  expect(podsInController().has('fcnikill2')).toBe(true);
  expect(ipamOf('node1').list()).toMatchObject([{ containerId: 'fcnikill2', phase: 'allocated' }]);
  // GC (CNI 1.1) with the attachments the runtime still has: none of this network
  const gc = await callPlugin(launcher, { CNI_COMMAND: 'GC', CNI_PATH: path.join(dir, 'bin') }, confOf('1.1.0', { 'cni.dev/valid-attachments': [] }));
  expect(gc).toMatchObject({ code: 0, stdout: '' });
  expect(ipamOf('node1').list()).toEqual([]);
  expect(podsInController().has('fcnikill2')).toBe(false);
  expect((await ovsPorts('node1')).size).toBe(0);
  expect(await hostIfaces()).toEqual([]);
  // an ADD the controller refuses (the pod name is a node's) fails with code 101 and rolls everything back
  const refused = await callPlugin(launcher, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'fcnirefused', CNI_NETNS: '/run/netns/fcni-kill1', CNI_IFNAME: 'eth0', CNI_ARGS: 'K8S_POD_NAME=node2' }, confOf('1.0.0'));
  expect(refused).toMatchObject({ code: 1, json: { cniVersion: '1.0.0', code: 101, msg: expect.stringContaining('already used by a node') } });
  expect(ipamOf('node1').list()).toEqual([]);
  expect(await hostIfaces()).toEqual([]);
  expect((await exec('ip', ['-n', 'fcni-kill1', '-o', 'link', 'show'])).stdout).not.toContain('eth0');
  // STATUS (CNI 1.1): the controller and OVSDB answer
  expect(await callPlugin(launcher, { CNI_COMMAND: 'STATUS' }, confOf('1.1.0'))).toMatchObject({ code: 0 });
}, 60_000);

test('containerd: ctr run --cni attaches (and DELs at --rm); a detached ctr container never DELs, GC collects it', async () => {
  const p = podman!;
  // a target on node2 for the ctr container to reach across the fabric
  await p.must('run', '-d', '--name', 'fcni-t', '--hostname', 'fcni-t', '--network', 'fabric-node2', p.image, 'nc', '-ll', '-p', '8080', '-e', 'hostname');
  const target = await ipOf('fcni-t');
  // ctr reads one network: a directory with only node1's, and a plugin dir with the launcher and loopback
  const ctrNet = path.join(dir, 'ctr-net.d');
  const ctrBin = path.join(dir, 'ctr-bin');
  fs.mkdirSync(ctrNet, { recursive: true });
  fs.mkdirSync(ctrBin, { recursive: true });
  fs.copyFileSync(path.join(dir, 'net.d', 'fabric-node1.conflist'), path.join(ctrNet, 'fabric-node1.conflist'));
  fs.copyFileSync(launcher, path.join(ctrBin, 'fabric'));
  fs.chmodSync(path.join(ctrBin, 'fabric'), 0o755);
  fs.symlinkSync('/usr/lib/cni/loopback', path.join(ctrBin, 'loopback'));
  containerd = new Containerd(path.join(dir, 'containerd'), ctrBin, ctrNet);
  await containerd.start();
  const archive = path.join(dir, 'busybox-oci.tar');
  await p.mustIsolated('save', '--format', 'oci-archive', '-o', archive, p.image);
  await containerd.importImage(archive);
  const t0 = process.hrtime.bigint();
  const r = await containerd.ctrWithCni('run', '--rm', '--snapshotter', 'native', '--cni', containerd.image, 'fcni-ctr1', 'sh', '-c', `ip -o -4 addr show dev eth0; ping -c 1 -W 2 ${target} >/dev/null && echo PING-OK; echo | nc -w 2 ${target} 8080`);
  timings.push(`ctr run --rm --cni (ADD, ping + TCP across the fabric, DEL) ${ms(t0).toFixed(0)} ms`);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/inet 10\.244\.1\.\d+\/24/);
  expect(r.stdout).toContain('PING-OK');
  expect(r.stdout).toContain('fcni-t');
  expect(ipamOf('node1').list()).toEqual([]);
  // detached: ADD, but no DEL when the container goes
  const d = await containerd.ctrWithCni('run', '-d', '--snapshotter', 'native', '--cni', containerd.image, 'fcni-ctr2', 'sleep', '300');
  expect(d.code).toBe(0);
  const rec = ipamOf('node1').list();
  expect(rec).toMatchObject([{ containerId: 'fcni-fcni-ctr2', phase: 'ready' }]);
  expect(podsInController().has('c-fcni-fcni-ct')).toBe(true);
  await containerd.ctr('tasks', 'kill', '-s', 'SIGKILL', 'fcni-ctr2');
  await new Promise((res) => setTimeout(res, 300));
  await containerd.ctr('tasks', 'delete', '-f', 'fcni-ctr2');
  await containerd.ctr('containers', 'rm', 'fcni-ctr2');
  expect(ipamOf('node1').list()).toHaveLength(1); // leaked until GC
  const confText = JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node1.conflist'), 'utf8')).plugins[0], cniVersion: '1.1.0', name: 'fabric-node1', 'cni.dev/valid-attachments': [] });
  expect(await callPlugin(launcher, { CNI_COMMAND: 'GC' }, confText)).toMatchObject({ code: 0 });
  // ctr's libcni keeps the ADD result of the container that never got its DEL: ours, removed by name
  fs.rmSync('/var/lib/cni/results/fabric-node1-fcni-fcni-ctr2-eth0', { force: true });
  expect(ipamOf('node1').list()).toEqual([]);
  expect(podsInController().has('c-fcni-fcni-ct')).toBe(false);
  // node2's container is another network's: GC of fabric-node1 left it alone
  expect(ipamOf('node2').list()).toHaveLength(1);
  await p.must('rm', '-f', '-t', '0', 'fcni-t');
}, 90_000);
