/**
 * validity.ts for group buckets, meters and learn specs, against Open vSwitch 3.1:
 *  - groups and learn: OVS's verdict on our bytes (`ovs-ofctl ofp-print`: "***decode error" or not)
 *    equals ours (groupProblems / flowProblems empty or not), on hand-picked cases and on generated
 *    groups (fixed seed) with an invalid variant of each rule; the encoder refuses exactly those with
 *    a typed error naming the rule; decode marks them and re-encoded leniently gives the same bytes;
 *  - meters and group ids: OVS's decoder takes any, the switch refuses bad ids, band-less meters and
 *    zero rates: checked against a running ovs-vswitchd (dummy datapath).
 */
import fc from 'fast-check';
import { OpenFlowServer, type SwitchConnection } from '../../fabric/openflow/channel';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { OpenFlowError } from '../../fabric/openflow/errors';
import type { Action, Flow, Group, Meter } from '../../fabric/openflow/flow';
import { OFPP } from '../../fabric/openflow/flow';
import type * as M from '../../fabric/openflow/messages';
import { flowProblems, groupProblems, meterProblems, type FlowRule } from '../../fabric/openflow/validity';
import { startPrivateOvs, type PrivateOvs } from '../support/ovs';
import { arbGroup } from './arbitraries';
import { DECODE_FAILURE, ovsPrintMany } from './oracle';

const SEED = 20261203;
const out = (port: number): Action => ({ type: 'output', port });

/** [name, group, the rule we expect (undefined: valid)] */
const GROUPS: [string, Group, FlowRule | undefined][] = [
  ['all with a weight', { groupId: 1, type: 'all', buckets: [{ weight: 5, actions: [out(1)] }] }, 'bucket-weight'],
  ['indirect with weight 0', { groupId: 1, type: 'indirect', buckets: [{ weight: 0, actions: [out(1)] }] }, undefined],
  ['ff with a weight', { groupId: 1, type: 'ff', buckets: [{ weight: 1, watchPort: 1, actions: [out(1)] }] }, 'bucket-weight'],
  ['select weight 0', { groupId: 1, type: 'select', buckets: [{ weight: 0, actions: [out(1)] }] }, undefined],
  ['select weight 65535', { groupId: 1, type: 'select', buckets: [{ weight: 65535, actions: [out(1)] }] }, undefined],
  ['indirect, two buckets', { groupId: 1, type: 'indirect', buckets: [{ actions: [out(1)] }, { actions: [out(2)] }] }, 'bucket-count'],
  ['indirect, no bucket', { groupId: 1, type: 'indirect', buckets: [] }, 'bucket-count'],
  ['indirect, one bucket', { groupId: 1, type: 'indirect', buckets: [{ actions: [out(1)] }] }, undefined],
  ['ff without watch', { groupId: 1, type: 'ff', buckets: [{ actions: [out(1)] }] }, 'bucket-watch'],
  ['ff watching ANY', { groupId: 1, type: 'ff', buckets: [{ watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [out(1)] }] }, 'bucket-watch'],
  ['ff watch_group', { groupId: 1, type: 'ff', buckets: [{ watchGroup: 2, actions: [out(1)] }] }, undefined],
  ['all with watch_port', { groupId: 1, type: 'all', buckets: [{ watchPort: 1, actions: [out(1)] }] }, 'bucket-watch'],
  ['indirect with watch_group', { groupId: 1, type: 'indirect', buckets: [{ watchGroup: 1, actions: [out(1)] }] }, 'bucket-watch'],
  ['select with watch_port', { groupId: 1, type: 'select', buckets: [{ watchPort: 1, actions: [out(1)] }] }, undefined],
  ['bucket output:ANY', { groupId: 1, type: 'all', buckets: [{ actions: [out(OFPP.ANY)] }] }, 'reserved-port'],
  ['bucket set_field ct_mark', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'ct_mark', value: 1n }] }] }, 'ct-field-outside-ct'],
  ['bucket set_field in_port', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'in_port', value: 1n }] }] }, 'not-settable'],
  ['bucket vlan_vid without OFPVID_PRESENT', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'vlan_vid', value: 5n }] }] }, 'value-range'],
  ['bucket ip_dscp 0xff', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'ip_dscp', value: 0xffn }] }] }, 'value-range'],
  ['bucket ct(commit,exec(output))', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'ct', commit: true, exec: [out(1)] }] }] }, 'ct-nesting'],
  // a bucket has no match: OVS checks no prerequisites there
  ['bucket set_field ipv4_src, no match', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'ipv4_src', value: 1n }] }] }, undefined],
  ['bucket vlan_pcp, no VLAN', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'set_field', field: 'vlan_pcp', value: 1n }] }] }, undefined],
  ['bucket ct without ip', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'ct', commit: true }] }] }, undefined],
  ['bucket dec_ttl without ip', { groupId: 1, type: 'all', buckets: [{ actions: [{ type: 'dec_ttl' }] }] }, undefined],
];

