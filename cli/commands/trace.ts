/**
 * `fabric trace FILE --from X --to Y [--port P] [--at T] [--json]`: one connection's packets walked
 * through the simulated fabric at virtual time T (after that time's events and the controller's
 * reaction): every switch, table, matched flow (ovs-ofctl syntax), action, conntrack/NAT step and
 * the verdict — the readable cousin of `ovs-appctl ofproto/trace`.
 */
import type { Command } from 'commander';
import { OFPP } from '../../fabric/openflow/flow';
import type { CommandContext } from '../main';
import { formatDiagnostic, parseDuration, parseScenarioFile } from '../../topology';
import { SimError, SimRun, explainBlocked } from '../../sim';
import { withProgress } from '../progress';
import { flowText } from '../../fabric/openflow/ofctl';
import type { ProbeResult, WalkResult } from '../../sim';
import type { Flow } from '../../fabric/openflow/flow';
import { tableName } from '../../controller/pipeline';

function flowString(flow: Flow): string {
  try {
    return flowText(flow);
  } catch (err) {
    return `(flow not printable: ${(err as Error).message})`;
  }
}

export function walkJson(label: string, w: WalkResult): unknown {
  return {
    label,
    passes: w.passes.map((p) => ({
      switch: p.switch,
      inPort: p.inPort,
      packet: p.packet,
      steps: p.steps.map((s) => ({ depth: s.depth, kind: s.kind, ...(s.table !== undefined ? { table: s.table, tableName: tableName(s.table) } : {}), ...(s.flow ? { flow: flowString(s.flow) } : {}), text: s.text })),
      outputs: p.outputs.map((o) => ({ port: o.port, packet: o.packet.summary() })),
      verdict: p.verdict,
      ...(p.dropReason && p.verdict !== 'forwarded' ? { dropReason: p.dropReason } : {}),
    })),
    tunnels: w.tunnels.map((t) => ({ from: t.from, to: t.to, tunDst: t.tunDst, tunnelId: `0x${t.tunnelId.toString(16)}`, underlay: t.underlay })),
    delivered: w.delivered.map((d) => ({ host: d.host.name, packet: d.packet.summary() })),
    drops: w.drops,
  };
}

