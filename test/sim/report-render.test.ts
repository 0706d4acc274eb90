/**
 * The HTML report as a person sees it (issue #18 item 9): `fabric sim --report` of a scenario whose
 * link tor1|spine1 is down from 2 s to 4 s, rendered by headless Chromium; the screenshot is decoded
 * (pngjs) and its pixels checked against the geometry sim/report-html.ts exports: the event markers
 * stand at the columns of 2 s and 4 s (and nowhere else), the down interval is shaded between them,
 * the utilization and per-demand lines are drawn, and the page is not blank.
 *
 * Needs the Debian package chromium (test/setup/provision.sh): without it the test fails, saying so.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PNG } from 'pngjs';
import { parseScenarioText } from '../../topology';
import { runScenarioDetailed } from '../../sim';
import { htmlReport } from '../../cli/commands/sim';
import { CHART, DEMAND_PALETTE, DOWN_FILL, EVENT_COLOUR, PAGE, chartX } from '../../sim/report-html';

const SCENARIO = `name: link-down-2-4
seed: 1
cluster: { podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16 }
fabric:
  switches: [ { name: spine1 }, { name: spine2 }, { name: tor1 }, { name: tor2 } ]
  nodes:
    - { name: node1, ip: 198.51.100.61 }
    - { name: node2, ip: 198.51.100.62 }
  links:
    - { between: [node1, tor1], gbps: 40 }
    - { between: [node2, tor2], gbps: 40 }
    - { between: [tor1, spine1], gbps: 10 }
    - { between: [tor1, spine2], gbps: 10 }
    - { between: [tor2, spine1], gbps: 10 }
    - { between: [tor2, spine2], gbps: 10 }
pods:
  - { name: a-1, node: node1, labels: { app: a } }
  - { name: a-2, node: node1, labels: { app: a } }
  - { name: b-1, node: node2, labels: { app: b } }
traffic:
  - { from: a-1, to: b-1, gbps: 4 }
  - { from: a-2, to: b-1, gbps: 8, at: 1s, until: 5s }
events:
  - { at: 2s, link: down, between: [tor1, spine1] }
  - { at: 4s, link: up, between: [tor1, spine1] }
expect:
  - { at: 3s, reach: { from: a-1, to: b-1 } }
  - { at: 6s, maxLinkUtilization: 1 }
`;

const WIDTH = 1400;
const HEIGHT = 2000;

function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

const rgb = (hex: string): [number, number, number] => [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];

/** per screenshot column, how many pixels have exactly this colour */
function columnCounts(png: PNG, hex: string): number[] {
  const [r, g, b] = rgb(hex);
  const counts = new Array<number>(png.width).fill(0);
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) counts[x]++;
    }
  }
  return counts;
}

function render(): { html: string; run: ReturnType<typeof runScenarioDetailed>['run'] } {
  const parsed = parseScenarioText(SCENARIO, 'link-down-2-4.yaml');
  if (!parsed.scenario) throw new Error(parsed.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  const { report, run } = runScenarioDetailed(parsed.scenario);
  return { html: htmlReport(report, run), run };
}

describe('the HTML report of a run with events and a down link', () => {
  test('is deterministic and self-contained, and says in words what it draws', () => {
    const a = render().html;
    expect(render().html).toBe(a);
    expect(a).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)|NaN|undefined|Infinity/);
    expect(a.match(/<svg[\s\S]*?<\/svg>/g) ?? []).toHaveLength(3);
    // one marker per event time, in both time charts
    expect(a.split(`stroke="${EVENT_COLOUR}"`).length - 1).toBe(4);
    // the link-state lane and the topology's note
    expect(a).toContain('link tor1|spine1: down 2–4s');
    expect(a).toMatch(/stroke-dasharray="8 5"><title>tor1 -&gt; spine1: [^<]*down 2–4s<\/title>/);
  });
});

