/**
 * `fabric ipam FILE [--json]`: the address plan of a scenario (topology/ipam.ts). `--json` prints
 * exactly `{ nodes: {NAME: {podCidr, ip}}, pods: {NAME: ip}, services: {NAME: ip} }` (docs/scenarios.md §6);
 * without it, readable tables. An invalid scenario prints its errors (stderr) and exits 2.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseScenarioFile, planAddresses, type IpamPlan } from '../../topology';

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
      ctx.stdout(opts.json ? JSON.stringify(plan, null, 2) + '\n' : formatPlan(plan));
      ctx.exitCode = 0;
    });
}

export function formatPlan(plan: IpamPlan): string {
  const table = (title: string, header: string[], rows: string[][]): string => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
    return `${title}\n` + line(header) + rows.map(line).join('') + '\n';
  };
  return (
    table('nodes', ['NODE', 'IP', 'POD CIDR'], Object.entries(plan.nodes).map(([n, v]) => [n, v.ip, v.podCidr])) +
    table('pods', ['POD', 'IP'], Object.entries(plan.pods).map(([n, ip]) => [n, ip])) +
    table('services', ['SERVICE', 'IP'], Object.entries(plan.services).map(([n, ip]) => [n, ip])).trimEnd() +
    '\n'
  );
}
