/**
 * Test support: a seeded generator of varied textual flows and groups in ovs-ofctl syntax (every
 * match field of fields.ts with and without masks, every action kind the fabric uses, ct/nat
 * variants), for OVS to encode as golden bytes.
 */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i++) s += this.int(256).toString(16).padStart(2, '0');
    return '0x' + (s.replace(/^0+/, '') || '0');
  }
}

export const mac = (r: Prng): string => Array.from({ length: 6 }, () => r.int(256).toString(16).padStart(2, '0')).join(':');
const ip = (r: Prng): string => `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`;
const prefix = (r: Prng): string => {
  const len = r.pick([8, 16, 24, 28, 32]);
  // always inside 10.0.0.0/8: never a real network's range
  const v = ((10 << 24) | r.int(2 ** 24)) & ((~0 << (32 - len)) >>> 0);
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`;
};
/** a non-zero mask with the value inside it */
const masked = (r: Prng, bytes: number): string => {
  const mask = BigInt(r.hex(bytes)) || 1n;
  const value = BigInt(r.hex(bytes)) & mask;
  return `0x${value.toString(16)}/0x${mask.toString(16)}`;
};
const ctState = (r: Prng): string => {
  const flags = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'];
  let s = '';
  for (const f of flags) if (r.chance(0.3)) s += (r.chance(0.5) ? '+' : '-') + f;
  return s || '+trk';
};

type L3 = 'none' | 'ip' | 'tcp' | 'udp' | 'icmp' | 'arp' | 'ipv6' | 'tcp6' | 'udp6' | 'icmp6';

/** an IPv6 address under 2001:db8::/32 (documentation range), some with runs of zero groups */
export const ipv6 = (r: Prng): string => {
  const g = Array.from({ length: 6 }, () => (r.chance(0.4) ? '0' : r.int(65536).toString(16)));
  return `2001:db8:${g.join(':')}`;
};
/** a prefix or an arbitrary (non-CIDR) mask */
export const ipv6Masked = (r: Prng): string => {
  if (r.chance(0.6)) return `${ipv6(r)}/${r.pick([32, 48, 56, 64, 96, 127])}`;
  return `${ipv6(r)}/ffff:${r.int(65536).toString(16)}::${r.int(65536).toString(16)}`;
};
/** an L4 port, exact, or masked as a port range compiles to (0xfde0/0xfff0), or arbitrary masks */
export const l4Port = (r: Prng): string => {
  if (r.chance(0.5)) return String(r.int(65536));
  const bits = r.int(16) + 1;
  const mask = r.chance(0.7) ? (0xffff << (16 - bits)) & 0xffff : r.int(65535) + 1;
  return `0x${(r.int(65536) & mask).toString(16)}/0x${mask.toString(16)}`;
};

function matchText(r: Prng, l3: L3): string[] {
  const m: string[] = [];
  if (l3 !== 'none') m.push(l3);
  const opt = (p: number, f: () => string): void => {
    if (r.chance(p)) m.push(f());
  };
  opt(0.3, () => `in_port=${r.int(100) + 1}`);
  opt(0.15, () => `dl_src=${mac(r)}`);
  opt(0.15, () => (r.chance(0.5) ? `dl_dst=${mac(r)}` : `dl_dst=${mac(r)}/ff:ff:ff:00:00:00`));
  opt(0.1, () => `dl_vlan=${r.int(4095)}`);
  opt(0.05, () => `vlan_tci=0x1000/0x1000`);
  const v6 = l3 === 'ipv6' || l3 === 'tcp6' || l3 === 'udp6' || l3 === 'icmp6';
  if (l3 !== 'none' && l3 !== 'arp' && !v6) {
    opt(0.4, () => `nw_src=${r.chance(0.5) ? ip(r) : prefix(r)}`);
    opt(0.4, () => `nw_dst=${r.chance(0.5) ? ip(r) : prefix(r)}`);
  }
  if (v6) {
    opt(0.5, () => `ipv6_src=${r.chance(0.5) ? ipv6(r) : ipv6Masked(r)}`);
    opt(0.5, () => `ipv6_dst=${r.chance(0.5) ? ipv6(r) : ipv6Masked(r)}`);
    opt(0.2, () => `ipv6_label=${r.chance(0.5) ? '0x' + r.int(1 << 20).toString(16) : `0x${(r.int(1 << 20) & 0xff00f).toString(16)}/0xff00f`}`);
  }
  if (l3 !== 'none' && l3 !== 'arp') {
    opt(0.1, () => `ip_dscp=${r.int(64)}`);
    opt(0.1, () => `nw_ecn=${r.int(4)}`);
    if (l3 === 'ip' || l3 === 'ipv6') opt(0.2, () => `nw_proto=${r.pick([47, 50, 89, 132])}`);
  }
  if (l3 === 'tcp' || l3 === 'udp' || l3 === 'tcp6' || l3 === 'udp6') {
    opt(0.5, () => `tp_src=${l4Port(r)}`);
    opt(0.5, () => `tp_dst=${l4Port(r)}`);
  }
  if (l3 === 'icmp6') {
    const type = r.pick([135, 136, 128, r.int(256)]);
    if (type === 135 || type === 136 || r.chance(0.5)) m.push(`icmp_type=${type}`);
    opt(0.3, () => `icmp_code=${r.int(256)}`);
    if (type === 135 || type === 136) {
      opt(0.6, () => `nd_target=${r.chance(0.6) ? ipv6(r) : ipv6Masked(r)}`);
      const ll = type === 135 ? 'nd_sll' : 'nd_tll';
      opt(0.6, () => `${ll}=${r.chance(0.6) ? mac(r) : mac(r) + '/ff:ff:ff:00:00:00'}`);
    }
  }
  if (l3 === 'icmp') {
    opt(0.5, () => `icmp_type=${r.int(256)}`);
    opt(0.5, () => `icmp_code=${r.int(256)}`);
  }
  if (l3 === 'arp') {
    opt(0.5, () => `arp_op=${r.int(3) + 1}`);
    opt(0.3, () => `arp_spa=${r.chance(0.5) ? ip(r) : prefix(r)}`);
    opt(0.3, () => `arp_tpa=${r.chance(0.5) ? ip(r) : prefix(r)}`);
    opt(0.2, () => `arp_sha=${mac(r)}`);
    opt(0.2, () => `arp_tha=${r.chance(0.5) ? mac(r) : mac(r) + '/ff:ff:ff:ff:ff:00'}`);
  }
  opt(0.1, () => `tun_id=${r.chance(0.5) ? r.hex(8) : masked(r, 8)}`);
  opt(0.1, () => `tun_src=${ip(r)}`);
  opt(0.1, () => `tun_dst=${r.chance(0.5) ? ip(r) : prefix(r)}`);
  opt(0.1, () => `pkt_mark=${r.chance(0.5) ? r.hex(4) : masked(r, 4)}`);
  opt(0.2, () => `ct_state=${ctState(r)}`);
  opt(0.15, () => `ct_zone=${r.int(65536)}`);
  opt(0.1, () => `ct_mark=${r.chance(0.5) ? r.hex(4) : masked(r, 4)}`);
  opt(0.08, () => `ct_label=${r.chance(0.5) ? r.hex(16) : masked(r, 16)}`);
  opt(0.05, () => `dp_hash=${masked(r, 4)}`);
  opt(0.15, () => `metadata=${r.chance(0.5) ? r.hex(8) : masked(r, 8)}`);
  for (let i = 0; i < 3; i++) opt(0.15, () => `reg${r.int(16)}=${r.chance(0.5) ? r.hex(4) : masked(r, 4)}`);
  return m;
}

function natText(r: Prng): string {
  if (r.chance(0.2)) return 'nat';
  const kind = r.pick(['src', 'dst']);
  const lo = r.int(200);
  let s = `${kind}=10.0.${lo}.${r.int(256)}`;
  if (r.chance(0.4)) s += `-10.0.${lo + 1 + r.int(50)}.${r.int(256)}`;
  if (r.chance(0.5)) s += `:${r.int(30000) + 1}` + (r.chance(0.5) ? `-${30001 + r.int(30000)}` : '');
  const extra: string[] = [];
  if (r.chance(0.2)) extra.push('persistent');
  if (r.chance(0.3)) extra.push(r.pick(['hash', 'random']));
  return `nat(${[s, ...extra].join(',')})`;
}

function ctText(r: Prng): string {
  const parts: string[] = [];
  if (r.chance(0.6)) parts.push('commit');
  if (r.chance(0.5)) parts.push(`table=${r.int(250)}`);
  if (r.chance(0.6)) parts.push(r.chance(0.8) ? `zone=${r.int(65536)}` : `zone=NXM_NX_REG${r.int(16)}[0..15]`);
  if (r.chance(0.5)) parts.push(natText(r));
  if (parts.includes('commit') && r.chance(0.4)) {
    const ex: string[] = [];
    if (r.chance(0.7)) ex.push(r.chance(0.5) ? `set_field:${r.hex(4)}->ct_mark` : `set_field:${masked(r, 4)}->ct_mark`);
    if (r.chance(0.5)) ex.push(r.chance(0.5) ? `set_field:${r.hex(16)}->ct_label` : `set_field:${masked(r, 16)}->ct_label`);
    if (ex.length) parts.push(`exec(${ex.join(',')})`);
  }
  return `ct(${parts.join(',')})`;
}

function actionText(r: Prng, l3: L3): string {
  const ipish = l3 === 'ip' || l3 === 'tcp' || l3 === 'udp' || l3 === 'icmp';
  const kinds: (() => string)[] = [
    () => `output:${r.int(1000) + 1}`,
    () => r.pick(['in_port', 'NORMAL', 'FLOOD', 'ALL', 'LOCAL', 'controller', `CONTROLLER:${r.int(65536)}`, `output:${r.int(1000)}`]),
    () => `controller(${[r.chance(0.5) ? `max_len=${r.int(65535)}` : '', r.chance(0.5) ? 'reason=no_match' : '', r.chance(0.6) ? `userdata=${Array.from({ length: r.int(6) + 1 }, () => r.int(256).toString(16).padStart(2, '0')).join('.')}` : ''].filter(Boolean).join(',')})`,
    () => `group:${r.int(1000)}`,
    () => `set_field:${mac(r)}->eth_dst`,
    () => `mod_dl_src:${mac(r)}`,
    () => `set_field:${r.hex(4)}->reg${r.int(16)}`,
    () => `set_field:${masked(r, 4)}->reg${r.int(16)}`,
    () => {
      const lo = r.int(8);
      const hi = 8 + r.int(24);
      return `load:${r.int(2 ** (hi - lo + 1))}->NXM_NX_REG${r.int(16)}[${lo}..${hi}]`;
    },
    () => `set_field:${r.hex(8)}->metadata`,
    () => `set_field:${r.hex(8)}->tun_id`,
    () => `set_field:${ip(r)}->tun_dst`,
    () => `set_field:${r.hex(4)}->pkt_mark`,
    () => `set_queue:${r.int(100)}`,
    () => `move:NXM_NX_REG${r.int(16)}[]->NXM_NX_REG${r.int(16)}[]`,
    () => `move:NXM_NX_REG${r.int(16)}[0..15]->NXM_NX_REG${r.int(16)}[16..31]`,
    () => `move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]`,
    () => `move:NXM_NX_TUN_ID[0..31]->NXM_NX_REG${r.int(16)}[]`,
    () => `resubmit(,${r.int(254)})`,
    () => `resubmit(${r.int(100) + 1},${r.int(254)})`,
    () => `resubmit:${r.int(100) + 1}`,
    () => `note:${Array.from({ length: r.int(12) + 1 }, () => r.int(256).toString(16).padStart(2, '0')).join('.')}`,
    () => `ct_clear`,
    () => `learn(table=${r.int(250)},NXM_OF_VLAN_TCI[0..11])`,
    () => `output:NXM_NX_REG${r.int(16)}[]`,
  ];
  if (ipish) {
    kinds.push(
      () => ctText(r),
      () => ctText(r),
      () => ctText(r),
      () => `dec_ttl`,
      () => `set_field:${ip(r)}->ip_dst`,
      () => `mod_nw_src:${ip(r)}`,
      () => `set_field:${r.int(64)}->ip_dscp`,
      () => `move:NXM_OF_IP_SRC[]->NXM_NX_REG${r.int(16)}[]`,
    );
  }
  if (l3 === 'tcp') kinds.push(() => `set_field:${r.int(65536)}->tcp_dst`, () => `mod_tp_src:${r.int(65536)}`);
  if (l3 === 'udp') kinds.push(() => `set_field:${r.int(65536)}->udp_src`);
  if (l3 === 'arp') {
    kinds.push(
      () => `set_field:2->arp_op`,
      () => `move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]`,
      () => `move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]`,
      () => `set_field:${ip(r)}->arp_spa`,
      () => `set_field:${mac(r)}->arp_sha`,
      () => `load:0x${r.hex(4).slice(2)}->NXM_OF_ARP_SPA[]`,
    );
  }
  return r.pick(kinds)();
}

export function generateFlow(r: Prng): string {
  const l3 = r.pick<L3>(['none', 'none', 'ip', 'ip', 'tcp', 'udp', 'icmp', 'arp', 'ipv6', 'tcp6', 'udp6', 'icmp6']);
  const head: string[] = [];
  const table = r.chance(0.7) ? r.int(254) : 0;
  if (table) head.push(`table=${table}`);
  if (r.chance(0.8)) head.push(`priority=${r.int(65536)}`);
  if (r.chance(0.5)) head.push(`cookie=${r.hex(8)}`);
  if (r.chance(0.1)) head.push(`idle_timeout=${r.int(65536)}`);
  if (r.chance(0.1)) head.push(`hard_timeout=${r.int(65536)}`);
  if (r.chance(0.1)) head.push('send_flow_rem');
  if (r.chance(0.05)) head.push('check_overlap');
  let match = matchText(r, l3);
  const apply = Array.from({ length: r.int(5) }, () => actionText(r, l3));
  // OVS refuses a second VLAN tag beyond two, and ct(commit) of an invalid connection
  if (!match.some((m) => m.startsWith('dl_vlan') || m.startsWith('vlan_tci')) && r.chance(0.1)) apply.unshift('push_vlan:0x8100');
  if (apply.some((a) => a.startsWith('ct(commit'))) match = match.map((m) => m.replace('+inv', '-inv'));
  const ins: string[] = [];
  if (r.chance(0.1)) ins.push(`meter:${r.int(100) + 1}`);
  ins.push(...apply);
  if (r.chance(0.1)) ins.push('clear_actions');
  if (r.chance(0.1)) ins.push(`write_actions(${Array.from({ length: r.int(2) + 1 }, () => r.pick([`output:${r.int(100) + 1}`, `group:${r.int(100)}`, `set_field:${mac(r)}->eth_src`])).join(',')})`);
  if (r.chance(0.1)) ins.push(`write_metadata:${masked(r, 8)}`);
  if (r.chance(0.4)) ins.push(`goto_table:${table + 1 + r.int(254 - table)}`);
  return `${[...head, ...match].join(',')}${head.length + match.length ? ',' : ''}actions=${ins.length ? ins.join(',') : 'drop'}`;
}

export function generateGroup(r: Prng, groupId: number): string {
  const type = r.pick(['all', 'select', 'indirect', 'ff']);
  const n = type === 'indirect' ? 1 : r.int(4) + 1;
  const buckets: string[] = [];
  for (let i = 0; i < n; i++) {
    const parts: string[] = [];
    if (type === 'select' && r.chance(0.6)) parts.push(`weight:${r.int(65535) + 1}`);
    if (type === 'ff') {
      parts.push(`watch_port:${r.int(100) + 1}`);
      if (r.chance(0.3)) parts.push(`watch_group:${r.int(100)}`);
    }
    const l3 = type === 'select' ? 'ip' : 'none';
    const actions = Array.from({ length: r.int(3) + 1 }, () => actionText(r, l3 as L3));
    parts.push(`actions=${actions.join(',')}`);
    buckets.push(`bucket=${parts.join(',')}`);
  }
  return `group_id=${groupId},type=${type},${buckets.join(',')}`;
}

export function generateMeter(r: Prng, meterId: number): string {
  const unit = r.pick(['kbps', 'pktps']);
  const flags = [unit];
  const burst = r.chance(0.5);
  if (burst) flags.push('burst');
  if (r.chance(0.5)) flags.push('stats');
  const bands = Array.from({ length: r.int(2) + 1 }, () => {
    const dscp = r.chance(0.3);
    let b = `type=${dscp ? 'dscp_remark' : 'drop'},rate=${r.int(1_000_000) + 1}`;
    if (burst) b += `,burst_size=${r.int(100000) + 1}`;
    if (dscp) b += `,prec_level=${1 + r.int(63)}`; // OVS reads prec_level=0 as missing
    return b;
  });
  return `meter=${meterId},${flags.join(',')},bands=${bands.join(',')}`;
}
