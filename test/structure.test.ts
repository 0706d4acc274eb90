/**
 * Folder boundaries and import cycles, checked on the import graph of every .ts file under
 * topology/, controller/, fabric/, sim/, cli/ and bench/ (every import, `import type`, export-from,
 * require() and import(), relative specifiers resolved to X.ts or X/index.ts; npm packages and Node
 * built-ins are not edges). The rules:
 * - topology/ imports nothing above it (only topology/);
 * - fabric/openflow/ and fabric/ovsdb/ import only their own folder;
 * - controller/ imports only controller/, topology/ and the flow IR / OpenFlow library (fabric/openflow/);
 * - sim/ imports only sim/, controller/, topology/ and fabric/openflow/;
 * - outside sim/, sim is reached only through sim/index.ts (test/ is exempt, and not scanned);
 * - no cycle between files (Tarjan's strongly connected components over the file graph).
 * Dependency-free (fs + path) and fast: the whole scan is a few hundred small files.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const SCANNED = ['topology', 'controller', 'fabric', 'sim', 'cli', 'bench'];

/**
 * Cycles allowed, each exactly the files of one strongly connected component (sorted); the test fails
 * on an entry that no longer matches a cycle. None today.
 */
const EXEMPT_CYCLES: readonly (readonly string[])[] = [];

interface Edge {
  /** repository-relative, '/'-separated */
  from: string;
  to: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing and resolving
// ---------------------------------------------------------------------------------------------

/** import/export ... from '...' (a statement at the start of a line; may span lines), and import '...' */
const STATEMENT_RES = [/^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^[ \t]*import\s*['"]([^'"]+)['"]/gm];
/** require('...') and import('...') (dynamic import and `typeof import('...')` types) anywhere on a line */
const CALL_RE = /\b(?:require|import)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The module specifiers one source file names (comment lines are skipped for require/import()). */
function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  for (const re of STATEMENT_RES) for (const m of source.matchAll(re)) out.push(m[1]);
  for (const line of source.split('\n')) {
    const t = line.trimStart();
    if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) continue;
    for (const m of line.matchAll(CALL_RE)) out.push(m[1]);
  }
  return out;
}

/**
 * The file a specifier names, repository-relative; undefined for a package or a built-in; the
 * specifier itself prefixed with '?' when a relative one names no file.
 */
function resolveSpecifier(fromFile: string, spec: string, isFile: (rel: string) => boolean): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), spec));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) if (isFile(candidate)) return candidate;
  return `?${spec}`;
}

function sourceFiles(dir: string, out: string[]): string[] {
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') sourceFiles(rel, out);
    } else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

function projectEdges(): { files: string[]; edges: Edge[] } {
  const files = SCANNED.flatMap((d) => sourceFiles(d, []));
  const isFile = (rel: string): boolean => {
    try {
      return fs.statSync(path.join(ROOT, rel)).isFile();
    } catch {
      return false;
    }
  };
  const edges: Edge[] = [];
  for (const from of files) {
    const seen = new Set<string>();
    for (const spec of importSpecifiers(fs.readFileSync(path.join(ROOT, from), 'utf8'))) {
      const to = resolveSpecifier(from, spec, isFile);
      if (to === undefined || seen.has(to)) continue;
      seen.add(to);
      edges.push({ from, to });
    }
  }
  return { files, edges };
}

// ---------------------------------------------------------------------------------------------
// Rules and cycles (pure)
// ---------------------------------------------------------------------------------------------

const under = (file: string, ...dirs: string[]): boolean => dirs.some((d) => file.startsWith(`${d}/`));

