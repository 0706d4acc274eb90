/**
 * Scenario files: YAML text -> a checked Scenario (docs/scenarios.md §1, with our extensions), or every
 * problem found, each at its file:line:col. Never throws on bad input: empty, binary, oversized,
 * unreadable or non-YAML files become diagnostics too.
 *
 * Checking runs in four passes, each only as far as the previous one leaves something to check:
 * 1. YAML syntax (the `yaml` package, with a LineCounter for positions);
 * 2. shape: known keys ("did you mean"), types, ranges, durations, defaults;
 * 3. cross references: unique names, link ends, pod nodes, address overlaps, node blocks, fixed IPs,
 *    and a replay of events and expectations by name in time order (a pod deleted before it exists,
 *    an expectation naming a pod that is gone by then);
 * 4. when all that is clean: the address plan (topology/ipam.ts) and a replay of the events through
 *    the cluster model (topology/cluster.ts), so that what validates also runs.
 */
import * as fs from 'fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { CORE_SCHEMA, load as loadYamlFast } from 'js-yaml';
import type {
  ExternalPeer,
  AllowRule,
  ClusterSpec,
  Endpoints,
  Expectation,
  ExternalSpec,
  HostPortSpec,
  L4Protocol,
  LinkSpec,
  NodeSpec,
  PodSpec,
  RebalancePolicy,
  Scenario,
  ScenarioEvent,
  ServiceSpec,
  SourcePos,
  SwitchSpec,
  SurvivesSpec,
  TrafficDemand,
} from './types';
import { type Diagnostic, didYouMean, sortDiagnostics } from './diagnostics';
import { cidrLast, cidrProblem, cidrsOverlap, ipToInt, isValidIp, parseCidr, type Cidr } from './ip';
import { IpamError, isReservedInBlock, isReservedInServicePool, planAddresses } from './ipam';
import { applyEvent, buildClusterState, NODE_PORT_RANGE, selectorMatches, TopologyError } from './cluster';

/** Larger files are refused before parsing: a real scenario is kilobytes; 16 MiB is ~100k pods. */
export const MAX_SCENARIO_BYTES = 16 * 1024 * 1024;

/**
 * Files this large are first read by js-yaml (~15x faster than the `yaml` package here: 0.5 s instead
 * of 7 s for a 9.8 MiB generated cluster) without source positions; only when that reading reports
 * anything at all (an error or a warning) is the file read again the careful way, with the position
 * of every value, so every diagnostic still names file:line:col. Smaller files always take the
 * careful way (and their Scenario carries `positions`).
 */
export const FAST_PARSE_MIN_BYTES = 1024 * 1024;

export interface ParseOptions {
  /** size from which the fast reading is tried first (default FAST_PARSE_MIN_BYTES; Infinity: never) */
  fastParseMinBytes?: number;
}

export interface ParseResult {
  /** present only when there is no error (warnings allowed) */
  scenario?: Scenario;
  diagnostics: Diagnostic[];
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const NAME_RULE = 'lower-case letters, digits and -, starting with a letter or digit, at most 63 characters';
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s)$/;

/** A duration: `250ms`, `2s`, `1.5s`, or a number of seconds. Seconds, or undefined if it does not parse. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : n;
}

// ---------------------------------------------------------------------------------------------
// Reporting with positions
// ---------------------------------------------------------------------------------------------

class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** position of each value, by path ("pods/0/node"); "" is the document */
  readonly values = new Map<string, SourcePos>();
  /** position of each mapping key, by the path of its value */
  readonly keys = new Map<string, SourcePos>();
  constructor(readonly file: string) {}

  pos(path: string, atKey = false): SourcePos {
    if (atKey && this.keys.has(path)) return this.keys.get(path)!;
    let p = path;
    for (;;) {
      const hit = this.values.get(p) ?? this.keys.get(p);
      if (hit) return hit;
      if (p === '') return { file: this.file, line: 1, col: 1 };
      const cut = p.lastIndexOf('/');
      p = cut < 0 ? '' : p.slice(0, cut);
    }
  }
  error(path: string, message: string, atKey = false): void {
    const { line, col } = this.pos(path, atKey);
    this.diagnostics.push({ file: this.file, line, col, severity: 'error', message });
  }
  warn(path: string, message: string, atKey = false): void {
    const { line, col } = this.pos(path, atKey);
    this.diagnostics.push({ file: this.file, line, col, severity: 'warning', message });
  }
  at(line: number, col: number, message: string, severity: 'error' | 'warning' = 'error'): void {
    this.diagnostics.push({ file: this.file, line, col, severity, message });
  }
  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }
}

type LinePos = (offset: number) => { line: number; col: number };

/**
 * 1-based line and column of a character offset. Our own index rather than the LineCounter alone:
 * after some syntax errors (unclosed flow collections) the parser stops reporting newlines to it.
 */
function lineIndex(text: string): LinePos {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo] + 1 };
  };
}

function recordPositions(r: Reporter, linePos: LinePos, node: YamlNode | null | undefined, path: string): void {
  if (!node) return;
  const at = (offset: number): SourcePos => {
    const { line, col } = linePos(offset);
    return { file: r.file, line, col };
  };
  if (node.range) r.values.set(path, at(node.range[0]));
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const keyNode = item.key as YamlNode | null;
      if (keyNode && !isScalar(keyNode)) {
        const { line, col } = linePos(keyNode.range ? keyNode.range[0] : 0);
        r.at(line, col, 'a mapping key must be a plain name, not a list or mapping (is a space missing after a colon?)');
        continue;
      }
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const child = path === '' ? key : `${path}/${key}`;
      if (keyNode && keyNode.range) r.keys.set(child, at(keyNode.range[0]));
      if (item.value) recordPositions(r, linePos, item.value as YamlNode, child);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => recordPositions(r, linePos, item as YamlNode, `${path}/${i}`));
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/** Reads and checks a scenario file. Never throws: unreadable files become a diagnostic at 1:1. */
export function parseScenarioFile(path: string): ParseResult {
  const fail = (message: string): ParseResult => ({ diagnostics: [{ file: path, line: 1, col: 1, severity: 'error', message }] });
  let bytes: Buffer;
  try {
    const stat = fs.statSync(path);
    if (stat.isDirectory()) return fail('is a directory, not a scenario file');
    if (stat.size > MAX_SCENARIO_BYTES) return fail(tooLarge(stat.size));
    bytes = fs.readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return fail('cannot read file: no such file');
    if (e.code === 'EACCES') return fail('cannot read file: permission denied');
    return fail(`cannot read file: ${e.code ?? e.message}`);
  }
  if (bytes.length > MAX_SCENARIO_BYTES) return fail(tooLarge(bytes.length));
  if (bytes.includes(0)) return fail('not a text file (it contains NUL bytes): a scenario is UTF-8 YAML');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('not a text file (invalid UTF-8): a scenario is UTF-8 YAML');
  }
  return parseScenarioText(text, path);
}

function tooLarge(size: number): string {
  return `file is too large (${(size / 1048576).toFixed(1)} MiB; the limit is ${MAX_SCENARIO_BYTES / 1048576} MiB)`;
}

/** Checks scenario text; `file` names it in diagnostics. Never throws. */
export function parseScenarioText(text: string, file: string, options: ParseOptions = {}): ParseResult {
  const r = new Reporter(file);
  try {
    const fast = text.length >= (options.fastParseMinBytes ?? FAST_PARSE_MIN_BYTES) ? checkFast(file, text) : undefined;
    if (fast) return { scenario: fast, diagnostics: [] };
    const scenario = check(r, text);
    const diagnostics = dedupe(sortDiagnostics(r.diagnostics));
    return r.errorCount === 0 && scenario ? { scenario, diagnostics } : { diagnostics };
  } catch (err) {
    // A bug of ours must still not crash `fabric validate`: report it where it can be seen.
    r.at(1, 1, `internal error while checking: ${(err as Error).message}`);
    return { diagnostics: sortDiagnostics(r.diagnostics) };
  }
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.line}:${d.col}:${d.severity}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The fast reading: js-yaml (YAML 1.2 core schema, duplicate keys refused) and the same checks, with
 * no positions. Gives up (undefined) on anything the careful reading must explain: a YAML error, any
 * diagnostic, and any anchor, alias or tag (`&`, `*`, `!`: js-yaml shares aliased nodes instead of
 * copying them under a limit as the careful reading does, and resolves tags its own way).
 */
