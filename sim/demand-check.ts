/**
 * `fabric validate`'s demand check: a traffic demand that the switches never deliver while it is
 * active — blocked at its start, at every event time and at every bandwidth step of the run
 * (isolation, no route, a service without backends, a down node ...) — is worth a warning at its
 * entry in `traffic:`. The check replays the scenario as `fabric sim` does (controller in the loop,
 * the same packet walks the bandwidth model takes paths from: sim/demands.ts `demandWalk`), without
 * evaluating the expectations, and reads which demands the bandwidth model only ever saw blocked.
 */
import type { Diagnostic } from '../topology/diagnostics';
import type { Scenario, SourcePos } from '../topology/types';
import { SimRun } from './runner';

/** A demand that is blocked at every step of the run while it is active. */
export interface UndeliverableDemand {
  /** index in `traffic` (0-based) */
  index: number;
  from: string;
  to: string;
  /** the distinct reasons, in the order they first applied */
  reasons: string[];
}

/**
 * The demands of `scenario` never delivered at any time they are active. Runs the scenario (no
 * expectations evaluated); a scenario without traffic costs nothing.
 */
export function undeliverableDemands(scenario: Scenario): UndeliverableDemand[] {
  if (scenario.traffic.length === 0) return [];
  const run = new SimRun(scenario, { evaluateExpectations: false });
  run.run();
  const bw = run.bandwidthModel();
  if (!bw) return [];
  const delivered = new Set<number>();
  const blocked = new Map<number, UndeliverableDemand>();
  for (const e of bw.timeline.epochs) {
    for (const d of e.demands) delivered.add(d.index);
    for (const b of e.blocked ?? []) {
      const u = blocked.get(b.index) ?? { index: b.index, from: b.from, to: b.to, reasons: [] };
      if (!u.reasons.includes(b.reason)) u.reasons.push(b.reason);
      blocked.set(b.index, u);
    }
  }
  return [...blocked.values()].filter((u) => !delivered.has(u.index)).sort((a, b) => a.index - b.index);
}

/**
 * The warnings for `undeliverableDemands`, at each demand's entry in `traffic:` (FILE:LINE:COL;
 * 1:1 when the scenario was read without positions).
 */
export function undeliverableDemandWarnings(list: readonly UndeliverableDemand[], file: string, positions?: ReadonlyMap<string, SourcePos>): Diagnostic[] {
  return list.map((u) => {
    const pos = positions?.get(`traffic/${u.index}`);
    const later = u.reasons.length > 1 ? ` (then: ${u.reasons.slice(1).join('; ')})` : '';
    return {
      file,
      line: pos?.line ?? 1,
      col: pos?.col ?? 1,
      severity: 'warning' as const,
      message: `traffic #${u.index + 1} (${u.from} -> ${u.to}) is never delivered while it is active: ${u.reasons[0]}${later}`,
    };
  });
}

/**
 * Both in one: the warnings of a parsed scenario, or one warning saying why the check could not run
 * (the scenario passed every other check, so that would be a simulator limitation, not the file's).
 */
export function demandCheckDiagnostics(scenario: Scenario, file: string, positions: ReadonlyMap<string, SourcePos> | undefined = scenario.positions): Diagnostic[] {
  let list: UndeliverableDemand[];
  try {
    list = undeliverableDemands(scenario);
  } catch (err) {
    const pos = positions?.get('traffic');
    return [{ file, line: pos?.line ?? 1, col: pos?.col ?? 1, severity: 'warning', message: `the demand check could not replay the scenario: ${(err as Error).message}` }];
  }
  return undeliverableDemandWarnings(list, file, positions);
}
