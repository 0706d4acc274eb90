/**
 * The reachability matrix between groups (docs/reach-and-diff.md): pods grouped by a label (default
 * `app`, else by name), services (through VIP:port), externals. Every cell is made of real probes
 * walked through the compiled flows of a SimRun at a virtual time — the walk `fabric trace` shows —
 * and a denial carries the reason in words from its drop point (sim/blocked.ts), so the answer is
 * what the switches do, not what the scenario's rules say.
 *
 * Deterministic: groups and members in name order, and each probe's source port (ICMP id) is a hash
 * of its two ends and attempt number (not a draw from the run's PRNG), so two scenarios that differ
 * elsewhere walk the same 5-tuple for the same pair and ECMP choices stay comparable (sim/diff.ts).
 */
import type { ClusterState, Scenario } from '../topology/types';
import { didYouMean } from '../topology/diagnostics';
import { explainBlocked, missingEnd } from './blocked';
import type { DemandBlock } from './blocked';
import { fnv1a32 } from './prng';
import { probe } from './probe';
import type { ProbeResult } from './probe';
import { SimError, SimRun } from './runner';
import type { SimOptions } from './runner';

export type GroupKind = 'pods' | 'service' | 'external';

/** A row or column of the matrix. */
export interface ReachGroup {
  /** `app=web` (pods by label), a pod's name, `svc/NAME`, `ext/NAME` */
  name: string;
  kind: GroupKind;
  /** pods: the member pods; service / external: the one name */
  members: string[];
}

export type ReachStatus = 'allowed' | 'denied' | 'partial';

/** One source member to one destination member (a pod, a service, an external). */
export interface PairResult {
  from: string;
  to: string;
  /** partial: a service some of whose connections were answered and some not */
  status: ReachStatus;
  /** switches the request crossed (the first answered connection; else the failed walk) */
  path: string[];
  /** a service: the backends that answered */
  backends?: string[];
  /** why not (denied or partial), in words (sim/blocked.ts) */
  reason?: string;
  /** the drop point: "node4 table policy priority 100" */
  where?: string;
}

/** Denials of a cell that share a reason (the pair names aside). */
export interface CellReason {
  /** the reason of the first pair, in words */
  reason: string;
  where?: string;
  /** "web-1 -> db-1", ... */
  pairs: string[];
}

export interface MatrixCell {
  from: string;
  to: string;
  /** none: no pair to probe (a one-pod group to itself, external to external) */
  status: ReachStatus | 'none';
  pairs: number;
  allowed: number;
  /** with `maxPairs`: the member pairs the cell has, of which `pairs` were probed */
  pairsTotal?: number;
  /** every pair has the same status and the same reason */
  agree: boolean;
  reasons: CellReason[];
  results: PairResult[];
}

export interface ReachMatrix {
  scenario: string;
  at: number;
  /** the TCP port probed towards pods and externals (ICMP echo without); services use their own */
  port?: number;
  groupBy: string;
  maxPairs?: number;
  sources: ReachGroup[];
  destinations: ReachGroup[];
  cells: MatrixCell[];
}

export interface MatrixOptions {
  /** virtual time, seconds (default 0) */
  at?: number;
  /** selectors of the rows / columns (default: every pod group and external; and every service as a column) */
  from?: string[];
  to?: string[];
  port?: number;
  /** the label pods are grouped by (default `app`); a pod without it is its own group */
  groupBy?: string;
  /** probe at most this many member pairs per cell, spread evenly over them (default: all) */
  maxPairs?: number;
  sim?: SimOptions;
}

/** A SimRun brought to virtual time `at` (as `fabric trace --at` does). */
export function runAt(scenario: Scenario, at = 0, sim: SimOptions = {}): SimRun {
  const run = new SimRun(scenario, sim);
  run.advanceTo(at);
  return run;
}

const PORT_RANGE = 60999 - 32768 + 1;

/** the source port (and ICMP id) of a probe: a hash of its ends and attempt, stable across scenarios */
export function probePort(from: string, to: string, attempt = 0): number {
  return 32768 + (fnv1a32(`${from}>${to}#${attempt}`) % PORT_RANGE);
}

