/**
 * Scenario replay: build the cluster state, compile it with the controller, install the plans
 * through the sim driver, then run the scenario's events in virtual time with the controller in the
 * loop, and evaluate the expectations by walking real packets.
 *
 * Two views of the cluster: `physical` (what is true: links, nodes, ports) changes at an event's
 * time; the controller's `view` changes when the news reaches it — one control latency later
 * (port-status for links and nodes, the API server's watch for pods and services). The controller is
 * the one control loop (controller/loop.ts) that also drives real Open vSwitch: it recompiles, diffs
 * and hands out the ops, which the sim driver (sim/driver.ts, its southbound port here) lands one
 * more control latency later. An expectation at time T is evaluated after every event at or before T
 * and after the control work those events caused has landed (docs/simulator.md "When expectations
 * are checked").
 */
import type { ClusterState, Expectation, Scenario, ScenarioEvent } from './types-bridge';
import type { TrafficSteering } from '../topology/types';
import type { Highs } from 'highs';
import { buildClusterState, applyEvent, cloneClusterState } from '../topology/cluster';
import { didYouMean } from '../topology/diagnostics';
import { resolveName } from '../topology/dns';
import { ControlLoop, runPassSync } from '../controller/loop';
import type { LoopCompiler } from '../controller/loop';
import { SimDriver } from './driver';
import { Engine } from './engine';
import { secondsToUs } from './clock';
import { Prng } from './prng';
import { Host, SimNetwork } from './network';
import { ProbeResult, ProbeSpec, followUp, probe } from './probe';
import { analyse, evaluateSurvives } from './whatif';
import type { WhatIfOptions, WhatIfReport } from './whatif';

/** The compiler and reconciler the loop runs (tests may inject others). */
export type ControllerApi = LoopCompiler;

export class SimError extends Error {
  override readonly name = 'SimError';
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export interface ExpectationResult {
  index: number;
  at: number;
  kind: string;
  ok: boolean;
  detail: string;
  value?: number;
}

export interface SimReport {
  scenario: string;
  seed: number;
  ok: boolean;
  expectations: ExpectationResult[];
  links: { between: [string, string]; maxUtilization: number }[];
  /** per traffic demand: what it asked and what the model granted (time-weighted mean while active) */
  demands?: { index: number; from: string; to: string; askedGbps: number; grantedGbps: number; minGrantedGbps: number; blocked?: RunBandwidthSummary['demands'][number]['blocked'] }[];
  /** present when `cluster.rebalance` is set: what the rebalancing loop did */
  rebalance?: RebalanceReport;
  traceHash: string;
}

/** `fabric sim --json` under `rebalance` */
export interface RebalanceReport {
  policies: string[];
  changes: RunBandwidthSummary['rebalance']['changes'];
  /** highest max offered utilization of any bandwidth step, after rebalancing */
  peakOfferedMaxUtilization: number;
  /** the LP optimum λ* at that step, when computed (`fabric sim --optimum`) */
  optimumMaxUtilization?: number;
  steeringUpdates: number;
  movesApplied: number;
  pinsCarried: number;
  pinsNotCarried: number;
}

export interface SimOptions {
  /** overrides the scenario's seed */
  seed?: number;
  /** one-way control-channel latency, µs (default 1000) */
  controlLatencyUs?: number;
  controller?: ControllerApi;
  /** keep the event trace lines in memory (engine.traceLines) */
  keepTrace?: boolean;
  /** connections a `backends` expectation opens (default 64) */
  serviceConnections?: number;
  /** a loaded LP solver (`await loadLpSolver()`): the report then carries the optimum λ* under `rebalance` */
  lpSolver?: Highs;
  /** false: expectations are not evaluated (their times still bound the run); `fabric validate`'s demand check */
  evaluateExpectations?: boolean;
  /** called after each expectation (progress bars) */
  onProgress?: (done: number, total: number) => void;
}

export interface ConvergenceRecord {
  event: string;
  atUs: number;
  convergedUs: number;
}

export class SimRun {
  readonly engine: Engine;
  readonly physical: ClusterState;
  readonly view: ClusterState;
  readonly network: SimNetwork;
  readonly driver: SimDriver;
  /** the one control loop (controller/loop.ts), fed what the controller learns */
  readonly loop: ControlLoop;
  readonly prng: Prng;
  private portPrng: Prng;
  readonly seed: number;
  readonly convergence: ConvergenceRecord[] = [];
  readonly results: ExpectationResult[] = [];
  private bandwidth: BandwidthHook | undefined;

