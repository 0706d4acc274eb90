/**
 * The public face of controller/: the pipeline declaration, the compiler (full and incremental),
 * cookies, and the reconciler. Pure functions only; drivers in fabric/ and the simulator use them.
 */
export { PIPELINE, TABLE, REG, SOURCE, tableSpec, tableName, checkFlow, PipelineError } from './pipeline';
export type { TableName, TableSpec } from './pipeline';
export { OWNER_TAG, CATEGORY, makeCookie, isOurs, generationOf, categoryOf, withGeneration, OWNER_COOKIE_MASK, COOKIE_IDENTITY_MASK } from './cookie';
export type { CategoryName } from './cookie';
export { compileCluster, compileIncremental, materialize, conflictsOf, canonicalFlows, flowCounts, partsOf } from './compile';
export type { FabricPlan, CompileOptions, PlanConflict } from './compile';
export { SERVICE_GROUP_BASE, ROUTE_GROUP_BASE, serviceGroupId, routePriority, PRIORITY, PIN_PRIORITY, podMeter, bucketWeight, podLimitGbps } from './flows';
export { reconcile, reconcileDetailed, applyOps, isOurGroup, isOurMeter } from './reconcile';
export type { ReconcileResult } from './reconcile';
export { flowIdentity, flowSortKey, flowContentKey, matchKey, normalizeMatch, groupKey, meterKey, instructionsKey } from './normalize';
export { Routing, attachmentOf, upLinkPorts } from './routing';
export type { NextHop, RouteChoice, Attachment } from './routing';
