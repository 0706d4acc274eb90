/**
 * Real Open vSwitch as the oracle: every scenario's plan, switch by switch, is loaded into a dummy
 * datapath bridge with ovs-ofctl (every line must be accepted), read back equal (`diff-flows`), and a
 * few packets are traced with ofproto/trace to where the plan says they go.
 */
import { compileCluster, compileIncremental, reconcile, serviceGroupId } from '../../controller';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { applyEvent, buildClusterState, cloneClusterState } from '../../topology';
import type { FabricPlan } from '../../controller';
import { TABLE } from '../../controller/pipeline';
import type { ClusterState } from '../../topology/types';
import { mgmt, PrivateOvs, startPrivateOvs } from '../support/ovs';
import { createBridge, loadPlan, loadPlanFileOnly, loadScenario, loadState, scenarioFiles } from './support';

let ovs: PrivateOvs;
beforeAll(async () => {
  ovs = await startPrivateOvs({ vswitchd: 'dummy' });
});
afterAll(async () => {
  await ovs?.stop();
});

let bridgeSeq = 0;
function freshBridge(state: ClusterState, name: string): string {
  const bridge = `b${++bridgeSeq}`;
  createBridge(ovs, state.switches.get(name)!, bridge);
  return bridge;
}

function trace(bridge: string, flow: string, ctNext?: string): string {
  const args = ['ofproto/trace', bridge, flow];
  if (ctNext) args.push('--ct-next', ctNext);
  return ovs.appctl(...args);
}

describe('isolation in real OVS (ofproto/trace): the reg3 rule bits survive the conntrack recirculation', () => {
  const file = scenarioFiles().find((f) => f.endsWith('single-rack.yaml'))!;
  const state = loadState(file);
  const plan = compileCluster(state);
  const web = state.pods.get('web-1')!;
  const cache = state.pods.get('cache-1')!;
  const portOf = (node: string, pod: string) => (state.switches.get(node)!.ports.find((p) => p.kind === 'pod' && p.pod === pod) as { port: number }).port;
  const uplinkOf = (node: string) => state.switches.get(node)!.ports.find((p) => p.kind === 'link')!;
  const bridges = new Map<string, string>();

  beforeAll(() => {
    for (const node of [web.node, cache.node]) {
      const bridge = freshBridge(state, node);
      loadPlan(ovs, { ...plan.get(node)!, switch: bridge });
      bridges.set(node, bridge);
    }
  });
  afterAll(() => {
    for (const bridge of bridges.values()) ovs.vsctl('del-br', bridge);
  });

  const fromPod = (port: number) => {
    const node = state.nodes.get(web.node)!;
    return trace(
      bridges.get(web.node)!,
      `in_port=${portOf(web.node, web.name)},tcp,dl_src=${web.mac},dl_dst=${node.gatewayMac},nw_src=${web.ip},nw_dst=${cache.ip},nw_ttl=64,tcp_dst=${port},tcp_flags=0x002`,
      'trk,new',
    );
  };
  const fromFabric = (src: { ip: string }, port: number) => {
    const sw = state.switches.get(cache.node)!;
    const up = uplinkOf(cache.node);
    return trace(
      bridges.get(cache.node)!,
      `in_port=${up.port},tcp,dl_src=${state.switches.get(up.kind === 'link' ? up.peerSwitch : '')!.routerMac},dl_dst=${sw.routerMac},nw_src=${src.ip},nw_dst=${cache.ip},nw_ttl=64,tcp_dst=${port},tcp_flags=0x002`,
      'trk,new',
    );
  };

  it('the source node admits web-1 -> cache-1:6379 (reg3 bit loaded in conntrack, matched in policy) and sends it up', () => {
    const out = fromPod(6379);
    expect(out).toMatch(/set_field:0x1->reg3|load:0x1->NXM_NX_REG3\[\]/);
    expect(out).toMatch(new RegExp(`${TABLE.policy}\\. .*reg3=0x1/0x1`));
    expect(out).toMatch(new RegExp(`output:${uplinkOf(web.node).port}`));
    expect(out).not.toMatch(/Datapath actions: drop/);
  });

  it('the source node drops web-1 -> cache-1 on a port no rule allows', () => {
    expect(fromPod(80)).toMatch(/Datapath actions: drop/);
  });

  it('the destination node admits web-1 -> cache-1:6379 from the fabric and delivers it to the pod port', () => {
    const out = fromFabric(web, 6379);
    expect(out).toMatch(new RegExp(`output:${portOf(cache.node, cache.name)}`));
    expect(out).not.toMatch(/Datapath actions: drop/);
  });

  it('the destination node drops a pod-range source no rule admits (no reg3 bit)', () => {
    expect(fromFabric({ ip: '10.244.200.9' }, 6379)).toMatch(/Datapath actions: drop/);
  });
});

