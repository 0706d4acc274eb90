/**
 * The lab's links as capacity-limited, counted link directions: shaping each direction of every
 * switch-to-switch veth to its capacity (scaled) with a kernel qdisc on the OVS-side veth end, and
 * reading the bytes each direction carried. Removing the shaping again is the caller's `finally`.
 *
 * Why a qdisc on the OVS side: the userspace (netdev) datapath sends on a veth through an AF_PACKET
 * socket, and those sends pass the interface's egress qdisc (measured here: an htb/tbf at 100 Mbit/s on
 * node1's uplink end holds iperf3 to 95 Mbit/s of TCP goodput, 100 Mbit/s on the wire). So the end in the
 * sending switch's namespace shapes the direction "its switch -> the other switch", and its tx_bytes
 * counter is what that direction carried (after the shaper: what the shaper dropped is not counted).
 *
 * Sharing discipline: htb with one class per demand (matched on destination address and port, which
 * the measurement makes unique per demand; in overlay mode also on the inner headers of the
 * encapsulated packets) plus a default class, all borrowing the whole link, so a
 * link shares itself max-min fairly among the demands crossing it (htb's DRR over equal quanta), as
 * the simulator's links do. A plain FIFO (tbf) gives TCP flows through it shares 15 % apart over a few
 * seconds on this machine, which is TCP's noise, not the fabric's. The kernel here has htb, tbf, bfifo
 * and the u32 classifier (no fq/sfq/fq_codel, no flower).
 */
import type { ClusterState } from '../../topology/types';
import { LabError } from './errors';
import { inNs } from './exec';
import type { Lab } from './lab';

/** One direction of a link between two switches, as the lab built it. */
export interface LinkDirection {
  /** "from->to", the simulator's directed link id */
  id: string;
  /** the state's link id (the undirected link) */
  linkId: string;
  from: string;
  to: string;
  /** namespace of the sending end (the OVS running `from`'s bridge) */
  ns: string;
  /** the sending end's veth, where the shaper sits and tx bytes are counted */
  iface: string;
  capacityGbps: number;
  up: boolean;
}

/** A demand's packets as a link classifier sees them in the lab. */
export interface FlowClass {
  /** destination IPv4 address on the wire (the pod or external host that receives) */
  dstIp: string;
  /** destination TCP port on the wire */
  dstPort: number;
}

/** Both directions of every link of the state that the lab built. */
export function linkDirections(lab: Lab, state: ClusterState): LinkDirection[] {
  const out: LinkDirection[] = [];
  for (const link of state.links.values()) {
    const l = lab.record.links[link.id];
    if (!l) throw new LabError(`Lab: link ${link.id} of the state is not in the lab`);
    for (const [s, r] of [
      [l.a, l.b],
      [l.b, l.a],
    ]) {
      out.push({ id: `${s.switch}->${r.switch}`, linkId: link.id, from: s.switch, to: r.switch, ns: lab.nsFor(s.switch), iface: s.iface, capacityGbps: link.gbps, up: link.up !== false });
    }
  }
  return out;
}

