/**
 * Bandwidth expectations on real OVS with iperf3: `limited` (one flow through a pod's meter, below)
 * and `maxLinkUtilization` / `fairShare` (the scenario's demands active at the expectation's time as
 * concurrent iperf3 flows over links shaped to their capacity × scale (links.ts)); docs/lab.md
 * "Bandwidth in the lab".
 *
 * No verdict depends on how fast this machine is. What the switches decide is read from them: the
 * paths the flows took (link counters), the meters installed (dump-meters), whether a flow got through
 * at all. The verdict is the simulator's rule applied to that (its allocator on those paths and
 * meters); the measured rates are reported beside it (`measured`), never judged, except where only an
 * upper bound is checked (a meter that lets through more than its rate), which a slower machine can
 * only pass more easily.
 *
 * `limited`: the pod's meter (installed by the controller; its id is the pod's port number on its
 * node switch) must be at most gbps × (1 + tolerance); then, scaled down by BANDWIDTH_SCALE (further
 * for meters above 2 Gbit/s, to at most 100 Mbit/s) so that one TCP flow surely exceeds it, iperf3
 * (TCP, 2 s) sends from the pod to an external host (egress, SNAT'ed; else another pod): the flow must
 * get through and the meter must hold it to its rate (+LIMIT_MEASURE_TOLERANCE). The meter is
 * restored whatever happens.
 */
import { ChildProcess, spawn } from 'child_process';
import type { ClusterState, TrafficDemand } from '../../topology/types';
import { BandwidthLink, directedLinkId } from '../../topology';
import { allocateWithMeters, buildPathGraph, PathCache, percentText, PodMeter, TopologyLink, vsBound } from '../../sim';
import { meterBurstKbit } from '../../controller/meters';
import type { ControlLoop } from '../../controller/loop';
import type { PortCounters } from '../../controller/load';
import type { RebalanceChange } from '../../controller/rebalance';
import type { Lab } from './lab';
import type { Programmer } from './programmer';
import { inNs, inNsAsync, sleep } from './exec';
import { linkDirections, readClassBytes, readTxBytes, shapeLinks, unshapeLinks } from './links';
import { tcpConnect } from './traffic';

/** measured rate = scenario rate × this (1 Gbit/s -> 50 Mbit/s; docs/real-ovs.md: 50 Mbit/s meters enforce to 48-50) */
export const BANDWIDTH_SCALE = 0.05;
const IPERF_PORT = 5201;
/** 100 Mbit/s: a meter above 2 Gbit/s is scaled further down to this */
const MAX_MEASURED_KBPS = 100_000;
/** A metered flow may read this much above the meter's rate (iperf3's window edges, the burst). */
export const LIMIT_MEASURE_TOLERANCE = 0.1;

export interface LimitedResult {
  ok: boolean;
  /** not measurable in the lab (reason in detail) */
  skipped?: boolean;
  detail: string;
  /** the pod's meter as the switch holds it, Gbit/s */
  value?: number;
  /** measured Gbit/s, unscaled (divided by the scale used): reported */
  measured?: number;
}

