/**
 * `fabric controller` rebalances on real Open vSwitch from real counters (the `limit` policy): two
 * pods of node1 send iperf3 to node2 over the uplink the scenario calls 0.1 Gbit/s; the controller
 * polls OpenFlow port statistics every 250 ms, the loop sees node1->tor1 hot for two rounds and meters
 * both hogs at their max-min share of 0.8 x 0.1 Gbit/s (0.04 each: controller/rebalance.ts `limit`,
 * the function the simulator runs), the meters are read back from the switch, and they are lifted
 * once the traffic stops and the link stays clear. How long it took is reported, never judged.
 * Root only; never skipped.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { checkNetnsPermitted, Lab, loadScenario, scenarioPorts, teardownLab } from '../../fabric/lab';
import { inNsAsync } from '../../fabric/lab/exec';
import { startController, RunningController } from '../../fabric/daemon';
import { until } from './until';

const FIXTURE = path.join(__dirname, 'fixtures', 'limit-rebalance.yaml');
const ID = 'tlimit';

beforeAll(async () => {
  checkNetnsPermitted();
  await teardownLab(ID);
});
afterAll(async () => {
  await teardownLab(ID);
});

/** The meter with this id on a switch, as `ovs-ofctl dump-meters` prints it: its rate in kbit/s. */
function meterRate(lab: Lab, sw: string, id: number): number | undefined {
  const m = new RegExp(`meter=${id}\\b[\\s\\S]*?rate=(\\d+)`).exec(lab.ofctl(sw, 'dump-meters'));
  return m ? Number(m[1]) : undefined;
}

test('a hot uplink in the port counters gets its hogs metered on real OVS, and the meters go when it clears', async () => {
  const loaded = loadScenario(FIXTURE);
  const lab = await Lab.up(loaded.state, { id: ID, extraPorts: scenarioPorts(loaded.scenario) });
  const events: string[] = [];
  let running: RunningController | undefined;
  const servers = ['x', 'y'].map((h) => spawn('ip', ['netns', 'exec', lab.host(h).ns, 'iperf3', '-s', '-p', '5999'], { stdio: 'ignore' }));
  try {
    running = await startController(FIXTURE, {
      ovsdb: lab.ovs.dbUrl,
      listen: lab.controllerTarget,
      watch: false,
      statsIntervalMs: 250,
      log: (event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
    });
    const c = running.controller;
    await until('3 switches and a pass', () => c.stats.switchesConnected === 3 && c.stats.passes > 0);
    await c.idle();
    const portOf = (pod: string): number => lab.host(pod).port;
    expect(meterRate(lab, 'node1', portOf('a'))).toBeUndefined();

    // a -> x and b -> y at once, 6 s each (the servers stay up: a client that came too early retries)
    const send = async (from: string, to: string): Promise<boolean> => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = await inNsAsync(lab.host(from).ns, 'iperf3', ['-c', lab.host(to).ip, '-p', '5999', '-t', '6'], { timeoutMs: 20_000 });
        if (r.status === 0) return true;
        await new Promise((res) => setTimeout(res, 100));
      }
      return false;
    };
    const onset = Date.now();
    const sending = Promise.all([send('a', 'x'), send('b', 'y')]);
    const meteredMs = await until('both hogs metered', () => c.loop.limits.a !== undefined && c.loop.limits.b !== undefined);
    await c.idle();
    // the level: 0.8 x 0.1 Gbit/s shared by two pods that each send more than half of it
    expect(Object.keys(c.loop.limits).sort()).toEqual(['a', 'b']);
    expect(c.loop.limits.a).toBeCloseTo(0.04, 9);
    expect(c.loop.limits.b).toBeCloseTo(0.04, 9);
    expect(meterRate(lab, 'node1', portOf('a'))).toBe(40_000);
    expect(meterRate(lab, 'node1', portOf('b'))).toBe(40_000);
    expect(events.filter((e) => e.startsWith('rebalance ')).length).toBeGreaterThanOrEqual(2);
    expect(await sending).toEqual([true, true]);

    // traffic over: two clear rounds later the meters are lifted, on the switch too
    const liftedMs = await until('meters lifted', () => Object.keys(c.loop.limits).length === 0);
    await c.idle();
    expect(meterRate(lab, 'node1', portOf('a'))).toBeUndefined();
    expect(meterRate(lab, 'node1', portOf('b'))).toBeUndefined();
    // (a meter may be set in one round and adjusted in the next while the flows ramp up)
    expect(c.loop.rebalanceStats.meters).toBeGreaterThanOrEqual(2);
    expect(c.loop.rebalanceStats.unmeters).toBeGreaterThanOrEqual(2);
    process.stdout.write(`rebalance (limit) on real OVS: onset of the hotspot -> both meters set ${meteredMs} ms (polls every 250 ms, 2 rounds hot); traffic over -> lifted ${liftedMs} ms; ${c.loop.rebalanceStats.rounds} rounds (${Date.now() - onset} ms in all)\n`);
  } finally {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    await running?.stop();
    await lab.down();
  }
}, 90_000);
