/** The simulator's public API (docs/simulator.md). */
export { Prng, fnv1a32 } from './prng';
export { VirtualClock, secondsToUs, usToSeconds, US_PER_S } from './clock';
export type { Clock } from './clock';
export { Engine, EventQueue } from './engine';
export { Packet, ipv4Packet, arpPacket, ipToU32, intToIp, macToBigint, macToString, SLOTS, KEY_WORDS } from './packet';
export type { PacketKey, L4Spec } from './packet';
export { FlowTable, compileFlow, canonicalMatch, flowId } from './classifier';
export { Conntrack, tupleOf } from './conntrack';
export type { CtEntry, CtTuple, CtResult } from './conntrack';
export { SimSwitch, SwitchOpError, selectHash, ctStateText } from './switch';
export type { SwitchPass, TraceStep, PortOutput, PortCounters } from './switch';
export { SimNetwork } from './network';
export type { Host, WalkResult, LinkCrossing, Delivery } from './network';
export { probe, arpResolve, followUp } from './probe';
export type { ProbeResult, ProbeSpec } from './probe';
export { SimRun, SimError, runScenario, loadController } from './runner';
export type { SimReport, SimOptions, ExpectationResult, ControllerApi, ConvergenceRecord } from './runner';
export { demandPath, directedLinks } from './demands';
