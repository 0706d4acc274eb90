/**
 * The lab against the simulator, expectation by expectation: the same scenario played on real OVS
 * (`fabric lab test --json`) and in `fabric sim --json` must agree on every expectation the lab can
 * measure. Pure: takes both reports, returns the rows and whether they agree. With `cluster.rebalance`
 * also the rebalancer's decisions side by side (the lab's control loop after each rebalancing phase,
 * the simulator's changes up to that time): reported, not part of `agree` (the lab's loop decides on
 * measured rates, the simulator's on its model's).
 */
import type { LabReport } from './play';

export interface SimLikeReport {
  scenario: string;
  expectations: { index: number; kind: string; ok: boolean; detail?: string }[];
  /** `fabric sim --json` with `cluster.rebalance`: the rebalancer's changes in time order */
  rebalance?: { changes: readonly { at: number; kind: string; demand?: string; path?: readonly string[]; pod?: string; gbps?: number }[] };
}

/** The rebalancer's decisions in force at a time: pins (demand -> directed links) and meters (pod -> Gbit/s). */
export interface Decisions {
  pins: Record<string, string[]>;
  meters: Record<string, number>;
}

/** What the control loop decided in the lab at a measurement time, beside what the simulator's had decided by then. */
export interface DecisionRow {
  at: number;
  lab: Decisions;
  sim: Decisions;
  /** the same demands pinned to the same paths and the same pods metered (rates may differ: measured) */
  samePins: boolean;
  samePods: boolean;
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
  /** with `cluster.rebalance`: the decisions side by side, per lab rebalancing phase (reported, not judged) */
  decisions?: DecisionRow[];
}

/** The simulator's decisions in force at `at` (its changes up to and including `at`, in order). */
export function simDecisionsAt(changes: NonNullable<SimLikeReport['rebalance']>['changes'], at: number): Decisions {
  const out: Decisions = { pins: {}, meters: {} };
  for (const c of changes) {
    if (c.at > at) break;
    if (c.kind === 'pin' && c.demand && c.path) out.pins[c.demand] = [...c.path];
    else if (c.kind === 'unpin' && c.demand) delete out.pins[c.demand];
    else if (c.kind === 'meter' && c.pod && c.gbps !== undefined) out.meters[c.pod] = c.gbps;
    else if (c.kind === 'unmeter' && c.pod) delete out.meters[c.pod];
  }
  return out;
}

function decisionRows(lab: LabReport, sim: SimLikeReport): DecisionRow[] | undefined {
  if (!lab.rebalance) return undefined;
  const changes = sim.rebalance?.changes ?? [];
  return lab.rebalance.phases.map((p) => {
    const labD: Decisions = { pins: Object.fromEntries(p.pins.map((x) => [x.demand, [...x.path]])), meters: Object.fromEntries(p.meters.map((x) => [x.pod, x.gbps])) };
    const simD = simDecisionsAt(changes, p.at);
    const key = (r: Record<string, unknown>, f: (k: string) => string): string =>
      Object.keys(r)
        .sort()
        .map(f)
        .join(';');
    return {
      at: p.at,
      lab: labD,
      sim: simD,
      samePins: key(labD.pins, (k) => `${k}=${labD.pins[k].join(',')}`) === key(simD.pins, (k) => `${k}=${simD.pins[k].join(',')}`),
      samePods: key(labD.meters, (k) => k) === key(simD.meters, (k) => k),
    };
  });
}

function decisionsText(d: Decisions): string {
  const via = (path: readonly string[]): string => path.slice(1, -1).map((id) => id.split('->')[1]).join(',') || path.join(',');
  const pins = Object.keys(d.pins)
    .sort()
    .map((k) => `${k} via ${via(d.pins[k])}`)
    .join(', ');
  const meters = Object.keys(d.meters)
    .sort()
    .map((k) => `${k} ${Math.round(d.meters[k] * 1e4) / 1e4}`)
    .join(', ');
  return `pins ${pins || 'none'}; meters (Gbit/s) ${meters || 'none'}`;
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
  const decisions = decisionRows(lab, sim);
  return { scenario: lab.scenario, agree: disagreements === 0, rows, disagreements, ...(decisions ? { decisions } : {}) };
}

export function formatComparison(c: Comparison): string {
  const show = (v: boolean | string): string => (v === true ? 'ok' : v === false ? 'FAIL' : v);
  const lines = c.rows.map((r) => `${r.agree ? '  ' : '!='} #${r.index + 1} ${r.kind}: lab ${show(r.lab)}, sim ${show(r.sim)}${r.agree ? '' : `\n     lab: ${r.labDetail}\n     sim: ${r.simDetail}`}`);
  for (const d of c.decisions ?? []) {
    lines.push(`   rebalance at ${d.at}s (${d.samePins && d.samePods ? 'same pins, same pods metered' : `${d.samePins ? 'same' : 'different'} pins, ${d.samePods ? 'same' : 'different'} pods metered`}):`);
    lines.push(`     lab: ${decisionsText(d.lab)}`);
    lines.push(`     sim: ${decisionsText(d.sim)}`);
  }
  const skipped = c.rows.filter((r) => r.lab === 'skipped').length;
  lines.push(`${c.scenario}: lab and sim ${c.agree ? 'agree on every measured expectation' : `disagree on ${c.disagreements} expectation(s)`}${skipped ? `; ${skipped} not measured by the lab (skipped)` : ''}`);
  return lines.join('\n') + '\n';
}
