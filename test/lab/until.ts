/**
 * Test support for the lab tier: poll a condition until it holds; returns the time it took (ms), which
 * tests report and never judge. The deadline only ends a wait that would never end: 30 s, far beyond
 * anything seen here even with both cores busy.
 */
export async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}