describe('plans load into real OVS', () => {
  for (const file of scenarioFiles()) {
    const name = file.split('/').pop()!;
    it(`${name}: every switch's flows, groups and meters are accepted and read back equal (at t=0 and after all events)`, () => {
      const scenario = loadScenario(file);
      const state = buildClusterState(scenario);
      const plan: FabricPlan = compileCluster(state);
      let later = plan;
      const stateLater = cloneClusterState(state);
      for (const ev of scenario.events) later = compileIncremental(later, stateLater, applyEvent(stateLater, ev));
      const toCheck = [...plan].map(([n, sp]) => [n, sp] as const);
      for (const [n, sp] of later) if (sp !== plan.get(n)) toCheck.push([n, sp]);
      for (const [swName, sp] of toCheck) {
        const bridge = freshBridge(state, swName);
        try {
          const { flowsFile } = loadPlan(ovs, { ...sp, switch: bridge, flows: sp.flows, groups: sp.groups, meters: sp.meters });
          const diff = ovs.ofctl('-O', 'OpenFlow13', 'diff-flows', mgmt(ovs, bridge), flowsFile);
          expect(diff).toBe('');
          const groups = ovs.ofctl('-O', 'OpenFlow13', 'dump-groups', mgmt(ovs, bridge));
          expect((groups.match(/group_id=/g) ?? []).length).toBe(sp.groups.length);
          const meters = ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', mgmt(ovs, bridge));
          expect((meters.match(/meter=/g) ?? []).length).toBe(sp.meters.length);
        } finally {
          ovs.vsctl('del-br', bridge);
        }
      }
    });
  }
});

describe('ofproto/trace follows the plan', () => {
  const file = scenarioFiles().find((f) => f.endsWith('leaf-spine-ecmp.yaml'))!;
  const state = loadState(file);
  const plan = compileCluster(state);
  const pods = [...state.pods.values()];
  const src = pods.find((p) => p.name === 'mapper-1')!;
  const remote = pods.find((p) => p.node !== src.node)!;
  const node = state.nodes.get(src.node)!;
  const sw = state.switches.get(src.node)!;
  const srcPort = sw.ports.find((p) => p.kind === 'pod' && p.pod === src.name)!.port;
  const uplink = sw.ports.find((p) => p.kind === 'link')!;
  let bridge = '';

  beforeAll(() => {
    bridge = freshBridge(state, src.node);
    loadPlan(ovs, { ...plan.get(src.node)!, switch: bridge });
  });
  afterAll(() => {
    if (bridge) ovs.vsctl('del-br', bridge);
  });

  it('answers ARP for the gateway from the pod port (proxy ARP back out IN_PORT)', () => {
    const out = trace(bridge, `in_port=${srcPort},arp,arp_op=1,dl_src=${src.mac},dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=${src.ip},arp_tpa=${node.gatewayIp},arp_sha=${src.mac}`);
    expect(out).toMatch(new RegExp(`set_field:${node.gatewayMac}->eth_src`));
    expect(out).toMatch(/set_field:2->arp_op|load:0x2->NXM_OF_ARP_OP/);
    expect(out).toMatch(/Datapath actions: .*\d/);
    expect(out).not.toMatch(/Datapath actions: drop/);
  });

  it('drops a spoofed source IP from a pod port', () => {
    const out = trace(bridge, `in_port=${srcPort},tcp,dl_src=${src.mac},dl_dst=${node.gatewayMac},nw_src=10.9.9.9,nw_dst=${remote.ip},tcp_dst=80,tcp_flags=0x002`);
    expect(out).toMatch(/Datapath actions: drop/);
  });

  it('routes a new TCP connection to a remote pod through conntrack to the uplink', () => {
    const out = trace(bridge, `in_port=${srcPort},tcp,dl_src=${src.mac},dl_dst=${node.gatewayMac},nw_src=${src.ip},nw_dst=${remote.ip},nw_ttl=64,tcp_dst=80,tcp_flags=0x002`, 'trk,new');
    expect(out).toContain(`resume conntrack with ct_state=new|trk`);
    expect(out).toContain(`${TABLE.l3_forwarding}. ip`);
    expect(out).toMatch(new RegExp(`output:${uplink.port}`));
    expect(out).not.toMatch(/Datapath actions: drop/);
  });

  it('SNATs a new connection from a pod to an outside address to the node IP', () => {
    const out = trace(bridge, `in_port=${srcPort},tcp,dl_src=${src.mac},dl_dst=${node.gatewayMac},nw_src=${src.ip},nw_dst=203.0.113.1,nw_ttl=64,tcp_dst=443,tcp_flags=0x002`, 'trk,new');
    expect(out).toContain(`ct(commit,table=${TABLE.l3_forwarding},zone=NXM_NX_REG5[0..15],nat(src=${node.ip}))`);
    expect(out).toMatch(new RegExp(`output:${uplink.port}`));
  });

  it('delivers traffic from the fabric to the local pod port with its MAC', () => {
    const out = trace(bridge, `in_port=${uplink.port},tcp,dl_src=${state.switches.get(uplink.kind === 'link' ? uplink.peerSwitch : '')!.routerMac},dl_dst=${sw.routerMac},nw_src=${remote.ip},nw_dst=${src.ip},nw_ttl=64,tcp_dst=80,tcp_flags=0x002`, 'trk,new');
    expect(out).toContain(`set_field:${src.mac}->eth_dst`);
    expect(out).toMatch(new RegExp(`output:${srcPort}`));
  });

  it('a new connection to the service VIP goes to its select group', () => {
    const svc = [...state.services.values()][0];
    const out = trace(bridge, `in_port=${srcPort},tcp,dl_src=${src.mac},dl_dst=${node.gatewayMac},nw_src=${src.ip},nw_dst=${svc.vip},nw_ttl=64,tcp_dst=${svc.port},tcp_flags=0x002`, 'trk,new');
    // ofproto/trace cannot follow a select group's dp_hash (docs/real-ovs.md): check the flow hit the group,
    // and the group's buckets as OVS holds them
    expect(out).toContain(`group:${serviceGroupId(state, svc)}`);
    const groups = ovs.ofctl('-O', 'OpenFlow13', 'dump-groups', mgmt(ovs, bridge), `group_id=${serviceGroupId(state, svc)}`);
    for (const ep of svc.endpoints) {
      expect(groups).toMatch(new RegExp(`ct\\(commit,table=${TABLE.policy},zone=NXM_NX_REG5\\[0\\.\\.15\\],nat\\(dst=${state.pods.get(ep)!.ip.replace(/\./g, '\\.')}:${svc.targetPort}\\)\\)`));
    }
  });

  it('traffic from the fabric to the node IP goes to the LOCAL port', () => {
    const out = trace(bridge, `in_port=${uplink.port},tcp,dl_dst=${sw.routerMac},nw_src=203.0.113.9,nw_dst=${node.ip},nw_ttl=64,tcp_dst=22,tcp_flags=0x002`, 'trk,new');
    expect(out).toMatch(/10\. reg1=0xfffffffe.*\n\s+LOCAL/);
  });
});