/** one invalid variant per group rule, applied to a generated (valid) group */
const MUTATIONS: [FlowRule, (g: Group) => Group][] = [
  ['bucket-weight', (g) => ({ ...g, type: 'all', buckets: [...g.buckets.map((b) => ({ ...b, watchPort: undefined, watchGroup: undefined })), { weight: 3, actions: [out(1)] }] })],
  ['bucket-count', (g) => ({ ...g, type: 'indirect', buckets: [{ actions: [out(1)] }, { actions: [out(2)] }] })],
  ['bucket-watch', (g) => ({ ...g, type: 'ff', buckets: [{ actions: [out(1)] }] })],
  ['bucket-watch', (g) => ({ ...g, type: 'all', buckets: [{ watchPort: 3, actions: [out(1)] }] })],
  ['reserved-port', (g) => ({ ...g, buckets: g.buckets.length ? g.buckets.map((b, i) => (i === 0 ? { ...b, actions: [...b.actions, out(0xffffff01)] } : b)) : g.buckets })],
];

function generatedGroups(): [string, Group, boolean][] {
  const groups = fc.sample(arbGroup, { seed: SEED, numRuns: 120 });
  const rnd = fc.sample(fc.integer({ min: -MUTATIONS.length, max: MUTATIONS.length - 1 }), { seed: SEED + 1, numRuns: groups.length });
  return groups.map((g, i) => {
    const m = rnd[i];
    if (m < 0 || (MUTATIONS[m][0] === 'reserved-port' && g.buckets.length === 0)) return [`generated #${i} (seed ${SEED})`, g, false];
    return [`generated #${i} (seed ${SEED}) made invalid: ${MUTATIONS[m][0]}`, MUTATIONS[m][1](g), true];
  });
}

