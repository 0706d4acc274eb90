/**
 * `fabric cni install`: one network configuration per node (`<confDir>/fabric-<node>.conflist`, the
 * network `fabric-<node>`) and the launcher the runtime runs as plugin type `fabric` (`<binDir>/fabric`,
 * a shell script exec'ing node on this repository's bin/fabric.js `cni`).
 */
import * as fs from 'fs';
import * as path from 'path';

export interface InstallOptions {
  node: string;
  binDir: string;
  confDir: string;
  /** one URL, or the controllers of an HA group (written as a list; each may also be `A,B`) */
  controller?: string | string[];
  bridge?: string;
  ovsdb?: string;
  ovsNetns?: string;
  subnet?: string;
  mode?: 'routed' | 'overlay';
  mtu?: number;
  dataDir?: string;
  labels?: Record<string, string>;
  /** network name (default fabric-<node>) */
  name?: string;
  cniVersion?: string;
  /** the node.js binary (default: the one running now) */
  nodeBin?: string;
  /** the script the launcher runs and its first arguments (default: this repo's bin/fabric.js cni) */
  entry?: string[];
  /** the plugin type, i.e. the launcher's file name (default fabric) */
  type?: string;
}

export interface Installed {
  name: string;
  conflist: string;
  launcher: string;
  config: Record<string, unknown>;
}

export function defaultEntry(): string[] {
  // dist/fabric/cni/install.js or fabric/cni/install.ts -> the repository root
  let dir = __dirname;
  for (let i = 0; i < 5 && !fs.existsSync(path.join(dir, 'bin', 'fabric.js')); i++) dir = path.dirname(dir);
  return [path.join(dir, 'bin', 'fabric.js'), 'cni'];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `controller`: one URL as a string (as before), several as a list; comma-separated values split. */
function controllerKey(c: InstallOptions['controller']): { controller?: string | string[] } {
  const urls = (typeof c === 'string' ? [c] : c ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const unique = urls.filter((u, i) => urls.indexOf(u) === i);
  if (unique.length === 0) return {};
  return { controller: unique.length === 1 ? unique[0] : unique };
}

export function networkConfig(o: InstallOptions): Record<string, unknown> {
  const name = o.name ?? `fabric-${o.node}`;
  const plugin: Record<string, unknown> = {
    type: o.type ?? 'fabric',
    node: o.node,
    bridge: o.bridge ?? o.node,
    ovsdb: o.ovsdb ?? 'unix:/var/run/openvswitch/db.sock',
    ...(o.ovsNetns ? { ovsNetns: o.ovsNetns } : {}),
    ...controllerKey(o.controller),
    ...(o.subnet ? { subnet: o.subnet } : {}),
    ...(o.mode ? { mode: o.mode } : {}),
    ...(o.mtu ? { mtu: o.mtu } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(o.labels && Object.keys(o.labels).length > 0 ? { labels: o.labels } : {}),
    // podman hands `--network NET:alias=label:KEY=VALUE` to the plugin as runtimeConfig.aliases
    capabilities: { aliases: true },
  };
  return { cniVersion: o.cniVersion ?? '1.0.0', name, plugins: [plugin] };
}

export function installCni(o: InstallOptions): Installed {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o.node)) throw new Error(`--node ${JSON.stringify(o.node)}: use letters, digits, _ . -`);
  const config = networkConfig(o);
  const name = String(config.name);
  fs.mkdirSync(o.confDir, { recursive: true });
  fs.mkdirSync(o.binDir, { recursive: true });
  const conflist = path.join(o.confDir, `${name}.conflist`);
  const tmpConf = `${conflist}.tmp-${process.pid}`;
  fs.writeFileSync(tmpConf, JSON.stringify(config, null, 2) + '\n');
  fs.renameSync(tmpConf, conflist);
  const launcher = path.join(o.binDir, o.type ?? 'fabric');
  const entry = o.entry ?? defaultEntry();
  const script = `#!/bin/sh\n# fabric's CNI plugin (written by \`fabric cni install\`): the runtime runs this with CNI_* set and the config on stdin\nexec ${[o.nodeBin ?? process.execPath, ...entry].map(shellQuote).join(' ')} "$@"\n`;
  const tmpBin = `${launcher}.tmp-${process.pid}`;
  fs.writeFileSync(tmpBin, script, { mode: 0o755 });
  fs.renameSync(tmpBin, launcher);
  return { name, conflist, launcher, config };
}
