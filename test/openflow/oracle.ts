/**
 * Test support: Open vSwitch's own tools as the golden source of OpenFlow 1.3 bytes and text.
 * Batched: one ovs-ofctl call for many flows (each call costs milliseconds).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface OvsEncoded {
  /** ovs-ofctl's one-line description of the message */
  text: string;
  bytes: Buffer;
}

/** parses `-mmmmm` output: a description line followed by hex dump lines */
export function parseHexDumps(out: string): OvsEncoded[] {
  const result: OvsEncoded[] = [];
  let cur: { text: string; hex: string[] } | undefined;
  const flush = (): void => {
    if (cur && cur.hex.length) result.push({ text: cur.text, bytes: Buffer.from(cur.hex.join(''), 'hex') });
    cur = undefined;
  };
  for (const line of out.split('\n')) {
    const m = /^[0-9a-f]{8}  ((?:[0-9a-f]{2}[ -]){0,16})/.exec(line);
    if (m && cur) {
      cur.hex.push(m[1].replace(/[ -]/g, ''));
    } else if (/^OFPT_|^ONFT_|^NXT_|^OFPST_/.test(line)) {
      flush();
      cur = { text: line, hex: [] };
    } else if (cur && cur.hex.length === 0 && line.startsWith(' ')) {
      cur.text += '\n' + line;
    }
  }
  flush();
  return result;
}

export function ofctl(args: string[], input?: string): string {
  return execFileSync('ovs-ofctl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}

/** OVS's encoding of many textual flows (ADD flow_mods, xids 1..n) in one call */
export function ovsEncodeFlows(flows: string[]): OvsEncoded[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-of-'));
  try {
    const file = path.join(dir, 'flows.txt');
    fs.writeFileSync(file, flows.join('\n') + '\n');
    const out = parseHexDumps(ofctl(['-O', 'OpenFlow13', '-mmmmm', 'parse-flows', file]));
    if (out.length !== flows.length) throw new Error(`ovs-ofctl parse-flows: ${out.length} messages for ${flows.length} flows`);
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function ovsEncodeGroup(group: string): OvsEncoded {
  const out = parseHexDumps(ofctl(['-O', 'OpenFlow13', '-mmmmm', 'parse-group', group]));
  if (out.length !== 1) throw new Error(`ovs-ofctl parse-group ${group}: ${out.length} messages`);
  return out[0];
}

/** ovs-ofctl ofp-print of many messages: one call via ofp-parse of a binary file */
export function ovsPrintMany(messages: Buffer[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-of-'));
  try {
    const file = path.join(dir, 'msgs.bin');
    fs.writeFileSync(file, Buffer.concat(messages));
    const out = ofctl(['-O', 'OpenFlow13', 'ofp-parse', file]);
    // each message starts with a line beginning with its type name (OFPT_..., ONFT_..., NXT_..., OFPST_...)
    // embedded messages (an ERROR's data, a bundle's inner message) repeat their outer xid: a
    // header line with a new xid starts the next message, so callers give distinct xids
    const parts: string[] = [];
    let xid: string | undefined;
    for (const line of out.split('\n')) {
      const h = /^(?:OFPT_|ONFT_|NXT_|OFPST_)[A-Z0-9_]*(?: request| reply)? \(OF[\d.]+\) \(xid=(0x[0-9a-f]+)\)/.exec(line);
      if ((h && h[1] !== xid) || parts.length === 0) {
        parts.push(line);
        xid = h?.[1];
      } else parts[parts.length - 1] += '\n' + line;
    }
    return parts.filter((p) => p.trim().length > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function ovsPrint(hex: string): string {
  return ofctl(['ofp-print', hex]);
}

export const DECODE_FAILURE = /\*\*\*decode error|\*\*\*truncated|\*\*\*only uses|\*\*\*/;
