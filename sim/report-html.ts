/**
 * `fabric sim FILE --report out.html`: one self-contained HTML page (inline CSS and SVG, no script,
 * nothing fetched) that shows a run's bandwidth picture: the topology coloured by each link's peak
 * utilization, with each link's capacity and the times it was down; link utilization over time (step
 * lines: the model is piecewise constant) with the scenario's events as vertical markers and the
 * intervals a link was down shaded; each demand's granted rate over time against its ask; the
 * rebalancer's changes, and the expectations. All of it is readable without hovering.
 *
 * Pure: data in, string out. Deterministic (same data, same bytes).
 */
import type { BandwidthTimeline, RunBandwidthSummary } from './bandwidth-timeline';
import type { ScenarioEvent } from '../topology/types';

export interface ReportSwitch {
  name: string;
  role: 'node' | 'fabric' | 'external';
}

/** A scenario event on the time axis: "link tor1|spine1 down", "node node2 down", "pod add web-3" */
export interface ReportEvent {
  at: number;
  label: string;
}

export interface ReportData {
  scenario: string;
  endS: number;
  ok?: boolean;
  switches?: ReportSwitch[];
  links: { a: string; b: string; gbps: number }[];
  /**
   * one entry per epoch: utilization per directed link "a->b"; the links that are down ("a|b", as
   * in `links`; a link to a down node is down) and the nodes that are down; each active demand's
   * ask and grant in Gbit/s (a blocked one is granted 0)
   */
  series: {
    at: number;
    utilization: Record<string, number>;
    down?: string[];
    nodesDown?: string[];
    demands?: { index: number; asked: number; granted: number; blocked?: boolean }[];
  }[];
  summary: RunBandwidthSummary;
  expectations?: { index: number; at: number; kind: string; ok: boolean; value?: number; detail: string }[];
  /** the scenario's events (reportEvents), drawn on the time axes */
  events?: ReportEvent[];
}

/** An event in words, as the report draws it on the time axis. */
export function eventLabel(ev: ScenarioEvent): string {
  switch (ev.kind) {
    case 'link':
      return `link ${ev.between.join('|')} ${ev.action}`;
    case 'node':
      return `node ${ev.name} ${ev.action}`;
    case 'pod':
      return ev.action === 'move' ? `pod move ${ev.name} to ${ev.to}` : `pod ${ev.action} ${ev.name}`;
    case 'service':
      return ev.action === 'add' ? `service add ${ev.service.name}` : `service delete ${ev.name}`;
  }
}

/** The scenario's events for the report (ReportData.events). */
export function reportEvents(events: readonly ScenarioEvent[]): ReportEvent[] {
  return events.map((ev) => ({ at: ev.at, label: eventLabel(ev) }));
}

/** The report's data from a timeline (the runner adds switches, expectations, events and ok). */
export function reportDataFrom(
  scenario: string,
  timeline: BandwidthTimeline,
  links: readonly { a: string; b: string; gbps: number }[],
  endS: number,
  extra: Pick<ReportData, 'switches' | 'expectations' | 'ok' | 'events'> = {},
): ReportData {
  // the node switches: those an epoch listed as up, and those the runner says are nodes
  const nodeNames = new Set<string>(timeline.epochs.flatMap((e) => e.nodes ?? []));
  for (const s of extra.switches ?? []) if (s.role === 'node') nodeNames.add(s.name);
  return {
    scenario,
    endS,
    links: links.map((l) => ({ a: l.a, b: l.b, gbps: l.gbps })),
    series: timeline.epochs.map((e) => {
      const up = new Set(e.links.map((l) => l.id));
      const upNodes = e.nodes ? new Set(e.nodes) : undefined;
      const nodesDown = upNodes ? [...nodeNames].filter((n) => !upNodes.has(n)).sort() : [];
      const down = links
        .filter((l) => l.gbps > 0 && (!up.has(`${l.a}->${l.b}`) || nodesDown.includes(l.a) || nodesDown.includes(l.b)))
        .map((l) => `${l.a}|${l.b}`);
      const demands = [
        ...e.demands.map((d) => ({ index: d.index, asked: d.askedGbps, granted: d.grantedGbps })),
        ...(e.blocked ?? []).map((b) => ({ index: b.index, asked: b.askedGbps, granted: 0, blocked: true })),
      ].sort((p, q) => p.index - q.index);
      return {
        at: e.at,
        utilization: Object.fromEntries(e.linkUtilization),
        ...(down.length ? { down } : {}),
        ...(nodesDown.length ? { nodesDown } : {}),
        demands,
      };
    }),
    summary: timeline.summary(endS),
    ...extra,
  };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? String(Math.round(x * 10 ** digits) / 10 ** digits) : String(x));
const pct = (u: number): string => `${Math.round(u * 100)}%`;

