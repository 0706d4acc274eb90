/**
 * The tiny programs the lab runs inside emulated hosts, as Python source written into the lab's
 * directory: a TCP server that answers every connection with `NAME SEEN_SRC_IP LOCAL_PORT` (so a
 * service check learns which backend answered and an egress check learns the source address the
 * external host saw), and a TCP client that makes N fresh connections and prints one line each.
 * Python's own http.server is avoided: it stalls on reverse DNS inside namespaces (docs/real-ovs.md pitfall 9).
 */
import * as fs from 'fs';
import * as path from 'path';

export const AGENT_PY = `# fabric lab agent: server NAME PORTS | client IP PORT COUNT TIMEOUT_S [MAX_CONSECUTIVE_FAILS] | ping IP COUNT INTERVAL_S TIMEOUT_S
import os, select, socket, struct, sys, time

def serve(name, ports):
    socks = []
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", p))
        s.listen(256)
        socks.append(s)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select(socks, [], [])
        for s in readable:
            try:
                conn, peer = s.accept()
            except OSError:
                continue
            try:
                conn.settimeout(2)
                conn.sendall(("%s %s %d\\n" % (name, peer[0], conn.getsockname()[1])).encode())
            except OSError:
                pass
            finally:
                conn.close()

def client(ip, port, count, timeout, max_fails):
    fails = 0
    for _ in range(count):
        if fails >= max_fails:
            print("err gave-up", flush=True)
            continue
        s = None
        try:
            s = socket.create_connection((ip, port), timeout=timeout)
            data = b""
            while not data.endswith(b"\\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            line = data.decode(errors="replace").strip()
            print("ok " + line if line else "err empty", flush=True)
            fails = 0 if line else fails + 1
        except Exception as e:
            print("err " + type(e).__name__, flush=True)
            fails += 1
        finally:
            if s is not None:
                s.close()

def checksum(data):
    if len(data) % 2:
        data += b"\\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF

def ping(ip, count, interval, timeout):
    # ICMP echo over a raw socket (root): no dependency on iputils-ping
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    for seq in range(1, count + 1):
        payload = b"fabric-lab-echo-" * 3
        csum = checksum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload)
        start = time.monotonic()
        s.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload, (ip, 0))
        got = False
        while True:
            left = start + timeout - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([s], [], [], left)
            if not readable:
                break
            data, addr = s.recvfrom(4096)
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if kind == 0 and rid == ident and rseq == seq:
                print("reply %d %.3f %s %.6f" % (seq, (time.monotonic() - start) * 1000.0, addr[0], start), flush=True)
                got = True
                break
        if not got:
            print("lost %d %.6f" % (seq, start), flush=True)
        if seq < count:
            time.sleep(max(0.0, interval - (time.monotonic() - start)))

if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(sys.argv[2], [int(p) for p in sys.argv[3].split(",") if p])
    elif sys.argv[1] == "ping":
        ping(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]) if len(sys.argv) > 6 else 3)
`;

/** Python interpreter: the system one (a pyenv shim may not exist inside a clean environment). */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export function writeAgent(dir: string): string {
  const file = path.join(dir, 'agent.py');
  fs.writeFileSync(file, AGENT_PY);
  return file;
}
