/**
 * Golden tests of the match side against Open vSwitch itself: masked L4 ports (port ranges compile
 * to them) and the IPv6 fields (ipv6_src/dst, ipv6_label, icmpv6 type/code, nd_target/sll/tll).
 *  - OVS text -> `ovs-ofctl -O OpenFlow13 -mmmmm parse-flows` bytes -> our decode (fully typed,
 *    no raw match) -> our encode: the same bytes;
 *  - our ofctl printer's match text equals the match part OVS prints for the same bytes (OVS's
 *    spellings mapped to ours, fields compared as a set);
 *  - OVS re-encodes our printed text to the same bytes.
 */
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { OpenFlowError } from '../../fabric/openflow/errors';
import type { Flow, Match } from '../../fabric/openflow/flow';
import type { FlowMod } from '../../fabric/openflow/messages';
import { ipv6Text, matchText } from '../../fabric/openflow/ofctl';
import { ovsEncodeFlows, ovsPrint } from './oracle';
import { Prng, ipv6, ipv6Masked, l4Port, mac } from './textgen';

const seed = Number(process.env.OVS_ORACLE_SEED ?? Date.now() % 1_000_000);
// eslint-disable-next-line no-console
console.log(`match golden tests: OVS_ORACLE_SEED=${seed}`);

const hex = (b: Buffer): string => b.toString('hex');

const HAND: string[] = [
  // the vectors: masked ports of both protocols, both directions
  'tcp,tp_dst=0xfde0/0xfff0',
  'tcp,tcp_src=0xfde0/0xfff0',
  'udp,udp_src=0x100/0xff00',
  'udp,udp_dst=0x8000/0x8000',
  'tcp,tp_src=0x400/0xfc00,tp_dst=80',
  'tcp,tp_dst=0x1/0x1',
  'udp,tp_src=0x5/0x5',
  // IPv6 addresses: exact, CIDR, arbitrary masks, zero runs, ::, dotted-quad forms
  'ipv6,ipv6_src=2001:db8::1',
  'ipv6,ipv6_src=2001:db8::1/64',
  'ipv6,ipv6_dst=2001:db8::/ffff:0:ffff::',
  'ipv6,ipv6_src=::1',
  'ipv6,ipv6_src=::ffff:10.1.2.3',
  'ipv6,ipv6_src=::10.1.2.3',
  'ipv6,ipv6_src=2001:0:0:1::1',
  'ipv6,ipv6_src=2001:db8:0:1:0:0:0:1',
  'ipv6,ipv6_dst=fe80::/10',
  'ipv6,ipv6_src=1:2:3:4:5:6:7:8,ipv6_dst=0:1::',
  'ipv6,ipv6_label=0x12345',
  'ipv6,ipv6_label=0x10000/0xf0000',
  'ipv6,ip_dscp=46,nw_ecn=2',
  'ipv6,nw_proto=50',
  'tcp6,ipv6_dst=2001:db8::/32,tp_dst=0xfde0/0xfff0',
  'udp6,tp_src=53,tp_dst=0x0/0x8000',
  'icmp6,icmp_type=128,icmp_code=0',
  'icmp6,icmp_type=135,nd_target=2001:db8::1,nd_sll=00:11:22:33:44:55',
  'icmp6,icmp_type=136,nd_target=2001:db8::/64,nd_tll=00:11:22:00:00:00/ff:ff:ff:00:00:00',
  'icmp6,icmp_type=135,nd_sll=00:11:22:00:00:00/ff:ff:ff:00:00:00',
  'icmp6,icmp_type=136,icmp_code=0,nd_target=fe80::1',
];

