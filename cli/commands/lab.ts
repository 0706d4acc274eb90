/**
 * `fabric lab up|test|down FILE`: the scenario's cluster as a real network on this machine (private
 * OVS, userspace datapath, namespaces and veths; see docs/lab.md), programmed with the compiled plan
 * and checked with real traffic. `test --json` prints the report in the shape of `fabric sim --json`.
 * Exit codes: 0 every expectation holds, 1 some fail (or the lab broke), 2 bad input or unsafe machine.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import * as fs from 'fs';
import * as path from 'path';
import { compareWithSim, formatComparison, LabError, loadScenario, scenarioLabDown, scenarioLabTest, scenarioLabUp, shortReason, startHaLabControllers, startLabController } from '../../fabric/lab';
import { runScenario } from '../../sim';
import { registerLabConsole } from './lab-console';
import type { LabReport } from '../../fabric/lab';
import type { Programming } from '../../fabric/lab/compile';
import type { ReconcileReport } from '../../fabric/ovsdriver';

interface LabFlags {
  name?: string;
  program?: string;
  json?: boolean;
  keep?: boolean;
  compare?: boolean;
  controller?: boolean;
  /** with --controller: where its API listens (default unix:<lab dir>/api.sock) */
  api?: string;
  baseDir?: string;
  mininet?: boolean;
  /** commander's --no-tso: false */
  tso?: boolean;
  /** with --controller: this many controllers in HA (2-5) on --store */
  ha?: string;
  store?: string;
  leaseTtl?: string;
}

/**
 * The script the lab starts `fabric controller` with: $FABRIC_BIN when set (tests running the CLI from
 * its TypeScript source point it at a runner), else bin/fabric.js of this install (from dist/cli/commands
 * or cli/commands).
 */
function fabricBinPath(): string {
  if (process.env.FABRIC_BIN) return path.resolve(process.env.FABRIC_BIN);
  const candidates = [path.join(__dirname, '..', '..', '..', 'bin', 'fabric.js'), path.join(__dirname, '..', '..', 'bin', 'fabric.js')];
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0];
}

/** --ha N --store URL [--lease-ttl S] [--api URL,...], checked before the lab is built. */
function haFlags(flags: LabFlags): { count: number; store: string; leaseTtlS?: number; apis?: string[] } | undefined {
  if (flags.ha === undefined) {
    if (flags.store !== undefined || flags.leaseTtl !== undefined) throw new LabError('lab up: --store and --lease-ttl go with --ha N (several controllers)');
    return undefined;
  }
  const count = Number(flags.ha);
  if (!Number.isInteger(count) || count < 2 || count > 5) throw new LabError(`lab up: --ha ${flags.ha}: give 2 to 5 controllers`);
  if (!flags.store) throw new LabError('lab up: --ha needs --store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]: HA controllers share their intent and elect their leader in etcd (docs/ha.md)');
  if (!/^etcd:\/\/[^/]+(\/.*)?$/.test(flags.store)) throw new LabError(`lab up: --store ${flags.store}: give etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (docs/ha.md)`);
  let leaseTtlS: number | undefined;
  if (flags.leaseTtl !== undefined) {
    leaseTtlS = Number(flags.leaseTtl);
    if (!Number.isInteger(leaseTtlS) || leaseTtlS < 1) throw new LabError(`lab up: --lease-ttl ${flags.leaseTtl}: give whole seconds >= 1`);
  }
  const apis = flags.api?.split(',').map((a) => a.trim()).filter(Boolean);
  if (apis && apis.length !== count) throw new LabError(`lab up: with --ha ${count}, --api lists ${count} URLs separated by commas (or leave it out: unix:<lab dir>/api-N.sock)`);
  return { count, store: flags.store, ...(leaseTtlS !== undefined ? { leaseTtlS } : {}), ...(apis ? { apis } : {}) };
}

function fail(ctx: CommandContext, err: unknown): void {
  const e = err as Error & { exitCode?: number };
  ctx.stderr(`fabric lab: ${e.message}\n`);
  if (ctx.debug && e.stack) ctx.stderr(e.stack + '\n');
  ctx.exitCode = err instanceof LabError ? err.exitCode : 1;
}

function programming(flags: LabFlags): Programming | undefined {
  if (flags.program === undefined) return undefined; // the default: openflow
  const p = flags.program;
  if (p !== 'openflow' && p !== 'ofctl') throw new LabError(`lab: --program must be openflow or ofctl, not ${p}`);
  return p;
}

function seconds(t: number): string {
  return `${Number(t.toFixed(3))}s`;
}