/** green (idle) -> yellow (0.5) -> red (>= 1), as an rgb() string */
export function loadColour(u: number): string {
  const x = Math.max(0, Math.min(1, u));
  const r = x < 0.5 ? Math.round(60 + (x / 0.5) * 180) : 240;
  const g = x < 0.5 ? 180 : Math.round(180 - ((x - 0.5) / 0.5) * 150);
  return `rgb(${r},${g},60)`;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

/** Layers: node switches at the bottom, fabric switches by hop distance from them, externals on top. */
function layout(data: ReportData, width: number, height: number): Map<string, { x: number; y: number; role: ReportSwitch['role'] }> {
  const names = new Set<string>();
  for (const l of data.links) names.add(l.a), names.add(l.b);
  const role = new Map<string, ReportSwitch['role']>();
  for (const s of data.switches ?? []) role.set(s.name, s.role), names.add(s.name);
  const adj = new Map<string, string[]>();
  for (const n of names) adj.set(n, []);
  for (const l of data.links) adj.get(l.a)!.push(l.b), adj.get(l.b)!.push(l.a);
  // without roles: a switch with one link is a node (a leaf of the tree)
  for (const n of names) if (!role.has(n)) role.set(n, adj.get(n)!.length <= 1 ? 'node' : 'fabric');
  const layer = new Map<string, number>();
  let frontier = [...names].filter((n) => role.get(n) === 'node').sort();
  for (const n of frontier) layer.set(n, 0);
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const x of frontier) {
      for (const y of adj.get(x)!) {
        if (layer.has(y) || role.get(y) === 'external') continue;
        layer.set(y, layer.get(x)! + 1);
        next.push(y);
      }
    }
    frontier = next.sort();
  }
  let top = 0;
  for (const v of layer.values()) top = Math.max(top, v);
  for (const n of names) if (!layer.has(n)) layer.set(n, role.get(n) === 'external' ? top + 1 : 0);
  top = Math.max(top, ...[...layer.values()]);
  const rows = new Map<number, string[]>();
  for (const [n, k] of layer) rows.set(k, [...(rows.get(k) ?? []), n]);
  const pos = new Map<string, { x: number; y: number; role: ReportSwitch['role'] }>();
  for (const [k, list] of rows) {
    // order each row by the mean position of its lower neighbours, so that links cross less
    const sorted = k === 0 ? list.sort() : list.sort((p, q) => meanX(p) - meanX(q) || (p < q ? -1 : 1));
    sorted.forEach((n, i) => {
      pos.set(n, {
        x: ((i + 0.5) / sorted.length) * width,
        y: top === 0 ? height / 2 : 55 + ((top - k) / top) * (height - 85),
        role: role.get(n)!,
      });
    });
  }
  return pos;
  function meanX(n: string): number {
    const xs = adj.get(n)!.map((m) => pos.get(m)?.x).filter((x): x is number => x !== undefined);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
  }
}

/** a marker of a scenario event (the vertical line and its label): a colour no other mark uses */
export const EVENT_COLOUR = '#6a1b9a';
/** the shading of an interval a link (or node) was down, behind the time charts' lines */
export const DOWN_FILL = '#f9dcdc';
/** a down link: its dashed stretch in the link-state lanes and its note in the topology */
export const DOWN_COLOUR = '#b71c1c';
/** the per-demand chart's lines (granted: solid; asked: dotted, same colour): none is in PALETTE */
export const DEMAND_PALETTE = ['#00838f', '#ad1457', '#558b2f', '#ef6c00', '#283593', '#6d4c41', '#00897b', '#9e9d24', '#5e35b1', '#455a64'];

/**
 * The geometry of the page and of the two time charts (link utilization, demand rates), which share
 * one time axis: time t is at x = CHART.left + (t / endS) * CHART.plotWidth inside each chart's SVG,
 * and the SVG's left edge is PAGE.marginPx + PAGE.svgBorderPx from the page's left edge.
 */
export const PAGE = { marginPx: 24, svgBorderPx: 1, maxWidthPx: 960 } as const;
export const CHART = { width: 900, left: 50, right: 250, plotWidth: 600, plotHeight: 250, demandPlotHeight: 200, bottom: 35 } as const;

/** x of time t in a time chart's SVG (the page adds PAGE.marginPx + PAGE.svgBorderPx) */
export function chartX(data: Pick<ReportData, 'endS' | 'series'>, t: number): number {
  return CHART.left + (t / chartEnd(data)) * CHART.plotWidth;
}

function chartEnd(data: Pick<ReportData, 'endS' | 'series'>): number {
  return Math.max(data.endS, ...data.series.map((e) => e.at), 1e-9);
}

type Span = { at: number; until: number };

/** the epoch k's end: the next epoch's start, or the end of the run */
function epochEnd(data: ReportData, k: number, endS: number): number {
  return Math.max(data.series[k].at, k + 1 < data.series.length ? data.series[k + 1].at : endS);
}

