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
export { SimRun, SimError, runScenario, runScenarioDetailed } from './runner';
export type { SimReport, SimOptions, ExpectationResult, ControllerApi, ConvergenceRecord } from './runner';
export { demandPath, demandWalk, directedLinks, loadBandwidth, pinAddresses } from './demands';
export { explainBlocked, tableName } from './blocked';
export type { DemandBlock, BlockedWalk } from './blocked';
export { undeliverableDemands, undeliverableDemandWarnings, demandCheckDiagnostics } from './demand-check';
export type { UndeliverableDemand } from './demand-check';
export type { RebalanceLoopStats, RebalanceSink, BandwidthHook, DemandWorld } from './demands';
export type { RebalanceReport } from './runner';
export { renderReport, reportDataFrom, reportEvents } from './report-html';
// the bandwidth model (docs/bandwidth.md); its link vocabulary (BandwidthLink, directedLinkId ...) is topology/links.ts
export { allocateMaxMinFair, allocateIndexed, indexProblem, withPodMeters, linkUtilization, offeredUtilization, hottestLink, BandwidthModelError } from './bandwidth';
export type { BandwidthDemand, Allocation, IndexedProblem, IndexedAllocation, PodMeter } from './bandwidth';
export { buildPathGraph, candidatePaths, pathLinks, PathCache, flowHash } from '../topology/paths';
export type { TopologyLink, PathGraph, PathOptions } from '../topology/paths';
export { allocateWithMeters, vsBound, percentText } from './bandwidth-timeline';
export type { BlockedDemand, BlockedSpan } from './bandwidth-timeline';
export { loadLpSolver, optimumMaxUtilization, solveOptimum, OptimumError } from './bandwidth-optimum';
export type { OptimumDemand, OptimumResult } from './bandwidth-optimum';
// what-if failure analysis (docs/whatif.md)
export { analyse, evaluateSurvives, listFailures, failureCopy, representativePairs, podGroup, probePair, measureBandwidth, survivesFailKind, WhatIfSession, WhatIfError, DEFAULT_THRESHOLD, DEFAULT_MAX_PAIRS } from './whatif';
export { whatIf } from './runner';
export type { WhatIfRun, WhatIfReport, WhatIfOptions, WhatIfTimings, FailureResult, Failure, FailKind, FailCombinations, ProbePair, LostGroup, BandwidthFigure } from './whatif';
// the reachability matrix, who-can-reach, and diffs of scenarios (docs/reach-and-diff.md)
export { reachMatrix, reachMatrixOf, whoCanReach, whoCanReachOf, probePair as probeReachPair, probePort, runAt, formatMatrix, formatWhoCanReach, defaultPodGroups, resolveGroup } from './matrix';
export type { ReachMatrix, MatrixCell, MatrixOptions, PairResult, ReachGroup, ReachStatus, CellReason, WhoCanReach } from './matrix';
export { diffScenarios, diffMatrices, diffPlans, planAt, formatDiff } from './diff';
export type { ScenarioDiff, DiffSide, DiffOptions, ReachChange, PathChange, SwitchFlowDiff } from './diff';
