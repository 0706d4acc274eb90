/** Test support for the lab tier: poll a condition until it holds; returns the time it took (ms). */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}
