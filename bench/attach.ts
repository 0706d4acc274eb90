/**
 * The seed paper's comparison of container attach strategies, measured on this machine (issue 16):
 * TCP throughput (iperf3, 1 and 4 streams) and ICMP round-trip time (ping: median and p99) between a
 * client and a server namespace, for each way of attaching a container's network namespace:
 * - loopback: client and server in one namespace (a pod's containers sharing it);
 * - veth: a veth pair straight between the two namespaces;
 * - bridge: each namespace on a Linux bridge in a third "host" namespace (Docker's docker0, no rules);
 * - bridge + iptables: the same with Docker's iptables rules loaded in the host namespace (FORWARD chains,
 *   MASQUERADE, br_netfilter on): container to container across the bridge;
 * - DNAT port mapping: a client outside the host (a fourth namespace on a veth to the host) reaches the
 *   server through the host's address and a mapped port (`docker run -p 15201:5201`); ping goes to the
 *   host address and is DNAT'ed to the container the same way, so its rtt crosses the same path;
 * - OVS netdev (tx off): veths into an Open vSwitch userspace bridge with one NORMAL flow, tx offload
 *   off in the namespaces (docs/real-ovs.md pitfall 1) — what fabric's lab and CNI plugin do;
 * - OVS netdev + TSO: the same with `other_config:userspace-tso-enable=true` set before ovs-vswitchd
 *   starts (a second private OVS instance, in its own namespace: docs/real-ovs.md pitfall 2);
 * - macvlan (bridge mode) and ipvlan L2 / L3 over a parent veth in the host namespace; a kind the kernel
 *   lacks is reported "not available in this kernel", not failed.
 * Several rounds, the strategies in a rotating order; per strategy and figure: median and range over the
 * rounds. Prints a table, writes bench/results/attach.json. Never asserts anything about the figures.
 *
 * Everything lives in network namespaces named `fatt-<pid>-…` with interfaces named `fat…`, addresses
 * from the benchmarking range 198.18.0.0/15; nothing is configured in the root namespace; the two OVS
 * instances are private (run directory in /tmp, daemons inside our host namespaces). All of it is removed
 * at the end, also on failure or SIGTERM/SIGINT; what a SIGKILL'ed run left (namespaces, OVS daemons,
 * iperf3 servers, found by their pidfiles and checked by comm) is removed by the next run.
 *
 *   npm run bench -- attach
 *   node dist/bench/attach.js [--rounds 3] [--seconds 3] [--pings 200] [--only veth,bridge,...]
 *   (or ATTACH_ROUNDS / ATTACH_SECONDS / ATTACH_PINGS / ATTACH_ONLY in the environment)
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchResult, formatTable, record, writeResults } from './harness';
import { iperfError, parseIperfGbps, parsePingCounts, parsePingRttsUs, percentile, roundOrder, summarize, formatRange, medianOf } from './attach/stats';
import { LabOvs, readPidFile } from '../fabric/lab/ovs';
import { inNsAsync, pidAlive, pidComm, runCmd, sleep } from '../fabric/lab/exec';

const PREFIX = `fatt-${process.pid}`;
const IPERF_PORT = 5201;
const MAPPED_PORT = 15201;

/** A strategy that cannot be set up on this machine (missing kernel feature or tool): reported, not failed. */
class NotAvailable extends Error {}

interface Strategy {
  key: string;
  label: string;
  /** namespace the clients (iperf3 -c, ping) run in */
  clientNs: string;
  /** where iperf3 connects and ping pings */
  target: string;
  port: number;
  serverNs: string;
  how: string;
}

interface Samples {
  tcp1: number[];
  tcp4: number[];
  rttMedian: number[];
  rttP99: number[];
  lost: number;
  sent: number;
  errors: string[];
}

/** Everything created, for the cleanup. */
const created = {
  /** holds iperf3.pids: the servers' pids, for the sweep after a SIGKILL'ed run */
  runDir: undefined as string | undefined,
  namespaces: [] as string[],
  servers: [] as ChildProcess[],
  ovs: [] as LabOvs[],
  dirs: [] as string[],
};

