import { actionText, flowText, groupText, meterText, matchText, OfctlError } from '../../fabric/openflow/ofctl';
import { OFPP } from '../../fabric/openflow/flow';

describe('ovs-ofctl printer', () => {
  it('prints shorthand protocols, masks as prefixes, ct_state flags and reserved ports', () => {
    expect(matchText({ eth_type: { value: 0x800n }, ip_proto: { value: 6n }, ipv4_dst: { value: 0x0af40000n, mask: 0xffff0000n }, tcp_dst: { value: 80n } })).toBe('tcp,nw_dst=10.244.0.0/16,tcp_dst=80');
    expect(matchText({ ct_state: { value: 0x20n, mask: 0x21n } })).toBe('ct_state=-new+trk');
    expect(matchText({ in_port: { value: BigInt(OFPP.LOCAL) }, eth_type: { value: 0x806n } })).toBe('arp,in_port=LOCAL');
    expect(matchText({ reg0: { value: 1n, mask: 0xfn }, eth_dst: { value: 0x0a580a000001n } })).toBe('eth_dst=0a:58:0a:00:00:01,reg0=0x1/0xf');
    expect(matchText({ ipv4_src: { value: 0x0a000000n, mask: 0xff00ff00n }, eth_type: { value: 0x800n } })).toBe('ip,nw_src=10.0.0.0/255.0.255.0');
  });

  it('prints conntrack with a register zone and NAT ranges', () => {
    expect(actionText({ type: 'ct', commit: true, zone: { field: 'reg5', ofs: 0, nBits: 16 }, table: 7, nat: { kind: 'dst', ipMin: '10.244.1.2', portMin: 8080 } })).toBe(
      'ct(commit,table=7,zone=reg5[0..15],nat(dst=10.244.1.2:8080))',
    );
    expect(actionText({ type: 'ct', zone: 3, nat: {}, table: 5 })).toBe('ct(table=5,zone=3,nat)');
    expect(actionText({ type: 'set_field', field: 'tun_ipv4_dst', value: 0xc6336401n })).toBe('set_field:198.51.100.1->tun_dst');
    expect(actionText({ type: 'move', src: { field: 'arp_spa' }, dst: { field: 'reg2' } })).toBe('move:arp_spa->reg2');
    expect(actionText({ type: 'output', port: OFPP.IN_PORT })).toBe('IN_PORT');
  });

  it('prints flows, groups and meters; an empty instruction set is drop', () => {
    expect(flowText({ table: 9, priority: 0, match: {}, instructions: {}, cookie: 0xfab1000101000000n })).toBe('cookie=0xfab1000101000000,table=9,priority=0 actions=drop');
    expect(flowText({ table: 3, priority: 100, match: { in_port: { value: 100n } }, instructions: { meter: 100, gotoTable: 4 }, cookie: 1n })).toBe('cookie=0x1,table=3,priority=100,in_port=100 actions=meter:100,goto_table:4');
    expect(groupText({ groupId: 5, type: 'ff', buckets: [{ watchPort: 1, actions: [{ type: 'output', port: 1 }] }, { watchPort: 2, actions: [{ type: 'output', port: 2 }] }] })).toBe(
      'group_id=5,type=fast_failover,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,actions=output:2',
    );
    expect(meterText({ meterId: 100, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate: 50000, burstSize: 10000 }] })).toBe('meter=100,kbps,burst,stats,bands=type=drop,rate=50000,burst_size=10000');
  });

  it('refuses a raw action', () => {
    expect(() => actionText({ type: 'raw', actionType: 0xffff, data: new Uint8Array() })).toThrow(OfctlError);
  });
});