export async function measureLimited(lab: Lab, state: ClusterState, spec: { pod: string; gbps: number; tolerance?: number }): Promise<LimitedResult> {
  const host = lab.record.hosts[spec.pod];
  if (!host || host.kind !== 'pod') return { ok: false, detail: `${spec.pod}: not a pod of the lab` };
  // the meter sits on the pod's own port, so any destination measures it: an external host
  // (egress), else another pod, preferably on another node
  const others = Object.values(lab.record.hosts).filter((h) => h.name !== host.name);
  const external =
    others.find((h) => h.kind === 'external') ?? others.find((h) => h.kind === 'pod' && h.switch !== host.switch) ?? others.find((h) => h.kind === 'pod');
  if (!external) return { ok: false, detail: 'no other host to send to (iperf3 server)' };
  const meterId = host.port;
  const original = readMeters(lab, [host.switch]).find((m) => m.id === meterId);
  if (!original) {
    const pod = state.pods.get(spec.pod);
    const why = pod?.egressGbps === undefined && state.cluster.rebalance.includes('limit') ? ' (no egressGbps, and the control loop metered nothing)' : '';
    return { ok: false, detail: `${spec.pod}: no meter ${meterId} on ${host.switch}${why}` };
  }
  const rateKbps = original.kbps;
  // at most MAX_MEASURED_KBPS: what one TCP flow through the userspace datapath surely reaches here
  const scale = Math.min(BANDWIDTH_SCALE, MAX_MEASURED_KBPS / rateKbps);
  const scaledKbps = Math.max(1, Math.round(rateKbps * scale));
  setMeter(lab, host.switch, meterId, scaledKbps, scaledBurst(lab, scaledKbps));
  const server = spawn('ip', ['netns', 'exec', external.ns, 'iperf3', '-s', '-1', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  try {
    await waitListening([{ ns: external.ns, port: IPERF_PORT }]);
    const r = await inNsAsync(host.ns, 'iperf3', ['-c', external.ip, '-p', String(IPERF_PORT), '-t', '2', '-J'], { timeoutMs: 15_000 });
    let bps: number | undefined;
    try {
      bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    } catch {
      bps = undefined;
    }
    if (bps === undefined) return { ok: false, detail: `${spec.pod} -> ${external.name}: iperf3 failed (${(r.stderr || r.stdout).trim().slice(0, 120)})` };
    const tol = spec.tolerance ?? 0.05;
    const meterGbps = rateKbps / 1e6;
    const measured = Math.round((bps / scale / 1e9) * 1e6) / 1e6;
    const meterOk = meterGbps <= spec.gbps * (1 + tol) + 1e-9;
    const holds = bps <= scaledKbps * 1000 * (1 + LIMIT_MEASURE_TOLERANCE);
    const through = bps > 0;
    const why = !meterOk ? `meter ${meterId} is ${meterGbps} Gbit/s, above ${spec.gbps} (tolerance ${tol})` : !through ? 'nothing got through' : !holds ? `the meter let ${(bps / 1e6).toFixed(1)} Mbit/s through, above its ${(scaledKbps / 1000).toFixed(1)}` : '';
    return {
      ok: meterOk && through && holds,
      value: meterGbps,
      measured,
      detail:
        `${spec.pod} metered at ${vsBound(meterGbps, round4(spec.gbps * (1 + tol)), true, meterOk)} Gbit/s (limit ${spec.gbps} plus ${percentText(tol)} tolerance) by meter ${meterId} on ${host.switch}${why ? `: ${why}` : ''}; ` +
        `measured ${measured} Gbit/s (${(bps / 1e6).toFixed(1)} Mbit/s with iperf3 against the meter scaled x${+scale.toPrecision(3)} to ${(scaledKbps / 1000).toFixed(1)} Mbit/s)`,
    };
  } finally {
    if (server.exitCode === null && server.pid) server.kill('SIGKILL'); // our own child, by its handle
    setMeter(lab, host.switch, meterId, rateKbps, original.burst);
  }
}

// ---------------------------------------------------------------------------------------------
// maxLinkUtilization and fairShare: the scenario's demands as concurrent iperf3 flows over shaped links
// ---------------------------------------------------------------------------------------------

/**
 * The scaled traffic the lab sends at most in one measurement (sum of what the model grants the
 * active demands, scaled): a few hundred Mbit/s, far below what the userspace datapath moves on 2
 * cores, so that the flows reach their rates even on a busy machine (the rates are reported, not
 * judged: the verdicts follow the paths and meters, see `evaluate`) ...
 */
export const LAB_TOTAL_MBPS = 200;
/**
 * ... and every bridge a packet crosses costs the datapath again: the sum over demands of
 * rate × bridges crossed stays under this (a 5-bridge leaf-spine path gets a fifth of it).
 */
export const LAB_BRIDGE_MBPS = 600;
/** More concurrent demands than this (two iperf3 processes each) are not measured: skipped. */
export const MAX_LAB_DEMANDS = 12;
/** iperf3: seconds left out at the start (slow start), then seconds measured */
const OMIT_S = 1;
const MEASURE_S = 3;
/** first TCP port of the iperf3 servers (a port of a lab agent is skipped) */
const FIRST_IPERF_PORT = 5301;

export interface LabDemand {
  /** index in the scenario's `traffic` */
  index: number;
  from: string;
  to: string;
  askedGbps: number;
  /** source and destination hosts (lab names), their switches */
  srcSwitch: string;
  dstSwitch: string;
  /** the lab host that receives (runs the iperf3 server); '' when none (error set) */
  dstHost: string;
  dstIp: string;
  /** the iperf3 server's TCP port (the demand's own port, else a lab port) */
  port: number;
  /** why the port differs from the demand's (else undefined) */
  portNote?: string;
  /** the pod whose meter it crosses (a pod source) */
  fromPod?: string;
  /** candidate shortest paths (directed link ids); the pipeline's ECMP picks one */
  candidates: string[][];
  /** iperf3 connected (its report lists the connection): the flow got through, however slowly */
  connected?: boolean;
  /** bytes the demand's own htb class sent per directed link (the links it crossed) */
  bytesOn?: Record<string, number>;
  /** measured: TCP goodput at the receiver (bit/s, scaled), its wire-rate equivalent, unscaled Gbit/s */
  goodputBps?: number;
  wireBps?: number;
  measuredGbps?: number;
  error?: string;
}

export interface LinkMeasurement {
  id: string;
  linkId: string;
  capacityGbps: number;
  /** bit/s on the wire (Ethernet frames) over the window, scaled world */
  rateBps: number;
  /** rateBps / (capacity × scale) */
  utilization: number;
}

export interface BandwidthMeasurement {
  at: number;
  /** the paths the switches chose (inferred), per demand */
  paths?: string[][];
  /** why the paths could not be inferred */
  pathProblem?: string;
  /** per demand, the model's grant on those paths under the meters the switches hold (unscaled Gbit/s) */
  modelGbps?: number[];
  /** per demand, its max-min fair share on those paths with the user's own pod limits only */
  fairGbps?: number[];
  /** per up link direction, the model's utilization with the grants */
  modelUtilization?: { id: string; utilization: number }[];
  /** the pod meters the switches held, read back before the measurement scaled them (unscaled Gbit/s) */
  meters?: { pod: string; gbps: number; switch: string; id: number }[];
  /** ECMP path combinations the inference chose among (absent: every demand had one path) */
  combinations?: number;
  /** how the paths were told: the demands' own htb class counters, or least squares on link counters */
  inferredBy?: 'classes' | 'counters';
  /** measured wire rate of all demands / what the model grants them in total (reported, never judged) */
  carried?: number;
  /** set when the lab cannot measure the scenario's traffic at this time: the precise reason */
  skipped?: string;
  /** with `cluster.rebalance`: the rebalancing phase run before the measurement, and what the loop decided */
  rebalance?: LabRebalance;
  scale: number;
  windowS: number;
  demands: LabDemand[];
  links: LinkMeasurement[];
  /** up links of the model (unscaled) and the user's per-pod limits, for the fair-share model */
  modelLinks: BandwidthLink[];
  podLimits: PodMeter[];
}

/** One meter as a switch reports it, and the pod whose port number it carries (pod meters). */
interface SwitchMeter {
  switch: string;
  id: number;
  pod?: string;
  kbps: number;
  burst: number;
}

function activeAt(d: TrafficDemand, at: number): boolean {
  return d.at <= at && (d.until === undefined || d.until > at);
}

const gbpsText = (x: number): string => String(Math.round(x * 1e4) / 1e4);

/**
 * What the lab would run for the demands active at `at`, or why it cannot: hosts, ports, candidate
 * paths. A demand to a service goes to the backend the lab's own select group picks for one probe
 * connection to the VIP (the lab agent answers with its name), straight to that pod's address: the
 * VIP is DNAT'ed at the source node, so the packets cross the same links; iperf3 cannot go through the
 * VIP itself (its control and data connections may land on different backends, and the agents hold
 * the target port). Reads the lab's record; the only traffic is that probe.
 */
export async function planDemands(
  lab: Lab,
  state: ClusterState,
  traffic: readonly TrafficDemand[],
  at: number,
): Promise<{ demands: LabDemand[]; modelLinks: BandwidthLink[]; podLimits: PodMeter[] } | string> {
  const active = traffic.map((d, index) => ({ d, index })).filter(({ d }) => activeAt(d, at));
  if (active.length > MAX_LAB_DEMANDS) return `${active.length} concurrent demands: more than the ${MAX_LAB_DEMANDS} iperf3 flows 2 cores measure faithfully`;
  const hosts = Object.values(lab.record.hosts);
  const nodesUp = new Set([...state.nodes.values()].filter((n) => n.up).map((n) => n.name));
  const topo: TopologyLink[] = [...state.links.values()].map((l) => ({ a: l.a, b: l.b, gbps: l.gbps, up: l.up && (!state.nodes.has(l.a) || nodesUp.has(l.a)) && (!state.nodes.has(l.b) || nodesUp.has(l.b)) }));
  const modelLinks: BandwidthLink[] = [];
  for (const l of topo) if (l.up !== false) modelLinks.push({ id: directedLinkId(l.a, l.b), capacityGbps: l.gbps }, { id: directedLinkId(l.b, l.a), capacityGbps: l.gbps });
  const paths = new PathCache(buildPathGraph(topo), { noTransit: new Set(state.nodes.keys()) });
  const used = new Set<string>();
  const explicit = new Set(active.map(({ d }) => d.port).filter((p): p is number => p !== undefined));
  let nextPort = FIRST_IPERF_PORT;
  const freePort = (): number => {
    while (lab.record.agentPorts.includes(nextPort) || explicit.has(nextPort)) nextPort++;
    return nextPort++;
  };
  const demands: LabDemand[] = [];
  for (const { d, index } of active) {
    const what = `traffic[${index}] ${d.from} -> ${d.to}`;
    const src = lab.record.hosts[d.from];
    if (!src) return `${what}: source ${d.from} is not an emulated host of the lab (pods and externals only)`;
    const fromPod = src.kind === 'pod' ? src.name : undefined;
    const svc = state.services.get(d.to);
    if (svc) {
      const vipPort = d.port ?? svc.port;
      if (state.cluster.isolation) {
        return `${what}: goes to service ${svc.name}; iperf3 cannot use the VIP (its control and data connections may land on different backends, and the lab agents hold target port ${svc.targetPort}), and with isolation on a direct connection to the backend on another port may be dropped`;
      }
      const [probe] = await tcpConnect(lab, d.from, svc.vip, vipPort, 1, 1.5);
      const backend = probe?.ok && probe.server ? lab.record.hosts[probe.server] : undefined;
      if (!backend) {
        // the fabric's verdict (no backend answers): measured as 0, like a demand without a path
        demands.push({ index, from: d.from, to: d.to, askedGbps: d.gbps, srcSwitch: src.switch, dstSwitch: src.switch, dstHost: '', dstIp: svc.vip, port: vipPort, fromPod, candidates: [], error: `no backend of service ${svc.name} answered at ${svc.vip}:${vipPort} (${probe?.error ?? 'nothing'})` });
        continue;
      }
      const port = freePort();
      used.add(`${backend.name}:${port}`);
      const portNote = `service ${svc.name} ${svc.vip}:${vipPort}: the lab's select group sent a probe connection to ${backend.name}; iperf3 went to ${backend.ip}:${port} directly (DNAT happens at the source node: same links)`;
      demands.push({ index, from: d.from, to: d.to, askedGbps: d.gbps, srcSwitch: src.switch, dstSwitch: backend.switch, dstHost: backend.name, dstIp: backend.ip, port, portNote, fromPod, candidates: paths.get(src.switch, backend.switch) });
      continue;
    }
    const dst = lab.record.hosts[d.to] ?? hosts.find((h) => h.ip === d.to);
    if (!dst) return `${what}: destination ${d.to} is not an emulated host of the lab (pods and externals only)`;
    let port = d.port ?? freePort();
    let portNote: string | undefined;
    const key = (p: number): string => `${dst.name}:${p}`;
    if (d.port !== undefined && (lab.record.agentPorts.includes(d.port) || used.has(key(d.port)))) {
      const why = lab.record.agentPorts.includes(d.port) ? `the lab agent in ${dst.name} holds port ${d.port}` : `another demand to ${dst.name} uses port ${d.port} (one iperf3 server per port)`;
      if (state.cluster.isolation) return `${what}: ${why}, and with isolation on the allow rules may admit only that port`;
      port = freePort();
      portNote = `port ${port} instead of ${d.port}: ${why} (the port steers nothing without isolation)`;
    }
    used.add(key(port));
    demands.push({ index, from: d.from, to: d.to, askedGbps: d.gbps, srcSwitch: src.switch, dstSwitch: dst.switch, dstHost: dst.name, dstIp: dst.ip, port, portNote, fromPod, candidates: paths.get(src.switch, dst.switch) });
  }
  const podLimits = [...state.pods.values()].filter((p) => p.egressGbps !== undefined).map((p) => ({ pod: p.name, gbps: p.egressGbps! }));
  return { demands, modelLinks, podLimits };
}

/** The model's allocation for the demands on given paths (one per demand), with the pods' own limits. */
function modelRates(m: Pick<BandwidthMeasurement, 'demands' | 'modelLinks' | 'podLimits'>, paths: readonly string[][]): Map<string, number> {
  const demands = m.demands.map((d, i) => ({ index: d.index, fromPod: d.fromPod, path: paths[i], demandGbps: d.askedGbps }));
  return allocateWithMeters(m.modelLinks, demands, m.podLimits).rates;
}

/**
 * Every meter of the given switches (default: all), as installed (`meter=ID ... rate=KBPS ...
 * burst_size=B`; ovs-ofctl prints the bands on the next line), with the pod it meters.
 */
function readMeters(lab: Lab, switches: readonly string[] = Object.keys(lab.record.bridges)): SwitchMeter[] {
  const out: SwitchMeter[] = [];
  const podAt = new Map(Object.values(lab.record.hosts).filter((h) => h.kind === 'pod').map((h) => [`${h.switch}/${h.port}`, h.name]));
  for (const sw of switches) {
    const dump = lab.ofctl(sw, 'dump-meters');
    for (const m of dump.matchAll(/meter=(\d+)\b[\s\S]*?(?=meter=|$)/g)) {
      const rate = /rate=(\d+)/.exec(m[0]);
      const burst = /burst_size=(\d+)/.exec(m[0]);
      if (!rate) continue;
      const id = Number(m[1]);
      out.push({ switch: sw, id, pod: podAt.get(`${sw}/${id}`), kbps: Number(rate[1]), burst: burst ? Number(burst[1]) : meterBurstKbit(Number(rate[1])) });
    }
  }
  return out;
}

/**
 * The burst of a meter scaled down for a measurement: rate/5 (the controller's rule), but with
 * userspace TSO at least two 64 KiB offload packets (kbit), which the meter sees whole: a smaller
 * bucket drops every one of them.
 */
function scaledBurst(lab: Lab, kbps: number): number {
  return Math.max(lab.record.tso ? 1049 : 1, meterBurstKbit(kbps));
}

function setMeter(lab: Lab, sw: string, id: number, kbps: number, burst: number): void {
  lab.ofctl(sw, 'mod-meter', `meter=${id},kbps,burst,stats,bands=type=drop,rate=${kbps},burst_size=${burst}`);
}

/**
 * Wait (≤ 5 s) until every iperf3 server listens: a client that connects too early is refused and
 * would read as a demand the fabric cannot carry. Reads /proc/net/tcp (and tcp6) inside each namespace (state 0A).
 */
async function waitListening(servers: readonly { ns: string; port: number }[]): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 50) {
    const missing = servers.filter(({ ns, port }) => {
      const hex = port.toString(16).toUpperCase().padStart(4, '0');
      // iperf3 listens on :: (dual stack) where IPv6 is up, else on 0.0.0.0
      return !new RegExp(`^\\s*\\d+: [0-9A-F]{8,32}:${hex} [0-9A-F]{8,32}:0000 0A `, 'm').test(inNs(ns, 'cat', ['/proc/net/tcp', '/proc/net/tcp6']).stdout);
    });
    if (missing.length === 0) return;
    await sleep(50);
  }
}

