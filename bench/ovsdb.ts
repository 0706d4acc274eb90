/**
 * OVSDB client benchmark: adding 1,000 ports to a bridge in one transaction and in 1,000 transactions,
 * side by side with ovs-vsctl doing the same against the same private ovsdb-server (no vswitchd, so the
 * figure is the database path alone); and monitor throughput: a Replica following 10,000 inserted and
 * then 10,000 modified rows, for update2 (monitor_cond) and update (monitor); and framing throughput:
 * JsonStreamReader on replies of 100,000 and 1,000,000 short keys (1.2 and 12 MB), beside JSON.parse of
 * the same text. Prints tables and writes bench/results/ovsdb.json. Never asserts a time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ovsdb.js
 *   node dist/bench/ovsdb.js framing      # the framing figures only (no OVS needed; prints, writes nothing)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { JsonStreamReader, Operation, OvsdbClient, Replica, namedUuid, op, set, setElements } from '../fabric/ovsdb';
import { ensureBridge, ensurePort, openVswitchReplica, removeBridge } from '../fabric/vswitch';
import { startPrivateOvs } from '../test/support/ovs';
import { startOvsdb } from '../test/ovsdb/servers';
import { BenchRatio, BenchResult, measure, printTable, ratioOf, ratiosTable, record, writeResults } from './harness';

const PORTS = 1000;
const VSCTL_SAMPLE = 100;
const MONITOR_ROWS = 10_000;

const portName = (i: number): string => `p${String(i).padStart(4, '0')}`;

/** Ops adding `count` internal ports in one transaction (what ensurePort writes, batched). */
function addPortsOps(bridge: string, count: number): Operation[] {
  const ops: Operation[] = [];
  const ports = [];
  for (let i = 0; i < count; i++) {
    ops.push(op.insert('Interface', { name: portName(i), type: 'internal', ofport_request: i + 1 }, `i${i}`));
    ops.push(op.insert('Port', { name: portName(i), interfaces: namedUuid(`i${i}`) }, `p${i}`));
    ports.push(namedUuid(`p${i}`));
  }
  ops.push(op.mutate('Bridge', [['name', '==', bridge]], [['ports', 'insert', set(...ports)]]));
  return ops;
}

