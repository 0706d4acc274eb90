/**
 * The compiler on the repository's scenarios (golden snapshots of every switch in ovs-ofctl text,
 * at t=0 and after all events) and on small clusters built for one feature each.
 */
import { applyEvent, buildClusterState } from '../../topology';
import { compileCluster, compileIncremental, conflictsOf, generationOf, isOurs, serviceGroupId } from '../../controller';
import type { FabricPlan } from '../../controller';
import { HAIRPIN_IP, TABLE } from '../../controller/pipeline';
import type { Flow, SwitchPlan } from '../../fabric/openflow/flow';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import type { ClusterState, Scenario } from '../../topology/types';
import { loadScenario, scenarioFiles, scenarioOf } from './support';
import { walk } from './walk';

function text(plan: FabricPlan): string {
  const out: string[] = [];
  for (const [name, sp] of plan) out.push(`## ${name} ${sp.datapathId}`, ...sp.flows.map(flowText), ...sp.groups.map(groupText), ...sp.meters.map(meterText));
  return out.join('\n') + '\n';
}

const flowsIn = (sp: SwitchPlan, table: keyof typeof TABLE) => sp.flows.filter((f) => f.table === TABLE[table]);
const texts = (flows: Flow[]) => flows.map(flowText);

describe('golden plans of the scenarios', () => {
  for (const file of scenarioFiles()) {
    const name = file.split('/').pop()!;
    it(`${name}`, () => {
      const scenario = loadScenario(file);
      const state = buildClusterState(scenario);
      let plan = compileCluster(state);
      for (const sp of plan.values()) expect(conflictsOf(sp)).toEqual([]);
      expect(text(plan)).toMatchSnapshot('t=0');
      for (const ev of scenario.events) plan = compileIncremental(plan, state, applyEvent(state, ev));
      if (scenario.events.length) expect(text(plan)).toMatchSnapshot('after all events');
      expect(text(plan)).toBe(text(compileCluster(state)));
    });
  }
});

/**
 * A triangle: node1 on a, node2 on b, a-b direct and a-c-b around: a's best path to node2 has a
 * loop-free backup (a fast-failover group unless cluster.fastFailover is false).
 */
function triangle(fastFailover?: boolean): ClusterState {
  const base = scenarioOf({ fabric: { switches: [], nodes: [], links: [], externals: [] } });
  return buildClusterState(
    scenarioOf({
      cluster: { ...base.cluster, ...(fastFailover === undefined ? {} : { fastFailover }) },
      fabric: {
        switches: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
        nodes: [
          { name: 'node1', ip: '198.51.100.11' },
          { name: 'node2', ip: '198.51.100.12' },
        ],
        links: [
          { between: ['node1', 'a'], gbps: 10, latencyUs: 1 },
          { between: ['node2', 'b'], gbps: 10, latencyUs: 1 },
          { between: ['a', 'b'], gbps: 10, latencyUs: 1 },
          { between: ['a', 'c'], gbps: 10, latencyUs: 1 },
          { between: ['c', 'b'], gbps: 10, latencyUs: 1 },
        ],
        externals: [],
      },
      pods: [{ name: 'p2', node: 'node2', labels: {}, hostPorts: [] }],
    }),
  );
}

function twoRacks(extra: Partial<Scenario> = {}, cluster: Partial<Scenario['cluster']> = {}): ClusterState {
  const s = scenarioOf({
    fabric: {
      switches: [{ name: 'spine1' }, { name: 'spine2' }, { name: 'tor1' }, { name: 'tor2' }],
      nodes: [
        { name: 'node1', ip: '198.51.100.11' },
        { name: 'node2', ip: '198.51.100.12' },
        { name: 'node3', ip: '198.51.100.13' },
      ],
      links: [
        { between: ['node1', 'tor1'], gbps: 10, latencyUs: 1 },
        { between: ['node2', 'tor1'], gbps: 10, latencyUs: 1 },
        { between: ['node3', 'tor2'], gbps: 10, latencyUs: 1 },
        { between: ['tor1', 'spine1'], gbps: 40, latencyUs: 1 },
        { between: ['tor1', 'spine2'], gbps: 40, latencyUs: 1 },
        { between: ['tor2', 'spine1'], gbps: 40, latencyUs: 1 },
        { between: ['tor2', 'spine2'], gbps: 40, latencyUs: 1 },
      ],
      externals: [{ name: 'internet', ip: '203.0.113.1', attach: 'spine1' }],
    },
    pods: [
      { name: 'web-1', node: 'node1', labels: { app: 'web' }, hostPorts: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], egressGbps: 0.05 },
      { name: 'web-2', node: 'node3', labels: { app: 'web' }, hostPorts: [] },
      { name: 'db-1', node: 'node2', labels: { app: 'db' }, hostPorts: [] },
    ],
    services: [{ name: 'web', selector: { app: 'web' }, port: 80, targetPort: 8080, protocol: 'tcp' }],
    ...extra,
  });
  s.cluster = { ...s.cluster, ...cluster };
  return buildClusterState(s);
}

