/**
 * Replica against a real ovsdb-server: after every change (made by the C tool ovsdb-client) the
 * replica equals `ovsdb-client dump`, for update2 diffs (sets toggled, maps merged, optional columns)
 * and for RFC 7047 update. After the server is killed, the database changed offline with ovsdb-tool
 * and the server restarted, the client reconnects with backoff and the replica resynchronises.
 */
import { execFileSync } from 'child_process';
import { OvsdbClient, OvsdbDisconnectedError, OvsdbTimeoutError, Replica, Row, op, valuesEqual } from '../../fabric/ovsdb';
import { PrivateOvsdb, startOvsdb } from './servers';

jest.setTimeout(60_000);

let server: PrivateOvsdb;

beforeAll(async () => {
  server = await startOvsdb();
});
afterAll(async () => {
  await server?.stop();
});

function cTransact(...operations: unknown[]): unknown[] {
  return JSON.parse(server.client('transact', JSON.stringify(['Lab', ...operations])));
}

function cDump(table: string): Map<string, Row> {
  const out = JSON.parse(server.client('dump', '--format=json', 'Lab', table)) as { headings: string[]; data: unknown[][] };
  const rows = out.data.map((cells) => Object.fromEntries(out.headings.map((h, i) => [h, cells[i]])) as Row);
  return new Map(rows.map((r) => [(r._uuid as ['uuid', string])[1], r]));
}

/** Every row and column of the replica equals ovsdb-client's dump. */
function expectSameAsDump(replica: Replica, table: string): void {
  const theirs = cDump(table);
  const ours = replica.rows(table);
  expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
  for (const [uuid, row] of theirs) {
    for (const [column, value] of Object.entries(row)) {
      if (column === '_version') continue;
      const same = valuesEqual(ours.get(uuid)![column], value);
      if (!same) throw new Error(`${table} ${uuid} column ${column}: ours ${JSON.stringify(ours.get(uuid)![column])} theirs ${JSON.stringify(value)}`);
    }
  }
}

describe.each(['monitor_cond', 'monitor'] as const)('Replica over %s', (method) => {
  test('follows inserts, set/map/optional modifications, GC and deletes exactly like ovsdb-client dump', async () => {
    const client = await OvsdbClient.connect(server.unixUrl);
    const replica = await Replica.create(client, 'Lab', { Root: undefined, Member: undefined }, { method });
    try {
      const name = `root-${method}`;
      const steps: (() => unknown[])[] = [
        () => [
          { op: 'insert', table: 'Root', row: { name, mode: 'fast', tags: ['map', [['a', '1'], ['b', '2']]], members: ['set', [['named-uuid', 'x'], ['named-uuid', 'y']]] } },
          { op: 'insert', table: 'Member', 'uuid-name': 'x', row: { name: 'x', weight: 1, labels: ['set', ['p', 'q']] } },
          { op: 'insert', table: 'Member', 'uuid-name': 'y', row: { name: 'y', weight: 2, peer: ['named-uuid', 'x'], scores: ['map', [['s', 1]]] } },
        ],
        // map: change a, delete b, add c; set: remove p, add r; optional ratio: empty → 0.5
        () => [
          { op: 'mutate', table: 'Root', where: [['name', '==', name]], mutations: [['tags', 'delete', ['set', ['b']]], ['tags', 'insert', ['map', [['c', '3']]]]] },
          { op: 'update', table: 'Root', where: [['name', '==', name]], row: { ratio: 0.5, flags: true } },
          { op: 'update', table: 'Member', where: [['name', '==', 'x']], row: { labels: ['set', ['q', 'r']] } },
        ],
        () => [{ op: 'update', table: 'Root', where: [['name', '==', name]], row: { tags: ['map', [['a', 'changed'], ['c', '3']]], ratio: ['set', []] } }],
        // drop member x: it is garbage-collected, y.peer (weak) is cleared
        () => [{ op: 'mutate', table: 'Root', where: [['name', '==', name]], mutations: [['members', 'delete', ['set', [cDumpUuid('Member', 'x')]]]] }],
        () => [{ op: 'delete', table: 'Root', where: [['name', '==', name]] }],
      ];
      for (let i = 0; i < steps.length; i++) {
        const ops = steps[i]();
        const before = replica.updateCount;
        cTransact(...ops);
        await replica.waitFor((r) => r.updateCount > before, 5000);
        expectSameAsDump(replica, 'Root');
        expectSameAsDump(replica, 'Member');
      }
      expect(replica.rows('Root').size).toBe(0);
      expect(replica.rows('Member').size).toBe(0);
    } finally {
      await replica.cancel();
      await client.close();
    }
  });
});

