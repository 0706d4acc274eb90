/**
 * A limit meter as the controller would install it (meterForLimit), enforced by the simulator's
 * switch (sim/switch.ts, token bucket in virtual time): the pod's throughput through it is the
 * meter's rate within 5%, and agrees with the bandwidth model's own token bucket.
 */
import { SimSwitch } from '../../sim/switch';
import { ipv4Packet } from '../../sim/packet';
import { meterForLimit } from '../../controller/rebalance';
import { tokenBucket } from '../../sim/bandwidth-meter';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('meter enforcement in the simulated switch', () => {
  test.each([
    [0.02, 40, 1],
    [0.05, 60, 2],
    [0.01, 100, 3],
  ])('a %d Gbit/s limit meter passes offered %d Mbit/s at its rate within 5%%', (gbps, offeredMbps, seed) => {
    const sw = new SimSwitch('node1');
    const meter = meterForLimit(7, gbps);
    sw.applyOp({ op: 'add-meter', meter });
    sw.applyOp({
      op: 'add-flow',
      flow: { table: 0, priority: 100, match: {}, instructions: { meter: 7, apply: [{ type: 'output', port: 2 }] }, cookie: 0n },
    });
    // the first burst (rate / 5 worth of a second) is spread over the run: 8 s keeps it at 2.5%
    const seconds = 8;
    const rnd = lcg(seed);
    const gapUs = ((1500 * 8) / (offeredMbps * 1e6)) * 1e6;
    let passedBytes = 0;
    const arrivals: { atS: number; bytes: number }[] = [];
    for (let t = 0; t < seconds * 1e6; t += gapUs * (0.5 + rnd())) {
      const pkt = ipv4Packet({ ethSrc: '0a:58:0a:f4:01:02', ethDst: '0a:58:0a:f4:01:01', ipSrc: '10.244.1.2', ipDst: '10.244.2.2', l4: { proto: 'udp', srcPort: 5000, dstPort: 5001 }, sizeBytes: 1500 });
      const r = sw.process(pkt, 1, Math.round(t), false);
      if (r.outputs.length > 0) passedBytes += 1500;
      arrivals.push({ atS: Math.round(t) / 1e6, bytes: 1500 });
    }
    const passedMbps = (passedBytes * 8) / seconds / 1e6;
    const rateMbps = gbps * 1000;
    expect(Math.abs(passedMbps - rateMbps)).toBeLessThanOrEqual(0.05 * rateMbps);
    // the model's bucket, fed the same arrivals, lets the same amount through (within a packet or two)
    const band = meter.bands[0];
    const model = tokenBucket({ rateKbps: band.rate, burstKbit: band.burstSize }, arrivals);
    expect(Math.abs(model.passedBytes - passedBytes)).toBeLessThanOrEqual(3 * 1500);
  });
});
