/**
 * Open_vSwitch helpers on top of the OVSDB client: make a bridge or port look as specified, remove
 * them, read OpenFlow port numbers, set policing and QoS. Each helper reads the current rows with one
 * select-only transaction, computes the difference, and sends at most ONE mutating transaction, guarded
 * by `wait` operations on exactly what it read (ovs-vsctl's "verify"), so a concurrent writer makes it
 * fail cleanly instead of being overwritten. When nothing differs, nothing is written: running a helper
 * twice sends no mutating operation the second time. Given `{ replica }` (openVswitchReplica), the read
 * comes from the monitor-backed replica instead, and a call is exactly one transaction, or none.
 */
import {
  Condition,
  Operation,
  OvsdbClient,
  OvsdbTimeoutError,
  OvsdbTransactionError,
  OvsdbUsageError,
  Replica,
  Row,
  SelectOperation,
  Value,
  map,
  mapToObject,
  namedUuid,
  op,
  scalar,
  set,
  setElements,
  uuid,
  uuidOf,
  uuidsOf,
  valuesEqual,
} from './ovsdb';

export const VSWITCH_DB = 'Open_vSwitch';

export type OpenFlowVersion = 'OpenFlow10' | 'OpenFlow11' | 'OpenFlow12' | 'OpenFlow13' | 'OpenFlow14' | 'OpenFlow15';

export interface BridgeSpec {
  name: string;
  /** 'system' datapath is '' (the default); 'netdev' for userspace; 'dummy' for tests */
  datapathType?: string;
  /** other_config:datapath-id; a number/bigint or hex string, written as 16 hex digits */
  datapathId?: string | number | bigint;
  /** controller target(s), e.g. 'tcp:127.0.0.1:6653' or 'unix:/run/ctl.sock' */
  controller?: string | string[];
  /** default ['OpenFlow13'] */
  protocols?: OpenFlowVersion[];
  /** default 'secure': no NORMAL fallback while the controller is away */
  failMode?: 'secure' | 'standalone';
  /** merged into other_config (keys not named here are kept) */
  otherConfig?: Record<string, string>;
  /** merged into external_ids */
  externalIds?: Record<string, string>;
}

export type PortType = 'internal' | 'patch' | 'system' | 'vxlan' | 'geneve' | '';

export interface PortSpec {
  name: string;
  /** Interface.type; '' (the default for a new port) is a system device, as is 'system'; omitted: an existing port's type is kept */
  type?: PortType;
  /** Interface.ofport_request: the OpenFlow port number to ask for (1..65279) */
  ofportRequest?: number;
  /** Interface.options, exactly (e.g. { peer } for patch, { remote_ip, key, local_ip } for tunnels) */
  options?: Record<string, string>;
  /** merged into Interface.external_ids */
  externalIds?: Record<string, string>;
}

export interface QueueSpec {
  minRateBps?: number;
  maxRateBps?: number;
  burstBits?: number;
  priority?: number;
}

export interface QosSpec {
  type: 'linux-htb' | 'linux-hfsc' | string;
  maxRateBps?: number;
  /** queue id → queue */
  queues?: Record<number, QueueSpec>;
}

export interface ChangeResult {
  /** true when a mutating transaction was sent and committed */
  changed: boolean;
  /** the row's uuid (bridge or port), when it exists afterwards */
  uuid?: string;
}

export interface VswitchOptions {
  /**
   * Read current rows from this Replica (see openVswitchReplica) instead of a select transaction, so a
   * call sends exactly one transaction when something differs and none otherwise. The replica must be
   * on the same client: ovsdb-server flushes a session's monitor updates before its transact reply, so
   * it already holds our own previous writes.
   */
  replica?: Replica;
}