describe('node switch', () => {
  const state = twoRacks();
  const plan = compileCluster(state);
  const node1 = plan.get('node1')!;
  const web1 = state.pods.get('web-1')!;
  const n1 = state.nodes.get('node1')!;

  it('answers ARP in flows with the gateway MAC, back out IN_PORT', () => {
    const [arp] = flowsIn(node1, 'arp_responder').filter((f) => f.priority > 0);
    expect(flowText(arp)).toContain(`set_field:${n1.gatewayMac}->eth_src`);
    expect(flowText(arp)).toContain('set_field:2->arp_op');
    expect(flowText(arp)).toMatch(/IN_PORT$/);
  });

  it('lets a pod port send only its own IP and MAC', () => {
    const guard = texts(flowsIn(node1, 'spoof_guard'));
    expect(guard).toContainEqual(expect.stringContaining(`ip,in_port=100,eth_src=${web1.mac},nw_src=${web1.ip} actions=goto_table:${TABLE.metering}`));
    expect(guard).toContainEqual(expect.stringContaining(`arp,in_port=100,eth_src=${web1.mac},arp_spa=${web1.ip},arp_sha=${web1.mac}`));
    expect(guard.filter((t) => t.includes('priority=0'))).toEqual([expect.stringContaining('actions=drop')]);
  });

  it('delivers a local pod through its /32 with its MAC and the gateway MAC, TTL decremented', () => {
    expect(texts(flowsIn(node1, 'l3_forwarding'))).toContainEqual(
      expect.stringContaining(`priority=425,ip,nw_dst=${web1.ip} actions=dec_ttl,set_field:${n1.gatewayMac}->eth_src,set_field:${web1.mac}->eth_dst,set_field:0x64->reg1,goto_table:${TABLE.l2_output}`),
    );
  });

  it('load-balances a service VIP with a select group whose buckets DNAT with conntrack in the node zone', () => {
    const svc = state.services.get('web')!;
    const gid = serviceGroupId(state, svc);
    expect(texts(flowsIn(node1, 'service_lb'))).toContainEqual(expect.stringContaining(`ct_state=+new+trk actions=group:${gid}`));
    const g = node1.groups.find((x) => x.groupId === gid)!;
    expect(groupText(g)).toBe(
      `group_id=${gid},type=select,bucket=actions=ct(commit,table=${TABLE.policy},zone=reg5[0..15],nat(dst=${state.pods.get('web-1')!.ip}:8080)),bucket=actions=ct(commit,table=${TABLE.policy},zone=reg5[0..15],nat(dst=${state.pods.get('web-2')!.ip}:8080))`,
    );
    // the same (shared) service flows and groups on every node switch; zone in reg5 per node
    expect(plan.get('node3')!.groups.find((x) => x.groupId === gid)).toEqual(g);
    expect(texts(flowsIn(plan.get('node3')!, 'classifier'))).toContainEqual(expect.stringContaining(`set_field:0x${state.nodes.get('node3')!.ctZone.toString(16)}->reg5`));
  });

  it('un-NATs with ct(nat) first and SNATs new pod connections leaving the cluster to the node IP', () => {
    expect(texts(flowsIn(node1, 'conntrack'))).toContainEqual(expect.stringContaining(`ip actions=ct(table=${TABLE.service_lb},zone=reg5[0..15],nat)`));
    expect(texts(flowsIn(node1, 'snat'))).toContainEqual(expect.stringContaining(`ct(commit,table=${TABLE.l3_forwarding},zone=reg5[0..15],nat(src=${n1.ip}))`));
  });

  it('maps a hostPort from the node IP to the pod', () => {
    expect(texts(flowsIn(node1, 'endpoint_dnat'))).toContainEqual(expect.stringContaining(`tcp,nw_dst=${n1.ip},tcp_dst=8080,ct_state=+new+trk actions=ct(commit,table=${TABLE.policy},zone=reg5[0..15],nat(dst=${web1.ip}:80))`));
  });

  it('meters a pod egress limit in kbps with burst = rate/5', () => {
    expect(node1.meters.map(meterText)).toEqual(['meter=100,kbps,burst,stats,bands=type=drop,rate=50000,burst_size=10000']);
    expect(texts(flowsIn(node1, 'metering'))).toContainEqual(expect.stringContaining('in_port=100 actions=meter:100,goto_table:4'));
  });

  it('sends traffic for the node IP to the LOCAL port', () => {
    expect(texts(flowsIn(node1, 'l3_forwarding'))).toContainEqual(expect.stringContaining(`nw_dst=${n1.ip} actions=dec_ttl,set_field:${n1.gatewayMac}->eth_src,set_field:0a:58:c6:33:64:0b->eth_dst,set_field:0xfffffffe->reg1`));
  });

  it('stamps our owner tag and the generation into every cookie', () => {
    const g7 = compileCluster(state, { generation: 7 });
    for (const sp of g7.values()) for (const f of sp.flows) {
      expect(isOurs(f.cookie)).toBe(true);
      expect(generationOf(f.cookie)).toBe(7);
    }
  });
});

