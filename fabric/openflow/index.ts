/**
 * fabric/openflow: an OpenFlow 1.3 codec and controller channel, byte-exact with Open vSwitch 3.1.
 * The public API; everything else in this folder is internal.
 */
export type * from './flow';
export { OFPP, CT_STATE } from './flow';
export { FIELDS, FIELDS_BY_OXM, OXM_CLASS, ONF_EXPERIMENTER, NX_EXPERIMENTER, NSH_EXPERIMENTER, ctStateValid, fieldSpec, fullMask, type FieldSpec, type FieldFormat, type Prerequisite } from './fields';
export * from './messages';
export { OpenFlowError, isOpenFlowError, type OpenFlowErrorKind, type SwitchErrorInfo } from './errors';
export {
  OFP_VERSION,
  OFPT,
  OFPMP,
  OFPFC,
  OFPGC,
  OFPMC,
  OFPG,
  OFPM,
  OFPTT_ALL,
  OFP_NO_BUFFER,
  OFPBF,
  NX_VENDOR_ID,
  ONF_VENDOR_ID,
  errorNames,
  errorNumbers,
} from './constants';
export { BufferWriter } from './buffer-writer';
export { BufferReader } from './buffer-reader';
export {
  encodeMessage,
  encodeInto,
  encodeHello,
  encodeEchoRequest,
  encodeEchoReply,
  encodeFeaturesRequest,
  encodeBarrierRequest,
  encodeFlowMod,
  encodeGroupMod,
  encodeMeterMod,
  encodeMultipartRequest,
  type EncodeOptions,
} from './encode';
export { decodeMessage, mergeMultipartReplies, readHeader, type FrameHeader } from './decode';
export { encodeMatch, decodeMatch, checkPrerequisites, OVS_FIELD_ORDER } from './oxm';
export { flowProblems, matchProblems, groupProblems, meterProblems, describeProblems, type FlowProblem, type FlowRule, type FlowCheckOptions } from './validity';
export { encodeActions, decodeActions, encodeInstructions, decodeInstructions } from './actions';
export { FrameSplitter, splitFrames, OFP_MAX_MESSAGE_BYTES } from './framing';
export { switchOpToMessage } from './ops';
export { messageToJson, messagesFromJson, toJsonValue } from './json';
export {
  OpenFlowServer,
  SwitchConnection,
  parseListenAddress,
  type ChannelOptions,
  type OpenFlowServerOptions,
  type SwitchEvents,
  type ServerEvents,
  type ListenAddress,
} from './channel';
