/**
 * What a change changes (docs/reach-and-diff.md): two scenarios (or one at two times) compared on
 * - reachability: the cells of the reachability matrix (sim/matrix.ts) whose pairs changed;
 * - paths: for every probed pair (pod to pod, pod or external to service) answered on both sides, the
 *   switches the request crosses when they differ (the same 5-tuple on both sides: sim/matrix.ts
 *   `probePort`);
 * - flows: per switch, the flows (and groups, meters) of `fabric plan --at T` added and removed,
 *   counted per pipeline table name, with the `ovs-ofctl` lines on request.
 * `diff A A` is empty. Deterministic: everything in name order.
 */
import type { Scenario } from '../topology/types';
import { applyEvent, buildClusterState } from '../topology/cluster';
import { compileCluster, compileIncremental } from '../controller/compile';
import type { FabricPlan } from '../controller/compile';
import { tableName } from './blocked';
import { COOKIE_IDENTITY_MASK } from '../controller/cookie';
import type { Flow } from '../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../fabric/openflow/ofctl';
import { reachMatrix, sameOutcome } from './matrix';
import type { MatrixCell, PairResult, ReachMatrix, ReachStatus } from './matrix';
import type { SimOptions } from './runner';

export interface DiffSide {
  scenario: Scenario;
  /** virtual time, seconds */
  at: number;
}

export interface DiffOptions {
  /** the TCP port probed towards pods and externals (ICMP echo without) */
  port?: number;
  /** keep the ovs-ofctl lines of the flows, groups and meters added and removed */
  lines?: boolean;
  sim?: SimOptions;
}

/** a cell as one side sees it */
export interface CellState {
  status: MatrixCell['status'];
  allowed: number;
  pairs: number;
  reasons: string[];
}

export interface PairChange {
  from: string;
  to: string;
  /** absent: the pair does not exist on that side */
  before?: { status: ReachStatus; reason?: string };
  after?: { status: ReachStatus; reason?: string };
}

export interface ReachChange {
  from: string;
  to: string;
  before?: CellState;
  after?: CellState;
  pairs: PairChange[];
}

export interface PathChange {
  from: string;
  to: string;
  before: string[];
  after: string[];
  /** a service: the backends that answered on each side */
  backendsBefore?: string[];
  backendsAfter?: string[];
}

export interface TableCount {
  table: string;
  added: number;
  removed: number;
}

export interface SwitchFlowDiff {
  switch: string;
  /** the switch exists on that side only */
  only?: 'before' | 'after';
  flows: { added: number; removed: number; tables: TableCount[] };
  groups: { added: number; removed: number };
  meters: { added: number; removed: number };
  /** with `lines`: "+ LINE" / "- LINE", flows then groups then meters */
  lines?: string[];
}

export interface ScenarioDiff {
  before: { scenario: string; at: number };
  after: { scenario: string; at: number };
  port?: number;
  same: boolean;
  reach: ReachChange[];
  paths: PathChange[];
  flows: SwitchFlowDiff[];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The plan of `fabric plan FILE --at T`: the scenario compiled, then the events up to T applied incrementally. */
export function planAt(scenario: Scenario, at: number): FabricPlan {
  const state = buildClusterState(scenario);
  let plan = compileCluster(state);
  for (const ev of scenario.events) {
    if (ev.at > at) break;
    plan = compileIncremental(plan, state, applyEvent(state, ev));
  }
  return plan;
}

function cellState(c: MatrixCell): CellState {
  return { status: c.status, allowed: c.allowed, pairs: c.pairs, reasons: c.reasons.map((r) => r.reason) };
}

function pairState(r: PairResult): { status: ReachStatus; reason?: string } {
  return { status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) };
}


