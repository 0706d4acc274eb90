/**
 * `fabric ofp decode HEX` / `fabric ofp encode [FILE]` (docs/scenarios.md §6): one OpenFlow 1.3 message (or
 * several back to back) between hex and JSON. JSON is the message model of fabric/openflow with
 * bigint values as strings ("0x…"; decimal strings accepted) and byte arrays as hex strings.
 * `decode` prints one object, or an array when HEX holds several messages; `encode` accepts an
 * object or an array and prints the hex of all messages on one line. Bad input: one line, exit 2.
 */
import * as fs from 'fs';
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { decodeMessage, encodeMessage, messagesFromJson, splitFrames, toJsonValue } from '../../fabric/openflow';

/** `fabric ofp decode`'s work: hex (spaces, colons, dashes and a 0x prefix ignored) to the JSON text it prints */
export function decodeHexToJson(input: string): string {
  const hex = input.replace(/^0x/i, '').replace(/[\s:-]/g, '');
  if (!hex || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('not an even-length hex string');
  const frames = splitFrames(Buffer.from(hex, 'hex'));
  const msgs = frames.map((f) => toJsonValue(decodeMessage(f)));
  return JSON.stringify(msgs.length === 1 ? msgs[0] : msgs, null, 2);
}

/** `fabric ofp encode`'s work: JSON text (one message or an array) to the hex it prints */
export function encodeJsonToHex(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`bad JSON: ${(e as Error).message}`);
  }
  return messagesFromJson(value)
    .map((m, i) => {
      try {
        return encodeMessage(m).toString('hex');
      } catch (e) {
        throw new Error(`message ${i} (${m.type}): ${e instanceof Error ? e.message : String(e)}`);
      }
    })
    .join('');
}

function fail(ctx: CommandContext, what: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  ctx.stderr(`fabric ofp ${what}: ${msg.split('\n')[0]}\n`);
  ctx.exitCode = 2;
}

export function register(program: Command, ctx: CommandContext): void {
  const ofp = program.command('ofp').description('OpenFlow 1.3 messages: hex <-> JSON');

  ofp
    .command('decode')
    .description('decode OpenFlow 1.3 message(s) given as hex; prints JSON')
    .argument('<hex...>', 'message bytes in hex (spaces, colons and a 0x prefix are ignored)')
    .action((parts: string[]) => {
      try {
        ctx.stdout(decodeHexToJson(parts.join('')) + '\n');
        ctx.exitCode = 0;
      } catch (e) {
        fail(ctx, 'decode', e);
      }
    });

  ofp
    .command('encode')
    .description('encode OpenFlow 1.3 message(s) given as JSON (stdin, or FILE); prints hex')
    .argument('[file]', 'JSON file (default: stdin)')
    .action((file?: string) => {
      try {
        const text = fs.readFileSync(file && file !== '-' ? file : 0, 'utf8');
        ctx.stdout(encodeJsonToHex(text) + '\n');
        ctx.exitCode = 0;
      } catch (e) {
        fail(ctx, 'encode', e);
      }
    });
}
