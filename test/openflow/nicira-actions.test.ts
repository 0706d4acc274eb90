/**
 * Golden tests, from Open vSwitch itself, of the Nicira actions the flow IR types (ct force / alg /
 * IPv6 nat, resubmit forms, output:reg, dec_ttl ids, exit, fin_timeout, set_tunnel, controller id /
 * pause / meter_id, sample, multipath, bundle):
 *  - text -> `ovs-ofctl -O OpenFlow13 parse-flows` bytes -> our decode (a typed action, not raw) ->
 *    our encode -> the identical bytes;
 *  - our printer's text (ofctl.ts) equals what OVS prints for those bytes (OVS names fields by
 *    their NXM names, we by their ovs-ofctl names: normalised), and OVS re-encodes our text to the
 *    same bytes;
 *  - the forms ovs-ofctl never writes over OpenFlow 1.3 (the plain NXAST_RESUBMIT, NXAST_SET_TUNNEL
 *    and SET_TUNNEL64) are encoded by us, printed by OVS without decode errors, and decoded back.
 */
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import type { Action, Flow } from '../../fabric/openflow/flow';
import type { FlowMod } from '../../fabric/openflow/messages';
import { actionText, instructionsText } from '../../fabric/openflow/ofctl';
import { bytesToIpv6, ipv6ToBytes } from '../../fabric/openflow/actions';
import { DECODE_FAILURE, ovsEncodeFlows, ovsPrintMany } from './oracle';
import { expectOvsAgrees, normalise, ovsActions } from './nx-golden';

