/**
 * The bridge from packet walks to the bandwidth model (sim/bandwidth-timeline.ts, owned by the
 * bandwidth engineer): at every change point the runner asks, for each active traffic demand, which
 * directed links its packets cross in the compiled pipeline — by walking a real packet of a fixed
 * flow identity (so ECMP choices are stable over the run) — and steps the timeline with that.
 * The timeline is loaded at run time; when it is missing, bandwidth expectations are reported as not
 * evaluated (ok: false), never as passed.
 */
import type { Expectation } from '../topology/types';
import { secondsToUs } from './clock';
import type { BandwidthHook, SimRun } from './runner';
import { LinkCrossing } from './network';

/** directed link ids ("a->b") of a walk's crossings, in order */
export function directedLinks(crossings: readonly LinkCrossing[]): string[] {
  return crossings.map((c) => `${c.from}->${c.to}`);
}

/**
 * The path hook: the directed links a (from, to, port) flow's packets cross right now, the switches
 * where it enters and leaves, and the pods at the ends — or a reason it has no path.
 */
export function demandPath(
  run: SimRun,
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

interface TimelineModule {
  BandwidthTimeline: new (opts?: { policies?: readonly string[] }) => {
    step(at: number, input: unknown): unknown;
    checkMaxLinkUtilization(at: number, max: number): { ok: boolean; value?: number; detail: string };
    checkFairShare(at: number, spec: { demand: number; tolerance?: number }): { ok: boolean; value?: number; detail: string };
    checkLimited(at: number, spec: { pod: string; gbps: number; tolerance?: number }): { ok: boolean; value?: number; detail: string };
    summary(endS: number): { links: { between: [string, string]; maxUtilization: number }[] };
  };
  bandwidthStepTimes(traffic: readonly { at: number; until?: number }[], eventTimes: readonly number[], endS: number, intervalS?: number): number[];
}

export function loadBandwidth(run: SimRun): BandwidthHook | undefined {
  let mod: Partial<TimelineModule>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require('./bandwidth-timeline') as Partial<TimelineModule>;
  } catch {
    return undefined;
  }
  if (typeof mod.BandwidthTimeline !== 'function' || typeof mod.bandwidthStepTimes !== 'function') return undefined;
  const sc = run.scenario;
  const timeline = new mod.BandwidthTimeline({ policies: sc.cluster.rebalance });
  const endS = Math.max(
    0,
    ...sc.events.map((e) => e.at),
    ...sc.expect.map((e) => e.at),
    ...sc.traffic.map((t) => t.until ?? t.at),
  );
  const times = mod.bandwidthStepTimes(sc.traffic, sc.events.map((e) => e.at), endS);
  const stepAt = (t: number): void => {
    const demands: unknown[] = [];
    sc.traffic.forEach((d, index) => {
      if (d.at > t || (d.until !== undefined && d.until <= t)) return;
      const p = demandPath(run, d.from, d.to, d.port, index);
      if (typeof p === 'string') {
        run.engine.log(`bandwidth ${t}s demand ${index} ${d.from}->${d.to}: ${p}`);
        return;
      }
      demands.push({ index, from: d.from, to: d.to, fromPod: p.fromPod, toPod: p.toPod, src: p.src, dst: p.dst, path: p.path, demandGbps: d.gbps });
    });
    const podLimits = [...run.physical.pods.values()].filter((p) => p.egressGbps !== undefined).map((p) => ({ pod: p.name, gbps: p.egressGbps! }));
    const podNode = new Map([...run.physical.pods.values()].map((p) => [p.name, p.node] as [string, string]));
    const nodes = [...run.physical.nodes.values()].filter((n) => n.up).map((n) => n.name);
    timeline.step(t, { links: [...run.physical.links.values()], demands, podLimits, podNode, nodes });
    run.engine.log(`bandwidth step ${t}s: ${demands.length} demands`);
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
  };
}
