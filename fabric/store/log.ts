/**
 * The embedded intent store (`fabric controller --state-dir DIR`): an append-only log file,
 * DIR/intent.log, one JSON line per accepted batch:
 *
 *   {"rev":7,"sum":"3f9a0c2e5d1b7a44","batch":{"source":"api","events":[...],"at":"..."}}
 *
 * `sum` is the first 16 hex digits of SHA-256 over `REV:` + the batch's JSON. An append writes the
 * line and fsyncs the file before it resolves (the controller acknowledges a change only after that).
 * Load reads every line: a bad last line (no newline, unparsable, wrong checksum or revision) is the
 * torn write of a crash: it is dropped and the file truncated to the last good line; a bad line with
 * good lines after it is corruption (StoreCorruptError: the controller does not start on it). One
 * process per directory (DIR/lock holds its pid; a lock of a dead process is taken over).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { compactedRecord, StoreCorruptError } from './types';
import type { IntentBatch, IntentStore, StoredBatch } from './types';

export function batchChecksum(revision: number, batchJson: string): string {
  return createHash('sha256').update(`${revision}:${batchJson}`).digest('hex').slice(0, 16);
}

/** One line of the log (with its newline). */
export function encodeRecord(revision: number, batch: IntentBatch): string {
  const json = JSON.stringify(batch);
  return `{"rev":${revision},"sum":"${batchChecksum(revision, json)}","batch":${json}}\n`;
}

export interface ParsedLog {
  batches: StoredBatch[];
  /** bytes of the good prefix (what is kept) */
  goodBytes: number;
  /** a torn last line was found (and is not part of goodBytes) */
  torn: boolean;
  /** the byte offset just after each good record (its newline included) */
  ends: number[];
}

/** Parse a log's bytes: the good records, the torn tail dropped; corruption before the end throws. */
export function parseLog(data: Buffer): ParsedLog {
  const batches: StoredBatch[] = [];
  const ends: number[] = [];
  let offset = 0;
  while (offset < data.length) {
    const nl = data.indexOf(0x0a, offset);
    const end = nl < 0 ? data.length : nl;
    const line = data.subarray(offset, end).toString('utf8');
    // revisions are dense; only the first record may start above 1, and only a compacted one
    const expected = batches.length === 0 ? undefined : batches[batches.length - 1].revision + 1;
    const record = nl < 0 ? undefined : readRecord(line, expected);
    if (!record) {
      // the last line (nothing but the tail after it) is a torn write; anything else is corruption
      const rest = nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1);
      if (rest.every((b) => b === 0 || b === 0x0a)) return { batches, goodBytes: offset, torn: true, ends };
      throw new StoreCorruptError(`intent log: record ${batches.length + 1} at byte ${offset} is damaged and is not the last one (${JSON.stringify(line.slice(0, 80))})`);
    }
    batches.push(record);
    offset = end + 1;
    ends.push(offset);
  }
  return { batches, goodBytes: offset, torn: false, ends };
}