/** Ethernet frame bytes per TCP payload byte of a full segment (timestamps on): goodput -> wire rate. */
function wireFactor(mtu: number): number {
  return (mtu + 14) / (mtu - 52);
}

/**
 * Measure the demands active at `at`: links shaped to capacity × scale, meters scaled alike, one
 * iperf3 flow per demand (TCP, capped at its scaled rate), link counters over the steady window.
 * Everything it changed (qdiscs, meters, iperf3 servers) is undone before it returns.
 */
export async function measureBandwidth(
  lab: Lab,
  state: ClusterState,
  traffic: readonly TrafficDemand[],
  at: number,
  rebalancer?: { loop: ControlLoop; program: Programmer },
): Promise<BandwidthMeasurement> {
  const plan = await planDemands(lab, state, traffic, at);
  const empty = { at, scale: 0, windowS: 0, demands: [], links: [], modelLinks: [], podLimits: [] };
  if (typeof plan === 'string') return { ...empty, skipped: plan };
  const m: BandwidthMeasurement = { ...empty, ...plan };
  if (plan.demands.length === 0) return m;
  // the scale: what the model grants in total (first candidate paths) fits LAB_TOTAL_MBPS
  const granted = modelRates(m, plan.demands.map((d) => d.candidates[0] ?? []));
  let totalGbps = 0;
  let bridgeGbps = 0;
  plan.demands.forEach((d) => {
    const r = granted.get(String(d.index)) ?? 0;
    if (!Number.isFinite(r)) return;
    totalGbps += r;
    bridgeGbps += r * ((d.candidates[0]?.length ?? 0) + 1);
  });
  m.scale = Math.min(BANDWIDTH_SCALE, totalGbps > 0 ? LAB_TOTAL_MBPS / 1000 / totalGbps : BANDWIDTH_SCALE, bridgeGbps > 0 ? LAB_BRIDGE_MBPS / 1000 / bridgeGbps : BANDWIDTH_SCALE);
  if (state.cluster.rebalance.length > 0) {
    if (!rebalancer) return { ...m, skipped: `rebalance [${state.cluster.rebalance.join(', ')}]: no control loop given to rebalance with (the verdict follows its pins and meters)` };
    m.rebalance = await rebalancePhase(lab, state, m, rebalancer.loop, rebalancer.program);
  }
  const measured = evaluate(await runOnce(lab, state, m));
  const undriven = measured.rebalance ? undrivenHotspot(measured, measured.rebalance) : undefined;
  return undriven ? { ...measured, skipped: undriven } : measured;
}