/** the matrix cells whose pairs changed, and the paths of pairs answered on both sides that changed */
export function diffMatrices(a: ReachMatrix, b: ReachMatrix): { reach: ReachChange[]; paths: PathChange[] } {
  const cellsA = new Map(a.cells.map((c) => [`${c.from}\u0000${c.to}`, c]));
  const cellsB = new Map(b.cells.map((c) => [`${c.from}\u0000${c.to}`, c]));
  const keys = [...new Set([...cellsA.keys(), ...cellsB.keys()])];
  const order = (m: ReachMatrix, k: string) => {
    const [f, t] = k.split('\u0000');
    const i = m.sources.findIndex((g) => g.name === f);
    const j = m.destinations.findIndex((g) => g.name === t);
    return i < 0 || j < 0 ? undefined : [i, j];
  };
  // rows and columns in the order of the after side, then those of the before side only
  keys.sort((x, y) => {
    const ox = order(b, x) ?? [1e9, 1e9];
    const oy = order(b, y) ?? [1e9, 1e9];
    return ox[0] - oy[0] || ox[1] - oy[1] || cmp(x, y);
  });
  const reach: ReachChange[] = [];
  const paths: PathChange[] = [];
  const seenPairs = new Set<string>();
  for (const k of keys) {
    const ca = cellsA.get(k);
    const cb = cellsB.get(k);
    const [from, to] = k.split('\u0000');
    const pa = new Map((ca?.results ?? []).map((r) => [`${r.from}\u0000${r.to}`, r]));
    const pb = new Map((cb?.results ?? []).map((r) => [`${r.from}\u0000${r.to}`, r]));
    const pairs: PairChange[] = [];
    for (const pk of [...new Set([...pa.keys(), ...pb.keys()])].sort(cmp)) {
      const ra = pa.get(pk);
      const rb = pb.get(pk);
      if (ra && rb && sameOutcome(ra, rb)) {
        // answered on both sides: did the path change?
        if (ra.status !== 'denied' && !seenPairs.has(pk) && (ra.path.join(',') !== rb.path.join(',') || (ra.backends ?? []).join(',') !== (rb.backends ?? []).join(','))) {
          paths.push({ from: ra.from, to: ra.to, before: ra.path, after: rb.path, ...(ra.backends ? { backendsBefore: ra.backends, backendsAfter: rb.backends ?? [] } : {}) });
        }
        seenPairs.add(pk);
        continue;
      }
      const [pf, pt] = pk.split('\u0000');
      pairs.push({ from: pf, to: pt, ...(ra ? { before: pairState(ra) } : {}), ...(rb ? { after: pairState(rb) } : {}) });
    }
    const stateChanged = !ca || !cb || ca.status !== cb.status;
    if (pairs.length === 0 && !stateChanged) continue;
    reach.push({ from, to, ...(ca ? { before: cellState(ca) } : {}), ...(cb ? { after: cellState(cb) } : {}), pairs });
  }
  return { reach, paths };
}

function flowKey(f: Flow): string {
  return flowText({ ...f, cookie: f.cookie & COOKIE_IDENTITY_MASK });
}

function multisetDiff<T>(a: T[], b: T[], key: (x: T) => string): { added: T[]; removed: T[] } {
  const count = new Map<string, number>();
  for (const x of a) count.set(key(x), (count.get(key(x)) ?? 0) + 1);
  const added: T[] = [];
  for (const x of b) {
    const k = key(x);
    const n = count.get(k) ?? 0;
    if (n > 0) count.set(k, n - 1);
    else added.push(x);
  }
  const left = new Map(count);
  const removed: T[] = [];
  for (const x of a) {
    const k = key(x);
    const n = left.get(k) ?? 0;
    if (n > 0) {
      removed.push(x);
      left.set(k, n - 1);
    }
  }
  return { added, removed };
}

function byTableThenText(x: Flow, y: Flow): number {
  return x.table - y.table || y.priority - x.priority || cmp(flowText(x), flowText(y));
}

/** per switch: the flows, groups and meters added and removed from plan `a` to plan `b` */
export function diffPlans(a: FabricPlan, b: FabricPlan, lines = false): SwitchFlowDiff[] {
  const names = [...a.keys(), ...[...b.keys()].filter((n) => !a.has(n))];
  const out: SwitchFlowDiff[] = [];
  for (const name of names) {
    const pa = a.get(name);
    const pb = b.get(name);
    const flows = multisetDiff(pa?.flows ?? [], pb?.flows ?? [], flowKey);
    const groups = multisetDiff(pa?.groups ?? [], pb?.groups ?? [], groupText);
    const meters = multisetDiff(pa?.meters ?? [], pb?.meters ?? [], meterText);
    if (pa && pb && !flows.added.length && !flows.removed.length && !groups.added.length && !groups.removed.length && !meters.added.length && !meters.removed.length) continue;
    const tables = new Map<number, TableCount>();
    for (const [list, which] of [[flows.added, 'added'], [flows.removed, 'removed']] as const) {
      for (const f of list) {
        const t = tables.get(f.table) ?? { table: tableName(f.table), added: 0, removed: 0 };
        t[which]++;
        tables.set(f.table, t);
      }
    }
    const d: SwitchFlowDiff = {
      switch: name,
      ...(!pa ? { only: 'after' as const } : !pb ? { only: 'before' as const } : {}),
      flows: { added: flows.added.length, removed: flows.removed.length, tables: [...tables.keys()].sort((x, y) => x - y).map((t) => tables.get(t)!) },
      groups: { added: groups.added.length, removed: groups.removed.length },
      meters: { added: meters.added.length, removed: meters.removed.length },
    };
    if (lines) {
      d.lines = [
        ...[...flows.removed.map((f) => ({ f, s: '-' })), ...flows.added.map((f) => ({ f, s: '+' }))].sort((x, y) => byTableThenText(x.f, y.f) || cmp(x.s, y.s)).map(({ f, s }) => `${s} ${flowText(f)}`),
        ...groups.removed.map((g) => `- ${groupText(g)}`),
        ...groups.added.map((g) => `+ ${groupText(g)}`),
        ...meters.removed.map((m) => `- ${meterText(m)}`),
        ...meters.added.map((m) => `+ ${meterText(m)}`),
      ];
    }
    out.push(d);
  }
  return out;
}

