/**
 * Real traffic between a lab's hosts: ICMP echo and TCP connections, run inside the source host's
 * namespace with the lab agent (agent.ts), asynchronously (an in-process controller keeps serving its
 * switches meanwhile). Results are data; the caller judges them.
 */
import * as path from 'path';
import { PYTHON } from './agent';
import { LabError } from './errors';
import { inNsAsync } from './exec';
import type { Lab } from './lab';

export interface PingResult {
  sent: number;
  received: number;
  /** round-trip times of the replies, ms */
  rttMs: number[];
}

export interface TcpReply {
  ok: boolean;
  /** the answering host's name (lab agent) */
  server?: string;
  /** the source address the server saw */
  seenSrc?: string;
  /** error class when !ok (timeout, ConnectionRefusedError...) */
  error?: string;
}

function agentPath(lab: Lab): string {
  return path.join(lab.record.dir, 'agent.py');
}

/** ICMP echo from a host to an address: `count` requests, `intervalS` apart, each waiting `timeoutS`. */
export async function ping(lab: Lab, from: string, toIp: string, count = 3, intervalS = 0.2, timeoutS = 1): Promise<PingResult> {
  const h = lab.host(from);
  const r = await inNsAsync(h.ns, PYTHON, [agentPath(lab), 'ping', toIp, String(count), String(intervalS), String(timeoutS)], {
    timeoutMs: (count * (intervalS + timeoutS) + 5) * 1000,
  });
  if (r.status !== 0) throw new LabError(`Lab: ping from ${from} to ${toIp} failed to run: ${r.stderr.trim()}`, 1);
  const rttMs: number[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^reply \d+ ([\d.]+)/.exec(line);
    if (m) rttMs.push(Number(m[1]));
  }
  return { sent: count, received: rttMs.length, rttMs };
}

/**
 * `count` fresh TCP connections from a host to ip:port; each reads the server's one-line answer.
 * After `maxConsecutiveFails` failures in a row the rest are reported failed without trying
 * (error `gave-up`), so a broken path costs seconds, not count x timeout.
 */
export async function tcpConnect(lab: Lab, from: string, toIp: string, port: number, count = 1, timeoutS = 1.5, maxConsecutiveFails = 3): Promise<TcpReply[]> {
  const h = lab.host(from);
  const r = await inNsAsync(h.ns, PYTHON, [agentPath(lab), 'client', toIp, String(port), String(count), String(timeoutS), String(maxConsecutiveFails)], {
    timeoutMs: (count * timeoutS + 5) * 1000,
  });
  if (r.status !== 0) throw new LabError(`Lab: TCP client from ${from} to ${toIp}:${port} failed to run: ${r.stderr.trim()}`, 1);
  const replies: TcpReply[] = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const parts = line.split(' ');
    if (parts[0] === 'ok') replies.push({ ok: true, server: parts[1], seenSrc: parts[2] });
    else replies.push({ ok: false, error: parts.slice(1).join(' ') });
  }
  return replies;
}
