#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sends the UDP payload of every IPv4/UDP packet of a classic pcap, in order,
to DST_IP:DST_PORT over an ordinary UDP socket, paced at --rate packets per
second. Run it inside the camera's network namespace:

    ip netns exec NS python3 pcap_send.py FILE DST_IP DST_PORT [--rate PPS]

Prints `sent N` on stdout. Exits 1 when the capture holds anything that is
not Ethernet/IPv4/UDP (the caller counts on every packet being sent) or a
send fails."""
import argparse
import socket
import struct
import sys
import time


def udp_payloads(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("not a pcap: too short")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("not a classic pcap (pcapng?)")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"link type {linktype}, want Ethernet (1)")
    off, n = 24, 0
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError(f"packet {n}: truncated record header")
        incl, orig = struct.unpack(endian + "II", data[off + 8:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if incl != orig or len(frame) != incl:
            raise ValueError(f"packet {n}: truncated ({incl} of {orig} bytes)")
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            raise ValueError(f"packet {n}: not Ethernet/IPv4")
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 17:
            raise ValueError(f"packet {n}: not UDP")
        udp = frame[14 + ihl:]
        ulen = struct.unpack("!H", udp[4:6])[0]
        if ulen < 8 or ulen > len(udp):
            raise ValueError(f"packet {n}: bad UDP length {ulen}")
        yield udp[8:ulen]
        n += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pcap")
    ap.add_argument("dst_ip")
    ap.add_argument("dst_port", type=int)
    ap.add_argument("--rate", type=float, default=2000.0, help="packets per second (default 2000)")
    a = ap.parse_args()
    try:
        payloads = list(udp_payloads(a.pcap))
    except (OSError, ValueError) as e:
        print(f"pcap_send: {a.pcap}: {e}", file=sys.stderr)
        return 1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = 1.0 / a.rate if a.rate > 0 else 0.0
    start = time.monotonic()
    for i, p in enumerate(payloads):
        due = start + i * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            if s.sendto(p, (a.dst_ip, a.dst_port)) != len(p):
                raise OSError("short send")
        except OSError as e:
            print(f"pcap_send: packet {i}: {e}", file=sys.stderr)
            return 1
    print(f"sent {len(payloads)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