describe('fabric switches', () => {
  it('route every node block, node IP and external; ECMP over both spines from a ToR', () => {
    const state = twoRacks();
    const plan = compileCluster(state);
    const tor1 = plan.get('tor1')!;
    const node3 = state.nodes.get('node3')!;
    const route = flowsIn(tor1, 'l3_forwarding').find((f) => flowText(f).includes(`nw_dst=${node3.podCidr}`))!;
    const gid = (route.instructions.apply!.find((a) => a.type === 'group') as { groupId: number }).groupId;
    const g = tor1.groups.find((x) => x.groupId === gid)!;
    expect(g.type).toBe('select');
    expect(g.buckets.map((b) => b.watchPort)).toEqual([3, 4]);
    expect(groupText(g)).toContain(`set_field:${state.switches.get('spine1')!.routerMac}->eth_dst,output:3`);
    expect(texts(flowsIn(tor1, 'l3_forwarding'))).toContainEqual(expect.stringContaining('nw_dst=203.0.113.1 '));
    // the external is delivered on spine1 with its MAC
    expect(texts(flowsIn(plan.get('spine1')!, 'l3_forwarding'))).toContainEqual(expect.stringContaining(`nw_dst=203.0.113.1 actions=dec_ttl,set_field:${state.switches.get('spine1')!.routerMac}->eth_src,set_field:0a:58:cb:00:71:01->eth_dst`));
  });

  it('use a fast-failover group where a loop-free backup exists, and survive the link failure in the data plane', () => {
    const state = triangle();
    const plan = compileCluster(state);
    const a = plan.get('a')!;
    const ff = a.groups.find((g) => g.type === 'ff');
    expect(ff).toBeDefined();
    expect(ff!.buckets.map((b) => b.watchPort)).toEqual([2, 3]); // primary a-b, backup a-c
    const p2 = state.pods.get('p2')!.ip;
    expect(walk(state, plan, 'node1', p2)).toEqual([{ kind: 'delivered', switch: 'node2', port: 100 }]);
    // the link fails; the OLD plan still delivers (fast failover), before any recompilation
    applyEvent(state, { at: 1, kind: 'link', action: 'down', between: ['a', 'b'] });
    expect(walk(state, plan, 'node1', p2)).toEqual([{ kind: 'delivered', switch: 'node2', port: 100 }]);
  });

  it('cluster.fastFailover: false compiles plain next hops: no fast-failover group, no bucket liveness, so a cut link waits for the controller', () => {
    const state = triangle(false);
    const plan = compileCluster(state);
    for (const sw of plan.values()) expect(sw.groups.filter((g) => g.type === 'ff')).toEqual([]);
    const p2 = state.pods.get('p2')!.ip;
    expect(walk(state, plan, 'node1', p2)).toEqual([{ kind: 'delivered', switch: 'node2', port: 100 }]);
    // the link fails: the old plan black-holes until the controller recompiles, then delivers via c
    applyEvent(state, { at: 1, kind: 'link', action: 'down', between: ['a', 'b'] });
    expect(walk(state, plan, 'node1', p2)).not.toEqual([{ kind: 'delivered', switch: 'node2', port: 100 }]);
    expect(walk(state, compileCluster(state), 'node1', p2)).toEqual([{ kind: 'delivered', switch: 'node2', port: 100 }]);
    // the default keeps the ff group; ECMP buckets watch their port only by default
    expect([...compileCluster(triangle()).values()].some((sw) => sw.groups.some((g) => g.type === 'ff'))).toBe(true);
    const racks = twoRacks({}, { fastFailover: false });
    // route groups (ECMP next hops) as opposed to service groups (DNAT buckets)
    const ecmp = (st: ClusterState) => [...compileCluster(st).values()].flatMap((sw) => sw.groups.filter((g) => g.type === 'select' && g.buckets.every((b) => b.actions.some((a) => a.type === 'set_field' && a.field === 'eth_dst'))));
    expect(ecmp(racks).length).toBeGreaterThan(0);
    for (const g of ecmp(racks)) for (const b of g.buckets) expect(b.watchPort).toBeUndefined();
    for (const g of ecmp(twoRacks())) for (const b of g.buckets) expect(b.watchPort).toBeDefined();
  });

  it('route a moved pod by a /32 on every fabric switch and on its home node, towards its new node', () => {
    const state = twoRacks();
    let plan = compileCluster(state);
    const db = state.pods.get('db-1')!;
    plan = compileIncremental(plan, state, applyEvent(state, { at: 1, kind: 'pod', action: 'move', name: 'db-1', to: 'node3' }));
    for (const sw of ['spine1', 'spine2', 'tor1', 'tor2', 'node2']) {
      expect(texts(flowsIn(plan.get(sw)!, 'l3_forwarding'))).toContainEqual(expect.stringContaining(`priority=420,ip,nw_dst=${db.ip} `));
    }
    const port = state.switches.get('node3')!.ports.find((p) => p.kind === 'pod' && p.pod === 'db-1')!.port;
    for (const from of ['node1', 'node2', 'node3']) {
      const ends = walk(state, plan, from, db.ip);
      expect(ends.length).toBeGreaterThan(0);
      for (const e of ends) expect(e).toEqual({ kind: 'delivered', switch: 'node3', port });
    }
  });

  it('drop a down node from every route and its pods from service groups', () => {
    const state = twoRacks();
    let plan = compileCluster(state);
    plan = compileIncremental(plan, state, applyEvent(state, { at: 1, kind: 'node', action: 'down', name: 'node3' }));
    const node3 = state.nodes.get('node3')!;
    for (const sw of ['spine1', 'tor1']) expect(texts(flowsIn(plan.get(sw)!, 'l3_forwarding')).some((t) => t.includes(node3.podCidr))).toBe(false);
    const gid = serviceGroupId(state, state.services.get('web')!);
    expect(plan.get('node1')!.groups.find((g) => g.groupId === gid)!.buckets).toHaveLength(1);
  });
});

