/**
 * The lab console (issue 18 items 6 and 7) through the built CLI (dist/): `fabric lab exec --id ID --
 * COMMAND` with pingall, link down (a ping fails) and up (it works again), POD curl SERVICE (who
 * answered), trace (ofproto/trace hop by hop on the live bridges: table names, the output port named),
 * dump (table names); `fabric lab inspect --json` lists every host with its OVS port, `fabric lab list`
 * the lab; the lab's OVS ports carry external_ids naming pod, node, external and link. Root. Lab id
 * `tcons`, fixture test/lab/fixtures/console.yaml (no controller: the plan installed by `lab up`).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, teardownLab } from '../../fabric/lab';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'fabric.js');
const FIXTURE = path.join(__dirname, 'fixtures', 'console.yaml');
const ID = 'tcons';

function fabric(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function exec(...words: string[]): { code: number | null; stdout: string; stderr: string } {
  return fabric('lab', 'exec', '--id', ID, '--', ...words);
}

describe('fabric lab shell/exec, inspect, list (real OVS)', () => {
  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'commands', 'lab-console.js'))) throw new Error('dist/ is missing or old: run `npx tsc -p tsconfig.json` first');
    checkNetnsPermitted();
    await teardownLab(ID);
    const up = fabric('lab', 'up', FIXTURE, '--name', ID);
    if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}${up.stdout}`);
    expect(up.stdout).toContain(`ovs-vsctl --db=unix:/tmp/fabric-lab-${ID}/ovs/db.sock show`);
    expect(up.stdout).toContain(`fabric lab shell --id ${ID}`);
  }, 120_000);

  afterAll(async () => {
    await teardownLab(ID);
  }, 60_000);

  test('pingall: every pod reaches every host; the external reaches no pod (closed edge)', () => {
    const r = exec('pingall');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('*** Ping: testing ping reachability');
    expect(lines).toContain('client -> internet web-1 web-2');
    expect(lines).toContain('web-1 -> client internet web-2');
    expect(lines).toContain('web-2 -> client internet web-1');
    expect(lines).toContain('internet -> X X X');
    expect(lines[lines.length - 1]).toBe('*** Results: 25% dropped (9/12 received)');
  }, 60_000);

  test('link down makes a ping fail, link up brings it back', async () => {
    const down = exec('link', 'node2', 'tor1', 'down');
    expect(down.code).toBe(0);
    expect(down.stdout).toBe('link node2:1 (v1p1) <-> tor1:2 (v2p2) down\n');
    expect(exec('client', 'ping', 'web-2').stdout).toMatch(/^client ping web-2 \(10\.244\.2\.\d+\): 3 sent, 0 received \(no reply\)\n$/);
    expect(exec('link', 'tor1', 'node2', 'up').code).toBe(0);
    let back = '';
    for (let i = 0; i < 5 && !/[1-3] received/.test(back); i++) back = exec('client', 'ping', 'web-2').stdout;
    expect(back).toMatch(/3 sent, [1-3] received, rtt /);
    expect(exec('link', 'node2', 'spine9', 'down')).toMatchObject({ code: 1, stderr: expect.stringContaining('no link between node2 and spine9') });
  }, 60_000);

  test('curl: a service by name, a pod with a port; who answered', () => {
    const svc = exec('client', 'curl', 'web');
    expect(svc.stdout).toMatch(/^client -> service web \(10\.96\.\d+\.\d+:80\) port 80: answered by web-[12], which saw the source as 10\.244\.1\.\d+\n$/);
    expect(exec('client', 'curl', 'web-2:8080').stdout).toMatch(/answered by web-2/);
    expect(exec('client', 'curl', 'nobody')).toMatchObject({ code: 1, stderr: expect.stringContaining('no host, service or IP "nobody"') });
  }, 60_000);

  test('inspect lists every host with its bridge and port; list shows the lab; ports carry external_ids', () => {
    const r = fabric('lab', 'inspect', '--id', ID, '--json');
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    const { state } = loadScenario(FIXTURE);
    for (const pod of state.pods.values()) {
      const port = state.switches.get(pod.node)!.ports.find((p) => p.kind === 'pod' && p.pod === pod.name)!.port;
      expect(x.hosts).toContainEqual(expect.objectContaining({ name: pod.name, kind: 'pod', ip: pod.ip, mac: pod.mac, switch: pod.node, bridge: pod.node, ofport: port, namespace: `fab-${ID}-${pod.name}` }));
    }
    expect(x.hosts).toContainEqual(expect.objectContaining({ name: 'internet', kind: 'external', switch: 'tor1' }));
    expect(x.bridges.map((b: { switch: string }) => b.switch).sort()).toEqual(['node1', 'node2', 'tor1']);
    expect(x.links).toHaveLength(2);
    const human = fabric('lab', 'inspect', '--id', ID).stdout;
    expect(human).toMatch(/^web-2\s+pod\s+10\.244\.2\.\d+\s+0a:58:0a:f4:02:\w\w\s+node2\s+node2\s+100\s+v1p100\s+fab-tcons-web-2$/m);
    expect(human).toContain(`ovs-vsctl --db=unix:/tmp/fabric-lab-${ID}/ovs/db.sock show`);
    expect(fabric('lab', 'list').stdout).toMatch(new RegExp(`^${ID}  lab-console  4 hosts, 3 bridges, 2 links  /tmp/fabric-lab-${ID}$`, 'm'));

    const lab = Lab.open(ID);
    const ids = (iface: string): string => lab.ovs.vsctl('get', 'Interface', iface, 'external_ids').trim();
    const web2 = x.hosts.find((h: { name: string }) => h.name === 'web-2');
    expect(ids(web2.interface)).toBe('{fabric-node=node2, fabric-pod=web-2}');
    expect(ids(x.hosts.find((h: { name: string }) => h.name === 'internet').interface)).toBe('{fabric-external=internet, fabric-switch=tor1}');
    expect(ids('v1p1')).toBe('{fabric-link="node2|tor1"}');
  });

  test('trace: ofproto/trace hop by hop with table names, the output port named', () => {
    const r = fabric('lab', 'trace', 'client', 'web-2', '--id', ID);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^trace client \(10\.244\.1\.\d+\) -> web-2 \(10\.244\.2\.\d+\) icmp echo\n/);
    expect(r.stdout).toContain('== node1 (bridge node1) in_port=100: pod client');
    expect(r.stdout).toMatch(/^ ?9\. \(l3_forwarding\) /m);
    expect(r.stdout).toContain('node1: output to port 1: link to tor1');
    expect(r.stdout).toContain('tor1: output to port 2: link to node2');
    expect(r.stdout).toMatch(/output:100 {3}-> pod web-2/);
    expect(r.stdout).toContain('node2: output to port 100: pod web-2');
    expect(r.stdout).toContain('path: node1:100 -> node1:1 => tor1:1 -> tor1:2 => node2:1 -> node2:100\n');
    expect(r.stdout).toMatch(/verdict: delivered to pod web-2 \(/);
    // the same through exec, with a TCP port
    expect(exec('trace', 'client', 'web-2', '8080').stdout).toMatch(/tcp port 8080[\s\S]*verdict: delivered to pod web-2/);
    // a service: the select group's hash is beyond ofproto/trace; it says so and names the backends
    expect(exec('trace', 'client', 'web').stdout).toMatch(/verdict: undecided at node1: a select group \(dp_hash\)[^\n]*trace client web-1 8080, trace client web-2 8080/);
  }, 60_000);

  test('dump: flows per table under their names; help; an unknown command fails', () => {
    const d = exec('dump', 'tor1');
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^\*\*\* tor1 \(bridge tor1\)\n {2}# table 0: classifier\n/);
    expect(d.stdout).toContain('  # table 9: l3_forwarding\n');
    expect(exec('help').stdout).toContain('pingall');
    expect(exec('frobnicate')).toMatchObject({ code: 1, stderr: 'error: unknown command "frobnicate" (help lists them)\n' });
  });
});
