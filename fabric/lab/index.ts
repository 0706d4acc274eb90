/**
 * fabric/lab: a scenario's cluster as a real network (private OVS with the userspace datapath in its
 * own network namespace, hosts as namespaces, links as veths), programmed with compiled plans and
 * checked with real traffic. See docs/lab.md.
 */
export { LabError } from './errors';
export { Lab, teardownLab, labNamespaces, labDir, nsName, readLabRecord, validateLabId, checkNetnsPermitted, agentPortsFor, DEFAULT_TCP_PORT, EXTERNAL_NEXT_HOP } from './lab';
export type { LabHost, LabLink, LabRecord, LabOptions, HostKind } from './lab';
export { checkLabSafety, scenarioPrefixes, rootNamespaceEntries, FORBIDDEN_PREFIXES } from './safety';
export { ping, tcpConnect } from './traffic';
export type { PingResult, TcpReply } from './traffic';
export { startProbe } from './probe';
export type { ProbeResult, RunningProbe } from './probe';
export { installPlanText, dumpFlows } from './install';
export type { PlanText, InstallCount } from './install';
export { planText, installPlans, ofctlProgrammer } from './program';
export type { Compiler } from './program';
export { playScenario, checkExpectation, applyLabEvent, shortReason } from './play';
export type { LabReport, LabExpectationResult, LabEventResult, Programmer, EventHooks, PlayOptions } from './play';
export { loadScenario, labIdFor, scenarioPorts, scenarioLabUp, scenarioLabTest, scenarioLabDown, startLabController, stopLabController, defaultLabApi } from './scenario';
export type { LoadedScenario, ScenarioLabOptions } from './scenario';
export { startHaLabControllers, labControllerApis, controllerRole, haControllerArgs, LAB_CONTROLLER_WHAT } from './ha';
export type { HaLabOptions, HaLabController, ControllerRole } from './ha';
export { LabOvs } from './ovs';
export { compareWithSim, formatComparison, simDecisionsAt } from './compare';
export type { Comparison, ComparisonRow, SimLikeReport, Decisions, DecisionRow } from './compare';
export { measureBandwidth, planDemands, evaluate, inferPaths, judgeMaxLinkUtilization, judgeFairShare, measureLimited, parsePortStats, rebalanceText, BANDWIDTH_SCALE, REBALANCE_POLL_S, MAX_REBALANCE_ROUNDS } from './bandwidth';
export type { BandwidthMeasurement, BandwidthVerdict, LabDemand, LinkMeasurement, LabRebalance } from './bandwidth';
export { linkDirections, shapeLinks, unshapeLinks, readTxBytes, readShaping } from './links';
export type { LinkDirection, FlowClass } from './links';
export type { BandwidthContext } from './play';
