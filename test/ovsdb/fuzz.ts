/**
 * Fuzzer of the OVSDB client's input side: valid server messages (replies, update/update2
 * notifications, locked/stolen, the server's echo, error replies) mutated by bit flips, truncations,
 * inserted bytes, deep nesting (up to 100,000 levels), wrong JSON types and deleted members, then fed
 *   1. to JsonStreamReader (split at random points),
 *   2. to JsonRpcConnection over an in-memory socket, with requests waiting,
 *   3. to a real OvsdbClient with two Replicas (monitor and monitor_cond) over a unix socket from an
 *      in-process fake server, with list_dbs/transact/lock/echo requests waiting for the mutated replies.
 * Every outcome must be a value of the right shape or an OvsdbError; nothing may escape as an uncaught
 * exception or unhandled rejection; every request settles; buffers, pending requests and replica rows
 * stay bounded. Inputs come from fast-check with a seed that is printed on failure.
 *
 * The short run is test/ovsdb/fuzz.test.ts (in `npm test`); the long one:
 *   npm run fuzz                                    # node --expose-gc dist/test/ovsdb/fuzz.js --count 1000000
 *   node dist/test/ovsdb/fuzz.js --count 20000 --seed 42 [--layers framer,rpc,client]
 */
import { EventEmitter } from 'events';
import fc from 'fast-check';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { JsonStreamReader, OvsdbClient, OvsdbError, Replica } from '../../fabric/ovsdb';
import { JsonRpcConnection } from '../../fabric/ovsdb/rpc';

export const FUZZ_SCHEMA = {
  name: 'Fuzz',
  version: '1.0.0',
  tables: {
    T: {
      isRoot: true,
      columns: {
        n: { type: 'integer' },
        s: { type: 'string' },
        opt: { type: { key: 'string', min: 0, max: 1 } },
        tags: { type: { key: 'string', min: 0, max: 'unlimited' } },
        kv: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        ref: { type: { key: { type: 'uuid', refTable: 'U', refType: 'weak' }, min: 0, max: 'unlimited' } },
      },
    },
    U: { isRoot: true, columns: { name: { type: 'string' } } },
  },
};

/** A small pool of row uuids, so a replica following random updates stays small. */
const UUIDS = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
export const MAX_ROWS = UUIDS.length * 2;

// ---------------------------------------------------------------- valid messages

/** A template: a valid message given the ids it may refer to. */
export interface Ids {
  monitorId: string;
  monitor2Id: string;
  /** a waiting request's id (or a guess) */
  requestId: number;
}

const rowT = (i: number): Record<string, unknown> => ({
  n: i,
  s: `row ${i}`,
  opt: i % 2 ? ['set', []] : 'x',
  tags: ['set', ['a', `t${i}`]],
  kv: ['map', [['k', `v${i}`]]],
  ref: ['set', [['uuid', UUIDS[i % UUIDS.length]]]],
});

export const TEMPLATES: ((ids: Ids, i: number) => unknown)[] = [
  (ids, i) => ({ id: null, method: 'update2', params: [ids.monitor2Id, { T: { [UUIDS[i % 8]]: { insert: rowT(i) } } }] }),
  (ids, i) => ({ id: null, method: 'update2', params: [ids.monitor2Id, { T: { [UUIDS[i % 8]]: { modify: { n: i, tags: ['set', ['a']], kv: ['map', [['k', 'v'], ['z', '1']]] } } } }] }),
  (ids, i) => ({ id: null, method: 'update2', params: [ids.monitor2Id, { T: { [UUIDS[i % 8]]: { delete: null } }, U: { [UUIDS[(i + 1) % 8]]: { initial: { name: 'u' } } } }] }),
  (ids, i) => ({ id: null, method: 'update', params: [ids.monitorId, { T: { [UUIDS[i % 8]]: { new: rowT(i) } } }] }),
  (ids, i) => ({ id: null, method: 'update', params: [ids.monitorId, { T: { [UUIDS[i % 8]]: { old: rowT(i), new: { ...rowT(i + 1), s: 'changed' } } } }] }),
  (ids, i) => ({ id: null, method: 'update', params: [ids.monitorId, { T: { [UUIDS[i % 8]]: { old: rowT(i) } } }] }),
  () => ({ id: null, method: 'locked', params: ['l'] }),
  () => ({ id: null, method: 'stolen', params: ['l'] }),
  (_ids, i) => ({ id: `echo-${i}`, method: 'echo', params: ['ping', i] }),
  (ids) => ({ id: ids.requestId, result: ['Fuzz', '_Server'], error: null }),
  (ids, i) => ({ id: ids.requestId, result: [{ rows: [{ _uuid: ['uuid', UUIDS[i % 8]], n: 1 }] }], error: null }),
  (ids) => ({ id: ids.requestId, result: { locked: true }, error: null }),
  (ids) => ({ id: ids.requestId, result: null, error: { error: 'unknown database', details: 'no such db' } }),
  (ids) => ({ id: ids.requestId, error: 'unknown method' }),
];