/** [flow text, the IR type of its first action, the action (partial) we expect] */
const CASES: [string, Action['type'], Record<string, unknown>?][] = [
  ['ip,actions=ct(commit,force,zone=5)', 'ct', { commit: true, force: true, zone: 5 }],
  ['ip,actions=ct(commit,force,table=3,zone=NXM_NX_REG2[0..15],exec(set_field:0x1->ct_mark))', 'ct', { force: true, table: 3 }],
  ['tcp,actions=ct(commit,alg=ftp)', 'ct', { alg: 21 }],
  ['udp,actions=ct(commit,alg=tftp)', 'ct', { alg: 69 }],
  ['tcp,actions=ct(commit,table=7,zone=9,alg=ftp)', 'ct', { alg: 21, table: 7 }],
  ['ipv6,actions=ct(commit,nat(src=fe80::1-fe80::2))', 'ct', { nat: { kind: 'src', ipMin: 'fe80::1', ipMax: 'fe80::2' } }],
  ['ipv6,actions=ct(commit,nat(dst=[2001:db8::10]-[2001:db8::20]:100-200,persistent,random))', 'ct', { nat: { kind: 'dst', ipMin: '2001:db8::10', ipMax: '2001:db8::20', portMin: 100, portMax: 200 } }],
  ['ipv6,actions=ct(commit,nat(src=[::ffff:10.0.0.1]:80))', 'ct', { nat: { kind: 'src', ipMin: '::ffff:10.0.0.1', portMin: 80 } }],
  ['ipv6,actions=ct(commit,nat(src=2001:db8:0:1:0:0:0:1,hash))', 'ct', { nat: { kind: 'src', ipMin: '2001:db8:0:1::1', portSelection: 'hash' } }],
  ['tcp6,actions=ct(commit,force,table=2,zone=3,nat(dst=fd00::a:5000),exec(set_field:0x5->ct_mark),alg=ftp)', 'ct', { force: true, alg: 21 }],
  ['actions=resubmit:3', 'resubmit', { port: 3 }],
  ['ct_state=+trk+est,ip,actions=resubmit(,3,ct)', 'resubmit', { table: 3, ct: true }],
  ['ct_state=+trk-inv,ipv6,actions=resubmit(5,7,ct)', 'resubmit', { port: 5, table: 7, ct: true }],
  ['actions=resubmit:LOCAL', 'resubmit', { port: 0xfffffffe }],
  ['actions=output:NXM_NX_REG1[0..15]', 'output_reg', { src: { field: 'reg1', ofs: 0, nBits: 16 } }],
  ['actions=output:NXM_NX_REG3[]', 'output_reg', { src: { field: 'reg3' } }],
  ['actions=output:NXM_NX_TUN_ID[32..47]', 'output_reg', { src: { field: 'tunnel_id', ofs: 32, nBits: 16 } }],
  ['ip,actions=dec_ttl(1,2)', 'dec_ttl', { ids: [1, 2] }],
  ['ip,actions=dec_ttl(0)', 'dec_ttl', { ids: [0] }],
  ['ip,actions=dec_ttl(7,8,9,10,11)', 'dec_ttl', { ids: [7, 8, 9, 10, 11] }],
  ['actions=exit', 'exit'],
  ['tcp,actions=fin_timeout(idle_timeout=10,hard_timeout=20)', 'fin_timeout', { idleTimeout: 10, hardTimeout: 20 }],
  ['tcp,actions=fin_timeout(hard_timeout=5)', 'fin_timeout', { hardTimeout: 5 }],
  ['actions=controller(id=3)', 'controller', { controllerId: 3 }],
  ['actions=controller(id=3,pause)', 'controller', { controllerId: 3, pause: true }],
  ['actions=controller(reason=invalid_ttl,max_len=100,id=4,userdata=01.02.03,pause,meter_id=9)', 'controller', { reason: 2, maxLen: 100, controllerId: 4, pause: true, meterId: 9 }],
  ['actions=controller(meter_id=1)', 'controller', { meterId: 1 }],
  ['actions=controller(reason=no_match,id=2)', 'controller', { reason: 0, controllerId: 2 }],
  ['actions=sample(probability=100,collector_set_id=1,obs_domain_id=2,obs_point_id=3)', 'sample', { probability: 100 }],
  ['actions=sample(probability=65535,collector_set_id=4294967295,obs_domain_id=0,obs_point_id=7,sampling_port=12)', 'sample', { samplingPort: 12 }],
  ['actions=sample(probability=1,collector_set_id=1,obs_domain_id=1,obs_point_id=1,ingress)', 'sample', { direction: 'ingress' }],
  ['actions=sample(probability=2,collector_set_id=1,obs_domain_id=1,obs_point_id=1,sampling_port=LOCAL,egress)', 'sample', { direction: 'egress', samplingPort: 0xfffffffe }],
  ['actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[0..5])', 'multipath', { fields: 'eth_src', links: 1 }],
  ['actions=multipath(symmetric_l4,1024,hrw,12,0,NXM_NX_REG7[])', 'multipath', { algorithm: 'hrw', links: 12 }],
  ['actions=multipath(symmetric_l3l4+udp,7,iter_hash,100,5,NXM_NX_REG1[16..31])', 'multipath', { algorithm: 'iter_hash', arg: 5 }],
  ['actions=multipath(nw_dst,0,hash_threshold,65536,0,NXM_NX_REG2[])', 'multipath', { fields: 'nw_dst', links: 65536 }],
  ['actions=bundle(eth_src,0,hrw,ofport,members:4,8)', 'bundle', { members: [4, 8] }],
  ['actions=bundle(symmetric_l3,5,active_backup,ofport,members:1,2,3,4,5)', 'bundle', { algorithm: 'active_backup' }],
  ['actions=bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:4,8)', 'bundle', { dst: { field: 'reg0' } }],
  ['actions=bundle_load(nw_src,9,active_backup,ofport,NXM_NX_REG3[0..15],members:LOCAL,1)', 'bundle', { members: [0xfffffffe, 1] }],
  ['actions=bundle(eth_src,0,hrw,ofport,members:)', 'bundle', { members: [] }],
];


function isRaw(a: Action): boolean {
  return a.type === 'raw' || (a.type === 'ct' && (a.exec ?? []).some(isRaw));
}

describe('Nicira actions: OVS bytes -> typed IR -> identical bytes, and OVS text', () => {
  const encoded = ovsEncodeFlows(CASES.map(([text]) => text));
  const decoded = encoded.map(({ bytes }) => decodeMessage(bytes) as FlowMod);

  test.each(CASES.map((c, i) => [c[0], i] as const))('%s', (text, i) => {
    const [, type, expected] = CASES[i];
    const m = decoded[i];
    expect(m.type).toBe('flow_mod');
    expect(m.instructionsRaw).toBeUndefined();
    const apply = m.flow.instructions.apply ?? [];
    expect(apply.length).toBeGreaterThan(0);
    expect(apply.map((a) => a.type)).toEqual([type]);
    expect(apply.some(isRaw)).toBe(false);
    if (expected) expect(apply[0]).toMatchObject(expected);
    // our encode gives back OVS's bytes
    const again = encodeMessage(m);
    expect(again.toString('hex')).toBe(encoded[i].bytes.toString('hex'));
    // our printer writes what OVS prints (parse-flows' description of the same message)
    expect(instructionsText(m.flow.instructions)).toBe(normalise(ovsActions(encoded[i].text)));
  });

  test('ovs-ofctl ofp-print prints our bytes as our printer does, and re-encodes our text to our bytes', () => {
    expectOvsAgrees(CASES.map(([text]) => text), decoded, encoded);
  });
});

