/**
 * The bridge from packet walks to the bandwidth model (sim/bandwidth-timeline.ts, owned by the
 * bandwidth engineer): at every change point the runner asks, for each active traffic demand, which
 * directed links its packets cross in the compiled pipeline — by walking a real packet of a fixed
 * flow identity (so ECMP choices are stable over the run) — and steps the timeline with that.
 * The timeline is loaded at run time; when it is missing, bandwidth expectations are reported as not
 * evaluated (ok: false), never as passed.
 */
import type { ClusterState, Expectation, Scenario, TrafficSteering } from '../topology/types';
import type { ActiveDemand, BandwidthTimeline, RunBandwidthSummary } from './bandwidth-timeline';
import { secondsToUs } from './clock';
import type { SimDriver } from './driver';
import type { Engine } from './engine';
import type { Host, LinkCrossing, SimNetwork } from './network';
import type { ProbeSpec } from './probe';
import type { PortCounters } from '../controller/load';

/**
 * The model's byte counters as the switches' port counters would read them: a link port sends what
 * its direction carried (tx) and receives the other direction (rx); a pod's port receives what the
 * pod's demands sent and sends what its demands received.
 */
export function modelPortCounters(state: ClusterState, bytes: ReadonlyMap<string, number>, demandPods: ReadonlyMap<number, { fromPod?: string; toPod?: string }>): PortCounters[] {
  const podSent = new Map<string, number>();
  const podGot = new Map<string, number>();
  for (const [index, ends] of demandPods) {
    const b = bytes.get(`demand:${index}`) ?? 0;
    if (ends.fromPod) podSent.set(ends.fromPod, (podSent.get(ends.fromPod) ?? 0) + b);
    if (ends.toPod) podGot.set(ends.toPod, (podGot.get(ends.toPod) ?? 0) + b);
  }
  const out: PortCounters[] = [];
  for (const sw of state.switches.values()) {
    for (const p of sw.ports) {
      if (p.kind === 'link') out.push({ switch: sw.name, port: p.port, txBytes: bytes.get(`${sw.name}->${p.peerSwitch}`) ?? 0, rxBytes: bytes.get(`${p.peerSwitch}->${sw.name}`) ?? 0 });
      else if (p.kind === 'pod') out.push({ switch: sw.name, port: p.port, txBytes: podGot.get(p.pod) ?? 0, rxBytes: podSent.get(p.pod) ?? 0 });
    }
  }
  return out;
}

/** What the bandwidth model needs of a run (sim/runner.ts SimRun is one). */
export interface DemandWorld {
  readonly scenario: Scenario;
  /** the controller's loop: the model's counters reach it as port counters, as on real switches */
  readonly loop: { portCounters(nowS: number, counters: readonly PortCounters[]): void };
  readonly engine: Engine;
  readonly network: SimNetwork;
  readonly physical: ClusterState;
  readonly driver: Pick<SimDriver, 'controlLatencyUs'>;
  sourceHost(from: string): Host | string;
  resolveTarget(to: string, port?: number, protocol?: 'tcp' | 'udp'): { ip: string; spec: Omit<ProbeSpec, 'srcPort' | 'icmpId'>; service?: string } | string;
  whenConvergedPublic(atUs: number, label: string, fn: () => void): void;
}

/** The bandwidth model and rebalancing loop of a run, as the runner uses it. */
export interface BandwidthHook {
  schedule(): void;
  check(exp: Expectation): { ok: boolean; detail: string; value?: number };
  links(): { between: [string, string]; maxUtilization: number }[];
  summary(): RunBandwidthSummary;
  loopStats(): RebalanceLoopStats;
  readonly timeline: BandwidthTimeline;
  /** the end of the run (s): the last event, expectation or traffic end */
  readonly endS: number;
}

/** directed link ids ("a->b") of a walk's crossings, in order */
export function directedLinks(crossings: readonly LinkCrossing[]): string[] {
  return crossings.map((c) => `${c.from}->${c.to}`);
}

