/**
 * The interim way plans reach a lab's bridges: the plan printed in ovs-ofctl syntax (one switch, three
 * kinds) and loaded with `ovs-ofctl -O OpenFlow13` through the bridge's management socket. Every load
 * replaces everything: flows, then groups, then meters are deleted, and meters, groups, flows added
 * (flows in one bundle), so a reinstall after an event leaves no stale state. The real-OVS driver
 * (fabric/ovsdriver.ts) replaces this with our own OpenFlow channel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LabError } from './errors';
import type { Lab } from './lab';

export interface PlanText {
  flows: string;
  groups: string;
  meters: string;
}

export interface InstallCount {
  flows: number;
  groups: number;
  meters: number;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

export function installPlanText(lab: Lab, switchName: string, text: PlanText): InstallCount {
  const dir = path.join(lab.record.dir, 'plans');
  fs.mkdirSync(dir, { recursive: true });
  const flows = lines(text.flows);
  const groups = lines(text.groups);
  const meters = lines(text.meters);
  const flowFile = path.join(dir, `${switchName}.flows`);
  const groupFile = path.join(dir, `${switchName}.groups`);
  fs.writeFileSync(flowFile, flows.join('\n') + '\n');
  fs.writeFileSync(groupFile, groups.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, `${switchName}.meters`), meters.join('\n') + '\n');
  const step = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      throw new LabError(`Lab.install ${switchName}: ${what}: ${(err as Error).message}`, 1);
    }
  };
  step('del-flows', () => lab.ofctl(switchName, 'del-flows'));
  step('del-groups', () => lab.ofctl(switchName, 'del-groups'));
  step('del-meters', () => lab.ofctl(switchName, 'del-meters'));
  for (const m of meters) step(`add-meter ${m}`, () => lab.ofctl(switchName, 'add-meter', m));
  if (groups.length > 0) step('add-groups', () => lab.ofctl(switchName, 'add-groups', groupFile));
  if (flows.length > 0) step('add-flows', () => lab.ovsFor(switchName).ofctl('-O', 'OpenFlow13', '--bundle', 'add-flows', lab.ovsFor(switchName).mgmt(lab.bridge(switchName)), flowFile));
  return { flows: flows.length, groups: groups.length, meters: meters.length };
}

/** Flows as the switch holds them now (for reports and debugging). */
export function dumpFlows(lab: Lab, switchName: string): string {
  return lab.ofctl(switchName, 'dump-flows', '--no-stats');
}
