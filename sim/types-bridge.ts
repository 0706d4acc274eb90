/** Types the simulator uses from other layers, gathered in one place. */
export type { ClusterChange, ClusterState, Expectation, Scenario, ScenarioEvent } from '../topology/types';
export type { SwitchPlan, SwitchOp } from '../fabric/openflow/flow';
