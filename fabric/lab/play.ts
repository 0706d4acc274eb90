/**
 * Plays a scenario on a lab with real traffic: applies its events in time order (link down/up through
 * `ip link set`, node down/up, pods added, deleted and moved as namespaces), re-programs the bridges
 * after each batch of events, and checks each expectation with packets: ICMP echo or TCP for
 * `reach`/`noReach`, many TCP connections to a service VIP for `backends`, a TCP connection to the
 * external host's agent (which answers with the source address it saw) for `egress`.
 *
 * The report has the shape of `fabric sim --json` (docs/scenarios.md §6) so the two compare line by line.
 * Virtual time does not pass here: events at time T are applied, the switches re-programmed, then the
 * expectations at T are checked. `limited`, `maxLinkUtilization` and `fairShare` are measured with
 * iperf3 (bandwidth.ts): the demands active at T run concurrently over links shaped to their capacity,
 * scaled (links.ts), once per time for all bandwidth expectations at that time; what the lab cannot
 * express is reported `skipped` with the reason.
 */
import type { ClusterChange, ClusterState, Endpoints, Expectation, Scenario, ScenarioEvent, TrafficDemand } from '../../topology/types';
import { DEFAULT_TCP_PORT, Lab } from './lab';
import { ping, tcpConnect } from './traffic';
import { ControlLoop } from '../../controller/loop';
import { BandwidthMeasurement, BandwidthVerdict, judgeFairShare, judgeMaxLinkUtilization, LabRebalance, measureBandwidth, measureLimited, rebalanceText } from './bandwidth';

export interface LabExpectationResult {
  index: number;
  at: number;
  kind: Expectation['kind'];
  ok: boolean;
  /** true when the lab cannot measure this kind yet (then `ok` is false and not counted) */
  skipped?: boolean;
  /** with `skipped`: the reason in one short clause (the human line); `detail` has the whole explanation */
  skipReason?: string;
  /** bandwidth kinds: the verdict's value (the model on the paths and meters read from the switches) */
  value?: number;
  /** bandwidth kinds: the same quantity as measured with real traffic (reported, never judged) */
  measured?: number;
  detail: string;
}

export interface LabEventResult {
  at: number;
  event: string;
  ok: boolean;
  detail: string;
}

export interface LabReport {
  scenario: string;
  seed: number;
  ok: boolean;
  expectations: LabExpectationResult[];
  /**
   * per link, the highest utilization measured in either direction — only at the times of the
   * scenario's maxLinkUtilization/fairShare expectations (the lab does not measure the whole run)
   */
  links: { between: [string, string]; maxUtilization: number }[];
  /** lab only: what each event did */
  events: LabEventResult[];
  /** lab only: wall-clock duration of the play, ms */
  durationMs: number;
  /**
   * present when `cluster.rebalance` is set: what the control loop decided in the rebalancing phase of
   * each bandwidth measurement (like `fabric sim --json` `rebalance`; `at` is the expectation time the
   * phase ran for, `round` its round), and the pins and meters in force after each phase
   */
  rebalance?: {
    policies: string[];
    changes: (LabRebalance['changes'][number] & { at: number })[];
    phases: ({ at: number } & Omit<LabRebalance, 'changes' | 'policies'>)[];
  };
}

export type { Programmer } from './programmer';
import type { Programmer } from './programmer';
import { LabDns, configurePodDns, resolveInPod } from './discovery';

/** Event side effects on the lab besides re-programming (links, nodes, pods). */
export interface EventHooks {
  applyEvent: (state: ClusterState, event: ScenarioEvent) => ClusterChange[];
}

export interface PlayOptions {
  /** TCP connections made to a service for a `backends` check; default max(30, 10 x backends) */
  backendConnections?: number;
}

interface Target {
  ip: string;
  port?: number;
  label: string;
}

