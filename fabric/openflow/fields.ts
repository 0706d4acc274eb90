/**
 * The match-field table: one row per field of the flow IR, the single source of truth for
 * its OXM identity (class, field number), width, maskability, prerequisites and ovs-ofctl name.
 * Used by the codec (fabric/openflow), the printer (ofctl.ts) and the simulated switch (sim/).
 */
import type { FieldName, Match } from './flow';

export const OXM_CLASS = {
  NXM_0: 0x0000,
  NXM_1: 0x0001,
  OPENFLOW_BASIC: 0x8000,
  EXPERIMENTER: 0xffff,
} as const;

export type FieldFormat = 'decimal' | 'hex' | 'mac' | 'ipv4' | 'ipv6' | 'port' | 'ct_state' | 'frag' | 'packet_type';

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
  /** an experimenter OXM (class 0xffff): the experimenter id that follows the header */
  experimenter?: number;
  /** OVS sends a mask of all meaningful bits as the exact form (ip_frag: mask 3 is exact) */
  exactAtBits?: boolean;
  /** OVS's CT prerequisite: ct_state must say the connection is valid (+trk with -inv, or any of
   *  new/est/rel/rpl/snat/dnat set) */
  ctValid?: boolean;
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
  extra: Partial<Pick<FieldSpec, 'experimenter' | 'exactAtBits' | 'ctValid'>> = {},
): FieldSpec {
  return { name, oxmClass, oxmField, bits, wireBytes, maskable, format, prerequisites, ...extra };
}

