/**
 * Live: a real ovs-vswitchd (dummy datapath) connects to our OpenFlowServer; we add, dump, modify
 * and delete flows, groups and meters, read port stats, and use bundles (atomic: a bad message
 * rolls back the whole bundle).
 */
import { OFPP, type Flow, type Group, type Meter } from '../../fabric/openflow/flow';
import { OpenFlowServer, type SwitchConnection } from '../../fabric/openflow/channel';
import { OpenFlowError } from '../../fabric/openflow/errors';
import { startPrivateOvs, type PrivateOvs } from '../support/ovs';

jest.setTimeout(60_000);

let ovs: PrivateOvs;
let server: OpenFlowServer;
let sw: SwitchConnection;
const events: string[] = [];

beforeAll(async () => {
  server = await OpenFlowServer.listen({ listen: 'tcp:0:127.0.0.1', echoIntervalMs: 2000 });
  ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  ovs.vsctl(
    'add-br', 'br0',
    '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure', 'other-config:datapath-id=00000000000000aa',
    '--', 'add-port', 'br0', 'p1', '--', 'set', 'interface', 'p1', 'type=dummy', 'ofport_request=1',
    '--', 'add-port', 'br0', 'p2', '--', 'set', 'interface', 'p2', 'type=dummy', 'ofport_request=2',
    '--', 'set-controller', 'br0', `tcp:127.0.0.1:${server.port}`,
  );
  sw = await server.waitForSwitch(20_000);
  sw.on('port-status', (p) => events.push(`port-status ${p.reason} ${p.port.name}`));
  sw.on('disconnected', (d) => events.push(`disconnected ${d.reason}`));
});

afterAll(async () => {
  await server?.close();
  await ovs?.stop();
});

const ip = (s: string): bigint => BigInt(s.split('.').reduce((a, o) => a * 256 + Number(o), 0));

function route(i: number, port: number): Flow {
  return {
    table: 0,
    priority: 100,
    cookie: 0x1000n + BigInt(i),
    match: { eth_type: { value: 0x0800n }, ipv4_dst: { value: ip(`10.244.${i}.0`), mask: 0xffffff00n } },
    instructions: { apply: [{ type: 'set_field', field: 'eth_dst', value: 0x0a580af40001n + BigInt(i) }, { type: 'output', port }] },
  };
}

const byCookie = (a: { flow: Flow }, b: { flow: Flow }): number => (a.flow.cookie < b.flow.cookie ? -1 : 1);

test('handshake: datapath id and ports', () => {
  expect(sw.datapathId).toBe('00000000000000aa');
  const names = sw.ports.map((p) => `${p.portNo}:${p.name}`).sort();
  expect(names).toEqual(expect.arrayContaining(['1:p1', '2:p2', `${OFPP.LOCAL}:br0`]));
});

test('flows: add (bundled), dump equals what we sent, modify, delete', async () => {
  const flows = Array.from({ length: 50 }, (_, i) => route(i, 1 + (i % 2)));
  const ct: Flow = {
    table: 1,
    priority: 10,
    cookie: 0x2000n,
    match: { eth_type: { value: 0x0800n }, ct_state: { value: 0x21n, mask: 0x21n }, reg3: { value: 5n, mask: 0xffn } },
    instructions: {
      apply: [
        { type: 'ct', commit: true, zone: 7, table: 2, nat: { kind: 'src', ipMin: '198.51.100.11', portMin: 1024, portMax: 65535, portSelection: 'random' }, exec: [{ type: 'set_field', field: 'ct_mark', value: 1n, mask: 1n }] },
        { type: 'set_field', field: 'reg0', value: 0x50n, mask: 0xf0n },
        { type: 'move', src: { field: 'eth_src' }, dst: { field: 'eth_dst' } },
        { type: 'resubmit', table: 3 },
        { type: 'note', data: new Uint8Array([1, 2, 3, 0, 0, 0]) },
        { type: 'controller', maxLen: 128, reason: 0, userdata: new Uint8Array([9]) },
      ],
      gotoTable: 4,
    },
  };
  await sw.send([...flows, ct].map((flow) => ({ op: 'add-flow' as const, flow })));
  const dumped = (await sw.dumpFlows()).sort(byCookie);
  expect(dumped.map((s) => s.flow)).toEqual([...flows, ct]);
  expect(dumped.every((s) => !s.matchRaw && !s.instructionsRaw)).toBe(true);

  const changed = { ...flows[3], cookie: 0x1003n, instructions: { apply: [{ type: 'output' as const, port: 2 }] } };
  await sw.send([{ op: 'modify-flow', flow: changed }], { bundle: false });
  const after = await sw.dumpFlows({ cookie: 0x1003n, cookieMask: 0xffffffffffffffffn });
  expect(after.map((s) => s.flow)).toEqual([changed]);

  await sw.send(flows.slice(0, 10).map((flow) => ({ op: 'delete-flow' as const, flow })));
  expect(await sw.dumpFlows({ tableId: 0 })).toHaveLength(40);
});