/** Everything that differs between two scenarios (or one at two times). */
export function diffScenarios(a: DiffSide, b: DiffSide, options: DiffOptions = {}): ScenarioDiff {
  const ma = reachMatrix(a.scenario, { at: a.at, port: options.port, sim: options.sim });
  const mb = reachMatrix(b.scenario, { at: b.at, port: options.port, sim: options.sim });
  const { reach, paths } = diffMatrices(ma, mb);
  const flows = diffPlans(planAt(a.scenario, a.at), planAt(b.scenario, b.at), options.lines === true);
  return {
    before: { scenario: a.scenario.name, at: a.at },
    after: { scenario: b.scenario.name, at: b.at },
    ...(options.port !== undefined ? { port: options.port } : {}),
    same: reach.length === 0 && paths.length === 0 && flows.length === 0,
    reach,
    paths,
    flows,
  };
}

// ---- output ------------------------------------------------------------------------------------

function cellText(c: CellState | undefined): string {
  if (!c) return 'absent';
  switch (c.status) {
    case 'allowed': return 'allowed';
    case 'denied': return 'denied';
    case 'partial': return `split (${c.allowed}/${c.pairs} allowed)`;
    case 'none': return 'nothing to probe';
  }
}

function pairText(p: PairChange['before']): string {
  if (!p) return 'absent';
  return p.reason ? `${p.status} (${p.reason})` : p.status;
}

export function formatDiff(d: ScenarioDiff, labels: { before: string; after: string }): string {
  let text = `--- ${labels.before}\n+++ ${labels.after}\n`;
  if (d.same) return text + 'no differences\n';
  if (d.reach.length) {
    text += `reachability (${d.reach.length} cell${d.reach.length === 1 ? '' : 's'} changed):\n`;
    for (const r of d.reach) {
      text += `  ${r.from} -> ${r.to}: ${cellText(r.before)} -> ${cellText(r.after)}\n`;
      for (const p of r.pairs) text += `    ${p.from} -> ${p.to}: ${pairText(p.before)} -> ${pairText(p.after)}\n`;
    }
  } else text += 'reachability: unchanged\n';
  if (d.paths.length) {
    text += `paths (${d.paths.length} changed):\n`;
    for (const p of d.paths) {
      const be = p.backendsBefore ? ` [${p.backendsBefore.join(',')}]` : '';
      const af = p.backendsAfter ? ` [${p.backendsAfter.join(',')}]` : '';
      text += `  ${p.from} -> ${p.to}: ${p.before.join(',')}${be} -> ${p.after.join(',')}${af}\n`;
    }
  } else text += 'paths: unchanged\n';
  if (d.flows.length) {
    const add = d.flows.reduce((n, s) => n + s.flows.added, 0);
    const rem = d.flows.reduce((n, s) => n + s.flows.removed, 0);
    text += `flows (${d.flows.length} switch${d.flows.length === 1 ? '' : 'es'} changed, +${add} -${rem}):\n`;
    for (const s of d.flows) {
      const extra = [
        ...(s.groups.added || s.groups.removed ? [`groups +${s.groups.added} -${s.groups.removed}`] : []),
        ...(s.meters.added || s.meters.removed ? [`meters +${s.meters.added} -${s.meters.removed}`] : []),
      ];
      const tables = s.flows.tables.map((t) => `${t.table} ${t.added ? `+${t.added}` : ''}${t.added && t.removed ? ' ' : ''}${t.removed ? `-${t.removed}` : ''}`).join(', ');
      text += `  ${s.switch}${s.only === 'after' ? ' (new switch)' : s.only === 'before' ? ' (switch gone)' : ''}: ${s.flows.added || s.flows.removed ? `flows +${s.flows.added} -${s.flows.removed}` : 'flows unchanged'}${tables ? ` (${tables})` : ''}${extra.length ? `; ${extra.join('; ')}` : ''}\n`;
      for (const l of s.lines ?? []) text += `    ${l}\n`;
    }
  } else text += 'flows: unchanged\n';
  return text;
}
