/**
 * OvsdbClient against a real ovsdb-server on the test's own schema (Lab: sets, maps, strong and weak
 * references, a root-less table whose unreferenced rows are garbage-collected), cross-checked with the
 * C tool ovsdb-client on the same database.
 */
import { spawn } from 'child_process';
import {
  OvsdbClient,
  OvsdbCanceledError,
  OvsdbDisconnectedError,
  OvsdbRpcError,
  OvsdbSchemaError,
  OvsdbTransactionError,
  Row,
  TableUpdates,
  map,
  mapToObject,
  namedUuid,
  op,
  set,
  setElements,
  uuid,
  uuidOf,
  uuidsOf,
  valuesEqual,
} from '../../fabric/ovsdb';
import { PrivateOvsdb, startOvsdb } from './servers';

jest.setTimeout(60_000);

let server: PrivateOvsdb;
let client: OvsdbClient;

beforeAll(async () => {
  server = await startOvsdb({ tcp: true, ssl: true });
  client = await OvsdbClient.connect(server.unixUrl);
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

/** ovsdb-client transact, parsed */
function cTransact(...operations: unknown[]): unknown[] {
  return JSON.parse(server.client('transact', JSON.stringify(['Lab', ...operations])));
}

/** ovsdb-client dump --format=json of one table, as rows keyed by heading */
function cDump(table: string): Row[] {
  const out = JSON.parse(server.client('dump', '--format=json', 'Lab', table)) as { headings: string[]; data: unknown[][] };
  return out.data.map((cells) => Object.fromEntries(out.headings.map((h, i) => [h, cells[i]])) as Row);
}

function byName(rows: Row[]): Map<string, Row> {
  return new Map(rows.map((r) => [String(r.name), r]));
}

describe('methods agree with ovsdb-client', () => {
  test('list_dbs and get_schema', async () => {
    expect(await client.listDbs()).toEqual(server.client('list-dbs').trim().split('\n'));
    const schema = await client.getSchema('Lab');
    expect(schema.json).toEqual(JSON.parse(server.client('get-schema', 'Lab')));
    expect(schema.tables.get('Member')?.isRoot).toBe(false);
    expect(schema.tables.get('Root')?.columns.get('members')?.type).toMatchObject({ min: 0, max: Infinity, key: { refTable: 'Member' } });
  });

  test('echo round-trips its parameters', async () => {
    expect(await client.echo('a', 1, ['set', []])).toEqual(['a', 1, ['set', []]]);
  });

  test('insert with named-uuid, sets and maps: our select equals ovsdb-client dump', async () => {
    const [root, m1, m2] = await client.transact(
      'Lab',
      op.insert('Root', { name: 'r1', counter: 5, mode: 'fast', tags: map({ zone: 'a', ünï: '€' }), members: set(namedUuid('m1'), namedUuid('m2')) }),
      op.insert('Member', { name: 'one', weight: 10, labels: set('x', 'y'), scores: map([['k', 1]]) }, 'm1'),
      op.insert('Member', { name: 'two', weight: 20, peer: namedUuid('m1') }, 'm2'),
    );
    const [{ rows: roots }] = await client.transact('Lab', op.select('Root', [['_uuid', '==', root.uuid]]));
    expect(uuidsOf(roots[0].members).sort()).toEqual([m1.uuid[1], m2.uuid[1]].sort());
    const cRoot = cDump('Root').find((r) => valuesEqual(r._uuid, root.uuid))!;
    for (const column of ['name', 'counter', 'mode', 'tags', 'members', 'ratio', 'flags']) {
      expect(valuesEqual(roots[0][column], cRoot[column])).toBe(true);
    }
    expect(mapToObject(cRoot.tags)).toEqual({ zone: 'a', ünï: '€' });
    const ours = byName((await client.transact('Lab', op.select('Member', [])))[0].rows);
    const theirs = byName(cDump('Member'));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [name, row] of ours) {
      for (const column of ['weight', 'labels', 'scores', 'peer', '_uuid']) expect(valuesEqual(row[column], theirs.get(name)![column])).toBe(true);
    }
    expect(uuidOf(ours.get('two')!.peer)).toBe(m1.uuid[1]);
  });

  test('a transaction written by ovsdb-client is read back identically by us', async () => {
    const [ins] = cTransact({ op: 'insert', table: 'Root', row: { name: 'from-c', counter: 7, mode: 'slow', flags: ['set', [true, false]] } }) as [{ uuid: [string, string] }];
    const [{ rows }] = await client.transact('Lab', op.select('Root', [['name', '==', 'from-c']], ['_uuid', 'counter', 'mode', 'flags']));
    expect(rows).toHaveLength(1);
    expect(rows[0]._uuid).toEqual(ins.uuid);
    expect(rows[0].counter).toBe(7);
    expect(setElements(rows[0].flags).sort()).toEqual([false, true]);
  });

  test('update, mutate, delete return counts; ovsdb-client sees the effect', async () => {
    const [upd] = await client.transact('Lab', op.update('Root', [['name', '==', 'r1']], { counter: 6 }));
    expect(upd.count).toBe(1);
    const [mut] = await client.transact(
      'Lab',
      op.mutate('Root', [['name', '==', 'r1']], [
        ['counter', '+=', 10],
        ['tags', 'insert', map({ added: 'yes' })],
        ['tags', 'delete', set('zone')],
      ]),
    );
    expect(mut.count).toBe(1);
    const cRoot = cDump('Root').find((r) => r.name === 'r1')!;
    expect(cRoot.counter).toBe(16);
    expect(mapToObject(cRoot.tags)).toEqual({ added: 'yes', ünï: '€' });
    const [del] = await client.transact('Lab', op.delete('Root', [['name', '==', 'from-c']]));
    expect(del.count).toBe(1);
    expect(cDump('Root').map((r) => r.name)).not.toContain('from-c');
  });

  test('garbage collection: an unreferenced Member disappears at commit; weak references are cleared', async () => {
    const [ins, sel] = await client.transact('Lab', op.insert('Member', { name: 'orphan', weight: 1 }), op.select('Member', [['name', '==', 'orphan']]));
    expect(sel.rows).toHaveLength(1); // visible inside its own transaction
    const [after] = await client.transact('Lab', op.select('Member', [['_uuid', '==', ins.uuid]]));
    expect(after.rows).toHaveLength(0);
    expect(cDump('Member').map((r) => r.name)).not.toContain('orphan');
    // drop "one" from r1.members: it is collected, and "two".peer (weak) is emptied
    const [{ rows }] = await client.transact('Lab', op.select('Member', [['name', '==', 'one']], ['_uuid']));
    await client.transact('Lab', op.mutate('Root', [['name', '==', 'r1']], [['members', 'delete', rows[0]._uuid]]));
    const members = byName(cDump('Member'));
    expect(members.has('one')).toBe(false);
    expect(setElements(members.get('two')!.peer)).toEqual([]);
  });
});

describe('errors', () => {
  test('schema check before sending names the operation index and column', async () => {
    const sent: unknown[] = [];
    const onSend = (m: unknown): number => sent.push(m);
    client.on('send', onSend);
    const cases: [() => Promise<unknown>, number, string | undefined][] = [
      [() => client.transact('Lab', op.comment('x'), op.insert('Member', { name: 'w', weight: 200 })), 1, 'weight'],
      [() => client.transact('Lab', op.insert('Root', { name: 'e', mode: 'medium' })), 0, 'mode'],
      [() => client.transact('Lab', op.insert('Member', { name: 'l', labels: set('a', 'b', 'c', 'd') })), 0, 'labels'],
      [() => client.transact('Lab', op.insert('Member', { name: '' })), 0, 'name'],
      [() => client.transact('Lab', op.insert('Member', { nosuch: 1 })), 0, 'nosuch'],
      [() => client.transact('Lab', op.update('Root', [], { name: 'renamed' })), 0, 'name'],
      [() => client.transact('Lab', op.insert('Root', { name: 'x', mode: 'slow', members: namedUuid('undeclared') })), 0, 'members'],
      [() => client.transact('Lab', op.select('Root', [['tags', '<', 3]])), 0, 'tags'],
      [() => client.transact('Lab', op.mutate('Root', [], [['name', '+=', 1]])), 0, 'name'],
      [() => client.transact('Lab', op.select('Nope', [])), 0, undefined],
      [() => client.transact('Lab', op.insert('Root', { name: 'x', ratio: 1.5 })), 0, 'ratio'],
      [() => client.transact('Lab', op.insert('Root', { name: 'x', mode: 'fast', counter: 'three' })), 0, 'counter'],
      [() => client.transact('Lab', op.insert('Root', { name: 'x' })), 0, 'mode'], // omitted: default "" is not in the enum
    ];
    for (const [run, index, column] of cases) {
      const err = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OvsdbSchemaError);
      expect((err as OvsdbSchemaError).operationIndex).toBe(index);
      expect((err as OvsdbSchemaError).column).toBe(column);
    }
    client.off('send', onSend);
    expect(sent).toEqual([]); // nothing reached the wire
  });

  test('the server rejects what our check rejects (same ops, check disabled)', async () => {
    const raw = await OvsdbClient.connect(server.unixUrl, { checkSchema: false });
    try {
      for (const bad of [
        op.insert('Member', { name: 'w', weight: 200 }),
        op.insert('Root', { name: 'e', mode: 'medium' }),
        op.insert('Member', { name: 'l', labels: set('a', 'b', 'c', 'd') }),
        op.insert('Root', { name: 'x' }),
      ]) {
        const err = await raw.transact('Lab', bad).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OvsdbTransactionError);
        expect((err as OvsdbTransactionError).error).toMatch(/constraint violation|syntax error/);
        expect((err as OvsdbTransactionError).operationIndex).toBe(0);
      }
    } finally {
      await raw.close();
    }
  });

  test('constraint violation (duplicate index) and referential integrity violation fail at commit', async () => {
    const dup = await client.transact('Lab', op.insert('Root', { name: 'r1', counter: 0, mode: 'slow' })).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(OvsdbTransactionError);
    expect((dup as OvsdbTransactionError).error).toBe('constraint violation');
    expect((dup as OvsdbTransactionError).operationIndex).toBe(1); // the commit, after the one operation
    const ref = await client
      .transact('Lab', op.comment('dangling'), op.insert('Root', { name: 'r9', mode: 'fast', members: uuid('9fa1c2b8-0000-4000-8000-000000000000') }))
      .catch((e: unknown) => e);
    expect(ref).toBeInstanceOf(OvsdbTransactionError);
    expect((ref as OvsdbTransactionError).error).toBe('referential integrity violation');
    // the C tool reports the same error for the same transaction
    const c = cTransact({ op: 'insert', table: 'Root', row: { name: 'r9', mode: 'fast', members: ['uuid', '9fa1c2b8-0000-4000-8000-000000000000'] } }) as { error?: string }[];
    expect(c[1].error).toBe('referential integrity violation');
  });

  test('failing operation: wait timed out, abort, assert without the lock', async () => {
    const wait = await client
      .transact('Lab', op.wait('Root', [['name', '==', 'r1']], ['counter'], '==', [{ counter: 999 }], 0), op.insert('Item', { n: 1 }))
      .catch((e: unknown) => e);
    expect(wait).toMatchObject({ name: 'OvsdbTransactionError', error: 'timed out', operationIndex: 0, operation: { op: 'wait' } });
    const abort = await client.transact('Lab', op.insert('Item', { n: 2 }), op.abort()).catch((e: unknown) => e);
    expect(abort).toMatchObject({ name: 'OvsdbTransactionError', error: 'aborted', operationIndex: 1 });
    const assert = await client.transact('Lab', op.assert('nobody_holds_this')).catch((e: unknown) => e);
    expect(assert).toMatchObject({ name: 'OvsdbTransactionError', error: 'not owner', operationIndex: 0 });
    const [{ rows }] = await client.transact('Lab', op.select('Item', [['n', '<=', 2]]));
    expect(rows).toHaveLength(0);
  });

  test('unknown database is an OvsdbRpcError, not a hang', async () => {
    const err = await client.getSchema('NoSuchDb').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbRpcError);
    expect((err as OvsdbRpcError).error).toBe('unknown database');
  });

  test('cancel: sends the cancel notification and the blocked transact rejects at once', async () => {
    const c = await OvsdbClient.connect(server.unixUrl);
    try {
      const sent: unknown[] = [];
      c.on('send', (m) => sent.push(m));
      const { requestId, result } = await c.beginTransact(
        'Lab',
        op.wait('Root', [['name', '==', 'r1']], ['counter'], '==', [{ counter: -1 }], 60_000),
      );
      const settled = result.catch((e: unknown) => e);
      await c.echo(); // the request is at the server, blocked in wait
      expect(c.cancel(requestId)).toBe(true);
      expect(await settled).toBeInstanceOf(OvsdbCanceledError);
      expect(sent).toContainEqual({ method: 'cancel', params: [requestId], id: null });
      expect(c.cancel(requestId)).toBe(false);
      // the session still works
      expect(await c.echo('after')).toEqual(['after']);
    } finally {
      await c.close();
    }
  });
});

