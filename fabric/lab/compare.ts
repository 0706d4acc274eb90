/**
 * The lab against the simulator, expectation by expectation: the same scenario played on real OVS
 * (`fabric lab test --json`) and in `fabric sim --json` must agree on every expectation the lab can
 * measure. Pure: takes both reports, returns the rows and whether they agree.
 */
import type { LabReport } from './play';

export interface SimLikeReport {
  scenario: string;
  expectations: { index: number; kind: string; ok: boolean; detail?: string }[];
}

export interface ComparisonRow {
  index: number;
  kind: string;
  /** 'skipped' when the lab cannot measure the kind */
  lab: boolean | 'skipped';
  sim: boolean | 'missing';
  agree: boolean;
  labDetail: string;
  simDetail: string;
}

export interface Comparison {
  scenario: string;
  agree: boolean;
  rows: ComparisonRow[];
  disagreements: number;
}

export function compareWithSim(lab: LabReport, sim: SimLikeReport): Comparison {
  const byIndex = new Map(sim.expectations.map((e) => [e.index, e]));
  const rows: ComparisonRow[] = lab.expectations.map((e) => {
    const s = byIndex.get(e.index);
    const labValue: boolean | 'skipped' = e.skipped ? 'skipped' : e.ok;
    const simValue: boolean | 'missing' = s ? s.ok : 'missing';
    return {
      index: e.index,
      kind: e.kind,
      lab: labValue,
      sim: simValue,
      agree: labValue === 'skipped' || labValue === simValue,
      labDetail: e.detail,
      simDetail: s?.detail ?? '',
    };
  });
  const disagreements = rows.filter((r) => !r.agree).length;
  return { scenario: lab.scenario, agree: disagreements === 0, rows, disagreements };
}

export function formatComparison(c: Comparison): string {
  const show = (v: boolean | string): string => (v === true ? 'ok' : v === false ? 'FAIL' : v);
  const lines = c.rows.map((r) => `${r.agree ? '  ' : '!='} #${r.index} ${r.kind}: lab ${show(r.lab)}, sim ${show(r.sim)}${r.agree ? '' : `\n     lab: ${r.labDetail}\n     sim: ${r.simDetail}`}`);
  lines.push(`${c.scenario}: lab and sim ${c.agree ? 'agree on every measured expectation' : `disagree on ${c.disagreements} expectation(s)`}`);
  return lines.join('\n') + '\n';
}
