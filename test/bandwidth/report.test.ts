/** The HTML/SVG report (sim/report-html.ts): well-formed, self-contained, deterministic, shows the load. */
import { BandwidthTimeline, ActiveDemand } from '../../sim/bandwidth-timeline';
import { loadColour, renderReport, reportDataFrom } from '../../sim/report-html';

/** A small XML well-formedness check: balanced tags, quoted attributes, known entities. */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|(<)|&([^;\s]*);|(&)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (m[5]) problems.push(`stray < at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    else if (m[7]) problems.push(`bare & at ${m.index}`);
    else if (m[6] !== undefined) {
      if (!/^(amp|lt|gt|quot|apos|#\d+)$/.test(m[6])) problems.push(`unknown entity &${m[6]};`);
    } else if (m[2]) {
      if (m[1]) {
        const open = stack.pop();
        if (open !== m[2]) problems.push(`</${m[2]}> closes <${open}>`);
      } else if (!m[4]) stack.push(m[2]);
    }
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(', ')}`);
  return problems;
}

const links = [
  { a: 'n1', b: 'l1', gbps: 10 }, { a: 'n2', b: 'l1', gbps: 10 }, { a: 'n3', b: 'l2', gbps: 10 }, { a: 'n4', b: 'l2', gbps: 10 },
  { a: 'l1', b: 's1', gbps: 40 }, { a: 'l1', b: 's2', gbps: 40 }, { a: 'l2', b: 's1', gbps: 40 }, { a: 'l2', b: 's2', gbps: 40 },
];
const d = (index: number, src: string, dst: string, gbps: number, spine = 's1'): ActiveDemand => ({
  index, from: `pod-${src}<&>`, to: `pod-${dst}`, fromPod: `pod-${src}`, src, dst, demandGbps: gbps,
  path: [`${src}->${src === 'n1' || src === 'n2' ? 'l1' : 'l2'}`, `${src === 'n1' || src === 'n2' ? 'l1' : 'l2'}->${spine}`, `${spine}->${dst === 'n3' || dst === 'n4' ? 'l2' : 'l1'}`, `${dst === 'n3' || dst === 'n4' ? 'l2' : 'l1'}->${dst}`],
});

function sample(): string {
  const tl = new BandwidthTimeline({ reportPolicies: ['limit'] });
  // the control loop's decision (a meter on pod-n1 from 2 s) as the timeline records it
  for (let t = 0; t <= 5; t++) {
    const meters = t >= 2 && t < 4 ? [{ pod: 'pod-n1', gbps: 4 }] : [];
    tl.step(t, { links, demands: t < 4 ? [d(0, 'n1', 'n3', 30), d(1, 'n2', 'n3', 4), d(2, 'n4', 'n1', 6)] : [d(2, 'n4', 'n1', 6)], meters });
    if (t === 2) tl.recordChanges(t, [{ kind: 'meter', pod: 'pod-n1', node: 'n1', gbps: 4, link: 'l2->n3' }]);
    if (t === 5) tl.recordChanges(t, [{ kind: 'unmeter', pod: 'pod-n1', node: 'n1' }, { kind: 'unpin', demand: 'traffic-0' }]);
  }
  const data = reportDataFrom('report-test', tl, links, 6, {
    ok: false,
    expectations: [{ index: 0, at: 2, kind: 'maxLinkUtilization', ok: false, value: 1, detail: 'l2->n3' }],
  });
  return renderReport(data);
}

describe('renderReport', () => {
  const html = sample();

  test('is one self-contained, well-formed page with three SVG figures', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(xmlProblems(html)).toEqual([]);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(3); // topology, link utilization over time, granted rate per demand over time
    for (const svg of svgs) expect(xmlProblems(svg)).toEqual([]);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)|NaN|undefined|Infinity/);
  });

  test('colours the saturated link red and draws every link and switch', () => {
    // n3's downlink carries 10 of 10 G: 100%
    expect(html).toContain(`stroke="${loadColour(1)}"`);
    expect(loadColour(1)).toBe('rgb(240,30,60)');
    expect(loadColour(0)).toBe('rgb(60,180,60)');
    for (const n of ['n1', 'n2', 'n3', 'n4', 'l1', 'l2', 's1', 's2']) expect(html).toContain(`>${n}</text>`);
    const topology = (html.match(/<svg[\s\S]*?<\/svg>/g) ?? [])[0];
    expect((topology?.match(/<line x1=/g) ?? []).length).toBe(links.length);
    expect(html).toContain('l2-&gt;n3 (peak 100%)');
  });

  test('escapes names and lists demands, changes and expectations', () => {
    expect(html).toContain('pod-n1&lt;&amp;&gt;');
    expect(html).toContain('<td>maxLinkUtilization</td>');
    expect(html).toMatch(/meter pod-n1 at n1/);
    expect(html).toMatch(/unpin traffic-0/);
  });

  test('is deterministic', () => {
    expect(sample()).toBe(html);
  });
});
