#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reads and rewrites classic pcap captures (Ethernet) of SRTP camera traffic.

  srtp_pcap.py count IN.pcap --ssrc N [--port P]
      prints how many genuine-looking SRTP packets (UDP to P, RTP version 2,
      not RTCP, SSRC N) the capture holds.

  srtp_pcap.py inject IN.pcap OUT.pcap --ssrc N [--port P] [--seed S]
      writes an adversarial copy of IN: every genuine packet kept, in order,
      plus forgeries, replays, plaintext, unknown SSRCs, RTCP and packets
      malformed at every layer. Prints on stdout a JSON object of what a
      correct vigild must count for the injected packets alone:
        {"totals": {counter: n, ...}, "camera": {counter: n, ...},
         "kinds": {kind: n, ...}}
      "totals" and "camera" use vigild's counter names; "camera" is the part
      attributed to the camera with SSRC N.

  srtp_pcap.py reorder IN.pcap OUT.pcap --ssrc N [--port P] [--seed S]
      writes a copy of IN in which the camera's genuine SRTP packets swap
      places in small windows (about every 30th packet; patterns such as
      k,k+2,k+1 and k,k+3,k+1,k+2, never more than 7 positions out, some
      right around the 16-bit sequence number wrap). Every other record and
      every timestamp slot stays where it was. Prints on stdout a JSON
      object: {"reordered": n, "genuine": n, "windows": n, ...}, where
      "reordered" is what vigild must count as reordered: the genuine
      packets that come after a higher extended sequence index of the SSRC.

Where injected packets go, and why that gives exact expectations:
  - forgeries of a genuine packet (same SSRC and seq) go right BEFORE it:
    the replay window has not seen its index, so they reach the AEAD and
    fail (auth_failed), and since a failure moves nothing, the genuine
    packet after them is still accepted;
  - exact duplicates go AFTER their original (right after, ten packets
    later, and at the end of the capture): replayed;
  - every other injected packet is refused before the replay window.
So the genuine stream, and therefore the recording, is untouched.

A capture whose RTP sequence number wraps needs no rewriting here: start the
GStreamer camera with seqnum-offset close to 65535 (gst_cam.sh
--seqnum-offset 65000); inject puts forgeries and duplicates around the wrap.
"""

import argparse
import json
import random
import struct
import sys
from collections import Counter

ETH_IPV4, ETH_ARP, ETH_IPV6, ETH_VLAN = 0x0800, 0x0806, 0x86DD, 0x8100
RTP_HDR, TAG = 12, 16
COUNTERS = ("rx_packets", "rx_bytes", "decrypted", "rtcp", "answered", "malformed", "not_ip", "not_udp",
            "fragment", "not_srtp_port", "unknown_ssrc", "replayed", "auth_failed", "tx_failed", "roc_trials")


# ---- pcap files --------------------------------------------------------------

def read_pcap(path):
    """Returns (global header bytes, endian prefix, [(ts_sec, ts_frac, bytes)])."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        sys.exit(f"{path}: not a pcap file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file (pcapng? use tcpdump -w)")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{path}: link type {linktype}, only Ethernet (1) is handled")
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            sys.exit(f"{path}: truncated record at offset {off - 16}")
        recs.append((sec, frac, data[off:off + incl]))
        off += incl
    return data[:24], end, recs


def write_pcap(path, header, end, recs):
    with open(path, "wb") as f:
        f.write(header)
        for sec, frac, pkt in recs:
            f.write(struct.pack(end + "IIII", sec, frac, len(pkt), len(pkt)))
            f.write(pkt)


# ---- packet building ---------------------------------------------------------

def ip_checksum(hdr):
    if len(hdr) % 2:
        hdr += b"\0"
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ident=0, flags_frag=0, ihl=5, version=4,
                total=None, good_sum=True, options=b""):
    total = 20 + len(options) + payload_len if total is None else total
    h = bytearray(struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, total, ident, flags_frag,
                              64, proto, 0, src, dst) + options)
    csum = ip_checksum(bytes(h))
    if not good_sum:
        csum ^= 0x5A5A
    h[10:12] = struct.pack("!H", csum)
    return bytes(h)


