/**
 * Helpers of the HA tests: their parts (private OVS, etcd cluster, temporary directory), a `fabric
 * controller` child with its API socket, started and waited for; its GET /state; which of a group
 * leads (elected, takeover pass done, every switch connected).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PrivateOvs, startPrivateOvs } from '../support/ovs';
import { api, ControllerChild, startControllerChild, waitFor } from '../store/support/child';
import { EtcdCluster, startEtcdCluster } from '../store/support/etcd';

export interface Ctl {
  id: string;
  /** the API's unix socket path */
  sock: string;
  child: ControllerChild;
}

/** Start a controller (args after `controller`) and wait until its API answers; the child joins `children` (killed in afterAll). */
export async function startCtl(id: string, sock: string, args: string[], children: ControllerChild[]): Promise<Ctl> {
  const child = startControllerChild(args);
  children.push(child);
  await waitFor(`controller ${id} up`, async () => {
    if (child.proc.exitCode !== null) throw new Error(`controller ${id} exited: ${child.stderr.join('\n')}`);
    return (await api(sock, 'GET', '/state')).status === 200 ? true : undefined;
  }, 60_000);
  return { id, sock, child };
}

export const stateOf = async (c: Ctl): Promise<any> => (await api(c.sock, 'GET', '/state', undefined, 3000)).body; // eslint-disable-line @typescript-eslint/no-explicit-any

export const alive = (c: Ctl): boolean => c.child.proc.exitCode === null && c.child.proc.signalCode === null;

/** The one of `among` that leads with its takeover pass done and `switches` connected, if any. */
export async function leaderOf(among: Ctl[], switches = 3): Promise<Ctl | undefined> {
  for (const c of among) {
    if (!alive(c)) continue;
    try {
      const s = await stateOf(c);
      if (s.ha?.role === 'leader' && s.ha.lastTakeover && s.switchesConnected === switches) return c;
    } catch {
      /* down or busy */
    }
  }
  return undefined;
}

export interface HaRig {
  etcd: EtcdCluster;
  ovs: PrivateOvs;
  tmp: string;
  /** controllers started by the test: killed (after SIGCONT, in case one was frozen) in afterAll */
  children: ControllerChild[];
}

/**
 * An HA test's parts, set up in beforeAll and torn down in afterAll: a private Open vSwitch (dummy
 * datapath), a 3-member etcd cluster on loopback ports and a temporary directory.
 */
export function haRig(tmpPrefix: string): HaRig {
  const rig = { children: [] as ControllerChild[] } as HaRig;
  beforeAll(async () => {
    [rig.etcd, rig.ovs] = await Promise.all([startEtcdCluster(3), startPrivateOvs({ vswitchd: 'dummy' })]);
    rig.tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  }, 90_000);
  afterAll(async () => {
    for (const c of rig.children) {
      try {
        process.kill(c.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
      await c.kill9();
    }
    await rig.ovs?.stop();
    await rig.etcd?.stop();
    if (rig.tmp) fs.rmSync(rig.tmp, { recursive: true, force: true });
  });
  return rig;
}
