/** `fabric ofp decode|encode` (docs/scenarios.md §6): hex <-> JSON, exit 2 with one line on bad input. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runOfp } from './ofp-cli';
import { ovsEncodeFlows } from './oracle';

const run = runOfp;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fabric-ofp-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('decode OVS bytes to JSON and encode the JSON back to the same hex', async () => {
  const [flow] = ovsEncodeFlows(['table=2,priority=100,cookie=0x10,ip,nw_dst=10.244.1.0/24,actions=ct(commit,zone=5,nat(src=198.51.100.11)),output:3']);
  const hex = flow.bytes.toString('hex');
  const dec = await run(['ofp', 'decode', hex]);
  expect(dec.code).toBe(0);
  const json = JSON.parse(dec.out);
  expect(json).toMatchObject({ type: 'flow_mod', command: 'add', flow: { table: 2, priority: 100, cookie: '0x10', match: { ipv4_dst: { value: '0xaf40100', mask: '0xffffff00' } } } });
  const file = path.join(tmp, 'flow.json');
  fs.writeFileSync(file, dec.out);
  const enc = await run(['ofp', 'encode', file]);
  expect(enc).toEqual({ code: 0, out: hex + '\n', err: '' });
});

test('several messages: an array both ways; decimal bigint strings accepted', async () => {
  const file = path.join(tmp, 'msgs.json');
  fs.writeFileSync(file, JSON.stringify([{ type: 'hello', xid: 1, versions: [4] }, { type: 'role_request', xid: 2, role: 2, generationId: '7' }, { type: 'barrier_request' }]));
  const enc = await run(['ofp', 'encode', file]);
  expect(enc.code).toBe(0);
  const dec = await run(['ofp', 'decode', enc.out.trim()]);
  expect(JSON.parse(dec.out)).toEqual([
    { type: 'hello', xid: 1, versions: [4] },
    { type: 'role_request', xid: 2, role: 2, generationId: '0x7' },
    { type: 'barrier_request', xid: 0 },
  ]);
});

test('an echo request without data encodes (data is optional), as OVS would send it', async () => {
  const file = path.join(tmp, 'echo.json');
  fs.writeFileSync(file, JSON.stringify({ type: 'echo_request', xid: 5 }));
  const enc = await run(['ofp', 'encode', file]);
  expect([enc.code, enc.out.trim(), enc.err]).toEqual([0, '0402000800000005', '']);
});

test.each([
  [['ofp', 'decode', 'zz'], /fabric ofp decode: not an even-length hex string/],
  [['ofp', 'decode', '0400001000000001'], /fabric ofp decode: .*truncated|fabric ofp decode: framing/],
  [['ofp', 'decode', '0400000400000001'], /fabric ofp decode: framing: message length 4 < 8/],
])('bad hex %j: exit 2, one line', async (args, message) => {
  const r = await run(args);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err.trim().split('\n')).toHaveLength(1);
});

test.each([
  ['not json', /bad JSON/],
  ['{"xid":1}', /message 0 has no "type"/],
  ['{"type":"flow_mod","xid":1,"command":"add","flow":{"table":0,"priority":1,"cookie":"0x1","match":{"tcp_dst":{"value":"80"}},"instructions":{}}}', /tcp_dst needs eth_type/],
  ['{"type":"flow_mod","xid":1,"command":"explode"}', /message 0 \(flow_mod\)/],
  ['{"type":"echo_request","xid":1,"data":"xyz"}', /data is not a hex string/],
])('bad JSON %s: exit 2, one line', async (text, message) => {
  const file = path.join(tmp, 'bad.json');
  fs.writeFileSync(file, text);
  const r = await run(['ofp', 'encode', file]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err.trim().split('\n')).toHaveLength(1);
});
