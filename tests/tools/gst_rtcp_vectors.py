#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Packets GStreamer itself makes, plaintext, as C arrays for
tests/unit/test_rtcp_fb.c (proto/rtcp_fb.h against a real peer):

  rtx      rtprtxsend (payload-type-map 96->97, ssrc-map) answering a
           GstRTPRetransmissionRequest for one packet of rtph264pay (a
           middle FU-A fragment of the first IDR slice), and that original
  nack     the first RTCP compound a receiving rtpbin (rtp-profile savpf,
           do-retransmission=true) sends whose generic NACK for the media
           SSRC names exactly the packets this script left out of the
           stream (its jitterbuffer asks, its rtpsession packs the NACK)
  pli      the first compound after a GstForceKeyUnit upstream event on
           rtpbin's receive pad for the media SSRC: a PLI (the packets
           NACKed arrive late before, so no NACK retry rides along)

A second stream (OTHER_SSRC, no loss) shares the session, so the compounds
have an SSRC the feedback is not for. SSRCs, sequence numbers, timestamps,
CNAME and the test picture are fixed; what GStreamer draws at random is the
RTX sequence number (rtprtxsend has no property for it). The feedback
depends on timing: an attempt whose compounds do not match is run again.

  gst_rtcp_vectors.py [--out FILE] [--attempts 5]

Writes the header (default: stdout). Exit 0, or 1 when no attempt gave the
packets wanted.
"""
import argparse
import re
import struct
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

PT, RTX_PT = 96, 97
MEDIA_SSRC = 0x1A2B3C4D  # the camera's stream: NACKed and PLI'd
OTHER_SSRC = 0x0E0F1011  # another sender in the session, never lost
RECEIVER_SSRC = 0x7E57AB1E  # rtpbin's own (internal-ssrc)
RTX_SSRC = 0x5E7A5E7A  # rtprtxsend's ssrc-map for MEDIA_SSRC
CNAME = "vigil-test@gst"
SEQ0, OTHER_SEQ0 = 1000, 7000
# Two FCI entries: PID 1010 with BLP bits 0-3 and 6, PID 1028 with bit 0.
MISSING = (1010, 1011, 1012, 1013, 1014, 1017, 1028, 1029)
PLI_AT = SEQ0 + 150  # 3 s in, well after the NACK
SPACING_MS = 20
TS_STEP = 1800  # 90 kHz at 20 ms
RTP_CAPS = ("application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96,"
            "rtcp-fb-nack=(boolean)true,rtcp-fb-nack-pli=(boolean)true")
RTCP_RTPFB, RTCP_PSFB = 205, 206  # RFC 4585 6.1, FMT 1 each


def rtcp_packets(data):
    """(pt, fmt, bytes) of each packet of a compound."""
    out, off = [], 0
    while off + 4 <= len(data):
        end = off + 4 * (struct.unpack("!H", data[off + 2:off + 4])[0] + 1)
        out.append((data[off + 1], data[off] & 0x1F, data[off:end]))
        off = end
    return out


def nacked(data, ssrc):
    """The sequence numbers the compound's generic NACKs name for ssrc."""
    seqs = []
    for pt, fmt, p in rtcp_packets(data):
        if pt == RTCP_RTPFB and fmt == 1 and struct.unpack("!I", p[8:12])[0] == ssrc:
            for at in range(12, len(p), 4):
                pid, blp = struct.unpack("!HH", p[at:at + 4])
                seqs.append(pid)
                seqs.extend((pid + k + 1) & 0xFFFF for k in range(16) if blp >> k & 1)
    return seqs


def plis(data):
    return [struct.unpack("!I", p[8:12])[0] for pt, fmt, p in rtcp_packets(data)
            if pt == RTCP_PSFB and fmt == 1]


def buffers(info):
    if info.type & Gst.PadProbeType.BUFFER_LIST:
        lst = info.get_buffer_list()
        return [lst.get(i) for i in range(lst.length())]
    return [info.get_buffer()]


