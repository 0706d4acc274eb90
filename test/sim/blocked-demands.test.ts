/**
 * Blocked demands (issue #15, "Reports"): a traffic demand the switches do not deliver — isolation,
 * a service without backends, a cut link — shows in `fabric sim`'s report and JSON as blocked, with
 * the reason in words taken from the packet walk's drop point; it carries nothing, so
 * maxLinkUtilization is not fooled into passing on traffic that vanished; `fabric validate` warns
 * (FILE:LINE:COL, exit 0) when a demand is never delivered while it is active.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseScenarioText } from '../../topology';
import type { Scenario } from '../../topology';
import { SimRun, demandCheckDiagnostics, undeliverableDemands } from '../../sim';
import { formatReport } from '../../cli/commands/sim';
import { Command } from 'commander';
import { register as registerValidate } from '../../cli/commands/validate';
import type { CommandContext } from '../../cli/main';

/** two racks, one spine; node3 hangs off tor2 by one link (no alternative path) */
function text(opts: { cluster?: string; traffic: string; events?: string; expect?: string }): string {
  return `name: blocked
seed: 3
cluster: { podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16${opts.cluster ?? ''} }
fabric:
  switches: [ { name: tor1 }, { name: tor2 }, { name: spine1 } ]
  nodes:
    - { name: node1, ip: 198.51.100.11 }
    - { name: node2, ip: 198.51.100.12 }
    - { name: node3, ip: 198.51.100.13 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor2], gbps: 10 }
    - { between: [node3, tor2], gbps: 10 }
    - { between: [tor1, spine1], gbps: 40 }
    - { between: [tor2, spine1], gbps: 40 }
pods:
  - { name: web-1, node: node1, labels: { app: web } }
  - { name: db-1, node: node2, labels: { app: db } }
  - { name: api-1, node: node3, labels: { app: api } }
services:
  - { name: web, selector: { app: web }, port: 80 }
  - { name: empty, selector: { app: nothing }, port: 80 }
traffic:
${opts.traffic}
${opts.events ? `events:\n${opts.events}` : ''}
${opts.expect ? `expect:\n${opts.expect}` : ''}
`;
}