// ---------------------------------------------------------------------------------------------
// the rebalancing phase: the control loop on the switches' port counters, with real traffic
// ---------------------------------------------------------------------------------------------

/** seconds between two reads of the port counters (one rebalancing round each) */
export const REBALANCE_POLL_S = 0.5;
/** rounds at most in one phase */
export const MAX_REBALANCE_ROUNDS = 16;
/** after a re-programming, seconds the flows get to recover before the loop's window starts */
const RECOVERY_S = 1;
/** the limit policy's default hold (controller/rebalance.ts): rounds a link stays hot before a meter */
const HOLD_ROUNDS = 2;

/** What the control loop decided in one rebalancing phase (`changes` in order, with their round). */
export interface LabRebalance {
  policies: string[];
  /** the phase's scale (at most the measurement's: the demands send their full asks here) */
  scale: number;
  /** rounds run (each: every bridge's port counters read, then `rebalanceFromLoad`) */
  rounds: number;
  /** three rounds in a row without a change ended the phase (false: it hit MAX_REBALANCE_ROUNDS) */
  settled: boolean;
  /** times the switches were re-programmed with the loop's steering */
  programmed: number;
  changes: (RebalanceChange & { round: number })[];
  /** per round, the hottest link direction as the loop measured it (unscaled utilization) */
  hottest: { round: number; link: string; utilization: number }[];
  /** the pins in force after the phase: demand id (`traffic-N`) -> directed links */
  pins: { demand: string; path: string[] }[];
  /** the pods the loop meters after the phase, Gbit/s (unscaled) */
  meters: { pod: string; gbps: number }[];
  /** wall clock, ms (reported) */
  durationMs: number;
}

/**
 * Did the lab's traffic make the hotspot the loop should have reacted to? When the model, on the
 * paths the switches chose and with the meters they hold, still has a link above the loop's threshold
 * (0.8) after the phase, but the counters never showed that much of any link in any round, the
 * machine did not drive the traffic (a busy or slow CPU: the senders and the userspace datapath fell
 * short) and the loop had nothing to react to. The bandwidth verdicts of that time are then skipped
 * with the reason, not judged on decisions never taken. "Showed" means for two rounds in a row (the
 * limit policy waits that long). Undefined when driven, or nothing is hot.
 */
export function undrivenHotspot(m: Pick<BandwidthMeasurement, 'modelUtilization'>, r: Pick<LabRebalance, 'hottest'>, threshold = 0.8): string | undefined {
  let worst: { id: string; utilization: number } | undefined;
  for (const l of m.modelUtilization ?? []) if (!worst || l.utilization > worst.utilization) worst = l;
  if (!worst || worst.utilization <= threshold + 1e-6) return undefined;
  // what the counters held for two rounds in a row (the limit policy acts on a link hot that long)
  let seen = 0;
  for (let i = 0; i + 1 < r.hottest.length; i++) seen = Math.max(seen, Math.min(r.hottest[i].utilization, r.hottest[i + 1].utilization));
  if (seen >= threshold - 1e-9) return undefined;
  return `the lab did not drive the traffic (a busy or slow machine): ${worst.id} is at ${gbpsText(worst.utilization)} in the model on the paths the switches chose, but the counters never held more than ${gbpsText(seen)} of a link for two rounds in a row in ${r.hottest.length} rounds, so the control loop had no lasting hotspot to react to`;
}

