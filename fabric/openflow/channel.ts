/**
 * The controller side of OpenFlow 1.3 connections: OpenFlowServer accepts switches (ptcp/pssl, or an
 * already-connected socket), negotiates the version by HELLO bitmap, learns the datapath id and
 * ports (FEATURES_REQUEST, PORT_DESC), keeps the connection alive with echoes and a liveness
 * timeout, and gives each switch a SwitchConnection: request/reply by xid as promises with
 * timeouts (multipart replies reassembled), a typed event stream, and barrier/bundle/send helpers.
 *
 * Failure rules: lying lengths, oversized frames and a peer that stops mid-frame end in a typed
 * OpenFlowError event and a closed connection; every outstanding promise is settled (rejected
 * with kind 'closed' or 'timeout'), never left hanging.
 */
import * as net from 'net';
import * as tls from 'tls';
import type { Duplex } from 'stream';
import { BufferWriter } from './buffer-writer';
import { OFPMPF_REPLY_MORE, OFPBF, OFPG, OFP_VERSION, errorNames } from './constants';
import { decodeMessage, mergeMultipartReplies } from './decode';
import { encodeInto } from './encode';
import { OpenFlowError } from './errors';
import { FrameSplitter, OFP_MAX_MESSAGE_BYTES } from './framing';
import type { Group, Meter, SwitchOp } from './flow';
import { OFPP } from './flow';
import type * as M from './messages';
import { switchOpToMessage } from './ops';

export interface ChannelOptions {
  /** send an echo request after this long without traffic (default 5000) */
  echoIntervalMs?: number;
  /** close the connection after this long without any traffic (default 3 × echoIntervalMs) */
  livenessTimeoutMs?: number;
  /** default timeout of a request (default 30000) */
  requestTimeoutMs?: number;
  /** HELLO to port-desc reply (default 10000) */
  handshakeTimeoutMs?: number;
  maxMessageBytes?: number;
  /** use OVS's bundle extension in send() when the switch supports it (default true) */
  useBundles?: boolean;
}

export interface OpenFlowServerOptions extends ChannelOptions {
  /** 'tcp:PORT[:ADDR]' / 'ptcp:...' or 'ssl:PORT[:ADDR]' / 'pssl:...'; PORT 0 picks a free port */
  listen?: string;
  /** key/cert (and ca, requestCert for mutual TLS) for ssl: */
  tls?: tls.TlsOptions;
}

/** The events of one switch. */
export interface SwitchEvents {
  connected: { datapathId: string; ports: M.OfpPort[]; features: M.FeaturesReply };
  'port-status': M.PortStatus;
  'packet-in': M.PacketIn;
  'flow-removed': M.FlowRemoved;
  /** an ERROR message not tied to a request, or a protocol/transport failure */
  error: M.ErrorMsg | OpenFlowError;
  /** every decoded message, for taps and tests */
  message: M.OfpMessage;
  disconnected: { reason: string; error?: OpenFlowError };
}

type Listener<T> = (event: T) => void;

/** a minimal typed emitter: unlike Node's, an 'error' without listeners never throws */
class Events<E> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return this;
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    this.listeners.get(event)?.delete(fn as Listener<never>);
    return this;
  }

  once<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const wrap: Listener<E[K]> = (e) => {
      this.off(event, wrap);
      fn(e);
    };
    return this.on(event, wrap);
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<E[K]>)(payload);
      } catch {
        // a listener's bug must not break the connection
      }
    }
  }
}

interface Pending {
  resolve: (m: M.OfpMessage) => void;
  reject: (e: OpenFlowError) => void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
  parts?: M.MultipartReply[];
}

function switchError(e: M.ErrorMsg, what: string): OpenFlowError {
  return new OpenFlowError('switch-error', `${what}: switch answered ${e.typeName}/${e.codeName}`, {
    type: e.errorType,
    code: e.code,
    typeName: e.typeName,
    codeName: e.codeName,
  });
}

const WRITE_CHUNK_BYTES = 256 * 1024;