function checkFast(file: string, text: string): Scenario | undefined {
  if (text.length > MAX_SCENARIO_BYTES || /[&*!\u0000]/.test(text)) return undefined;
  let root: unknown;
  try {
    root = loadYamlFast(text, { schema: CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  const r = new Reporter(file);
  const scenario = readScenario(r, root);
  if (!scenario || r.diagnostics.length > 0) return undefined;
  crossCheck(r, scenario.s, scenario.paths);
  if (r.diagnostics.length > 0) return undefined;
  runModel(r, scenario.s, scenario.paths);
  if (r.diagnostics.length > 0) return undefined;
  const { positions: _none, ...done } = finish(r, scenario.s, scenario.paths);
  return done;
}

function check(r: Reporter, text: string): Scenario | undefined {
  if (text.length > MAX_SCENARIO_BYTES) {
    r.at(1, 1, tooLarge(text.length));
    return undefined;
  }
  if (text.includes('\u0000')) {
    r.at(1, 1, 'not a text file (it contains NUL bytes): a scenario is UTF-8 YAML');
    return undefined;
  }
  if (text.replace(/^\uFEFF/, '').trim() === '' || /^(\s*#.*\n?)*\s*$/.test(text)) {
    r.at(1, 1, 'empty scenario file: expected a mapping with name, cluster and fabric');
    return undefined;
  }
  const lc = new LineCounter();
  const linePos = lineIndex(text);
  // logLevel 'error': the package would otherwise print process warnings (collection keys) to stderr
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = linePos(e.pos[0]);
      r.at(line, col, `invalid YAML: ${firstLine(e.message)}`);
    }
    return undefined;
  }
  for (const w of doc.warnings) {
    const { line, col } = linePos(w.pos[0]);
    r.at(line, col, `YAML: ${firstLine(w.message)}`, 'warning');
  }
  recordPositions(r, linePos, doc.contents as YamlNode | null, '');
  if (r.errorCount > 0) return undefined;
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    r.at(1, 1, `invalid YAML: ${firstLine((err as Error).message)}`);
    return undefined;
  }
  const scenario = readScenario(r, root);
  if (!scenario) return undefined;
  crossCheck(r, scenario.s, scenario.paths);
  if (r.errorCount === 0) runModel(r, scenario.s, scenario.paths);
  if (r.errorCount > 0) return undefined;
  return finish(r, scenario.s, scenario.paths);
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

// ---------------------------------------------------------------------------------------------
// Pass 2: shape
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (isObj(v)) return 'a mapping';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  return String(v);
}

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}/${key}`;
}

/** A mapping with only known keys; unknown ones are reported at the key, with a suggestion. */
function mapping(r: Reporter, v: unknown, path: string, what: string, keys: readonly string[]): Obj | undefined {
  if (!isObj(v)) {
    r.error(path, `${what} must be a mapping, got ${describe(v)}`);
    return undefined;
  }
  for (const k of Object.keys(v)) {
    // a common first guess puts `backends` inside `reach`: say where it goes (docs/contract.md)
    const hint = k === 'backends' && keys.includes('from') ? ": 'backends' sits beside 'reach', not inside it: { at: 1s, reach: { from, to, port }, backends: [...] }" : didYouMean(k, keys);
    if (!keys.includes(k)) r.error(join(path, k), `unknown key '${k}' in ${what}${hint}`, true);
  }
  return v;
}

function list(r: Reporter, o: Obj, key: string, path: string, what: string): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    r.error(join(path, key), `${what}: '${key}' must be a list, got ${describe(v)}`);
    return [];
  }
  return v;
}

function required(r: Reporter, o: Obj, key: string, path: string, what: string): boolean {
  if (o[key] === undefined || o[key] === null) {
    // `key:` present but empty points at the key; an absent key at its mapping
    if (key in o) r.error(join(path, key), `${what} needs a value for '${key}'`, true);
    else r.error(path, `${what} needs '${key}'`);
    return false;
  }
  return true;
}

function str(r: Reporter, o: Obj, key: string, path: string, what: string, req: boolean): string | undefined {
  if (!(key in o) || o[key] === null) {
    if (req) required(r, o, key, path, what);
    return undefined;
  }
  const v = o[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  r.error(join(path, key), `${what}: '${key}' must be a string, got ${describe(v)}`);
  return undefined;
}

function name(r: Reporter, o: Obj, key: string, path: string, what: string): string | undefined {
  const v = str(r, o, key, path, what, true);
  if (v === undefined) return undefined;
  if (!NAME_RE.test(v)) {
    r.error(join(path, key), `${what}: name '${v}' is not valid (${NAME_RULE})`);
    return undefined;
  }
  return v;
}

interface NumRule {
  req?: boolean;
  min?: number;
  /** the value must be > min, not >= */
  above?: boolean;
  max?: number;
  integer?: boolean;
}

function num(r: Reporter, o: Obj, key: string, path: string, what: string, rule: NumRule): number | undefined {
  if (!(key in o) || o[key] === null) {
    if (rule.req) required(r, o, key, path, what);
    return undefined;
  }
  const v = o[key];
  const bad = (): undefined => {
    const parts: string[] = [];
    if (rule.min !== undefined) parts.push(`${rule.above ? '>' : '>='} ${rule.min}`);
    if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
    r.error(join(path, key), `${what}: '${key}' must be ${rule.integer ? 'an integer' : 'a number'}${parts.length ? ' ' + parts.join(' and ') : ''}, got ${describe(v)}`);
    return undefined;
  };
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad();
  if (rule.integer && !Number.isInteger(v)) return bad();
  if (rule.min !== undefined && (rule.above ? v <= rule.min : v < rule.min)) return bad();
  if (rule.max !== undefined && v > rule.max) return bad();
  return v;
}

function bool(r: Reporter, o: Obj, key: string, path: string, what: string): boolean | undefined {
  if (!(key in o) || o[key] === null) return undefined;
  const v = o[key];
  if (typeof v === 'boolean') return v;
  r.error(join(path, key), `${what}: '${key}' must be true or false, got ${describe(v)}`);
  return undefined;
}

function oneOf<T extends string>(r: Reporter, o: Obj, key: string, path: string, what: string, values: readonly T[], req: boolean): T | undefined {
  const v = str(r, o, key, path, what, req);
  if (v === undefined) return undefined;
  if ((values as readonly string[]).includes(v)) return v as T;
  const quoted = values.map((x) => `'${x}'`);
  const choices = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted[0];
  r.error(join(path, key), `${what}: '${key}' must be ${choices}, got '${v}'${didYouMean(v, values)}`);
  return undefined;
}

function duration(r: Reporter, o: Obj, key: string, path: string, what: string, req: boolean): number | undefined {
  if (!(key in o) || o[key] === null) {
    if (req) required(r, o, key, path, what);
    return undefined;
  }
  const v = parseDuration(o[key]);
  if (v === undefined) {
    r.error(join(path, key), `${what}: '${key}' is not a duration: ${describe(o[key])} (use 250ms, 2s, 1.5s or a number of seconds)`);
  }
  return v;
}

function ipField(r: Reporter, o: Obj, key: string, path: string, what: string, req: boolean): string | undefined {
  const v = str(r, o, key, path, what, req);
  if (v === undefined) return undefined;
  if (!isValidIp(v)) {
    r.error(join(path, key), `${what}: '${key}' is not an IPv4 address: '${v}'`);
    return undefined;
  }
  return v;
}

function cidrField(r: Reporter, o: Obj, key: string, path: string, what: string, req: boolean): string | undefined {
  const v = str(r, o, key, path, what, req);
  if (v === undefined) return undefined;
  const problem = cidrProblem(v);
  if (problem) {
    r.error(join(path, key), `${what}: '${key}' ${problem.startsWith(`'${v}'`) ? problem.slice(v.length + 3) : problem}`);
    return undefined;
  }
  return v;
}

function labels(r: Reporter, o: Obj, key: string, path: string, what: string): Record<string, string> | undefined {
  if (!(key in o) || o[key] === null) return undefined;
  const v = o[key];
  if (!isObj(v)) {
    r.error(join(path, key), `${what}: '${key}' must be a mapping of label: value, got ${describe(v)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else r.error(join(join(path, key), k), `${what}: label '${k}' must have a plain value, got ${describe(x)}`);
  }
  return out;
}

function port(r: Reporter, o: Obj, key: string, path: string, what: string, req: boolean): number | undefined {
  return num(r, o, key, path, what, { req, integer: true, min: 1, max: 65535 });
}

const PROTOCOLS = ['tcp', 'udp'] as const;

/** Paths of every entry kept, for positions in later passes. */
interface Paths {
  switches: string[];
  nodes: string[];
  links: string[];
  externals: string[];
  pods: string[];
  services: string[];
  traffic: string[];
  events: string[];
  expect: string[];
}

const TOP_KEYS = ['name', 'seed', 'cluster', 'fabric', 'pods', 'services', 'traffic', 'events', 'expect'] as const;
const CLUSTER_KEYS = ['mode', 'encap', 'podCidr', 'nodeMaskLen', 'serviceCidr', 'isolation', 'allow', 'rebalance', 'fastFailover', 'externalAccess', 'egress', 'loadBalancerCidr', 'dns'] as const;
const FABRIC_KEYS = ['switches', 'nodes', 'links', 'externals'] as const;

