/**
 * `fabric plan FILE [--at T] [--format json|ndjson|ofctl] [--switch NAME]... [--pod NAME]... [--service NAME]...
 * [--kind flows|groups|meters]`: the compiled flows, groups and meters (docs/scenarios.md §6).
 *
 * - json (default): one JSON document `{ scenario, at, switches: { NAME: { datapathId, flows, groups,
 *   meters } } }`, bigints as "0x..." hex strings, each flow also with its ovs-ofctl text and its table
 *   name. It is *streamed*: written switch by switch and flow by flow, waiting for stdout to drain, so a
 *   plan of 5,000 nodes is never held as one string (issue 17 "Plans at scale"). The bytes are those
 *   `JSON.stringify(document, replacer, 2)` gave before the streaming writer.
 * - ndjson: one line per switch, `{ scenario, at, switch, datapathId, flows, groups, meters }`, same values.
 * - ofctl: one switch (exactly one --switch), one kind (default flows), one line each, accepted as is by
 *   `ovs-ofctl -O OpenFlow13 add-flows FILE` / `add-groups FILE`; meter lines are the argument of
 *   `ovs-ofctl -O OpenFlow13 add-meter SWITCH LINE` (OVS 3.1 has no add-meters).
 *
 * Filters (any format): `--switch` (repeatable, or a comma list) keeps those switches; `--pod NAME`
 * keeps what concerns the pod (as Antrea's `antctl get ovsflows -p POD`): on its node switch the flows
 * that match or act on its IP, MAC or port, the groups with a bucket to it and the meters its flows use;
 * elsewhere the flows naming its IP exactly (a moved pod's /32, pins). `--service NAME` keeps, on every
 * switch, the flows matching its VIP (or load-balancer IP, or NodePort) or sending to its groups, and
 * its groups. --pod and --service add up; switches left with nothing are not printed.
 * `--at T` applies the scenario's events with `at <= T` first (same time: file order).
 * A progress bar (per switch) is drawn on stderr when it is a terminal (cli/progress.ts).
 */
