/**
 * fabric/vswitch.ts against a private ovsdb-server with the standard vswitch schema, cross-checked with
 * ovs-vsctl on the same database; idempotence proven by counting mutating operations on the wire; and
 * a live ovs-vswitchd (dummy datapath) assigning the requested ofport, seen by ovs-ofctl.
 */
import {
  ensureBridge,
  ensurePort,
  readOfports,
  removeBridge,
  removePort,
  setIngressPolicing,
  setQos,
  waitOfport,
  PortSpec,
  openVswitchReplica,
  VSWITCH_REPLICA_TABLES,
  type BridgeSpec,
} from '../../fabric/vswitch';
import { Operation, OvsdbClient, Row, Value, isMutatingOperation, uuidOf, valuesEqual } from '../../fabric/ovsdb';
import { PrivateOvs, mgmt, startPrivateOvs } from '../support/ovs';

jest.setTimeout(60_000);

/** Counts transactions and mutating operations the client sends. */
function wireCounter(client: OvsdbClient): { transactions: number; mutating: number; reset(): void } {
  const counter = {
    transactions: 0,
    mutating: 0,
    reset() {
      counter.transactions = 0;
      counter.mutating = 0;
    },
  };
  client.on('send', (m: { method?: string; params?: unknown[] }) => {
    if (m.method !== 'transact') return;
    counter.transactions++;
    const ops = (m.params ?? []).slice(1) as Operation[];
    if (ops.some(isMutatingOperation)) counter.mutating++;
  });
  return counter;
}

