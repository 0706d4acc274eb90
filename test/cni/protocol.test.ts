/**
 * The CNI protocol of `fabric cni` without root tools: the CNI_* environment and the network config
 * parsed (and refused with the spec's error codes), pod names and labels from CNI_ARGS, config labels
 * and podman aliases, the result shape, and the plugin run as a runtime runs it (a child process via
 * the launcher `fabric cni install` writes): VERSION, error JSON on stdout with exit 1, no stack trace.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildResult, CniCode, CniError, errorJson, hostIfaceName, macFromIp, parseCniArgs, parseEnv, parseNetConf, parseSubnet, podIdentity, poolOf } from '../../fabric/cni/protocol';
import { networkConfig } from '../../fabric/cni/install';
import { Command } from 'commander';
import { register } from '../../cli/commands/cni';
import { buildPlugin, callPlugin, installForTest } from './support';

function codeOf(fn: () => unknown): number | string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof CniError ? err.code : `not a CniError: ${String(err)}`;
  }
}

const conf = (extra: Record<string, unknown> = {}): string => JSON.stringify({ cniVersion: '1.0.0', name: 'fabric-node1', type: 'fabric', node: 'node1', subnet: '10.244.1.0/24', ...extra });

describe('environment', () => {
  test('ADD needs container id, netns and ifname; DEL may lack the netns; CNI_ARGS split on ; and the first =', () => {
    const env = parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;FABRIC_LABELS=app=web,tier=front', CNI_PATH: '/a:/b' });
    expect(env).toEqual({ command: 'ADD', containerId: 'abc123', netns: '/run/netns/x', ifname: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAME: 'web', FABRIC_LABELS: 'app=web,tier=front' }, path: ['/a', '/b'] });
    expect(codeOf(() => parseEnv({}))).toBe(CniCode.invalidEnv);
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'EXPLODE' }))).toBe(CniCode.invalidEnv);
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' }))).toBe(CniCode.invalidEnv);
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a/b', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }))).toBe(CniCode.invalidEnv);
    expect(codeOf(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ab', CNI_NETNS: '/x', CNI_IFNAME: 'an-interface-name-too-long' }))).toBe(CniCode.invalidEnv);
    expect(parseEnv({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' }).netns).toBeUndefined();
    expect(parseEnv({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
    expect(codeOf(() => parseCniArgs('novalue'))).toBe(CniCode.invalidEnv);
  });
});

describe('network config', () => {
  test('defaults, overlay MTU, and the spec codes for bad input', () => {
    const c = parseNetConf(conf(), 'ADD');
    expect(c).toMatchObject({ name: 'fabric-node1', node: 'node1', bridge: 'node1', mode: 'routed', mtu: 1500, dataDir: '/var/lib/fabric-cni', txOffload: false, subnet: '10.244.1.0/24' });
    expect(parseNetConf(conf({ mode: 'overlay' }), 'ADD').mtu).toBe(1450);
    expect(parseNetConf(conf({ mode: 'overlay', encap: 'geneve' }), 'ADD').mtu).toBe(1400);
    expect(parseNetConf(conf({ mode: 'overlay', mtu: 1300 }), 'ADD').mtu).toBe(1300);
    expect(codeOf(() => parseNetConf('{not json', 'ADD'))).toBe(CniCode.decodeFailure);
    expect(codeOf(() => parseNetConf('[]', 'ADD'))).toBe(CniCode.decodeFailure);
    expect(codeOf(() => parseNetConf(conf({ cniVersion: '0.3.1' }), 'ADD'))).toBe(CniCode.incompatibleVersion);
    expect(codeOf(() => parseNetConf(conf({ ipam: { type: 'host-local' } }), 'ADD'))).toBe(CniCode.unsupportedField);
    expect(codeOf(() => parseNetConf(conf({ node: undefined }), 'ADD'))).toBe(CniCode.invalidConfig);
    expect(codeOf(() => parseNetConf(conf({ subnet: '10.244.1.0/33' }), 'ADD'))).toBe(CniCode.invalidConfig);
    expect(codeOf(() => parseNetConf(conf({ mtu: 100 }), 'ADD'))).toBe(CniCode.invalidConfig);
    expect(codeOf(() => parseNetConf(conf({ mode: 'bridged' }), 'ADD'))).toBe(CniCode.invalidConfig);
    // GC and STATUS are CNI 1.1
    expect(codeOf(() => parseNetConf(conf(), 'GC'))).toBe(CniCode.incompatibleVersion);
    const gc = parseNetConf(conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b' }] }), 'GC');
    expect(gc.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'eth0' }]);
  });

  test('subnets and pools: .0, .1 (gateway) and the broadcast are never pod addresses', () => {
    const s = parseSubnet('10.244.1.0/24');
    expect(poolOf(s)).toEqual({ first: s.network + 2, last: s.network + 254 });
    expect(parseSubnet('10.244.1.77/24').network).toBe(s.network);
    expect(macFromIp('10.244.1.2')).toBe('0a:58:0a:f4:01:02');
  });

  test('pod names and labels: K8S args, namespace prefix, config labels, args.cni.labels, podman aliases, FABRIC_LABELS', () => {
    const env = (args: Record<string, string>) => ({ command: 'ADD' as const, containerId: '0123456789abcdef0123', netns: '/x', ifname: 'eth0', args, path: [] });
    const c = parseNetConf(conf({ labels: { tier: 'back' }, args: { cni: { labels: [{ key: 'team', value: 'a' }] } }, runtimeConfig: { aliases: { 'fabric-node1': ['label:app=web', 'a1b2c3'], other: ['label:x=y'] } } }), 'ADD');
    expect(podIdentity(env({ K8S_POD_NAME: 'web-1' }), c)).toEqual({ name: 'web-1', labels: { tier: 'back', team: 'a', app: 'web' } });
    expect(podIdentity(env({ K8S_POD_NAME: 'web-1', K8S_POD_NAMESPACE: 'shop' }), c).name).toBe('shop.web-1');
    expect(podIdentity(env({ K8S_POD_NAME: 'web-1', K8S_POD_NAMESPACE: 'default' }), c)).toMatchObject({ name: 'web-1', namespace: 'default' });
    expect(podIdentity(env({}), parseNetConf(conf(), 'ADD'))).toEqual({ name: 'c-0123456789ab', labels: {} });
    expect(podIdentity(env({ K8S_POD_NAME: 'p', FABRIC_LABELS: 'app=api;tier=front' }), c).labels).toEqual({ tier: 'front', team: 'a', app: 'api' });
    expect(codeOf(() => podIdentity(env({ K8S_POD_NAME: 'bad name' }), c))).toBe(CniCode.invalidEnv);
  });

  test('result shape per version; error objects; host interface names', () => {
    const r = { hostIface: 'fc0123', hostMac: 'aa:bb:cc:dd:ee:ff', ifname: 'eth0', mac: '0a:58:0a:f4:01:02', mtu: 1500, netns: '/run/netns/x', ip: '10.244.1.2', prefix: 24, gateway: '10.244.1.1' };
    expect(buildResult('1.0.0', r, { nameservers: ['10.96.0.10'] })).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'fc0123', mac: 'aa:bb:cc:dd:ee:ff', mtu: 1500 },
        { name: 'eth0', mac: '0a:58:0a:f4:01:02', mtu: 1500, sandbox: '/run/netns/x' },
      ],
      ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
    expect(buildResult('0.4.0', r, undefined).ips[0]).toEqual({ version: '4', address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 1 });
    expect(errorJson(new CniError(7, 'bad', 'why'), '1.0.0')).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'bad', details: 'why' });
    expect(errorJson(new Error('boom'))).toEqual({ cniVersion: '1.0.0', code: 5, msg: 'boom' });
    const a = hostIfaceName('c1', 'eth0');
    expect(a).toMatch(/^fc[0-9a-f]{11}$/);
    expect(hostIfaceName('c1', 'eth0')).toBe(a);
    expect(hostIfaceName('c2', 'eth0')).not.toBe(a);
    expect(hostIfaceName('c1', 'eth1')).not.toBe(a);
  });

  test('install: the per-node conflist and the launcher', () => {
    expect(networkConfig({ node: 'node2', binDir: '/b', confDir: '/c', controller: 'unix:/run/f.sock' })).toEqual({
      cniVersion: '1.0.0',
      name: 'fabric-node2',
      plugins: [{ type: 'fabric', node: 'node2', bridge: 'node2', ovsdb: 'unix:/var/run/openvswitch/db.sock', controller: 'unix:/run/f.sock', capabilities: { aliases: true } }],
    });
    // several controllers (an HA group): a list; `A,B` values split; one stays a string
    const plugin = (controller: string | string[]) => (networkConfig({ node: 'node2', binDir: '/b', confDir: '/c', controller }).plugins as Record<string, unknown>[])[0].controller;
    expect(plugin(['unix:/run/a.sock', 'unix:/run/b.sock,unix:/run/c.sock'])).toEqual(['unix:/run/a.sock', 'unix:/run/b.sock', 'unix:/run/c.sock']);
    expect(plugin(['unix:/run/a.sock'])).toBe('unix:/run/a.sock');
    expect(plugin([])).toBeUndefined();
  });
});

test('the command line: fabric cni install --node ... writes the conflist and the launcher', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-cli-'));
  try {
    const out: string[] = [];
    const ctx = { exitCode: -1, stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), debug: false };
    const program = new Command('fabric').exitOverride();
    register(program, ctx);
    await program.parseAsync(['cni', 'install', '--node', 'node2', '--bin-dir', path.join(dir, 'bin'), '--conf-dir', path.join(dir, 'net.d'), '--controller', 'unix:/run/fabric.sock', '--subnet', '10.244.2.0/24', '--mode', 'overlay', '--label', 'app=web', '--label', 'tier=front'], { from: 'user' });
    expect(ctx.exitCode).toBe(0);
    expect(out.join('')).toContain(`network fabric-node2: ${path.join(dir, 'net.d', 'fabric-node2.conflist')}`);
    const conflist = JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node2.conflist'), 'utf8'));
    expect(conflist.plugins[0]).toMatchObject({ type: 'fabric', node: 'node2', controller: 'unix:/run/fabric.sock', subnet: '10.244.2.0/24', mode: 'overlay', labels: { app: 'web', tier: 'front' } });
    // the conflist's plugin config, as a runtime hands it over, parses (overlay: MTU 1450)
    expect(parseNetConf(JSON.stringify({ ...conflist.plugins[0], cniVersion: conflist.cniVersion, name: conflist.name }), 'ADD').mtu).toBe(1450);
    const launcher = fs.readFileSync(path.join(dir, 'bin', 'fabric'), 'utf8');
    expect(launcher).toMatch(/^#!\/bin\/sh\n/);
    expect(launcher).toContain(`exec '${process.execPath}' '${path.join(__dirname, '..', '..', 'bin', 'fabric.js')}' 'cni' "$@"`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the command line: several --controller values become a list; a bad one is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-cli-'));
  try {
    const run = async (...extra: string[]): Promise<number> => {
      const ctx = { exitCode: -1, stdout: () => undefined, stderr: () => undefined, debug: false };
      const program = new Command('fabric').exitOverride();
      register(program, ctx);
      await program.parseAsync(['cni', 'install', '--node', 'node3', '--bin-dir', path.join(dir, 'bin'), '--conf-dir', path.join(dir, 'net.d'), ...extra], { from: 'user' });
      return ctx.exitCode;
    };
    expect(await run('--controller', 'unix:/run/fabric-a.sock', '--controller', 'unix:/run/fabric-b.sock,tcp:7070')).toBe(0);
    const conflist = JSON.parse(fs.readFileSync(path.join(dir, 'net.d', 'fabric-node3.conflist'), 'utf8'));
    expect(conflist.plugins[0].controller).toEqual(['unix:/run/fabric-a.sock', 'unix:/run/fabric-b.sock', 'tcp:7070']);
    expect(parseNetConf(JSON.stringify({ ...conflist.plugins[0], cniVersion: conflist.cniVersion, name: conflist.name }), 'ADD').controllers).toEqual(['unix:/run/fabric-a.sock', 'unix:/run/fabric-b.sock', 'tcp:7070']);
    await expect(run('--controller', 'unix:/run/fabric-a.sock', '--controller', 'ftp://b')).rejects.toThrow(/^--controller: controller "ftp:\/\/b" must be unix:PATH, tcp:PORT\[:ADDR\] or http:\/\/HOST:PORT$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('the plugin as a runtime runs it (child process through the launcher)', () => {
  let dir = '';
  let launcher = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-proto-'));
    const main = buildPlugin(dir);
    const installed = installForTest(dir, main, { node: 'node1', subnet: '10.244.1.0/24', ovsdb: `unix:${dir}/no-such.sock`, dataDir: path.join(dir, 'data') });
    launcher = installed.launcher;
    expect(fs.readFileSync(installed.conflist, 'utf8')).toContain('"name": "fabric-node1"');
    expect(fs.statSync(launcher).mode & 0o111).not.toBe(0);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('VERSION, and errors as CNI error JSON with exit 1 (never a stack trace)', async () => {
    const v = await callPlugin(launcher, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(v).toMatchObject({ code: 0, json: { cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] } });
    const none = await callPlugin(launcher, {}, '');
    expect(none.code).toBe(1);
    expect(none.json).toMatchObject({ cniVersion: '1.0.0', code: 4, msg: 'CNI_COMMAND is not set' });
    const badJson = await callPlugin(launcher, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x1', CNI_NETNS: '/run/netns/fcni-none', CNI_IFNAME: 'eth0' }, '{oops');
    expect(badJson).toMatchObject({ code: 1, json: { code: 6, msg: 'the network configuration on stdin is not JSON' } });
    // a namespace that does not exist: code 3, and nothing allocated
    const noNs = await callPlugin(launcher, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x1', CNI_NETNS: '/run/netns/fcni-none', CNI_IFNAME: 'eth0' }, conf({ dataDir: path.join(dir, 'data') }));
    expect(noNs).toMatchObject({ code: 1, json: { cniVersion: '1.0.0', code: 3 } });
    expect(fs.existsSync(path.join(dir, 'data', 'node1')) ? fs.readdirSync(path.join(dir, 'data', 'node1')).filter((f) => f.startsWith('ip-')) : []).toEqual([]);
    // an OVSDB that is not there: DEL reports it (code 11, try again) rather than claiming success
    const del = await callPlugin(launcher, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'x1', CNI_IFNAME: 'eth0' }, conf({ dataDir: path.join(dir, 'data'), ovsdb: `unix:${dir}/no-such.sock`, timeoutMs: 2000 }));
    expect(del).toMatchObject({ code: 1, json: { code: 11 } });
    for (const r of [none, badJson, noNs, del]) expect(r.stdout).not.toMatch(/\n\s+at /);
  });
});