/** "loop (4 rounds): pinned traffic-0 via spine1, traffic-1 via spine2; metered hog at 12 Gbit/s" */
export function rebalanceText(r: LabRebalance): string {
  const via = (path: readonly string[]): string => {
    // the switches between the ends (a leaf-spine path names its spine)
    const hops = path.slice(1, -1).map((id) => id.split('->')[1]);
    return hops.length > 0 ? hops.join(',') : path.join(',');
  };
  const pins = r.pins.map((p) => `${p.demand} via ${via(p.path)}`).join(', ');
  const meters = r.meters.map((x) => `${x.pod} at ${gbpsText(x.gbps)} Gbit/s`).join(', ');
  return `control loop (${r.rounds} rounds${r.settled ? '' : ', not settled'}): ${pins ? `pinned ${pins}` : 'no pins'}; ${meters ? `metered ${meters}` : 'no meters'}`;
}

/** a demand's sender may send this much above its ask in the rebalancing phase (see shapeSenders) */
export const SENDER_HEADROOM = 0.03;

/**
 * The rebalancing phase's senders held to their asks: iperf3 -b makes up any shortfall since its start
 * (a demand squeezed before the loop pinned it then sends well above its ask for a while: the loop's
 * counters would show load no demand of the scenario asks for), so each sender's eth0 gets an htb
 * class per demand at ask × scale × (1 + SENDER_HEADROOM) (matched on destination address and port;
 * the rest unshaped). The headroom keeps an unhindered demand measurably active at its ask. `on`
 * false removes it.
 */