describe('against ovsdb-server (no vswitchd), checked with ovs-vsctl', () => {
  let ovs: PrivateOvs;
  let client: OvsdbClient;
  let wire: ReturnType<typeof wireCounter>;

  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: false });
    client = await OvsdbClient.connect(ovs.dbUrl);
    wire = wireCounter(client);
  });
  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  const vsctl = (...args: string[]): string => ovs.vsctl('--no-wait', ...args).trim();

  test('ensureBridge: created in one write; ovs-vsctl sees every setting; second run writes nothing', async () => {
    wire.reset();
    const spec = {
      name: 'br-fab',
      datapathType: 'netdev',
      datapathId: 0xabcn,
      controller: 'tcp:127.0.0.1:6653',
      protocols: ['OpenFlow13' as const],
      failMode: 'secure' as const,
      otherConfig: { 'disable-in-band': 'true' },
    };
    const first = await ensureBridge(client, spec);
    expect(first.changed).toBe(true);
    expect(wire).toMatchObject({ transactions: 2, mutating: 1 });
    expect(vsctl('list-br')).toBe('br-fab');
    expect(vsctl('list-ports', 'br-fab')).toBe(''); // the local port is not listed as a port
    expect(vsctl('list-ifaces', 'br-fab')).toBe('');
    expect(vsctl('get', 'Interface', 'br-fab', 'type')).toBe('internal');
    expect(vsctl('get', 'Bridge', 'br-fab', 'datapath_type')).toBe('netdev');
    expect(vsctl('get', 'Bridge', 'br-fab', 'protocols')).toBe('[OpenFlow13]');
    expect(vsctl('get', 'Bridge', 'br-fab', 'fail_mode')).toBe('secure');
    expect(vsctl('get', 'Bridge', 'br-fab', 'other_config:datapath-id')).toBe('"0000000000000abc"');
    expect(vsctl('get', 'Bridge', 'br-fab', 'other_config:disable-in-band')).toBe('"true"');
    expect(vsctl('get-controller', 'br-fab')).toBe('tcp:127.0.0.1:6653');
    expect(vsctl('get-fail-mode', 'br-fab')).toBe('secure');

    wire.reset();
    const second = await ensureBridge(client, spec);
    expect(second).toEqual({ changed: false, uuid: first.uuid });
    expect(wire).toMatchObject({ transactions: 1, mutating: 0 });
  });

  test('ensureBridge: a changed setting is one write; keys set by others are kept; old controller collected', async () => {
    vsctl('set', 'Bridge', 'br-fab', 'other_config:someone-else=keep');
    wire.reset();
    const r = await ensureBridge(client, { name: 'br-fab', controller: ['tcp:127.0.0.1:6654', 'unix:/tmp/x.sock'], protocols: ['OpenFlow13', 'OpenFlow15'] });
    expect(r.changed).toBe(true);
    expect(wire).toMatchObject({ transactions: 2, mutating: 1 });
    expect(vsctl('get-controller', 'br-fab').split('\n').sort()).toEqual(['tcp:127.0.0.1:6654', 'unix:/tmp/x.sock']);
    expect(vsctl('--columns=target', 'list', 'Controller').match(/target/g)).toHaveLength(2); // old row gone
    expect(vsctl('get', 'Bridge', 'br-fab', 'other_config:someone-else')).toBe('keep');
    expect(vsctl('get', 'Bridge', 'br-fab', 'protocols')).toBe('[OpenFlow13, OpenFlow15]');
    expect(vsctl('get', 'Bridge', 'br-fab', 'datapath_type')).toBe('netdev'); // not named: untouched
  });

  test('a bridge made by ovs-vsctl with the same settings is already as ensureBridge wants', async () => {
    vsctl('add-br', 'br-c', '--', 'set', 'Bridge', 'br-c', 'protocols=OpenFlow13', 'fail_mode=secure', 'other_config:datapath-id=0000000000000001');
    wire.reset();
    const r = await ensureBridge(client, { name: 'br-c', datapathId: 1 });
    expect(r.changed).toBe(false);
    expect(wire.mutating).toBe(0);
  });

  test('ensurePort: internal, patch pair, vxlan, geneve, system; ovs-vsctl agrees; idempotent', async () => {
    const specs: PortSpec[] = [
      { name: 'p-int', type: 'internal' as const, ofportRequest: 10, externalIds: { 'iface-id': 'pod-a' } },
      { name: 'patch-a', type: 'patch' as const, options: { peer: 'patch-b' }, ofportRequest: 20 },
      { name: 'vx0', type: 'vxlan' as const, options: { remote_ip: 'flow', key: 'flow', local_ip: '10.99.0.1' } },
      { name: 'gnv0', type: 'geneve' as const, options: { remote_ip: 'flow', key: 'flow' } },
      { name: 'veth-x', type: 'system' as const, ofportRequest: 30 },
    ];
    for (const spec of specs) {
      wire.reset();
      expect((await ensurePort(client, 'br-fab', spec)).changed).toBe(true);
      expect(wire).toMatchObject({ transactions: 2, mutating: 1 });
    }
    await ensurePort(client, 'br-c', { name: 'patch-b', type: 'patch', options: { peer: 'patch-a' } });
    expect(vsctl('list-ports', 'br-fab').split('\n')).toEqual(['gnv0', 'p-int', 'patch-a', 'veth-x', 'vx0']);
    expect(vsctl('port-to-br', 'patch-b')).toBe('br-c');
    expect(vsctl('get', 'Interface', 'p-int', 'type', 'ofport_request', 'external_ids:iface-id')).toBe('internal\n10\npod-a');
    expect(vsctl('get', 'Interface', 'patch-a', 'options:peer')).toBe('patch-b');
    expect(vsctl('get', 'Interface', 'vx0', 'type', 'options')).toBe('vxlan\n{key=flow, local_ip="10.99.0.1", remote_ip=flow}');
    expect(vsctl('get', 'Interface', 'gnv0', 'type')).toBe('geneve');
    expect(vsctl('get', 'Interface', 'veth-x', 'ofport_request')).toBe('30');

    wire.reset();
    for (const spec of specs) expect((await ensurePort(client, 'br-fab', spec)).changed).toBe(false);
    expect(wire).toMatchObject({ transactions: specs.length, mutating: 0 });

    // a changed option and ofport_request: one write
    wire.reset();
    expect((await ensurePort(client, 'br-fab', { ...specs[2], options: { remote_ip: '10.99.0.2', key: '5' } })).changed).toBe(true);
    expect(wire.mutating).toBe(1);
    expect(vsctl('get', 'Interface', 'vx0', 'options')).toBe('{key="5", remote_ip="10.99.0.2"}');
  });

  test('ensurePort moves a port from another bridge in one transaction', async () => {
    vsctl('add-port', 'br-c', 'mover', '--', 'set', 'Interface', 'mover', 'type=internal');
    wire.reset();
    expect((await ensurePort(client, 'br-fab', { name: 'mover', type: 'internal' })).changed).toBe(true);
    expect(wire.mutating).toBe(1);
    expect(vsctl('port-to-br', 'mover')).toBe('br-fab');
    expect(vsctl('list-ports', 'br-c').split('\n')).not.toContain('mover');
  });

  test('setIngressPolicing and setQos: ovs-vsctl sees them; idempotent; replacing QoS deletes the old rows', async () => {
    expect((await setIngressPolicing(client, 'p-int', 10_000, 2_000)).changed).toBe(true);
    expect(vsctl('get', 'Interface', 'p-int', 'ingress_policing_rate', 'ingress_policing_burst')).toBe('10000\n2000');
    wire.reset();
    expect((await setIngressPolicing(client, 'p-int', 10_000, 2_000)).changed).toBe(false);
    expect(wire.mutating).toBe(0);

    const qos = { type: 'linux-htb', maxRateBps: 100_000_000, queues: { 0: { minRateBps: 1_000_000, maxRateBps: 50_000_000 }, 7: { maxRateBps: 5_000_000, priority: 1 } } };
    const first = await setQos(client, 'p-int', qos);
    expect(first.changed).toBe(true);
    expect(vsctl('get', 'Port', 'p-int', 'qos')).toBe(first.uuid);
    expect(vsctl('get', 'QoS', first.uuid!, 'type', 'other_config:max-rate')).toBe('linux-htb\n"100000000"');
    const queue7 = vsctl('get', 'QoS', first.uuid!, 'queues:7');
    expect(vsctl('get', 'Queue', queue7, 'other_config')).toBe('{max-rate="5000000", priority="1"}');
    wire.reset();
    expect((await setQos(client, 'p-int', qos)).changed).toBe(false);
    expect(wire.mutating).toBe(0);

    const second = await setQos(client, 'p-int', { type: 'linux-htb', maxRateBps: 200_000_000, queues: { 1: { minRateBps: 5 } } });
    expect(second.changed).toBe(true);
    expect(vsctl('--columns=_uuid', '--bare', 'list', 'QoS')).toBe(second.uuid);
    expect(vsctl('--columns=_uuid', '--bare', 'list', 'Queue').split('\n').filter(Boolean)).toHaveLength(1);
    expect((await setQos(client, 'p-int', null)).changed).toBe(true);
    expect(vsctl('get', 'Port', 'p-int', 'qos')).toBe('[]');
    expect(vsctl('--columns=_uuid', '--bare', 'list', 'QoS')).toBe('');
    expect(vsctl('--columns=_uuid', '--bare', 'list', 'Queue')).toBe('');
  });

  test('removePort and removeBridge: rows garbage-collected; second run is a no-op', async () => {
    expect((await removePort(client, 'br-fab', 'vx0')).changed).toBe(true);
    expect(vsctl('list-ports', 'br-fab').split('\n')).not.toContain('vx0');
    expect(vsctl('--columns=name', '--bare', 'list', 'Interface').split('\n')).not.toContain('vx0');
    wire.reset();
    expect((await removePort(client, 'br-fab', 'vx0')).changed).toBe(false);
    expect(wire.mutating).toBe(0);

    expect((await removeBridge(client, 'br-fab')).changed).toBe(true);
    expect(vsctl('list-br')).toBe('br-c');
    const ifaces = vsctl('--columns=name', '--bare', 'list', 'Interface').split('\n').filter(Boolean).sort();
    expect(ifaces).toEqual(['br-c', 'patch-b']); // br-fab's ports and interfaces are gone
    expect((await removeBridge(client, 'br-fab')).changed).toBe(false);
  });

  test('usage errors: unknown bridge or interface', async () => {
    await expect(ensurePort(client, 'nope', { name: 'x' })).rejects.toMatchObject({ name: 'OvsdbUsageError' });
    await expect(setIngressPolicing(client, 'nope', 1, 1)).rejects.toMatchObject({ name: 'OvsdbUsageError' });
    await expect(ensurePort(client, 'br-c', { name: 'x', ofportRequest: 70000 })).rejects.toMatchObject({ name: 'OvsdbSchemaError', column: 'ofport_request' });
    await expect(ensureBridge(client, { name: 'br-x', datapathId: 'not-hex' })).rejects.toMatchObject({ name: 'OvsdbUsageError' });
    await expect(ensureBridge(client, { name: 'br-x', datapathId: 2n ** 64n })).rejects.toMatchObject({ name: 'OvsdbUsageError' });
  });
});