/** seeded texts of the new fields only, so that every printed field has a known spelling */
function generated(r: Prng, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const l3 = r.pick(['tcp', 'udp', 'tcp6', 'udp6', 'ipv6', 'icmp6']);
    const m = [l3];
    const v6 = l3 !== 'tcp' && l3 !== 'udp';
    if (v6 && r.chance(0.5)) m.push(`ipv6_src=${r.chance(0.5) ? ipv6(r) : ipv6Masked(r)}`);
    if (v6 && r.chance(0.5)) m.push(`ipv6_dst=${r.chance(0.5) ? ipv6(r) : ipv6Masked(r)}`);
    if (v6 && r.chance(0.3)) m.push(`ipv6_label=0x${r.int(1 << 20).toString(16)}`);
    if (l3 !== 'ipv6' && l3 !== 'icmp6') {
      if (r.chance(0.7)) m.push(`tp_src=${l4Port(r)}`);
      if (r.chance(0.7)) m.push(`tp_dst=${l4Port(r)}`);
    }
    if (l3 === 'icmp6') {
      const type = r.pick([135, 136, 1, 128, 129]);
      m.push(`icmp_type=${type}`);
      if (r.chance(0.3)) m.push(`icmp_code=${r.int(256)}`);
      if (type === 135 || type === 136) {
        if (r.chance(0.7)) m.push(`nd_target=${r.chance(0.6) ? ipv6(r) : ipv6Masked(r)}`);
        if (r.chance(0.7)) m.push(`${type === 135 ? 'nd_sll' : 'nd_tll'}=${r.chance(0.6) ? mac(r) : mac(r) + '/ff:ff:ff:00:00:00'}`);
      }
    }
    out.push(m.join(','));
  }
  return out;
}

/** the match part of ovs-ofctl's FLOW_MOD description, as a sorted set in our spellings */
function ovsMatchTokens(printed: string): string[] {
  const m = /: ADD (.*?) ?actions=/.exec(printed.replace(/\s+/g, ' '));
  if (!m) throw new Error(`no match part in ${printed}`);
  return normalise(m[1].split(',').filter(Boolean));
}

function normalise(tokens: string[]): string[] {
  const l4 = tokens[0]?.startsWith('udp') ? 'udp' : 'tcp';
  const icmp = tokens[0] === 'icmp6' ? 'icmpv6' : 'icmp';
  return tokens
    .map((t) => {
      const [k, v] = t.split('=');
      if (v === undefined) return t;
      switch (k) {
        case 'tp_src':
        case 'tp_dst':
          return `${l4}_${k.slice(3)}=${v}`;
        case 'icmp_type':
        case 'icmp_code':
        case 'icmpv6_type':
        case 'icmpv6_code':
          return `${icmp}_${k.split('_')[1]}=${v}`;
        case 'nw_tos':
          return `ip_dscp=${Number(v) >> 2}`;
        case 'nw_ecn':
          return `ip_ecn=${v}`;
        case 'nw_proto':
          return `ip_proto=${v}`;
        default:
          return t;
      }
    })
    .sort();
}

const texts = [...HAND, ...generated(new Prng(seed), 400)];

