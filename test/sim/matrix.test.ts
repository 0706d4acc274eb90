/**
 * The reachability matrix (sim/matrix.ts, docs/reach-and-diff.md): it agrees with single `reach`
 * probes (SimRun.connect on a fresh run, as a scenario expectation and `fabric trace` walk them) on
 * random pairs of random clusters; a hand example where isolation denies web -> db and says why;
 * --who-can-reach; the command line (human table, --json, bad input).
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SimRun } from '../../sim/runner';
import { formatMatrix, formatWhoCanReach, reachMatrix, whoCanReach } from '../../sim/matrix';
import type { ReachMatrix } from '../../sim/matrix';
import { register as registerReach } from '../../cli/commands/reach';
import { clusterArb } from '../controller/gen';
import { checkProperty } from '../topology/fc-seed';
import { SHOP, scenarioOfText } from './shop';
import { runCli } from '../support/cli';
import type { RegisterCommand } from '../../cli/main';

function cell(m: ReachMatrix, from: string, to: string) {
  const c = m.cells.find((x) => x.from === from && x.to === to);
  if (!c) throw new Error(`no cell ${from} -> ${to}`);
  return c;
}

describe('reachability matrix', () => {
  const shop = scenarioOfText(SHOP);

  test('isolation denies web -> db, with the reason and the drop point; the allowed cells are allowed', () => {
    const m = reachMatrix(shop, { port: 5432 });
    expect(m.sources.map((g) => g.name)).toEqual(['app=client', 'app=db', 'app=web', 'tools', 'ext/internet']);
    expect(m.destinations.map((g) => g.name)).toEqual(['app=client', 'app=db', 'app=web', 'tools', 'svc/db', 'svc/web', 'ext/internet']);
    const webDb = cell(m, 'app=web', 'app=db');
    expect(webDb).toMatchObject({ status: 'denied', pairs: 2, allowed: 0, agree: true });
    expect(webDb.reasons).toEqual([
      { reason: 'no allow rule admits web-1 -> db-1 port 5432 (isolation)', where: 'node1 table policy priority 100', pairs: ['web-1 -> db-1', 'web-2 -> db-1'] },
    ]);
    expect(cell(m, 'app=client', 'svc/web')).toMatchObject({ status: 'allowed', pairs: 1, allowed: 1 });
    expect(cell(m, 'app=client', 'app=web').reasons[0].reason).toBe('no allow rule admits client-1 -> web-1 port 5432 (isolation; rules admit only tcp 8080)');
    expect(cell(m, 'ext/internet', 'app=db').reasons[0].reason).toContain('externals are closed');
    expect(cell(m, 'ext/internet', 'svc/web').reasons[0].reason).toContain('is ClusterIP');
    expect(cell(m, 'app=web', 'ext/internet').status).toBe('allowed');
    expect(cell(m, 'ext/internet', 'ext/internet').status).toBe('none');
    // a pod reaches itself through its service (hairpin) but not the other backend: only some connections answer
    const webSvc = cell(m, 'app=web', 'svc/web');
    expect(webSvc.status).toBe('partial');
    expect(webSvc.results.map((r) => r.backends)).toEqual([['web-1'], ['web-2']]);
    const text = formatMatrix(m);
    expect(text).toContain('app=web -> app=db: denied, all 2 pairs alike: no allow rule admits web-1 -> db-1 port 5432 (isolation) [node1 table policy priority 100]');
    expect(text.split('\n')[1]).toMatch(/^\s+app=client\s+app=db\s+app=web\s+tools\s+svc\/db\s+svc\/web\s+ext\/internet$/);
  });

  test('--at: a node that is down; members of a group that disagree show the split', () => {
    const m = reachMatrix(shop, { at: 3, from: ['app=web', 'client-1'], to: ['app=db', 'svc/db', 'app=web'] });
    expect(m.sources.map((g) => g.name)).toEqual(['app=web', 'client-1']);
    expect(cell(m, 'app=web', 'svc/db').reasons[0].reason).toBe('service db has no ready backend on a node that is up (db-1 on node3: down)');
    expect(cell(m, 'client-1', 'app=db').reasons[0].reason).toMatch(/node3|db-1/);
    const split = reachMatrix(scenarioOfText(SHOP.replace('- { name: web-2, node: node2, labels: { app: web } }', '- { name: web-2, node: node2, labels: { app: web, tier: x } }')), {
      from: ['client-1'],
      to: ['app=web'],
      port: 8080,
    });
    expect(cell(split, 'client-1', 'app=web').status).toBe('allowed');
    const disagree = reachMatrix(shop, { from: ['app=web'], to: ['app=client', 'tools'], port: 8080 });
    expect(cell(disagree, 'app=web', 'tools')).toMatchObject({ status: 'denied', agree: true });
    const mixed = reachMatrix(scenarioOfText(SHOP.replace("    - { from: { app: client }, to: { app: web }, port: 8080 }\n", "    - { from: { app: client }, to: { app: web }, port: 8080 }\n    - { from: { app: client }, to: { name: x } }\n").replace('- { name: web-1, node: node1, labels: { app: web } }', '- { name: web-1, node: node1, labels: { app: web, name: x } }')), { from: ['app=client'], to: ['app=web'] });
    const c = cell(mixed, 'app=client', 'app=web');
    expect(c).toMatchObject({ status: 'partial', allowed: 1, pairs: 2, agree: false });
    expect(formatMatrix(mixed)).toContain('app=client -> app=web: members disagree, 1 of 2 allowed: client-1 -> web-1');
  });

  test('who can reach db-1 on port 22: the pods and externals that do, with their path, and the groups that do not, with reasons', () => {
    const open = scenarioOfText(SHOP.replace("    - { from: { app: client }, to: { app: web }, port: 8080 }\n", "    - { from: { app: client }, to: { app: web }, port: 8080 }\n    - { from: { app: web }, to: { app: db }, port: 22 }\n"));
    const w = whoCanReach(open, 'db-1', { port: 22 });
    expect(w.reach.map((r) => [r.from, r.group])).toEqual([
      ['web-1', 'app=web'],
      ['web-2', 'app=web'],
    ]);
    expect(w.reach[0].path).toEqual(['node1', 'tor1', 'spine1', 'tor2', 'node3']);
    expect(w.cannot.map((c) => c.group)).toEqual(['app=client', 'tools', 'ext/internet']);
    expect(w.cannot[0].reasons[0].reason).toBe('no allow rule admits client-1 -> db-1 port 22 (isolation)');
    const text = formatWhoCanReach(w);
    expect(text).toContain('who can reach db-1 port 22 at 0s:');
    expect(text).toMatch(/web-1\s+\(app=web\)\s+via node1,tor1,spine1,tor2,node3/);
    expect(text).toContain('cannot:\n  app=client: no allow rule admits client-1 -> db-1 port 22 (isolation) [node1 table policy priority 100]');
  });

  test('--max-pairs: a cell probes at most N member pairs, spread evenly, and says so', () => {
    const m = reachMatrix(shop, { from: ['app=web'], to: ['app=web', 'app=db'], maxPairs: 1, port: 5432 });
    expect(cell(m, 'app=web', 'app=web')).toMatchObject({ pairs: 1, pairsTotal: 2, status: 'denied' });
    expect(cell(m, 'app=web', 'app=db').pairsTotal).toBe(2);
    expect(formatMatrix(m)).toContain('sampled: 2 cells probed 1 of their member pairs (--max-pairs)');
  });

  test('deterministic: the same matrix twice', () => {
    expect(JSON.stringify(reachMatrix(shop, { port: 80 }))).toBe(JSON.stringify(reachMatrix(shop, { port: 80 })));
  });

  test('property: every pair of the matrix agrees with a single reach probe on a fresh run', () => {
    checkProperty(
      'matrix = reach probes',
      fc.property(clusterArb(), fc.option(fc.constantFrom(8080, 443, 22), { nil: undefined }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (scenario, port, picks) => {
        const m = reachMatrix(scenario, { port });
        const pairs = m.cells.flatMap((c) => c.results.map((r) => ({ r, service: c.to.startsWith('svc/') })));
        if (pairs.length === 0) return;
        const run = new SimRun(scenario);
        run.advanceTo(0);
        for (const pick of picks) {
          const { r, service } = pairs[pick % pairs.length];
          const probe = run.connect(r.from, r.to, service ? undefined : port, undefined, false);
          const ok = typeof probe !== 'string' && probe.ok;
          const what = `${r.from} -> ${r.to}${port !== undefined && !service ? `:${port}` : ''}: matrix ${r.status} (${r.reason ?? ''}), probe ${typeof probe === 'string' ? probe : probe.detail}`;
          if (service) {
            if (ok && r.status === 'denied') throw new Error(what);
            if (!ok && r.status === 'allowed') throw new Error(what);
          } else if (ok !== (r.status === 'allowed')) throw new Error(what);
          if (r.status !== 'allowed' && !r.reason) throw new Error(`${what}: a denial without a reason`);
        }
      }),
      40,
    );
  });
});

// ---- the command line ----------------------------------------------------------------------------

/** a command run in process, as cli/main.ts runs it */
const cli = (register: RegisterCommand, ...args: string[]) => runCli(register, args);

