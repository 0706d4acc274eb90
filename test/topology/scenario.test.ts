import * as fs from 'fs';
import * as path from 'path';
import { formatDiagnostic, parseDuration, parseScenarioFile, parseScenarioText } from '../../topology';

const scenarioDir = path.resolve(__dirname, '..', '..', 'scenarios');

const minimal = `name: tiny
cluster:
  podCidr: 10.244.0.0/16
  serviceCidr: 10.96.0.0/16
fabric:
  switches: [{ name: tor1 }]
  nodes:
    - { name: node1, ip: 198.51.100.1 }
    - { name: node2, ip: 198.51.100.2 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
pods:
  - { name: a, node: node1, labels: { app: web } }
  - { name: b, node: node2 }
`;

describe('parseScenarioText', () => {
  test('defaults are applied', () => {
    const { scenario, diagnostics } = parseScenarioText(minimal + 'services:\n  - { name: web, selector: { app: web }, port: 80 }\n', 'tiny.yaml');
    expect(diagnostics).toEqual([]);
    expect(scenario).toBeDefined();
    const s = scenario!;
    expect(s.seed).toBe(1);
    expect(s.cluster).toEqual({ mode: 'routed', encap: 'vxlan', podCidr: '10.244.0.0/16', nodeMaskLen: 24, serviceCidr: '10.96.0.0/16', isolation: false, allow: [], rebalance: [] });
    expect(s.fabric.links[0]).toEqual({ between: ['node1', 'tor1'], gbps: 10, latencyUs: 1 });
    expect(s.pods[1]).toEqual({ name: 'b', node: 'node2', labels: {}, hostPorts: [] });
    expect(s.services[0]).toEqual({ name: 'web', selector: { app: 'web' }, port: 80, targetPort: 80, protocol: 'tcp' });
    expect(s.traffic).toEqual([]);
    expect(s.file).toBe('tiny.yaml');
    expect(s.positions!.get('pods/1/node')).toEqual({ file: 'tiny.yaml', line: 15, col: 22 });
  });

  test('events are sorted by time, file order kept for equal times; positions follow them', () => {
    const text = minimal + `events:
  - { at: 3s, pod: delete, name: a }
  - { at: 1500ms, link: down, between: [node1, tor1] }
  - { at: 1.5, node: down, name: node2 }
  - { at: 0, pod: add, name: c, node: node1, labels: { app: web }, egressGbps: 2 }
  - { at: 4s, service: add, name: web2, selector: { app: web }, port: 8080, protocol: udp }
  - { at: 5s, service: delete, name: web2 }
  - { at: 6s, pod: move, name: c, to: node2 }
`;
    const { scenario, diagnostics } = parseScenarioText(text, 't.yaml');
    expect(diagnostics).toEqual([]);
    expect(scenario!.events).toEqual([
      { at: 0, kind: 'pod', action: 'add', name: 'c', node: 'node1', labels: { app: 'web' }, egressGbps: 2 },
      { at: 1.5, kind: 'link', action: 'down', between: ['node1', 'tor1'] },
      { at: 1.5, kind: 'node', action: 'down', name: 'node2' },
      { at: 3, kind: 'pod', action: 'delete', name: 'a' },
      { at: 4, kind: 'service', action: 'add', service: { name: 'web2', selector: { app: 'web' }, port: 8080, targetPort: 8080, protocol: 'udp' } },
      { at: 5, kind: 'service', action: 'delete', name: 'web2' },
      { at: 6, kind: 'pod', action: 'move', name: 'c', to: 'node2' },
    ]);
    expect(scenario!.positions!.get('events/0')!.line).toBe(20);
    expect(scenario!.positions!.get('events/3/name')!.line).toBe(17);
  });

  test('every expectation kind parses', () => {
    const text = minimal + `traffic:
  - { from: a, to: b, gbps: 2, at: 1s, until: 9s }
expect:
  - { at: 1s, reach: { from: a, to: b, port: 80, protocol: tcp } }
  - { at: 1s, noReach: { from: a, to: 10.244.9.9 } }
  - { at: 1s, maxLinkUtilization: 0.8 }
  - { at: 1s, fairShare: { demand: 0, tolerance: 0.1 } }
  - { at: 1s, limited: { pod: a, gbps: 1 } }
`;
    const { scenario, diagnostics } = parseScenarioText(text, 't.yaml');
    expect(diagnostics).toEqual([]);
    expect(scenario!.traffic).toEqual([{ from: 'a', to: 'b', gbps: 2, at: 1, until: 9 }]);
    expect(scenario!.expect.map((e) => e.kind)).toEqual(['reach', 'noReach', 'maxLinkUtilization', 'fairShare', 'limited']);
    expect(scenario!.expect[0]).toEqual({ at: 1, kind: 'reach', reach: { from: 'a', to: 'b', port: 80, protocol: 'tcp' } });
  });

  test('warnings do not make a scenario invalid', () => {
    const { scenario, diagnostics } = parseScenarioText(minimal + 'services:\n  - { name: web, selector: { app: nothing }, port: 80 }\n', 'w.yaml');
    expect(scenario).toBeDefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual(['w.yaml:17:28: warning: service web: selector {app: nothing} matches no pod']);
  });

  test('expectations a correct simulator would fail are warned about', () => {
    const withExpect = minimal + `services:
  - { name: web, selector: { app: web }, port: 80 }
events:
  - { at: 2s, pod: move, name: a, to: node2 }
expect:
  - { at: 1s, reach: { from: b, to: web, port: 80 }, backends: [a, b] }
  - { at: 3s, egress: { from: a, to: 203.0.113.9 }, srcSeenAs: 198.51.100.1 }
`;
    const { scenario, diagnostics } = parseScenarioText(withExpect, 'w.yaml');
    expect(scenario).toBeDefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'w.yaml:21:64: warning: expectation #1: backends [a, b] differ from the pods service web selects at 1s: [a]',
      'w.yaml:22:64: warning: expectation #2: a runs on node2 at 3s, so its egress is seen as 198.51.100.2, not 198.51.100.1',
    ]);
  });

  test("`backends` inside `reach` is refused with where it belongs", () => {
    const text = minimal + `services:
  - { name: web, selector: { app: web }, port: 80 }
expect:
  - { at: 1s, reach: { from: b, to: web, port: 80, backends: [a] } }
`;
    expect(parseScenarioText(text, 'b.yaml').diagnostics.map(formatDiagnostic)).toEqual([
      "b.yaml:19:52: unknown key 'backends' in expectation #1 (reach): 'backends' sits beside 'reach', not inside it: { at: 1s, reach: { from, to, port }, backends: [...] }",
    ]);
  });

  test('all errors are reported, not the first', () => {
    const text = minimal.replace('gbps: 10 }\n    - { between: [node2', 'gbps: -1 }\n    - { between: [node9').replace('node: node2 }', 'node: node3 }');
    const lines = parseScenarioText(text, 'm.yaml').diagnostics.map(formatDiagnostic);
    expect(lines).toEqual([
      // node2 lost its link to the typo: a warning, in position order with the errors
      'm.yaml:9:15: warning: node node2 has no links: its pods can reach only each other',
      "m.yaml:11:39: link #1: 'gbps' must be a number > 0, got -1",
      "m.yaml:12:19: link end 'node9' is not a node or switch (did you mean 'node1'?)",
      "m.yaml:15:22: pod b: unknown node 'node3' (did you mean 'node1'?)",
    ]);
  });

  test('YAML oddities: anchors work, alias bombs and multiple documents do not crash', () => {
    const anchored = minimal.replace('labels: { app: web } }', 'labels: &l { app: web } }').replace('- { name: b, node: node2 }', '- { name: b, node: node2, labels: *l }');
    expect(parseScenarioText(anchored, 'a.yaml').scenario!.pods[1].labels).toEqual({ app: 'web' });
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 12; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const r = parseScenarioText(bomb, 'bomb.yaml');
    expect(r.scenario).toBeUndefined();
    expect(r.diagnostics[0].message).toMatch(/invalid YAML|alias/i);
    const two = parseScenarioText(minimal + '---\nname: second\n', 'two.yaml');
    expect(two.scenario).toBeUndefined();
    expect(two.diagnostics.map(formatDiagnostic)[0]).toMatch(/^two\.yaml:\d+:\d+: invalid YAML: /);
  });
});

describe('parseDuration', () => {
  test.each([
    ['250ms', 0.25],
    ['2s', 2],
    ['1.5s', 1.5],
    [3, 3],
    [0, 0],
    [0.1, 0.1],
    ['0ms', 0],
  ])('%p is %p seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds));
  test.each(['2', '1m', '-1s', 'soon', '1.5 s', '', '.5s'])('%p is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
  test('negative and non-finite numbers are refused', () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Infinity)).toBeUndefined();
    expect(parseDuration(null)).toBeUndefined();
  });
});

test('every shipped scenario parses without a diagnostic', () => {
  for (const f of fs.readdirSync(scenarioDir).filter((x) => x.endsWith('.yaml'))) {
    const r = parseScenarioFile(path.join(scenarioDir, f));
    expect({ f, lines: r.diagnostics.map(formatDiagnostic) }).toEqual({ f, lines: [] });
    expect(r.scenario!.name).toBe(f.replace(/\.yaml$/, ''));
  }
});
