/**
 * The flow IR: typed OpenFlow 1.3 match / instructions / actions / groups / meters.
 *
 * One IR, three users: `fabric/openflow` encodes it to the wire (and decodes the wire to it),
 * the simulated switch in `sim/` executes it, and `ofctl.ts` prints it in `ovs-ofctl` syntax.
 * Never give it a second meaning anywhere else.
 *
 * Values are bigint so that every field (up to ct_label's 128 bits) has one representation.
 * Field names are OVS's names (as `ovs-fields(7)` and `ovs-ofctl` spell them).
 */

export type FieldName =
  | 'in_port'
  | 'metadata'
  | 'eth_dst'
  | 'eth_src'
  | 'eth_type'
  | 'vlan_vid'
  | 'vlan_pcp'
  | 'ip_dscp'
  | 'ip_ecn'
  | 'ip_proto'
  | 'ipv4_src'
  | 'ipv4_dst'
  | 'tcp_src'
  | 'tcp_dst'
  | 'udp_src'
  | 'udp_dst'
  | 'icmpv4_type'
  | 'icmpv4_code'
  | 'arp_op'
  | 'arp_spa'
  | 'arp_tpa'
  | 'arp_sha'
  | 'arp_tha'
  | 'ipv6_src'
  | 'ipv6_dst'
  | 'ipv6_label'
  | 'icmpv6_type'
  | 'icmpv6_code'
  | 'nd_target'
  | 'nd_sll'
  | 'nd_tll'
  | 'tunnel_id'
  | 'tun_ipv4_src'
  | 'tun_ipv4_dst'
  | 'pkt_mark'
  | 'ct_state'
  | 'ct_zone'
  | 'ct_mark'
  | 'ct_label'
  | 'dp_hash'
  | 'reg0' | 'reg1' | 'reg2' | 'reg3' | 'reg4' | 'reg5' | 'reg6' | 'reg7'
  | 'reg8' | 'reg9' | 'reg10' | 'reg11' | 'reg12' | 'reg13' | 'reg14' | 'reg15'
  // Nicira / ONF extension fields OVS 3.1 carries in OpenFlow 1.3 (ovs-fields(7))
  /** the 16-bit NXM_OF_IN_PORT (OVS's `in_port` inside Nicira actions and learn); `in_port` is the 32-bit OXM */
  | 'in_port_nxm'
  /** NXM_OF_VLAN_TCI: the whole 802.1Q TCI (OVS converts it to vlan_vid/vlan_pcp in OpenFlow 1.3 matches; actions keep it) */
  | 'vlan_tci'
  | 'conj_id'
  | 'recirc_id'
  | 'actset_output'
  | 'packet_type'
  | 'tun_flags'
  | 'tun_ipv6_src'
  | 'tun_ipv6_dst'
  | 'tun_gbp_id'
  | 'tun_gbp_flags'
  | 'ct_nw_src'
  | 'ct_nw_dst'
  | 'ct_ipv6_src'
  | 'ct_ipv6_dst'
  | 'ct_nw_proto'
  | 'ct_tp_src'
  | 'ct_tp_dst'
  | 'mpls_label'
  | 'mpls_tc'
  | 'mpls_bos'
  | 'mpls_ttl'
  | 'ip_frag'
  | 'nw_ttl'
  | 'tcp_flags'
  | 'sctp_src'
  | 'sctp_dst'
  | 'nd_reserved'
  | 'nd_options_type'
  /** NXOXM_ET experimenter fields: ERSPAN and GTP-U tunnel metadata */
  | 'tun_erspan_idx' | 'tun_erspan_ver' | 'tun_erspan_dir' | 'tun_erspan_hwid' | 'tun_gtpu_flags' | 'tun_gtpu_msgtype'
  /** NXOXM_NSH experimenter fields: the Network Service Header (packet_type=(1,0x894f)) */
  | 'nsh_flags' | 'nsh_ttl' | 'nsh_mdtype' | 'nsh_np' | 'nsh_spi' | 'nsh_si' | 'nsh_c1' | 'nsh_c2' | 'nsh_c3' | 'nsh_c4'
  /** 64-bit OXM_OF_PKT_REGn and 128-bit NXM_NX_XXREGn: on the wire in Nicira actions only (OVS
   *  matches them as the 32-bit regs they are made of in OpenFlow 1.3) */
  | 'xreg0' | 'xreg1' | 'xreg2' | 'xreg3' | 'xreg4' | 'xreg5' | 'xreg6' | 'xreg7'
  | 'xxreg0' | 'xxreg1' | 'xxreg2' | 'xxreg3';

