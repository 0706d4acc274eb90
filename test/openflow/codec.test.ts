/**
 * Property tests of the codec: round trip on generated messages, decode of arbitrary bytes only
 * returns a message or throws a typed OpenFlowError, framing under random splits.
 */
import fc from 'fast-check';
import { BufferWriter } from '../../fabric/openflow/buffer-writer';
import {
  OFP_BUCKET_FIXED_SIZE, OFP_DESC_SIZE, OFP_FLOW_MOD_FIXED_SIZE, OFP_FLOW_STATS_FIXED_SIZE, OFP_METER_BAND_SIZE,
  OFP_PORT_SIZE, OFP_PORT_STATS_SIZE, OFP_TABLE_STATS_SIZE,
} from '../../fabric/openflow/constants';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeInto, encodeMessage } from '../../fabric/openflow/encode';
import { OpenFlowError } from '../../fabric/openflow/errors';
import { FrameSplitter, splitFrames } from '../../fabric/openflow/framing';
import type { OfpMessage } from '../../fabric/openflow/messages';
import { arbMessage } from './arbitraries';

const seed = Number(process.env.FC_SEED ?? Date.now() % 1_000_000);
// printed so that any failure can be replayed with FC_SEED=<seed>
// eslint-disable-next-line no-console
console.log(`codec property tests: FC_SEED=${seed}`);
const params = { seed, numRuns: 300, verbose: 0 as const };

describe('struct sizes match the spec (OFP_*_SIZE)', () => {
  test('fixed parts encode to the spec sizes', () => {
    const fm = encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: { table: 0, priority: 0, match: {}, instructions: {}, cookie: 0n } });
    expect(fm.length).toBe(OFP_FLOW_MOD_FIXED_SIZE + 8); // + empty ofp_match (4 bytes + 4 padding)
    const port = { portNo: 1, hwAddr: '00:00:00:00:00:01', name: 'p1', config: 0, state: 0, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 };
    expect(encodeMessage({ type: 'port_status', xid: 1, reason: 0, port }).length).toBe(16 + OFP_PORT_SIZE);
    const mp = (body: never): number => encodeMessage({ type: 'multipart_reply', xid: 1, flags: 0, body }).length - 16;
    expect(mp({ kind: 'desc', desc: { mfrDesc: '', hwDesc: '', swDesc: '', serialNum: '', dpDesc: '' } } as never)).toBe(OFP_DESC_SIZE);
    const z = 0n;
    expect(mp({ kind: 'port_stats', ports: [{ portNo: 1, rxPackets: z, txPackets: z, rxBytes: z, txBytes: z, rxDropped: z, txDropped: z, rxErrors: z, txErrors: z, rxFrameErr: z, rxOverErr: z, rxCrcErr: z, collisions: z, durationSec: 0, durationNsec: 0 }] } as never)).toBe(OFP_PORT_STATS_SIZE);
    expect(mp({ kind: 'table', tables: [{ tableId: 0, activeCount: 0, lookupCount: z, matchedCount: z }] } as never)).toBe(OFP_TABLE_STATS_SIZE);
    expect(mp({ kind: 'flow', flows: [{ flow: { table: 0, priority: 0, match: {}, instructions: {}, cookie: z }, durationSec: 0, durationNsec: 0, packetCount: z, byteCount: z }] } as never)).toBe(OFP_FLOW_STATS_FIXED_SIZE + 8);
    expect(encodeMessage({ type: 'group_mod', xid: 1, command: 'add', group: { groupId: 1, type: 'all', buckets: [{ actions: [] }] } }).length).toBe(16 + OFP_BUCKET_FIXED_SIZE);
    expect(encodeMessage({ type: 'meter_mod', xid: 1, command: 'add', meter: { meterId: 1, unit: 'kbps', burst: false, stats: false, bands: [{ type: 'drop', rate: 1, burstSize: 0 }] } }).length).toBe(16 + OFP_METER_BAND_SIZE);
  });
});

describe('round trip', () => {
  test('decode(encode(m)) equals m, and encode(decode(bytes)) equals bytes', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeMessage(m);
        expect(bytes.readUInt16BE(2)).toBe(bytes.length);
        const back = decodeMessage(bytes);
        expect(back).toEqual(m);
        expect(encodeMessage(back).equals(bytes)).toBe(true);
      }),
      params,
    );
  });

  test('encodeInto a tiny (growing) writer gives the same bytes as encodeMessage', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeMessage(m);
        const w = new BufferWriter(16);
        encodeInto(w, m);
        expect(w.flush().equals(bytes)).toBe(true);
      }),
      { ...params, numRuns: 100 },
    );
  });
});