describe('ofproto/trace on a fabric switch', () => {
  it('a spine routes a node block through its next-hop group to the right leaf, with the leaf MAC and TTL-1', () => {
    const file = scenarioFiles().find((f) => f.endsWith('leaf-spine-ecmp.yaml'))!;
    const state = loadState(file);
    const plan = compileCluster(state);
    const bridge = freshBridge(state, 'spine1');
    try {
      loadPlan(ovs, { ...plan.get('spine1')!, switch: bridge });
      const spine = state.switches.get('spine1')!;
      const pod = state.pods.get('reducer-3')!; // on node41 behind leaf4
      const node = state.nodes.get(pod.node)!;
      const inPort = spine.ports.find((p) => p.kind === 'link' && p.peerSwitch === 'leaf1')!;
      const outPort = spine.ports.find((p) => p.kind === 'link' && p.peerSwitch === 'leaf4')!;
      const out = trace(bridge, `in_port=${inPort.port},tcp,dl_dst=${spine.routerMac},nw_src=10.200.0.2,nw_dst=${pod.ip},nw_ttl=64,tcp_dst=80`);
      expect(out).toContain(`nw_dst=${node.podCidr}`);
      expect(out).toMatch(/group:\d+/);
      expect(out).toContain(`set_field:${state.switches.get('leaf4')!.routerMac}->eth_dst`);
      expect(out).toMatch(new RegExp(`output:${outPort.port}`));
      expect(out).toMatch(/nw_ttl=63/);
    } finally {
      ovs.vsctl('del-br', bridge);
    }
  });
});