/** One record; `expected` undefined: the first one (revision 1, or any revision for a compacted record). */
function readRecord(line: string, expected: number | undefined): StoredBatch | undefined {
  let rec: { rev?: unknown; sum?: unknown; batch?: unknown };
  try {
    rec = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (rec === null || typeof rec !== 'object' || typeof rec.rev !== 'number' || typeof rec.sum !== 'string') return undefined;
  const batch = rec.batch as IntentBatch | undefined;
  if (!batch || typeof batch !== 'object' || !Array.isArray(batch.events)) return undefined;
  const rev = rec.rev;
  if (expected !== undefined ? rev !== expected : rev !== 1 && !(Number.isInteger(rev) && rev > 1 && batch.source === 'compacted' && batch.compacted?.to === rev)) return undefined;
  if (batchChecksum(rev, JSON.stringify(batch)) !== rec.sum) return undefined;
  return { ...batch, revision: rev };
}

export interface LogStoreOptions {
  /** fsync after every append (default true; false only for benchmarks of the difference) */
  fsync?: boolean;
  /** called when load dropped a torn last line */
  onTorn?: (droppedBytes: number) => void;
}

export class LogStore implements IntentStore {
  readonly describe: string;
  readonly file: string;
  /** where compact() writes the new log before renaming it over `file` */
  readonly compactFile: string;
  private readonly lockFile: string;
  private fd: number | undefined;
  private revision = 0;
  /** what recover() read, handed to the first load() and then dropped (nothing grows in memory) */
  private loaded: StoredBatch[] | undefined;
  private readonly watchers = new Set<(b: StoredBatch) => void>();

  private constructor(
    readonly dir: string,
    private readonly options: LogStoreOptions,
  ) {
    this.describe = `log:${dir}`;
    this.file = path.join(dir, 'intent.log');
    this.compactFile = path.join(dir, 'intent.log.compact');
    this.lockFile = path.join(dir, 'lock');
  }

  /** Open (create) DIR/intent.log, take DIR/lock, read the log (dropping a torn last line). */
  static open(dir: string, options: LogStoreOptions = {}): LogStore {
    fs.mkdirSync(dir, { recursive: true });
    const s = new LogStore(dir, options);
    s.lock();
    try {
      s.recover();
    } catch (err) {
      s.unlock();
      throw err;
    }
    return s;
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.lockFile, `${process.pid}\n`, { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(fs.readFileSync(this.lockFile, 'utf8').trim());
        if (pid > 0 && pid !== process.pid && alive(pid)) throw new Error(`--state-dir ${this.dir}: in use by process ${pid} (${this.lockFile})`);
        fs.rmSync(this.lockFile, { force: true }); // a dead process's lock
      }
    }
    throw new Error(`--state-dir ${this.dir}: cannot take ${this.lockFile}`);
  }

  private unlock(): void {
    try {
      if (fs.readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) fs.rmSync(this.lockFile, { force: true });
    } catch {
      /* gone */
    }
  }

  private recover(): void {
    // a compaction that crashed before its rename: the old log is intact, the new one is dropped
    if (fs.existsSync(this.compactFile)) {
      fs.rmSync(this.compactFile, { force: true });
      fsyncDir(this.dir);
    }
    const created = !fs.existsSync(this.file);
    this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    if (created) fsyncDir(this.dir);
    const data = fs.readFileSync(this.file);
    const parsed = parseLog(data);
    if (parsed.torn) {
      fs.ftruncateSync(this.fd, parsed.goodBytes);
      fs.fsyncSync(this.fd);
      this.options.onTorn?.(data.length - parsed.goodBytes);
    }
    this.loaded = parsed.batches;
    this.revision = parsed.batches.length ? parsed.batches[parsed.batches.length - 1].revision : 0;
  }

  async load(): Promise<{ revision: number; batches: StoredBatch[] }> {
    const batches = this.loaded ?? parseLog(fs.readFileSync(this.file)).batches;
    this.loaded = undefined;
    return { revision: batches.length ? batches[batches.length - 1].revision : 0, batches };
  }

  /** appends and compactions, one at a time (an append during a compaction waits for its rename) */
  private queue: Promise<unknown> = Promise.resolve();

  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  append(batch: IntentBatch): Promise<number> {
    return this.serial(() => this.appendNow(batch));
  }

  private appendNow(batch: IntentBatch): number {
    if (this.fd === undefined) throw new Error('intent log: closed');
    const revision = this.revision + 1;
    const line = Buffer.from(encodeRecord(revision, batch), 'utf8');
    let written = 0;
    while (written < line.length) written += fs.writeSync(this.fd, line, written, line.length - written);
    if (this.options.fsync ?? true) fs.fsyncSync(this.fd);
    this.revision = revision;
    const stored: StoredBatch = { ...batch, revision };
    this.loaded?.push(stored);
    for (const w of [...this.watchers]) w(stored);
    return revision;
  }

  /**
   * Replace records 1..upTo by one compacted record (revision upTo): write DIR/intent.log.compact
   * (that record, then every record after upTo copied byte for byte), fsync it, rename it over
   * intent.log, fsync the directory. A crash before the rename leaves the old log (the leftover
   * .compact file is deleted at open); after it, the new log is complete (it was fsynced first).
   */
  compact(upTo: number, batch: IntentBatch): Promise<void> {
    return this.serial(() => this.compactNow(upTo, batch));
  }

  /** test hook: called after the .compact file is fsynced, before the rename (a throw = a crash there) */
  beforeRename?: () => void;

  private async compactNow(upTo: number, batch: IntentBatch): Promise<void> {
    if (this.fd === undefined) throw new Error('intent log: closed');
    const data = await fs.promises.readFile(this.file);
    const parsed = parseLog(data);
    if (parsed.torn) throw new StoreCorruptError('intent log: a torn record in the middle of a running log; not compacting');
    const record = compactedRecord(upTo, batch, parsed.batches[0], this.revision);
    const at = parsed.batches.findIndex((b) => b.revision === upTo);
    const head = Buffer.from(encodeRecord(upTo, record), 'utf8');
    const tail = data.subarray(parsed.ends[at]);
    const out = await fs.promises.open(this.compactFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    try {
      await out.writeFile(Buffer.concat([head, tail]));
      await out.sync();
    } finally {
      await out.close();
    }
    this.beforeRename?.(); // a throw here (tests) is a crash before the rename: the .compact file stays
    await fs.promises.rename(this.compactFile, this.file);
    fsyncDir(this.dir);
    const fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_APPEND);
    const old = this.fd;
    this.fd = fd;
    fs.closeSync(old);
    if (this.loaded) this.loaded = [{ ...record, revision: upTo }, ...this.loaded.filter((b) => b.revision > upTo)];
  }

  watch(fromRevision: number, cb: (batch: StoredBatch) => void): () => void {
    if (fromRevision < this.revision) for (const b of this.loaded ?? parseLog(fs.readFileSync(this.file)).batches) if (b.revision > fromRevision) cb(b);
    this.watchers.add(cb);
    return () => this.watchers.delete(cb);
  }

  async close(): Promise<void> {
    await this.queue;
    this.watchers.clear();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.unlock();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* not supported here: the file's own fsync still holds its data */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