function resolveTarget(lab: Lab, state: ClusterState, ep: Endpoints): Target | string {
  // a DNS name: resolved inside the source pod by its C library against the cluster DNS (a real client)
  if (state.cluster.dns && ep.to.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(ep.to)) {
    if (!state.pods.has(ep.from)) return `${ep.to}: only pods resolve cluster names (${ep.from} is not a pod)`;
    const r = resolveInPod(lab, ep.from, ep.to);
    if ('error' in r) return r.error;
    const svc = [...state.services.values()].find((s) => s.vip === r.ip);
    const port = ep.port ?? svc?.port;
    return { ip: r.ip, port, label: `${ep.to} (${r.ip} by DNS)` };
  }
  const svc = state.services.get(ep.to);
  if (svc && state.externals.has(ep.from)) {
    // from outside, a service is reached through its LoadBalancer VIP (a ClusterIP is internal)
    if (!svc.loadBalancerIp) return `service ${svc.name} is ${svc.type ?? 'ClusterIP'}: outside hosts reach it through a LoadBalancer VIP, or a NodePort as { to: NODE, port: NODEPORT }`;
    return { ip: svc.loadBalancerIp, port: ep.port ?? svc.port, label: `service ${svc.name} LoadBalancer ${svc.loadBalancerIp}:${ep.port ?? svc.port}` };
  }
  if (svc) return { ip: svc.vip, port: ep.port ?? svc.port, label: `service ${svc.name} ${svc.vip}:${ep.port ?? svc.port}` };
  const pod = state.pods.get(ep.to);
  if (pod) return { ip: pod.ip, port: ep.port, label: `${pod.name} ${pod.ip}` };
  const ext = state.externals.get(ep.to);
  if (ext) return { ip: ext.ip, port: ep.port, label: `${ext.name} ${ext.ip}` };
  const node = state.nodes.get(ep.to);
  if (node) return { ip: node.ip, port: ep.port, label: `node ${node.name} ${node.ip}` };
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ep.to)) return { ip: ep.to, port: ep.port, label: ep.to };
  return `unknown destination ${ep.to}`;
}

/**
 * A skip's reason in one short clause (at most ~110 characters) for the human line: the text up to
 * its first "; ", and when that is still long, up to its last ": " within the limit (reasons are
 * written "what: why: details").
 */
export function shortReason(detail: string): string {
  const MAX = 110;
  let s = detail.split('; ')[0]!;
  if (s.length > MAX) {
    const colon = s.lastIndexOf(': ', MAX);
    if (colon >= 40) s = s.slice(0, colon); // not when only the subject would be left ("traffic[0] a -> b")
  }
  if (s.length > MAX) s = s.slice(0, s.lastIndexOf(' ', MAX - 3) > 0 ? s.lastIndexOf(' ', MAX - 3) : MAX - 3) + ' ...';
  return s;
}

/**
 * How long one connection of a `reach` or `egress` check may take: generous, because a first packet
 * through the userspace datapath climbs several conntrack recirculations as upcalls, and a loaded
 * 2-core machine can hold one past a second (a NodePort through two zones did, 1 in 30). A failure
 * costs this much; a success returns at once.
 */
const REACH_TIMEOUT_S = 3;

function sourceProblem(lab: Lab, from: string): string | undefined {
  if (lab.record.hosts[from]) return undefined;
  return `source ${from} is not an emulated host of the lab (pods and externals only)`;
}

function summarize(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([n, c]) => `${n}:${c}`)
    .join(' ');
}

/** What bandwidth expectations need besides the state: the scenario's demands, one measurement per time. */
export interface BandwidthContext {
  traffic: readonly TrafficDemand[];
  /** expectation time -> the measurement made for it (shared by every bandwidth expectation at that time) */
  measurements: Map<number, BandwidthMeasurement>;
  /** what re-programs the switches: with `cluster.rebalance`, the loop's decisions go to them through it */
  program?: Programmer;
  /**
   * the control loop that rebalances (one for the whole play, its demands declared once): the
   * programmer's own loop where it has one, else a loop of its own on the same state
   */
  loop?: ControlLoop;
}

/**
 * The control loop that decides for the play: the programmer's (so the loop that decides is the loop
 * that programs), else one of the context's own (`loadWindowS` 0.5: the lab polls every 0.5 s). Its
 * demands are the scenario's traffic, declared once.
 */
