#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What power cuts left of one camera's recording, against what it sent.

usage: powercut_check.py --label L --pcap CAP --ssrc N [--port P] --ref REF.md5
                         --cuts "T1 T2 ..." --max-loss S --dir CAMERA_DIR
                         [--partial NAME ...] SEGMENT.md5 ...

REF.md5: the framemd5 hash of each frame the camera encoded, in order (its
reference stream decoded). CAP: a capture of what it sent (classic pcap,
Ethernet): the time at which each frame's last packet went out, frame i
being the i-th packet of SSRC N to UDP port P with the marker bit. The
camera was stopped: the frames it encoded but did not send whole are left
out. Each SEGMENT.md5
(named after the segment: 00000003.ts.md5) holds the hashes of the frames
its segment decodes to, SEGMENT.err what the decoder said; every segment
in CAMERA_DIR is given, in order. A --partial segment was opened from a sealed
segment cut short by a crash (vigil-open --partial): its plaintext may end
inside a frame, so a last frame that is not the camera's or that the decoder
complained about (concealment may make it a frame the camera sent earlier),
and what the decoder said about it, are set aside.

Checks, each failure a line "FAIL: L: ..." on stdout (exit 1):
- every segment decodes without a word from the decoder and is, frame for
  frame, a run of consecutive frames of the camera, each run after the last;
- the recording ends at the last frame the camera sent whole;
- frames are missing only across a cut (the first ones included), and
  before each cut at most --max-loss seconds of what was sent is missing
  (from the moment the last recorded frame before the cut went out, or a
  frame interval before the first, to the cut);
- the playlist (CAMERA_DIR/index.m3u8) lists exactly the segments in
  CAMERA_DIR, in order, marks a discontinuity where frames are missing,
  names for an fMP4 segment the newest init segment made before it, and
  ends with #EXT-X-ENDLIST.