/** the spans over which `isDown(epoch)` holds, adjacent epochs merged */
function spansOf(data: ReportData, endS: number, isDown: (e: ReportData['series'][number]) => boolean): Span[] {
  const spans: Span[] = [];
  data.series.forEach((e, k) => {
    if (!isDown(e)) return;
    const until = epochEnd(data, k, endS);
    const last = spans[spans.length - 1];
    if (last && last.until === e.at) last.until = until;
    else spans.push({ at: e.at, until });
  });
  return spans;
}

/**
 * per link "a|b" that was ever down itself, its down spans (in data.links order); while one of its
 * ends is a down node, the node is what is down (nodeDownSpans)
 */
function linkDownSpans(data: ReportData, endS: number): Map<string, Span[]> {
  const out = new Map<string, Span[]>();
  for (const l of data.links) {
    const key = `${l.a}|${l.b}`;
    const spans = spansOf(data, endS, (e) => (e.down ?? []).includes(key) && !(e.nodesDown ?? []).some((n) => n === l.a || n === l.b));
    if (spans.length) out.set(key, spans);
  }
  return out;
}

function nodeDownSpans(data: ReportData, endS: number): Map<string, Span[]> {
  const names = [...new Set(data.series.flatMap((e) => e.nodesDown ?? []))].sort();
  const out = new Map<string, Span[]>();
  for (const n of names) out.set(n, spansOf(data, endS, (e) => (e.nodesDown ?? []).includes(n)));
  return out;
}

const spanText = (spans: readonly Span[]): string => spans.map((s) => `${fmt(s.at, 3)}–${fmt(s.until, 3)}s`).join(', ');

/** Gbit/s as a short capacity label: 10 -> "10G", 0.5 -> "500M" */
function capacityText(gbps: number): string {
  return gbps >= 1 ? `${fmt(gbps)}G` : `${fmt(gbps * 1000, 0)}M`;
}