export interface MaskedValue {
  value: bigint;
  /** absent: exact match. Bits outside the mask in `value` must be zero. */
  mask?: bigint;
}

/** A match is a set of fields; order is irrelevant here (the codec emits OVS's order). */
export type Match = Partial<Record<FieldName, MaskedValue>>;

/** Reserved port numbers (OpenFlow 1.3 §7.2.1) */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

/** ct_state bits (ovs-fields(7)) */
export const CT_STATE = {
  new: 0x01,
  est: 0x02,
  rel: 0x04,
  rpl: 0x08,
  inv: 0x10,
  trk: 0x20,
  snat: 0x40,
  dnat: 0x80,
} as const;

export interface NatSpec {
  /** absent: plain `nat` (un-NAT an existing connection, or no-op) */
  kind?: 'src' | 'dst';
  /** dotted quad, or IPv6 text (decoded as its canonical inet_ntop form); ipMin and ipMax of one family */
  ipMin?: string;
  ipMax?: string;
  portMin?: number;
  portMax?: number;
  persistent?: boolean;
  /** 'hash' | 'random' port selection */
  portSelection?: 'hash' | 'random';
}

export interface FieldRef {
  field: FieldName;
  /** bit offset and width inside the field; default the whole field */
  ofs?: number;
  nBits?: number;
}

/** NX_HASH_FIELDS_* (multipath, bundle), in wire order */
export type HashFields = 'eth_src' | 'symmetric_l4' | 'symmetric_l3l4' | 'symmetric_l3l4+udp' | 'nw_src' | 'nw_dst' | 'symmetric_l3';

/** one flow_mod_spec of a learn action: the learned flow matches dst = src (a field of this packet,
 *  same width) or dst = value; loads src / value into dst; or outputs to the port held in src.
 *  A value's width is dst's. */
export type LearnSpec =
  | { kind: 'match' | 'load'; dst: FieldRef; src: FieldRef }
  | { kind: 'match' | 'load'; dst: FieldRef; value: bigint }
  | { kind: 'output'; src: FieldRef };

export type Action =
  /** port: a number, or an OFPP reserved value */
  | { type: 'output'; port: number; maxLen?: number }
  | { type: 'group'; groupId: number }
  | { type: 'set_field'; field: FieldName; value: bigint; mask?: bigint }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  /** ids absent: OFPAT_DEC_NW_TTL; present (even [0]): NXAST_DEC_TTL_CNT_IDS, the controller ids told of an expired TTL */
  | { type: 'dec_ttl'; ids?: number[] }
  | { type: 'set_queue'; queueId: number }
  /** NXAST_REG_MOVE: copy bits src -> dst */
  | { type: 'move'; src: FieldRef; dst: FieldRef }
  /** NXAST_CT */
  | {
      type: 'ct';
      commit?: boolean;
      /** with commit: a connection in the other direction is torn down and re-committed (NX_CT_F_FORCE) */
      force?: boolean;
      /** zone: an immediate, or a 16-bit field reference */
      zone?: number | FieldRef;
      /** recirculate into this table after conntrack; absent: no recirculation */
      table?: number;
      nat?: NatSpec;
      /** actions executed on commit: only set_field of ct_mark / ct_label */
      exec?: Action[];
      /** ALG: the well-known port of the protocol (21 ftp, 69 tftp); absent: none */
      alg?: number;
    }
  | { type: 'ct_clear' }
  /** NXAST_RESUBMIT_TABLE: port absent means in_port, table absent the current table; ct: look up
   *  with the conntrack original direction tuple (NXAST_RESUBMIT_TABLE_CT); legacy: the plain
   *  NXAST_RESUBMIT (port only, no table field) */
  | { type: 'resubmit'; table?: number; port?: number; ct?: boolean; legacy?: boolean }
  | { type: 'note'; data: Uint8Array }
  | { type: 'controller'; maxLen?: number; reason?: number; userdata?: Uint8Array; controllerId?: number; pause?: boolean; meterId?: number }
  /** NXAST_OUTPUT_REG: output to the port number held in bits of a field */
  | { type: 'output_reg'; src: FieldRef; maxLen?: number }
  /** NXAST_EXIT: stop executing actions (the action set still runs) */
  | { type: 'exit' }
  /** NXAST_FIN_TIMEOUT: the flow's timeouts once a TCP FIN or RST is seen; 0/absent: unchanged */
  | { type: 'fin_timeout'; idleTimeout?: number; hardTimeout?: number }
  /** NXAST_SET_TUNNEL (32-bit tun_id) or, wide or above 32 bits, NXAST_SET_TUNNEL64 */
  | { type: 'set_tunnel'; tunId: bigint; wide?: boolean }
  /** NXAST_SAMPLE / SAMPLE2 (samplingPort) / SAMPLE3 (direction): IPFIX sampling */
  | {
      type: 'sample';
      probability: number;
      collectorSetId: number;
      obsDomainId: number;
      obsPointId: number;
      samplingPort?: number;
      direction?: 'ingress' | 'egress';
    }
  /** NXAST_MULTIPATH: hash, choose one of `links` links, store its number in dst */
  | { type: 'multipath'; fields: HashFields; basis: number; algorithm: 'modulo_n' | 'hash_threshold' | 'hrw' | 'iter_hash'; links: number; arg: number; dst: FieldRef }
  /** NXAST_BUNDLE (output to the chosen member) or, with dst, NXAST_BUNDLE_LOAD */
  | { type: 'bundle'; fields: HashFields; basis: number; algorithm: 'active_backup' | 'hrw'; members: number[]; dst?: FieldRef }
  /** NXAST_LEARN or, with limit / resultDst, NXAST_LEARN2: add (or modify) a flow built from the
   *  packet. table: the learned flow's table; priority absent: 32768; timeouts and cookie absent: 0 */
  | {
      type: 'learn';
      table: number;
      idleTimeout?: number;
      hardTimeout?: number;
      finIdleTimeout?: number;
      finHardTimeout?: number;
      priority?: number;
      cookie?: bigint;
      /** NX_LEARN_F_SEND_FLOW_REM, NX_LEARN_F_DELETE_LEARNED */
      sendFlowRem?: boolean;
      deleteLearned?: boolean;
      /** NXAST_LEARN2: at most this many learned flows (0/absent: unlimited) */
      limit?: number;
      /** NXAST_LEARN2 with NX_LEARN_F_WRITE_RESULT: one bit set to whether the flow was learned */
      resultDst?: FieldRef;
      specs: LearnSpec[];
    }
  /** An action we do not model, kept raw so that decode -> encode is lossless. */
  | { type: 'raw'; actionType: number; experimenter?: number; subtype?: number; data: Uint8Array };

