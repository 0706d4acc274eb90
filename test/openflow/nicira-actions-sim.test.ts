/**
 * The simulated switch and the Nicira actions the flow IR types: it executes exit, output:reg,
 * the plain resubmit, dec_ttl with controller ids, set_tunnel, and treats fin_timeout and sample
 * as having no effect on forwarding; the ones it cannot execute (multipath, bundle, resubmit with
 * ct, controller with pause) throw an UnsupportedActionError naming the action.
 */
import type { Action, Flow, Match } from '../../fabric/openflow/flow';
import { OFPP } from '../../fabric/openflow/flow';
import { SimSwitch, UnsupportedActionError } from '../../sim/switch';
import { Packet, TCP_SYN, ipv4Packet } from '../../sim/packet';

function flow(table: number, priority: number, match: Match, ins: Flow['instructions']): Flow {
  return { table, priority, match, instructions: ins, cookie: 0n };
}
const out = (port: number): Action => ({ type: 'output', port });
function tcp(): Packet {
  return ipv4Packet({ ethSrc: '0a:58:0a:f4:01:02', ethDst: '0a:58:0a:f4:02:03', ipSrc: '1.1.1.1', ipDst: '2.2.2.2', l4: { proto: 'tcp', srcPort: 1, dstPort: 2, tcpFlags: TCP_SYN } });
}
function sw(...flows: Flow[]): SimSwitch {
  const s = new SimSwitch('s');
  for (const f of flows) s.applyOp({ op: 'add-flow', flow: f });
  return s;
}

describe('simulated switch: Nicira actions', () => {
  test('exit stops the actions at every resubmit level, but the action set still runs', () => {
    const s = sw(
      flow(0, 1, {}, { write: [out(7)], gotoTable: 1 }),
      flow(1, 1, {}, { apply: [out(1), { type: 'resubmit', table: 2 }, out(2)], gotoTable: 3 }),
      flow(2, 1, {}, { apply: [out(3), { type: 'exit' }, out(4)] }),
      flow(3, 1, {}, { apply: [out(5)] }),
    );
    const r = s.process(tcp(), 9, 0);
    expect(r.outputs.map((o) => o.port)).toEqual([1, 3, 7]);
  });

  test('exit inside a group bucket ends only that bucket', () => {
    const s = new SimSwitch('s');
    s.applyOp({ op: 'add-group', group: { groupId: 1, type: 'all', buckets: [{ actions: [out(1), { type: 'exit' }, out(2)] }, { actions: [out(3)] }] } });
    s.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { apply: [{ type: 'group', groupId: 1 }, out(9)] }) });
    expect(s.process(tcp(), 8, 0).outputs.map((o) => o.port)).toEqual([1, 3, 9]);
  });

  test('output:reg outputs to the port number in the field bits', () => {
    const s = sw(
      flow(0, 1, {}, { apply: [{ type: 'set_field', field: 'reg1', value: 0x00050000n, mask: 0xffff0000n }, { type: 'output_reg', src: { field: 'reg1', ofs: 16, nBits: 16 } }] }),
    );
    expect(s.process(tcp(), 9, 0).outputs.map((o) => o.port)).toEqual([5]);
    const local = sw(flow(0, 1, {}, { apply: [{ type: 'set_field', field: 'reg2', value: 0xfffen }, { type: 'output_reg', src: { field: 'reg2', ofs: 0, nBits: 16 } }] }));
    expect(local.process(tcp(), 9, 0).outputs.map((o) => o.port)).toEqual([OFPP.LOCAL]);
  });

  test('the plain resubmit looks up the current table with in_port changed', () => {
    const s = sw(
      flow(3, 1, {}, { apply: [{ type: 'resubmit', port: 4, legacy: true }] }),
      flow(0, 1, {}, { gotoTable: 3 }),
      flow(3, 10, { in_port: { value: 4n } }, { apply: [out(6)] }),
    );
    expect(s.process(tcp(), 9, 0).outputs.map((o) => o.port)).toEqual([6]);
  });

  test('dec_ttl with controller ids decrements like dec_ttl', () => {
    const s = sw(flow(0, 1, {}, { apply: [{ type: 'dec_ttl', ids: [1, 2] }, out(1)] }));
    const r = s.process(tcp(), 9, 0);
    expect(r.outputs[0]!.packet.ttl).toBe(63);
  });

  test('set_tunnel sets tun_id; fin_timeout and sample do not change forwarding', () => {
    const s = sw(
      flow(0, 1, {}, {
        apply: [
          { type: 'set_tunnel', tunId: 0x77n },
          { type: 'fin_timeout', idleTimeout: 5 },
          { type: 'sample', probability: 1, collectorSetId: 1, obsDomainId: 1, obsPointId: 1 },
          { type: 'move', src: { field: 'tunnel_id', ofs: 0, nBits: 32 }, dst: { field: 'reg0' } },
          { type: 'resubmit', table: 1 },
        ],
      }),
      flow(1, 1, { reg0: { value: 0x77n } }, { apply: [out(2)] }),
    );
    const r = s.process(tcp(), 9, 0);
    expect(r.outputs.map((o) => o.port)).toEqual([2]);
  });

  test.each<Action>([
    { type: 'multipath', fields: 'symmetric_l4', basis: 0, algorithm: 'hrw', links: 4, arg: 0, dst: { field: 'reg0' } },
    { type: 'bundle', fields: 'eth_src', basis: 0, algorithm: 'hrw', members: [1, 2] },
    { type: 'resubmit', table: 1, ct: true },
    { type: 'controller', pause: true },
  ])('$type it cannot execute: a typed error naming the action', (action) => {
    const s = sw(flow(0, 1, {}, { apply: [action] }));
    expect(() => s.process(tcp(), 9, 0)).toThrow(UnsupportedActionError);
    expect(() => s.process(tcp(), 9, 0)).toThrow(/does not execute the action/);
  });
});
