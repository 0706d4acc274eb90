/**
 * Shared by the golden tests of Nicira actions (nicira-actions.test.ts, learn.test.ts): OVS's field
 * names mapped to ours, the actions part of OVS's print, and the check that OVS prints our bytes as our
 * printer does and parses our text back to our bytes.
 */
import { encodeMessage } from '../../fabric/openflow/encode';
import type { FlowMod } from '../../fabric/openflow/messages';
import { instructionsText } from '../../fabric/openflow/ofctl';
import { DECODE_FAILURE, ovsEncodeFlows, ovsPrintMany } from './oracle';

/** OVS's field names (NXM names of subfields, mf names of whole-field immediates) -> our ovs-ofctl names; `X[]` (whole field) -> `X` */
export function normalise(text: string): string {
  return text
    .replace(/NXM_NX_REG(\d+)/g, 'reg$1')
    .replace(/NXM_NX_TUN_ID/g, 'tun_id')
    .replace(/NXM_OF_ETH_SRC/g, 'eth_src')
    .replace(/NXM_OF_ETH_DST/g, 'eth_dst')
    .replace(/NXM_OF_IN_PORT/g, 'in_port')
    .replace(/OXM_OF_IN_PORT/g, 'in_port_oxm')
    .replace(/NXM_OF_VLAN_TCI/g, 'vlan_tci')
    .replace(/NXM_OF_IP_SRC/g, 'nw_src')
    .replace(/NXM_OF_IP_DST/g, 'nw_dst')
    .replace(/NXM_OF_TCP_SRC/g, 'tcp_src')
    .replace(/NXM_OF_TCP_DST/g, 'tcp_dst')
    .replace(/NXM_NX_IPV6_SRC/g, 'ipv6_src')
    .replace(/NXM_NX_IPV6_DST/g, 'ipv6_dst')
    .replace(/OXM_OF_METADATA/g, 'metadata')
    .replace(/\bnw_proto=/g, 'ip_proto=')
    .replace(/\b(reg\d+|tun_id|eth_src|eth_dst|in_port|in_port_oxm|vlan_tci|nw_src|nw_dst|tcp_src|tcp_dst|ipv6_src|ipv6_dst|metadata)\[\]/g, '$1');
}

/** the actions part of OVS's one-line FLOW_MOD description */
export function ovsActions(printed: string): string {
  const m = / actions=(.*)$/m.exec(printed);
  if (!m) throw new Error(`no actions in ${printed}`);
  return m[1].trim();
}

/**
 * `ovs-ofctl ofp-print` prints our bytes of each decoded flow_mod as our printer does, and OVS parses
 * our text (with the case's match) back to the bytes OVS made first.
 */
export function expectOvsAgrees(texts: readonly string[], decoded: readonly FlowMod[], encoded: readonly { bytes: Buffer }[]): void {
  const ours = decoded.map((m, i) => encodeMessage({ ...m, xid: i + 1 }));
  const printed = ovsPrintMany(ours);
  expect(printed).toHaveLength(texts.length);
  for (let i = 0; i < texts.length; i++) {
    expect(printed[i]).not.toMatch(DECODE_FAILURE);
    expect({ i, text: instructionsText(decoded[i].flow.instructions) }).toEqual({ i, text: normalise(ovsActions(printed[i])) });
  }
  const matchOf = (text: string): string => text.replace(/,?actions=.*$/, '');
  const ourTexts = texts.map((text, i) => {
    const match = matchOf(text);
    return `${match ? match + ',' : ''}actions=${instructionsText(decoded[i].flow.instructions)}`;
  });
  const back = ovsEncodeFlows(ourTexts);
  for (let i = 0; i < texts.length; i++) expect({ i, hex: back[i].bytes.toString('hex') }).toEqual({ i, hex: encoded[i].bytes.toString('hex') });
}