def udp_header(sport, dport, payload_len, length=None):
    # The UDP checksum is left 0 (none): vigild does not check it.
    return struct.pack("!HHHH", sport, dport, 8 + payload_len if length is None else length, 0)


class Flow:
    """Addresses of the genuine stream, reused so injected packets look real."""

    def __init__(self, pkt, p):
        self.eth_dst, self.eth_src = pkt[0:6], pkt[6:12]
        self.ip_src, self.ip_dst = p["ip"][12:16], p["ip"][16:20]
        self.sport, self.dport = p["sport"], p["dport"]

    def eth(self, ethertype, vlan=None):
        h = self.eth_dst + self.eth_src
        if vlan is not None:
            h += struct.pack("!HH", ETH_VLAN, vlan)
        return h + struct.pack("!H", ethertype)

    def udp_frame(self, payload, dport=None, vlan=None, ident=0x4242, flags_frag=0, pad=b""):
        """A well-formed Ethernet/IPv4/UDP frame; pad is Ethernet trailer."""
        udp = udp_header(self.sport, self.dport if dport is None else dport, len(payload)) + payload
        return (self.eth(ETH_IPV4, vlan) + ipv4_header(self.ip_src, self.ip_dst, 17, len(udp), ident,
                                                        flags_frag) + udp + pad)


def parse_udp(pkt):
    """Ethernet/IPv4/UDP of a well-formed frame, or None."""
    if len(pkt) < 14:
        return None
    off, etype = 14, struct.unpack("!H", pkt[12:14])[0]
    if etype == ETH_VLAN:
        if len(pkt) < 18:
            return None
        etype, off = struct.unpack("!H", pkt[16:18])[0], 18
    if etype != ETH_IPV4 or len(pkt) < off + 20 or pkt[off] >> 4 != 4:
        return None
    ihl = (pkt[off] & 15) * 4
    total = struct.unpack("!H", pkt[off + 2:off + 4])[0]
    if ihl < 20 or total < ihl + 8 or off + total > len(pkt) or pkt[off + 9] != 17:
        return None
    if struct.unpack("!H", pkt[off + 6:off + 8])[0] & 0x3FFF:
        return None
    u = off + ihl
    sport, dport, ulen = struct.unpack("!HHH", pkt[u:u + 6])
    if ulen != total - ihl:
        return None
    return {"ip": pkt[off:off + ihl], "sport": sport, "dport": dport,
            "payload": pkt[u + 8:off + total], "payload_off": u + 8}


def rtp_header_len(rtp):
    """RTP header length including CSRCs and extension, or None if invalid."""
    if len(rtp) < RTP_HDR or rtp[0] >> 6 != 2:
        return None
    n = RTP_HDR + 4 * (rtp[0] & 15)
    if rtp[0] & 0x10:
        if len(rtp) < n + 4:
            return None
        n += 4 + 4 * struct.unpack("!H", rtp[n + 2:n + 4])[0]
    return n if n + TAG <= len(rtp) else None


def is_rtcp(rtp):
    return len(rtp) >= 2 and rtp[0] >> 6 == 2 and 192 <= rtp[1] <= 223


def genuine_indices(recs, ssrc, port):
    """Indices of the camera's SRTP packets in the capture."""
    out = []
    for i, (_s, _f, pkt) in enumerate(recs):
        p = parse_udp(pkt)
        if p is None or p["dport"] != port:
            continue
        rtp = p["payload"]
        if is_rtcp(rtp) or rtp_header_len(rtp) is None:
            continue
        if struct.unpack("!I", rtp[8:12])[0] == ssrc:
            out.append(i)
    return out


# ---- the adversarial copy ----------------------------------------------------

ROC_TRIAL_SPAN, ROC_TRIAL_BURST, ROC_LOCK_RUN = 16, 64, 2  # proto/replay.h