function decodeOrTypedError(bytes: Buffer): OfpMessage | OpenFlowError {
  try {
    return decodeMessage(bytes);
  } catch (e) {
    if (!(e instanceof OpenFlowError)) throw new Error(`decode threw a non-OpenFlowError: ${String(e)} for ${bytes.toString('hex')}`);
    return e;
  }
}

describe('bad input', () => {
  test('arbitrary bytes: a message or a typed OpenFlowError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (raw) => {
        decodeOrTypedError(Buffer.from(raw));
      }),
      { ...params, numRuns: 2000 },
    );
  });

  test('arbitrary bodies behind a valid OF1.3 header of every type', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 35 }), fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 0, max: 0xffffffff }), (type, body, xid) => {
        const b = Buffer.alloc(8 + body.length);
        b[0] = 4;
        b[1] = type;
        b.writeUInt16BE(b.length, 2);
        b.writeUInt32BE(xid, 4);
        b.set(body, 8);
        const r = decodeOrTypedError(b);
        // whatever decodes must re-encode to the same bytes (unknown parts stay raw)
        if (!(r instanceof OpenFlowError)) expect(encodeMessage(r).toString('hex')).toBe(b.toString('hex'));
      }),
      { ...params, numRuns: 3000 },
    );
  });

  test('mutated valid messages (flipped bytes, truncations): message or typed error', () => {
    fc.assert(
      fc.property(arbMessage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (m, flips, cut) => {
        const b = Buffer.from(encodeMessage(m));
        for (const [at, v] of flips) b[at % b.length] = v;
        decodeOrTypedError(b);
        decodeOrTypedError(b.subarray(0, cut % (b.length + 1)));
      }),
      params,
    );
  });

  test('typed errors by kind', () => {
    const kind = (hex: string): string => (decodeOrTypedError(Buffer.from(hex, 'hex')) as OpenFlowError).kind;
    expect(kind('0400')).toBe('truncated');
    expect(kind('0400000400000001')).toBe('bad-length'); // length 4 < 8
    expect(kind('0400002000000001')).toBe('truncated'); // length 32, 8 given
    expect(kind('040e000c0000000100000000')).toBe('truncated'); // a flow_mod body of 4 bytes
    // a flow_mod whose match length runs past the end
    const fm = Buffer.from(encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: { table: 0, priority: 0, match: {}, instructions: {}, cookie: 0n } }));
    fm.writeUInt16BE(200, 50);
    expect(kind(fm.toString('hex'))).toBe('bad-length');
    const e = new FrameSplitter(100);
    expect(() => e.push(Buffer.from('040e01000000000100', 'hex'))).toThrow(expect.objectContaining({ kind: 'oversized' }));
    expect(() => new FrameSplitter().push(Buffer.from('0400000200000001', 'hex'))).toThrow(expect.objectContaining({ kind: 'bad-length' }));
  });
});

describe('framing', () => {
  test('any split of a stream gives the same messages', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => encodeMessage(m)));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const s = new FrameSplitter();
        const frames: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          frames.push(...s.push(stream.subarray(prev, p)));
          prev = p;
        }
        expect(s.bufferedBytes).toBe(0);
        expect(frames.map((f) => decodeMessage(f))).toEqual(msgs);
      }),
      params,
    );
  });

  test('every split point of a fixture (pg-protocol style)', () => {
    const msgs: OfpMessage[] = [
      { type: 'hello', xid: 1, versions: [4] },
      { type: 'echo_request', xid: 2, data: Uint8Array.from(Buffer.from('ping')) },
      { type: 'barrier_reply', xid: 3 },
    ];
    const stream = Buffer.concat(msgs.map((m) => encodeMessage(m)));
    for (let i = 0; i <= stream.length; i++) {
      const s = new FrameSplitter();
      const frames = [...s.push(stream.subarray(0, i)), ...s.push(stream.subarray(i))];
      expect(frames.map((f) => decodeMessage(f))).toEqual(msgs);
    }
    expect(() => splitFrames(stream.subarray(0, stream.length - 1))).toThrow(expect.objectContaining({ kind: 'truncated' }));
  });
});
