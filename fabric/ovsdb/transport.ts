/**
 * Connection URLs in the forms OVS uses (`unix:PATH`, `tcp:HOST:PORT`, `ssl:HOST:PORT`, IPv6 hosts in
 * brackets) and opening a byte stream to them. SSL reads key, certificate and CA from files, as
 * ovsdb-client's --private-key/--certificate/--ca-cert do; like OVS it checks the peer's certificate
 * against the CA but not its host name.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as tls from 'tls';
import { OvsdbDisconnectedError, OvsdbTimeoutError, OvsdbUsageError } from './errors';

export type OvsdbEndpoint =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'ssl'; host: string; port: number };

export interface TlsFiles {
  /** PEM private key file (ovsdb-client --private-key) */
  privateKeyFile: string;
  /** PEM certificate file (--certificate) */
  certificateFile: string;
  /** PEM CA certificate file (--ca-cert) */
  caCertFile: string;
}

export function parseOvsdbUrl(url: string): OvsdbEndpoint {
  const colon = url.indexOf(':');
  const scheme = colon < 0 ? '' : url.slice(0, colon);
  const rest = url.slice(colon + 1);
  if (scheme === 'unix') {
    if (!rest) throw new OvsdbUsageError(`connect: "${url}" has no socket path`);
    return { kind: 'unix', path: rest };
  }
  if (scheme === 'tcp' || scheme === 'ssl') {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(rest);
    if (!m) throw new OvsdbUsageError(`connect: "${url}" is not ${scheme}:HOST:PORT`);
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new OvsdbUsageError(`connect: port ${port} in "${url}" is out of range`);
    return { kind: scheme, host: m[1] ?? m[2], port };
  }
  throw new OvsdbUsageError(`connect: "${url}" is not unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT`);
}

/** Open the stream; resolves once connected (and, for SSL, once the handshake is done). */
export function openStream(endpoint: OvsdbEndpoint, options: { tls?: TlsFiles; connectTimeoutMs: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const readyEvent = endpoint.kind === 'ssl' ? 'secureConnect' : 'connect';
    if (endpoint.kind === 'unix') socket = net.connect({ path: endpoint.path });
    else if (endpoint.kind === 'tcp') socket = net.connect({ host: endpoint.host, port: endpoint.port });
    else {
      if (!options.tls) {
        reject(new OvsdbUsageError('connect: ssl: needs options.tls { privateKeyFile, certificateFile, caCertFile }'));
        return;
      }
      let files: { key: Buffer; cert: Buffer; ca: Buffer };
      try {
        files = {
          key: fs.readFileSync(options.tls.privateKeyFile),
          cert: fs.readFileSync(options.tls.certificateFile),
          ca: fs.readFileSync(options.tls.caCertFile),
        };
      } catch (err) {
        reject(new OvsdbUsageError(`connect: cannot read TLS files: ${(err as Error).message}`));
        return;
      }
      socket = tls.connect({
        host: endpoint.host,
        port: endpoint.port,
        ...files,
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      });
    }
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OvsdbTimeoutError(`connect: no connection within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new OvsdbDisconnectedError(`connect: ${err.message}`));
    };
    socket.once('error', onError);
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
