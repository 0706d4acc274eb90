/**
 * The discrete-event engine: a virtual clock and a queue of actions ordered by (time, sequence).
 * The sequence number is the order of scheduling, so two actions at the same virtual time run in
 * the order they were scheduled — never in hash or heap order. Every action and every line the
 * simulation logs goes into one event trace, hashed with sha256 (the report's `traceHash`).
 */
import { createHash, Hash } from 'crypto';
import { VirtualClock } from './clock';

export interface ScheduledAction {
  atUs: number;
  seq: number;
  label: string;
  run: () => void;
}

/** A binary min-heap on (atUs, seq). */
export class EventQueue {
  private heap: ScheduledAction[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(item: ScheduledAction): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peek(): ScheduledAction | undefined {
    return this.heap[0];
  }

  pop(): ScheduledAction | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: ScheduledAction, b: ScheduledAction): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.seq < b.seq);
}

export class Engine {
  readonly clock = new VirtualClock();
  private queue = new EventQueue();
  private seq = 0;
  private hash: Hash = createHash('sha256');
  /** trace lines kept in memory (for tests and `--debug`); the hash covers all of them */
  readonly traceLines: string[] = [];
  keepTrace: boolean;
  /** counts of actions scheduled but not yet run, per category (e.g. 'control') */
  private pendingByTag = new Map<string, number>();
  private latestByTag = new Map<string, number>();

  constructor(options: { keepTrace?: boolean } = {}) {
    this.keepTrace = options.keepTrace ?? false;
  }

  nowUs(): number {
    return this.clock.nowUs();
  }

  /** schedule `run` at virtual time atUs (not before now); `tag` lets callers ask what is pending */
  schedule(atUs: number, label: string, run: () => void, tag?: string): void {
    const at = Math.max(atUs, this.clock.nowUs());
    const wrapped = tag
      ? () => {
          this.pendingByTag.set(tag, (this.pendingByTag.get(tag) ?? 1) - 1);
          run();
        }
      : run;
    if (tag) {
      this.pendingByTag.set(tag, (this.pendingByTag.get(tag) ?? 0) + 1);
      this.latestByTag.set(tag, Math.max(this.latestByTag.get(tag) ?? 0, at));
    }
    this.queue.push({ atUs: at, seq: this.seq++, label, run: wrapped });
  }

  /** a time at or after which every action of `tag` scheduled so far has run */
  pendingUntilUs(tag: string): number {
    return Math.max(this.latestByTag.get(tag) ?? 0, this.clock.nowUs());
  }

  pending(tag: string): number {
    return this.pendingByTag.get(tag) ?? 0;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** time of the next action, or undefined */
  nextAtUs(): number | undefined {
    return this.queue.peek()?.atUs;
  }

  /** run the next action; false when the queue is empty */
  step(): boolean {
    const next = this.queue.pop();
    if (!next) return false;
    this.clock.advanceTo(next.atUs);
    this.log(next.label);
    next.run();
    return true;
  }

  /** run every action scheduled at or before timeUs, then set the clock to timeUs */
  runUntil(timeUs: number): void {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.atUs > timeUs) break;
      this.step();
    }
    if (timeUs > this.clock.nowUs()) this.clock.advanceTo(timeUs);
  }

  /** append one line to the event trace, stamped with the virtual time */
  log(line: string): void {
    const stamped = `${this.clock.nowUs()} ${line}\n`;
    this.hash.update(stamped);
    if (this.keepTrace) this.traceLines.push(stamped);
  }

  /** sha256 hex of every trace line so far (the hash object is copied, so logging may continue) */
  traceHash(): string {
    return this.hash.copy().digest('hex');
  }
}