// ---------------------------------------------------------------- mutations

const DEEP_TOKEN = '"\u0000deep\u0000"';

export type Mutation =
  | { kind: 'none' }
  | { kind: 'retype'; node: number; to: number }
  | { kind: 'drop'; node: number }
  | { kind: 'nest'; node: number; depth: number; array: boolean }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] };

const WRONG_TYPES: unknown[] = [null, 'x', '', 0, -1.5, 1e308, true, false, [], {}, [null], { a: null }, ['set', [{}]], ['map', [[1]]], ['uuid', 7]];

/** Every container node of a JSON value (the root first). */
function containers(value: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      v.forEach((child, k) => {
        out.push({ parent: v, key: k });
        stack.push(child);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k });
        stack.push(child);
      }
    }
  }
  return out;
}

/** The mutated message as bytes. */
export function mutate(message: unknown, m: Mutation): Buffer {
  const value = JSON.parse(JSON.stringify(message)) as unknown;
  if (m.kind === 'retype' || m.kind === 'drop' || m.kind === 'nest') {
    const nodes = containers(value);
    if (nodes.length === 0) return Buffer.from(JSON.stringify(value));
    const { parent, key } = nodes[m.node % nodes.length];
    const set = (v: unknown): void => {
      (parent as Record<string | number, unknown>)[key] = v;
    };
    if (m.kind === 'retype') set(WRONG_TYPES[m.to % WRONG_TYPES.length]);
    else if (m.kind === 'drop') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else set(DEEP_TOKEN);
    let text = JSON.stringify(value);
    if (m.kind === 'nest') text = text.replace(DEEP_TOKEN, () => (m.array ? '['.repeat(m.depth) + ']'.repeat(m.depth) : '{"a":'.repeat(m.depth) + '1' + '}'.repeat(m.depth)));
    return Buffer.from(text, 'utf8');
  }
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  if (m.kind === 'flip') {
    bytes[m.at % bytes.length] ^= 1 << (m.bit % 8);
    return bytes;
  }
  if (m.kind === 'truncate') return bytes.subarray(0, m.at % bytes.length);
  if (m.kind === 'insert') {
    const at = m.at % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
  }
  return bytes;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('retype' as const), node: fc.nat(), to: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), node: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('nest' as const),
      node: fc.nat(),
      depth: fc.constantFrom(20, 999, 1000, 1001, 10_000, 100_000),
      array: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.array(fc.constantFrom(0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x3a, 0x00, 0xff, 0xc3, 0x20, 0x61), { minLength: 1, maxLength: 4 }),
    }),
  },
);

export interface FuzzMessage {
  template: number;
  /** which waiting request a reply answers (modulo the waiting ones), or a made-up id */
  target: number;
  mutation: Mutation;
}

export const messageArb: fc.Arbitrary<FuzzMessage> = fc.record({ template: fc.nat(TEMPLATES.length - 1), target: fc.nat(), mutation: mutationArb });
/** One case: a batch of messages, sent with these split points. */
export const caseArb = fc.record({ messages: fc.array(messageArb, { minLength: 1, maxLength: 6 }), cuts: fc.array(fc.nat(), { maxLength: 6 }) });
export type FuzzCase = { messages: FuzzMessage[]; cuts: number[] };

export function render(c: FuzzCase, ids: (target: number) => Ids): Buffer[] {
  return c.messages.map((m, i) => mutate(TEMPLATES[m.template](ids(m.target), i), m.mutation));
}

/** a buffer cut at the given points (modulo its length + 1; repeats merged) */
export function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  chunks.push(bytes.subarray(prev));
  return chunks;
}

// ---------------------------------------------------------------- checks

export class FuzzFailure extends Error {}

