/**
 * validity.ts against Open vSwitch: for hand-picked and generated flows (valid ones from
 * arbitraries.ts, and invalid variants of each rule), OVS's verdict on our bytes (ofp-print:
 * "***decode error" or not) equals ours (flowProblems non-empty or empty); the encoder refuses
 * exactly those; decode marks them and, re-encoded leniently, gives back the same bytes.
 */
import fc from 'fast-check';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { OpenFlowError } from '../../fabric/openflow/errors';
import type { Action, Flow, Match } from '../../fabric/openflow/flow';
import { OFPP } from '../../fabric/openflow/flow';
import type * as M from '../../fabric/openflow/messages';
import { flowText } from '../../fabric/openflow/ofctl';
import { flowProblems, type FlowRule } from '../../fabric/openflow/validity';
import { arbFlow } from './arbitraries';
import { DECODE_FAILURE, ofctl, ovsPrintMany } from './oracle';

const SEED = 20240611;
const IP = { eth_type: { value: 0x800n } };
const ARP = { eth_type: { value: 0x806n } };
const base = (match: Match = {}, instructions: Flow['instructions'] = {}, table = 0): Flow => ({ table, priority: 100, cookie: 0n, match, instructions });
const apply = (match: Match, ...actions: Action[]): Flow => base(match, { apply: actions });

/** [name, flow, the rule we expect (undefined: valid)] */
const CASES: [string, Flow, FlowRule | undefined][] = [
  ['vlan_vid=0x1009', base({ vlan_vid: { value: 0x1009n } }), undefined],
  ['vlan_vid=0xf009', base({ vlan_vid: { value: 0xf009n } }), 'value-range'],
  ['vlan_vid=0x1001/0x1000', base({ vlan_vid: { value: 0x1001n, mask: 0x1000n } }), 'mask-bits'],
  ['vlan_vid=0x1000/0xf000', base({ vlan_vid: { value: 0x1000n, mask: 0xf000n } }), undefined],
  ['ip_dscp=63', base({ ...IP, ip_dscp: { value: 63n } }), undefined],
  ['ip_dscp=0xf0', base({ ...IP, ip_dscp: { value: 0xf0n } }), 'value-range'],
  ['ip_ecn=4', base({ ...IP, ip_ecn: { value: 4n } }), 'value-range'],
  ['arp_op=255', base({ ...ARP, arp_op: { value: 255n } }), undefined],
  ['arp_op=0x1111', base({ ...ARP, arp_op: { value: 0x1111n } }), 'value-range'],
  ['ct_state=0x100', base({ ct_state: { value: 0x100n } }), 'value-range'],
  ['ipv6_label=0x100000', base({ eth_type: { value: 0x86ddn }, ipv6_label: { value: 0x100000n } }), 'value-range'],
  ['vlan_pcp without VLAN', base({ vlan_pcp: { value: 3n } }), 'prerequisite'],
  ['vlan_pcp with vlan_vid=0', base({ vlan_vid: { value: 0n }, vlan_pcp: { value: 3n } }), 'prerequisite'],
  ['vlan_pcp with VLAN present', base({ vlan_vid: { value: 0x1000n, mask: 0x1000n }, vlan_pcp: { value: 3n } }), undefined],
  ['reg0=0x3/0x1', base({ reg0: { value: 3n, mask: 1n } }), 'mask-bits'],
  ['metadata=0x3/0x1', base({ metadata: { value: 3n, mask: 1n } }), 'mask-bits'],
  ['ipv4_src bits outside mask', base({ ...IP, ipv4_src: { value: 0x0a000001n, mask: 0xffffff00n } }), 'mask-bits'],
  ['tcp_dst without ip_proto', base({ ...IP, tcp_dst: { value: 80n } }), 'prerequisite'],
  ['output:ANY', apply({}, { type: 'output', port: OFPP.ANY }), 'reserved-port'],
  ['output:0xffffff00', apply({}, { type: 'output', port: 0xffffff00 }), 'reserved-port'],
  ['output:IN_PORT', apply({}, { type: 'output', port: OFPP.IN_PORT }), undefined],
  ['write output:ANY', base({}, { write: [{ type: 'output', port: OFPP.ANY }] }), 'reserved-port'],
  ['goto earlier table', base({}, { gotoTable: 2 }, 3), 'goto-order'],
  ['goto same table', base({}, { gotoTable: 3 }, 3), 'goto-order'],
  ['goto later table', base({}, { gotoTable: 4 }, 3), undefined],
  ['ct zone from 8 bits', apply(IP, { type: 'ct', zone: { field: 'reg0', ofs: 0, nBits: 8 } }), 'ct-zone-width'],
  ['ct zone from 32 bits', apply(IP, { type: 'ct', zone: { field: 'reg0' } }), 'ct-zone-width'],
  ['ct zone from 16 bits', apply(IP, { type: 'ct', zone: { field: 'reg0', ofs: 16, nBits: 16 } }), undefined],
  ['ct without ip', apply({}, { type: 'ct' }), 'prerequisite'],
  ['ct in ct', apply(IP, { type: 'ct', commit: true, exec: [{ type: 'ct' }] }), 'ct-nesting'],
  ['output in ct', apply(IP, { type: 'ct', commit: true, exec: [{ type: 'output', port: 1 }] }), 'ct-nesting'],
  ['ct exec without commit', apply(IP, { type: 'ct', exec: [{ type: 'set_field', field: 'ct_mark', value: 1n }] }), 'ct-nesting'],
  ['ct(commit,exec(ct_mark))', apply(IP, { type: 'ct', commit: true, exec: [{ type: 'set_field', field: 'ct_mark', value: 1n }] }), undefined],
  ['ct(commit) +inv', apply({ ...IP, ct_state: { value: 0x30n, mask: 0x30n } }, { type: 'ct', commit: true }), 'ct-commit'],
  ['set_field ct_mark outside ct', apply(IP, { type: 'set_field', field: 'ct_mark', value: 1n }), 'ct-field-outside-ct'],
  ['move into ct_mark', apply(IP, { type: 'move', src: { field: 'reg0' }, dst: { field: 'ct_mark' } }), 'ct-field-outside-ct'],
  ['set_field ct_state', apply(IP, { type: 'set_field', field: 'ct_state', value: 1n }), 'not-settable'],
  ['set_field in_port', apply({}, { type: 'set_field', field: 'in_port', value: 1n }), 'not-settable'],
  ['set_field tcp_dst without tcp', apply({}, { type: 'set_field', field: 'tcp_dst', value: 1n }), 'prerequisite'],
  ['set_field vlan_vid without VLAN', apply({}, { type: 'set_field', field: 'vlan_vid', value: 0x1009n }), 'prerequisite'],
  ['push_vlan, set_field vlan_vid', apply({}, { type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: 0x1009n }), undefined],
  ['set_field vlan_vid without present bit', apply({ vlan_vid: { value: 0x1001n } }, { type: 'set_field', field: 'vlan_vid', value: 9n }), 'value-range'],
  ['set_field ip_dscp=64', apply(IP, { type: 'set_field', field: 'ip_dscp', value: 64n }), 'value-range'],
  ['set_field arp_op=256', apply(ARP, { type: 'set_field', field: 'arp_op', value: 256n }), 'value-range'],
  ['dec_ttl without ip', apply({}, { type: 'dec_ttl' }), 'prerequisite'],
];

