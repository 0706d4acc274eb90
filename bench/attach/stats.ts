/**
 * Pure helpers of the attach-strategy benchmark (bench/attach.ts): reading ping's and iperf3's output,
 * percentiles, per-strategy summaries and the rotating order of the rounds. No I/O here, so
 * test/bench/attach.test.ts checks them without measuring anything.
 */

/**
 * Round-trip times in µs from iputils `ping` output, one per reply line
 * (`64 bytes from 198.18.1.2: icmp_seq=1 ttl=64 time=0.043 ms`), in the order printed.
 * Lines without `time=` (the header, the summary, "no answer yet") are skipped.
 */
export function parsePingRttsUs(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = /\btime[=<]\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|us|µs|s)\b/.exec(line);
    if (!m) continue;
    const value = Number(m[1]);
    const scale = m[2] === 'ms' ? 1000 : m[2] === 's' ? 1e6 : 1;
    out.push(value * scale);
  }
  return out;
}

/** Packets sent and received from ping's summary line (`200 packets transmitted, 198 received, ...`). */
export function parsePingCounts(text: string): { sent: number; received: number } | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
}

/**
 * The receiver's rate in Gbit/s from `iperf3 -J` output (`end.sum_received.bits_per_second`, the sum
 * over all streams with -P), or undefined when the text is no iperf3 result (an error, an empty run).
 */
export function parseIperfGbps(json: string): number | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const end = (parsed as { end?: { sum_received?: { bits_per_second?: unknown } } } | null)?.end;
  const bps = end?.sum_received?.bits_per_second;
  return typeof bps === 'number' && Number.isFinite(bps) && bps > 0 ? bps / 1e9 : undefined;
}

/** iperf3's own error message from `-J` output (`{"error": "..."}`), if any. */
export function iperfError(json: string): string | undefined {
  try {
    const e = (JSON.parse(json) as { error?: unknown }).error;
    return typeof e === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The p-th percentile (0 ≤ p ≤ 100) by the nearest-rank method: the smallest sample with at least p %
 * of the samples at or below it (p99 of 200 samples is the 198th smallest). NaN for no samples.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100], got ${p}`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, in percent: how far the rounds moved */
  spreadPct: number;
  n: number;
}

/** Median, range and relative spread of one figure's per-round samples (NaN fields when empty). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, spreadPct: NaN, n: 0 };
  const median = medianOf(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median, min, max, spreadPct: median > 0 ? ((max - min) / median) * 100 : NaN, n: values.length };
}

/**
 * The strategies' order in round `round` (0-based): the list rotated left by `round`, so that over
 * as many rounds as strategies each one runs once in every position (first, after a warm cache, last).
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** "9.41 (8.10–10.2)": a median and its range, for the tables. */
export function formatRange(s: Summary, digits = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2))): string {
  if (s.n === 0 || !Number.isFinite(s.median)) return '-';
  if (s.n === 1) return digits(s.median);
  return `${digits(s.median)} (${digits(s.min)}–${digits(s.max)})`;
}
