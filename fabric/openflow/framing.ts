/**
 * FrameSplitter: joins TCP chunks and cuts them into whole OpenFlow messages by the header's
 * length field, whatever the split. It only frames: it never decodes bodies. A length below 8 or
 * above `maxMessageBytes` is a lie the stream cannot recover from: a typed error, after which the
 * connection must be closed.
 */
import { OpenFlowError } from './errors';

export const OFP_MAX_MESSAGE_BYTES = 0xffff;

export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private readonly maxMessageBytes: number;

  constructor(maxMessageBytes = OFP_MAX_MESSAGE_BYTES) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** bytes received but not yet a whole message (a peer that stops mid-frame leaves these) */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** appends a chunk; returns every whole frame now available (views into one buffer) */
  push(chunk: Buffer): Buffer[] {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    let off = 0;
    while (data.length - off >= 8) {
      const len = data.readUInt16BE(off + 2);
      if (len < 8) throw new OpenFlowError('bad-length', `framing: message length ${len} < 8 at stream offset ${off}`);
      if (len > this.maxMessageBytes) {
        throw new OpenFlowError('oversized', `framing: message length ${len} exceeds the ${this.maxMessageBytes}-byte limit`);
      }
      if (data.length - off < len) break;
      frames.push(data.subarray(off, off + len));
      off += len;
    }
    // copy the tail so the (possibly large) joined buffer can be collected
    this.pending = off === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(off));
    return frames;
  }
}

/** cuts a buffer holding whole messages back to back (e.g. a recorded stream) */
export function splitFrames(data: Buffer, maxMessageBytes = OFP_MAX_MESSAGE_BYTES): Buffer[] {
  const s = new FrameSplitter(maxMessageBytes);
  const frames = s.push(data);
  if (s.bufferedBytes) throw new OpenFlowError('truncated', `framing: ${s.bufferedBytes} bytes of an unfinished message at the end`);
  return frames;
}