/** `table 9` in a step or drop reason gets the pipeline's name beside it: `table 9 (l3_forwarding)`. */
export function namedTables(text: string): string {
  return text.replace(/\btable (\d+)(?! \()/g, (all, n: string) => {
    const name = tableName(Number(n));
    return name ? `${all} (${name})` : all;
  });
}

export function formatWalk(label: string, w: WalkResult): string {
  const out: string[] = [`== ${label}`];
  for (const p of w.passes) {
    out.push(`${p.switch} in_port=${p.inPort === OFPP.LOCAL ? 'LOCAL' : p.inPort}: ${p.packet}`);
    for (const s of p.steps) {
      const pad = '  '.repeat(s.depth + 1);
      const text = namedTables(s.text);
      if (s.kind === 'lookup' && s.flow) out.push(`${pad}${text}: ${flowString(s.flow)}`);
      else out.push(`${pad}${text}`);
    }
    for (const o of p.outputs) out.push(`  -> port ${o.port === OFPP.LOCAL ? 'LOCAL' : o.port}: ${o.packet.summary()}`);
    out.push(`  verdict: ${p.verdict}${p.verdict !== 'forwarded' && p.dropReason ? ` (${namedTables(p.dropReason)})` : ''}`);
  }
  for (const t of w.tunnels) out.push(`tunnel ${t.from} -> ${t.to}: tun_dst=${t.tunDst} tunnel_id=0x${t.tunnelId.toString(16)} over ${t.underlay.join(',')}`);
  for (const d of w.delivered) out.push(`delivered to ${d.host.name}: ${d.packet.summary()}`);
  for (const d of w.drops) out.push(`lost: ${d}`);
  return out.join('\n') + '\n';
}

/** A failed connection in words (sim/blocked.ts): "no route to 10.244.9.9 at tor1", "no allow rule admits ...". */
function whyBlocked(run: SimRun, from: string, to: string, port: number | undefined, r: ProbeResult): string | undefined {
  const host = run.sourceHost(from);
  const target = run.resolveTarget(to, port, undefined, from);
  if (typeof host === 'string' || typeof target === 'string') return undefined;
  try {
    return explainBlocked(run.physical, { from, to, port: target.spec.dstPort, host, target, probe: r }).reason;
  } catch {
    return undefined;
  }
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('trace')
    .description("walk one connection's packets through the simulated fabric")
    .argument('<file>', 'scenario YAML file')
    .requiredOption('--from <name>', 'source pod or external')
    .requiredOption('--to <name>', 'destination: pod, service, external, node or IP')
    .option('--port <n>', 'TCP destination port (default: ICMP echo; a service uses its port)')
    .option('--at <time>', 'virtual time (e.g. 2s, 250ms); default 0')
    .option('--json', 'print the walk as JSON')
    .action((file: string, opts: { from: string; to: string; port?: string; at?: string; json?: boolean }) => {
      const port = opts.port === undefined ? undefined : Number(opts.port);
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new SimError(`trace: --port must be 1..65535, got ${opts.port}`);
      const at = opts.at === undefined ? 0 : parseDuration(/^\d+(\.\d+)?$/.test(opts.at) ? Number(opts.at) : opts.at);
      if (at === undefined) throw new SimError(`trace: --at must be a duration such as 2s or 250ms, got ${opts.at}`);
      const parsed = parseScenarioFile(file);
      if (!parsed.scenario) {
        for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) ctx.stderr(formatDiagnostic(d) + '\n');
        ctx.exitCode = 2;
        return;
      }
      // compiling and installing (and the events up to --at) can take a while: a bar on a terminal
      const scenario = parsed.scenario;
      const run = withProgress({ label: 'compiling', total: 2, unit: 'steps', json: opts.json }, (bar) => {
        bar.update(0, 'cluster state');
        const r = new SimRun(scenario);
        bar.update(1, `compile, install, events up to ${at}s`);
        r.advanceTo(at);
        bar.update(2, 'ready');
        return r;
      });
      const r = run.connect(opts.from, opts.to, port, undefined, true);
      if (typeof r === 'string') throw new SimError(`trace: ${r}`);
      if (opts.json) {
        ctx.stdout(
          JSON.stringify({
            from: opts.from,
            to: opts.to,
            ...(port !== undefined ? { port } : {}),
            at,
            ok: r.ok,
            detail: r.detail,
            ...(!r.ok ? { reason: whyBlocked(run, opts.from, opts.to, port, r) } : {}),
            ...(r.acceptedBy ? { acceptedBy: r.acceptedBy.name, seenSrc: r.seenSrc, seenSrcPort: r.seenSrcPort } : {}),
            path: r.path,
            replyPath: r.replyPath,
            walks: r.walks.map((w) => walkJson(w.label, w.walk)),
          }) + '\n',
        );
      } else {
        let text = `trace ${opts.from} -> ${opts.to}${port !== undefined ? `:${port}` : ''} at ${at}s\n`;
        for (const w of r.walks) text += formatWalk(w.label, w.walk);
        text += `result: ${r.ok ? 'reply received' : 'FAILED'}: ${r.ok ? r.detail : `${whyBlocked(run, opts.from, opts.to, port, r) ?? namedTables(r.detail)}`}\n`;
        if (!r.ok) text += `  (${namedTables(r.detail)})\n`;
        if (r.acceptedBy) text += `accepted by ${r.acceptedBy.name}, which saw the source as ${r.seenSrc}:${r.seenSrcPort}\n`;
        ctx.stdout(text);
      }
      ctx.exitCode = 0;
    });
}