def wait_eos(pipeline, what):
    msg = pipeline.get_bus().timed_pop_filtered(20 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        detail = msg.parse_error()[0].message if msg is not None else "no EOS in time"
        raise RuntimeError(f"{what}: {detail}")


# ---- RTX: rtprtxsend after rtph264pay ----------------------------------------

def capture_rtx():
    # Non-live, one thread in x264: the same packets every run.
    desc = (
        "videotestsrc num-buffers=2 pattern=smpte "
        "! video/x-raw,format=I420,width=160,height=120,framerate=30/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=30 threads=1 "
        f"! rtph264pay name=pay pt={PT} ssrc={MEDIA_SSRC} seqnum-offset=4660 timestamp-offset=90000 mtu=300 "
        "! rtprtxsend name=rtx "
        f"payload-type-map=\"application/x-rtp-pt-map,{PT}=(uint){RTX_PT}\" "
        f"ssrc-map=\"application/x-rtp-ssrc-map,{MEDIA_SSRC}=(uint){RTX_SSRC}\" "
        "! fakesink sync=false"
    )
    pipeline = Gst.parse_launch(desc)
    rtx = pipeline.get_by_name("rtx")
    sent, rtx_out = [], []
    wanted = {}

    def on_pay(_pad, info):
        for b in buffers(info):
            sent.append(b.extract_dup(0, b.get_size()))
        return Gst.PadProbeReturn.OK

    def on_out(_pad, info):
        for b in buffers(info):
            d = b.extract_dup(0, b.get_size())
            if d[1] & 0x7F == RTX_PT:
                rtx_out.append(d)
        return Gst.PadProbeReturn.OK

    def on_eos(_pad, info):
        # Ask before EOS: rtprtxsend queues its answer ahead of the EOS.
        if info.get_event().type != Gst.EventType.EOS:
            return Gst.PadProbeReturn.OK
        for d in sent:
            fu_ind, fu_hdr = d[12], d[13]
            if fu_ind & 0x1F == 28 and fu_hdr & 0x1F == 5 and not fu_hdr & 0xC0:
                wanted["orig"] = d
                break
        if "orig" in wanted:
            seq = struct.unpack("!H", wanted["orig"][2:4])[0]
            s = Gst.Structure.new_from_string(
                f"GstRTPRetransmissionRequest, seqnum=(uint){seq}, ssrc=(uint){MEDIA_SSRC}")
            rtx.get_static_pad("src").send_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, s))
        return Gst.PadProbeReturn.OK

    both = Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST
    pipeline.get_by_name("pay").get_static_pad("src").add_probe(both, on_pay)
    rtx.get_static_pad("src").add_probe(both, on_out)
    rtx.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_eos)
    pipeline.set_state(Gst.State.PLAYING)
    wait_eos(pipeline, "rtx")
    if "orig" not in wanted or len(rtx_out) != 1:
        raise RuntimeError(f"rtx: {len(rtx_out)} RTX packets, original found: {'orig' in wanted}")
    # The payload bytes are libx264's: its version is in its SEI.
    core = next((m.group(0).decode() for d in sent for m in [re.search(rb"core \d+ r\d+ [0-9a-f]+", d)] if m),
                "core ?")
    return wanted["orig"], rtx_out[0], core


# ---- NACK and PLI: a receiving rtpbin -----------------------------------------

