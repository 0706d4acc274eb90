/**
 * The tiny programs the lab runs inside emulated hosts, as Python source written into the lab's
 * directory: a TCP server that answers every connection with `NAME SEEN_SRC_IP LOCAL_PORT` (so a
 * service check learns which backend answered and an egress check learns the source address the
 * external host saw), and a TCP client that makes N fresh connections and prints one line each.
 * Python's own http.server is avoided: it stalls on reverse DNS inside namespaces (docs/real-ovs.md pitfall 9).
 * The server also answers the echo service on port 7 (TCP and UDP), and `probe` keeps one flow to an
 * echo service with a message every few milliseconds and reports the longest silence (probe.ts).
 */
import * as fs from 'fs';
import * as path from 'path';

/** Every lab host serves the echo service (RFC 862) on this port, TCP and UDP: a probe's peer. */
export const ECHO_PORT = 7;

export const AGENT_PY = `# fabric lab agent: server NAME PORTS | client IP PORT COUNT TIMEOUT_S [MAX_CONSECUTIVE_FAILS] | ping IP COUNT INTERVAL_S TIMEOUT_S | probe tcp|udp IP PORT INTERVAL_MS
import json, os, select, signal, socket, struct, sys, time

ECHO_PORT = ${ECHO_PORT}

def serve(name, ports):
    socks = []
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", p))
        s.listen(256)
        socks.append(s)
    # the echo service (RFC 862) on TCP and UDP: what a probe's long-lived connection talks to
    echo_listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    echo_listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    echo_listen.bind(("0.0.0.0", ECHO_PORT))
    echo_listen.listen(64)
    echo_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo_udp.bind(("0.0.0.0", ECHO_PORT))
    echo_conns = []
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select(socks + [echo_listen, echo_udp] + echo_conns, [], [])
        for s in readable:
            if s is echo_listen:
                try:
                    conn, _ = echo_listen.accept()
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    echo_conns.append(conn)
                except OSError:
                    pass
                continue
            if s is echo_udp:
                try:
                    data, peer = echo_udp.recvfrom(65536)
                    echo_udp.sendto(data, peer)
                except OSError:
                    pass
                continue
            if s in echo_conns:
                try:
                    data = s.recv(65536)
                    if data:
                        s.sendall(data)
                        continue
                except OSError:
                    pass
                echo_conns.remove(s)
                s.close()
                continue
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

def probe(proto, ip, port, interval_ms):
    # one long-lived flow to an echo service: a message with a sequence number every interval until
    # SIGTERM, then up to 1 s for the last echoes; prints one JSON line. A silence is the time between
    # two echoes received (the tail counts when echoes are missing at the end).
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    interval = interval_ms / 1000.0
    result = {"proto": proto, "to": "%s:%d" % (ip, port), "intervalMs": interval_ms, "sent": 0, "received": 0,
              "outOfOrder": 0, "longestSilenceMs": 0.0, "longestSilenceAtMs": 0.0, "silences": [], "error": None}
    try:
        if proto == "tcp":
            s = socket.create_connection((ip, port), timeout=3)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((ip, port))
    except OSError as e:
        result["error"] = "connect: " + type(e).__name__
        print(json.dumps(result), flush=True)
        return
    s.setblocking(False)
    start = time.monotonic()
    result["startedAt"] = time.time()
    print("ready", flush=True)
    last_rx = start
    next_send = start
    expect = 0
    buf = b""
    drain_until = None
    silences = []
    def note(gap, at):
        silences.append((gap, at))
        if gap > result["longestSilenceMs"]:
            result["longestSilenceMs"] = round(gap, 3)
            result["longestSilenceAtMs"] = round(at, 3)
    while True:
        now = time.monotonic()
        if stopping and drain_until is None:
            drain_until = now + 1.0
        if drain_until is not None and (now >= drain_until or result["received"] >= result["sent"]):
            break
        if drain_until is None and now >= next_send:
            try:
                s.send(struct.pack("!Q", result["sent"]))
                result["sent"] += 1
            except BlockingIOError:
                pass
            except OSError as e:
                result["error"] = "send: " + type(e).__name__
                break
            # keep the pace after a stall of this process instead of sending a burst
            next_send = max(next_send + interval, now)
        wake = drain_until if drain_until is not None else next_send
        readable, _, _ = select.select([s], [], [], max(0.0, wake - time.monotonic()))
        if not readable:
            continue
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError as e:
            result["error"] = "recv: " + type(e).__name__
            break
        if proto == "tcp" and not data:
            result["error"] = "closed by the peer"
            break
        now = time.monotonic()
        if proto == "tcp":
            buf += data
            msgs = []
            while len(buf) >= 8:
                msgs.append(struct.unpack("!Q", buf[:8])[0])
                buf = buf[8:]
        else:
            msgs = [struct.unpack("!Q", data[:8])[0]] if len(data) >= 8 else []
        for seq in msgs:
            if seq != expect:
                result["outOfOrder"] += 1
            expect = seq + 1
            result["received"] += 1
        if msgs:
            note((now - last_rx) * 1000.0, (last_rx - start) * 1000.0)
            last_rx = now
    end = time.monotonic()
    # echoes missing at the end: the silence runs from the last echo to when sending stopped (the
    # drain that follows is not part of it)
    stopped = end if drain_until is None else drain_until - 1.0
    if result["received"] < result["sent"] and stopped > last_rx:
        note((stopped - last_rx) * 1000.0, (last_rx - start) * 1000.0)
    result["durationMs"] = round((end - start) * 1000.0, 3)
    # every silence of 10 ms or 5 intervals and more (at most 500), and the ten longest
    silences.sort(reverse=True)
    floor = max(10.0, 5 * interval_ms)
    kept = [x for x in silences[:500] if x[0] >= floor]
    if len(kept) < 10:
        kept = silences[:10]
    result["silences"] = [[round(at, 3), round(gap, 3)] for gap, at in kept]
    s.close()
    print(json.dumps(result), flush=True)

if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "server":
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