describe('the HTML report, rendered by headless Chromium', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fabric-report-render-'));
  });
  afterAll(() => {
    if (dir && !process.env.KEEP_REPORT_RENDER) rmSync(dir, { recursive: true, force: true });
  });

  test('shows the events at 2 s and 4 s, the down interval, and the per-demand rates', () => {
    const chromium = findChromium();
    if (!chromium) {
      throw new Error('chromium is not installed: this test renders the HTML report with headless Chromium. Run  bash test/setup/provision.sh  as root (it installs chromium with the other test packages).');
    }
    const { html, run } = render();
    // what the picture says in words, before looking at pixels
    expect(html).toContain('link tor1|spine1 down');
    expect(html).toContain('link tor1|spine1 up');
    expect(html).toContain('#1 a-1 -&gt; b-1');
    expect(html).toContain('#2 a-2 -&gt; b-1');
    expect(html).toContain('down 2–4s');
    expect(html).toContain('>10G</text>');
    expect(html).toContain('>40G</text>');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);

    const page = join(dir, 'report.html');
    const shot = join(dir, 'report.png');
    writeFileSync(page, html);
    const r = spawnSync(
      chromium,
      [
        '--headless',
        '--no-sandbox', // as root Chromium refuses to start without it
        '--disable-gpu',
        '--hide-scrollbars',
        '--force-device-scale-factor=1', // one CSS pixel, one screenshot pixel
        '--no-first-run',
        `--user-data-dir=${join(dir, 'profile')}`,
        `--screenshot=${shot}`,
        `--window-size=${WIDTH},${HEIGHT}`,
        `file://${page}`,
      ],
      { encoding: 'utf8', timeout: 25_000 },
    );
    if (!existsSync(shot)) throw new Error(`chromium wrote no screenshot (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}): ${(r.stderr ?? '').slice(-2000)}`);
    const png = PNG.sync.read(readFileSync(shot));
    expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);

    // not blank: plenty of non-white pixels in many colours
    let ink = 0;
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) {
      const [R, G, B] = [png.data[i], png.data[i + 1], png.data[i + 2]];
      if (R < 240 || G < 240 || B < 240) ink++;
      colours.add((R << 16) | (G << 8) | B);
    }
    expect(ink).toBeGreaterThan(20_000);
    expect(colours.size).toBeGreaterThan(50);

    // where a time lands on the screenshot: the time charts' SVGs start at the page's margin
    const bw = run.bandwidthModel()!;
    const geometry = { endS: bw.endS, series: bw.timeline.epochs.map((e) => ({ at: e.at, utilization: {} })) };
    const X = (t: number): number => PAGE.marginPx + PAGE.svgBorderPx + chartX(geometry, t);
    expect(X(6) - X(0)).toBeCloseTo((CHART.plotWidth * 6) / Math.max(6, bw.endS), 6);

    // the event markers: tall runs of the marker colour at 2 s and 4 s, and at no other column
    const markers = columnCounts(png, EVENT_COLOUR);
    const tall = markers.map((n, x) => (n >= 150 ? x : -1)).filter((x) => x >= 0);
    const markerAt = (t: number): number[] => tall.filter((x) => Math.abs(x - X(t)) <= 2);
    expect({ at2s: markerAt(2).length > 0, at4s: markerAt(4).length > 0, expected: [X(2), X(4)], found: tall }).toEqual({ at2s: true, at4s: true, expected: [X(2), X(4)], found: tall });
    expect(tall.filter((x) => Math.abs(x - X(2)) > 2 && Math.abs(x - X(4)) > 2)).toEqual([]);

    // the link is down from 2 s to 4 s: shaded columns between the markers, none elsewhere on the axis
    const shade = columnCounts(png, DOWN_FILL);
    const unshadedInside: number[] = [];
    for (let x = Math.ceil(X(2)) + 3; x <= Math.floor(X(4)) - 3; x++) if (shade[x] < 150) unshadedInside.push(x);
    expect(unshadedInside).toEqual([]);
    const shadedOutside: number[] = [];
    for (let x = Math.ceil(X(0)); x <= Math.floor(X(6)); x++) if ((x < X(2) - 2 || x > X(4) + 2) && shade[x] >= 60) shadedOutside.push(x);
    expect(shadedOutside).toEqual([]);

    // the per-demand chart: each demand's line colour is drawn along the time axis
    for (const colour of DEMAND_PALETTE.slice(0, 2)) {
      const counts = columnCounts(png, colour);
      const inPlot = counts.slice(Math.ceil(X(0)), Math.floor(X(6))).filter((n) => n > 0).length;
      expect({ colour, columns: inPlot > 150 }).toEqual({ colour, columns: true });
    }
  }, 30_000);
});
