/**
 * Every broken scenario in test/fixtures/bad/ gives exactly its expected lines, through the library
 * and through the built CLI (exit 2, no stack trace); degenerate files (empty, not YAML, binary,
 * 50 MB, missing, a directory) are refused with one clear line. The good scenarios validate (exit 0).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatDiagnostic, parseScenarioFile, parseScenarioText } from '../../topology';

const root = path.resolve(__dirname, '..', '..');
const badDir = path.join(root, 'test', 'fixtures', 'bad');
const fixtures = fs.readdirSync(badDir).filter((f) => f.endsWith('.yaml')).sort();
const cliEntry = path.join(root, 'dist', 'cli', 'main.js');

function newestMtime(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    const abs = path.join(root, dir);
    if (!fs.existsSync(abs)) continue;
    for (const f of fs.readdirSync(abs)) if (f.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(abs, f)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is older than the sources this test exercises (tsc emits despite others' type errors). */
function ensureBuilt(): void {
  const distFiles = [cliEntry, path.join(root, 'dist', 'cli', 'commands', 'validate.js'), path.join(root, 'dist', 'topology', 'scenario.js')];
  const built = distFiles.every((f) => fs.existsSync(f)) ? Math.min(...distFiles.map((f) => fs.statSync(f).mtimeMs)) : 0;
  if (built >= newestMtime(['topology', 'cli', 'cli/commands'])) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
  for (const f of distFiles) if (!fs.existsSync(f)) throw new Error(`build did not produce ${f}`);
}

function fabric(args: string[], cwd = badDir): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'fabric.js'), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectedLines(name: string): string[] {
  return fs.readFileSync(path.join(badDir, name.replace(/\.yaml$/, '.expected')), 'utf8').split('\n').filter((l) => l !== '');
}

beforeAll(() => ensureBuilt(), 180_000);

test('there are at least 15 bad fixtures, each with an expected file naming at least one error', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(15);
  for (const f of fixtures) {
    const lines = expectedLines(f);
    expect(lines.some((l) => l.startsWith(`${f}:`) && !l.includes(': warning: '))).toBe(true);
  }
});

describe.each(fixtures)('bad fixture %s', (file) => {
  test('library: exactly the expected diagnostics, no scenario', () => {
    const result = parseScenarioText(fs.readFileSync(path.join(badDir, file), 'utf8'), file);
    expect(result.scenario).toBeUndefined();
    expect(result.diagnostics.map(formatDiagnostic)).toEqual(expectedLines(file));
  });

  test('CLI: exit 2, the expected lines, no stack trace', () => {
    const r = fabric(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(expectedLines(file));
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });
});

describe('degenerate files', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-topology-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const one = (file: string): string[] => {
    const r = fabric(['validate', file], tmp);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter((l) => l !== '');
  };

  test('empty file', () => {
    fs.writeFileSync(path.join(tmp, 'empty.yaml'), '');
    fs.writeFileSync(path.join(tmp, 'comments.yaml'), '# nothing here\n\n   \n');
    expect(one('empty.yaml')).toEqual(['empty.yaml:1:1: empty scenario file: expected a mapping with name, cluster and fabric']);
    expect(one('comments.yaml')).toEqual(['comments.yaml:1:1: empty scenario file: expected a mapping with name, cluster and fabric']);
  });

  test('not YAML at all', () => {
    fs.writeFileSync(path.join(tmp, 'prose.yaml'), 'This is a letter: dear sir: I write to you\n  about: [the fabric\n');
    const lines = one('prose.yaml');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^prose\.yaml:\d+:\d+: invalid YAML: /);
  });

  test('a plain string is not a scenario', () => {
    fs.writeFileSync(path.join(tmp, 'word.yaml'), 'hello\n');
    expect(one('word.yaml')).toEqual(["word.yaml:1:1: a scenario must be a YAML mapping (name:, cluster:, fabric: ...), got 'hello'"]);
  });

  test('binary file', () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 255;
    fs.writeFileSync(path.join(tmp, 'blob.yaml'), bytes);
    expect(one('blob.yaml')).toEqual(['blob.yaml:1:1: not a text file (it contains NUL bytes): a scenario is UTF-8 YAML']);
    fs.writeFileSync(path.join(tmp, 'latin1.yaml'), Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xe9, 0xff, 0x0a]));
    expect(one('latin1.yaml')).toEqual(['latin1.yaml:1:1: not a text file (invalid UTF-8): a scenario is UTF-8 YAML']);
  });

  test('a 50 MB file is refused quickly, without reading it into the parser', () => {
    const file = path.join(tmp, 'huge.yaml');
    const fd = fs.openSync(file, 'w');
    const chunk = Buffer.from('pods:\n' + '  - { name: p, node: n }\n'.repeat(40_000));
    let written = 0;
    while (written < 50 * 1024 * 1024) written += fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    expect(one('huge.yaml')).toEqual([`huge.yaml:1:1: file is too large (${(written / 1048576).toFixed(1)} MiB; the limit is 16 MiB)`]);
    // the text entry point refuses it too
    const text = 'x'.repeat(17 * 1024 * 1024);
    expect(parseScenarioText(text, 'big').diagnostics.map(formatDiagnostic)).toEqual(['big:1:1: file is too large (17.0 MiB; the limit is 16 MiB)']);
  });

  test('missing file and directory', () => {
    expect(one('nope.yaml')).toEqual(['nope.yaml:1:1: cannot read file: no such file']);
    fs.mkdirSync(path.join(tmp, 'dir.yaml'));
    expect(one('dir.yaml')).toEqual(['dir.yaml:1:1: is a directory, not a scenario file']);
    expect(parseScenarioFile(path.join(tmp, 'nope.yaml')).scenario).toBeUndefined();
  });

  test('several files: every problem of every file, exit 2 if any is bad', () => {
    const good = path.join(root, 'scenarios', 'single-rack.yaml');
    fs.writeFileSync(path.join(tmp, 'empty2.yaml'), '');
    const r = fabric(['validate', good, 'empty2.yaml', 'nope.yaml'], tmp);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toEqual([
      expect.stringMatching(/single-rack\.yaml: ok \(/),
      'empty2.yaml:1:1: empty scenario file: expected a mapping with name, cluster and fabric',
      'nope.yaml:1:1: cannot read file: no such file',
    ]);
  });
});

