/**
 * Golden tests, from Open vSwitch itself, of the Nicira learn action (NXAST_LEARN, and NXAST_LEARN2
 * for limit / result_dst), typed in the flow IR:
 *  - text -> `ovs-ofctl -O OpenFlow13 parse-flows` bytes -> our decode (a typed learn, not raw) ->
 *    our encode -> the identical bytes;
 *  - our printer's text (ofctl.ts) equals what OVS prints for those bytes (OVS names fields by
 *    their NXM names, we by their ovs-ofctl names: normalised), and OVS re-encodes our text to the
 *    same bytes;
 *  - the learn actions the IR cannot name (fields outside it, odd padding or flags) stay raw and
 *    lossless.
 */
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import type { Action, Flow } from '../../fabric/openflow/flow';
import type { FlowMod } from '../../fabric/openflow/messages';
import { messageToJson, messagesFromJson } from '../../fabric/openflow/json';
import { actionText, instructionsText } from '../../fabric/openflow/ofctl';
import { DECODE_FAILURE, ovsEncodeFlows, ovsPrintMany } from './oracle';
import { expectOvsAgrees, normalise, ovsActions } from './nx-golden';

/** [flow text, the learn action (partial) we expect] */
const CASES: [string, Record<string, unknown>][] = [
  // match from a field, load from a field, output to a port from a field; idle_timeout, priority
  [
    'actions=learn(table=10,idle_timeout=60,priority=100,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_NX_REG1[0..15]->NXM_NX_REG0[0..15],output:NXM_NX_REG2[0..15])',
    {
      table: 10,
      idleTimeout: 60,
      priority: 100,
      specs: [
        { kind: 'match', dst: { field: 'eth_dst' }, src: { field: 'eth_src' } },
        { kind: 'load', dst: { field: 'reg0', ofs: 0, nBits: 16 }, src: { field: 'reg1', ofs: 0, nBits: 16 } },
        { kind: 'output', src: { field: 'reg2', ofs: 0, nBits: 16 } },
      ],
    },
  ],
  // hard / fin timeouts, cookie, send_flow_rem, delete_learned; match immediate (whole field)
  [
    'ip,actions=learn(table=1,hard_timeout=30,fin_idle_timeout=5,fin_hard_timeout=10,cookie=0x1234,send_flow_rem,delete_learned,eth_type=0x800,NXM_OF_IP_SRC[]=NXM_OF_IP_DST[])',
    { hardTimeout: 30, finIdleTimeout: 5, finHardTimeout: 10, cookie: 0x1234n, sendFlowRem: true, deleteLearned: true },
  ],
  // load immediate: 32 and 48 bits; a match immediate of an 8-bit field (2 bytes on the wire)
  [
    'actions=learn(eth_type=0x800,nw_proto=6,load:0x5->NXM_NX_REG1[],load:0xaabbccddeeff->NXM_OF_ETH_DST[])',
    {
      table: 1,
      specs: [
        { kind: 'match', dst: { field: 'eth_type' }, value: 0x800n },
        { kind: 'match', dst: { field: 'ip_proto' }, value: 6n },
        { kind: 'load', dst: { field: 'reg1' }, value: 5n },
        { kind: 'load', dst: { field: 'eth_dst' }, value: 0xaabbccddeeffn },
      ],
    },
  ],
  // NXAST_LEARN2: limit; the same-field match shorthand
  ['actions=learn(limit=10,NXM_OF_ETH_SRC[])', { limit: 10, specs: [{ kind: 'match', dst: { field: 'eth_src' }, src: { field: 'eth_src' } }] }],
  // NXAST_LEARN2: result_dst (NX_LEARN_F_WRITE_RESULT)
  ['actions=learn(result_dst=NXM_NX_REG0[3],NXM_OF_ETH_SRC[])', { resultDst: { field: 'reg0', ofs: 3, nBits: 1 } }],
  // match immediate into part of a field; a field from another field
  [
    'actions=learn(table=2,NXM_NX_REG1[16..31]=0x5,NXM_NX_REG2[]=NXM_NX_REG3[])',
    { table: 2, specs: [{ kind: 'match', dst: { field: 'reg1', ofs: 16, nBits: 16 }, value: 5n }, { kind: 'match', dst: { field: 'reg2' }, src: { field: 'reg3' } }] },
  ],
  ['actions=learn(eth_dst=01:02:03:04:05:06)', { specs: [{ kind: 'match', dst: { field: 'eth_dst' }, value: 0x010203040506n }] }],
  ['actions=learn(table=254,load:NXM_NX_REG0[0..7]->NXM_NX_REG1[8..15])', { table: 254 }],
  // LEARN2 with both limit and result_dst; priority 0; the largest idle_timeout
  [
    'actions=learn(delete_learned,limit=5,result_dst=NXM_NX_REG7[31],priority=0,idle_timeout=65535,NXM_NX_TUN_ID[])',
    { priority: 0, idleTimeout: 65535, deleteLearned: true, limit: 5, resultDst: { field: 'reg7', ofs: 31, nBits: 1 } },
  ],
  // transport fields; a zero immediate (OVS writes a bare 0)
  [
    'tcp,actions=learn(table=3,eth_type=0x800,nw_proto=6,NXM_OF_TCP_DST[]=NXM_OF_TCP_SRC[],NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],load:0->NXM_NX_REG5[])',
    { table: 3 },
  ],
  ['actions=learn(send_flow_rem,cookie=0xffffffffffffffff,NXM_NX_REG0[])', { sendFlowRem: true, cookie: 0xffffffffffffffffn }],
  // no specs at all
  ['actions=learn(table=0)', { table: 0, specs: [] }],
  ['actions=learn(NXM_NX_REG4[0..5]=0x3f,output:NXM_NX_REG4[])', { specs: [{ kind: 'match', dst: { field: 'reg4', ofs: 0, nBits: 6 }, value: 0x3fn }, { kind: 'output', src: { field: 'reg4' } }] }],
  // 128-bit fields
  ['ipv6,actions=learn(eth_type=0x86dd,NXM_NX_IPV6_DST[]=NXM_NX_IPV6_SRC[],load:0x1->NXM_NX_IPV6_SRC[0..7])', { table: 1 }],
  // a field with only an OXM header (metadata)
  ['actions=learn(metadata=0x10,load:NXM_NX_REG0[]->OXM_OF_METADATA[0..31])', { table: 1 }],
  // whole-field immediates printed as OVS formats the field (reg1=0, not 0x0)
  ['actions=learn(NXM_NX_REG1[]=0x0,reg2=0x1234,tun_id=0x99)', { specs: [{ kind: 'match', dst: { field: 'reg1' }, value: 0n }, {}, {}] }],
  // single bits, one field from another
  ['actions=learn(hard_timeout=1,NXM_NX_REG0[1]=NXM_NX_REG1[2])', { specs: [{ kind: 'match', dst: { field: 'reg0', ofs: 1, nBits: 1 }, src: { field: 'reg1', ofs: 2, nBits: 1 } }] }],
  // the extension fields once kept raw: NXM_OF_VLAN_TCI and the 16-bit NXM_OF_IN_PORT (OVN's learns)
  ['actions=learn(table=1,NXM_OF_VLAN_TCI[0..11])', { specs: [{ kind: 'match', dst: { field: 'vlan_tci', ofs: 0, nBits: 12 }, src: { field: 'vlan_tci', ofs: 0, nBits: 12 } }] }],
  [
    'actions=learn(table=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15],output:NXM_OF_IN_PORT[])',
    { specs: [{}, { kind: 'load', dst: { field: 'reg0', ofs: 0, nBits: 16 }, src: { field: 'in_port_nxm' } }, { kind: 'output', src: { field: 'in_port_nxm' } }] },
  ],
  ['actions=learn(table=2,in_port=5,load:OXM_OF_IN_PORT[]->NXM_NX_REG1[])', { specs: [{ kind: 'match', dst: { field: 'in_port_nxm' }, value: 5n }, { kind: 'load', dst: { field: 'reg1' }, src: { field: 'in_port' } }] }],
];