/** OpenFlow 1.3 instructions; executed in this order: meter, apply, clear, write, metadata, goto. */
export interface Instructions {
  meter?: number;
  apply?: Action[];
  clear?: boolean;
  write?: Action[];
  writeMetadata?: { value: bigint; mask: bigint };
  gotoTable?: number;
}

export interface Flow {
  table: number;
  priority: number;
  match: Match;
  instructions: Instructions;
  /** ownership and generation, see controller/cookie.ts */
  cookie: bigint;
  idleTimeout?: number;
  hardTimeout?: number;
  /** OFPFF_* bits */
  flags?: number;
}

export type GroupType = 'all' | 'select' | 'indirect' | 'ff';

export interface Bucket {
  /** select groups; OVS default 1 */
  weight?: number;
  /** fast-failover groups: the bucket is live while this port is up */
  watchPort?: number;
  watchGroup?: number;
  actions: Action[];
}

export interface Group {
  groupId: number;
  type: GroupType;
  buckets: Bucket[];
}

export interface MeterBand {
  type: 'drop' | 'dscp_remark';
  /** kbps, or pktps when the meter is in packets */
  rate: number;
  burstSize: number;
  precLevel?: number;
}

export interface Meter {
  meterId: number;
  unit: 'kbps' | 'pktps';
  burst: boolean;
  stats: boolean;
  bands: MeterBand[];
}

/** Everything one switch should hold. */
export interface SwitchPlan {
  switch: string;
  /** 16 hex digits */
  datapathId: string;
  flows: Flow[];
  groups: Group[];
  meters: Meter[];
}

/**
 * One change to a switch, as the reconciler emits it and drivers apply it (in order, atomically
 * per batch where the switch supports bundles).
 */
export type SwitchOp =
  | { op: 'add-flow'; flow: Flow }
  /** OFPFC_MODIFY_STRICT: same table, priority and match; new instructions/cookie */
  | { op: 'modify-flow'; flow: Flow }
  /** OFPFC_DELETE_STRICT of exactly this flow */
  | { op: 'delete-flow'; flow: Flow }
  | { op: 'add-group'; group: Group }
  | { op: 'modify-group'; group: Group }
  | { op: 'delete-group'; groupId: number }
  | { op: 'add-meter'; meter: Meter }
  | { op: 'modify-meter'; meter: Meter }
  | { op: 'delete-meter'; meterId: number };
