/**
 * The JSON form of messages (for `fabric ofp decode|encode` and logs): the message model as is,
 * except that bigint values are strings ("0x…" hex; decimal strings and safe numbers are accepted
 * on input) and byte arrays (data, userdata, body, …) are lowercase hex strings.
 */
import { OpenFlowError } from './errors';
import type { OfpMessage } from './messages';

/** keys whose values are bigint in the model */
const BIGINT_KEYS = new Set([
  'value', 'mask', 'cookie', 'cookieMask', 'generationId', 'packetCount', 'byteCount', 'lookupCount', 'matchedCount',
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxDropped', 'txDropped', 'rxErrors', 'txErrors', 'rxFrameErr',
  'rxOverErr', 'rxCrcErr', 'collisions', 'packetInCount', 'byteInCount', 'packetBandCount', 'byteBandCount',
  'metadataMatch', 'metadataWrite',
]);
// (queue stats' txBytes, txPackets, txErrors are bigint too: already listed)
/** keys whose values are byte arrays */
const BYTES_KEYS = new Set(['data', 'userdata', 'body', 'extraElements', 'properties', 'matchRaw', 'instructionsRaw']);

export function toJsonValue(x: unknown): unknown {
  if (typeof x === 'bigint') return '0x' + x.toString(16);
  if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex');
  if (Array.isArray(x)) return x.map(toJsonValue);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = toJsonValue(v);
    return out;
  }
  return x;
}

export function messageToJson(msg: OfpMessage, indent = 2): string {
  return JSON.stringify(toJsonValue(msg), null, indent);
}

/**
 * Keys of BIGINT_KEYS that hold a plain number in some objects, by the object's `type` (messages,
 * actions) or `kind` (multipart bodies): OFPT_PORT_MOD's 32-bit `mask`. Without this, `fabric ofp
 * encode` of a decoded PORT_MOD failed ("Cannot mix BigInt and other types").
 */
const NUMBER_KEYS_BY_OWNER: Readonly<Record<string, ReadonlySet<string>>> = {
  port_mod: new Set(['mask']),
};

function ownerTag(o: Record<string, unknown>): string | undefined {
  if (typeof o.type === 'string') return o.type;
  if (typeof o.kind === 'string') return o.kind;
  return undefined;
}

function isBigintKey(key: string, owner: string | undefined): boolean {
  return BIGINT_KEYS.has(key) && !(owner !== undefined && NUMBER_KEYS_BY_OWNER[owner]?.has(key));
}

function revive(key: string, v: unknown, path: string, owner?: string): unknown {
  if (isBigintKey(key, owner) && (typeof v === 'string' || typeof v === 'number')) {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new OpenFlowError('bad-value', `json: ${path} ${v} is not a safe integer; write it as a string`);
    if (typeof v === 'string' && !/^(0x[0-9a-fA-F]+|\d+)$/.test(v)) throw new OpenFlowError('bad-value', `json: ${path} "${v}" is not an integer`);
    return BigInt(v);
  }
  if (BYTES_KEYS.has(key) && typeof v === 'string') {
    const hex = v.replace(/[\s:]/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new OpenFlowError('bad-value', `json: ${path} is not a hex string`);
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }
  if (Array.isArray(v)) return v.map((e, i) => revive('', e, `${path}[${i}]`));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    const tag = ownerTag(v as Record<string, unknown>);
    for (const [k, e] of Object.entries(v)) out[k] = revive(k, e, path ? `${path}.${k}` : k, tag);
    return out;
  }
  return v;
}

/** a parsed JSON value (object or array of objects) back into messages */
export function messagesFromJson(value: unknown): OfpMessage[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((m, i) => {
    if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') {
      throw new OpenFlowError('bad-value', `json: message ${i} has no "type"`);
    }
    const msg = revive('', m, '') as OfpMessage & { xid?: number };
    if (msg.xid === undefined) msg.xid = 0;
    return msg;
  });
}
