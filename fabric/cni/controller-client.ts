/**
 * The plugin's side of the controller's local API (fabric/controller-api.ts): GET /state for the
 * node's block and a pod's port, POST /events for pod add/delete (answered after the reconcile pass
 * that includes them: when ADD returns, the pod's flows are on the switches).
 *
 * Under HA (docs/ha.md) several controllers serve the API and only the leader takes POST /events; a
 * standby answers 503 `{"error", "leader"}`. ControllerSet goes over the configured URLs: on a
 * connection error, a timeout or a 503 it tries the next one (the named leader first when it is one
 * of them), with a short pause after each round, until the call's deadline.
 */
import * as http from 'http';
import { CniCode, CniError, controllerTarget } from './protocol';

export interface ControllerState {
  pods: { name: string; node: string; ip: string; labels: Record<string, string>; mac?: string; port?: number }[];
  nodes: { name: string; ip: string; podCidr: string; up: boolean }[];
  services: { name: string; vip: string; endpoints: string[] }[];
  /** present when the controller runs under HA */
  ha?: { role: 'leader' | 'standby'; identity: string; leader?: string };
}

export interface Answer {
  status: number;
  json: any;
  text: string;
}

/** One HTTP exchange; a connection error or a timeout rejects with a plain Error naming method and path. */
function attempt(url: string, method: string, path: string, body: unknown, timeoutMs: number, extraHeaders: Record<string, string> = {}): Promise<Answer> {
  const where = controllerTarget(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ ...where, method, path, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extraHeaders }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

export async function request(url: string, method: string, path: string, body: unknown, timeoutMs: number, headers?: Record<string, string>): Promise<Answer> {
  try {
    return await attempt(url, method, path, body, timeoutMs, headers);
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw new CniError(CniCode.controllerFailure, `controller ${url}: ${(err as Error).message}`);
  }
}

export async function getState(url: string, timeoutMs: number): Promise<ControllerState> {
  const r = await request(url, 'GET', '/state', undefined, timeoutMs);
  if (r.status !== 200 || !r.json) throw new CniError(CniCode.controllerFailure, `controller ${url}: GET /state answered ${r.status}`, r.text.slice(0, 500));
  return r.json as ControllerState;
}

/** POST /events; 400 becomes a CniError with the controller's message. */
export async function postEvents(url: string, events: unknown[], timeoutMs: number): Promise<{ status: number; json: any }> {
  const r = await request(url, 'POST', '/events', events, timeoutMs);
  return { status: r.status, json: r.json ?? { error: r.text } };
}

export interface ControllerSetOptions {
  /** the deadline of one call over every URL and retry (the network config's timeoutMs) */
  timeoutMs: number;
  /** the limit of one attempt (default: timeoutMs with one URL; with several a quarter of it, at least 100 ms) */
  attemptTimeoutMs?: number;
  /** the pause after a round of attempts without an answer: from min, doubling up to max (default 50-200 ms) */
  backoffMs?: { min: number; max: number };
}

/** What one call of the set got, and from where. */
export interface SetAnswer extends Answer {
  /** the URL that answered */
  url: string;
  /** attempts this call made (1: the first URL tried answered) */
  attempts: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The controllers of a network config. One URL behaves as the plain functions above: one attempt, its
 * answer whatever the status, or code 101. Several: the preferred URL first (the one that answered
 * last), then the others, until an answer that is not a 503 or until the deadline; then code 101
 * naming every URL and its last error.
 */
export class ControllerSet {
  readonly urls: readonly string[];
  private preferred = 0;
  /** a call ran out of its deadline: later calls of this set make one round without pauses */
  private exhausted = false;
  private readonly attemptTimeoutMs: number;
  private readonly backoff: { min: number; max: number };

  constructor(
    urls: string | readonly string[],
    private readonly o: ControllerSetOptions,
  ) {
    this.urls = typeof urls === 'string' ? [urls] : [...urls];
    if (this.urls.length === 0) throw new CniError(CniCode.invalidConfig, 'network config: no controller URL');
    for (const u of this.urls) controllerTarget(u);
    this.attemptTimeoutMs = o.attemptTimeoutMs ?? (this.urls.length === 1 ? o.timeoutMs : Math.max(100, Math.floor(o.timeoutMs / 4)));
    this.backoff = o.backoffMs ?? { min: 50, max: 200 };
  }

  /** The URL the next call goes to first. */
  get current(): string {
    return this.urls[this.preferred];
  }

  /** Which of our URLs a controller identity (an HA `leader`) is: the same string, or the same socket or host and port. */
  indexOf(identity: string): number {
    const exact = this.urls.indexOf(identity);
    if (exact >= 0) return exact;
    let t: ReturnType<typeof controllerTarget>;
    try {
      t = controllerTarget(identity);
    } catch {
      return -1;
    }
    const key = (x: ReturnType<typeof controllerTarget>): string => ('socketPath' in x ? `unix ${x.socketPath}` : `tcp ${x.host === 'localhost' ? '127.0.0.1' : x.host} ${x.port}`);
    return this.urls.findIndex((u) => key(controllerTarget(u)) === key(t));
  }

  /**
   * One call. `only`: that URL alone (still retried until the deadline when the set has several);
   * `timeoutMs`: a deadline other than the config's.
   */
  async request(method: string, path: string, body: unknown, opts: { only?: string; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<SetAnswer> {
    const total = opts.timeoutMs ?? this.o.timeoutMs;
    if (this.urls.length === 1) {
      const url = this.urls[0];
      return { url, attempts: 1, ...(await request(url, method, path, body, Math.min(total, this.attemptTimeoutMs), opts.headers)) };
    }
    const list = opts.only !== undefined ? [opts.only] : this.urls;
    const n = list.length;
    const deadline = Date.now() + total;
    const errors = new Map<string, string>();
    let i = opts.only !== undefined ? 0 : this.preferred;
    let attempts = 0;
    /** the URLs tried since the last pause: a round tries each once, the named leader first */
    const round = new Set<number>();
    let pause = this.backoff.min;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const url = list[i];
      let leaderAt = -1;
      attempts++;
      round.add(i);
      try {
        const r = await attempt(url, method, path, body, Math.min(this.attemptTimeoutMs, remaining), opts.headers);
        if (r.status !== 503) {
          if (opts.only === undefined) this.preferred = i;
          this.exhausted = false;
          return { url, attempts, ...r };
        }
        const leader = typeof r.json?.leader === 'string' ? (r.json.leader as string) : undefined;
        const j = leader === undefined || opts.only !== undefined ? -1 : this.indexOf(leader);
        errors.set(url, `503 ${String(r.json?.error ?? r.text).slice(0, 200)}${leader !== undefined ? ` (leader ${leader}${j < 0 && opts.only === undefined ? ', not one of the configured URLs' : ''})` : ''}`);
        leaderAt = j;
      } catch (err) {
        if (err instanceof CniError) throw err;
        errors.set(url, (err as Error).message);
      }
      // the leader a standby named, unless tried in this round (a dead leader is named until its lease
      // expires); else the next URL not yet tried; else a pause and a new round
      let next = leaderAt >= 0 && !round.has(leaderAt) ? leaderAt : -1;
      for (let k = 1; next < 0 && k < n; k++) if (!round.has((i + k) % n)) next = (i + k) % n;
      if (next < 0) {
        if (this.exhausted) break;
        const wait = Math.min(pause, deadline - Date.now());
        if (wait > 0) await sleep(wait);
        pause = Math.min(pause * 2, this.backoff.max);
        round.clear();
        next = leaderAt >= 0 ? leaderAt : (i + 1) % n;
      }
      i = next;
    }
    this.exhausted = true;
    throw new CniError(
      CniCode.controllerFailure,
      `no controller took ${method} ${path} within ${total} ms (${attempts} attempts): ${list.map((u) => `${u}: ${errors.get(u) ?? 'not tried'}`).join('; ')}`,
      'under HA: only the leader takes POST /events; a new leader is elected within the lease TTL of a dead one',
    );
  }

  /**
   * GET /state. A standby's state may lag the leader's: when the answer comes from a standby whose
   * leader is one of our URLs, the leader is asked once too (its answer wins) and becomes preferred.
   */
  async getState(opts: { only?: string; timeoutMs?: number } = {}): Promise<{ url: string; state: ControllerState }> {
    const t0 = Date.now();
    const r = await this.request('GET', '/state', undefined, opts);
    if (r.status !== 200 || !r.json) throw new CniError(CniCode.controllerFailure, `controller ${r.url}: GET /state answered ${r.status}`, r.text.slice(0, 500));
    const state = r.json as ControllerState;
    const leader = opts.only === undefined && state.ha?.role === 'standby' && state.ha.leader ? this.indexOf(state.ha.leader) : -1;
    const remaining = (opts.timeoutMs ?? this.o.timeoutMs) - (Date.now() - t0);
    if (leader >= 0 && this.urls[leader] !== r.url && remaining > 0) {
      const url = this.urls[leader];
      try {
        const l = await attempt(url, 'GET', '/state', undefined, Math.min(this.attemptTimeoutMs, remaining));
        if (l.status === 200 && l.json) {
          this.preferred = leader;
          return { url, state: l.json as ControllerState };
        }
      } catch {
        /* the standby's answer then */
      }
    }
    return { url: r.url, state };
  }

  /** POST /events: the answer of the controller that took it (a leader, or the one URL), whatever its status but 503. */
  async postEvents(events: unknown[], opts: { timeoutMs?: number; idempotencyKey?: string } = {}): Promise<{ url: string; status: number; json: any; attempts: number }> {
    // the same key on every retry: a batch a dying leader stored is answered from the store, not applied twice
    const r = await this.request('POST', '/events', events, { ...opts, ...(opts.idempotencyKey !== undefined ? { headers: { 'idempotency-key': opts.idempotencyKey } } : {}) });
    return { url: r.url, status: r.status, json: r.json ?? { error: r.text }, attempts: r.attempts };
  }
}