async function portBench(results: BenchResult[], ratios: BenchRatio[], notes: string[]): Promise<void> {
  const ovs = await startPrivateOvs({ vswitchd: false });
  const client = await OvsdbClient.connect(ovs.dbUrl);
  const vsctl = (args: string[]): void => {
    execFileSync('ovs-vsctl', [`--db=${ovs.dbUrl}`, '--no-wait', ...args], { stdio: 'pipe', maxBuffer: 64 * 1024 * 1024 });
  };
  /** Not timed: every case must really have created the ports. */
  const expectPorts = async (count: number): Promise<void> => {
    const [bridges] = await client.transact('Open_vSwitch', op.select('Bridge', [['name', '==', 'br-bench']], ['ports']));
    const n = setElements(bridges.rows[0]?.ports).length;
    if (n !== count + 1) throw new Error(`bench ovsdb: br-bench has ${n - 1} ports, expected ${count}`);
  };
  const freshBridge = async (): Promise<void> => {
    await removeBridge(client, 'br-bench');
    await ensureBridge(client, { name: 'br-bench' });
  };
  try {
    const oursOne = await measure(`ours: ${PORTS} ports, 1 transaction`, 'ms', async (run) => {
      if (run >= 0) await freshBridge();
      const start = performance.now();
      await client.transact('Open_vSwitch', ...addPortsOps('br-bench', PORTS));
      const elapsedMs = performance.now() - start;
      await expectPorts(PORTS);
      return elapsedMs;
    }, { runs: 3 });
    const vsctlOne = await measure(`ovs-vsctl: ${PORTS} ports, 1 invocation (-- separators)`, 'ms', async () => {
      await freshBridge();
      const args: string[] = [];
      for (let i = 0; i < PORTS; i++) args.push('--', 'add-port', 'br-bench', portName(i), '--', 'set', 'Interface', portName(i), 'type=internal', `ofport_request=${i + 1}`);
      const start = performance.now();
      vsctl(args.slice(1));
      const elapsedMs = performance.now() - start;
      await expectPorts(PORTS);
      return elapsedMs;
    }, { runs: 3 });
    const oursMany = await measure(`ours: ${PORTS} ports, ensurePort each (1 read + 1 write transaction)`, 'ms', async () => {
      await freshBridge();
      const start = performance.now();
      for (let i = 0; i < PORTS; i++) await ensurePort(client, 'br-bench', { name: portName(i), type: 'internal', ofportRequest: i + 1 });
      const elapsedMs = performance.now() - start;
      await expectPorts(PORTS);
      return elapsedMs;
    }, { runs: 1 });
    const replica = await openVswitchReplica(client);
    const oursManyReplica = await measure(`ours: ${PORTS} ports, ensurePort each with a Replica (${PORTS} transactions)`, 'ms', async () => {
      await freshBridge();
      await replica.waitFor((r) => r.find('Bridge', (b) => b.name === 'br-bench').length === 1, 10_000);
      const start = performance.now();
      for (let i = 0; i < PORTS; i++) await ensurePort(client, 'br-bench', { name: portName(i), type: 'internal', ofportRequest: i + 1 }, { replica });
      const elapsedMs = performance.now() - start;
      await expectPorts(PORTS);
      return elapsedMs;
    }, { runs: 1 });
    await replica.cancel();
    const oursManyRaw = await measure(`ours: ${PORTS} ports, ${PORTS} write-only transactions`, 'ms', async () => {
      await freshBridge();
      const start = performance.now();
      for (let i = 0; i < PORTS; i++) {
        await client.transact(
          'Open_vSwitch',
          op.insert('Interface', { name: portName(i), type: 'internal', ofport_request: i + 1 }, 'i'),
          op.insert('Port', { name: portName(i), interfaces: namedUuid('i') }, 'p'),
          op.mutate('Bridge', [['name', '==', 'br-bench']], [['ports', 'insert', set(namedUuid('p'))]]),
        );
      }
      const elapsedMs = performance.now() - start;
      await expectPorts(PORTS);
      return elapsedMs;
    }, { runs: 1 });
    const idempotent = await measure(`ours: ensurePort re-run on ${PORTS} existing ports (no writes)`, 'ms', async () => {
      const start = performance.now();
      for (let i = 0; i < PORTS; i++) await ensurePort(client, 'br-bench', { name: portName(i), type: 'internal', ofportRequest: i + 1 });
      return performance.now() - start;
    }, { runs: 1 });
    const vsctlSampleMs = await measure(`ovs-vsctl: ${VSCTL_SAMPLE} invocations (1 port each)`, 'ms', async () => {
      await freshBridge();
      const start = performance.now();
      for (let i = 0; i < VSCTL_SAMPLE; i++) vsctl(['add-port', 'br-bench', portName(i), '--', 'set', 'Interface', portName(i), 'type=internal', `ofport_request=${i + 1}`]);
      const elapsedMs = performance.now() - start;
      await expectPorts(VSCTL_SAMPLE);
      return elapsedMs;
    }, { runs: 1 });
    const vsctlMany = record(
      `ovs-vsctl: ${PORTS} invocations (extrapolated ×${PORTS / VSCTL_SAMPLE} from ${VSCTL_SAMPLE})`,
      'ms',
      vsctlSampleMs.samples!.map((s) => (s * PORTS) / VSCTL_SAMPLE),
      'extrapolated',
    );
    results.push(oursOne, vsctlOne, oursMany, oursManyReplica, oursManyRaw, idempotent, vsctlSampleMs, vsctlMany);
    ratios.push(ratioOf(`${PORTS} ports in one transaction`, oursOne, vsctlOne, 'ovs-vsctl'));
    ratios.push(ratioOf(`${PORTS} ports one by one (read+write)`, oursMany, vsctlMany, 'ovs-vsctl'));
    ratios.push(ratioOf(`${PORTS} ports one by one (Replica, 1 txn each)`, oursManyReplica, vsctlMany, 'ovs-vsctl'));
    notes.push(
      `port figures: ovsdb-server only (no vswitchd), unix socket, OVS ${execFileSync('ovsdb-server', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`,
      `ovs-vsctl one-by-one is ${VSCTL_SAMPLE} invocations timed and multiplied by ${PORTS / VSCTL_SAMPLE}`,
    );
  } finally {
    await client.close();
    await ovs.stop();
  }
}

