/**
 * JSON-RPC 1.0 over one OVSDB stream: numbered requests matched to replies, notifications, answers to
 * the server's `echo`, our own echo keepalive, and failure of every waiting request when the stream
 * closes. Anything unexpected (a reply to an unknown id, an unknown notification or request, a message
 * that is neither) is reported as an `unexpected` event and otherwise ignored.
 *
 * Nothing thrown while handling a message escapes into the socket's handlers: a throw from a
 * notification or reply handler (a malformed update refused by its check, a failing monitor callback)
 * closes the connection with that error as the reason (an OvsdbProtocolError when it was not an
 * OvsdbError), so waiting requests fail with OvsdbDisconnectedError and a reconnecting client resyncs.
 */
import { EventEmitter } from 'events';
import type { Socket } from 'net';
import { OvsdbDisconnectedError, OvsdbError, OvsdbProtocolError, OvsdbRpcError, OvsdbTimeoutError, OvsdbUsageError } from './errors';
import { JsonStreamReader } from './framing';

export interface UnexpectedMessage {
  kind: 'reply-to-unknown-id' | 'unknown-notification' | 'unknown-request' | 'malformed';
  message: unknown;
}

export interface RpcOptions {
  maxMessageBytes: number;
  /** send an echo after this long without receiving anything (0 = never) */
  echoIntervalMs: number;
  /** close when our echo is not answered within this */
  echoTimeoutMs: number;
  /** reject a request not answered within this (0 = wait for the reply or the close) */
  requestTimeoutMs: number;
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(err: Error): void;
  /** called synchronously when the reply arrives, before later messages are handled */
  onReply?(result: unknown): void;
  timer?: NodeJS.Timeout;
}