/** Tables and columns the helpers read. */
export const VSWITCH_REPLICA_TABLES: Record<string, string[]> = {
  Open_vSwitch: ['bridges'],
  Bridge: ['name', 'datapath_type', 'protocols', 'fail_mode', 'other_config', 'external_ids', 'controller', 'ports'],
  Controller: ['target'],
  Port: ['name', 'interfaces', 'qos'],
  Interface: ['name', 'type', 'options', 'ofport', 'ofport_request', 'external_ids', 'ingress_policing_rate', 'ingress_policing_burst'],
  QoS: ['type', 'other_config', 'queues', 'external_ids'],
  Queue: ['other_config'],
};

/** A Replica of what the helpers read, to pass as `{ replica }`. */
export function openVswitchReplica(client: OvsdbClient): Promise<Replica> {
  return Replica.create(client, VSWITCH_DB, VSWITCH_REPLICA_TABLES);
}

function rowMatches(row: Row, where: Condition[]): boolean {
  return where.every(([column, fn, value]) => {
    if (fn === '==') {
      const have = row[column];
      // fast path for names: both plain atoms
      if (typeof have !== 'object' && typeof value !== 'object') return have === value;
      return valuesEqual(have, value);
    }
    if (fn === 'includes') {
      const have = new Set(setElements(row[column]).map((a) => JSON.stringify(a)));
      return setElements(value).every((a) => have.has(JSON.stringify(a)));
    }
    throw new OvsdbUsageError(`vswitch: condition ${fn} is not evaluated on a replica`);
  });
}

/** Run select operations: in one read-only transaction, or against the replica. */
async function readRows(client: OvsdbClient, options: VswitchOptions, ...selects: SelectOperation[]): Promise<{ rows: Row[] }[]> {
  const replica = options.replica;
  if (!replica) return client.transact(VSWITCH_DB, ...selects);
  return selects.map((select) => {
    const wanted = VSWITCH_REPLICA_TABLES[select.table];
    for (const c of select.columns ?? []) {
      if (c !== '_uuid' && !wanted?.includes(c)) throw new OvsdbUsageError(`vswitch: the replica lacks ${select.table}.${c}`);
    }
    return { rows: [...replica.rows(select.table).values()].filter((row) => rowMatches(row, select.where)) };
  });
}

/** external_ids key that marks QoS rows this module created (and may therefore delete). */
const QOS_OWNER_KEY = 'fabric-qos-port';

function formatDatapathId(id: string | number | bigint): string {
  let value: bigint;
  try {
    value = typeof id === 'string' ? BigInt(/^0x/i.test(id) ? id : `0x${id}`) : BigInt(id);
  } catch {
    throw new OvsdbUsageError(`ensureBridge: datapath id ${String(id)} is not a number or hex string`);
  }
  if (value < 0n || value >= 1n << 64n) throw new OvsdbUsageError(`ensureBridge: datapath id ${id} is not a 64-bit value`);
  return value.toString(16).padStart(16, '0');
}

/** Merge desired keys into a map value; undefined when nothing would change. */
function mergedMap(current: Value | undefined, desired: Record<string, string> | undefined): Value | undefined {
  if (!desired) return undefined;
  const existing = mapToObject(current);
  const merged = { ...existing, ...desired };
  return valuesEqual(map(existing), map(merged)) ? undefined : map(merged);
}

function byUuid(where: string): Condition[] {
  return [['_uuid', '==', uuid(where)]];
}

/** `wait` that the row still has the values we read for these columns. */
function verify(table: string, rowUuid: string, row: Row, columns: string[]): Operation {
  const expected: Row = {};
  for (const c of columns) expected[c] = row[c];
  return op.wait(table, byUuid(rowUuid), columns, '==', [expected], 0);
}

async function commit(client: OvsdbClient, ops: Operation[], what: string): Promise<unknown[]> {
  try {
    return await client.transact(VSWITCH_DB, op.comment(`fabric: ${what}`), ...ops);
  } catch (err) {
    if (err instanceof OvsdbTransactionError && err.error === 'timed out') {
      // one of our verify waits failed: someone changed the rows between our read and write
      throw new OvsdbTransactionError('concurrent change', `${what}: the rows changed since they were read; retry`, err.operationIndex, err.operation, err.results);
    }
    throw err;
  }
}

