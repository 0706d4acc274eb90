/**
 * Hairpin through a service in the simulator (docs/pipeline.md "Hairpin"): a pod that reaches its own
 * service and is picked by the select group gets its own request with the hairpin address as source,
 * answers it, and receives the reply un-NATed from VIP:port. With isolation on, too (same pod).
 */
import { parseScenarioText } from '../../topology';
import { SimRun, runScenario } from '../../sim/runner';
import { followUp } from '../../sim/probe';
import { HAIRPIN_IP } from '../../controller/pipeline';

function scenario(isolation: boolean): string {
  return `
name: hairpin
seed: 5
cluster:
  mode: routed
  podCidr: 10.244.0.0/16
  serviceCidr: 10.96.0.0/16
  isolation: ${isolation}
  allow:
    - { from: { app: web }, to: { app: web }, port: 8443, protocol: tcp }
fabric:
  switches:
    - { name: tor1 }
  nodes:
    - { name: node1, ip: 198.51.100.61 }
    - { name: node2, ip: 198.51.100.62 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
pods:
  - { name: solo-1, node: node1, labels: { app: solo } }
  - { name: web-1, node: node1, labels: { app: web } }
  - { name: web-2, node: node2, labels: { app: web } }
services:
  - { name: solo, selector: { app: solo }, port: 80, targetPort: 8080 }
  - { name: web, selector: { app: web }, port: 443, targetPort: 8443 }
expect:
  - { at: 1s, reach: { from: solo-1, to: solo, port: 80 } }
  - { at: 1s, reach: { from: solo-1, to: solo, port: 80 }, backends: [solo-1] }
  - { at: 1s, reach: { from: web-1, to: web, port: 443 }, backends: [web-1, web-2] }
  - { at: 1s, reach: { from: web-2, to: web, port: 443 }, backends: [web-1, web-2] }
${isolation ? '  - { at: 1s, noReach: { from: solo-1, to: web, port: 443 } }\n' : ''}`;
}

describe('hairpin through a service (simulator)', () => {
  test.each([false, true])('isolation %s: a pod reaches its own service; with two backends both are picked', (isolation) => {
    const parsed = parseScenarioText(scenario(isolation), 'hairpin.yaml');
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const report = runScenario(parsed.scenario!);
    const failed = report.expectations.filter((e) => !e.ok).map((e) => `#${e.index} ${e.kind}: ${e.detail}`);
    expect(failed).toEqual([]);
    expect(report.expectations).toHaveLength(isolation ? 5 : 4);
  });

  test('the pod sees its own request from the hairpin address; the reply comes back from VIP:port; later packets stay hairpinned', () => {
    const sc = parseScenarioText(scenario(true), 'hairpin.yaml').scenario!;
    const run = new SimRun(sc);
    run.advanceTo(1);
    const vip = run.physical.services.get('solo')!.vip;
    const r = run.connect('solo-1', 'solo');
    if (typeof r === 'string') throw new Error(r);
    expect(r.detail).toContain('solo-1 -> ' + vip);
    expect(r.ok).toBe(true);
    expect(r.acceptedBy?.name).toBe('solo-1');
    expect(r.seenSrc).toBe(HAIRPIN_IP);
    expect(r.seenSrcPort).toBe(r.request!.l4Src);
    // request and reply both went out of the ingress port of node1 only
    expect(r.path).toEqual(['node1']);
    expect(r.replyPath).toEqual(['node1']);
    for (let k = 0; k < 3; k++) expect(followUp(run.network, run.network.host('solo-1')!, r, run.engine.nowUs())?.name).toBe('solo-1');
  });
});
