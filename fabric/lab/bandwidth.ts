/**
 * The `limited` expectation measured on real OVS: the pod's meter (installed by the controller; its id
 * is the pod's port number on its node switch) is scaled down by BANDWIDTH_SCALE (further for meters
 * above 2 Gbit/s, to at most 100 Mbit/s) for the measurement —
 * a veth pair through the userspace datapath carries only ~0.9 Gbit/s here (LAB-NOTES), so a 1 Gbit/s
 * meter could never be seen limiting — then iperf3 (TCP, 2 s) sends from the pod to an external host
 * (egress, SNAT'ed; else another pod), and the meter is restored whatever happens. Verdict as `fabric sim`: the pod sends
 * at most gbps × (1 + tolerance) (scaled); and, so that a dead path does not pass, at least half of it.
 */
import { spawn } from 'child_process';
import type { ClusterState } from '../../topology/types';
import type { Lab } from './lab';
import { inNsAsync, sleep } from './exec';

/** measured rate = scenario rate × this (1 Gbit/s -> 50 Mbit/s; LAB-NOTES: 50 Mbit/s meters enforce to 48-50) */
export const BANDWIDTH_SCALE = 0.05;
const IPERF_PORT = 5201;
/** 100 Mbit/s: a meter above 2 Gbit/s is scaled further down to this */
const MAX_MEASURED_KBPS = 100_000;

export interface LimitedResult {
  ok: boolean;
  /** not measurable in the lab (reason in detail) */
  skipped?: boolean;
  detail: string;
  /** measured Gbit/s, unscaled (divided by the scale used) */
  value?: number;
}

/** One meter's text in `dump-meters` output (ovs-ofctl prints its bands on the next line). */
function meterLine(dump: string, meterId: number): string | undefined {
  const m = new RegExp(`meter=${meterId}\\b[\\s\\S]*?(?=meter=|$)`).exec(dump);
  return m?.[0];
}

export async function measureLimited(lab: Lab, state: ClusterState, spec: { pod: string; gbps: number; tolerance?: number }): Promise<LimitedResult> {
  const host = lab.record.hosts[spec.pod];
  if (!host || host.kind !== 'pod') return { ok: false, detail: `${spec.pod}: not a pod of the lab` };
  // the meter sits on the pod's own port, so any destination measures it: an external host
  // (egress), else another pod, preferably on another node
  const others = Object.values(lab.record.hosts).filter((h) => h.name !== host.name);
  const external =
    others.find((h) => h.kind === 'external') ?? others.find((h) => h.kind === 'pod' && h.switch !== host.switch) ?? others.find((h) => h.kind === 'pod');
  if (!external) return { ok: false, detail: 'no other host to send to (iperf3 server)' };
  const meterId = host.port;
  const original = meterLine(lab.ofctl(host.switch, 'dump-meters'), meterId);
  const rateMatch = original ? /rate=(\d+)/.exec(original) : null;
  if (!original || !rateMatch) {
    const pod = state.pods.get(spec.pod);
    if (pod?.egressGbps === undefined && state.cluster.rebalance.includes('limit')) {
      // the limit would come from the rebalancer reacting to the scenario's demands over time
      return { ok: false, skipped: true, detail: `${spec.pod}: no egressGbps; its meter comes from the rebalancer reacting to the scenario's demands, which the lab does not generate` };
    }
    return { ok: false, detail: `${spec.pod}: no meter ${meterId} on ${host.switch}` };
  }
  const rateKbps = Number(rateMatch[1]);
  const burstMatch = /burst_size=(\d+)/.exec(original);
  // at most MAX_MEASURED_KBPS: what one TCP flow through the userspace datapath surely reaches here
  const scale = Math.min(BANDWIDTH_SCALE, MAX_MEASURED_KBPS / rateKbps);
  const scaledKbps = Math.max(1, Math.round(rateKbps * scale));
  const setMeter = (kbps: number, burst: number): void => {
    lab.ofctl(host.switch, 'mod-meter', `meter=${meterId},kbps,burst,stats,bands=type=drop,rate=${kbps},burst_size=${burst}`);
  };
  setMeter(scaledKbps, Math.max(1, Math.round(scaledKbps / 5)));
  const server = spawn('ip', ['netns', 'exec', external.ns, 'iperf3', '-s', '-1', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  try {
    await sleep(300);
    const r = await inNsAsync(host.ns, 'iperf3', ['-c', external.ip, '-p', String(IPERF_PORT), '-t', '2', '-J'], { timeoutMs: 15_000 });
    let bps: number | undefined;
    try {
      bps = (JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    } catch {
      bps = undefined;
    }
    if (bps === undefined) return { ok: false, detail: `${spec.pod} -> ${external.name}: iperf3 failed (${(r.stderr || r.stdout).trim().slice(0, 120)})` };
    const tol = spec.tolerance ?? 0.05;
    const limitBps = spec.gbps * 1e9 * scale;
    const ok = bps <= limitBps * (1 + tol) && bps >= limitBps * 0.5;
    const value = Math.round((bps / scale / 1e9) * 1e6) / 1e6;
    return {
      ok,
      value,
      detail: `${spec.pod} sends ${value} Gbit/s (measured ${(bps / 1e6).toFixed(1)} Mbit/s with iperf3 against meter ${meterId} scaled x${+scale.toPrecision(3)} to ${(scaledKbps / 1000).toFixed(1)} Mbit/s)`,
    };
  } finally {
    if (server.exitCode === null && server.pid) server.kill('SIGKILL'); // our own child, by its handle
    setMeter(rateKbps, burstMatch ? Number(burstMatch[1]) : Math.max(1, Math.round(rateKbps / 5)));
  }
}