function readScenario(r: Reporter, root: unknown): { s: Scenario; paths: Paths } | undefined {
  if (!isObj(root)) {
    r.error('', `a scenario must be a YAML mapping (name:, cluster:, fabric: ...), got ${describe(root)}`);
    return undefined;
  }
  mapping(r, root, '', 'scenario', TOP_KEYS);
  let scenarioName = str(r, root, 'name', '', 'scenario', true) ?? '';
  if (scenarioName && !/^[a-z0-9-]+$/.test(scenarioName)) {
    r.error('name', `scenario name '${scenarioName}' must be lower-case letters, digits and -`);
    scenarioName = '';
  }
  const seed = num(r, root, 'seed', '', 'scenario', { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? 1;
  const paths: Paths = { switches: [], nodes: [], links: [], externals: [], pods: [], services: [], traffic: [], events: [], expect: [] };

  const cluster = readCluster(r, root);
  const fabricObj = required(r, root, 'fabric', '', 'scenario') ? mapping(r, root.fabric, 'fabric', 'fabric', FABRIC_KEYS) : undefined;
  const fabric = { switches: [] as SwitchSpec[], nodes: [] as NodeSpec[], links: [] as LinkSpec[], externals: [] as ExternalSpec[] };
  if (fabricObj) {
    list(r, fabricObj, 'switches', 'fabric', 'fabric').forEach((v, i) => {
      const path = `fabric/switches/${i}`;
      const o = mapping(r, v, path, `switch #${i + 1}`, ['name']);
      if (!o) return;
      const n = name(r, o, 'name', path, `switch #${i + 1}`);
      if (n === undefined) return;
      fabric.switches.push({ name: n });
      paths.switches.push(path);
    });
    const nodes = list(r, fabricObj, 'nodes', 'fabric', 'fabric');
    if (nodes.length === 0 && (fabricObj.nodes === undefined || fabricObj.nodes === null || Array.isArray(fabricObj.nodes))) {
      r.error('fabric', 'fabric needs at least one node under nodes:');
    }
    nodes.forEach((v, i) => {
      const path = `fabric/nodes/${i}`;
      const o = mapping(r, v, path, `node #${i + 1}`, ['name', 'ip', 'podCidr']);
      if (!o) return;
      const n = name(r, o, 'name', path, `node #${i + 1}`);
      const what = n ? `node ${n}` : `node #${i + 1}`;
      const ip = ipField(r, o, 'ip', path, what, true);
      const podCidr = cidrField(r, o, 'podCidr', path, what, false);
      // kept even with a bad ip or podCidr (already reported) so that references to it do not cascade
      if (n === undefined) return;
      fabric.nodes.push(podCidr !== undefined ? { name: n, ip: ip ?? '', podCidr } : { name: n, ip: ip ?? '' });
      paths.nodes.push(path);
    });
    list(r, fabricObj, 'links', 'fabric', 'fabric').forEach((v, i) => {
      const path = `fabric/links/${i}`;
      const what = `link #${i + 1}`;
      const o = mapping(r, v, path, what, ['between', 'gbps', 'latencyUs']);
      if (!o) return;
      const between = pair(r, o, 'between', path, what);
      const gbps = num(r, o, 'gbps', path, what, { req: true, min: 0, above: true });
      const latencyUs = num(r, o, 'latencyUs', path, what, { min: 0 }) ?? 1;
      if (!between) return;
      fabric.links.push({ between, gbps: gbps ?? 0, latencyUs });
      paths.links.push(path);
    });
    list(r, fabricObj, 'externals', 'fabric', 'fabric').forEach((v, i) => {
      const path = `fabric/externals/${i}`;
      const o = mapping(r, v, path, `external #${i + 1}`, ['name', 'ip', 'attach']);
      if (!o) return;
      const n = name(r, o, 'name', path, `external #${i + 1}`);
      const what = n ? `external ${n}` : `external #${i + 1}`;
      const ip = ipField(r, o, 'ip', path, what, true);
      const attach = str(r, o, 'attach', path, what, true);
      if (n === undefined) return;
      fabric.externals.push({ name: n, ip: ip ?? '', attach: attach ?? '' });
      paths.externals.push(path);
    });
  }

  const pods: PodSpec[] = [];
  list(r, root, 'pods', '', 'scenario').forEach((v, i) => {
    const path = `pods/${i}`;
    const o = mapping(r, v, path, `pod #${i + 1}`, ['name', 'node', 'ip', 'labels', 'hostPorts', 'egressGbps', 'ready']);
    if (!o) return;
    const n = name(r, o, 'name', path, `pod #${i + 1}`);
    const what = n ? `pod ${n}` : `pod #${i + 1}`;
    const node = str(r, o, 'node', path, what, true);
    const ip = ipField(r, o, 'ip', path, what, false);
    const lab = labels(r, o, 'labels', path, what) ?? {};
    const egressGbps = num(r, o, 'egressGbps', path, what, { min: 0, above: true });
    const ready = bool(r, o, 'ready', path, what);
    const hostPorts: HostPortSpec[] = [];
    list(r, o, 'hostPorts', path, what).forEach((h, j) => {
      const hp = `${path}/hostPorts/${j}`;
      const ho = mapping(r, h, hp, `${what} hostPort #${j + 1}`, ['hostPort', 'containerPort', 'protocol']);
      if (!ho) return;
      const hostPort = port(r, ho, 'hostPort', hp, `${what} hostPort #${j + 1}`, true);
      const containerPort = port(r, ho, 'containerPort', hp, `${what} hostPort #${j + 1}`, false) ?? hostPort;
      const protocol = oneOf(r, ho, 'protocol', hp, `${what} hostPort #${j + 1}`, PROTOCOLS, false) ?? 'tcp';
      if (hostPort !== undefined && containerPort !== undefined) hostPorts.push({ hostPort, containerPort, protocol });
    });
    if (n === undefined) return;
    const pod: PodSpec = { name: n, node: node ?? '', labels: lab, hostPorts };
    if (ip !== undefined) pod.ip = ip;
    if (egressGbps !== undefined) pod.egressGbps = egressGbps;
    if (ready === false) pod.ready = false;
    pods.push(pod);
    paths.pods.push(path);
  });

  const services: ServiceSpec[] = [];
  list(r, root, 'services', '', 'scenario').forEach((v, i) => {
    const path = `services/${i}`;
    const svc = readService(r, v, path, `service #${i + 1}`, SERVICE_KEYS);
    if (!svc) return;
    services.push(svc);
    paths.services.push(path);
  });

  const traffic: TrafficDemand[] = [];
  list(r, root, 'traffic', '', 'scenario').forEach((v, i) => {
    const path = `traffic/${i}`;
    const what = `traffic #${i + 1}`;
    const o = mapping(r, v, path, what, ['from', 'to', 'gbps', 'at', 'until', 'port']);
    if (!o) return;
    const from = str(r, o, 'from', path, what, true);
    const to = str(r, o, 'to', path, what, true);
    const gbps = num(r, o, 'gbps', path, what, { req: true, min: 0, above: true });
    const at = duration(r, o, 'at', path, what, false);
    const until = duration(r, o, 'until', path, what, false);
    const p = port(r, o, 'port', path, what, false);
    if (at !== undefined && until !== undefined && until <= at) r.error(join(path, 'until'), `${what}: 'until' (${until}s) must be later than 'at' (${at}s)`);
    if (from === undefined || to === undefined || gbps === undefined) return;
    const d: TrafficDemand = { from, to, gbps, at: at ?? 0 };
    if (until !== undefined) d.until = until;
    if (p !== undefined) d.port = p;
    traffic.push(d);
    paths.traffic.push(path);
  });

  const events: ScenarioEvent[] = [];
  list(r, root, 'events', '', 'scenario').forEach((v, i) => {
    const path = `events/${i}`;
    const ev = readEvent(r, v, path, `event #${i + 1}`);
    if (!ev) return;
    events.push(ev);
    paths.events.push(path);
  });

  const expect: Expectation[] = [];
  list(r, root, 'expect', '', 'scenario').forEach((v, i) => {
    const path = `expect/${i}`;
    const ex = readExpectation(r, v, path, `expectation #${i + 1}`);
    if (!ex) return;
    expect.push(ex);
    paths.expect.push(path);
  });

  if (!cluster) return undefined;
  const s: Scenario = { name: scenarioName, seed, cluster, fabric, pods, services, traffic, events, expect, positions: new Map(), file: r.file };
  return { s, paths };
}

function pair(r: Reporter, o: Obj, key: string, path: string, what: string): [string, string] | undefined {
  if (!required(r, o, key, path, what)) return undefined;
  const v = o[key];
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'string')) {
    r.error(join(path, key), `${what}: '${key}' must be a list of two names like [tor1, spine1], got ${describe(v)}`);
    return undefined;
  }
  return [v[0] as string, v[1] as string];
}

function readCluster(r: Reporter, root: Obj): ClusterSpec | undefined {
  if (!required(r, root, 'cluster', '', 'scenario')) return undefined;
  const o = mapping(r, root.cluster, 'cluster', 'cluster', CLUSTER_KEYS);
  if (!o) return undefined;
  const mode = oneOf(r, o, 'mode', 'cluster', 'cluster', ['routed', 'overlay'] as const, false) ?? 'routed';
  const encap = oneOf(r, o, 'encap', 'cluster', 'cluster', ['vxlan', 'geneve'] as const, false);
  if (encap !== undefined && mode === 'routed') r.warn('cluster/encap', `cluster: 'encap' is ignored in routed mode (set mode: overlay to encapsulate)`, true);
  const podCidr = cidrField(r, o, 'podCidr', 'cluster', 'cluster', true);
  const serviceCidr = cidrField(r, o, 'serviceCidr', 'cluster', 'cluster', true);
  const nodeMaskLen = num(r, o, 'nodeMaskLen', 'cluster', 'cluster', { integer: true, min: 1, max: 30 }) ?? 24;
  const isolation = bool(r, o, 'isolation', 'cluster', 'cluster') ?? false;
  const fastFailover = bool(r, o, 'fastFailover', 'cluster', 'cluster');
  const allow: AllowRule[] = [];
  list(r, o, 'allow', 'cluster', 'cluster').forEach((v, i) => {
    const path = `cluster/allow/${i}`;
    const what = `allow rule #${i + 1}`;
    const a = mapping(r, v, path, what, ['from', 'to', 'port', 'protocol']);
    if (!a) return;
    const fromPeer = externalPeer(r, a, 'from', path, what);
    const toPeer = externalPeer(r, a, 'to', path, what);
    const from = fromPeer === undefined ? labels(r, a, 'from', path, what) : {};
    const to = toPeer === undefined ? labels(r, a, 'to', path, what) : {};
    if (a.from === undefined || a.from === null) required(r, a, 'from', path, what);
    if (a.to === undefined || a.to === null) required(r, a, 'to', path, what);
    if (fromPeer && toPeer) r.error(join(path, 'to'), `${what}: an allow rule admits pods to or from outside hosts: 'from' and 'to' cannot both be outside the cluster`);
    const range = portRange(r, a, 'port', path, what);
    const protocol = oneOf(r, a, 'protocol', path, what, PROTOCOLS, false);
    if (from === undefined || to === undefined || fromPeer === null || toPeer === null || (fromPeer && toPeer)) return;
    const rule: AllowRule = { from, to };
    if (fromPeer) rule.fromPeer = fromPeer;
    if (toPeer) rule.toPeer = toPeer;
    if (range) {
      rule.port = range[0];
      if (range[1] !== range[0]) rule.portEnd = range[1];
    }
    if (protocol !== undefined) rule.protocol = protocol;
    allow.push(rule);
  });
  if (allow.some((a) => !a.fromPeer && !a.toPeer) && !isolation) r.warn('cluster/allow', `cluster: pod-to-pod 'allow' rules have no effect without isolation: true`, true);
  const externalAccess = bool(r, o, 'externalAccess', 'cluster', 'cluster');
  const egress = oneOf(r, o, 'egress', 'cluster', 'cluster', ['open', 'closed'] as const, false);
  const loadBalancerCidr = cidrField(r, o, 'loadBalancerCidr', 'cluster', 'cluster', false);
  let dns: ClusterSpec['dns'];
  if (o.dns !== undefined && o.dns !== null) {
    const d = mapping(r, o.dns, 'cluster/dns', 'cluster dns', ['domain', 'service']);
    if (d) {
      const domain = str(r, d, 'domain', 'cluster/dns', 'cluster dns', false) ?? 'cluster.local';
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) r.error('cluster/dns/domain', `cluster dns: domain '${domain}' is not a DNS name (lower-case labels separated by dots, like cluster.local)`);
      const service = str(r, d, 'service', 'cluster/dns', 'cluster dns', false);
      dns = { domain, ...(service !== undefined ? { service } : {}) };
    }
  }
  const rebalance: RebalancePolicy[] = [];
  list(r, o, 'rebalance', 'cluster', 'cluster').forEach((v, i) => {
    const policies = ['steer', 'limit', 'place', 'weights'] as const;
    if (typeof v !== 'string' || !(policies as readonly string[]).includes(v)) {
      r.error(`cluster/rebalance/${i}`, `cluster: rebalance policy must be 'steer', 'limit', 'place' or 'weights', got ${describe(v)}${typeof v === 'string' ? didYouMean(v, policies) : ''}`);
      return;
    }
    if (rebalance.includes(v as RebalancePolicy)) r.warn(`cluster/rebalance/${i}`, `cluster: rebalance policy '${v}' is listed twice`);
    else rebalance.push(v as RebalancePolicy);
  });
  if (podCidr !== undefined && nodeMaskLen < parseCidr(podCidr).prefixLen) {
    r.error('cluster/nodeMaskLen', `cluster: nodeMaskLen /${nodeMaskLen} is wider than podCidr ${podCidr}`);
  }
  if (serviceCidr !== undefined && parseCidr(serviceCidr).prefixLen > 30) {
    r.error('cluster/serviceCidr', `cluster: serviceCidr ${serviceCidr} is too small (at most /30)`);
  }
  if (podCidr === undefined || serviceCidr === undefined) return undefined;
  if (loadBalancerCidr !== undefined) {
    for (const [key, other] of [['podCidr', podCidr], ['serviceCidr', serviceCidr]] as const) {
      if (other !== undefined && cidrsOverlap(loadBalancerCidr, other)) r.error('cluster/loadBalancerCidr', `cluster: loadBalancerCidr ${loadBalancerCidr} overlaps ${key} ${other}`);
    }
  }
  return {
    mode,
    encap: encap ?? 'vxlan',
    podCidr,
    nodeMaskLen,
    serviceCidr,
    isolation,
    allow,
    rebalance,
    ...(fastFailover === false ? { fastFailover } : {}),
    ...(externalAccess === true ? { externalAccess } : {}),
    ...(egress === 'closed' ? { egress } : {}),
    ...(loadBalancerCidr !== undefined ? { loadBalancerCidr } : {}),
    ...(dns !== undefined ? { dns } : {}),
  };
}

