/**
 * The repository is self-contained: no tracked file cites a file outside it. Everything users and
 * maintainers need lives under docs/ (the scenario and command contract: docs/scenarios.md and
 * docs/contract.md; the measured facts about real OVS: docs/real-ovs.md and its numbered pitfalls), so
 * comments, help texts, docs and tests cite those, never a sibling directory of the clone or the
 * notes it was once written from. Files are those `git ls-files` lists (binary ones skipped).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

// assembled from pieces, so that this file does not match itself
const OUTSIDE: { what: string; re: RegExp }[] = [
  { what: 'a path into a shared directory outside the repository', re: new RegExp('(^|[^A-Za-z0-9_./-])(\\.\\./)*' + 'shar' + 'ed/') },
  { what: 'the contract notes (now docs/scenarios.md §1/§6 and docs/contract.md)', re: new RegExp('CONTRACT' + '\\.md|CONTRACT' + ' §') },
  { what: 'the lab notes (now docs/real-ovs.md, "pitfall N")', re: new RegExp('LAB' + '-NOTES') },
];

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\0').filter((f) => f !== '');
}

describe('a self-contained repository', () => {
  test('no tracked file cites a file outside the repository', () => {
    const found: string[] = [];
    for (const file of trackedFiles()) {
      const abs = path.join(root, file);
      let buf: Buffer;
      try {
        const st = fs.statSync(abs);
        if (!st.isFile() || st.size > 16 * 1024 * 1024) continue;
        buf = fs.readFileSync(abs);
      } catch {
        continue; // deleted in the work tree
      }
      if (buf.includes(0)) continue; // binary
      const lines = buf.toString('utf8').split('\n');
      lines.forEach((line, i) => {
        for (const o of OUTSIDE) if (o.re.test(line)) found.push(`${file}:${i + 1}: ${o.what}: ${line.trim().slice(0, 160)}`);
      });
    }
    expect(found).toEqual([]);
  });

  test('the patterns catch what they are meant to', () => {
    const hits = (s: string): boolean => OUTSIDE.some((o) => o.re.test(s));
    expect(hits('see ../../' + 'shar' + 'ed/' + 'CONTRACT' + '.md')).toBe(true);
    expect(hits('`' + 'shar' + 'ed/seed-paper.txt`')).toBe(true);
    expect(hits('(' + 'CONTRACT' + ' §2)')).toBe(true);
    expect(hits('LAB' + '-NOTES pitfall 3')).toBe(true);
    expect(hits('docs/real-ovs.md pitfall 3')).toBe(false);
    expect(hits('test/lab/bandwidth-shared.test.ts')).toBe(false);
    expect(hits('the contract of docs/scenarios.md §6')).toBe(false);
  });
});