function topologySvg(data: ReportData): string {
  const W = 900;
  const H = 360;
  const pos = layout(data, W, H);
  const endS = chartEnd(data);
  const downLinks = linkDownSpans(data, endS);
  const downNodes = nodeDownSpans(data, endS);
  const peak = new Map<string, number>();
  for (const e of data.series) for (const [id, u] of Object.entries(e.utilization)) peak.set(id, Math.max(peak.get(id) ?? 0, u));
  const maxGbps = Math.max(1, ...data.links.map((l) => l.gbps));
  const parts: string[] = [];
  const labels: string[] = [];
  for (const l of data.links) {
    const p = pos.get(l.a)!;
    const q = pos.get(l.b)!;
    const ab = peak.get(`${l.a}->${l.b}`) ?? 0;
    const ba = peak.get(`${l.b}->${l.a}`) ?? 0;
    const u = Math.max(ab, ba);
    const w = 1.5 + 4 * (Math.log1p(l.gbps) / Math.log1p(maxGbps));
    if (!(l.gbps > 0)) {
      // an attachment the model has no capacity for (an external host): drawn, not coloured
      parts.push(`<line x1="${fmt(p.x)}" y1="${fmt(p.y)}" x2="${fmt(q.x)}" y2="${fmt(q.y)}" stroke="#aaa" stroke-width="1.5" stroke-dasharray="4 3"><title>${esc(`${l.a} – ${l.b}: not modelled`)}</title></line>`);
      continue;
    }
    const down = downLinks.get(`${l.a}|${l.b}`);
    const title = `${l.a} -> ${l.b}: ${pct(ab)} peak; ${l.b} -> ${l.a}: ${pct(ba)} peak; ${fmt(l.gbps)} Gbit/s per direction${down ? `; down ${spanText(down)}` : ''}`;
    // a link that was down for a while is dashed (and says when, below)
    parts.push(
      `<line x1="${fmt(p.x)}" y1="${fmt(p.y)}" x2="${fmt(q.x)}" y2="${fmt(q.y)}" stroke="${loadColour(u)}" stroke-width="${fmt(w)}"${down ? ' stroke-dasharray="8 5"' : ''}><title>${esc(title)}</title></line>`,
    );
    // labels along the link from its upper end: the peak at a third, the capacity at two thirds,
    // so that labels of links that cross mid-way do not collide
    const [hi, lo] = p.y <= q.y ? [p, q] : [q, p];
    const at = (f: number): { x: number; y: number } => ({ x: hi.x + (lo.x - hi.x) * f, y: hi.y + (lo.y - hi.y) * f });
    if (u > 0) {
      const m = at(0.33);
      labels.push(`<text x="${fmt(m.x)}" y="${fmt(m.y - 3)}" class="lbl">${pct(u)}</text>`);
    }
    const c = at(0.62);
    labels.push(`<text x="${fmt(c.x)}" y="${fmt(c.y + 4)}" class="cap-lbl">${capacityText(l.gbps)}</text>`);
    if (down) {
      const m = at(0.47);
      labels.push(`<text x="${fmt(m.x)}" y="${fmt(m.y + 4)}" class="down-lbl" fill="${DOWN_COLOUR}">down ${esc(spanText(down))}</text>`);
    }
  }
  parts.push(...labels);
  for (const [name, p] of [...pos].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const dn = downNodes.get(name);
    const dash = dn ? ' stroke-dasharray="3 2"' : '';
    const shape =
      p.role === 'node'
        ? `<rect x="${fmt(p.x - 9)}" y="${fmt(p.y - 9)}" width="18" height="18" rx="3" class="node"${dash}/>`
        : p.role === 'external'
          ? `<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="9" class="ext"${dash}/>`
          : `<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="9" class="sw"${dash}/>`;
    const ny = p.role === 'node' ? p.y + 22 : p.y - 13;
    const note = dn ? `<text x="${fmt(p.x + 13)}" y="${fmt(p.y + 4)}" class="down-lbl note" fill="${DOWN_COLOUR}">down ${esc(spanText(dn))}</text>` : '';
    parts.push(`<g>${shape}<text x="${fmt(p.x)}" y="${fmt(ny)}" class="name">${esc(name)}</text>${note}</g>`);
  }
  // legend
  const legend: string[] = [];
  for (let i = 0; i <= 10; i++) legend.push(`<rect x="${10 + i * 14}" y="22" width="14" height="8" fill="${loadColour(i / 10)}"/>`);
  legend.push(`<text x="10" y="16" class="leg">peak utilization 0% .. 100%; 10G: capacity per direction${downLinks.size || downNodes.size ? '; dashed: down for a while' : ''}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="topology coloured by load">${parts.join('')}${legend.join('')}</svg>`;
}

/** events grouped by time (one marker per time), in time order */
function eventGroups(data: ReportData): { at: number; labels: string[] }[] {
  const byTime = new Map<number, string[]>();
  for (const ev of [...(data.events ?? [])].sort((a, b) => a.at - b.at)) byTime.set(ev.at, [...(byTime.get(ev.at) ?? []), ev.label]);
  return [...byTime].map(([at, labels]) => ({ at, labels }));
}

const EVENT_ROW = 12;
const MAX_EVENT_ROWS = 4;

/** Event labels in rows above the plot, each in the first row where it does not overlap the previous one. */
function placeEvents(data: ReportData, x: (t: number) => number): { at: number; labels: string[]; text: string; row: number }[] {
  const lastEnd: number[] = [];
  return eventGroups(data).map((g) => {
    const text = g.labels.length <= 2 ? g.labels.join(', ') : `${g.labels[0]} and ${g.labels.length - 1} more`;
    const x0 = x(g.at) + 3;
    const width = text.length * 5.6;
    let row = lastEnd.findIndex((end) => end < x0);
    if (row < 0) row = lastEnd.length < MAX_EVENT_ROWS ? lastEnd.length : lastEnd.indexOf(Math.min(...lastEnd));
    lastEnd[row] = x0 + width + 6;
    return { ...g, text, row };
  });
}

/**
 * What both time charts draw on their time axis, given the plot's top and bottom: the intervals a
 * link or node was down (shaded, behind everything) and a marker with a label per event time.
 */
function timeAxisDecor(data: ReportData, x: (t: number) => number, top: number, bottom: number, endS: number): { under: string[]; over: string[]; labelRows: number } {
  const under: string[] = [];
  const over: string[] = [];
  const spans = [...linkDownSpans(data, endS).values(), ...nodeDownSpans(data, endS).values()].flat();
  // the union of the spans: overlapping ones would shade darker for nothing
  const merged: Span[] = [];
  for (const s of [...spans].sort((a, b) => a.at - b.at || a.until - b.until)) {
    const last = merged[merged.length - 1];
    if (last && s.at <= last.until) last.until = Math.max(last.until, s.until);
    else merged.push({ ...s });
  }
  for (const s of merged) under.push(`<rect x="${fmt(x(s.at))}" y="${fmt(top)}" width="${fmt(Math.max(0, x(s.until) - x(s.at)))}" height="${fmt(bottom - top)}" fill="${DOWN_FILL}"/>`);
  const placed = placeEvents(data, x);
  const rows = placed.length ? Math.max(...placed.map((p) => p.row)) + 1 : 0;
  for (const p of placed) {
    const ly = top - 4 - (rows - 1 - p.row) * EVENT_ROW;
    over.push(
      `<g><title>${esc(`${fmt(p.at, 3)}s: ${p.labels.join('; ')}`)}</title><line x1="${fmt(x(p.at))}" y1="${fmt(ly + 2)}" x2="${fmt(x(p.at))}" y2="${fmt(bottom)}" stroke="${EVENT_COLOUR}" stroke-width="2" shape-rendering="crispEdges"/><text x="${fmt(x(p.at) + 3)}" y="${fmt(ly)}" class="ev" fill="${EVENT_COLOUR}">${esc(p.text)}</text></g>`,
    );
  }
  return { under, over, labelRows: rows };
}

/** the height of the band above a time chart's plot that holds the event labels */
function eventBand(data: ReportData): number {
  const placed = placeEvents(data, (t) => chartX(data, t));
  const rows = placed.length ? Math.max(...placed.map((p) => p.row)) + 1 : 0;
  return 15 + rows * EVENT_ROW;
}

function timeAxis(x: (t: number) => number, endS: number, yAxis: number): string[] {
  const parts: string[] = [];
  // a round step (1, 2, 2.5 or 5 times a power of ten) with at most 8 steps over the run
  const p = 10 ** Math.floor(Math.log10(endS / 8));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => endS / st <= 8 + 1e-9) ?? 10 * p;
  for (let k = 0; k * step <= endS + 1e-9 && k <= 100; k++) {
    const t = k * step;
    parts.push(`<text x="${fmt(x(t))}" y="${fmt(yAxis + 16)}" class="axis">${fmt(t, 3)}s</text>`);
  }
  parts.push(`<text x="${CHART.left + CHART.plotWidth / 2}" y="${fmt(yAxis + 31)}" class="axis">virtual time</text>`);
  return parts;
}

