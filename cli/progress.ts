/**
 * A progress bar for long commands (issue 17 "Long work shows progress"), shared by every command:
 * drawn on stderr by `cli-progress` only when stderr is a terminal and the command's output is not
 * machine-read (`--json`); otherwise every call is a no-op, so pipes, files, CI logs and tests see
 * exactly the output they saw before.
 *
 *   const bar = startProgress({ label: 'plan', total: plan.size, unit: 'switches', json: opts.json });
 *   for (...) bar.increment(1, name);
 *   bar.stop();
 *
 * The work it measures is mostly synchronous: cli-progress redraws inside update() (its
 * synchronousUpdate), at most `fps` times a second, so a tight loop costs one Date.now() per call.
 * stdout is never written to.
 */
import { SingleBar } from 'cli-progress';

export interface ProgressOptions {
  /** what is being done: "compiling", "plan", "simulating" */
  label: string;
  /** the value at which the work is done (0: unknown yet; setTotal later) */
  total: number;
  /** what is counted: "switches", "s (virtual)" */
  unit?: string;
  /** the command prints JSON: no bar */
  json?: boolean;
  /** where to draw (default process.stderr); the bar is drawn only when it is a TTY */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** force on (true) or off (false) regardless of the stream (tests) */
  enabled?: boolean;
}

export interface Progress {
  /** true when a bar is drawn */
  readonly active: boolean;
  /** set the value (and the text after the bar) */
  update(value: number, detail?: string): void;
  /** add to the value */
  increment(delta?: number, detail?: string): void;
  setTotal(total: number): void;
  /** finish: the bar stays on its own line; later calls are ignored */
  stop(): void;
}

const SILENT: Progress = {
  active: false,
  update: () => undefined,
  increment: () => undefined,
  setTotal: () => undefined,
  stop: () => undefined,
};

/** Whether a bar would be drawn on this stream (stderr by default) for a command with/without --json. */
export function progressEnabled(options: { json?: boolean; stream?: { isTTY?: boolean }; enabled?: boolean } = {}): boolean {
  if (options.enabled !== undefined) return options.enabled;
  if (options.json) return false;
  const stream = options.stream ?? process.stderr;
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** A started bar, or a silent stand-in when stderr is not a terminal or --json is given. */
export function startProgress(options: ProgressOptions): Progress {
  if (!progressEnabled(options)) return SILENT;
  const unit = options.unit ? ` ${options.unit}` : '';
  const bar = new SingleBar({
    format: `${options.label} [{bar}] {percentage}% | {value}/{total}${unit} | {duration_formatted} elapsed, eta {eta_formatted} {detail}`,
    stream: options.stream ?? process.stderr,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    fps: 10,
    etaBuffer: 50,
    // the command's stderr is a terminal: never draw on anything else
    noTTYOutput: false,
  });
  let stopped = false;
  bar.start(Math.max(0, options.total), 0, { detail: '' });
  return {
    active: true,
    update(value, detail) {
      if (!stopped) bar.update(value, detail !== undefined ? { detail } : undefined);
    },
    increment(delta = 1, detail) {
      if (!stopped) bar.increment(delta, detail !== undefined ? { detail } : undefined);
    },
    setTotal(total) {
      if (!stopped) bar.setTotal(Math.max(0, total));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/**
 * Runs `fn` with a bar that is stopped afterwards, whether `fn` returns, resolves or throws.
 * For a synchronous phase (a compile), the bar is drawn once at 0 before and at the total after.
 */
export function withProgress<T>(options: ProgressOptions, fn: (bar: Progress) => T): T {
  const bar = startProgress(options);
  let result: T;
  try {
    result = fn(bar);
  } catch (err) {
    bar.stop();
    throw err;
  }
  if (result instanceof Promise) {
    return result.finally(() => bar.stop()) as unknown as T;
  }
  bar.stop();
  return result;
}