describe('overlay mode', () => {
  it('encapsulates towards the remote node IP; the fabric routes node IPs only', () => {
    const state = twoRacks({}, { mode: 'overlay' });
    const plan = compileCluster(state);
    const node3 = state.nodes.get('node3')!;
    expect(texts(flowsIn(plan.get('node1')!, 'l3_forwarding'))).toContainEqual(
      expect.stringContaining(`nw_dst=${node3.podCidr} actions=dec_ttl,set_field:${state.nodes.get('node1')!.gatewayMac}->eth_src,set_field:${node3.gatewayMac}->eth_dst,set_field:${node3.ip}->tun_dst,set_field:0x5a->reg1`),
    );
    expect(texts(flowsIn(plan.get('tor1')!, 'l3_forwarding')).some((t) => t.includes(node3.podCidr))).toBe(false);
    expect(texts(flowsIn(plan.get('tor1')!, 'l3_forwarding')).some((t) => t.includes(`nw_dst=${node3.ip} `))).toBe(true);
  });
});

describe('isolation', () => {
  it('drops new pod-to-pod connections unless allowed: one reg3 bit per rule loaded by source IP, one flow per destination pod', () => {
    const state = twoRacks({}, { isolation: true, allow: [{ from: { app: 'web' }, to: { app: 'db' }, port: 5432, protocol: 'tcp' }] });
    const plan = compileCluster(state);
    const web1 = state.pods.get('web-1')!;
    const db1 = state.pods.get('db-1')!;
    for (const sw of ['node1', 'node2', 'node3']) {
      const pol = texts(flowsIn(plan.get(sw)!, 'policy'));
      expect(pol).toContainEqual(expect.stringContaining('priority=100,ip,nw_src=10.244.0.0/16,nw_dst=10.244.0.0/16,ct_state=+new+trk actions=drop'));
      // every node: web-1 (a source of rule 0) gets bit 0 in conntrack, and its own node's pods may open the connection
      expect(texts(flowsIn(plan.get(sw)!, 'conntrack'))).toContainEqual(
        expect.stringContaining(`priority=110,ip,nw_src=${web1.ip} actions=set_field:0x1->reg3,ct(table=${TABLE.service_lb},zone=reg5[0..15],nat)`),
      );
      expect(pol).toContainEqual(
        expect.stringContaining(`priority=200,tcp,nw_dst=${db1.ip},tcp_dst=5432,reg0=0x1/0xf,reg3=0x1/0x1,ct_state=+new+trk actions=ct(commit,zone=reg5[0..15]),goto_table:${TABLE.snat}`),
      );
    }
    // the destination's node admits any source with the bit (from the fabric too); the others do not
    const fromAnywhere = `priority=200,tcp,nw_dst=${db1.ip},tcp_dst=5432,reg3=0x1/0x1,ct_state=+new+trk`;
    for (const sw of ['node1', 'node2', 'node3']) {
      expect(texts(flowsIn(plan.get(sw)!, 'policy')).some((t) => t.includes(fromAnywhere))).toBe(sw === db1.node);
    }
    // the policy flows are linear in the pods the rule selects: no (source, destination) pairs
    // (the hairpin admission of a local pod to itself has nw_src = nw_dst: see "hairpin")
    const pair = (t: string) => /nw_src=([0-9.]+),nw_dst=([0-9.]+)/.exec(t);
    for (const sw of ['node1', 'node2', 'node3']) expect(texts(flowsIn(plan.get(sw)!, 'policy')).some((t) => t.includes('nw_src=') && !t.includes('/16') && pair(t)?.[1] !== pair(t)?.[2])).toBe(false);
  });

  it('keeps per-pair flows for rules after the 32nd (no reg3 bit left)', () => {
    const padding = Array.from({ length: 32 }, (_, i) => ({ from: { app: `none${i}` }, to: { app: 'none' } }));
    const state = twoRacks({}, { isolation: true, allow: [...padding, { from: { app: 'web' }, to: { app: 'db' }, port: 5432, protocol: 'tcp' }] });
    const plan = compileCluster(state);
    const web1 = state.pods.get('web-1')!;
    const db1 = state.pods.get('db-1')!;
    for (const sw of new Set([web1.node, db1.node])) {
      expect(texts(flowsIn(plan.get(sw)!, 'policy'))).toContainEqual(
        expect.stringContaining(`priority=200,tcp,nw_src=${web1.ip},nw_dst=${db1.ip},tcp_dst=5432,ct_state=+new+trk actions=ct(commit,zone=reg5[0..15]),goto_table:${TABLE.snat}`),
      );
    }
    expect(texts(flowsIn(plan.get('node3')!, 'policy')).some((t) => t.includes(`nw_src=${web1.ip}`))).toBe(web1.node === 'node3' || db1.node === 'node3');
  });
});

