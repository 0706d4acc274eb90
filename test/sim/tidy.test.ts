/**
 * A lint for determinism (TigerBeetle's tidy): the simulator's sources never read the wall clock,
 * never use Math.random and never arm timers; time and randomness come from sim/clock.ts, sim/engine.ts
 * and sim/prng.ts.
 */
import * as fs from 'fs';
import * as path from 'path';

const BANNED: [RegExp, string][] = [
  [/\bMath\.random\s*\(/, 'Math.random'],
  [/\bDate\.now\s*\(/, 'Date.now'],
  [/\bnew Date\s*\(/, 'new Date'],
  [/\bperformance\.now\s*\(/, 'performance.now'],
  [/\bprocess\.hrtime\b/, 'process.hrtime'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'],
];

test('sim/ uses no wall clock, Math.random or timers', () => {
  const root = path.join(__dirname, '..', '..');
  const files = [
    ...fs.readdirSync(path.join(root, 'sim')).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, 'sim', f)),
  ];
  const offences: string[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      for (const [re, what] of BANNED) if (re.test(code)) offences.push(`${path.relative(root, file)}:${i + 1}: ${what}`);
    });
  }
  expect(files.length).toBeGreaterThan(10);
  expect(offences).toEqual([]);
});
