/**
 * Every scenario in scenarios/ replayed in the simulator: its expectations must hold, and two runs
 * must give byte-identical reports. Then the CLI contract of `fabric sim` / `fabric trace` (through
 * the built CLI in dist/, as users run it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { parseScenarioFile } from '../../topology';
import { runScenario } from '../../sim/runner';

const root = path.join(__dirname, '..', '..');
const dir = path.join(root, 'scenarios');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('scenarios replay in the simulator', () => {
  test.each(files)('%s: every expectation holds, and the report is reproducible', (file) => {
    const parsed = parseScenarioFile(path.join(dir, file));
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const a = runScenario(parsed.scenario!);
    const b = runScenario(parsed.scenario!);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const failed = a.expectations.filter((e) => !e.ok).map((e) => `#${e.index} ${e.kind} at ${e.at}s: ${e.detail}`);
    expect({ scenario: a.scenario, seed: a.seed, failed }).toEqual({ scenario: a.scenario, seed: a.seed, failed: [] });
    expect(a.expectations.map((e) => e.index)).toEqual(parsed.scenario!.expect.map((_, i) => i));
  });

  test('another seed changes the trace but not the verdicts of pure reachability', () => {
    const sc = parseScenarioFile(path.join(dir, 'single-rack.yaml')).scenario!;
    const a = runScenario(sc);
    const b = runScenario(sc, { seed: 12345 });
    expect(b.seed).toBe(12345);
    expect(b.traceHash).not.toBe(a.traceHash);
    expect(b.expectations.map((e) => e.ok)).toEqual(a.expectations.map((e) => e.ok));
  });
});

const cli = path.join(root, 'bin', 'fabric.js');
const built = fs.existsSync(path.join(root, 'dist', 'cli', 'commands', 'sim.js'));

describe('fabric sim / fabric trace CLI (built dist/)', () => {
  beforeAll(() => {
    if (!built) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` first');
  });
  const fabric = (...args: string[]) => spawnSync('node', [cli, ...args], { cwd: root, encoding: 'utf8' });

  test('--json prints the docs/scenarios.md §6 object, byte-identical across runs', () => {
    const a = fabric('sim', 'scenarios/single-rack.yaml', '--json');
    const b = fabric('sim', 'scenarios/single-rack.yaml', '--json');
    expect(a.stdout).toBe(b.stdout);
    const r = JSON.parse(a.stdout);
    expect(Object.keys(r)).toEqual(['scenario', 'seed', 'ok', 'expectations', 'links', 'demands', 'traceHash']);
    expect(r.traceHash).toMatch(/^[0-9a-f]{64}$/);
    for (const e of r.expectations) {
      expect(Object.keys(e).slice(0, 6).sort()).toEqual(['at', 'detail', 'index', 'kind', 'ok'].concat(e.value !== undefined ? ['value'] : []).sort().slice(0, 6));
    }
    expect(a.status).toBe(r.ok ? 0 : 1);
  });

  test('bad input exits 2 with file:line:col diagnostics, no stack trace', () => {
    const tmp = fs.mkdtempSync(path.join(require('os').tmpdir(), 'simcli-'));
    try {
      const bad = path.join(tmp, 'bad.yaml');
      fs.writeFileSync(bad, 'name: Bad_Name\ncluster: {}\n');
      const r = fabric('sim', bad);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fabric('sim', path.join(tmp, 'missing.yaml')).status).toBe(2);
      expect(fabric('sim', 'scenarios/single-rack.yaml', '--seed', 'x').status).toBe(2);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('trace shows each switch, table, flow in ovs-ofctl syntax and the verdict', () => {
    const sc = parseScenarioFile(path.join(dir, 'default.yaml')).scenario!;
    const r = fabric('trace', 'scenarios/default.yaml', '--from', 'web-1', '--to', 'internet', '--json');
    expect(r.status).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.ok).toBe(true);
    expect(t.seenSrc).toBe(sc.fabric.nodes.find((n) => n.name === 'node1')!.ip);
    const passes = t.walks.flatMap((w: { passes: unknown[] }) => w.passes);
    expect(passes.length).toBeGreaterThan(2);
    const flows = passes.flatMap((p: { steps: { flow?: string }[] }) => p.steps.filter((s) => s.flow).map((s) => s.flow));
    expect(flows.some((f: string) => /table=\d+.*actions=/.test(f))).toBe(true);
    const human = fabric('trace', 'scenarios/default.yaml', '--from', 'web-1', '--to', 'db-1', '--at', '3s');
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/result: reply received/);
    expect(human.stdout).toMatch(/spine2/); // tor1-spine1 is down at 3s
    expect(fabric('trace', 'scenarios/default.yaml', '--from', 'nobody', '--to', 'db-1').status).toBe(2);
    // a misspelt destination: one line, exit 2, the closest name offered
    const typo = fabric('trace', 'scenarios/default.yaml', '--from', 'web-1', '--to', 'web-3x');
    expect(typo.status).toBe(2);
    expect(typo.stderr.trim()).toBe("fabric: trace: unknown destination web-3x at this time (did you mean 'web-3'?)");
  });

  test('--version prints the package version', () => {
    const r = fabric('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(dir, '..', 'package.json'), 'utf8')).version);
  });
});