export function rebalancingLoop(bandwidth: BandwidthContext, state: ClusterState): ControlLoop {
  const own = bandwidth.program?.loop;
  const loop = own && own.state === state ? own : bandwidth.loop && bandwidth.loop.state === state ? bandwidth.loop : new ControlLoop(state, { loadWindowS: 0.5 });
  if (bandwidth.loop !== loop) {
    loop.declareDemands(bandwidth.traffic);
    bandwidth.loop = loop;
  }
  return loop;
}

/** The bandwidth measurement at `at` (made once, shared by every bandwidth expectation at that time). */
async function measurementAt(lab: Lab, state: ClusterState, bandwidth: BandwidthContext, at: number): Promise<BandwidthMeasurement> {
  let m = bandwidth.measurements.get(at);
  if (!m) {
    const rebalancer = state.cluster.rebalance.length > 0 && bandwidth.program ? { loop: rebalancingLoop(bandwidth, state), program: bandwidth.program } : undefined;
    m = await measureBandwidth(lab, state, bandwidth.traffic, at, rebalancer);
    bandwidth.measurements.set(at, m);
  }
  return m;
}

/** A bandwidth verdict as a report row (absent fields stay absent in the JSON). */
function verdict(base: Pick<LabExpectationResult, 'index' | 'at' | 'kind'>, r: BandwidthVerdict): LabExpectationResult {
  return {
    ...base,
    ok: r.ok,
    detail: r.detail,
    ...(r.skipped ? { skipped: true } : {}),
    ...(r.value !== undefined ? { value: r.value } : {}),
    ...(r.measured !== undefined ? { measured: r.measured } : {}),
  };
}

export async function checkExpectation(
  lab: Lab,
  state: ClusterState,
  e: Expectation,
  index: number,
  options: PlayOptions = {},
  bandwidth?: BandwidthContext,
): Promise<LabExpectationResult> {
  const base = { index, at: e.at, kind: e.kind };
  if (e.kind === 'limited') {
    // with the rebalancer the meter comes from the control loop reacting to the demands active now:
    // the measurement at this time (its rebalancing phase) runs first
    let decided: BandwidthMeasurement | undefined;
    if (state.cluster.rebalance.length > 0 && bandwidth) decided = await measurementAt(lab, state, bandwidth, e.at);
    // a meter only the loop would have set, when the lab could not play the loop's part: not judged
    if (decided?.skipped && state.pods.get(e.limited.pod)?.egressGbps === undefined) return { ...base, ok: false, skipped: true, detail: `${e.limited.pod}: ${decided.skipped}` };
    const r = await measureLimited(lab, state, e.limited);
    return verdict(base, decided?.rebalance ? { ...r, detail: `${r.detail}; ${rebalanceText(decided.rebalance)}` } : decided?.skipped ? { ...r, detail: `${r.detail} (no rebalancing phase: ${decided.skipped})` } : r);
  }
  if (e.kind === 'maxLinkUtilization' || e.kind === 'fairShare') {
    if (!bandwidth) return { ...base, ok: false, skipped: true, detail: `${e.kind}: no traffic demands given to measure with` };
    const m = await measurementAt(lab, state, bandwidth, e.at);
    return verdict(base, e.kind === 'maxLinkUtilization' ? judgeMaxLinkUtilization(m, e.maxLinkUtilization) : judgeFairShare(m, e.fairShare));
  }
  // the what-if gate fails copies of the state one at a time: the simulator's (docs/contract.md)
  if (e.kind === 'survives') return { ...base, ok: false, skipped: true, detail: 'survives: checked by fabric sim only (the lab injects no failures for it)' };
  const ep = e.kind === 'reach' ? e.reach : e.kind === 'noReach' ? e.noReach : e.egress;
  const problem = sourceProblem(lab, ep.from);
  if (problem) return { ...base, ok: false, skipped: true, detail: problem };
  const target = resolveTarget(lab, state, ep);
  if (typeof target === 'string') return { ...base, ok: e.kind === 'noReach', detail: target };

  if (e.kind === 'egress') {
    const port = target.port ?? DEFAULT_TCP_PORT;
    const [reply] = await tcpConnect(lab, ep.from, target.ip, port, 1, REACH_TIMEOUT_S);
    if (!reply?.ok) return { ...base, ok: false, detail: `${ep.from} -> ${target.label}:${port}: no reply (${reply?.error ?? 'nothing'})` };
    const ok = reply.seenSrc === e.srcSeenAs;
    return { ...base, ok, detail: `${ep.from} -> ${target.label}:${port}: seen as ${reply.seenSrc}${ok ? '' : `, expected ${e.srcSeenAs}`}` };
  }

  const useTcp = target.port !== undefined;
  if (e.kind === 'noReach') {
    if (useTcp) {
      const [reply] = await tcpConnect(lab, ep.from, target.ip, target.port!, 1, 1);
      const reached = !!reply?.ok;
      return { ...base, ok: !reached, detail: `${ep.from} -> ${target.label}: ${reached ? `answered by ${reply.server}` : `no connection (${reply?.error ?? 'nothing'})`}` };
    }
    const r = await ping(lab, ep.from, target.ip, 2, 0.1, 0.5);
    return { ...base, ok: r.received === 0, detail: `${ep.from} -> ${target.label}: icmp ${r.received}/${r.sent} replies` };
  }

  // reach
  if (!useTcp) {
    const r = await ping(lab, ep.from, target.ip, 3, 0.1, 0.5);
    const rtt = r.rttMs.length ? ` rtt ${Math.min(...r.rttMs).toFixed(2)}ms` : '';
    return { ...base, ok: r.received > 0, detail: `${ep.from} -> ${target.label}: icmp ${r.received}/${r.sent} replies${rtt}` };
  }
  const backends = e.backends;
  const count = backends ? options.backendConnections ?? Math.max(30, 10 * backends.length) : 1;
  const replies = await tcpConnect(lab, ep.from, target.ip, target.port!, count, REACH_TIMEOUT_S);
  const answered = replies.filter((r) => r.ok);
  if (!backends) {
    const ok = answered.length > 0;
    return { ...base, ok, detail: `${ep.from} -> ${target.label}: ${ok ? `tcp answered by ${answered[0].server}` : `no connection (${replies[0]?.error ?? 'nothing'})`}` };
  }
  const seen = [...new Set(answered.map((r) => r.server!))].sort();
  const want = [...backends].sort();
  const ok = answered.length === replies.length && seen.length === want.length && seen.every((s, i) => s === want[i]);
  // value: the distinct backends that answered, as `fabric sim` counts them (docs/contract.md)
  const listed = want.filter((b) => seen.includes(b)).length;
  const unlisted = seen.filter((b) => !want.includes(b));
  return {
    ...base,
    ok,
    value: seen.length,
    detail: `${listed} of ${want.length} backends seen${unlisted.length ? ` and ${unlisted.length} not listed (${unlisted.join(', ')})` : ''}; ${ep.from} -> ${target.label}: ${answered.length}/${replies.length} connections answered by ${summarize(answered.map((r) => r.server!)) || 'none'}${ok ? '' : `; expected backends ${want.join(',')}`}`,
  };
}

