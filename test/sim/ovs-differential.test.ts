/**
 * Differential test against real Open vSwitch: the same compiled plan is loaded into a dummy-datapath
 * OVS bridge (via the ovs-ofctl printer) and into a SimSwitch; for many random packets our
 * single-switch walk must agree with `ovs-appctl ofproto/trace` — same output ports, same rewritten
 * headers (eth, IPv4 addresses and TTL, L4 ports after NAT). conntrack is followed with
 * `--ct-next trk,new` (a fresh connection; our conntrack is cleared before each packet). Packets
 * whose walk uses a select group are left out of the random run: OVS picks by dp_hash, which
 * ofproto/trace cannot follow (docs/real-ovs.md). They are covered bucket by bucket instead: the group is
 * replaced, in OVS and in the SimSwitch alike, by an indirect group holding one of its buckets (the
 * service DNAT through conntrack, an ECMP next hop), the packet is traced in both, and every bucket of
 * every select group it reaches must agree.
 */
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { mgmt, startPrivateOvs, PrivateOvs } from '../support/ovs';
import { parseScenarioFile } from '../../topology';
import { SimRun } from '../../sim/runner';
import { flowText, groupText, meterText } from '../../fabric/openflow/ofctl';
import { Packet, S, TCP_SYN, arpPacket, intToIp, ipv4Packet, macToString } from '../../sim/packet';
import type { SimSwitch } from '../../sim/switch';
import { OFPP } from '../../fabric/openflow/flow';
import type { Group } from '../../fabric/openflow/flow';
import { HAIRPIN_IP } from '../../controller/pipeline';

interface Observed {
  port: number;
  dl_src: string;
  dl_dst: string;
  nw_src?: string;
  nw_dst?: string;
  nw_ttl?: string;
  tp_src?: string;
  tp_dst?: string;
  tun_dst?: string;
  tun_id?: string;
}

function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

function kv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return m;
}

/** outputs of an ofproto/trace: per section, start from its Flow line, apply set(...) then outputs */
function parseTrace(text: string, odpToOf: Map<number, number>, tunnelPorts: Set<number>): Observed[] {
  const outputs: Observed[] = [];
  const sections = text.split(/^=+$/m);
  for (const sec of sections) {
    const flowLine = /^Flow: (.*)$/m.exec(sec);
    const actLine = /^Datapath actions: (.*)$/m.exec(sec);
    if (!flowLine || !actLine) continue;
    const f = kv(flowLine[1]!);
    const cur = new Map(f);
    // the dummy datapath shows no set(tunnel(...)) for a flow-based vxlan port: the tunnel
    // metadata the pipeline set is in the section's final flow
    const finalFlow = kv(/^Final flow: (.*)$/m.exec(sec)?.[1] ?? '');
    for (const act of splitTop(actLine[1]!)) {
      const a = act.trim();
      let m: RegExpExecArray | null;
      if ((m = /^set\(eth\((.*)\)\)$/.exec(a))) {
        const s = kv(m[1]!);
        if (s.has('src')) cur.set('dl_src', s.get('src')!);
        if (s.has('dst')) cur.set('dl_dst', s.get('dst')!);
      } else if ((m = /^set\(ipv4\((.*)\)\)$/.exec(a))) {
        const s = kv(m[1]!);
        if (s.has('src')) cur.set('nw_src', s.get('src')!);
        if (s.has('dst')) cur.set('nw_dst', s.get('dst')!);
        if (s.has('ttl')) cur.set('nw_ttl', s.get('ttl')!);
      } else if ((m = /^set\((tcp|udp)\((.*)\)\)$/.exec(a))) {
        const s = kv(m[2]!);
        if (s.has('src')) cur.set('tp_src', s.get('src')!);
        if (s.has('dst')) cur.set('tp_dst', s.get('dst')!);
      } else if ((m = /^set\(tunnel\((.*)\)\)$/.exec(a))) {
        const t = kv(m[1]!.replace(/flags\([^)]*\)/, ''));
        cur.set('tun_dst', t.get('dst')!);
        cur.set('tun_id', String(BigInt(t.get('tun_id') ?? '0')));
      } else if (/^\d+$/.test(a)) {
        const of = odpToOf.get(Number(a));
        if (of === undefined) throw new Error(`unknown datapath port ${a} in: ${actLine[1]}`);
        if (tunnelPorts.has(of) && !cur.has('tun_dst')) {
          cur.set('tun_dst', finalFlow.get('tun_dst') ?? '0.0.0.0');
          cur.set('tun_id', String(BigInt(finalFlow.get('tun_id') ?? '0')));
        }
        outputs.push({
          port: of,
          dl_src: cur.get('dl_src')!,
          dl_dst: cur.get('dl_dst')!,
          ...(cur.has('nw_src') ? { nw_src: cur.get('nw_src'), nw_dst: cur.get('nw_dst'), nw_ttl: cur.get('nw_ttl') } : {}),
          ...(cur.has('tp_src') && !cur.has('icmp_type') ? { tp_src: cur.get('tp_src'), tp_dst: cur.get('tp_dst') } : {}),
          ...(cur.has('tun_dst') ? { tun_dst: cur.get('tun_dst'), tun_id: cur.get('tun_id') } : {}),
        });
        cur.delete('tun_dst');
        cur.delete('tun_id');
      }
    }
  }
  return outputs;
}

