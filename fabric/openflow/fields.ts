/**
 * The match-field table: one row per field of the flow IR, the single source of truth for
 * its OXM identity (class, field number), width, maskability, prerequisites and ovs-ofctl name.
 * Used by the codec (fabric/openflow), the printer (ofctl.ts) and the simulated switch (sim/).
 */
import type { FieldName } from './flow';

export const OXM_CLASS = {
  NXM_0: 0x0000,
  NXM_1: 0x0001,
  OPENFLOW_BASIC: 0x8000,
  EXPERIMENTER: 0xffff,
} as const;

export type FieldFormat = 'decimal' | 'hex' | 'mac' | 'ipv4' | 'ipv6' | 'port' | 'ct_state';

export interface Prerequisite {
  field: FieldName;
  /** any of these values satisfies it */
  values: bigint[];
  /** the field may also be left out (OVS: nd_* need icmpv6_code 0 when it is matched at all) */
  orAbsent?: boolean;
}

export interface FieldSpec {
  name: FieldName;
  oxmClass: number;
  oxmField: number;
  /** meaningful bits */
  bits: number;
  /** bytes on the wire (vlan_vid: 2 bytes for 13 bits) */
  wireBytes: number;
  maskable: boolean;
  format: FieldFormat;
  prerequisites: Prerequisite[];
}

const ETH_IP4 = [{ field: 'eth_type' as FieldName, values: [0x0800n] }];
const ETH_IP6 = [{ field: 'eth_type' as FieldName, values: [0x86ddn] }];
/** IPv4 or IPv6 (OpenFlow 1.3 §7.2.3.8: ip_dscp, ip_ecn, ip_proto, tcp_*, udp_*) */
const ETH_IP = [{ field: 'eth_type' as FieldName, values: [0x0800n, 0x86ddn] }];
const ETH_ARP = [{ field: 'eth_type' as FieldName, values: [0x0806n] }];
const ip = (proto: bigint): Prerequisite[] => [...ETH_IP, { field: 'ip_proto', values: [proto] }];
const ip4 = (proto: bigint): Prerequisite[] => [...ETH_IP4, { field: 'ip_proto', values: [proto] }];
const ip6 = (proto: bigint): Prerequisite[] => [...ETH_IP6, { field: 'ip_proto', values: [proto] }];
/** ICMPv6 neighbour discovery: solicitation 135, advertisement 136; OVS (is_nd) also wants code 0 */
const nd = (...types: bigint[]): Prerequisite[] => [
  ...ip6(58n),
  { field: 'icmpv6_type', values: types },
  { field: 'icmpv6_code', values: [0n], orAbsent: true },
];

function f(
  name: FieldName,
  oxmClass: number,
  oxmField: number,
  bits: number,
  maskable: boolean,
  format: FieldFormat,
  prerequisites: Prerequisite[] = [],
  wireBytes = Math.ceil(bits / 8),
): FieldSpec {
  return { name, oxmClass, oxmField, bits, wireBytes, maskable, format, prerequisites };
}

const B = OXM_CLASS.OPENFLOW_BASIC;
const NX = OXM_CLASS.NXM_1;

const rows: FieldSpec[] = [
  f('in_port', B, 0, 32, false, 'port'),
  f('metadata', B, 2, 64, true, 'hex'),
  f('eth_dst', B, 3, 48, true, 'mac'),
  f('eth_src', B, 4, 48, true, 'mac'),
  f('eth_type', B, 5, 16, false, 'hex'),
  f('vlan_vid', B, 6, 13, true, 'decimal', [], 2),
  f('vlan_pcp', B, 7, 3, false, 'decimal', [], 1),
  f('ip_dscp', B, 8, 6, false, 'decimal', ETH_IP, 1),
  f('ip_ecn', B, 9, 2, false, 'decimal', ETH_IP, 1),
  f('ip_proto', B, 10, 8, false, 'decimal', ETH_IP),
  f('ipv4_src', B, 11, 32, true, 'ipv4', ETH_IP4),
  f('ipv4_dst', B, 12, 32, true, 'ipv4', ETH_IP4),
  // OVS accepts (and sends) bitwise masks on L4 ports: port ranges compile to them
  f('tcp_src', B, 13, 16, true, 'decimal', ip(6n)),
  f('tcp_dst', B, 14, 16, true, 'decimal', ip(6n)),
  f('udp_src', B, 15, 16, true, 'decimal', ip(17n)),
  f('udp_dst', B, 16, 16, true, 'decimal', ip(17n)),
  f('icmpv4_type', B, 19, 8, false, 'decimal', ip4(1n)),
  f('icmpv4_code', B, 20, 8, false, 'decimal', ip4(1n)),
  f('arp_op', B, 21, 16, false, 'decimal', ETH_ARP),
  f('arp_spa', B, 22, 32, true, 'ipv4', ETH_ARP),
  f('arp_tpa', B, 23, 32, true, 'ipv4', ETH_ARP),
  f('arp_sha', B, 24, 48, true, 'mac', ETH_ARP),
  f('arp_tha', B, 25, 48, true, 'mac', ETH_ARP),
  f('ipv6_src', B, 26, 128, true, 'ipv6', ETH_IP6),
  f('ipv6_dst', B, 27, 128, true, 'ipv6', ETH_IP6),
  f('ipv6_label', B, 28, 20, true, 'hex', ETH_IP6, 4),
  f('icmpv6_type', B, 29, 8, false, 'decimal', ip6(58n)),
  f('icmpv6_code', B, 30, 8, false, 'decimal', ip6(58n)),
  f('nd_target', B, 31, 128, true, 'ipv6', nd(135n, 136n)),
  f('nd_sll', B, 32, 48, true, 'mac', nd(135n)),
  f('nd_tll', B, 33, 48, true, 'mac', nd(136n)),
  f('tunnel_id', B, 38, 64, true, 'hex'),
  ...Array.from({ length: 16 }, (_, i) => f(`reg${i}` as FieldName, NX, i, 32, true, 'hex')),
  f('tun_ipv4_src', NX, 31, 32, true, 'ipv4'),
  f('tun_ipv4_dst', NX, 32, 32, true, 'ipv4'),
  f('pkt_mark', NX, 33, 32, true, 'hex'),
  f('dp_hash', NX, 35, 32, true, 'hex'),
  f('ct_state', NX, 105, 32, true, 'ct_state'),
  f('ct_zone', NX, 106, 16, false, 'decimal'),
  f('ct_mark', NX, 107, 32, true, 'hex'),
  f('ct_label', NX, 108, 128, true, 'hex'),
];

export const FIELDS: ReadonlyMap<FieldName, FieldSpec> = new Map(rows.map((r) => [r.name, r]));

/** by (oxmClass << 8 | oxmField) */
export const FIELDS_BY_OXM: ReadonlyMap<number, FieldSpec> = (() => {
  const m = new Map<number, FieldSpec>();
  for (const r of rows) {
    const key = (r.oxmClass << 8) | r.oxmField;
    if (m.has(key)) throw new Error(`fields: OXM ${r.oxmClass.toString(16)}:${r.oxmField} registered twice`);
    m.set(key, r);
  }
  return m;
})();

export function fieldSpec(name: FieldName): FieldSpec {
  const spec = FIELDS.get(name);
  if (!spec) throw new Error(`fields: unknown field ${name}`);
  return spec;
}

/** all-ones mask of a field's meaningful width */
export function fullMask(name: FieldName): bigint {
  return (1n << BigInt(fieldSpec(name).bits)) - 1n;
}
