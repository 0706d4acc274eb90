/**
 * Node-local IPAM of `fabric cni`: one file per allocated address, `<dataDir>/<node>/ip-<A.B.C.D>.json`,
 * holding the attachment that owns it (network, container id, interface, pod name, host interface,
 * phase). Keyed by node, not by network: two networks of one node share its block. Persistent
 * (plain files: a reboot or a crash keeps them) and safe under concurrent ADDs without a lock: a
 * record is written complete to a private temporary file and then hard-linked to its address's name,
 * and link(2) fails with EEXIST when the name exists, so two processes can never own one address and
 * no reader ever sees a half-written record. The record is the first thing ADD does, so whatever an
 * ADD killed half-way did is findable by container id (DEL) or by its absence from the runtime's
 * list (GC). `last` holds the address allocated last (a hint: the next search starts after it, so a
 * freed address is not handed out again at once).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CniCode, CniError, intToIp, ipToInt, poolOf, Subnet } from './protocol';

export interface Allocation {
  ip: string;
  /** the CNI network (conflist name) that made it: GC of one network leaves the others' alone */
  network: string;
  containerId: string;
  ifname: string;
  /** the pod's name in the controller */
  podName: string;
  /** host side veth (and OVS port) name */
  hostIface: string;
  netns?: string;
  /** 'allocated': recorded, attach under way (or died half-way); 'ready': ADD completed */
  phase: 'allocated' | 'ready';
  /** the pod's OpenFlow port, once attached */
  port?: number;
  /** the pod was announced to the controller (DEL must withdraw it) */
  announced?: boolean;
  createdAt: string;
  /** the process that allocated it */
  pid: number;
}

const RECORD = /^ip-(\d+\.\d+\.\d+\.\d+)\.json$/;
const TMP_PREFIX = '.tmp-';

export class NodeIpam {
  readonly dir: string;
  constructor(
    dataDir: string,
    /** one directory per node block (every network of the node shares its addresses) */
    node: string,
    readonly subnet: Subnet,
  ) {
    this.dir = path.join(dataDir, node);
  }

  private file(ip: string): string {
    return path.join(this.dir, `ip-${ip}.json`);
  }

  private writeTmp(a: Allocation): string {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const tmp = path.join(this.dir, `${TMP_PREFIX}${process.pid}-${Math.random().toString(16).slice(2)}`);
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, JSON.stringify(a) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return tmp;
  }

  /**
   * Give the attachment an address: its existing record if it has one (a repeated ADD), else the first
   * free address after the last one handed out, skipping `exclude` (addresses the controller gave pods
   * of the scenario itself). Throws CniError 102 when the block is full.
   */
  allocate(a: Omit<Allocation, 'ip' | 'phase' | 'createdAt' | 'pid'>, exclude: ReadonlySet<string> = new Set()): Allocation {
    const existing = this.find(a.containerId, a.ifname);
    if (existing) return existing;
    const { first, last } = poolOf(this.subnet);
    const size = last - first + 1;
    let start = first;
    try {
      const hint = ipToInt(fs.readFileSync(path.join(this.dir, 'last'), 'utf8').trim());
      if (hint >= first && hint <= last) start = hint + 1 > last ? first : hint + 1;
    } catch {
      /* no hint yet */
    }
    const record: Allocation = { ...a, ip: '', phase: 'allocated', createdAt: new Date().toISOString(), pid: process.pid };
    for (let i = 0; i < size; i++) {
      const n = first + ((start - first + i) % size);
      const ip = intToIp(n);
      if (exclude.has(ip) || fs.existsSync(this.file(ip))) continue;
      record.ip = ip;
      const tmp = this.writeTmp(record);
      try {
        fs.linkSync(tmp, this.file(ip));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another ADD took it meanwhile
        throw err;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      try {
        fs.writeFileSync(path.join(this.dir, 'last'), `${ip}\n`);
      } catch {
        /* only a hint */
      }
      return record;
    }
    throw new CniError(CniCode.ipamExhausted, `no free address in ${intToIp(this.subnet.network)}/${this.subnet.prefix}`, `${size} addresses, all allocated (${this.dir})`);
  }

  /** Replace the record of an address we own (atomically: rename of a complete file). */
  update(a: Allocation): void {
    const cur = this.read(a.ip);
    if (!cur || cur.containerId !== a.containerId || cur.ifname !== a.ifname) throw new CniError(CniCode.ioFailure, `IPAM: ${a.ip} is no longer allocated to ${a.containerId}/${a.ifname}`);
    const tmp = this.writeTmp(a);
    fs.renameSync(tmp, this.file(a.ip));
  }

  read(ip: string): Allocation | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(ip), 'utf8')) as Allocation;
    } catch {
      return undefined;
    }
  }

  /** Every record (a file that does not parse is skipped: it cannot exist, records are linked complete). */
  list(): Allocation[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: Allocation[] = [];
    for (const n of names) {
      const m = RECORD.exec(n);
      if (!m) continue;
      const a = this.read(m[1]);
      if (a) out.push(a);
    }
    return out.sort((x, y) => ipToInt(x.ip) - ipToInt(y.ip));
  }

  find(containerId: string, ifname: string): Allocation | undefined {
    return this.list().find((a) => a.containerId === containerId && a.ifname === ifname);
  }

  /** Free the attachment's address(es); returns what was freed (nothing: not an error). */
  release(containerId: string, ifname: string): Allocation[] {
    const freed: Allocation[] = [];
    for (const a of this.list()) {
      if (a.containerId !== containerId || a.ifname !== ifname) continue;
      fs.rmSync(this.file(a.ip), { force: true });
      freed.push(a);
    }
    return freed;
  }

  /** Temporary files left by a process killed between writing and linking (its pid gone). */
  removeStaleTemps(): number {
    let n = 0;
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
      if (pid === process.pid || pidAlive(pid)) continue;
      fs.rmSync(path.join(this.dir, name), { force: true });
      n++;
    }
    return n;
  }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
