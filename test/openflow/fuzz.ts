/**
 * Fuzzer of the OpenFlow codec's input side: valid messages of every type the codec knows (from the
 * test arbitraries) mutated by bit flips, byte overwrites, truncations, appended garbage, lies in the
 * header's length and in every aligned 16-bit field of the body (where the nested lengths are: match,
 * instructions, actions, buckets, bands, multipart entries), and pasted slices of other messages;
 * then
 *   1. decoded: a message or an OpenFlowError, never another exception; what decodes re-encodes
 *      (leniently) to bytes or an OpenFlowError;
 *   2. streamed through FrameSplitter in random chunks, several messages back to back: frames or an
 *      OpenFlowError (after which the stream is dropped, as the channel drops the connection), each
 *      frame decoded as in 1.
 * The short run is test/openflow/fuzz.test.ts (in `npm test`); the long one:
 *   npm run fuzz                                        # both stacks, a million messages each
 *   node dist/test/openflow/fuzz.js --count 1000000 --seed 7
 * The time of the slowest message and the heap are reported, never judged.
 */
import fc from 'fast-check';
import { decodeMessage, encodeMessage, FrameSplitter, OpenFlowError } from '../../fabric/openflow';
import { arbMessage } from './arbitraries';
import { seededRandom } from '../../bench/cluster-gen';

export interface FuzzStats {
  seed: number;
  messages: number;
  decoded: number;
  typedErrors: Record<string, number>;
  reencoded: number;
  framedStreams: number;
  framingErrors: number;
  slowestMs: number;
  heapMB: number;
  /** the first few inputs that decoded but did not re-encode (hex, with the error) */
  notReencoded: string[];
}

/** An exception that is not an OpenFlowError: what the fuzzer hunts. */
export class UntypedFailure extends Error {
  constructor(readonly where: string, readonly input: Buffer, override readonly cause: unknown, readonly seed: number, readonly iteration: number) {
    super(`${where}: ${(cause as Error)?.stack ?? String(cause)}\n  seed ${seed}, iteration ${iteration}, input ${input.toString('hex').slice(0, 2000)}`);
  }
}

function corpus(seed: number, size: number): Buffer[] {
  return fc.sample(arbMessage, { numRuns: size, seed }).map((m) => Buffer.from(encodeMessage(m, { lenient: true })));
}

function mutate(src: Buffer, rnd: () => number, pool: readonly Buffer[]): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n);
  let b = Buffer.from(src);
  const steps = 1 + int(3);
  for (let s = 0; s < steps; s++) {
    switch (int(8)) {
      case 0: // bit flips
        for (let k = 1 + int(8); k > 0 && b.length; k--) b[int(b.length)] ^= 1 << int(8);
        break;
      case 1: // byte overwrites
        for (let k = 1 + int(4); k > 0 && b.length; k--) b[int(b.length)] = int(256);
        break;
      case 2: // truncation
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: // garbage appended (and the header told, or not)
        b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))]);
        if (rnd() < 0.5 && b.length >= 4) b.writeUInt16BE(Math.min(0xffff, b.length), 2);
        break;
      case 4: // a lie in the header's length
        if (b.length >= 4) b.writeUInt16BE([0, 7, 8, 9, b.length - 1, b.length + 1, 0xffff, int(0x10000)][int(8)] & 0xffff, 2);
        break;
      case 5: // a lie in an aligned 16-bit field of the body (nested lengths live there)
        if (b.length >= 10) b.writeUInt16BE([0, 1, 3, 4, 7, 8, 0xfff8, 0xffff, int(0x10000)][int(9)] & 0xffff, 8 + 2 * int((b.length - 8) >> 1));
        break;
      case 6: // a slice of another message pasted in
        if (pool.length) {
          const o = pool[int(pool.length)];
          const from = int(o.length);
          const slice = o.subarray(from, from + 1 + int(48));
          const at = int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
        }
        break;
      case 7: // version and type changed
        if (b.length >= 2) b[rnd() < 0.5 ? 0 : 1] = int(256);
        break;
    }
  }
  return b;
}

function decodeOne(b: Buffer, stats: FuzzStats, seed: number, i: number): void {
  let msg;
  try {
    msg = decodeMessage(b);
    stats.decoded++;
  } catch (err) {
    if (!(err instanceof OpenFlowError)) throw new UntypedFailure('decode', b, err, seed, i);
    stats.typedErrors[err.kind] = (stats.typedErrors[err.kind] ?? 0) + 1;
    return;
  }
  try {
    encodeMessage(msg, { lenient: true });
    stats.reencoded++;
  } catch (err) {
    if (!(err instanceof OpenFlowError)) throw new UntypedFailure('re-encode', b, err, seed, i);
    stats.typedErrors[`reencode:${err.kind}`] = (stats.typedErrors[`reencode:${err.kind}`] ?? 0) + 1;
    if (stats.notReencoded.length < 5) stats.notReencoded.push(`${b.toString('hex')}: ${err.message}`);
  }
}

/** Run `count` mutated messages (and a framed stream every 8th); throws UntypedFailure on the first untyped exception. */
export function fuzzOpenFlow(count: number, seed: number, onProgress?: (done: number) => void): FuzzStats {
  const rnd = seededRandom(seed); // mulberry32: the fuzzer's only randomness
  const pool = corpus(seed, 400);
  const stats: FuzzStats = { seed, messages: 0, decoded: 0, typedErrors: {}, reencoded: 0, framedStreams: 0, framingErrors: 0, slowestMs: 0, heapMB: 0, notReencoded: [] };
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const m = mutate(pool[Math.floor(rnd() * pool.length)], rnd, pool);
    decodeOne(m, stats, seed, i);
    stats.messages++;
    if (i % 8 === 0) {
      // a stream of a few (mutated or not) messages in random chunks
      const parts = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => (rnd() < 0.5 ? pool[Math.floor(rnd() * pool.length)] : mutate(pool[Math.floor(rnd() * pool.length)], rnd, pool)));
      const stream = Buffer.concat(parts);
      const splitter = new FrameSplitter();
      stats.framedStreams++;
      try {
        let off = 0;
        while (off < stream.length) {
          const n = 1 + Math.floor(rnd() * 200);
          for (const f of splitter.push(stream.subarray(off, off + n))) decodeOne(f, stats, seed, i);
          off += n;
        }
      } catch (err) {
        if (err instanceof UntypedFailure) throw err;
        if (!(err instanceof OpenFlowError)) throw new UntypedFailure('framing', stream, err, seed, i);
        stats.framingErrors++;
      }
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (ms > stats.slowestMs) stats.slowestMs = ms;
    if (onProgress && i % 100_000 === 0) onProgress(i);
  }
  stats.heapMB = Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
  return stats;
}

function main(): void {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const count = arg('--count', 1_000_000);
  const seed = arg('--seed', Date.now() % 2 ** 31);
  const started = Date.now();
  try {
    const stats = fuzzOpenFlow(count, seed, (done) => process.stderr.write(`openflow fuzz: ${done} of ${count}\r`));
    process.stdout.write(`openflow fuzz: ${JSON.stringify({ ...stats, seconds: (Date.now() - started) / 1000 })}\n`);
  } catch (err) {
    process.stderr.write(`openflow fuzz FAILED (reproduce with --seed ${seed}): ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (require.main === module) main();
