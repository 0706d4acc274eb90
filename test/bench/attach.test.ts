/** bench/attach's pure helpers: ping/iperf3 output parsing, percentiles, summaries, round order, Docker rules. No measurement. */
import { dockerRules } from '../../bench/attach';
import { formatRange, iperfError, medianOf, parseIperfGbps, parsePingCounts, parsePingRttsUs, percentile, roundOrder, summarize } from '../../bench/attach/stats';
import { normaliseFile } from '../../bench/run';
import { record } from '../../bench/harness';

const PING = `PING 198.18.1.2 (198.18.1.2) 56(84) bytes of data.
64 bytes from 198.18.1.2: icmp_seq=1 ttl=64 time=0.043 ms
64 bytes from 198.18.1.2: icmp_seq=2 ttl=64 time=0.056 ms
64 bytes from 198.18.1.2: icmp_seq=4 ttl=64 time=1.20 ms

--- 198.18.1.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 31ms
rtt min/avg/max/mdev = 0.043/0.433/1.200/0.542 ms
`;

describe('ping output', () => {
  test('one rtt in µs per reply line, in order; header and summary skipped', () => {
    const rtts = parsePingRttsUs(PING);
    expect(rtts).toHaveLength(3);
    expect(rtts[0]).toBeCloseTo(43, 6);
    expect(rtts[1]).toBeCloseTo(56, 6);
    expect(rtts[2]).toBeCloseTo(1200, 6);
  });

  test('busybox-style "time<" and other units', () => {
    expect(parsePingRttsUs('64 bytes from x: seq=0 ttl=64 time<1 ms\n64 bytes: time=250 us')).toEqual([1000, 250]);
  });

  test('sent and received from the summary; undefined without one', () => {
    expect(parsePingCounts(PING)).toEqual({ sent: 4, received: 3 });
    expect(parsePingCounts('ping: connect: Network is unreachable')).toBeUndefined();
    expect(parsePingRttsUs('')).toEqual([]);
  });
});

describe('iperf3 -J output', () => {
  test('the receiver sum in Gbit/s', () => {
    const json = JSON.stringify({ end: { sum_sent: { bits_per_second: 9.9e9 }, sum_received: { bits_per_second: 9.5e9 } } });
    expect(parseIperfGbps(json)).toBeCloseTo(9.5, 9);
  });

  test('errors, empty results and non-JSON are undefined; the error text is readable', () => {
    const err = JSON.stringify({ start: {}, intervals: [], end: {}, error: 'unable to connect to server: Connection refused' });
    expect(parseIperfGbps(err)).toBeUndefined();
    expect(iperfError(err)).toBe('unable to connect to server: Connection refused');
    expect(parseIperfGbps(JSON.stringify({ end: { sum_received: { bits_per_second: 0 } } }))).toBeUndefined();
    expect(parseIperfGbps('iperf3: error')).toBeUndefined();
    expect(parseIperfGbps('null')).toBeUndefined();
    expect(iperfError('not json')).toBeUndefined();
  });
});

describe('statistics', () => {
  test('nearest-rank percentile', () => {
    const values = Array.from({ length: 200 }, (_, i) => 200 - i); // 1..200, unsorted
    expect(percentile(values, 99)).toBe(198);
    expect(percentile(values, 50)).toBe(100);
    expect(percentile(values, 100)).toBe(200);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  test('median, range and spread over rounds', () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 2, 3])).toBe(2.5);
    expect(summarize([8, 10, 12])).toEqual({ median: 10, min: 8, max: 12, spreadPct: 40, n: 3 });
    expect(summarize([]).n).toBe(0);
    expect(formatRange(summarize([8, 10, 12.5]))).toBe('10.0 (8.00–12.5)');
    expect(formatRange(summarize([250]))).toBe('250');
    expect(formatRange(summarize([]))).toBe('-');
  });

  test('round order rotates so each strategy takes each position once', () => {
    const items = ['a', 'b', 'c'];
    expect(roundOrder(items, 0)).toEqual(['a', 'b', 'c']);
    expect(roundOrder(items, 1)).toEqual(['b', 'c', 'a']);
    expect(roundOrder(items, 2)).toEqual(['c', 'a', 'b']);
    expect(roundOrder(items, 3)).toEqual(items);
    expect(roundOrder([], 5)).toEqual([]);
    expect(items).toEqual(['a', 'b', 'c']);
  });
});

describe('Docker-style rules', () => {
  test('the mapped port and ICMP are DNATed to the container, the subnet is MASQUERADEd, FORWARD drops by default', () => {
    const rules = dockerRules('fatbr', '198.18.3', '198.18.3.2').map((r) => r.join(' '));
    expect(rules).toContain('-t nat -A DOCKER ! -i fatbr -p tcp --dport 15201 -j DNAT --to-destination 198.18.3.2:5201');
    expect(rules).toContain('-t nat -A DOCKER ! -i fatbr -p icmp -j DNAT --to-destination 198.18.3.2');
    expect(rules).toContain('-t nat -A POSTROUTING -s 198.18.3.0/24 ! -o fatbr -j MASQUERADE');
    expect(rules).toContain('-t filter -P FORWARD DROP');
    // chains are created before they are jumped to
    const firstUse = (chain: string): number => rules.findIndex((r) => r.includes(`-j ${chain}`));
    for (const [table, chain] of [['nat', 'DOCKER'], ['filter', 'DOCKER-USER'], ['filter', 'DOCKER-ISOLATION-STAGE-2']]) {
      expect(rules.indexOf(`-t ${table} -N ${chain}`)).toBeLessThan(firstUse(chain));
    }
  });
});

describe('results shape', () => {
  test('bench/run reads the attach results (extra max/spread fields are carried, not required)', () => {
    const r = Object.assign(record('veth pair: TCP 1 stream', 'Gbit/s', [9, 11, 10], 'how'), { max: 11, spreadPct: 20 });
    const { results, unreadable } = normaliseFile({ bench: 'attach', date: 'd', results: [r] }, 'attach');
    expect(unreadable).toEqual([]);
    expect(results).toEqual([{ name: 'veth pair: TCP 1 stream', unit: 'Gbit/s', runs: 3, min: 9, median: 10, notes: 'how' }]);
  });
});
