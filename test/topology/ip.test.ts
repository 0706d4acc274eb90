import fc from 'fast-check';
import {
  cidrContains,
  cidrProblem,
  cidrsOverlap,
  firstUsable,
  intToIp,
  ipToInt,
  isValidIp,
  macFromIp,
  parseCidr,
  prefixMask,
} from '../../topology';
import { checkProperty } from './fc-seed';

describe('ip', () => {
  test('ipToInt / intToIp on edge values', () => {
    expect(ipToInt('0.0.0.0')).toBe(0);
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(ipToInt('10.244.1.2')).toBe(0x0af40102);
    expect(intToIp(0x0af40102)).toBe('10.244.1.2');
    expect(intToIp(0xffffffff)).toBe('255.255.255.255');
    expect(() => ipToInt('10.0.0')).toThrow(RangeError);
    expect(() => intToIp(2 ** 32)).toThrow(RangeError);
  });

  test('round trip for every 32-bit value', () => {
    checkProperty('ip round trip', fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipToInt(intToIp(n)) === n));
  });

  test('isValidIp refuses non-canonical forms', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '-1.2.3.4']) expect(isValidIp(bad)).toBe(false);
    expect(isValidIp(7)).toBe(false);
    expect(isValidIp('0.0.0.0')).toBe(true);
  });

  test('parseCidr, host bits and problems', () => {
    expect(parseCidr('10.244.0.0/16')).toEqual({ network: 0x0af40000, prefixLen: 16, size: 65536 });
    expect(parseCidr('0.0.0.0/0').size).toBe(2 ** 32);
    expect(cidrProblem('10.244.1.1/24')).toBe("'10.244.1.1/24' has host bits set (did you mean 10.244.1.0/24?)");
    expect(cidrProblem('10.244.1.0')).toMatch(/missing \/LEN/);
    expect(cidrProblem('10.244.1.0/33')).toMatch(/prefix length/);
    expect(cidrProblem('10.244.1.0/24')).toBeUndefined();
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(prefixMask(24)).toBe(0xffffff00);
  });

  test('containment and overlap', () => {
    expect(cidrContains('10.244.0.0/16', '10.244.3.0/24')).toBe(true);
    expect(cidrContains('10.244.0.0/16', '10.245.0.0/24')).toBe(false);
    expect(cidrContains('10.244.0.0/16', '10.244.255.255')).toBe(true);
    expect(cidrContains('10.244.0.0/16', ipToInt('10.243.255.255'))).toBe(false);
    expect(cidrsOverlap('10.0.0.0/8', '10.96.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.244.0.0/16', '10.96.0.0/16')).toBe(false);
    expect(cidrsOverlap('10.244.1.0/24', '10.244.1.128/25')).toBe(true);
    expect(firstUsable(parseCidr('10.244.1.0/24'))).toBe(ipToInt('10.244.1.1'));
  });

  test('overlap agrees with a brute-force definition', () => {
    const block = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })).map(([b, len]) => {
      const network = (0x0a000000 + (b << 4)) & prefixMask(len);
      return parseCidr(`${intToIp(network >>> 0)}/${len}`);
    });
    checkProperty(
      'overlap',
      fc.property(block, block, (a, b) => {
        let any = false;
        for (let n = a.network; n < a.network + a.size; n++) if (cidrContains(b, n)) any = true;
        return cidrsOverlap(a, b) === any && cidrsOverlap(b, a) === any;
      }),
    );
  });

  test('macFromIp is Kubernetes style: 0a:58 + the address bytes', () => {
    expect(macFromIp('10.244.1.2')).toBe('0a:58:0a:f4:01:02');
    expect(macFromIp('203.0.113.1')).toBe('0a:58:cb:00:71:01');
    expect(macFromIp(ipToInt('10.0.0.255'))).toBe('0a:58:0a:00:00:ff');
  });
});
