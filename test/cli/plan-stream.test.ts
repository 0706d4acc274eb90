/**
 * `fabric plan` streaming (issue 17 "Plans at scale"), in process: the streamed JSON is byte for byte
 * the document the former one-string writer printed, for every shipped scenario; NDJSON has one line
 * per switch; --switch / --pod / --service keep what concerns them; the progress helper draws nothing
 * without a terminal.
 */
import { PassThrough } from 'stream';
import { register } from '../../cli/commands/plan';
import { progressEnabled, startProgress, withProgress } from '../../cli/progress';
import { compileCluster, compileIncremental, serviceGroupId, tableName } from '../../controller';
import type { Flow, SwitchPlan } from '../../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { applyEvent, buildClusterState } from '../../topology';
import { generateCluster } from '../../bench/cluster-gen';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scenarioYaml } from '../../bench/ipam';
import { loadScenario, scenarioFiles } from '../controller/support';
import { runCli } from '../support/cli';

async function plan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCli(register, ['plan', ...args]);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

/** the writer `fabric plan --format json` had before streaming (kept here as the reference) */
function oldJson(file: string, at?: number): string {
  const scenario = loadScenario(file);
  const state = buildClusterState(scenario);
  let p = compileCluster(state);
  if (at !== undefined) {
    for (const ev of scenario.events) {
      if (ev.at > at) break;
      p = compileIncremental(p, state, applyEvent(state, ev));
    }
  }
  const jsonValue = (_key: string, value: unknown): unknown => {
    if (typeof value === 'bigint') return '0x' + value.toString(16);
    if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
    return value;
  };
  const flowJson = (f: Flow) => ({ tableName: tableName(f.table), ...f, ofctl: flowText(f) });
  const switchJson = (sp: SwitchPlan) => ({
    datapathId: sp.datapathId,
    flows: sp.flows.map(flowJson),
    groups: sp.groups.map((g) => ({ ...g, ofctl: groupText(g) })),
    meters: sp.meters.map((m) => ({ ...m, ofctl: meterText(m) })),
  });
  const switches: Record<string, unknown> = {};
  for (const [name, sp] of p) switches[name] = switchJson(sp);
  return JSON.stringify({ scenario: scenario.name, at: at ?? 0, switches }, jsonValue, 2) + '\n';
}

interface SwitchDoc {
  datapathId: string;
  flows: Array<{ ofctl: string; match: Record<string, { value: string; mask?: string }>; instructions: { apply?: Array<{ type: string; groupId?: number }> } }>;
  groups: Array<{ groupId: number; ofctl: string }>;
  meters: Array<{ meterId: number; ofctl: string }>;
}