Prints, per cut, how much was lost ("== L: cut 1: ...").
"""

import argparse
import os
import re
import struct
import sys

failures = 0


def fail(label, msg):
    global failures
    failures += 1
    print("FAIL: %s: %s" % (label, msg))


def frame_times(path, port, ssrc):
    """Send time of each frame (its last packet, the one with the marker
    bit), in the order sent; and how many RTP timestamps were seen (one
    more when the camera was stopped in the middle of a frame)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        raise ValueError("%s: not a capture" % path)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("%s: not a classic pcap" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    if struct.unpack(end + "I", data[20:24])[0] != 1:
        raise ValueError("%s: not Ethernet" % path)
    ends = []  # time of each frame's marker packet
    seen = set()
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        if len(pkt) < 14 + 20 + 8 + 12 or pkt[12:14] != b"\x08\x00":
            continue
        ihl = (pkt[14] & 15) * 4
        if pkt[14 + 9] != 17:
            continue
        udp = pkt[14 + ihl:]
        if struct.unpack("!H", udp[2:4])[0] != port:
            continue
        rtp = udp[8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2 or 200 <= rtp[1] <= 204:
            continue
        ts, pssrc = struct.unpack("!II", rtp[4:12])
        if pssrc != ssrc:
            continue
        seen.add(ts)
        if rtp[1] & 0x80:
            ends.append(t)
    return ends, len(seen)


def read_playlist(path):
    """[(name, discontinuity, map)] and whether it ends."""
    entries, disc, cur_map, ended = [], False, None, False
    for line in open(path):
        line = line.rstrip("\n")
        if line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line.startswith("#EXT-X-MAP:"):
            m = re.search(r'URI="([^"]*)"', line)
            cur_map = m.group(1) if m else None
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            entries.append((line, disc, cur_map))
            disc = False
    return entries, ended


SEGMENT = re.compile(r"^(\d{8})\.(ts|ts\.sealed|m4s)$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--ssrc", type=int, required=True)
    ap.add_argument("--port", type=int, default=5004)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--cuts", required=True)
    ap.add_argument("--max-loss", type=float, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--partial", action="append", default=[])
    ap.add_argument("segments", nargs="*")
    a = ap.parse_args()
    L = a.label

    ref = open(a.ref).read().split()
    times, stamps = frame_times(a.pcap, a.port, a.ssrc)
    cuts = sorted(float(c) for c in a.cuts.split())
    # The camera was stopped: what it encoded last may not have gone out.
    if not times or len(ref) < len(times) or stamps - len(times) not in (0, 1):
        fail(L, "the capture holds %d whole frames (%d RTP timestamps) of SSRC %d, the reference %d: "
             "cannot tell which frame went out when" % (len(times), stamps, a.ssrc, len(ref)))
        return 1
    ref = ref[:len(times)]
    if not a.segments:
        fail(L, "no segment")
        return 1

    # ---- every segment: clean, and a run of the camera's frames -----------------------
    runs = []  # (name, first frame, end)
    pos = 0
    for md5 in a.segments:
        name = os.path.basename(md5)[:-len(".md5")]
        hashes = open(md5).read().split()
        err = md5[:-len(".md5")] + ".err"
        said = open(err).read().strip() if os.path.exists(err) else ""
        # The frame a sealed chunk boundary cut: not the camera's, or the
        # decoder's concealment made it one the camera sent before (a
        # still picture), and the decoder said so.
        if name in a.partial and hashes and (said or hashes[-1] not in ref[pos:]):
            hashes.pop()
            said = ""
        if said:
            fail(L, "%s: the decoder says: %s" % (name, said.splitlines()[0]))
        if not hashes:
            fail(L, "%s decodes to no frame" % name)
            continue
        start = None
        for i in range(pos, len(ref) - len(hashes) + 1):
            if ref[i] == hashes[0] and ref[i:i + len(hashes)] == hashes:
                start = i
                break
        if start is None:
            foreign = sum(h not in ref for h in hashes)
            fail(L, "%s: its %d frames are not a run of the camera's frames after frame %d (%d not the camera's)"
                 % (name, len(hashes), pos, foreign))
            continue
        runs.append((name, start, start + len(hashes)))
        pos = start + len(hashes)
    if not runs:
        return 1
    if runs[-1][2] != len(ref):
        fail(L, "the recording ends at frame %d of %d" % (runs[-1][2], len(ref)))

    # ---- what is missing: only across a cut, and little before it -------------------
    # Frame -1 went out a frame interval before the first: "nothing kept".
    interval = sorted(b - a for a, b in zip(times, times[1:]))[len(times) // 2] if len(times) > 1 else 0

    def sent_at(i):
        return times[i] if i >= 0 else times[0] - interval

    gaps = set()  # the segments after missing frames (but the first)
    for (prev, _, end), (name, start, _) in zip([("", 0, 0)] + runs, runs):
        if start == end:
            continue
        if not any(sent_at(end - 1) < c < times[start] for c in cuts):
            fail(L, "frames %d-%d (sent %.3f-%.3f) are missing, and no power cut came between"
                 % (end, start - 1, times[end], times[start - 1]))
        if prev:
            gaps.add(name)
    for k, cut in enumerate(cuts, 1):
        last = max([end - 1 for _, _, end in runs if times[end - 1] < cut] or [-1])
        loss = cut - sent_at(last)
        sent = sum(1 for t in times if t < cut) - 1 - last
        print("== %s: cut %d: %.3f s lost before it (%d frames sent after frame %d, the last kept)"
              % (L, k, loss, sent, last))
        if loss > a.max_loss:
            fail(L, "cut %d: %.3f s of what the camera sent before the cut is lost, more than %.3f s"
                 % (k, loss, a.max_loss))

    # ---- the playlist --------------------------------------------------------------
    playlist = os.path.join(a.dir, "index.m3u8")
    if not os.path.exists(playlist):
        fail(L, "no playlist")
        return 1
    entries, ended = read_playlist(playlist)
    listed = [e[0] for e in entries]
    on_disk = sorted(f for f in os.listdir(a.dir) if SEGMENT.match(f))
    if listed != on_disk:
        fail(L, "the playlist lists %s; on disk: %s" % (" ".join(listed), " ".join(on_disk)))
    if not ended:
        fail(L, "the playlist does not end with #EXT-X-ENDLIST")
    given = [os.path.basename(s)[:-len(".md5")] for s in a.segments]
    if given != on_disk:
        fail(L, "segments checked (%s) are not those on disk (%s)" % (" ".join(given), " ".join(on_disk)))
    inits = sorted(f for f in os.listdir(a.dir) if re.match(r"^init-\d{8}\.mp4$", f))
    for name, disc, uri in entries:
        if name in gaps and not disc:
            fail(L, "%s follows missing frames but has no #EXT-X-DISCONTINUITY" % name)
        if name.endswith(".m4s"):
            seq = int(name[:8])
            want = [i for i in inits if int(i[5:13]) <= seq]
            if not want or uri != want[-1]:
                fail(L, "%s: #EXT-X-MAP names %s, want %s" % (name, uri, want[-1] if want else "an init segment"))
        elif uri is not None:
            fail(L, "%s: an #EXT-X-MAP before a segment that is not fMP4" % name)
    print("== %s: %d segments, %d of %d frames recorded, %d cut(s)"
          % (L, len(runs), sum(e - s for _, s, e in runs), len(ref), len(cuts)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
