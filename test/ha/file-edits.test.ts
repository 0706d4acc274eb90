/**
 * Live edits of the scenario file under HA (docs/ha.md "File edits"): two controllers on a real
 * 3-member etcd cluster and a private OVS (dummy datapath), each reading its own copy of the file (as
 * two hosts would). Only the leader stores an edit; the standby, whose copy has the same bytes, follows
 * the stored edit and takes the new file as its base, so its next diff starts from there. An edit the
 * leader never stored (it was frozen) is deferred by the standby and applied when that standby leads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { api, ControllerChild, startControllerChild, waitFor } from '../store/support/child';
import { haRig } from './support';

const FIXTURE = path.join(__dirname, '..', 'lab', 'fixtures', 'two-nodes.yaml');

const rig = haRig('fabric-thfile-');

/** the fixture with extra pods appended to its pods list */
function withPods(names: string[]): string {
  const text = fs.readFileSync(FIXTURE, 'utf8');
  const extra = names.map((n) => `  - { name: ${n}, node: node2, labels: { app: edit } }\n`).join('');
  return text.replace('services:\n', `${extra}services:\n`);
}

test('file edits under HA: the standby follows the leader\'s stored edit; an edit the leader never stored is applied when the standby leads', async () => {
  const files = { x: path.join(rig.tmp, 'x.yaml'), y: path.join(rig.tmp, 'y.yaml') };
  fs.writeFileSync(files.x, withPods([]));
  fs.writeFileSync(files.y, withPods([]));
  const target = (id: string): string => `unix:${path.join(rig.ovs.dir, `thfile-ctl-${id}.sock`)}`;
  const sock = (id: 'x' | 'y'): string => path.join(rig.tmp, `api-${id}.sock`);
  const start = async (id: 'x' | 'y', peer: string): Promise<ControllerChild> => {
    const args = [files[id], '--ovsdb', rig.ovs.dbUrl, '--listen', target(id), '--peer-controller', target(peer), '--api', `unix:${sock(id)}`, '--store', rig.etcd.url('/thfile'), '--ha-id', id, '--lease-ttl', '2', '--datapath-type', 'dummy', '--stats-interval', '0', '--summary', '0'];
    const child = startControllerChild(args);
    rig.children.push(child);
    await waitFor(`controller ${id} up`, async () => {
      if (child.proc.exitCode !== null) throw new Error(`controller ${id} exited: ${child.stderr.join('\n')}`);
      return (await api(sock(id), 'GET', '/state')).body.switchesConnected === 3 ? true : undefined;
    }, 60_000);
    return child;
  };
  const state = async (id: 'x' | 'y'): Promise<any> => (await api(sock(id), 'GET', '/state', undefined, 3000)).body; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pods = async (id: 'x' | 'y'): Promise<string[]> => (await state(id)).pods.map((p: { name: string }) => p.name).sort();
  const x = await start('x', 'y');
  await waitFor('x to lead', async () => ((await state('x')).ha?.lastTakeover ? true : undefined), 30_000);
  await start('y', 'x');
  expect((await state('y')).ha.role).toBe('standby');

  // 1. the same edit in both copies: stored once (by the leader), followed by the standby
  fs.writeFileSync(files.x, withPods(['e1']));
  fs.writeFileSync(files.y, withPods(['e1']));
  await waitFor('both to have e1', async () => ((await pods('x')).includes('e1') && (await pods('y')).includes('e1') ? true : undefined), 15_000);
  await new Promise((r) => setTimeout(r, 500)); // both file watchers have fired (100 ms poll, 100 ms debounce)
  const sx1 = await state('x');
  const sy1 = await state('y');
  expect(sx1.store.revision).toBe(1); // one batch, not two
  expect(sy1.store.revision).toBe(1);
  expect(sy1.reloads.refused).toBe(0);
  expect(sy1.reloads.failed).toBe(0);
  expect(sy1.opsSent).toBe(0);

  // 2. freeze the leader, then edit: the standby cannot store it (deferred) until it leads, then applies it
  process.kill(x.pid, 'SIGSTOP');
  try {
    fs.writeFileSync(files.y, withPods(['e1', 'e2']));
    const { value: path2 } = await waitFor(
      'y to defer the edit or to have led and applied it',
      async () => {
        const s = await state('y');
        if (s.reloads.deferred >= 1) return 'deferred';
        return s.pods.some((p: { name: string }) => p.name === 'e2') ? 'applied-as-leader' : undefined;
      },
      15_000,
      20,
    );
    await waitFor('y to lead', async () => ((await state('y')).ha?.lastTakeover ? true : undefined), 30_000);
    await waitFor('y to have applied e2', async () => ((await pods('y')).includes('e2') ? true : undefined), 15_000);
    const sy2 = await state('y');
    expect(sy2.store.revision).toBe(2);
    expect(sy2.reloads.refused).toBe(0);
    expect(sy2.reloads.failed).toBe(0);

    // 3. the next edit is diffed from the right base (e1 and e2 are not added again)
    fs.writeFileSync(files.y, withPods(['e1', 'e2', 'e3']));
    await waitFor('y to have e3', async () => ((await pods('y')).includes('e3') ? true : undefined), 15_000);
    const sy3 = await state('y');
    expect(sy3.store.revision).toBe(3);
    expect(sy3.reloads.refused).toBe(0);
    expect((await pods('y')).filter((n) => n.startsWith('e'))).toEqual(['e1', 'e2', 'e3']);
    process.stdout.write(`ha file edits: edit 1 stored once (revision 1) and followed by the standby; edit 2 made while the leader was frozen: ${path2} by y, applied when y led (revision 2); edit 3 diffed from edit 2 (revision 3)\n`);
  } finally {
    process.kill(x.pid, 'SIGCONT');
  }
  // the thawed old leader follows too
  await waitFor('x (standby now) to follow', async () => ((await state('x')).store.revision === 3 ? true : undefined), 15_000);
  expect((await state('x')).ha.role).toBe('standby');
}, 180_000);