function parse(t: string): Scenario {
  const p = parseScenarioText(t, 'blocked.yaml');
  if (!p.scenario) throw new Error(p.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return p.scenario;
}

function simulate(t: string) {
  const run = new SimRun(parse(t));
  const report = run.run();
  return { report, run, human: formatReport(report, run) };
}

const ISOLATED = text({
  cluster: ', isolation: true, allow: [ { from: { app: api }, to: { app: db }, port: 5432 } ]',
  traffic: `  - { from: web-1, to: db-1, gbps: 8 }
  - { from: api-1, to: db-1, port: 5432, gbps: 2 }`,
  expect: `  - { at: 1s, maxLinkUtilization: 0.5 }
  - { at: 1s, fairShare: { demand: 0 } }`,
});

describe('blocked demands in fabric sim', () => {
  test('isolation: the demand shows as blocked, names the pods and says no allow rule admits it', () => {
    const { report, human } = simulate(ISOLATED);
    const d0 = report.demands![0]!;
    expect(d0).toMatchObject({ index: 0, from: 'web-1', to: 'db-1', askedGbps: 8, grantedGbps: 0, minGrantedGbps: 0 });
    expect(d0.blocked).toEqual([{ at: 0, until: 1, reason: 'no allow rule admits web-1 -> db-1 (isolation)', where: 'node1 table policy priority 100' }]);
    // the admitted demand is delivered as before, with no `blocked` key at all
    expect(report.demands![1]).toEqual({ index: 1, from: 'api-1', to: 'db-1', askedGbps: 2, grantedGbps: 2, minGrantedGbps: 2 });
    expect(human).toContain('blocked demands (carry nothing while blocked):\n  #1 web-1 -> db-1 blocked 0s-1s: no allow rule admits web-1 -> db-1 (isolation)\n');
    expect(human).toMatch(/#1 {2}web-1 -> db-1 +8 +0 +0\n/);
  });

  test('maxLinkUtilization is not fooled: the blocked demand carries 0 and the detail reports it', () => {
    const { report } = simulate(ISOLATED);
    const mlu = report.expectations.find((e) => e.kind === 'maxLinkUtilization')!;
    // only api-1's 2 Gbit/s over 10 Gbit/s links: web-1's 8 would have made node1->tor1 0.8
    expect(mlu.value).toBe(0.2);
    expect(mlu.ok).toBe(true);
    expect(mlu.detail).toBe('peak 0.20 on tor2->node2 <= bound 0.50; blocked, carrying nothing: traffic[0] web-1 -> db-1: no allow rule admits web-1 -> db-1 (isolation)');
    expect(report.links.find((l) => l.between.join() === 'node1,tor1')!.maxUtilization).toBe(0);
    // fairShare of a blocked demand fails and says why
    const fair = report.expectations.find((e) => e.kind === 'fairShare')!;
    expect(fair).toMatchObject({ ok: false, value: 0, detail: 'traffic[0] web-1 -> db-1 is blocked at 1s: no allow rule admits web-1 -> db-1 (isolation)' });
  });

  test('an allow rule on a port does not admit a demand without one, and the reason says so', () => {
    const { report } = simulate(text({ cluster: ISOLATED.match(/, isolation[^\n]*(?= })/)![0], traffic: '  - { from: api-1, to: db-1, gbps: 1, until: 2s }' }));
    expect(report.demands![0]!.blocked![0]!.reason).toBe('no allow rule admits api-1 -> db-1 (isolation; rules admit only tcp 5432: the demand has no port)');
  });

  test('a demand to a service with no backend', () => {
    const { report, human } = simulate(text({ traffic: '  - { from: api-1, to: empty, gbps: 1, until: 3s }\n  - { from: api-1, to: web, gbps: 1, until: 3s }' }));
    expect(report.demands![0]!.blocked).toEqual([{ at: 0, until: 3, reason: 'service empty has no ready backend', where: 'node3 table service_lb priority 100' }]);
    expect(report.demands![1]!.blocked).toBeUndefined();
    expect(human).toContain('#1 api-1 -> empty blocked 0s-3s: service empty has no ready backend');
  });

  test('a link goes down with no alternative path: delivered before, blocked after, delivered again once it is back', () => {
    const { report, run, human } = simulate(
      text({
        traffic: '  - { from: web-1, to: api-1, gbps: 4, until: 8s }',
        events: '  - { at: 2s, link: down, between: [node3, tor2] }\n  - { at: 5s, link: up, between: [node3, tor2] }',
        expect: '  - { at: 1s, maxLinkUtilization: 0.5 }\n  - { at: 3s, maxLinkUtilization: 0.5 }',
      }),
    );
    const d = report.demands![0]!;
    expect(d.blocked).toEqual([{ at: 2, until: 5, reason: "no route to 10.244.2.2 (api-1) at tor1: api-1's node node3 has no link up", where: 'tor1 table l3_forwarding priority 0' }]);
    // active 0-8 s, blocked 3 s of it: the mean counts the blocked time at 0
    expect(d.grantedGbps).toBe(2.5);
    expect(d.minGrantedGbps).toBe(0);
    const [before, after] = report.expectations;
    expect(before).toMatchObject({ ok: true, value: 0.4, detail: 'peak 0.40 on node1->tor1 <= bound 0.50' });
    expect(after).toMatchObject({ ok: true, value: 0 });
    expect(after!.detail).toContain('blocked, carrying nothing: traffic[0] web-1 -> api-1');
    // the epochs say the same, step by step
    const tl = run.bandwidthModel()!.timeline;
    expect(tl.epochAt(1)!.demands.map((x) => x.index)).toEqual([0]);
    expect(tl.epochAt(3)!.demands).toEqual([]);
    expect(tl.epochAt(3)!.blocked!.map((x) => x.index)).toEqual([0]);
    expect(tl.epochAt(6)!.blocked).toBeUndefined();
    expect(human).toContain("#1 web-1 -> api-1 blocked 2s-5s: no route to 10.244.2.2 (api-1) at tor1: api-1's node node3 has no link up");
  });

  test('deterministic: the same scenario gives the same JSON twice', () => {
    const a = simulate(ISOLATED).report;
    const b = simulate(ISOLATED).report;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(Object.keys(a)).toEqual(['scenario', 'seed', 'ok', 'expectations', 'links', 'demands', 'traceHash']);
  });
});

describe('fabric validate: demands never delivered', () => {
  const SCENARIO = text({
    cluster: ', isolation: true, allow: [ { from: { app: api }, to: { app: db } } ]',
    traffic: `  - { from: api-1, to: db-1, gbps: 1 }
  - { from: web-1, to: db-1, gbps: 2 }
  - { from: web-1, to: api-1, gbps: 1, at: 1s }`,
    events: '  - { at: 2s, link: down, between: [node2, tor2] }',
    expect: '  - { at: 3s, maxLinkUtilization: 0.9 }',
  });
  // `traffic:` is line 23: traffic #2 is on line 25, its mapping at column 5

  test('undeliverableDemands: only demands blocked at every time they are active', () => {
    const s = parse(SCENARIO);
    // #0 is delivered until the link goes down (then blocked): not a warning; #1 and #2 never are
    expect(undeliverableDemands(s).map((u) => [u.index, u.reasons])).toEqual([
      [1, ['no allow rule admits web-1 -> db-1 (isolation)']],
      [2, ['no allow rule admits web-1 -> api-1 (isolation)']],
    ]);
    const diags = demandCheckDiagnostics(s, 'blocked.yaml');
    expect(diags.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}`)).toEqual([
      'blocked.yaml:25:5: warning: traffic #2 (web-1 -> db-1) is never delivered while it is active: no allow rule admits web-1 -> db-1 (isolation)',
      'blocked.yaml:26:5: warning: traffic #3 (web-1 -> api-1) is never delivered while it is active: no allow rule admits web-1 -> api-1 (isolation)',
    ]);
  });

  test('the command prints the warning at file:line:col and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fabric-blocked-'));
    try {
      const file = join(dir, 'blocked.yaml');
      writeFileSync(file, SCENARIO);
      let out = '';
      const ctx: CommandContext = { exitCode: -1, stdout: (t) => (out += t), stderr: (t) => (out += t), debug: false };
      const program = new Command('fabric').exitOverride();
      registerValidate(program, ctx);
      await program.parseAsync(['validate', file], { from: 'user' });
      expect(ctx.exitCode).toBe(0);
      expect(out.split('\n')).toEqual([
        `${file}:22:30: warning: service empty: selector {app: nothing} matches no pod`,
        `${file}:25:5: warning: traffic #2 (web-1 -> db-1) is never delivered while it is active: no allow rule admits web-1 -> db-1 (isolation)`,
        `${file}:26:5: warning: traffic #3 (web-1 -> api-1) is never delivered while it is active: no allow rule admits web-1 -> api-1 (isolation)`,
        `${file}: ok (blocked: 3 nodes, 3 switches, 3 pods, 2 services, 1 events, 1 expectations)`,
        '',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no warning when every demand is delivered at some time', () => {
    const s = parse(text({ traffic: '  - { from: web-1, to: db-1, gbps: 1 }', events: '  - { at: 2s, link: down, between: [node2, tor2] }', expect: '  - { at: 3s, maxLinkUtilization: 0.9 }' }));
    expect(demandCheckDiagnostics(s, 'x.yaml')).toEqual([]);
  });
});

describe('human report filters (--failures-only, --top N)', () => {
  test('failures only keeps failing expectations and blocked demands; top keeps the most loaded links and largest demands', () => {
    const { report, run } = simulate(
      text({
        cluster: ', isolation: true',
        traffic: '  - { from: web-1, to: db-1, gbps: 2 }\n  - { from: api-1, to: db-1, gbps: 5 }\n  - { from: db-1, to: api-1, gbps: 1 }',
        expect: '  - { at: 1s, reach: { from: web-1, to: db-1 } }\n  - { at: 1s, noReach: { from: web-1, to: db-1 } }',
      }),
    );
    const only = formatReport(report, run, { failuresOnly: true });
    expect(only).toMatch(/FAIL #1 at 1s reach/);
    expect(only).not.toMatch(/ok {3}#2/);
    expect(only).not.toMatch(/^links \(/m);
    expect(only).toMatch(/blocked demands/);
    const top = formatReport(report, run, { top: 1 });
    expect(top).toMatch(/demands \(the 1 largest of 3;/);
    expect(top).toMatch(/#2 +api-1 -> db-1/);
    expect(top).not.toMatch(/#1 +web-1 -> db-1 +2/);
    expect(top.split('\n').filter((l) => /^ {2}\S+ - \S+ {2}\d/.test(l))).toHaveLength(1);
  });
});