import type { Command } from 'commander';
import { once } from 'events';
import type { CommandContext } from '../main';
import { addPlanDiff, runPlanDiff } from './diff';
import { applyEvent, buildClusterState, formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import type { ClusterState } from '../../topology/types';
import { compileCluster, compileIncremental, flowSortKey, partsOf, serviceGroupId, tableName } from '../../controller';
import type { FabricPlan } from '../../controller';
import { LOADBALANCER_GROUP, NODEPORT_CLUSTER_GROUP, NODEPORT_LOCAL_GROUP } from '../../controller/edge';
import type { Action, FieldName, Flow, Group, Match, Meter, SwitchPlan } from '../../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { startProgress, withProgress } from '../progress';

class PlanUsageError extends Error {
  override readonly name = 'PlanUsageError';
  readonly exitCode = 2;
}

type Kind = 'flows' | 'groups' | 'meters';
type Format = 'json' | 'ndjson' | 'ofctl';
const FORMATS: readonly Format[] = ['json', 'ndjson', 'ofctl'];

interface PlanOptions {
  at?: string;
  format: string;
  switch?: string[];
  pod?: string[];
  service?: string[];
  kind: string;
  /** (--json belongs to --diff) no progress bar either */
  json?: boolean;
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return '0x' + value.toString(16);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

function flowJson(f: Flow): unknown {
  return { tableName: tableName(f.table), ...f, ofctl: flowText(f) };
}
function groupJson(g: Group): unknown {
  return { ...g, ofctl: groupText(g) };
}
function meterJson(m: Meter): unknown {
  return { ...m, ofctl: meterText(m) };
}

/** `--switch a --switch b,c` → [a, b, c] */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

// ---- one switch's lists (merged from the compiled parts, not cached on the plan) ----------------------

interface Lists {
  flows: Flow[];
  groups: Group[];
  meters: Meter[];
}

/** What a filter keeps of one part or list; undefined keeps everything. */
interface Selector {
  flow(f: Flow): boolean;
  group(g: Group): boolean;
  meter(m: Meter, keptFlows: readonly Flow[]): boolean;
}

function byId<T>(items: T[], id: (t: T) => number): T[] {
  // as the compiler's canonicalById: stable sort by id, the first of equal ids kept
  const sorted = items.slice().sort((a, b) => id(a) - id(b));
  const out: T[] = [];
  for (const it of sorted) if (out.length === 0 || id(out[out.length - 1]!) !== id(it)) out.push(it);
  return out;
}

/**
 * The compiler's canonical flow order (canonicalFlows: sorted by flowSortKey, stable, the first of
 * equal keys kept), with the keys held only while one switch is printed (or, for the flows of shared
 * parts, by the caller's `key`): canonicalFlows caches a key per flow for as long as the plan lives,
 * which at 5,000 nodes grew the heap by gigabytes while printing.
 */
function canonicalOrder(flows: Flow[], key: (f: Flow) => string): Flow[] {
  const keyed = flows.map((f) => ({ k: key(f), f }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const out: Flow[] = [];
  let prev: string | undefined;
  for (const { k, f } of keyed) {
    if (k === prev) continue;
    prev = k;
    out.push(f);
  }
  return out;
}

/**
 * A switch's flows, groups and meters in canonical order, as `sp.flows` etc. give them, but merged
 * from the compiled parts into arrays that are dropped after printing: reading the getters would
 * cache every switch's merged lists on the plan (5,000 switches x 20,000 flows of pointers).
 */
function switchLists(sp: SwitchPlan, select: Selector | undefined, key: (f: Flow) => string = flowSortKey): Lists {
  const parts = partsOf(sp);
  if (!parts) {
    const flows = select ? sp.flows.filter((f) => select.flow(f)) : sp.flows;
    return {
      flows,
      groups: select ? sp.groups.filter((g) => select.group(g)) : sp.groups,
      meters: select ? sp.meters.filter((m) => select.meter(m, flows)) : sp.meters,
    };
  }
  const flows: Flow[] = [];
  const groups: Group[] = [];
  const meters: Meter[] = [];
  for (const p of parts) {
    for (const f of p.flows) if (!select || select.flow(f)) flows.push(f);
    for (const g of p.groups) if (!select || select.group(g)) groups.push(g);
    for (const m of p.meters) meters.push(m);
  }
  const canonical = canonicalOrder(flows, key);
  const keptMeters = byId(meters, (m) => m.meterId);
  return {
    flows: canonical,
    groups: byId(groups, (g) => g.groupId),
    meters: select ? keptMeters.filter((m) => select.meter(m, canonical)) : keptMeters,
  };
}

// ---- filters: --pod and --service -----------------------------------------------------------------------

const IP_FIELDS: ReadonlySet<FieldName> = new Set<FieldName>(['ipv4_src', 'ipv4_dst', 'arp_spa', 'arp_tpa']);
const MAC_FIELDS: ReadonlySet<FieldName> = new Set<FieldName>(['eth_src', 'eth_dst', 'arp_sha', 'arp_tha']);
const PORT_FIELDS: ReadonlySet<FieldName> = new Set<FieldName>(['in_port', 'in_port_nxm', 'reg1']);
const L4_DST: ReadonlySet<FieldName> = new Set<FieldName>(['tcp_dst', 'udp_dst']);

function ipBig(ip: string): bigint {
  return BigInt(ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0));
}
function macBig(mac: string): bigint {
  return BigInt('0x' + mac.replace(/[:-]/g, ''));
}
/** an exact match of the field on value (no mask, or a full one) */
function matchesExactly(match: Match, fields: ReadonlySet<FieldName>, value: bigint, full: bigint): boolean {
  for (const field of fields) {
    const m = match[field];
    if (m && m.value === value && (m.mask === undefined || m.mask === full)) return true;
  }
  return false;
}
function instructionActions(f: Flow): Action[] {
  const i = f.instructions;
  if (!i.apply && !i.write) return [];
  return [...(i.apply ?? []), ...(i.write ?? [])];
}

interface PodTarget {
  name: string;
  node: string;
  ipText: string;
  ip: bigint;
  mac: bigint;
  port?: number;
}

function podTarget(state: ClusterState, name: string): PodTarget {
  const pod = state.pods.get(name);
  if (!pod) throw new PlanUsageError(`plan: no pod named ${name}`);
  const port = state.switches.get(pod.node)?.ports.find((p) => p.kind === 'pod' && p.pod === name)?.port;
  return { name, node: pod.node, ipText: pod.ip, ip: ipBig(pod.ip), mac: macBig(pod.mac), port };
}

function actionNamesPod(a: Action, t: PodTarget, local: boolean): boolean {
  switch (a.type) {
    case 'output':
      return local && t.port !== undefined && a.port === t.port;
    case 'set_field':
      return (IP_FIELDS.has(a.field) && a.value === t.ip) || (local && MAC_FIELDS.has(a.field) && a.value === t.mac);
    case 'ct':
      if (a.nat && (a.nat.ipMin === t.ipText || (a.nat.ipMin && a.nat.ipMax && ipBig(a.nat.ipMin) <= t.ip && t.ip <= ipBig(a.nat.ipMax)))) return true;
      return (a.exec ?? []).some((x) => actionNamesPod(x, t, local));
    default:
      return false;
  }
}

/** on the pod's node switch (local): its IP, MAC or port; elsewhere its IP only */
function flowNamesPod(f: Flow, t: PodTarget, local: boolean): boolean {
  if (matchesExactly(f.match, IP_FIELDS, t.ip, 0xffffffffn)) return true;
  if (local && matchesExactly(f.match, MAC_FIELDS, t.mac, 0xffffffffffffn)) return true;
  if (local && t.port !== undefined && matchesExactly(f.match, PORT_FIELDS, BigInt(t.port), 0xffffffffn)) return true;
  return instructionActions(f).some((a) => actionNamesPod(a, t, local));
}

interface ServiceTarget {
  name: string;
  ips: bigint[];
  nodePort?: bigint;
  groupIds: Set<number>;
}

function serviceTarget(state: ClusterState, name: string): ServiceTarget {
  const svc = state.services.get(name);
  if (!svc) throw new PlanUsageError(`plan: no service named ${name}`);
  const groupIds = new Set<number>([serviceGroupId(state, svc)]);
  if (svc.nodePort !== undefined) {
    groupIds.add(NODEPORT_CLUSTER_GROUP(svc.nodePort));
    groupIds.add(NODEPORT_LOCAL_GROUP(svc.nodePort));
    groupIds.add(LOADBALANCER_GROUP(svc.nodePort));
  }
  const ips = [ipBig(svc.vip), ...(svc.loadBalancerIp ? [ipBig(svc.loadBalancerIp)] : [])];
  return { name, ips, nodePort: svc.nodePort !== undefined ? BigInt(svc.nodePort) : undefined, groupIds };
}

function flowNamesService(f: Flow, t: ServiceTarget): boolean {
  const dst = f.match.ipv4_dst;
  if (dst && (dst.mask === undefined || dst.mask === 0xffffffffn) && t.ips.includes(dst.value)) return true;
  if (t.nodePort !== undefined && matchesExactly(f.match, L4_DST, t.nodePort, 0xffffn)) return true;
  return instructionActions(f).some((a) => a.type === 'group' && t.groupIds.has(a.groupId));
}

/** The selector of one switch, or undefined when every item is kept; null when the switch is left out. */
function selectorFor(name: string, pods: PodTarget[], services: ServiceTarget[]): Selector | undefined {
  if (pods.length === 0 && services.length === 0) return undefined;
  const local = pods.filter((p) => p.node === name);
  const remote = pods.filter((p) => p.node !== name);
  return {
    flow: (f) => local.some((t) => flowNamesPod(f, t, true)) || remote.some((t) => flowNamesPod(f, t, false)) || services.some((t) => flowNamesService(f, t)),
    group: (g) =>
      services.some((t) => t.groupIds.has(g.groupId)) || local.some((t) => g.buckets.some((b) => b.actions.some((a) => actionNamesPod(a, t, true)))),
    meter: (m, kept) => kept.some((f) => f.instructions.meter === m.meterId),
  };
}

// ---- the streaming writer ---------------------------------------------------------------------------------

/**
 * Text written through ctx.stdout in chunks of about 1 MiB; after each chunk, when process.stdout's
 * buffer is over its high-water mark, waits for 'drain' (stdout to a pipe or socket that is read slowly).
 */
class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;
  bytes = 0;
  constructor(private readonly out: (text: string) => void, private readonly chunk = 1 << 20) {}

  /** true when a chunk is due: call flush() */
  push(text: string): boolean {
    this.parts.push(text);
    this.size += text.length;
    return this.size >= this.chunk;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.bytes += text.length;
    this.out(text);
    const stdout = process.stdout as NodeJS.WriteStream & { writableNeedDrain?: boolean };
    if (stdout.writableNeedDrain) await once(stdout, 'drain');
  }
}

/** Rendered items of the parts several switches share (a service's flow and group on every node switch). */
class SharedCache {
  private readonly shared = new Set<object>();
  private readonly text = new Map<object, string>();
  constructor(plan: FabricPlan) {
    const seen = new Map<object, number>();
    for (const sp of plan.values()) {
      for (const p of partsOf(sp) ?? []) {
        const n = (seen.get(p) ?? 0) + 1;
        seen.set(p, n);
        if (n === 2) for (const x of [...p.flows, ...p.groups, ...p.meters]) this.shared.add(x);
      }
    }
  }
  private readonly keys = new Map<Flow, string>();
  /** a flow's sort key, kept for the flows of shared parts only */
  sortKey = (f: Flow): string => {
    if (!this.shared.has(f)) return flowSortKey(f);
    let k = this.keys.get(f);
    if (k === undefined) this.keys.set(f, (k = flowSortKey(f)));
    return k;
  };
  render<T extends object>(item: T, fn: (item: T) => string): string {
    if (!this.shared.has(item)) return fn(item);
    let s = this.text.get(item);
    if (s === undefined) this.text.set(item, (s = fn(item)));
    return s;
  }
}

const INDENT_ITEM = '\n' + ' '.repeat(8);
const SEP_ITEM = ',' + INDENT_ITEM;

/** an item of a switch's list, as JSON.stringify(document, jsonValue, 2) places it (depth 4) */
function indented(value: unknown): string {
  return JSON.stringify(value, jsonValue, 2).replace(/\n/g, INDENT_ITEM);
}
function compact(value: unknown): string {
  return JSON.stringify(value, jsonValue);
}

interface StreamInput {
  scenario: string;
  at: number;
  plan: FabricPlan;
  names: string[];
  pods: PodTarget[];
  services: ServiceTarget[];
}

async function streamPlan(ctx: CommandContext, format: 'json' | 'ndjson', input: StreamInput, json?: boolean): Promise<void> {
  const w = new ChunkedWriter(ctx.stdout);
  const cache = new SharedCache(input.plan);
  const pretty = format === 'json';
  const render = pretty ? indented : compact;
  const flowStr = (f: Flow) => render(flowJson(f));
  const groupStr = (g: Group) => render(groupJson(g));
  const meterStr = (m: Meter) => render(meterJson(m));
  const filtered = input.pods.length > 0 || input.services.length > 0;
  const bar = startProgress({ label: 'plan', total: input.names.length, unit: 'switches', json });

  /** one list: `"key": [ items ]`, each item written (and flushed) as it is rendered */
  async function list<T extends object>(key: string, items: T[], str: (t: T) => string, last: boolean): Promise<void> {
    if (pretty) {
      if (items.length === 0) w.push(`      ${JSON.stringify(key)}: []${last ? '' : ','}\n`);
      else {
        w.push(`      ${JSON.stringify(key)}: [`);
        for (let i = 0; i < items.length; i++) {
          // separate flat pieces: the chunk's join copies them once (a template would make a cons string to flatten)
          w.push(i === 0 ? INDENT_ITEM : SEP_ITEM);
          if (w.push(cache.render(items[i]!, str))) await w.flush();
        }
        w.push(`\n      ]${last ? '' : ','}\n`);
      }
    } else {
      w.push(`${JSON.stringify(key)}:[`);
      for (let i = 0; i < items.length; i++) {
        if (i > 0) w.push(',');
        if (w.push(cache.render(items[i]!, str))) await w.flush();
      }
      w.push(`]${last ? '' : ','}`);
    }
  }

  try {
    const head = pretty
      ? `{\n  "scenario": ${JSON.stringify(input.scenario)},\n  "at": ${JSON.stringify(input.at)},\n  "switches": {`
      : `{"scenario":${JSON.stringify(input.scenario)},"at":${JSON.stringify(input.at)},`;
    if (pretty) w.push(head);
    let written = 0;
    for (const name of input.names) {
      const sp = input.plan.get(name)!;
      const lists = switchLists(sp, selectorFor(name, input.pods, input.services), cache.sortKey);
      bar.increment(1, name);
      if (filtered && lists.flows.length === 0 && lists.groups.length === 0 && lists.meters.length === 0) continue;
      if (pretty) {
        w.push(`${written === 0 ? '' : ','}\n    ${JSON.stringify(name)}: {\n      "datapathId": ${JSON.stringify(sp.datapathId)},\n`);
      } else {
        w.push(`${head}"switch":${JSON.stringify(name)},"datapathId":${JSON.stringify(sp.datapathId)},`);
      }
      await list('flows', lists.flows, flowStr, false);
      await list('groups', lists.groups, groupStr, false);
      await list('meters', lists.meters, meterStr, true);
      w.push(pretty ? '    }' : '}\n');
      written++;
      await w.flush();
    }
    if (pretty) w.push(written === 0 ? '}\n}\n' : '\n  }\n}\n');
    await w.flush();
  } finally {
    bar.stop();
  }
}

// ---- the command ----------------------------------------------------------------------------------------------

function parseAt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = parseDuration(/^\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  if (at === undefined) throw new PlanUsageError(`plan: --at must be a duration such as 2s or 250ms, got ${text}`);
  return at;
}

/** The scenario compiled at time `at` (its events up to `at` applied), or undefined after printing its errors. */
function compiledAt(ctx: CommandContext, file: string, at: number | undefined, json?: boolean): { name: string; state: ClusterState; plan: FabricPlan } | undefined {
  const result = parseScenarioFile(file);
  if (!result.scenario) {
    for (const d of result.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
    return undefined;
  }
  const scenario = result.scenario;
  const events: typeof scenario.events = [];
  if (at !== undefined) {
    for (const ev of scenario.events) {
      if (ev.at > at) break;
      events.push(ev);
    }
  }
  return withProgress({ label: 'compiling', total: 2 + events.length, unit: 'steps', json }, (bar) => {
    bar.update(0, 'cluster state');
    const state = buildClusterState(scenario);
    bar.update(1, 'compile');
    let plan: FabricPlan = compileCluster(state);
    bar.update(2, 'compiled');
    for (const ev of events) {
      plan = compileIncremental(plan, state, applyEvent(state, ev));
      bar.increment(1, `event at ${ev.at}s`);
    }
    return { name: scenario.name, state, plan };
  });
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('plan')
    .description('print the compiled flows, groups and meters of every switch (json, ndjson) or one switch (ofctl)')
    .argument('<file>', 'scenario YAML file')
    .option('--at <time>', 'apply the events up to this virtual time first (e.g. 2s, 250ms)')
    .option('--format <format>', 'json (one document, streamed), ndjson (one line per switch) or ofctl', 'json')
    .option('--switch <name>', 'only this switch (repeatable, or a comma list; exactly one with --format ofctl)', collect)
    .option('--pod <name>', 'only what concerns this pod: its node switch flows on its IP/MAC/port, groups with it as a bucket (repeatable)', collect)
    .option('--service <name>', "only this service's flows and groups, on every switch (repeatable)", collect)
    .option('--kind <kind>', 'with --format ofctl: flows, groups or meters', 'flows')
    .action(async (file: string, opts: PlanOptions) => {
      if (runPlanDiff(ctx, file)) return; // --diff --at T1 --at T2 (cli/commands/diff.ts)
      if (!FORMATS.includes(opts.format as Format)) throw new PlanUsageError(`plan: --format must be json, ndjson or ofctl, got ${opts.format}`);
      const format = opts.format as Format;
      if (!['flows', 'groups', 'meters'].includes(opts.kind)) throw new PlanUsageError(`plan: --kind must be flows, groups or meters, got ${opts.kind}`);
      const switchNames = opts.switch ?? [];
      if (format === 'ofctl' && switchNames.length !== 1) throw new PlanUsageError('plan: --format ofctl prints one switch: give --switch NAME');
      const at = parseAt(opts.at);
      const compiled = compiledAt(ctx, file, at, opts.json);
      if (!compiled) {
        ctx.exitCode = 2;
        return;
      }
      const { plan, state } = compiled;
      for (const name of switchNames) {
        if (!plan.has(name)) throw new PlanUsageError(`plan: no switch named ${name} (switches: ${[...plan.keys()].join(', ')})`);
      }
      const pods = (opts.pod ?? []).map((n) => podTarget(state, n));
      const services = (opts.service ?? []).map((n) => serviceTarget(state, n));
      if (format === 'ofctl') {
        const name = switchNames[0]!;
        const lists = switchLists(plan.get(name)!, selectorFor(name, pods, services));
        const kind = opts.kind as Kind;
        // flows: `# table 9: l3_forwarding` before each table's flows (ovs-ofctl add-flows skips # lines)
        const lines = kind === 'flows' ? lists.flows.flatMap((f, i) => (i === 0 || lists.flows[i - 1].table !== f.table ? [`# table ${f.table}: ${tableName(f.table) ?? '?'}`, flowText(f)] : [flowText(f)])) : kind === 'groups' ? lists.groups.map(groupText) : lists.meters.map(meterText);
        ctx.stdout(lines.map((l) => l + '\n').join(''));
        ctx.exitCode = 0;
        return;
      }
      const wanted = new Set(switchNames);
      const names = [...plan.keys()].filter((n) => wanted.size === 0 || wanted.has(n));
      await streamPlan(ctx, format, { scenario: compiled.name, at: at ?? 0, plan, names, pods, services }, opts.json);
      ctx.exitCode = 0;
    });
  // `plan FILE --diff --at T1 --at T2`: the options and the collected --at values (cli/commands/diff.ts)
  addPlanDiff(program, ctx);
}