/**
 * Run a read-then-write again when the write found the rows changed since the read (another client,
 * e.g. HA controllers ensuring the same bridge at once): up to 6 tries, 10-160 ms apart.
 */
async function retryConcurrent<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof OvsdbTransactionError && err.error === 'concurrent change') || attempt >= 6) throw err;
      await new Promise((r) => setTimeout(r, 10 * 2 ** (attempt - 1)));
    }
  }
}

/** Make bridge `spec.name` exist with the given settings (one select, then at most one write; again if the rows changed meanwhile). */
export function ensureBridge(client: OvsdbClient, spec: BridgeSpec, options: VswitchOptions = {}): Promise<ChangeResult> {
  return retryConcurrent(() => ensureBridgeOnce(client, spec, options));
}

async function ensureBridgeOnce(client: OvsdbClient, spec: BridgeSpec, options: VswitchOptions = {}): Promise<ChangeResult> {
  const [bridges, controllers, roots] = await readRows(
    client,
    options,
    op.select('Bridge', [['name', '==', spec.name]], ['_uuid', 'datapath_type', 'protocols', 'fail_mode', 'other_config', 'external_ids', 'controller']),
    op.select('Controller', [], ['_uuid', 'target']),
    op.select('Open_vSwitch', [], ['_uuid']),
  );
  if (roots.rows.length !== 1) throw new OvsdbUsageError('ensureBridge: the database has no Open_vSwitch row (run `ovs-vsctl init`)');
  const protocols = spec.protocols ?? ['OpenFlow13'];
  const failMode = spec.failMode ?? 'secure';
  const otherConfig: Record<string, string> = { ...(spec.otherConfig ?? {}) };
  if (spec.datapathId !== undefined) otherConfig['datapath-id'] = formatDatapathId(spec.datapathId);
  const targets = spec.controller === undefined ? undefined : Array.isArray(spec.controller) ? spec.controller : [spec.controller];
  const ops: Operation[] = [];

  const existing = bridges.rows[0];
  if (!existing) {
    const row: Row = {
      name: spec.name,
      ports: namedUuid('local_port'),
      protocols: set(...protocols),
      fail_mode: failMode,
      other_config: map(otherConfig),
      external_ids: map(spec.externalIds ?? {}),
    };
    if (spec.datapathType !== undefined) row.datapath_type = spec.datapathType;
    (targets ?? []).forEach((target, i) => ops.push(op.insert('Controller', { target }, `ctl${i}`)));
    if (targets?.length) row.controller = set(...targets.map((_, i) => namedUuid(`ctl${i}`)));
    ops.unshift(op.wait('Bridge', [['name', '==', spec.name]], ['name'], '==', [], 0));
    ops.push(
      op.insert('Interface', { name: spec.name, type: 'internal' }, 'local_iface'),
      op.insert('Port', { name: spec.name, interfaces: namedUuid('local_iface') }, 'local_port'),
      op.insert('Bridge', row, 'bridge'),
      op.mutate('Open_vSwitch', [], [['bridges', 'insert', set(namedUuid('bridge'))]]),
    );
    const results = await commit(client, ops, `ensureBridge ${spec.name}`);
    const bridgeIndex = 1 + ops.findIndex((o) => o.op === 'insert' && o.table === 'Bridge');
    return { changed: true, uuid: (results[bridgeIndex] as { uuid: [string, string] }).uuid[1] };
  }

  const bridgeUuid = uuidOf(existing._uuid)!;
  const update: Row = {};
  const read: string[] = [];
  if (spec.datapathType !== undefined && existing.datapath_type !== spec.datapathType) update.datapath_type = spec.datapathType;
  if (!valuesEqual(existing.protocols, set(...protocols))) update.protocols = set(...protocols);
  if (!valuesEqual(existing.fail_mode, failMode)) update.fail_mode = failMode;
  const oc = mergedMap(existing.other_config, otherConfig);
  if (oc) (update.other_config = oc), read.push('other_config');
  const ext = mergedMap(existing.external_ids, spec.externalIds);
  if (ext) (update.external_ids = ext), read.push('external_ids');
  if (targets) {
    const targetOf = new Map(controllers.rows.map((c) => [uuidOf(c._uuid)!, String(c.target)]));
    const current = uuidsOf(existing.controller).map((u) => targetOf.get(u) ?? '');
    if ([...current].sort().join('\n') !== [...targets].sort().join('\n')) {
      // new Controller rows; the old ones are garbage-collected (Controller is not a root table)
      targets.forEach((target, i) => ops.push(op.insert('Controller', { target }, `ctl${i}`)));
      update.controller = set(...targets.map((_, i) => namedUuid(`ctl${i}`)));
      read.push('controller');
    }
  }
  if (Object.keys(update).length === 0) return { changed: false, uuid: bridgeUuid };
  ops.unshift(verify('Bridge', bridgeUuid, existing, read.length ? read : ['_uuid']));
  ops.push(op.update('Bridge', byUuid(bridgeUuid), update));
  await commit(client, ops, `ensureBridge ${spec.name}`);
  return { changed: true, uuid: bridgeUuid };
}