  constructor(readonly scenario: Scenario, readonly options: SimOptions = {}) {
    this.seed = options.seed ?? scenario.seed;
    this.prng = new Prng(this.seed);
    this.portPrng = this.prng.fork('source-ports');
    this.engine = new Engine({ keepTrace: options.keepTrace });
    this.physical = buildClusterState(scenario);
    this.view = cloneClusterState(this.physical);
    this.network = new SimNetwork(this.physical);
    this.driver = new SimDriver(this.network, this.engine, { controlLatencyUs: options.controlLatencyUs });
    // the controller can program a switch while it is up in the physical world
    this.loop = new ControlLoop(this.view, { compiler: options.controller, verify: 'stale', reachable: (name) => this.physical.switches.get(name)?.up === true });
    this.driver.onFailure = (name) => this.loop.applied(name, false);
    this.engine.log(`scenario ${scenario.name} seed ${this.seed}`);
  }

  /** bootstrap: the controller programs every switch before t=0 */
  install(): void {
    const { sent } = runPassSync(this.loop, { read: (n) => this.driver.read(n), apply: (n, ops) => this.driver.applyNow(n, ops) }, 'install');
    for (const s of sent) this.engine.log(`install ${s.switch}: ${s.ops} ops`);
  }

  /** the controller learned of a change: one pass of the loop, its ops sent through the sim driver */
  private reconcileAll(reason: string): void {
    const { pass, sent } = runPassSync(this.loop, this.driver, reason);
    if (pass.compileFallback !== undefined) this.engine.log(`controller ${reason}: incremental compile failed, compiled in full: ${pass.compileFallback}`);
    const total = sent.reduce((n, s) => n + s.ops, 0);
    this.engine.log(`controller ${reason}: ${total} ops (${pass.unchanged} switches unchanged)`);
  }

  private scheduleEvent(ev: ScenarioEvent, index: number, atUsOverride?: number): void {
    const atUs = atUsOverride ?? secondsToUs(ev.at);
    const label = index < 0 ? `rebalance ${eventLabel(ev)}` : eventLabel(ev);
    this.engine.schedule(atUs, `event ${index} ${label}`, () => {
      try {
        applyEvent(this.physical, ev);
      } catch (err) {
        throw new SimError(`sim: event ${index} (${label}) at ${ev.at}s cannot apply: ${(err as Error).message}`);
      }
      if (ev.kind === 'node' && ev.action === 'up') {
        this.network.resetSwitch(ev.name); // a rebooted node's bridge is empty
        this.loop.switchReset(ev.name);
      }
      this.network.sync();
      const latency = this.driver.controlLatencyUs;
      this.engine.schedule(
        atUs + latency,
        `controller learns ${label}`,
        () => {
          this.loop.observe(ev);
          this.reconcileAll(label);
          this.trackConvergence(label, atUs);
        },
        'control',
      );
    });
  }

  private trackConvergence(label: string, atUs: number): void {
    const check = (): void => {
      if (this.engine.pending('control') > 0) {
        this.engine.schedule(this.engine.pendingUntilUs('control'), `wait ${label}`, check);
        return;
      }
      this.convergence.push({ event: label, atUs, convergedUs: this.engine.nowUs() });
      this.engine.log(`converged after ${label} in ${this.engine.nowUs() - atUs}us`);
    };
    this.engine.schedule(this.engine.nowUs(), `wait ${label}`, check);
  }

  whenConvergedPublic(atUs: number, label: string, fn: () => void): void {
    this.whenConverged(atUs, label, fn);
  }

  /** run `fn` once no control message is in flight (re-queued behind pending control work) */
  private whenConverged(atUs: number, label: string, fn: () => void): void {
    const attempt = (): void => {
      if (this.engine.pending('control') > 0) {
        this.engine.schedule(this.engine.pendingUntilUs('control'), label, attempt);
        return;
      }
      fn();
    };
    this.engine.schedule(atUs, label, attempt);
  }

  /**
   * Bring the run to virtual time atS (for `fabric trace`): install, apply every event at or before
   * atS and let the control work they cause land.
   */
  advanceTo(atS: number): void {
    this.install();
    const atUs = secondsToUs(atS);
    this.scenario.events.forEach((ev, i) => {
      if (ev.at <= atS) this.scheduleEvent(ev, i);
    });
    // the rebalancer's pins, meters and moves up to atS are part of what the switches hold then
    if (this.scenario.cluster.rebalance.length > 0) this.startBandwidth();
    for (;;) {
      const next = this.engine.nextAtUs();
      if (next === undefined) break;
      if (next > atUs && this.engine.pending('control') === 0) break;
      this.engine.step();
    }
    if (this.engine.nowUs() < atUs) this.engine.runUntil(atUs);
  }

