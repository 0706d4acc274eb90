/**
 * Test support: a minimal OpenFlow 1.3 "switch" that listens for `ovs-ofctl` and records the exact
 * frames it sends (the golden bytes for modify/delete, meters, multipart requests, bundles). It
 * answers what ovs-ofctl waits for: HELLO, FEATURES, barrier, echo, empty multipart replies and
 * bundle control replies.
 */
import { execFile } from 'child_process';
import * as net from 'net';
import { decodeMessage } from '../../fabric/openflow/decode';
import { encodeMessage } from '../../fabric/openflow/encode';
import { FrameSplitter } from '../../fabric/openflow/framing';
import type { MultipartReplyBody, OfpMessage } from '../../fabric/openflow/messages';

export interface Recorder {
  port: number;
  /** runs `ovs-ofctl --no-names -O OpenFlow13 ARGS... tcp:127.0.0.1:PORT REST...` and returns the frames it sent (HELLO excluded) */
  record(args: string[], rest: string[], input?: string): Promise<Buffer[]>;
  /** what the last recorded ovs-ofctl printed (its reading of our replies) */
  lastStdout(): string;
  close(): Promise<void>;
}

function reply(msg: OfpMessage): OfpMessage | undefined {
  switch (msg.type) {
    case 'features_request':
      return { type: 'features_reply', xid: msg.xid, datapathId: '0000000000000001', nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 };
    case 'barrier_request':
      return { type: 'barrier_reply', xid: msg.xid };
    case 'echo_request':
      return { type: 'echo_reply', xid: msg.xid, data: msg.data };
    case 'get_config_request':
      return { type: 'get_config_reply', xid: msg.xid, flags: 0, missSendLen: 128 };
    case 'get_async_request':
      return { type: 'get_async_reply', xid: msg.xid, packetInMask: [7, 0], portStatusMask: [7, 7], flowRemovedMask: [15, 0] };
    case 'bundle_control': {
      const map: Record<string, 'open_reply' | 'close_reply' | 'commit_reply' | 'discard_reply'> = {
        open_request: 'open_reply',
        close_request: 'close_reply',
        commit_request: 'commit_reply',
        discard_request: 'discard_reply',
      };
      const t = map[msg.controlType];
      return t ? { type: 'bundle_control', xid: msg.xid, bundleId: msg.bundleId, controlType: t, flags: msg.flags } : undefined;
    }
    case 'multipart_request': {
      const k = msg.body.kind;
      let body: MultipartReplyBody;
      if (k === 'desc') body = { kind: 'desc', desc: { mfrDesc: 'fake', hwDesc: 'fake', swDesc: 'fake', serialNum: '', dpDesc: '' } };
      else if (k === 'aggregate') body = { kind: 'aggregate', stats: { packetCount: 0n, byteCount: 0n, flowCount: 0 } };
      else if (k === 'flow') body = { kind: 'flow', flows: [] };
      else if (k === 'table') body = { kind: 'table', tables: [] };
      else if (k === 'port_stats') body = { kind: 'port_stats', ports: [] };
      else if (k === 'port_desc') body = { kind: 'port_desc', ports: [] };
      else if (k === 'group') body = { kind: 'group', groups: [] };
      else if (k === 'group_desc') body = { kind: 'group_desc', groups: [] };
      else if (k === 'meter') body = { kind: 'meter', meters: [] };
      else if (k === 'meter_config') body = { kind: 'meter_config', meters: [] };
      else if (k === 'queue') body = { kind: 'queue', queues: [] };
      // OVS refuses an empty TABLE_FEATURES reply, and a table without its 8 required properties
      else if (k === 'table_features') {
        body = {
          kind: 'table_features',
          tables: [{
            tableId: 0, name: 'fake', metadataMatch: 0n, metadataWrite: 0n, config: 0, maxEntries: 0,
            properties: [
              { prop: 'instructions', instructions: [] }, { prop: 'next_tables', tableIds: [] },
              { prop: 'write_actions', actions: [] }, { prop: 'apply_actions', actions: [] },
              { prop: 'match', oxms: [] }, { prop: 'wildcards', oxms: [] },
              { prop: 'write_setfield', oxms: [] }, { prop: 'apply_setfield', oxms: [] },
            ],
          }],
        };
      }
      else if (k === 'meter_features') body = { kind: 'meter_features', features: { maxMeter: 0, bandTypes: 0, capabilities: 0, maxBands: 0, maxColor: 0 } };
      else if (k === 'group_features') body = { kind: 'group_features', features: FAKE_GROUP_FEATURES };
      else body = { kind: 'raw', multipartType: (msg.body as { multipartType: number }).multipartType, data: new Uint8Array(0) };
      return { type: 'multipart_reply', xid: msg.xid, flags: 0, body };
    }
    case 'queue_get_config_request':
      return { type: 'queue_get_config_reply', xid: msg.xid, port: msg.port, queues: FAKE_QUEUES.map((q) => ({ ...q, port: msg.port === 0xffffffff ? q.port : msg.port })) };
    default:
      return undefined;
  }
}

/** what the fake switch answers to OFPMP_GROUP_FEATURES */
export const FAKE_GROUP_FEATURES = { types: 0xf, capabilities: 0x7, maxGroups: [65280, 65280, 65280, 65280], actions: [0x3ff0001, 0x3ff0001, 0x3ff0001, 0x3ff0001] };
/** what the fake switch answers to OFPT_QUEUE_GET_CONFIG_REQUEST */
export const FAKE_QUEUES: import('../../fabric/openflow/messages').PacketQueue[] = [
  { queueId: 0, port: 1, properties: [{ prop: 'min_rate', rate: 100 }, { prop: 'max_rate', rate: 500 }] },
  { queueId: 7, port: 1, properties: [{ prop: 'max_rate', rate: 1000 }] },
  { queueId: 9, port: 1, properties: [] },
];

export async function startRecorder(): Promise<Recorder> {
  let current: Buffer[] | undefined;
  let stdout = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const splitter = new FrameSplitter();
    socket.write(encodeMessage({ type: 'hello', xid: 1, versions: [4] }));
    socket.on('data', (chunk) => {
      for (const frame of splitter.push(chunk)) {
        const msg = decodeMessage(frame);
        if (msg.type !== 'hello') current?.push(Buffer.from(frame));
        const r = reply(msg);
        if (r) socket.write(encodeMessage(r));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    record: (args, rest, input) =>
      new Promise((resolve, reject) => {
        current = [];
        const child = execFile(
          'ovs-ofctl',
          ['--no-names', '-O', 'OpenFlow13', ...args, `tcp:127.0.0.1:${port}`, ...rest],
          { timeout: 20_000 },
          (err, out, stderr) => {
            stdout = String(out);
            const got = current ?? [];
            current = undefined;
            if (err) reject(new Error(`ovs-ofctl ${args.join(' ')} ${rest.join(' ')}: ${stderr || err.message}`));
            else resolve(got);
          },
        );
        if (input !== undefined) {
          child.stdin?.end(input);
        }
      }),
    lastStdout: () => stdout,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
