/**
 * OpenFlowError: the one error type the codec and the channel throw or reject with.
 * `kind` says what went wrong (tests check it, not the text); an ERROR message received from a
 * switch carries its OpenFlow type/code names.
 */
import type { FlowProblem } from './validity';

export type OpenFlowErrorKind =
  | 'truncated' // fewer bytes than a header or length field promises
  | 'bad-length' // a length field that cannot be right (too small, not aligned, past the end)
  | 'bad-version' // a version other than the negotiated one
  | 'oversized' // a frame longer than the configured maximum
  | 'bad-value' // a value outside its field's range, or an unknown enum name
  | 'prerequisite' // a match field used without its prerequisite (e.g. tcp_dst without ip_proto=6)
  | 'invalid' // a flow OVS would refuse for another rule of validity.ts (mask bits, ranges, ports, goto order, ct)
  | 'unsupported' // something the codec cannot encode (e.g. an unknown message type without raw bytes)
  | 'switch-error' // the switch answered with an OFPT_ERROR
  | 'timeout' // no reply in time, or the peer went silent
  | 'closed' // the connection closed with the request outstanding
  | 'negotiation'; // no common OpenFlow version

export interface SwitchErrorInfo {
  type: number;
  code: number;
  typeName: string;
  codeName: string;
}

export class OpenFlowError extends Error {
  override readonly name = 'OpenFlowError';
  readonly kind: OpenFlowErrorKind;
  /** set when kind is 'switch-error' */
  readonly switchError?: SwitchErrorInfo;
  /** set when kind is 'prerequisite' or 'invalid' and the encoder refused a flow: every problem found */
  readonly problems?: readonly FlowProblem[];

  constructor(kind: OpenFlowErrorKind, message: string, switchError?: SwitchErrorInfo, problems?: readonly FlowProblem[]) {
    super(message);
    this.kind = kind;
    this.switchError = switchError;
    if (problems) this.problems = problems;
  }
}

export function isOpenFlowError(e: unknown): e is OpenFlowError {
  return e instanceof OpenFlowError;
}
