/**
 * Meaning, not only bytes (mqtt-packet's parse / generate / mirror): each fixture is an ovs-ofctl flow
 * text and the flow IR it means. OVS encodes the text; our decode of those bytes must equal the IR,
 * our encode of the IR must equal OVS's bytes, and decode(encode(IR)) must equal the IR.
 */
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { OFPP, type Flow } from '../../fabric/openflow/flow';
import type { FlowMod } from '../../fabric/openflow/messages';
import { ovsEncodeFlows } from './oracle';

const IP = { eth_type: { value: 0x0800n } };
const flow = (match: Flow['match'], instructions: Flow['instructions'], extra: Partial<Flow> = {}): Flow => ({
  table: 0,
  priority: 32768,
  cookie: 0n,
  match,
  instructions,
  ...extra,
});

const fixtures: [string, Flow][] = [
  ['table=3,priority=100,cookie=0x5,in_port=7,actions=output:2', flow({ in_port: { value: 7n } }, { apply: [{ type: 'output', port: 2 }] }, { table: 3, priority: 100, cookie: 5n })],
  ['dl_src=0a:58:0a:f4:01:02,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop', flow({ eth_src: { value: 0x0a580af40102n }, eth_dst: { value: 0x010000000000n, mask: 0x010000000000n } }, {})],
  ['dl_vlan=100,dl_vlan_pcp=3,actions=pop_vlan,output:1', flow({ vlan_vid: { value: 0x1064n }, vlan_pcp: { value: 3n } }, { apply: [{ type: 'pop_vlan' }, { type: 'output', port: 1 }] })],
  ['ip,nw_src=10.244.1.0/24,nw_dst=10.96.0.10,ip_dscp=46,nw_ecn=2,actions=dec_ttl,NORMAL', flow({ ...IP, ipv4_src: { value: 0x0af40100n, mask: 0xffffff00n }, ipv4_dst: { value: 0x0a60000an }, ip_dscp: { value: 46n }, ip_ecn: { value: 2n } }, { apply: [{ type: 'dec_ttl' }, { type: 'output', port: OFPP.NORMAL }] })],
  ['tcp,tp_src=1024,tp_dst=80,actions=set_field:8080->tcp_dst,output:in_port', flow({ ...IP, ip_proto: { value: 6n }, tcp_src: { value: 1024n }, tcp_dst: { value: 80n } }, { apply: [{ type: 'set_field', field: 'tcp_dst', value: 8080n }, { type: 'output', port: OFPP.IN_PORT }] })],
  ['udp,tp_dst=53,actions=set_field:10.96.0.10->ip_dst,output:3', flow({ ...IP, ip_proto: { value: 17n }, udp_dst: { value: 53n } }, { apply: [{ type: 'set_field', field: 'ipv4_dst', value: 0x0a60000an }, { type: 'output', port: 3 }] })],
  ['icmp,icmp_type=8,icmp_code=0,actions=CONTROLLER:128', flow({ ...IP, ip_proto: { value: 1n }, icmpv4_type: { value: 8n }, icmpv4_code: { value: 0n } }, { apply: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 128 }] })],
  [
    'arp,arp_op=1,arp_tpa=10.244.1.1,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:58:0a:f4:01:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.244.1.1->arp_spa,IN_PORT',
    flow({ eth_type: { value: 0x0806n }, arp_op: { value: 1n }, arp_tpa: { value: 0x0af40101n } }, {
      apply: [
        { type: 'move', src: { field: 'eth_src' }, dst: { field: 'eth_dst' } },
        { type: 'set_field', field: 'eth_src', value: 0x0a580af40101n },
        { type: 'set_field', field: 'arp_op', value: 2n },
        { type: 'move', src: { field: 'arp_sha' }, dst: { field: 'arp_tha' } },
        { type: 'move', src: { field: 'arp_spa' }, dst: { field: 'arp_tpa' } },
        { type: 'set_field', field: 'arp_spa', value: 0x0af40101n },
        { type: 'output', port: OFPP.IN_PORT },
      ],
    }),
  ],
  ['arp,arp_spa=10.0.0.0/8,arp_sha=0a:58:00:00:00:01,arp_tha=00:00:00:00:00:00,actions=FLOOD', flow({ eth_type: { value: 0x0806n }, arp_spa: { value: 0x0a000000n, mask: 0xff000000n }, arp_sha: { value: 0x0a5800000001n }, arp_tha: { value: 0n } }, { apply: [{ type: 'output', port: OFPP.FLOOD }] })],
  ['tun_id=0x64,tun_src=198.51.100.11,tun_dst=198.51.100.12,actions=set_field:0x65->tun_id,set_field:198.51.100.13->tun_dst,output:9', flow({ tunnel_id: { value: 0x64n }, tun_ipv4_src: { value: 0xc633640bn }, tun_ipv4_dst: { value: 0xc633640cn } }, { apply: [{ type: 'set_field', field: 'tunnel_id', value: 0x65n }, { type: 'set_field', field: 'tun_ipv4_dst', value: 0xc633640dn }, { type: 'output', port: 9 }] })],
  ['reg0=0x5,reg7=0x10/0xf0,pkt_mark=0x3,metadata=0x1/0x1,actions=set_field:0x7->reg1,set_field:0x20/0xf0->reg2,load:0x3->NXM_NX_REG3[4..5],set_field:0x9->pkt_mark', flow({ reg0: { value: 5n }, reg7: { value: 0x10n, mask: 0xf0n }, pkt_mark: { value: 3n }, metadata: { value: 1n, mask: 1n } }, { apply: [{ type: 'set_field', field: 'reg1', value: 7n }, { type: 'set_field', field: 'reg2', value: 0x20n, mask: 0xf0n }, { type: 'set_field', field: 'reg3', value: 0x30n, mask: 0x30n }, { type: 'set_field', field: 'pkt_mark', value: 9n }] })],
  ['ip,ct_state=-trk,actions=ct(table=1,zone=5,nat)', flow({ ...IP, ct_state: { value: 0n, mask: 0x20n } }, { apply: [{ type: 'ct', zone: 5, table: 1, nat: {} }] })],
  [
    'table=1,ip,ct_state=+trk+new,ct_zone=5,actions=ct(commit,zone=5,nat(src=198.51.100.11),exec(set_field:0x1->ct_mark)),resubmit(,2)',
    flow({ ...IP, ct_state: { value: 0x21n, mask: 0x21n }, ct_zone: { value: 5n } }, { apply: [{ type: 'ct', commit: true, zone: 5, nat: { kind: 'src', ipMin: '198.51.100.11' }, exec: [{ type: 'set_field', field: 'ct_mark', value: 1n }] }, { type: 'resubmit', table: 2 }] }, { table: 1 }),
  ],
  [
    'ip,actions=ct(commit,table=4,zone=NXM_NX_REG6[0..15],nat(dst=10.244.2.7-10.244.2.9:8080-8090,persistent,hash))',
    flow(IP, { apply: [{ type: 'ct', commit: true, zone: { field: 'reg6', ofs: 0, nBits: 16 }, table: 4, nat: { kind: 'dst', ipMin: '10.244.2.7', ipMax: '10.244.2.9', portMin: 8080, portMax: 8090, persistent: true, portSelection: 'hash' } }] }),
  ],
  ['ct_mark=0x1/0x1,ct_label=0x10/0xf0,actions=ct_clear,resubmit(3,7),resubmit:4', flow({ ct_mark: { value: 1n, mask: 1n }, ct_label: { value: 0x10n, mask: 0xf0n } }, { apply: [{ type: 'ct_clear' }, { type: 'resubmit', port: 3, table: 7 }, { type: 'resubmit', port: 4 }] })],
  ['dp_hash=0x3/0xf,actions=group:7,set_queue:2,push_vlan:0x8100,set_field:4196->vlan_vid', flow({ dp_hash: { value: 3n, mask: 0xfn } }, { apply: [{ type: 'group', groupId: 7 }, { type: 'set_queue', queueId: 2 }, { type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: 4196n }] })],
  ['actions=note:66.61.62.72.69.63,controller(reason=no_match,userdata=01.02.03)', flow({}, { apply: [{ type: 'note', data: new Uint8Array([0x66, 0x61, 0x62, 0x72, 0x69, 0x63]) }, { type: 'controller', reason: 0, userdata: new Uint8Array([1, 2, 3]) }] })],
  ['actions=controller(reason=invalid_ttl)', flow({}, { apply: [{ type: 'controller', reason: 2 }] })],
  [
    'priority=5,idle_timeout=30,hard_timeout=60,send_flow_rem,actions=meter:1,output:1,clear_actions,write_actions(output:2),write_metadata:0x10/0xff,goto_table:9',
    flow({}, { meter: 1, apply: [{ type: 'output', port: 1 }], clear: true, write: [{ type: 'output', port: 2 }], writeMetadata: { value: 0x10n, mask: 0xffn }, gotoTable: 9 }, { priority: 5, idleTimeout: 30, hardTimeout: 60, flags: 1 }),
  ],
];

const encoded = ovsEncodeFlows(fixtures.map(([text]) => text));

describe.each(fixtures.map(([text, ir], i) => [text, ir, i] as const))('%s', (text, ir, i) => {
  const ovs = encoded[i].bytes;
  test('parse: our decode of OVS bytes is the IR', () => {
    const m = decodeMessage(ovs) as FlowMod;
    expect(m.type).toBe('flow_mod');
    expect(m.flow).toEqual(ir);
    expect(m.matchRaw).toBeUndefined();
    expect(m.instructionsRaw).toBeUndefined();
  });
  test('generate: our encoding of the IR is OVS bytes', () => {
    expect(encodeMessage({ type: 'flow_mod', xid: i + 1, command: 'add', flow: ir }).toString('hex')).toBe(ovs.toString('hex'));
  });
  test('mirror: decode(encode(IR)) is the IR', () => {
    expect((decodeMessage(encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: ir })) as FlowMod).flow).toEqual(ir);
  });
  void text;
});
