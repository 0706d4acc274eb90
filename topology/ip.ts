/**
 * IPv4 arithmetic for the model: dotted quads <-> unsigned 32-bit integers, CIDR blocks, overlap and
 * containment, and the Kubernetes-style MAC derived from an IP. Integers are used wherever addresses
 * are compared or counted (IPAM's hot loops); strings only at the edges (files, JSON, flows).
 */

export interface Cidr {
  /** network address as an unsigned 32-bit integer */
  network: number;
  prefixLen: number;
  /** number of addresses in the block (2^(32-prefixLen)) */
  size: number;
}

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** True for a canonical dotted quad ("10.0.0.1"; no leading zeros, each byte 0..255). */
export function isValidIp(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const m = QUAD.exec(text);
  if (!m) return false;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    if (part.length > 1 && part[0] === '0') return false; // "010" is octal in some tools: refuse
    if (Number(part) > 255) return false;
  }
  return true;
}

/** Dotted quad to an unsigned 32-bit integer. Throws on a malformed address. */
export function ipToInt(ip: string): number {
  if (!isValidIp(ip)) throw new RangeError(`ipToInt: not an IPv4 address: ${JSON.stringify(ip)}`);
  const p = ip.split('.');
  return ((+p[0] << 24) >>> 0) + (+p[1] << 16) + (+p[2] << 8) + +p[3];
}

/** Unsigned 32-bit integer to a dotted quad. */
export function intToIp(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`intToIp: out of range: ${n}`);
  return `${Math.floor(n / 16777216)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Why a CIDR string is unacceptable, or undefined when it is fine. */
export function cidrProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'must be a CIDR block like 10.244.0.0/16';
  const slash = text.indexOf('/');
  if (slash < 0) return `'${text}' is not a CIDR block (missing /LEN)`;
  const ip = text.slice(0, slash);
  const len = text.slice(slash + 1);
  if (!isValidIp(ip)) return `'${text}' is not a CIDR block ('${ip}' is not an IPv4 address)`;
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return `'${text}' is not a CIDR block (prefix length must be 0..32)`;
  const prefixLen = Number(len);
  const n = ipToInt(ip);
  const mask = prefixMask(prefixLen);
  if (((n & mask) >>> 0) !== n) {
    return `'${text}' has host bits set (did you mean ${intToIp((n & mask) >>> 0)}/${prefixLen}?)`;
  }
  return undefined;
}

export function isValidCidr(text: unknown): text is string {
  return cidrProblem(text) === undefined;
}

/** The netmask of a prefix length as an unsigned integer (/0 -> 0). */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Parses "a.b.c.d/len"; throws on a malformed block or one with host bits set. */
export function parseCidr(text: string): Cidr {
  const problem = cidrProblem(text);
  if (problem) throw new RangeError(`parseCidr: ${problem}`);
  const [ip, len] = text.split('/');
  const prefixLen = Number(len);
  return { network: ipToInt(ip), prefixLen, size: 2 ** (32 - prefixLen) };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefixLen}`;
}

/** Last address of the block (the broadcast address for blocks of /30 and wider). */
export function cidrLast(c: Cidr): number {
  return c.network + c.size - 1;
}

/** Does the block contain the address (string or integer) or the whole other block? */
export function cidrContains(outer: Cidr | string, inner: Cidr | string | number): boolean {
  const o = typeof outer === 'string' ? parseCidr(outer) : outer;
  if (typeof inner === 'number') return inner >= o.network && inner <= cidrLast(o);
  if (typeof inner === 'string' && !inner.includes('/')) {
    const n = ipToInt(inner);
    return n >= o.network && n <= cidrLast(o);
  }
  const i = typeof inner === 'string' ? parseCidr(inner) : inner;
  return i.network >= o.network && cidrLast(i) <= cidrLast(o);
}

export function cidrsOverlap(a: Cidr | string, b: Cidr | string): boolean {
  const x = typeof a === 'string' ? parseCidr(a) : a;
  const y = typeof b === 'string' ? parseCidr(b) : b;
  return x.network <= cidrLast(y) && y.network <= cidrLast(x);
}

/**
 * The addresses of a block that IPAM never hands out to pods: network, first usable (the gateway)
 * and broadcast. Blocks narrower than /30 have no room for that convention and reserve nothing extra.
 */
export function firstUsable(c: Cidr): number {
  return c.size >= 4 ? c.network + 1 : c.network;
}

/** Kubernetes-style MAC for an IPv4 address: 0a:58 followed by the four address bytes in hex. */
export function macFromIp(ip: string | number): string {
  const n = typeof ip === 'number' ? ip : ipToInt(ip);
  const b = [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return ['0a', '58', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export function isValidMac(text: unknown): text is string {
  return typeof text === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(text);
}
