/**
 * Hairpin through a service on real OVS with real TCP (docs/pipeline.md "Hairpin"): a pod that is the
 * only backend of its service connects to the service VIP and gets its own answer, seeing the hairpin
 * address as the source; with two backends, one of them the client, both answer (the client itself
 * through the hairpin, the other seeing the client's own IP).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkNetnsPermitted, labNamespaces, scenarioLabUp, tcpConnect, teardownLab } from '../../fabric/lab';
import { HAIRPIN_IP } from '../../controller/pipeline';

const ID = 'thpin';
// isolation on: no rule admits solo-1 to itself, yet the hairpin is admitted (the same pod)
const scenario = (isolation: boolean) => `# hairpin lab: solo-1 is the only backend of solo; web-1 and web-2 back web
name: lab-hairpin
seed: 3
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
    - { name: node1, ip: 198.51.100.11, podCidr: 10.244.1.0/24 }
    - { name: node2, ip: 198.51.100.12, podCidr: 10.244.2.0/24 }
  links:
    - { between: [node1, tor1], gbps: 10 }
    - { between: [node2, tor1], gbps: 10 }
pods:
  - { name: solo-1, node: node1, labels: { app: solo } }
  - { name: web-1, node: node1, labels: { app: web } }
  - { name: web-2, node: node2, labels: { app: web } }
services:
  - { name: solo, selector: { app: solo }, port: 80, targetPort: 8080, protocol: tcp }
  - { name: web, selector: { app: web }, port: 443, targetPort: 8443, protocol: tcp }
`;

let dir: string;
beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-hairpin-'));
});
afterAll(async () => {
  await teardownLab(ID);
  fs.rmSync(dir, { recursive: true, force: true });
});

test.each([false, true])('isolation %s: a pod reaches its own service on real OVS: answered by itself, seen from the hairpin address', async (isolation) => {
  const file = path.join(dir, `hairpin-${isolation}.yaml`);
  fs.writeFileSync(file, scenario(isolation));
  const { lab, loaded } = await scenarioLabUp(file, { id: ID, program: 'openflow' });
  try {
    const { state } = loaded;
    const solo = state.services.get('solo')!;
    const web = state.services.get('web')!;
    const alone = await tcpConnect(lab, 'solo-1', solo.vip, solo.port, 5, 1, 2);
    const mixed = await tcpConnect(lab, 'web-1', web.vip, web.port, 16, 1, 3);
    const seen: Record<string, string[]> = {};
    for (const r of mixed) if (r.ok) seen[r.server!] = [...new Set([...(seen[r.server!] ?? []), r.seenSrc!])];
    expect({ alone, mixedOk: mixed.filter((r) => r.ok).length, seen }).toEqual({
      alone: Array(5).fill({ ok: true, server: 'solo-1', seenSrc: HAIRPIN_IP }),
      mixedOk: 16,
      seen: { 'web-1': [HAIRPIN_IP], 'web-2': [state.pods.get('web-1')!.ip] },
    });
  } finally {
    await lab.down();
  }
  expect(labNamespaces(ID)).toEqual([]);
}, 30_000);
