import { applyOps, makeCookie, reconcile, reconcileDetailed, withGeneration } from '../../controller';
import type { Flow, Group, Meter, SwitchPlan } from '../../fabric/openflow/flow';

const ours = makeCookie('route', 1);
const foreignCookie = 0x1234n;
const flow = (priority: number, dst: bigint, actions: Flow['instructions'], cookie = ours): Flow => ({
  table: 9,
  priority,
  match: { eth_type: { value: 0x800n }, ipv4_dst: { value: dst } },
  instructions: actions,
  cookie,
});
const group = (id: number, port: number): Group => ({ groupId: id, type: 'select', buckets: [{ watchPort: port, actions: [{ type: 'output', port }] }] });
const meter = (id: number, rate: number): Meter => ({ meterId: id, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate, burstSize: rate / 5 }] });
const plan = (flows: Flow[], groups: Group[] = [], meters: Meter[] = []): SwitchPlan => ({ switch: 's', datapathId: '0000000000000001', flows, groups, meters });

const G1 = 0x20000001;
const G2 = 0x20000002;

describe('reconcile', () => {
  it('adds the new group before the flow that uses it, and deletes the old group after the flow moved off it', () => {
    const actual = plan([flow(420, 1n, { apply: [{ type: 'group', groupId: G1 }] })], [group(G1, 1)]);
    const desired = plan([flow(420, 1n, { apply: [{ type: 'group', groupId: G2 }] })], [group(G2, 2)]);
    const ops = reconcile(desired, actual);
    expect(ops.map((o) => o.op)).toEqual(['add-group', 'modify-flow', 'delete-group']);
    expect(applyOps(actual, ops)).toEqual(desired);
  });

  it('modifies a flow in place when table, priority and match are equal; deletes stale flows after adds', () => {
    const actual = plan([flow(420, 1n, { gotoTable: 10 }), flow(420, 2n, { gotoTable: 10 })]);
    const desired = plan([flow(420, 1n, { apply: [{ type: 'dec_ttl' }], gotoTable: 10 }), flow(420, 3n, { gotoTable: 10 })]);
    const ops = reconcile(desired, actual);
    expect(ops.map((o) => o.op)).toEqual(['modify-flow', 'add-flow', 'delete-flow']);
    expect(applyOps(actual, ops).flows).toEqual(applyOps(desired, []).flows);
  });

  it('never touches flows without our owner tag, and reports a desired flow that collides with one', () => {
    const foreign = flow(420, 9n, { gotoTable: 10 }, foreignCookie);
    const clash = flow(420, 5n, { gotoTable: 10 }, foreignCookie);
    const actual = plan([foreign, clash]);
    const desiredClash = flow(420, 5n, { apply: [{ type: 'dec_ttl' }], gotoTable: 10 });
    const r = reconcileDetailed(plan([desiredClash]), actual);
    expect(r.ops).toEqual([]);
    expect(r.conflicts).toEqual([desiredClash]);
  });

  it('adopts installed flows of another generation instead of rewriting them', () => {
    const installed = flow(420, 1n, { gotoTable: 10 }, withGeneration(ours, 3));
    expect(reconcile(plan([flow(420, 1n, { gotoTable: 10 })]), plan([installed]))).toEqual([]);
  });

  it('compares in normal form: a full mask is no mask', () => {
    const a = { ...flow(420, 1n, { gotoTable: 10 }), match: { eth_type: { value: 0x800n }, ipv4_dst: { value: 1n, mask: 0xffffffffn } } };
    expect(reconcile(plan([flow(420, 1n, { gotoTable: 10 })]), plan([a]))).toEqual([]);
  });

  it('deletes a meter only after the flows that used it are gone (deleting a meter deletes its flows)', () => {
    const metered = { ...flow(100, 1n, { meter: 100, gotoTable: 10 }), table: 3, match: { in_port: { value: 100n } } };
    const actual = plan([metered], [], [meter(100, 50000)]);
    const desired = plan([]);
    const ops = reconcile(desired, actual);
    expect(ops.map((o) => o.op)).toEqual(['delete-flow', 'delete-meter']);
    // changing the rate modifies the meter in place: the flow survives
    const faster = plan([metered], [], [meter(100, 80000)]);
    const mod = reconcile(faster, actual);
    expect(mod.map((o) => o.op)).toEqual(['modify-meter']);
    expect(applyOps(actual, mod).flows).toHaveLength(1);
  });

  it('applyOps follows OpenFlow: modify never creates, deleting a meter or group removes its flows', () => {
    const f = flow(420, 1n, { gotoTable: 10 });
    expect(applyOps(plan([]), [{ op: 'modify-flow', flow: f }]).flows).toEqual([]);
    const metered = { ...flow(100, 1n, { meter: 100, gotoTable: 10 }), table: 3, match: { in_port: { value: 100n } } };
    expect(applyOps(plan([metered], [], [meter(100, 1000)]), [{ op: 'delete-meter', meterId: 100 }]).flows).toEqual([]);
    const grouped = flow(420, 1n, { apply: [{ type: 'group', groupId: G1 }] });
    expect(applyOps(plan([grouped], [group(G1, 1)]), [{ op: 'delete-group', groupId: G1 }]).flows).toEqual([]);
    const before = plan([f]);
    applyOps(before, [{ op: 'delete-flow', flow: f }]);
    expect(before.flows).toEqual([f]);
  });

  it('leaves groups and meters outside our id ranges alone', () => {
    const actual = plan([], [group(7, 1)], [meter(5, 1000)]);
    expect(reconcile(plan([]), actual)).toEqual([]);
  });
});