class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.compounds = []
        self.nack = None
        self.pli = None
        self.media_pad = None
        self.seq = SEQ0
        self.pli_asked = False
        self.filled = False
        self.loop = GLib.MainLoop()
        self.pipeline = Gst.parse_launch(
            f'appsrc name=src is-live=true format=time do-timestamp=true caps="{RTP_CAPS}" '
            "! rb.recv_rtp_sink_0 "
            "rtpbin name=rb rtp-profile=savpf do-retransmission=true latency=2000 "
            "rb.send_rtcp_src_0 ! fakesink name=rtcp sync=false async=false")
        rb = self.pipeline.get_by_name("rb")
        sdes = Gst.Structure.new_empty("application/x-rtp-source-sdes")
        sdes.set_value("cname", CNAME)
        sdes.set_value("tool", "GStreamer")
        rb.set_property("sdes", sdes)
        rb.emit("get-internal-session", 0).set_property("internal-ssrc", RECEIVER_SSRC)
        rb.connect("new-jitterbuffer", self.on_jitterbuffer)
        rb.connect("pad-added", self.on_pad)
        self.src = self.pipeline.get_by_name("src")
        self.pipeline.get_by_name("rtcp").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_rtcp)

    @staticmethod
    def on_jitterbuffer(_rb, jb, _session, _ssrc):
        # NACK only what is missing, not a next packet that is merely late,
        # and keep asking until the NACK this script waits for has gone.
        jb.set_property("rtx-next-seqnum", False)
        jb.set_property("rtx-retry-timeout", 100)
        jb.set_property("rtx-retry-period", 1500)

    def on_pad(self, _rb, pad):
        if not pad.get_name().startswith("recv_rtp_src_"):
            return
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        if pad.get_name().startswith(f"recv_rtp_src_0_{MEDIA_SSRC}_"):
            self.media_pad = sink.get_static_pad("sink")

    def on_rtcp(self, _pad, info):
        buf = info.get_buffer()
        data = buf.extract_dup(0, buf.get_size())
        with self.lock:
            self.compounds.append(data)
            if self.nack is None and nacked(data, MEDIA_SSRC) == list(MISSING):
                self.nack = data
            elif self.pli_asked and self.pli is None and plis(data):
                self.pli = data
                GLib.idle_add(self.loop.quit)
        return Gst.PadProbeReturn.OK

    def push(self, ssrc, seq, seq0):
        ts = 90000 + ((seq - seq0) & 0xFFFF) * TS_STEP
        # A non-IDR slice NAL unit; its contents are of no interest here.
        pkt = struct.pack("!BBHII", 0x80, PT, seq, ts, ssrc) + bytes([0x41, 0x9A]) + bytes(range(32))
        self.src.emit("push-buffer", Gst.Buffer.new_wrapped(pkt))

    def tick(self):
        n = self.seq - SEQ0
        if self.seq not in MISSING:
            self.push(MEDIA_SSRC, self.seq, SEQ0)
        self.push(OTHER_SSRC, OTHER_SEQ0 + n, OTHER_SEQ0)
        self.seq += 1
        with self.lock:
            have_nack = self.nack is not None
        # The NACK went: the packets arrive late, as retransmissions would,
        # so the jitterbuffer stops asking and no NACK rides along the PLI.
        if have_nack and not self.filled:
            self.filled = True
            for seq in MISSING:
                self.push(MEDIA_SSRC, seq, SEQ0)
        if have_nack and not self.pli_asked and self.seq > PLI_AT and self.media_pad is not None:
            self.pli_asked = True
            ev = Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, Gst.Structure.new_from_string(
                "GstForceKeyUnit, all-headers=(boolean)true, count=(uint)0"))
            if not self.media_pad.push_event(ev):
                print("gst_rtcp_vectors: the key unit request was not taken", file=sys.stderr)
        return True

    def run(self, seconds):
        self.pipeline.set_state(Gst.State.PLAYING)
        GLib.timeout_add(SPACING_MS, self.tick)
        GLib.timeout_add_seconds(seconds, self.loop.quit)
        self.loop.run()
        self.pipeline.set_state(Gst.State.NULL)
        return self.nack, self.pli


def capture_feedback(attempts):
    for attempt in range(1, attempts + 1):
        nack, pli = Receiver().run(10)
        if nack is not None and pli is not None and plis(pli) == [MEDIA_SSRC] and not nacked(pli, MEDIA_SSRC):
            return nack, pli
        what = "none" if pli is None else f"PLIs for {plis(pli)}, NACKs for {nacked(pli, MEDIA_SSRC)}"
        print(f"gst_rtcp_vectors: attempt {attempt}: NACK {'found' if nack else 'missing'}, "
              f"PLI compound: {what}; again", file=sys.stderr)
    raise RuntimeError("no attempt gave the NACK and PLI wanted")


# ---- the header ------------------------------------------------------------