describe('learn: OVS bytes -> typed IR -> identical bytes, and OVS text', () => {
  const encoded = ovsEncodeFlows(CASES.map(([text]) => text));
  const decoded = encoded.map(({ bytes }) => decodeMessage(bytes) as FlowMod);

  test.each(CASES.map((c, i) => [c[0], i] as const))('%s', (_text, i) => {
    const [, expected] = CASES[i];
    const m = decoded[i];
    expect(m.type).toBe('flow_mod');
    expect(m.instructionsRaw).toBeUndefined();
    const apply = m.flow.instructions.apply ?? [];
    expect(apply.map((a) => a.type)).toEqual(['learn']);
    expect(apply[0]).toMatchObject(expected);
    // our encode gives back OVS's bytes
    const again = encodeMessage(m);
    expect(again.toString('hex')).toBe(encoded[i].bytes.toString('hex'));
    // our printer writes what OVS prints (parse-flows' description of the same message)
    expect(instructionsText(m.flow.instructions)).toBe(normalise(ovsActions(encoded[i].text)));
  });

  test('the JSON form (fabric ofp decode|encode) gives back the same message', () => {
    for (const m of decoded) expect(messagesFromJson(JSON.parse(messageToJson(m)))).toEqual([m]);
  });

  test('the cases use NXAST_LEARN and NXAST_LEARN2 (subtype 16 and 45)', () => {
    const subtypes = new Set(encoded.map(({ bytes }) => bytes.readUInt16BE(bytes.indexOf(Buffer.from([0, 0, 0x23, 0x20])) + 4)));
    expect([...subtypes].sort((a, b) => a - b)).toEqual([16, 45]);
  });

  test('ovs-ofctl ofp-print prints our bytes as our printer does, and re-encodes our text to our bytes', () => {
    expectOvsAgrees(CASES.map(([text]) => text), decoded, encoded);
  });
});