function shapeSenders(lab: Lab, demands: readonly LabDemand[], scale: number, on: boolean): void {
  const byNs = new Map<string, LabDemand[]>();
  for (const d of demands) {
    const ns = lab.record.hosts[d.from].ns;
    byNs.set(ns, [...(byNs.get(ns) ?? []), d]);
  }
  for (const [ns, list] of byNs) {
    if (!on) {
      inNs(ns, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
      continue;
    }
    const lines = ['qdisc replace dev eth0 root handle 1: htb default ffff', 'class add dev eth0 parent 1: classid 1:ffff htb rate 10gbit quantum 1514'];
    list.forEach((d, i) => {
      const bps = Math.max(8000, Math.round(d.askedGbps * 1e9 * scale * (1 + SENDER_HEADROOM)));
      const classid = `1:${(0x10 + i).toString(16)}`;
      lines.push(`class add dev eth0 parent 1: classid ${classid} htb rate ${bps}bit ceil ${bps}bit quantum 1514`);
      lines.push(`qdisc add dev eth0 parent ${classid} bfifo limit ${Math.max(8 * 1514, Math.round((bps / 8) * 0.03))}`);
      lines.push(`filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst ${d.dstIp}/32 match ip dport ${d.port} 0xffff flowid ${classid}`);
    });
    const r = inNs(ns, 'tc', ['-batch', '-'], { input: lines.join('\n') + '\n', timeoutMs: 10_000 });
    if (r.status !== 0) throw new Error(`Lab: shaping the senders in ${ns} failed: ${r.stderr.trim().split('\n')[0]}`);
  }
}

/** Every bridge's OpenFlow port statistics (`ovs-ofctl dump-ports`: OFPMP_PORT_STATS), numbered ports only. */
export function parsePortStats(sw: string, dump: string): PortCounters[] {
  const out: PortCounters[] = [];
  for (const m of dump.matchAll(/port\s+(\d+):\s*rx pkts=\d+, bytes=(\d+)[^\n]*\n\s*tx pkts=\d+, bytes=(\d+)/g)) {
    out.push({ switch: sw, port: Number(m[1]), rxBytes: Number(m[2]), txBytes: Number(m[3]) });
  }
  return out;
}

/**
 * Before a measurement of a scenario with `cluster.rebalance`: the planned demands run as in `runOnce`
 * (links shaped to capacity × scale, segmentation off, meters scaled, iperf3 capped at the scaled
 * asks), and every REBALANCE_POLL_S every bridge's port counters go to the control loop, divided by
 * the scale (the loop judges against the scenario's capacities), one `rebalanceFromLoad` round each;
 * when a round changes the steering the switches are re-programmed through `program` (pins become
 * flows at their hop switches, limits meters at the pods' ports), then the meters scaled again, and
 * the next round waits until the flows had RECOVERY_S to recover and the loop's load window holds only
 * counters read after that. Ends
 * when three rounds in a row change nothing after at least holdRounds + 4 rounds (at most
 * MAX_REBALANCE_ROUNDS). Everything it changed is undone, except what the loop decided: that stays on
 * the switches (meters at their unscaled rates) for `runOnce` to read back and judge.
 */
async function rebalancePhase(lab: Lab, state: ClusterState, m: BandwidthMeasurement, loop: ControlLoop, program: Programmer): Promise<LabRebalance> {
  const started = process.hrtime.bigint();
  const factor = wireFactor(lab.record.podMtu ?? 1500);
  const dirs = linkDirections(lab, state);
  const runnable = m.demands.filter((d) => !d.error);
  // before the loop decides, the demands send what they ask (not what the model would grant them):
  // the scale keeps that within the lab's budgets too, so the datapath carries what the links let through
  let askedGbps = 0;
  let askedBridgeGbps = 0;
  for (const d of runnable) {
    askedGbps += d.askedGbps;
    askedBridgeGbps += d.askedGbps * ((d.candidates[0]?.length ?? 0) + 1);
  }
  // (half the measurement's budgets: the loop must see the hotspot even on a busy machine)
  const scale = Math.min(m.scale, askedGbps > 0 ? LAB_TOTAL_MBPS / 2 / 1000 / askedGbps : m.scale, askedBridgeGbps > 0 ? LAB_BRIDGE_MBPS / 2 / 1000 / askedBridgeGbps : m.scale);
  const senders = [...new Set(runnable.map((d) => lab.record.hosts[d.from].ns))];
  const switches = Object.keys(lab.record.bridges).sort();
  const result: LabRebalance = { policies: [...state.cluster.rebalance], scale, rounds: 0, settled: false, programmed: 0, changes: [], hottest: [], pins: [], meters: [], durationMs: 0 };
  const children: ChildProcess[] = [];
  // the meters as the switches hold them at their real rates (restored at the end), then scaled
  let unscaled: SwitchMeter[] = [];
  const scaleMeters = (): void => {
    unscaled = readMeters(lab);
    scaleMetersDown(lab, unscaled, scale);
  };
  const nowS = (): number => Number(process.hrtime.bigint()) / 1e9;
  // each switch's counters with the time they were read (reading 8 bridges takes a while)
  const poll = (): void => {
    for (const sw of switches) {
      const dump = lab.ofctl(sw, 'dump-ports');
      const at = nowS();
      loop.portCounters(
        at,
        parsePortStats(sw, dump).map((c) => ({ ...c, rxBytes: c.rxBytes / scale, txBytes: c.txBytes / scale })),
      );
    }
  };
  try {
    shapeForDemands(lab, state, dirs, runnable, senders, scale);
    scaleMeters();
    shapeSenders(lab, runnable, scale, true);
    children.push(...startServers(lab, runnable));
    await waitListening(runnable.map((d) => ({ ns: lab.host(d.dstHost).ns, port: d.port })));
    const seconds = Math.ceil(MAX_REBALANCE_ROUNDS * REBALANCE_POLL_S * 4 + 10);
    for (const d of runnable) {
      const capBps = Math.max(8000, Math.round((d.askedGbps * 1e9 * scale) / factor));
      // `ip netns exec` execs iperf3: the handle's pid is the client's, stopped by it at the end
      children.push(spawn('ip', ['netns', 'exec', lab.host(d.from).ns, 'iperf3', '-c', d.dstIp, '-p', String(d.port), '-t', String(seconds), '-b', String(capBps), '--connect-timeout', '2000'], { stdio: 'ignore' }));
    }
    poll();
    let quiet = 0;
    let next = nowS() + REBALANCE_POLL_S;
    while (result.rounds < MAX_REBALANCE_ROUNDS) {
      await sleep(Math.max(0, (next - nowS()) * 1000));
      next += REBALANCE_POLL_S;
      poll();
      const changes = loop.rebalanceFromLoad();
      let hottest: { link: string; utilization: number } | undefined;
      for (const l of loop.load.linkUtilization()) if (!hottest || l.utilization > hottest.utilization) hottest = { link: l.link, utilization: Math.round(l.utilization * 1e4) / 1e4 };
      if (hottest) result.hottest.push({ round: result.rounds + 1, ...hottest });
      result.rounds++;
      for (const c of changes) result.changes.push({ ...c, round: result.rounds });
      if (changes.some((c) => c.kind !== 'move')) {
        // the loop set its steering on the state: the switches get it (meters at unscaled rates), scaled again
        await program(lab, state, []); // only the loop's own steering changed
        result.programmed++;
        scaleMeters();
        next = Math.max(next, nowS() + REBALANCE_POLL_S / 2);
        // the next round judges the load after the change, once TCP has recovered from it (a pinned
        // flow changes path; ovs-ofctl reinstalls every flow): RECOVERY_S, then one load window
        const settle = Math.ceil((loop.load.windowS + RECOVERY_S) / REBALANCE_POLL_S - 1e-9) + (program.loop === loop ? 0 : 1);
        for (let k = 0; k < settle; k++) {
          await sleep(Math.max(0, (next - nowS()) * 1000));
          next += REBALANCE_POLL_S;
          poll();
        }
      }
      quiet = changes.length === 0 ? quiet + 1 : 0;
      if (quiet >= 3 && result.rounds >= HOLD_ROUNDS + 4) {
        result.settled = true;
        break;
      }
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL'); // our own children, by handle
    unshapeLinks(dirs);
    shapeSenders(lab, runnable, scale, false);
    segmentation(lab, senders, true);
    for (const mt of unscaled) setMeter(lab, mt.switch, mt.id, mt.kbps, mt.burst);
  }
  result.pins = [...loop.pinnedPaths.entries()].map(([demand, path]) => ({ demand, path: [...path] })).sort((a, b) => (a.demand < b.demand ? -1 : a.demand > b.demand ? 1 : 0));
  result.meters = Object.entries(loop.limits)
    .map(([pod, gbps]) => ({ pod, gbps }))
    .sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  result.durationMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
  return result;
}

/** Every meter set to its rate × scale for a measurement (restored with setMeter afterwards). */
function scaleMetersDown(lab: Lab, meters: readonly SwitchMeter[], scale: number): void {
  for (const mt of meters) {
    const kbps = Math.max(1, Math.round(mt.kbps * scale));
    setMeter(lab, mt.switch, mt.id, kbps, scaledBurst(lab, kbps));
  }
}

/** Senders' segmentation off and every link direction shaped to capacity × scale, one class per demand. */
function shapeForDemands(lab: Lab, state: ClusterState, dirs: ReturnType<typeof linkDirections>, runnable: readonly LabDemand[], senders: readonly string[], scale: number): void {
  segmentation(lab, senders, false);
  shapeLinks(
    dirs,
    scale,
    runnable.map((d) => ({ dstIp: d.dstIp, dstPort: d.port })),
    { encap: state.cluster.mode === 'overlay' ? state.cluster.encap : undefined, tso: lab.record.tso },
  );
}

/** One iperf3 server per demand, in its receiver's namespace (our own children: stopped by handle). */
function startServers(lab: Lab, runnable: readonly LabDemand[]): ChildProcess[] {
  return runnable.map((d) => spawn('ip', ['netns', 'exec', lab.host(d.dstHost).ns, 'iperf3', '-s', '-1', '-p', String(d.port)], { stdio: 'ignore' }));
}

/** One run of the iperf3 flows for a planned measurement (fills links, windowS and the demands' rates). */
async function runOnce(lab: Lab, state: ClusterState, m: BandwidthMeasurement): Promise<BandwidthMeasurement> {
  const plan = m;
  const scale = m.scale;
  const mtu = lab.record.podMtu ?? 1500;
  const factor = wireFactor(mtu);
  const dirs = linkDirections(lab, state);
  const meters = readMeters(lab);
  m.meters = meters.filter((mt) => mt.pod !== undefined).map((mt) => ({ pod: mt.pod!, gbps: mt.kbps / 1e6, switch: mt.switch, id: mt.id }));
  const servers: ChildProcess[] = [];
  // a demand that already failed (no backend answered) does not run
  const runnable = plan.demands.filter((d) => !d.error);
  const senders = [...new Set(runnable.map((d) => lab.record.hosts[d.from].ns))];
  try {
    scaleMetersDown(lab, meters, scale);
    shapeForDemands(lab, state, dirs, runnable, senders, scale);
    servers.push(...startServers(lab, runnable));
    await waitListening(runnable.map((d) => ({ ns: lab.host(d.dstHost).ns, port: d.port })));
    const clients = runnable.map((d) => {
      const src = lab.record.hosts[d.from];
      // -b caps the goodput: the demand's rate is on the wire
      const capBps = Math.max(8000, Math.round((d.askedGbps * 1e9 * scale) / factor));
      return inNsAsync(src.ns, 'iperf3', ['-c', d.dstIp, '-p', String(d.port), '-t', String(MEASURE_S), '-O', String(OMIT_S), '-b', String(capBps), '-J', '--connect-timeout', '2000'], {
        timeoutMs: (OMIT_S + MEASURE_S + 10) * 1000,
      });
    });
    const started = process.hrtime.bigint();
    const sinceMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    // the link window: inside iperf3's measured seconds, a little after the omitted one
    await sleep(OMIT_S * 1000 + 300 - sinceMs());
    const before = readTxBytes(dirs);
    const t0 = sinceMs();
    // (a busy machine may reach this late: the window is at least half a second)
    await sleep(Math.max(500, (OMIT_S + MEASURE_S) * 1000 - 100 - sinceMs()));
    const after = readTxBytes(dirs);
    m.windowS = (sinceMs() - t0) / 1000;
    const results = await Promise.all(clients);
    // which links each demand crossed: its own class's bytes on every shaped direction
    const classBytes = readClassBytes(dirs, runnable.length);
    runnable.forEach((d, i) => {
      d.bytesOn = {};
      for (const [id, bytes] of classBytes) if (bytes[i] > 0) d.bytesOn[id] = bytes[i];
    });
    for (const d of dirs) {
      if (!d.up) continue;
      const rateBps = (((after.get(d.id) ?? 0) - (before.get(d.id) ?? 0)) * 8) / m.windowS;
      m.links.push({ id: d.id, linkId: d.linkId, capacityGbps: d.capacityGbps, rateBps, utilization: rateBps / (d.capacityGbps * 1e9 * scale) });
    }
    for (const d of plan.demands) if (d.error) d.measuredGbps = 0;
    runnable.forEach((d, i) => {
      const r = results[i];
      let j: { start?: { connected?: unknown[] }; end?: { sum_received?: { bits_per_second?: number } }; error?: string } | undefined;
      try {
        j = JSON.parse(r.stdout);
      } catch {
        j = undefined;
      }
      const bps = j?.end?.sum_received?.bits_per_second;
      if (bps === undefined) {
        d.error = `iperf3 failed: ${(j?.error ?? (r.stderr || r.stdout)).trim().slice(0, 120)}`;
        d.measuredGbps = 0;
        return;
      }
      d.connected = (j?.start?.connected?.length ?? 0) > 0;
      d.goodputBps = bps;
      d.wireBps = bps * factor;
      d.measuredGbps = d.wireBps / scale / 1e9;
    });
    return m;
  } finally {
    for (const s of servers) if (s.exitCode === null && s.pid) s.kill('SIGKILL'); // our own children, by handle
    unshapeLinks(dirs);
    segmentation(lab, senders, true);
    for (const mt of meters) setMeter(lab, mt.switch, mt.id, mt.kbps, mt.burst);
  }
}

/**
 * With userspace TSO the senders' segmentation offloads are off while the shapers run: a 64 KiB
 * offload packet is one packet to htb and to a meter, and the flows that send them share a link far
 * from max-min (measured: 0.58-1.29 of their shares, one flow starved to nothing). Frames of one MTU
 * share it as the model does. Checksum offload stays on: OVS with TSO fills the checksums in.
 */
function segmentation(lab: Lab, namespaces: readonly string[], on: boolean): void {
  if (!lab.record.tso) return;
  const state = on ? 'on' : 'off';
  for (const ns of namespaces) inNs(ns, 'ethtool', ['-K', 'eth0', 'tso', state, 'gso', state]);
}

export interface BandwidthVerdict {
  ok: boolean;
  skipped?: boolean;
  /** the verdict's value: the model's, on the paths and meters the switches have (unscaled) */
  value?: number;
  /** what the lab measured for the same quantity (unscaled): reported, never judged */
  measured?: number;
  detail: string;
}

const mbps = (bps: number): string => (bps / 1e6).toFixed(1);

/**
 * The demand's paths as the lab's switches chose them: a demand with one candidate path takes it;
 * among ECMP candidates, the one its own htb class counted bytes on (`bytesOn`: which links the flow
 * crossed, whatever its rate). Without class counts (data given by hand), the combination whose
 * predicted link loads (measured demand rates summed along the paths) best match the measured link
 * counters, at most 4096 combinations: only the proportions of the rates matter there.
 */
export function inferPaths(m: BandwidthMeasurement): { paths: string[][]; combinations: number; by: 'classes' | 'counters' } | string {
  const options = m.demands.map((d) => (d.candidates.length > 0 ? d.candidates : [[]]));
  const combinations = options.reduce((n, o) => n * o.length, 1);
  // where the demands' own classes counted bytes: each demand took the candidate whose every link
  // its class saw most of (the fewest bytes along the path, maximal; a stray packet of another
  // connection, e.g. iperf3's control connection hashed elsewhere, counts far less)
  const byClass = m.demands.map((d, i) => {
    if (options[i].length === 1) return options[i][0];
    if (!d.bytesOn) return undefined;
    let best: { path: string[]; bytes: number } | undefined;
    for (const path of options[i]) {
      const bytes = Math.min(...path.map((id) => d.bytesOn![id] ?? 0));
      if (bytes > 0 && (!best || bytes > best.bytes)) best = { path, bytes };
    }
    return best?.path;
  });
  if (byClass.every((p) => p !== undefined)) return { paths: byClass as string[][], combinations, by: 'classes' };
  if (combinations > 4096) return `${combinations} ECMP path combinations: too many to infer the switches' choice from link counters`;
  const measured = new Map(m.links.map((l) => [l.id, l.rateBps]));
  let best: { paths: string[][]; error: number } | undefined;
  const choice = options.map(() => 0);
  for (let k = 0; k < combinations; k++) {
    let rest = k;
    for (let i = 0; i < options.length; i++) {
      choice[i] = rest % options[i].length;
      rest = Math.floor(rest / options[i].length);
    }
    const paths = options.map((o, i) => o[choice[i]]);
    const predicted = new Map<string, number>();
    m.demands.forEach((d, i) => {
      for (const id of paths[i]) predicted.set(id, (predicted.get(id) ?? 0) + (d.wireBps ?? 0));
    });
    let error = 0;
    for (const [id, rate] of measured) error += (rate - (predicted.get(id) ?? 0)) ** 2;
    if (!best || error < best.error) best = { paths, error };
  }
  return { paths: best!.paths, combinations, by: 'counters' };
}

/** iperf3 connected and its flow crossed the fabric (however slowly: a busy machine is not the fabric). */
function gotThrough(d: LabDemand): boolean {
  return !d.error && (d.connected === true || (d.wireBps ?? 0) > 0 || Object.keys(d.bytesOn ?? {}).length > 0);
}

/**
 * The model on what the switches do: the paths they chose (inferred from the link counters), the
 * meters they hold (read back; absent: the scenario's own pod limits) and which demands got through at
 * all. Gives each demand's grant (`modelGbps`), its max-min fair share with the user's own limits only
 * (`fairGbps`, the simulator's fairShare reference) and each up link direction's utilization
 * (`modelUtilization`), plus how much of the grants the lab carried (`carried`, reported only).
 */
export function evaluate(m: BandwidthMeasurement): BandwidthMeasurement {
  if (m.skipped || m.demands.length === 0) return m;
  const inferred = inferPaths(m);
  if (typeof inferred === 'string') return { ...m, pathProblem: inferred };
  // a demand that did not get through (no connection, no byte) has no path: the fabric's verdict
  const through = m.demands.map(gotThrough);
  const demands = m.demands.map((d, i) => ({ index: d.index, fromPod: d.fromPod, path: through[i] ? inferred.paths[i] : [], demandGbps: through[i] ? d.askedGbps : 0 }));
  const enforced = m.meters ? m.meters.map((x) => ({ pod: x.pod, gbps: x.gbps })) : m.podLimits;
  const granted = allocateWithMeters(m.modelLinks, demands, enforced);
  const fair = allocateWithMeters(m.modelLinks, demands, m.podLimits);
  const modelGbps = m.demands.map((d) => granted.rates.get(String(d.index)) ?? 0);
  const fairGbps = m.demands.map((d) => fair.rates.get(String(d.index)) ?? 0);
  const modelUtilization = m.modelLinks.map((l) => ({ id: l.id, utilization: l.capacityGbps > 0 ? (granted.linkLoad.get(l.id) ?? 0) / l.capacityGbps : 0 }));
  let total = 0;
  let measured = 0;
  m.demands.forEach((d, i) => {
    if (!through[i] || !Number.isFinite(modelGbps[i])) return;
    total += modelGbps[i];
    measured += d.measuredGbps ?? 0;
  });
  return {
    ...m,
    paths: inferred.paths,
    modelGbps,
    fairGbps,
    modelUtilization,
    carried: total > 0 ? measured / total : 1,
    ...(inferred.combinations > 1 ? { combinations: inferred.combinations, inferredBy: inferred.by } : {}),
  };
}

/** "traffic[0] 0.78/0.8, ..." : measured / model grant, unscaled Gbit/s. */
function flowsText(m: BandwidthMeasurement): string {
  return m.demands
    .map((d, i) => `traffic[${d.index}] ${gbpsText(d.measuredGbps ?? 0)}/${gbpsText(m.modelGbps?.[i] ?? 0)}${d.dstHost && d.dstHost !== d.to ? ` (to backend ${d.dstHost})` : ''}${d.error ? ` (${d.error})` : ''}`)
    .join(', ');
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * maxLinkUtilization: the hottest up link direction as the model loads it with the grants on the
 * switches' paths, against the bound (exactly, as `fabric sim`). The utilization the link counters
 * measured is reported beside it.
 */
export function judgeMaxLinkUtilization(m: BandwidthMeasurement, bound: number): BandwidthVerdict {
  if (m.skipped) return { ok: false, skipped: true, detail: m.skipped };
  if (m.demands.length === 0) return { ok: true, value: 0, detail: `no traffic active at ${m.at}s` };
  if (!m.modelUtilization) return { ok: false, skipped: true, detail: m.pathProblem ?? 'not evaluated' };
  let hot: { id: string; utilization: number } | undefined;
  for (const l of m.modelUtilization) if (!hot || l.utilization > hot.utilization + 1e-12) hot = l;
  if (!hot) return { ok: true, value: 0, detail: 'no links' };
  const value = round4(hot.utilization);
  const link = m.links.find((l) => l.id === hot!.id);
  const measured = link ? round4(link.utilization) : undefined;
  const ok = hot.utilization <= bound + 1e-9;
  const detail =
    `peak ${vsBound(value, bound, true, ok, ` on ${hot.id}`)} (the model's grants on the paths the switches chose); ` +
    (link ? `measured ${measured} (${mbps(link.rateBps)} Mbit/s of ${mbps(link.capacityGbps * 1e9 * m.scale)}, capacity ${gbpsText(link.capacityGbps)} Gbit/s scaled x${+m.scale.toPrecision(3)}, over ${m.windowS.toFixed(1)} s); ` : '') +
    `iperf3 flows measured/granted Gbit/s: ${flowsText(m)}` +
    (m.rebalance ? `; ${rebalanceText(m.rebalance)}` : '');
  return { ok, value, ...(measured !== undefined ? { measured } : {}), detail };
}

/**
 * fairShare as the simulator judges it: the demand's grant under the meters the switches hold,
 * against its max-min fair share with the user's own limits only (both by the project's allocator,
 * sim/bandwidth-timeline.ts allocateWithMeters, on the lab's up links and the paths its switches
 * chose); a demand that did not get through fails. The iperf3 rate is reported beside it.
 */
export function judgeFairShare(m: BandwidthMeasurement, spec: { demand: number; tolerance?: number }): BandwidthVerdict {
  if (m.skipped) return { ok: false, skipped: true, detail: m.skipped };
  const i = m.demands.findIndex((d) => d.index === spec.demand);
  if (i < 0) return { ok: false, detail: `traffic[${spec.demand}] is not active at ${m.at}s` };
  const d = m.demands[i];
  if (!m.paths || !m.modelGbps || !m.fairGbps) return { ok: false, skipped: true, detail: m.pathProblem ?? 'not evaluated' };
  const share = m.fairGbps[i];
  const grant = m.modelGbps[i];
  const tol = spec.tolerance ?? 0.01;
  const through = gotThrough(d);
  const ok = through && grant >= share * (1 - tol) - 1e-9;
  const value = round4(grant);
  const measured = round4(d.measuredGbps ?? 0);
  const via = m.paths[i].length ? m.paths[i].join(',') : 'no fabric link';
  const detail =
    `traffic[${d.index}] ${d.from} -> ${d.to}: granted ${vsBound(value, round4(share * (1 - tol)), false, ok)} Gbit/s (fair share ${gbpsText(share)} less ${percentText(tol)} tolerance) ` +
    (d.error
      ? `(${d.error})`
      : through
        ? `(measured ${gbpsText(measured)}: iperf3 ${mbps(d.goodputBps!)} Mbit/s goodput, ${mbps(d.wireBps!)} on the wire, scaled x${+m.scale.toPrecision(3)})`
        : '(it carried nothing)') +
    ` via ${via}${m.combinations ? ` (ECMP: inferred from ${m.inferredBy === 'classes' ? "the demands' own class counters" : 'link counters'} among ${m.combinations} combinations)` : ''}${d.portNote ? `; ${d.portNote}` : ''}` +
    (m.rebalance ? `; ${rebalanceText(m.rebalance)}` : '');
  return { ok, value, measured, detail };
}
