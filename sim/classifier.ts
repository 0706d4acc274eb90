/**
 * The per-table flow classifier: tuple space search, as Open vSwitch's classifier does it.
 * Flows are grouped into subtables by their mask (which words, which bits); each subtable is a hash
 * map from the masked key to its flows, sorted by priority. A lookup probes subtables in order of
 * their highest priority and stops as soon as no remaining subtable can beat the best match.
 *
 * Matches are compiled once to (word, mask, value) triples over the packet key (sim/packet.ts),
 * including the OpenFlow prerequisites of each field (tcp_dst implies eth_type=0x800, ip_proto=6),
 * exactly as `ovs-ofctl` adds them to a flow written as `tcp,tp_dst=80`.
 */
import { FIELDS, fullMask } from '../fabric/openflow/fields';
import type { FieldName, Flow, Match } from '../fabric/openflow/flow';
import { PacketKey, slotOf } from './packet';

export interface CompiledFlow {
  flow: Flow;
  /** identity within its table: priority and canonical match */
  id: string;
  slots: Int32Array;
  masks: Int32Array;
  values: Int32Array;
  packets: number;
  bytes: number;
  /** insertion order, for stable ties */
  seq: number;
}

/** canonical text of a match: fields sorted by name, value/mask in hex */
export function canonicalMatch(match: Match): string {
  return (Object.keys(match) as FieldName[])
    .sort()
    .map((name) => {
      const mv = match[name]!;
      return mv.mask === undefined || mv.mask === fullMask(name)
        ? `${name}=${mv.value.toString(16)}`
        : `${name}=${mv.value.toString(16)}/${mv.mask.toString(16)}`;
    })
    .join(',');
}

export function flowId(flow: Flow): string {
  return `${flow.priority}|${canonicalMatch(flow.match)}`;
}

/** (word index -> [mask, value]) of a match with its prerequisites */
function compileMatch(match: Match): Map<number, [number, number]> {
  const words = new Map<number, [number, number]>();
  const put = (field: FieldName, value: bigint, mask: bigint | undefined): void => {
    const slot = slotOf(field);
    const full = fullMask(field);
    const m = mask === undefined ? full : mask & full;
    for (let i = slot.words - 1, v = value & m, mm = m; i >= 0; i--, v >>= 32n, mm >>= 32n) {
      const wm = Number(mm & 0xffffffffn) | 0;
      if (wm === 0) continue;
      const wv = Number(v & 0xffffffffn) & wm;
      const idx = slot.offset + i;
      // every field has words of its own, and prerequisites only fill fields the flow leaves open
      words.set(idx, [wm, wv]);
    }
  };
  for (const name of Object.keys(match) as FieldName[]) {
    const mv = match[name]!;
    put(name, mv.value, mv.mask);
  }
  for (const name of Object.keys(match) as FieldName[]) {
    for (const pre of FIELDS.get(name)?.prerequisites ?? []) {
      if (match[pre.field] === undefined && pre.values.length === 1) put(pre.field, pre.values[0]!, undefined);
    }
  }
  return words;
}

export function compileFlow(flow: Flow, seq: number): CompiledFlow {
  const words = [...compileMatch(flow.match).entries()].sort((a, b) => a[0] - b[0]);
  return {
    flow,
    id: flowId(flow),
    slots: Int32Array.from(words.map((w) => w[0])),
    masks: Int32Array.from(words.map((w) => w[1][0])),
    values: Int32Array.from(words.map((w) => w[1][1])),
    packets: 0,
    bytes: 0,
    seq,
  };
}

interface Subtable {
  signature: string;
  slots: Int32Array;
  masks: Int32Array;
  maxPriority: number;
  buckets: Map<number, CompiledFlow[]>;
}

function hashMasked(key: PacketKey, slots: Int32Array, masks: Int32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < slots.length; i++) {
    h = Math.imul(h ^ (key[slots[i]!]! & masks[i]!), 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

function hashValues(values: Int32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < values.length; i++) {
    h = Math.imul(h ^ values[i]!, 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

export class FlowTable {
  private flows = new Map<string, CompiledFlow>();
  private subtables: Subtable[] = [];
  private dirty = false;
  /** lookups done (all tables of a switch share a counter in SimSwitch) */
  lookups = 0;

  get size(): number {
    return this.flows.size;
  }

  get(id: string): CompiledFlow | undefined {
    return this.flows.get(id);
  }

  /** insert or replace (same priority and match) */
  put(cf: CompiledFlow): void {
    this.flows.set(cf.id, cf);
    this.dirty = true;
  }

  delete(id: string): boolean {
    const had = this.flows.delete(id);
    if (had) this.dirty = true;
    return had;
  }

  all(): CompiledFlow[] {
    return [...this.flows.values()];
  }

  private rebuild(): void {
    const bySig = new Map<string, Subtable>();
    const ordered = [...this.flows.values()].sort((a, b) => b.flow.priority - a.flow.priority || a.seq - b.seq);
    for (const cf of ordered) {
      let sig = '';
      for (let i = 0; i < cf.slots.length; i++) sig += `${cf.slots[i]}:${cf.masks[i]},`;
      let st = bySig.get(sig);
      if (!st) {
        st = { signature: sig, slots: cf.slots, masks: cf.masks, maxPriority: cf.flow.priority, buckets: new Map() };
        bySig.set(sig, st);
      }
      const h = hashValues(cf.values);
      const list = st.buckets.get(h);
      if (list) list.push(cf);
      else st.buckets.set(h, [cf]);
    }
    this.subtables = [...bySig.values()].sort(
      (a, b) => b.maxPriority - a.maxPriority || (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0),
    );
    this.dirty = false;
  }

  /** the highest-priority flow matching the key, or undefined (table miss) */
  lookup(key: PacketKey): CompiledFlow | undefined {
    if (this.dirty) this.rebuild();
    this.lookups++;
    let best: CompiledFlow | undefined;
    for (const st of this.subtables) {
      if (best && st.maxPriority <= best.flow.priority) break;
      const list = st.buckets.get(hashMasked(key, st.slots, st.masks));
      if (!list) continue;
      for (const cf of list) {
        if (best && cf.flow.priority <= best.flow.priority) break;
        let ok = true;
        for (let i = 0; i < cf.slots.length; i++) {
          if ((key[cf.slots[i]!]! & cf.masks[i]!) !== cf.values[i]) {
            ok = false;
            break;
          }
        }
        if (ok) {
          best = cf;
          break;
        }
      }
    }
    return best;
  }
}