/**
 * An allow rule side naming hosts outside the cluster: `{ external: NAME }` or `{ cidr: X }`
 * (reserved keys; any other mapping is a pod label selector). undefined: a pod selector;
 * null: malformed (reported). A named external is checked against the externals later.
 */
function externalPeer(r: Reporter, a: Obj, key: 'from' | 'to', path: string, what: string): ExternalPeer | undefined | null {
  const v = a[key];
  if (!isObj(v) || !('external' in v || 'cidr' in v)) return undefined;
  const p = join(path, key);
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    r.error(p, `${what}: '${key}' names an outside host with exactly one key, 'external: NAME' or 'cidr: A.B.C.D/N', got ${keys.map((k) => `'${k}'`).join(', ')}`);
    return null;
  }
  if ('external' in v) {
    const n = str(r, v, 'external', p, what, true);
    return n === undefined ? null : { external: n, cidr: '' };
  }
  const c = cidrField(r, v, 'cidr', p, what, true);
  return c === undefined ? null : { cidr: c };
}

/** A port or a range `8000-8100` (inclusive). */
function portRange(r: Reporter, o: Obj, key: string, path: string, what: string): [number, number] | undefined {
  const v = o[key];
  if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(v);
    if (m) {
      const lo = Number(m[1]);
      const hi = Number(m[2]);
      if (lo < 1 || hi > 65535 || lo > hi) {
        r.error(join(path, key), `${what}: port range '${v}' must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535`);
        return undefined;
      }
      return [lo, hi];
    }
    if (!/^\s*\d+\s*$/.test(v)) {
      r.error(join(path, key), `${what}: '${key}' must be a port (1-65535) or a range like 8000-8100, got ${describe(v)}`);
      return undefined;
    }
  }
  const p = port(r, o, key, path, what, false);
  return p === undefined ? undefined : [p, p];
}

/** services whose selector was missing or malformed (already reported): no "matches nothing" warning */
const selectorless = new WeakSet<ServiceSpec>();

const SERVICE_KEYS = ['name', 'selector', 'port', 'targetPort', 'protocol', 'ip', 'type', 'nodePort', 'loadBalancerIp', 'externalTrafficPolicy', 'namespace'] as const;

function readService(r: Reporter, v: unknown, path: string, fallback: string, keys: readonly string[]): ServiceSpec | undefined {
  const o = mapping(r, v, path, fallback, keys);
  if (!o) return undefined;
  const n = name(r, o, 'name', path, fallback);
  const what = n ? `service ${n}` : fallback;
  if (o.selector === undefined || o.selector === null) required(r, o, 'selector', path, what);
  const selector = labels(r, o, 'selector', path, what);
  const p = port(r, o, 'port', path, what, true);
  const targetPort = port(r, o, 'targetPort', path, what, false);
  const protocol: L4Protocol = oneOf(r, o, 'protocol', path, what, PROTOCOLS, false) ?? 'tcp';
  const ip = ipField(r, o, 'ip', path, what, false);
  const type = oneOf(r, o, 'type', path, what, ['ClusterIP', 'NodePort', 'LoadBalancer'] as const, false);
  const nodePort = num(r, o, 'nodePort', path, what, { integer: true, min: NODE_PORT_RANGE.min, max: NODE_PORT_RANGE.max });
  const loadBalancerIp = ipField(r, o, 'loadBalancerIp', path, what, false);
  const etp = oneOf(r, o, 'externalTrafficPolicy', path, what, ['Cluster', 'Local'] as const, false);
  const namespace = str(r, o, 'namespace', path, what, false);
  if (namespace !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(namespace)) r.error(join(path, 'namespace'), `${what}: namespace '${namespace}' must be a DNS label ([a-z0-9-], like 'default')`);
  const publicType = type === 'NodePort' || type === 'LoadBalancer';
  if (nodePort !== undefined && !publicType) r.error(join(path, 'nodePort'), `${what}: 'nodePort' needs type: NodePort or LoadBalancer`);
  if (etp !== undefined && !publicType) r.error(join(path, 'externalTrafficPolicy'), `${what}: 'externalTrafficPolicy' needs type: NodePort or LoadBalancer`);
  if (loadBalancerIp !== undefined && type !== 'LoadBalancer') r.error(join(path, 'loadBalancerIp'), `${what}: 'loadBalancerIp' needs type: LoadBalancer`);
  if (n === undefined) return undefined;
  const svc: ServiceSpec = { name: n, selector: selector ?? {}, port: p ?? 0, targetPort: targetPort ?? p ?? 0, protocol };
  if (selector === undefined) selectorless.add(svc);
  if (ip !== undefined) svc.ip = ip;
  if (type !== undefined && type !== 'ClusterIP') svc.type = type;
  if (nodePort !== undefined && publicType) svc.nodePort = nodePort;
  if (loadBalancerIp !== undefined && type === 'LoadBalancer') svc.loadBalancerIp = loadBalancerIp;
  if (etp !== undefined && publicType) svc.externalTrafficPolicy = etp;
  if (namespace !== undefined) svc.namespace = namespace;
  return svc;
}

const EVENT_KINDS = ['link', 'node', 'pod', 'service'] as const;

function readEvent(r: Reporter, v: unknown, path: string, what: string): ScenarioEvent | undefined {
  if (!isObj(v)) {
    r.error(path, `${what} must be a mapping, got ${describe(v)}`);
    return undefined;
  }
  const kinds = EVENT_KINDS.filter((k) => k in v);
  if (kinds.length === 0) {
    const all = ['at', ...EVENT_KINDS, 'between', 'name', 'node', 'to', 'labels', 'ip', 'egressGbps', 'ready', 'selector', 'port', 'targetPort', 'protocol'];
    for (const k of Object.keys(v)) if (!all.includes(k)) r.error(join(path, k), `unknown key '${k}' in ${what}${didYouMean(k, all)}`, true);
    r.error(path, `${what} needs one of link:, node:, pod:, service:`);
    return undefined;
  }
  // `node:` is also the target of a pod add; a pod event is what it is when `pod:` is present
  const kind = kinds.includes('pod') ? 'pod' : kinds[0];
  const others = kinds.filter((k) => k !== kind && !(kind === 'pod' && k === 'node'));
  if (others.length > 0) {
    r.error(join(path, others[0]), `${what} mixes '${kind}' and '${others[0]}': one event does one thing`, true);
    return undefined;
  }
  const at = duration(r, v, 'at', path, what, true);
  switch (kind) {
    case 'link': {
      const o = mapping(r, v, path, `${what} (link)`, ['at', 'link', 'between'])!;
      const action = oneOf(r, o, 'link', path, what, ['down', 'up'] as const, true);
      const between = pair(r, o, 'between', path, what);
      if (at === undefined || !action || !between) return undefined;
      return { at, kind: 'link', action, between };
    }
    case 'node': {
      const o = mapping(r, v, path, `${what} (node)`, ['at', 'node', 'name'])!;
      const action = oneOf(r, o, 'node', path, what, ['down', 'up'] as const, true);
      const n = str(r, o, 'name', path, what, true);
      if (at === undefined || !action || n === undefined) return undefined;
      return { at, kind: 'node', action, name: n };
    }
    case 'pod': {
      const action = oneOf(r, v, 'pod', path, what, ['add', 'delete', 'move', 'ready', 'unready'] as const, true);
      if (!action) return undefined;
      if (action === 'ready' || action === 'unready') {
        const o = mapping(r, v, path, `${what} (pod ${action})`, ['at', 'pod', 'name'])!;
        const n = str(r, o, 'name', path, what, true);
        if (at === undefined || n === undefined) return undefined;
        return action === 'ready' ? { at, kind: 'pod', action, name: n } : { at, kind: 'pod', action, name: n };
      }
      if (action === 'add') {
        const o = mapping(r, v, path, `${what} (pod add)`, ['at', 'pod', 'name', 'node', 'labels', 'ip', 'egressGbps', 'ready'])!;
        const n = name(r, o, 'name', path, what);
        const node = str(r, o, 'node', path, what, true);
        const lab = labels(r, o, 'labels', path, what) ?? {};
        const ip = ipField(r, o, 'ip', path, what, false);
        const egressGbps = num(r, o, 'egressGbps', path, what, { min: 0, above: true });
        const ready = bool(r, o, 'ready', path, what);
        if (at === undefined || n === undefined || node === undefined || ('ip' in o && o.ip !== null && ip === undefined)) return undefined;
        const ev: ScenarioEvent = { at, kind: 'pod', action: 'add', name: n, node, labels: lab };
        if (ip !== undefined) ev.ip = ip;
        if (egressGbps !== undefined) ev.egressGbps = egressGbps;
        if (ready === false) ev.ready = false;
        return ev;
      }
      if (action === 'delete') {
        const o = mapping(r, v, path, `${what} (pod delete)`, ['at', 'pod', 'name'])!;
        const n = str(r, o, 'name', path, what, true);
        if (at === undefined || n === undefined) return undefined;
        return { at, kind: 'pod', action: 'delete', name: n };
      }
      const o = mapping(r, v, path, `${what} (pod move)`, ['at', 'pod', 'name', 'to'])!;
      const n = str(r, o, 'name', path, what, true);
      const to = str(r, o, 'to', path, what, true);
      if (at === undefined || n === undefined || to === undefined) return undefined;
      return { at, kind: 'pod', action: 'move', name: n, to };
    }
    case 'service': {
      const action = oneOf(r, v, 'service', path, what, ['add', 'delete'] as const, true);
      if (!action) return undefined;
      if (action === 'delete') {
        const o = mapping(r, v, path, `${what} (service delete)`, ['at', 'service', 'name'])!;
        const n = str(r, o, 'name', path, what, true);
        if (at === undefined || n === undefined) return undefined;
        return { at, kind: 'service', action: 'delete', name: n };
      }
      const svc = readService(r, v, path, `${what} (service add)`, ['at', 'service', ...SERVICE_KEYS]);
      if (at === undefined || !svc) return undefined;
      return { at, kind: 'service', action: 'add', service: svc };
    }
  }
  return undefined;
}