describe('Nicira actions ovs-ofctl never writes over OpenFlow 1.3: ours -> OVS prints them -> ours', () => {
  const cases: [Action, string][] = [
    [{ type: 'resubmit', port: 3, legacy: true }, 'resubmit:3'],
    [{ type: 'resubmit', port: 0xfffffffe, legacy: true }, 'resubmit:LOCAL'],
    [{ type: 'set_tunnel', tunId: 0x123n }, 'set_tunnel:0x123'],
    [{ type: 'set_tunnel', tunId: 0x123n, wide: true }, 'set_tunnel64:0x123'],
    [{ type: 'set_tunnel', tunId: 0x1234567890n }, 'set_tunnel64:0x1234567890'],
    [{ type: 'dec_ttl', ids: [] }, 'dec_ttl()'],
  ];
  test.each(cases.map(([a, t], i) => [t, a, i] as const))('%s', (text, action, i) => {
    // dec_ttl needs an IP match (OVS refuses it otherwise)
    const match: Flow['match'] = action.type === 'dec_ttl' ? { eth_type: { value: 0x0800n } } : {};
    const flow: Flow = { table: 0, priority: 100, match, instructions: { apply: [action] }, cookie: 0n };
    const bytes = encodeMessage({ type: 'flow_mod', xid: i + 1, command: 'add', flow });
    const [printed] = ovsPrintMany([bytes]);
    expect(printed).not.toMatch(DECODE_FAILURE);
    expect(ovsActions(printed)).toBe(text);
    expect(actionText(action)).toBe(text);
    const m = decodeMessage(bytes) as FlowMod;
    expect(m.flow.instructions.apply).toEqual([action]);
    expect(encodeMessage(m).equals(bytes)).toBe(true);
  });

  test('a legacy resubmit to IN_PORT has no ovs-ofctl text: refused, not misprinted', () => {
    expect(() => actionText({ type: 'resubmit', legacy: true })).toThrow(/no ovs-ofctl syntax/);
  });
});

describe('unmodelled variants stay raw and lossless', () => {
  /** a FLOW_MOD carrying one hand-made Nicira action (subtype + body, padded to 8) */
  function withNicira(subtype: number, body: number[]): Buffer {
    const flow: Flow = { table: 0, priority: 100, match: {}, instructions: { apply: [{ type: 'raw', actionType: 0xffff, experimenter: 0x2320, subtype, data: Uint8Array.from(body) }] }, cookie: 0n };
    return encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow });
  }
  test.each([
    // NXAST_SAMPLE2 without a sampling port: OVS keeps the SAMPLE2 form, our IR would write SAMPLE
    ['sample2 without sampling port', 38, [0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 0, 0, 0, 0, 0, 0]],
    // NXAST_CONTROLLER2 with only max_len: OVS keeps the CONTROLLER2 form
    ['controller2 with only max_len', 37, [0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 100, 0, 0]],
    // dec_ttl ids with more room than ids
    ['dec_ttl_cnt_ids with spare room', 21, [0, 1, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    // NXAST_OUTPUT_REG2
    ['output_reg2', 32, [0, 15, 0xff, 0xff, 0, 1, 2, 4, 0, 0, 0, 0, 0, 0]],
  ] as const)('%s', (_name, subtype, body) => {
    const bytes = withNicira(subtype, [...body]);
    const m = decodeMessage(bytes) as FlowMod;
    expect(m.flow.instructions.apply?.[0]?.type).toBe('raw');
    expect(encodeMessage(m).equals(bytes)).toBe(true);
  });
});

describe('IPv6 text', () => {
  test.each([
    ['fe80::1', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['::10.1.2.3', '::10.1.2.3'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['[2001:DB8::A]', '2001:db8::a'],
    ['1::', '1::'],
  ])('%s -> %s (inet_ntop)', (input, canonical) => {
    expect(bytesToIpv6(ipv6ToBytes(input, 'test'))).toBe(canonical);
  });
  test.each(['1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7'])('%s is refused', (bad) => {
    expect(() => ipv6ToBytes(bad, 'test')).toThrow(/bad IPv6/);
  });
});
