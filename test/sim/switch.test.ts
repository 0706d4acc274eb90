import { CT_STATE, OFPP } from '../../fabric/openflow/flow';
import type { Action, Flow, Match } from '../../fabric/openflow/flow';
import { SimSwitch } from '../../sim/switch';
import { Packet, S, TCP_ACK, TCP_SYN, intToIp, ipToU32, ipv4Packet } from '../../sim/packet';

const A = '0a:58:0a:f4:01:02';
const B = '0a:58:0a:f4:02:03';
const ip = (s: string): bigint => BigInt(ipToU32(s));

function flow(table: number, priority: number, match: Match, ins: Flow['instructions']): Flow {
  return { table, priority, match, instructions: ins, cookie: 0n };
}
const out = (port: number): Action => ({ type: 'output', port });

function tcp(src: string, dst: string, sport: number, dport: number, flags = TCP_SYN): Packet {
  return ipv4Packet({ ethSrc: A, ethDst: B, ipSrc: src, ipDst: dst, l4: { proto: 'tcp', srcPort: sport, dstPort: dport, tcpFlags: flags } });
}

describe('SimSwitch tables', () => {
  test('highest priority wins; masks select prefixes; prerequisites are implied', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-flow', flow: flow(0, 100, { eth_type: { value: 0x800n }, ipv4_dst: { value: ip('10.1.0.0'), mask: ip('255.255.0.0') } }, { apply: [out(1)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 200, { eth_type: { value: 0x800n }, ipv4_dst: { value: ip('10.1.2.0'), mask: ip('255.255.255.0') } }, { apply: [out(2)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 300, { tcp_dst: { value: 80n } }, { apply: [out(3)] }) });
    const r1 = sw.process(tcp('1.1.1.1', '10.1.2.9', 1000, 22), 9, 0);
    expect(r1.outputs.map((o) => o.port)).toEqual([2]);
    const r2 = sw.process(tcp('1.1.1.1', '10.1.7.9', 1000, 22), 9, 0);
    expect(r2.outputs.map((o) => o.port)).toEqual([1]);
    const r3 = sw.process(tcp('1.1.1.1', '10.1.7.9', 1000, 80), 9, 0);
    expect(r3.outputs.map((o) => o.port)).toEqual([3]);
    // udp to port 80 does not match tcp_dst=80 (the implied ip_proto=6)
    const u = ipv4Packet({ ethSrc: A, ethDst: B, ipSrc: '1.1.1.1', ipDst: '10.1.7.9', l4: { proto: 'udp', srcPort: 5, dstPort: 80 } });
    expect(sw.process(u, 9, 0).outputs.map((o) => o.port)).toEqual([1]);
    const miss = sw.process(tcp('1.1.1.1', '11.0.0.1', 1, 2), 9, 0);
    expect(miss.verdict).toBe('dropped');
    expect(miss.dropReason).toBe('table 0 miss');
  });

  test('goto, write-actions with action-set order, write_metadata, clear', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { write: [out(5), { type: 'set_field', field: 'ipv4_dst', value: ip('9.9.9.9') }], writeMetadata: { value: 0x7n, mask: 0xfn }, gotoTable: 3 }) });
    sw.applyOp({ op: 'add-flow', flow: flow(3, 1, { metadata: { value: 0x7n, mask: 0xfn } }, { apply: [{ type: 'dec_ttl' }] }) });
    const r = sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0);
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]!.port).toBe(5);
    expect(intToIp(r.outputs[0]!.packet.u32(S.ipv4_dst))).toBe('9.9.9.9');
    expect(r.outputs[0]!.packet.ttl).toBe(63);
    // clear-actions empties the set
    sw.applyOp({ op: 'add-flow', flow: flow(3, 1, { metadata: { value: 0x7n, mask: 0xfn } }, { clear: true }) });
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0).outputs).toHaveLength(0);
  });

  test('output to the ingress port needs IN_PORT; dec_ttl drops at ttl 1', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { in_port: { value: 4n } }, { apply: [out(4)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { in_port: { value: 5n } }, { apply: [out(OFPP.IN_PORT)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { in_port: { value: 6n } }, { apply: [{ type: 'dec_ttl' }, out(1)] }) });
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 4, 0).outputs).toHaveLength(0);
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 5, 0).outputs.map((o) => o.port)).toEqual([5]);
    const p = tcp('1.1.1.1', '2.2.2.2', 1, 2);
    p.ttl = 1;
    const r = sw.process(p, 6, 0);
    expect(r.outputs).toHaveLength(0);
    expect(r.dropReason).toBe('ttl expired');
  });

  test('resubmit runs another table and returns; move copies bits', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { apply: [{ type: 'resubmit', table: 7 }, { type: 'move', src: { field: 'reg0' }, dst: { field: 'ipv4_src' } }, out(2)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(7, 1, {}, { apply: [{ type: 'set_field', field: 'reg0', value: ip('5.6.7.8') }] }) });
    const r = sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0);
    expect(r.outputs).toHaveLength(1);
    expect(intToIp(r.outputs[0]!.packet.u32(S.ipv4_src))).toBe('5.6.7.8');
  });
});