function cDumpUuid(table: string, name: string): ['uuid', string] {
  for (const row of cDump(table).values()) if (row.name === name) return row._uuid as ['uuid', string];
  return ['uuid', '00000000-0000-0000-0000-000000000000'];
}

test('waitFor: resolves on the awaited change, times out with OvsdbTimeoutError', async () => {
  const client = await OvsdbClient.connect(server.unixUrl);
  const replica = await Replica.create(client, 'Lab', { Item: ['n'] });
  try {
    const seen = replica.waitFor((r) => r.find('Item', (row) => row.n === 77).length === 1, 5000);
    await client.transact('Lab', op.insert('Item', { n: 77 }));
    await seen;
    await expect(replica.waitFor(() => false, 50)).rejects.toBeInstanceOf(OvsdbTimeoutError);
  } finally {
    await replica.cancel();
    await client.close();
  }
});

test('reconnect with backoff: monitors re-sent, replica resynchronised with changes made while down', async () => {
  cTransact(
    { op: 'delete', table: 'Item', where: [] },
    { op: 'insert', table: 'Item', row: { n: 1, text: 'kept' } },
    { op: 'insert', table: 'Item', row: { n: 2, text: 'deleted-offline' } },
  );
  const client = await OvsdbClient.connect(server.unixUrl, { reconnect: { initialDelayMs: 50, maxDelayMs: 400 }, echoIntervalMs: 0 });
  const events: string[] = [];
  client.on('disconnect', () => events.push('disconnect'));
  client.on('reconnect', () => events.push('reconnect'));
  const replica = await Replica.create(client, 'Lab', { Item: ['n', 'text'] });
  try {
    expect(replica.find('Item', () => true).map((r) => r.text).sort()).toEqual(['deleted-offline', 'kept']);
    // a transaction blocked in the server (wait with a long timeout) when the server dies
    const inFlight = client.transact('Lab', op.wait('Item', [['n', '==', 1]], ['text'], '==', [{ text: 'never' }], 60_000)).catch((e: unknown) => e);
    await client.echo();
    await server.kill();
    expect(await inFlight).toBeInstanceOf(OvsdbDisconnectedError);
    await expect(client.echo()).rejects.toBeInstanceOf(OvsdbDisconnectedError); // never hangs while down
    // change the database file while no server runs: the replica cannot see this as an update
    execFileSync('ovsdb-tool', [
      'transact',
      server.dbFile,
      JSON.stringify(['Lab', { op: 'delete', table: 'Item', where: [['n', '==', 2]] }, { op: 'insert', table: 'Item', row: { n: 3, text: 'added-offline' } }]),
    ]);
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts, backing off
    server.restart();
    await replica.waitFor((r) => r.resyncCount === 1, 10_000);
    expect(replica.find('Item', () => true).map((r) => r.text).sort()).toEqual(['added-offline', 'kept']);
    // and live updates flow again on the re-sent monitor
    cTransact({ op: 'insert', table: 'Item', row: { n: 4, text: 'after' } });
    await replica.waitFor((r) => r.find('Item', (row) => row.n === 4).length === 1, 5000);
    expect(events).toEqual(['disconnect', 'reconnect']);
    expect(await client.echo('ok')).toEqual(['ok']);
  } finally {
    await replica.cancel();
    await client.close();
  }
});