function typed(err: unknown, where: string): void {
  if (!(err instanceof OvsdbError)) throw new FuzzFailure(`${where}: untyped error ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
}

export interface FuzzStats {
  cases: number;
  messages: number;
  bytes: number;
  /** error name → count, per layer */
  outcomes: Record<string, number>;
}

export function newStats(): FuzzStats {
  return { cases: 0, messages: 0, bytes: 0, outcomes: {} };
}

function count(stats: FuzzStats, key: string): void {
  stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
}

const MAX_MESSAGE_BYTES = 1024 * 1024;
const fixedIds = (target: number): Ids => ({ monitorId: 'm-update', monitor2Id: 'm-update2', requestId: 1 + (target % 4) });

/** Layer 1: the framer alone. */
export function framerCase(c: FuzzCase, stats: FuzzStats): void {
  const bytes = Buffer.concat(render(c, fixedIds));
  const reader = new JsonStreamReader({ maxMessageBytes: MAX_MESSAGE_BYTES });
  try {
    for (const chunk of splitAt(bytes, c.cuts)) {
      reader.push(chunk);
      if (reader.bufferedBytes > MAX_MESSAGE_BYTES) throw new FuzzFailure(`framer: ${reader.bufferedBytes} bytes buffered past the limit`);
    }
    reader.end();
    count(stats, 'framer:ok');
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    typed(err, 'framer');
    count(stats, `framer:${(err as Error).name}`);
  }
}

/** An in-memory socket: what JsonRpcConnection uses of net.Socket. */
class MemorySocket extends EventEmitter {
  written = 0;
  destroyed = false;
  write(text: string): boolean {
    this.written += text.length;
    return true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/** Layer 2: JSON-RPC with four requests waiting; every one settles typed, the data handler never throws. */
export async function rpcCase(c: FuzzCase, stats: FuzzStats): Promise<void> {
  const socket = new MemorySocket();
  const rpc = new JsonRpcConnection(socket as unknown as net.Socket, {
    maxMessageBytes: MAX_MESSAGE_BYTES,
    echoIntervalMs: 0,
    echoTimeoutMs: 0,
    requestTimeoutMs: 0,
  });
  rpc.on('unexpected', () => undefined);
  rpc.on('notification', () => true);
  let closeReason: unknown;
  rpc.on('close', (reason: unknown) => (closeReason = reason));
  const outcomes = ['list_dbs', 'transact', 'lock', 'echo'].map((method) =>
    rpc.request(method, []).result.then(
      () => 'ok',
      (err: unknown) => {
        typed(err, `rpc ${method}`);
        return (err as Error).name;
      },
    ),
  );
  for (const chunk of splitAt(Buffer.concat(render(c, fixedIds)), c.cuts)) {
    try {
      socket.emit('data', chunk);
    } catch (err) {
      throw new FuzzFailure(`rpc: the data handler threw ${(err as Error)?.stack ?? String(err)}`);
    }
  }
  socket.emit('end');
  if (closeReason !== undefined) typed(closeReason, 'rpc close reason');
  for (const o of await Promise.all(outcomes)) count(stats, `rpc:${o}`);
  if (rpc.pendingCount !== 0) throw new FuzzFailure(`rpc: ${rpc.pendingCount} requests still pending after the close`);
}

// ---------------------------------------------------------------- layer 3: client + replicas over a socket

interface Held {
  id: unknown;
  method: string;
}

/** A fake ovsdb-server in this process: answers setup requests properly, the rest with the current case. */
export class FuzzServer {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-fuzz-'));
  readonly sock = path.join(this.dir, 'fuzz.sock');
  readonly url = `unix:${this.sock}`;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** the case to send when the batch marker echo arrives */
  current: FuzzCase | undefined;

  async start(): Promise<void> {
    this.server = net.createServer((socket) => this.onConnection(socket));
    await new Promise<void>((r) => this.server!.listen(this.sock, r));
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new JsonStreamReader();
    const held: Held[] = [];
    const monitors: Record<string, string> = {};
    const send = (v: unknown): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(v));
    };
    socket.on('data', (chunk) => {
      let requests: unknown[];
      try {
        requests = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const r of requests as { id: unknown; method: string; params: unknown[] }[]) {
        if (r.id === null || r.id === undefined) continue; // cancel and other notifications
        if (r.method === 'get_schema') send({ id: r.id, result: FUZZ_SCHEMA, error: null });
        else if (r.method === 'monitor' || r.method === 'monitor_cond') {
          monitors[r.method] = String(r.params[1]);
          const u = UUIDS[0];
          send({ id: r.id, result: { T: { [u]: r.method === 'monitor' ? { new: rowT(0) } : { initial: rowT(0) } } }, error: null });
        } else if (r.method === 'monitor_cancel') send({ id: r.id, result: {}, error: null });
        else if (r.method === 'echo' && r.params[0] === 'batch' && this.current) {
          const ids = (target: number): Ids => ({
            monitorId: monitors.monitor ?? 'none',
            monitor2Id: monitors.monitor_cond ?? 'none',
            requestId: held.length && target % 5 !== 4 ? (held[target % held.length].id as number) : 100_000 + target,
          });
          const bytes = Buffer.concat(render(this.current, ids));
          for (const chunk of splitAt(bytes, this.current.cuts)) if (!socket.destroyed) socket.write(chunk);
          // whatever the mutated replies did, answer every held request and the marker properly
          for (const h of held.splice(0)) send({ id: h.id, result: h.method === 'list_dbs' ? ['Fuzz'] : h.method === 'lock' ? { locked: false } : h.method === 'transact' ? [{ rows: [] }] : [], error: null });
          send({ id: r.id, result: r.params, error: null });
        } else held.push({ id: r.id, method: r.method });
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

interface Session {
  client: OvsdbClient;
  replicas: Replica[];
  reasons: unknown[];
  cases: number;
  messages: number;
}

/** A session is replaced after this many cases (bit flips in uuids make new rows: keep replicas small). */
const SESSION_CASES = 200;

/** Drives cases through one client session, opening a new one whenever a case closed the last. */
export class ClientFuzzer {
  private session: Session | undefined;
  readonly escaped: unknown[] = [];
  private readonly onUncaught = (err: unknown): void => {
    this.escaped.push(err);
  };
  private readonly onUnhandled = (err: unknown): void => {
    this.escaped.push(err);
  };
  sessions = 0;

  constructor(private readonly server: FuzzServer) {}

  /** Catch what would crash the process, to report it as a failure instead. */
  watchProcess(): void {
    process.on('uncaughtException', this.onUncaught);
    process.on('unhandledRejection', this.onUnhandled);
  }

  unwatchProcess(): void {
    process.off('uncaughtException', this.onUncaught);
    process.off('unhandledRejection', this.onUnhandled);
  }

  private async open(): Promise<Session> {
    const client = await OvsdbClient.connect(this.server.url, { requestTimeoutMs: 5000, echoIntervalMs: 0 });
    const session: Session = { client, replicas: [], reasons: [], cases: 0, messages: 0 };
    client.on('unexpected', () => undefined);
    client.on('locked', () => undefined);
    client.on('stolen', () => undefined);
    client.on('disconnect', (reason: unknown) => session.reasons.push(reason));
    session.replicas.push(await Replica.create(client, 'Fuzz', { T: undefined, U: undefined }, { method: 'monitor' }));
    session.replicas.push(await Replica.create(client, 'Fuzz', { T: undefined, U: undefined }, { method: 'monitor_cond' }));
    this.sessions++;
    return session;
  }

  async runCase(c: FuzzCase, stats: FuzzStats): Promise<void> {
    if (!this.session || !this.session.client.isConnected || this.session.cases >= SESSION_CASES) {
      if (this.session) await this.session.client.close();
      this.session = await this.open();
    }
    const { client, replicas, reasons } = this.session;
    this.session.cases++;
    this.session.messages += c.messages.length;
    this.server.current = c;
    const settle = (what: string, p: Promise<unknown>, shape: (v: unknown) => boolean): Promise<string> =>
      p.then(
        (v) => {
          if (!shape(v)) throw new FuzzFailure(`client ${what}: resolved with a value of the wrong shape: ${JSON.stringify(v)?.slice(0, 200)}`);
          return 'ok';
        },
        (err: unknown) => {
          if (err instanceof FuzzFailure) throw err;
          typed(err, `client ${what}`);
          return (err as Error).name;
        },
      );
    const waiting = [
      settle('list_dbs', client.listDbs(), (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')),
      settle('transact', client.transact('Fuzz', { op: 'select', table: 'T', where: [] }), (v) => Array.isArray(v) && v.length === 1 && Array.isArray((v[0] as { rows?: unknown }).rows)),
      settle('lock', client.lock('l'), (v) => typeof v === 'boolean'),
      settle('echo', client.echo('x'), (v) => Array.isArray(v)),
    ];
    // transact is written after its schema check (a few microtasks): let every request go out first
    await new Promise((r) => setImmediate(r));
    const marker = settle('batch echo', client.echo('batch'), (v) => Array.isArray(v));
    const outcomes = await Promise.all([...waiting, marker]);
    for (const o of outcomes.slice(0, -1)) count(stats, `client:${o}`);
    if (outcomes[outcomes.length - 1] === 'OvsdbTimeoutError') throw new FuzzFailure('client: the batch marker was not answered (a hang)');
    for (const r of reasons.splice(0)) {
      typed(r, 'client disconnect reason');
      count(stats, `client:disconnect:${(r as Error).name}`);
    }
    // a valid message names one of MAX_ROWS uuids; a mutated one (a flipped byte in a uuid) at most one more
    const bound = MAX_ROWS + this.session.messages;
    for (const replica of replicas) {
      const rows = replica.rows('T').size + replica.rows('U').size;
      if (rows > bound) throw new FuzzFailure(`client: a replica holds ${rows} rows (at most ${bound} uuids were sent)`);
    }
    if (this.escaped.length) throw new FuzzFailure(`client: an exception escaped: ${(this.escaped[0] as Error)?.stack ?? String(this.escaped[0])}`);
  }

  async close(): Promise<void> {
    await this.session?.client.close();
    this.session = undefined;
  }
}

// ---------------------------------------------------------------- runner

export type Layer = 'framer' | 'rpc' | 'client';

export interface FuzzRunOptions {
  seed: number;
  /** cases (each 1–6 messages) */
  cases: number;
  layers: Layer[];
  /** called every `progressEvery` cases */
  progress?: (stats: FuzzStats) => void;
  progressEvery?: number;
}

/** Run the fuzzer; rejects (via fast-check, with the seed and the failing case) on the first failure. */
export async function runFuzz(options: FuzzRunOptions): Promise<FuzzStats> {
  const stats = newStats();
  const server = options.layers.includes('client') ? new FuzzServer() : undefined;
  const fuzzer = server ? new ClientFuzzer(server) : undefined;
  await server?.start();
  fuzzer?.watchProcess();
  try {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        stats.cases++;
        stats.messages += c.messages.length;
        if (options.layers.includes('framer')) framerCase(c, stats);
        if (options.layers.includes('rpc')) await rpcCase(c, stats);
        if (fuzzer) await fuzzer.runCase(c, stats);
        if (options.progress && stats.cases % (options.progressEvery ?? 10_000) === 0) options.progress(stats);
      }),
      { seed: options.seed, numRuns: options.cases, endOnFailure: true },
    );
  } finally {
    fuzzer?.unwatchProcess();
    await fuzzer?.close();
    await server?.close();
  }
  return stats;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const seed = Number(argValue('--seed') ?? process.env.FABRIC_SEED) || Date.now() % 2 ** 31;
  const messages = Number(argValue('--count') ?? 1_000_000);
  const layers = (argValue('--layers') ?? 'framer,rpc,client').split(',') as Layer[];
  const cases = Math.ceil(messages / 3.5); // a case holds 1–6 messages, 3.5 on average
  process.stdout.write(`ovsdb fuzz: seed=${seed} (replay with --seed ${seed}), about ${messages} messages in ${cases} cases, layers ${layers.join(',')}\n`);
  const gc = (globalThis as { gc?: () => void }).gc;
  const heapMiB = (): number => {
    gc?.();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  const startHeap = heapMiB();
  let maxHeap = startHeap;
  const started = Date.now();
  const stats = await runFuzz({
    seed,
    cases,
    layers,
    progressEvery: 10_000,
    progress: (s) => {
      const heap = heapMiB();
      maxHeap = Math.max(maxHeap, heap);
      process.stdout.write(`  ${s.cases} cases, ${s.messages} messages, ${((Date.now() - started) / 1000).toFixed(0)} s, heap ${heap.toFixed(0)} MiB\n`);
    },
  }).catch((err: unknown) => {
    process.stderr.write(`ovsdb fuzz: FAILED with seed=${seed}\n${(err as Error).message}\n`);
    process.exit(1);
  });
  const endHeap = heapMiB();
  process.stdout.write(
    `ovsdb fuzz: passed: ${stats.cases} cases, ${stats.messages} messages, ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `heap ${startHeap.toFixed(0)} → ${endHeap.toFixed(0)} MiB (max ${maxHeap.toFixed(0)}${gc ? ', after gc' : ', run with --expose-gc for exact figures'})\n`,
  );
  for (const [k, v] of Object.entries(stats.outcomes).sort()) process.stdout.write(`  ${k}: ${v}\n`);
  // memory bounded: nothing may accumulate with the number of messages
  if (gc && endHeap - startHeap > 256) {
    process.stderr.write(`ovsdb fuzz: heap grew by ${(endHeap - startHeap).toFixed(0)} MiB\n`);
    process.exit(1);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`ovsdb fuzz: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