/** With a live ovs-vswitchd (dummy datapath): until vswitchd has given every port its ofport. */
async function vswitchdBench(results: BenchResult[], ratios: BenchRatio[], notes: string[]): Promise<void> {
  const ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  const client = await OvsdbClient.connect(ovs.dbUrl);
  const replica = await openVswitchReplica(client);
  const allNumbered = (r: Replica): boolean => {
    const ifaces = r.find('Interface', (row) => typeof row.name === 'string' && /^p\d{4}$/.test(row.name));
    return ifaces.length === PORTS && ifaces.every((row) => typeof row.ofport === 'number' && row.ofport > 0);
  };
  const freshBridge = async (): Promise<void> => {
    await removeBridge(client, 'br-live');
    await replica.waitFor((r) => r.find('Interface', (row) => /^p\d{4}$/.test(String(row.name))).length === 0, 60_000);
    await ensureBridge(client, { name: 'br-live', datapathType: 'dummy' });
  };
  try {
    const ours = await measure(`ours + vswitchd(dummy): ${PORTS} ports, 1 transaction, until all have ofports`, 'ms', async () => {
      await freshBridge();
      const start = performance.now();
      await client.transact('Open_vSwitch', ...addPortsOps('br-live', PORTS));
      await replica.waitFor(allNumbered, 120_000);
      return performance.now() - start;
    }, { runs: 2 });
    const theirs = await measure(`ovs-vsctl + vswitchd(dummy): ${PORTS} ports, 1 invocation (waits for vswitchd)`, 'ms', async () => {
      await freshBridge();
      const args: string[] = [];
      for (let i = 0; i < PORTS; i++) args.push('--', 'add-port', 'br-live', portName(i), '--', 'set', 'Interface', portName(i), 'type=internal', `ofport_request=${i + 1}`);
      const start = performance.now();
      execFileSync('ovs-vsctl', [`--db=${ovs.dbUrl}`, '--timeout=120', ...args.slice(1)], { stdio: 'pipe' });
      const elapsedMs = performance.now() - start;
      await replica.waitFor(allNumbered, 120_000); // not timed: proves the ports exist
      return elapsedMs;
    }, { runs: 2 });
    results.push(ours, theirs);
    ratios.push(ratioOf(`${PORTS} ports with vswitchd(dummy)`, ours, theirs, 'ovs-vsctl'));
    notes.push('vswitchd figures: ovs-vswitchd --enable-dummy=override, datapath_type=dummy; ours waits on its Replica until every new Interface has an ofport, ovs-vsctl waits for vswitchd (cur_cfg)');
  } finally {
    await replica.cancel();
    await client.close();
    await ovs.stop();
  }
}