describe('OVS -> ours -> OVS for masked L4 ports and IPv6 fields', () => {
  const encoded = ovsEncodeFlows(texts.map((t) => `${t},actions=drop`));
  const decoded = encoded.map(({ bytes }) => decodeMessage(bytes) as FlowMod);

  test(`${texts.length} matches (${HAND.length} by hand, the rest seeded): decode is typed, encode gives OVS's bytes`, () => {
    expect(encoded).toHaveLength(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const m = decoded[i];
      expect(m.type).toBe('flow_mod');
      if (m.matchRaw) throw new Error(`${texts[i]} (seed ${seed}): match kept raw: ${hex(encoded[i].bytes)}`);
      const again = encodeMessage(m);
      if (!again.equals(encoded[i].bytes)) throw new Error(`${texts[i]} (seed ${seed})\nOVS:  ${hex(encoded[i].bytes)}\nours: ${hex(again)}`);
    }
    // every new field was exercised
    const seen = new Set(decoded.flatMap((m) => Object.keys(m.flow.match)));
    for (const f of ['ipv6_src', 'ipv6_dst', 'ipv6_label', 'icmpv6_type', 'icmpv6_code', 'nd_target', 'nd_sll', 'nd_tll', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst']) {
      expect([f, seen.has(f)]).toEqual([f, true]);
    }
    expect(decoded.some((m) => m.flow.match.tcp_dst?.mask === 0xfff0n)).toBe(true);
  });

  test('our printer prints the match OVS prints (ovs-ofctl ofp-print), field for field', () => {
    const mismatches: string[] = [];
    for (let i = 0; i < texts.length; i++) {
      const ours = normalise(matchText(decoded[i].flow.match).split(','));
      const theirs = ovsMatchTokens(encoded[i].text);
      if (ours.join(',') !== theirs.join(',')) mismatches.push(`${texts[i]}: ours ${ours.join(',')} OVS ${theirs.join(',')}`);
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // the vector, literally
    expect(matchText(decoded[0].flow.match)).toBe('tcp,tcp_dst=0xfde0/0xfff0');
    // ofp-print (rather than parse-flows' own echo) of one of them, for the record
    expect(ovsPrint(hex(encoded[0].bytes))).toContain('ADD tcp,tp_dst=0xfde0/0xfff0 actions=drop');
  });

  test('OVS encodes our printed matches to the same bytes', () => {
    const ours = decoded.map((m) => `${matchText(m.flow.match)},actions=drop`);
    const back = ovsEncodeFlows(ours);
    for (let i = 0; i < texts.length; i++) {
      if (!back[i].bytes.equals(encoded[i].bytes)) throw new Error(`${texts[i]} -> ${ours[i]} (seed ${seed})\nOVS:  ${hex(encoded[i].bytes)}\nback: ${hex(back[i].bytes)}`);
    }
  });
});

describe('all-zero masks on L4 ports', () => {
  test('decoded and re-encoded byte for byte; printed as OVS prints them (the field is dropped)', () => {
    const [base] = ovsEncodeFlows(['tcp,tp_dst=0xfde0/0xfff0,actions=drop', 'udp,tp_src=0x100/0xff00,actions=drop']);
    for (const field of ['tcp_dst'] as const) {
      // the OXM's value and mask are the last 4 bytes before the match padding
      const bytes = Buffer.from(base.bytes);
      const at = bytes.indexOf(Buffer.from('80001d04fde0fff0', 'hex'));
      expect(at).toBeGreaterThan(0);
      bytes.writeUInt32BE(0, at + 4);
      const m = decodeMessage(bytes) as FlowMod;
      expect(m.matchRaw).toBeUndefined();
      expect(m.flow.match[field]).toEqual({ value: 0n, mask: 0n });
      expect(hex(encodeMessage(m))).toBe(hex(bytes));
      expect(ovsPrint(hex(bytes))).toContain('ADD tcp actions=drop');
      expect(matchText(m.flow.match)).toBe('tcp');
    }
    // and from the IR, for every L4 port field
    for (const [eth, proto, field] of [[0x800n, 6n, 'tcp_src'], [0x86ddn, 6n, 'tcp_dst'], [0x800n, 17n, 'udp_src'], [0x86ddn, 17n, 'udp_dst']] as const) {
      const flow: Flow = { table: 0, priority: 1, cookie: 0n, instructions: {}, match: { eth_type: { value: eth }, ip_proto: { value: proto }, [field]: { value: 0n, mask: 0n } } };
      const bytes = encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow });
      const back = decodeMessage(bytes) as FlowMod;
      expect(back.flow.match[field]).toEqual({ value: 0n, mask: 0n });
      expect(ovsPrint(hex(bytes))).not.toMatch(/\*\*\*/);
    }
  });
});

