/**
 * `fabric controller FILE --ovsdb URL --listen URL`: flags -> the controller daemon (fabric/daemon.ts)
 * -> a printed summary. See fabric/daemon.ts and docs/controller.md.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { startController } from '../../fabric/daemon';
import { checkEtcdTlsFlags } from '../../fabric/store';
import type { RunningController } from '../../fabric/daemon';

interface ControllerFlags {
  ovsdb: string[];
  listen: string[];
  api?: string;
  datapathType?: string;
  summary?: string;
  statsInterval?: string;
  /** stop after the first convergence (scripts, tests) */
  once?: boolean;
  stateDir?: string;
  store?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  peerController?: string[];
  leaseTtl?: string;
  haId?: string;
  compactEvery?: string;
  compactKeep?: string;
}

/** --etcd-ca, --etcd-cert, --etcd-key, checked against --store (exit 2 before anything starts) */
function etcdTls(flags: ControllerFlags): { ca?: string; cert?: string; key?: string } | undefined {
  if (flags.etcdCa === undefined && flags.etcdCert === undefined && flags.etcdKey === undefined) return undefined;
  const tls = { ca: flags.etcdCa, cert: flags.etcdCert, key: flags.etcdKey };
  checkEtcdTlsFlags(flags.store, tls);
  return tls;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('controller')
    .argument('<file>', 'scenario file')
    .requiredOption('--ovsdb <url>', 'OVSDB server: unix:PATH or tcp:HOST:PORT; repeat as SWITCH=URL for switches in another OVS', collect)
    .requiredOption('--listen <url>', 'OpenFlow listen address: tcp:PORT[:ADDR] or unix:PATH; repeatable (a bridge gets the one in its OVS run dir, or SWITCH=URL)', collect)
    .option('--api <url>', 'serve GET /metrics, GET /state, POST /events on unix:PATH or tcp:PORT[:ADDR] (default address 127.0.0.1)')
    .option('--datapath-type <type>', 'bridge datapath_type (netdev: userspace; system; dummy)', 'netdev')
    .option('--summary <seconds>', 'print a summary line this often (0: never)', '10')
    .option('--stats-interval <seconds>', "poll the switches' OpenFlow port statistics this often: per-port rates and link utilization in GET /metrics (0: never)", '1')
    .option('--once', 'exit after every switch connected and the first convergence')
    .option('--state-dir <dir>', 'keep the intent (every accepted change) in DIR/intent.log, fsynced before each answer, replayed on start (default: in memory, lost on exit)')
    .option('--store <url>', 'the shared intent store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]: several controllers, one elected leader (docs/ha.md)')
    .option('--etcd-ca <file>', "etcds:// store: the CA bundle that signed etcd's server certificates (default: the system roots)")
    .option('--etcd-cert <file>', "etcds:// store: a client certificate for etcd's --client-cert-auth (with --etcd-key)")
    .option('--etcd-key <file>', 'etcds:// store: the private key of --etcd-cert')
    .option('--peer-controller <url>', "HA: another controller's OpenFlow address, added to every bridge's controllers (SWITCH=URL: to that switch's only); repeatable", collect)
    .option('--lease-ttl <seconds>', 'HA: the leader lease TTL (takeover takes about this long)', '3')
    .option('--compact-every <batches>', 'intent store: fold old batches into one every N batches (0: never)', '1000')
    .option('--compact-keep <batches>', 'intent store: the most recent batches a compaction keeps as they are', '100')
    .option('--ha-id <name>', "HA: this controller's identity in the election (default its --api URL)")
    .description('run the controller against real Open vSwitch (runs until stopped)')
    .addHelpText(
      'after',
      `
Several OVS processes (one per node, overlay labs):
  fabric controller s.yaml --ovsdb unix:/run/a/db.sock --listen unix:/run/a/controller.sock \\
      --ovsdb node1=unix:/run/n1/db.sock --listen unix:/run/n1/controller.sock

Live edits: the scenario file is watched (pods, services; a link removed goes down, restored comes up).
The local API (--api unix:/tmp/fabric.sock):
  curl --unix-socket /tmp/fabric.sock http://fabric/metrics
  curl --unix-socket /tmp/fabric.sock http://fabric/state
  curl --unix-socket /tmp/fabric.sock -X POST http://fabric/events \\
      -d '[{"kind":"pod","action":"add","name":"web-3","node":"node2","labels":{"app":"web"}},
           {"kind":"link","action":"down","between":["node2","tor1"]}]'
  (all or nothing: a bad event is a 400 and nothing is applied; the answer comes after the reconcile)
See docs/controller.md.
`,
    )
    .action(async (file: string, flags: ControllerFlags) => {
      const log = (event: string, fields: Record<string, unknown>): void => {
        ctx.stderr(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
      };
      let running: RunningController;
      try {
        const statsS = Number(flags.statsInterval ?? '1');
        if (!(statsS >= 0)) throw Object.assign(new Error(`--stats-interval ${flags.statsInterval}: give seconds >= 0`), { exitCode: 2 });
        const ttlS = Number(flags.leaseTtl ?? '3');
        if (!(Number.isInteger(ttlS) && ttlS >= 1)) throw Object.assign(new Error(`--lease-ttl ${flags.leaseTtl}: give whole seconds >= 1`), { exitCode: 2 });
        const every = Number(flags.compactEvery ?? '1000');
        const keep = Number(flags.compactKeep ?? '100');
        if (!(Number.isInteger(every) && every >= 0)) throw Object.assign(new Error(`--compact-every ${flags.compactEvery}: give a whole number of batches >= 0`), { exitCode: 2 });
        if (!(Number.isInteger(keep) && keep >= 0)) throw Object.assign(new Error(`--compact-keep ${flags.compactKeep}: give a whole number of batches >= 0`), { exitCode: 2 });
        running = await startController(file, {
          ovsdb: flags.ovsdb,
          listen: flags.listen,
          api: flags.api,
          datapathType: flags.datapathType,
          log,
          statsIntervalMs: statsS * 1000,
          stateDir: flags.stateDir,
          store: flags.store,
          etcdTls: etcdTls(flags),
          peerControllers: flags.peerController,
          ha: { ttlS, identity: flags.haId },
          compact: { every, keep },
        });
      } catch (err) {
        ctx.stderr(`fabric controller: ${(err as Error).message}\n`);
        ctx.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
        return;
      }
      const summarize = (): void => {
        const s = running.controller.stats;
        ctx.stdout(
          `switches ${s.switchesConnected}/${s.switchesTotal} connected; flows ${Object.entries(s.flowsBySwitch).map(([k, v]) => `${k}=${v}`).join(' ') || '-'}; ` +
            `last convergence ${s.lastConvergenceMs === undefined ? '-' : `${s.lastConvergenceMs.toFixed(1)} ms`}; passes ${s.passes}; ops ${s.opsSent}; links down ${s.linksDown.join(',') || 'none'}; ` +
            `file reloads ${running.reloadStats.reloads} (refused ${running.reloadStats.refused}, failed ${running.reloadStats.failures})\n`,
        );
      };
      let failure: string | undefined;
      await new Promise<void>((resolve) => {
        const seconds = Number(flags.summary ?? '10');
        const timer = seconds > 0 ? setInterval(summarize, seconds * 1000) : undefined;
        let check: NodeJS.Timeout | undefined;
        const stop = (): void => {
          if (timer) clearInterval(timer);
          if (check) clearInterval(check);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        // a store compacted under a controller that had applied only part of it: exit 75 (restart me)
        void running.failed.then((reason) => {
          ctx.stderr(`fabric controller: ${reason}\n`);
          failure = reason;
          stop();
        });
        if (flags.once) {
          check = setInterval(() => {
            const s = running.controller.stats;
            if (s.switchesConnected === s.switchesTotal && s.passes > 0) {
              clearInterval(check);
              running.controller.idle().then(stop, stop);
            }
          }, 100);
        }
      });
      summarize();
      await running.stop();
      ctx.exitCode = failure === undefined ? 0 : 75;
    });
}
