/**
 * Compaction of the etcd store (fabric/store/etcd.ts EtcdStore.compact) on a real three-member etcd
 * cluster (started and stopped by this test, as test/store/etcd.test.ts does): one transaction replaces
 * batches 1..N by the compacted batch N; load returns it first; appends continue densely; a watcher
 * started before the compaction (and current) ignores the compacted batch and receives later appends;
 * one started after sees the compacted batch, then the rest; etcd's key history is compacted at the
 * revision batch N had been written at; a fenced compaction is refused when the fence is not ours.
 */
import { EtcdStore, NotLeaderError } from '../../fabric/store';
import type { IntentBatch, StoredBatch } from '../../fabric/store';
import { EtcdCluster, startEtcdCluster } from './support/etcd';
import { waitFor } from './support/child';

let etcd: EtcdCluster;
beforeAll(async () => {
  etcd = await startEtcdCluster(3);
}, 60_000);
afterAll(async () => {
  await etcd?.stop();
});

const pod = (name: string): IntentBatch => ({ source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name, node: 'node1', labels: {} }] });
const names = (bs: StoredBatch[]): string[] => bs.map((b) => (b.events[0] as { name: string })?.name ?? `<${b.source}>`);

test('compact: one batch first, later revisions kept, appends continue; watchers before and after', async () => {
  const a = EtcdStore.open(etcd.url('/tcompact1', [0]));
  const b = EtcdStore.open(etcd.url('/tcompact1', [2]));
  try {
    for (let i = 1; i <= 30; i++) await a.append(pod(`p${i}`));
    // a watcher on another member, current before the compaction
    const before: StoredBatch[] = [];
    b.watch(0, (x) => before.push(x));
    await waitFor('the early watcher to catch up', () => (before.length === 30 ? true : undefined), 10_000, 10);
    const upToRev = (await a.client.get('/tcompact1/intent/b/' + String(25).padStart(16, '0')).exec()).kvs[0].mod_revision;
    const t0 = Date.now();
    await a.compact(25, { source: 'whatever', events: [{ at: 0, kind: 'pod', action: 'add', name: 'net', node: 'node1', labels: {} }], at: 'T' });
    const compactMs = Date.now() - t0;
    const loaded = await b.load();
    expect(loaded.revision).toBe(30);
    expect(loaded.batches.map((x) => x.revision)).toEqual([25, 26, 27, 28, 29, 30]);
    expect(loaded.batches[0]).toEqual({ source: 'compacted', events: [{ at: 0, kind: 'pod', action: 'add', name: 'net', node: 'node1', labels: {} }], at: 'T', compacted: { from: 1, to: 25 }, revision: 25 });
    // no batch key below 25 is left
    expect((await a.client.getAll().prefix('/tcompact1/intent/b/').keys()).length).toBe(6);
    // etcd history compacted at the revision batch 25 had been written at: older reads fail, newer work
    expect(a.lastHistoryCompaction).toEqual({ revision: String(upToRev) });
    await expect(a.client.get('/tcompact1/intent/head').revision(Number(upToRev) - 1).exec()).rejects.toThrow(/compacted/);
    expect((await a.client.get('/tcompact1/intent/head').revision(Number(upToRev)).exec()).kvs).toHaveLength(1);
    // appends continue densely; the early watcher got none of the compaction, then the new ones
    expect(await a.append(pod('p31'))).toBe(31);
    expect(await a.append(pod('p32'))).toBe(32);
    await waitFor('the early watcher to see 31, 32', () => (before.length === 32 ? true : undefined), 10_000, 10);
    expect(before.map((x) => x.revision)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(before.some((x) => x.source === 'compacted')).toBe(false);
    // a watcher started after: the compacted batch, then the rest, then new appends
    const after: StoredBatch[] = [];
    b.watch(0, (x) => after.push(x));
    await waitFor('the late watcher', () => (after.length === 8 ? true : undefined), 10_000, 10);
    expect(await a.append(pod('p33'))).toBe(33);
    await waitFor('the late watcher to see 33', () => (after.length === 9 ? true : undefined), 10_000, 10);
    expect(after.map((x) => x.revision)).toEqual([25, 26, 27, 28, 29, 30, 31, 32, 33]);
    expect(names(after)).toEqual(['net', 'p26', 'p27', 'p28', 'p29', 'p30', 'p31', 'p32', 'p33']);
    // a watcher from a revision inside the compacted range gets the compacted batch (it must rebuild: needsRebuild)
    const inside: number[] = [];
    b.watch(10, (x) => inside.push(x.revision));
    await waitFor('the inside watcher', () => (inside.length === 9 ? true : undefined), 10_000, 10);
    expect(inside[0]).toBe(25);
    // compacting again folds the compacted batch; below it is refused
    await expect(a.compact(20, { source: 'x', events: [] })).rejects.toThrow(/already compacted/);
    await expect(a.compact(40, { source: 'x', events: [] })).rejects.toThrow(/last revision is 33/);
    await a.compact(31, { source: 'x', events: [] });
    expect((await b.load()).batches.map((x) => x.revision)).toEqual([31, 32, 33]);
    expect((await b.load()).batches[0].compacted).toEqual({ from: 1, to: 31 });
    expect(await a.append(pod('p34'))).toBe(34);
    await waitFor('both watchers to see 34', () => (before[before.length - 1]?.revision === 34 && after[after.length - 1]?.revision === 34 ? true : undefined), 10_000, 10);
    expect(before[before.length - 1].revision).toBe(34);
    expect(after[after.length - 1].revision).toBe(34);
    expect(before.filter((x) => x.source === 'compacted')).toHaveLength(0);
    process.stdout.write(`etcd compaction of 25 batches: ${compactMs} ms (3-member quorum on loopback)\n`);
  } finally {
    await a.close();
    await b.close();
  }
});

test('compaction races appends from another store: nothing lost; a fenced compaction needs the fence', async () => {
  const a = EtcdStore.open(etcd.url('/tcompact2', [0]));
  const b = EtcdStore.open(etcd.url('/tcompact2', [1]));
  a.compactEtcdHistory = false;
  try {
    for (let i = 1; i <= 20; i++) await a.append(pod(`p${i}`));
    const [, ...revs] = await Promise.all([a.compact(15, { source: 'x', events: [] }), ...Array.from({ length: 10 }, (_, i) => b.append(pod(`r${i}`)))]);
    expect([...(revs as number[])].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    const loaded = await a.load();
    expect(loaded.revision).toBe(30);
    expect(loaded.batches.map((x) => x.revision)).toEqual([15, ...Array.from({ length: 15 }, (_, i) => 16 + i)]);
    // the fence: not ours -> NotLeaderError, nothing written
    await a.client.put('/tcompact2/election/x').value('me');
    const rev = String((await a.client.get('/tcompact2/election/x').exec()).kvs[0].create_revision);
    a.fence = () => ({ key: '/tcompact2/election/x', createRevision: String(Number(rev) - 1) });
    await expect(a.compact(20, { source: 'x', events: [] })).rejects.toBeInstanceOf(NotLeaderError);
    a.fence = () => undefined;
    await expect(a.compact(20, { source: 'x', events: [] })).rejects.toBeInstanceOf(NotLeaderError);
    expect((await a.load()).batches[0].revision).toBe(15);
    a.fence = () => ({ key: '/tcompact2/election/x', createRevision: rev });
    await a.compact(20, { source: 'x', events: [] });
    expect((await a.load()).batches[0].revision).toBe(20);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a watcher whose member was stopped while batches were appended and compacted catches up: every batch, or the compacted one (rebuild) then the rest', async () => {
  const a = EtcdStore.open(etcd.url('/tcompact3', [0]));
  const b = EtcdStore.open(etcd.url('/tcompact3', [2]));
  try {
    for (let i = 1; i <= 5; i++) await a.append(pod(`p${i}`));
    const seen: StoredBatch[] = [];
    b.watch(0, (x) => seen.push(x));
    await waitFor('the watcher', () => (seen.length === 5 ? true : undefined), 10_000, 10);
    etcd.pause(2); // the watcher's only member stops answering
    try {
      for (let i = 6; i <= 20; i++) await a.append(pod(`p${i}`));
      await a.compact(18, { source: 'x', events: [] });
      expect(a.lastHistoryCompaction?.error).toBeUndefined();
    } finally {
      etcd.resume(2);
    }
    const { ms } = await waitFor('the watcher to reach 20', () => (seen[seen.length - 1]?.revision === 20 ? true : undefined), 20_000, 20);
    const revs = seen.map((x) => x.revision);
    expect(revs.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    // either it saw the compacted batch 18 (history gone: restarted with a range read) or every batch
    expect(revs.slice(5)).toEqual(revs.includes(18) && seen.find((x) => x.revision === 18)!.compacted ? [18, 19, 20] : Array.from({ length: 15 }, (_, i) => 6 + i));
    process.stdout.write(`etcd watcher cut off across a compaction: got ${JSON.stringify(revs.slice(5))} ${ms} ms after its member resumed\n`);
  } finally {
    await a.close();
    await b.close();
  }
}, 60_000);