/** one invalid variant per rule, applied to a generated (valid) flow */
const MUTATIONS: [FlowRule, (f: Flow) => Flow][] = [
  ['mask-bits', (f) => ({ ...f, match: { ...f.match, reg3: { value: 0x11n, mask: 0x10n } } })],
  ['value-range', (f) => ({ ...f, match: { ...f.match, vlan_vid: { value: 0xf009n } } })],
  ['value-range', (f) => ({ ...f, match: { ...f.match, ct_state: { value: 0x200n, mask: 0x200n } } })],
  ['prerequisite', (f) => ({ ...f, match: { ...f.match, vlan_vid: undefined, vlan_pcp: { value: 1n } } })],
  ['reserved-port', (f) => ({ ...f, instructions: { ...f.instructions, apply: [...(f.instructions.apply ?? []), { type: 'output', port: OFPP.ANY }] } })],
  ['goto-order', (f) => ({ ...f, table: Math.max(f.table, 1), instructions: { ...f.instructions, gotoTable: Math.max(f.table, 1) - 1 } })],
  ['ct-field-outside-ct', (f) => ({ ...f, instructions: { ...f.instructions, apply: [{ type: 'set_field', field: 'ct_label', value: 5n }] } })],
  ['ct-zone-width', (f) => ({ ...f, match: { ...f.match, eth_type: { value: 0x800n } }, instructions: { ...f.instructions, apply: [{ type: 'ct', zone: { field: 'reg1', ofs: 8, nBits: 8 } }] } })],
  ['ct-nesting', (f) => ({ ...f, match: { ...f.match, eth_type: { value: 0x800n } }, instructions: { ...f.instructions, apply: [{ type: 'ct', commit: true, exec: [{ type: 'ct' }] }] } })],
];

function clean(f: Flow): Flow {
  const match: Match = {};
  for (const [k, v] of Object.entries(f.match)) if (v) (match as Record<string, unknown>)[k] = v;
  return { ...f, match };
}

