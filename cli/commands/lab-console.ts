/**
 * `fabric lab shell|exec|list|inspect|trace|pod` (fabric/lab/console.ts): a Mininet-like console on a
 * lab that is up, what a lab holds (like containerlab's inspect), and pods added to or deleted from a
 * lab whose controller runs (`fabric lab up --controller`). Registered under `fabric lab` by
 * cli/commands/lab.ts (registerLabConsole); this file's own register() adds nothing.
 */
import type { Command } from 'commander';
import * as readline from 'readline';
import type { CommandContext } from '../main';
import { LabError } from '../../fabric/lab';
import { formatInspection, inspectLab, LabConsole, labPodAdd, labPodDelete, listLabs, openLab, withControllerRoles } from '../../fabric/lab/console';

function fail(ctx: CommandContext, err: unknown): void {
  const e = err as Error & { exitCode?: number };
  ctx.stderr(`fabric lab: ${e.message}\n`);
  if (ctx.debug && e.stack) ctx.stderr(e.stack + '\n');
  ctx.exitCode = err instanceof LabError ? e.exitCode ?? 2 : 1;
}

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const part of text.split(',').filter(Boolean)) {
    const m = /^([A-Za-z0-9_./-]+)=([A-Za-z0-9_.-]*)$/.exec(part.trim());
    if (!m) throw new LabError(`lab pod add: --labels wants key=value[,key=value...], got "${part}"`);
    labels[m[1]] = m[2];
  }
  return labels;
}

export function registerLabConsole(lab: Command, ctx: CommandContext): void {
  lab
    .command('list')
    .option('--json', 'JSON')
    .description('the labs that are up: id, scenario, hosts, bridges, controller')
    .action(async (flags: { json?: boolean }) => {
      // HA controllers (lab up --ha N): each one's role, asked of its API
      const labs = await Promise.all(listLabs().map((l) => withControllerRoles(l)));
      if (flags.json) ctx.stdout(JSON.stringify(labs, null, 2) + '\n');
      else if (labs.length === 0) ctx.stdout('no lab is up\n');
      else {
        for (const l of labs) {
          const ctl = l.controllers
            ? `, ${l.controllers.length} controllers (HA): ${l.controllers.map((c) => `pid ${c.pid} ${c.role} (API ${c.api})`).join(', ')}`
            : l.controller
              ? `, controller pid ${l.controller.pid}${l.controller.api ? ` (API ${l.controller.api})` : ''}`
              : '';
          ctx.stdout(`${l.id}  ${l.scenario}  ${l.hosts} hosts, ${l.bridges} bridges, ${l.links} links${ctl}  ${l.dir}\n`);
        }
      }
      ctx.exitCode = 0;
    });

  lab
    .command('inspect')
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'JSON')
    .description('what a lab holds: hosts (namespace, IP, MAC, switch, OVS bridge and port), bridges, links, controller')
    .action(async (flags: { id?: string; json?: boolean }) => {
      try {
        const x = await withControllerRoles(inspectLab(openLab(flags.id)));
        ctx.stdout(flags.json ? JSON.stringify(x, null, 2) + '\n' : formatInspection(x));
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });

  lab
    .command('exec')
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .argument('<command...>', 'one console command (after --), e.g. -- pingall; -- web-1 ping web-2')
    .description('run one console command on a lab (see `fabric lab shell`)')
    .action(async (words: string[], flags: { id?: string }) => {
      try {
        const r = await new LabConsole(openLab(flags.id)).run(words.join(' '));
        (r.ok ? ctx.stdout : ctx.stderr)(r.text);
        ctx.exitCode = r.ok ? 0 : 1;
      } catch (err) {
        fail(ctx, err);
      }
    });

  lab
    .command('trace')
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .argument('<from>', 'source host')
    .argument('<to>', 'destination: host, service or IP')
    .argument('[port]', 'TCP port (default: ICMP echo; a service: its port)')
    .description('ovs-appctl ofproto/trace on the live lab, switch after switch, with table and port names')
    .action(async (from: string, to: string, port: string | undefined, flags: { id?: string }) => {
      try {
        const r = await new LabConsole(openLab(flags.id)).run(`trace ${from} ${to}${port ? ` ${port}` : ''}`);
        (r.ok ? ctx.stdout : ctx.stderr)(r.text);
        ctx.exitCode = r.ok ? 0 : 1;
      } catch (err) {
        fail(ctx, err);
      }
    });

  lab
    .command('shell')
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .description('a Mininet-like console: pingall, link A B down|up, POD ping|curl ..., iperf, dump, trace (help lists them)')
    .action(async (flags: { id?: string }) => {
      try {
        const con = new LabConsole(openLab(flags.id));
        const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: `fabric(${con.lab.id})> `, terminal: process.stdin.isTTY });
        ctx.stdout(`lab ${con.lab.id} (${con.lab.record.scenario}): ${Object.keys(con.lab.record.hosts).join(' ')}; help lists the commands\n`);
        rl.prompt();
        for await (const line of rl) {
          const l = line.trim();
          if (l === 'exit' || l === 'quit') break;
          const r = await con.run(l);
          (r.ok ? ctx.stdout : ctx.stderr)(r.text);
          rl.prompt();
        }
        rl.close();
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });

  const pod = lab.command('pod').description("add or delete a pod on a lab whose controller runs (`lab up --controller`): its namespace, veth and OVS port, and the controller's state");
  pod
    .command('add')
    .argument('<name>', 'pod name')
    .requiredOption('--node <node>', 'the node it runs on')
    .option('--labels <list>', 'labels: app=web,tier=front')
    .option('--ip <ip>', "a fixed address in the node's block (default: the controller allocates)")
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .option('--api <url>', "the controller's API (default: the ones `lab up --controller` recorded; with --ha, whichever leads)")
    .description('tell the controller (POST /events {pod: add, ...}), then build the pod at the port it gave')
    .action(async (name: string, flags: { node: string; labels?: string; ip?: string; id?: string; api?: string }) => {
      try {
        const l = openLab(flags.id);
        const r = await labPodAdd(l, { name, node: flags.node, labels: parseLabels(flags.labels), ip: flags.ip, api: flags.api });
        ctx.stdout(`pod ${name} added to lab ${l.id}: ${r.host.ip} on ${r.host.switch} port ${r.host.port} (${r.host.ovsIface}), namespace ${r.host.ns}; controller ${r.controller} reconciled in ${r.reconciledMs ?? '?'} ms, ${r.totalMs} ms in all\n`);
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });
  pod
    .command('delete')
    .argument('<name>', 'pod name')
    .option('--id <id>', 'lab id (default: the only lab that is up)')
    .option('--api <url>', "the controller's API (default: the one `lab up --controller` recorded)")
    .description('tell the controller (POST /events {pod: delete}), then remove the namespace, veth and OVS port')
    .action(async (name: string, flags: { id?: string; api?: string }) => {
      try {
        const l = openLab(flags.id);
        const r = await labPodDelete(l, name, flags.api);
        ctx.stdout(`pod ${name} deleted from lab ${l.id}${r.controller ? ' and from its controller' : ''}${r.host ? '' : ' (the lab had no host for it)'}\n`);
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });
}

/** Nothing: `fabric lab`'s console commands are registered by cli/commands/lab.ts (see above). */
export function register(): void {
  // cli/main.ts loads every file of cli/commands; lab.ts owns the `lab` command these hang under
}