describe('with a Replica for reads: exactly one transaction per change, none when unchanged', () => {
  let ovs: PrivateOvs;
  let client: OvsdbClient;

  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: false });
    client = await OvsdbClient.connect(ovs.dbUrl);
  });
  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  test('ensureBridge, ensurePort, setIngressPolicing, setQos, removePort, removeBridge', async () => {
    const replica = await openVswitchReplica(client);
    const wire = wireCounter(client);
    const opts = { replica };
    const vsctl = (...args: string[]): string => ovs.vsctl('--no-wait', ...args).trim();
    const steps: [string, () => Promise<{ changed: boolean }>][] = [
      ['bridge', () => ensureBridge(client, { name: 'br-r', datapathId: 7, controller: 'tcp:127.0.0.1:6653' }, opts)],
      ['port', () => ensurePort(client, 'br-r', { name: 'r1', type: 'internal', ofportRequest: 3, externalIds: { pod: 'a' } }, opts)],
      ['police', () => setIngressPolicing(client, 'r1', 5000, 500, opts)],
      ['qos', () => setQos(client, 'r1', { type: 'linux-htb', maxRateBps: 1_000_000, queues: { 0: { maxRateBps: 500_000 } } }, opts)],
    ];
    for (const [what, step] of steps) {
      wire.reset();
      expect([what, (await step()).changed]).toEqual([what, true]);
      expect([what, wire.transactions, wire.mutating]).toEqual([what, 1, 1]);
      wire.reset();
      expect([what, (await step()).changed]).toEqual([what, false]);
      expect([what, wire.transactions]).toEqual([what, 0]);
    }
    expect(vsctl('get', 'Interface', 'r1', 'ofport_request', 'ingress_policing_rate', 'external_ids:pod')).toBe('3\n5000\na');
    expect(vsctl('get-controller', 'br-r')).toBe('tcp:127.0.0.1:6653');
    expect(vsctl('get', 'Bridge', 'br-r', 'other_config:datapath-id')).toBe('"0000000000000007"');
    expect(vsctl('get', 'QoS', vsctl('get', 'Port', 'r1', 'qos'), 'type')).toBe('linux-htb');
    expect(Object.fromEntries(await readOfports(client, 'br-r', opts))).toEqual({ 'br-r': undefined, r1: undefined });
    // the replica (update2 diffs applied) equals ovsdb-client dump of the same tables, row by row
    for (const table of ['Bridge', 'Port', 'Interface', 'Controller', 'QoS', 'Queue']) {
      const dump = JSON.parse(ovs.run('ovsdb-client', ['dump', '--format=json', ovs.dbUrl, 'Open_vSwitch', table])) as { headings: string[]; data: Value[][] };
      const theirs = dump.data.map((cells) => Object.fromEntries(dump.headings.map((h, i) => [h, cells[i]])) as Row);
      expect([table, replica.rows(table).size]).toEqual([table, theirs.length]);
      for (const row of theirs) {
        const ours = replica.get(table, uuidOf(row._uuid)!)!;
        for (const column of VSWITCH_REPLICA_TABLES[table]) {
          if (!valuesEqual(ours[column], row[column])) throw new Error(`${table}.${column}: ${JSON.stringify(ours[column])} vs ${JSON.stringify(row[column])}`);
        }
      }
    }

    // a change made behind our back by ovs-vsctl is seen through the replica
    vsctl('set', 'Interface', 'r1', 'ofport_request=9');
    await replica.waitFor((r) => r.find('Interface', (row) => row.name === 'r1' && row.ofport_request === 9).length === 1, 5000);
    wire.reset();
    expect((await ensurePort(client, 'br-r', { name: 'r1', type: 'internal', ofportRequest: 3 }, opts)).changed).toBe(true);
    expect(wire.transactions).toBe(1);
    expect(vsctl('get', 'Interface', 'r1', 'ofport_request')).toBe('3');

    wire.reset();
    expect((await removePort(client, 'br-r', 'r1', opts)).changed).toBe(true);
    expect((await removeBridge(client, 'br-r', opts)).changed).toBe(true);
    expect(wire.transactions).toBe(2);
    expect(vsctl('list-br')).toBe('');
    await replica.cancel();
  });
});

