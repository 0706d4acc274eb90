/**
 * What re-programs the lab's switches after the state changed: the interim ofctl loader or the
 * OpenFlow programmer (fabric/lab/controller.ts `driverProgrammer`). `loop`: the control loop that
 * programs (the OpenFlow programmer's), which the rebalancing phase of a bandwidth measurement then
 * also decides with; absent for the ofctl loader.
 */
import type { ControlLoop } from '../../controller/loop';
import type { ClusterChange, ClusterState } from '../../topology/types';
import type { Lab } from './lab';

/**
 * `changes`: what changed in `state` since the last call, when the caller knows (the play's events;
 * `[]`: nothing behind the loop's back, e.g. only the loop's own steering): the OpenFlow programmer
 * then compiles incrementally. Absent: anything may have changed, compile in full.
 */
export type Programmer = ((lab: Lab, state: ClusterState, changes?: readonly ClusterChange[]) => Promise<void> | void) & { readonly loop?: ControlLoop };
