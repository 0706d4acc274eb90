/**
 * The plugin's side of the controller's local API (fabric/controller-api.ts): GET /state for the
 * node's block and a pod's port, POST /events for pod add/delete (answered after the reconcile pass
 * that includes them: when ADD returns, the pod's flows are on the switches).
 */
import * as http from 'http';
import { CniCode, CniError } from './protocol';

export interface ControllerState {
  pods: { name: string; node: string; ip: string; labels: Record<string, string>; mac?: string; port?: number }[];
  nodes: { name: string; ip: string; podCidr: string; up: boolean }[];
  services: { name: string; vip: string; endpoints: string[] }[];
}

function target(url: string): { socketPath: string } | { host: string; port: number } {
  const unix = /^unix:(.+)$/.exec(url);
  if (unix) return { socketPath: unix[1] };
  const tcp = /^tcp:(\d{1,5})(?::(.+))?$/.exec(url);
  if (tcp) return { host: tcp[2] ?? '127.0.0.1', port: Number(tcp[1]) };
  const h = /^http:\/\/([^/:]+):(\d{1,5})\/?$/.exec(url);
  if (h) return { host: h[1], port: Number(h[2]) };
  throw new CniError(CniCode.invalidConfig, `network config: controller ${JSON.stringify(url)} must be unix:PATH, tcp:PORT[:ADDR] or http://HOST:PORT`);
}

export function request(url: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: any; text: string }> {
  const where = target(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ ...where, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new CniError(CniCode.controllerFailure, `controller ${url}: ${method} ${path}: ${err.message}`)));
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

export async function getState(url: string, timeoutMs: number): Promise<ControllerState> {
  const r = await request(url, 'GET', '/state', undefined, timeoutMs);
  if (r.status !== 200 || !r.json) throw new CniError(CniCode.controllerFailure, `controller ${url}: GET /state answered ${r.status}`, r.text.slice(0, 500));
  return r.json as ControllerState;
}

/** POST /events; 400 becomes a CniError with the controller's message. */
export async function postEvents(url: string, events: unknown[], timeoutMs: number): Promise<{ status: number; json: any }> {
  const r = await request(url, 'POST', '/events', events, timeoutMs);
  return { status: r.status, json: r.json ?? { error: r.text } };
}