  run(): SimReport {
    this.install();
    return this.runInstalled();
  }

  /** `run` after `install` was called (benchmarks time the two apart) */
  runInstalled(): SimReport {
    this.scenario.events.forEach((ev, i) => this.scheduleEvent(ev, i));
    this.startBandwidth();
    const total = this.scenario.expect.length;
    this.scenario.expect.forEach((exp, index) => {
      if (this.options.evaluateExpectations === false) return;
      this.whenConverged(secondsToUs(exp.at), `expect ${index} ${exp.kind}`, () => {
        const r = this.evaluate(exp, index);
        this.results.push(r);
        this.engine.log(`expect ${index} ${r.kind} ${r.ok ? 'ok' : 'FAIL'} ${r.detail}${r.value !== undefined ? ` value=${r.value}` : ''}`);
        this.options.onProgress?.(this.results.length, total);
      });
    });
    while (this.engine.step()) {
      /* drain */
    }
    const expectations = [...this.results].sort((a, b) => a.index - b.index);
    if (this.bandwidth && this.options.lpSolver) {
      try {
        this.bandwidth.timeline.attachOptimum(this.options.lpSolver);
      } catch (err) {
        throw new SimError(`sim: the LP optimum cannot be computed: ${(err as Error).message}`);
      }
    }
    const summary = this.bandwidth?.summary();
    const report: SimReport = {
      scenario: this.scenario.name,
      seed: this.seed,
      ok: expectations.every((e) => e.ok),
      expectations,
      links: summary?.links ?? [],
      demands: summary?.demands ?? [],
      traceHash: '',
    };
    if (summary && this.scenario.cluster.rebalance.length > 0) {
      const { policies, changes, peakOfferedMaxUtilization, optimumMaxUtilization } = summary.rebalance;
      report.rebalance = {
        policies,
        changes,
        peakOfferedMaxUtilization,
        ...(optimumMaxUtilization !== undefined ? { optimumMaxUtilization } : {}),
        ...this.bandwidth!.loopStats(),
      };
    }
    report.traceHash = this.engine.traceHash();
    // key order of docs/scenarios.md §6: traceHash last
    const { traceHash, ...rest } = report;
    return { ...rest, traceHash };
  }

  /** the bandwidth model and, with `cluster.rebalance`, the rebalancing loop feeding the controller */
  private startBandwidth(): void {
    this.bandwidth = loadBandwidth(this, {
      steeringChanged: (reason) => this.steeringChanged(reason),
      movePod: (pod, to) => this.movePod(pod, to),
    });
    this.bandwidth?.schedule();
  }

  /** the bandwidth model of the last run (undefined before `run` or without sim/bandwidth-timeline) */
  bandwidthModel(): BandwidthHook | undefined {
    return this.bandwidth;
  }

  /**
   * The rebalancer's decisions reach the controller: the new steering becomes part of the desired
   * state and the controller recompiles (a `steering-changed`); the ops land one control latency later.
   */
  setSteering(steering: TrafficSteering, reason: string): void {
    this.loop.setSteering(steering);
    this.steeringChanged(reason);
  }

  /** The loop's steering changed (its rebalancing round): recompile and send, one control latency on. */
  steeringChanged(reason: string): void {
    const atUs = this.engine.nowUs();
    this.reconcileAll(reason);
    this.trackConvergence(reason, atUs);
  }

  /** A move proposed by `place`, applied now as a pod move event (the pod keeps its IP). */
  movePod(pod: string, to: string): void {
    const ev: ScenarioEvent = { at: this.engine.nowUs() / 1e6, kind: 'pod', action: 'move', name: pod, to };
    this.scheduleEvent(ev, -1, this.engine.nowUs());
  }

  // ---- endpoints and probes ------------------------------------------------------------------

