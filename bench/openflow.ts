/**
 * OpenFlow codec and channel benchmark:
 *  - encode / decode throughput (messages/s) of a FLOW_MOD with 4 match fields and 3 actions;
 *  - encode / decode of a flow-stats reply of 100,000 flows (cut in multipart parts of < 64 KiB);
 *  - installing 100,000 /24-route flows into a real OVS 3.1 (dummy datapath) through our channel
 *    (one bundle), beside `ovs-ofctl --bundle add-flows` of the same flows into the same kind of
 *    bridge, in one run. Prints tables and writes bench/results/openflow.json. Never asserts a time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/openflow.js [--flows N] [--runs R]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import {
  BufferWriter,
  OpenFlowServer,
  decodeMessage,
  encodeInto,
  encodeMessage,
  mergeMultipartReplies,
  type Flow,
  type FlowStats,
  type MultipartReply,
  type OfpMessage,
  type SwitchOp,
} from '../fabric/openflow';
import { mgmt, startPrivateOvs } from '../test/support/ovs';
import { BenchResult, measure, printTable, ratioOf, ratiosTable, record, writeResults } from './harness';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const FLOWS = arg('--flows', 100_000);
const RUNS = arg('--runs', 3);

/** the i-th route: 10.((i>>8)&255).(i&255).0/24 in table i>>16 (10/8 holds 65,536 /24s), to port 1 + i % 4 */
function routeFlow(i: number): Flow {
  return {
    table: i >> 16,
    priority: 100,
    cookie: 0x0001_0000_0000_0000n + BigInt(i),
    match: { eth_type: { value: 0x0800n }, ipv4_dst: { value: BigInt(((10 << 24) | ((i & 0xffff) << 8)) >>> 0), mask: 0xffffff00n } },
    instructions: { apply: [{ type: 'set_field', field: 'eth_dst', value: 0x0a580a000001n + BigInt(i) }, { type: 'output', port: 1 + (i % 4) }] },
  };
}

function routeText(i: number): string {
  const mac = (0x0a580a000001 + i).toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
  return `table=${i >> 16},priority=100,cookie=0x${(0x0001_0000_0000_0000n + BigInt(i)).toString(16)},ip,nw_dst=10.${(i >> 8) & 255}.${i & 255}.0/24,actions=set_field:${mac}->eth_dst,output:${1 + (i % 4)}`;
}

/** the benchmark FLOW_MOD: 4 match fields, 3 actions */
const benchFlowMod: OfpMessage = {
  type: 'flow_mod',
  xid: 7,
  command: 'add',
  flow: {
    table: 3,
    priority: 200,
    cookie: 0x1234n,
    match: { eth_type: { value: 0x0800n }, ip_proto: { value: 6n }, ipv4_dst: { value: 0x0af40100n, mask: 0xffffff00n }, tcp_dst: { value: 80n } },
    instructions: { apply: [{ type: 'set_field', field: 'eth_dst', value: 0x0a580af40102n }, { type: 'dec_ttl' }, { type: 'output', port: 3 }] },
  },
};

function codecBenches(): Promise<BenchResult[]> {
  const N = 200_000;
  const bytes = encodeMessage(benchFlowMod);
  const w = new BufferWriter(1 << 20);
  return (async () => {
    const results: BenchResult[] = [];
    results.push(
      await measure('FLOW_MOD encode (4 matches, 3 actions), into a reused writer', 'msgs/s', () => {
        const t = performance.now();
        for (let i = 0; i < N; i++) {
          encodeInto(w, benchFlowMod);
          if (w.offset > 1 << 19) w.reset();
        }
        w.reset();
        return N / ((performance.now() - t) / 1000);
      }, { runs: RUNS + 2, warmup: 1, notes: `${bytes.length} bytes each` }),
    );
    results.push(
      await measure('FLOW_MOD encode, a new Buffer each (encodeMessage)', 'msgs/s', () => {
        const t = performance.now();
        for (let i = 0; i < N; i++) encodeMessage(benchFlowMod);
        return N / ((performance.now() - t) / 1000);
      }, { runs: RUNS + 2, warmup: 1 }),
    );
    results.push(
      await measure('FLOW_MOD decode (4 matches, 3 actions)', 'msgs/s', () => {
        const t = performance.now();
        for (let i = 0; i < N; i++) decodeMessage(bytes);
        return N / ((performance.now() - t) / 1000);
      }, { runs: RUNS + 2, warmup: 1 }),
    );

    // flow-stats reply of FLOWS flows, in multipart parts below 64 KiB
    const stats: FlowStats[] = Array.from({ length: FLOWS }, (_, i) => ({ flow: routeFlow(i), durationSec: 10, durationNsec: 0, packetCount: BigInt(i), byteCount: BigInt(i * 100) }));
    const perPart = 500; // 500 × ~104 bytes ≈ 52 KB
    const parts: MultipartReply[] = [];
    for (let i = 0; i < FLOWS; i += perPart) {
      parts.push({ type: 'multipart_reply', xid: 9, flags: i + perPart < FLOWS ? 1 : 0, body: { kind: 'flow', flows: stats.slice(i, i + perPart) } });
    }
    let frames: Buffer[] = [];
    results.push(
      await measure(`flow-stats reply of ${FLOWS.toLocaleString('en-US')} flows: encode`, 'flows/s', () => {
        const t = performance.now();
        const big = new BufferWriter(16 << 20);
        const offsets: number[] = [];
        for (const p of parts) {
          offsets.push(big.offset);
          encodeInto(big, p);
        }
        const all = big.flush();
        frames = offsets.map((o, i) => all.subarray(o, offsets[i + 1] ?? all.length));
        return FLOWS / ((performance.now() - t) / 1000);
      }, { runs: RUNS, warmup: 1, notes: `${parts.length} parts` }),
    );
    results.push(
      await measure(`flow-stats reply of ${FLOWS.toLocaleString('en-US')} flows: decode + reassemble`, 'flows/s', () => {
        const t = performance.now();
        const decoded = frames.map((f) => decodeMessage(f) as MultipartReply);
        const body = mergeMultipartReplies(decoded);
        if (body.kind !== 'flow' || body.flows.length !== FLOWS) throw new Error('bench: reassembly lost flows');
        return FLOWS / ((performance.now() - t) / 1000);
      }, { runs: RUNS, warmup: 1 }),
    );
    return results;
  })();
}