describe('hairpin (a pod reaching itself through a service)', () => {
  const localPods = (state: ClusterState, sw: string) =>
    state.switches.get(sw)!.ports.flatMap((p) => (p.kind === 'pod' ? [{ port: p.port, pod: state.pods.get(p.pod)! }] : []));

  it.each([false, true])('isolation %s: per local pod, the reply rewrite before conntrack, IN_PORT output with the hairpin source, and (isolation) the self admission', (isolation) => {
    const state = twoRacks({}, { isolation, allow: [] });
    const plan = compileCluster(state);
    let pods = 0;
    for (const sw of ['node1', 'node2', 'node3']) {
      const sp = plan.get(sw)!;
      const guard = texts(flowsIn(sp, 'spoof_guard'));
      const out = texts(flowsIn(sp, 'l2_output'));
      const pol = texts(flowsIn(sp, 'policy'));
      const local = localPods(state, sw);
      for (const { port, pod } of local) {
        pods++;
        const reg1 = `reg1=0x${port.toString(16)}`;
        expect(guard).toContainEqual(
          expect.stringContaining(`priority=110,ip,in_port=${port},eth_src=${pod.mac},nw_src=${pod.ip},nw_dst=${HAIRPIN_IP} actions=set_field:${pod.ip}->nw_dst,goto_table:${TABLE.metering}`),
        );
        expect(out).toContainEqual(expect.stringContaining(`priority=120,ip,in_port=${port},nw_src=${pod.ip},nw_dst=${pod.ip},${reg1} actions=set_field:${HAIRPIN_IP}->nw_src,IN_PORT`));
        expect(out).toContainEqual(expect.stringContaining(`priority=110,in_port=${port},${reg1} actions=IN_PORT`));
        const self = `priority=210,ip,nw_src=${pod.ip},nw_dst=${pod.ip},reg0=0x1/0xf,ct_state=+new+trk actions=ct(commit,zone=reg5[0..15]),goto_table:${TABLE.snat}`;
        expect(pol.some((t) => t.includes(self))).toBe(isolation);
      }
      // exactly those: one set per local pod, none for other nodes' pods
      expect(guard.filter((t) => t.includes(`nw_dst=${HAIRPIN_IP}`))).toHaveLength(local.length);
      expect(out.filter((t) => t.includes('IN_PORT'))).toHaveLength(2 * local.length);
      expect(pol.filter((t) => t.includes('priority=210'))).toHaveLength(isolation ? local.length : 0);
    }
    expect(pods).toBe(3);
    // fabric switches have no hairpin flows
    expect(texts(plan.get('tor1')!.flows).some((t) => t.includes('IN_PORT') && !t.includes('arp'))).toBe(false);
  });

  it('follows the pod: add, move and delete change only the hairpin flows of the nodes involved, incremental = full', () => {
    const state = twoRacks({}, { isolation: true, allow: [] });
    let plan = compileCluster(state);
    const events = [
      { at: 1, kind: 'pod', action: 'add', name: 'web-3', node: 'node2', labels: { app: 'web' } },
      { at: 2, kind: 'pod', action: 'move', name: 'web-3', to: 'node3' },
      { at: 3, kind: 'pod', action: 'delete', name: 'web-3' },
    ] as const;
    const hairpinOf = (p: FabricPlan, sw: string) => texts(p.get(sw)!.flows).filter((t) => t.includes(HAIRPIN_IP) || /priority=110,in_port=\d+,reg1=/.test(t) || t.includes('priority=210'));
    const seen: Record<string, number[]> = {};
    for (const ev of events) {
      plan = compileIncremental(plan, state, applyEvent(state, ev as never));
      expect(text(plan)).toBe(text(compileCluster(state)));
      const ip = state.pods.get('web-3')?.ip;
      seen[ev.action] = ['node1', 'node2', 'node3'].map((sw) => hairpinOf(plan, sw).filter((t) => ip !== undefined && t.includes(`nw_src=${ip}`)).length);
    }
    expect(seen.add).toEqual([0, 3, 0]);
    expect(seen.move).toEqual([0, 0, 3]);
  });
});

