/**
 * The fast reading of large scenario files (js-yaml, no positions) must give exactly the Scenario the
 * careful reading gives (the `yaml` package, positions of every value), and must step aside — so the
 * careful reading explains — whenever there is anything to report: a YAML error, an error or warning of
 * ours, anchors, aliases and tags. Forced here on small files with `fastParseMinBytes: 0`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FAST_PARSE_MIN_BYTES, parseScenarioText } from '../../topology';
import { bigScenario, scenarioYaml } from '../../bench/ipam';
import type { Scenario } from '../../topology/types';

const root = path.join(__dirname, '..', '..');

function withoutPositions(s: Scenario | undefined): Omit<Scenario, 'positions'> | undefined {
  if (!s) return undefined;
  const { positions: _p, ...rest } = s;
  return rest;
}

const files = [
  ...fs.readdirSync(path.join(root, 'scenarios')).map((f) => path.join(root, 'scenarios', f)),
  ...fs.readdirSync(path.join(root, 'test', 'fixtures', 'bad')).map((f) => path.join(root, 'test', 'fixtures', 'bad', f)),
  ...fs.readdirSync(path.join(root, 'test', 'lab', 'fixtures')).map((f) => path.join(root, 'test', 'lab', 'fixtures', f)),
].filter((f) => f.endsWith('.yaml'));

describe('fast reading of large scenario files', () => {
  test('the threshold is 1 MiB: smaller files keep every position', () => {
    expect(FAST_PARSE_MIN_BYTES).toBe(1024 * 1024);
    const text = fs.readFileSync(path.join(root, 'scenarios', 'default.yaml'), 'utf8');
    expect(parseScenarioText(text, 'default.yaml').scenario!.positions!.size).toBeGreaterThan(50);
  });

  test.each(files.map((f) => [path.relative(root, f)]))('%s: same result whichever reading', (rel) => {
    const text = fs.readFileSync(path.join(root, rel), 'utf8');
    const careful = parseScenarioText(text, rel, { fastParseMinBytes: Infinity });
    const fast = parseScenarioText(text, rel, { fastParseMinBytes: 0 });
    // diagnostics (and so file:line:col) come from the careful reading in both cases
    expect(fast.diagnostics).toEqual(careful.diagnostics);
    expect(withoutPositions(fast.scenario)).toEqual(withoutPositions(careful.scenario));
    if (careful.diagnostics.length > 0) expect(fast.scenario?.positions).toEqual(careful.scenario?.positions);
  });

  test('a large generated file takes the fast reading; one bad value in it is still reported at its line and column', () => {
    const s = bigScenario(600, 30, 40);
    const text = scenarioYaml(s);
    expect(text.length).toBeGreaterThan(FAST_PARSE_MIN_BYTES);
    const fast = parseScenarioText(text, 'big.yaml');
    expect(fast.diagnostics).toEqual([]);
    expect(fast.scenario!.positions).toBeUndefined(); // the fast reading has none
    expect(withoutPositions(fast.scenario)).toEqual(withoutPositions(parseScenarioText(text, 'big.yaml', { fastParseMinBytes: Infinity }).scenario));

    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.includes('name: pod-7-3,'));
    lines[i] = lines[i]!.replace('node: node7', 'node: node7x');
    const broken = parseScenarioText(lines.join('\n'), 'big.yaml');
    expect(broken.scenario).toBeUndefined();
    const col = lines[i]!.indexOf('node7x') + 1;
    expect(broken.diagnostics.some((d) => d.severity === 'error' && d.line === i + 1 && d.col === col && /node7x/.test(d.message))).toBe(true);
  });

  test('anchors, aliases, tags and duplicate keys go to the careful reading', () => {
    const base = fs.readFileSync(path.join(root, 'scenarios', 'default.yaml'), 'utf8');
    const anchored = base.replace(/^cluster:/m, 'x-defaults: &d { app: web }\ncluster:');
    const a = parseScenarioText(anchored, 'a.yaml', { fastParseMinBytes: 0 });
    expect(a).toEqual(parseScenarioText(anchored, 'a.yaml', { fastParseMinBytes: Infinity }));
    const dup = base.replace(/^name: (.*)$/m, 'name: $1\nname: again');
    const d = parseScenarioText(dup, 'd.yaml', { fastParseMinBytes: 0 });
    expect(d.scenario).toBeUndefined();
    expect(d.diagnostics[0]!.message).toMatch(/invalid YAML/);
    expect(d).toEqual(parseScenarioText(dup, 'd.yaml', { fastParseMinBytes: Infinity }));
  });
});
