/**
 * One event shape everywhere (issue 18 item 2): POST /events reads the scenario file's event shape with
 * the scenario parser (same checks, same messages; `at` optional), besides `{kind, action}`; and
 * `fabric lab pod add|delete` (built CLI in dist/) on a lab whose controller runs (`lab up --controller`,
 * its API recorded in the lab): the pod gets its namespace, veth and OVS port at the port the controller
 * gave it, becomes a service backend, and every one of 20 connections to the VIP is answered; deleted,
 * it leaves the service and the lab. Root for the lab part. Lab id `tpapi` (own fixture).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { EventsRejectedError, parseEvents } from '../../fabric/controller-api';
import { checkNetnsPermitted, Lab, readLabRecord, tcpConnect, teardownLab } from '../../fabric/lab';
import { getState } from '../../fabric/cni/controller-client';
import { parseScenarioText } from '../../topology';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'fabric.js');
const FIXTURE = path.join(__dirname, 'fixtures', 'console.yaml');
const ID = 'tpapi';

function fabric(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function rejected(body: unknown): string {
  try {
    parseEvents(body);
  } catch (err) {
    expect(err).toBeInstanceOf(EventsRejectedError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('POST /events: the scenario shape', () => {
  test('each YAML event reads as its {kind, action} twin; at optional and ignored', () => {
    const yaml = parseEvents([
      { pod: 'add', name: 'p', node: 'node1', labels: { app: 'x' }, ip: '10.244.1.9', egressGbps: 2 },
      { pod: 'delete', name: 'p' },
      { pod: 'move', name: 'q', to: 'node2', at: '2s' },
      { service: 'add', name: 's', selector: { app: 'x' }, port: 80 },
      { service: 'delete', name: 's' },
      { link: 'down', between: ['a', 'b'] },
      { node: 'up', name: 'node1' },
    ]);
    const kinds = parseEvents([
      { kind: 'pod', action: 'add', name: 'p', node: 'node1', labels: { app: 'x' }, ip: '10.244.1.9', egressGbps: 2 },
      { kind: 'pod', action: 'delete', name: 'p' },
      { kind: 'pod', action: 'move', name: 'q', to: 'node2' },
      { kind: 'service', action: 'add', service: { name: 's', selector: { app: 'x' }, port: 80 } },
      { kind: 'service', action: 'delete', name: 's' },
      { kind: 'link', action: 'down', between: ['a', 'b'] },
      { kind: 'node', action: 'up', name: 'node1' },
    ]);
    expect(yaml).toEqual(kinds);
    // the scenario shape also has readiness
    expect(parseEvents([{ pod: 'unready', name: 'p' }])).toEqual([{ at: 0, kind: 'pod', action: 'unready', name: 'p' }]);
  });

  test("errors are the scenario parser's", () => {
    const scenarioError = (event: string): string => {
      const text = `name: x\ncluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16 }\nfabric:\n  nodes: [{ name: node1, ip: 198.51.100.1, podCidr: 10.244.1.0/24 }]\nevents:\n  - ${event}\n`;
      const r = parseScenarioText(text, 'x.yaml');
      return r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message.replace('event #1', 'event 0')).join('; ');
    };
    const cases: [unknown, string][] = [
      [{ pod: 'explode', name: 'x' }, '{ at: 1s, pod: explode, name: x }'],
      [{ pod: 'add', name: 'x', nod: 'node1' }, '{ at: 1s, pod: add, name: x, nod: node1 }'],
      [{ link: 'down', between: ['a'] }, '{ at: 1s, link: down, between: [a] }'],
      [{ pod: 'add', link: 'down', name: 'x' }, '{ at: 1s, pod: add, link: down, name: x }'],
    ];
    // the same messages (the file's are sorted by position, the API's in reading order)
    const sorted = (m: string): string[] => m.split('; ').sort();
    for (const [body, yaml] of cases) expect(sorted(rejected([body]))).toEqual(sorted(scenarioError(yaml)));
    expect(rejected([{ pod: 'delete', name: 'a' }, { pdo: 'add' }])).toMatch(/^event 1 needs one of link:, node:, pod:, service:|unknown key 'pdo' in event 1/);
    // the {kind, action} form keeps its own messages
    expect(rejected([{ kind: 'pod', action: 'explode', name: 'b' }])).toContain('unknown kind/action "pod"/"explode"');
  });
});

// never skipped: without root or `ip netns` it fails with the reason (checkNetnsPermitted)
describe('fabric lab pod add|delete on a lab with a controller (real OVS)', () => {
  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'lab-console.js'))) throw new Error('dist/ is missing or old: run `npx tsc -p tsconfig.json` first');
    checkNetnsPermitted();
    await teardownLab(ID);
    const up = fabric('lab', 'up', FIXTURE, '--name', ID, '--controller');
    if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}${up.stdout}`);
    expect(up.stdout).toContain(`API unix:/tmp/fabric-lab-${ID}/api.sock`);
    expect(up.stdout).toContain(`ovs-vsctl --db=unix:/tmp/fabric-lab-${ID}/ovs/db.sock show`);
  }, 120_000);

  afterAll(async () => {
    await teardownLab(ID);
  }, 60_000);

  test('a pod added with `fabric lab pod add` becomes a backend: 20 of 20 connections answered; deleted, it is gone', async () => {
    const api = readLabRecord(ID)!.controllerApi!;
    expect(api).toBe(`unix:/tmp/fabric-lab-${ID}/api.sock`);
    const before = await getState(api, 5000);
    const vip = before.services.find((s) => s.name === 'web')!.vip;
    expect(before.services.find((s) => s.name === 'web')!.endpoints).toEqual(['web-1', 'web-2']);

    const add = fabric('lab', 'pod', 'add', 'web-3', '--node', 'node2', '--labels', 'app=web', '--id', ID);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^pod web-3 added to lab tpapi: 10\.244\.2\.\d+ on node2 port \d+ \(v\d+p\d+\), namespace fab-tpapi-web-3/);
    const st = await getState(api, 5000);
    expect(st.services.find((s) => s.name === 'web')!.endpoints).toEqual(['web-1', 'web-2', 'web-3']);
    const pod = st.pods.find((p) => p.name === 'web-3')!;
    const lab = Lab.open(ID);
    const host = lab.host('web-3');
    expect({ ip: host.ip, port: host.port, switch: host.switch }).toEqual({ ip: pod.ip, port: pod.port, switch: 'node2' });
    // its OVS port says whose it is
    expect(lab.ovs.vsctl('get', 'Interface', host.ovsIface, 'external_ids:fabric-pod', 'external_ids:fabric-node').trim().split('\n')).toEqual(['web-3', 'node2']);

    const replies = await tcpConnect(lab, 'client', vip, 80, 20, 1.5, 20);
    expect(replies.filter((r) => !r.ok)).toEqual([]);
    expect(replies).toHaveLength(20);
    expect(new Set(replies.map((r) => r.server))).toContain('web-3');

    // the pod answers on its own address too
    const direct = await tcpConnect(lab, 'client', pod.ip, 8080, 1);
    expect(direct[0]).toMatchObject({ ok: true, server: 'web-3' });

    const del = fabric('lab', 'pod', 'delete', 'web-3', '--id', ID);
    expect(del.code).toBe(0);
    expect(del.stdout).toContain('pod web-3 deleted from lab tpapi and from its controller');
    const after = await getState(api, 5000);
    expect(after.services.find((s) => s.name === 'web')!.endpoints).toEqual(['web-1', 'web-2']);
    expect(after.pods.map((p) => p.name)).not.toContain('web-3');
    const lab2 = Lab.open(ID);
    expect(lab2.record.hosts['web-3']).toBeUndefined();
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`fab-${ID}-web-3`);
    const again = await tcpConnect(lab2, 'client', vip, 80, 20, 1.5, 20);
    expect(again.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(again.map((r) => r.server))).toEqual(new Set(['web-1', 'web-2']));

    // a refused add says why and builds nothing
    const bad = fabric('lab', 'pod', 'add', 'web-4', '--node', 'node9', '--id', ID);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown node node9');
    expect(Lab.open(ID).record.hosts['web-4']).toBeUndefined();
  }, 120_000);
});
