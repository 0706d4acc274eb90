/**
 * The Python side of the Mininet builder (`fabric lab up --mininet`), as source the lab writes into its
 * directory (like agent.ts: a string survives `tsc` to dist/, a .py file next to the sources would not).
 *
 * `serve SPEC`: builds the lab's bridges, links and hosts with Mininet's Python API (OVSSwitch on the
 * userspace datapath, hosts as Mininet hosts), then answers JSON-line requests on a unix socket until
 * `stop`. `client SOCKET REQUEST [TIMEOUT_S]`: one request, for callers that must stay synchronous.
 * Runs inside the lab's OVS namespace and a private mount namespace (see mininet.ts), so Mininet's
 * `ovs-vsctl` reaches only the lab's own ovsdb-server.
 */
export const MININET_LAB_PY = `# fabric lab Mininet builder: serve SPEC_JSON | client SOCKET REQUEST_JSON [TIMEOUT_S]
import json, os, socket, sys, traceback


def client(sock_path, request, timeout):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall((request.strip() + "\\n").encode())
        data = b""
        while not data.endswith(b"\\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode(errors="replace"))
    except Exception as e:
        sys.stdout.write(json.dumps({"ok": False, "error": "mininet client: %s: %s" % (type(e).__name__, e)}) + "\\n")
    finally:
        s.close()


def serve(spec_file):
    from mininet.net import Mininet
    from mininet.node import OVSSwitch
    from mininet.log import setLogLevel

    with open(spec_file) as f:
        spec = json.load(f)
    setLogLevel(spec.get("logLevel", "info"))
    # Mininet.init() would run fixLimits(), which raises machine-wide sysctls (fs.file-max,
    # kernel.pty.max) on a shared machine: the lab changes nothing outside its namespaces
    Mininet.inited = True

    class LabSwitch(OVSSwitch):
        """Mininet's attach() adds a port without ofport_request; the lab needs the port number the
        cluster state gave it (offline plans use it), as the initial start does (intfOpts)."""

        def attach(self, intf):
            self.vsctl("add-port", self, intf, self.intfOpts(intf))
            self.cmd("ip link set", intf, "up")

    # every node shell's pid, written as soon as it exists: the shells end with this process (their pty
    # master closes), but should one survive (even a death mid-build), teardown still finds it, proven
    # ours by this mount namespace
    mnt = os.readlink("/proc/self/ns/mnt")

    def note(node):
        with open(spec["pidsFile"], "a") as f:
            f.write(json.dumps({"pid": node.pid, "name": node.name, "mnt": mnt}) + "\\n")

    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False)
    try:
        for sw in spec["switches"]:
            note(net.addSwitch(sw["bridge"], cls=LabSwitch, datapath="user", protocols="OpenFlow13",
                               failMode="secure", dpid=sw["dpid"], batch=True))
        for l in spec["links"]:
            net.addLink(l["a"]["bridge"], l["b"]["bridge"], port1=l["a"]["port"], port2=l["b"]["port"],
                        intfName1=l["a"]["iface"], intfName2=l["b"]["iface"])
        for h in spec["hosts"]:
            host = net.addHost(h["name"], ip=None)
            note(host)
            net.addLink(h["bridge"], host, port1=h["port"], intfName1=h["iface"], intfName2="eth0")
        net.start()
    except BaseException:
        # the node shells started so far are known only to this process: end them before exiting
        traceback.print_exc()
        sys.stdout.flush()
        try:
            net.stop()
        finally:
            sys.exit(1)

    def switch_intf(name):
        for sw in net.switches:
            if name in sw.nameToIntf:
                return sw.nameToIntf[name]
        raise KeyError("no switch interface %s" % name)

    def set_link(a, b, up):
        status = "up" if up else "down"
        ia, ib = switch_intf(a), switch_intf(b)
        if len(ia.node.connectionsTo(ib.node)) == 1:
            net.configLinkStatus(ia.node.name, ib.node.name, status)
        else:
            # parallel links: configLinkStatus would switch every one of them
            ia.ifconfig(status)
            ib.ifconfig(status)

    def add_host(name, bridge, port, iface):
        host = net.addHost(name, ip=None)
        note(host)
        link = net.addLink(bridge, host, port1=port, intfName1=iface, intfName2="eth0")
        net.get(bridge).attach(link.intf1)
        return host.pid

    def del_host(name):
        host = net.get(name)
        for intf in list(host.intfList()):
            link = intf.link
            if link is None:
                continue
            other = link.intf1 if link.intf2 is intf else link.intf2
            other.node.detach(other)
            net.delLink(link)
        net.delHost(host)

    def handle(req):
        cmd = req.get("cmd")
        if cmd == "pids":
            return {"pid": os.getpid(), "hosts": {h.name: h.pid for h in net.hosts},
                    "switches": {s.name: s.pid for s in net.switches}}
        if cmd == "link":
            set_link(req["a"], req["b"], bool(req["up"]))
            return {}
        if cmd == "intf":
            for name in req["names"]:
                switch_intf(name).ifconfig("up" if req["up"] else "down")
            return {}
        if cmd == "batch":
            for op in req["ops"]:
                handle(op)
            return {}
        if cmd == "addHost":
            return {"pid": add_host(req["name"], req["bridge"], int(req["port"]), req["iface"])}
        if cmd == "delHost":
            del_host(req["name"])
            return {}
        if cmd == "stop":
            net.stop()
            return {"stopped": True}
        raise ValueError("unknown command %r" % cmd)

    sock_path = spec["socket"]
    for p in (sock_path, sock_path + ".new"):
        if os.path.exists(p):
            os.unlink(p)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path + ".new")
    srv.listen(8)
    # the socket appears under its real name only once it accepts: its existence means ready
    os.rename(sock_path + ".new", sock_path)
    print("ready", flush=True)
    stopping = False
    while not stopping:
        conn, _ = srv.accept()
        buf = b""
        try:
            while not stopping:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\\n" in buf and not stopping:
                    line, buf = buf.split(b"\\n", 1)
                    if not line.strip():
                        continue
                    try:
                        req = json.loads(line)
                        reply = dict(handle(req), ok=True)
                        stopping = req.get("cmd") == "stop"
                    except Exception as e:
                        traceback.print_exc()
                        sys.stdout.flush()
                        reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
                    conn.sendall((json.dumps(reply) + "\\n").encode())
        except OSError:
            pass
        finally:
            conn.close()
    srv.close()
    if os.path.exists(sock_path):
        os.unlink(sock_path)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        client(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 30.0)
`;