describe('learn built by us: OVS prints it as we do', () => {
  const cases: Action[] = [
    { type: 'learn', table: 5, specs: [{ kind: 'load', dst: { field: 'reg3', ofs: 8, nBits: 8 }, value: 0xffn }] },
    { type: 'learn', table: 1, limit: 1, specs: [{ kind: 'match', dst: { field: 'eth_src' }, src: { field: 'eth_dst' } }] },
    { type: 'learn', table: 9, priority: 7, resultDst: { field: 'reg6', ofs: 0, nBits: 1 }, specs: [{ kind: 'output', src: { field: 'reg6', ofs: 16, nBits: 16 } }] },
  ];
  test.each(cases.map((a, i) => [actionText(a), a, i] as const))('%s', (text, action, i) => {
    const flow: Flow = { table: 0, priority: 100, match: {}, instructions: { apply: [action] }, cookie: 0n };
    const bytes = encodeMessage({ type: 'flow_mod', xid: i + 1, command: 'add', flow });
    const [printed] = ovsPrintMany([bytes]);
    expect(printed).not.toMatch(DECODE_FAILURE);
    expect(normalise(ovsActions(printed))).toBe(text);
    const m = decodeMessage(bytes) as FlowMod;
    expect(m.flow.instructions.apply).toEqual([action]);
    expect(encodeMessage(m).equals(bytes)).toBe(true);
  });

  test('refused: a value wider than its destination, a source of another width, a wide result_dst', () => {
    const enc = (a: Action): Buffer => encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: { table: 0, priority: 1, match: {}, instructions: { apply: [a] }, cookie: 0n } });
    expect(() => enc({ type: 'learn', table: 1, specs: [{ kind: 'load', dst: { field: 'reg0', ofs: 0, nBits: 4 }, value: 0x10n }] })).toThrow(/fit/);
    expect(() => enc({ type: 'learn', table: 1, specs: [{ kind: 'match', dst: { field: 'reg0' }, src: { field: 'eth_src' } }] })).toThrow(/bits/);
    expect(() => enc({ type: 'learn', table: 1, resultDst: { field: 'reg0' }, specs: [] })).toThrow(/one bit/);
  });
});

describe('learn variants the IR does not model stay raw and lossless', () => {
  // a field with an experimenter OXM header (64 bits: ONFOXM_ET_ACTSET_OUTPUT) inside a learn stays raw
  test.each(['actions=learn(table=1,load:ONFOXM_ET_ACTSET_OUTPUT[]->NXM_NX_REG0[])'])('%s', (text) => {
    const [{ bytes }] = ovsEncodeFlows([text]);
    const m = decodeMessage(bytes) as FlowMod;
    expect(m.flow.instructions.apply?.map((a) => a.type)).toEqual(['raw']);
    expect(encodeMessage(m).equals(bytes)).toBe(true);
  });

  /** a FLOW_MOD carrying one hand-made Nicira action (subtype + body, padded to 8) */
  function withNicira(subtype: number, body: number[]): Buffer {
    while ((10 + body.length) % 8 !== 0) body.push(0);
    const flow: Flow = { table: 0, priority: 100, match: {}, instructions: { apply: [{ type: 'raw', actionType: 0xffff, experimenter: 0x2320, subtype, data: Uint8Array.from(body) }] }, cookie: 0n };
    return encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow });
  }
  /** idle, hard, priority, cookie, flags, table, pad, fin idle, fin hard */
  const header = (flags: number, pad = 0): number[] => [0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, flags, 1, pad, 0, 0, 0, 0];
  /** NXM_NX_REG0[] = NXM_NX_REG1[] */
  const spec = [0, 32, 0, 1, 2, 4, 0, 0, 0, 1, 0, 4, 0, 0];
  test.each([
    ['an unknown flag', 16, [...header(8), ...spec]],
    ['write_result in NXAST_LEARN (no result_dst there)', 16, [...header(4), ...spec]],
    ['a non-zero pad byte', 16, [...header(0, 1), ...spec]],
    ['a spec with reserved header bits', 16, [...header(0), 0x40, 32, 0, 1, 2, 4, 0, 0, 0, 1, 0, 4, 0, 0]],
    ['an output spec with an immediate source', 16, [...header(0), 0x30, 16, 0, 1]],
    ['an immediate wider than its n_bits', 16, [...header(0), 0x20, 4, 0, 0x10, 0, 1, 0, 4, 0, 0]],
    ['junk after the specs', 16, [...header(0), ...spec, 0, 0, 1]],
    ['NXAST_LEARN2 without limit or result_dst', 45, [...header(0), 0, 0, 0, 0, 0, 0, 0, 0, ...spec]],
  ] as const)('%s', (_name, subtype, body) => {
    const bytes = withNicira(subtype, [...body]);
    const m = decodeMessage(bytes) as FlowMod;
    expect(m.flow.instructions.apply?.[0]?.type).toBe('raw');
    expect(encodeMessage(m).equals(bytes)).toBe(true);
  });
});
