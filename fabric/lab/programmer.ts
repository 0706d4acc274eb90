/**
 * What re-programs the lab's switches after the state changed: the interim ofctl loader or the
 * OpenFlow programmer (fabric/lab/controller.ts `driverProgrammer`). `loop`: the control loop that
 * programs (the OpenFlow programmer's), which the rebalancing phase of a bandwidth measurement then
 * also decides with; absent for the ofctl loader.
 */
import type { ControlLoop } from '../../controller/loop';
import type { ClusterState } from '../../topology/types';
import type { Lab } from './lab';

export type Programmer = ((lab: Lab, state: ClusterState) => Promise<void> | void) & { readonly loop?: ControlLoop };
