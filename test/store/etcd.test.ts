/**
 * The etcd intent store (fabric/store/etcd.ts) on a real three-member etcd cluster (etcd-server 3.4 on
 * 127.0.0.1 high ports, started and stopped by this test): batches written through one controller's
 * store (a client of member 0 only) are seen, in order, by another's watch and load (a client of
 * member 2 only); appends racing from two stores get distinct dense revisions; a fenced append is
 * refused when the fence key is not ours; the store survives the loss of one member.
 */
import { EtcdStore, NotLeaderError, parseEtcdUrl } from '../../fabric/store';
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

const pod = (name: string): IntentBatch => ({ source: 'api', events: [{ at: 0, kind: 'pod', action: 'add', name, node: 'node1', labels: {}, ip: '10.244.1.7' }] });

test('parseEtcdUrl', () => {
  expect(parseEtcdUrl('etcd://127.0.0.1:2379')).toEqual({ hosts: ['http://127.0.0.1:2379'], prefix: '/fabric' });
  expect(parseEtcdUrl('etcd://127.0.0.1:1,127.0.0.1:2/x/y/')).toEqual({ hosts: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], prefix: '/x/y' });
  expect(() => parseEtcdUrl('http://127.0.0.1:1')).toThrow(/etcd:\/\//);
  expect(() => parseEtcdUrl('etcd://nohost')).toThrow(/HOST:PORT/);
});

test('written through one store, seen through another store\'s watch and load', async () => {
  const a = EtcdStore.open(etcd.url('/tstore1', [0]));
  const b = EtcdStore.open(etcd.url('/tstore1', [2]));
  try {
    expect(await a.load()).toEqual({ revision: 0, batches: [] });
    const seen: StoredBatch[] = [];
    b.watch(0, (x) => seen.push(x));
    const t0 = Date.now();
    const revs: number[] = [];
    for (let i = 1; i <= 20; i++) revs.push(await a.append(pod(`p${i}`)));
    const appendMs = (Date.now() - t0) / 20;
    expect(revs).toEqual([...Array(20).keys()].map((i) => i + 1));
    const { ms } = await waitFor('the watch to deliver 20 batches', () => (seen.length === 20 ? true : undefined), 10_000, 10);
    expect(seen.map((x) => x.revision)).toEqual(revs);
    expect(seen.map((x) => (x.events[0] as { name: string }).name)).toEqual(revs.map((r) => `p${r}`));
    expect((await b.load()).batches).toEqual(seen);
    // a watch from a revision: only what is after it, then new ones
    const later: number[] = [];
    b.watch(18, (x) => later.push(x.revision));
    await waitFor('the replay from 18', () => (later.length === 2 ? true : undefined), 10_000, 10);
    await a.append(pod('p21'));
    await waitFor('the new batch', () => (later.length === 3 ? true : undefined), 10_000, 10);
    expect(later).toEqual([19, 20, 21]);
    process.stdout.write(`etcd store: append ${appendMs.toFixed(1)} ms each (3-member quorum on loopback); watch caught up ${ms} ms after the last append\n`);
  } finally {
    await a.close();
    await b.close();
  }
});

test('racing appends from two stores: distinct dense revisions, nothing lost', async () => {
  const a = EtcdStore.open(etcd.url('/tstore2', [0]));
  const b = EtcdStore.open(etcd.url('/tstore2', [1]));
  try {
    const results = await Promise.all([...Array(10).keys()].flatMap((i) => [a.append(pod(`a${i}`)), b.append(pod(`b${i}`))]));
    expect([...results].sort((x, y) => x - y)).toEqual([...Array(20).keys()].map((i) => i + 1));
    const names = (await a.load()).batches.map((x) => (x.events[0] as { name: string }).name).sort();
    expect(names).toHaveLength(20);
    expect(new Set(names).size).toBe(20);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a fenced append is refused unless the fence key has that create revision; one member down is fine', async () => {
  const a = EtcdStore.open(etcd.url('/tstore3'));
  try {
    await a.client.put('/tstore3/election/x').value('me');
    const rev = String((await a.client.get('/tstore3/election/x').exec()).kvs[0].create_revision);
    a.fence = () => ({ key: '/tstore3/election/x', createRevision: rev });
    expect(await a.append(pod('ok'))).toBe(1);
    a.fence = () => ({ key: '/tstore3/election/x', createRevision: String(Number(rev) - 1) });
    await expect(a.append(pod('stale'))).rejects.toBeInstanceOf(NotLeaderError);
    a.fence = () => undefined;
    await expect(a.append(pod('standby'))).rejects.toBeInstanceOf(NotLeaderError);
    a.fence = undefined;
    await etcd.kill(1);
    expect(await a.append(pod('quorum-of-2'))).toBe(2);
    expect((await a.load()).batches.map((x) => (x.events[0] as { name: string }).name)).toEqual(['ok', 'quorum-of-2']);
  } finally {
    await a.close();
  }
});