/**
 * One event object in the scenario's own shape (`{ pod: add, name, node, labels }`, `{ link: down,
 * between: [a, b] }`, ...: an entry of `events:`), read with the same checks and messages as the
 * scenario file (POST /events accepts this form, fabric/controller-api.ts). `requireAt: false`: `at` may
 * be left out (then 0). Returns the event, or every error message (without file positions).
 */
export function readScenarioEvent(v: unknown, what = 'event', options: { requireAt?: boolean } = {}): { event?: ScenarioEvent; errors: string[] } {
  const r = new Reporter('');
  const input = options.requireAt === false && isObj(v) && (!('at' in v) || v.at === null) ? { ...v, at: 0 } : v;
  const event = readEvent(r, input, '', what);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
  return errors.length > 0 || !event ? { errors: errors.length > 0 ? errors : [`${what}: not a valid event`] } : { event, errors };
}

const EXPECT_KINDS = ['reach', 'noReach', 'egress', 'maxLinkUtilization', 'fairShare', 'limited', 'survives'] as const;
const SURVIVES_FAILS = ['each-link', 'each-node', 'each-switch', 'each'] as const;

function readEndpoints(r: Reporter, v: unknown, path: string, what: string): Endpoints | undefined {
  const o = mapping(r, v, path, what, ['from', 'to', 'port', 'protocol']);
  if (!o) return undefined;
  const from = str(r, o, 'from', path, what, true);
  const to = str(r, o, 'to', path, what, true);
  const p = port(r, o, 'port', path, what, false);
  const protocol = oneOf(r, o, 'protocol', path, what, PROTOCOLS, false);
  if (from === undefined || to === undefined) return undefined;
  const e: Endpoints = { from, to };
  if (p !== undefined) e.port = p;
  if (protocol !== undefined) e.protocol = protocol;
  return e;
}

