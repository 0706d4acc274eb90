/**
 * Framing of a JSON-RPC byte stream as OVSDB speaks it (RFC 7047 §2): JSON texts written back to back
 * with no delimiter. The reader works on bytes, finds where each top-level object or array ends by
 * tracking nesting depth and string/escape state, and decodes UTF-8 only for a complete value, so a TCP
 * split anywhere (inside a string, inside an escape, inside a multi-byte character) changes nothing.
 * It refuses a value longer than `maxMessageBytes` as soon as the limit is passed, without buffering on,
 * and a value nested deeper than `maxDepth` as soon as that depth is reached, so nothing downstream
 * (JSON.parse, JSON.stringify of an echoed id or an error, our own readers) meets unbounded nesting.
 *
 * A light syntax check outside strings (see BYTE_CLASS) refuses a corrupt stream at the first byte
 * that cannot be JSON there, instead of waiting for a value that a lost quote or a truncated message
 * will never let end.
 *
 * Linear time: inside a string it jumps to the next quote or backslash with Buffer.indexOf, and keeps
 * the position found for each until the scan passes it, so every byte is searched at most once per kind
 * (searching anew from each string start was quadratic on replies with many short strings).
 */
import { OvsdbMessageTooLargeError, OvsdbProtocolError } from './errors';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/**
 * Deepest nesting of objects/arrays accepted. OVSDB messages nest about 10 deep (a map of uuids in a
 * row update); 1000 is far above any real message and far below what overflows the stack in
 * JSON.stringify (about 10,000 levels).
 */
export const DEFAULT_MAX_DEPTH = 1000;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Classes of bytes outside strings, for a light syntax check while framing: a value after a value
 * without a separator, a separator where a value belongs, or a byte that cannot appear in JSON outside
 * a string means the stream is corrupt (a lost or extra quote turns strings inside out; a truncated
 * message swallows the next ones). Refusing it at once beats waiting for a value that never ends.
 * What the check lets through (mismatched brackets, a bad number) JSON.parse refuses at the value's end.
 */
const C_INVALID = 0;
const C_SPACE = 1;
const C_QUOTE = 2;
const C_OPEN = 3;
const C_CLOSE = 4;
const C_SEPARATOR = 5;
const C_LITERAL = 6;
const BYTE_CLASS = new Uint8Array(256);
for (const c of ' \t\n\r') BYTE_CLASS[c.charCodeAt(0)] = C_SPACE;
BYTE_CLASS[QUOTE] = C_QUOTE;
BYTE_CLASS[OPEN_BRACE] = BYTE_CLASS[OPEN_BRACKET] = C_OPEN;
BYTE_CLASS[CLOSE_BRACE] = BYTE_CLASS[CLOSE_BRACKET] = C_CLOSE;
BYTE_CLASS[0x2c] = BYTE_CLASS[0x3a] = C_SEPARATOR;
for (const c of '0123456789-+.eEtruefalsn') BYTE_CLASS[c.charCodeAt(0)] = C_LITERAL;

/** Where the syntax check is, outside strings, inside a value. */
const S_EXPECT_VALUE = 0; // after , or :
const S_AFTER_VALUE = 1; // after a string or a closed container
const S_IN_LITERAL = 2; // inside a number, true, false or null
const S_OPENED = 3; // just after { or [: a value or the close

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

export interface JsonStreamReaderOptions {
  maxMessageBytes?: number;
  /** deepest nesting of objects and arrays (default DEFAULT_MAX_DEPTH) */
  maxDepth?: number;
}

export class JsonStreamReader {
  readonly maxMessageBytes: number;
  readonly maxDepth: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** syntax check state outside strings (S_…) */
  private state = S_OPENED;
  /** byte slices of the value being read (only while depth > 0) */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** once the stream is broken it stays broken: the same error for every later push */
  private failure: Error | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options: JsonStreamReaderOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
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
    let state = this.state;
    // Positions of the next quote and backslash at or after the scan position (n: none left in this
    // chunk). Searched again only once the scan has passed them: linear over the chunk.
    let nextQuote = -1;
    let nextBackslash = -1;
    for (let i = 0; i < n; i++) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          continue;
        }
        if (nextQuote < i) {
          nextQuote = chunk.indexOf(QUOTE, i);
          if (nextQuote < 0) nextQuote = n;
        }
        if (nextBackslash < i) {
          nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = n;
        }
        if (nextBackslash < nextQuote) {
          i = nextBackslash;
          this.escaped = true;
        } else if (nextQuote < n) {
          i = nextQuote;
          this.inString = false;
          state = S_AFTER_VALUE;
        } else {
          i = n; // the string goes on in the next chunk
        }
        continue;
      }
      const byte = chunk[i];
      if (this.depth === 0) {
        if (isJsonWhitespace(byte)) continue;
        if (byte !== OPEN_BRACE && byte !== OPEN_BRACKET) {
          throw new OvsdbProtocolError(
            `read: unexpected byte 0x${byte.toString(16).padStart(2, '0')} between JSON values (a message must be an object)`,
          );
        }
        this.depth = 1;
        state = S_OPENED;
        start = i;
        continue;
      }
      switch (BYTE_CLASS[byte]) {
        case C_SPACE:
          if (state === S_IN_LITERAL) state = S_AFTER_VALUE;
          break;
        case C_QUOTE:
          if (state !== S_EXPECT_VALUE && state !== S_OPENED) this.corrupt(byte, start, i);
          this.inString = true;
          break;
        case C_LITERAL:
          if (state === S_AFTER_VALUE) this.corrupt(byte, start, i);
          state = S_IN_LITERAL;
          break;
        case C_SEPARATOR:
          if (state !== S_AFTER_VALUE && state !== S_IN_LITERAL) this.corrupt(byte, start, i);
          state = S_EXPECT_VALUE;
          break;
        case C_OPEN:
          if (state !== S_EXPECT_VALUE && state !== S_OPENED) this.corrupt(byte, start, i);
          if (++this.depth > this.maxDepth) {
            this.checkSize(this.pieceBytes + (i - start + 1));
            throw new OvsdbProtocolError(`read: a JSON value nests deeper than ${this.maxDepth} levels`);
          }
          state = S_OPENED;
          break;
        case C_CLOSE:
          if (state === S_EXPECT_VALUE) this.corrupt(byte, start, i);
          state = S_AFTER_VALUE;
          if (--this.depth === 0) {
            const piece = chunk.subarray(start, i + 1);
            this.checkSize(this.pieceBytes + piece.length);
            this.pieces.push(piece);
            values.push(this.decodeValue());
            start = -1;
          }
          break;
        default:
          this.corrupt(byte, start, i);
      }
    }
    this.state = state;
    if (this.depth > 0 && start >= 0) {
      const piece = chunk.subarray(start);
      // Stop buffering past the limit: check before keeping the piece.
      this.checkSize(this.pieceBytes + piece.length);
      this.pieces.push(piece);
      this.pieceBytes += piece.length;
    }
    return values;
  }

  /**
   * Refuse the value being read at byte `i` of this chunk. When it is already past the size limit the
   * error is the size limit's, so the outcome does not depend on where the stream was split.
   */
  private corrupt(byte: number, start: number, i: number): never {
    this.checkSize(this.pieceBytes + (i - start + 1));
    throw new OvsdbProtocolError(`read: byte 0x${byte.toString(16).padStart(2, '0')} ${JSON.stringify(String.fromCharCode(byte))} is not JSON here`);
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
