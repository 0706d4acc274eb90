/**
 * Pure parts: schema parsing (the standard vswitch schema and broken ones), the pre-send check on the
 * vswitch schema, data helpers, update2 diff application, transact result interpretation.
 */
import * as fs from 'fs';
import {
  OvsdbProtocolError,
  OvsdbSchemaError,
  OvsdbTransactionError,
  applyColumnDiff,
  checkOperations,
  defaultValue,
  interpretTransactResult,
  map,
  mapToObject,
  namedUuid,
  op,
  parseOvsdbUrl,
  parseSchema,
  scalar,
  set,
  setElements,
  uuid,
  valuesEqual,
} from '../../fabric/ovsdb';
import { VSWITCH_SCHEMA } from './servers';

const vswitch = parseSchema(JSON.parse(fs.readFileSync(VSWITCH_SCHEMA, 'utf8')));

test('vswitch schema: tables, roots, column types', () => {
  expect(vswitch.name).toBe('Open_vSwitch');
  expect(vswitch.tables.get('Open_vSwitch')?.isRoot).toBe(true);
  expect(vswitch.tables.get('Bridge')?.isRoot).toBe(false);
  expect(vswitch.tables.get('Interface')?.columns.get('ofport_request')?.type).toEqual({ key: { type: 'integer', minInteger: 1, maxInteger: 65279 }, min: 0, max: 1 });
  expect(vswitch.tables.get('Bridge')?.columns.get('fail_mode')?.type.key.enum).toEqual(['standalone', 'secure']);
  expect(vswitch.tables.get('QoS')?.columns.get('queues')?.type.value?.refTable).toBe('Queue');
});

test('broken schemas are OvsdbSchemaError', () => {
  for (const bad of [null, {}, { name: 'x' }, { name: 'x', tables: { T: { columns: { c: { type: 'float' } } } } }, { name: 'x', tables: { T: { columns: { c: { type: { key: { type: 'uuid', refTable: 'Nope' } } } } } } }]) {
    expect(() => parseSchema(bad)).toThrow(OvsdbSchemaError);
  }
});

test('checkOperations on the vswitch schema accepts what ovs-vsctl would write and names bad columns', () => {
  expect(() =>
    checkOperations(vswitch, [
      op.insert('Interface', { name: 'p', type: 'internal', ofport_request: 5, options: map({ peer: 'x' }) }, 'i'),
      op.insert('Port', { name: 'p', interfaces: namedUuid('i') }, 'p'),
      op.mutate('Bridge', [['name', '==', 'br0']], [['ports', 'insert', set(namedUuid('p'))]]),
      op.wait('Bridge', [['_uuid', '==', uuid('2231e3d4-1821-4c6e-a0f5-9c324136dbda')]], ['ports'], '==', [{ ports: set() }], 0),
    ]),
  ).not.toThrow();
  const bad = (ops: Parameters<typeof checkOperations>[1]): OvsdbSchemaError => {
    try {
      checkOperations(vswitch, ops);
    } catch (err) {
      return err as OvsdbSchemaError;
    }
    throw new Error('expected a schema error');
  };
  expect(bad([op.insert('Port', { name: 'p' })])).toMatchObject({ operationIndex: 0, column: 'interfaces' }); // min 1
  expect(bad([op.comment('x'), op.update('Bridge', [], { fail_mode: 'open' })])).toMatchObject({ operationIndex: 1, column: 'fail_mode' });
  expect(bad([op.update('Interface', [], { ofport_request: 0 })])).toMatchObject({ column: 'ofport_request' });
  expect(bad([op.update('Bridge', [], { protocols: set('OpenFlow13', 'OpenFlow99') })])).toMatchObject({ column: 'protocols' });
  expect(bad([op.update('Bridge', [], { ports: uuid('not-a-uuid') })])).toMatchObject({ column: 'ports' });
  expect(bad([op.update('Bridge', [], { other_config: set('a') })])).toMatchObject({ column: 'other_config' });
  expect(bad([op.mutate('Bridge', [], [['ports', '+=', 1]])])).toMatchObject({ column: 'ports' });
  expect(bad([op.insert('Queue', {}, 'q'), op.insert('Queue', {}, 'q')])).toMatchObject({ operationIndex: 1 });
  expect(bad([{ op: 'frobnicate' } as never])).toMatchObject({ operationIndex: 0 });
  expect(bad([op.wait('Bridge', [], ['name'], '==', [{ ports: set() }])])).toMatchObject({ operationIndex: 0 });
});