function has(tool: string): boolean {
  return runCmd('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function run(cmd: string, args: string[]): string {
  const r = runCmd(cmd, args, { timeoutMs: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')} (exit ${r.status})`);
  return r.stdout;
}

/** `ip -n NS ...` */
function ipn(ns: string, ...args: string[]): string {
  return run('ip', ['-n', ns, ...args]);
}

/** A program inside a namespace (ip netns exec). */
function inns(ns: string, cmd: string, ...args: string[]): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** A new namespace `fatt-<pid>-<name>` with lo up. */
function netns(name: string): string {
  const ns = `${PREFIX}-${name}`;
  run('ip', ['netns', 'add', ns]);
  created.namespaces.push(ns);
  ipn(ns, 'link', 'set', 'lo', 'up');
  return ns;
}

/** A veth pair created inside namespace `a` with its peer moved straight into `b`; both ends up. */
function veth(a: string, nameA: string, b: string, nameB: string): void {
  ipn(a, 'link', 'add', nameA, 'type', 'veth', 'peer', 'name', nameB, 'netns', b);
  ipn(a, 'link', 'set', nameA, 'up');
  ipn(b, 'link', 'set', nameB, 'up');
}

function addr(ns: string, dev: string, cidr: string): void {
  ipn(ns, 'addr', 'add', cidr, 'dev', dev);
  ipn(ns, 'link', 'set', dev, 'up');
}

function startServer(ns: string): void {
  // `ip netns exec` execs iperf3: the child's pid is iperf3's own, ours to kill by handle
  const child = spawn('ip', ['netns', 'exec', ns, 'iperf3', '-s', '-p', String(IPERF_PORT), '--rcv-timeout', '5000'], { stdio: 'ignore' });
  child.on('error', () => undefined);
  created.servers.push(child);
  if (created.runDir === undefined) {
    created.runDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-run-`));
    created.dirs.push(created.runDir);
  }
  if (child.pid !== undefined) fs.appendFileSync(path.join(created.runDir, 'iperf3.pids'), `${child.pid}\n`);
}

// ---------------------------------------------------------------------------------------------
// The strategies' setups
// ---------------------------------------------------------------------------------------------

function setupLoopback(): Strategy {
  const ns = netns('lo');
  startServer(ns);
  return { key: 'loopback', label: 'loopback (one namespace, a pod)', clientNs: ns, target: '127.0.0.1', port: IPERF_PORT, serverNs: ns, how: 'client and server in one namespace over lo' };
}

function setupVeth(): Strategy {
  const c = netns('veth-c');
  const s = netns('veth-s');
  veth(c, 'fatv0', s, 'fatv1');
  addr(c, 'fatv0', '198.18.1.1/24');
  addr(s, 'fatv1', '198.18.1.2/24');
  startServer(s);
  return { key: 'veth', label: 'veth pair', clientNs: c, target: '198.18.1.2', port: IPERF_PORT, serverNs: s, how: 'one veth pair between the two namespaces' };
}

/** Host namespace with a Linux bridge `fatbr` (gateway .254) and client .1 / server .2 on it. */
function bridgeTopology(tag: string, subnet: string): { h: string; c: string; s: string } {
  const h = netns(`${tag}-h`);
  const c = netns(`${tag}-c`);
  const s = netns(`${tag}-s`);
  ipn(h, 'link', 'add', 'fatbr', 'type', 'bridge');
  addr(h, 'fatbr', `${subnet}.254/24`);
  for (const [ns, inside, outside, host] of [
    [c, 'fatc0', 'fatbc', 1],
    [s, 'fats0', 'fatbs', 2],
  ] as const) {
    veth(ns, inside, h, outside);
    ipn(h, 'link', 'set', outside, 'master', 'fatbr');
    addr(ns, inside, `${subnet}.${host}/24`);
    ipn(ns, 'route', 'add', 'default', 'via', `${subnet}.254`);
  }
  return { h, c, s };
}

function setupBridge(): Strategy {
  const { c, s } = bridgeTopology('br', '198.18.2');
  startServer(s);
  return { key: 'bridge', label: 'veth + Linux bridge', clientNs: c, target: '198.18.2.2', port: IPERF_PORT, serverNs: s, how: 'both namespaces on a Linux bridge in a host namespace, no iptables rules' };
}

/**
 * Docker's rules for a bridge network (docker 20–24, iptables backend) with one published port, in the
 * host namespace: FORWARD policy DROP with the DOCKER-USER / DOCKER-ISOLATION / DOCKER chains,
 * MASQUERADE of the bridge subnet, and the DNAT of the mapped port (plus ICMP, so ping crosses the same path).
 */
export function dockerRules(bridge: string, subnet: string, container: string): string[][] {
  return [
    ['-t', 'nat', '-N', 'DOCKER'],
    ['-t', 'nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['-t', 'nat', '-A', 'OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['-t', 'nat', '-A', 'POSTROUTING', '-s', `${subnet}.0/24`, '!', '-o', bridge, '-j', 'MASQUERADE'],
    ['-t', 'nat', '-A', 'POSTROUTING', '-s', `${container}/32`, '-d', `${container}/32`, '-p', 'tcp', '--dport', String(IPERF_PORT), '-j', 'MASQUERADE'],
    ['-t', 'nat', '-A', 'DOCKER', '-i', bridge, '-j', 'RETURN'],
    ['-t', 'nat', '-A', 'DOCKER', '!', '-i', bridge, '-p', 'tcp', '--dport', String(MAPPED_PORT), '-j', 'DNAT', '--to-destination', `${container}:${IPERF_PORT}`],
    ['-t', 'nat', '-A', 'DOCKER', '!', '-i', bridge, '-p', 'icmp', '-j', 'DNAT', '--to-destination', container],
    ['-t', 'filter', '-N', 'DOCKER'],
    ['-t', 'filter', '-N', 'DOCKER-USER'],
    ['-t', 'filter', '-N', 'DOCKER-ISOLATION-STAGE-1'],
    ['-t', 'filter', '-N', 'DOCKER-ISOLATION-STAGE-2'],
    ['-t', 'filter', '-P', 'FORWARD', 'DROP'],
    ['-t', 'filter', '-A', 'FORWARD', '-j', 'DOCKER-USER'],
    ['-t', 'filter', '-A', 'FORWARD', '-j', 'DOCKER-ISOLATION-STAGE-1'],
    ['-t', 'filter', '-A', 'FORWARD', '-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', 'FORWARD', '-o', bridge, '-j', 'DOCKER'],
    ['-t', 'filter', '-A', 'FORWARD', '-i', bridge, '!', '-o', bridge, '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', 'DOCKER', '-d', `${container}/32`, '!', '-i', bridge, '-o', bridge, '-p', 'tcp', '--dport', String(IPERF_PORT), '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', 'DOCKER', '-d', `${container}/32`, '!', '-i', bridge, '-o', bridge, '-p', 'icmp', '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-1', '-i', bridge, '!', '-o', bridge, '-j', 'DOCKER-ISOLATION-STAGE-2'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-1', '-j', 'RETURN'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-2', '-o', bridge, '-j', 'DROP'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-2', '-j', 'RETURN'],
    ['-t', 'filter', '-A', 'DOCKER-USER', '-j', 'RETURN'],
  ];
}

/** Docker-style host: bridge + rules, and an "outside" client namespace on a veth to the host. */
function setupDocker(): Strategy[] {
  if (!has('iptables')) throw new NotAvailable('iptables not installed (apt-get install iptables)');
  const subnet = '198.18.3';
  const { h, c, s } = bridgeTopology('nat', subnet);
  const e = netns('nat-e');
  veth(e, 'fate0', h, 'fath0');
  addr(e, 'fate0', '198.18.4.1/24');
  addr(h, 'fath0', '198.18.4.254/24');
  inns(h, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  for (const rule of dockerRules('fatbr', subnet, `${subnet}.2`)) inns(h, 'iptables', ...rule);
  startServer(s);
  const nf = runCmd('ip', ['netns', 'exec', h, 'sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']).stdout.trim() || '?';
  const backend = /\((\w+)\)/.exec(runCmd('iptables', ['--version']).stdout)?.[1] ?? '?';
  return [
    {
      key: 'bridge-iptables',
      label: 'bridge + Docker iptables',
      clientNs: c,
      target: `${subnet}.2`,
      port: IPERF_PORT,
      serverNs: s,
      how: `container to container on the bridge with Docker's filter/nat rules loaded (iptables ${backend}, bridge-nf-call-iptables=${nf})`,
    },
    {
      key: 'dnat',
      label: 'port mapping (DNAT via host addr)',
      clientNs: e,
      target: '198.18.4.254',
      port: MAPPED_PORT,
      serverNs: s,
      how: `outside client -> host 198.18.4.254:${MAPPED_PORT} -> DNAT -> container :${IPERF_PORT} through FORWARD and conntrack; ping DNAT'ed the same way`,
    },
  ];
}

async function setupOvs(tso: boolean): Promise<Strategy> {
  if (!has('ovs-vswitchd') || !has('ovsdb-tool')) throw new NotAvailable('Open vSwitch not installed (apt-get install openvswitch-switch)');
  if (!tso && !has('ethtool')) throw new NotAvailable('ethtool not installed (apt-get install ethtool)');
  const tag = tso ? 'tso' : 'ovs';
  const subnet = tso ? '198.18.6' : '198.18.5';
  const h = netns(`${tag}-h`);
  const c = netns(`${tag}-c`);
  const s = netns(`${tag}-s`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-${tag}-`));
  created.dirs.push(dir);
  const ovs = new LabOvs(dir, h);
  created.ovs.push(ovs);
  await ovs.start(tso ? { otherConfig: { 'userspace-tso-enable': 'true' } } : {});
  const br = 'fatovs';
  ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', 'fail_mode=secure');
  for (const [ns, inside, outside, host] of [
    [c, 'fatc0', 'fato1', 1],
    [s, 'fats0', 'fato2', 2],
  ] as const) {
    veth(ns, inside, h, outside);
    ovs.vsctl('add-port', br, outside, '--', 'set', 'interface', outside, `ofport_request=${host}`);
    addr(ns, inside, `${subnet}.${host}/24`);
    if (!tso) inns(ns, 'ethtool', '-K', inside, 'tx', 'off');
  }
  ovs.ofctl('del-flows', ovs.mgmt(br));
  ovs.ofctl('add-flow', ovs.mgmt(br), 'priority=0,actions=NORMAL');
  startServer(s);
  return {
    key: tso ? 'ovs-tso' : 'ovs',
    label: tso ? 'OVS netdev + userspace TSO' : 'OVS netdev (tx off)',
    clientNs: c,
    target: `${subnet}.2`,
    port: IPERF_PORT,
    serverNs: s,
    how: tso
      ? 'veths into a private OVS userspace bridge, one NORMAL flow, other_config:userspace-tso-enable=true, offloads on'
      : 'veths into a private OVS userspace bridge, one NORMAL flow, ethtool -K tx off in both namespaces',
  };
}

/** macvlan / ipvlan children of a parent veth in a host namespace, moved into the client and server. */
function setupVlanKind(key: string, kind: 'macvlan' | 'ipvlan', mode: string, subnet: string): Strategy {
  const h = netns(`${key}-h`);
  veth(h, 'fatp0', h, 'fatp1'); // the parent: no dummy driver in every kernel, a veth is always there
  const probe = runCmd('ip', ['-n', h, 'link', 'add', 'fatk0', 'link', 'fatp0', 'type', kind, 'mode', mode]);
  if (probe.status !== 0) {
    const why = probe.stderr.trim().split('\n').pop() ?? '';
    if (/unknown device type|not supported|operation not supported/i.test(why)) throw new NotAvailable(`not available in this kernel (ip link add type ${kind}: ${why})`);
    throw new Error(`ip link add type ${kind} mode ${mode}: ${why}`);
  }
  ipn(h, 'link', 'add', 'fatk1', 'link', 'fatp0', 'type', kind, 'mode', mode);
  const c = netns(`${key}-c`);
  const s = netns(`${key}-s`);
  for (const [ns, dev, host] of [
    [c, 'fatk0', 1],
    [s, 'fatk1', 2],
  ] as const) {
    ipn(h, 'link', 'set', dev, 'netns', ns);
    addr(ns, dev, `${subnet}.${host}/24`);
  }
  startServer(s);
  const label = kind === 'macvlan' ? 'macvlan (bridge mode)' : `ipvlan ${mode.toUpperCase()}`;
  return { key, label, clientNs: c, target: `${subnet}.2`, port: IPERF_PORT, serverNs: s, how: `${kind} mode ${mode} over a parent veth in a host namespace` };
}

interface Planned {
  key: string;
  label: string;
  setup: () => Strategy | Strategy[] | Promise<Strategy>;
  /** the keys this setup yields (one setup makes both Docker strategies) */
  yields: string[];
}

const PLAN: Planned[] = [
  { key: 'loopback', label: 'loopback (one namespace, a pod)', setup: setupLoopback, yields: ['loopback'] },
  { key: 'veth', label: 'veth pair', setup: setupVeth, yields: ['veth'] },
  { key: 'bridge', label: 'veth + Linux bridge', setup: setupBridge, yields: ['bridge'] },
  { key: 'docker', label: 'bridge + Docker iptables / port mapping', setup: setupDocker, yields: ['bridge-iptables', 'dnat'] },
  { key: 'ovs', label: 'OVS netdev (tx off)', setup: () => setupOvs(false), yields: ['ovs'] },
  { key: 'ovs-tso', label: 'OVS netdev + userspace TSO', setup: () => setupOvs(true), yields: ['ovs-tso'] },
  { key: 'macvlan', label: 'macvlan (bridge mode)', setup: () => setupVlanKind('macvlan', 'macvlan', 'bridge', '198.18.7'), yields: ['macvlan'] },
  { key: 'ipvlan-l2', label: 'ipvlan L2', setup: () => setupVlanKind('ipvlan-l2', 'ipvlan', 'l2', '198.18.8'), yields: ['ipvlan-l2'] },
  { key: 'ipvlan-l3', label: 'ipvlan L3', setup: () => setupVlanKind('ipvlan-l3', 'ipvlan', 'l3', '198.18.9'), yields: ['ipvlan-l3'] },
];

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

async function iperf(st: Strategy, streams: number, seconds: number): Promise<number> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await inNsAsync(st.clientNs, 'iperf3', ['-c', st.target, '-p', String(st.port), '-t', String(seconds), '-P', String(streams), '-J', '--connect-timeout', '3000'], {
      timeoutMs: (seconds + 20) * 1000,
    });
    const gbps = parseIperfGbps(r.stdout);
    if (gbps !== undefined) return gbps;
    last = iperfError(r.stdout) ?? (r.stderr.trim() || `exit ${r.status}`);
    await sleep(500 + attempt * 1000); // the server not listening yet, or still closing the last test
  }
  throw new Error(`iperf3 -P ${streams} ${st.target}:${st.port}: ${last}`);
}

async function ping(st: Strategy, count: number): Promise<{ rtts: number[]; sent: number; received: number }> {
  const r = await inNsAsync(st.clientNs, 'ping', ['-n', '-c', String(count), '-i', '0.01', '-W', '1', st.target], { timeoutMs: count * 50 + 10_000 });
  const rtts = parsePingRttsUs(r.stdout);
  const counts = parsePingCounts(r.stdout) ?? { sent: count, received: rtts.length };
  if (rtts.length === 0) throw new Error(`ping ${st.target}: no reply (${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''})`);
  return { rtts, ...counts };
}

async function measureOnce(st: Strategy, s: Samples, opts: Options): Promise<void> {
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      s.errors.push(`${what}: ${(err as Error).message}`);
      process.stderr.write(`bench attach: ${st.key} ${what}: ${(err as Error).message}\n`);
    }
  };
  await step('ping', async () => {
    const p = await ping(st, opts.pings);
    s.rttMedian.push(medianOf(p.rtts));
    s.rttP99.push(percentile(p.rtts, 99));
    s.sent += p.sent;
    s.lost += p.sent - p.received;
  });
  await step('iperf3 -P 1', async () => {
    s.tcp1.push(await iperf(st, 1, opts.seconds));
  });
  await step('iperf3 -P 4', async () => {
    s.tcp4.push(await iperf(st, 4, opts.seconds));
  });
}

/** Is the path up? A few pings (also fills ARP caches and OVS's MAC learning before round 1). */
async function check(st: Strategy): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await inNsAsync(st.clientNs, 'ping', ['-n', '-c', '3', '-i', '0.05', '-W', '1', st.target], { timeoutMs: 10_000 });
    if (parsePingRttsUs(r.stdout).length > 0) return;
    await sleep(300);
  }
  throw new Error(`${st.key}: ${st.target} does not answer ping`);
}

// ---------------------------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------------------------

/** Synchronous, for the signal handlers too: servers by handle, OVS daemons by pidfile (comm checked), namespaces, dirs. */
function cleanupSync(): void {
  for (const child of created.servers.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const ovs of created.ovs.splice(0)) {
    for (const [file, comm] of [
      [ovs.paths.vswitchdPidFile, 'ovs-vswitchd'],
      [ovs.paths.dbPidFile, 'ovsdb-server'],
    ] as const) {
      const pid = readPidFile(file);
      if (pid !== undefined && pidAlive(pid) && pidComm(pid) === comm) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  for (const ns of created.namespaces.splice(0).reverse()) runCmd('ip', ['netns', 'del', ns]);
  for (const dir of created.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  created.runDir = undefined;
}

async function cleanup(): Promise<void> {
  for (const ovs of [...created.ovs]) {
    try {
      await ovs.stop();
    } catch {
      /* cleanupSync kills what is left */
    }
  }
  await sleep(100);
  cleanupSync();
}

/**
 * What an earlier run of this bench left when its process died without cleaning up (SIGKILL): its OVS
 * daemons (by the pidfiles in its run directories, comm checked) and its namespaces.
 */
function sweepStale(): void {
  const dead = (pid: string): boolean => Number(pid) !== process.pid && !pidAlive(Number(pid));
  const kill = (pid: number | undefined, comm: string): void => {
    if (pid !== undefined && pid > 1 && pidAlive(pid) && pidComm(pid) === comm) process.kill(pid, 'SIGKILL');
  };
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = /^fatt-(\d+)-(ovs|tso|run)-/.exec(name);
    if (!m || !dead(m[1])) continue;
    const dir = path.join(os.tmpdir(), name);
    if (m[2] === 'run') {
      const pids = fs.existsSync(path.join(dir, 'iperf3.pids')) ? fs.readFileSync(path.join(dir, 'iperf3.pids'), 'utf8').split('\n') : [];
      for (const pid of pids) if (/^\d+$/.test(pid)) kill(Number(pid), 'iperf3');
    } else {
      kill(readPidFile(path.join(dir, 'ovs-vswitchd.pid')), 'ovs-vswitchd');
      kill(readPidFile(path.join(dir, 'ovsdb-server.pid')), 'ovsdb-server');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const line of runCmd('ip', ['netns', 'list']).stdout.split('\n')) {
    const m = /^(fatt-(\d+)-\S+)/.exec(line.trim());
    if (m && dead(m[2])) runCmd('ip', ['netns', 'del', m[1]]);
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

interface Options {
  rounds: number;
  seconds: number;
  pings: number;
  only?: string[];
}

function options(argv: string[]): Options {
  const arg = (flag: string, env: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : process.env[env];
  };
  const int = (v: string | undefined, dflt: number): number => (v !== undefined && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : dflt);
  const only = arg('--only', 'ATTACH_ONLY');
  return { rounds: int(arg('--rounds', 'ATTACH_ROUNDS'), 3), seconds: int(arg('--seconds', 'ATTACH_SECONDS'), 3), pings: int(arg('--pings', 'ATTACH_PINGS'), 200), only: only ? only.split(',') : undefined };
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (process.getuid && process.getuid() !== 0) throw new Error('needs root (network namespaces)');
  for (const tool of ['ip', 'iperf3', 'ping']) if (!has(tool)) throw new Error(`${tool} not found (apt-get install iproute2 iperf3 iputils-ping)`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      cleanupSync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  sweepStale();
  const strategies: Strategy[] = [];
  const unavailable: Array<{ key: string; label: string; why: string }> = [];
  const notes: string[] = [];
  const samples = new Map<string, Samples>();
  const loads: number[] = [];
  const started = Date.now();
  try {
    for (const p of PLAN) {
      if (opts.only && !p.yields.some((k) => opts.only!.includes(k)) && !opts.only.includes(p.key)) continue;
      try {
        const made = await p.setup();
        for (const st of Array.isArray(made) ? made : [made]) {
          await check(st);
          strategies.push(st);
          samples.set(st.key, { tcp1: [], tcp4: [], rttMedian: [], rttP99: [], lost: 0, sent: 0, errors: [] });
        }
      } catch (err) {
        const why = err instanceof NotAvailable ? err.message : `setup failed: ${(err as Error).message}`;
        unavailable.push({ key: p.key, label: p.label, why });
        process.stderr.write(`bench attach: ${p.label}: ${why}\n`);
      }
    }
    process.stdout.write(`attach: ${strategies.length} strategies, ${opts.rounds} rounds, iperf3 ${opts.seconds} s, ${opts.pings} pings every 10 ms\n`);
    for (let round = 0; round < opts.rounds; round++) {
      const order = roundOrder(strategies, round);
      loads.push(os.loadavg()[0]);
      process.stdout.write(`round ${round + 1}/${opts.rounds}: ${order.map((s) => s.key).join(', ')} (load ${os.loadavg()[0].toFixed(2)})\n`);
      for (const st of order) await measureOnce(st, samples.get(st.key)!, opts);
    }
  } finally {
    await cleanup();
  }

  // ---- report
  const results: BenchResult[] = [];
  const rows: string[][] = [];
  const withRange = (r: BenchResult, values: number[]): BenchResult => {
    const s = summarize(values);
    return Object.assign(r, { max: s.max, spreadPct: Math.round(s.spreadPct * 10) / 10 });
  };
  for (const st of strategies) {
    const s = samples.get(st.key)!;
    const lost = s.sent ? `; ${s.lost}/${s.sent} pings lost` : '';
    const errs = s.errors.length ? `; errors: ${s.errors.join('; ')}` : '';
    const add = (figure: string, unit: string, values: number[]): void => {
      if (values.length) results.push(withRange(record(`${st.label}: ${figure}`, unit, values, `${st.how}${lost}${errs}`), values));
    };
    add('TCP 1 stream', 'Gbit/s', s.tcp1);
    add('TCP 4 streams', 'Gbit/s', s.tcp4);
    add('ping rtt median', 'us', s.rttMedian);
    add('ping rtt p99', 'us', s.rttP99);
    rows.push([st.label, formatRange(summarize(s.tcp1)), formatRange(summarize(s.tcp4)), formatRange(summarize(s.rttMedian)), formatRange(summarize(s.rttP99)), s.sent ? `${s.lost}/${s.sent}` : '-']);
    if (s.errors.length) notes.push(`${st.key}: ${s.errors.join('; ')}`);
  }
  for (const u of unavailable) {
    rows.push([u.label, u.why.startsWith('not available') ? 'not available in this kernel' : 'n/a', '', '', '', '']);
    notes.push(`${u.key}: ${u.why}`);
  }
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  notes.push(
    `${opts.rounds} rounds in rotating order, iperf3 -t ${opts.seconds} (-P 1, -P 4), ${opts.pings} pings at 10 ms; median (min–max) over rounds; ` +
      `kernel ${os.release()}, ${os.cpus().length} cores, load 1m at round starts ${loads.map((l) => l.toFixed(2)).join('/')}, ${minutes} min`,
  );
  process.stdout.write(
    '\n' +
      formatTable(['strategy', 'TCP 1 stream Gbit/s', 'TCP 4 streams Gbit/s', 'rtt median us', 'rtt p99 us', 'pings lost'], rows) +
      '\n(median (min–max) over rounds)\n',
  );
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const file = writeResults(opts.only ? `attach-${opts.only.join('-')}` : 'attach', results, { notes });
  process.stdout.write(`wrote ${file}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    cleanupSync();
    process.stderr.write(`bench attach: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