function readExpectation(r: Reporter, v: unknown, path: string, what: string): Expectation | undefined {
  if (!isObj(v)) {
    r.error(path, `${what} must be a mapping, got ${describe(v)}`);
    return undefined;
  }
  const kinds = EXPECT_KINDS.filter((k) => k in v);
  if (kinds.length === 0) {
    const all = ['at', ...EXPECT_KINDS, 'backends', 'srcSeenAs'];
    for (const k of Object.keys(v)) if (!all.includes(k)) r.error(join(path, k), `unknown key '${k}' in ${what}${didYouMean(k, all)}`, true);
    r.error(path, `${what} needs one of ${EXPECT_KINDS.map((k) => k + ':').join(', ')}`);
    return undefined;
  }
  if (kinds.length > 1) {
    r.error(join(path, kinds[1]), `${what} mixes '${kinds[0]}' and '${kinds[1]}': one expectation checks one thing`, true);
    return undefined;
  }
  const kind = kinds[0];
  const extra = kind === 'reach' ? ['backends'] : kind === 'egress' ? ['srcSeenAs'] : [];
  const o = mapping(r, v, path, `${what} (${kind})`, ['at', kind, ...extra])!;
  const at = duration(r, o, 'at', path, what, true);
  const kp = join(path, kind);
  switch (kind) {
    case 'reach': {
      const e = readEndpoints(r, o.reach, kp, `${what} (reach)`);
      let backends: string[] | undefined;
      if ('backends' in o) {
        const b = o.backends;
        if (!Array.isArray(b) || !b.every((x) => typeof x === 'string')) {
          r.error(join(path, 'backends'), `${what}: 'backends' must be a list of pod names, got ${describe(b)}`);
          return undefined;
        }
        backends = b as string[];
      }
      if (at === undefined || !e) return undefined;
      return backends ? { at, kind: 'reach', reach: e, backends } : { at, kind: 'reach', reach: e };
    }
    case 'noReach': {
      const e = readEndpoints(r, o.noReach, kp, `${what} (noReach)`);
      if (at === undefined || !e) return undefined;
      return { at, kind: 'noReach', noReach: e };
    }
    case 'egress': {
      const e = readEndpoints(r, o.egress, kp, `${what} (egress)`);
      const src = ipField(r, o, 'srcSeenAs', path, what, true);
      if (at === undefined || !e || src === undefined) return undefined;
      return { at, kind: 'egress', egress: e, srcSeenAs: src };
    }
    case 'maxLinkUtilization': {
      const m = num(r, o, 'maxLinkUtilization', path, what, { req: true, min: 0, above: true });
      if (at === undefined || m === undefined) return undefined;
      return { at, kind: 'maxLinkUtilization', maxLinkUtilization: m };
    }
    case 'fairShare': {
      const f = mapping(r, o.fairShare, kp, `${what} (fairShare)`, ['demand', 'tolerance']);
      if (!f) return undefined;
      const demand = num(r, f, 'demand', kp, `${what} (fairShare)`, { req: true, integer: true, min: 0 });
      const tolerance = num(r, f, 'tolerance', kp, `${what} (fairShare)`, { min: 0 });
      if (at === undefined || demand === undefined) return undefined;
      return { at, kind: 'fairShare', fairShare: tolerance !== undefined ? { demand, tolerance } : { demand } };
    }
    case 'limited': {
      const l = mapping(r, o.limited, kp, `${what} (limited)`, ['pod', 'gbps', 'tolerance']);
      if (!l) return undefined;
      const pod = str(r, l, 'pod', kp, `${what} (limited)`, true);
      const gbps = num(r, l, 'gbps', kp, `${what} (limited)`, { req: true, min: 0, above: true });
      const tolerance = num(r, l, 'tolerance', kp, `${what} (limited)`, { min: 0 });
      if (at === undefined || pod === undefined || gbps === undefined) return undefined;
      return { at, kind: 'limited', limited: tolerance !== undefined ? { pod, gbps, tolerance } : { pod, gbps } };
    }
    case 'survives': {
      // the what-if gate (docs/whatif.md): fail each-link | each-node | each-switch | each | [[a, b], ...]
      const w = `${what} (survives)`;
      const sv = mapping(r, o.survives, kp, w, ['fail', 'reach', 'maxLinkUtilization']);
      if (!sv) return undefined;
      const f = sv.fail;
      let fail: SurvivesSpec['fail'] | undefined;
      const isLink = (x: unknown): boolean => (Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === 'string')) || (typeof x === 'string' && x.split('|').length === 2);
      if (typeof f === 'string' && (SURVIVES_FAILS as readonly string[]).includes(f)) fail = f as SurvivesSpec['fail'];
      else if (Array.isArray(f) && f.length > 0 && f.every(isLink)) fail = f.map((x) => (typeof x === 'string' ? (x.split('|') as [string, string]) : [x[0], x[1]]));
      else r.error(join(kp, 'fail'), `${w}: 'fail' must be each-link, each-node, each-switch, each or a list of links [a, b], got ${describe(f)}${typeof f === 'string' ? didYouMean(f, [...SURVIVES_FAILS]) : ''}`);
      const reach: Endpoints[] = [];
      if ('reach' in sv) {
        if (!Array.isArray(sv.reach)) r.error(join(kp, 'reach'), `${w}: 'reach' must be a list of { from, to, port? }, got ${describe(sv.reach)}`);
        else sv.reach.forEach((e, i) => {
          const ep = readEndpoints(r, e, `${kp}/reach/${i}`, `${w} reach #${i + 1}`);
          if (ep) reach.push(ep);
        });
      }
      const m = num(r, sv, 'maxLinkUtilization', kp, w, { min: 0, above: true });
      if (!('reach' in sv) && !('maxLinkUtilization' in sv)) r.error(kp, `${w} needs 'reach' or 'maxLinkUtilization' (or both)`);
      if (at === undefined || fail === undefined) return undefined;
      return { at, kind: 'survives', survives: m !== undefined ? { fail, reach, maxLinkUtilization: m } : { fail, reach } };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Pass 3: cross references
// ---------------------------------------------------------------------------------------------

type Kind = 'node' | 'switch' | 'pod' | 'service' | 'external';

function lineOf(r: Reporter, path: string): number {
  return r.pos(path).line;
}

/** A name the cluster DNS may resolve (checked when the model runs): with cluster.dns, a dotted name that is not an IP. */
function isDnsName(s: Scenario, name: string): boolean {
  return s.cluster.dns !== undefined && name.includes('.') && !isValidIp(name);
}

function crossCheck(r: Reporter, s: Scenario, paths: Paths): void {
  // --- unique names across every kind
  const owner = new Map<string, { kind: Kind; path: string }>();
  const claim = (n: string, kind: Kind, path: string): void => {
    const prev = owner.get(n);
    if (prev) r.error(join(path, 'name'), `${kind} name '${n}' is already used by the ${prev.kind} at line ${lineOf(r, prev.path)}`);
    else owner.set(n, { kind, path });
  };
  s.fabric.switches.forEach((x, i) => claim(x.name, 'switch', paths.switches[i]));
  s.fabric.nodes.forEach((x, i) => claim(x.name, 'node', paths.nodes[i]));
  s.fabric.externals.forEach((x, i) => claim(x.name, 'external', paths.externals[i]));
  s.pods.forEach((x, i) => claim(x.name, 'pod', paths.pods[i]));
  s.services.forEach((x, i) => claim(x.name, 'service', paths.services[i]));
  // Sets, not arrays: a large cluster has thousands of nodes and a hundred thousand pods
  const nodeNames = new Set(s.fabric.nodes.map((n) => n.name));
  const switchNames = new Set([...nodeNames, ...s.fabric.switches.map((x) => x.name)]);
  const externalNames = new Set(s.fabric.externals.map((x) => x.name));

  // --- links
  const linkKeys = new Map<string, string>();
  const degree = new Map<string, number>();
  s.fabric.links.forEach((link, i) => {
    const path = paths.links[i];
    let ok = true;
    link.between.forEach((end, j) => {
      if (!switchNames.has(end)) {
        ok = false;
        const what = owner.get(end)?.kind;
        r.error(`${path}/between/${j}`, what ? `link end '${end}' is a ${what}: links join nodes and switches` : `link end '${end}' is not a node or switch${didYouMean(end, switchNames)}`);
      }
    });
    if (link.between[0] === link.between[1]) {
      r.error(`${path}/between`, `link joins '${link.between[0]}' to itself`);
      ok = false;
    }
    for (const end of link.between) if (switchNames.has(end)) degree.set(end, (degree.get(end) ?? 0) + 1);
    if (!ok) return;
    const key = [...link.between].sort().join('|');
    const prev = linkKeys.get(key);
    if (prev) r.error(`${path}/between`, `duplicate link between ${link.between[0]} and ${link.between[1]} (first at line ${lineOf(r, prev)}): use one link with the total gbps`);
    else linkKeys.set(key, path);
  });
  s.fabric.nodes.forEach((n, i) => {
    if (!degree.has(n.name) && s.fabric.nodes.length > 1) r.warn(join(paths.nodes[i], 'name'), `node ${n.name} has no links: its pods can reach only each other`);
  });
  s.fabric.switches.forEach((x, i) => {
    if (!degree.has(x.name)) r.warn(join(paths.switches[i], 'name'), `switch ${x.name} has no links`);
  });
  s.fabric.externals.forEach((e, i) => {
    if (e.attach !== '' && !switchNames.has(e.attach)) r.error(join(paths.externals[i], 'attach'), `external ${e.name}: 'attach' names no switch or node: '${e.attach}'${didYouMean(e.attach, switchNames)}`);
  });

  // --- address pools and overlaps
  const podPool = parseCidr(s.cluster.podCidr);
  const servicePool = parseCidr(s.cluster.serviceCidr);
  if (cidrsOverlap(podPool, servicePool)) {
    r.error('cluster/serviceCidr', `cluster: serviceCidr ${s.cluster.serviceCidr} overlaps podCidr ${s.cluster.podCidr}`);
  }
  const hostIps = new Map<string, string>();
  const checkHostIp = (ip: string, what: string, path: string): void => {
    if (ip === '') return;
    const n = ipToInt(ip);
    if (n >= podPool.network && n <= cidrLast(podPool)) r.error(path, `${what}: ip ${ip} is inside podCidr ${s.cluster.podCidr}`);
    else if (n >= servicePool.network && n <= cidrLast(servicePool)) r.error(path, `${what}: ip ${ip} is inside serviceCidr ${s.cluster.serviceCidr}`);
    const prev = hostIps.get(ip);
    if (prev) r.error(path, `${what}: ip ${ip} is already used by ${prev}`);
    else hostIps.set(ip, `${what} at line ${lineOf(r, path)}`);
  };
  s.fabric.nodes.forEach((n, i) => checkHostIp(n.ip, `node ${n.name}`, join(paths.nodes[i], 'ip')));
  s.fabric.externals.forEach((e, i) => checkHostIp(e.ip, `external ${e.name}`, join(paths.externals[i], 'ip')));

  const blockOfNode = new Map<string, Cidr>();
  const blocks = new Map<number, string>();
  s.fabric.nodes.forEach((n, i) => {
    if (n.podCidr === undefined) return;
    const path = join(paths.nodes[i], 'podCidr');
    const block = parseCidr(n.podCidr);
    if (!cidrsOverlap(block, podPool) || block.network < podPool.network || cidrLast(block) > cidrLast(podPool)) {
      r.error(path, `node ${n.name}: podCidr ${n.podCidr} is not inside the cluster podCidr ${s.cluster.podCidr}`);
      return;
    }
    if (block.prefixLen !== s.cluster.nodeMaskLen) {
      r.error(path, `node ${n.name}: podCidr ${n.podCidr} must be a /${s.cluster.nodeMaskLen} (cluster nodeMaskLen)`);
      return;
    }
    const prev = blocks.get(block.network);
    if (prev) {
      r.error(path, `node ${n.name}: podCidr ${n.podCidr} is already the block of node ${prev}`);
      return;
    }
    blocks.set(block.network, n.name);
    blockOfNode.set(n.name, block);
  });
  const nodeCount = s.fabric.nodes.length;
  const blockCount = 2 ** (s.cluster.nodeMaskLen - podPool.prefixLen);
  if (s.cluster.nodeMaskLen >= podPool.prefixLen && nodeCount > blockCount) {
    r.error('cluster/podCidr', `cluster: podCidr ${s.cluster.podCidr} has ${blockCount} blocks of /${s.cluster.nodeMaskLen} for ${nodeCount} nodes`);
  }

  // --- pods
  const fixedPodIps = new Map<string, string>();
  const hostPortsOnNode = new Map<string, string>();
  s.pods.forEach((p, i) => {
    const path = paths.pods[i];
    if (p.node !== '' && !nodeNames.has(p.node)) {
      const kind = owner.get(p.node)?.kind;
      r.error(join(path, 'node'), kind ? `pod ${p.name}: '${p.node}' is a ${kind}, not a node` : `pod ${p.name}: unknown node '${p.node}'${didYouMean(p.node, nodeNames)}`);
    }
    if (p.ip !== undefined) {
      const ipPath = join(path, 'ip');
      const n = ipToInt(p.ip);
      const block = blockOfNode.get(p.node);
      if (n < podPool.network || n > cidrLast(podPool)) r.error(ipPath, `pod ${p.name}: ip ${p.ip} is outside podCidr ${s.cluster.podCidr}`);
      else if (block && (n < block.network || n > cidrLast(block))) r.error(ipPath, `pod ${p.name}: ip ${p.ip} is outside the block ${s.fabric.nodes.find((x) => x.name === p.node)!.podCidr} of node ${p.node}`);
      else if (block && isReservedInBlock(block, n)) r.error(ipPath, `pod ${p.name}: ip ${p.ip} is reserved (network, gateway or broadcast of ${p.node}'s block)`);
      const prev = fixedPodIps.get(p.ip);
      if (prev) r.error(ipPath, `pod ${p.name}: ip ${p.ip} is already taken by pod ${prev}`);
      else fixedPodIps.set(p.ip, p.name);
    }
    p.hostPorts.forEach((h, j) => {
      const key = `${p.node}/${h.hostPort}/${h.protocol}`;
      const prev = hostPortsOnNode.get(key);
      if (prev) r.error(`${path}/hostPorts/${j}/hostPort`, `pod ${p.name}: hostPort ${h.hostPort}/${h.protocol} on node ${p.node} is already mapped to pod ${prev}`);
      else hostPortsOnNode.set(key, p.name);
    });
  });

  // --- services
  const fixedVips = new Map<string, string>();
  const checkVip = (svc: ServiceSpec, path: string): void => {
    if (svc.ip === undefined) return;
    const n = ipToInt(svc.ip);
    const ipPath = join(path, 'ip');
    if (n < servicePool.network || n > cidrLast(servicePool)) r.error(ipPath, `service ${svc.name}: ip ${svc.ip} is outside serviceCidr ${s.cluster.serviceCidr}`);
    else if (isReservedInServicePool(servicePool, n)) r.error(ipPath, `service ${svc.name}: ip ${svc.ip} is reserved (network, first address or broadcast of serviceCidr)`);
    const prev = fixedVips.get(svc.ip);
    if (prev) r.error(ipPath, `service ${svc.name}: ip ${svc.ip} is already taken by service ${prev}`);
    else fixedVips.set(svc.ip, svc.name);
  };
  s.services.forEach((svc, i) => checkVip(svc, paths.services[i]));

  // every pod that ever exists, for selectors
  const everyPodLabels: Record<string, string>[] = s.pods.map((p) => p.labels);
  for (const ev of s.events) if (ev.kind === 'pod' && ev.action === 'add') everyPodLabels.push(ev.labels);
  const matchesSomePod = labelIndex(everyPodLabels);
  const checkSelector = (svc: ServiceSpec, path: string): void => {
    if (selectorless.has(svc)) return;
    if (Object.keys(svc.selector).length === 0) r.warn(join(path, 'selector'), `service ${svc.name}: empty selector: the service has no endpoints`);
    else if (!matchesSomePod(svc.selector)) r.warn(join(path, 'selector'), `service ${svc.name}: selector ${fmtLabels(svc.selector)} matches no pod`);
  };
  s.services.forEach((svc, i) => checkSelector(svc, paths.services[i]));
  s.cluster.allow.forEach((rule, i) => {
    for (const side of ['from', 'to'] as const) {
      const peer = side === 'from' ? rule.fromPeer : rule.toPeer;
      if (peer) {
        if (peer.external !== undefined) {
          const ext = s.fabric.externals.find((x) => x.name === peer.external);
          if (!ext) r.error(`cluster/allow/${i}/${side}/external`, `allow rule #${i + 1}: '${peer.external}' is not an external${didYouMean(peer.external, externalNames)}`);
          else peer.cidr = `${ext.ip}/32`;
        } else if (!s.fabric.externals.some((x) => isValidIp(x.ip) && cidrsOverlap(`${x.ip}/32`, peer.cidr))) {
          r.warn(`cluster/allow/${i}/${side}/cidr`, `allow rule #${i + 1}: no external of the scenario is in ${peer.cidr}`);
        }
        if (cidrsOverlap(peer.cidr || '0.0.0.0/32', s.cluster.podCidr)) r.error(`cluster/allow/${i}/${side}`, `allow rule #${i + 1}: ${peer.cidr} overlaps podCidr ${s.cluster.podCidr}: name pods by their labels`);
        continue;
      }
      if (!matchesSomePod(rule[side])) r.warn(`cluster/allow/${i}/${side}`, `allow rule #${i + 1}: '${side}' selector ${fmtLabels(rule[side])} matches no pod`);
    }
    if (rule.toPeer && s.cluster.egress !== 'closed') r.warn(`cluster/allow/${i}/to`, `allow rule #${i + 1}: a rule to an outside host has no effect while cluster.egress is open (the default)`);
  });
  if (s.cluster.dns?.service !== undefined) {
    const svc = s.services.find((x) => x.name === s.cluster.dns!.service);
    if (!svc) r.error('cluster/dns/service', `cluster dns: service '${s.cluster.dns.service}' is not a service of the scenario${didYouMean(s.cluster.dns.service, s.services.map((x) => x.name))}`);
    else if (svc.port !== 53 || svc.protocol !== 'udp') r.warn('cluster/dns/service', `cluster dns: service ${svc.name} should be port 53, protocol udp (it is ${svc.port}/${svc.protocol})`);
  }
  s.services.forEach((svc, i) => {
    if (svc.type === 'LoadBalancer' && svc.loadBalancerIp === undefined && !s.cluster.loadBalancerCidr) {
      r.error(join(paths.services[i], 'type'), `service ${svc.name}: type LoadBalancer needs cluster.loadBalancerCidr (or the service's loadBalancerIp)`);
    }
    if (svc.loadBalancerIp !== undefined && s.cluster.loadBalancerCidr && !cidrsOverlap(`${svc.loadBalancerIp}/32`, s.cluster.loadBalancerCidr)) {
      r.warn(join(paths.services[i], 'loadBalancerIp'), `service ${svc.name}: loadBalancerIp ${svc.loadBalancerIp} is outside loadBalancerCidr ${s.cluster.loadBalancerCidr}`);
    }
    if (svc.type === 'LoadBalancer' && !s.fabric.externals.some((x) => switchNames.has(x.attach) && !nodeNames.has(x.attach))) {
      r.warn(join(paths.services[i], 'type'), `service ${svc.name}: no external attaches to a fabric switch, so no edge takes in its LoadBalancer VIP`);
    }
  });
  {
    const seen = new Map<number, string>();
    s.services.forEach((svc, i) => {
      if (svc.nodePort === undefined) return;
      const prev = seen.get(svc.nodePort);
      if (prev) r.error(join(paths.services[i], 'nodePort'), `service ${svc.name}: nodePort ${svc.nodePort} is already used by service ${prev}`);
      else seen.set(svc.nodePort, svc.name);
    });
  }

  // --- traffic
  const everyPod = new Set(s.pods.map((p) => p.name));
  for (const ev of s.events) if (ev.kind === 'pod' && ev.action === 'add') everyPod.add(ev.name);
  const everyService = new Set(s.services.map((x) => x.name));
  for (const ev of s.events) if (ev.kind === 'service' && ev.action === 'add') everyService.add(ev.service.name);
  const knownNames = new Set([...switchNames, ...externalNames, ...everyPod, ...everyService]);
  s.traffic.forEach((t, i) => {
    const path = paths.traffic[i];
    if (!everyPod.has(t.from) && !nodeNames.has(t.from) && !externalNames.has(t.from)) {
      r.error(join(path, 'from'), `traffic #${ordinal(path)}: 'from' must name a pod, node or external: '${t.from}'${didYouMean(t.from, knownNames)}`);
    }
    if (!knownNames.has(t.to) && !isValidIp(t.to) && !isDnsName(s, t.to)) {
      r.error(join(path, 'to'), `traffic #${ordinal(path)}: 'to' names nothing known: '${t.to}'${didYouMean(t.to, knownNames)}`);
    }
    if (t.from === t.to) r.error(join(path, 'to'), `traffic #${ordinal(path)}: 'from' and 'to' are the same`);
  });

  // --- expectations that name traffic demands
  s.expect.forEach((e, i) => {
    if (e.kind === 'fairShare' && e.fairShare.demand >= s.traffic.length) {
      r.error(`${paths.expect[i]}/fairShare/demand`, `expectation #${ordinal(paths.expect[i])}: fairShare demand ${e.fairShare.demand} does not exist (traffic has ${s.traffic.length} demands, numbered from 0)`);
    }
  });

  replayByName(r, s, paths, { nodeNames, switchNames, externalNames, owner, fixedVips, checkSelector, checkVip });
}

/** "Does any of these label sets match the selector?", answered from an index of label pairs. */
function labelIndex(labelSets: Record<string, string>[]): (selector: Record<string, string>) => boolean {
  const byPair = new Map<string, Record<string, string>[]>();
  for (const l of labelSets) {
    for (const [k, v] of Object.entries(l)) {
      const key = `${k}\u0000${v}`;
      const bucket = byPair.get(key);
      if (bucket) bucket.push(l);
      else byPair.set(key, [l]);
    }
  }
  return (selector) => {
    let smallest: Record<string, string>[] | undefined;
    for (const [k, v] of Object.entries(selector)) {
      const bucket = byPair.get(`${k}\u0000${v}`);
      if (!bucket) return false;
      if (!smallest || bucket.length < smallest.length) smallest = bucket;
    }
    return smallest !== undefined && smallest.some((l) => selectorMatches(selector, l));
  };
}

/** 1-based position in its list, from an entry's path ("expect/4" -> 5) */
function ordinal(path: string): number {
  return Number(path.slice(path.lastIndexOf('/') + 1)) + 1;
}

function fmtLabels(l: Record<string, string>): string {
  return '{' + Object.entries(l).map(([k, v]) => `${k}: ${v}`).join(', ') + '}';
}

interface Statics {
  nodeNames: Set<string>;
  switchNames: Set<string>;
  externalNames: Set<string>;
  owner: Map<string, { kind: Kind; path: string }>;
  fixedVips: Map<string, string>;
  checkSelector: (svc: ServiceSpec, path: string) => void;
  checkVip: (svc: ServiceSpec, path: string) => void;
}

/**
 * Events and expectations in time order against a model that knows only names: which pods and
 * services exist, on which node. Expectations at time T see every event at or before T.
 */
function replayByName(r: Reporter, s: Scenario, paths: Paths, st: Statics): void {
  const pods = new Map<string, { node: string; labels: Record<string, string>; ip?: string; unready?: boolean }>();
  for (const p of s.pods) pods.set(p.name, { node: p.node, labels: p.labels, ip: p.ip, ...(p.ready === false ? { unready: true } : {}) });
  const serviceSpecs = new Map<string, ServiceSpec>();
  for (const x of s.services) serviceSpecs.set(x.name, x);
  for (const ev of s.events) if (ev.kind === 'service' && ev.action === 'add' && !serviceSpecs.has(ev.service.name)) serviceSpecs.set(ev.service.name, ev.service);
  const podPool = parseCidr(s.cluster.podCidr);
  const fixedBlocks = new Map<string, Cidr>();
  for (const n of s.fabric.nodes) if (n.podCidr !== undefined && !cidrProblem(n.podCidr)) fixedBlocks.set(n.name, parseCidr(n.podCidr));
  const services = new Map<string, Record<string, string>>();
  for (const x of s.services) services.set(x.name, x.selector);
  const links = new Set(s.fabric.links.map((l) => [...l.between].sort().join('|')));
  const linkNames = s.fabric.links.map((l) => l.between.join(' and '));
  const staticKind = (n: string): Kind | undefined => {
    const k = st.owner.get(n)?.kind;
    return k === 'node' || k === 'switch' || k === 'external' ? k : undefined;
  };
  const addedAt = new Map<string, number>();
  for (const ev of s.events) if (ev.kind === 'pod' && ev.action === 'add' && !addedAt.has(ev.name)) addedAt.set(ev.name, ev.at);

  const order = s.events.map((ev, i) => ({ ev, path: paths.events[i] })).sort((a, b) => a.ev.at - b.ev.at);
  const expectations = s.expect.map((ex, i) => ({ ex, path: paths.expect[i], i: ordinal(paths.expect[i]) - 1 })).sort((a, b) => a.ex.at - b.ex.at);
  let next = 0;
  const applyUntil = (t: number): void => {
    while (next < order.length && order[next].ev.at <= t) applyOne(order[next].ev, order[next].path), next++;
  };
  const when = (t: number): string => `${t}s`;
  const deletedAt = new Map<string, number>();
  /** why a pod is missing at t, with a hint when it exists at another time, or a likely typo */
  const podMissing = (n: string, t: number): string => {
    const later = addedAt.get(n);
    if (later !== undefined && later > t) return `pod ${n} does not exist at ${when(t)} (it is added at ${when(later)})`;
    const gone = deletedAt.get(n);
    if (gone !== undefined) return `pod ${n} does not exist at ${when(t)} (it was deleted at ${when(gone)})`;
    return `pod ${n} does not exist at ${when(t)}${didYouMean(n, pods.keys())}`;
  };
  const applyOne = (ev: ScenarioEvent, path: string): void => {
    switch (ev.kind) {
      case 'link': {
        const [a, b] = ev.between;
        if (!links.has([a, b].sort().join('|'))) r.error(join(path, 'between'), `link ${ev.action} at ${when(ev.at)}: there is no link between ${a} and ${b}${didYouMean(`${a} and ${b}`, linkNames)}`);
        return;
      }
      case 'node':
        if (!st.nodeNames.has(ev.name)) r.error(join(path, 'name'), `node ${ev.action} at ${when(ev.at)}: unknown node '${ev.name}'${didYouMean(ev.name, st.nodeNames)}`);
        return;
      case 'pod':
        if (ev.action === 'add') {
          const k = staticKind(ev.name);
          if (k) r.error(join(path, 'name'), `pod add at ${when(ev.at)}: name '${ev.name}' is already used by a ${k}`);
          else if (pods.has(ev.name)) r.error(join(path, 'name'), `pod add at ${when(ev.at)}: pod ${ev.name} already exists then`);
          else if (services.has(ev.name)) r.error(join(path, 'name'), `pod add at ${when(ev.at)}: name '${ev.name}' is already used by a service`);
          if (!st.nodeNames.has(ev.node)) {
            r.error(join(path, 'node'), `pod add ${ev.name} at ${when(ev.at)}: unknown node '${ev.node}'${didYouMean(ev.node, st.nodeNames)}`);
            return;
          }
          let ipOk = true;
          if (ev.ip !== undefined) {
            const n = ipToInt(ev.ip);
            const errorsBefore = r.errorCount;
            const block = fixedBlocks.get(ev.node);
            const holder = [...pods.entries()].find(([, p]) => p.ip === ev.ip);
            if (n < podPool.network || n > cidrLast(podPool)) r.error(join(path, 'ip'), `pod add ${ev.name} at ${when(ev.at)}: ip ${ev.ip} is outside podCidr ${s.cluster.podCidr}`);
            else if (block && (n < block.network || n > cidrLast(block))) r.error(join(path, 'ip'), `pod add ${ev.name} at ${when(ev.at)}: ip ${ev.ip} is outside the block of node ${ev.node}`);
            else if (block && isReservedInBlock(block, n)) r.error(join(path, 'ip'), `pod add ${ev.name} at ${when(ev.at)}: ip ${ev.ip} is reserved (network, gateway or broadcast of ${ev.node}'s block)`);
            else if (holder) r.error(join(path, 'ip'), `pod add ${ev.name} at ${when(ev.at)}: ip ${ev.ip} is in use by pod ${holder[0]} then`);
            ipOk = r.errorCount === errorsBefore;
          }
          if (!k && !services.has(ev.name)) {
            pods.set(ev.name, { node: ev.node, labels: ev.labels, ip: ipOk ? ev.ip : undefined, ...(ev.ready === false ? { unready: true } : {}) });
            deletedAt.delete(ev.name);
          }
          return;
        }
        if (!pods.has(ev.name)) {
          r.error(join(path, 'name'), `cannot ${ev.action} pod ${ev.name} at ${when(ev.at)}: ${podMissing(ev.name, ev.at)}`);
          return;
        }
        if (ev.action === 'delete') {
          pods.delete(ev.name);
          deletedAt.set(ev.name, ev.at);
          return;
        }
        if (ev.action === 'ready' || ev.action === 'unready') {
          const p = pods.get(ev.name)!;
          if (ev.action === 'ready') delete p.unready;
          else p.unready = true;
          return;
        }
        if (!st.nodeNames.has(ev.to)) {
          r.error(join(path, 'to'), `cannot move pod ${ev.name} at ${when(ev.at)}: unknown node '${ev.to}'${didYouMean(ev.to, st.nodeNames)}`);
          return;
        }
        if (pods.get(ev.name)!.node === ev.to) r.warn(join(path, 'to'), `pod ${ev.name} is already on node ${ev.to} at ${when(ev.at)}: the move does nothing`);
        pods.get(ev.name)!.node = ev.to;
        return;
      case 'service':
        if (ev.action === 'add') {
          const n = ev.service.name;
          const k = staticKind(n);
          if (k) r.error(join(path, 'name'), `service add at ${when(ev.at)}: name '${n}' is already used by a ${k}`);
          else if (services.has(n) || pods.has(n)) r.error(join(path, 'name'), `service add at ${when(ev.at)}: ${services.has(n) ? 'service' : 'pod'} ${n} already exists then`);
          else services.set(n, ev.service.selector);
          st.checkSelector(ev.service, path);
          st.checkVip(ev.service, path);
          return;
        }
        if (!services.has(ev.name)) r.error(join(path, 'name'), `cannot delete service ${ev.name} at ${when(ev.at)}: it does not exist then${didYouMean(ev.name, services.keys())}`);
        else services.delete(ev.name);
        return;
    }
  };

  const fromOk = (n: string): boolean => pods.has(n) || st.nodeNames.has(n) || st.externalNames.has(n);
  const checkEnds = (e: Endpoints, path: string, what: string, t: number): void => {
    const names = [...pods.keys(), ...services.keys(), ...st.switchNames, ...st.externalNames];
    if (!fromOk(e.from)) {
      const reason = addedAt.has(e.from) || s.pods.some((p) => p.name === e.from) ? podMissing(e.from, t) : services.has(e.from) ? `'from' cannot be a service` : `'from' names no pod, node or external: '${e.from}'${didYouMean(e.from, names)}`;
      r.error(join(path, 'from'), `${what}: ${reason}`);
    }
    const toOk = pods.has(e.to) || services.has(e.to) || st.nodeNames.has(e.to) || st.externalNames.has(e.to) || isValidIp(e.to) || isDnsName(s, e.to);
    if (!toOk) {
      const reason = addedAt.has(e.to) || s.pods.some((p) => p.name === e.to) ? podMissing(e.to, t) : `'to' names nothing that exists at ${when(t)}: '${e.to}'${didYouMean(e.to, names)}`;
      r.error(join(path, 'to'), `${what}: ${reason}`);
    }
    if (e.from === e.to) r.error(join(path, 'to'), `${what}: 'from' and 'to' are the same`);
  };
  for (const { ex, path, i } of expectations) {
    applyUntil(ex.at);
    const what = `expectation #${i + 1}`;
    switch (ex.kind) {
      case 'reach':
        checkEnds(ex.reach, join(path, 'reach'), what, ex.at);
        if (st.externalNames.has(ex.reach.from) && services.has(ex.reach.to)) {
          const spec = serviceSpecs.get(ex.reach.to);
          if (spec && spec.type !== 'LoadBalancer') {
            r.error(
              join(path, 'reach/to'),
              `${what}: service ${ex.reach.to} is a ${spec.type ?? 'ClusterIP'} service: outside hosts reach a service through a LoadBalancer VIP (type: LoadBalancer), or a NodePort as { to: NODE, port: NODEPORT }`,
            );
          }
        }
        if (ex.backends) {
          const selector = services.get(ex.reach.to);
          if (!selector && (st.nodeNames.has(ex.reach.to) || isValidIp(ex.reach.to) || isDnsName(s, ex.reach.to))) {
            // a NodePort (to: NODE, port) or an address: the backends are checked when the model runs
            if (ex.reach.port === undefined && !isDnsName(s, ex.reach.to)) r.error(join(path, 'reach/port'), `${what}: 'backends' through ${ex.reach.to} needs the port (a NodePort, or a service port)`);
            ex.backends.forEach((b, j) => {
              if (!pods.has(b)) r.error(`${path}/backends/${j}`, `${what}: backend ${podMissing(b, ex.at)}`);
            });
            break;
          }
          if (!selector) {
            r.error(join(path, 'backends'), `${what}: 'backends' needs 'to' to name a service, a node (its NodePort) or a service address`);
            break;
          }
          ex.backends.forEach((b, j) => {
            if (!pods.has(b)) r.error(`${path}/backends/${j}`, `${what}: backend ${podMissing(b, ex.at)}`);
          });
          const matching = [...pods.entries()].filter(([, p]) => !p.unready && selectorMatches(selector, p.labels)).map(([n]) => n).sort();
          const listed = [...ex.backends].sort();
          if (matching.join(',') !== listed.join(',')) {
            r.warn(join(path, 'backends'), `${what}: backends [${listed.join(', ')}] differ from the pods service ${ex.reach.to} selects at ${when(ex.at)}: [${matching.join(', ')}]`);
          }
        }
        break;
      case 'noReach':
        checkEnds(ex.noReach, join(path, 'noReach'), what, ex.at);
        break;
      case 'egress':
        checkEnds(ex.egress, join(path, 'egress'), what, ex.at);
        if (!st.externalNames.has(ex.egress.to) && !isValidIp(ex.egress.to)) {
          r.error(join(path, 'egress/to'), `${what}: egress 'to' must be an external (or an IP outside the cluster)`);
        }
        {
          // pod traffic leaves SNAT'ed to the IP of the node the pod runs on at that time
          const node = pods.get(ex.egress.from)?.node;
          const nodeIp = s.fabric.nodes.find((n) => n.name === node)?.ip;
          if (nodeIp && nodeIp !== ex.srcSeenAs) {
            r.warn(join(path, 'srcSeenAs'), `${what}: ${ex.egress.from} runs on ${node} at ${when(ex.at)}, so its egress is seen as ${nodeIp}, not ${ex.srcSeenAs}`);
          }
        }
        break;
      case 'limited':
        if (!pods.has(ex.limited.pod)) r.error(join(path, 'limited/pod'), `${what}: ${podMissing(ex.limited.pod, ex.at)}`);
        break;
      case 'survives':
        ex.survives.reach.forEach((e, j) => checkEnds(e, join(path, `survives/reach/${j}`), what, ex.at));
        break;
      default:
        break;
    }
  }
  applyUntil(Infinity);
}

// ---------------------------------------------------------------------------------------------
// Pass 4: addresses and the cluster model
// ---------------------------------------------------------------------------------------------

function sortedEventOrder(s: Scenario): number[] {
  return s.events.map((_, i) => i).sort((a, b) => s.events[a].at - s.events[b].at || a - b);
}

function runModel(r: Reporter, s: Scenario, paths: Paths): void {
  const pathFor = (ipamPath: string | undefined): string => {
    if (!ipamPath) return '';
    const m = /^(pods|services|events|fabric\/nodes)\/(\d+)(.*)$/.exec(ipamPath);
    if (!m) return ipamPath;
    const table = m[1] === 'fabric/nodes' ? paths.nodes : m[1] === 'pods' ? paths.pods : m[1] === 'services' ? paths.services : paths.events;
    return (table[Number(m[2])] ?? ipamPath) + m[3];
  };
  let state;
  try {
    const plan = planAddresses(s);
    // without events there is nothing to replay; the model itself adds no check pass 3 missed
    if (s.events.length === 0) return;
    state = buildClusterState(s, plan);
  } catch (err) {
    if (err instanceof IpamError) r.error(pathFor(err.path), err.message);
    else if (err instanceof TopologyError) r.error('', err.message);
    else throw err;
    return;
  }
  for (const i of sortedEventOrder(s)) {
    try {
      applyEvent(state, s.events[i]);
    } catch (err) {
      if (err instanceof IpamError || err instanceof TopologyError) r.error(paths.events[i], `event at ${s.events[i].at}s: ${err.message}`);
      else throw err;
    }
  }
}

/** Sorts events by time (file order for equal times) and keys positions by the sorted index. */
function finish(r: Reporter, s: Scenario, paths: Paths): Scenario {
  const order = sortedEventOrder(s);
  const positions = r.values; // no copy: a large scenario has a million positions
  const eventPositions: [string, SourcePos][] = [];
  for (const [k, v] of positions) if (k.startsWith('events/')) eventPositions.push([k, v]);
  for (const [k] of eventPositions) positions.delete(k);
  const sortedIndexOf = new Map<string, number>();
  order.forEach((original, sorted) => sortedIndexOf.set(paths.events[original], sorted));
  for (const [k, v] of eventPositions) {
    const m = /^events\/(\d+)(.*)$/.exec(k)!;
    const sorted = sortedIndexOf.get(`events/${m[1]}`);
    if (sorted !== undefined) positions.set(`events/${sorted}${m[2]}`, v);
  }
  return { ...s, events: order.map((i) => s.events[i]), positions };
}
