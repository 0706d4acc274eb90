/**
 * The node-local IPAM of `fabric cni` (fabric/cni/ipam.ts), without root: distinct addresses, the
 * `last` hint, exhaustion, records found and released by attachment, and the two properties ADD relies
 * on: never one address twice under concurrent allocations from many processes, and what a killed
 * allocation leaves behind is either a complete record (DEL/GC remove it) or a stale temporary file.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NodeIpam } from '../../fabric/cni/ipam';
import { CniCode, CniError, parseSubnet } from '../../fabric/cni/protocol';
import { buildPlugin } from './support';

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcni-ipam-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const att = (i: number) => ({ network: 'n', containerId: `c${i}`, ifname: 'eth0', podName: `p${i}`, hostIface: `fc${i}` });

test('sequential: distinct, skips .0/.1/broadcast, the hint moves on after a release, exhaustion is code 102', () => {
  const ipam = new NodeIpam(dir, 'seq', parseSubnet('10.244.7.0/29')); // pool .2-.6
  const got = [1, 2, 3].map((i) => ipam.allocate(att(i)).ip);
  expect(got).toEqual(['10.244.7.2', '10.244.7.3', '10.244.7.4']);
  // a repeated ADD of the same attachment keeps its address
  expect(ipam.allocate(att(2)).ip).toBe('10.244.7.3');
  expect(ipam.release('c2', 'eth0').map((a) => a.ip)).toEqual(['10.244.7.3']);
  expect(ipam.release('c2', 'eth0')).toEqual([]);
  // the freed .3 is not handed out at once: the search continues after the last one
  expect(ipam.allocate(att(4)).ip).toBe('10.244.7.5');
  expect(ipam.allocate(att(5)).ip).toBe('10.244.7.6');
  expect(ipam.allocate(att(6)).ip).toBe('10.244.7.3');
  let err: unknown;
  try {
    ipam.allocate(att(7));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CniError);
  expect((err as CniError).code).toBe(CniCode.ipamExhausted);
  // records are complete JSON with the attachment, and can be updated atomically
  const a = ipam.find('c4', 'eth0')!;
  expect(a).toMatchObject({ ip: '10.244.7.5', containerId: 'c4', ifname: 'eth0', podName: 'p4', hostIface: 'fc4', phase: 'allocated', pid: process.pid });
  ipam.update({ ...a, phase: 'ready', port: 101 });
  expect(ipam.find('c4', 'eth0')).toMatchObject({ phase: 'ready', port: 101 });
  expect(ipam.list().map((x) => x.ip)).toEqual(['10.244.7.2', '10.244.7.3', '10.244.7.4', '10.244.7.5', '10.244.7.6']);
});

test('addresses the controller gave its own pods are skipped', () => {
  const ipam = new NodeIpam(dir, 'excl', parseSubnet('10.244.8.0/24'));
  expect(ipam.allocate(att(1), new Set(['10.244.8.2', '10.244.8.3'])).ip).toBe('10.244.8.4');
  expect(ipam.allocate(att(2), new Set(['10.244.8.5'])).ip).toBe('10.244.8.6');
});

test('concurrent: 8 processes x 30 allocations in one /24 give 240 distinct addresses; then the block is full at 253', async () => {
  const main = buildPlugin(path.join(dir, 'build'));
  const ipamJs = path.join(path.dirname(main), 'ipam.js');
  const protoJs = path.join(path.dirname(main), 'protocol.js');
  const script = `
    const { NodeIpam } = require(${JSON.stringify(ipamJs)});
    const { parseSubnet } = require(${JSON.stringify(protoJs)});
    const ipam = new NodeIpam(${JSON.stringify(dir)}, 'conc', parseSubnet('10.244.9.0/24'));
    const w = Number(process.argv[1]);
    const out = [];
    for (let i = 0; i < Number(process.argv[2]); i++) {
      try { out.push(ipam.allocate({ network: 'n', containerId: process.argv[3] + w + '-' + i, ifname: 'eth0', podName: 'p', hostIface: 'x' }).ip); }
      catch (e) { out.push('ERR ' + e.code); }
    }
    process.stdout.write(JSON.stringify(out));`;
  const runWorkers = (n: number, each: number, prefix: string): Promise<string[][]> =>
    Promise.all(
      Array.from({ length: n }, (_, w) => new Promise<string[]>((resolve, reject) => execFile(process.execPath, ['-e', script, String(w), String(each), prefix], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as string[]))))),
    );
  const first = (await runWorkers(8, 30, 'a')).flat();
  expect(first).toHaveLength(240);
  expect(new Set(first).size).toBe(240);
  const ipam = new NodeIpam(dir, 'conc', parseSubnet('10.244.9.0/24'));
  expect(ipam.list()).toHaveLength(240);
  // owners on disk match what each process was told
  for (const a of ipam.list()) expect(first).toContain(a.ip);
  // 4 more processes race for the last 13 addresses: exactly 13 win, the rest get code 102
  const second = (await runWorkers(4, 10, 'b')).flat();
  expect(second.filter((x) => !x.startsWith('ERR'))).toHaveLength(13);
  expect(second.filter((x) => x === 'ERR 102')).toHaveLength(27);
  expect(new Set([...first, ...second.filter((x) => !x.startsWith('ERR'))]).size).toBe(253);
  expect(fs.readdirSync(ipam.dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
}, 60_000);

test('crash leftovers: a killed allocation leaves a complete record or a temporary file of a dead pid, which GC removes', async () => {
  const ipam = new NodeIpam(dir, 'crash', parseSubnet('10.244.10.0/24'));
  // a process that died between writing its temporary file and linking it
  const dead = await new Promise<number>((resolve) => {
    const c = execFile(process.execPath, ['-e', '0'], () => resolve(c.pid!));
  });
  fs.mkdirSync(ipam.dir, { recursive: true });
  fs.writeFileSync(path.join(ipam.dir, `.tmp-${dead}-abc`), '{"ip":"10.244.10.2"');
  // a process killed right after its record was linked: the record is complete and names the attachment
  const a = ipam.allocate(att(1));
  expect(ipam.list()).toEqual([a]);
  expect(ipam.removeStaleTemps()).toBe(1);
  expect(fs.readdirSync(ipam.dir).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  expect(ipam.release('c1', 'eth0')).toHaveLength(1);
  expect(ipam.list()).toEqual([]);
});
