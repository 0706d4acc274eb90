/**
 * A minimal OVSDB JSON-RPC client (RFC 7047) over a unix socket, for the OVN peer harness only: one
 * `transact`/`select` at a time, answers the server's echo. Bulk loading through it avoids both the
 * command-line length limit of one batched `ovn-nbctl` call and thousands of process starts.
 * (fabric/ovsdb is the project's real client; this one stays small so the peer does not depend on it.)
 */
import * as net from 'net';

export class OvsdbRpcError extends Error {
  override readonly name = 'OvsdbRpcError';
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Splits a byte stream into complete top-level JSON texts (objects), honouring strings and escapes. */
export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  push(chunk: string): string[] {
    this.buffer += chunk;
    const out: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
        continue;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) this.depth++;
      else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 0) {
          out.push(this.buffer.slice(start, i + 1).trim());
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    return out;
  }
}

export class OvsdbRpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new JsonStreamSplitter();
  private closed = false;

  private constructor(private readonly socket: net.Socket, readonly database: string, private readonly requestTimeoutMs: number) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (const text of this.splitter.push(chunk)) this.onMessage(text);
    });
    const fail = (why: string) => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new OvsdbRpcError(`${database}: ${why}`));
      this.pending.clear();
    };
    socket.on('error', (e) => fail(e.message));
    socket.on('close', () => fail('connection closed'));
  }

  /** `requestTimeoutMs`: a request unanswered this long fails (the server is stuck or gone), never hangs. */
  static connect(socketPath: string, database: string, requestTimeoutMs = 30 * 60_000): Promise<OvsdbRpc> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new OvsdbRpcError(`connect ${socketPath}: no connection in ${requestTimeoutMs} ms`));
      }, requestTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new OvsdbRpc(socket, database, requestTimeoutMs));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new OvsdbRpcError(`connect ${socketPath}: ${e.message}`));
      });
    });
  }

  private onMessage(text: string): void {
    let msg: { id?: unknown; method?: string; result?: unknown; error?: unknown; params?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.method === 'echo') {
      this.socket.write(JSON.stringify({ id: msg.id, result: msg.params ?? [], error: null }));
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new OvsdbRpcError(`${this.database}: ${JSON.stringify(msg.error)}`));
    else p.resolve(msg.result);
  }

  request(method: string, params: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new OvsdbRpcError(`${this.database}: connection closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OvsdbRpcError(`${this.database}: ${method} got no answer in ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      const done = <T>(f: (v: T) => void) => (v: T): void => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject) });
      this.socket.write(JSON.stringify({ id, method, params }));
    });
  }

  /** Runs one transaction; throws when any operation failed (with the failing op's error). */
  async transact(operations: object[]): Promise<Array<Record<string, unknown>>> {
    const result = (await this.request('transact', [this.database, ...operations])) as Array<Record<string, unknown> | null>;
    const failed = result.findIndex((r) => r && typeof r.error === 'string');
    if (failed >= 0) {
      const r = result[failed]!;
      throw new OvsdbRpcError(`${this.database}: transact op ${failed} failed: ${String(r.error)}: ${String(r.details ?? '')}`);
    }
    return result as Array<Record<string, unknown>>;
  }

  async select(table: string, columns: string[], where: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    const [r] = await this.transact([{ op: 'select', table, where, columns }]);
    return r.rows as Array<Record<string, unknown>>;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