describe('fabric reach', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-reach-'));
  const file = path.join(tmp, 'shop.yaml');
  fs.writeFileSync(file, SHOP);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('--matrix: the table and the denials', async () => {
    const r = await cli(registerReach, 'reach', file, '--matrix', '--port', '5432');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toBe(formatMatrix(reachMatrix(scenarioOfText(SHOP), { port: 5432 })));
    expect(r.out).toContain('reachability of shop at 0s (tcp 5432 to pods and externals; services on their own port; rows: from, columns: to)');
  });

  test('--json, --from/--to, --at', async () => {
    const r = await cli(registerReach, 'reach', file, '--from', 'app=web', '--to', 'app=db', '--to', 'svc/db', '--at', '3s', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.at).toBe(3);
    expect(j.cells.map((c: { from: string; to: string; status: string }) => [c.from, c.to, c.status])).toEqual([
      ['app=web', 'app=db', 'denied'],
      ['app=web', 'svc/db', 'denied'],
    ]);
  });

  test('--who-can-reach', async () => {
    const r = await cli(registerReach, 'reach', file, '--who-can-reach', 'web-1', '--port', '8080');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^who can reach web-1 port 8080 at 0s:\n  client-1\s+\(app=client\)\s+via node1\n/);
  });

  test('bad input: exit 2, one line', async () => {
    for (const args of [
      ['reach', file, '--port', '0'],
      ['reach', file, '--at', 'soon'],
      ['reach', file, '--from', 'nobody'],
      ['reach', file, '--from', 'svc/web'],
      ['reach', file, '--to', 'app=nothing'],
      ['reach', file, '--who-can-reach', 'db-1', '--matrix'],
      ['reach', path.join(tmp, 'missing.yaml')],
    ]) {
      const r = await cli(registerReach, ...args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });
});
