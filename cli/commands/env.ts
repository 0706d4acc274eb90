/**
 * `fabric env FILE POD [--at T] [--json]`: the Kubernetes-style service variables the pod gets
 * (`WEB_SERVICE_HOST`, `WEB_SERVICE_PORT`, `WEB_PORT=tcp://IP:PORT`, ...; topology/dns.ts serviceEnv),
 * one `KEY=value` line each, sorted, for the cluster state at virtual time T. docs/discovery.md.
 * Exit 0, or 2 on bad input (an unknown pod, a bad scenario).
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { didYouMean } from '../../topology';
import { serviceEnv } from '../../topology/dns';
import { CliInputError, fail, loadStateAt, parseAt } from './dns';

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('env')
    .description("print the service environment variables a pod gets (Kubernetes' docker-link style)")
    .argument('<file>', 'scenario YAML file')
    .argument('<pod>', 'pod name')
    .option('--at <time>', 'apply the events up to this virtual time first (e.g. 2s, 250ms); default 0')
    .option('--json', 'print the variables as one JSON object')
    .action((file: string, podName: string, opts: { at?: string; json?: boolean }) => {
      try {
        const at = parseAt('env', opts.at);
        const loaded = loadStateAt(file, at, ctx);
        if (!loaded) {
          ctx.exitCode = 2;
          return;
        }
        const { state } = loaded;
        if (!state.pods.has(podName)) {
          const added = loaded.scenario.events.find((ev) => ev.kind === 'pod' && ev.action === 'add' && ev.name === podName && ev.at > at);
          throw new CliInputError(`env: no pod named ${podName} at ${at}s${added ? ` (it is added at ${added.at}s: give --at ${added.at}s)` : didYouMean(podName, state.pods.keys())}`);
        }
        const env = serviceEnv(state, podName);
        ctx.stdout(opts.json ? JSON.stringify(env, null, 2) + '\n' : Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''));
        ctx.exitCode = 0;
      } catch (e) {
        fail(ctx, 'env', e);
      }
    });
}