function flowMod(flow: Flow, xid: number): M.FlowMod {
  return { type: 'flow_mod', xid, command: 'add', flow };
}

function generated(): [string, Flow][] {
  const flows = fc.sample(arbFlow, { seed: SEED, numRuns: 150 });
  const rnd = fc.sample(fc.integer({ min: -MUTATIONS.length, max: MUTATIONS.length - 1 }), { seed: SEED + 1, numRuns: flows.length });
  return flows.map((f, i) => {
    const m = rnd[i];
    return m < 0 ? [`generated #${i} (seed ${SEED}) as generated`, f] : [`generated #${i} (seed ${SEED}) made invalid: ${MUTATIONS[m][0]}`, clean(MUTATIONS[m][1](f))];
  });
}

describe('our verdict is OVS verdict', () => {
  const all: [string, Flow][] = [...CASES.map(([n, f]) => [n, f] as [string, Flow]), ...generated()];
  const bytes = all.map(([, f], i) => encodeMessage(flowMod(f, i + 1), { lenient: true }));
  const printed = ovsPrintMany(bytes);

  test('OVS printed every message', () => expect(printed.length).toBe(all.length));

  test('hand-picked cases carry the expected rule', () => {
    for (const [name, f, rule] of CASES) {
      const rules = flowProblems(f).map((p) => p.rule);
      expect({ name, rules: rule ? rules.includes(rule) : rules.length === 0 }).toEqual({ name, rules: true });
    }
  });

  test('flowProblems is empty exactly when OVS accepts the bytes; encode refuses exactly those', () => {
    const disagree: string[] = [];
    let refused = 0;
    all.forEach(([name, f], i) => {
      const ovsRefuses = DECODE_FAILURE.test(printed[i]);
      const ours = flowProblems(f);
      if (ovsRefuses) refused++;
      if (ovsRefuses !== ours.length > 0) {
        disagree.push(`${name}: OVS ${ovsRefuses ? 'refuses' : 'accepts'} (${printed[i].split('\n')[0]}), we find [${ours.map((p) => p.message).join('; ')}]`);
      }
      let threw: unknown;
      try {
        encodeMessage(flowMod(f, 1));
      } catch (e) {
        threw = e;
      }
      if (ours.length > 0) {
        expect(threw).toBeInstanceOf(OpenFlowError);
        const err = threw as OpenFlowError;
        expect(['prerequisite', 'invalid']).toContain(err.kind);
        expect(err.problems).toEqual(ours);
        for (const p of ours) expect(err.message).toContain(p.message);
      } else expect(threw).toBeUndefined();
    });
    expect(disagree).toEqual([]);
    // both sides exercised
    expect(refused).toBeGreaterThan(30);
    expect(all.length - refused).toBeGreaterThan(30);
  });

  test('decode marks what OVS refuses and stays lossless (lenient re-encode)', () => {
    all.forEach(([, f], i) => {
      const msg = decodeMessage(bytes[i]) as M.FlowMod;
      expect(msg.type).toBe('flow_mod');
      expect(msg.problems ?? []).toEqual(msg.matchRaw || msg.instructionsRaw ? msg.problems ?? [] : flowProblems(msg.flow));
      expect((msg.problems ?? []).length > 0).toBe(flowProblems(f).length > 0);
      expect(encodeMessage(msg, { lenient: true }).equals(bytes[i])).toBe(true);
      if (msg.problems) expect(() => encodeMessage(msg)).toThrow(OpenFlowError);
    });
  });
});

describe('ovs-ofctl parse-flow refuses the text of the action cases we refuse', () => {
  // the bytes above are the verdict that counts (what a switch decodes). OVS's text parser is laxer
  // on some inputs: it masks match values, adds match prerequisites itself, only warns about a ct
  // zone slice width, and maps set_field in_port / exec without commit to other forms; those are
  // left out here
  const TEXT_LAX = /^(vlan_pcp|tcp_dst without|ct zone from|ct exec without commit|set_field in_port)/;
  const actionCases = CASES.filter(([name, , rule]) => rule && !['value-range', 'mask-bits'].includes(rule) && !TEXT_LAX.test(name));
  test.each(actionCases.map(([n, f, r]) => [n, f, r] as const))('%s', (_name, f) => {
    let text: string;
    try {
      text = flowText(f);
    } catch {
      return; // no ovs-ofctl text for it
    }
    let refused = false;
    try {
      ofctl(['-O', 'OpenFlow13', 'parse-flow', text]);
    } catch {
      refused = true;
    }
    expect({ text, refused }).toEqual({ text, refused: flowProblems(f).length > 0 });
  });
});
