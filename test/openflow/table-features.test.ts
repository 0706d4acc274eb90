/**
 * OFPMP_TABLE_FEATURES (multipart type 12), typed: a real OVS 3.1 reply (fixture, captured once
 * from a private ovs-vswitchd with a dummy datapath: `dump-table-features` of a fresh bridge, 20
 * reply parts, one hex frame a line, gzipped) decodes typed and re-encodes byte-identically; what
 * ovs-ofctl sends as the request too; and generated table features survive encode -> decode -> encode
 * (fast-check, fixed seed) and the JSON form.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import fc from 'fast-check';
import { decodeHexToJson, encodeJsonToHex } from '../../cli/commands/ofp';
import { decodeMessage, mergeMultipartReplies } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import type * as M from '../../fabric/openflow/messages';
import { startRecorder } from './fake-switch';
import { DECODE_FAILURE, ovsPrintMany } from './oracle';

const SEED = Number(process.env.TF_FC_SEED ?? 20260612);

const FIXTURE = path.join(__dirname, 'fixtures', 'ovs-3.1-table-features-reply.hex.gz');
const frames: Buffer[] = zlib
  .gunzipSync(fs.readFileSync(FIXTURE))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => Buffer.from(l.trim(), 'hex'));

const decoded = frames.map((f) => decodeMessage(f) as M.MultipartReply);

describe('a real OVS 3.1 TABLE_FEATURES reply', () => {
  test('every part decodes typed and re-encodes to the same bytes', () => {
    expect(frames.length).toBeGreaterThan(1);
    decoded.forEach((m, i) => {
      expect(m.type).toBe('multipart_reply');
      expect(m.body.kind).toBe('table_features');
      // the last part alone has no OFPMPF_REPLY_MORE
      expect(m.flags & 1).toBe(i === frames.length - 1 ? 0 : 1);
      expect(encodeMessage(m).toString('hex')).toBe(frames[i].toString('hex'));
    });
  });

  test('OVS sends only property types the model types (no raw properties)', () => {
    const props = decoded.flatMap((m) => (m.body as { tables: M.TableFeatures[] }).tables.flatMap((t) => t.properties));
    expect(props.filter((p) => p.prop === 'raw')).toEqual([]);
    expect(new Set(props.map((p) => p.prop))).toEqual(
      new Set(['instructions', 'instructions_miss', 'next_tables', 'next_tables_miss', 'write_actions', 'write_actions_miss', 'apply_actions', 'apply_actions_miss', 'match', 'wildcards', 'write_setfield', 'write_setfield_miss', 'apply_setfield', 'apply_setfield_miss']),
    );
  });

  test('table count and known values match what ovs-ofctl ofp-print prints', () => {
    const merged = mergeMultipartReplies(decoded);
    if (merged.kind !== 'table_features') throw new Error(merged.kind);
    const printed = ovsPrintMany(frames).join('\n');
    expect(printed).not.toMatch(DECODE_FAILURE);
    // "table N:" / 'table N ("name"):' once each, "tables A...B: ditto" for runs like the one before
    const ids: number[] = [];
    const names = new Map<number, string>();
    for (const line of printed.split('\n')) {
      const one = /^\s+table (\d+)(?: \("([^"]*)"\))?:/.exec(line);
      if (one) {
        ids.push(Number(one[1]));
        names.set(Number(one[1]), one[2] ?? '');
      }
      const run = /^\s+tables (\d+)\.\.\.(\d+): ditto/.exec(line);
      if (run) for (let t = Number(run[1]); t <= Number(run[2]); t++) ids.push(t);
    }
    expect(merged.tables.map((t) => t.tableId)).toEqual(ids);
    expect(merged.tables).toHaveLength(254);
    const t0 = merged.tables[0];
    expect(t0.tableId).toBe(0);
    expect(t0.name).toBe(names.get(0));
    const maxEntries = /table 0[^\n]*\n(?:[^\n]*\n)*?\s+max_entries=(\d+)/.exec(printed);
    expect(t0.maxEntries).toBe(Number(maxEntries?.[1]));
    expect(t0.maxEntries).toBe(1_000_000);
    const meta = /metadata: match=(0x[0-9a-f]+) write=(0x[0-9a-f]+)/.exec(printed);
    expect([t0.metadataMatch, t0.metadataWrite]).toEqual([BigInt(meta![1]), BigInt(meta![2])]);
    // "next tables: 1-253" for table 0
    const next = t0.properties.find((p) => p.prop === 'next_tables');
    expect(next).toEqual({ prop: 'next_tables', tableIds: Array.from({ length: 253 }, (_, i) => i + 1) });
    // instructions: meter apply_actions clear_actions write_actions write_metadata goto_table
    const ins = t0.properties.find((p) => p.prop === 'instructions');
    expect(ins && 'instructions' in ins ? ins.instructions.map((i) => i.type).sort() : []).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('through the JSON form (fabric ofp decode | encode) to the same bytes', () => {
    for (const f of [frames[0], frames[frames.length - 1]]) {
      const hex = f.toString('hex');
      expect(encodeJsonToHex(decodeHexToJson(hex))).toBe(hex);
    }
  });
});

describe('the request', () => {
  test('what ovs-ofctl dump-table-features sends: typed (a query: no tables), byte-identical', async () => {
    const rec = await startRecorder();
    try {
      const sent = await rec.record(['dump-table-features'], []);
      const i = sent.findIndex((f) => decodeMessage(f).type === 'multipart_request');
      const m = decodeMessage(sent[i]) as M.MultipartRequest;
      expect(m.body).toEqual({ kind: 'table_features', tables: [] });
      expect(encodeMessage(m).toString('hex')).toBe(sent[i].toString('hex'));
    } finally {
      await rec.close();
    }
  });

  test('a request that sets tables carries OVS-made entries unchanged', () => {
    const tables = (decoded[0].body as { tables: M.TableFeatures[] }).tables.slice(0, 2);
    const bytes = encodeMessage({ type: 'multipart_request', xid: 9, flags: 0, body: { kind: 'table_features', tables } });
    const back = decodeMessage(bytes) as M.MultipartRequest;
    expect(back.body).toEqual({ kind: 'table_features', tables });
    expect(encodeMessage(back).equals(bytes)).toBe(true);
  });
});

// ---- generated ---------------------------------------------------------------------------------

const u = (bits: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** bits - 1 });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const arbId: fc.Arbitrary<M.TableFeatureId> = fc.oneof(
  u(16).map((type) => ({ type })),
  fc.record({ type: u(16), data: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
);
const arbOxm: fc.Arbitrary<M.TableFeatureOxmId> = fc.oneof(
  u(32).filter((h) => h >>> 16 !== 0xffff).map((header) => ({ header })),
  fc.record({ header: u(16).map((l) => (0xffff0000 | l) >>> 0), experimenter: u(32) }),
);
const arbProp: fc.Arbitrary<M.TableFeatureProp> = fc.oneof(
  fc.record({ prop: fc.constantFrom('instructions' as const, 'instructions_miss' as const), instructions: fc.array(arbId, { maxLength: 6 }) }),
  fc.record({ prop: fc.constantFrom('next_tables' as const, 'next_tables_miss' as const), tableIds: fc.array(u(8), { maxLength: 20 }) }),
  fc.record({
    prop: fc.constantFrom('write_actions' as const, 'write_actions_miss' as const, 'apply_actions' as const, 'apply_actions_miss' as const),
    actions: fc.array(arbId, { maxLength: 6 }),
  }),
  fc.record({
    prop: fc.constantFrom('match' as const, 'wildcards' as const, 'write_setfield' as const, 'write_setfield_miss' as const, 'apply_setfield' as const, 'apply_setfield_miss' as const),
    oxms: fc.array(arbOxm, { maxLength: 8 }),
  }),
  fc.record({ prop: fc.constantFrom('experimenter' as const, 'experimenter_miss' as const), experimenter: u(32), expType: u(32), data: bytes(12) }),
  // unknown types (9, 11, 16..0xfffd) stay raw
  fc.record({ prop: fc.constant('raw' as const), propType: fc.oneof(fc.constantFrom(9, 11), fc.integer({ min: 16, max: 0xfffd })), data: bytes(20) }),
);
const arbTableFeatures: fc.Arbitrary<M.TableFeatures> = fc.record({
  tableId: u(8),
  name: fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 32 }).map((cs) => String.fromCharCode(...cs)),
  metadataMatch: fc.bigUintN(64),
  metadataWrite: fc.bigUintN(64),
  config: u(32),
  maxEntries: u(32),
  properties: fc.array(arbProp, { maxLength: 6 }),
});

test(`generated table features: encode -> decode -> encode, and through JSON (fast-check seed ${SEED})`, () => {
  fc.assert(
    fc.property(fc.boolean(), u(32), fc.array(arbTableFeatures, { maxLength: 3 }), (reply, xid, tables) => {
      const msg: M.OfpMessage = reply
        ? { type: 'multipart_reply', xid, flags: 0, body: { kind: 'table_features', tables } }
        : { type: 'multipart_request', xid, flags: 0, body: { kind: 'table_features', tables } };
      const bytes = encodeMessage(msg);
      const back = decodeMessage(bytes);
      expect(back).toEqual(msg);
      expect(encodeMessage(back).equals(bytes)).toBe(true);
      const hex = bytes.toString('hex');
      expect(encodeJsonToHex(decodeHexToJson(hex))).toBe(hex);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('malformed bodies stay raw (lossless), bad properties stay raw inside a typed entry', () => {
  // 40 bytes: shorter than one entry
  const short = Buffer.concat([Buffer.from('0413003000000001000c000000000000', 'hex'), Buffer.alloc(32, 0xab)]);
  const m = decodeMessage(short) as M.MultipartReply;
  expect(m.body.kind).toBe('raw');
  expect(encodeMessage(m).equals(short)).toBe(true);
  // a typed entry with an OXM property of odd length: kept raw
  const entry: M.TableFeatures = { tableId: 1, name: 'x', metadataMatch: 0n, metadataWrite: 0n, config: 0, maxEntries: 5, properties: [{ prop: 'raw', propType: 8, data: Uint8Array.from([0x80, 0, 0]) }] };
  const bytes = encodeMessage({ type: 'multipart_reply', xid: 2, flags: 0, body: { kind: 'table_features', tables: [entry] } });
  const back = decodeMessage(bytes) as M.MultipartReply;
  expect(back.body).toEqual({ kind: 'table_features', tables: [entry] });
  expect(encodeMessage(back).equals(bytes)).toBe(true);
});
