#!/usr/bin/env bash
# The one provisioning step of the test suite (jest's globalSetup runs it once per `npm test`; .ci/run
# runs it too). Every Debian package any test tier needs is listed here and nowhere else. As root, the
# missing ones are installed in one apt-get call, saying which; as anyone else it stops at once with the
# exact command to run. Exit 0: everything is there.
set -uo pipefail

PACKAGES=(
  openvswitch-switch   # ovsdb-server, ovs-vswitchd, ovs-ofctl/-vsctl/-appctl: oracles, live tests, the lab
  ovn-central          # ovn-northd, ovn-nbctl: the OVN peer of the benchmarks (test/bench/ovn-peer.test.ts)
  ovn-host             # ovn-controller
  mininet              # the lab's --mininet builder (Mininet's Python API, mnexec)
  iperf3               # bandwidth in the lab: fairShare, maxLinkUtilization, limited, meters
  ethtool              # offload settings of the lab's veths
  iproute2             # ip netns, veth, tc (htb shaping)
  openssl              # TLS certificates for the OpenFlow and OVSDB TLS tests
  python3              # /usr/bin/python3 for Mininet
  podman               # fabric cni with a real runtime (test/cni/runtime.test.ts; CNI network backend)
  containernetworking-plugins  # the loopback plugin ctr run --cni needs next to fabric's
  runc                 # the OCI runtime podman and containerd use here (crun fails on this cgroup setup)
  catatonit            # podman's pause (infra) container of a pod, built locally
  busybox-static       # the test image's only binary (imported offline, no registry)
  containerd           # ctr run --cni (test/cni/runtime.test.ts)
  etcd-server          # etcd 3.4: the controller's shared intent store and election (test/store, test/ha)
  chromium             # headless screenshots of the HTML report, decoded and checked (test/sim/report-render.test.ts)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "provision: the tests need Debian packages that are not installed: ${missing[*]}" >&2
  echo "provision: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "provision: installing ${missing[*]} (apt-get update && $cmd)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >&2; then
  echo "provision: apt-get update failed" >&2
  exit 1
fi
if ! apt-get install -y -qq "${missing[@]}" >/dev/null; then
  echo "provision: apt-get install failed: run  $cmd  to see why" >&2
  exit 1
fi
echo "provision: installed ${missing[*]}" >&2