describe('optimistic concurrency: a write based on stale reads fails as "concurrent change"', () => {
  let ovs: PrivateOvs;
  let client: OvsdbClient;

  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: false });
    client = await OvsdbClient.connect(ovs.dbUrl);
  });
  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  test('a frozen replica, then ovs-vsctl changes the rows: the guarded write is refused and nothing is overwritten', async () => {
    const vsctl = (...args: string[]): string => ovs.vsctl('--no-wait', ...args).trim();
    await ensureBridge(client, { name: 'br-s' });
    await ensurePort(client, 'br-s', { name: 's1', type: 'internal', ofportRequest: 3 });
    const stale = await openVswitchReplica(client);
    await stale.cancel(); // keeps its rows, gets no more updates
    vsctl('set', 'Interface', 's1', 'ofport_request=9');
    vsctl('add-port', 'br-s', 's2', '--', 'set', 'Interface', 's2', 'type=internal');
    const update = await ensurePort(client, 'br-s', { name: 's1', type: 'internal', ofportRequest: 5 }, { replica: stale }).catch((e: unknown) => e);
    expect(update).toMatchObject({ name: 'OvsdbTransactionError', error: 'concurrent change' });
    expect(vsctl('get', 'Interface', 's1', 'ofport_request')).toBe('9');
    const create = await ensurePort(client, 'br-s', { name: 's2', type: 'patch' }, { replica: stale }).catch((e: unknown) => e);
    expect(create).toMatchObject({ name: 'OvsdbTransactionError', error: 'concurrent change' });
    expect(vsctl('get', 'Interface', 's2', 'type')).toBe('internal');
    // with fresh reads the same calls succeed
    expect((await ensurePort(client, 'br-s', { name: 's1', type: 'internal', ofportRequest: 5 })).changed).toBe(true);
    expect(vsctl('get', 'Interface', 's1', 'ofport_request')).toBe('5');
  });

  test('clients ensuring the same bridge at once (HA controllers starting together) all succeed: a concurrent change is read again and retried', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => OvsdbClient.connect(ovs.dbUrl)));
    try {
      const spec: BridgeSpec = { name: 'br-race', controller: ['unix:/tmp/x-a.sock', 'unix:/tmp/x-b.sock', 'unix:/tmp/x-c.sock'], protocols: ['OpenFlow13'], failMode: 'secure', externalIds: { 'fabric-switch': 'race' } };
      const results = await Promise.allSettled(clients.map((c) => ensureBridge(c, spec)));
      expect(results.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
      expect(ovs.vsctl('--no-wait', 'get-controller', 'br-race').trim().split('\n').sort()).toEqual(spec.controller);
      expect(ovs.vsctl('--no-wait', 'list-br').split('\n').filter((b) => b === 'br-race')).toHaveLength(1);
    } finally {
      for (const c of clients) await c.close();
    }
  });
});

