/**
 * The JSON round trip through the CLI path, for every message type the codec knows:
 * bytes -> `fabric ofp decode` (decodeHexToJson) -> JSON text -> `fabric ofp encode`
 * (encodeJsonToHex) -> the same bytes. Property-based with a fixed seed (printed on failure;
 * JSON_FC_SEED overrides it), plus OVS-made bytes of the newly typed bodies.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runOfp } from './ofp-cli';
import fc from 'fast-check';
import { decodeHexToJson, encodeJsonToHex } from '../../cli/commands/ofp';
import { errorNames } from '../../fabric/openflow/constants';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import type * as M from '../../fabric/openflow/messages';
import { arbFlow, arbMatch, arbMessage } from './arbitraries';
import { startRecorder, type Recorder } from './fake-switch';
import { DECODE_FAILURE, ovsEncodeFlows, ovsPrintMany } from './oracle';

const SEED = Number(process.env.JSON_FC_SEED ?? 20260601);
const RUNS = Number(process.env.JSON_FC_RUNS ?? 1500);

const u = (bits: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** bits - 1 });
const c64 = fc.bigUintN(64);
const xid = u(32);
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
const pair = fc.tuple(u(32), u(32));
const latin1 = (max: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: Math.min(max, 24) }).map((cs) => String.fromCharCode(...cs));

/** message kinds beyond arbMessage: the newly typed bodies and everything that stays raw */
const arbExtra: fc.Arbitrary<M.OfpMessage> = fc.oneof(
  fc.record({ type: fc.constant('table_mod' as const), xid, tableId: u(8), config: u(32) }),
  fc.record({ type: fc.constant('get_async_request' as const), xid }),
  fc.record({ type: fc.constantFrom('get_async_reply' as const, 'set_async' as const), xid, packetInMask: pair, portStatusMask: pair, flowRemovedMask: pair }),
  fc.record({ type: fc.constant('port_mod' as const), xid, portNo: u(32), hwAddr: fc.constantFrom('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '0a:58:0a:f4:01:01'), config: u(32), mask: u(32), advertise: u(32) }),
  fc.record({
    type: fc.constant('multipart_request' as const), xid, flags: u(1),
    body: fc.oneof(
      fc.record({ kind: fc.constant('queue' as const), portNo: u(32), queueId: u(32) }),
      fc.constant({ kind: 'meter_features' as const }),
      // GROUP_FEATURES, TABLE_FEATURES, EXPERIMENTER: raw
      fc.record({ kind: fc.constant('raw' as const), multipartType: fc.constantFrom(8, 12, 0xffff), data: bytes(0, 40) }),
    ) as fc.Arbitrary<M.MultipartRequestBody>,
  }),
  fc.record({
    type: fc.constant('multipart_reply' as const), xid, flags: u(1),
    body: fc.oneof(
      fc.record({ kind: fc.constant('queue' as const), queues: fc.array(fc.record({ portNo: u(32), queueId: u(32), txBytes: c64, txPackets: c64, txErrors: c64, durationSec: u(32), durationNsec: u(32) }), { maxLength: 4 }) }),
      fc.record({ kind: fc.constant('meter_features' as const), features: fc.record({ maxMeter: u(32), bandTypes: u(32), capabilities: u(32), maxBands: u(8), maxColor: u(8) }) }),
      // latin1 text, as the decoder reads it (JSON carries the code points)
      fc.record({ kind: fc.constant('desc' as const), desc: fc.record({ mfrDesc: latin1(255), hwDesc: latin1(255), swDesc: latin1(255), serialNum: latin1(31), dpDesc: latin1(255) }) }),
      fc.record({ kind: fc.constant('raw' as const), multipartType: fc.constantFrom(8, 12, 0xffff), data: bytes(0, 40) }),
    ) as fc.Arbitrary<M.MultipartReplyBody>,
  }),
  fc.record({ type: fc.constant('meter_mod' as const), xid, meterId: u(32) }).map((r): M.OfpMessage => ({ type: 'meter_mod', xid: r.xid, command: 'delete', meter: { meterId: r.meterId, unit: 'kbps', burst: false, stats: false, bands: [] } })),
  fc.record({ type: fc.constant('experimenter' as const), xid, experimenter: u(32).filter((e) => e !== 0x4f4e4600), expType: u(32), data: bytes(0, 24) }),
  fc.record({ type: fc.constant('error' as const), xid, code: u(16), experimenter: u(32), data: bytes(0, 24) }).map(
    (e): M.ErrorMsg => ({ ...e, errorType: 0xffff, ...errorNames(0xffff, e.code, e.experimenter) }),
  ),
  // message types OpenFlow 1.3 does not define (QUEUE_GET_CONFIG is typed now) and other versions' messages stay raw
  fc.record({ type: fc.constant('raw' as const), xid, version: fc.constant(4), messageType: fc.integer({ min: 30, max: 255 }), body: bytes(0, 32) }),
  fc.record({ type: fc.constant('raw' as const), xid, version: fc.constantFrom(1, 2, 3, 5, 6), messageType: u(8).filter((t) => t !== 0), body: bytes(0, 32) }),
  fc.record({ type: fc.constant('hello' as const), xid, extraElements: fc.constant(Uint8Array.from([0, 9, 0, 8, 1, 2, 3, 4])) }),
  fc.record({ type: fc.constant('packet_in' as const), xid, bufferId: u(32), totalLen: u(16), reason: u(2), tableId: u(8), cookie: c64, match: arbMatch, data: bytes(0, 64) }),
  fc.record({ type: fc.constant('flow_mod' as const), xid, command: fc.constant('delete' as const), flow: arbFlow, cookieMask: c64, outPort: u(32), outGroup: u(32).filter((g) => g !== 0xffffffff) }),
);

/** every message type and multipart kind the model has; the property must reach all of them */
const ALL_TYPES: M.MessageType[] = [
  'hello', 'error', 'echo_request', 'echo_reply', 'features_request', 'features_reply', 'get_config_request', 'get_config_reply',
  'set_config', 'packet_in', 'flow_removed', 'port_status', 'packet_out', 'flow_mod', 'group_mod', 'port_mod', 'table_mod',
  'multipart_request', 'multipart_reply', 'barrier_request', 'barrier_reply', 'role_request', 'role_reply', 'get_async_request',
  'get_async_reply', 'set_async', 'meter_mod', 'bundle_control', 'bundle_add', 'experimenter', 'raw',
];
const ALL_KINDS = ['desc', 'flow', 'aggregate', 'table', 'port_stats', 'queue', 'group', 'group_desc', 'meter', 'meter_config', 'meter_features', 'port_desc', 'raw'];

const kindOf = (m: M.OfpMessage): string => (m.type === 'multipart_request' || m.type === 'multipart_reply' ? `${m.type}/${m.body.kind}` : m.type);

test(`decode -> JSON text -> parse -> encode through the CLI functions gives the same bytes (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  const seen = new Set<string>();
  const arb = fc.oneof({ arbitrary: arbMessage, weight: 2 }, { arbitrary: arbExtra, weight: 1 });
  try {
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 3 }), (msgs) => {
        const frames = msgs.map((m) => encodeMessage(m));
        for (const f of frames) seen.add(kindOf(decodeMessage(f)));
        const hex = Buffer.concat(frames).toString('hex');
        const json = decodeHexToJson(hex);
        expect(encodeJsonToHex(json)).toBe(hex);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  } catch (e) {
    throw new Error(`JSON round trip failed with JSON_FC_SEED=${SEED}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const types = new Set([...seen].map((k) => k.split('/')[0]));
  expect(ALL_TYPES.filter((t) => !types.has(t))).toEqual([]);
  for (const dir of ['multipart_request', 'multipart_reply']) {
    const kinds = new Set([...seen].filter((k) => k.startsWith(dir + '/')).map((k) => k.split('/')[1]));
    const expected = dir === 'multipart_request' ? ALL_KINDS : ALL_KINDS;
    expect([dir, expected.filter((k) => !kinds.has(k))]).toEqual([dir, []]);
  }
});

// ---- the CLI itself (commander), as a user runs it -----------------------------------------------

const run = runOfp;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-ofp-json-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function cliRoundTrip(hex: string): Promise<unknown> {
  const dec = await run(['ofp', 'decode', hex]);
  expect(dec).toMatchObject({ code: 0, err: '' });
  const file = path.join(tmp, 'm.json');
  fs.writeFileSync(file, dec.out);
  const enc = await run(['ofp', 'encode', file]);
  expect(enc).toEqual({ code: 0, out: hex + '\n', err: '' });
  return JSON.parse(dec.out);
}

test('OFPT_PORT_MOD: fabric ofp decode, then fabric ofp encode of that JSON (was "Cannot mix BigInt and other types")', async () => {
  const hex = encodeMessage({ type: 'port_mod', xid: 7, portNo: 3, hwAddr: '0a:58:0a:f4:01:01', config: 1, mask: 1, advertise: 0x840 }).toString('hex');
  const json = await cliRoundTrip(hex);
  expect(json).toEqual({ type: 'port_mod', xid: 7, portNo: 3, hwAddr: '0a:58:0a:f4:01:01', config: 1, mask: 1, advertise: 0x840 });
  // hand-written: the port mask is a number; a match mask stays a bigint next to it
  const file = path.join(tmp, 'hand.json');
  fs.writeFileSync(file, JSON.stringify([
    { type: 'port_mod', xid: 1, portNo: 3, hwAddr: '0a:58:0a:f4:01:01', config: 1, mask: 65, advertise: 0 },
    { type: 'flow_mod', xid: 2, command: 'add', flow: { table: 0, priority: 1, cookie: 0, instructions: {}, match: { eth_type: { value: 2048 }, ip_proto: { value: 6 }, tcp_dst: { value: '0xfde0', mask: 65520 } } } },
  ]));
  const enc = await run(['ofp', 'encode', file]);
  expect(enc.code).toBe(0);
  const back = JSON.parse((await run(['ofp', 'decode', enc.out.trim()])).out);
  expect(back[0]).toMatchObject({ type: 'port_mod', mask: 65 });
  expect(back[1].flow.match.tcp_dst).toEqual({ value: '0xfde0', mask: '0xfff0' });
});

test('ovs-ofctl -O OpenFlow13 ofp-print reads the newly typed messages as we meant them', () => {
  const cases: [M.OfpMessage, string][] = [
    [{ type: 'table_mod', xid: 1, tableId: 3, config: 3 }, 'OFPT_TABLE_MOD (OF1.3) (xid=0x1): table_id=3'],
    [{ type: 'get_async_request', xid: 2 }, 'OFPT_GET_ASYNC_REQUEST'],
    [{ type: 'get_async_reply', xid: 3, packetInMask: [7, 1], portStatusMask: [7, 7], flowRemovedMask: [15, 0] }, 'primary: PACKET_IN: no_match action invalid_ttl PORT_STATUS: add delete modify FLOW_REMOVED: idle hard delete group_delete'],
    [{ type: 'set_async', xid: 4, packetInMask: [3, 0], portStatusMask: [7, 0], flowRemovedMask: [1, 2] }, 'secondary: PACKET_IN: (off) PORT_STATUS: (off) FLOW_REMOVED: hard'],
    [{ type: 'multipart_request', xid: 5, flags: 0, body: { kind: 'queue', portNo: 0xffffffff, queueId: 0xffffffff } }, 'OFPST_QUEUE request (OF1.3) (xid=0x5): port=ANY queue=ALL'],
    [{ type: 'multipart_request', xid: 6, flags: 0, body: { kind: 'queue', portNo: 3, queueId: 1 } }, 'port=3 queue=1'],
    [{ type: 'multipart_request', xid: 7, flags: 0, body: { kind: 'meter_features' } }, 'OFPST_METER_FEATURES request'],
    [{ type: 'multipart_reply', xid: 8, flags: 0, body: { kind: 'queue', queues: [{ portNo: 1, queueId: 2, txBytes: 100n, txPackets: 3n, txErrors: 0n, durationSec: 5, durationNsec: 6 }] } }, 'port 1 queue 2: bytes=100, pkts=3, errors=0, duration=5.000000006s'],
    [{ type: 'multipart_reply', xid: 9, flags: 0, body: { kind: 'meter_features', features: { maxMeter: 200000, bandTypes: 6, capabilities: 0xf, maxBands: 1, maxColor: 0 } } }, 'max_meter:200000 max_bands:1 max_color:0 band_types: drop dscp_remark capabilities: kbps pktps burst stats'],
  ];
  const bytes = cases.map(([m]) => encodeMessage(m));
  const printed = ovsPrintMany(bytes);
  expect(printed).toHaveLength(cases.length);
  cases.forEach(([m, expected], i) => {
    expect(printed[i]).not.toMatch(DECODE_FAILURE);
    expect({ type: m.type, printed: printed[i].replace(/\s+/g, ' ') }).toEqual({ type: m.type, printed: expect.stringContaining(expected) });
    // and back: typed, and the same bytes
    const again = decodeMessage(bytes[i]);
    expect(again).toEqual(m);
  });
});

describe('what ovs-ofctl sends: typed, byte-identical, and through the CLI', () => {
  let rec: Recorder;
  beforeAll(async () => {
    rec = await startRecorder();
  });
  afterAll(async () => {
    await rec.close();
  });

  test.each<[string[], string[], string]>([
    [['queue-stats'], [], 'queue'],
    [['queue-stats'], ['3'], 'queue'],
    [['queue-stats'], ['3', '1'], 'queue'],
    [['meter-features'], [], 'meter_features'],
  ])('ovs-ofctl %j %j', async (args, rest, kind) => {
    const frames = await rec.record(args, rest);
    const i = frames.findIndex((f) => decodeMessage(f).type === 'multipart_request');
    const m = decodeMessage(frames[i]) as M.MultipartRequest;
    expect(m.body.kind).toBe(kind);
    expect(encodeMessage(m).toString('hex')).toBe(frames[i].toString('hex'));
    await cliRoundTrip(frames[i].toString('hex'));
  });

  test('OVS flow_mods with masked ports and IPv6 fields, through the CLI', async () => {
    const flows = ovsEncodeFlows([
      'tcp,tp_dst=0xfde0/0xfff0,actions=drop',
      'udp,udp_src=0x0/0x8000,udp_dst=0x100/0xff00,actions=drop',
      'icmp6,icmp_type=135,nd_target=2001:db8::1,nd_sll=00:11:22:33:44:55,actions=drop',
      'tcp6,ipv6_src=2001:db8::/32,ipv6_label=0x12345,tp_src=0x400/0xfc00,actions=drop',
    ]);
    for (const f of flows) {
      const json = (await cliRoundTrip(f.bytes.toString('hex'))) as { flow: { match: Record<string, unknown> }; matchRaw?: string };
      expect(json.matchRaw).toBeUndefined();
      expect(Object.keys(json.flow.match).length).toBeGreaterThan(2);
    }
  });
});