class Injector:
    def __init__(self, ssrc):
        self.ssrc = ssrc
        self.totals = Counter()
        self.camera = Counter()
        self.kinds = Counter()
        # vigild's lock-on (replay.h): until two genuine packets in a row
        # authenticate, a forgery or a replay of the camera is also tried
        # under the other ROCs, as far as the bucket goes (a capture run is
        # too short to earn tokens back)
        self.ok_run, self.tokens = 0, ROC_TRIAL_BURST

    def rtp(self, event):
        """Follows the camera's RTP in capture order: genuine, forged or
        replayed; counts the trial decryptions vigild makes."""
        if self.ok_run >= ROC_LOCK_RUN:
            return
        if event == "genuine":
            self.ok_run += 1
            return
        tries = min(ROC_TRIAL_SPAN - 1, self.tokens)
        self.tokens -= tries
        self.totals["roc_trials"] += tries
        self.camera["roc_trials"] += tries
        if event == "forged":
            self.ok_run = 0

    def expect(self, pkt, kind, reason, camera=False):
        """Records what vigild must count for one injected frame."""
        self.kinds[kind] += 1
        for c in (self.totals, self.camera) if camera else (self.totals,):
            c["rx_packets"] += 1
            c["rx_bytes"] += len(pkt)
            c[reason] += 1
        return pkt


def with_rtp(pkt, p, new_rtp):
    """The genuine frame with its UDP payload replaced; IP/UDP lengths and
    the IPv4 checksum are recomputed so only the RTP part is different."""
    flow_ip = p["ip"]
    ihl = len(flow_ip)
    eth_len = p["payload_off"] - 8 - ihl
    udp = udp_header(p["sport"], p["dport"], len(new_rtp)) + new_rtp
    ip = bytearray(flow_ip)
    ip[2:4] = struct.pack("!H", ihl + len(udp))
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", ip_checksum(bytes(ip)))
    return pkt[:eth_len] + bytes(ip) + udp


def flip(data, pos, bit=0):
    b = bytearray(data)
    b[pos] ^= 1 << bit
    return bytes(b)