/** Remove a bridge with its ports (no-op when absent). */
export async function removeBridge(client: OvsdbClient, name: string, options: VswitchOptions = {}): Promise<ChangeResult> {
  const [bridges] = await readRows(client, options, op.select('Bridge', [['name', '==', name]], ['_uuid']));
  if (bridges.rows.length === 0) return { changed: false };
  await commit(client, [op.mutate('Open_vSwitch', [], [['bridges', 'delete', set(uuid(uuidOf(bridges.rows[0]._uuid)!))]])], `removeBridge ${name}`);
  return { changed: true };
}

/** Make port `spec.name` (one interface of the same name) exist on `bridge` as specified. */
export function ensurePort(client: OvsdbClient, bridge: string, spec: PortSpec, options: VswitchOptions = {}): Promise<ChangeResult> {
  return retryConcurrent(() => ensurePortOnce(client, bridge, spec, options));
}

async function ensurePortOnce(client: OvsdbClient, bridge: string, spec: PortSpec, options: VswitchOptions = {}): Promise<ChangeResult> {
  const [bridges, ports, ifaces] = await readRows(
    client,
    options,
    op.select('Bridge', [['name', '==', bridge]], ['_uuid', 'ports']),
    op.select('Port', [['name', '==', spec.name]], ['_uuid', 'interfaces']),
    op.select('Interface', [['name', '==', spec.name]], ['_uuid', 'type', 'options', 'ofport_request', 'external_ids']),
  );
  const bridgeRow = bridges.rows[0];
  if (!bridgeRow) throw new OvsdbUsageError(`ensurePort: no bridge ${bridge}`);
  const bridgeUuid = uuidOf(bridgeRow._uuid)!;
  const ops: Operation[] = [];
  const port = ports.rows[0];
  if (!port) {
    const ifaceRow: Row = { name: spec.name, type: spec.type ?? '', options: map(spec.options ?? {}), external_ids: map(spec.externalIds ?? {}) };
    if (spec.ofportRequest !== undefined) ifaceRow.ofport_request = spec.ofportRequest;
    const results = await commit(
      client,
      [
        op.wait('Port', [['name', '==', spec.name]], ['name'], '==', [], 0),
        op.insert('Interface', ifaceRow, 'iface'),
        op.insert('Port', { name: spec.name, interfaces: namedUuid('iface') }, 'port'),
        op.mutate('Bridge', byUuid(bridgeUuid), [['ports', 'insert', set(namedUuid('port'))]]),
      ],
      `ensurePort ${bridge} ${spec.name}`,
    );
    return { changed: true, uuid: (results[3] as { uuid: [string, string] }).uuid[1] };
  }
  const portUuid = uuidOf(port._uuid)!;
  const iface = ifaces.rows[0];
  const ifaceUuid = iface && uuidOf(iface._uuid);
  if (!iface || !valuesEqual(port.interfaces, uuid(ifaceUuid!))) {
    throw new OvsdbUsageError(`ensurePort: port ${spec.name} exists but is not one interface named ${spec.name}; remove it first`);
  }
  const update: Row = {};
  if (spec.type !== undefined && iface.type !== spec.type) update.type = spec.type;
  if (spec.options && !valuesEqual(iface.options, map(spec.options))) update.options = map(spec.options);
  if (spec.ofportRequest !== undefined && !valuesEqual(iface.ofport_request, spec.ofportRequest)) update.ofport_request = spec.ofportRequest;
  const ext = mergedMap(iface.external_ids, spec.externalIds);
  if (ext) update.external_ids = ext;
  const onBridge = uuidsOf(bridgeRow.ports).includes(portUuid);
  if (Object.keys(update).length === 0 && onBridge) return { changed: false, uuid: portUuid };
  if (Object.keys(update).length > 0) {
    ops.push(verify('Interface', ifaceUuid!, iface, ['type', 'options', 'ofport_request', 'external_ids']));
    ops.push(op.update('Interface', byUuid(ifaceUuid!), update));
  }
  if (!onBridge) {
    // the port sits on another bridge: move it (both mutations in this one transaction)
    ops.push(op.mutate('Bridge', [['ports', 'includes', uuid(portUuid)]], [['ports', 'delete', set(uuid(portUuid))]]));
    ops.push(op.mutate('Bridge', byUuid(bridgeUuid), [['ports', 'insert', set(uuid(portUuid))]]));
  }
  await commit(client, ops, `ensurePort ${bridge} ${spec.name}`);
  return { changed: true, uuid: portUuid };
}