function hostOf(run: SimRun, name: string) {
  const h = run.sourceHost(name);
  return typeof h === 'string' ? undefined : h;
}

/** why a probe failed, in words: the request's drop point, or the reply's */
function explainProbe(run: SimRun, from: string, to: string, port: number | undefined, target: { ip: string; service?: string }, r: ProbeResult): DemandBlock {
  const host = hostOf(run, from)!;
  if (!r.acceptedBy) return refineService(run.physical, explainBlocked(run.physical, { from, to, port, host, target, probe: r }));
  // the request arrived: the answer is what is lost (or not un-NATed)
  const responder = r.acceptedBy;
  const reply = r.walks.find((w) => w.label === `${responder.name} reply`)?.walk;
  if (!reply) return { reason: `${responder.name} got the request but does not answer: ${r.detail}` };
  const back: ProbeResult = { ok: false, path: r.replyPath, replyPath: [], walks: [{ label: `${responder.name} -> ${from} request`, walk: reply }], detail: r.detail };
  const why = explainBlocked(run.physical, { from: responder.name, to: from, host: responder, target: { ip: host.ip }, probe: back });
  if (why.reason.startsWith('not delivered') || why.reason.startsWith('delivered to')) return { reason: `the answer from ${responder.name} does not come back: ${r.detail}`, where: why.where };
  return { reason: `the answer from ${responder.name} is dropped: ${why.reason}`, where: why.where };
}

/** a service whose backends all run on nodes that are down: say so (sim/blocked.ts says "refused") */
function refineService(state: ClusterState, why: DemandBlock): DemandBlock {
  const m = /^service (\S+) refused the connection at /.exec(why.reason);
  const svc = m ? state.services.get(m[1]) : undefined;
  if (!svc || svc.endpoints.length === 0) return why;
  const down = svc.endpoints.filter((e) => state.nodes.get(state.pods.get(e)?.node ?? '')?.up === false);
  if (down.length !== svc.endpoints.length) return why;
  const on = down.map((e) => `${e} on ${state.pods.get(e)!.node}`).join(', ');
  return { ...why, reason: `service ${svc.name} has no ready backend on a node that is up (${on}: down)` };
}

/**
 * One connection (TCP to the port, or to the service's port; ICMP echo without one) from `from` to
 * `to`, walked through the switches now, as `fabric trace` walks it; a service is tried with several
 * source ports until every backend was picked (at most 64), its status partial when only some answer.
 */
export function probePair(run: SimRun, from: string, to: string, port?: number): PairResult {
  const host = run.sourceHost(from);
  if (typeof host === 'string') return { from, to, status: 'denied', path: [], reason: missingEnd('source', from).reason };
  const target = run.resolveTarget(to, port, undefined, from);
  if (typeof target === 'string') {
    const st = run.physical;
    const exists = st.pods.has(to) || st.services.has(to) || st.externals.has(to) || st.nodes.has(to);
    return { from, to, status: 'denied', path: [], reason: exists ? target : missingEnd('destination', to).reason };
  }
  const svc = target.service ? run.physical.services.get(target.service) : undefined;
  const tries = svc ? Math.min(64, Math.max(4, 3 * svc.endpoints.length)) : 1;
  const want = new Set(svc?.endpoints ?? []);
  const seen = new Set<string>();
  const answered = new Set<string>();
  let okPath: string[] | undefined;
  let failed: { r: ProbeResult; spec: typeof target.spec & { srcPort: number; icmpId: number } } | undefined;
  let oks = 0;
  let n = 0;
  for (let attempt = 0; attempt < tries; attempt++) {
    const src = probePort(from, to, attempt);
    const spec = { ...target.spec, srcPort: src, icmpId: src };
    const r = probe(run.network, host, spec, run.engine.nowUs(), false);
    n++;
    if (r.acceptedBy) seen.add(r.acceptedBy.name);
    if (r.ok) {
      oks++;
      okPath ??= r.path;
      if (r.acceptedBy) answered.add(r.acceptedBy.name);
    } else failed ??= { r, spec };
    // a service: stop once every backend was picked
    if (!svc || [...want].every((b) => seen.has(b))) break;
  }
  const backends = svc ? [...answered].sort() : undefined;
  if (!failed) return { from, to, status: 'allowed', path: okPath ?? [], ...(backends ? { backends } : {}) };
  // the failed connection again, traced this time (packet summaries, NAT steps) for the explanation
  const traced = probe(run.network, host, failed.spec, run.engine.nowUs(), true);
  const why = explainProbe(run, from, to, target.spec.dstPort, target, traced.ok ? failed.r : traced);
  const status: ReachStatus = oks === 0 ? 'denied' : 'partial';
  let reason = why.reason;
  if (status === 'partial') reason = `${oks} of ${n} connections answered (by ${backends!.join(', ')}); the others: ${why.reason}`;
  return { from, to, status, path: okPath ?? failed.r.path, ...(backends ? { backends } : {}), reason, ...(why.where ? { where: why.where } : {}) };
}

