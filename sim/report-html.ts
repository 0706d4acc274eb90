/**
 * `fabric sim FILE --report out.html`: one self-contained HTML page (inline CSS and SVG, no script,
 * nothing fetched) that shows a run's bandwidth picture: the topology coloured by each link's peak
 * utilization, link utilization over time (step lines: the model is piecewise constant), what each
 * demand asked and got, the rebalancer's changes, and the expectations.
 *
 * Pure: data in, string out. Deterministic (same data, same bytes).
 */
import type { BandwidthTimeline, RunBandwidthSummary } from './bandwidth-timeline';

export interface ReportSwitch {
  name: string;
  role: 'node' | 'fabric' | 'external';
}

export interface ReportData {
  scenario: string;
  endS: number;
  ok?: boolean;
  switches?: ReportSwitch[];
  links: { a: string; b: string; gbps: number }[];
  /** one entry per epoch: utilization per directed link "a->b" */
  series: { at: number; utilization: Record<string, number> }[];
  summary: RunBandwidthSummary;
  expectations?: { index: number; at: number; kind: string; ok: boolean; value?: number; detail: string }[];
}

/** The report's data from a timeline (the runner adds switches, expectations and ok). */
export function reportDataFrom(
  scenario: string,
  timeline: BandwidthTimeline,
  links: readonly { a: string; b: string; gbps: number }[],
  endS: number,
  extra: Pick<ReportData, 'switches' | 'expectations' | 'ok'> = {},
): ReportData {
  return {
    scenario,
    endS,
    links: links.map((l) => ({ a: l.a, b: l.b, gbps: l.gbps })),
    series: timeline.epochs.map((e) => ({ at: e.at, utilization: Object.fromEntries(e.linkUtilization) })),
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

function topologySvg(data: ReportData): string {
  const W = 900;
  const H = 360;
  const pos = layout(data, W, H);
  const peak = new Map<string, number>();
  for (const e of data.series) for (const [id, u] of Object.entries(e.utilization)) peak.set(id, Math.max(peak.get(id) ?? 0, u));
  const maxGbps = Math.max(1, ...data.links.map((l) => l.gbps));
  const parts: string[] = [];
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
    const title = `${l.a} -> ${l.b}: ${pct(ab)} peak; ${l.b} -> ${l.a}: ${pct(ba)} peak; ${fmt(l.gbps)} Gbit/s per direction`;
    parts.push(
      `<line x1="${fmt(p.x)}" y1="${fmt(p.y)}" x2="${fmt(q.x)}" y2="${fmt(q.y)}" stroke="${loadColour(u)}" stroke-width="${fmt(w)}"><title>${esc(title)}</title></line>`,
    );
    if (u > 0) {
      // a third of the way from the upper end: labels of links that cross mid-way do not collide
      const [hi, lo] = p.y <= q.y ? [p, q] : [q, p];
      const mx = hi.x + (lo.x - hi.x) * 0.33;
      const my = hi.y + (lo.y - hi.y) * 0.33;
      parts.push(`<text x="${fmt(mx)}" y="${fmt(my - 3)}" class="lbl">${pct(u)}</text>`);
    }
  }
  for (const [name, p] of [...pos].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const shape =
      p.role === 'node'
        ? `<rect x="${fmt(p.x - 9)}" y="${fmt(p.y - 9)}" width="18" height="18" rx="3" class="node"/>`
        : p.role === 'external'
          ? `<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="9" class="ext"/>`
          : `<circle cx="${fmt(p.x)}" cy="${fmt(p.y)}" r="9" class="sw"/>`;
    parts.push(`<g>${shape}<text x="${fmt(p.x)}" y="${fmt(p.role === 'node' ? p.y + 22 : p.y - 13)}" class="name">${esc(name)}</text></g>`);
  }
  // legend
  const legend: string[] = [];
  for (let i = 0; i <= 10; i++) legend.push(`<rect x="${10 + i * 14}" y="22" width="14" height="8" fill="${loadColour(i / 10)}"/>`);
  legend.push(`<text x="10" y="16" class="leg">peak utilization 0% .. 100%</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="topology coloured by load">${parts.join('')}${legend.join('')}</svg>`;
}

function timeSvg(data: ReportData): string {
  const W = 900;
  const H = 300;
  const L = 50;
  const R = 250;
  const T = 15;
  const B = 35;
  const pw = W - L - R;
  const ph = H - T - B;
  const endS = Math.max(data.endS, ...data.series.map((e) => e.at), 1e-9);
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
  const x = (t: number): number => L + (t / endS) * pw;
  const y = (u: number): number => T + ph - (u / yMax) * ph;
  const parts: string[] = [];
  // grid and axes
  for (let k = 0; k <= 4; k++) {
    const u = (yMax * k) / 4;
    parts.push(`<line x1="${L}" y1="${fmt(y(u))}" x2="${L + pw}" y2="${fmt(y(u))}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${fmt(y(u) + 4)}" class="axis ya">${pct(u)}</text>`);
  }
  const ticks = 6;
  for (let k = 0; k <= ticks; k++) {
    const t = (endS * k) / ticks;
    parts.push(`<text x="${fmt(x(t))}" y="${H - B + 16}" class="axis">${fmt(t)}s</text>`);
  }
  parts.push(`<line x1="${L}" y1="${fmt(y(1))}" x2="${L + pw}" y2="${fmt(y(1))}" class="cap"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 4}" class="axis">virtual time</text>`);
  shown.forEach((id, i) => {
    const pts: string[] = [];
    data.series.forEach((e, k) => {
      const until = k + 1 < data.series.length ? data.series[k + 1].at : endS;
      const u = e.utilization[id] ?? 0;
      pts.push(`${fmt(x(e.at))},${fmt(y(u))}`, `${fmt(x(Math.max(e.at, until)))},${fmt(y(u))}`);
    });
    const g = shownGroups[i];
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${PALETTE[i]}" stroke-width="2"><title>${esc(g.join(', '))}</title></polyline>`);
    parts.push(`<rect x="${L + pw + 12}" y="${T + i * 18}" width="12" height="4" fill="${PALETTE[i]}"/>`);
    parts.push(`<text x="${L + pw + 30}" y="${T + i * 18 + 6}" class="leg">${esc(legendOf(g))} (peak ${pct(peak.get(id)!)})<title>${esc(g.join(', '))}</title></text>`);
  });
  if (shown.length === 0) parts.push(`<text x="${L + pw / 2}" y="${T + ph / 2}" class="axis">no traffic</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="link utilization over time">${parts.join('')}</svg>`;
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
      String(d.index),
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
    String(e.index),
    `${fmt(e.at, 3)}s`,
    esc(e.kind),
    e.ok ? '<span class="ok">ok</span>' : '<span class="bad">FAIL</span>',
    e.value === undefined ? '' : fmt(e.value, 4),
    esc(e.detail),
  ]);
  const linkRows = s.links.map((l) => [esc(`${l.between[0]} – ${l.between[1]}`), `<span class="chip" style="background:${loadColour(l.maxUtilization)}"></span> ${pct(l.maxUtilization)}`]);
  const opt =
    s.rebalance.optimumMaxUtilization === undefined
      ? ''
      : `<p>Peak offered utilization ${fmt(s.rebalance.peakOfferedMaxUtilization, 4)} against the LP optimum λ* = ${fmt(s.rebalance.optimumMaxUtilization, 4)} for the same demands.</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>${esc(data.scenario)}: bandwidth report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.muted{color:#777} .ok{color:#1a7f37;font-weight:600} .bad{color:#c62828;font-weight:600}
table{border-collapse:collapse;font-size:13px} th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
svg{display:block;border:1px solid #eee;background:#fcfcfc}
svg .lbl{font-size:10px;text-anchor:middle;fill:#333;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px} svg .name{font-size:11px;text-anchor:middle;fill:#111;paint-order:stroke;stroke:#fcfcfc;stroke-width:3px}
svg .axis{font-size:11px;text-anchor:middle;fill:#555} svg .ya{text-anchor:end} svg .leg{font-size:11px;text-anchor:start;fill:#333} svg .grid{stroke:#e4e4e4} svg .cap{stroke:#c62828;stroke-dasharray:4 3}
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
${opt}
<h2>Demands: asked and granted (time-weighted mean while active)</h2>
${table(['#', 'from', 'to', 'asked Gbit/s', 'granted', 'min granted', 'share'], demandRows)}
<h2>Rebalancing</h2>
${table(['at', 'kind', 'change'], changeRows)}
<h2>Expectations</h2>
${table(['#', 'at', 'kind', 'result', 'value', 'detail'], expRows)}
<h2>Links</h2>
${table(['link', 'peak utilization'], linkRows)}
</body></html>
`;
}
