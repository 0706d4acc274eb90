/**
 * JsonStreamReader: message boundaries in a delimiter-less stream of JSON texts, at every split,
 * with braces and escaped quotes inside strings and multi-byte UTF-8 cut across chunks; the size limit
 * stops buffering; anything else yields a typed error. fast-check prints its seed on failure; set
 * FABRIC_SEED to replay.
 */
import fc from 'fast-check';
import { JsonStreamReader, OvsdbError, OvsdbMessageTooLargeError, OvsdbProtocolError } from '../../fabric/ovsdb';
import { splitAt } from './fuzz';

const seed = Number(process.env.FABRIC_SEED) || Date.now() % 2 ** 31;
// eslint-disable-next-line no-console
console.log(`framing fuzz seed=${seed} (reproduce with FABRIC_SEED=${seed})`);

function readAll(chunks: Uint8Array[], maxMessageBytes?: number): unknown[] {
  const reader = new JsonStreamReader({ maxMessageBytes });
  const out: unknown[] = [];
  for (const c of chunks) out.push(...reader.push(c));
  reader.end();
  return out;
}


const FIXTURE_TEXTS = [
  '{"id":1,"result":["a{b}","c\\"}{","\\\\"],"error":null}',
  ' \n\t[1,{"k":"€ üñí 𝄞 中"}]',
  '{"method":"update","params":["m",{"T":{"u":{"new":{"s":"]]]}}}\\\\\\"{"}}}}],"id":null}',
  '{}',
  '[]',
  '{"deep":[[[[{"x":[{}]}]]]],"e":"\\u00e9\\n"}',
];
const FIXTURE = Buffer.from(FIXTURE_TEXTS.join(''), 'utf8');
const EXPECTED = FIXTURE_TEXTS.map((t) => JSON.parse(t));

describe('JsonStreamReader', () => {
  test('one chunk: all values, in order', () => {
    expect(readAll([FIXTURE])).toEqual(EXPECTED);
  });

  test('split at every offset (two chunks), including inside multi-byte characters', () => {
    for (let i = 0; i <= FIXTURE.length; i++) {
      expect(readAll([FIXTURE.subarray(0, i), FIXTURE.subarray(i)])).toEqual(EXPECTED);
    }
  });

  test('one byte at a time', () => {
    const chunks = [...FIXTURE].map((b) => Uint8Array.of(b));
    expect(readAll(chunks)).toEqual(EXPECTED);
  });

  test('garbage between values is a protocol error, and the reader stays failed', () => {
    const reader = new JsonStreamReader();
    expect(reader.push(Buffer.from('{"a":1}'))).toEqual([{ a: 1 }]);
    expect(() => reader.push(Buffer.from('hello'))).toThrow(OvsdbProtocolError);
    expect(() => reader.push(Buffer.from('{}'))).toThrow(OvsdbProtocolError);
  });

  test('invalid JSON inside balanced brackets, invalid UTF-8, truncated stream: typed errors', () => {
    expect(() => readAll([Buffer.from('{"a":}')])).toThrow(OvsdbProtocolError);
    expect(() => readAll([Buffer.from('{"a":]')])).toThrow(OvsdbProtocolError);
    expect(() => readAll([Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])])).toThrow(OvsdbProtocolError);
    expect(() => readAll([Buffer.from('{"id":1,"result":["abc')])).toThrow(/stream ended inside a JSON value/);
  });

  test('a 100 MB value is refused at the limit without buffering it', () => {
    const limitBytes = 1024 * 1024;
    const reader = new JsonStreamReader({ maxMessageBytes: limitBytes });
    const chunk = Buffer.alloc(64 * 1024, 0x61); // "aaaa…" inside a string
    reader.push(Buffer.from('{"id":1,"result":"'));
    let fed = 0;
    let error: unknown;
    while (fed < 100 * 1024 * 1024) {
      try {
        reader.push(chunk);
      } catch (err) {
        error = err;
        break;
      }
      fed += chunk.length;
      expect(reader.bufferedBytes).toBeLessThanOrEqual(limitBytes);
    }
    expect(error).toBeInstanceOf(OvsdbMessageTooLargeError);
    expect(fed).toBeLessThanOrEqual(limitBytes);
    expect(reader.bufferedBytes).toBe(0);
  });

  test('a value exactly at the limit passes; one byte more fails', () => {
    const text = '{"k":"' + 'x'.repeat(100) + '"}';
    const n = Buffer.byteLength(text);
    expect(readAll([Buffer.from(text)], n)).toEqual([JSON.parse(text)]);
    expect(() => readAll([Buffer.from(text)], n - 1)).toThrow(OvsdbMessageTooLargeError);
  });

  describe('fuzz', () => {
    const message = fc.oneof(
      fc.dictionary(fc.fullUnicodeString({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
      fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }),
      // strings full of structural characters
      fc.array(fc.stringOf(fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 'é', '😀'), { maxLength: 12 }), { maxLength: 4 }),
    );

    test('arbitrary splits of valid streams parse identically', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(message, fc.constantFrom('', ' ', '\n', '\r\n\t ')), { minLength: 1, maxLength: 8 }),
          fc.array(fc.nat(), { maxLength: 20 }),
          (values, cuts) => {
            const texts = values.map(([v, ws]) => ws + JSON.stringify(v));
            const bytes = Buffer.from(texts.join(''), 'utf8');
            const expected = texts.map((t) => JSON.parse(t));
            expect(readAll(splitAt(bytes, cuts))).toEqual(expected);
          },
        ),
        { seed, numRuns: Number(process.env.FABRIC_FUZZ_RUNS) || 300 },
      );
    });

    test('arbitrary bytes only ever yield values or a typed error, whatever the split', () => {
      const noisy = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        // mostly-valid streams with a byte flipped, so the parser gets deep before failing
        fc.tuple(fc.array(message, { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([vs, at, b]) => {
          const bytes = Buffer.from(vs.map((v) => JSON.stringify(v)).join(''), 'utf8');
          if (bytes.length > 0) bytes[at % bytes.length] = b;
          return new Uint8Array(bytes);
        }),
      );
      fc.assert(
        fc.property(noisy, fc.array(fc.nat(), { maxLength: 10 }), (raw, cuts) => {
          const run = (chunks: Uint8Array[]): { values: unknown[]; error?: string } => {
            const reader = new JsonStreamReader({ maxMessageBytes: 150 });
            const values: unknown[] = [];
            try {
              for (const c of chunks) values.push(...reader.push(c));
              reader.end();
              return { values };
            } catch (err) {
              expect(err).toBeInstanceOf(OvsdbError);
              return { values, error: (err as Error).name };
            }
          };
          const whole = run([raw]);
          const split = run(splitAt(Buffer.from(raw), cuts));
          // a split may deliver values before the error that one chunk loses; errors agree
          expect(split.error).toBe(whole.error);
          if (!whole.error) expect(split.values).toEqual(whole.values);
        }),
        { seed, numRuns: Number(process.env.FABRIC_FUZZ_RUNS) || 500 },
      );
    });
  });
});
