/**
 * fast-check with a printed, reproducible seed: FC_SEED=N reruns a failure exactly. fast-check's own
 * failure report carries the seed and the shrunk counterexample; this adds the command to rerun it.
 */
import fc from 'fast-check';

export function checkProperty<T>(name: string, property: fc.IProperty<T> | fc.IAsyncProperty<T>, numRuns = 100): void {
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() ^ (process.pid << 8);
  try {
    fc.assert(property as fc.IProperty<T>, { seed, numRuns });
  } catch (err) {
    const e = err as Error;
    e.message = `${name}: property failed; reproduce with FC_SEED=${seed}\n${e.message}`;
    throw e;
  }
}