test('groups: select with weights and ct/nat buckets, ff with watch_port, indirect, all', async () => {
  const groups: Group[] = [
    {
      groupId: 1,
      type: 'select',
      buckets: [10, 11, 12].map((n, i) => ({
        weight: i === 0 ? undefined : 5 * i,
        actions: [{ type: 'ct' as const, commit: true, zone: 3, table: 5, nat: { kind: 'dst' as const, ipMin: `10.244.1.${n}`, portMin: 8080 } }],
      })),
    },
    { groupId: 2, type: 'ff', buckets: [{ watchPort: 1, actions: [{ type: 'output', port: 1 }] }, { watchPort: 2, actions: [{ type: 'output', port: 2 }] }] },
    { groupId: 3, type: 'indirect', buckets: [{ actions: [{ type: 'output', port: 1 }] }] },
    { groupId: 4, type: 'all', buckets: [{ actions: [{ type: 'output', port: 1 }] }, { actions: [{ type: 'output', port: 2 }] }] },
  ];
  await sw.send(groups.map((group) => ({ op: 'add-group' as const, group })));
  const dumped = (await sw.dumpGroups()).sort((a, b) => a.groupId - b.groupId);
  expect(dumped).toEqual(groups.map((g) => ({ ...g, buckets: g.buckets.map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined))) })));
  const modified: Group = { groupId: 3, type: 'indirect', buckets: [{ actions: [{ type: 'output', port: 2 }] }] };
  await sw.send([{ op: 'modify-group', group: modified }]);
  expect((await sw.dumpGroups()).find((g) => g.groupId === 3)).toEqual(modified);
  await sw.send([{ op: 'delete-group', groupId: 4 }]);
  expect((await sw.dumpGroups()).map((g) => g.groupId).sort()).toEqual([1, 2, 3]);
});

test('meters: add, dump, modify, delete; a flow uses one', async () => {
  const meters: Meter[] = [
    { meterId: 1, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate: 50_000, burstSize: 10_000 }] },
    // without the burst flag OVS reports burst_size = rate: send it that way so the dump compares equal
    { meterId: 2, unit: 'pktps', burst: false, stats: false, bands: [{ type: 'drop', rate: 1000, burstSize: 1000 }] },
  ];
  await sw.send(meters.map((meter) => ({ op: 'add-meter' as const, meter })));
  expect((await sw.dumpMeters()).sort((a, b) => a.meterId - b.meterId)).toEqual(meters);
  const limited: Flow = { ...route(200, 1), cookie: 0x3000n, instructions: { meter: 1, apply: [{ type: 'output', port: 1 }] } };
  await sw.send([{ op: 'add-flow', flow: limited }]);
  expect((await sw.dumpFlows({ cookie: 0x3000n, cookieMask: ~0n & 0xffffffffffffffffn })).map((s) => s.flow)).toEqual([limited]);
  const faster = { ...meters[0], bands: [{ type: 'drop' as const, rate: 100_000, burstSize: 20_000 }] };
  await sw.send([{ op: 'modify-meter', meter: faster }]);
  expect((await sw.dumpMeters()).find((m) => m.meterId === 1)).toEqual(faster);
  await sw.send([{ op: 'delete-meter', meterId: 2 }]);
  expect((await sw.dumpMeters()).map((m) => m.meterId)).toEqual([1]);
});

test('port stats, barrier, echo', async () => {
  const stats = await sw.portStats();
  expect(stats.map((s) => s.portNo)).toEqual(expect.arrayContaining([1, 2]));
  expect(typeof stats[0].rxPackets).toBe('bigint');
  expect((await sw.portStats(2)).map((s) => s.portNo)).toEqual([2]);
  await sw.barrier();
  await sw.echo(new Uint8Array([1, 2, 3]));
});