/** Run tc commands in batch mode, one process per namespace (a lab may have 100s of commands). */
function tcBatch(commands: Map<string, string[]>, force: boolean): string[] {
  const problems: string[] = [];
  for (const [ns, lines] of commands) {
    if (lines.length === 0) continue;
    const r = inNs(ns, 'tc', [...(force ? ['-force'] : []), '-batch', '-'], { input: lines.join('\n') + '\n', timeoutMs: 30_000 });
    if (r.status !== 0) problems.push(`${ns}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  }
  return problems;
}

function perNs(dirs: readonly LinkDirection[], lines: (d: LinkDirection) => string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of dirs) out.set(d.ns, [...(out.get(d.ns) ?? []), ...lines(d)]);
  return out;
}

/** tc's rate syntax in bit/s (integers: tc rounds anything else its own way). */
function rateArg(bps: number): string {
  return `${Math.max(8, Math.round(bps))}bit`;
}

/** Frame size the quanta are based on: one full Ethernet frame ... */
const QUANTUM_BYTES = 1514;
/**
 * ... or, with userspace TSO, one segmentation-offload packet (up to 64 KiB reaches the qdisc whole,
 * cut into frames only after it): a smaller quantum or FIFO starves the flows that send them.
 */
const GSO_QUANTUM_BYTES = 65536;

/**
 * u32 matches on the inner headers of an encapsulated packet (offsets from the outer IPv4 header,
 * which OVS sends without options): outer UDP to the tunnel port, then the inner IPv4 destination and
 * TCP destination port behind UDP (8) + VXLAN or option-less Geneve (8) + inner Ethernet (14) and an
 * option-less inner IPv4 header (20). OVS's flow-based tunnel ports here send no Geneve options.
 */
function innerMatch(encap: 'vxlan' | 'geneve', c: FlowClass): string {
  const udpPort = encap === 'vxlan' ? 4789 : 6081;
  const inner = 20 + 8 + 8 + 14;
  const [a, b, c3, d] = c.dstIp.split('.').map(Number);
  // the inner address sits at offset 66: not 4-byte aligned, which u32's 32-bit match requires
  return `match ip protocol 17 0xff match ip dport ${udpPort} 0xffff match u16 ${a * 256 + b} 0xffff at ${inner + 16} match u16 ${c3 * 256 + d} 0xffff at ${inner + 18} match u16 ${c.dstPort} 0xffff at ${inner + 20 + 2}`;
}

/**
 * Shape every given direction to capacityGbps × scale: htb root class at that rate, one class per
 * flow class (demand) and a default class (ACKs, anything else), each guaranteed an equal part and
 * allowed to borrow the whole link; every leaf has a byte FIFO of ~30 ms at the link rate.
 * Replaces whatever root qdisc the interface had (the lab's veths have none: noqueue).
 */
export function shapeLinks(dirs: readonly LinkDirection[], scale: number, classes: readonly FlowClass[], options: { encap?: 'vxlan' | 'geneve'; tso?: boolean } = {}): void {
  const { encap } = options;
  const quantum = options.tso ? GSO_QUANTUM_BYTES : QUANTUM_BYTES;
  const commands = perNs(dirs, (d) => {
    const bps = d.capacityGbps * 1e9 * scale;
    const parts = classes.length + 1;
    const fifoBytes = Math.max(8 * quantum, Math.round((bps / 8) * 0.03));
    const lines = [
      `qdisc replace dev ${d.iface} root handle 1: htb default ffff`,
      `class add dev ${d.iface} parent 1: classid 1:1 htb rate ${rateArg(bps)} ceil ${rateArg(bps)} quantum ${quantum}`,
    ];
    const leaf = (classid: string): void => {
      lines.push(`class add dev ${d.iface} parent 1:1 classid ${classid} htb rate ${rateArg(bps / parts)} ceil ${rateArg(bps)} quantum ${quantum}`);
      lines.push(`qdisc add dev ${d.iface} parent ${classid} bfifo limit ${fifoBytes}`);
    };
    leaf('1:ffff');
    classes.forEach((c, i) => {
      const classid = `1:${(0x10 + i).toString(16)}`;
      leaf(classid);
      lines.push(`filter add dev ${d.iface} parent 1: protocol ip prio 1 u32 match ip dst ${c.dstIp}/32 match ip dport ${c.dstPort} 0xffff flowid ${classid}`);
      if (encap) lines.push(`filter add dev ${d.iface} parent 1: protocol ip prio 2 u32 ${innerMatch(encap, c)} flowid ${classid}`);
    });
    return lines;
  });
  const problems = tcBatch(commands, false);
  if (problems.length > 0) throw new LabError(`Lab: shaping links with tc failed: ${problems.join('; ')}`, 1);
}

/** Remove the shaping (back to the veth's default: no queue). Never throws: it runs in `finally`; returns what failed. */
export function unshapeLinks(dirs: readonly LinkDirection[]): string[] {
  // -force: go on after an interface that had nothing installed (a failure half-way through shaping)
  return tcBatch(perNs(dirs, (d) => [`qdisc del dev ${d.iface} root`]), true).filter((p) => !/No such file|Cannot find|handle of zero/.test(p));
}

/** tc's printed rate (`100Mbit`, `1.5Gbit`, `800Kbit`, `96bit`) in bit/s. */
function parseTcRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)bit$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'K' | 'M' | 'G'];
}

/**
 * The shaping as the kernel holds it, per direction: the root htb class's rate (bit/s, as tc prints
 * it, rounded to its units) and the number of per-demand classes; undefined where no htb is installed.
 */
export function readShaping(dirs: readonly LinkDirection[]): Map<string, { rateBps: number; demandClasses: number } | undefined> {
  const out = new Map<string, { rateBps: number; demandClasses: number } | undefined>();
  for (const d of dirs) {
    const r = inNs(d.ns, 'tc', ['class', 'show', 'dev', d.iface]);
    const root = /class htb 1:1 root .*?\brate (\S+)/.exec(r.stdout);
    const rateBps = root ? parseTcRate(root[1]) : undefined;
    const demandClasses = [...r.stdout.matchAll(/class htb 1:([0-9a-f]+) parent 1:1 /g)].filter((c) => c[1] !== 'ffff').length;
    out.set(d.id, rateBps === undefined ? undefined : { rateBps, demandClasses });
  }
  return out;
}

/**
 * Bytes each demand's htb class sent on each shaped direction (`tc -s class show`: class 1:(0x10+i)
 * is the i-th flow class given to shapeLinks), keyed by direction id. Which links a demand crossed,
 * whatever its rate: a flow that crossed a link has its bytes in that link's class.
 */
export function readClassBytes(dirs: readonly LinkDirection[], classes: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const d of dirs) {
    if (!d.up) continue;
    const r = inNs(d.ns, 'tc', ['-s', 'class', 'show', 'dev', d.iface]);
    const bytes = new Array<number>(classes).fill(0);
    for (const m of r.stdout.matchAll(/class htb 1:([0-9a-f]+) parent[^\n]*\n\s*Sent (\d+) bytes/g)) {
      const i = parseInt(m[1], 16) - 0x10;
      if (i >= 0 && i < classes) bytes[i] = Number(m[2]);
    }
    out.set(d.id, bytes);
  }
  return out;
}

/** Bytes sent so far on each direction's sending end (one `cat` per namespace), keyed by direction id. */
export function readTxBytes(dirs: readonly LinkDirection[]): Map<string, number> {
  const out = new Map<string, number>();
  const byNs = new Map<string, LinkDirection[]>();
  for (const d of dirs) byNs.set(d.ns, [...(byNs.get(d.ns) ?? []), d]);
  for (const [ns, list] of byNs) {
    const r = inNs(ns, 'cat', list.map((d) => `/sys/class/net/${d.iface}/statistics/tx_bytes`));
    const values = r.stdout.trim().split('\n');
    if (r.status !== 0 || values.length !== list.length) throw new LabError(`Lab: reading tx_bytes in ${ns} failed: ${r.stderr.trim()}`, 1);
    list.forEach((d, i) => out.set(d.id, Number(values[i])));
  }
  return out;
}