/** a step line over the series as SVG path data, split into the parts where `dashed(k)` holds and the rest */
function stepPaths(data: ReportData, endS: number, x: (t: number) => number, y: (v: number) => number, value: (k: number) => number | undefined, dashed: (k: number) => boolean = () => false): { solid: string; dashed: string } {
  let solid = '';
  let dash = '';
  let prev: { x: string; y: string; dashed: boolean } | undefined;
  data.series.forEach((e, k) => {
    const v = value(k);
    if (v === undefined) {
      prev = undefined; // not active: a gap
      return;
    }
    const x0 = fmt(x(e.at));
    const x1 = fmt(x(epochEnd(data, k, endS)));
    const yy = fmt(y(v));
    const d = dashed(k);
    // the riser from the previous step belongs to this step's part; a part goes on without a new M
    const start = !prev ? `M${x0},${yy}` : prev.dashed === d ? (prev.y === yy ? '' : `L${x0},${yy}`) : `M${prev.x},${prev.y}L${x0},${yy}`;
    const seg = `${start}L${x1},${yy}`;
    if (d) dash += seg;
    else solid += seg;
    prev = { x: x1, y: yy, dashed: d };
  });
  return { solid, dashed: dash };
}

function timeSvg(data: ReportData): string {
  const W = CHART.width;
  const L = CHART.left;
  const pw = CHART.plotWidth;
  const ph = CHART.plotHeight;
  const T = eventBand(data);
  const lanes = [
    ...[...linkDownSpans(data, chartEnd(data))].map(([key, spans]) => ({ name: `link ${key}`, spans })),
    ...[...nodeDownSpans(data, chartEnd(data))].map(([node, spans]) => ({ name: `node ${node}`, spans })),
  ];
  const LANE = 16;
  const H = T + ph + CHART.bottom + (lanes.length ? 8 + lanes.length * LANE : 0);
  const endS = chartEnd(data);
  const peak = new Map<string, number>();
  for (const e of data.series) for (const [id, u] of Object.entries(e.utilization)) peak.set(id, Math.max(peak.get(id) ?? 0, u));
  // links whose utilization is the same at every step share one line and one legend entry: drawn
  // apart, the later line would hide the earlier ones exactly
  const signature = (id: string): string => data.series.map((e) => fmt(e.utilization[id] ?? 0, 4)).join(',');
  const groups = new Map<string, string[]>();
  for (const [id] of [...peak].filter(([, u]) => u > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const key = signature(id);
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  const shownGroups = [...groups.values()].slice(0, PALETTE.length);
  const shown = shownGroups.map((g) => g[0]);
  const legendOf = (g: string[]): string => (g.length === 1 ? g[0] : g.length === 2 ? g.join(', ') : `${g[0]} and ${g.length - 1} more`);
  const yMax = Math.max(1, ...shown.map((id) => peak.get(id)!));
  const x = (t: number): number => chartX(data, t);
  const y = (u: number): number => T + ph - (u / yMax) * ph;
  const decor = timeAxisDecor(data, x, T, T + ph, endS);
  const parts: string[] = [...decor.under];
  // grid and axes
  for (let k = 0; k <= 4; k++) {
    const u = (yMax * k) / 4;
    parts.push(`<line x1="${L}" y1="${fmt(y(u))}" x2="${L + pw}" y2="${fmt(y(u))}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${fmt(y(u) + 4)}" class="axis ya">${pct(u)}</text>`);
  }
  parts.push(...timeAxis(x, endS, T + ph));
  parts.push(`<line x1="${L}" y1="${fmt(y(1))}" x2="${L + pw}" y2="${fmt(y(1))}" class="cap"/>`);
  // the direction of each line is in its name ("tor1->spine1": what tor1 sends toward spine1),
  // written in the legend and beside the line at its peak
  const nameBoxes: { x: number; y: number; w: number }[] = [];
  let legendY = T;
  shown.forEach((id, i) => {
    const g = shownGroups[i];
    const undirected = (d: string): string => {
      const [a, b] = d.split('->');
      return data.links.some((l) => l.a === a && l.b === b) ? `${a}|${b}` : `${b}|${a}`;
    };
    const keys = g.map(undirected);
    // while its link is down a line is dashed (it carries nothing then)
    const path = stepPaths(data, endS, x, y, (k) => data.series[k].utilization[id] ?? 0, (k) => keys.some((key) => (data.series[k].down ?? []).includes(key)));
    const title = `<title>${esc(g.join(', '))}</title>`;
    if (path.solid) parts.push(`<path d="${path.solid}" fill="none" stroke="${PALETTE[i]}" stroke-width="2">${title}</path>`);
    if (path.dashed) parts.push(`<path d="${path.dashed}" fill="none" stroke="${PALETTE[i]}" stroke-width="2" stroke-dasharray="3 3">${title}</path>`);
    // the legend entry: on two lines when one would run past the picture's right edge
    const names = legendOf(g);
    const peakText = `(peak ${pct(peak.get(id)!)})`;
    const twoLines = (names.length + 1 + peakText.length) * 6 > CHART.right - 36;
    parts.push(`<rect x="${L + pw + 12}" y="${legendY}" width="12" height="4" fill="${PALETTE[i]}"/>`);
    parts.push(
      twoLines
        ? `<text x="${L + pw + 30}" y="${legendY + 6}" class="leg">${esc(names)}<title>${esc(g.join(', '))}</title></text><text x="${L + pw + 30}" y="${legendY + 18}" class="leg">${peakText}</text>`
        : `<text x="${L + pw + 30}" y="${legendY + 6}" class="leg">${esc(names)} ${peakText}<title>${esc(g.join(', '))}</title></text>`,
    );
    legendY += twoLines ? 28 : 18;
    // the name beside the line: above the first epoch at its peak, moved up while it would overlap another
    const k = data.series.findIndex((e) => (e.utilization[id] ?? 0) === peak.get(id));
    if (k >= 0) {
      const name = g[0];
      const w = name.length * 5.6;
      const lx = Math.min(x(data.series[k].at) + 4, L + pw - w);
      let ly = y(peak.get(id)!) - 4;
      for (let n = 0; n < 6 && nameBoxes.some((b) => Math.abs(b.y - ly) < 11 && lx < b.x + b.w && b.x < lx + w); n++) ly -= 11;
      nameBoxes.push({ x: lx, y: ly, w });
      parts.push(`<text x="${fmt(lx)}" y="${fmt(Math.max(T + 9, ly))}" class="dir" fill="${PALETTE[i]}">${esc(name)}</text>`);
    }
  });
  if (shown.length === 0) parts.push(`<text x="${L + pw / 2}" y="${T + ph / 2}" class="axis">no traffic</text>`);
  // link and node state: one lane per link or node that was down at some time, dashed red while down
  lanes.forEach(({ name, spans }, i) => {
    const ly = T + ph + CHART.bottom + 8 + i * LANE + LANE / 2;
    parts.push(`<line x1="${L}" y1="${fmt(ly)}" x2="${L + pw}" y2="${fmt(ly)}" stroke="#9e9e9e" stroke-width="2"/>`);
    for (const s of spans) {
      parts.push(`<line x1="${fmt(x(s.at))}" y1="${fmt(ly)}" x2="${fmt(x(s.until))}" y2="${fmt(ly)}" stroke="${DOWN_COLOUR}" stroke-width="4" stroke-dasharray="6 3"/>`);
    }
    parts.push(`<text x="${L + pw + 12}" y="${fmt(ly + 4)}" class="leg">${esc(name)}: down ${esc(spanText(spans))}</text>`);
  });
  parts.push(...decor.over);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${fmt(H)}" viewBox="0 0 ${W} ${fmt(H)}" role="img" aria-label="link utilization over time">${parts.join('')}</svg>`;
}

/** the smallest of 1, 2, 4, 6, 8 times a power of ten at or above x (an axis top with round quarters) */
function niceCeiling(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= x - 1e-12) return m * p;
  return 10 * p;
}

/** Each demand's granted rate over time (a step line) against its ask (dotted, same colour). */
function demandSvg(data: ReportData): string {
  const W = CHART.width;
  const L = CHART.left;
  const pw = CHART.plotWidth;
  const ph = CHART.demandPlotHeight;
  const T = eventBand(data);
  const endS = chartEnd(data);
  const x = (t: number): number => chartX(data, t);
  const demands = data.summary.demands;
  const shown = demands.slice(0, DEMAND_PALETTE.length);
  const at = (k: number, index: number) => (data.series[k].demands ?? []).find((d) => d.index === index);
  let top = 0;
  for (const e of data.series) for (const d of e.demands ?? []) top = Math.max(top, d.asked, d.granted);
  const yMax = niceCeiling(top * 1.05);
  const y = (g: number): number => T + ph - (g / yMax) * ph;
  const decor = timeAxisDecor(data, x, T, T + ph, endS);
  const parts: string[] = [...decor.under];
  for (let k = 0; k <= 4; k++) {
    const g = (yMax * k) / 4;
    parts.push(`<line x1="${L}" y1="${fmt(y(g))}" x2="${L + pw}" y2="${fmt(y(g))}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${fmt(y(g) + 4)}" class="axis ya">${fmt(g, 3)}G</text>`);
  }
  parts.push(...timeAxis(x, endS, T + ph));
  let legendY = T;
  shown.forEach((d, i) => {
    const colour = DEMAND_PALETTE[i];
    const name = `#${d.index + 1} ${d.from} -> ${d.to}`;
    const asked = stepPaths(data, endS, x, y, (k) => at(k, d.index)?.asked);
    const granted = stepPaths(data, endS, x, y, (k) => at(k, d.index)?.granted, (k) => at(k, d.index)?.blocked === true);
    if (asked.solid) parts.push(`<path d="${asked.solid}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="1 3"><title>${esc(`${name}: asks`)}</title></path>`);
    if (granted.solid) parts.push(`<path d="${granted.solid}" fill="none" stroke="${colour}" stroke-width="2.5"><title>${esc(`${name}: granted`)}</title></path>`);
    if (granted.dashed) parts.push(`<path d="${granted.dashed}" fill="none" stroke="${colour}" stroke-width="2.5" stroke-dasharray="3 3"><title>${esc(`${name}: blocked`)}</title></path>`);
    parts.push(`<rect x="${L + pw + 12}" y="${legendY}" width="12" height="4" fill="${colour}"/>`);
    parts.push(`<text x="${L + pw + 30}" y="${legendY + 6}" class="leg">${esc(name)}</text>`);
    parts.push(`<text x="${L + pw + 30}" y="${legendY + 19}" class="leg muted-t">asks ${fmt(d.askedGbps, 3)}G, got ${fmt(d.grantedGbps, 3)}G mean</text>`);
    legendY += 30;
    if ((d.blocked ?? []).length) {
      parts.push(`<text x="${L + pw + 30}" y="${legendY + 2}" class="leg muted-t">blocked ${esc(spanText(d.blocked!))}</text>`);
      legendY += 13;
    }
  });
  if (demands.length > shown.length) parts.push(`<text x="${L + pw + 12}" y="${legendY + 6}" class="leg">and ${demands.length - shown.length} more (table below)</text>`), (legendY += 18);
  const H = Math.max(T + ph + CHART.bottom, legendY + 4);
  if (shown.length === 0) parts.push(`<text x="${L + pw / 2}" y="${T + ph / 2}" class="axis">no demands</text>`);
  parts.push(...decor.over);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${fmt(H)}" viewBox="0 0 ${W} ${fmt(H)}" role="img" aria-label="granted rate per demand over time">${parts.join('')}</svg>`;
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The whole page. */
export function renderReport(data: ReportData): string {
  const s = data.summary;
  const status = data.ok === undefined ? '' : data.ok ? '<span class="ok">all expectations hold</span>' : '<span class="bad">some expectations fail</span>';
  const demandRows = s.demands.map((d) => {
    const ratio = d.askedGbps > 0 ? d.grantedGbps / d.askedGbps : 1;
    return [
      String(d.index + 1), // #N counts from 1, as fabric validate and fabric sim print it (docs/contract.md)
      esc(d.from),
      esc(d.to),
      fmt(d.askedGbps, 3),
      fmt(d.grantedGbps, 3),
      fmt(d.minGrantedGbps, 3),
      `<span class="bar"><span style="width:${fmt(Math.min(1, ratio) * 100, 1)}%"></span></span> ${pct(ratio)}` +
        // a blocked demand carries nothing while blocked: when and why (docs/simulator.md "Blocked demands")
        (d.blocked ?? []).map((b) => `<br><span class="bad">blocked ${b.at === b.until ? `at ${b.at}s` : `${b.at}s-${b.until}s`}: ${esc(b.reason)}</span>`).join(''),
    ];
  });
  const changeRows = s.rebalance.changes.map((c) => {
    const what =
      c.kind === 'pin'
        ? `pin ${esc(/^\d+$/.test(c.demand) ? `traffic[${c.demand}]` : c.demand)} via ${esc(c.path.join(', '))}`
        : c.kind === 'unpin'
          ? `unpin ${esc(c.demand)}`
          : c.kind === 'meter'
          ? `meter ${esc(c.pod)} at ${esc(c.node)}: ${fmt(c.gbps, 3)} Gbit/s (hot ${esc(c.link)})`
          : c.kind === 'unmeter'
            ? `lift the meter on ${esc(c.pod)} at ${esc(c.node)}`
            : c.kind === 'weights'
              ? `service ${esc(c.service)} bucket weights ${c.weights ? esc(Object.entries(c.weights).map(([p, w]) => `${p}=${w}`).join(', ')) : 'equal again'}`
              : `move ${esc(c.pod)} from ${esc(c.from)} to ${esc(c.to)} (keeps its IP)`;
    return [`${fmt(c.at, 3)}s`, esc(c.kind), what];
  });
  const expRows = (data.expectations ?? []).map((e) => [
    String(e.index + 1),
    `${fmt(e.at, 3)}s`,
    esc(e.kind),
    e.ok ? '<span class="ok">ok</span>' : '<span class="bad">FAIL</span>',
    e.value === undefined ? '' : fmt(e.value, 4),
    esc(e.detail),
  ]);
  const linkRows = s.links.map((l) => [esc(`${l.between[0]} – ${l.between[1]}`), `<span class="chip" style="background:${loadColour(l.maxUtilization)}"></span> ${pct(l.maxUtilization)}`]);
  const eventRows = [...(data.events ?? [])].sort((a, b) => a.at - b.at).map((e) => [`${fmt(e.at, 3)}s`, esc(e.label)]);
  const anyDown = data.series.some((e) => (e.down ?? []).length > 0 || (e.nodesDown ?? []).length > 0);
  const key = [
    (data.events ?? []).length ? `Vertical <span style="color:${EVENT_COLOUR}">purple</span> lines: the scenario's events.` : '',
    anyDown ? `<span style="background:${DOWN_FILL}">Shaded</span>: a link or node is down.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const opt =
    s.rebalance.optimumMaxUtilization === undefined
      ? ''
      : `<p>Peak offered utilization ${fmt(s.rebalance.peakOfferedMaxUtilization, 4)} against the LP optimum λ* = ${fmt(s.rebalance.optimumMaxUtilization, 4)} for the same demands.</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>${esc(data.scenario)}: bandwidth report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:${PAGE.marginPx}px;color:#222;max-width:${PAGE.maxWidthPx}px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.muted{color:#777} .ok{color:#1a7f37;font-weight:600} .bad{color:#c62828;font-weight:600}
table{border-collapse:collapse;font-size:13px} th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
svg{display:block;border:${PAGE.svgBorderPx}px solid #eee;background:#fcfcfc}
svg .lbl{font-size:10px;text-anchor:middle;fill:#333;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px} svg .name{font-size:11px;text-anchor:middle;fill:#111;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px}
svg .axis{font-size:11px;text-anchor:middle;fill:#555} svg .ya{text-anchor:end} svg .leg{font-size:11px;text-anchor:start;fill:#333} svg .grid{stroke:#e4e4e4} svg .cap{stroke:#c62828;stroke-dasharray:4 3}
svg .cap-lbl{font-size:10px;text-anchor:middle;fill:#445;font-weight:600;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px} svg .down-lbl{font-size:10px;text-anchor:middle;font-weight:600;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px}
svg .note{text-anchor:start} svg .ev{font-size:10px;text-anchor:start} svg .dir{font-size:10px;text-anchor:start;font-weight:600;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px} svg .muted-t{fill:#777}
svg .node{fill:#fff;stroke:#444} svg .sw{fill:#dde6f0;stroke:#446} svg .ext{fill:#f3e9d2;stroke:#864}
.bar{display:inline-block;width:80px;height:8px;background:#eee;vertical-align:middle} .bar span{display:block;height:8px;background:#1f77b4}
.chip{display:inline-block;width:10px;height:10px;vertical-align:middle;border:1px solid #999}
</style></head><body>
<h1>${esc(data.scenario)}</h1>
<p class="muted">bandwidth report, 0 – ${fmt(data.endS, 3)} s of virtual time${s.rebalance.policies.length ? `; rebalance: ${esc(s.rebalance.policies.join(', '))}` : ''}. ${status}</p>
<h2>Topology, coloured by each link's peak utilization</h2>
${topologySvg(data)}
<h2>Link utilization over time</h2>
${timeSvg(data)}
<p class="muted">Each line is one direction of a link (tor1-&gt;spine1: what tor1 sends toward spine1). ${key}</p>
${opt}
<h2>Granted rate per demand over time</h2>
${demandSvg(data)}
<p class="muted">Solid: what the demand is granted; dotted, same colour: what it asks; dashed: blocked (it carries nothing). ${key}</p>
<h2>Demands: asked and granted (time-weighted mean while active)</h2>
${table(['#', 'from', 'to', 'asked Gbit/s', 'granted', 'min granted', 'share'], demandRows)}
<h2>Events</h2>
${table(['at', 'event'], eventRows)}
<h2>Rebalancing</h2>
${table(['at', 'kind', 'change'], changeRows)}
<h2>Expectations</h2>
${table(['#', 'at', 'kind', 'result', 'value', 'detail'], expRows)}
<h2>Links</h2>
${table(['link', 'peak utilization'], linkRows)}
</body></html>
`;
}
