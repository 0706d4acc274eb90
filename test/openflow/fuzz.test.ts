/**
 * The OpenFlow codec under mutated input (test/openflow/fuzz.ts): 30,000 mutated messages of every
 * type and ~3,750 framed streams in random chunks give messages or typed errors only. The long run is
 * `npm run fuzz`. A failure prints the seed and the input (OPENFLOW_FUZZ_SEED reruns it).
 */
import { fuzzOpenFlow } from './fuzz';

test('30,000 mutated OpenFlow messages and their streams: a message or a typed error, never another exception', () => {
  const seed = Number(process.env.OPENFLOW_FUZZ_SEED ?? 20261203);
  const stats = fuzzOpenFlow(30_000, seed);
  console.log(`openflow fuzz (seed ${seed}): ${JSON.stringify(stats)}`);
  expect(stats.messages).toBe(30_000);
  // the mutations reach both outcomes: decoded messages and typed errors of several kinds
  expect(stats.decoded).toBeGreaterThan(0);
  expect(Object.keys(stats.typedErrors).length).toBeGreaterThan(2);
  expect(stats.framingErrors).toBeGreaterThan(0);
  // lossless: what decodes re-encodes
  expect(stats.notReencoded).toEqual([]);
}, 120_000);