describe('SimSwitch groups', () => {
  test('select spreads by 5-tuple hash, respects weights, and is stable per connection', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-group', group: { groupId: 1, type: 'select', buckets: [{ weight: 1, actions: [out(1)] }, { weight: 1, actions: [out(2)] }, { weight: 2, actions: [out(3)] }] } });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { apply: [{ type: 'group', groupId: 1 }] }) });
    const counts = new Map<number, number>();
    for (let sport = 1000; sport < 5000; sport++) {
      const r = sw.process(tcp('1.1.1.1', '2.2.2.2', sport, 80), 9, 0, false);
      const again = sw.process(tcp('1.1.1.1', '2.2.2.2', sport, 80), 9, 0, false);
      expect(again.outputs[0]!.port).toBe(r.outputs[0]!.port);
      counts.set(r.outputs[0]!.port, (counts.get(r.outputs[0]!.port) ?? 0) + 1);
    }
    expect(counts.get(1)! / 4000).toBeGreaterThan(0.2);
    expect(counts.get(2)! / 4000).toBeGreaterThan(0.2);
    expect(counts.get(3)! / 4000).toBeGreaterThan(0.45);
  });

  test('fast-failover takes the first live bucket; all clones to every bucket', () => {
    const live = new Set([1, 2]);
    const sw = new SimSwitch('s', '0', { isPortLive: (p) => live.has(p) });
    sw.applyOp({ op: 'add-group', group: { groupId: 2, type: 'ff', buckets: [{ watchPort: 1, actions: [out(1)] }, { watchPort: 2, actions: [out(2)] }] } });
    sw.applyOp({ op: 'add-group', group: { groupId: 3, type: 'all', buckets: [{ actions: [out(1)] }, { actions: [{ type: 'set_field', field: 'ipv4_dst', value: ip('3.3.3.3') }, out(2)] }] } });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { in_port: { value: 9n } }, { apply: [{ type: 'group', groupId: 2 }] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { in_port: { value: 8n } }, { apply: [{ type: 'group', groupId: 3 }] }) });
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0).outputs.map((o) => o.port)).toEqual([1]);
    live.delete(1);
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0).outputs.map((o) => o.port)).toEqual([2]);
    live.delete(2);
    expect(sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 9, 0).outputs).toHaveLength(0);
    const all = sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 8, 0);
    expect(all.outputs.map((o) => [o.port, intToIp(o.packet.u32(S.ipv4_dst))])).toEqual([[1, '2.2.2.2'], [2, '3.3.3.3']]);
  });

  test('deleting a group deletes the flows that use it; adding one twice is an error', () => {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-group', group: { groupId: 1, type: 'indirect', buckets: [{ actions: [out(1)] }] } });
    expect(() => sw.applyOp({ op: 'add-group', group: { groupId: 1, type: 'indirect', buckets: [] } })).toThrow(/GROUP_EXISTS/);
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { apply: [{ type: 'group', groupId: 1 }] }) });
    expect(sw.flowCount).toBe(1);
    sw.applyOp({ op: 'delete-group', groupId: 1 });
    expect(sw.flowCount).toBe(0);
  });
});