export class SwitchConnection extends Events<SwitchEvents> {
  datapathId = '';
  ports: M.OfpPort[] = [];
  features?: M.FeaturesReply;
  /** the negotiated version (0x04 once connected) */
  version = 0;
  readonly remoteAddress: string;
  private readonly socket: Duplex;
  private readonly splitter: FrameSplitter;
  private readonly opts: Required<ChannelOptions>;
  private readonly pending = new Map<number, Pending>();
  /** xids of messages without replies whose errors we collect (send/bundle) */
  private readonly watched = new Map<number, M.ErrorMsg[]>();
  private nextXid = 1;
  private nextBundleId = 1;
  private lastRxMs = Date.now();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private bundlesSupported = true;
  private handshake: Promise<void>;
  private helloResolve?: (h: { hello: M.Hello; version: number }) => void;
  private readonly writer = new BufferWriter(64 * 1024);

  constructor(socket: Duplex, options: ChannelOptions = {}, remoteAddress = '') {
    super();
    const echo = options.echoIntervalMs ?? 5000;
    this.opts = {
      echoIntervalMs: echo,
      livenessTimeoutMs: options.livenessTimeoutMs ?? 3 * echo,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      maxMessageBytes: options.maxMessageBytes ?? OFP_MAX_MESSAGE_BYTES,
      useBundles: options.useBundles ?? true,
    };
    this.bundlesSupported = this.opts.useBundles;
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.splitter = new FrameSplitter(this.opts.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.fail(new OpenFlowError('closed', `socket: ${err.message}`)));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onEnd());
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.opts.echoIntervalMs, this.opts.livenessTimeoutMs) / 2));
    this.timer.unref?.();
    this.handshake = this.runHandshake();
    // the handshake's failure is reported through events and `ready()`; never unhandled
    this.handshake.catch(() => undefined);
  }

  /** resolves once HELLO, FEATURES and PORT_DESC are done ('connected' fires at the same time) */
  ready(): Promise<void> {
    return this.handshake;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** bytes accepted but not yet handed to the kernel (back-pressure: stays bounded) */
  get bufferedBytes(): number {
    return (this.socket as Duplex & { writableLength?: number }).writableLength ?? 0;
  }

  private allocXid(): number {
    const x = this.nextXid;
    this.nextXid = this.nextXid >= 0xfffffffe ? 1 : this.nextXid + 1;
    return x;
  }

  private async runHandshake(): Promise<void> {
    const timeout = setTimeout(
      () => this.fail(new OpenFlowError('timeout', `handshake: no answer in ${this.opts.handshakeTimeoutMs} ms`)),
      this.opts.handshakeTimeoutMs,
    );
    timeout.unref?.();
    try {
      const hello = new Promise<{ hello: M.Hello; version: number }>((resolve) => (this.helloResolve = resolve));
      this.writeMessages([{ type: 'hello', xid: this.allocXid(), versions: [OFP_VERSION] }]);
      const { hello: peer, version: peerVersion } = await Promise.race([hello, this.closedPromise()]);
      // with a bitmap: 1.3 must be in it; without: the peer's highest version must reach 1.3
      const common = peer.versions ? peer.versions.includes(OFP_VERSION) : peerVersion >= OFP_VERSION;
      if (!common) {
        const names = errorNames(0, 0);
        this.writeMessages([{ type: 'error', xid: peer.xid, errorType: 0, code: 0, ...names, data: Buffer.from('We support OpenFlow 1.3 only') }]);
        throw this.fail(new OpenFlowError('negotiation', `hello: the switch offers versions ${JSON.stringify(peer.versions)}, not OpenFlow 1.3`));
      }
      this.version = OFP_VERSION;
      const features = (await this.request({ type: 'features_request', xid: 0 }, this.opts.handshakeTimeoutMs)) as M.FeaturesReply;
      if (features.type !== 'features_reply') throw this.fail(new OpenFlowError('bad-value', `handshake: expected features_reply, got ${features.type}`));
      this.features = features;
      this.datapathId = features.datapathId;
      const desc = await this.multipart({ kind: 'port_desc' }, this.opts.handshakeTimeoutMs);
      this.ports = desc.kind === 'port_desc' ? desc.ports : [];
      this.emit('connected', { datapathId: this.datapathId, ports: this.ports, features });
    } finally {
      clearTimeout(timeout);
    }
  }

  private closedPromise(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.closed) reject(new OpenFlowError('closed', 'connection closed'));
      this.once('disconnected', (d) => reject(d.error ?? new OpenFlowError('closed', `connection closed: ${d.reason}`)));
    });
  }

  // ---- input ------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastRxMs = Date.now();
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (e) {
      this.fail(e as OpenFlowError);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    let msg: M.OfpMessage;
    try {
      msg = decodeMessage(frame);
    } catch (e) {
      const err = e instanceof OpenFlowError ? e : new OpenFlowError('bad-value', String(e));
      this.emit('error', err);
      // tell the switch, as the spec asks (BAD_REQUEST/BAD_LEN with the offending bytes)
      const xid = frame.readUInt32BE(4);
      this.writeMessages([{ type: 'error', xid, errorType: 1, code: 6, ...errorNames(1, 6), data: frame.subarray(0, 64) }]);
      return;
    }
    if (msg.type === 'hello') {
      if (this.helloResolve) {
        const resolve = this.helloResolve;
        this.helloResolve = undefined;
        resolve({ hello: msg, version: frame[0] });
      }
      return;
    }
    if (this.version && frame[0] !== this.version) {
      this.emit('error', new OpenFlowError('bad-version', `message of version ${frame[0]} on an OpenFlow 1.3 connection`));
      this.writeMessages([{ type: 'error', xid: msg.xid, errorType: 1, code: 0, ...errorNames(1, 0), data: frame.subarray(0, 64) }]);
      return;
    }
    this.emit('message', msg);
    switch (msg.type) {
      case 'echo_request':
        this.writeMessages([{ type: 'echo_reply', xid: msg.xid, data: msg.data }]);
        return;
      case 'port_status':
        this.applyPortStatus(msg);
        this.emit('port-status', msg);
        return;
      case 'packet_in':
        this.emit('packet-in', msg);
        return;
      case 'flow_removed':
        this.emit('flow-removed', msg);
        return;
      case 'error': {
        const p = this.pending.get(msg.xid);
        if (p) {
          this.settle(msg.xid);
          p.reject(switchError(msg, 'request'));
          return;
        }
        const w = this.watched.get(msg.xid);
        if (w) {
          w.push(msg);
          return;
        }
        this.emit('error', msg);
        return;
      }
      default: {
        const p = this.pending.get(msg.xid);
        if (!p) return;
        if (msg.type === 'multipart_reply') {
          (p.parts ??= []).push(msg);
          if (msg.flags & OFPMPF_REPLY_MORE) {
            p.timer.refresh();
            return;
          }
          const body = mergeMultipartReplies(p.parts);
          this.settle(msg.xid);
          p.resolve({ ...msg, flags: 0, body });
          return;
        }
        this.settle(msg.xid);
        p.resolve(msg);
      }
    }
  }

  private applyPortStatus(msg: M.PortStatus): void {
    const others = this.ports.filter((p) => p.portNo !== msg.port.portNo);
    this.ports = msg.reason === 1 ? others : [...others, msg.port].sort((a, b) => a.portNo - b.portNo);
  }

  private settle(xid: number): void {
    const p = this.pending.get(xid);
    if (p) clearTimeout(p.timer);
    this.pending.delete(xid);
  }

  private onEnd(): void {
    if (this.closed) return;
    if (this.splitter.bufferedBytes > 0) {
      this.fail(new OpenFlowError('truncated', `the switch closed the connection in the middle of a message (${this.splitter.bufferedBytes} bytes)`));
    } else {
      this.fail(undefined, 'the switch closed the connection');
    }
  }

  private tick(): void {
    if (this.closed) return;
    const idle = Date.now() - this.lastRxMs;
    if (idle >= this.opts.livenessTimeoutMs) {
      this.fail(new OpenFlowError('timeout', `liveness: nothing received for ${idle} ms`));
    } else if (idle >= this.opts.echoIntervalMs && this.version) {
      this.writeMessages([{ type: 'echo_request', xid: this.allocXid(), data: new Uint8Array(0) }]);
    }
  }

  /** closes the connection (idempotent); returns the error for `throw this.fail(...)` */
  private fail(error?: OpenFlowError, reason?: string): OpenFlowError {
    const err = error ?? new OpenFlowError('closed', reason ?? 'connection closed');
    if (this.closed) return err;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(xid);
      p.reject(error ? new OpenFlowError(error.kind === 'timeout' ? 'timeout' : 'closed', `request ${xid}: ${err.message}`) : new OpenFlowError('closed', `request ${xid}: ${err.message}`));
    }
    this.socket.destroy();
    if (error) this.emit('error', error);
    this.emit('disconnected', { reason: err.message, error });
    return err;
  }

  close(): void {
    this.fail(undefined, 'closed by the controller');
  }

  // ---- output -----------------------------------------------------------------------------------

  /** encodes and writes messages as few socket writes as possible; resolves when the socket has
   *  accepted them all (waits for 'drain' whenever the socket's buffer is full) */
  private async writeMessagesAsync(msgs: Iterable<M.OfpMessage>): Promise<void> {
    const w = this.writer;
    for (const m of msgs) {
      if (this.closed) throw new OpenFlowError('closed', 'write: connection closed');
      const at = w.offset;
      try {
        encodeInto(w, m);
      } catch (e) {
        // never send half a message: drop its bytes, send the whole ones before it, then fail
        w.truncate(at);
        if (w.offset > 0 && !this.closed) this.socket.write(w.flush());
        w.reset();
        throw e instanceof OpenFlowError ? e : new OpenFlowError('bad-value', `encode ${m.type}: ${String(e)}`);
      }
      if (w.offset >= WRITE_CHUNK_BYTES) {
        const ok = this.socket.write(w.flush());
        if (!ok) await this.drain();
      }
    }
    if (w.offset > 0 && !this.closed) {
      const ok = this.socket.write(w.flush());
      if (!ok) await this.drain();
    }
  }

  private drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new OpenFlowError('closed', 'write: connection closed'));
      const onDrain = (): void => {
        this.off('disconnected', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.off('disconnected', onClose);
        this.socket.off('drain', onDrain);
        reject(new OpenFlowError('closed', 'write: connection closed while waiting for drain'));
      };
      this.socket.once('drain', onDrain);
      this.on('disconnected', onClose);
    });
  }

  /** fire-and-forget write of small messages (errors become events) */
  private writeMessages(msgs: M.OfpMessage[]): void {
    if (this.closed) return;
    try {
      const w = new BufferWriter(256);
      for (const m of msgs) encodeInto(w, m);
      this.socket.write(w.flush());
    } catch (e) {
      this.emit('error', e instanceof OpenFlowError ? e : new OpenFlowError('bad-value', String(e)));
    }
  }

  /** sends a message that has no reply (its xid is assigned when 0) */
  async sendMessage(msg: M.OfpMessage): Promise<number> {
    const xid = msg.xid || this.allocXid();
    await this.writeMessagesAsync([{ ...msg, xid } as M.OfpMessage]);
    return xid;
  }

  /** sends a request and resolves with its reply (same xid); an ERROR reply rejects with
   *  kind 'switch-error'; no reply in time rejects with kind 'timeout' */
  request(msg: M.OfpMessage, timeoutMs = this.opts.requestTimeoutMs): Promise<M.OfpMessage> {
    if (this.closed) return Promise.reject(new OpenFlowError('closed', `${msg.type}: connection closed`));
    const xid = msg.xid || this.allocXid();
    return new Promise<M.OfpMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new OpenFlowError('timeout', `${msg.type}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.pending.set(xid, { resolve, reject, timer, timeoutMs });
      this.writeMessagesAsync([{ ...msg, xid } as M.OfpMessage]).catch((e) => {
        this.settle(xid);
        reject(e instanceof OpenFlowError ? e : new OpenFlowError('bad-value', String(e)));
      });
    });
  }

  /** a multipart request; the reply parts are joined */
  async multipart(body: M.MultipartRequestBody, timeoutMs?: number): Promise<M.MultipartReplyBody> {
    const reply = await this.request({ type: 'multipart_request', xid: 0, flags: 0, body }, timeoutMs);
    if (reply.type !== 'multipart_reply') throw new OpenFlowError('bad-value', `multipart: unexpected ${reply.type}`);
    return reply.body;
  }

  async barrier(timeoutMs?: number): Promise<void> {
    await this.request({ type: 'barrier_request', xid: 0 }, timeoutMs);
  }

  async echo(data: Uint8Array = new Uint8Array(0), timeoutMs?: number): Promise<void> {
    await this.request({ type: 'echo_request', xid: 0, data }, timeoutMs);
  }

  /**
   * Applies messages atomically with OVS's bundle extension: open, add each, commit. Rejects with
   * the first error the switch reported (then nothing was applied).
   */
  async bundle(msgs: Iterable<M.OfpMessage>, flags = OFPBF.ATOMIC | OFPBF.ORDERED, timeoutMs?: number): Promise<void> {
    const bundleId = this.nextBundleId++;
    const errors: M.ErrorMsg[] = [];
    const xids: number[] = [];
    await this.request({ type: 'bundle_control', xid: 0, bundleId, controlType: 'open_request', flags }, timeoutMs);
    const self = this;
    function* adds(): Generator<M.OfpMessage> {
      for (const inner of msgs) {
        const xid = self.allocXid();
        xids.push(xid);
        self.watched.set(xid, errors);
        yield { type: 'bundle_add', xid, bundleId, flags, message: { ...inner, xid } as M.OfpMessage };
      }
    }
    try {
      try {
        await this.writeMessagesAsync(adds());
      } catch (e) {
        // a message that cannot be encoded: nothing of the bundle may be applied
        if (!this.closed) {
          await this.request({ type: 'bundle_control', xid: 0, bundleId, controlType: 'discard_request', flags }, timeoutMs).catch(() => undefined);
        }
        throw e;
      }
      let commitError: OpenFlowError | undefined;
      try {
        await this.request({ type: 'bundle_control', xid: 0, bundleId, controlType: 'commit_request', flags }, timeoutMs);
      } catch (e) {
        commitError = e as OpenFlowError;
      }
      if (errors.length) throw switchError(errors[0], `bundle ${bundleId}`);
      if (commitError) throw commitError;
    } finally {
      for (const x of xids) this.watched.delete(x);
    }
  }

  /**
   * Applies SwitchOps in order. Runs of flow and group changes go in one bundle each when the
   * switch supports bundles (OVS 3.1 refuses meter mods inside bundles: MSG_UNSUP), everything
   * else as plain messages followed by a barrier. Rejects with the first error the switch reported;
   * runs before the failing one stay applied.
   */
  async send(ops: readonly SwitchOp[], options: { bundle?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const isMeter = (op: SwitchOp): boolean => op.op.endsWith('-meter');
    let i = 0;
    while (i < ops.length) {
      const meterRun = isMeter(ops[i]);
      let j = i;
      while (j < ops.length && isMeter(ops[j]) === meterRun) j++;
      const run = ops.slice(i, j);
      const useBundle = !meterRun && (options.bundle ?? this.bundlesSupported);
      await this.sendRun(run, useBundle, options);
      i = j;
    }
  }

  private async sendRun(ops: readonly SwitchOp[], useBundle: boolean, options: { bundle?: boolean; timeoutMs?: number }): Promise<void> {
    const messages = function* (): Generator<M.OfpMessage> {
      for (const op of ops) yield switchOpToMessage(op, 0);
    };
    if (useBundle) {
      try {
        await this.bundle(messages(), OFPBF.ATOMIC | OFPBF.ORDERED, options.timeoutMs);
        return;
      } catch (e) {
        const err = e as OpenFlowError;
        // a switch without the extension refuses OPEN with BAD_REQUEST (BAD_EXPERIMENTER/BAD_TYPE)
        const unsupported = err.kind === 'switch-error' && err.switchError?.type === 1 && [1, 3, 4].includes(err.switchError.code);
        if (!unsupported || options.bundle) throw err;
        this.bundlesSupported = false;
      }
    }
    const errors: M.ErrorMsg[] = [];
    const xids: number[] = [];
    const self = this;
    function* plain(): Generator<M.OfpMessage> {
      for (const m of messages()) {
        const xid = self.allocXid();
        xids.push(xid);
        self.watched.set(xid, errors);
        yield { ...m, xid } as M.OfpMessage;
      }
    }
    try {
      await this.writeMessagesAsync(plain());
      await this.barrier(options.timeoutMs);
      if (errors.length) throw switchError(errors[0], 'send');
    } finally {
      for (const x of xids) this.watched.delete(x);
    }
  }

  async dumpFlows(filter: Partial<M.FlowStatsRequest> = {}): Promise<M.FlowStats[]> {
    const body = await this.multipart({
      kind: 'flow',
      tableId: filter.tableId ?? 0xff,
      outPort: filter.outPort ?? OFPP.ANY,
      outGroup: filter.outGroup ?? OFPG.ANY,
      cookie: filter.cookie ?? 0n,
      cookieMask: filter.cookieMask ?? 0n,
      match: filter.match ?? {},
    });
    return body.kind === 'flow' ? body.flows : [];
  }

  async dumpGroups(): Promise<Group[]> {
    const body = await this.multipart({ kind: 'group_desc' });
    return body.kind === 'group_desc' ? body.groups : [];
  }

  async dumpMeters(): Promise<Meter[]> {
    const body = await this.multipart({ kind: 'meter_config', meterId: 0xffffffff });
    return body.kind === 'meter_config' ? body.meters : [];
  }

  async portStats(portNo: number = OFPP.ANY): Promise<M.PortStats[]> {
    const body = await this.multipart({ kind: 'port_stats', portNo });
    return body.kind === 'port_stats' ? body.ports : [];
  }
}

export interface ListenAddress {
  protocol: 'tcp' | 'ssl';
  port: number;
  host: string;
}

/** 'tcp:PORT[:ADDR]', 'ptcp:PORT[:ADDR]', 'ssl:PORT[:ADDR]', 'pssl:PORT[:ADDR]' */
export function parseListenAddress(url: string): ListenAddress {
  const m = /^(p?tcp|p?ssl):(\d{1,5})(?::(.+))?$/.exec(url);
  if (!m || Number(m[2]) > 65535) throw new OpenFlowError('bad-value', `listen: ${url} is not tcp:PORT[:ADDR] or ssl:PORT[:ADDR]`);
  return { protocol: m[1].endsWith('ssl') ? 'ssl' : 'tcp', port: Number(m[2]), host: m[3] ?? '0.0.0.0' };
}

export interface ServerEvents {
  /** a switch finished its handshake */
  switch: SwitchConnection;
  /** a connection failed before or during its handshake */
  error: OpenFlowError;
}

export class OpenFlowServer extends Events<ServerEvents> {
  private server?: net.Server;
  private readonly options: OpenFlowServerOptions;
  private readonly connections = new Set<SwitchConnection>();
  private readonly byDatapath = new Map<string, SwitchConnection>();

  constructor(options: OpenFlowServerOptions = {}) {
    super();
    this.options = options;
  }

  /** starts listening on options.listen; resolves with the server */
  static async listen(options: OpenFlowServerOptions & { listen: string }): Promise<OpenFlowServer> {
    const s = new OpenFlowServer(options);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    const addr = parseListenAddress(this.options.listen ?? 'tcp:6653');
    const onSocket = (socket: net.Socket): void => {
      this.attach(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    };
    if (addr.protocol === 'ssl') {
      if (!this.options.tls) throw new OpenFlowError('bad-value', 'listen: ssl needs tls options (key, cert)');
      this.server = tls.createServer(this.options.tls, onSocket);
    } else {
      this.server = net.createServer(onSocket);
    }
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new OpenFlowError('closed', `listen ${this.options.listen}: ${e.message}`)));
      server.listen(addr.port, addr.host, () => resolve());
    });
    server.on('error', (e) => this.emit('error', new OpenFlowError('closed', `server: ${e.message}`)));
  }

  /** the bound TCP port */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** serves an already-connected socket (e.g. an active connection to a switch's ptcp:) */
  attach(socket: Duplex, remoteAddress = ''): SwitchConnection {
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    const conn = new SwitchConnection(socket, this.options, remoteAddress);
    this.connections.add(conn);
    conn.on('connected', ({ datapathId }) => {
      this.byDatapath.set(datapathId, conn);
      this.emit('switch', conn);
    });
    conn.on('disconnected', () => {
      this.connections.delete(conn);
      if (this.byDatapath.get(conn.datapathId) === conn) this.byDatapath.delete(conn.datapathId);
    });
    conn.ready().catch((e: OpenFlowError) => this.emit('error', e));
    return conn;
  }

  switches(): SwitchConnection[] {
    return [...this.byDatapath.values()];
  }

  /** the first switch to connect (or the one with this datapath id) */
  waitForSwitch(timeoutMs = 10_000, datapathId?: string): Promise<SwitchConnection> {
    const have = datapathId ? this.byDatapath.get(datapathId) : this.switches()[0];
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const onSwitch = (c: SwitchConnection): void => {
        if (datapathId && c.datapathId !== datapathId) return;
        clearTimeout(timer);
        this.off('switch', onSwitch);
        resolve(c);
      };
      const timer = setTimeout(() => {
        this.off('switch', onSwitch);
        reject(new OpenFlowError('timeout', `waitForSwitch: no switch${datapathId ? ' ' + datapathId : ''} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('switch', onSwitch);
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.close();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
