/**
 * Framing of a JSON-RPC byte stream as OVSDB speaks it (RFC 7047 §2): JSON texts written back to back
 * with no delimiter. The reader works on bytes, finds where each top-level object or array ends by
 * tracking nesting depth and string/escape state, and decodes UTF-8 only for a complete value, so a TCP
 * split anywhere (inside a string, inside an escape, inside a multi-byte character) changes nothing.
 * It refuses a value longer than `maxMessageBytes` as soon as the limit is passed, without buffering on.
 */
import { OvsdbMessageTooLargeError, OvsdbProtocolError } from './errors';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

export interface JsonStreamReaderOptions {
  maxMessageBytes?: number;
}

export class JsonStreamReader {
  readonly maxMessageBytes: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** byte slices of the value being read (only while depth > 0) */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** once the stream is broken it stays broken: the same error for every later push */
  private failure: Error | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options: JsonStreamReaderOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Bytes of an unfinished value currently held (for tests of the memory bound). */
  get bufferedBytes(): number {
    return this.pieceBytes;
  }

  /** True when no partial value is pending (a close now would lose nothing). */
  get idle(): boolean {
    return this.depth === 0 && !this.failure;
  }

  /**
   * Feed one chunk; returns the complete values it finished, in order. Throws OvsdbProtocolError
   * (or OvsdbMessageTooLargeError) when the stream is not a sequence of JSON objects/arrays; values
   * completed earlier in the same chunk are lost then, which is fine since the connection closes.
   */
  push(chunk: Uint8Array): unknown[] {
    if (this.failure) throw this.failure;
    try {
      return this.scan(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.failure = err as Error;
      this.pieces = [];
      this.pieceBytes = 0;
      throw err;
    }
  }

  /** Call at end of stream: an unfinished value is a typed error. */
  end(): void {
    if (this.failure) return;
    if (this.depth > 0) {
      const held = this.pieceBytes;
      this.pieces = [];
      this.pieceBytes = 0;
      this.failure = new OvsdbProtocolError(`read: stream ended inside a JSON value (${held} bytes unfinished)`);
      throw this.failure;
    }
  }

  private scan(chunk: Buffer): unknown[] {
    const values: unknown[] = [];
    let start = this.depth > 0 ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const byte = chunk[i];
      if (this.depth === 0) {
        if (isJsonWhitespace(byte)) continue;
        if (byte !== OPEN_BRACE && byte !== OPEN_BRACKET) {
          throw new OvsdbProtocolError(
            `read: unexpected byte 0x${byte.toString(16).padStart(2, '0')} between JSON values (a message must be an object)`,
          );
        }
        this.depth = 1;
        start = i;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        else {
          // fast path: skip to the next quote or backslash
          const q = chunk.indexOf(QUOTE, i + 1);
          const b = chunk.indexOf(BACKSLASH, i + 1);
          let next = q === -1 ? b : b === -1 ? q : Math.min(q, b);
          if (next === -1) next = n;
          i = next - 1;
        }
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          const piece = chunk.subarray(start, i + 1);
          this.checkSize(this.pieceBytes + piece.length);
          this.pieces.push(piece);
          values.push(this.decodeValue());
          start = -1;
        }
      }
    }
    if (this.depth > 0 && start >= 0) {
      const piece = chunk.subarray(start);
      // Stop buffering past the limit: check before keeping the piece.
      this.checkSize(this.pieceBytes + piece.length);
      this.pieces.push(piece);
      this.pieceBytes += piece.length;
    }
    return values;
  }

  private checkSize(bytes: number): void {
    if (bytes > this.maxMessageBytes) throw new OvsdbMessageTooLargeError(this.maxMessageBytes);
  }

  private decodeValue(): unknown {
    const bytes = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
    this.pieces = [];
    this.pieceBytes = 0;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      throw new OvsdbProtocolError('read: a JSON value is not valid UTF-8');
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new OvsdbProtocolError(`read: invalid JSON: ${(err as Error).message}`);
    }
  }
}
