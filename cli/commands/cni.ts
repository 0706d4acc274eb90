/**
 * `fabric cni`: the CNI plugin (the runtime runs it with CNI_COMMAND etc. and the network config on
 * stdin; fabric/cni/plugin.ts), and `fabric cni install --node NAME` (fabric/cni/install.ts): a network
 * config per node and the launcher in the runtime's plugin directory. docs/cni.md.
 */
import type { Command } from 'commander';
import type { CommandContext } from '../main';
import { cniMain } from '../../fabric/cni/plugin';
import { installCni } from '../../fabric/cni/install';
import { controllerList } from '../../fabric/cni/protocol';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command, ctx: CommandContext): void {
  const cni = program
    .command('cni')
    .description('CNI plugin attaching containers to the node bridge (run by podman/containerd; `cni install` sets it up)')
    .action(async () => {
      ctx.exitCode = await cniMain();
    });
  cni
    .command('install')
    .description('write fabric-<node>.conflist and the plugin launcher `fabric` for a container runtime')
    .requiredOption('--node <name>', "the scenario's node this host is (its bridge and pod block)")
    .option('--bin-dir <dir>', 'CNI plugin directory', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'CNI network config directory', '/etc/cni/net.d')
    .option('--controller <url>', "the controller's local API: unix:PATH, tcp:PORT[:ADDR] or http://HOST:PORT (repeatable, or A,B: the controllers of an HA group)", collect, [])
    .option('--bridge <name>', 'OVS bridge (default: the node name)')
    .option('--ovsdb <url>', 'OVSDB of that bridge', 'unix:/var/run/openvswitch/db.sock')
    .option('--ovs-netns <name>', 'network namespace ovs-vswitchd runs in, when not the runtime\'s')
    .option('--subnet <cidr>', "the node's pod block (default: asked from the controller)")
    .option('--mode <mode>', 'routed or overlay (overlay: MTU 1450)')
    .option('--mtu <n>', 'pod MTU', (v) => Number(v))
    .option('--data-dir <dir>', 'IPAM state directory (default /var/lib/fabric-cni)')
    .option('--label <key=value>', 'a label every pod of this network gets (repeatable)', collect, [])
    .action((opts: { node: string; binDir: string; confDir: string; controller: string[]; bridge?: string; ovsdb?: string; ovsNetns?: string; subnet?: string; mode?: string; mtu?: number; dataDir?: string; label: string[] }) => {
      if (opts.mode !== undefined && opts.mode !== 'routed' && opts.mode !== 'overlay') throw new Error(`--mode ${opts.mode}: routed or overlay`);
      const labels: Record<string, string> = {};
      for (const l of opts.label) {
        const eq = l.indexOf('=');
        if (eq <= 0) throw new Error(`--label ${l}: use KEY=VALUE`);
        labels[l.slice(0, eq)] = l.slice(eq + 1);
      }
      if (opts.controller.length > 0) {
        try {
          controllerList(opts.controller.flatMap((v) => v.split(',')));
        } catch (err) {
          throw new Error(`--controller: ${(err as Error).message.replace(/^network config: /, '')}`);
        }
      }
      const r = installCni({ ...opts, mode: opts.mode as 'routed' | 'overlay' | undefined, labels });
      ctx.stdout(`network ${r.name}: ${r.conflist}\nplugin launcher: ${r.launcher}\n`);
      ctx.exitCode = 0;
    });
}