describe('groups: our verdict is OVS verdict', () => {
  const all: [string, Group][] = [...GROUPS.map(([n, g]) => [n, g] as [string, Group]), ...generatedGroups().map(([n, g]) => [n, g] as [string, Group])];
  const msgs: M.GroupMod[] = all.map(([, group], i) => ({ type: 'group_mod', xid: i + 1, command: 'add', group }));
  const bytes = msgs.map((m) => encodeMessage(m, { lenient: true }));
  const printed = ovsPrintMany(bytes);

  test('hand-picked cases carry the expected rule', () => {
    for (const [name, g, rule] of GROUPS) {
      const rules = groupProblems(g).map((p) => p.rule);
      expect({ name, rules }).toEqual({ name, rules: rule ? [rule] : [] });
    }
  });

  test(`groupProblems is empty exactly when OVS accepts the bytes (${all.length} groups); encode refuses exactly those`, () => {
    expect(printed).toHaveLength(all.length);
    const disagreements: string[] = [];
    let invalid = 0;
    for (let i = 0; i < all.length; i++) {
      const ours = groupProblems(all[i][1], 'add');
      const ovsRefuses = DECODE_FAILURE.test(printed[i]);
      if (ovsRefuses) invalid++;
      if (ovsRefuses !== ours.length > 0) disagreements.push(`${all[i][0]}: OVS ${ovsRefuses ? 'refuses' : 'accepts'}, we ${ours.length ? 'refuse: ' + ours.map((p) => p.rule).join(',') : 'accept'}\n  ${printed[i].split('\n')[0]}`);
      let thrown: unknown;
      try {
        encodeMessage(msgs[i]);
      } catch (e) {
        thrown = e;
      }
      if (ours.length) {
        expect(thrown).toBeInstanceOf(OpenFlowError);
        expect((thrown as OpenFlowError).kind).toBe('invalid');
        expect((thrown as OpenFlowError).problems?.map((p) => p.rule)).toEqual(ours.map((p) => p.rule));
      } else expect(thrown).toBeUndefined();
    }
    expect(disagreements).toEqual([]);
    expect(invalid).toBeGreaterThan(30);
  });

  test('decode marks the problems, and re-encoded leniently gives the same bytes', () => {
    for (let i = 0; i < all.length; i++) {
      const m = decodeMessage(bytes[i]) as M.GroupMod;
      expect(m.type).toBe('group_mod');
      expect((m.problems ?? []).map((p) => p.rule)).toEqual(groupProblems(all[i][1]).map((p) => p.rule));
      expect(encodeMessage(m, { lenient: true }).equals(bytes[i])).toBe(true);
    }
  });
});

const IP = { eth_type: { value: 0x800n } };
const learnFlow = (match: Flow['match'], specs: Extract<Action, { type: 'learn' }>['specs']): Flow => ({ table: 0, priority: 100, cookie: 0n, match, instructions: { apply: [{ type: 'learn', table: 1, specs }] } });

/** [name, flow with a learn, the rule we expect] */
const LEARNS: [string, Flow, FlowRule | undefined][] = [
  ['reads ipv4_src without ip', learnFlow({}, [{ kind: 'load', dst: { field: 'reg0' }, src: { field: 'ipv4_src' } }]), 'prerequisite'],
  ['reads ipv4_src with ip', learnFlow(IP, [{ kind: 'load', dst: { field: 'reg0' }, src: { field: 'ipv4_src' } }]), undefined],
  ['matches ipv4_dst without eth_type in the learned flow', learnFlow(IP, [{ kind: 'match', dst: { field: 'ipv4_dst' }, src: { field: 'ipv4_src' } }]), 'prerequisite'],
  [
    'matches ipv4_dst after eth_type=0x800',
    learnFlow(IP, [{ kind: 'match', dst: { field: 'eth_type' }, value: 0x800n }, { kind: 'match', dst: { field: 'ipv4_dst' }, src: { field: 'ipv4_src' } }]),
    undefined,
  ],
  [
    'eth_type=0x800 after the ipv4_dst match (order matters)',
    learnFlow(IP, [{ kind: 'match', dst: { field: 'ipv4_dst' }, src: { field: 'ipv4_src' } }, { kind: 'match', dst: { field: 'eth_type' }, value: 0x800n }]),
    'prerequisite',
  ],
  ['loads ipv4_dst without eth_type', learnFlow({}, [{ kind: 'load', dst: { field: 'ipv4_dst' }, value: 1n }]), 'prerequisite'],
  ['loads ip_proto (read-only)', learnFlow({}, [{ kind: 'match', dst: { field: 'eth_type' }, value: 0x800n }, { kind: 'load', dst: { field: 'ip_proto' }, value: 6n }]), 'not-settable'],
  [
    'tcp_dst after eth_type and ip_proto',
    learnFlow({ ...IP, ip_proto: { value: 6n } }, [
      { kind: 'match', dst: { field: 'eth_type' }, value: 0x800n },
      { kind: 'match', dst: { field: 'ip_proto' }, value: 6n },
      { kind: 'match', dst: { field: 'tcp_dst' }, src: { field: 'tcp_src' } },
    ]),
    undefined,
  ],
  ['tcp_dst without ip_proto', learnFlow({ ...IP, ip_proto: { value: 6n } }, [{ kind: 'match', dst: { field: 'eth_type' }, value: 0x800n }, { kind: 'match', dst: { field: 'tcp_dst' }, src: { field: 'tcp_src' } }]), 'prerequisite'],
  ['in_port (16 bits) from the packet', learnFlow({}, [{ kind: 'match', dst: { field: 'in_port_nxm' }, src: { field: 'in_port_nxm' } }, { kind: 'output', src: { field: 'in_port_nxm' } }]), undefined],
  ['vlan_tci bits', learnFlow({}, [{ kind: 'match', dst: { field: 'vlan_tci', ofs: 0, nBits: 12 }, src: { field: 'vlan_tci', ofs: 0, nBits: 12 } }]), undefined],
];

