/**
 * The scenario the reachability-matrix and diff tests share: isolation with one allow rule (client ->
 * web:8080), two racks under one spine, an external, two services, node3 down at 2 s.
 */
import { parseScenarioText } from '../../topology';
import type { Scenario } from '../../topology';

export const SHOP = `
name: shop
seed: 5
cluster:
  podCidr: 10.244.0.0/16
  serviceCidr: 10.96.0.0/16
  isolation: true
  allow:
    - { from: { app: client }, to: { app: web }, port: 8080 }
fabric:
  switches: [{ name: tor1 }, { name: tor2 }, { name: spine1 }]
  nodes:
    - { name: node1, ip: 198.51.100.11 }
    - { name: node2, ip: 198.51.100.12 }
    - { name: node3, ip: 198.51.100.13 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
    - { between: [node3, tor2], gbps: 10 }
    - { between: [tor1, spine1], gbps: 40 }
    - { between: [tor2, spine1], gbps: 40 }
  externals:
    - { name: internet, ip: 203.0.113.1, attach: spine1 }
pods:
  - { name: client-1, node: node1, labels: { app: client } }
  - { name: web-1, node: node1, labels: { app: web } }
  - { name: web-2, node: node2, labels: { app: web } }
  - { name: db-1, node: node3, labels: { app: db } }
  - { name: tools, node: node2 }
services:
  - { name: web, selector: { app: web }, port: 80, targetPort: 8080 }
  - { name: db, selector: { app: db }, port: 5432 }
events:
  - { at: 2s, node: down, name: node3 }
`;

export function scenarioOfText(text: string, file = 'shop.yaml'): Scenario {
  const r = parseScenarioText(text, file);
  if (!r.scenario) throw new Error(`${file} does not parse: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.scenario;
}