test('bundle is atomic: one bad message, nothing applied, typed switch error', async () => {
  const good = { ...route(210, 1), cookie: 0x4000n };
  const bad: Flow = { ...route(211, 1), cookie: 0x4001n, instructions: { apply: [{ type: 'group', groupId: 999 }] } };
  const err = await sw.send([{ op: 'add-flow', flow: good }, { op: 'add-flow', flow: bad }]).catch((e) => e);
  expect(err).toBeInstanceOf(OpenFlowError);
  expect(err.kind).toBe('switch-error');
  expect(err.switchError.typeName).toBe('BAD_ACTION');
  expect(await sw.dumpFlows({ cookie: 0x4000n, cookieMask: 0xfffffffffffffff0n })).toEqual([]);
  // and without a bundle, the good one lands and the error still rejects
  const err2 = await sw.send([{ op: 'add-flow', flow: good }, { op: 'add-flow', flow: bad }], { bundle: false }).catch((e) => e);
  expect(err2.kind).toBe('switch-error');
  expect((await sw.dumpFlows({ cookie: 0x4000n, cookieMask: 0xfffffffffffffff0n })).map((s) => s.flow.cookie)).toEqual([0x4000n]);
});

test('a multipart reply in many parts is reassembled (3000 flows)', async () => {
  const many = Array.from({ length: 3000 }, (_, i) => ({ ...route(i % 250, 1), table: 7, cookie: 0x100000n + BigInt(i), priority: 1 + Math.floor(i / 250) }));
  await sw.send(many.map((flow) => ({ op: 'add-flow' as const, flow })));
  const dumped = await sw.dumpFlows({ tableId: 7 });
  expect(dumped).toHaveLength(3000);
  expect(dumped.map((s) => s.flow).sort((a, b) => (a.cookie < b.cookie ? -1 : 1))).toEqual(many);
});

test('packet-in, packet-out and flow-removed events', async () => {
  const packetIns: import('../../fabric/openflow/messages').PacketIn[] = [];
  const removed: bigint[] = [];
  sw.on('packet-in', (p) => packetIns.push(p));
  sw.on('flow-removed', (f) => removed.push(f.cookie));
  const punt: Flow = { table: 0, priority: 1, cookie: 0x5000n, match: { in_port: { value: 1n } }, instructions: { apply: [{ type: 'controller', reason: 0, userdata: new Uint8Array([7, 7]) }] } };
  const shortLived: Flow = { table: 9, priority: 1, cookie: 0x5001n, match: {}, instructions: {}, hardTimeout: 1, flags: 1 };
  await sw.send([{ op: 'add-flow', flow: punt }, { op: 'add-flow', flow: shortLived }]);
  ovs.appctl('netdev-dummy/receive', 'p1', 'in_port(1),eth(src=0a:58:0a:f4:01:02,dst=0a:58:0a:f4:02:03),eth_type(0x0800),ipv4(src=10.244.1.2,dst=10.244.2.3,proto=6,tos=0,ttl=64,frag=no),tcp(src=1234,dst=80)');
  for (let i = 0; i < 100 && packetIns.length === 0; i++) await new Promise((r) => setTimeout(r, 30));
  expect(packetIns[0]).toMatchObject({ type: 'packet_in', tableId: 0, cookie: 0x5000n, match: { in_port: { value: 1n } } });
  expect(packetIns[0].data.length).toBeGreaterThanOrEqual(54);
  // send it back out of port 2 as a packet-out
  await sw.sendMessage({ type: 'packet_out', xid: 0, bufferId: 0xffffffff, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: 2 }], data: packetIns[0].data });
  await sw.barrier();
  for (let i = 0; i < 100 && !removed.includes(0x5001n); i++) await new Promise((r) => setTimeout(r, 50));
  expect(removed).toContain(0x5001n);
});

test('port-status events and disconnect', async () => {
  ovs.vsctl('add-port', 'br0', 'p3', '--', 'set', 'interface', 'p3', 'type=dummy', 'ofport_request=3');
  for (let i = 0; i < 100 && !events.some((e) => e.startsWith('port-status 0 p3')); i++) await new Promise((r) => setTimeout(r, 50));
  expect(events).toContain('port-status 0 p3');
  expect(sw.ports.map((p) => p.portNo)).toContain(3);
  const pending = sw.dumpFlows();
  ovs.stopVswitchd();
  await expect(pending.then(() => 'answered', (e: OpenFlowError) => e.kind)).resolves.toMatch(/answered|closed/);
  for (let i = 0; i < 100 && !sw.isClosed; i++) await new Promise((r) => setTimeout(r, 50));
  expect(sw.isClosed).toBe(true);
  expect(events.some((e) => e.startsWith('disconnected'))).toBe(true);
});
