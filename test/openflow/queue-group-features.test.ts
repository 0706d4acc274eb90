/**
 * OFPMP_GROUP_FEATURES and OFPT_QUEUE_GET_CONFIG_REQUEST/REPLY, typed:
 *  - the requests `ovs-ofctl dump-group-features` / `queue-get-config` send decode typed and
 *    re-encode byte for byte; our replies (from the fake switch) are read by ovs-ofctl as we meant;
 *  - `ovs-ofctl ofp-print` of replies we encode prints what we put in;
 *  - a real ovs-vswitchd answers both, and its replies decode typed and re-encode identically;
 *  - queue properties we do not model, and odd lengths, stay raw and lossless.
 */
import { OpenFlowServer, type SwitchConnection } from '../../fabric/openflow/channel';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { messageToJson, messagesFromJson } from '../../fabric/openflow/json';
import type * as M from '../../fabric/openflow/messages';
import { startPrivateOvs, type PrivateOvs } from '../support/ovs';
import { FAKE_GROUP_FEATURES, startRecorder, type Recorder } from './fake-switch';
import { DECODE_FAILURE, ovsPrint } from './oracle';

const hex = (b: Buffer): string => b.toString('hex');

function roundTrip(frames: Buffer[]): M.OfpMessage[] {
  return frames.map((f) => {
    const m = decodeMessage(f);
    expect(hex(encodeMessage(m, { lenient: true }))).toBe(hex(f));
    expect(messagesFromJson(JSON.parse(messageToJson(m)))).toEqual([m]);
    return m;
  });
}

describe('requests ovs-ofctl sends, and its reading of our replies', () => {
  let rec: Recorder;
  beforeAll(async () => {
    rec = await startRecorder();
  });
  afterAll(async () => {
    await rec.close();
  });

  test('dump-group-features: a typed OFPMP_GROUP_FEATURES request; OVS prints our reply', async () => {
    const msgs = roundTrip(await rec.record(['dump-group-features'], []));
    expect(msgs[0]).toMatchObject({ type: 'multipart_request', body: { kind: 'group_features' } });
    const out = rec.lastStdout();
    expect(out).toContain('OFPST_GROUP_FEATURES reply');
    expect(out).toMatch(/Group table:\s+Types:\s+0xf\s+Capabilities:\s+0x7/);
    expect(out).toMatch(/all group:\s+max_groups=0xff00/);
  });

  test('queue-get-config: a typed OFPT_QUEUE_GET_CONFIG_REQUEST; OVS prints our reply', async () => {
    const msgs = roundTrip(await rec.record(['queue-get-config'], ['1']));
    expect(msgs.find((m) => m.type === 'queue_get_config_request')).toEqual({ type: 'queue_get_config_request', xid: expect.any(Number), port: 1 });
    const out = rec.lastStdout();
    expect(out).toContain('OFPT_QUEUE_GET_CONFIG_REPLY');
    expect(out).toMatch(/queue 0:\s+min_rate:10\.0%\s+max_rate:50\.0%/);
    expect(out).toMatch(/queue 7:\s+max_rate:100\.0%/);
    expect(out).toMatch(/queue 9:/);
    const all = roundTrip(await rec.record(['queue-get-config'], []));
    expect(all.find((m) => m.type === 'queue_get_config_request')).toMatchObject({ port: 0xffffffff });
  });
});

