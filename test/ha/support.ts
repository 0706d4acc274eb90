/**
 * Helpers of the HA tests: a `fabric controller` child with its API socket, started and waited for;
 * its GET /state; which of a group leads (elected, takeover pass done, every switch connected).
 */
import { api, ControllerChild, startControllerChild, waitFor } from '../store/support/child';

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