describe('rebalancer steering', () => {
  it('a limit replaces the pod meter with min(egressGbps, limit) and lifting it restores (or removes) the meter; only that node switch changes', () => {
    const state = twoRacks();
    const plan0 = compileCluster(state);
    state.steering = { pins: [], limits: { 'web-1': 0.02, 'db-1': 0.5 } };
    const plan1 = compileIncremental(plan0, state, [{ kind: 'steering-changed' }]);
    expect(plan1.get('node1')!.meters.map(meterText)).toEqual(['meter=100,kbps,burst,stats,bands=type=drop,rate=20000,burst_size=4000']);
    expect(plan1.get('node2')!.meters.map(meterText)).toEqual(['meter=100,kbps,burst,stats,bands=type=drop,rate=500000,burst_size=100000']);
    expect(texts(flowsIn(plan1.get('node2')!, 'metering'))).toContainEqual(expect.stringContaining('in_port=100 actions=meter:100,goto_table:4'));
    for (const n of ['node3', 'tor1', 'tor2', 'spine1', 'spine2']) expect(plan1.get(n)).toBe(plan0.get(n));
    // a limit above the pod's own egressGbps changes nothing on its meter
    state.steering = { pins: [], limits: { 'web-1': 5 } };
    const plan2 = compileIncremental(plan1, state, [{ kind: 'steering-changed' }]);
    expect(plan2.get('node1')!.meters.map(meterText)).toEqual(['meter=100,kbps,burst,stats,bands=type=drop,rate=50000,burst_size=10000']);
    expect(plan2.get('node2')!.meters).toEqual([]);
    expect(flowsIn(plan2.get('node2')!, 'metering').filter((f) => f.priority > 0)).toEqual([]);
    expect(text(plan2)).toBe(text(compileCluster(state)));
  });

  it('a pin sends one flow to its pinned next hop at each hop switch (above every route), and is left out where the link is down', () => {
    const state = twoRacks();
    const plan0 = compileCluster(state);
    const web1 = state.pods.get('web-1')!;
    const web2 = state.pods.get('web-2')!;
    state.steering = { pins: [{ id: 'd', srcIp: web1.ip, dstIp: web2.ip, protocol: 'udp', hops: [{ switch: 'tor1', nextHop: 'spine2' }, { switch: 'spine2', nextHop: 'tor2' }] }], limits: {} };
    const plan1 = compileIncremental(plan0, state, [{ kind: 'steering-changed' }]);
    const tor1 = state.switches.get('tor1')!;
    const toSpine2 = tor1.ports.find((p) => p.kind === 'link' && p.peerSwitch === 'spine2')!.port;
    const pins = texts(flowsIn(plan1.get('tor1')!, 'l3_forwarding').filter((f) => f.priority === 470));
    expect(pins).toEqual([
      expect.stringContaining(`priority=470,udp,nw_src=${web1.ip},nw_dst=${web2.ip} actions=dec_ttl,set_field:${tor1.routerMac}->eth_src,set_field:${state.switches.get('spine2')!.routerMac}->eth_dst,set_field:0x${toSpine2.toString(16)}->reg1,goto_table:${TABLE.l2_output}`),
    ]);
    expect(flowsIn(plan1.get('spine2')!, 'l3_forwarding').filter((f) => f.priority === 470)).toHaveLength(1);
    // only the hop switches changed
    for (const n of ['node1', 'node2', 'node3', 'tor2', 'spine1']) expect(plan1.get(n)).toBe(plan0.get(n));
    // the link fails: the pin at tor1 is left out (routes and their fast-failover take over), and comes back with the link
    const plan2 = compileIncremental(plan1, state, applyEvent(state, { at: 1, kind: 'link', action: 'down', between: ['tor1', 'spine2'] }));
    expect(flowsIn(plan2.get('tor1')!, 'l3_forwarding').filter((f) => f.priority === 470)).toEqual([]);
    expect(text(plan2)).toBe(text(compileCluster(state)));
    const plan3 = compileIncremental(plan2, state, applyEvent(state, { at: 2, kind: 'link', action: 'up', between: ['tor1', 'spine2'] }));
    expect(texts(flowsIn(plan3.get('tor1')!, 'l3_forwarding').filter((f) => f.priority === 470))).toEqual(pins);
    // steering removed: the pins go away
    state.steering = undefined;
    const plan4 = compileIncremental(plan3, state, [{ kind: 'steering-changed' }]);
    expect(text(plan4)).toBe(text(plan0));
  });

  it('service weights become select bucket weights; only the services part changes', () => {
    const state = twoRacks();
    const plan0 = compileCluster(state);
    state.steering = { pins: [], limits: {}, weights: { web: { 'web-1': 4, 'web-2': 1 } } };
    const plan1 = compileIncremental(plan0, state, [{ kind: 'steering-changed' }]);
    const gid = serviceGroupId(state, state.services.get('web')!);
    const g = plan1.get('node2')!.groups.find((x) => x.groupId === gid)!;
    expect(g.buckets.map((b) => b.weight)).toEqual([4, 1]);
    expect(groupText(g)).toMatch(/bucket=weight:4,actions=ct.*bucket=weight:1,actions=ct/);
    for (const n of ['tor1', 'tor2', 'spine1', 'spine2']) expect(plan1.get(n)).toBe(plan0.get(n));
    expect(text(plan1)).toBe(text(compileCluster(state)));
  });
});