def c_array(name, data, comment):
    lines = [f"/* {comment} ({len(data)} bytes) */", f"static const uint8_t {name}[] = {{"]
    for at in range(0, len(data), 12):
        lines.append("\t" + " ".join(f"0x{b:02x}," for b in data[at:at + 12]))
    lines.append("};")
    return "\n".join(lines)


def header(orig, rtx, x264_core, nack, pli, command):
    def version(plugin):
        p = Gst.Registry.get().find_plugin(plugin)
        return p.get_version() if p is not None else "?"

    osn = struct.unpack("!H", orig[2:4])[0]
    rtx_seq = struct.unpack("!H", rtx[2:4])[0]
    missing = ", ".join(str(s) for s in MISSING)
    return f"""/* SPDX-License-Identifier: MIT */
/* Packets GStreamer made (plaintext, no SRTP) for test_rtcp_fb.c, by
 * {Gst.version_string()} (rtpmanager {version("rtpmanager")}, rtp {version("rtp")}, x264 {version("x264")},
 * libx264 {x264_core}).
 * Generated, do not edit; to make them again (RTX sequence number and,
 * with timing, the feedback compounds may differ):
 *   {command}
 * SSRCs: media 0x{MEDIA_SSRC:08x} (the camera: NACKed and PLI'd), other
 * 0x{OTHER_SSRC:08x} (a second sender in the session, never lost), receiver
 * 0x{RECEIVER_SSRC:08x} (rtpbin's internal SSRC, the feedback's sender),
 * RTX 0x{RTX_SSRC:08x} (rtprtxsend's ssrc-map). */
#ifndef VIGIL_RTCP_FB_GST_VECTORS_H
#define VIGIL_RTCP_FB_GST_VECTORS_H

#include <stdint.h>

#define GST_MEDIA_SSRC 0x{MEDIA_SSRC:08x}u
#define GST_OTHER_SSRC 0x{OTHER_SSRC:08x}u
#define GST_RECEIVER_SSRC 0x{RECEIVER_SSRC:08x}u
#define GST_RTX_SSRC 0x{RTX_SSRC:08x}u
#define GST_PT {PT}
#define GST_RTX_PT {RTX_PT}
#define GST_RTX_OSN {osn} /* the original's sequence number */

/* What the media stream left out: rtpbin's jitterbuffer NACKed these. */
static const uint16_t gst_nack_missing[] = {{{missing}}};

/* clang-format off */
{c_array("gst_rtx_original", orig,
         f"rtph264pay, pt {PT}, seq {osn}: a middle FU-A fragment of an IDR slice")}

{c_array("gst_rtx_packet", rtx,
         f"rtprtxsend's RTX packet for it: pt {RTX_PT}, SSRC 0x{RTX_SSRC:08x}, seq {rtx_seq} (random)")}

{c_array("gst_nack_compound", nack,
         "rtpbin, do-retransmission=true: " + ", ".join(
             {201: "RR", 202: "SDES", 205: "generic NACK", 206: "PLI"}.get(pt, str(pt))
             for pt, _fmt, _p in rtcp_packets(nack)))}

{c_array("gst_pli_compound", pli,
         "rtpbin after GstForceKeyUnit: " + ", ".join(
             {201: "RR", 202: "SDES", 205: "generic NACK", 206: "PLI"}.get(pt, str(pt))
             for pt, _fmt, _p in rtcp_packets(pli)))}
/* clang-format on */

#endif
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="the header to write (default: stdout)")
    ap.add_argument("--attempts", type=int, default=5)
    a = ap.parse_args()
    Gst.init(None)
    try:
        orig, rtx, x264_core = capture_rtx()
        nack, pli = capture_feedback(a.attempts)
    except RuntimeError as e:
        print(f"gst_rtcp_vectors: {e}", file=sys.stderr)
        return 1
    print(f"gst_rtcp_vectors: {Gst.version_string()}: original {len(orig)} bytes, RTX {len(rtx)}, "
          f"NACK compound {len(nack)}, PLI compound {len(pli)}", file=sys.stderr)
    command = "tests/tools/gst_rtcp_vectors.py --out tests/unit/rtcp_fb_gst_vectors.h"
    text = header(orig, rtx, x264_core, nack, pli, command)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