describe('reconcile operations applied to real OVS', () => {
  // how many events to apply: these scenarios undo their events later (down then up, there and back)
  for (const [scenarioName, count] of [['link-failure.yaml', 2], ['pod-move.yaml', 1], ['default.yaml', 3]] as const) {
    const file = scenarioFiles().find((f) => f.endsWith(scenarioName));
    if (!file) continue;
    it(`${scenarioName}: the t=0 plan plus reconcile(after ${count} events, t=0) equals the later plan on every switch`, () => {
      const scenario = loadScenario(file);
      const state = buildClusterState(scenario);
      const first = compileCluster(state);
      let later = first;
      for (const ev of scenario.events.slice(0, count)) later = compileIncremental(later, state, applyEvent(state, ev));
      let checked = 0;
      for (const [swName, desired] of later) {
        const actual = first.get(swName)!;
        const ops = reconcile(desired, actual);
        if (!ops.length) continue;
        const bridge = freshBridge(state, swName);
        try {
          loadPlan(ovs, { ...actual, switch: bridge });
          const target = mgmt(ovs, bridge);
          const of = (...args: string[]) => ovs.ofctl('-O', 'OpenFlow13', ...args);
          for (const op of ops) {
            switch (op.op) {
              case 'add-flow':
                of('add-flow', target, flowText(op.flow));
                break;
              case 'modify-flow':
                of('mod-flows', '--strict', target, flowText(op.flow));
                break;
              case 'delete-flow': {
                const head = flowText(op.flow).split(' actions=')[0].replace(/^cookie=0x[0-9a-f]+,/, '');
                of('del-flows', '--strict', target, head);
                break;
              }
              case 'add-group':
                of('add-group', target, groupText(op.group));
                break;
              case 'modify-group':
                of('mod-group', target, groupText(op.group));
                break;
              case 'delete-group':
                of('del-groups', target, `group_id=${op.groupId}`);
                break;
              case 'add-meter':
                of('add-meter', target, meterText(op.meter));
                break;
              case 'modify-meter':
                of('mod-meter', target, meterText(op.meter));
                break;
              case 'delete-meter':
                of('del-meters', target, `meter=${op.meterId}`);
                break;
            }
          }
          const wantFile = loadPlanFileOnly(desired);
          expect(of('diff-flows', target, wantFile)).toBe('');
          const groups = of('dump-groups', target);
          expect((groups.match(/group_id=/g) ?? []).length).toBe(desired.groups.length);
          checked++;
        } finally {
          ovs.vsctl('del-br', bridge);
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  }
});

describe('rebalancer steering in real OVS', () => {
  it('pins, a limit meter and service bucket weights are accepted, read back equal, and a pinned flow leaves on the pinned link', () => {
    const file = scenarioFiles().find((f) => f.endsWith('leaf-spine-ecmp.yaml'))!;
    const state = loadState(file);
    const pods = [...state.pods.values()];
    const src = pods.find((p) => p.node.startsWith('node1'))!;
    const dst = pods.find((p) => p.node.startsWith('node2'))!;
    const svc = [...state.services.values()].find((s) => s.endpoints.length >= 2)!;
    expect(svc).toBeDefined();
    state.steering = {
      pins: [{ id: 'd1', srcIp: src.ip, dstIp: dst.ip, protocol: 'tcp', dstPort: 80, hops: [{ switch: src.node, nextHop: 'leaf1' }, { switch: 'leaf1', nextHop: 'spine2' }, { switch: 'spine2', nextHop: 'leaf2' }] }],
      limits: { [src.name]: 0.25 },
      weights: { [svc.name]: { [svc.endpoints[0]]: 3, [svc.endpoints[1]]: 0 } },
    };
    const plan = compileCluster(state);
    const leaf = state.switches.get('leaf1')!;
    const pinnedPort = leaf.ports.find((p) => p.kind === 'link' && p.peerSwitch === 'spine2')!.port;
    for (const swName of [src.node, 'leaf1', 'spine2']) {
      const sp = plan.get(swName)!;
      const bridge = freshBridge(state, swName);
      try {
        const { flowsFile } = loadPlan(ovs, { ...sp, switch: bridge, flows: sp.flows, groups: sp.groups, meters: sp.meters });
        expect(ovs.ofctl('-O', 'OpenFlow13', 'diff-flows', mgmt(ovs, bridge), flowsFile)).toBe('');
        if (swName === src.node) {
          const meters = ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', mgmt(ovs, bridge));
          expect(meters).toMatch(/rate=250000/);
          const groups = ovs.ofctl('-O', 'OpenFlow13', 'dump-groups', mgmt(ovs, bridge));
          expect(groups).toMatch(/weight:3/);
          expect(groups).toMatch(/weight:0/);
        }
        if (swName === 'leaf1') {
          const peerMac = state.switches.get(src.node)!.routerMac;
          // ECMP would hash this flow over both spines; the pin sends it to spine2 (and only port 80 of it)
          const pinned = trace(bridge, `in_port=${leaf.ports.find((p) => p.kind === 'link' && p.peerSwitch === src.node)!.port},tcp,dl_src=${peerMac},dl_dst=${leaf.routerMac},nw_src=${src.ip},nw_dst=${dst.ip},nw_ttl=64,tcp_dst=80`);
          expect(pinned).toMatch(new RegExp(`${TABLE.l3_forwarding}\\. .*priority 470`));
          expect(pinned).toMatch(new RegExp(`output:${pinnedPort}\\b`));
          expect(pinned).toContain(`set_field:${state.switches.get('spine2')!.routerMac}->eth_dst`);
        }
      } finally {
        ovs.vsctl('del-br', bridge);
      }
    }
  });
});
