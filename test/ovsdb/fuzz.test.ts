/**
 * The short run of the OVSDB fuzzer (test/ovsdb/fuzz.ts): mutated server messages (bit flips,
 * truncations, inserted bytes, nesting to 100,000 levels, wrong JSON types, dropped members) through the
 * framer, the JSON-RPC layer and a client with two replicas. Only values of the right shape or typed
 * errors; no exception escapes; every request settles. The long run is `npm run fuzz`.
 * Set FABRIC_SEED to replay; FABRIC_FUZZ_RUNS to run longer.
 */
import { runFuzz } from './fuzz';

const seed = Number(process.env.FABRIC_SEED) || Date.now() % 2 ** 31;
// eslint-disable-next-line no-console
console.log(`ovsdb fuzz seed=${seed} (reproduce with FABRIC_SEED=${seed})`);
const runs = Number(process.env.FABRIC_FUZZ_RUNS) || 0;

test('framer and JSON-RPC layer: mutated messages yield values or typed errors only', async () => {
  const stats = await runFuzz({ seed, cases: runs || 1500, layers: ['framer', 'rpc'] });
  // the mutations reach both ends: some streams frame and dispatch, some are refused
  expect(stats.outcomes['framer:ok']).toBeGreaterThan(0);
  expect(stats.outcomes['framer:OvsdbProtocolError']).toBeGreaterThan(0);
});

test('client with replicas: mutated replies and notifications from a fake server never crash or hang', async () => {
  const stats = await runFuzz({ seed, cases: runs || 250, layers: ['client'] });
  expect(stats.outcomes['client:ok']).toBeGreaterThan(0);
});
