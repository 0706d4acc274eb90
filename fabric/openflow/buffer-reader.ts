/**
 * BufferReader: bounds-checked big-endian reads over one message. Every read past `end` throws a
 * typed OpenFlowError('truncated'), so decoders never index outside their message and never
 * return garbage for short input. `sub(n)` gives a reader limited to the next n bytes (a nested
 * TLV), advancing this one past them.
 */
import { OpenFlowError } from './errors';

export class BufferReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  private readonly what: string;

  constructor(buf: Buffer, start = 0, end = buf.length, what = 'message') {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.what = what;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new OpenFlowError('truncated', `${this.what}: needs ${n} bytes at offset ${this.pos}, has ${this.end - this.pos}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** an unsigned big-endian integer of any byte width as bigint */
  uint(bytes: number): bigint {
    this.need(bytes);
    let v: bigint;
    if (bytes === 4) v = BigInt(this.buf.readUInt32BE(this.pos));
    else if (bytes === 8) v = this.buf.readBigUInt64BE(this.pos);
    else if (bytes <= 6) v = BigInt(this.buf.readUIntBE(this.pos, bytes));
    else {
      v = 0n;
      for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i]);
    }
    this.pos += bytes;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** a view (no copy) of the next n bytes */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  rest(): Buffer {
    return this.bytes(this.end - this.pos);
  }

  /** char[width], up to the first NUL */
  fixedString(width: number): string {
    const b = this.bytes(width);
    const nul = b.indexOf(0);
    return b.toString('latin1', 0, nul < 0 ? width : nul);
  }

  peekU16(at = this.pos): number {
    if (at + 2 > this.end) throw new OpenFlowError('truncated', `${this.what}: needs 2 bytes at offset ${at}`);
    return this.buf.readUInt16BE(at);
  }

  /** a reader over the next n bytes; this one moves past them */
  sub(n: number, what = this.what): BufferReader {
    if (n < 0 || this.pos + n > this.end) {
      throw new OpenFlowError('bad-length', `${what}: length ${n} at offset ${this.pos} runs past the end (${this.end - this.pos} left)`);
    }
    const r = new BufferReader(this.buf, this.pos, this.pos + n, what);
    this.pos += n;
    return r;
  }
}