const B = OXM_CLASS.OPENFLOW_BASIC;
const NX = OXM_CLASS.NXM_1;
const NX0 = OXM_CLASS.NXM_0;
/** OFPXMC_PACKET_REGS (xreg0-7) */
const PKT_REGS = 0x8001;
/** Ericsson's class (nd_reserved, nd_options_type) */
const ERIC = 0x1000;
const EXP = OXM_CLASS.EXPERIMENTER;
/** ONF's experimenter id (ONFOXM_ET_*) */
export const ONF_EXPERIMENTER = 0x4f4e4600;
/** Nicira's experimenter id of the NXOXM_ET_* fields (ERSPAN, GTP-U) */
export const NX_EXPERIMENTER = 0x00002320;
/** the NXOXM_NSH_* fields' experimenter id */
export const NSH_EXPERIMENTER = 0x005ad650;
/** NSH fields need packet_type=(1,0x894f) */
const NSH = [{ field: 'packet_type' as FieldName, values: [0x1894fn] }];
const nx = { experimenter: NX_EXPERIMENTER };
const nsh = { experimenter: NSH_EXPERIMENTER };
const MPLS = [{ field: 'eth_type' as FieldName, values: [0x8847n, 0x8848n] }];

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
  // ---- extension fields (ovs-fields(7)): OVS 3.1 carries them in OpenFlow 1.3 flows ----
  f('in_port_nxm', NX0, 0, 16, false, 'port'),
  f('vlan_tci', NX0, 4, 16, true, 'hex'),
  f('conj_id', NX, 37, 32, false, 'decimal'),
  f('recirc_id', NX, 36, 32, false, 'hex'),
  f('actset_output', EXP, 43, 32, false, 'port', [], 4, { experimenter: ONF_EXPERIMENTER }),
  f('packet_type', B, 44, 32, false, 'packet_type'),
  f('tun_flags', NX, 104, 1, true, 'hex', [], 2),
  f('tun_ipv6_src', NX, 109, 128, true, 'ipv6'),
  f('tun_ipv6_dst', NX, 110, 128, true, 'ipv6'),
  f('tun_gbp_id', NX, 38, 16, true, 'decimal'),
  f('tun_gbp_flags', NX, 39, 8, true, 'hex'),
  f('ct_nw_src', NX, 120, 32, true, 'ipv4', ETH_IP4, 4, { ctValid: true }),
  f('ct_nw_dst', NX, 121, 32, true, 'ipv4', ETH_IP4, 4, { ctValid: true }),
  f('ct_ipv6_src', NX, 122, 128, true, 'ipv6', ETH_IP6, 16, { ctValid: true }),
  f('ct_ipv6_dst', NX, 123, 128, true, 'ipv6', ETH_IP6, 16, { ctValid: true }),
  f('ct_nw_proto', NX, 119, 8, false, 'decimal', ETH_IP, 1, { ctValid: true }),
  f('ct_tp_src', NX, 124, 16, true, 'decimal', ETH_IP, 2, { ctValid: true }),
  f('ct_tp_dst', NX, 125, 16, true, 'decimal', ETH_IP, 2, { ctValid: true }),
  f('mpls_label', B, 34, 20, false, 'decimal', MPLS, 4),
  f('mpls_tc', B, 35, 3, false, 'decimal', MPLS, 1),
  f('mpls_bos', B, 36, 1, false, 'decimal', MPLS, 1),
  f('mpls_ttl', NX, 30, 8, false, 'decimal', MPLS),
  f('ip_frag', NX, 26, 2, true, 'frag', ETH_IP, 1, { exactAtBits: true }),
  f('nw_ttl', NX, 29, 8, false, 'decimal', ETH_IP),
  f('tcp_flags', EXP, 42, 12, true, 'hex', ip(6n), 2, { experimenter: ONF_EXPERIMENTER }),
  f('sctp_src', B, 17, 16, true, 'decimal', ip(132n)),
  f('sctp_dst', B, 18, 16, true, 'decimal', ip(132n)),
  f('nd_reserved', ERIC, 1, 32, false, 'decimal', nd(135n, 136n)),
  f('nd_options_type', ERIC, 2, 8, false, 'decimal', nd(135n, 136n)),
  f('tun_erspan_idx', EXP, 11, 20, true, 'hex', [], 4, nx),
  f('tun_erspan_ver', EXP, 12, 4, true, 'decimal', [], 1, nx),
  f('tun_erspan_dir', EXP, 13, 1, true, 'decimal', [], 1, nx),
  f('tun_erspan_hwid', EXP, 14, 6, true, 'hex', [], 1, nx),
  f('tun_gtpu_flags', EXP, 15, 8, true, 'hex', [], 1, nx),
  f('tun_gtpu_msgtype', EXP, 16, 8, true, 'decimal', [], 1, nx),
  f('nsh_flags', EXP, 1, 8, true, 'decimal', NSH, 1, nsh),
  f('nsh_mdtype', EXP, 2, 8, false, 'decimal', NSH, 1, nsh),
  f('nsh_np', EXP, 3, 8, false, 'decimal', NSH, 1, nsh),
  f('nsh_spi', EXP, 4, 24, false, 'hex', NSH, 4, nsh),
  f('nsh_si', EXP, 5, 8, false, 'decimal', NSH, 1, nsh),
  f('nsh_c1', EXP, 6, 32, true, 'hex', NSH, 4, nsh),
  f('nsh_c2', EXP, 7, 32, true, 'hex', NSH, 4, nsh),
  f('nsh_c3', EXP, 8, 32, true, 'hex', NSH, 4, nsh),
  f('nsh_c4', EXP, 9, 32, true, 'hex', NSH, 4, nsh),
  f('nsh_ttl', EXP, 10, 8, false, 'decimal', NSH, 1, nsh),
  ...Array.from({ length: 8 }, (_, i) => f(`xreg${i}` as FieldName, PKT_REGS, i, 64, true, 'hex')),
  ...Array.from({ length: 4 }, (_, i) => f(`xxreg${i}` as FieldName, NX, 111 + i, 128, true, 'hex')),
];

export const FIELDS: ReadonlyMap<FieldName, FieldSpec> = new Map(rows.map((r) => [r.name, r]));

/** by (oxmClass << 8 | oxmField); experimenter fields by (experimenter * 256 + oxmField) */
export const FIELDS_BY_OXM: ReadonlyMap<number, FieldSpec> = (() => {
  const m = new Map<number, FieldSpec>();
  for (const r of rows) {
    // experimenter fields (tcp_flags, actset_output) are told apart by their experimenter id too
    const key = r.experimenter !== undefined ? r.experimenter * 256 + r.oxmField : (r.oxmClass << 8) | r.oxmField;
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

/** OVS's is_ct_valid for a match: ct_state says the connection was tracked and is valid */
export function ctStateValid(match: Match): boolean {
  const cs = match.ct_state;
  if (!cs || typeof cs.value !== 'bigint') return false;
  const mask = cs.mask ?? 0xffffffffn;
  const value = cs.value & mask;
  // CS_NEW | CS_ESTABLISHED | CS_RELATED | CS_REPLY_DIR | CS_SRC_NAT | CS_DST_NAT
  if (value & 0xcfn) return true;
  return (value & 0x20n) !== 0n && (mask & 0x10n) !== 0n && (value & 0x10n) === 0n;
}