describe('replies we encode', () => {
  test('group features: ofp-print shows every value; decode gives it back', () => {
    const msg: M.MultipartReply = { type: 'multipart_reply', xid: 5, flags: 0, body: { kind: 'group_features', features: { types: 0b1011, capabilities: 0x5, maxGroups: [10, 20, 30, 40], actions: [1, 1 << 22, 0x1, 0x10001] } } };
    const bytes = encodeMessage(msg);
    expect(bytes.length).toBe(16 + 40);
    const printed = ovsPrint(hex(bytes));
    expect(printed).not.toMatch(DECODE_FAILURE);
    expect(printed).toMatch(/Types:\s+0xb/);
    expect(printed).toMatch(/select group:\s+max_groups=0x14/);
    expect(decodeMessage(bytes)).toEqual(msg);
  });

  test('queue config reply: min/max rates, an experimenter property, several queues', () => {
    const msg: M.QueueGetConfigReply = {
      type: 'queue_get_config_reply',
      xid: 9,
      port: 3,
      queues: [
        { queueId: 1, port: 3, properties: [{ prop: 'min_rate', rate: 0 }, { prop: 'max_rate', rate: 1000 }] },
        { queueId: 2, port: 3, properties: [{ prop: 'max_rate', rate: 0xffff }] },
      ],
    };
    const bytes = encodeMessage(msg);
    const printed = ovsPrint(hex(bytes));
    expect(printed).not.toMatch(DECODE_FAILURE);
    expect(printed).toMatch(/port=3/);
    expect(printed).toMatch(/queue 1:\s+min_rate:0\.0%\s+max_rate:100\.0%/);
    // a rate above 1000 is "disabled": OVS prints no rate at all
    expect(printed).toMatch(/queue 2:\s*$/m);
    expect(decodeMessage(bytes)).toEqual(msg);
    const withExp: M.QueueGetConfigReply = { ...msg, queues: [{ queueId: 4, port: 3, properties: [{ prop: 'experimenter', experimenter: 0x2320, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }] }] };
    const b2 = encodeMessage(withExp);
    expect(decodeMessage(b2)).toEqual(withExp);
    expect(messagesFromJson(JSON.parse(messageToJson(withExp)))).toEqual([withExp]);
  });

  test('unknown properties stay raw; odd lengths and padding keep the message raw; both lossless', () => {
    const msg: M.QueueGetConfigReply = { type: 'queue_get_config_reply', xid: 1, port: 1, queues: [{ queueId: 1, port: 1, properties: [{ prop: 'raw', propType: 7, data: Uint8Array.from([9, 9, 9, 9, 0, 0, 0, 0]) }] }] };
    const bytes = encodeMessage(msg);
    expect(decodeMessage(bytes)).toEqual(msg);
    // a min_rate of 24 bytes (not OVS's 16): the property stays raw
    const odd = encodeMessage({ ...msg, queues: [{ queueId: 1, port: 1, properties: [{ prop: 'raw', propType: 1, data: new Uint8Array(16) }] }] });
    const m1 = decodeMessage(odd) as M.QueueGetConfigReply;
    expect(m1.queues[0].properties[0]).toMatchObject({ prop: 'raw', propType: 1 });
    expect(hex(encodeMessage(m1))).toBe(hex(odd));
    // non-zero padding in a queue header: the whole message stays raw
    const padded = Buffer.from(bytes);
    padded[16 + 12] = 1;
    const m2 = decodeMessage(padded);
    expect(m2.type).toBe('raw');
    expect(hex(encodeMessage(m2))).toBe(hex(padded));
    // a queue length running past the message: raw too
    const long = Buffer.from(bytes);
    long.writeUInt16BE(0x100, 16 + 8);
    const m3 = decodeMessage(long);
    expect(m3.type).toBe('raw');
    expect(hex(encodeMessage(m3))).toBe(hex(long));
  });
});

describe('a real ovs-vswitchd answers both', () => {
  jest.setTimeout(60_000);
  let ovs: PrivateOvs;
  let server: OpenFlowServer;
  let sw: SwitchConnection;
  const frames: M.OfpMessage[] = [];

  beforeAll(async () => {
    server = await OpenFlowServer.listen({ listen: 'tcp:0:127.0.0.1', echoIntervalMs: 2000 });
    ovs = await startPrivateOvs({ vswitchd: 'dummy' });
    ovs.vsctl(
      'add-br', 'br0',
      '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure', 'other-config:datapath-id=00000000000000ac',
      '--', 'add-port', 'br0', 'p1', '--', 'set', 'interface', 'p1', 'type=dummy', 'ofport_request=1',
      '--', 'set-controller', 'br0', `tcp:127.0.0.1:${server.port}`,
    );
    sw = await server.waitForSwitch(20_000);
    sw.on('message', (m) => frames.push(m));
  });

  afterAll(async () => {
    await server?.close();
    await ovs?.stop();
  });

  test('group features: typed, OVS 3.1\'s values, re-encoded identically', async () => {
    const body = await sw.multipart({ kind: 'group_features' });
    expect(body.kind).toBe('group_features');
    const f = (body as Extract<M.MultipartReplyBody, { kind: 'group_features' }>).features;
    expect(f.types).toBe(0xf);
    expect(f.maxGroups).toHaveLength(4);
    expect(f.maxGroups.every((n) => n > 0)).toBe(true);
    const reply = frames.find((m) => m.type === 'multipart_reply' && m.body.kind === 'group_features')!;
    expect(decodeMessage(encodeMessage(reply))).toEqual(reply);
    expect(f).not.toEqual(FAKE_GROUP_FEATURES);
  });

  test('queue config of a port without queues, and of all ports', async () => {
    for (const port of [1, 0xffffffff]) {
      const reply = await sw.request({ type: 'queue_get_config_request', xid: 0, port });
      expect(reply.type).toBe('queue_get_config_reply');
      expect(decodeMessage(encodeMessage(reply))).toEqual(reply);
    }
  });
});
