/**
 * Bad input never crashes the checker: mutated scenario files (lines dropped, swapped or garbled,
 * values replaced by other YAML values) always give well-formed diagnostics and never an internal error.
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { formatDiagnostic, parseScenarioText } from '../../topology';
import { checkProperty } from './fc-seed';

const scenarioDir = path.resolve(__dirname, '..', '..', 'scenarios');
const sources = fs.readdirSync(scenarioDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => fs.readFileSync(path.join(scenarioDir, f), 'utf8'));

const yamlValue = fc.oneof(
  fc.constantFrom('', '~', '[]', '{}', '-1', '0', '1e400', 'true', '"x"', '[a, b, c]', '{ a: 1 }', '10.244.0.0/16', '10.244.1.300', '2s', 'node1', '&a x', '*a', '!!binary AAAA', '"\\u0000"', ':', '- x'),
  fc.string({ maxLength: 12 }),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('value' as const), line: fc.nat(), value: yamlValue }),
  fc.record({ kind: fc.constant('chars' as const), line: fc.nat(), col: fc.nat(), text: fc.string({ maxLength: 4 }) }),
);

interface Mutation {
  kind: 'drop' | 'swap' | 'value' | 'chars';
  line: number;
  other?: number;
  value?: string;
  col?: number;
  text?: string;
}

function mutate(text: string, muts: Mutation[]): string {
  const lines = text.split('\n');
  for (const m of muts) {
    const i = m.line % lines.length;
    if (m.kind === 'drop') lines.splice(i, 1);
    else if (m.kind === 'swap') [lines[i], lines[m.other! % lines.length]] = [lines[m.other! % lines.length], lines[i]];
    else if (m.kind === 'value') {
      // replace the value after some `key: ` on that line
      const colon = lines[i].indexOf(': ');
      if (colon >= 0) lines[i] = lines[i].slice(0, colon + 2) + m.value + lines[i].slice(colon + 2).replace(/^[^,}\]]*/, '');
    } else {
      const c = m.col! % (lines[i].length + 1);
      lines[i] = lines[i].slice(0, c) + m.text + lines[i].slice(c + 1);
    }
    if (lines.length === 0) lines.push('');
  }
  return lines.join('\n');
}

test('mutated scenarios give diagnostics, never a crash or an internal error', () => {
  checkProperty(
    'checker robustness',
    fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, muts) => {
      const text = mutate(sources[which % sources.length], muts);
      const result = parseScenarioText(text, 'f.yaml');
      for (const d of result.diagnostics) {
        expect(formatDiagnostic(d)).toMatch(/^f\.yaml:\d+:\d+: (warning: )?\S/);
        expect(d.message).not.toMatch(/internal error/);
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.col).toBeGreaterThanOrEqual(1);
      }
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      expect(result.scenario === undefined).toBe(errors.length > 0);
      return true;
    }),
    200,
  );
});