/** Remove a port from a bridge; Port and Interface rows are garbage-collected. No-op when absent. */
export async function removePort(client: OvsdbClient, bridge: string, name: string, options: VswitchOptions = {}): Promise<ChangeResult> {
  const [bridges, ports] = await readRows(
    client,
    options,
    op.select('Bridge', [['name', '==', bridge]], ['_uuid', 'ports']),
    op.select('Port', [['name', '==', name]], ['_uuid']),
  );
  const bridgeRow = bridges.rows[0];
  const port = ports.rows[0];
  if (!bridgeRow || !port || !uuidsOf(bridgeRow.ports).includes(uuidOf(port._uuid)!)) return { changed: false };
  await commit(
    client,
    [op.mutate('Bridge', byUuid(uuidOf(bridgeRow._uuid)!), [['ports', 'delete', set(uuid(uuidOf(port._uuid)!))]])],
    `removePort ${bridge} ${name}`,
  );
  return { changed: true };
}

/**
 * OpenFlow port numbers of every interface on `bridge`, by interface name (one read transaction).
 * undefined: vswitchd has not assigned one yet; -1: the interface failed to be created.
 */
export async function readOfports(client: OvsdbClient, bridge: string, options: VswitchOptions = {}): Promise<Map<string, number | undefined>> {
  const [bridges, ports, ifaces] = await readRows(
    client,
    options,
    op.select('Bridge', [['name', '==', bridge]], ['ports']),
    op.select('Port', [], ['_uuid', 'interfaces']),
    op.select('Interface', [], ['_uuid', 'name', 'ofport']),
  );
  if (!bridges.rows[0]) throw new OvsdbUsageError(`readOfports: no bridge ${bridge}`);
  const portIfaces = new Map(ports.rows.map((p) => [uuidOf(p._uuid)!, uuidsOf(p.interfaces)]));
  const ifaceByUuid = new Map(ifaces.rows.map((i) => [uuidOf(i._uuid)!, i]));
  const out = new Map<string, number | undefined>();
  for (const portUuid of uuidsOf(bridges.rows[0].ports)) {
    for (const ifaceUuid of portIfaces.get(portUuid) ?? []) {
      const iface = ifaceByUuid.get(ifaceUuid);
      if (iface) out.set(String(iface.name), scalar(iface.ofport) as number | undefined);
    }
  }
  return out;
}

