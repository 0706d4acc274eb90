/**
 * `fabric cni` on an overlay lab (root tier): two nodes behind a ToR in VXLAN overlay mode
 * (test/cni/fixtures/fcni-overlay.yaml), where every node bridge runs in an OVS of its own (its own
 * namespace and OVSDB: the plugin's `ovsNetns` and `ovsdb` per node) and the controller talks to
 * three OVSDBs. The plugin runs with `mode: overlay`: pods get MTU 1450 so that VXLAN fits the
 * underlay's 1500. Checked with podman containers: the MTU, ping across the tunnel, and a 1 MB TCP
 * transfer (full-size segments through the tunnel); the control, two pods of networks with the routed
 * MTU (1500) on the same bridges: ping passes, the transfer stalls. Everything is named fcni*, removed
 * in afterAll.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, teardownLab } from '../../fabric/lab';
import { startController, RunningController } from '../../fabric/daemon';
import { buildPlugin, installForTest } from './support';
import { Podman } from './podman';

const FIXTURE = path.join(__dirname, 'fixtures', 'fcni-overlay.yaml');
const LAB_ID = 'fcni2';

let dir = '';
let lab: Lab | undefined;
let ctl: RunningController | undefined;
let podman: Podman | undefined;

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(LAB_ID);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-ov-'));
  const loaded = loadScenario(FIXTURE);
  lab = await Lab.up(loaded.state, { id: LAB_ID });
  const nodes = Object.keys(lab.record.nodeOvs ?? {});
  expect(nodes.sort()).toEqual(['node1', 'node2']);
  const apiSock = path.join(dir, 'api.sock');
  ctl = await startController(FIXTURE, {
    ovsdb: [lab.ovs.dbUrl, ...nodes.map((n) => `${n}=${lab!.ovsFor(n).dbUrl}`)],
    listen: [lab.controllerTarget, ...nodes.map((n) => `${n}=${lab!.controllerTargetFor(n)}`)],
    api: `unix:${apiSock}`,
    watch: false,
    statsIntervalMs: 0,
  });
  const c = ctl.controller;
  const deadline = Date.now() + 20_000;
  while (!(c.stats.switchesConnected === 3 && c.stats.passes > 0)) {
    if (Date.now() > deadline) throw new Error('switches did not connect');
    await new Promise((r) => setTimeout(r, 20));
  }
  await c.idle();
  const main = buildPlugin(path.join(dir, 'plugin'));
  for (const node of nodes) {
    installForTest(dir, main, { node, ovsdb: lab.ovsFor(node).dbUrl, ovsNetns: lab.record.nodeOvs![node].ns, controller: `unix:${apiSock}`, mode: 'overlay', dataDir: path.join(dir, 'data') });
  }
  // the control: node1's bridge again as a network with the routed MTU (1500), no room for VXLAN
  for (const node of nodes) installForTest(dir, main, { node, name: `fcni-mtu1500-${node}`, ovsdb: lab.ovsFor(node).dbUrl, ovsNetns: lab.record.nodeOvs![node].ns, controller: `unix:${apiSock}`, dataDir: path.join(dir, 'data') });
  podman = new Podman(path.join(dir, 'podman'), path.join(dir, 'bin'), path.join(dir, 'net.d'));
  await podman.importBusybox();
}, 60_000);

afterAll(async () => {
  await podman?.cleanup().catch(() => undefined);
  await ctl?.stop().catch(() => undefined);
  await lab?.down().catch(() => undefined);
  await teardownLab(LAB_ID).catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

test('overlay: MTU 1450, ping and a 1 MB TCP transfer between nodes through VXLAN (MTU 1500: stalls); DEL frees everything', async () => {
  const p = podman!;
  await p.must('run', '-d', '--name', 'fcni-ov-a', '--network', 'fabric-node1', p.image, 'nc', '-ll', '-p', '9000', '-e', 'sh', '-c', 'head -c 1000000 /dev/zero');
  const link = await p.must('exec', 'fcni-ov-a', 'ip', '-o', 'link', 'show', 'dev', 'eth0');
  expect(link).toContain('mtu 1450');
  const addr = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(await p.must('exec', 'fcni-ov-a', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'))![1];
  expect(addr).toMatch(/^10\.32\.0\.\d+$/);
  const out = await p.must('run', '--rm', '--name', 'fcni-ov-b', '--network', 'fabric-node2', p.image, 'sh', '-c', `ip -o -4 addr show dev eth0; ping -c 1 -W 2 ${addr} >/dev/null && echo PING-OK; nc -w 3 ${addr} 9000 </dev/null | wc -c`);
  const lines = out.trim().split('\n');
  expect(lines[0]).toMatch(/inet 10\.32\.1\.\d+\/24/);
  expect(lines[1]).toBe('PING-OK');
  expect(lines[2].trim()).toBe('1000000');
  // the control: the same transfer from a node1 container with MTU 1500 does not get through whole
  await p.must('run', '-d', '--name', 'fcni-ov-c', '--network', 'fcni-mtu1500-node1', p.image, 'nc', '-ll', '-p', '9000', '-e', 'sh', '-c', 'head -c 1000000 /dev/zero');
  expect(await p.must('exec', 'fcni-ov-c', 'ip', '-o', 'link', 'show', 'dev', 'eth0')).toContain('mtu 1500');
  const addrC = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(await p.must('exec', 'fcni-ov-c', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'))![1];
  const control = await p.run('run', '--rm', '--name', 'fcni-ov-d', '--network', 'fcni-mtu1500-node2', p.image, 'sh', '-c', `ping -c 1 -W 2 ${addrC} >/dev/null && echo PING-OK; timeout 4 nc -w 3 ${addrC} 9000 </dev/null | wc -c`);
  const [ping, bytes] = control.stdout.trim().split('\n');
  expect(ping).toBe('PING-OK'); // small packets pass
  expect(Number(bytes)).toBeLessThan(1_000_000); // full-size segments (1550 bytes with VXLAN) do not
  process.stdout.write(`overlay: MTU 1450 pods moved 1000000 bytes; the MTU 1500 control moved ${Number(bytes)} bytes in 4 s\n`);
  await p.must('rm', '-f', '-t', '0', 'fcni-ov-c');
  await p.must('rm', '-f', '-t', '0', 'fcni-ov-a');
  expect(ctl!.controller.state.pods.size).toBe(0);
  for (const node of ['node1', 'node2']) expect(fs.readdirSync(path.join(dir, 'data', node)).filter((f) => f.startsWith('ip-'))).toEqual([]);
}, 90_000);
