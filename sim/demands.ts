/**
 * The bridge from packet walks to the bandwidth model (sim/bandwidth-timeline.ts, owned by the
 * bandwidth engineer): at every change point the runner asks, for each active traffic demand, which
 * directed links its packets cross in the compiled pipeline — by walking a real packet of a fixed
 * flow identity (so ECMP choices are stable over the run) — and steps the timeline with that.
 * The timeline is loaded at run time; when it is missing, bandwidth expectations are reported as not
 * evaluated (ok: false), never as passed.
 */
import type { ClusterState, Expectation, Scenario } from '../topology/types';
import type { ActiveDemand, BandwidthTimeline, BlockedDemand, RunBandwidthSummary } from './bandwidth-timeline';
import { secondsToUs } from './clock';
import type { SimDriver } from './driver';
import type { Engine } from './engine';
import type { Host, LinkCrossing, SimNetwork } from './network';
import type { ProbeSpec } from './probe';
import type { PortCounters } from '../controller/load';
import type { ControlLoop } from '../controller/loop';
import { demandId, pinMatch } from '../controller/demands';
import type { PodMeter } from './bandwidth';
import { explainBlocked, missingEnd } from './blocked';
import type { DemandBlock } from './blocked';

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
  readonly loop: Pick<ControlLoop, 'portCounters' | 'declareDemands' | 'rebalanceFromLoad' | 'pinnedPaths' | 'state'>;
  readonly engine: Engine;
  readonly network: SimNetwork;
  readonly physical: ClusterState;
  readonly driver: Pick<SimDriver, 'controlLatencyUs'>;
  sourceHost(from: string): Host | string;
  /** `from`: the sender (an external reaches a service through its LoadBalancer VIP) */
  resolveTarget(to: string, port?: number, protocol?: 'tcp' | 'udp', from?: string): { ip: string; spec: Omit<ProbeSpec, 'srcPort' | 'icmpId'>; service?: string } | string;
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
  const w = demandWalk(run, from, to, port, flowKey);
  return 'blocked' in w ? w.blocked.reason : w;
}

/**
 * The demand's packet walked through the switches now (a fixed source port per demand: the same
 * 5-tuple at every change point): its path, or why it is blocked (sim/blocked.ts), in words and
 * with the drop point.
 */
