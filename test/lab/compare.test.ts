/** compareWithSim: the lab report against `fabric sim --json`, expectation by expectation (pure). */
import { compareWithSim, formatComparison } from '../../fabric/lab/compare';
import type { LabReport } from '../../fabric/lab/play';

const lab: LabReport = {
  scenario: 's',
  seed: 1,
  ok: false,
  expectations: [
    { index: 0, at: 1, kind: 'reach', ok: true, detail: 'a -> b: icmp 3/3' },
    { index: 1, at: 1, kind: 'reach', ok: false, detail: 'a -> c: icmp 0/3' },
    { index: 2, at: 1, kind: 'maxLinkUtilization', ok: false, skipped: true, detail: 'not measured' },
    { index: 3, at: 2, kind: 'egress', ok: true, detail: 'seen as 198.51.100.1' },
  ],
  links: [],
  events: [],
  durationMs: 5,
};

test('rows agree where both say the same, skipped kinds never disagree, missing sim rows do', () => {
  const c = compareWithSim(lab, {
    scenario: 's',
    expectations: [
      { index: 0, kind: 'reach', ok: true },
      { index: 1, kind: 'reach', ok: true, detail: 'a -> c via x' },
      { index: 2, kind: 'maxLinkUtilization', ok: false },
    ],
  });
  expect(c.rows.map((r) => [r.index, r.lab, r.sim, r.agree])).toEqual([
    [0, true, true, true],
    [1, false, true, false],
    [2, 'skipped', false, true],
    [3, true, 'missing', false],
  ]);
  expect(c.agree).toBe(false);
  expect(c.disagreements).toBe(2);
  expect(formatComparison(c)).toContain('!= #2 reach: lab FAIL, sim ok\n     lab: a -> c: icmp 0/3\n     sim: a -> c via x');
});