describe('SimSwitch conntrack and NAT', () => {
  // table 0: from the pod (port 1): ct(zone=5,nat,table=1); from outside (port 2): same
  // table 1: new from the pod: commit + SNAT to 198.51.100.11, out 2; est: out the other side
  function natSwitch(): SimSwitch {
    const sw = new SimSwitch('s');
    sw.applyOp({ op: 'add-flow', flow: flow(0, 10, { eth_type: { value: 0x800n } }, { apply: [{ type: 'ct', zone: 5, table: 1, nat: {} }] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 20, { in_port: { value: 1n }, ct_state: { value: BigInt(CT_STATE.trk | CT_STATE.new), mask: BigInt(CT_STATE.trk | CT_STATE.new) } }, { apply: [{ type: 'ct', commit: true, zone: 5, table: 2, nat: { kind: 'src', ipMin: '198.51.100.11', portMin: 40000, portMax: 40010 } }] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 20, { in_port: { value: 1n }, ct_state: { value: BigInt(CT_STATE.trk | CT_STATE.est), mask: BigInt(CT_STATE.trk | CT_STATE.est) } }, { apply: [out(2)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 20, { in_port: { value: 2n }, ct_state: { value: BigInt(CT_STATE.trk | CT_STATE.est | CT_STATE.rpl), mask: BigInt(CT_STATE.trk | CT_STATE.est | CT_STATE.rpl) } }, { apply: [out(1)] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 1, {}, { apply: [] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(2, 1, {}, { apply: [out(2)] }) });
    return sw;
  }

  test('SNAT on commit, reply un-NAT, est/rpl states, inv for stray segments', () => {
    const sw = natSwitch();
    const syn = sw.process(tcp('10.244.1.2', '203.0.113.1', 50000, 80), 1, 0);
    expect(syn.outputs).toHaveLength(1);
    const o = syn.outputs[0]!.packet;
    expect(intToIp(o.u32(S.ipv4_src))).toBe('198.51.100.11');
    // 50000 is outside 40000-40010: the first free port from the tuple hash, inside the range
    expect(o.l4Src).toBeGreaterThanOrEqual(40000);
    expect(o.l4Src).toBeLessThanOrEqual(40010);
    expect(syn.steps.some((s) => s.kind === 'ct' && /\+new\+trk\+snat/.test(s.text))).toBe(true);
    const synack = sw.process(tcp('203.0.113.1', '198.51.100.11', 80, o.l4Src, TCP_SYN | TCP_ACK), 2, 1);
    expect(synack.outputs.map((x) => x.port)).toEqual([1]);
    // the reply of a SNATed connection has its destination translated back: +dnat, +rpl
    expect(synack.steps.some((s) => s.kind === 'ct' && /\+est\+rpl\+trk\+dnat/.test(s.text))).toBe(true);
    const back = synack.outputs[0]!.packet;
    expect(intToIp(back.u32(S.ipv4_dst))).toBe('10.244.1.2');
    expect(back.l4Dst).toBe(50000);
    // after the reply, the original direction is established and keeps its translation
    const ack = sw.process(tcp('10.244.1.2', '203.0.113.1', 50000, 80, TCP_ACK), 1, 2);
    expect(ack.outputs).toHaveLength(1);
    expect(ack.outputs[0]!.packet.l4Src).toBe(o.l4Src);
    // a SYN-ACK of no connection is invalid: no flow admits it
    const stray = sw.process(tcp('203.0.113.9', '198.51.100.11', 80, 1234, TCP_SYN | TCP_ACK), 2, 3);
    expect(stray.outputs).toHaveLength(0);
    expect(stray.steps.some((s) => s.kind === 'ct' && /\+inv/.test(s.text))).toBe(true);
  });

  test('two connections get distinct SNAT ports; zones separate tables', () => {
    const sw = natSwitch();
    const p1 = sw.process(tcp('10.244.1.2', '203.0.113.1', 40005, 80), 1, 0).outputs[0]!.packet;
    const p2 = sw.process(tcp('10.244.1.3', '203.0.113.1', 40005, 80), 1, 0).outputs[0]!.packet;
    expect(p1.l4Src).toBe(40005);
    expect(p2.l4Src).not.toBe(40005);
    expect(sw.conntrack.size).toBe(2);
  });

  test('DNAT with port range via a select group (service load balancing)', () => {
    const sw = new SimSwitch('s');
    const bucket = (ipStr: string): { actions: Action[] } => ({ actions: [{ type: 'ct', commit: true, zone: 3, table: 2, nat: { kind: 'dst', ipMin: ipStr, portMin: 8080, portMax: 8080 } }] });
    sw.applyOp({ op: 'add-group', group: { groupId: 7, type: 'select', buckets: [bucket('10.244.1.5'), bucket('10.244.2.5')] } });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, { eth_type: { value: 0x800n } }, { apply: [{ type: 'ct', zone: 3, table: 1, nat: {} }] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 10, { ct_state: { value: BigInt(CT_STATE.new | CT_STATE.trk), mask: BigInt(CT_STATE.new | CT_STATE.trk) }, ipv4_dst: { value: ip('10.96.0.10') }, tcp_dst: { value: 80n } }, { apply: [{ type: 'group', groupId: 7 }] }) });
    sw.applyOp({ op: 'add-flow', flow: flow(1, 5, {}, { gotoTable: 2 }) });
    sw.applyOp({ op: 'add-flow', flow: flow(2, 1, {}, { apply: [out(2)] }) });
    const seen = new Set<string>();
    for (let s = 30000; s < 30064; s++) {
      const r = sw.process(tcp('10.244.3.3', '10.96.0.10', s, 80), 1, 0);
      const p = r.outputs[0]!.packet;
      expect(p.l4Dst).toBe(8080);
      seen.add(intToIp(p.u32(S.ipv4_dst)));
      // the next packet of the connection is translated the same way (conntrack, not the hash)
      const again = sw.process(tcp('10.244.3.3', '10.96.0.10', s, 80, TCP_ACK), 1, 0).outputs[0]!.packet;
      expect(intToIp(again.u32(S.ipv4_dst))).toBe(intToIp(p.u32(S.ipv4_dst)));
    }
    expect([...seen].sort()).toEqual(['10.244.1.5', '10.244.2.5']);
  });
});

describe('SimSwitch meters', () => {
  test('token bucket in virtual time: over-rate packets dropped, refilled later', () => {
    const sw = new SimSwitch('s');
    // 1000 kbps, burst 10 kbit: ten 1000-bit packets then drops, refilled at 1 bit/us
    sw.applyOp({ op: 'add-meter', meter: { meterId: 1, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate: 1000, burstSize: 10 }] } });
    sw.applyOp({ op: 'add-flow', flow: flow(0, 1, {}, { meter: 1, apply: [out(2)] }) });
    let passed = 0;
    for (let i = 0; i < 20; i++) {
      const p = tcp('1.1.1.1', '2.2.2.2', 1, 2);
      p.sizeBytes = 125;
      if (sw.process(p, 1, 0).outputs.length) passed++;
    }
    expect(passed).toBe(10);
    const p = tcp('1.1.1.1', '2.2.2.2', 1, 2);
    p.sizeBytes = 125;
    expect(sw.process(p, 1, 1000).outputs).toHaveLength(1);
    // deleting the meter deletes its flows
    sw.applyOp({ op: 'delete-meter', meterId: 1 });
    expect(sw.flowCount).toBe(0);
  });

  test('counters per flow and per port; modify keeps counters; modify never creates', () => {
    const sw = new SimSwitch('s');
    const f = flow(0, 1, {}, { apply: [out(2)] });
    sw.applyOp({ op: 'add-flow', flow: f });
    sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 1, 0);
    sw.process(tcp('1.1.1.1', '2.2.2.2', 1, 2), 1, 0);
    sw.applyOp({ op: 'modify-flow', flow: { ...f, instructions: { apply: [out(3)] } } });
    expect(sw.flowStats()[0]!.packets).toBe(2);
    expect(sw.portCounters.get(1)!.rxPackets).toBe(2);
    expect(sw.portCounters.get(2)!.txPackets).toBe(2);
    sw.applyOp({ op: 'modify-flow', flow: flow(0, 9, {}, { apply: [] }) });
    expect(sw.flowCount).toBe(1);
  });
});
