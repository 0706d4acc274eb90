import * as fs from 'fs';
import * as path from 'path';
import { PIPELINE, TABLE, checkFlow, PipelineError, renderPipelineTables } from '../../controller/pipeline';
import type { Flow } from '../../fabric/openflow/flow';

const flow = (table: number, match: Flow['match'], instructions: Flow['instructions']): Flow => ({ table, priority: 1, match, instructions, cookie: 0n });

describe('the pipeline declaration', () => {
  it('numbers tables by declaration order and only declares forward next tables', () => {
    PIPELINE.forEach((t, i) => {
      expect(TABLE[t.name]).toBe(i);
      for (const n of t.next) expect(TABLE[n]).toBeGreaterThan(i);
      if (t.miss !== 'drop') expect(t.next).toContain(t.miss);
    });
    expect(PIPELINE.map((t) => t.name)).toEqual([
      'classifier', 'spoof_guard', 'arp_responder', 'metering', 'conntrack', 'service_lb', 'endpoint_dnat', 'policy', 'snat', 'l3_forwarding', 'l2_output',
    ]);
  });

  it('refuses a flow matching an undeclared field', () => {
    expect(() => checkFlow(flow(TABLE.l2_output, { tcp_dst: { value: 1n } }, {}))).toThrow(PipelineError);
  });

  it('refuses a backward goto, a backward ct recirculation and an undeclared next table', () => {
    expect(() => checkFlow(flow(TABLE.snat, {}, { gotoTable: TABLE.conntrack }))).toThrow(/backwards/);
    expect(() => checkFlow(flow(TABLE.snat, {}, { apply: [{ type: 'ct', table: TABLE.service_lb }] }))).toThrow(/backwards/);
    expect(() => checkFlow(flow(TABLE.classifier, {}, { gotoTable: TABLE.l2_output }))).toThrow(/may not continue/);
    expect(() => checkFlow(flow(99, {}, {}))).toThrow(/not declared/);
  });

  it('refuses a flow whose group recirculates backwards', () => {
    const groups = new Map([[7, { groupId: 7, type: 'select' as const, buckets: [{ actions: [{ type: 'ct' as const, table: TABLE.conntrack }] }] }]]);
    expect(() => checkFlow(flow(TABLE.service_lb, {}, { apply: [{ type: 'group', groupId: 7 }] }), groups)).toThrow(/backwards/);
    expect(() => checkFlow(flow(TABLE.service_lb, {}, { apply: [{ type: 'group', groupId: 8 }] }), groups)).toThrow(/missing group/);
  });

  it('accepts a declared flow', () => {
    expect(() => checkFlow(flow(TABLE.l3_forwarding, { eth_type: { value: 0x800n }, ipv4_dst: { value: 1n } }, { gotoTable: TABLE.l2_output }))).not.toThrow();
  });

  it('docs/pipeline.md describes the same tables (rendered from PIPELINE)', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'pipeline.md'), 'utf8');
    const m = /<!-- tables:begin[^>]*-->\n([\s\S]*)<!-- tables:end -->/.exec(doc);
    expect(m).not.toBeNull();
    expect(m![1].trim()).toBe(renderPipelineTables().trim());
  });
});
