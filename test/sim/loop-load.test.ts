/**
 * The simulator gives the controller's loop the same input real switches give it: the bandwidth
 * model's byte counters as port counters at every bandwidth step (sim/demands.ts modelPortCounters),
 * read by the loop with the code that reads OpenFlow port statistics (controller/load.ts LinkLoad).
 * So the loop's view of the load in the simulator is the model's load.
 */
import { runScenarioDetailed } from '../../sim';
import { parseScenarioText } from '../../topology';

const yaml = `
name: loop-load
seed: 2
cluster: { mode: routed, podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/16 }
fabric:
  switches: [ { name: tor1 } ]
  nodes: [ { name: node1, ip: 198.51.100.11 }, { name: node2, ip: 198.51.100.12 } ]
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
pods:
  - { name: a, node: node1 }
  - { name: b, node: node1 }
  - { name: x, node: node2 }
traffic:
  - { from: a, to: x, gbps: 3, at: 0s, until: 3s }
  - { from: b, to: x, gbps: 1, at: 1s, until: 3s }
expect:
  - { at: 2s, maxLinkUtilization: 0.5 }
`;

test("the loop reads the model's load from the simulated port counters: link directions and pod ports", () => {
  const parsed = parseScenarioText(yaml, 'loop-load.yaml');
  const { report, run } = runScenarioDetailed(parsed.scenario!);
  expect(report.ok).toBe(true);
  // the last step is at 3 s; over its 1 s window (2 s..3 s) both demands ran: 4 Gbit/s node1 -> node2
  const links = new Map(run.loop.load.linkUtilization().map((l) => [l.link, l]));
  expect(links.get('node1->tor1')!.gbps).toBeCloseTo(4, 9);
  expect(links.get('node1->tor1')!.utilization).toBeCloseTo(0.4, 9);
  expect(links.get('tor1->node2')!.gbps).toBeCloseTo(4, 9);
  expect(links.get('tor1->node1')!.gbps).toBeCloseTo(0, 9);
  const node1 = run.physical.switches.get('node1')!;
  const portOf = (pod: string): number => node1.ports.find((p) => p.kind === 'pod' && p.pod === pod)!.port;
  const rates = new Map(run.loop.load.portRates().map((r) => [`${r.switch}/${r.port}`, r]));
  expect(rates.get(`node1/${portOf('a')}`)!.rxGbps).toBeCloseTo(3, 9);
  expect(rates.get(`node1/${portOf('b')}`)!.rxGbps).toBeCloseTo(1, 9);
  // one sample per bandwidth step (0, 1, 2, 3 s)
  expect(run.loop.load.polls).toBe(4);
});
