/**
 * The public face of topology/: the scenario format and its checker, IPv4 helpers, IPAM, the cluster
 * model (state + events) and graph queries. Other folders import from here only.
 */
export * from './types';
export type { Diagnostic } from './diagnostics';
export { formatDiagnostic, sortDiagnostics, didYouMean } from './diagnostics';
export { parseScenarioText, parseScenarioFile, parseDuration, MAX_SCENARIO_BYTES, FAST_PARSE_MIN_BYTES } from './scenario';
export type { ParseResult, ParseOptions } from './scenario';
export {
  ipToInt,
  intToIp,
  parseCidr,
  formatCidr,
  cidrContains,
  cidrsOverlap,
  cidrLast,
  cidrProblem,
  firstUsable,
  prefixMask,
  macFromIp,
  isValidIp,
  isValidCidr,
  isValidMac,
} from './ip';
export type { Cidr } from './ip';
export { planAddresses, IpamError, isReservedInBlock, isReservedInServicePool } from './ipam';
export type { IpamPlan } from './ipam';
export {
  buildClusterState,
  applyEvent,
  cloneClusterState,
  podPort,
  selectorMatches,
  datapathIdOf,
  fabricRouterMac,
  portName,
  linkId,
  TopologyError,
  TUNNEL_PORT,
  TUNNEL_PORT_NAME,
  FIRST_POD_PORT,
  MAX_PORT_NAME_LEN,
} from './cluster';
export { buildGraph, buildUpGraph, shortestPath, equalCostPaths } from './graph';
export type { ClusterGraph, VertexAttributes, EdgeAttributes, VertexKind } from './graph';
export { directedLinkId, linkEnds, podMeterLinkId, demandCapGbps } from './links';
export type { BandwidthLink } from './links';
export {
  dnsDomain,
  searchPath,
  resolveName,
  lookupName,
  candidateNames,
  serviceEnv,
  serviceFqdn,
  podFqdn,
  dnsService,
  isUnderDomain,
  serviceNamespace,
  podNamespace,
  envPrefix,
  DnsError,
  DEFAULT_DNS_DOMAIN,
  DEFAULT_NAMESPACE,
  DNS_TTL,
  DNS_NDOTS,
} from './dns';
export type { DnsAnswer, DnsLookup } from './dns';
