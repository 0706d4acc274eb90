/**
 * `fabric dns serve FILE [--at T] [--listen HOST:PORT]`: the cluster DNS (fabric/dns/server.ts) for the
 * cluster state at virtual time T, on UDP and TCP, until SIGINT/SIGTERM.
 * `fabric dns resolve FILE NAME [--namespace NS] [--at T] [--json]`: one name resolved as a pod of
 * namespace NS would resolve it (search path, ndots:5), by the same logic as the server.
 * docs/discovery.md. Exit: 0 answered (or served until stopped), 1 NXDOMAIN (resolve), 2 bad input.
 */
import type { Command } from 'commander';
import * as net from 'net';
import type { CommandContext } from '../main';
import { applyEvent, buildClusterState, formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import type { ClusterState, Scenario } from '../../topology';
import { candidateNames, dnsDomain, lookupName, DEFAULT_NAMESPACE } from '../../topology/dns';
import { DnsServer } from '../../fabric/dns/server';

export const DEFAULT_DNS_LISTEN = '127.0.0.1:5353';

/** Bad input: one line on stderr, exit 2. */
export class CliInputError extends Error {
  override readonly name = 'CliInputError';
  readonly exitCode = 2;
}

/** `--at` as the other commands read it: a duration (2s, 250ms) or plain seconds; default 0. */
export function parseAt(command: string, at: string | undefined): number {
  if (at === undefined) return 0;
  const t = parseDuration(/^\d+(\.\d+)?$/.test(at) ? Number(at) : at);
  if (t === undefined) throw new CliInputError(`${command}: --at must be a duration such as 2s or 250ms, got ${at}`);
  return t;
}

/**
 * The cluster state of a scenario file at virtual time `at`: the scenario's events with `at <= T`
 * applied in order (as `fabric plan --at`). Scenario errors go to stderr and come back as undefined.
 */
export function loadStateAt(file: string, at: number, ctx: CommandContext): { scenario: Scenario; state: ClusterState } | undefined {
  const result = parseScenarioFile(file);
  if (!result.scenario) {
    for (const d of result.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
    return undefined;
  }
  const scenario = result.scenario;
  const state = buildClusterState(scenario);
  for (const ev of scenario.events) {
    if (ev.at > at) break;
    applyEvent(state, ev);
  }
  return { scenario, state };
}

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (all addresses); HOST must be an IP address. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text.trim());
  const host = m ? (m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2])) : undefined;
  const port = m ? Number(m[3]) : NaN;
  if (!m || !host || net.isIP(host) === 0 || !(port >= 0 && port <= 65535)) {
    throw new CliInputError(`dns serve: --listen must be HOST:PORT with an IP address and a port 0..65535 (e.g. 127.0.0.1:5353, 0.0.0.0:53), got ${text}`);
  }
  return { host, port };
}

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function fail(ctx: CommandContext, what: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n')[0];
  ctx.stderr(`fabric ${what}: ${line.startsWith(what + ': ') ? line.slice(what.length + 2) : line}\n`);
  ctx.exitCode = 2;
}

export interface RunningDns {
  server: DnsServer;
  /** the line printed when it is ready */
  banner: string;
}

/** Starts `fabric dns serve` without waiting for a signal (tests, the lab's in-process use). */
export async function startServe(file: string, opts: { at?: string; listen?: string; verbose?: boolean }, ctx: CommandContext): Promise<RunningDns | undefined> {
  const at = parseAt('dns serve', opts.at);
  const listen = parseListen(opts.listen ?? DEFAULT_DNS_LISTEN);
  const loaded = loadStateAt(file, at, ctx);
  if (!loaded) return undefined;
  const { state } = loaded;
  const server = new DnsServer(state, { host: listen.host, port: listen.port, ...(opts.verbose ? { log: (l: string) => ctx.stderr(l + '\n') } : {}) });
  try {
    await server.listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliInputError(`dns serve: cannot listen on ${listen.host}:${listen.port}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : e.message}`);
  }
  const addr = server.address();
  const where = net.isIPv6(addr.host) ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
  const banner = `fabric dns: serving ${dnsDomain(state)} at ${at}s (${state.services.size} services, ${state.pods.size} pods) on udp+tcp ${where}`;
  ctx.stdout(banner + '\n');
  return { server, banner };
}