/** The rule an arrow breaks, or undefined. */
function ruleBroken(from: string, to: string): string | undefined {
  if (to.startsWith('?')) return `unresolved import '${to.slice(1)}'`;
  if (under(from, 'topology') && !under(to, 'topology')) return 'topology/ imports only topology/';
  for (const lib of ['fabric/openflow', 'fabric/ovsdb']) {
    if (under(from, lib) && !under(to, lib)) return `${lib}/ imports only ${lib}/`;
  }
  if (under(from, 'controller') && !under(to, 'controller', 'topology', 'fabric/openflow')) {
    return 'controller/ imports only controller/, topology/, fabric/openflow/';
  }
  if (under(from, 'sim') && !under(to, 'sim', 'controller', 'topology', 'fabric/openflow')) {
    return 'sim/ imports only sim/, controller/, topology/, fabric/openflow/';
  }
  if (!under(from, 'sim', 'test') && under(to, 'sim') && to !== 'sim/index.ts') return 'outside sim/, only sim/index.ts';
  return undefined;
}

/** Every broken rule, as `from -> to (rule)`. */
function ruleViolations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const rule = ruleBroken(e.from, e.to);
    if (rule) out.push(`${e.from} -> ${e.to} (${rule})`);
  }
  return out.sort();
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function fileCycles(edges: readonly Edge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of edges) {
    if (!adj.has(e.from)) adj.set(e.from, []);
    if (!adj.has(e.to)) adj.set(e.to, []);
    adj.get(e.from)!.push(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || adj.get(v)!.includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...adj.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** One concrete cycle through the first file of a component, for the message: a -> b -> a. */
function cyclePath(scc: readonly string[], edges: readonly Edge[]): string {
  const members = new Set(scc);
  const start = scc[0];
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    for (const e of edges) {
      if (e.from !== v || !members.has(e.to)) continue;
      if (e.to === start) {
        const p: string[] = [];
        for (let u = v; u !== start; u = prev.get(u)!) p.unshift(u);
        return [start, ...p, start].join(' -> ');
      }
      if (!prev.has(e.to)) {
        prev.set(e.to, v);
        queue.push(e.to);
      }
    }
  }
  return scc.join(', ');
}

/** Every cycle not exempted (`cycle: a -> b -> a [files]`), and every exemption that matches no cycle. */
function cycleViolations(edges: readonly Edge[], exempt: readonly (readonly string[])[]): { cycles: string[]; stale: string[] } {
  const key = (files: readonly string[]): string => [...files].sort().join(' ');
  const found = fileCycles(edges);
  const exemptKeys = new Set(exempt.map(key));
  const foundKeys = new Set(found.map(key));
  return {
    cycles: found.filter((scc) => !exemptKeys.has(key(scc))).map((scc) => `cycle: ${cyclePath(scc, edges)} [${scc.join(', ')}]`),
    stale: exempt.filter((files) => !foundKeys.has(key(files))).map((files) => `exempt cycle [${files.join(', ')}] is gone: delete it from EXEMPT_CYCLES`),
  };
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('the checker (hand-made graphs)', () => {
  const edges = (...arrows: string[]): Edge[] =>
    arrows.map((a) => {
      const [from, to] = a.split(' -> ');
      return { from, to };
    });

  test('reports each forbidden arrow with its rule', () => {
    expect(
      ruleViolations(
        edges(
          'controller/x.ts -> sim/y.ts',
          'controller/x.ts -> fabric/openflow/flow.ts',
          'controller/x.ts -> fabric/lab/lab.ts',
          'topology/a.ts -> controller/b.ts',
          'fabric/openflow/a.ts -> topology/index.ts',
          'fabric/ovsdb/a.ts -> fabric/openflow/flow.ts',
          'sim/a.ts -> fabric/ovsdriver.ts',
          'sim/a.ts -> controller/compile.ts',
          'cli/a.ts -> sim/runner.ts',
          'cli/a.ts -> sim/index.ts',
          'fabric/lab/a.ts -> sim/bandwidth.ts',
          'test/a.test.ts -> sim/runner.ts',
          'bench/a.ts -> ?./missing',
        ),
      ),
    ).toEqual([
      "bench/a.ts -> ?./missing (unresolved import './missing')",
      'cli/a.ts -> sim/runner.ts (outside sim/, only sim/index.ts)',
      'controller/x.ts -> fabric/lab/lab.ts (controller/ imports only controller/, topology/, fabric/openflow/)',
      'controller/x.ts -> sim/y.ts (controller/ imports only controller/, topology/, fabric/openflow/)',
      'fabric/lab/a.ts -> sim/bandwidth.ts (outside sim/, only sim/index.ts)',
      'fabric/openflow/a.ts -> topology/index.ts (fabric/openflow/ imports only fabric/openflow/)',
      'fabric/ovsdb/a.ts -> fabric/openflow/flow.ts (fabric/ovsdb/ imports only fabric/ovsdb/)',
      'sim/a.ts -> fabric/ovsdriver.ts (sim/ imports only sim/, controller/, topology/, fabric/openflow/)',
      'topology/a.ts -> controller/b.ts (topology/ imports only topology/)',
    ]);
  });

  test('reports a cycle, a self-import and a stale exemption; an exempt cycle passes', () => {
    const g = edges('a.ts -> b.ts', 'b.ts -> a.ts', 'b.ts -> c.ts', 'c.ts -> d.ts', 'd.ts -> d.ts', 'e.ts -> f.ts', 'f.ts -> g.ts', 'g.ts -> e.ts');
    expect(fileCycles(g)).toEqual([['a.ts', 'b.ts'], ['d.ts'], ['e.ts', 'f.ts', 'g.ts']]);
    expect(cycleViolations(g, [['b.ts', 'a.ts'], ['x.ts', 'y.ts']])).toEqual({
      cycles: ['cycle: d.ts -> d.ts [d.ts]', 'cycle: e.ts -> f.ts -> g.ts -> e.ts [e.ts, f.ts, g.ts]'],
      stale: ['exempt cycle [x.ts, y.ts] is gone: delete it from EXEMPT_CYCLES'],
    });
    // an exemption covers exactly its files: a cycle that grows is reported again
    expect(cycleViolations(edges('a.ts -> b.ts', 'b.ts -> c.ts', 'c.ts -> a.ts'), [['a.ts', 'b.ts']]).cycles).toEqual([
      'cycle: a.ts -> b.ts -> c.ts -> a.ts [a.ts, b.ts, c.ts]',
    ]);
  });

  test('parses imports, import type, export-from, require and import(); resolves X.ts and X/index.ts', () => {
    const source = [
      "import { a } from './a';",
      'import type {',
      '  B,',
      '  C,',
      "} from '../b';",
      "export { d } from './d';",
      "export * from './e';",
      "import './side-effect';",
      "import * as fs from 'fs';",
      "const f = require('./f') as typeof import('./g');",
      "  const h = await import('./h');",
      "// const old = require('./commented');",
      " * see require('./doc-comment')",
      "const s = 'import x from \"./not-a-statement\"';",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(['../b', './a', './d', './e', './f', './g', './h', './side-effect', 'fs'].sort());
    const files = new Set(['sim/a.ts', 'sim/b/index.ts', 'sim/c.json']);
    const isFile = (f: string): boolean => files.has(f);
    expect(resolveSpecifier('sim/x.ts', './a', isFile)).toBe('sim/a.ts');
    expect(resolveSpecifier('sim/y/x.ts', '../b', isFile)).toBe('sim/b/index.ts');
    expect(resolveSpecifier('sim/x.ts', './c.json', isFile)).toBe('sim/c.json');
    expect(resolveSpecifier('sim/x.ts', './nope', isFile)).toBe('?./nope');
    expect(resolveSpecifier('sim/x.ts', 'graphology', isFile)).toBeUndefined();
  });
});

describe('the project', () => {
  const { files, edges } = projectEdges();

  test('scans every folder', () => {
    for (const d of SCANNED) expect(files.some((f) => f.startsWith(`${d}/`))).toBe(true);
    expect(edges.length).toBeGreaterThan(200);
  });

  test('keeps its folder boundaries', () => {
    expect(ruleViolations(edges)).toEqual([]);
  });

  test('has no import cycles (but the exempt ones)', () => {
    const { cycles, stale } = cycleViolations(edges, EXEMPT_CYCLES);
    expect([...cycles, ...stale]).toEqual([]);
  });
});
