/**
 * A lint for determinism (TigerBeetle's tidy): the simulator's, the controller's and the topology
 * model's sources never read the wall clock, never use Math.random and never arm timers; time and
 * randomness come from sim/clock.ts, sim/engine.ts and sim/prng.ts, and the controller takes `now`
 * (and any time) as an input from its shell.
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

test('sim/, controller/ and topology/ use no wall clock, Math.random or timers', () => {
  const root = path.join(__dirname, '..', '..');
  const files = ['sim', 'controller', 'topology'].flatMap((dir) =>
    fs.readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, dir, f)),
  );
  const offences: string[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      for (const [re, what] of BANNED) if (re.test(code)) offences.push(`${path.relative(root, file)}:${i + 1}: ${what}`);
    });
  }
  expect(files.length).toBeGreaterThan(10);
  for (const dir of ['sim', 'controller', 'topology']) expect(files.some((f) => path.relative(root, f).startsWith(`${dir}${path.sep}`))).toBe(true);
  expect(offences).toEqual([]);
});