function simObserved(p: Packet, port: number, tunnelPorts: Set<number>): Observed {
  const o: Observed = { port, dl_src: macToString(p.get('eth_src')), dl_dst: macToString(p.get('eth_dst')) };
  if (p.isIp) {
    o.nw_src = intToIp(p.u32(S.ipv4_src));
    o.nw_dst = intToIp(p.u32(S.ipv4_dst));
    o.nw_ttl = String(p.ttl);
    if (p.ipProto === 6 || p.ipProto === 17) {
      o.tp_src = String(p.l4Src);
      o.tp_dst = String(p.l4Dst);
    }
  }
  if (tunnelPorts.has(port)) {
    o.tun_dst = intToIp(p.u32(S.tun_ipv4_dst));
    o.tun_id = String(p.get('tunnel_id'));
  }
  return o;
}

function traceSpec(p: Packet, inPort: number): string {
  const eth = `dl_src=${macToString(p.get('eth_src'))},dl_dst=${macToString(p.get('eth_dst'))}`;
  const inp = `in_port=${inPort}`;
  if (p.isArp) {
    return `${inp},arp,${eth},arp_op=${p.u32(S.arp_op)},arp_spa=${intToIp(p.u32(S.arp_spa))},arp_tpa=${intToIp(p.u32(S.arp_tpa))},arp_sha=${macToString(p.get('arp_sha'))},arp_tha=${macToString(p.get('arp_tha'))}`;
  }
  const ip = `nw_src=${intToIp(p.u32(S.ipv4_src))},nw_dst=${intToIp(p.u32(S.ipv4_dst))},nw_ttl=${p.ttl}`;
  if (p.ipProto === 6) return `${inp},tcp,${eth},${ip},tp_src=${p.l4Src},tp_dst=${p.l4Dst},tcp_flags=0x002`;
  if (p.ipProto === 17) return `${inp},udp,${eth},${ip},udp_src=${p.l4Src},udp_dst=${p.l4Dst}`;
  return `${inp},icmp,${eth},${ip},icmp_type=8,icmp_code=0`;
}

const root = path.join(__dirname, '..', '..');