export function formatLabReport(report: LabReport): string {
  const out: string[] = [];
  // #N counts from 1 as in `fabric validate` and `fabric sim` (the JSON index from 0); a skip shows its
  // short reason (the whole explanation is the JSON detail)
  for (const e of report.expectations) {
    const status = e.skipped ? 'SKIP' : e.ok ? 'ok  ' : 'FAIL';
    out.push(`${status} #${e.index + 1} at ${seconds(e.at)} ${e.kind}: ${e.skipped ? e.skipReason ?? shortReason(e.detail) : e.detail}`);
  }
  for (const ev of report.events) if (!ev.ok) out.push(`FAIL event at ${seconds(ev.at)} ${ev.event}: ${ev.detail}`);
  const failed = report.expectations.filter((e) => !e.ok && !e.skipped).length;
  const skipped = report.expectations.filter((e) => e.skipped).length;
  const total = report.expectations.length;
  const held = total - failed - skipped;
  // never "all expectations hold" when some were not judged: the headline counts the skips
  const headline = skipped
    ? `${held} of ${total} expectations hold, ${failed ? `${failed} failed, ` : ''}${skipped} skipped (not judged: see the SKIP lines, --json for the details)`
    : failed
      ? `${failed} of ${total} expectations failed`
      : report.ok
        ? `all ${total} expectations hold`
        : 'all expectations hold, but some events failed';
  out.push(`${report.scenario}: ${headline} on real OVS (${report.durationMs} ms)`);
  return out.join('\n') + '\n';
}

