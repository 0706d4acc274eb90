/**
 * `fabric diff` and `fabric plan --diff` (sim/diff.ts, docs/reach-and-diff.md): `diff A A` is empty for
 * random clusters; an allow rule added shows the matrix cell
 * that changed and the flows added on the switches that enforce it; one scenario at two times; the
 * command line's exit codes.
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { diffScenarios, formatDiff, planAt, diffPlans } from '../../sim/diff';
import { register as registerDiff } from '../../cli/commands/diff';
import { register as registerPlan } from '../../cli/commands/plan';
import { clusterArb, eventsArb } from '../controller/gen';
import { checkProperty } from '../topology/fc-seed';
import { applyEvent, buildClusterState } from '../../topology';
import type { Scenario, ScenarioEvent } from '../../topology';
import { SHOP, scenarioOfText } from './shop';
import { runCli } from '../support/cli';
import type { RegisterCommand } from '../../cli/main';

/** a command run in process, as cli/main.ts runs it */
const cli = (register: RegisterCommand, ...args: string[]) => runCli(register, args);

const ALLOW_WEB_DB = SHOP.replace(
  '    - { from: { app: client }, to: { app: web }, port: 8080 }\n',
  '    - { from: { app: client }, to: { app: web }, port: 8080 }\n    - { from: { app: web }, to: { app: db }, port: 5432 }\n',
);

describe('diff', () => {
  const a = scenarioOfText(SHOP);
  const b = scenarioOfText(ALLOW_WEB_DB);

  test('an allow rule added: the cell that changed, and the flows added where the rule is enforced', () => {
    const d = diffScenarios({ scenario: a, at: 0 }, { scenario: b, at: 0 }, { port: 5432, lines: true });
    expect(d.same).toBe(false);
    expect(d.reach.map((r) => [r.from, r.to, r.before?.status, r.after?.status])).toEqual([
      ['app=web', 'app=db', 'denied', 'allowed'],
      ['app=web', 'svc/db', 'denied', 'allowed'],
    ]);
    expect(d.reach[0].pairs).toEqual([
      { from: 'web-1', to: 'db-1', before: { status: 'denied', reason: 'no allow rule admits web-1 -> db-1 port 5432 (isolation)' }, after: { status: 'allowed' } },
      { from: 'web-2', to: 'db-1', before: { status: 'denied', reason: 'no allow rule admits web-2 -> db-1 port 5432 (isolation)' }, after: { status: 'allowed' } },
    ]);
    expect(d.paths).toEqual([]);
    // the node switches (where isolation is enforced) gain flows; the fabric switches do not change
    expect(d.flows.map((s) => s.switch)).toEqual(['node1', 'node2', 'node3']);
    for (const s of d.flows) {
      expect(s.flows.removed).toBe(0);
      expect(s.flows.tables.map((t) => t.table)).toEqual(['conntrack', 'policy']);
      // the rule's admit flow: tcp to db-1's address on 5432
      expect(s.lines!.some((l) => l.startsWith('+ ') && /table=7,.*tcp,nw_dst=10\.244\.\d+\.\d+,tcp_dst=5432/.test(l))).toBe(true);
      expect(s.lines!.every((l) => l.startsWith('+ '))).toBe(true);
    }
    const text = formatDiff(d, { before: 'a.yaml', after: 'b.yaml' });
    expect(text).toContain('reachability (2 cells changed):\n  app=web -> app=db: denied -> allowed\n    web-1 -> db-1: denied (no allow rule admits web-1 -> db-1 port 5432 (isolation)) -> allowed\n');
    expect(text).toContain('  node3: flows +4 -0 (conntrack +2, policy +2)\n');
    // and back: the same cells, the other way round, flows removed
    const back = diffScenarios({ scenario: b, at: 0 }, { scenario: a, at: 0 }, { port: 5432 });
    expect(back.reach.map((r) => [r.from, r.to, r.before?.status, r.after?.status])).toEqual([
      ['app=web', 'app=db', 'allowed', 'denied'],
      ['app=web', 'svc/db', 'allowed', 'denied'],
    ]);
    expect(back.flows.map((s) => [s.switch, s.flows.added, s.flows.removed])).toEqual(d.flows.map((s) => [s.switch, s.flows.removed, s.flows.added]));
  });

  test('one scenario at two times: a node down changes reachability, paths and flows', () => {
    const d = diffScenarios({ scenario: a, at: 0 }, { scenario: a, at: 3 }, { port: 8080 });
    expect(d.same).toBe(false);
    const toDb = d.reach.find((r) => r.from === 'app=client' && r.to === 'svc/db');
    expect(toDb?.after?.reasons).toEqual(['service db has no ready backend on a node that is up (db-1 on node3: down)']);
    expect(d.flows.length).toBeGreaterThan(0);
    expect(formatDiff(d, { before: '0s', after: '3s' })).toMatch(/^--- 0s\n\+\+\+ 3s\nreachability \(\d+ cells changed\):\n/);
  });

  test('a pod moved: its path changes, reachability does not', () => {
    const moved = scenarioOfText(SHOP.replace('- { name: web-2, node: node2, labels: { app: web } }', '- { name: web-2, node: node3, labels: { app: web } }'));
    const d = diffScenarios({ scenario: a, at: 0 }, { scenario: moved, at: 0 }, { port: 8080 });
    expect(d.reach).toEqual([]);
    expect(d.paths).toContainEqual({ from: 'client-1', to: 'web-2', before: ['node1', 'tor1', 'node2'], after: ['node1', 'tor1', 'spine1', 'tor2', 'node3'] });
  });

  test('property: diff A A is empty, for random clusters', () => {
    checkProperty(
      'diff A A',
      fc.property(clusterArb(), fc.option(fc.constantFrom(8080, 22), { nil: undefined }), (s, port) => {
        const d = diffScenarios({ scenario: s, at: 0 }, { scenario: s, at: 0 }, { port, lines: true });
        if (!d.same) throw new Error(formatDiff(d, { before: 'A', after: 'A' }));
        if (diffPlans(planAt(s, 0), planAt(s, 0), true).length !== 0) throw new Error('plans differ');
      }),
      25,
    );
  });

  test('property: diff A A is empty at any time of a scenario with events', () => {
    const withEvents = clusterArb().chain((s) => fc.tuple(fc.constant(s), eventsArb(s), fc.nat({ max: 9 })));
    checkProperty(
      'diff A A with events',
      fc.property(withEvents, ([base, events, at]) => {
        // keep the events that apply, one a second
        const state = buildClusterState(base);
        const kept: ScenarioEvent[] = [];
        for (const ev of events) {
          const timed = { ...ev, at: kept.length + 1 };
          try {
            applyEvent(state, timed);
            kept.push(timed);
          } catch {
            /* not valid at that point */
          }
        }
        const s: Scenario = { ...base, events: kept };
        const d = diffScenarios({ scenario: s, at }, { scenario: s, at }, { lines: true });
        if (!d.same) throw new Error(formatDiff(d, { before: 'A', after: 'A' }));
      }),
      15,
    );
  });
});