export function register(program: Command, ctx: CommandContext): void {
  const dns = program.command('dns').description('the cluster DNS: serve it, or resolve one name');

  dns
    .command('serve')
    .description('serve the cluster DNS (UDP and TCP) for the cluster state at --at, until SIGINT/SIGTERM')
    .argument('<file>', 'scenario YAML file')
    .option('--at <time>', 'apply the events up to this virtual time first (e.g. 2s, 250ms); default 0')
    .option('--listen <host:port>', `address and port for UDP and TCP (port 0: any free port)`, DEFAULT_DNS_LISTEN)
    .option('--verbose', 'log malformed packets and socket errors on stderr')
    .action(async (file: string, opts: { at?: string; listen?: string; verbose?: boolean }) => {
      let running: RunningDns | undefined;
      try {
        running = await startServe(file, opts, ctx);
      } catch (e) {
        fail(ctx, 'dns serve', e);
        return;
      }
      if (!running) {
        ctx.exitCode = 2;
        return;
      }
      const server = running.server;
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      ctx.stderr(`fabric dns: stopped after ${server.stats.queries} queries (${server.stats.malformed} malformed packets dropped)\n`);
      ctx.exitCode = 0;
    });

  dns
    .command('resolve')
    .description('resolve a name as a pod of --namespace would (search path, ndots:5), by the logic of the server')
    .argument('<file>', 'scenario YAML file')
    .argument('<name>', 'a name: web, web.default, web.default.svc.cluster.local, 10-244-1-5.default.pod.cluster.local, ...')
    .option('--namespace <ns>', 'the namespace of the asking pod', DEFAULT_NAMESPACE)
    .option('--at <time>', 'apply the events up to this virtual time first (e.g. 2s, 250ms); default 0')
    .option('--json', 'print the answer as JSON')
    .action((file: string, name: string, opts: { namespace: string; at?: string; json?: boolean }) => {
      try {
        const at = parseAt('dns resolve', opts.at);
        if (!LABEL_RE.test(opts.namespace)) throw new CliInputError(`dns resolve: --namespace must be a DNS label (a-z, 0-9, '-'), got ${opts.namespace}`);
        const trimmed = name.trim();
        if (trimmed === '' || trimmed === '.' || trimmed.length > 254 || !/^[A-Za-z0-9.-]+$/.test(trimmed)) {
          throw new CliInputError(`dns resolve: '${name}' is not a DNS name (letters, digits, '-' and '.')`);
        }
        const loaded = loadStateAt(file, at, ctx);
        if (!loaded) {
          ctx.exitCode = 2;
          return;
        }
        const { state } = loaded;
        const candidates = candidateNames(trimmed, opts.namespace, dnsDomain(state));
        let found: { fqdn: string; answer: { kind: 'service'; service: string; ip: string } | { kind: 'pod'; pod: string; ip: string } } | undefined;
        for (const c of candidates) {
          const r = lookupName(state, c);
          if (r.status === 'answer') {
            found = { fqdn: r.name, answer: r.answer };
            break;
          }
        }
        if (opts.json) {
          ctx.stdout(
            JSON.stringify({
              name: trimmed,
              namespace: opts.namespace,
              at,
              domain: dnsDomain(state),
              tried: candidates,
              status: found ? 'NOERROR' : 'NXDOMAIN',
              ...(found ? { fqdn: found.fqdn, ip: found.answer.ip, ...(found.answer.kind === 'service' ? { service: found.answer.service } : { pod: found.answer.pod }) } : {}),
            }) + '\n',
          );
        } else if (found) {
          const what = found.answer.kind === 'service' ? `service ${found.answer.service}` : `pod ${found.answer.pod}`;
          ctx.stdout(`${found.fqdn} has address ${found.answer.ip} (${what})\n`);
        } else {
          ctx.stdout(`${trimmed}: NXDOMAIN (tried ${candidates.join(', ')})\n`);
        }
        ctx.exitCode = found ? 0 : 1;
      } catch (e) {
        fail(ctx, 'dns resolve', e);
      }
    });
}