describe('the shipped scenarios', () => {
  const scenarios = fs.readdirSync(path.join(root, 'scenarios')).filter((f) => f.endsWith('.yaml')).sort();

  test('there are the required ones', () => {
    for (const name of ['default', 'single-rack', 'leaf-spine-ecmp', 'overlay-vxlan', 'services-multi-backend', 'link-failure', 'pod-move', 'egress-heavy']) {
      expect(scenarios).toContain(`${name}.yaml`);
    }
  });

  test('`fabric validate scenarios/*.yaml` exits 0 without warnings', () => {
    const r = fabric(['validate', ...scenarios.map((f) => path.join('scenarios', f))], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(scenarios.length);
    for (const l of lines) expect(l).toMatch(/: ok \(/);
  });

  test('they use only documentation and private ranges, never 192.0.2.0/24', () => {
    for (const f of scenarios) {
      const text = fs.readFileSync(path.join(root, 'scenarios', f), 'utf8');
      expect(text).not.toMatch(/192\.0\.2\./);
      const s = parseScenarioFile(path.join(root, 'scenarios', f)).scenario!;
      for (const n of s.fabric.nodes) expect(n.ip).toMatch(/^198\.51\.100\./);
      for (const e of s.fabric.externals) expect(e.ip).toMatch(/^203\.0\.113\./);
      expect(s.cluster.podCidr).toMatch(/^10\./);
      expect(s.cluster.serviceCidr).toMatch(/^10\./);
    }
  });

  test('`fabric ipam --json` prints the contract shape; the table form too', () => {
    const r = fabric(['ipam', 'scenarios/default.yaml', '--json'], root);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(Object.keys(plan)).toEqual(['nodes', 'pods', 'services']);
    expect(plan.nodes.node4).toEqual({ podCidr: '10.244.4.0/24', ip: '198.51.100.14' });
    expect(plan.pods['db-1']).toBe('10.244.4.7');
    expect(plan.pods['web-1']).toBe('10.244.0.2');
    expect(plan.services.web).toBe('10.96.0.2');
    const table = fabric(['ipam', 'scenarios/default.yaml'], root);
    expect(table.code).toBe(0);
    // the table adds what the JSON leaves out: each node's gateway, each pod's node, the externals
    expect(table.stdout).toMatch(/^node4\s+198\.51\.100\.14\s+10\.244\.4\.0\/24\s+10\.244\.4\.1$/m);
    expect(table.stdout).toMatch(/^POD\s+IP\s+NODE$/m);
    expect(table.stdout).toMatch(/^db-1\s+10\.244\.4\.7\s+node4$/m);
    expect(table.stdout).toMatch(/^externals\nEXTERNAL\s+IP\s+ATTACHED TO\ninternet\s+203\.0\.113\.1\s+spine1$/m);
    const bad = fabric(['ipam', path.join('test', 'fixtures', 'bad', 'exhausted.yaml'), '--json'], root);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('exhausted.yaml:15:5: node block 10.244.0.0/30 of node1 is exhausted: no address left for pod b');
  });
});