/**
 * The path hook: the directed links a (from, to, port) flow's packets cross right now, the switches
 * where it enters and leaves, and the pods at the ends — or a reason it has no path.
 */
export function demandPath(
  run: DemandWorld,
  from: string,
  to: string,
  port: number | undefined,
  flowKey: number,
): { path: string[]; src: string; dst: string; fromPod?: string; toPod?: string } | string {
  const host = run.sourceHost(from);
  if (typeof host === 'string') return host;
  const target = run.resolveTarget(to, port);
  if (typeof target === 'string') return target;
  // a fixed source port per demand: the same 5-tuple at every change point
  const srcPort = 20000 + (flowKey % 10000);
  const { probe } = require('./probe') as typeof import('./probe');
  const r = probe(run.network, host, { ...target.spec, srcPort, icmpId: srcPort }, run.engine.nowUs(), false);
  const walk = r.walks.find((w) => w.label.endsWith('request'))?.walk;
  if (!walk || !r.acceptedBy) return `no path: ${r.detail}`;
  const sws = r.path;
  return {
    path: directedLinks(walk.crossings),
    src: sws[0] ?? host.switch,
    dst: sws[sws.length - 1] ?? r.acceptedBy.switch,
    fromPod: host.kind === 'pod' ? host.name : undefined,
    toPod: r.acceptedBy.kind === 'pod' ? r.acceptedBy.name : undefined,
  };
}

type Timeline = import('./bandwidth-timeline').BandwidthTimeline;
type TimelineModule = typeof import('./bandwidth-timeline');

/** a pin as the controller compiles it (ClusterState.steering.pins), keyed by the demand's index */
type SteeringPin = TrafficSteering['pins'][number];

/**
 * The addresses a demand's packets carry inside the fabric, for a pin's match: the source pod's IP
 * (its node's IP when the packet is SNAT'ed to an external), the accepting pod's IP (a service's
 * VIP is DNAT'ed at the source node), else the target's IP. A demand with a port is TCP to that port
 * (a service's targetPort after DNAT); without one the pin matches every protocol between the two.
 */
export function pinAddresses(run: DemandWorld, d: { from: string; to: string; port?: number }, toPod?: string): Omit<SteeringPin, 'id' | 'hops'> | undefined {
  const s = run.physical;
  const fromPod = s.pods.get(d.from);
  const ext = s.externals.get(d.to);
  let srcIp: string | undefined;
  if (fromPod) srcIp = ext ? s.nodes.get(fromPod.node)?.ip : fromPod.ip;
  else srcIp = s.nodes.get(d.from)?.ip ?? s.externals.get(d.from)?.ip;
  const svc = s.services.get(d.to);
  const dstIp = toPod ? s.pods.get(toPod)?.ip : ext?.ip ?? s.nodes.get(d.to)?.ip ?? (/^\d+\.\d+\.\d+\.\d+$/.test(d.to) ? d.to : undefined);
  if (!srcIp || !dstIp) return undefined;
  if (d.port === undefined) return { srcIp, dstIp };
  return { srcIp, dstIp, protocol: svc?.protocol ?? 'tcp', dstPort: svc ? svc.targetPort : d.port };
}

/** what the rebalancing loop did over a run (for `fabric sim --json` under `rebalance`) */
export interface RebalanceLoopStats {
  /** steering-changed hand-offs to the controller */
  steeringUpdates: number;
  /** proposed moves applied as pod move events */
  movesApplied: number;
  /** bandwidth steps where a pinned demand's packets, walked through the switches, took the pinned path */
  pinsCarried: number;
  /** ... and where they did not (the model kept its own view of the pin) */
  pinsNotCarried: number;
}

/** the runner's side of the rebalancing loop */
export interface RebalanceSink {
  setSteering(steering: TrafficSteering, reason: string): void;
  movePod(pod: string, to: string): void;
}

