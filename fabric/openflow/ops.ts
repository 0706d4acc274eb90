/**
 * SwitchOps (the reconciler's changes, flow.ts) as OpenFlow 1.3 messages: add/modify/delete of
 * flows (ADD, MODIFY_STRICT, DELETE_STRICT), groups and meters. Pure.
 */
import { OFPG } from './constants';
import { OpenFlowError } from './errors';
import type { SwitchOp } from './flow';
import { OFPP } from './flow';
import type { OfpMessage } from './messages';

export function switchOpToMessage(op: SwitchOp, xid: number): OfpMessage {
  switch (op.op) {
    case 'add-flow':
      return { type: 'flow_mod', xid, command: 'add', flow: op.flow };
    case 'modify-flow':
      return { type: 'flow_mod', xid, command: 'modify_strict', flow: op.flow };
    case 'delete-flow':
      // only table, priority and match select the flow; instructions are not sent
      return {
        type: 'flow_mod',
        xid,
        command: 'delete_strict',
        flow: { table: op.flow.table, priority: op.flow.priority, match: op.flow.match, instructions: {}, cookie: 0n },
        outPort: OFPP.ANY,
        outGroup: OFPG.ANY,
      };
    case 'add-group':
      return { type: 'group_mod', xid, command: 'add', group: op.group };
    case 'modify-group':
      return { type: 'group_mod', xid, command: 'modify', group: op.group };
    case 'delete-group':
      return { type: 'group_mod', xid, command: 'delete', group: { groupId: op.groupId, type: 'all', buckets: [] } };
    case 'add-meter':
      return { type: 'meter_mod', xid, command: 'add', meter: op.meter };
    case 'modify-meter':
      return { type: 'meter_mod', xid, command: 'modify', meter: op.meter };
    case 'delete-meter':
      return { type: 'meter_mod', xid, command: 'delete', meter: { meterId: op.meterId, unit: 'kbps', burst: false, stats: false, bands: [] } };
    default:
      throw new OpenFlowError('bad-value', `switch op: unknown op ${String((op as { op: unknown }).op)}`);
  }
}