describe('live ovs-vswitchd (dummy datapath)', () => {
  let ovs: PrivateOvs;
  let client: OvsdbClient;

  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: 'dummy' });
    client = await OvsdbClient.connect(ovs.dbUrl);
  });
  afterAll(async () => {
    await client?.close();
    await ovs?.stop();
  });

  test('ensureBridge + ensurePort with ofport_request: the ofport is read back and ovs-ofctl shows it', async () => {
    await ensureBridge(client, { name: 'br0', datapathType: 'dummy', datapathId: '00000000000000b0', protocols: ['OpenFlow13'], failMode: 'secure' });
    await ensurePort(client, 'br0', { name: 'pod1', type: 'internal', ofportRequest: 7 });
    await ensurePort(client, 'br0', { name: 'pod2', type: 'internal', ofportRequest: 12 });
    expect(await waitOfport(client, 'pod1', 10_000)).toBe(7);
    expect(await waitOfport(client, 'pod2', 10_000)).toBe(12);
    const ofports = await readOfports(client, 'br0');
    expect(Object.fromEntries(ofports)).toEqual({ br0: 65534, pod1: 7, pod2: 12 });
    const show = ovs.ofctl('-O', 'OpenFlow13', 'show', mgmt(ovs, 'br0'));
    expect(show).toMatch(/dpid:00000000000000b0/);
    expect(show).toMatch(/^ 7\(pod1\):/m);
    expect(show).toMatch(/^ 12\(pod2\):/m);
    // ovs-vsctl reads the same numbers
    expect(ovs.vsctl('get', 'Interface', 'pod1', 'ofport').trim()).toBe('7');
  });

  test('waitOfport times out with OvsdbTimeoutError for an interface vswitchd never numbers', async () => {
    // stop vswitchd so nothing assigns ofports, then add a port
    ovs.stopVswitchd();
    await ensurePort(client, 'br0', { name: 'late', type: 'internal', ofportRequest: 40 });
    await expect(waitOfport(client, 'late', 200)).rejects.toMatchObject({ name: 'OvsdbTimeoutError' });
    expect((await readOfports(client, 'br0')).get('late')).toBeUndefined();
  });
});