/**
 * Wait (server-side, with OVSDB's `wait` operation) until vswitchd has assigned `iface` an ofport,
 * and return it (-1 when the interface failed).
 */
export async function waitOfport(client: OvsdbClient, iface: string, timeoutMs: number): Promise<number> {
  try {
    const [, sel] = await client.transact(
      VSWITCH_DB,
      op.wait('Interface', [['name', '==', iface]], ['ofport'], '!=', [{ ofport: set() }], timeoutMs),
      op.select('Interface', [['name', '==', iface]], ['ofport']),
    );
    const ofport = sel.rows[0] && (scalar(sel.rows[0].ofport) as number | undefined);
    if (ofport === undefined) throw new OvsdbUsageError(`waitOfport: no interface ${iface}`);
    return ofport;
  } catch (err) {
    if (err instanceof OvsdbTransactionError && err.error === 'timed out') {
      throw new OvsdbTimeoutError(`waitOfport: ${iface} got no ofport within ${timeoutMs} ms`);
    }
    throw err;
  }
}

/** Interface.ingress_policing_rate (kbit/s) and _burst (kbit); 0, 0 turns policing off. */
export async function setIngressPolicing(
  client: OvsdbClient,
  iface: string,
  rateKbps: number,
  burstKb: number,
  options: VswitchOptions = {},
): Promise<ChangeResult> {
  const [ifaces] = await readRows(
    client,
    options,
    op.select('Interface', [['name', '==', iface]], ['_uuid', 'ingress_policing_rate', 'ingress_policing_burst']),
  );
  const row = ifaces.rows[0];
  if (!row) throw new OvsdbUsageError(`setIngressPolicing: no interface ${iface}`);
  const ifaceUuid = uuidOf(row._uuid)!;
  if (row.ingress_policing_rate === rateKbps && row.ingress_policing_burst === burstKb) return { changed: false, uuid: ifaceUuid };
  await commit(
    client,
    [op.update('Interface', byUuid(ifaceUuid), { ingress_policing_rate: rateKbps, ingress_policing_burst: burstKb })],
    `setIngressPolicing ${iface}`,
  );
  return { changed: true, uuid: ifaceUuid };
}

function queueConfig(q: QueueSpec): Record<string, string> {
  const c: Record<string, string> = {};
  if (q.minRateBps !== undefined) c['min-rate'] = String(q.minRateBps);
  if (q.maxRateBps !== undefined) c['max-rate'] = String(q.maxRateBps);
  if (q.burstBits !== undefined) c.burst = String(q.burstBits);
  if (q.priority !== undefined) c.priority = String(q.priority);
  return c;
}

/**
 * Give `port` a QoS row of `spec` with its queues, or none (null). An existing QoS that matches is
 * left alone; one that differs is replaced, and the old QoS/Queue rows are deleted when this module
 * created them (external_ids:fabric-qos-port) and nothing else uses them.
 */