describe('learn specs: our verdict is OVS verdict', () => {
  const bytes = LEARNS.map(([, flow], i) => encodeMessage({ type: 'flow_mod', xid: i + 1, command: 'add', flow }, { lenient: true }));
  const printed = ovsPrintMany(bytes);

  test.each(LEARNS.map(([name, , rule], i) => [name, rule ?? 'valid', i] as const))('%s: %s', (_name, _rule, i) => {
    const [, flow, rule] = LEARNS[i];
    const rules = flowProblems(flow).map((p) => p.rule);
    expect(rules).toEqual(rule ? [rule] : []);
    expect(DECODE_FAILURE.test(printed[i])).toBe(rule !== undefined);
    if (rule) {
      expect(() => encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow })).toThrow(OpenFlowError);
      expect(flowProblems(flow)[0].field).toBeDefined();
      const m = decodeMessage(bytes[i]) as M.FlowMod;
      expect(m.problems?.map((p) => p.rule)).toEqual([rule]);
      expect(encodeMessage(m, { lenient: true }).equals(bytes[i])).toBe(true);
    }
  });

  test('widths: a source of another width, a value wider than its destination (learn-width)', () => {
    const a = learnFlow({}, [{ kind: 'match', dst: { field: 'reg0' }, src: { field: 'eth_src' } }]);
    const b = learnFlow({}, [{ kind: 'load', dst: { field: 'reg0', ofs: 0, nBits: 4 }, value: 0x10n }]);
    for (const f of [a, b]) {
      expect(flowProblems(f).map((p) => p.rule)).toEqual(['learn-width']);
      let thrown: unknown;
      try {
        encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: f });
      } catch (e) {
        thrown = e;
      }
      expect((thrown as OpenFlowError).kind).toBe('invalid');
      expect((thrown as OpenFlowError).problems?.[0]).toMatchObject({ field: 'reg0', action: 'learn', rule: 'learn-width' });
    }
  });
});