test('data helpers: one-element sets, maps, equality without order', () => {
  expect(setElements('a')).toEqual(['a']);
  expect(setElements(set('a', 'b'))).toEqual(['a', 'b']);
  expect(scalar(set())).toBeUndefined();
  expect(scalar(set(5))).toBe(5);
  expect(valuesEqual('a', set('a'))).toBe(true);
  expect(valuesEqual(set('a', 'b'), set('b', 'a'))).toBe(true);
  expect(valuesEqual(map({ a: '1', b: '2' }), map([['b', '2'], ['a', '1']]))).toBe(true);
  expect(valuesEqual(map({ a: '1' }), map({ a: '2' }))).toBe(false);
  expect(valuesEqual(map({}), set())).toBe(true);
  expect(valuesEqual(1, '1')).toBe(false);
  expect(mapToObject(map({ k: 'v' }))).toEqual({ k: 'v' });
});

test('update2 diffs: sets toggle, maps add/replace/remove, at-most-one columns replace', () => {
  const setType = { key: { type: 'string' as const }, min: 0, max: Infinity };
  expect(applyColumnDiff(setType, set('a', 'b'), set('b', 'c'))).toEqual(set('a', 'c'));
  const mapType = { key: { type: 'string' as const }, value: { type: 'string' as const }, min: 0, max: Infinity };
  const after = applyColumnDiff(mapType, map({ keep: '1', drop: '2', change: '3' }), map({ drop: '2', change: '9', add: '4' }));
  expect(mapToObject(after)).toEqual({ keep: '1', change: '9', add: '4' });
  const optional = { key: { type: 'real' as const }, min: 0, max: 1 };
  expect(applyColumnDiff(optional, 0.5, set())).toEqual(set());
  expect(applyColumnDiff({ key: { type: 'integer' as const }, min: 1, max: 1 }, 1, 2)).toBe(2);
  expect(defaultValue({ key: { type: 'string' }, min: 1, max: 1 })).toBe('');
  expect(defaultValue(mapType)).toEqual(map({}));
});

test('transact results: per-operation errors, commit errors, short replies', () => {
  const ops = [op.insert('T', {}), op.select('T')];
  expect(interpretTransactResult([{ uuid: uuid('x') }, { rows: [] }], ops)).toHaveLength(2);
  const opErr = (() => {
    try {
      interpretTransactResult([{ uuid: uuid('x') }, { error: 'constraint violation', details: 'd' }, null], ops);
    } catch (e) {
      return e as OvsdbTransactionError;
    }
  })();
  expect(opErr).toMatchObject({ name: 'OvsdbTransactionError', operationIndex: 1, operation: ops[1], error: 'constraint violation', details: 'd' });
  const commitErr = (() => {
    try {
      interpretTransactResult([{ uuid: uuid('x') }, { rows: [] }, { error: 'referential integrity violation' }], ops);
    } catch (e) {
      return e as OvsdbTransactionError;
    }
  })();
  expect(commitErr).toMatchObject({ operationIndex: 2, operation: undefined });
  expect(() => interpretTransactResult([{}], ops)).toThrow(OvsdbProtocolError);
  expect(() => interpretTransactResult('nope', ops)).toThrow(OvsdbProtocolError);
});

test('URLs in OVS forms', () => {
  expect(parseOvsdbUrl('unix:/run/db.sock')).toEqual({ kind: 'unix', path: '/run/db.sock' });
  expect(parseOvsdbUrl('tcp:127.0.0.1:6640')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 6640 });
  expect(parseOvsdbUrl('ssl:[::1]:6640')).toEqual({ kind: 'ssl', host: '::1', port: 6640 });
});