  /** resolve a `to` name: pod, service, external, node or IP */
  resolveTarget(to: string, port?: number, protocol?: 'tcp' | 'udp', from?: string): { ip: string; spec: Omit<ProbeSpec, 'srcPort' | 'icmpId'>; service?: string } | string {
    const s = this.physical;
    // a DNS name (cluster.dns): resolved by the cluster DNS's own logic (topology/dns.ts)
    if (s.cluster.dns && to.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(to)) {
      const answer = resolveName(s, to);
      if (!answer) return `${to}: NXDOMAIN (no service or pod of that name at this time)`;
      to = answer.kind === 'service' ? answer.service : answer.pod;
    }
    const pod = s.pods.get(to);
    const svc = s.services.get(to);
    const outside = from !== undefined && s.externals.has(from);
    const ext = s.externals.get(to);
    const node = s.nodes.get(to);
    let ip: string | undefined;
    let service: string | undefined;
    if (pod) ip = pod.ip;
    else if (svc) {
      // from outside, a service is reached through its LoadBalancer VIP (a ClusterIP is internal)
      if (outside && !svc.loadBalancerIp) return `service ${svc.name} is ${svc.type ?? 'ClusterIP'}: outside hosts reach it through a LoadBalancer VIP, or a NodePort as { to: NODE, port: NODEPORT }`;
      ip = outside ? svc.loadBalancerIp! : svc.vip;
      service = svc.name;
      port ??= svc.port;
      protocol ??= svc.protocol;
    } else if (ext) ip = ext.ip;
    else if (node) ip = node.ip;
    else if (/^\d+\.\d+\.\d+\.\d+$/.test(to)) ip = to;
    if (!ip) return `unknown destination ${to} at this time${didYouMean(to, [...s.pods.keys(), ...s.services.keys(), ...s.externals.keys(), ...s.nodes.keys()])}`;
    const proto = port !== undefined ? protocol ?? 'tcp' : 'icmp';
    return { ip, spec: { proto, dstIp: ip, dstPort: port }, service };
  }

  sourceHost(from: string): Host | string {
    const h = this.network.host(from);
    if (h) return h;
    return `unknown source ${from} at this time`;
  }

  private nextSrcPort(): number {
    return 32768 + this.portPrng.int(60999 - 32768 + 1);
  }

  /** one connection from `from` to `to` (a fresh source port) */
  connect(from: string, to: string, port?: number, protocol?: 'tcp' | 'udp', trace = true): ProbeResult | string {
    const host = this.sourceHost(from);
    if (typeof host === 'string') return host;
    const target = this.resolveTarget(to, port, protocol, from);
    if (typeof target === 'string') return target;
    const id = this.nextSrcPort();
    return probe(this.network, host, { ...target.spec, srcPort: id, icmpId: id }, this.engine.nowUs(), trace);
  }

  private evaluate(exp: Expectation, index: number): ExpectationResult {
    const base = { index, at: exp.at, kind: exp.kind };
    switch (exp.kind) {
      case 'reach':
      case 'noReach': {
        const ep = exp.kind === 'reach' ? exp.reach : exp.noReach;
        if (exp.kind === 'reach' && exp.backends) return { ...base, ...this.evaluateBackends(ep, exp.backends) };
        const unresolved = exp.kind === 'noReach' && typeof this.sourceHost(ep.from) !== 'string' ? this.resolveTarget(ep.to, ep.port, ep.protocol, ep.from) : undefined;
        if (typeof unresolved === 'string') {
          // a destination that does not exist now (a deleted pod or service), or has no door for this source, cannot be reached
          return { ...base, ok: true, detail: this.physical.pods.has(ep.to) || this.physical.services.has(ep.to) ? unresolved : `${ep.to} does not exist at ${exp.at}s` };
        }
        const r = this.connect(ep.from, ep.to, ep.port, ep.protocol, false);
        if (typeof r === 'string') return { ...base, ok: false, detail: r };
        const what = `${ep.from} -> ${ep.to}${ep.port !== undefined ? `:${ep.port}` : ''}`;
        if (exp.kind === 'reach') return { ...base, ok: r.ok, detail: r.ok ? `${what} via ${r.path.join(',')}` : `${what}: ${r.detail}` };
        return { ...base, ok: !r.ok, detail: r.ok ? `${what} answered via ${r.path.join(',')}` : `${what} blocked: ${r.detail}` };
      }
      case 'egress': {
        const ep = exp.egress;
        const r = this.connect(ep.from, ep.to, ep.port, ep.protocol, false);
        if (typeof r === 'string') return { ...base, ok: false, detail: r };
        if (!r.acceptedBy) return { ...base, ok: false, detail: `${ep.from} -> ${ep.to}: ${r.detail}` };
        const seen = `${ep.to} saw ${r.seenSrc}`;
        if (r.seenSrc !== exp.srcSeenAs) return { ...base, ok: false, detail: `${seen}, expected ${exp.srcSeenAs}` };
        if (!r.ok) return { ...base, ok: false, detail: `${seen}, but ${r.detail}` };
        return { ...base, ok: true, detail: `${seen}; reply back to ${ep.from} via ${r.replyPath.join(',')}` };
      }
      case 'maxLinkUtilization':
      case 'fairShare':
      case 'limited': {
        if (!this.bandwidth) return { ...base, ok: false, detail: 'not evaluated: the bandwidth model (sim/bandwidth-timeline.ts) is not available' };
        return { ...base, ...this.bandwidth.check(exp) };
      }
      case 'survives': {
        // every single failure of the kind, on copies of the state at this time (sim/whatif.ts, docs/whatif.md)
        return { ...base, ...evaluateSurvives(this, exp.survives, exp.at) };
      }
    }
  }