async function installBenches(): Promise<{ results: BenchResult[]; ours: BenchResult; ofctl: BenchResult }> {
  const ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  const server = await OpenFlowServer.listen({ listen: 'tcp:0:127.0.0.1', requestTimeoutMs: 600_000 });
  try {
    const ports = (br: string): string[] =>
      [1, 2, 3, 4].flatMap((p) => ['--', 'add-port', br, `${br}p${p}`, '--', 'set', 'interface', `${br}p${p}`, 'type=dummy', `ofport_request=${p}`]);
    ovs.vsctl(
      'add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure',
      ...ports('br0'),
      '--', 'set-controller', 'br0', `tcp:127.0.0.1:${server.port}`,
      '--', 'add-br', 'br1', '--', 'set', 'bridge', 'br1', 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure',
      ...ports('br1'),
    );
    const sw = await server.waitForSwitch(30_000);
    const ops: SwitchOp[] = Array.from({ length: FLOWS }, (_, i) => ({ op: 'add-flow', flow: routeFlow(i) }));
    const file = path.join(ovs.dir, 'routes.txt');
    fs.writeFileSync(file, Array.from({ length: FLOWS }, (_, i) => routeText(i)).join('\n') + '\n');

    const count = async (): Promise<number> => {
      const body = await sw.multipart({ kind: 'aggregate', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} });
      return body.kind === 'aggregate' ? body.stats.flowCount : -1;
    };
    const ours = await measure(`install ${FLOWS.toLocaleString('en-US')} /24 routes: fabric channel (bundle)`, 's', async () => {
      execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt(ovs, 'br0')], { env: ovs.env });
      const t = performance.now();
      await sw.send(ops);
      const s = (performance.now() - t) / 1000;
      const n = await count();
      if (n !== FLOWS) throw new Error(`bench: ${n} flows installed, expected ${FLOWS}`);
      return s;
    }, { runs: RUNS, notes: 'prebuilt SwitchOps → encode → bundle → commit reply' });
    const ofctl = await measure(`install ${FLOWS.toLocaleString('en-US')} /24 routes: ovs-ofctl --bundle add-flows`, 's', () => {
      execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'del-flows', mgmt(ovs, 'br1')], { env: ovs.env });
      const t = performance.now();
      execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', '--bundle', 'add-flows', mgmt(ovs, 'br1'), file], { env: ovs.env, maxBuffer: 1 << 26 });
      const s = (performance.now() - t) / 1000;
      const n = execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-aggregate', mgmt(ovs, 'br1')], { env: ovs.env, encoding: 'utf8' });
      if (!n.includes(`flow_count=${FLOWS}`)) throw new Error(`bench: ovs-ofctl installed ${n}`);
      return s;
    }, { runs: RUNS, notes: 'text file → ovs-ofctl (parse, encode, bundle) → commit' });
    const perSecond = (r: BenchResult, name: string): BenchResult =>
      record(name, 'flows/s', (r.samples ?? []).map((s) => FLOWS / s), r.notes);
    return {
      results: [ours, ofctl, perSecond(ours, 'install rate: fabric channel'), perSecond(ofctl, 'install rate: ovs-ofctl --bundle')],
      ours,
      ofctl,
    };
  } finally {
    await server.close();
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const codec = await codecBenches();
  printTable(codec);
  const install = await installBenches();
  printTable(install.results);
  const ratios = [ratioOf(`install ${FLOWS} flows (time)`, install.ours, install.ofctl, 'ovs-ofctl --bundle', 'lower')];
  process.stdout.write(ratiosTable(ratios) + '\n');
  const file = writeResults('openflow', [...codec, ...install.results], {
    ratios,
    notes: ['OVS 3.1 userspace, dummy datapath, one private ovs-vswitchd; both bridges in the same process', 'time of ours: from prebuilt SwitchOps to the bundle commit reply; ovs-ofctl: whole process from a text file'],
  });
  process.stdout.write(`wrote ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench openflow: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