/** Events: 'notification' (method, params), 'unexpected' (UnexpectedMessage), 'send' (message), 'close' (error?). */
export class JsonRpcConnection extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader: JsonStreamReader;
  private closedWith: Error | undefined;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private echoOutstanding = false;

  constructor(
    private readonly socket: Socket,
    private readonly options: RpcOptions,
  ) {
    super();
    this.reader = new JsonStreamReader({ maxMessageBytes: options.maxMessageBytes });
    socket.on('data', (chunk: Buffer) => this.guard(() => this.onData(chunk)));
    socket.on('end', () =>
      this.guard(() => {
        this.reader.end();
        this.shutdown(new OvsdbDisconnectedError('connection closed by peer'));
      }),
    );
    socket.on('error', (err) => this.shutdown(new OvsdbDisconnectedError(`connection error: ${err.message}`)));
    socket.on('close', () => this.shutdown(new OvsdbDisconnectedError('connection closed')));
    this.armIdleTimer();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Send a request; the promise settles with the reply, a typed error, or the close. */
  request(method: string, params: unknown[], onReply?: (result: unknown) => void): { id: number; result: Promise<unknown> } {
    const id = this.nextId++;
    const result = new Promise<unknown>((resolve, reject) => {
      if (this.closed) {
        reject(new OvsdbDisconnectedError(`${method}: not connected${this.closedWith ? ` (${this.closedWith.message})` : ''}`));
        return;
      }
      const entry: Pending = { method, resolve, reject, onReply };
      if (this.options.requestTimeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new OvsdbTimeoutError(`${method}: no reply within ${this.options.requestTimeoutMs} ms`));
        }, this.options.requestTimeoutMs);
        entry.timer.unref();
      }
      this.pending.set(id, entry);
      this.write({ method, params, id });
    });
    return { id, result };
  }

  /** Stop waiting for a request's reply: it rejects with `error`; a late reply becomes 'unexpected'. */
  abandon(id: number, error: Error): boolean {
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    entry.reject(error);
    return true;
  }

  notify(method: string, params: unknown[]): void {
    if (!this.closed) this.write({ method, params, id: null });
  }

  close(): void {
    this.shutdown(new OvsdbDisconnectedError('connection closed by client'));
  }

  /** Close because of `reason` (e.g. a protocol error found after the reply was handled). */
  fail(reason: Error): void {
    this.shutdown(reason);
  }

  /**
   * Run a socket handler's work; whatever it throws closes the connection instead of escaping into
   * the socket's event handler (an uncaught exception in the process).
   */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.shutdown(err instanceof Error ? err : new OvsdbProtocolError(`read: handler threw ${String(err)}`));
    }
  }

  private write(message: unknown): void {
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (err) {
      throw new OvsdbUsageError(`write: message is not serialisable as JSON: ${(err as Error).message}`);
    }
    this.emit('send', message);
    this.socket.write(text);
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.closed || this.options.echoIntervalMs <= 0) return;
    this.idleTimer = setTimeout(() => this.onIdle(), this.echoOutstanding ? this.options.echoTimeoutMs : this.options.echoIntervalMs);
    this.idleTimer.unref();
  }

  private onIdle(): void {
    if (this.closed) return;
    if (this.echoOutstanding) {
      this.shutdown(new OvsdbTimeoutError(`echo: no answer within ${this.options.echoTimeoutMs} ms, closing`));
      return;
    }
    this.echoOutstanding = true;
    // Any received byte proves liveness; the reply itself needs no handling.
    this.request('echo', []).result.catch(() => undefined);
    this.armIdleTimer();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.echoOutstanding = false;
    this.armIdleTimer();
    let messages: unknown[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.shutdown(err as Error);
      return;
    }
    for (const message of messages) {
      if (this.closed) return;
      this.dispatch(message);
    }
  }

  private dispatch(message: unknown): void {
    if (!message || typeof message !== 'object' || Array.isArray(message)) {
      this.emit('unexpected', { kind: 'malformed', message } satisfies UnexpectedMessage);
      return;
    }
    const m = message as Record<string, unknown>;
    if (typeof m.method === 'string') {
      const params = Array.isArray(m.params) ? m.params : [];
      if (m.id === null || m.id === undefined) {
        if (this.listenerCount('notification') === 0 || !this.emit('notification', m.method, params, message)) {
          this.emit('unexpected', { kind: 'unknown-notification', message } satisfies UnexpectedMessage);
        }
        return;
      }
      if (m.method === 'echo') {
        this.write({ id: m.id, result: m.params ?? [], error: null });
        return;
      }
      this.emit('unexpected', { kind: 'unknown-request', message } satisfies UnexpectedMessage);
      this.write({ id: m.id, result: null, error: 'unknown method' });
      return;
    }
    if ('result' in m || 'error' in m) {
      const entry = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (!entry) {
        this.emit('unexpected', { kind: 'reply-to-unknown-id', message } satisfies UnexpectedMessage);
        return;
      }
      this.pending.delete(m.id as number);
      if (entry.timer) clearTimeout(entry.timer);
      if (m.error !== null && m.error !== undefined) {
        const err = m.error as { error?: unknown; details?: unknown };
        entry.reject(
          typeof err === 'object' && err && 'error' in err
            ? new OvsdbRpcError(entry.method, err.error, err.details)
            : new OvsdbRpcError(entry.method, m.error),
        );
        return;
      }
      try {
        entry.onReply?.(m.result);
      } catch (err) {
        entry.reject(err as Error);
        return;
      }
      entry.resolve(m.result);
      return;
    }
    this.emit('unexpected', { kind: 'malformed', message } satisfies UnexpectedMessage);
  }

  private shutdown(reason: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = reason;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.destroy();
    const failure =
      reason instanceof OvsdbDisconnectedError ? reason : new OvsdbDisconnectedError(`connection lost: ${reason.message}`);
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      if (entry.timer) clearTimeout(entry.timer);
      const err = new OvsdbDisconnectedError(`${entry.method}: ${failure.message}`);
      (err as { cause?: unknown }).cause = reason;
      entry.reject(err);
    }
    try {
      this.emit('close', reason instanceof OvsdbError ? reason : Object.assign(new OvsdbProtocolError(reason.message), { cause: reason }));
    } catch (err) {
      // a 'close' (or the client's 'disconnect') listener threw: report it, never throw into the socket
      process.emitWarning(`ovsdb: a close listener threw: ${(err as Error)?.message ?? String(err)}`, 'OvsdbListenerWarning');
    }
  }
}