describe('fabric plan --format json streams the same document', () => {
  for (const file of scenarioFiles()) {
    it(`${path.basename(file)}: byte for byte the former output`, async () => {
      const r = await plan(file);
      expect(r.code).toBe(0);
      const expected = oldJson(file);
      expect(JSON.parse(r.stdout)).toEqual(JSON.parse(expected));
      expect(r.stdout).toBe(expected);
    });
  }

  it('with --at (events applied) too', async () => {
    const file = scenarioFiles().find((f) => f.endsWith('pod-move.yaml'))!;
    const r = await plan(file, '--at', '3s');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(oldJson(file, 3));
  });

  it('a generated cluster (shared service parts rendered once) is the same document', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-stream-'));
    const file = path.join(dir, 'gen.yaml');
    fs.writeFileSync(file, scenarioYaml(generateCluster({ nodes: 6, podsPerNode: 4, services: 5, backendsPerService: 2, nodesPerLeaf: 3, fixedAddresses: true })));
    const r = await plan(file);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(oldJson(file));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('fabric plan --format ndjson', () => {
  for (const file of scenarioFiles()) {
    it(`${path.basename(file)}: one parseable line per switch, the same values as json`, async () => {
      const r = await plan(file, '--format', 'ndjson');
      expect(r.code).toBe(0);
      expect(r.stdout.endsWith('\n')).toBe(true);
      const lines = r.stdout.slice(0, -1).split('\n').map((l) => JSON.parse(l) as SwitchDoc & { scenario: string; at: number; switch: string });
      const whole = JSON.parse(oldJson(file)) as { scenario: string; switches: Record<string, SwitchDoc> };
      expect(lines.map((l) => l.switch)).toEqual(Object.keys(whole.switches));
      for (const { scenario, at, switch: name, ...rest } of lines) {
        expect(scenario).toBe(whole.scenario);
        expect(at).toBe(0);
        expect(rest).toEqual(whole.switches[name]);
      }
    });
  }
});

describe('fabric plan filters', () => {
  const file = scenarioFiles().find((f) => f.endsWith('services-multi-backend.yaml'))!;
  const state = buildClusterState(loadScenario(file));

  it('--switch is repeatable and takes a comma list; the shape stays', async () => {
    const names = [...state.switches.keys()];
    const [a, b, c] = names;
    const r1 = JSON.parse((await plan(file, '--switch', a!, '--switch', `${b},${c}`)).stdout) as { switches: Record<string, SwitchDoc> };
    expect(Object.keys(r1.switches)).toEqual(names.filter((n) => [a, b, c].includes(n)));
    const all = JSON.parse(oldJson(file)) as { switches: Record<string, SwitchDoc> };
    expect(r1.switches[a!]).toEqual(all.switches[a!]);
    const bad = await plan(file, '--switch', `${a},nope`);
    expect(bad.code).toBe(2);
    // ofctl still wants exactly one switch
    expect((await plan(file, '--switch', `${a},${b}`, '--format', 'ofctl')).code).toBe(2);
  });

  it("--pod: its node switch's flows name its IP, MAC or port; its service groups have it as a bucket", async () => {
    const svc = [...state.services.values()].find((s) => s.endpoints.length > 0)!;
    const podName = svc.endpoints[0]!;
    const pod = state.pods.get(podName)!;
    const port = state.switches.get(pod.node)!.ports.find((p) => p.kind === 'pod' && p.pod === podName)!.port;
    const r = await plan(file, '--pod', podName);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { switches: Record<string, SwitchDoc> };
    const node = doc.switches[pod.node]!;
    expect(node.flows.length).toBeGreaterThan(3);
    const mac = pod.mac.toLowerCase();
    const ip = new RegExp(`(^|[=,(: ])${pod.ip.replace(/\./g, '\\.')}($|[ ,:)\\-])`);
    const portRe = new RegExp(`(in_port=${port}|output:${port}|reg1=0x${port.toString(16)})($|[ ,])`);
    for (const f of node.flows) expect(ip.test(f.ofctl) || f.ofctl.includes(mac) || portRe.test(f.ofctl)).toBe(true);
    // the pod's own delivery flow and its service group
    expect(node.flows.some((f) => f.ofctl.includes(`nw_dst=${pod.ip} `))).toBe(true);
    expect(node.groups.map((g) => g.groupId)).toContain(serviceGroupId(state, svc));
    for (const g of node.groups) expect(g.ofctl).toContain(pod.ip);
    // nothing of another pod on the node
    const other = [...state.pods.values()].find((p) => p.node === pod.node && p.name !== podName);
    if (other) for (const f of node.flows) expect(f.ofctl).not.toMatch(new RegExp(`nw_(src|dst)=${other.ip.replace(/\./g, '\\.')}( |,|$)`));
    // elsewhere only flows that name its IP
    for (const [name, sw] of Object.entries(doc.switches)) {
      if (name === pod.node) continue;
      expect(sw.groups).toEqual([]);
      for (const f of sw.flows) expect(f.ofctl).toMatch(ip);
    }
    // the same selection as ofctl lines
    const lines = (await plan(file, '--pod', podName, '--switch', pod.node, '--format', 'ofctl')).stdout.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(node.flows.map((f) => f.ofctl));
    expect((await plan(file, '--pod', 'no-such-pod')).code).toBe(2);
  });

  it('--service: on every node switch its VIP flow and its group, nothing else', async () => {
    const svc = [...state.services.values()].find((s) => s.endpoints.length > 0)!;
    const gid = serviceGroupId(state, svc);
    const r = await plan(file, '--service', svc.name, '--format', 'ndjson');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SwitchDoc & { switch: string });
    const nodeSwitches = [...state.nodes.keys()].sort();
    expect(lines.map((l) => l.switch).filter((n) => state.nodes.has(n))).toEqual(nodeSwitches);
    for (const l of lines.filter((x) => state.nodes.has(x.switch))) {
      expect(l.groups.map((g) => g.groupId)).toEqual([gid]);
      const vipFlow = l.flows.find((f) => f.ofctl.includes(`nw_dst=${svc.vip},`) || f.ofctl.includes(`nw_dst=${svc.vip} `));
      expect(vipFlow).toBeDefined();
      expect(vipFlow!.instructions.apply?.some((a) => a.type === 'group' && a.groupId === gid)).toBe(true);
      for (const f of l.flows) expect(f.ofctl.includes(svc.vip) || f.ofctl.includes(`group:${gid}`)).toBe(true);
    }
    expect((await plan(file, '--service', 'no-such-service')).code).toBe(2);
  });

  it('--pod and --service together add up', async () => {
    const [s1, s2] = [...state.services.values()];
    const pod = [...state.pods.values()][0]!;
    const both = JSON.parse((await plan(file, '--service', s1!.name, '--pod', pod.name)).stdout) as { switches: Record<string, SwitchDoc> };
    const onlySvc = JSON.parse((await plan(file, '--service', s1!.name)).stdout) as { switches: Record<string, SwitchDoc> };
    const onlyPod = JSON.parse((await plan(file, '--pod', pod.name)).stdout) as { switches: Record<string, SwitchDoc> };
    for (const name of Object.keys(both.switches)) {
      const texts = new Set([...(onlySvc.switches[name]?.flows ?? []), ...(onlyPod.switches[name]?.flows ?? [])].map((f) => f.ofctl));
      expect(new Set(both.switches[name]!.flows.map((f) => f.ofctl))).toEqual(texts);
    }
    expect(s2).toBeDefined();
  });
});

describe('cli/progress', () => {
  it('is silent without a TTY or with --json', () => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
    let written = '';
    stream.on('data', (d: Buffer) => (written += d.toString()));
    expect(progressEnabled({ stream })).toBe(false);
    stream.isTTY = true;
    expect(progressEnabled({ stream })).toBe(true);
    expect(progressEnabled({ stream, json: true })).toBe(false);
    stream.isTTY = false;
    const bar = startProgress({ label: 'x', total: 10, stream });
    expect(bar.active).toBe(false);
    bar.increment(5, 'half');
    bar.update(10);
    bar.stop();
    expect(withProgress({ label: 'y', total: 1, stream }, (b) => (b.increment(), 42))).toBe(42);
    expect(written).toBe('');
  });

  it('draws on a terminal (forced), on stderr only', () => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown };
    let written = '';
    stream.on('data', (d: Buffer) => (written += d.toString()));
    stream.isTTY = true;
    stream.columns = 120;
    stream.cursorTo = () => true;
    stream.clearLine = () => true;
    stream.moveCursor = () => true;
    const bar = startProgress({ label: 'plan', total: 2, unit: 'switches', stream });
    expect(bar.active).toBe(true);
    bar.increment(1, 'node1');
    bar.increment(1, 'node2');
    bar.stop();
    expect(written).toContain('plan [');
    expect(written).toContain('2/2 switches');
  });

  it('plan prints nothing on stderr without a TTY', async () => {
    const r = await plan(scenarioFiles()[0]!, '--format', 'ndjson');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});