export function loadBandwidth(run: DemandWorld, sink?: RebalanceSink): BandwidthHook | undefined {
  let mod: Partial<TimelineModule>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require('./bandwidth-timeline') as Partial<TimelineModule>;
  } catch {
    return undefined;
  }
  if (typeof mod.BandwidthTimeline !== 'function' || typeof mod.bandwidthStepTimes !== 'function') return undefined;
  const sc = run.scenario;
  const timeline: Timeline = new mod.BandwidthTimeline({ policies: sc.cluster.rebalance });
  const endS = Math.max(
    0,
    ...sc.events.map((e) => e.at),
    ...sc.expect.map((e) => e.at),
    ...sc.traffic.map((t) => t.until ?? t.at),
  );
  const times = mod.bandwidthStepTimes(sc.traffic, sc.events.map((e) => e.at), endS);
  const stats: RebalanceLoopStats = { steeringUpdates: 0, movesApplied: 0, pinsCarried: 0, pinsNotCarried: 0 };
  /** demand index -> the pin handed to the controller (hops from the change that made it) */
  const handed = new Map<number, SteeringPin>();
  let handedKey = JSON.stringify({ pins: [], limits: {} });
  /** when each pin was handed over (µs): it is in the switches one control round trip later */
  const handedAtUs = new Map<number, number>();
  /** demand index -> the pods at its ends (kept after the demand ends: its counters stay) */
  const demandPods = new Map<number, { fromPod?: string; toPod?: string }>();
  const stepAt = (t: number): void => {
    const demands: ActiveDemand[] = [];
    const walked = new Map<number, string[]>();
    sc.traffic.forEach((d, index) => {
      if (d.at > t || (d.until !== undefined && d.until <= t)) return;
      const p = demandPath(run, d.from, d.to, d.port, index);
      if (typeof p === 'string') {
        run.engine.log(`bandwidth ${t}s demand ${index} ${d.from}->${d.to}: ${p}`);
        return;
      }
      walked.set(index, p.path);
      demands.push({ index, from: d.from, to: d.to, fromPod: p.fromPod, toPod: p.toPod, src: p.src, dst: p.dst, path: p.path, demandGbps: d.gbps });
    });
    // the hand-off check: a pin that has had time to land must be what the switches do
    const nowUs = run.engine.nowUs();
    for (const [index, pin] of handed) {
      const path = walked.get(index);
      const at = handedAtUs.get(index);
      if (!path || at === undefined || nowUs < at + 2 * run.driver.controlLatencyUs) continue;
      const pinned = pinnedPaths.get(index);
      if (pinned && pinned.join() === path.join()) stats.pinsCarried++;
      else {
        stats.pinsNotCarried++;
        run.engine.log(`bandwidth ${t}s pin ${pin.id}: the switches carry ${path.join(',')}, not the pin ${pinned?.join(',') ?? '?'}`);
      }
    }
    const podLimits = [...run.physical.pods.values()].filter((p) => p.egressGbps !== undefined).map((p) => ({ pod: p.name, gbps: p.egressGbps! }));
    const podNode = new Map([...run.physical.pods.values()].map((p) => [p.name, p.node] as [string, string]));
    const nodes = [...run.physical.nodes.values()].filter((n) => n.up).map((n) => n.name);
    const epoch = timeline.step(t, { links: [...run.physical.links.values()], demands, podLimits, podNode, nodes });
    // the same counters at the same interval as real switches give the controller's loop (a run
    // without traffic counts nothing: large replays skip the work)
    for (const d of demands) demandPods.set(d.index, { fromPod: d.fromPod, toPod: d.toPod });
    if (sc.traffic.length > 0) run.loop.portCounters(t, modelPortCounters(run.physical, timeline.byteCounters(), demandPods));
    run.engine.log(`bandwidth step ${t}s: ${demands.length} demands${epoch.changes.length ? `, ${epoch.changes.length} rebalance changes` : ''}`);
    if (sink && sc.cluster.rebalance.length > 0) handOff(t, epoch);
  };
  /** demand index -> the path the model pinned it to */
  const pinnedPaths = new Map<number, string[]>();
  /** turn the model's pins and meters into ClusterState.steering; apply proposed moves */
  const handOff = (t: number, epoch: import('./bandwidth-timeline').BandwidthEpoch): void => {
    const hopsOf = new Map<number, { switch: string; nextHop: string }[]>();
    for (const c of epoch.changes) {
      if (c.kind === 'pin') hopsOf.set(Number(c.demand), c.hops);
      if (c.kind === 'move') {
        run.engine.log(`rebalance ${t}s: move ${c.pod} from ${c.from} to ${c.to}`);
        sink!.movePod(c.pod, c.to);
        stats.movesApplied++;
      }
    }
    const pins = new Map<number, SteeringPin>();
    for (const d of epoch.demands) {
      if (!d.pinned) continue;
      const hops = hopsOf.get(d.index) ?? handed.get(d.index)?.hops;
      const spec = sc.traffic[d.index];
      const addr = spec ? pinAddresses(run, spec, demandToPod(run, spec, d.index)) : undefined;
      if (!hops || !addr) continue;
      pins.set(d.index, { id: `traffic-${d.index}`, ...addr, hops });
      pinnedPaths.set(d.index, d.path);
    }
    // a pin lives as long as its demand: when the demand ends its flows are removed (an idle pin
    // would keep steering a later flow between the same addresses)
    const limits: Record<string, number> = {};
    for (const m of [...epoch.imposedMeters].sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0))) limits[m.pod] = m.gbps;
    const steering: TrafficSteering = { pins: [...pins].sort((a, b) => a[0] - b[0]).map(([, p]) => p), limits };
    const key = JSON.stringify(steering);
    if (key === handedKey) return;
    for (const [index, pin] of pins) if (JSON.stringify(handed.get(index)) !== JSON.stringify(pin)) handedAtUs.set(index, run.engine.nowUs());
    for (const index of [...handed.keys()]) if (!pins.has(index)) handedAtUs.delete(index), pinnedPaths.delete(index);
    handed.clear();
    for (const [index, pin] of pins) handed.set(index, pin);
    handedKey = key;
    stats.steeringUpdates++;
    sink!.setSteering(steering, `rebalance ${t}s: ${steering.pins.length} pins, ${Object.keys(limits).length} limits`);
  };
  return {
    schedule(): void {
      for (const t of times) run.whenConvergedPublic(secondsToUs(t), `bandwidth ${t}s`, () => stepAt(t));
    },
    check(exp: Expectation) {
      try {
        if (exp.kind === 'maxLinkUtilization') return timeline.checkMaxLinkUtilization(exp.at, exp.maxLinkUtilization);
        if (exp.kind === 'fairShare') return timeline.checkFairShare(exp.at, exp.fairShare);
        if (exp.kind === 'limited') return timeline.checkLimited(exp.at, exp.limited);
      } catch (err) {
        return { ok: false, detail: `bandwidth model error: ${(err as Error).message}` };
      }
      return { ok: false, detail: `not a bandwidth expectation: ${exp.kind}` };
    },
    links() {
      return timeline.summary(endS).links;
    },
    summary() {
      return timeline.summary(endS);
    },
    loopStats() {
      return { ...stats };
    },
    timeline,
    endS,
  };
}

/** the pod a demand's packets land on (a service's backend, walked with the demand's flow identity) */
function demandToPod(run: DemandWorld, d: { from: string; to: string; port?: number }, index: number): string | undefined {
  if (run.physical.pods.has(d.to)) return d.to;
  if (!run.physical.services.has(d.to)) return undefined;
  const p = demandPath(run, d.from, d.to, d.port, index);
  return typeof p === 'string' ? undefined : p.toPod;
}
