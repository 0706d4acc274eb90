/**
 * The controller's local API (fabric/controller-api.ts): event validation and the Prometheus text
 * (pure), then for real on a lab: GET /metrics and GET /state over a unix socket (also with curl, as
 * docs/controller.md shows), POST /events refused whole when one event is bad (400, nothing applied),
 * a good batch (pod add + link down) answered after the reconcile and seen by real traffic; an
 * operator's link down holds while other ports flap; link up brings traffic back. Root for the lab part.
 */
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, scenarioPorts, tcpConnect, teardownLab } from '../../fabric/lab';
import { EventsRejectedError, formatMetrics, parseEvents } from '../../fabric/controller-api';
import type { ControllerSnapshot } from '../../fabric/controller-api';
import { startController, RunningController } from '../../fabric/daemon';
import { compileCluster } from '../../controller';
import { until } from './until';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');
const ID = 'tlapi';

function rejection(body: unknown): { message: string; index?: number } | 'accepted' {
  try {
    parseEvents(body);
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(EventsRejectedError);
    const e = err as EventsRejectedError;
    return e.index === undefined ? { message: e.message } : { message: e.message, index: e.index };
  }
}

describe('parseEvents', () => {
  test('every kind of event, in the ScenarioEvent shape without at', () => {
    expect(
      parseEvents([
        { kind: 'pod', action: 'add', name: 'p', node: 'node1', labels: { app: 'x' }, ip: '10.244.1.9', egressGbps: 2 },
        { kind: 'pod', action: 'delete', name: 'p' },
        { kind: 'pod', action: 'move', name: 'q', to: 'node2' },
        { kind: 'service', action: 'add', service: { name: 's', selector: { app: 'x' }, port: 80 } },
        { kind: 'service', action: 'delete', name: 's' },
        { kind: 'link', action: 'down', between: ['a', 'b'] },
        { kind: 'node', action: 'up', name: 'node1' },
      ]),
    ).toEqual([
      { at: 0, kind: 'pod', action: 'add', name: 'p', node: 'node1', labels: { app: 'x' }, ip: '10.244.1.9', egressGbps: 2 },
      { at: 0, kind: 'pod', action: 'delete', name: 'p' },
      { at: 0, kind: 'pod', action: 'move', name: 'q', to: 'node2' },
      { at: 0, kind: 'service', action: 'add', service: { name: 's', selector: { app: 'x' }, port: 80, targetPort: 80, protocol: 'tcp' } },
      { at: 0, kind: 'service', action: 'delete', name: 's' },
      { at: 0, kind: 'link', action: 'down', between: ['a', 'b'] },
      { at: 0, kind: 'node', action: 'up', name: 'node1' },
    ]);
    expect(parseEvents({ events: [{ kind: 'pod', action: 'add', name: 'p', node: 'n' }] })).toEqual([{ at: 0, kind: 'pod', action: 'add', name: 'p', node: 'n', labels: {} }]);
  });

  test('bad shapes: a clear message naming the event', () => {
    expect(rejection({ kind: 'pod' })).toEqual({ message: expect.stringContaining('JSON array') });
    expect(rejection([])).toEqual({ message: 'no events in the batch' });
    expect(rejection([{ kind: 'pod', action: 'delete', name: 'a' }, { kind: 'pod', action: 'explode', name: 'b' }])).toEqual({ index: 1, message: expect.stringContaining('unknown kind/action "pod"/"explode"') });
    expect(rejection([{ kind: 'pod', action: 'delete', name: 'a', at: 3 }])).toEqual({ index: 0, message: expect.stringContaining("unknown key 'at' (events apply now: no at)") });
    expect(rejection([{ kind: 'link', action: 'down', between: ['a'] }])).toEqual({ index: 0, message: expect.stringContaining("'between' must be two switch names") });
    expect(rejection([{ kind: 'pod', action: 'add', name: 'p', node: 'n', ip: '10.1.2' }])).toEqual({ index: 0, message: expect.stringContaining("'ip' must be an IPv4 address") });
    expect(rejection([{ kind: 'service', action: 'add', service: { name: 's', port: 70000 } }])).toEqual({ index: 0, message: expect.stringContaining('service.port: must be a port 1-65535') });
    expect(rejection([{ kind: 'pod', action: 'add', name: 'p', node: 'n', labels: { a: 1 } }])).toEqual({ index: 0, message: expect.stringContaining('labels: must be a mapping of strings') });
  });
});