// ---- groups ---------------------------------------------------------------------------------------

function parseSelector(sel: string): Record<string, string> | undefined {
  if (!sel.includes('=')) return undefined;
  const out: Record<string, string> = {};
  for (const part of sel.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) throw new SimError(`reach: ${sel} is not a label selector (KEY=VALUE[,KEY=VALUE])`);
    out[m[1]] = m[2];
  }
  return out;
}

/** pods grouped by the label (in value order), pods without it as their own groups (by name) */
export function defaultPodGroups(state: ClusterState, groupBy = 'app'): ReachGroup[] {
  const byValue = new Map<string, string[]>();
  const alone: ReachGroup[] = [];
  for (const p of [...state.pods.values()].sort((a, b) => cmp(a.name, b.name))) {
    const v = p.labels[groupBy];
    if (v === undefined) alone.push({ name: p.name, kind: 'pods', members: [p.name] });
    else byValue.set(v, [...(byValue.get(v) ?? []), p.name]);
  }
  const labelled = [...byValue.keys()].sort(cmp).map((v) => ({ name: `${groupBy}=${v}`, kind: 'pods' as const, members: byValue.get(v)! }));
  return [...labelled, ...alone];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** one selector: `KEY=VALUE[,...]` (pods), or the name of a pod, service (`svc/` optional) or external (`ext/` optional) */
export function resolveGroup(state: ClusterState, sel: string, side: 'from' | 'to'): ReachGroup {
  const labels = parseSelector(sel);
  if (labels) {
    const members = [...state.pods.values()]
      .filter((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v))
      .map((p) => p.name)
      .sort(cmp);
    if (members.length === 0) throw new SimError(`reach: --${side} ${sel} selects no pod at this time`);
    return { name: sel, kind: 'pods', members };
  }
  const bare = sel.replace(/^(svc|ext|pod)\//, '');
  if (!sel.startsWith('svc/') && !sel.startsWith('ext/') && state.pods.has(bare)) return { name: bare, kind: 'pods', members: [bare] };
  if (!sel.startsWith('ext/') && !sel.startsWith('pod/') && state.services.has(bare)) {
    if (side === 'from') throw new SimError(`reach: --from ${sel}: a service is not a source (name its pods: ${Object.entries(state.services.get(bare)!.selector).map(([k, v]) => `${k}=${v}`).join(',')})`);
    return { name: `svc/${bare}`, kind: 'service', members: [bare] };
  }
  if (!sel.startsWith('svc/') && !sel.startsWith('pod/') && state.externals.has(bare)) return { name: `ext/${bare}`, kind: 'external', members: [bare] };
  throw new SimError(`reach: --${side} ${sel}: no pod, service or external of that name at this time, and not a label selector KEY=VALUE${didYouMean(bare, [...state.pods.keys(), ...state.services.keys(), ...state.externals.keys()])}`);
}

function serviceGroups(state: ClusterState): ReachGroup[] {
  return [...state.services.keys()].sort(cmp).map((s) => ({ name: `svc/${s}`, kind: 'service' as const, members: [s] }));
}

function externalGroups(state: ClusterState): ReachGroup[] {
  return [...state.externals.keys()].sort(cmp).map((e) => ({ name: `ext/${e}`, kind: 'external' as const, members: [e] }));
}

/** the words of a reason with the pair's names and every address blanked: denials alike share it */
function reasonShape(r: PairResult): string {
  let s = (r.reason ?? '').replace(/\d+\.\d+\.\d+\.\d+/g, '<ip>');
  for (const [name, mark] of [[r.from, '<from>'], [r.to, '<to>']] as const) s = s.replace(new RegExp(`(?<![\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), mark);
  return s.replace(/(?<![\w-])[a-z0-9][a-z0-9-]*-\d+(?![\w-])/g, '<pod>');
}

/**
 * Two results of the same pair tell the same story: the same status, for a reason alike (names of
 * pods and addresses, and the counts of a service's connections, aside: which backend a connection
 * picks depends on addresses).
 */
export function sameOutcome(a: PairResult, b: PairResult): boolean {
  const shape = (r: PairResult) => reasonShape(r).replace(/\d+ of \d+ connections answered \(by [^)]*\)/, 'some connections answered');
  return a.status === b.status && shape(a) === shape(b);
}

/** a cell from its pair results */
export function cellOf(from: string, to: string, results: PairResult[]): MatrixCell {
  const allowed = results.filter((r) => r.status === 'allowed').length;
  const denied = results.filter((r) => r.status === 'denied').length;
  const status: MatrixCell['status'] = results.length === 0 ? 'none' : allowed === results.length ? 'allowed' : denied === results.length ? 'denied' : 'partial';
  const byShape = new Map<string, CellReason>();
  for (const r of results) {
    if (r.status === 'allowed') continue;
    const key = `${r.status}|${reasonShape(r)}`;
    const e = byShape.get(key);
    if (e) e.pairs.push(`${r.from} -> ${r.to}`);
    else byShape.set(key, { reason: r.reason ?? 'not answered', ...(r.where ? { where: r.where } : {}), pairs: [`${r.from} -> ${r.to}`] });
  }
  const reasons = [...byShape.values()];
  const agree = status === 'allowed' || (status === 'denied' && reasons.length === 1) || (results.every((r) => r.status === 'partial') && reasons.length === 1) || status === 'none';
  return { from, to, status, pairs: results.length, allowed, agree, reasons, results };
}

/** the members a group probes towards a destination member */
function pairsOf(src: ReachGroup, dst: ReachGroup): [string, string][] {
  if (src.kind === 'external' && dst.kind === 'external') return [];
  const out: [string, string][] = [];
  for (const a of src.members) for (const b of dst.members) if (a !== b) out.push([a, b]);
  return out;
}

/** The matrix at `options.at` of a run already advanced there (or a fresh one). */
export function reachMatrixOf(run: SimRun, options: MatrixOptions = {}): ReachMatrix {
  const state = run.physical;
  const groupBy = options.groupBy ?? 'app';
  const podGroups = defaultPodGroups(state, groupBy);
  const sources = options.from?.length ? options.from.map((s) => resolveGroup(state, s, 'from')) : [...podGroups, ...externalGroups(state)];
  const destinations = options.to?.length ? options.to.map((s) => resolveGroup(state, s, 'to')) : [...podGroups, ...serviceGroups(state), ...externalGroups(state)];
  const cache = new Map<string, PairResult>();
  const cells: MatrixCell[] = [];
  for (const src of sources) {
    for (const dst of destinations) {
      const results: PairResult[] = [];
      const all = pairsOf(src, dst);
      const max = options.maxPairs;
      const chosen = max !== undefined && all.length > max ? Array.from({ length: max }, (_, i) => all[Math.floor((i * all.length) / max)]) : all;
      for (const [a, b] of chosen) {
        const key = `${a}\u0000${b}`;
        let r = cache.get(key);
        if (!r) {
          r = probePair(run, a, b, dst.kind === 'service' ? undefined : options.port);
          cache.set(key, r);
        }
        results.push(r);
      }
      const c = cellOf(src.name, dst.name, results);
      cells.push(chosen.length < all.length ? { ...c, pairsTotal: all.length } : c);
    }
  }
  return {
    scenario: run.scenario.name,
    at: options.at ?? 0,
    ...(options.port !== undefined ? { port: options.port } : {}),
    groupBy,
    ...(options.maxPairs !== undefined ? { maxPairs: options.maxPairs } : {}),
    sources,
    destinations,
    cells,
  };
}

/** The reachability matrix of a scenario at `options.at` (default 0). */
export function reachMatrix(scenario: Scenario, options: MatrixOptions = {}): ReachMatrix {
  return reachMatrixOf(runAt(scenario, options.at ?? 0, options.sim), options);
}

// ---- who can reach ------------------------------------------------------------------------------

export interface WhoCanReach {
  scenario: string;
  at: number;
  target: string;
  port?: number;
  /** every pod and external whose connection is answered, with the switches it crosses */
  reach: { from: string; group: string; path: string[]; status: ReachStatus; note?: string }[];
  /** the groups with members that cannot, with the reasons */
  cannot: { group: string; members: number; denied: string[]; reasons: CellReason[] }[];
}

/** `--who-can-reach NAME`: every pod and external probed towards one pod (or service, external). */
export function whoCanReachOf(run: SimRun, target: string, options: MatrixOptions = {}): WhoCanReach {
  const state = run.physical;
  const dst = resolveGroup(state, target, 'to');
  const groupBy = options.groupBy ?? 'app';
  const groups = [...defaultPodGroups(state, groupBy), ...externalGroups(state)];
  const port = dst.kind === 'service' ? undefined : options.port;
  const reach: WhoCanReach['reach'] = [];
  const cannot: WhoCanReach['cannot'] = [];
  for (const g of groups) {
    const results = pairsOf(g, dst).map(([a, b]) => probePair(run, a, b, port));
    for (const r of results) if (r.status !== 'denied') reach.push({ from: r.from, group: g.name, path: r.path, status: r.status, ...(r.status === 'partial' ? { note: r.reason } : {}) });
    const bad = results.filter((r) => r.status !== 'allowed');
    if (bad.length) cannot.push({ group: g.name, members: results.length, denied: bad.map((r) => r.from), reasons: cellOf(g.name, dst.name, bad).reasons });
  }
  return { scenario: run.scenario.name, at: options.at ?? 0, target: dst.name, ...(port !== undefined ? { port } : {}), reach, cannot };
}

export function whoCanReach(scenario: Scenario, target: string, options: MatrixOptions = {}): WhoCanReach {
  return whoCanReachOf(runAt(scenario, options.at ?? 0, options.sim), target, options);
}

// ---- output ------------------------------------------------------------------------------------

function mark(c: MatrixCell): string {
  switch (c.status) {
    case 'allowed': return 'ok';
    case 'denied': return 'DENIED';
    case 'partial': return c.results.every((r) => r.status === 'partial') ? 'partly' : `${c.allowed}/${c.pairs}`;
    case 'none': return '-';
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n').join('');
}

function whereText(where: string | undefined): string {
  return where ? ` [${where}]` : '';
}

/** the lines that explain a cell that is not all allowed */
export function cellLines(c: MatrixCell, indent = '  '): string[] {
  const out: string[] = [];
  if (c.status === 'denied') {
    const head = c.pairs === 1 ? `${c.from} -> ${c.to}: denied` : c.agree ? `${c.from} -> ${c.to}: denied, all ${c.pairs} pairs alike` : `${c.from} -> ${c.to}: denied (${c.pairs} pairs), for ${c.reasons.length} reasons`;
    if (c.reasons.length === 1) return [`${indent}${head}: ${c.reasons[0].reason}${whereText(c.reasons[0].where)}`];
    out.push(`${indent}${head}:`);
  } else if (c.status === 'partial' && c.agree) {
    const head = `${c.from} -> ${c.to}: only some connections answered${c.pairs === 1 ? '' : `, all ${c.pairs} members alike`}`;
    return [`${indent}${head}: ${c.reasons[0].reason}${whereText(c.reasons[0].where)}`];
  } else if (c.status === 'partial') {
    out.push(`${indent}${c.from} -> ${c.to}: members disagree, ${c.allowed} of ${c.pairs} allowed${c.allowed ? `: ${c.results.filter((r) => r.status === 'allowed').map((r) => `${r.from} -> ${r.to}`).join(', ')}` : ''}`);
  } else return out;
  for (const r of c.reasons) {
    const who = c.pairs === 1 ? '' : `${r.pairs.length === 1 ? r.pairs[0] : `${r.pairs.length} pairs (${r.pairs.join(', ')})`}: `;
    out.push(`${indent}  ${who}${r.reason}${whereText(r.where)}`);
  }
  return out;
}

export function formatMatrix(m: ReachMatrix): string {
  const what = m.port !== undefined ? `tcp ${m.port} to pods and externals` : 'ICMP echo to pods and externals';
  let text = `reachability of ${m.scenario} at ${m.at}s (${what}; services on their own port; rows: from, columns: to)\n`;
  const rows: string[][] = [['', ...m.destinations.map((d) => d.name)]];
  const byKey = new Map(m.cells.map((c) => [`${c.from}\u0000${c.to}`, c]));
  for (const s of m.sources) rows.push([s.name, ...m.destinations.map((d) => mark(byKey.get(`${s.name}\u0000${d.name}`)!))]);
  text += table(rows);
  const groups = [...m.sources, ...m.destinations].filter((g, i, all) => g.kind === 'pods' && g.members.length > 1 && all.findIndex((x) => x.name === g.name) === i);
  if (groups.length) text += `groups: ${groups.map((g) => `${g.name} (${g.members.join(', ')})`).join('; ')}\n`;
  const denied = m.cells.filter((c) => c.status === 'denied');
  const split = m.cells.filter((c) => c.status === 'partial');
  if (denied.length) text += `denied:\n${denied.flatMap((c) => cellLines(c)).join('\n')}\n`;
  if (split.length) text += `partly (members disagree, or only some connections answered):\n${split.flatMap((c) => cellLines(c)).join('\n')}\n`;
  const sampled = m.cells.filter((c) => c.pairsTotal !== undefined);
  if (sampled.length) text += `sampled: ${sampled.length} cell${sampled.length === 1 ? '' : 's'} probed ${m.maxPairs} of their member pairs (--max-pairs)\n`;
  const n = m.cells.filter((c) => c.status !== 'none').length;
  text += `${n} cells: ${m.cells.filter((c) => c.status === 'allowed').length} allowed, ${denied.length} denied, ${split.length} partly\n`;
  return text;
}

export function formatWhoCanReach(w: WhoCanReach): string {
  let text = `who can reach ${w.target}${w.port !== undefined ? ` port ${w.port}` : ''} at ${w.at}s:\n`;
  if (w.reach.length === 0) text += '  nobody\n';
  const rows = w.reach.map((r) => [`  ${r.from}`, `(${r.group})`, `via ${r.path.join(',')}${r.note ? `; partly: ${r.note}` : ''}`]);
  if (rows.length) text += table(rows);
  if (w.cannot.length) {
    text += 'cannot:\n';
    for (const c of w.cannot) {
      const who = c.members === 1 ? c.group : c.denied.length === c.members ? `${c.group} (all ${c.members})` : `${c.group} (${c.denied.length} of ${c.members}: ${c.denied.join(', ')})`;
      if (c.reasons.length === 1) text += `  ${who}: ${c.reasons[0].reason}${whereText(c.reasons[0].where)}\n`;
      else {
        text += `  ${who}:\n`;
        for (const r of c.reasons) text += `    ${r.pairs.join(', ')}: ${r.reason}${whereText(r.where)}\n`;
      }
    }
  }
  return text;
}
