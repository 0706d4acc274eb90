/**
 * `fabric ipam FILE [--json]`: the address plan of a scenario (topology/ipam.ts). `--json` prints
 * exactly `{ nodes: {NAME: {podCidr, ip}}, pods: {NAME: ip}, services: {NAME: ip} }` (docs/scenarios.md §6);
 * without it, readable tables. An invalid scenario prints its errors (stderr) and exits 2.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { firstUsable, formatDiagnostic, intToIp, parseCidr, parseScenarioFile, planAddresses, type IpamPlan } from '../../topology';
import type { Scenario } from '../../topology/types';

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('ipam')
    .description('print the address plan (node blocks, pod IPs, service VIPs)')
    .argument('<file>', 'scenario YAML file')
    .option('--json', 'print the plan as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const result = parseScenarioFile(file);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      if (!result.scenario) {
        for (const d of errors) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      const plan = planAddresses(result.scenario);
      ctx.stdout(opts.json ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan, result.scenario));
      ctx.exitCode = 0;
    });
}

/**
 * The readable form: nodes with their gateway (the first usable address of the block, the pods'
 * default route), pods with their node, services, and the scenario's externals (fixed addresses, not
 * planned: listed so that every address of the scenario is on one page). The JSON stays the contract's.
 */
export function formatPlan(plan: IpamPlan, scenario?: Scenario): string {
  const table = (title: string, header: string[], rows: string[][]): string => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
    return `${title}\n` + line(header) + rows.map(line).join('') + '\n';
  };
  const podNode = new Map((scenario?.pods ?? []).map((p) => [p.name, p.node]));
  const externals = (scenario?.fabric.externals ?? []).map((e) => [e.name, e.ip, e.attach]);
  return (
    table('nodes', ['NODE', 'IP', 'POD CIDR', 'GATEWAY'], Object.entries(plan.nodes).map(([n, v]) => [n, v.ip, v.podCidr, intToIp(firstUsable(parseCidr(v.podCidr)))])) +
    table('pods', ['POD', 'IP', 'NODE'], Object.entries(plan.pods).map(([n, ip]) => [n, ip, podNode.get(n) ?? ''])) +
    (externals.length > 0 ? table('services', ['SERVICE', 'IP'], Object.entries(plan.services).map(([n, ip]) => [n, ip])) + table('externals', ['EXTERNAL', 'IP', 'ATTACHED TO'], externals).trimEnd() : table('services', ['SERVICE', 'IP'], Object.entries(plan.services).map(([n, ip]) => [n, ip])).trimEnd()) +
    '\n'
  );
}