describe('formatMetrics', () => {
  test('Prometheus text: HELP/TYPE per family, labelled flows, NaN before the first pass', () => {
    const s: ControllerSnapshot = {
      scenario: 'x',
      file: 'x.yaml',
      switchesConnected: 1,
      switchesTotal: 2,
      switches: [
        { name: 'tor1', datapathId: '0000000000000001', connected: true, flows: 12, ovsdb: 'unix:/a', controller: 'unix:/b' },
        { name: 'n"1', datapathId: '0000000000000002', connected: false, ovsdb: 'unix:/a', controller: 'unix:/b' },
      ],
      passes: 0,
      opsSent: 0,
      linksDown: ['a|b'],
      linksAdminDown: [],
      reloads: { applied: 1, failed: 2, refused: 3 },
      ovsdb: { disconnects: 4, reconnects: 5, bridgesRepaired: 6 },
      api: { requests: 7, eventsApplied: 8, batchesRejected: 9 },
      pods: [],
      services: [],
      links: [],
      nodes: [],
    };
    const text = formatMetrics(s);
    expect(text).toContain('# TYPE fabric_switches_connected gauge\nfabric_switches_connected 1\n');
    expect(text).toContain('fabric_switches_total 2\n');
    expect(text).toContain('fabric_flows{switch="tor1"} 12\n');
    expect(text).not.toContain('fabric_flows{switch="n\\"1"}');
    expect(text).toContain('fabric_switch_connected{switch="n\\"1"} 0\n');
    expect(text).toContain('fabric_last_convergence_ms NaN\n');
    expect(text).toContain('# TYPE fabric_passes_total counter\nfabric_passes_total 0\n');
    expect(text).toContain('fabric_links_down 1\n');
    expect(text).toContain('fabric_scenario_reload_refused_total 3\n');
    expect(text).toContain('fabric_ovsdb_reconnects_total 5\n');
    // every sample line is NAME{labels}? VALUE, every family has HELP and TYPE once
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) fabric_\w+ .+|fabric_\w+(\{[^}]*\})? (-?[\d.e+-]+|NaN))$/);
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]);
    expect(new Set(types).size).toBe(types.length);
  });
});

/** One HTTP request over the API's unix socket. */
function request(socketPath: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; type: string; text: string; json?: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"|]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in:\n${text}`);
  return Number(m[1]);
}

