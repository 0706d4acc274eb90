/**
 * The lab's safety check: scenario addresses against the root namespace's addresses and routes.
 * Pure part with given root entries, and one check against this machine's real root namespace.
 */
import * as path from 'path';
import { checkLabSafety, rootNamespaceEntries, scenarioPrefixes } from '../../fabric/lab/safety';
import { coveringPrefix, parsePrefix, prefixesOverlap } from '../../fabric/lab/addr';
import { loadScenario } from '../../fabric/lab/scenario';
import { LabError } from '../../fabric/lab/errors';

const FIXTURE = path.join(__dirname, 'fixtures', 'two-nodes.yaml');

describe('lab safety', () => {
  test('prefix overlap', () => {
    expect(prefixesOverlap(parsePrefix('10.244.0.0/16'), parsePrefix('10.244.3.7'))).toBe(true);
    expect(prefixesOverlap(parsePrefix('10.0.0.0/8'), parsePrefix('10.244.0.0/16'))).toBe(true);
    expect(prefixesOverlap(parsePrefix('10.96.0.0/16'), parsePrefix('10.244.0.0/16'))).toBe(false);
    expect(prefixesOverlap(parsePrefix('192.0.2.0/24'), parsePrefix('192.0.3.1'))).toBe(false);
  });

  test('the fixture scenario is safe on this machine (root namespace read for real)', () => {
    const { state } = loadScenario(FIXTURE);
    const root = rootNamespaceEntries();
    // the machine's own network is always among the forbidden entries
    expect(root.some((r) => r.prefix.text === '192.0.2.0/24')).toBe(true);
    expect(() => checkLabSafety(state, root)).not.toThrow();
    expect(scenarioPrefixes(state).map((p) => p.what)).toContain('node node1 ip');
  });

  test('a scenario address inside the machine network is refused', () => {
    const { state } = loadScenario(FIXTURE);
    state.nodes.get('node1')!.ip = '192.0.2.50';
    expect(() => checkLabSafety(state)).toThrow(LabError);
    expect(() => checkLabSafety(state)).toThrow(/node node1 ip 192.0.2.50 overlaps/);
  });

  test('a scenario range overlapping a root route is refused', () => {
    const { state } = loadScenario(FIXTURE);
    const root = [{ what: 'root route 10.244.9.0/24 dev eth9', prefix: parsePrefix('10.244.9.0/24') }];
    expect(() => checkLabSafety(state, root)).toThrow(/cluster podCidr 10.244.0.0\/16 overlaps root route 10.244.9.0\/24/);
  });

  test('overlay: the underlay subnet the lab gives the node addresses is checked too', () => {
    expect(coveringPrefix(['198.51.100.31', '198.51.100.32', '198.51.100.41']).text).toBe('198.51.100.0/26');
    expect(coveringPrefix(['10.1.0.1']).text).toBe('10.1.0.1/32');
    expect(coveringPrefix(['192.0.1.5', '192.0.3.5']).text).toBe('192.0.0.0/22');
    const { state } = loadScenario(path.join(__dirname, '..', '..', 'scenarios', 'overlay-vxlan.yaml'));
    expect(() => checkLabSafety(state, [])).not.toThrow();
    // two node IPs outside 192.0.2.0/24 whose covering subnet holds it: refused before anything is built
    state.nodes.get('worker-a1')!.ip = '192.0.1.5';
    state.nodes.get('worker-a2')!.ip = '192.0.3.5';
    state.nodes.get('worker-b1')!.ip = '192.0.3.6';
    expect(() => checkLabSafety(state)).toThrow(/overlay underlay subnet \(node IPs\) 192.0.0.0\/22 overlaps /);
  });
});