describe('locks', () => {
  test('lock, contention, steal, unlock with notifications', async () => {
    const other = await OvsdbClient.connect(server.unixUrl);
    try {
      expect(await client.lock('L')).toBe(true);
      const lockedLater = new Promise((r) => other.once('locked', r));
      expect(await other.lock('L')).toBe(false);
      const [ok] = await client.transact('Lab', op.assert('L'), op.select('Item', []));
      expect(ok).toEqual({});
      await client.unlock('L');
      expect(await lockedLater).toBe('L');
      const stolen = new Promise((r) => other.once('stolen', r));
      expect(await client.steal('L')).toBe(true);
      expect(await stolen).toBe('L');
      const err = await other.transact('Lab', op.assert('L')).catch((e: unknown) => e);
      expect(err).toMatchObject({ error: 'not owner' });
      await client.unlock('L');
    } finally {
      await other.close();
    }
  });
});

describe('monitor', () => {
  test('monitor sees the changes ovsdb-client monitor sees, in the same order', async () => {
    // a marker row makes the C monitor print its initial contents, which tells us it is listening
    cTransact({ op: 'insert', table: 'Item', row: { n: 0, text: 'marker' } });
    const theirs = spawn('ovsdb-client', ['monitor', '--format=json', server.unixUrl, 'Lab', 'Item', 'n', 'text']);
    let theirOut = '';
    theirs.stdout.on('data', (d) => (theirOut += d));
    const ours: TableUpdates[] = [];
    const m = await client.monitor('Lab', { Item: { columns: ['n', 'text'] } }, (u, info) => {
      if (!info.initial) ours.push(u);
    });
    try {
      for (let i = 0; i < 400 && !theirOut.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(theirOut).toMatch(/"initial",0,"marker"/);
      cTransact({ op: 'insert', table: 'Item', row: { n: 1, text: 'a' } });
      await client.transact('Lab', op.insert('Item', { n: 2, text: 'b{"}' }));
      cTransact({ op: 'update', table: 'Item', where: [['n', '==', 1]], row: { text: 'z' } });
      await client.transact('Lab', op.delete('Item', [['n', '==', 2]]));
      // flattened per row change, so it does not matter how the server grouped changes into notifications
      const theirEventsNow = (): string[] =>
        theirOut
          .split('\n')
          .slice(1, -1) // skip the initial contents; keep only complete lines
          .map((l) => JSON.parse(l) as { headings: string[]; data: unknown[][] })
          .flatMap((t) => t.data.filter((row) => row[1] !== 'old').map((row) => `${row[1]}:${row[2]}:${row[3]}`));
      for (let i = 0; i < 200 && theirEventsNow().length < 4; i++) await new Promise((r) => setTimeout(r, 50));
      const theirEvents = theirEventsNow();
      const ourEvents = ours.flatMap((u) =>
        Object.values(u.Item).map((ru) => {
          const action = !ru.old ? 'insert' : !ru.new ? 'delete' : 'new';
          const row = ru.new ?? ru.old!;
          return `${action}:${row.n}:${row.text}`;
        }),
      );
      expect(ourEvents).toEqual(['insert:1:a', 'insert:2:b{"}', 'new:1:z', 'delete:2:b{"}']);
      expect(theirEvents).toEqual(ourEvents);
    } finally {
      if (theirs.pid) process.kill(theirs.pid, 'SIGTERM');
      await m.cancel();
    }
  });

  test('monitor_cond with a where clause sends only matching rows, as update2', async () => {
    await client.transact('Lab', op.delete('Item', []), op.insert('Item', { n: 1 }), op.insert('Item', { n: 9 }));
    const seen: string[] = [];
    const m = await client.monitorCond('Lab', { Item: { columns: ['n'], where: [['n', '>=', 5]] } }, (u, info) => {
      for (const ru of Object.values(u.Item ?? {})) {
        const kind = Object.keys(ru)[0];
        seen.push(`${info.initial ? 'reply' : 'update2'}:${kind}:${(ru.initial ?? ru.insert ?? ru.modify)?.n ?? ''}`);
      }
    });
    try {
      await client.transact('Lab', op.insert('Item', { n: 2 }), op.insert('Item', { n: 7 }));
      await client.transact('Lab', op.update('Item', [['n', '==', 9]], { n: 10 }));
      await client.echo();
      expect(seen).toEqual(['reply:initial:9', 'update2:insert:7', 'update2:modify:10']);
    } finally {
      await m.cancel();
    }
  });

  test('monitor_cancel stops notifications; cancelling twice is a usage error', async () => {
    let count = 0;
    const m = await client.monitor('Lab', { Item: {} }, () => count++);
    expect(count).toBe(1);
    await m.cancel();
    await client.transact('Lab', op.insert('Item', { n: 50 }));
    await client.echo();
    expect(count).toBe(1);
    await expect(m.cancel()).rejects.toMatchObject({ name: 'OvsdbUsageError' });
  });
});

describe('transports', () => {
  test('tcp: and ssl: reach the same database', async () => {
    for (const [url, opts] of [
      [server.tcpUrl!, {}],
      [server.sslUrl!, { tls: { privateKeyFile: server.tls!.clientKey, certificateFile: server.tls!.clientCert, caCertFile: server.tls!.caCert } }],
    ] as const) {
      const c = await OvsdbClient.connect(url, opts);
      try {
        const [{ rows }] = await c.transact('Lab', op.select('Root', [['name', '==', 'r1']], ['counter']));
        expect(rows).toEqual([{ counter: 16 }]);
      } finally {
        await c.close();
      }
    }
  });

  test('ssl: with a CA that did not sign the server is refused', async () => {
    const err = await OvsdbClient.connect(server.sslUrl!, {
      tls: { privateKeyFile: server.tls!.clientKey, certificateFile: server.tls!.clientCert, caCertFile: server.tls!.clientCert },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbDisconnectedError);
  });

  test('bad URLs and closed clients are usage errors', async () => {
    for (const url of ['http://x', 'tcp:host', 'tcp:h:99999', 'unix:']) {
      await expect(OvsdbClient.connect(url)).rejects.toMatchObject({ name: 'OvsdbUsageError' });
    }
    await expect(OvsdbClient.connect('unix:/nonexistent/sock')).rejects.toBeInstanceOf(OvsdbDisconnectedError);
    const c = await OvsdbClient.connect(server.unixUrl);
    await c.close();
    await expect(c.echo()).rejects.toMatchObject({ name: 'OvsdbUsageError' });
  });
});