describe('OpenFlow 1.3 prerequisites of the IPv6 fields', () => {
  const encode = (match: Match): Buffer =>
    encodeMessage({ type: 'flow_mod', xid: 1, command: 'add', flow: { table: 0, priority: 1, cookie: 0n, instructions: {}, match } });
  const E6 = { eth_type: { value: 0x86ddn } };
  const ICMP6 = { ...E6, ip_proto: { value: 58n } };
  const addr = { value: 0x20010db8000000000000000000000001n };

  test.each<[string, Match]>([
    ['ipv6_src without eth_type', { ipv6_src: addr }],
    ['ipv6_dst with eth_type=ip', { eth_type: { value: 0x800n }, ipv6_dst: addr }],
    ['ipv6_label with eth_type=ip', { eth_type: { value: 0x800n }, ipv6_label: { value: 1n } }],
    ['icmpv6_type with ip_proto=6', { ...E6, ip_proto: { value: 6n }, icmpv6_type: { value: 135n } }],
    ['icmpv6_code over IPv4', { eth_type: { value: 0x800n }, ip_proto: { value: 58n }, icmpv6_code: { value: 0n } }],
    ['nd_target without icmpv6_type', { ...ICMP6, nd_target: addr }],
    ['nd_target with icmpv6_type=128', { ...ICMP6, icmpv6_type: { value: 128n }, nd_target: addr }],
    ['nd_sll with icmpv6_type=136', { ...ICMP6, icmpv6_type: { value: 136n }, nd_sll: { value: 1n } }],
    ['nd_tll with icmpv6_type=135', { ...ICMP6, icmpv6_type: { value: 135n }, nd_tll: { value: 1n } }],
    // OVS (is_nd) answers OFPBMC_BAD_PREREQ to an ND field with a non-zero icmpv6_code
    ['nd_target with icmpv6_code=1', { ...ICMP6, icmpv6_type: { value: 135n }, icmpv6_code: { value: 1n }, nd_target: addr }],
    ['icmpv4_type over IPv6', { ...E6, ip_proto: { value: 1n }, icmpv4_type: { value: 8n } }],
    ['ipv4_src over IPv6', { ...E6, ipv4_src: { value: 1n } }],
  ])('refused: %s', (_name, match) => {
    expect(() => encode(match)).toThrow(OpenFlowError);
    expect(() => encode(match)).toThrow(/needs/);
  });

  test.each<[string, Match]>([
    ['tcp_dst over IPv6', { ...E6, ip_proto: { value: 6n }, tcp_dst: { value: 443n } }],
    ['udp_src masked over IPv4', { eth_type: { value: 0x800n }, ip_proto: { value: 17n }, udp_src: { value: 0x100n, mask: 0xff00n } }],
    ['ip_dscp over IPv6', { ...E6, ip_dscp: { value: 46n } }],
    ['nd_target for both ND types', { ...ICMP6, icmpv6_type: { value: 136n }, nd_target: addr }],
    ['nd_sll for a solicitation', { ...ICMP6, icmpv6_type: { value: 135n }, nd_sll: { value: 0x001122334455n } }],
    ['nd_tll with icmpv6_code=0', { ...ICMP6, icmpv6_type: { value: 136n }, icmpv6_code: { value: 0n }, nd_tll: { value: 0x001122000000n, mask: 0xffffff000000n } }],
  ])('accepted, and OVS prints it without error: %s', (_name, match) => {
    const bytes = encode(match);
    expect(ovsPrint(hex(bytes))).not.toMatch(/\*\*\*/);
  });
});

test('ipv6Text is glibc inet_ntop', () => {
  const cases: [bigint, string][] = [
    [0n, '::'],
    [1n, '::1'],
    [0xffff0a010203n, '::ffff:10.1.2.3'],
    [0x0a010203n, '::10.1.2.3'],
    [0x20010db8000000000000000000000001n, '2001:db8::1'],
    [0x20010db8000000010000000000000001n, '2001:db8:0:1::1'],
    [0x20010000000000010000000000000001n, '2001:0:0:1::1'],
    [0x00010000000000000000000000000000n, '1::'],
    [0x00010002000300040005000600070008n, '1:2:3:4:5:6:7:8'],
    [0x00010000000200030004000500060007n, '1:0:2:3:4:5:6:7'],
  ];
  for (const [v, s] of cases) expect(ipv6Text(v)).toBe(s);
});