function describeEvent(ev: ScenarioEvent): string {
  switch (ev.kind) {
    case 'link':
      return `link ${ev.action} ${ev.between.join('|')}`;
    case 'node':
      return `node ${ev.action} ${ev.name}`;
    case 'pod':
      return ev.action === 'move' ? `pod move ${ev.name} to ${ev.to}` : `pod ${ev.action} ${ev.name}`;
    case 'service':
      return ev.action === 'add' ? `service add ${ev.service.name}` : `service delete ${ev.name}`;
  }
}

/** Applies one event to the state and to the lab's real network (not yet to the flows). */
export async function applyLabEvent(lab: Lab, state: ClusterState, ev: ScenarioEvent, hooks: EventHooks, changesOut?: ClusterChange[]): Promise<LabEventResult> {
  const label = describeEvent(ev);
  try {
    const changes = hooks.applyEvent(state, ev);
    changesOut?.push(...changes);
    for (const c of changes) {
      if (c.kind === 'link-state') lab.setLink(c.link, c.up);
      else if (c.kind === 'node-state') lab.setNode(state, c.node, c.up);
      else if (c.kind === 'pod-added') {
        await lab.addPod(state, c.pod);
        configurePodDns(lab, state, c.pod);
      }
      else if (c.kind === 'pod-deleted') await lab.removePod(c.pod.name);
      else if (c.kind === 'pod-moved') {
        await lab.removePod(c.pod);
        await lab.addPod(state, c.pod);
        configurePodDns(lab, state, c.pod);
      }
    }
    return { at: ev.at, event: label, ok: true, detail: changes.map((c) => c.kind).join(',') || 'no change' };
  } catch (err) {
    return { at: ev.at, event: label, ok: false, detail: (err as Error).message };
  }
}

