/**
 * A simulated OpenFlow 1.3 switch that executes the flow IR (fabric/openflow/flow.ts) the way Open
 * vSwitch does for the features the controller uses: tables by priority with masks, instructions in
 * OF1.3 order (meter, apply, clear, write, write-metadata, goto), the action set at pipeline end,
 * set_field/move/write_metadata/registers, groups (all, select, indirect, fast-failover), meters
 * (token bucket in virtual time), conntrack with zones and NAT, recirculation (`ct(table=N)`),
 * resubmit, tunnel metadata, dec_ttl, output to IN_PORT/CONTROLLER, and flow/port counters.
 *
 * `process()` walks one packet through the switch and returns the packets it emits plus a full
 * trace. It never touches other switches: sim/network.ts carries outputs over links.
 */
import { CT_STATE, OFPP } from '../fabric/openflow/flow';
import type { Action, FieldName, FieldRef, Flow, Group, Meter, SwitchOp, SwitchPlan } from '../fabric/openflow/flow';
import { fullMask } from '../fabric/openflow/fields';
import { actionText as ofctlActionText, matchText as ofctlMatchText } from '../fabric/openflow/ofctl';
import { CompiledFlow, FlowTable, compileFlow } from './classifier';
import { Conntrack } from './conntrack';
import { Packet, S, slotOf } from './packet';

export interface TraceStep {
  /** nesting: 0 pipeline, +1 per resubmit/group bucket */
  depth: number;
  kind: 'lookup' | 'miss' | 'action' | 'ct' | 'group' | 'meter' | 'output' | 'drop' | 'recirc' | 'note';
  table?: number;
  flow?: Flow;
  text: string;
}

export interface PortOutput {
  port: number;
  packet: Packet;
}

export type PassVerdict = 'forwarded' | 'dropped' | 'controller';

export interface SwitchPass {
  switch: string;
  inPort: number;
  /** summary of the packet as it arrived */
  packet: string;
  steps: TraceStep[];
  outputs: PortOutput[];
  /** packets sent to the controller (packet-in) */
  toController: Packet[];
  verdict: PassVerdict;
  /** why it was dropped, when it was */
  dropReason?: string;
}

export interface PortCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

interface MeterState {
  meter: Meter;
  /** per band: tokens (bits or packets) and last refill time */
  tokens: number[];
  lastUs: number;
  dropped: number;
  passed: number;
}

/** the state of one packet instance's trip through the pipeline */
interface Pass {
  pkt: Packet;
  actionSet: Map<string, Action>;
  depth: number;
  halted: boolean;
  /** halted by an `exit` action: the action set still runs (ovs-actions(7)) */
  exited?: boolean;
  /** recirculation depth of this instance */
  recirc: number;
}

interface Walk {
  res: SwitchPass;
  trace: boolean;
  nowUs: number;
  pendingRecirc: Array<{ pass: Pass; table: number }>;
  resubmits: number;
}

const MAX_RESUBMIT = 64;
const MAX_RECIRC = 16;
const MAX_TABLE_HOPS = 255;

export class SwitchOpError extends Error {
  override readonly name = 'SwitchOpError';
}

/** A packet hit an action of the flow IR that the simulator does not execute (multipath, bundle, learn,
 *  resubmit with ct, controller with pause): thrown from process(), never silently ignored. */
export class UnsupportedActionError extends Error {
  override readonly name = 'UnsupportedActionError';
  constructor(
    readonly switchName: string,
    readonly action: Action,
  ) {
    super(`${switchName}: the simulator does not execute the action ${actionText(action)}`);
  }
}

