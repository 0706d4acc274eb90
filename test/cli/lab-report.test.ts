/**
 * The human report of `fabric lab test` (no lab needed): expectations numbered #N from 1 as in
 * `fabric validate` and `fabric sim`, a skip shown with a short reason, and a headline that never says
 * "all expectations hold" while some were skipped (docs/contract.md §5).
 */
import { formatLabReport } from '../../cli/commands/lab';
import { shortReason } from '../../fabric/lab';
import type { LabReport } from '../../fabric/lab';

const UNDRIVEN =
  'the lab did not drive the traffic (a busy or slow machine): tor1->spine1 is at 0.95 in the model on the paths the switches chose, but the counters never held more than 0.31 of a link for two rounds in a row in 8 rounds, so the control loop had no lasting hotspot to react to';

function report(expectations: LabReport['expectations'], ok = true): LabReport {
  return { scenario: 'demo', seed: 1, ok, expectations, links: [], events: [], durationMs: 1234 };
}

describe('fabric lab test: the human report', () => {
  test('numbers from 1, shows a short skip reason, counts the skips in the headline', () => {
    const text = formatLabReport(
      report([
        { index: 0, at: 1, kind: 'reach', ok: true, detail: 'a -> b: icmp 3/3 replies' },
        { index: 1, at: 1, kind: 'maxLinkUtilization', ok: false, skipped: true, skipReason: shortReason(UNDRIVEN), detail: UNDRIVEN },
        { index: 2, at: 1, kind: 'fairShare', ok: false, skipped: true, detail: `traffic[0] a -> b: goes to service web; iperf3 cannot use the VIP (${'x'.repeat(300)})` },
      ]),
    );
    expect(text.split('\n')).toEqual([
      'ok   #1 at 1s reach: a -> b: icmp 3/3 replies',
      'SKIP #2 at 1s maxLinkUtilization: the lab did not drive the traffic (a busy or slow machine)',
      'SKIP #3 at 1s fairShare: traffic[0] a -> b: goes to service web',
      'demo: 1 of 3 expectations hold, 2 skipped (not judged: see the SKIP lines, --json for the details) on real OVS (1234 ms)',
      '',
    ]);
    for (const line of text.split('\n')) if (line.startsWith('SKIP')) expect(line.length).toBeLessThan(160);
  });

  test('failures and skips together; nothing skipped: all N hold', () => {
    const failed = formatLabReport(
      report(
        [
          { index: 0, at: 1, kind: 'reach', ok: false, detail: 'a -> b: icmp 0/3 replies' },
          { index: 1, at: 1, kind: 'limited', ok: false, skipped: true, detail: 'x: no control loop' },
        ],
        false,
      ),
    );
    expect(failed).toContain('FAIL #1 at 1s reach');
    expect(failed).toContain('demo: 0 of 2 expectations hold, 1 failed, 1 skipped');
    expect(formatLabReport(report([{ index: 0, at: 1, kind: 'reach', ok: true, detail: 'fine' }]))).toContain('demo: all 1 expectations hold on real OVS');
  });

  test('shortReason: one clause, at most ~110 characters', () => {
    expect(shortReason(UNDRIVEN)).toBe('the lab did not drive the traffic (a busy or slow machine)');
    expect(shortReason('web-1: ' + UNDRIVEN)).toBe('web-1: the lab did not drive the traffic (a busy or slow machine)');
    expect(shortReason('13 concurrent demands: more than the 12 iperf3 flows 2 cores measure faithfully')).toBe('13 concurrent demands: more than the 12 iperf3 flows 2 cores measure faithfully');
    expect(shortReason('traffic[1] web-1 -> db-1: the lab agent in db-1 holds port 8080, and with isolation on the allow rules may admit only that port')).toBe(
      'traffic[1] web-1 -> db-1: the lab agent in db-1 holds port 8080, and with isolation on the allow rules may ...',
    );
    const long = shortReason('word '.repeat(60));
    expect(long.length).toBeLessThanOrEqual(112);
    expect(long.endsWith(' ...')).toBe(true);
  });
});