const BENCH_SCHEMA = {
  name: 'Bench',
  version: '1.0.0',
  tables: {
    Item: {
      isRoot: true,
      columns: {
        n: { type: 'integer' },
        text: { type: 'string' },
        tags: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
  },
};

async function monitorBench(results: BenchResult[], notes: string[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-bench-schema-'));
  const schemaFile = path.join(dir, 'bench.ovsschema');
  fs.writeFileSync(schemaFile, JSON.stringify(BENCH_SCHEMA));
  const server = await startOvsdb({ schema: schemaFile });
  const writer = await OvsdbClient.connect(server.unixUrl);
  try {
    for (const method of ['monitor_cond', 'monitor'] as const) {
      const reader = await OvsdbClient.connect(server.unixUrl);
      try {
        await writer.transact('Bench', op.delete('Item', []));
        const replica = await Replica.create(reader, 'Bench', { Item: undefined }, { method });
        const inserts: Operation[] = [];
        for (let i = 0; i < MONITOR_ROWS; i++) inserts.push(op.insert('Item', { n: i, text: `row ${i}`, tags: ['map', [['k', String(i)]]] }));
        let start = performance.now();
        let seenAtMs = 0;
        replica.once('change', () => (seenAtMs = performance.now() - start));
        await writer.transact('Bench', ...inserts);
        const committedMs = performance.now() - start;
        await replica.waitFor((r) => r.rows('Item').size === MONITOR_ROWS, 120_000);
        const insertMs = performance.now() - start;
        notes.push(
          `${method}: 10,000 inserts: writer's transact reply after ${committedMs.toFixed(0)} ms, replica updated after ${(seenAtMs || insertMs).toFixed(0)} ms`,
        );
        start = performance.now();
        await writer.transact('Bench', op.update('Item', [], { text: 'changed', tags: ['map', [['k', 'v'], ['z', '1']]] }));
        await replica.waitFor((r) => [...r.rows('Item').values()].every((row) => row.text === 'changed'), 120_000);
        const modifyMs = performance.now() - start;
        await replica.cancel();
        start = performance.now();
        const fresh = await Replica.create(reader, 'Bench', { Item: undefined }, { method });
        const initialMs = performance.now() - start;
        await fresh.cancel();
        const label = method === 'monitor_cond' ? 'update2' : 'update';
        results.push(
          record(`monitor ${label}: ${MONITOR_ROWS} inserted rows applied`, 'rows/s', [(MONITOR_ROWS / insertMs) * 1000], `${insertMs.toFixed(0)} ms commit→replica`),
          record(`monitor ${label}: ${MONITOR_ROWS} modified rows applied`, 'rows/s', [(MONITOR_ROWS / modifyMs) * 1000], `${modifyMs.toFixed(0)} ms commit→replica`),
          record(`monitor ${label}: initial load of ${MONITOR_ROWS} rows`, 'rows/s', [(MONITOR_ROWS / initialMs) * 1000], `${initialMs.toFixed(0)} ms`),
        );
      } finally {
        await reader.close();
      }
    }
    notes.push('monitor figures: one writer transaction of 10,000 inserts (then one update of all rows); time from sending it until the Replica holds the result');
  } finally {
    await writer.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A reply `{"id":1,"result":{"k0":"v0",…},"error":null}` of `keys` short keys: the shape that was quadratic to frame. */
export function manyKeysReply(keys: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < keys; i++) parts.push(`"k${i}":${i % 100}`);
  return Buffer.from(`{"id":1,"result":{${parts.join(',')}},"error":null}`, 'utf8');
}

/** MB/s of framing (JsonStreamReader, which also decodes and parses) beside JSON.parse of the same text. */
async function framingBench(results: BenchResult[], ratios: BenchRatio[], notes: string[]): Promise<void> {
  const CHUNK = 64 * 1024;
  for (const keys of [100_000, 1_000_000]) {
    const bytes = manyKeysReply(keys);
    const mb = bytes.length / 1e6;
    const label = `${keys.toLocaleString('en-US')}-key reply (${mb.toFixed(2)} MB)`;
    const runs = keys > 100_000 ? 3 : 7;
    const parse = await measure(`JSON.parse: ${label}`, 'MB/s', () => {
      const start = performance.now();
      JSON.parse(bytes.toString('utf8'));
      return mb / ((performance.now() - start) / 1000);
    }, { runs, warmup: 1 });
    const whole = await measure(`JsonStreamReader, one chunk: ${label}`, 'MB/s', () => {
      const start = performance.now();
      const values = new JsonStreamReader().push(bytes);
      const s = (performance.now() - start) / 1000;
      if (values.length !== 1) throw new Error('bench ovsdb: framing lost the reply');
      return mb / s;
    }, { runs, warmup: 1 });
    const chunked = await measure(`JsonStreamReader, 64 KiB chunks: ${label}`, 'MB/s', () => {
      const reader = new JsonStreamReader();
      let n = 0;
      const start = performance.now();
      for (let at = 0; at < bytes.length; at += CHUNK) n += reader.push(bytes.subarray(at, at + CHUNK)).length;
      const s = (performance.now() - start) / 1000;
      if (n !== 1) throw new Error('bench ovsdb: framing lost the reply');
      return mb / s;
    }, { runs, warmup: 1 });
    results.push(parse, whole, chunked);
    ratios.push(ratioOf(`framing vs JSON.parse, ${label}, one chunk`, whole, parse, 'JSON.parse', 'higher'));
    ratios.push(ratioOf(`framing vs JSON.parse, ${label}, 64 KiB chunks`, chunked, parse, 'JSON.parse', 'higher'));
  }
  notes.push(
    'framing figures: MB = 10^6 bytes of the reply per second of JsonStreamReader.push (finding the value end, UTF-8 decode, JSON.parse, depth check); JSON.parse is the same text already decoded',
  );
}

export async function runOvsdbBench(only?: string): Promise<void> {
  const results: BenchResult[] = [];
  const ratios: BenchRatio[] = [];
  const notes: string[] = [];
  await framingBench(results, ratios, notes);
  if (only === 'framing') {
    printTable(results);
    process.stdout.write('\n' + ratiosTable(ratios) + '\n');
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    return;
  }
  await portBench(results, ratios, notes);
  await vswitchdBench(results, ratios, notes);
  await monitorBench(results, notes);
  printTable(results);
  process.stdout.write('\n' + ratiosTable(ratios) + '\n');
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  const file = writeResults('ovsdb', results, { ratios, notes });
  process.stdout.write(`wrote ${file}\n`);
}

if (require.main === module) {
  runOvsdbBench(process.argv[2]).catch((err) => {
    process.stderr.write(`bench ovsdb: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