describe('differential: SimSwitch vs ovs-appctl ofproto/trace', () => {
  let ovs: PrivateOvs;
  const runs = new Map<string, SimRun>();
  const runOf = (scenario: string): SimRun => {
    let r = runs.get(scenario);
    if (!r) {
      r = new SimRun(parseScenarioFile(path.join(root, 'scenarios', `${scenario}.yaml`)).scenario!);
      r.advanceTo(0);
      runs.set(scenario, r);
    }
    return r;
  };
  beforeAll(async () => {
    ovs = await startPrivateOvs({ vswitchd: 'dummy' });
  });
  afterAll(async () => {
    await ovs?.stop();
  });

  /** the switch's plan loaded into a dummy-datapath bridge of the private OVS, ports numbered as in the state */
  const loadBridge = (run: SimRun, sw: SimSwitch, name: string, label = name) => {
    const plan = sw.dump();
    const br = `br-${label}`;
    ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail-mode=secure');
    const ports = run.physical.switches.get(name)!.ports.map((p) => p.port);
    for (const port of run.physical.switches.get(name)!.ports) {
      const ifname = `${label}-p${port.port}`;
      // a tunnel port as the controller's OVS driver makes it (docs/real-ovs.md pitfall 7)
      const type = port.kind === 'tunnel' ? ['type=vxlan', 'options:remote_ip=flow', 'options:key=flow'] : ['type=dummy'];
      ovs.vsctl('add-port', br, ifname, '--', 'set', 'interface', ifname, ...type, `ofport_request=${port.port}`);
    }
    const file = (kind: string, lines: string[]): string => {
      const f = path.join(ovs.dir, `${label}.${kind}`);
      fs.writeFileSync(f, lines.join('\n') + '\n');
      return f;
    };
    ovs.ofctl('-O', 'OpenFlow13', 'del-flows', mgmt(ovs, br));
    // OVS 3.1's ovs-ofctl has add-meter (one at a time), no add-meters
    for (const m of plan.meters) ovs.ofctl('-O', 'OpenFlow13', 'add-meter', mgmt(ovs, br), meterText(m));
    if (plan.groups.length) ovs.ofctl('-O', 'OpenFlow13', 'add-groups', mgmt(ovs, br), file('groups', plan.groups.map(groupText)));
    ovs.ofctl('-O', 'OpenFlow13', 'add-flows', mgmt(ovs, br), file('flows', plan.flows.map(flowText)));
    const odpToOf = new Map<number, number>();
    const dpif = ovs.appctl('dpif/show');
    for (const m of dpif.matchAll(/^\s+(\S+) (\d+)\/(\d+):/gm)) {
      if (m[1]!.startsWith(`${label}-p`)) odpToOf.set(Number(m[3]), Number(m[2]));
      if (m[1] === br) odpToOf.set(Number(m[3]), OFPP.LOCAL);
    }
    expect([...odpToOf.values()].sort((a, b) => a - b)).toEqual([...ports, OFPP.LOCAL].sort((a, b) => a - b));
    return { plan, br, ports, odpToOf };
  };

  const cases: [string, string][] = [
    ['default', 'node1'],
    ['default', 'node2'],
    ['default', 'tor1'],
    ['default', 'spine1'],
    ['overlay-vxlan', 'worker-a1'],
    ['overlay-vxlan', 'tor-a'],
    // the edge: closed doors, an opening for a CIDR, LoadBalancer intake, NodePorts with SNAT
    ['public-web', 'node1'],
    ['public-web', 'spine1'],
    ['public-web', 'tor2'],
  ];
  test.each(cases)('%s/%s: random packets take the same ports with the same headers', (scenario, name) => {
    const run = runOf(scenario);
    const sw: SimSwitch = run.network.switch(name);
    const { br, ports, odpToOf } = loadBridge(run, sw, name, scenario === 'public-web' ? `pw${name}` : name);

    const st = run.physical;
    const ips = [
      ...[...st.pods.values()].map((p) => p.ip),
      ...[...st.nodes.values()].flatMap((n) => [n.ip, n.gatewayIp]),
      ...[...st.services.values()].map((s) => s.vip),
      ...[...st.externals.values()].map((e) => e.ip),
      ...[...st.services.values()].flatMap((s) => (s.loadBalancerIp ? [s.loadBalancerIp] : [])),
      '10.244.9.9',
      '8.8.8.8',
    ];
    const macs = [
      ...[...st.pods.values()].map((p) => p.mac),
      ...[...st.nodes.values()].map((n) => n.gatewayMac),
      ...[...st.switches.values()].map((s) => s.routerMac),
      ...[...st.externals.values()].map((e) => e.mac),
      'ff:ff:ff:ff:ff:ff',
    ];
    const svcPorts = [...st.services.values()].flatMap((s) => [s.port, s.targetPort, ...(s.nodePort !== undefined ? [s.nodePort] : [])]);
    const swState = st.switches.get(name)!;
    const tunnelPorts = new Set(swState.ports.filter((p) => p.kind === 'tunnel').map((p) => p.port));
    /** what a real neighbour on each port would send: its own MAC/IP, to this switch's MAC */
    const plausible = (port: number): { ethSrc: string; ethDst: string; src?: string } => {
      const p = swState.ports.find((x) => x.port === port)!;
      if (p.kind === 'pod') {
        const pod = st.pods.get(p.pod)!;
        return { ethSrc: pod.mac, ethDst: st.nodes.get(pod.node)!.gatewayMac, src: pod.ip };
      }
      if (p.kind === 'external') {
        const ext = st.externals.get(p.external)!;
        return { ethSrc: ext.mac, ethDst: swState.routerMac, src: ext.ip };
      }
      if (p.kind === 'link') return { ethSrc: st.switches.get(p.peerSwitch)!.routerMac, ethDst: swState.routerMac };
      return { ethSrc: macs[0]!, ethDst: swState.routerMac };
    };
    const packetArb = fc.record({
      plausible: fc.boolean(),
      inPort: fc.constantFrom(...ports),
      kind: fc.constantFrom('tcp', 'udp', 'icmp', 'arp'),
      src: fc.constantFrom(...ips),
      dst: fc.constantFrom(...ips),
      ethSrc: fc.constantFrom(...macs),
      ethDst: fc.constantFrom(...macs),
      sport: fc.integer({ min: 1, max: 65535 }),
      dport: fc.oneof(fc.constantFrom(...svcPorts), fc.integer({ min: 1, max: 65535 })),
      ttl: fc.constantFrom(64, 64, 64, 2, 1),
    });
    let compared = 0;
    let forwarded = 0;
    let skippedSelect = 0;
    const seed = Number(process.env.FC_SEED ?? 4242) + name.length;
    fc.assert(
      fc.property(packetArb, (a0) => {
        const a = a0.plausible ? { ...a0, ...plausible(a0.inPort) } : a0;
        const pkt =
          a.kind === 'arp'
            ? arpPacket({ op: 1, ethSrc: a.ethSrc, ethDst: 'ff:ff:ff:ff:ff:ff', sha: a.ethSrc, spa: a.src, tha: '00:00:00:00:00:00', tpa: a.dst })
            : ipv4Packet({
                ethSrc: a.ethSrc,
                ethDst: a.ethDst,
                ipSrc: a.src,
                ipDst: a.dst,
                ttl: a.ttl,
                l4: a.kind === 'icmp' ? { proto: 'icmp', icmpType: 8, icmpId: 0 } : { proto: a.kind as 'tcp' | 'udp', srcPort: a.sport, dstPort: a.dport, tcpFlags: TCP_SYN },
              });
        sw.conntrack.clear();
        const res = sw.process(pkt, a.inPort, 0, true);
        if (res.steps.some((s) => s.kind === 'group' && /\(select\)/.test(s.text))) {
          skippedSelect++;
          return true;
        }
        const ovsOut = ovs.appctl('ofproto/trace', br, traceSpec(pkt, a.inPort), '--ct-next', 'trk,new', '--ct-next', 'trk,new', '--ct-next', 'trk,new');
        const theirs = parseTrace(ovsOut, odpToOf, tunnelPorts).sort((x, y) => x.port - y.port);
        const ours = res.outputs.map((o) => simObserved(o.packet, o.port, tunnelPorts)).sort((x, y) => x.port - y.port);
        compared++;
        if (ours.length) forwarded++;
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
          throw new Error(`${name}: ${traceSpec(pkt, a.inPort)}\nsim: ${JSON.stringify(ours)}\novs: ${JSON.stringify(theirs)}\n${ovsOut}`);
        }
        return true;
      }),
      { numRuns: 400, seed },
    );
    process.stdout.write(`differential ${name}: seed ${seed}: ${compared} packets compared (${forwarded} forwarded), ${skippedSelect} skipped (select group)\n`);
    expect(compared).toBeGreaterThan(150);
    expect(forwarded).toBeGreaterThan(10);
  });

  const selectCases: [string, string][] = [
    ['default', 'node1'],
    ['default', 'tor1'],
    ['services-multi-backend', 'node1'],
    ['leaf-spine-ecmp', 'leaf1'],
    ['public-web', 'node1'],
    ['public-web', 'node2'],
    ['public-web', 'spine1'],
  ];
  test.each(selectCases)('%s/%s: select groups agree bucket by bucket (service DNAT, ECMP next hops)', (scenario, name) => {
    const run = runOf(scenario);
    if (!run.physical.switches.has(name)) throw new Error(`${scenario} has no switch ${name}: ${[...run.physical.switches.keys()].join(',')}`);
    const sw: SimSwitch = run.network.switch(name);
    // its own bridge (the random-packet cases above loaded theirs under the plain switch names)
    const { plan, br, odpToOf } = loadBridge(run, sw, name, `${scenario.slice(0, 3)}${name}`.slice(0, 9));
    const st = run.physical;
    const swState = st.switches.get(name)!;
    const tunnelPorts = new Set(swState.ports.filter((p) => p.kind === 'tunnel').map((p) => p.port));
    const groups = new Map(plan.groups.map((g) => [g.groupId, g]));
    // packets that plausibly reach a select group: pods to service VIP:port, and anything to remote pods / node IPs
    const probes: { pkt: Packet; inPort: number }[] = [];
    const podPorts = swState.ports.filter((p) => p.kind === 'pod');
    const linkPorts = swState.ports.filter((p) => p.kind === 'link' || p.kind === 'external');
    let n = 0;
    for (const svc of st.services.values()) {
      for (const pp of podPorts) {
        if (pp.kind !== 'pod') continue;
        const pod = st.pods.get(pp.pod)!;
        const gw = st.nodes.get(pod.node)!.gatewayMac;
        const proto = svc.protocol === 'udp' ? 'udp' : 'tcp';
        for (let i = 0; i < 3; i++) probes.push({ inPort: pp.port, pkt: ipv4Packet({ ethSrc: pod.mac, ethDst: gw, ipSrc: pod.ip, ipDst: svc.vip, l4: { proto, srcPort: 40000 + n++, dstPort: svc.port, tcpFlags: TCP_SYN } }) });
      }
    }
    const targets = [...st.pods.values()].map((p) => p.ip).concat([...st.nodes.values()].map((x) => x.ip));
    // public doors: LoadBalancer VIPs from external ports, NodePorts of this node from its links
    for (const svc of st.services.values()) {
      const proto = svc.protocol === 'udp' ? 'udp' : 'tcp';
      for (const lp of linkPorts) {
        const ext = lp.kind === 'external' ? st.externals.get(lp.external)! : [...st.externals.values()][0];
        if (!ext) continue;
        const peerMac = lp.kind === 'link' ? st.switches.get(lp.peerSwitch)!.routerMac : ext.mac;
        if (svc.loadBalancerIp && lp.kind === 'external') {
          for (let i = 0; i < 3; i++) probes.push({ inPort: lp.port, pkt: ipv4Packet({ ethSrc: peerMac, ethDst: swState.routerMac, ipSrc: ext.ip, ipDst: svc.loadBalancerIp, l4: { proto, srcPort: 31000 + n++, dstPort: svc.port, tcpFlags: TCP_SYN } }) });
        }
        const node = st.nodes.get(name);
        if (svc.nodePort !== undefined && node) {
          for (let i = 0; i < 3; i++) probes.push({ inPort: lp.port, pkt: ipv4Packet({ ethSrc: peerMac, ethDst: swState.routerMac, ipSrc: ext.ip, ipDst: node.ip, l4: { proto, srcPort: 32000 + n++, dstPort: svc.nodePort, tcpFlags: TCP_SYN } }) });
        }
      }
    }
    for (const lp of linkPorts.length ? linkPorts : []) {
      const peerMac = lp.kind === 'link' ? st.switches.get(lp.peerSwitch)!.routerMac : lp.kind === 'external' ? st.externals.get(lp.external)!.mac : swState.routerMac;
      const src = lp.kind === 'external' ? st.externals.get(lp.external)!.ip : [...st.pods.values()][n % st.pods.size]!.ip;
      for (const dst of targets) probes.push({ inPort: lp.port, pkt: ipv4Packet({ ethSrc: peerMac, ethDst: swState.routerMac, ipSrc: src, ipDst: dst, l4: { proto: 'tcp', srcPort: 30000 + n++, dstPort: 80, tcpFlags: TCP_SYN } }) });
    }
    for (const pp of podPorts) {
      if (pp.kind !== 'pod') continue;
      const pod = st.pods.get(pp.pod)!;
      const gw = st.nodes.get(pod.node)!.gatewayMac;
      for (const dst of targets) probes.push({ inPort: pp.port, pkt: ipv4Packet({ ethSrc: pod.mac, ethDst: gw, ipSrc: pod.ip, ipDst: dst, l4: { proto: 'udp', srcPort: 20000 + n++, dstPort: 53 } }) });
    }
    const mgmtBr = mgmt(ovs, br);
    let compared = 0;
    let forwarded = 0;
    // hairpin (docs/pipeline.md): a pod of this switch that backs a service reaches itself through it
    let hairpins = 0;
    const localPodIps = new Set(podPorts.flatMap((pp) => (pp.kind === 'pod' ? [st.pods.get(pp.pod)!.ip] : [])));
    const hairpinPossible = [...st.services.values()].some((svc) => svc.endpoints.some((e) => localPodIps.has(st.pods.get(e)?.ip ?? '')));
    const groupsSeen = new Set<number>();
    for (const { pkt, inPort } of probes) {
      sw.conntrack.clear();
      const first = sw.process(pkt, inPort, 0, true);
      const used = first.steps.map((x) => /^group:(\d+) \(select\)/.exec(x.text)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
      if (used.length === 0) continue;
      const gid = used[0]!;
      const original = groups.get(gid)!;
      groupsSeen.add(gid);
      for (const [k, bucket] of original.buckets.entries()) {
        const variant: Group = { groupId: gid, type: 'indirect', buckets: [{ actions: bucket.actions }] };
        try {
          sw.applyOp({ op: 'modify-group', group: variant });
          ovs.ofctl('-O', 'OpenFlow13', 'mod-group', mgmtBr, groupText(variant));
          sw.conntrack.clear();
          const res = sw.process(pkt, inPort, 0, true);
          const ovsOut = ovs.appctl('ofproto/trace', br, traceSpec(pkt, inPort), '--ct-next', 'trk,new', '--ct-next', 'trk,new', '--ct-next', 'trk,new');
          const theirs = parseTrace(ovsOut, odpToOf, tunnelPorts).sort((x, y) => x.port - y.port);
          const ours = res.outputs.map((o) => simObserved(o.packet, o.port, tunnelPorts)).sort((x, y) => x.port - y.port);
          if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
            throw new Error(`${name}: group ${gid} bucket ${k}: ${traceSpec(pkt, inPort)}\nsim: ${JSON.stringify(ours)}\novs: ${JSON.stringify(theirs)}\n${ovsOut}`);
          }
          // a pod reaching itself through its own service: both send it back out its ingress port
          // (IN_PORT), from the hairpin address, to the pod's own IP and target port
          const dnat = bucket.actions.find((x) => x.type === 'ct' && x.nat?.kind === 'dst');
          const self = intToIp(pkt.u32(S.ipv4_src));
          if (dnat?.type === 'ct' && dnat.nat?.kind === 'dst' && dnat.nat.ipMin === self && podPorts.some((pp) => pp.port === inPort)) {
            expect(ours).toEqual([expect.objectContaining({ port: inPort, nw_src: HAIRPIN_IP, nw_dst: self, tp_src: String(pkt.l4Src), tp_dst: String(dnat.nat.portMin) })]);
            hairpins++;
          }
          if (ours.length > 0) forwarded++;
          compared++;
        } finally {
          sw.applyOp({ op: 'modify-group', group: original });
          ovs.ofctl('-O', 'OpenFlow13', 'mod-group', mgmtBr, groupText(original));
        }
      }
      if (compared >= 120 && (hairpins > 0 || !hairpinPossible)) break;
    }
    process.stdout.write(`differential ${name} (${scenario}): ${compared} packet x bucket traces compared (${forwarded} forwarded, ${hairpins} hairpin) over ${groupsSeen.size} select groups\n`);
    if (hairpinPossible) expect(hairpins).toBeGreaterThan(0);
    expect(groupsSeen.size).toBeGreaterThan(0);
    expect(compared).toBeGreaterThanOrEqual(4);
    expect(forwarded).toBeGreaterThanOrEqual(2);
  });
});