export function demandWalk(
  run: DemandWorld,
  from: string,
  to: string,
  port: number | undefined,
  flowKey: number,
): { path: string[]; src: string; dst: string; fromPod?: string; toPod?: string } | { blocked: DemandBlock } {
  const host = run.sourceHost(from);
  if (typeof host === 'string') return { blocked: missingEnd('source', from) };
  const target = run.resolveTarget(to, port, undefined, from);
  if (typeof target === 'string') {
    // an end that exists but has no door for this sender says so; one that does not exist now is missing
    const st = run.physical;
    const exists = st.pods.has(to) || st.services.has(to) || st.externals.has(to) || st.nodes.has(to);
    return { blocked: exists ? { reason: target } : missingEnd('destination', to) };
  }
  const srcPort = 20000 + (flowKey % 10000);
  const { probe } = require('./probe') as typeof import('./probe');
  const spec = { ...target.spec, srcPort, icmpId: srcPort };
  const r = probe(run.network, host, spec, run.engine.nowUs(), false);
  const walk = r.walks.find((w) => w.label.endsWith('request'))?.walk;
  if (!walk || !r.acceptedBy) {
    // the same packet again, traced this time (packet summaries, NAT steps) for the explanation
    const traced = probe(run.network, host, spec, run.engine.nowUs(), true);
    return { blocked: explainBlocked(run.physical, { from, to, port: target.spec.dstPort, host, target, probe: traced.acceptedBy ? r : traced }) };
  }
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

/**
 * The addresses a demand's packets carry inside the fabric, for a pin's match (controller/demands.ts
 * `pinMatch`, what the control loop pins).
 */
export function pinAddresses(run: DemandWorld, d: { from: string; to: string; port?: number }, toPod?: string): ReturnType<typeof pinMatch> {
  return pinMatch(run.physical, d, toPod);
}

/** what the rebalancing loop did over a run (for `fabric sim --json` under `rebalance`) */
export interface RebalanceLoopStats {
  /** steering-changed hand-offs to the controller */
  steeringUpdates: number;
  /** proposed moves applied as pod move events */
  movesApplied: number;
  /** bandwidth steps where a pinned demand's packets, walked through the switches, took the pinned path */
  pinsCarried: number;
  /** ... and where they did not */
  pinsNotCarried: number;
}

/** the runner's side of the rebalancing loop */
export interface RebalanceSink {
  /** the loop's steering changed: the controller recompiles and sends it (one control latency) */
  steeringChanged(reason: string): void;
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
  // the model is the world; the decisions are the control loop's, on the counters the model yields
  const timeline: Timeline = new mod.BandwidthTimeline({ reportPolicies: sc.cluster.rebalance });
  const endS = Math.max(
    0,
    ...sc.events.map((e) => e.at),
    ...sc.expect.map((e) => e.at),
    ...sc.traffic.map((t) => t.until ?? t.at),
  );
  const rebalancing = !!sink && sc.cluster.rebalance.length > 0;
  // rebalancing: rounds go on for a few seconds after the traffic (pins and meters are lifted then)
  const times = mod.bandwidthStepTimes(sc.traffic, sc.events.map((e) => e.at), endS, 1, rebalancing ? 3 : 0);
  const stats: RebalanceLoopStats = { steeringUpdates: 0, movesApplied: 0, pinsCarried: 0, pinsNotCarried: 0 };
  if (rebalancing) run.loop.declareDemands(sc.traffic);
  /** pin id -> the pinned path handed over, and when (µs): it is in the switches one control round trip later */
  const handed = new Map<string, { path: string; atUs: number }>();
  /** demand index -> the pods at its ends (kept after the demand ends: its counters stay) */
  const demandPods = new Map<number, { fromPod?: string; toPod?: string }>();
  const linkUp = (directed: string): boolean => {
    const [a, b] = directed.split('->');
    const l = run.physical.links.get(`${a}|${b}`) ?? run.physical.links.get(`${b}|${a}`);
    return !!l?.up && run.physical.nodes.get(a)?.up !== false && run.physical.nodes.get(b)?.up !== false;
  };
  const stepAt = (t: number): void => {
    const demands: ActiveDemand[] = [];
    const blocked: BlockedDemand[] = [];
    const pinned = run.loop.pinnedPaths;
    const nowUs = run.engine.nowUs();
    sc.traffic.forEach((d, index) => {
      if (d.at > t || (d.until !== undefined && d.until <= t)) return;
      const p = demandWalk(run, d.from, d.to, d.port, index);
      if ('blocked' in p) {
        // it carries nothing now, and says why (docs/simulator.md "Blocked demands")
        run.engine.log(`bandwidth ${t}s demand ${index} ${d.from}->${d.to}: blocked: ${p.blocked.reason}${p.blocked.where ? ` [${p.blocked.where}]` : ''}`);
        blocked.push({ index, from: d.from, to: d.to, askedGbps: d.gbps, ...p.blocked });
        return;
      }
      // the hand-off check: a pin that has had time to land must be what the switches do
      const id = demandId(index);
      const pin = pinned.get(id);
      const h = handed.get(id);
      let carried = false;
      // a pin over a link that went down is not compiled (the loop removes it at its next round)
      if (pin && h && nowUs >= h.atUs + 2 * run.driver.controlLatencyUs && pin.every((l) => linkUp(l))) {
        carried = pin.join() === p.path.join();
        if (carried) stats.pinsCarried++;
        else {
          stats.pinsNotCarried++;
          run.engine.log(`bandwidth ${t}s pin ${id}: the switches carry ${p.path.join(',')}, not the pin ${pin.join(',')}`);
        }
      }
      demands.push({ index, from: d.from, to: d.to, fromPod: p.fromPod, toPod: p.toPod, src: p.src, dst: p.dst, path: p.path, demandGbps: d.gbps, pinned: carried });
    });
    const podLimits = [...run.physical.pods.values()].filter((p) => p.egressGbps !== undefined).map((p) => ({ pod: p.name, gbps: p.egressGbps! }));
    const podNode = new Map([...run.physical.pods.values()].map((p) => [p.name, p.node] as [string, string]));
    const nodes = [...run.physical.nodes.values()].filter((n) => n.up).map((n) => n.name);
    timeline.step(t, { links: [...run.physical.links.values()], demands, podLimits, podNode, nodes, meters: imposedMeters(run), blocked });
    // the same counters at the same interval as real switches give the controller's loop (a run
    // without traffic counts nothing: large replays skip the work)
    for (const d of demands) demandPods.set(d.index, { fromPod: d.fromPod, toPod: d.toPod });
    if (sc.traffic.length > 0) run.loop.portCounters(t, modelPortCounters(run.physical, timeline.byteCounters(), demandPods));
    let decided = 0;
    if (rebalancing) {
      // one rebalancing round of the control loop on those counters: what `fabric controller` runs
      const changes = run.loop.rebalanceFromLoad();
      decided = changes.length;
      timeline.recordChanges(t, changes);
      for (const c of changes) {
        if (c.kind === 'move') {
          run.engine.log(`rebalance ${t}s: move ${c.pod} from ${c.from} to ${c.to}`);
          sink!.movePod(c.pod, c.to);
          stats.movesApplied++;
        }
      }
      if (changes.some((c) => c.kind !== 'move')) {
        for (const [id, path] of run.loop.pinnedPaths) {
          const key = path.join();
          if (handed.get(id)?.path !== key) handed.set(id, { path: key, atUs: nowUs });
        }
        for (const id of [...handed.keys()]) if (!run.loop.pinnedPaths.has(id)) handed.delete(id);
        stats.steeringUpdates++;
        const st = run.loop.state.steering;
        sink!.steeringChanged(`rebalance ${t}s: ${st?.pins.length ?? 0} pins, ${Object.keys(st?.limits ?? {}).length} limits`);
      }
    }
    run.engine.log(`bandwidth step ${t}s: ${demands.length} demands${blocked.length ? `, ${blocked.length} blocked` : ''}${decided ? `, ${decided} rebalance changes` : ''}`);
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

/**
 * The meters the rebalancer imposed that the simulated switches hold now: a pod's meter (id: its port
 * on its node switch) below its own egressGbps, or on a pod without one.
 */
function imposedMeters(run: DemandWorld): PodMeter[] {
  const out: PodMeter[] = [];
  for (const pod of [...run.physical.pods.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const sw = run.physical.switches.get(pod.node);
    const port = sw?.ports.find((p) => p.kind === 'pod' && p.pod === pod.name);
    const simSw = sw ? run.network.switches.get(sw.name) : undefined;
    if (!port || !simSw) continue;
    const meter = simSw.dump().meters.find((m) => m.meterId === port.port);
    const band = meter?.bands.find((b) => b.type === 'drop');
    if (!band) continue;
    const gbps = band.rate / 1e6;
    if (pod.egressGbps === undefined || gbps < pod.egressGbps - 1e-9) out.push({ pod: pod.name, gbps });
  }
  return out;
}
