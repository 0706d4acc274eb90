/**
 * bench/peers/ovn: a real private OVN (NB/SB ovsdb-server + ovn-northd) loaded with a tiny generated
 * cluster: the northbound rows are the equivalent topology, northd computes it, an incremental change
 * goes through, and stop() leaves no process behind. Installs OVN on first use when run as root.
 */
import * as fs from 'fs';
import * as path from 'path';
import { generateCluster } from '../../bench/cluster-gen';
import { buildClusterState } from '../../topology';
import { JsonStreamSplitter } from '../../bench/peers/ovn/rpc';
import {
  countLogicalFlows,
  initialCompute,
  lbBackends,
  lbVipKey,
  loadCluster,
  OvnInstance,
  podAddCommand,
  startOvn,
} from '../../bench/peers/ovn';

describe('JsonStreamSplitter', () => {
  test('cuts the same messages however the stream is split', () => {
    const messages = [{ id: 1, result: [{ rows: [{ name: 'a}"{\\' }] }] }, { id: 'echo', method: 'echo', params: [] }, { id: 2, error: null }];
    const text = messages.map((m) => JSON.stringify(m)).join('\n');
    for (let cut = 0; cut <= text.length; cut++) {
      const s = new JsonStreamSplitter();
      const out = [...s.push(text.slice(0, cut)), ...s.push(text.slice(cut))];
      expect(out.map((t) => JSON.parse(t))).toEqual(messages);
    }
  });
});

describe('OVN peer (real ovn-northd)', () => {
  jest.setTimeout(300_000);
  const scenario = generateCluster({ nodes: 3, podsPerNode: 4, services: 3, backendsPerService: 2 });
  const state = buildClusterState(scenario);
  let ovn: OvnInstance | undefined;

  afterAll(async () => {
    await ovn?.stop();
  });

  test('loads the equivalent topology, northd computes it, an incremental change reaches SB, stop cleans up', async () => {
    // every wait on OVN fails within a minute with diagnostics (daemons, northd status, log tails).
    // One CI run (never here: 25 runs under load passed) saw this test hang at 180 s before waits were
    // bounded; a start, load or initial computation that fails is printed in full and tried once more
    // on a fresh instance, so the next occurrence is diagnosed instead of only failing.
    let load: Awaited<ReturnType<typeof loadCluster>> | undefined;
    let initial: Awaited<ReturnType<typeof initialCompute>> | undefined;
    for (let attempt = 1; !initial; attempt++) {
      try {
        ovn = await startOvn({ waitTimeoutMs: 50_000 });
        expect(ovn.northdStatus()).toBe('Status: active');
        load = await loadCluster(ovn, state);
        expect(ovn.northdStatus()).toBe('Status: paused');
        initial = await initialCompute(ovn, load);
      } catch (err) {
        process.stdout.write(`ovn-peer: attempt ${attempt} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        await ovn?.stop();
        ovn = undefined;
        if (attempt >= 2) throw err;
      }
    }
    if (!ovn || !load) throw new Error('unreachable: computed without an instance');
    // pods + per node: stor, jtor, etor, localnet; + the cluster's port on the join switch
    expect(load.logicalSwitchPorts).toBe(3 * 4 + 3 * 4 + 1);

    const routers = await ovn.nb.select('Logical_Router', ['name']);
    expect(routers.map((r) => r.name).sort()).toEqual(['gr-node1', 'gr-node2', 'gr-node3', 'lr-cluster']);
    const nat = await ovn.nb.select('NAT', ['type', 'external_ip', 'logical_ip']);
    expect(nat.map((n) => `${n.type} ${n.logical_ip}->${n.external_ip}`).sort()).toEqual(
      [...state.nodes.values()].map((n) => `snat ${n.podCidr}->${n.ip}`).sort(),
    );
    const lbs = await ovn.nb.select('Load_Balancer', ['name', 'vips']);
    expect(lbs).toHaveLength(3);
    for (const lb of lbs) {
      const svc = state.services.get(String(lb.name))!;
      expect(lb.vips).toEqual(['map', [[lbVipKey(svc), lbBackends(state, svc)]]]);
      expect(lbBackends(state, svc).split(',')).toHaveLength(2);
    }

    expect(ovn.northdStatus()).toBe('Status: active');
    expect(initial.syncMs).toBeGreaterThan(0);
    expect(initial.logicalFlows).toBeGreaterThan(100);
    const bindings = await ovn.sb.select('Port_Binding', ['logical_port']);
    const bound = new Set(bindings.map((b) => b.logical_port));
    for (const pod of state.pods.values()) expect(bound.has(pod.name)).toBe(true);

    const t = ovn.nbctlTimed(['--wait=sb', ...podAddCommand('node1', { name: 'extra-pod', mac: '0a:58:0a:00:00:c8', ip: '10.0.0.200' })]);
    expect(t.ms).toBeGreaterThan(0);
    const after = await ovn.sb.select('Port_Binding', ['logical_port'], [['logical_port', '==', 'extra-pod']]);
    expect(after).toHaveLength(1);
    expect(await countLogicalFlows(ovn)).toBeGreaterThan(initial.logicalFlows);
    expect(ovn.peakRssMiB()).toBeGreaterThan(0);
    expect(ovn.memoryExceeded()).toBeUndefined();

    const dir = ovn.dir;
    const pids = ['nb', 'sb', 'northd', 'nbctl'].map((d) => Number(fs.readFileSync(path.join(dir, `${d}.pid`), 'utf8')));
    await ovn.stop();
    ovn = undefined;
    expect(fs.existsSync(dir)).toBe(false);
    for (const pid of pids) {
      let state = '';
      try {
        state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        /* gone */
      }
      expect(state === '' || /^\d+ \([^)]*\) Z/.test(state)).toBe(true); // exited (a zombie counts)
    }
  });
});
