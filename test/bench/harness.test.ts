/** bench/harness and bench/run: measuring, tables, the results file shape and merging others' shapes. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatTable, measure, median, ratioOf, record, ratiosTable, repoRoot, writeResults } from '../../bench/harness';
import { benchModules, inferRatios, mergeResults, mergedTable, normaliseFile } from '../../bench/run';

describe('measure', () => {
  test('runs fn warmup + runs times and keeps one sample per timed run', async () => {
    const calls: number[] = [];
    const r = await measure('noop', 'ms', (run) => void calls.push(run), { runs: 4, warmup: 2 });
    expect(calls).toEqual([-1, -2, 0, 1, 2, 3]);
    expect(r.runs).toBe(4);
    expect(r.samples).toHaveLength(4);
    expect(r.min).toBeLessThanOrEqual(r.median);
    for (const s of r.samples!) expect(s).toBeGreaterThanOrEqual(0);
  });

  test('a number returned by fn is the sample, in the given unit', async () => {
    const values = [30, 10, 20];
    const r = await measure('throughput', 'flows/s', (run) => values[run], { runs: 3, notes: 'n' });
    expect(r).toMatchObject({ name: 'throughput', unit: 'flows/s', runs: 3, min: 10, median: 20, notes: 'n', samples: [30, 10, 20] });
  });

  test('awaits async fns and converts wall time to seconds when asked', async () => {
    const r = await measure('sleep', 's', () => new Promise((res) => setTimeout(res, 20)), { runs: 2 });
    expect(r.min).toBeGreaterThanOrEqual(0.015);
    expect(r.min).toBeLessThan(5);
  });

  test('refuses a non-time unit without a returned sample, and zero runs', async () => {
    await expect(measure('x', 'flows', () => undefined, { runs: 1 })).rejects.toThrow(/not a time/);
    await expect(measure('x', 'ms', () => undefined, { runs: 0 })).rejects.toThrow(RangeError);
  });

  test('median of odd and even counts; record keeps samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(record('c', 'flows', [5])).toEqual({ name: 'c', unit: 'flows', runs: 1, min: 5, median: 5, samples: [5] });
  });
});

describe('tables and ratios', () => {
  test('formatTable aligns columns', () => {
    const lines = formatTable(['a', 'bb'], [['long name', '1'], ['x', '12345']]).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe('---------  -----');
    expect(lines[2]).toBe('long name      1'); // numbers right-aligned under their header
    expect(lines[3]).toBe('x          12345');
  });

  test('ratio is fabric/peer of medians and the verdict names the faster side', () => {
    const ours = record('a', 'ms', [10, 10, 10]);
    const theirs = record('b', 'ms', [100]);
    const r = ratioOf('compile', ours, theirs, 'OVN');
    expect(r.ratio).toBeCloseTo(0.1);
    expect(ratiosTable([r])).toMatch(/fabric 10\.0x/);
    expect(ratiosTable([ratioOf('slow', theirs, ours, 'OVN')])).toMatch(/OVN 10\.0x/);
    expect(() => ratioOf('x', ours, record('c', 's', [1]), 'OVN')).toThrow(/units differ/);
  });
});

describe('results files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-bench-test-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writeResults → normaliseFile round trip', () => {
    const results = [record('compile', 'ms', [1, 2, 3], 'note')];
    const file = writeResults('mine', results, { dir, notes: ['hello'] });
    expect(path.basename(file)).toBe('mine.json');
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(raw.bench).toBe('mine');
    expect(Number.isNaN(Date.parse(raw.date))).toBe(false);
    const back = normaliseFile(raw, 'mine');
    expect(back.unreadable).toEqual([]);
    expect(back.results).toEqual([{ name: 'compile', unit: 'ms', runs: 3, min: 1, median: 2, notes: 'note' }]);
  });

  test('other shapes: bare arrays, name maps, value/mean figures, plain numbers; junk is listed', () => {
    expect(normaliseFile([{ name: 'a', unit: 'ms', value: 4 }], 'x').results).toEqual([{ name: 'a', unit: 'ms', runs: 1, min: 4, median: 4 }]);
    expect(normaliseFile({ quick: true, rows: [{ name: '  of which hit', value: 5, unit: 'of 5' }] }, 'sim').results).toEqual([{ name: 'of which hit', unit: 'of 5', runs: 1, min: 5, median: 5 }]);
    const mapped = normaliseFile(
      { date: 'd', node: 'v20', encode: { unit: 'msg/s', mean: 10, samples: [8, 12] }, nodes: 7, parseMs: 40, planMs: { median: 3, min: 2, all: [2, 3, 9] }, junk: { text: 'no numbers' } },
      'x',
    );
    expect(mapped.results).toEqual([
      { name: 'encode', unit: 'msg/s', runs: 2, min: 8, median: 10 },
      { name: 'parseMs', unit: 'ms', runs: 1, min: 40, median: 40 },
      { name: 'planMs', unit: 'ms', runs: 3, min: 2, median: 3 },
    ]);
    expect(mapped.params).toEqual({ nodes: 7 }); // a bare count in a flat map describes the run
    expect(mapped.unreadable).toEqual(['x: junk']);
    const withRatios = normaliseFile({ results: [], ratios: [{ name: 'install', unit: 'flows/s', ours: 200, theirs: 100, better: 'higher' }] }, 'x');
    expect(withRatios.ratios[0]).toMatchObject({ name: 'install', fabric: 200, peer: 100, ratio: 2, better: 'higher' });
  });

  test('inferRatios pairs our figure with the ovs-ofctl figure of the same name and unit', () => {
    const results = [
      record('install 100000 flows (ovs-ofctl --bundle)', 'flows/s', [130000]),
      record('install 100000 flows (fabric channel)', 'flows/s', [260000]),
      record('decode flow-mod', 'msg/s', [1e6]),
    ];
    const ratios = inferRatios('openflow', results, []);
    expect(ratios).toHaveLength(1);
    expect(ratios[0]).toMatchObject({ fabric: 260000, peer: 130000, peerName: 'ovs-ofctl', better: 'higher', ratio: 2 });
    const lab = inferRatios('lab', [
      record('flows/s into real OVS: our OpenFlow channel (read, diff, 1 bundle, barrier)', 'flows/s', [12000]),
      record('flows/s into real OVS: ovs-ofctl --bundle add-flows (+ add-groups)', 'flows/s', [4000]),
    ], []);
    expect(lab).toHaveLength(1);
    expect(lab[0]).toMatchObject({ name: 'flows/s into real ovs', ratio: 3, better: 'higher' });
    // a module that states its own ratios gets no guessed ones beside them
    expect(inferRatios('openflow', results, [ratioOf('install', results[1], results[0], 'ovs-ofctl', 'higher')])).toEqual([]);
  });

  test('mergeResults reads every file, keeps stated ratios, describes the machine; a broken file is reported', () => {
    writeResults('one', [record('a', 'ms', [1])], { dir, ratios: [ratioOf('a vs b', record('a', 'ms', [1]), record('b', 'ms', [4]), 'OVN')] });
    fs.writeFileSync(path.join(dir, 'two.json'), '[{"name":"b","unit":"ms","min":2,"median":3,"runs":2}]');
    fs.writeFileSync(path.join(dir, 'broken.json'), '{not json');
    const merged = mergeResults(dir, [{ module: 'one', ok: true, exitCode: 0, signal: null, seconds: 1, timedOut: false }]);
    expect(merged.results.map((r) => `${r.bench}:${r.name}`)).toEqual(['one:a', 'two:b']);
    expect(merged.ratios).toHaveLength(1);
    expect(merged.ratios[0]).toMatchObject({ bench: 'one', ratio: 0.25 });
    expect(merged.unreadable.join()).toMatch(/broken: not JSON/);
    expect(merged.machine.cores).toBe(os.cpus().length);
    expect(typeof merged.machine.cpuModel).toBe('string');
    expect(String(merged.machine.node)).toBe(process.version);
    expect(mergedTable(merged)).toMatch(/one\s+a\s+1\.00/);
  });

  test('benchModules lists bench modules only, not the runner, harness or generator', () => {
    for (const f of ['run.js', 'harness.js', 'cluster-gen.js', 'vs-ovn.js', 'openflow.js', 'vs-ovn.d.ts', 'x.js.map']) fs.writeFileSync(path.join(dir, f), '');
    expect(benchModules(dir)).toEqual(['openflow', 'vs-ovn']);
    expect(benchModules(path.join(dir, 'missing'))).toEqual([]);
  });

  test('repoRoot finds the repository from the bench folder', () => {
    const root = repoRoot(path.join(__dirname, '..', '..', 'bench'));
    expect(fs.existsSync(path.join(root, 'package.json'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.bench).toBe('node dist/bench/run.js');
  });
});
