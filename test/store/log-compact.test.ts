/**
 * Compaction of the embedded log (fabric/store/log.ts LogStore.compact): records 1..N become one
 * compacted record (revision N) followed by the later records byte for byte; load, reopen and later
 * appends keep dense revisions; a crash before the rename (a leftover intent.log.compact) leaves the
 * old log, and the next open deletes the leftover; appends racing a compaction are not lost; the file
 * gets smaller. Also measures compactStore on 10,000 batches.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compactStore, encodeRecord, netEvents, LogStore, parseLog, stateSnapshot, StoreCorruptError } from '../../fabric/store';
import type { IntentBatch, StoredBatch } from '../../fabric/store';
import { applyEvent, buildClusterState, cloneClusterState } from '../../topology';
import type { ClusterState } from '../../topology/types';
import { scenarioFromSpec } from '../topology/gen';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-tcompact-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const base = buildClusterState(scenarioFromSpec({ maskLen: 24, nodes: [1, 2], pods: [], services: [] }));
/** pod i added at batch 2i+1 on node0 with a pinned IP, deleted at 2i+2 unless it is one of the last four */
function churn(n: number): IntentBatch[] {
  const out: IntentBatch[] = [];
  for (let i = 0; out.length < n; i++) {
    out.push({ source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name: `p${i}`, node: 'node0', labels: { app: 'web' }, ip: `10.244.1.${10 + (i % 200)}` }], at: '2026-12-03T20:00:00.000Z' });
    if (out.length < n) out.push({ source: 'api', events: [{ at: 0, kind: 'pod', action: 'delete', name: `p${i}` }], at: '2026-12-03T20:00:00.000Z' });
  }
  return out;
}
function replay(state: ClusterState, batches: readonly StoredBatch[]): string {
  let s = cloneClusterState(state);
  for (const b of batches) {
    const copy = cloneClusterState(s);
    try {
      for (const ev of b.events) applyEvent(copy, ev);
      s = copy;
    } catch {
      /* skipped whole */
    }
  }
  return stateSnapshot(s);
}

test('compact, load, reopen, append: the compacted record first, dense revisions after it, a smaller file', async () => {
  const dir = tempDir();
  const s = LogStore.open(dir);
  for (const b of churn(41)) await s.append(b);
  const want = replay(base, (await s.load()).batches);
  const file = path.join(dir, 'intent.log');
  const sizeBefore = fs.statSync(file).size;
  const tailBefore = fs.readFileSync(file).subarray(parseLog(fs.readFileSync(file)).ends[29]);
  expect(await compactStore(s, base, { upTo: 30, at: 'T' })).toEqual({ upTo: 30, folded: 30, events: 0 });
  const loaded = await s.load();
  expect(loaded.revision).toBe(41);
  expect(loaded.batches.map((b) => b.revision)).toEqual([30, ...Array.from({ length: 11 }, (_, i) => 31 + i)]);
  expect(loaded.batches[0]).toEqual({ source: 'compacted', events: [], at: 'T', compacted: { from: 1, to: 30 }, revision: 30 });
  expect(replay(base, loaded.batches)).toBe(want);
  // the records after 30 are the same bytes
  const data = fs.readFileSync(file);
  expect(data.subarray(parseLog(data).ends[0]).equals(tailBefore)).toBe(true);
  expect(data.subarray(0, parseLog(data).ends[0]).toString()).toBe(encodeRecord(30, { source: 'compacted', events: [], at: 'T', compacted: { from: 1, to: 30 } }));
  expect(fs.statSync(file).size).toBeLessThan(sizeBefore / 2);
  // appends continue with the next dense revision, through the reopened file descriptor
  expect(await s.append(churn(1)[0])).toBe(42);
  await s.close();
  const r = LogStore.open(dir);
  const again = await r.load();
  expect(again.revision).toBe(42);
  expect(again.batches.map((b) => b.revision)).toEqual([30, ...Array.from({ length: 12 }, (_, i) => 31 + i)]);
  // compacting again folds the compacted record with the later ones; below it is refused
  await expect(r.compact(29, { source: 'x', events: [] })).rejects.toThrow(/already compacted/);
  await expect(r.compact(43, { source: 'x', events: [] })).rejects.toThrow(/last revision is 42/);
  const res = await compactStore(r, base, { upTo: 42 });
  expect(res).toMatchObject({ upTo: 42, folded: 13 });
  const third = await r.load();
  expect(third.batches).toHaveLength(1);
  expect(third.batches[0]).toMatchObject({ revision: 42, source: 'compacted', compacted: { from: 1, to: 42 } });
  expect(replay(base, third.batches)).toBe(replay(base, again.batches));
  // a watch from 0 sees the compacted batch; from 42 nothing
  const seen: number[] = [];
  r.watch(0, (b) => seen.push(b.revision));
  const none: number[] = [];
  r.watch(42, (b) => none.push(b.revision));
  expect(await r.append(churn(1)[0])).toBe(43);
  expect(seen).toEqual([42, 43]);
  expect(none).toEqual([43]);
  await r.close();
});

