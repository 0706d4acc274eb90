/**
 * IPv4 helpers the lab needs for its safety check and host configuration: parsing, prefixes,
 * overlap. Kept local so the lab depends on nothing but the cluster state's dotted quads.
 */
import { LabError } from './errors';

export interface Prefix {
  /** network address as an unsigned 32-bit integer */
  network: number;
  len: number;
  text: string;
}

export function ipToInt(ipText: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ipText.trim());
  if (!m) throw new LabError(`not an IPv4 address: ${ipText}`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new LabError(`not an IPv4 address: ${ipText}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** "10.0.0.0/8", or a plain address (= /32). */
export function parsePrefix(text: string): Prefix {
  const [addr, lenText] = text.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) throw new LabError(`not an IPv4 prefix: ${text}`);
  return { network: (ipToInt(addr) & maskOf(len)) >>> 0, len, text };
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  const len = Math.min(a.len, b.len);
  const mask = maskOf(len);
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

export function prefixLength(cidr: string): number {
  return parsePrefix(cidr).len;
}

/** The smallest prefix holding every address (overlay: the underlay subnet each VTEP address carries). */
export function coveringPrefix(ips: string[]): Prefix {
  const ints = ips.map(ipToInt);
  let len = 32;
  for (const x of ints) while (len > 0 && ((x & maskOf(len)) >>> 0) !== ((ints[0] & maskOf(len)) >>> 0)) len--;
  const network = ints.length > 0 ? (ints[0] & maskOf(len)) >>> 0 : 0;
  return { network, len, text: `${intToIp(network)}/${len}` };
}
