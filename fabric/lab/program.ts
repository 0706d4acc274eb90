/**
 * Programs a lab's bridges with compiled plans: each SwitchPlan printed in ovs-ofctl syntax
 * (fabric/openflow/ofctl.ts, the same printer as `fabric plan --format ofctl`) and loaded by
 * install.ts. The compiler is passed in, so the lab depends on the plan's data shape only.
 */
import type { SwitchPlan } from '../openflow/flow';
import { flowText, groupText, meterText } from '../openflow/ofctl';
import type { ClusterState } from '../../topology/types';
import { LabError } from './errors';
import { installPlanText, InstallCount, PlanText } from './install';
import type { Lab } from './lab';
import type { Programmer } from './play';

export type Compiler = (state: ClusterState) => Map<string, SwitchPlan>;

export function planText(plan: SwitchPlan): PlanText {
  return {
    flows: plan.flows.map(flowText).join('\n'),
    groups: plan.groups.map(groupText).join('\n'),
    meters: plan.meters.map(meterText).join('\n'),
  };
}

/** Install every switch's plan; returns per-switch counts. */
export function installPlans(lab: Lab, plans: Map<string, SwitchPlan>): Map<string, InstallCount> {
  const counts = new Map<string, InstallCount>();
  for (const name of Object.keys(lab.record.bridges)) {
    const plan = plans.get(name);
    if (!plan) throw new LabError(`Lab.program: the compiled plans have no switch ${name}`, 1);
    counts.set(name, installPlanText(lab, name, planText(plan)));
  }
  return counts;
}

/** A Programmer (play.ts) that recompiles the whole cluster and reinstalls it with ovs-ofctl. */
export function ofctlProgrammer(compile: Compiler, onInstalled?: (counts: Map<string, InstallCount>) => void): Programmer {
  return (lab, state) => {
    const counts = installPlans(lab, compile(state));
    onInstalled?.(counts);
  };
}