describe('fabric diff / fabric plan --diff', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-diff-'));
  const fileA = path.join(tmp, 'a.yaml');
  const fileB = path.join(tmp, 'b.yaml');
  fs.writeFileSync(fileA, SHOP);
  fs.writeFileSync(fileB, ALLOW_WEB_DB);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('diff A A: "no differences", exit 0 (also with --exit-code)', async () => {
    expect(await cli(registerDiff, 'diff', fileA, fileA)).toEqual({ code: 0, out: `--- ${fileA} at 0s\n+++ ${fileA} at 0s\nno differences\n`, err: '' });
    expect((await cli(registerDiff, 'diff', fileA, fileA, '--exit-code')).code).toBe(0);
    const j = await cli(registerDiff, 'diff', fileA, fileA, '--json');
    expect(JSON.parse(j.out)).toMatchObject({ same: true, reach: [], paths: [], flows: [] });
  });

  test('diff A B: exit 0, or 1 with --exit-code; --flows prints the ovs-ofctl lines', async () => {
    const r = await cli(registerDiff, 'diff', fileA, fileB, '--port', '5432');
    expect(r.code).toBe(0);
    expect(r.out).toContain('app=web -> app=db: denied -> allowed');
    expect(r.out).not.toContain('+ cookie=');
    expect((await cli(registerDiff, 'diff', fileA, fileB, '--exit-code')).code).toBe(1);
    const f = await cli(registerDiff, 'diff', fileA, fileB, '--flows');
    expect(f.out).toMatch(/\n {4}\+ cookie=0x[0-9a-f]+,table=7,priority=200,tcp,nw_dst=/);
    const j = JSON.parse((await cli(registerDiff, 'diff', fileA, fileB, '--json', '--flows')).out);
    expect(j.flows[0].lines.length).toBe(j.flows[0].flows.added);
  });

  test('plan FILE --diff --at T1 --at T2', async () => {
    const r = await cli(registerPlan, 'plan', fileA, '--diff', '--at', '0', '--at', '3s');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^--- plan ${fileA.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at 0s\n\\+\\+\\+ plan .* at 3s\nreachability`));
    expect(r.out).toContain('service db has no ready backend on a node that is up');
    const same = await cli(registerPlan, 'plan', fileA, '--diff', '--at', '1s', '--at', '1500ms', '--exit-code');
    expect(same).toMatchObject({ code: 0, out: expect.stringContaining('no differences') });
    expect((await cli(registerPlan, 'plan', fileA, '--diff', '--at', '0', '--at', '3', '--exit-code')).code).toBe(1);
    // plan without --diff is unchanged
    const plain = await cli(registerPlan, 'plan', fileA, '--format', 'ofctl', '--switch', 'node1');
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('cookie=');
  });

  test('bad input: exit 2, one line', async () => {
    for (const [reg, args] of [
      [registerDiff, ['diff', fileA, path.join(tmp, 'missing.yaml')]],
      [registerDiff, ['diff', fileA, fileB, '--at', 'later']],
      [registerDiff, ['diff', fileA, fileB, '--port', '70000']],
      [registerPlan, ['plan', fileA, '--diff', '--at', '1s']],
      [registerPlan, ['plan', fileA, '--diff']],
    ] as const) {
      const r = await cli(reg, ...args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });
});