export function register(program: Command, ctx: CommandContext): void {
  const lab = program.command('lab').description('build the scenario as a real network (private OVS, namespaces) and test it with real traffic');

  lab
    .command('up')
    .argument('<file>', 'scenario file')
    .option('--name <id>', 'lab id ([a-z0-9]{1,12}); default: a hash of the scenario name')
    .option('--json', 'print the lab record as JSON')
    .option('--program <how>', 'openflow (our OpenFlow channel, default) or ofctl (ovs-ofctl loads the printed plan)')
    .option('--controller', 'leave `fabric controller` running for the lab (stopped by `lab down`; its log: <lab dir>/controller.log)')
    .option('--api <url>', "with --controller: its API (POST /events, GET /state) on unix:PATH or tcp:PORT[:ADDR]; default unix:<lab dir>/api.sock (with --ha N: N URLs, comma-separated; default api-1.sock ... api-N.sock)")
    .option('--ha <n>', 'with --controller: run N (2-5) controllers in high availability on --store, one elected leader (docs/ha.md); their logs: controller-1.log ...')
    .option('--store <url>', 'with --ha: the shared intent store etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (intent already under PREFIX is replayed)')
    .option('--lease-ttl <seconds>', "with --ha: each controller's leader lease TTL (default the controller's, 3)")
    .option('--mininet', "build the network with Mininet's Python API (routed scenarios; see docs/lab.md)")
    .option('--no-tso', 'routed labs: no userspace TSO; tx offload off on every veth instead (~10x slower pod TCP; docs/lab.md "Offloads")')
    .description('build the lab and install the compiled plan')
    .action(async (file: string, flags: LabFlags) => {
      try {
        const ha = haFlags(flags);
        if (ha) flags.controller = true;
        const started = process.hrtime.bigint();
        const installed = new Map<string, { flows: number; groups: number; meters: number }>();
        let reconciled: ReconcileReport[] = [];
        let connectMs: number | undefined;
        const { lab: built } = await scenarioLabUp(file, {
          builder: flags.mininet ? 'mininet' : undefined,
          tso: flags.tso,
          id: flags.name,
          program: programming(flags),
          hooks: {
            onInstalled: (c) => c.forEach((v, k) => installed.set(k, v)),
            onReconciled: (r) => (reconciled = r),
            onConnected: (ms) => (connectMs = ms),
          },
        });
        let controllerPid: number | undefined;
        let haUp: Awaited<ReturnType<typeof startHaLabControllers>> | undefined;
        if (ha) {
          try {
            haUp = await startHaLabControllers(built, file, fabricBinPath(), ha);
          } catch (err) {
            await built.down();
            throw err;
          }
        } else if (flags.controller) {
          try {
            const fabricBin = fabricBinPath();
            // overlay: one OVS per node, reached with `--ovsdb/--listen SWITCH=URL` (fabric/lab/controller.ts)
            if (built.record.nodeOvs) controllerPid = await (await import('../../fabric/lab/controller')).startMultiOvsLabController(built, file, fabricBin, undefined, flags.api);
            else controllerPid = await startLabController(built, file, fabricBin, flags.api);
          } catch (err) {
            await built.down();
            throw err;
          }
        }
        const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
        if (flags.json) {
          ctx.stdout(JSON.stringify({ ...built.record, installed: Object.fromEntries(installed), reconciled, connectMs, upMs: ms, ...(haUp ? { leader: haUp.leader.api } : {}) }, null, 2) + '\n');
        } else {
          const r = built.record;
          ctx.stdout(`lab ${r.id} up in ${ms} ms: namespace ${r.ovsNs} (ovs)${r.nodeOvs ? `, ${Object.entries(r.nodeOvs).map(([n, o]) => `${o.ns} (${n}'s own OVS)`).join(', ')}` : ''}, ${Object.keys(r.hosts).length} hosts, ${Object.keys(r.bridges).length} bridges, ${Object.keys(r.links).length} links\n`);
          if (r.mininet) ctx.stdout(`  built by Mininet: process ${r.mininet.pid} (requests on ${r.mininet.socket}, log ${r.mininet.log})\n`);
          for (const [sw, c] of installed) ctx.stdout(`  ${sw}: ${c.flows} flows, ${c.groups} groups, ${c.meters} meters (ovs-ofctl)\n`);
          if (connectMs !== undefined) ctx.stdout(`  switches connected to our OpenFlow channel in ${connectMs} ms\n`);
          if (haUp) {
            ctx.stdout(`  ${haUp.controllers.length} fabric controllers in HA on ${r.ha?.store}, ready in ${haUp.readyMs} ms; controller ${haUp.leader.index} leads (fabric lab pod add NAME --node NODE --id ${r.id} goes to the leader)\n`);
            for (const c of haUp.controllers) ctx.stdout(`    ${c === haUp.leader ? 'leader ' : 'standby'} ${c.index}: pid ${c.pid}, API ${c.api}, log ${c.log}\n`);
            if (haUp.storeRevision) ctx.stdout(`  note: the store already held intent (revision ${haUp.storeRevision}): the controllers replayed it over the scenario; use a PREFIX of this lab's own for a fresh start\n`);
          }
          if (controllerPid !== undefined) ctx.stdout(`  fabric controller running, pid ${controllerPid}, log ${path.join(r.dir, 'controller.log')}, API ${r.controllerApi} (fabric lab pod add NAME --node NODE --id ${r.id})\n`);
          for (const r of reconciled) ctx.stdout(`  ${r.switch}: ${r.ops} OpenFlow ops in ${r.durationMs.toFixed(1)} ms (${Object.entries(r.byOp).map(([k, v]) => `${k} ${v}`).join(', ') || 'nothing to do'})\n`);
          ctx.stdout(`  ovs-vsctl --db=${built.ovs.dbUrl} show\n`);
          ctx.stdout(`  ovs-ofctl -O OpenFlow13 dump-flows ${built.ovsFor(Object.keys(r.bridges)[0]).mgmt(built.bridge(Object.keys(r.bridges)[0]))}\n`);
          ctx.stdout(`  fabric lab shell --id ${r.id}   # pingall, link A B down, POD ping POD, dump, trace ...; fabric lab inspect --id ${r.id}\n`);
          ctx.stdout(`  ip netns exec ${Object.values(r.hosts)[0]?.ns ?? r.ovsNs} bash   # a shell in a host\n`);
          ctx.stdout(`  fabric lab down ${file}${flags.name ? ` --name ${flags.name}` : ''}\n`);
        }
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });

  lab
    .command('test')
    .argument('<file>', 'scenario file')
    .option('--name <id>', 'lab id; default: a hash of the scenario name')
    .option('--json', 'print the report as JSON (the shape of `fabric sim --json`)')
    .option('--keep', 'leave the lab up afterwards')
    .option('--program <how>', 'openflow (default) or ofctl')
    .option('--compare', 'also run `fabric sim` on the file and compare expectation by expectation (exit 1 on disagreement)')
    .option('--mininet', "build the network with Mininet's Python API (routed scenarios; see docs/lab.md)")
    .option('--no-tso', 'routed labs: no userspace TSO; tx offload off on every veth instead (~10x slower pod TCP; docs/lab.md "Offloads")')
    .description('play the scenario (events and expectations) with real traffic')
    .action(async (file: string, flags: LabFlags) => {
      try {
        const report = await scenarioLabTest(file, { id: flags.name, keep: flags.keep, program: programming(flags), builder: flags.mininet ? 'mininet' : undefined, tso: flags.tso });
        const comparison = flags.compare ? compareWithSim(report, runScenario(loadScenario(file).scenario)) : undefined;
        if (flags.json) ctx.stdout(JSON.stringify(comparison ? { ...report, comparison } : report, null, 2) + '\n');
        else ctx.stdout(formatLabReport(report) + (comparison ? formatComparison(comparison) : ''));
        ctx.exitCode = comparison ? (comparison.agree ? 0 : 1) : report.ok ? 0 : 1;
      } catch (err) {
        fail(ctx, err);
      }
    });

  lab
    .command('down')
    .argument('[file]', 'scenario file (or --name)')
    .option('--name <id>', 'lab id; default: a hash of the scenario name')
    .description('tear the lab down: processes by pid, namespaces, veths, its directory')
    .action(async (file: string | undefined, flags: LabFlags) => {
      try {
        if (!file && !flags.name) throw new LabError('lab down: give the scenario file or --name');
        const r = await scenarioLabDown(file ?? '', { id: flags.name });
        ctx.stdout(`lab ${r.id} down: ${r.namespaces} namespaces removed, ${r.processes} processes stopped\n`);
        ctx.exitCode = 0;
      } catch (err) {
        fail(ctx, err);
      }
    });

  registerLabConsole(lab, ctx);
}