  private evaluateBackends(ep: { from: string; to: string; port?: number; protocol?: 'tcp' | 'udp' }, backends: string[]): { ok: boolean; detail: string; value?: number } {
    const n = this.options.serviceConnections ?? 64;
    const counts = new Map<string, number>();
    let failed = 0;
    let firstFailure = '';
    let switched = 0;
    const host = this.sourceHost(ep.from);
    for (let i = 0; i < n; i++) {
      const r = this.connect(ep.from, ep.to, ep.port, ep.protocol, false);
      if (typeof r === 'string') return { ok: false, detail: r };
      if (!r.ok || !r.acceptedBy) {
        failed++;
        firstFailure ||= r.detail;
        continue;
      }
      counts.set(r.acceptedBy.name, (counts.get(r.acceptedBy.name) ?? 0) + 1);
      // a connection keeps its backend: the next packet of the same connection lands on the same pod
      if (typeof host !== 'string' && r.request?.ipProto === 6) {
        const again = followUp(this.network, host, r, this.engine.nowUs());
        if (again?.name !== r.acceptedBy.name) switched++;
      }
    }
    const seen = [...counts.keys()].sort();
    const want = [...backends].sort();
    const spread = seen.map((b) => `${b} ${counts.get(b)}`).join(', ');
    const sameSet = seen.length === want.length && seen.every((b, i) => b === want[i]);
    const ok = failed === 0 && sameSet && switched === 0;
    // value: the distinct backends that answered (as the lab counts them); the line says it against the list
    const expectedSeen = want.filter((b) => counts.has(b)).length;
    const unexpected = seen.filter((b) => !want.includes(b));
    let detail = `${expectedSeen} of ${want.length} backends seen${unexpected.length ? ` and ${unexpected.length} not listed (${unexpected.join(', ')})` : ''}; ${n - failed}/${n} connections to ${ep.to}: ${spread || 'none'}`;
    if (!sameSet) detail += `; expected backends ${want.join(', ')}`;
    if (failed) detail += `; ${failed} failed (${firstFailure})`;
    if (switched) detail += `; ${switched} connections changed backend mid-connection`;
    return { ok, detail, value: seen.length };
  }
}

function eventLabel(ev: ScenarioEvent): string {
  switch (ev.kind) {
    case 'link': return `link ${ev.action} ${ev.between.join('|')}`;
    case 'node': return `node ${ev.action} ${ev.name}`;
    case 'pod': return ev.action === 'move' ? `pod move ${ev.name} to ${ev.to}` : `pod ${ev.action} ${ev.name}`;
    case 'service': return ev.action === 'add' ? `service add ${ev.service.name}` : `service delete ${ev.name}`;
  }
}

import { loadBandwidth } from './demands';
import type { BandwidthHook } from './demands';
import type { RunBandwidthSummary } from './bandwidth-timeline';

/** Replay a scenario; the report follows docs/scenarios.md §6. */
export function runScenario(scenario: Scenario, options: SimOptions = {}): SimReport {
  return new SimRun(scenario, options).run();
}

/** Replay a scenario and keep the run (network, engine, convergence records) for inspection. */
export function runScenarioDetailed(scenario: Scenario, options: SimOptions = {}): { report: SimReport; run: SimRun } {
  const run = new SimRun(scenario, options);
  return { report: run.run(), run };
}

/** Bring a scenario to T and analyse every single failure of the kind (sim/whatif.ts, docs/whatif.md). */
export function whatIf(scenario: Scenario, options: WhatIfOptions = {}): WhatIfReport {
  const at = options.at ?? 0;
  const run = new SimRun(scenario);
  run.advanceTo(at);
  return analyse(run, at, options);
}