export async function setQos(client: OvsdbClient, port: string, spec: QosSpec | null, options: VswitchOptions = {}): Promise<ChangeResult> {
  const [ports, allPorts, qosRows, queueRows] = await readRows(
    client,
    options,
    op.select('Port', [['name', '==', port]], ['_uuid', 'qos']),
    op.select('Port', [], ['_uuid', 'qos']),
    op.select('QoS', [], ['_uuid', 'type', 'other_config', 'queues', 'external_ids']),
    op.select('Queue', [], ['_uuid', 'other_config']),
  );
  const portRow = ports.rows[0];
  if (!portRow) throw new OvsdbUsageError(`setQos: no port ${port}`);
  const portUuid = uuidOf(portRow._uuid)!;
  const currentQosUuid = uuidOf(portRow.qos);
  const qosByUuid = new Map(qosRows.rows.map((q) => [uuidOf(q._uuid)!, q]));
  const queueByUuid = new Map(queueRows.rows.map((q) => [uuidOf(q._uuid)!, q]));
  const current = currentQosUuid ? qosByUuid.get(currentQosUuid) : undefined;

  const desiredQueues = Object.entries(spec?.queues ?? {}).map(([id, q]) => [Number(id), queueConfig(q)] as const);
  const desiredOther: Record<string, string> = spec?.maxRateBps !== undefined ? { 'max-rate': String(spec.maxRateBps) } : {};
  if (spec && current && current.type === spec.type && valuesEqual(current.other_config, map(desiredOther))) {
    const currentQueues = new Map(
      (current.queues && Array.isArray(current.queues) && current.queues[0] === 'map' ? (current.queues[1] as [number, [string, string]][]) : []).map(
        ([id, ref]) => [id, queueByUuid.get(ref[1])],
      ),
    );
    const same =
      currentQueues.size === desiredQueues.length &&
      desiredQueues.every(([id, cfg]) => {
        const q = currentQueues.get(id);
        return q !== undefined && valuesEqual(q.other_config, map(cfg));
      });
    if (same) return { changed: false, uuid: currentQosUuid };
  }
  if (!spec && !current) return { changed: false };

  const ops: Operation[] = [verify('Port', portUuid, portRow, ['qos'])];
  if (spec) {
    desiredQueues.forEach(([, cfg], i) => ops.push(op.insert('Queue', { other_config: map(cfg) }, `queue${i}`)));
    ops.push(
      op.insert(
        'QoS',
        {
          type: spec.type,
          other_config: map(desiredOther),
          queues: ['map', desiredQueues.map(([id], i) => [id, namedUuid(`queue${i}`)])],
          external_ids: map({ [QOS_OWNER_KEY]: port }),
        },
        'qos',
      ),
      op.update('Port', byUuid(portUuid), { qos: namedUuid('qos') }),
    );
  } else {
    ops.push(op.update('Port', byUuid(portUuid), { qos: set() }));
  }
  // delete the old QoS when it is ours and no other port uses it, with queues no other QoS uses
  if (current && currentQosUuid && mapToObject(current.external_ids)[QOS_OWNER_KEY] === port) {
    const sharedWith = allPorts.rows.filter((p) => uuidOf(p._uuid) !== portUuid && uuidOf(p.qos) === currentQosUuid);
    if (sharedWith.length === 0) {
      ops.push(op.delete('QoS', byUuid(currentQosUuid)));
      const otherQueueRefs = new Set(
        qosRows.rows.filter((q) => uuidOf(q._uuid) !== currentQosUuid).flatMap((q) => (Array.isArray(q.queues) && q.queues[0] === 'map' ? (q.queues[1] as [number, [string, string]][]).map(([, r]) => r[1]) : [])),
      );
      for (const [, ref] of (Array.isArray(current.queues) && current.queues[0] === 'map' ? current.queues[1] : []) as [number, [string, string]][]) {
        if (!otherQueueRefs.has(ref[1])) ops.push(op.delete('Queue', byUuid(ref[1])));
      }
    }
  }
  const results = await commit(client, ops, `setQos ${port}`);
  const qosIndex = ops.findIndex((o) => o.op === 'insert' && o.table === 'QoS');
  return { changed: true, uuid: qosIndex >= 0 ? (results[qosIndex + 1] as { uuid: [string, string] }).uuid[1] : undefined };
}