test('a crash before the rename: the old log is intact, the leftover .compact file is deleted at open', async () => {
  const dir = tempDir();
  const s = LogStore.open(dir);
  for (const b of churn(10)) await s.append(b);
  const file = path.join(dir, 'intent.log');
  const before = fs.readFileSync(file);
  s.beforeRename = () => {
    throw new Error('crash');
  };
  await expect(compactStore(s, base, { upTo: 8 })).rejects.toThrow('crash');
  expect(fs.existsSync(path.join(dir, 'intent.log.compact'))).toBe(true);
  expect(fs.readFileSync(file).equals(before)).toBe(true);
  // the process dies here (the store is not closed: its lock is left too, with our own pid)
  fs.rmSync(path.join(dir, 'lock'));
  const r = LogStore.open(dir);
  expect(fs.existsSync(path.join(dir, 'intent.log.compact'))).toBe(false);
  const loaded = await r.load();
  expect(loaded.revision).toBe(10);
  expect(loaded.batches.map((b) => b.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // a half-written leftover (a crash while writing it) is dropped the same way
  await r.close();
  fs.writeFileSync(path.join(dir, 'intent.log.compact'), '{"rev":8,"sum":"00');
  const r2 = LogStore.open(dir);
  expect(fs.existsSync(path.join(dir, 'intent.log.compact'))).toBe(false);
  expect((await r2.load()).revision).toBe(10);
  await r2.close();
});

test('appends racing a compaction are serialized: none lost, dense revisions', async () => {
  const dir = tempDir();
  const s = LogStore.open(dir);
  for (const b of churn(200)) await s.append(b);
  const extra = churn(40).map((b) => ({ ...b, source: 'race' }));
  // the compaction is queued first: the appends issued in the same tick wait for its rename
  const compacting = s.compact(150, { source: 'compacted', events: netEvents(base, (await s.load()).batches.slice(0, 150)) });
  const revs = await Promise.all([...extra.slice(0, 20).map((b) => s.append(b)), compacting.then(() => Promise.all(extra.slice(20).map((b) => s.append(b))))]).then(([...r]) => r.flat() as number[]);
  await compacting;
  expect([...revs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => 201 + i));
  await s.close();
  const r = LogStore.open(dir);
  const loaded = await r.load();
  expect(loaded.revision).toBe(240);
  expect(loaded.batches[0]).toMatchObject({ revision: 150, source: 'compacted' });
  expect(loaded.batches.filter((b) => b.source === 'race')).toHaveLength(40);
  expect(loaded.batches.map((b) => b.revision)).toEqual([150, ...Array.from({ length: 90 }, (_, i) => 151 + i)]);
  await r.close();
});

test('parseLog: only a compacted record may start above revision 1; a torn line after it is dropped', () => {
  const c = encodeRecord(5, { source: 'compacted', events: [], compacted: { from: 1, to: 5 } });
  const six = encodeRecord(6, { source: 'api', events: [] });
  expect(parseLog(Buffer.from(c + six)).batches.map((b) => b.revision)).toEqual([5, 6]);
  // not compacted, or compacted with another `to`: not a valid first record
  expect(parseLog(Buffer.from(encodeRecord(5, { source: 'api', events: [] }))).torn).toBe(true);
  expect(parseLog(Buffer.from(encodeRecord(5, { source: 'compacted', events: [], compacted: { from: 1, to: 4 } }))).torn).toBe(true);
  expect(() => parseLog(Buffer.from(encodeRecord(5, { source: 'api', events: [] }) + six))).toThrow(StoreCorruptError);
  // a compacted record in the middle is not accepted out of sequence
  expect(() => parseLog(Buffer.from(c + encodeRecord(9, { source: 'compacted', events: [], compacted: { from: 1, to: 9 } }) + six))).toThrow(StoreCorruptError);
  const torn = parseLog(Buffer.from(c + six + six.slice(0, 20)));
  expect(torn).toMatchObject({ torn: true, goodBytes: c.length + six.length });
});

test('measured: compactStore on 10,000 batches (pod adds, deletes, moves; 10 nodes)', async () => {
  const big = buildClusterState(scenarioFromSpec({ maskLen: 24, nodes: Array.from({ length: 10 }, (_, i) => i + 1), pods: [], services: [] }));
  const dir = tempDir();
  const s = LogStore.open(dir, { fsync: false });
  const shadow = cloneClusterState(big);
  let next = 0;
  const live: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    // 60% adds (IP pinned, as the daemon stores them), 30% deletes, 10% moves
    const r = i % 10;
    let b: IntentBatch;
    if ((r < 6 || live.length === 0) && live.length < 1200) {
      const name = `q${next++}`;
      applyEvent(shadow, { at: 0, kind: 'pod', action: 'add', name, node: `node${next % 10}`, labels: { app: `a${i % 7}` } });
      b = { source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name, node: `node${next % 10}`, labels: { app: `a${i % 7}` }, ip: shadow.pods.get(name)!.ip }] };
      live.push(name);
    } else if (r < 9) {
      const [name] = live.splice((i * 7919) % live.length, 1);
      applyEvent(shadow, { at: 0, kind: 'pod', action: 'delete', name });
      b = { source: 'api', events: [{ at: 0, kind: 'pod', action: 'delete', name }] };
    } else {
      const name = live[(i * 104729) % live.length];
      const to = `node${(i * 3) % 10}`;
      applyEvent(shadow, { at: 0, kind: 'pod', action: 'move', name, to });
      b = { source: 'api', events: [{ at: 0, kind: 'pod', action: 'move', name, to }] };
    }
    await s.append({ ...b, at: '2026-12-03T20:00:00.000Z' });
  }
  const file = path.join(dir, 'intent.log');
  const sizeBefore = fs.statSync(file).size;
  const loadT0 = process.hrtime.bigint();
  const all = (await s.load()).batches;
  const want = replay(big, all);
  const replayMs = Number(process.hrtime.bigint() - loadT0) / 1e6;
  const t0 = process.hrtime.bigint();
  const res = await compactStore(s, big, { keep: 100 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  expect(res).toMatchObject({ upTo: 9900, folded: 9900 });
  const after = await s.load();
  expect(after.batches).toHaveLength(101);
  expect(replay(big, after.batches)).toBe(want);
  const sizeAfter = fs.statSync(file).size;
  await s.close();
  const o0 = process.hrtime.bigint();
  const r = LogStore.open(dir);
  await r.load();
  const openMs = Number(process.hrtime.bigint() - o0) / 1e6;
  await r.close();
  process.stdout.write(
    `log compaction: 10000 batches, ${sizeBefore} -> ${sizeAfter} bytes, ${live.length} pods, compactStore ${ms.toFixed(0)} ms (${res!.events} net events); ` +
      `replaying the 10000 batches the daemon's way ${replayMs.toFixed(0)} ms; open+load after ${openMs.toFixed(1)} ms\n`,
  );
}, 180_000);
