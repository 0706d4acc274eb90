/**
 * BufferWriter: a flat growable byte buffer for encoding. Lengths are written as placeholders and
 * patched once the body is known (`patch16`), so encoders never compute sizes up front and never
 * allocate per field. `flush()` returns a copy-free view of the bytes written so far and resets.
 */
export class BufferWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get offset(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
    return this;
  }

  /** an unsigned big-endian integer of `bytes` bytes (any width, e.g. 6 for a MAC, 16 for ct_label) */
  uint(v: bigint, bytes: number): this {
    this.ensure(bytes);
    if (bytes === 4) {
      this.buf.writeUInt32BE(Number(BigInt.asUintN(32, v)), this.pos);
    } else if (bytes === 8) {
      this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.pos);
    } else if (bytes <= 6) {
      this.buf.writeUIntBE(Number(BigInt.asUintN(bytes * 8, v)), this.pos, bytes);
    } else {
      let x = BigInt.asUintN(bytes * 8, v);
      for (let i = bytes - 1; i >= 0; i--) {
        this.buf[this.pos + i] = Number(x & 0xffn);
        x >>= 8n;
      }
    }
    this.pos += bytes;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    if (n <= 16) {
      // Buffer.fill costs more than a short loop for the few pad bytes OpenFlow needs
      const b = this.buf;
      for (let i = this.pos, end = this.pos + n; i < end; i++) b[i] = 0;
    } else {
      this.buf.fill(0, this.pos, this.pos + n);
    }
    this.pos += n;
    return this;
  }

  /** a fixed-width NUL-padded ASCII string (OpenFlow's char[N]) */
  fixedString(s: string, width: number): this {
    this.ensure(width);
    this.buf.fill(0, this.pos, this.pos + width);
    this.buf.write(s.slice(0, width), this.pos, 'latin1');
    this.pos += width;
    return this;
  }

  /** zero-fill up to the next multiple of `align` bytes counted from `start` */
  padTo(start: number, align = 8): this {
    const rem = (this.pos - start) % align;
    if (rem) this.zeros(align - rem);
    return this;
  }

  patch16(at: number, v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, at);
  }

  patch32(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  /** the bytes written since `from` (a view; valid until the next write) */
  view(from = 0): Buffer {
    return this.buf.subarray(from, this.pos);
  }

  /** copy out everything written and reset for reuse */
  flush(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }

  reset(): void {
    this.pos = 0;
  }

  /** drops everything written after `offset` (e.g. a message whose encoding failed half way) */
  truncate(offset: number): void {
    if (offset >= 0 && offset < this.pos) this.pos = offset;
  }
}
