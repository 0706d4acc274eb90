/**
 * The embedded intent store (fabric/store/log.ts): every appended batch is durable and read back in
 * order; a crash that tears the last line (any truncation point) loses exactly the batches whose line
 * was not complete, never a complete one (property test: random batches, random cut); the torn tail is
 * cut off so later appends continue cleanly; damage before the last line is corruption, not a tear.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { encodeRecord, EtcdStore, LogStore, MemoryStore, openStore, parseLog, StoreCorruptError } from '../../fabric/store';
import type { IntentBatch } from '../../fabric/store';
import type { ScenarioEvent } from '../../topology/types';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-tstore-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const event: fc.Arbitrary<ScenarioEvent> = fc.oneof(
  fc.record({ name, node: fc.constantFrom('node1', 'node2'), labels: fc.dictionary(name, fc.string({ maxLength: 8 }), { maxKeys: 2 }), ip: fc.option(fc.ipV4(), { nil: undefined }) }).map(
    (p) => ({ at: 0, kind: 'pod' as const, action: 'add' as const, name: p.name, node: p.node, labels: p.labels, ...(p.ip ? { ip: p.ip } : {}) }),
  ),
  name.map((n) => ({ at: 0, kind: 'pod' as const, action: 'delete' as const, name: n })),
  fc.tuple(name, name).map(([a, b]) => ({ at: 0, kind: 'link' as const, action: 'down' as const, between: [a, b] as [string, string] })),
);
const batch: fc.Arbitrary<IntentBatch> = fc.record({ source: fc.constantFrom('api', 'file'), events: fc.array(event, { minLength: 1, maxLength: 4 }) });

test('append, reopen, load: every batch in order with its revision; appends continue after', async () => {
  const dir = tempDir();
  const s = LogStore.open(dir);
  const b1: IntentBatch = { source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name: 'a', node: 'node1', labels: { app: 'web' }, ip: '10.244.1.9' }] };
  const b2: IntentBatch = { source: 'file', events: [{ at: 0, kind: 'pod', action: 'delete', name: 'a' }] };
  expect(await s.append(b1)).toBe(1);
  expect(await s.append(b2)).toBe(2);
  const seen: number[] = [];
  s.watch(1, (b) => seen.push(b.revision));
  expect(await s.append(b1)).toBe(3);
  expect(seen).toEqual([2, 3]);
  // one process per directory
  await s.close();
  const again = LogStore.open(dir);
  const loaded = await again.load();
  expect(loaded.revision).toBe(3);
  expect(loaded.batches).toEqual([
    { ...b1, revision: 1 },
    { ...b2, revision: 2 },
    { ...b1, revision: 3 },
  ]);
  expect(await again.append(b2)).toBe(4);
  await again.close();
  expect(fs.readFileSync(path.join(dir, 'intent.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
});

test('a lock held by a live process refuses a second opener; a dead one is taken over', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'lock'), '1\n'); // pid 1 is alive
  expect(() => LogStore.open(dir)).toThrow(/in use by process 1/);
  fs.writeFileSync(path.join(dir, 'lock'), '999999999\n');
  const s = LogStore.open(dir);
  await s.close();
  expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
});

test('property: a crash at any byte loses exactly the batches whose line was not complete', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 12 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('cut', 'zeros', 'garbage'), async (batches, where, tail) => {
      const dir = tempDir();
      const s = LogStore.open(dir);
      const acked: number[] = [];
      for (const b of batches) acked.push(await s.append(b));
      await s.close();
      expect(acked).toEqual(batches.map((_, i) => i + 1));
      const file = path.join(dir, 'intent.log');
      const full = fs.readFileSync(file);
      const cut = Math.floor(where * full.length);
      // what a crash can leave: a prefix, maybe followed by zeroed or partial blocks of the torn write
      const extra = tail === 'zeros' ? Buffer.alloc(7) : tail === 'garbage' && cut < full.length ? Buffer.from('{"rev":') : Buffer.alloc(0);
      fs.writeFileSync(file, Buffer.concat([full.subarray(0, cut), extra]));
      // the batches whose whole line (with its newline) lies before the cut
      let end = 0;
      let complete = 0;
      let kept = 0;
      for (const b of batches) {
        end += Buffer.byteLength(encodeRecord(complete + 1, b));
        if (end <= cut) (complete++, (kept = end));
      }
      let dropped = -1;
      const r = LogStore.open(dir, { onTorn: (n) => (dropped = n) });
      const loaded = await r.load();
      expect(loaded.revision).toBe(complete);
      expect(loaded.batches).toEqual(batches.slice(0, complete).map((b, i) => ({ ...b, revision: i + 1 })));
      expect(dropped).toBe(cut + extra.length > kept ? cut + extra.length - kept : -1);
      expect(fs.statSync(file).size).toBe(kept);
      // the torn tail is gone from the file: the next append is the next revision and reads back
      const next: IntentBatch = { source: 'api', events: [{ at: 0, kind: 'pod', action: 'delete', name: 'x' }] };
      expect(await r.append(next)).toBe(complete + 1);
      await r.close();
      const r2 = LogStore.open(dir);
      expect((await r2.load()).batches.map((b) => b.revision)).toEqual([...Array(complete + 1).keys()].map((i) => i + 1));
      await r2.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }),
    { numRuns: 100 },
  );
});

test('damage before the last line is corruption (the store does not open), not a torn write', () => {
  const lines = [1, 2, 3].map((rev) => encodeRecord(rev, { source: 'api', events: [{ at: 0, kind: 'pod', action: 'delete', name: `p${rev}` }] }));
  const good = Buffer.from(lines.join(''));
  expect(parseLog(good).batches).toHaveLength(3);
  // a flipped byte inside record 2: its checksum fails and record 3 follows
  const bad = Buffer.from(good);
  const at = lines[0].length + lines[1].indexOf('p2');
  bad[at] = 'q'.charCodeAt(0);
  expect(() => parseLog(bad)).toThrow(StoreCorruptError);
  // the same damage in the last record: a torn write, dropped
  const lastBad = Buffer.from(good);
  lastBad[lines[0].length + lines[1].length + lines[2].indexOf('p3')] = 'q'.charCodeAt(0);
  expect(parseLog(lastBad)).toMatchObject({ torn: true, goodBytes: lines[0].length + lines[1].length });
  expect(parseLog(lastBad).batches).toHaveLength(2);
  // a record out of sequence is damage too
  expect(parseLog(Buffer.from(lines[0] + lines[2])).torn).toBe(true);
});

test('openStore: etcd:// (shared), else --state-dir (the log), else memory (nothing kept)', async () => {
  const dir = tempDir();
  const log = openStore({ stateDir: dir });
  expect(log).toBeInstanceOf(LogStore);
  await log.close();
  const etcd = openStore({ store: 'etcd://127.0.0.1:1', stateDir: dir });
  expect(etcd).toBeInstanceOf(EtcdStore);
  await etcd.close();
  expect(() => openStore({ store: 'zk://x' })).toThrow(/etcd:\/\//);
  const mem = openStore({});
  expect(mem).toBeInstanceOf(MemoryStore);
  const seen: number[] = [];
  mem.watch(0, (b) => seen.push(b.revision));
  expect(await mem.append({ source: 'api', events: [] })).toBe(1);
  expect(await mem.append({ source: 'api', events: [] })).toBe(2);
  expect(seen).toEqual([1, 2]);
  expect(await mem.load()).toEqual({ revision: 2, batches: [] });
  const kept = new MemoryStore();
  await kept.append({ source: 'api', events: [] });
  expect((await kept.load()).batches).toHaveLength(1);
});