def forgeries(inj, pkt, p, which):
    """Forged copies of one genuine packet: same SSRC and seq, so they pass
    every check before the AEAD and must fail it."""
    rtp = p["payload"]
    hl = rtp_header_len(rtp)
    out = []
    kinds = [
        # one bit of the ciphertext
        ("forged_payload", lambda: flip(rtp, hl + (len(rtp) - hl - TAG) // 2, 3)),
        # header fields that stay valid: timestamp, marker, payload type
        ("forged_timestamp", lambda: flip(rtp, 7, 0)),
        ("forged_marker", lambda: flip(rtp, 1, 7)),
        ("forged_payload_type", lambda: flip(rtp, 1, 0)),
        # one bit of the tag
        ("forged_tag", lambda: flip(rtp, len(rtp) - 1, 5)),
        # cut short by up to 5 bytes, still at least header + tag
        ("forged_truncated", lambda: rtp[:len(rtp) - max(1, min(5, len(rtp) - hl - TAG))]),
        # a sequence number 3000 ahead: if a failed packet moved the replay
        # window, the genuine packets after it would be refused as too old
        ("forged_future_seq", lambda: rtp[:2] + struct.pack("!H", (struct.unpack("!H", rtp[2:4])[0]
                                                                   + 3000) & 0xFFFF) + rtp[4:]),
        # plaintext RTP claiming the same SSRC and seq, no tag at all
        ("plaintext_rtp", lambda: rtp[:hl] + bytes([0x65, 0x88, 0x84]) + bytes(range(200))),
        # an SRTCP sender report from the camera's SSRC: a real header,
        # random body and tag, E set (SRTCP has a replay window and keys
        # of its own, so it moves nothing of the RTP stream's)
        ("forged_srtcp", lambda: struct.pack("!BBH", 0x80, 200, 6) + rtp[8:12] +
         bytes((7 * i + 3) & 0xFF for i in range(20 + TAG)) + struct.pack("!I", 0x80000000 | 1 + len(out))),
    ]
    for k in which:
        name, make = kinds[k % len(kinds)]
        out.append(inj.expect(with_rtp(pkt, p, make()), name, "auth_failed", camera=True))
        if name != "forged_srtcp":
            inj.rtp("forged")
    return out


def refused_packets(inj, flow, rtp, other_ssrc):
    """Packets refused before the replay window: every layer, every reason."""
    e = inj.expect
    unknown = rtp[:8] + struct.pack("!I", other_ssrc) + rtp[12:]
    payload = unknown
    udp = udp_header(flow.sport, flow.dport, len(payload)) + payload

    def ip(**kw):
        return ipv4_header(flow.ip_src, flow.ip_dst, 17, len(udp), 0x4243, **kw)

    eth = flow.eth(ETH_IPV4)
    sr = struct.pack("!BBHI", 0x80, 200, 6, other_ssrc) + bytes(20)  # RTCP SR, 28 bytes
    rr = struct.pack("!BBHI", 0x80, 201, 1, other_ssrc)               # RTCP RR, empty
    srtcp = sr + struct.pack("!I", 0x80000001) + bytes(TAG)  # E flag, index, tag
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + bytes(32)
    tcp = struct.pack("!HHIIBBHHH", 40000, flow.dport, 1, 0, 5 << 4, 0x02, 1024, 0, 0)

    def ipv6(payload, next_hdr=17, plen=None):
        return (struct.pack("!IHBB", 6 << 28, len(payload) if plen is None else plen, next_hdr, 64) +
                b"\xfd" + bytes(14) + b"\x01" + b"\xfd" + bytes(14) + b"\x02" + payload)

    hop_by_hop = bytes([17, 0, 1, 4, 0, 0, 0, 0])           # PadN, then UDP
    frag_hdr = struct.pack("!BBHI", 17, 0, 0x0001, 0x4245)  # first fragment, more follow
    eth6 = flow.eth(ETH_IPV6)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, 1, flow.eth_src, flow.ip_src,
                      bytes(6), flow.ip_dst)
    ext_overrun = bytes([0x90]) + unknown[1:12] + struct.pack("!HH", 0xBEDE, 0xFFFF) + unknown[12:60]
    csrc_overrun = bytes([0x8F]) + unknown[1:12] + bytes(40)   # 15 CSRCs need 60 bytes
    return [
        # Ethernet
        e(flow.eth_dst + flow.eth_src[:4], "eth_truncated", "malformed"),
        e(flow.eth_dst + flow.eth_src + struct.pack("!HH", ETH_VLAN, 7), "vlan_truncated", "malformed"),
        e(flow.eth(ETH_ARP) + arp, "arp", "not_ip"),
        e(flow.eth(0x88B5) + bytes(46), "ethertype_experimental", "not_ip"),
        # IPv6: SRTP over it is parsed like over IPv4
        e(eth6 + ipv6(udp), "ipv6_unknown_ssrc", "unknown_ssrc"),
        e(eth6 + ipv6(hop_by_hop + udp, next_hdr=0), "ipv6_hop_by_hop_unknown_ssrc", "unknown_ssrc"),
        e(eth6 + ipv6(frag_hdr + udp, next_hdr=44), "ipv6_fragment", "fragment"),
        e(eth6 + ipv6(icmp, next_hdr=58), "icmpv6", "not_udp"),
        e(eth6 + ipv6(udp)[:30], "ipv6_truncated", "malformed"),
        e(eth6 + ipv6(udp, plen=len(udp) + 1), "ipv6_payload_length_long", "malformed"),
        e(eth6 + ipv6(b"\x11\xff" + hop_by_hop[2:] + udp, next_hdr=0),  # a 2 KiB header, cut short
          "ipv6_extension_overrun", "malformed"),
        # IPv4
        e(eth + ip()[:12], "ip_truncated", "malformed"),
        e(eth + ip(version=6) + udp, "ip_bad_version", "malformed"),
        e(eth + ip(ihl=4) + udp, "ip_bad_ihl", "malformed"),
        e(eth + ip(total=20 + len(udp) + 1) + udp, "ip_total_length_long", "malformed"),
        e(eth + ip(total=16) + udp, "ip_total_length_short", "malformed"),
        e(eth + ip(good_sum=False) + udp, "ip_bad_checksum", "malformed"),
        e(eth + ip(flags_frag=0x2000) + udp, "ip_fragment_first", "fragment"),
        e(eth + ipv4_header(flow.ip_src, flow.ip_dst, 17, 64, 0x4244, 0x0010) + (udp[8:] + bytes(64))[:64],
          "ip_fragment_later", "fragment"),
        e(eth + ipv4_header(flow.ip_src, flow.ip_dst, 1, len(icmp)) + icmp, "icmp", "not_udp"),
        e(eth + ipv4_header(flow.ip_src, flow.ip_dst, 6, len(tcp)) + tcp, "tcp", "not_udp"),
        # UDP
        e(eth + ipv4_header(flow.ip_src, flow.ip_dst, 17, 4) + udp[:4], "udp_truncated", "malformed"),
        e(eth + ip() + udp_header(flow.sport, flow.dport, 0, len(udp) + 4) + payload,
          "udp_length_long", "malformed"),
        e(eth + ip() + udp_header(flow.sport, flow.dport, 0, len(udp) - 4) + payload,
          "udp_length_short", "malformed"),
        e(flow.udp_frame(unknown, dport=flow.dport + 1), "other_port", "not_srtp_port"),
        e(flow.udp_frame(unknown, dport=53), "dns_port", "not_srtp_port"),
        # RTP
        e(flow.udp_frame(b""), "rtp_empty", "malformed"),
        e(flow.udp_frame(bytes([0x40]) + unknown[1:]), "rtp_version_1", "malformed"),
        e(flow.udp_frame(csrc_overrun), "rtp_csrc_overrun", "malformed"),
        e(flow.udp_frame(ext_overrun), "rtp_extension_overrun", "malformed"),
        e(flow.udp_frame(unknown[:RTP_HDR + TAG - 1]), "rtp_shorter_than_tag", "malformed"),
        # RTCP on the SRTP port is SRTCP, authenticated by its sender's
        # stream: too short for the SRTCP trailer, or from an SSRC no
        # camera has, it goes no further
        e(flow.udp_frame(sr), "rtcp_sr", "unknown_ssrc"),
        e(flow.udp_frame(rr), "rtcp_rr", "malformed"),
        e(flow.udp_frame(srtcp), "srtcp_sr", "unknown_ssrc"),
        # unknown SSRC: plain, 802.1Q-tagged (proves VLAN parsing), and
        # with an Ethernet trailer (the IP total length rules, not the frame)
        e(flow.udp_frame(unknown), "unknown_ssrc", "unknown_ssrc"),
        e(flow.udp_frame(unknown, vlan=100), "unknown_ssrc_vlan", "unknown_ssrc"),
        e(flow.udp_frame(unknown[:RTP_HDR + TAG], pad=bytes(18)), "unknown_ssrc_padded", "unknown_ssrc"),
    ]


def inject(args):
    header, end, recs = read_pcap(args.input)
    genuine = genuine_indices(recs, args.ssrc, args.port)
    if len(genuine) < 50:
        sys.exit(f"{args.input}: only {len(genuine)} SRTP packets with SSRC {args.ssrc} to port "
                 f"{args.port}; need at least 50")
    rng = random.Random(args.seed)
    inj = Injector(args.ssrc)
    other_ssrc = args.ssrc ^ 0x5A5A5A5A
    first = recs[genuine[0]][2]
    flow = Flow(first, parse_udp(first))

    # Which genuine packets get forgeries before them / duplicates after
    # them. Always include the very first packet and the ones around the
    # sequence number wrap, where an index estimate is easiest to get wrong.
    seqs = [struct.unpack("!H", parse_udp(recs[i][2])["payload"][2:4])[0] for i in genuine]
    picks = set(range(0, len(genuine), max(1, len(genuine) // 40)))
    picks |= {0, len(genuine) - 1}
    for k in range(1, len(seqs)):
        if seqs[k] < seqs[k - 1]:
            picks |= {k - 1, k, k + 1}
    picks = {k for k in picks if k < len(genuine)}
    dup_after = {k for k in picks if rng.random() < 0.5} | {0}
    refused_at = set(rng.sample(range(len(genuine)), 5))

    out, kind_cursor = [], 0
    pos = {g: k for k, g in enumerate(genuine)}
    late_dups, delayed = [], {}
    for i, (sec, frac, pkt) in enumerate(recs):
        k = pos.get(i)
        if k is None:
            out.append((sec, frac, pkt))
            continue
        p = parse_udp(pkt)
        if k in picks:
            # two forgeries of different kinds before each picked packet
            for f in forgeries(inj, pkt, p, [kind_cursor, kind_cursor + 1]):
                out.append((sec, frac, f))
            kind_cursor += 2
        if k in refused_at:
            for r in refused_packets(inj, flow, p["payload"], other_ssrc):
                out.append((sec, frac, r))
        out.append((sec, frac, pkt))
        inj.rtp("genuine")
        if k in dup_after:
            out.append((sec, frac, inj.expect(pkt, "duplicate", "replayed", camera=True)))
            inj.rtp("replayed")
            # and once more ten packets later, still inside the window
            delayed.setdefault(k + 10, []).append(pkt)
        for d in delayed.pop(k, []):
            out.append((sec, frac, inj.expect(d, "delayed_duplicate", "replayed", camera=True)))
            inj.rtp("replayed")
        if k < 3:
            late_dups.append(pkt)
    # Duplicates of the first packets at the very end: far older than the
    # newest index, so replayed whether the window still holds them or not.
    sec, frac = recs[-1][0], recs[-1][1]
    for pkt in late_dups:
        out.append((sec, frac, inj.expect(pkt, "late_duplicate", "replayed", camera=True)))
        inj.rtp("replayed")

    write_pcap(args.output, header, end, out)
    totals = {c: inj.totals.get(c, 0) for c in COUNTERS}
    camera = {c: inj.camera.get(c, 0) for c in COUNTERS}
    json.dump({"totals": totals, "camera": camera, "kinds": dict(sorted(inj.kinds.items())),
               "genuine": len(genuine)}, sys.stdout, indent=2, sort_keys=True)
    print()


# ---- the reordered copy ------------------------------------------------------

# Arrival orders of a window of packets k, k+1, ...: entry j is the offset
# of the packet that takes the window's j-th place. None moves a packet more
# than 7 places, so the 8 reorder slots of vigild always hold every packet
# that arrives ahead of a gap until the gap is filled.
REORDER_PATTERNS = {
    "swap_2_1": (0, 2, 1),
    "ahead_3": (0, 3, 1, 2),
    "pair": (1, 0),
    "reverse_3": (2, 1, 0),
    "ahead_5": (0, 5, 1, 2, 3, 4),
    "two_ahead": (0, 3, 4, 1, 2),
    "ahead_7": (7, 0, 1, 2, 3, 4, 5, 6),
}


def extended_indices(seqs):
    """The 48-bit-style extended index of each 16-bit sequence number, in
    order, each taken as the one nearest the previous packet's index."""
    out, prev = [], None
    for s in seqs:
        if prev is None:
            idx = s
        else:
            idx = (prev & ~0xFFFF) | s
            if idx < prev - 0x8000:
                idx += 0x10000
            elif idx > prev + 0x8000 and idx >= 0x10000:
                idx -= 0x10000
        out.append(idx)
        prev = idx
    return out


def count_behind(indices):
    """Packets that come after a higher index: what vigild counts as reordered."""
    n, top = 0, None
    for i in indices:
        if top is not None and i < top:
            n += 1
        else:
            top = i
    return n


def reorder(args):
    header, end, recs = read_pcap(args.input)
    genuine = genuine_indices(recs, args.ssrc, args.port)
    n = len(genuine)
    if n < 100:
        sys.exit(f"{args.input}: only {n} SRTP packets with SSRC {args.ssrc} to port {args.port}; "
                 f"need at least 100")
    rng = random.Random(args.seed)
    seqs = [struct.unpack("!H", parse_udp(recs[i][2])["payload"][2:4])[0] for i in genuine]
    ext = extended_indices(seqs)

    # Windows (start, pattern name), disjoint with at least one packet
    # between them. First the ones around the wrap: the packet with sequence
    # number 0 arrives right after 65533, ahead of 65534 and 65535; then
    # 3, 4, 5 arrive as 5, 4, 3.
    windows, used = [], set()

    def place(k, name):
        span = range(k - 1, k + len(REORDER_PATTERNS[name]) + 1)
        if k < 1 or k + len(REORDER_PATTERNS[name]) > n - 1 or used.intersection(span):
            return False
        windows.append((k, name))
        used.update(span)
        return True

    wraps = [k for k in range(1, n) if seqs[k] < seqs[k - 1]]
    for w in wraps:
        place(w - 3, "ahead_3")
        place(w + 3, "reverse_3")
    names = sorted(REORDER_PATTERNS)
    k = 10
    while k < n:
        place(k, rng.choice(names))
        k += rng.randint(25, 35)

    order = list(range(n))  # order[j]: which genuine packet takes place j
    for start, name in windows:
        for j, off in enumerate(REORDER_PATTERNS[name]):
            order[start + j] = start + off
    assert sorted(order) == list(range(n))

    out = list(recs)
    for j, src in enumerate(order):
        sec, frac, _ = recs[genuine[j]]
        out[genuine[j]] = (sec, frac, recs[genuine[src]][2])
    write_pcap(args.output, header, end, out)

    # The expectation, from what was written: parse the output again.
    _h, _e, check = read_pcap(args.output)
    got = genuine_indices(check, args.ssrc, args.port)
    got_seqs = [struct.unpack("!H", parse_udp(check[i][2])["payload"][2:4])[0] for i in got]
    by_seq = {}
    for s, e in zip(seqs, ext):
        by_seq.setdefault(s, []).append(e)
    if len(got) != n or any(len(v) != 1 for v in by_seq.values()):
        sys.exit("reorder: sequence numbers repeat in the capture; the expectation would be ambiguous")
    out_ext = [by_seq[s][0] for s in got_seqs]
    assert sorted(out_ext) == sorted(ext)
    assert max(abs(a - b) for a, b in zip(out_ext, ext)) <= 7
    json.dump({"reordered": count_behind(out_ext),
               "reordered_in_input": count_behind(ext),
               "genuine": n, "packets": len(out), "windows": len(windows),
               "moved": sum(1 for a, b in zip(out_ext, ext) if a != b),
               "wraps": len(wraps),
               "wrap_windows": [[seqs[s], name] for s, name in windows if any(abs(s - w) <= 4 for w in wraps)],
               "patterns": dict(sorted(Counter(name for _s, name in windows).items()))},
              sys.stdout, indent=2, sort_keys=True)
    print()


def count(args):
    _h, _e, recs = read_pcap(args.input)
    print(len(genuine_indices(recs, args.ssrc, args.port)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count", help="count the camera's SRTP packets in a capture")
    c.add_argument("input")
    i = sub.add_parser("inject", help="write an adversarial copy, print expected counters")
    i.add_argument("input")
    i.add_argument("output")
    i.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("reorder", help="write a copy with the camera's packets out of order, "
                       "print the expected reordered count")
    r.add_argument("input")
    r.add_argument("output")
    r.add_argument("--seed", type=int, default=1)
    for s in (c, i, r):
        s.add_argument("--ssrc", type=lambda v: int(v, 0), required=True)
        s.add_argument("--port", type=int, default=5004)
    args = ap.parse_args()
    {"count": count, "inject": inject, "reorder": reorder}[args.cmd](args)


if __name__ == "__main__":
    main()