/** Per link of the state, the highest utilization measured in either direction (links never measured are left out). */
function measuredLinks(state: ClusterState, bandwidth: BandwidthContext): LabReport['links'] {
  const max = new Map<string, number>();
  for (const m of bandwidth.measurements.values()) for (const l of m.links) max.set(l.linkId, Math.max(max.get(l.linkId) ?? 0, Math.round(l.utilization * 1e4) / 1e4));
  return [...state.links.values()].filter((l) => max.has(l.id)).map((l) => ({ between: [l.a, l.b] as [string, string], maxUtilization: max.get(l.id)! }));
}

/** Plays every event and expectation of the scenario in time order on a lab already programmed for `state`. */
export async function playScenario(
  lab: Lab,
  scenario: Scenario,
  state: ClusterState,
  program: Programmer,
  hooks: EventHooks,
  options: PlayOptions = {},
): Promise<LabReport> {
  const started = process.hrtime.bigint();
  const events = [...scenario.events];
  const results: LabExpectationResult[] = [];
  const eventResults: LabEventResult[] = [];
  const order = scenario.expect.map((e, index) => ({ e, index })).sort((x, y) => x.e.at - y.e.at || x.index - y.index);
  const bandwidth: BandwidthContext = { traffic: scenario.traffic, measurements: new Map(), program };
  // the cluster DNS: servers in the DNS service's pods, resolv.conf in every pod (docs/discovery.md)
  const dns = state.cluster.dns?.service && scenario.file ? new LabDns(lab, scenario.file) : undefined;
  try {
    await dns?.start(state, 0);
  } catch (err) {
    await dns?.stop();
    throw err;
  }
  let next = 0;
  const applyUntil = async (t: number): Promise<void> => {
    let changed = false;
    // the changes the events made, handed to the programmer (an incremental compile); after an event
    // that failed half-way nobody knows: a full compile
    let changes: ClusterChange[] | undefined = [];
    while (next < events.length && events[next].at <= t) {
      const r = await applyLabEvent(lab, state, events[next], hooks, changes);
      if (!r.ok) changes = undefined;
      eventResults.push(r);
      next++;
      changed = true;
    }
    if (changed) {
      await program(lab, state, changes);
      await dns?.refresh(state, t === Number.POSITIVE_INFINITY ? events[events.length - 1]?.at ?? 0 : t);
    }
  };
  for (const { e, index } of order) {
    await applyUntil(e.at);
    try {
      results.push(await checkExpectation(lab, state, e, index, options, bandwidth));
    } catch (err) {
      results.push({ index, at: e.at, kind: e.kind, ok: false, detail: (err as Error).message });
    }
  }
  try {
    await applyUntil(Number.POSITIVE_INFINITY);
  } finally {
    await dns?.stop();
  }
  results.sort((a, b) => a.index - b.index);
  for (const r of results) if (r.skipped && r.skipReason === undefined) r.skipReason = shortReason(r.detail);
  const ok = results.every((r) => r.ok || r.skipped) && eventResults.every((r) => r.ok);
  const phases = [...bandwidth.measurements.values()].filter((m) => m.rebalance).sort((a, b) => a.at - b.at);
  return {
    scenario: scenario.name,
    seed: scenario.seed,
    ok,
    expectations: results,
    links: measuredLinks(state, bandwidth),
    events: eventResults,
    durationMs: Number((process.hrtime.bigint() - started) / 1_000_000n),
    ...(state.cluster.rebalance.length > 0
      ? {
          rebalance: {
            policies: [...state.cluster.rebalance],
            changes: phases.flatMap((m) => m.rebalance!.changes.map((c) => ({ at: m.at, ...c }))),
            phases: phases.map((m) => {
              const { changes: _changes, policies: _policies, ...rest } = m.rebalance!;
              return { at: m.at, ...rest };
            }),
          },
        }
      : {}),
  };
}
