/**
 * OpenFlow 1.3 controller roles (OFPT_ROLE_REQUEST / ROLE_REPLY): the leader asks every switch for
 * MASTER with its generation id (the create revision of its etcd leader key: a later leader always has
 * a higher one), a standby asks for SLAVE. OVS keeps the highest generation id it has seen and answers a
 * lower one with OFPET_ROLE_REQUEST_FAILED / STALE; a new MASTER turns the previous master's connection
 * into a SLAVE, whose flow-mods OVS refuses with OFPET_BAD_REQUEST / IS_SLAVE.
 */
import { OFPCR_ROLE } from '../openflow/constants';
import { OpenFlowError } from '../openflow/errors';
import type { SwitchConnection } from '../openflow/channel';

export type ControllerRole = 'master' | 'slave' | 'equal';

const CODE: Record<ControllerRole, number> = { master: OFPCR_ROLE.MASTER, slave: OFPCR_ROLE.SLAVE, equal: OFPCR_ROLE.EQUAL };
const NAME: Record<number, ControllerRole | 'nochange'> = { 0: 'nochange', 1: 'equal', 2: 'master', 3: 'slave' };

/** The switch refused a role request because a higher generation id was seen (we are deposed). */
export class StaleGenerationError extends Error {
  constructor(
    readonly switchName: string,
    readonly generationId: bigint,
  ) {
    super(`switch ${switchName} refused role request generation ${generationId}: STALE (a newer master exists)`);
    this.name = 'StaleGenerationError';
  }
}

/** Ask the switch for `role` with `generationId`; resolves with what it granted. */
export async function requestRole(conn: SwitchConnection, role: ControllerRole, generationId: bigint, timeoutMs = 5000): Promise<{ role: string; generationId: bigint }> {
  try {
    const reply = await conn.request({ type: 'role_request', xid: 0, role: CODE[role], generationId }, timeoutMs);
    if (reply.type !== 'role_reply') throw new Error(`role request: unexpected ${reply.type}`);
    return { role: NAME[reply.role] ?? String(reply.role), generationId: reply.generationId };
  } catch (err) {
    if (err instanceof OpenFlowError && err.switchError?.typeName === 'ROLE_REQUEST_FAILED' && err.switchError.codeName === 'STALE') {
      throw new StaleGenerationError(conn.datapathId, generationId);
    }
    throw err;
  }
}

/** true when the error is OVS refusing a write from a slave connection (OFPBRC_IS_SLAVE) */
export function isSlaveRefusal(err: unknown): boolean {
  return err instanceof OpenFlowError && err.switchError?.codeName === 'IS_SLAVE';
}