/** deterministic select-group hash (documented in docs/simulator.md "Select groups") */
export function selectHash(pkt: Packet): number {
  let h = 0x811c9dc5;
  const mix = (w: number): void => {
    h = Math.imul(h ^ (w >>> 0), 0x01000193);
    h ^= h >>> 13;
  };
  if (pkt.isIp) {
    mix(pkt.u32(S.ipv4_src));
    mix(pkt.u32(S.ipv4_dst));
    mix(pkt.ipProto);
    mix(pkt.l4Src);
    mix(pkt.l4Dst);
  } else {
    const k = pkt.key;
    const src = slotOf('eth_src');
    const dst = slotOf('eth_dst');
    mix(k[src.offset]!);
    mix(k[src.offset + 1]!);
    mix(k[dst.offset]!);
    mix(k[dst.offset + 1]!);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** set_field precompiled to (word index, mask, value) triples */
interface WordWrite {
  idx: number;
  mask: number;
  value: number;
}
const setFieldCache = new WeakMap<object, WordWrite[]>();
function compileSetField(field: FieldName, value: bigint, mask?: bigint): WordWrite[] {
  const slot = slotOf(field);
  const m = mask === undefined ? fullMask(field) : mask & fullMask(field);
  const out: WordWrite[] = [];
  for (let i = slot.words - 1, v = value & m, mm = m; i >= 0; i--, v >>= 32n, mm >>= 32n) {
    const wm = Number(mm & 0xffffffffn) | 0;
    if (wm !== 0) out.push({ idx: slot.offset + i, mask: wm, value: Number(v & 0xffffffffn) & wm });
  }
  return out;
}

function readRef(pkt: Packet, ref: FieldRef): bigint {
  const ofs = BigInt(ref.ofs ?? 0);
  const bits = ref.nBits ?? Number(slotOf(ref.field).bits) - (ref.ofs ?? 0);
  return (pkt.get(ref.field) >> ofs) & ((1n << BigInt(bits)) - 1n);
}

function writeRef(pkt: Packet, ref: FieldRef, value: bigint): void {
  const ofs = BigInt(ref.ofs ?? 0);
  const bits = ref.nBits ?? Number(slotOf(ref.field).bits) - (ref.ofs ?? 0);
  const m = ((1n << BigInt(bits)) - 1n) << ofs;
  pkt.set(ref.field, (value << ofs) & m, m);
}

export function portName(port: number): string {
  switch (port) {
    case OFPP.IN_PORT: return 'IN_PORT';
    case OFPP.TABLE: return 'TABLE';
    case OFPP.NORMAL: return 'NORMAL';
    case OFPP.FLOOD: return 'FLOOD';
    case OFPP.ALL: return 'ALL';
    case OFPP.CONTROLLER: return 'CONTROLLER';
    case OFPP.LOCAL: return 'LOCAL';
    case OFPP.ANY: return 'ANY';
    default: return String(port);
  }
}

function ipText(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** one action in ovs-ofctl syntax (fabric/openflow/ofctl.ts), or our compact form if it cannot print it */
export function actionText(a: Action): string {
  try {
    return ofctlActionText(a);
  } catch {
    return simActionText(a);
  }
}

/** a compact readable form of one action (fallback of actionText) */
export function simActionText(a: Action): string {
  switch (a.type) {
    case 'output': return `output:${portName(a.port)}`;
    case 'group': return `group:${a.groupId}`;
    case 'set_field': {
      const spec = slotOf(a.field);
      const v = spec.bits === 32 && a.field.startsWith('ipv4') ? ipText(Number(a.value)) : `0x${a.value.toString(16)}`;
      return `set_field:${v}${a.mask !== undefined ? `/0x${a.mask.toString(16)}` : ''}->${a.field}`;
    }
    case 'push_vlan': return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan': return 'pop_vlan';
    case 'dec_ttl': return 'dec_ttl';
    case 'set_queue': return `set_queue:${a.queueId}`;
    case 'move': return `move:${refText(a.src)}->${refText(a.dst)}`;
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.zone !== undefined) parts.push(`zone=${typeof a.zone === 'number' ? a.zone : refText(a.zone)}`);
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      if (a.nat) {
        const n = a.nat;
        let s = 'nat';
        if (n.kind) {
          s += `(${n.kind}=${n.ipMin ?? ''}${n.ipMax && n.ipMax !== n.ipMin ? '-' + n.ipMax : ''}`;
          if (n.portMin !== undefined) s += `:${n.portMin}${n.portMax && n.portMax !== n.portMin ? '-' + n.portMax : ''}`;
          s += ')';
        }
        parts.push(s);
      }
      if (a.exec?.length) parts.push(`exec(${a.exec.map(simActionText).join(',')})`);
      return `ct(${parts.join(',')})`;
    }
    case 'ct_clear': return 'ct_clear';
    case 'resubmit': return `resubmit(${a.port !== undefined ? portName(a.port) : ''},${a.table ?? ''})`;
    case 'note': return 'note';
    case 'controller': return 'controller';
    case 'raw': return `raw(type=${a.actionType})`;
    default: return a.type;
  }
}

function refText(r: FieldRef): string {
  if (r.ofs === undefined && r.nBits === undefined) return r.field;
  const ofs = r.ofs ?? 0;
  const n = r.nBits ?? slotOf(r.field).bits - ofs;
  return `${r.field}[${ofs}..${ofs + n - 1}]`;
}

/** action-set slot: OF1.3 keeps at most one action of each type (set_field: one per field) */
function actionSetKey(a: Action): string {
  return a.type === 'set_field' ? `set_field:${a.field}` : a.type;
}

/** OF1.3 §5.10 execution order of the action set, as OVS implements it */
const ACTION_SET_ORDER: Record<string, number> = {
  pop_vlan: 0,
  push_vlan: 1,
  dec_ttl: 2,
  set_field: 3,
  move: 3,
  ct: 4,
  ct_clear: 4,
  set_queue: 5,
  group: 6,
  output: 7,
};

export interface SimSwitchOptions {
  /** port liveness (link up and peer up), consulted by fast-failover groups and ALL/FLOOD */
  isPortLive?: (port: number) => boolean;
  /** every port number of the switch, for ALL/FLOOD */
  ports?: () => number[];
}

export class SimSwitch {
  readonly name: string;
  datapathId: string;
  private tables = new Map<number, FlowTable>();
  private groups = new Map<number, Group>();
  private meters = new Map<number, MeterState>();
  readonly conntrack = new Conntrack();
  readonly portCounters = new Map<number, PortCounters>();
  private seq = 0;
  private opts: SimSwitchOptions;
  /** table lookups performed (for the benchmark) */
  lookups = 0;
  private dumpCache: SwitchPlan | undefined;

  constructor(name: string, datapathId = '0000000000000000', opts: SimSwitchOptions = {}) {
    this.name = name;
    this.datapathId = datapathId;
    this.opts = opts;
  }

  setOptions(opts: SimSwitchOptions): void {
    this.opts = opts;
  }

  private table(id: number): FlowTable {
    let t = this.tables.get(id);
    if (!t) {
      t = new FlowTable();
      this.tables.set(id, t);
    }
    return t;
  }

  get flowCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  // ---- control plane -------------------------------------------------------------------------

  /** Apply one op as OVS would; throws SwitchOpError where OVS answers with an OpenFlow error. */
  applyOp(op: SwitchOp): void {
    this.dumpCache = undefined;
    switch (op.op) {
      case 'add-flow': {
        const f = op.flow;
        if (f.instructions.meter !== undefined && !this.meters.has(f.instructions.meter)) {
          throw new SwitchOpError(`${this.name}: add-flow uses meter ${f.instructions.meter} which does not exist (OFPMMFC_INVALID_METER)`);
        }
        for (const g of groupRefs(f)) {
          if (!this.groups.has(g)) throw new SwitchOpError(`${this.name}: add-flow uses group ${g} which does not exist (OFPBAC_BAD_OUT_GROUP)`);
        }
        // OFPFC_ADD of an identical flow replaces it (counters reset, OFPFF_RESET_COUNTS aside)
        this.table(f.table).put(compileFlow(f, this.seq++));
        return;
      }
      case 'modify-flow': {
        const t = this.table(op.flow.table);
        const cf = compileFlow(op.flow, 0);
        const old = t.get(cf.id);
        if (!old) return; // OF1.3 modify-strict never creates a flow (docs/real-ovs.md pitfall 4)
        cf.seq = old.seq;
        cf.packets = old.packets;
        cf.bytes = old.bytes;
        t.put(cf);
        return;
      }
      case 'delete-flow': {
        this.table(op.flow.table).delete(compileFlow(op.flow, 0).id);
        return;
      }
      case 'add-group':
        if (this.groups.has(op.group.groupId)) throw new SwitchOpError(`${this.name}: group ${op.group.groupId} exists (OFPGMFC_GROUP_EXISTS)`);
        this.groups.set(op.group.groupId, op.group);
        return;
      case 'modify-group':
        if (!this.groups.has(op.group.groupId)) throw new SwitchOpError(`${this.name}: group ${op.group.groupId} does not exist (OFPGMFC_UNKNOWN_GROUP)`);
        this.groups.set(op.group.groupId, op.group);
        return;
      case 'delete-group':
        this.groups.delete(op.groupId);
        // OF1.3: deleting a group removes the flows that forward to it
        this.deleteFlowsWhere((f) => groupRefs(f).includes(op.groupId));
        return;
      case 'add-meter':
        if (this.meters.has(op.meter.meterId)) throw new SwitchOpError(`${this.name}: meter ${op.meter.meterId} exists (OFPMMFC_METER_EXISTS)`);
        this.meters.set(op.meter.meterId, newMeterState(op.meter));
        return;
      case 'modify-meter':
        if (!this.meters.has(op.meter.meterId)) throw new SwitchOpError(`${this.name}: meter ${op.meter.meterId} does not exist (OFPMMFC_UNKNOWN_METER)`);
        this.meters.set(op.meter.meterId, newMeterState(op.meter));
        return;
      case 'delete-meter':
        this.meters.delete(op.meterId);
        // deleting a meter deletes every flow that uses it (docs/real-ovs.md pitfall 4)
        this.deleteFlowsWhere((f) => f.instructions.meter === op.meterId);
        return;
    }
  }

  private deleteFlowsWhere(pred: (f: Flow) => boolean): void {
    for (const t of this.tables.values()) for (const cf of t.all()) if (pred(cf.flow)) t.delete(cf.id);
  }

  /** what the switch holds, canonically ordered (table, priority desc, match) */
  dump(): SwitchPlan {
    // the controller diffs against this after every change it learns: cache it until an op lands
    if (this.dumpCache) return this.dumpCache;
    const flows: Flow[] = [];
    for (const id of [...this.tables.keys()].sort((a, b) => a - b)) {
      const list = this.tables.get(id)!.all().sort((a, b) => b.flow.priority - a.flow.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const cf of list) flows.push(cf.flow);
    }
    this.dumpCache = {
      switch: this.name,
      datapathId: this.datapathId,
      flows,
      groups: [...this.groups.values()].sort((a, b) => a.groupId - b.groupId),
      meters: [...this.meters.values()].map((m) => m.meter).sort((a, b) => a.meterId - b.meterId),
    };
    return this.dumpCache;
  }

  /** flow entries with their counters */
  flowStats(): Array<{ flow: Flow; packets: number; bytes: number }> {
    const out: Array<{ flow: Flow; packets: number; bytes: number }> = [];
    for (const id of [...this.tables.keys()].sort((a, b) => a - b)) {
      for (const cf of this.tables.get(id)!.all()) out.push({ flow: cf.flow, packets: cf.packets, bytes: cf.bytes });
    }
    return out;
  }

  /** one table lookup with no side effects other than the lookup counter (benchmarks, tests) */
  lookup(table: number, pkt: Packet): Flow | undefined {
    this.lookups++;
    return this.tables.get(table)?.lookup(pkt.key)?.flow;
  }

  private counters(port: number): PortCounters {
    let c = this.portCounters.get(port);
    if (!c) {
      c = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };
      this.portCounters.set(port, c);
    }
    return c;
  }

  // ---- data plane ----------------------------------------------------------------------------

  /** Walk one packet that arrived on `inPort` at virtual time nowUs. */
  process(packet: Packet, inPort: number, nowUs: number, trace = true, owned = false): SwitchPass {
    const res: SwitchPass = {
      switch: this.name,
      inPort,
      packet: trace ? packet.summary() : '',
      steps: [],
      outputs: [],
      toController: [],
      verdict: 'dropped',
    };
    const rx = this.counters(inPort);
    rx.rxPackets++;
    rx.rxBytes += packet.sizeBytes;
    // `owned`: the caller hands the packet over (a copy nobody else holds), so no defensive copy
    const pkt = owned ? packet : packet.clone();
    pkt.key[S.in_port] = inPort;
    const walk: Walk = { res, trace, nowUs, pendingRecirc: [], resubmits: 0 };
    const first: Pass = { pkt, actionSet: new Map(), depth: 0, halted: false, recirc: 0 };
    this.runPipeline(walk, first, 0, true);
    // recirculations run after the pass that caused them, in order (the datapath recirculates
    // once the current actions are executed)
    while (walk.pendingRecirc.length > 0) {
      const { pass, table } = walk.pendingRecirc.shift()!;
      if (trace) res.steps.push({ depth: 0, kind: 'recirc', table, text: `recirculate to table ${table} (ct_state=${ctStateText(pass.pkt.u32(S.ct_state))})` });
      this.runPipeline(walk, pass, table, true);
    }
    if (res.outputs.length > 0) res.verdict = 'forwarded';
    else if (res.toController.length > 0) res.verdict = 'controller';
    else {
      res.verdict = 'dropped';
      res.dropReason ??= 'no output action';
    }
    for (const o of res.outputs) {
      const tx = this.counters(o.port);
      tx.txPackets++;
      tx.txBytes += o.packet.sizeBytes;
    }
    return res;
  }

  private drop(walk: Walk, pass: Pass, reason: string): void {
    pass.halted = true;
    walk.res.dropReason ??= reason;
    if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'drop', text: reason });
  }

  /** run tables from `startTable` following goto; execute the action set at the end if `top` */
  private runPipeline(walk: Walk, pass: Pass, startTable: number, top: boolean): void {
    let tableId: number | undefined = startTable;
    let hops = 0;
    while (tableId !== undefined && !pass.halted) {
      if (++hops > MAX_TABLE_HOPS) return this.drop(walk, pass, 'too many table hops');
      this.lookups++;
      const cf: CompiledFlow | undefined = this.tables.get(tableId)?.lookup(pass.pkt.key);
      if (!cf) {
        // OF1.3 table-miss without a miss flow: drop (the action set is discarded)
        if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'miss', table: tableId, text: `table ${tableId}: no match (table-miss: drop)` });
        walk.res.dropReason ??= `table ${tableId} miss`;
        pass.halted = true;
        return;
      }
      cf.packets++;
      cf.bytes += pass.pkt.sizeBytes;
      const ins: Flow["instructions"] = cf.flow.instructions;
      if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'lookup', table: tableId, flow: cf.flow, text: `table ${tableId}: priority ${cf.flow.priority}` });
      if (!ins.apply?.length && !ins.write?.length && ins.gotoTable === undefined && pass.actionSet.size === 0) {
        // an explicit drop flow: say which one, the most useful fact in a trace of a lost packet
        if (walk.res.dropReason === undefined) {
          let m = '';
          try {
            m = ofctlMatchText(cf.flow.match);
          } catch {
            m = '';
          }
          walk.res.dropReason = `dropped by table ${tableId} priority ${cf.flow.priority}${m ? ` (${m})` : ''}`;
        }
      }
      if (ins.meter !== undefined && !this.meterPasses(walk, pass, ins.meter)) return;
      if (ins.apply) this.executeList(walk, pass, ins.apply, tableId);
      // exit: no further tables or resubmit levels, but the top level still runs the action set
      if (pass.halted && pass.exited && top) break;
      if (pass.halted) return;
      if (ins.clear) pass.actionSet.clear();
      if (ins.write) for (const a of ins.write) pass.actionSet.set(actionSetKey(a), a);
      if (ins.writeMetadata) {
        const md = pass.pkt.get('metadata');
        const { value, mask } = ins.writeMetadata;
        pass.pkt.set('metadata', (md & ~mask) | (value & mask));
        if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'action', text: `write_metadata:0x${value.toString(16)}/0x${mask.toString(16)}` });
      }
      if (ins.gotoTable !== undefined) {
        if (ins.gotoTable <= tableId) return this.drop(walk, pass, `goto_table ${ins.gotoTable} from table ${tableId} is not forward`);
        tableId = ins.gotoTable;
      } else tableId = undefined;
    }
    if (top && (!pass.halted || pass.exited) && pass.actionSet.size > 0) {
      const list = [...pass.actionSet.values()].sort((a, b) => (ACTION_SET_ORDER[a.type] ?? 3) - (ACTION_SET_ORDER[b.type] ?? 3));
      // a group in the action set takes precedence over an output (OF1.3 §5.10)
      const hasGroup = list.some((a) => a.type === 'group');
      const filtered = hasGroup ? list.filter((a) => a.type !== 'output') : list;
      if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'note', text: `action set: ${filtered.map(actionText).join(',')}` });
      pass.actionSet = new Map();
      if (pass.exited) pass.halted = pass.exited = false;
      this.executeList(walk, pass, filtered, -1);
    }
  }

  private meterPasses(walk: Walk, pass: Pass, meterId: number): boolean {
    const m = this.meters.get(meterId);
    if (!m) {
      this.drop(walk, pass, `meter ${meterId} does not exist`);
      return false;
    }
    const dt = Math.max(0, walk.nowUs - m.lastUs);
    m.lastUs = walk.nowUs;
    const bits = pass.pkt.sizeBytes * 8;
    let dropped = false;
    m.meter.bands.forEach((band, i) => {
      const cap = bandCapacity(m.meter, band);
      // rate kbps = rate bits per ms = rate/1000 bits per µs
      const refill = m.meter.unit === 'kbps' ? (band.rate / 1000) * dt : (band.rate / 1e6) * dt;
      const tokens = Math.min(cap, m.tokens[i]! + refill);
      const cost = m.meter.unit === 'kbps' ? bits : 1;
      if (tokens >= cost) m.tokens[i] = tokens - cost;
      else {
        m.tokens[i] = tokens;
        if (band.type === 'drop') dropped = true;
      }
    });
    if (dropped) {
      m.dropped++;
      if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'meter', text: `meter:${meterId} over rate: drop` });
      this.drop(walk, pass, `meter ${meterId} band drop`);
      return false;
    }
    m.passed++;
    if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'meter', text: `meter:${meterId} within rate` });
    return true;
  }

  /** execute an action list on `pass`; table is the current table (for resubmit's default) */
  private executeList(walk: Walk, pass: Pass, actions: readonly Action[], table: number): void {
    for (const a of actions) {
      if (pass.halted) return;
      this.execute(walk, pass, a, table);
    }
  }

  private execute(walk: Walk, pass: Pass, a: Action, table: number): void {
    const pkt = pass.pkt;
    const trace = walk.trace;
    const step = (text: string | (() => string)): void => {
      if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'action', text: typeof text === 'string' ? text : text() });
    };
    switch (a.type) {
      case 'output': {
        const inPort = pkt.u32(S.in_port);
        let port = a.port;
        if (port === OFPP.IN_PORT) port = inPort;
        else if (port === OFPP.CONTROLLER) {
          walk.res.toController.push(pkt.clone());
          if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'output', text: 'output:CONTROLLER (packet-in)' });
          return;
        } else if (port === OFPP.ALL || port === OFPP.FLOOD) {
          const ports = (this.opts.ports?.() ?? []).filter((p) => p !== inPort && (this.opts.isPortLive?.(p) ?? true));
          for (const p of ports) walk.res.outputs.push({ port: p, packet: pkt.clone() });
          if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'output', text: `output:${portName(a.port)} -> ports ${ports.join(',') || '(none)'}` });
          return;
        } else if (port === OFPP.LOCAL) {
          // the bridge's internal port: the node's own network stack
          if (inPort === OFPP.LOCAL) {
            step(() => 'output:LOCAL skipped: it is the ingress port (use IN_PORT)');
            return;
          }
          walk.res.outputs.push({ port, packet: pkt.clone() });
          if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'output', text: 'output:LOCAL' });
          return;
        } else if (port === OFPP.NORMAL || port === OFPP.TABLE || port >= OFPP.MAX) {
          step(() => `output:${portName(port)} is not modelled: packet not sent`);
          return;
        } else if (port === inPort) {
          // OVS never sends a packet back out of its ingress port unless told IN_PORT
          step(() => `output:${port} skipped: it is the ingress port (use IN_PORT)`);
          return;
        }
        walk.res.outputs.push({ port, packet: pkt.clone() });
        if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'output', text: `output:${portName(a.port)}${a.port === OFPP.IN_PORT ? ` (${port})` : ''}` });
        return;
      }
      case 'group':
        this.executeGroup(walk, pass, a.groupId, 0);
        return;
      case 'set_field': {
        let ww = setFieldCache.get(a);
        if (!ww) {
          ww = compileSetField(a.field, a.value, a.mask);
          setFieldCache.set(a, ww);
        }
        for (const w of ww) pkt.key[w.idx] = (pkt.key[w.idx]! & ~w.mask) | w.value;
        step(() => actionText(a));
        return;
      }
      case 'move':
        writeRef(pkt, a.dst, readRef(pkt, a.src));
        step(() => actionText(a));
        return;
      case 'push_vlan':
        pkt.set('vlan_vid', 0x1000n);
        step(() => actionText(a));
        return;
      case 'pop_vlan':
        pkt.set('vlan_vid', 0n);
        step(() => actionText(a));
        return;
      case 'dec_ttl':
        if (!pkt.isIp) {
          step('dec_ttl: not IP, no-op');
          return;
        }
        if (pkt.ttl <= 1) {
          // OVS: TTL 0 or 1 -> invalid_ttl: no controller id asks for it, so the packet is dropped
          this.drop(walk, pass, `dec_ttl: ttl ${pkt.ttl} expired`);
          walk.res.dropReason = `ttl expired`;
          return;
        }
        pkt.ttl--;
        step(() => `dec_ttl (ttl now ${pkt.ttl})`);
        return;
      case 'set_queue':
        step(() => actionText(a));
        return;
      case 'ct':
        this.executeCt(walk, pass, a);
        return;
      case 'ct_clear':
        pkt.set('ct_state', 0n);
        pkt.set('ct_zone', 0n);
        pkt.set('ct_mark', 0n);
        pkt.set('ct_label', 0n);
        step('ct_clear');
        return;
      case 'resubmit': {
        // the conntrack original-direction lookup is not modelled
        if (a.ct) throw new UnsupportedActionError(this.name, a);
        if (++walk.resubmits > MAX_RESUBMIT) return this.drop(walk, pass, `resubmit depth over ${MAX_RESUBMIT}`);
        const target = a.table ?? table;
        if (target < 0) return this.drop(walk, pass, 'resubmit without table from the action set');
        const savedInPort = pkt.key[S.in_port]!;
        if (a.port !== undefined && a.port !== OFPP.IN_PORT) pkt.key[S.in_port] = a.port;
        step(() => actionText(a));
        pass.depth++;
        const wasHalted = pass.halted;
        this.runPipeline(walk, pass, target, false);
        pass.depth--;
        // a miss inside a resubmit does not stop the caller's actions (OVS: nothing happens)
        if (!wasHalted && pass.halted && walk.res.dropReason?.endsWith('miss')) {
          pass.halted = false;
          walk.res.dropReason = undefined;
        }
        pkt.key[S.in_port] = savedInPort;
        return;
      }
      case 'note':
        return;
      case 'controller':
        // pause freezes the pipeline until the controller resumes it: not modelled
        if (a.pause) throw new UnsupportedActionError(this.name, a);
        walk.res.toController.push(pkt.clone());
        if (trace) walk.res.steps.push({ depth: pass.depth, kind: 'output', text: 'controller (packet-in)' });
        return;
      case 'exit':
        pass.halted = true;
        pass.exited = true;
        step('exit');
        return;
      case 'output_reg': {
        // output to the port number held in the field bits (max_len only matters to CONTROLLER)
        // OVS: a value above 16 bits outputs nothing; 0xff00.. are the reserved ports (OF1.0 numbering)
        const v = Number(readRef(pkt, a.src));
        if (v > 0xffff) {
          step(() => `${actionText(a)} = ${v}: not a port, nothing output`);
          return;
        }
        const port = v >= 0xff00 ? v + 0xffff0000 : v;
        step(() => `${actionText(a)} = ${portName(port)}`);
        this.execute(walk, pass, { type: 'output', port }, table);
        return;
      }
      case 'set_tunnel':
        pkt.set('tunnel_id', a.tunId);
        step(() => actionText(a));
        return;
      case 'fin_timeout':
      case 'sample':
        // no effect on the packet: the simulator keeps no flow timeouts and exports no IPFIX
        step(() => `${actionText(a)}: no effect on forwarding`);
        return;
      case 'multipath':
      case 'bundle':
      case 'learn':
        throw new UnsupportedActionError(this.name, a);
      case 'raw':
        step(() => `${actionText(a)}: not modelled, ignored`);
        return;
    }
  }

  private executeCt(walk: Walk, pass: Pass, a: Extract<Action, { type: 'ct' }>): void {
    const pkt = pass.pkt;
    const zone = a.zone === undefined ? 0 : typeof a.zone === 'number' ? a.zone : Number(readRef(pkt, a.zone));
    let mark: number | undefined;
    let label: bigint | undefined;
    for (const e of a.exec ?? []) {
      if (e.type === 'set_field' && e.field === 'ct_mark') mark = Number(e.value);
      if (e.type === 'set_field' && e.field === 'ct_label') label = e.value;
    }
    // the conntrack instance of the packet is a fork; the original goes on untracked
    const forked = pkt.clone();
    const r = this.conntrack.execute(forked, zone, { commit: !!a.commit, nat: a.nat, mark, label, nowUs: walk.nowUs });
    if (walk.trace) {
      let text = `${actionText(a)}: ${ctStateText(r.state)}`;
      if (r.committed) text += ', committed';
      if (r.natText) text += `, nat ${r.natText}`;
      walk.res.steps.push({ depth: pass.depth, kind: 'ct', text });
    }
    if (a.table === undefined) return;
    if (pass.recirc + 1 > MAX_RECIRC) return this.drop(walk, pass, 'recirculation depth exceeded');
    forked.key[S.ct_state] = r.state;
    forked.key[S.ct_zone] = zone;
    forked.key[S.ct_mark] = r.entry?.mark ?? 0;
    forked.set('ct_label', r.entry?.label ?? 0n);
    walk.pendingRecirc.push({
      pass: { pkt: forked, actionSet: new Map(pass.actionSet), depth: 0, halted: false, recirc: pass.recirc + 1 },
      table: a.table,
    });
  }

  private executeGroup(walk: Walk, pass: Pass, groupId: number, nesting: number): void {
    const g = this.groups.get(groupId);
    if (!g) return this.drop(walk, pass, `group ${groupId} does not exist`);
    if (nesting > 8) return this.drop(walk, pass, 'group chain too deep');
    const live = (b: Group['buckets'][number]): boolean =>
      (b.watchPort === undefined || b.watchPort === OFPP.ANY || (this.opts.isPortLive?.(b.watchPort) ?? true)) &&
      (b.watchGroup === undefined || b.watchGroup === 0xffffffff || this.groupLive(b.watchGroup, 0));
    let chosen: number[] = [];
    let why = '';
    switch (g.type) {
      case 'all':
        chosen = g.buckets.map((_, i) => i);
        why = 'all buckets';
        break;
      case 'indirect':
        chosen = g.buckets.length > 0 ? [0] : [];
        why = 'indirect';
        break;
      case 'ff': {
        const i = g.buckets.findIndex(live);
        chosen = i >= 0 ? [i] : [];
        why = i >= 0 ? `first live bucket (watch_port ${g.buckets[i]!.watchPort ?? '-'})` : 'no live bucket';
        break;
      }
      case 'select': {
        const cands = g.buckets.map((b, i) => ({ b, i })).filter(({ b }) => live(b) && (b.weight ?? 1) > 0);
        const total = cands.reduce((n, c) => n + (c.b.weight ?? 1), 0);
        if (total > 0) {
          const h = selectHash(pass.pkt);
          let x = h % total;
          for (const c of cands) {
            const w = c.b.weight ?? 1;
            if (x < w) {
              chosen = [c.i];
              break;
            }
            x -= w;
          }
          why = `hash 0x${h.toString(16).padStart(8, '0')} mod ${total}`;
        } else why = 'no live bucket';
        break;
      }
    }
    if (walk.trace) walk.res.steps.push({ depth: pass.depth, kind: 'group', text: `group:${groupId} (${g.type}): ${why}${chosen.length ? ` -> bucket ${chosen.join(',')}` : ''}` });
    if (chosen.length === 0) {
      walk.res.dropReason ??= `group ${groupId}: no live bucket`;
      return;
    }
    for (const i of chosen) {
      // buckets act on a copy of the packet: what one bucket changes, the next does not see
      const sub: Pass = { pkt: pass.pkt.clone(), actionSet: pass.actionSet, depth: pass.depth + 1, halted: false, recirc: pass.recirc };
      for (const act of g.buckets[i]!.actions) {
        if (sub.halted) break;
        if (act.type === 'group') this.executeGroup(walk, sub, act.groupId, nesting + 1);
        else this.execute(walk, sub, act, -1);
      }
    }
  }

  private groupLive(groupId: number, nesting: number): boolean {
    const g = this.groups.get(groupId);
    if (!g || nesting > 8) return false;
    return g.buckets.some(
      (b) =>
        (b.watchPort === undefined || b.watchPort === OFPP.ANY || (this.opts.isPortLive?.(b.watchPort) ?? true)) &&
        (b.watchGroup === undefined || b.watchGroup === 0xffffffff || this.groupLive(b.watchGroup, nesting + 1)),
    );
  }
}

function groupRefs(f: Flow): number[] {
  const out: number[] = [];
  for (const a of [...(f.instructions.apply ?? []), ...(f.instructions.write ?? [])]) if (a.type === 'group') out.push(a.groupId);
  return out;
}

function bandCapacity(meter: Meter, band: Meter['bands'][number]): number {
  if (meter.unit === 'kbps') return (band.burstSize > 0 ? band.burstSize : band.rate) * 1000;
  return band.burstSize > 0 ? band.burstSize : Math.max(1, band.rate);
}

function newMeterState(meter: Meter): MeterState {
  return { meter, tokens: meter.bands.map((b) => bandCapacity(meter, b)), lastUs: 0, dropped: 0, passed: 0 };
}

export function ctStateText(state: number): string {
  if (state === 0) return '-trk';
  const names: string[] = [];
  for (const [name, bit] of Object.entries(CT_STATE)) if (state & bit) names.push(`+${name}`);
  return names.join('');
}
