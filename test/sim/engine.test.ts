import { Engine } from '../../sim/engine';
import { Prng } from '../../sim/prng';

describe('engine and prng', () => {
  test('actions run in (time, sequence) order and the trace hash is reproducible', () => {
    const run = (): { order: string[]; hash: string } => {
      const e = new Engine();
      const order: string[] = [];
      e.schedule(20, 'b', () => order.push('b'));
      e.schedule(10, 'a', () => order.push('a'));
      e.schedule(20, 'c', () => {
        order.push('c');
        e.schedule(e.nowUs(), 'd', () => order.push('d'));
      });
      while (e.step());
      return { order, hash: e.traceHash() };
    };
    const x = run();
    expect(x.order).toEqual(['a', 'b', 'c', 'd']);
    expect(run().hash).toBe(x.hash);
  });

  test('prng: same seed same sequence; forks are independent and stable', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const xs = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(xs);
    expect(new Prng(8).nextU32()).not.toBe(xs[0]);
    expect(new Prng(7).fork('x').nextU32()).toBe(new Prng(7).fork('x').nextU32());
    expect(new Prng(7).fork('x').nextU32()).not.toBe(new Prng(7).fork('y').nextU32());
    const r = new Prng(3);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
    }
  });
});
