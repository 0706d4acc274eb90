/**
 * Continuous probes between lab hosts: one long-lived flow (a TCP connection, or a UDP 5-tuple) from a
 * host to an echo service (every lab agent answers on port 7), a message with a sequence number every
 * `intervalMs` (2 ms by default), until stopped. The result says what a user of that connection saw:
 * messages sent and echoed, out of order, whether the connection broke, and the longest silence (the
 * longest time between two echoes) with when it began. Used to measure what a controller failover
 * does to established traffic (test/ha/traffic.test.ts, docs/ha.md).
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { ECHO_PORT, PYTHON } from './agent';
import { LabError } from './errors';
import type { Lab } from './lab';

export interface ProbeResult {
  proto: 'tcp' | 'udp';
  /** IP:PORT */
  to: string;
  intervalMs: number;
  sent: number;
  received: number;
  outOfOrder: number;
  longestSilenceMs: number;
  /** when the longest silence began, ms after the probe started */
  longestSilenceAtMs: number;
  /** every silence of 10 ms (or 5 intervals) and more, at most 500, and at least the ten longest: [began at ms after start, lasted ms], longest first */
  silences: [number, number][];
  /** the connection broke (reset, closed) or could not be made; null when it held */
  error: string | null;
  /** the probe's start, ms since the epoch (to line it up with other events) */
  startedAtMs: number;
  durationMs: number;
}

export interface RunningProbe {
  readonly from: string;
  /** SIGTERM: stop sending, wait up to 1 s for the last echoes, then the result */
  stop(): Promise<ProbeResult>;
}

/** Start a probe from `from` to toIp (a pod, a service VIP) and wait until its flow is up. */
export async function startProbe(lab: Lab, from: string, toIp: string, o: { proto?: 'tcp' | 'udp'; port?: number; intervalMs?: number } = {}): Promise<RunningProbe> {
  const h = lab.host(from);
  const proto = o.proto ?? 'tcp';
  const child = spawn('ip', ['netns', 'exec', h.ns, PYTHON, path.join(lab.record.dir, 'agent.py'), 'probe', proto, toIp, String(o.port ?? ECHO_PORT), String(o.intervalMs ?? 2)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const parse = (): ProbeResult => {
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new LabError(`probe ${from} -> ${toIp}: no result (${err.trim().split('\n').slice(-2).join(' | ') || 'no output'})`, 1);
    const r = JSON.parse(line) as Omit<ProbeResult, 'startedAtMs'> & { startedAt?: number };
    return { ...r, startedAtMs: Math.round((r.startedAt ?? 0) * 1000) } as ProbeResult;
  };
  // up: "ready" once connected, or a result line (the connect failed), or the process ended
  const deadline = Date.now() + 10_000;
  while (!/^ready$/m.test(out) && !out.includes('{') && child.exitCode === null) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LabError(`probe ${from} -> ${toIp}: not connected in 10 s`, 1);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!/^ready$/m.test(out)) {
    await exited;
    const r = parse();
    throw new LabError(`probe ${from} -> ${toIp}:${o.port ?? ECHO_PORT}/${proto}: ${r.error ?? 'did not start'}`, 1);
  }
  return {
    from,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      return parse();
    },
  };
}