describe('meters and group ids: our verdict is the switch\'s (ovs-vswitchd, dummy datapath)', () => {
  jest.setTimeout(60_000);
  let ovs: PrivateOvs;
  let server: OpenFlowServer;
  let sw: SwitchConnection;

  beforeAll(async () => {
    server = await OpenFlowServer.listen({ listen: 'tcp:0:127.0.0.1', echoIntervalMs: 2000 });
    ovs = await startPrivateOvs({ vswitchd: 'dummy' });
    ovs.vsctl(
      'add-br', 'br0',
      '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure', 'other-config:datapath-id=00000000000000ab',
      '--', 'set-controller', 'br0', `tcp:127.0.0.1:${server.port}`,
    );
    sw = await server.waitForSwitch(20_000);
  });

  afterAll(async () => {
    await server?.close();
    await ovs?.stop();
  });

  const meter = (meterId: number, bands: Meter['bands'] = [{ type: 'drop', rate: 10, burstSize: 10 }]): Meter => ({ meterId, unit: 'kbps', burst: false, stats: false, bands });
  const METERS: [string, Meter, FlowRule | undefined][] = [
    ['id 1', meter(1), undefined],
    ['id 0', meter(0), 'meter-id'],
    ['id OFPM_MAX', meter(0xffff0000), undefined],
    ['id OFPM_MAX + 1', meter(0xffff0001), 'meter-id'],
    // OVS 3.1 configures its virtual meters: slowpath and controller
    ['id slowpath', meter(0xfffffffd), undefined],
    ['id controller', meter(0xfffffffe), undefined],
    ['id all', meter(0xffffffff), 'meter-id'],
    ['no bands', meter(7, []), 'meter-bands'],
    ['two drop bands', meter(8, [{ type: 'drop', rate: 10, burstSize: 10 }, { type: 'drop', rate: 20, burstSize: 20 }]), undefined],
    ['rate 0', meter(9, [{ type: 'drop', rate: 0, burstSize: 0 }]), 'meter-band'],
    ['a second band with rate 0', meter(12, [{ type: 'drop', rate: 10, burstSize: 10 }, { type: 'drop', rate: 0, burstSize: 0 }]), 'meter-band'],
    // (the userspace datapath refuses every dscp_remark band, OFPMMFC_BAD_BAND: a datapath capability
    // that meter_features reports, not a validity rule; not checked here)
  ];

  test.each(METERS.map(([name, , rule], i) => [name, rule ?? 'valid', i] as const))('%s: %s', async (_name, _rule, i) => {
    const [, m, rule] = METERS[i];
    expect(meterProblems(m).map((p) => p.rule)).toEqual(rule ? [rule] : []);
    const msg: M.MeterMod = { type: 'meter_mod', xid: 0, command: 'add', meter: m };
    if (rule) expect(() => encodeMessage(msg)).toThrow(new RegExp(rule));
    // the switch's own answer to the bytes (sent as a raw message, past our encoder's check)
    const bytes = encodeMessage({ ...msg, xid: 1 }, { lenient: true });
    const raw: M.RawMessage = { type: 'raw', xid: 0, version: 4, messageType: bytes[1], body: Uint8Array.from(bytes.subarray(8)) };
    const errors: unknown[] = [];
    const onError = (e: unknown): void => void errors.push(e);
    sw.on('error', onError);
    try {
      await sw.sendMessage(raw);
      await sw.barrier();
    } finally {
      sw.off('error', onError);
    }
    expect({ refused: errors.length > 0 }).toEqual({ refused: rule !== undefined });
    if (!rule) await sw.send([{ op: 'delete-meter', meterId: m.meterId }]);
  });

  // OVS's decoder takes any group id; the switch refuses reserved ones
  const GROUP_IDS: [number, FlowRule | undefined][] = [[1, undefined], [0xffffff00, undefined], [0xffffff01, 'group-id'], [0xfffffffc, 'group-id'], [0xffffffff, 'group-id']];
  test.each(GROUP_IDS.map(([id, rule]) => [id.toString(16), rule ?? 'valid', id, rule] as const))('group id 0x%s: %s', async (_hex, _r, groupId, rule) => {
    const group: Group = { groupId, type: 'all', buckets: [{ actions: [out(1)] }] };
    expect(groupProblems(group).map((p) => p.rule)).toEqual(rule ? [rule] : []);
    const bytes = encodeMessage({ type: 'group_mod', xid: 1, command: 'add', group }, { lenient: true });
    const raw: M.RawMessage = { type: 'raw', xid: 0, version: 4, messageType: bytes[1], body: Uint8Array.from(bytes.subarray(8)) };
    const errors: unknown[] = [];
    const onError = (e: unknown): void => void errors.push(e);
    sw.on('error', onError);
    try {
      await sw.sendMessage(raw);
      await sw.barrier();
    } finally {
      sw.off('error', onError);
    }
    expect({ refused: errors.length > 0 }).toEqual({ refused: rule !== undefined });
    if (!rule) await sw.send([{ op: 'delete-group', groupId }]);
  });
});
