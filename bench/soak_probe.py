#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One sample of a live vigild for bench/soak, as one JSON line.

usage: soak_probe.py PID IFACE
       soak_probe.py --totals ADMIN_SOCKET   (vigild's counters in total, as
                                              `vigilctl stats` has them)

- rss_kb, hwm_kb, hugetlb_kb: /proc/PID/status (hugepages are not in RSS);
- cpu_s: user + system time of all its threads; fds: its open files;
- ipackets, imissed, rx_nombuf: port 0's counters from DPDK's telemetry
  socket (/var/run/dpdk/vigil-PID/dpdk_telemetry.v2);
- tp_drops, tp_packets: the kernel's counters of vigild's af_packet socket
  on IFACE (PACKET_STATISTICS: packets the ring had no room for; DPDK
  22.11's af_packet PMD does not read them, so imissed stays 0). The
  socket is borrowed with pidfd_getfd (root). Reading them resets them:
  each sample holds what came since the one before;
- root_rx, root_rx_dropped: IFACE's own counters (every frame the veth
  delivered, whether or not a socket took it);
- load1: the 1-minute load average.
A value that cannot be read is null.
"""
import ctypes
import json
import os
import socket
import struct
import sys
import time

SOL_PACKET, PACKET_STATISTICS = 263, 6
SYS_PIDFD_GETFD = 438  # x86_64


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "HugetlbPages"):
                out[k] = int(v.split()[0])
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def telemetry(pid):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    s.connect(f"/var/run/dpdk/vigil-{pid}/dpdk_telemetry.v2")
    s.recv(4096)
    s.send(b"/ethdev/stats,0")
    stats = json.loads(s.recv(65536))["/ethdev/stats"]
    s.close()
    return stats


def packet_socket_stats(pid, iface):
    ifindex = int(open(f"/sys/class/net/{iface}/ifindex").read())
    inodes = set()
    with open("/proc/net/packet") as f:
        next(f)
        for line in f:
            col = line.split()  # sk RefCnt Type Proto Iface R Rmem User Inode
            if int(col[4]) == ifindex:
                inodes.add(col[8])
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    packets = drops = 0
    found = False
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if not link.startswith("socket:[") or link[8:-1] not in inodes:
                continue
            mine = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if mine < 0:
                raise OSError(ctypes.get_errno(), "pidfd_getfd")
            s = socket.socket(fileno=mine)
            try:
                raw = s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
            finally:
                s.close()
            p, d = struct.unpack("II", raw[:8])
            packets += p
            drops += d
            found = True
    finally:
        os.close(pidfd)
    return (packets, drops) if found else (None, None)


def sysfs(iface, name):
    with open(f"/sys/class/net/{iface}/statistics/{name}") as f:
        return int(f.read())


def totals(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(b'{"cmd": "stats"}\n')
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    t = json.loads(buf)["stats"]["totals"]
    t.pop("io", None)
    print(json.dumps({"t": round(time.time(), 3), **t}))


def main():
    if sys.argv[1] == "--totals":
        totals(sys.argv[2])
        return
    pid, iface = int(sys.argv[1]), sys.argv[2]
    out = {"t": round(time.time(), 3), "pid": pid}
    try:
        st = status(pid)
        out.update(rss_kb=st.get("VmRSS"), hwm_kb=st.get("VmHWM"), hugetlb_kb=st.get("HugetlbPages"),
                   cpu_s=cpu_seconds(pid), fds=len(os.listdir(f"/proc/{pid}/fd")))
    except OSError:
        out.update(rss_kb=None, hwm_kb=None, hugetlb_kb=None, cpu_s=None, fds=None)
    try:
        t = telemetry(pid)
        out.update(ipackets=t["ipackets"], imissed=t["imissed"], rx_nombuf=t["rx_nombuf"])
    except (OSError, ValueError, KeyError):
        out.update(ipackets=None, imissed=None, rx_nombuf=None)
    try:
        out["tp_packets"], out["tp_drops"] = packet_socket_stats(pid, iface)
    except OSError:
        out["tp_packets"] = out["tp_drops"] = None
    out["root_rx"] = sysfs(iface, "rx_packets")
    out["root_rx_dropped"] = sysfs(iface, "rx_dropped")
    out["load1"] = float(open("/proc/loadavg").read().split()[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