describe('the API on a running controller (real OVS)', () => {
  let dir = '';
  beforeAll(async () => {
    checkNetnsPermitted();
    await teardownLab(ID);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-api-'));
  });
  afterAll(async () => {
    await teardownLab(ID);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('metrics, state, all-or-nothing POST /events applied live and seen by traffic', async () => {
    const loaded = loadScenario(FIXTURE);
    const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
    const sock = path.join(dir, 'api.sock');
    let running: RunningController | undefined;
    const events: string[] = [];
    try {
      running = await startController(FIXTURE, {
        ovsdb: lab.ovs.dbUrl,
        listen: lab.controllerTarget,
        api: `unix:${sock}`,
        watch: false,
        log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
      });
      const r = running;
      const c = r.controller;
      expect(r.api?.url).toBe(`unix:${sock}`);
      await until('3 switches and a pass', () => c.stats.switchesConnected === 3 && c.stats.passes > 0);
      await c.idle();

      // GET /metrics: Prometheus text with the live numbers
      const m = await request(sock, 'GET', '/metrics');
      expect(m.status).toBe(200);
      expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metric(m.text, 'fabric_switches_connected')).toBe(3);
      expect(metric(m.text, 'fabric_switches_total')).toBe(3);
      for (const sw of ['node1', 'node2', 'tor1']) expect(metric(m.text, `fabric_flows{switch="${sw}"}`)).toBe(c.stats.flowsBySwitch[sw]);
      expect(metric(m.text, 'fabric_last_convergence_ms')).toBeCloseTo(c.stats.lastConvergenceMs!, 6);
      expect(metric(m.text, 'fabric_passes_total')).toBe(c.stats.passes);
      expect(metric(m.text, 'fabric_links_down')).toBe(0);
      // the same with curl, as the docs show
      // (asynchronously: the server runs in this process's event loop)
      const curl = await new Promise<string>((resolve, reject) => execFile('curl', ['-sS', '--max-time', '5', '--unix-socket', sock, 'http://fabric/metrics'], (err, stdout) => (err ? reject(err) : resolve(stdout))));
      expect(curl).toContain('fabric_switches_connected 3\n');

      // the links' load from OpenFlow port statistics: counters read around one second of iperf3
      // from web-1 (node1) to web-2 (node2); the data direction node1->tor1 carries far more than
      // the ACKs coming back (how much depends on the machine: not judged)
      const web2 = lab.host('web-2');
      const server = spawn('ip', ['netns', 'exec', web2.ns, 'iperf3', '-s', '-1', '-p', '5999'], { stdio: 'ignore' });
      try {
        await c.pollPortStats();
        let sent = false;
        for (let attempt = 0; attempt < 20 && !sent; attempt++) {
          sent = await new Promise<boolean>((resolve) => execFile('ip', ['netns', 'exec', lab.host('web-1').ns, 'iperf3', '-c', web2.ip, '-p', '5999', '-t', '1'], (err) => resolve(!err)));
          if (!sent) await new Promise((res) => setTimeout(res, 100)); // the server was not listening yet
        }
        expect(sent).toBe(true);
        await c.pollPortStats();
      } finally {
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      const loadText = (await request(sock, 'GET', '/metrics')).text;
      expect(metric(loadText, 'fabric_port_stats_polls_total')).toBeGreaterThanOrEqual(2);
      const dataUtil = metric(loadText, 'fabric_link_utilization{link="node1->tor1"}');
      const ackUtil = metric(loadText, 'fabric_link_utilization{link="tor1->node1"}');
      expect(dataUtil).toBeGreaterThan(0);
      expect(dataUtil).toBeGreaterThan(ackUtil);
      const node1Uplink = loaded.state.switches.get('node1')!.ports.find((p) => p.kind === 'link')!.port;
      expect(metric(loadText, `fabric_port_tx_bits_per_second{switch="node1",port="${node1Uplink}"}`)).toBeCloseTo(dataUtil * 10e9, -3);

      // GET /state: JSON with the cluster
      const s = await request(sock, 'GET', '/state');
      expect(s.status).toBe(200);
      expect(s.json).toMatchObject({ scenario: 'lab-two-nodes', switchesConnected: 3, switchesTotal: 3, linksDown: [] });
      expect(s.json.pods.map((p: { name: string }) => p.name).sort()).toEqual(['client', 'web-1', 'web-2']);
      expect(s.json.services).toEqual([expect.objectContaining({ name: 'web', endpoints: ['web-1', 'web-2'] })]);
      expect(s.json.switches.every((w: { connected: boolean }) => w.connected)).toBe(true);
      expect((await request(sock, 'GET', '/nothing')).status).toBe(404);
      expect((await request(sock, 'DELETE', '/events')).status).toBe(405);

      // a batch with one bad event: 400 naming it, NOTHING applied (the good first event neither)
      const passes0 = c.stats.passes;
      const bad = await request(sock, 'POST', '/events', [
        { kind: 'pod', action: 'add', name: 'late', node: 'node2', labels: { app: 'late' } },
        { kind: 'pod', action: 'move', name: 'web-1', to: 'node9' },
      ]);
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ index: 1, applied: 0, error: expect.stringMatching(/^event 1 \(pod move web-1\): .*unknown node node9; nothing applied$/) });
      expect(c.state.pods.has('late')).toBe(false);
      expect(c.state.pods.get('web-1')!.node).toBe('node1');
      expect(c.stats.passes).toBe(passes0);
      // a duplicate within the batch is caught by the dry run too
      expect((await request(sock, 'POST', '/events', [{ kind: 'service', action: 'delete', name: 'web' }, { kind: 'service', action: 'delete', name: 'web' }])).status).toBe(400);
      expect(c.state.services.has('web')).toBe(true);
      expect((await request(sock, 'POST', '/events', '{not json')).json.error).toMatch(/^the body is not JSON/);

      // a good batch: answered after its reconcile
      const node2FlowsBefore = c.stats.flowsBySwitch.node2;
      const sentAt = process.hrtime.bigint();
      const good = await request(sock, 'POST', '/events', [{ kind: 'pod', action: 'add', name: 'late', node: 'node2', labels: { app: 'web' } }]);
      const roundTripMs = Number((process.hrtime.bigint() - sentAt) / 1000n) / 1000;
      expect(good.status).toBe(200);
      expect(good.json).toMatchObject({ applied: 1, changes: expect.any(Number), reconciledMs: expect.any(Number), convergenceMs: expect.any(Number), switchesConnected: 3, switchesTotal: 3 });
      expect(good.json.passes).toBeGreaterThanOrEqual(1);
      expect(c.state.services.get('web')!.endpoints).toEqual(['late', 'web-1', 'web-2']);
      expect(c.stats.flowsBySwitch.node2).toBeGreaterThan(node2FlowsBefore);
      const full = compileCluster(c.state);
      for (const [name, n] of Object.entries(c.stats.flowsBySwitch)) expect(n).toBe(full.get(name)!.flows.length);
      const late = c.state.pods.get('late')!;
      await lab.addPod(c.state, 'late');
      expect((await tcpConnect(lab, 'client', late.ip, 8080, 1, 1.5))[0]).toMatchObject({ ok: true, server: 'late' });

      // link down by the operator: node2's pods are cut off
      const down = await request(sock, 'POST', '/events', [{ kind: 'link', action: 'down', between: ['tor1', 'node2'] }]);
      expect(down.status).toBe(200);
      expect(down.json.changes).toBe(1);
      expect(c.stats.linksDown).toEqual(['node2|tor1']);
      expect((await tcpConnect(lab, 'client', late.ip, 8080, 1, 1))[0]).toMatchObject({ ok: false });
      // ... and it stays down when ports flap elsewhere (port status must not undo an operator's down)
      lab.setLink('node1|tor1', false);
      await until('node1 link down seen', () => c.stats.linksDown.includes('node1|tor1'));
      lab.setLink('node1|tor1', true);
      await until('node1 link up seen', () => !c.stats.linksDown.includes('node1|tor1'));
      await c.idle();
      expect(c.stats.linksDown).toEqual(['node2|tor1']);
      expect((await request(sock, 'GET', '/state')).json.linksAdminDown).toEqual(['node2|tor1']);
      expect(metric((await request(sock, 'GET', '/metrics')).text, 'fabric_links_admin_down')).toBe(1);
      expect((await tcpConnect(lab, 'client', late.ip, 8080, 1, 1))[0]).toMatchObject({ ok: false });
      // up again: traffic is back
      const up = await request(sock, 'POST', '/events', [{ kind: 'link', action: 'up', between: ['node2', 'tor1'] }]);
      expect(up.status).toBe(200);
      expect(c.stats.linksDown).toEqual([]);
      expect((await tcpConnect(lab, 'client', late.ip, 8080, 1, 1.5))[0]).toMatchObject({ ok: true, server: 'late' });

      // node down and up again: the state follows, each answered after its pass, traffic back at the end
      const nodeDown = await request(sock, 'POST', '/events', [{ kind: 'node', action: 'down', name: 'node2' }]);
      expect(nodeDown.status).toBe(200);
      expect(nodeDown.json).toMatchObject({ applied: 1, changes: 1 });
      expect((await request(sock, 'GET', '/state')).json.nodes.find((n: { name: string }) => n.name === 'node2').up).toBe(false);
      const nodeUp = await request(sock, 'POST', '/events', { events: [{ kind: 'node', action: 'up', name: 'node2' }] });
      expect(nodeUp.json).toMatchObject({ applied: 1, changes: 1 });
      expect(c.state.nodes.get('node2')!.up).toBe(true);
      expect((await tcpConnect(lab, 'client', late.ip, 8080, 1, 1.5))[0]).toMatchObject({ ok: true, server: 'late' });

      const finalMetrics = (await request(sock, 'GET', '/metrics')).text;
      expect(metric(finalMetrics, 'fabric_api_events_applied_total')).toBe(5);
      expect(metric(finalMetrics, 'fabric_api_batches_rejected_total')).toBe(3);
      expect(events.some((e) => e.startsWith('events-rejected'))).toBe(true);
      expect(events.some((e) => e.startsWith('events-applied'))).toBe(true);
      process.stdout.write(
        `controller-api: POST /events (pod add) -> reconciled ${good.json.reconciledMs.toFixed(1)} ms inside the controller, ${roundTripMs.toFixed(1)} ms round trip (pass ${good.json.convergenceMs.toFixed(1)} ms); link down ${down.json.reconciledMs.toFixed(1)} ms; link up ${up.json.reconciledMs.toFixed(1)} ms\n`,
      );
    } finally {
      await running?.stop();
      await lab.down();
    }
    expect(fs.existsSync(sock)).toBe(false);
  }, 60_000);
});
