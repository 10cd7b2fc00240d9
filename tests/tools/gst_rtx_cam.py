#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A GStreamer camera that answers feedback: H.264 through rtpbin, RFC 4588
retransmission (rtprtxsend as rtpbin's aux sender), SRTP and SRTCP under
AEAD_AES_256_GCM (srtpenc), out of one UDP socket that also receives the
server's SRTCP (symmetric RTP, RFC 4961), through srtpdec into rtpbin, so
its generic NACKs reach rtprtxsend and its PLIs the encoder. A seeded
random loss drops outgoing packets after srtpenc, and the feedback coming
back too.

  gst_rtx_cam.py --key HEX88 --ssrc N --dest IP:PORT --ref FILE
                 [--rtx-ssrc N] [--pt 96] [--rtx-pt 97] [--port LOCAL_PORT]
                 [--num-buffers 300] [--size 640x480] [--fps 30] [--key-int 60]
                 [--loss PERCENT] [--feedback-loss PERCENT] [--seed S]
                 [--linger SECONDS] [--pattern NAME]

--ref FILE gets what the encoder produced (Annex B, one access unit per
frame), like gst_cam.sh --ref. Without --rtx-ssrc there is no aux sender:
NACKs are counted and not answered. After the last frame the pipeline
stays up --linger seconds (default 1) so the last NACKs are answered, then
ends. Prints one JSON object on stdout:
  frames           frames encoded (the reference holds them)
  sent, dropped    packets that left the socket, and dropped by --loss
  rtp, rtx         of those sent: the camera's SRTP and RTX packets
  srtcp            of those sent, SRTCP packets by sender SSRC:
                   {"<ssrc>": {"packets": n, "indexes": [first..last]}}
  rtx_requests, rtx_packets  rtprtxsend's counts (requests it took, RTX it made)
  feedback         SRTCP packets received; feedback_dropped by --feedback-loss;
                   feedback_refused: received, kept, and not decrypted by srtpdec
  nack_packets, nacked, pli   generic NACK messages, sequence numbers they
                   name, picture loss indications (after decryption)
  feedback_ssrcs   the sender SSRCs of what was decrypted
Exit 0 on EOS, 1 on a pipeline error or a time-out.
"""
import argparse
import json
import random
import struct
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gio, GLib, Gst  # noqa: E402

RTCP_RTPFB, RTCP_PSFB = 205, 206  # RFC 4585 6.1
FMT_NACK, FMT_PLI = 1, 1


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--key", required=True, help="88 hex digits: master key || salt")
    ap.add_argument("--ssrc", type=int, required=True)
    ap.add_argument("--rtx-ssrc", type=int)
    ap.add_argument("--pt", type=int, default=96)
    ap.add_argument("--rtx-pt", type=int, default=97)
    ap.add_argument("--dest", required=True, help="IP:PORT of vigild")
    ap.add_argument("--port", type=int, default=5004, help="local UDP port (sends and receives)")
    ap.add_argument("--ref", required=True)
    ap.add_argument("--num-buffers", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--key-int", type=int, default=60)
    ap.add_argument("--loss", type=float, default=0.0, help="percent of outgoing packets dropped")
    ap.add_argument("--feedback-loss", type=float, help="percent of feedback dropped (default: --loss)")
    ap.add_argument("--seed", default="gst_rtx_cam")
    ap.add_argument("--linger", type=float, default=1.0)
    ap.add_argument("--pattern", default="smpte")
    a = ap.parse_args()
    if len(a.key) != 88 or any(c not in "0123456789abcdefABCDEF" for c in a.key):
        ap.error("--key must be 88 hex digits (key||salt)")
    if a.feedback_loss is None:
        a.feedback_loss = a.loss
    a.width, a.height = (int(v) for v in a.size.split("x"))
    a.host, a.dport = a.dest.rsplit(":", 1)
    a.dport = int(a.dport)
    return a


class Camera:
    def __init__(self, a):
        self.a = a
        self.stats = {
            "frames": 0, "sent": 0, "dropped": 0, "rtp": 0, "rtx": 0, "srtcp": {},
            "rtx_requests": 0, "rtx_packets": 0,
            "feedback": 0, "feedback_dropped": 0, "feedback_refused": 0,
            "nack_packets": 0, "nacked": 0, "pli": 0, "feedback_ssrcs": [],
        }
        self.fb_kept = 0
        self.fb_decrypted = 0
        self.out_rng = random.Random(f"{a.seed}/out")
        self.in_rng = random.Random(f"{a.seed}/in")
        # The funnel pushes from the RTP and the RTCP threads at once.
        self.wire_lock = threading.Lock()
        self.rtx = None
        self.failed = False
        self.loop = GLib.MainLoop()
        self.build()

    # ---- the pipeline -------------------------------------------------------

    def build(self):
        a = self.a
        # One socket for both ways: vigild answers where the packets come from.
        self.sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)
        self.sock.bind(Gio.InetSocketAddress.new_from_string("0.0.0.0", a.port), True)
        self.key_caps = Gst.Caps.from_string(
            f"application/x-srtcp, srtp-key=(buffer){a.key}, srtp-cipher=(string)aes-256-gcm, "
            "srtp-auth=(string)null, srtcp-cipher=(string)aes-256-gcm, srtcp-auth=(string)null")
        # Everything but rtpbin: it must have its aux sender handler before
        # its session is made, which requesting its first pad does.
        # videotestsrc has no num-buffers: the frames past the last are
        # dropped (on_raw), so nothing ends before the linger.
        desc = (
            # Scrolling a pixel a frame: every frame differs, so a recorded
            # frame is found in its one place in the reference.
            f"videotestsrc is-live=true pattern={a.pattern} horizontal-speed=1 name=src "
            f"! video/x-raw,format=I420,width={a.width},height={a.height},framerate={a.fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={a.key_int} "
            "! video/x-h264 ! tee name=t "
            "t. ! queue ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au "
            f"! filesink location={a.ref} "
            f"t. ! queue ! rtph264pay name=pay config-interval=1 mtu=1200 pt={a.pt} ssrc={a.ssrc} "
            "identity name=rtp_in silent=true ! se.rtp_sink_0 "
            "identity name=rtcp_in silent=true ! se.rtcp_sink_0 "
            f"srtpenc name=se key={a.key} rtp-cipher=aes-256-gcm rtp-auth=null "
            "rtcp-cipher=aes-256-gcm rtcp-auth=null "
            "se.rtp_src_0 ! mux.sink_0 se.rtcp_src_0 ! mux.sink_1 "
            # identity splits buffer lists: the loss probe after it sees packets.
            "funnel name=mux ! identity name=wire silent=true "
            f"! udpsink name=out host={a.host} port={a.dport} sync=false async=false close-socket=false "
            "udpsrc name=in close-socket=false caps=application/x-srtcp ! sd.rtcp_sink "
            "srtpdec name=sd"
        )
        self.pipeline = Gst.parse_launch(desc)
        rb = Gst.ElementFactory.make("rtpbin", "rb")
        rb.set_property("rtp-profile", "savpf")
        if a.rtx_ssrc is not None:
            rb.connect("request-aux-sender", self.on_aux_sender)
        self.pipeline.add(rb)
        el = self.pipeline.get_by_name
        self.src, self.out, self.inp, self.sd = (el(n) for n in ("src", "out", "in", "sd"))
        self.out.set_property("socket", self.sock)
        self.inp.set_property("socket", self.sock)
        self.sd.connect("request-key", lambda _e, _ssrc: self.key_caps)
        self.link(el("pay").get_static_pad("src"), rb.request_pad_simple("send_rtp_sink_0"))
        self.link(rb.get_static_pad("send_rtp_src_0"), el("rtp_in").get_static_pad("sink"))
        self.link(rb.request_pad_simple("send_rtcp_src_0"), el("rtcp_in").get_static_pad("sink"))
        self.link(self.sd.get_static_pad("rtcp_src"), rb.request_pad_simple("recv_rtcp_sink_0"))
        self.src.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_raw)
        el("wire").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_wire)
        self.inp.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self.on_feedback)
        self.sd.get_static_pad("rtcp_src").add_probe(Gst.PadProbeType.BUFFER, self.on_rtcp)

    @staticmethod
    def link(src, sink):
        if src is None or sink is None:
            raise RuntimeError("a pad to link is missing")
        ret = src.link(sink)
        if ret != Gst.PadLinkReturn.OK:
            raise RuntimeError(f"cannot link {src.get_name()} to {sink.get_name()}: {ret}")

    def on_aux_sender(self, _rb, session):
        a = self.a
        rtx = Gst.ElementFactory.make("rtprtxsend", None)
        rtx.set_property("payload-type-map",
                         Gst.Structure.new_from_string(f"application/x-rtp-pt-map, {a.pt}=(uint){a.rtx_pt}"))
        rtx.set_property("ssrc-map",
                         Gst.Structure.new_from_string(f"application/x-rtp-ssrc-map, {a.ssrc}=(uint){a.rtx_ssrc}"))
        # vigild holds packets after a gap for RetransmitHoldMs (200 ms by
        # default) and asks again every 40 ms: keep a second of packets.
        rtx.set_property("max-size-packets", 0)
        rtx.set_property("max-size-time", 1000)
        self.rtx = rtx
        b = Gst.Bin.new(f"rtx{session}")
        b.add(rtx)
        for name, pad in ((f"sink_{session}", "sink"), (f"src_{session}", "src")):
            g = Gst.GhostPad.new(name, rtx.get_static_pad(pad))
            b.add_pad(g)
        return b

    # ---- probes -------------------------------------------------------------

    def on_raw(self, _pad, info):
        if self.stats["frames"] >= self.a.num_buffers:
            return Gst.PadProbeReturn.DROP
        self.stats["frames"] += 1
        if self.stats["frames"] == self.a.num_buffers:
            GLib.timeout_add(int(self.a.linger * 1000) + 200, self.finish)
        return Gst.PadProbeReturn.OK

    def finish(self):
        self.pipeline.send_event(Gst.Event.new_eos())
        GLib.timeout_add_seconds(5, self.eos_late)
        return False

    def eos_late(self):
        # Every frame is out (the reference is written AU by AU): an EOS
        # that rtpbin holds up at teardown (it happens, now and then,
        # when the session has taken PLIs) is no failure of the camera.
        print("gst_rtx_cam: EOS did not reach the sinks in 5 s: stopped", file=sys.stderr)
        self.loop.quit()
        return False

    def on_wire(self, _pad, info):
        with self.wire_lock:
            return self.count_wire(info.get_buffer())

    def count_wire(self, buf):
        data = buf.extract_dup(0, min(buf.get_size(), 12))
        if self.out_rng.random() * 100 < self.a.loss:
            self.stats["dropped"] += 1
            return Gst.PadProbeReturn.DROP
        self.stats["sent"] += 1
        if len(data) >= 8 and 192 <= data[1] <= 223:
            ssrc = struct.unpack("!I", data[4:8])[0]
            tail = buf.extract_dup(buf.get_size() - 4, 4)
            index = struct.unpack("!I", tail)[0] & 0x7FFFFFFF
            s = self.stats["srtcp"].setdefault(str(ssrc), {"packets": 0, "indexes": []})
            s["packets"] += 1
            s["indexes"].append(index)
        elif len(data) >= 12 and data[1] & 0x7F == self.a.rtx_pt:
            self.stats["rtx"] += 1
        else:
            self.stats["rtp"] += 1
        return Gst.PadProbeReturn.OK

    def on_feedback(self, _pad, info):
        self.stats["feedback"] += 1
        if self.in_rng.random() * 100 < self.a.feedback_loss:
            self.stats["feedback_dropped"] += 1
            return Gst.PadProbeReturn.DROP
        self.fb_kept += 1
        return Gst.PadProbeReturn.OK

    def on_rtcp(self, _pad, info):
        buf = info.get_buffer()
        data = buf.extract_dup(0, buf.get_size())
        self.fb_decrypted += 1
        off = 0
        while off + 8 <= len(data):
            fmt, pt = data[off] & 0x1F, data[off + 1]
            words = struct.unpack("!H", data[off + 2:off + 4])[0]
            end = off + 4 * (words + 1)
            sender = struct.unpack("!I", data[off + 4:off + 8])[0]
            if sender not in self.stats["feedback_ssrcs"]:
                self.stats["feedback_ssrcs"].append(sender)
            if pt == RTCP_RTPFB and fmt == FMT_NACK:
                self.stats["nack_packets"] += 1
                for fci in range(off + 12, end, 4):
                    blp = struct.unpack("!H", data[fci + 2:fci + 4])[0]
                    self.stats["nacked"] += 1 + bin(blp).count("1")
            elif pt == RTCP_PSFB and fmt == FMT_PLI:
                self.stats["pli"] += 1
            off = end
        return Gst.PadProbeReturn.OK

    # ---- running ------------------------------------------------------------

    def on_message(self, _bus, msg):
        if msg.type == Gst.MessageType.EOS:
            self.loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f"gst_rtx_cam: {msg.src.get_name()}: {err.message} ({dbg})", file=sys.stderr)
            self.failed = True
            self.loop.quit()
        elif msg.type == Gst.MessageType.WARNING:
            err, dbg = msg.parse_warning()
            print(f"gst_rtx_cam: warning: {msg.src.get_name()}: {err.message}", file=sys.stderr)

    def timeout(self):
        print("gst_rtx_cam: no EOS in time", file=sys.stderr)
        self.failed = True
        self.loop.quit()
        return False

    def run(self):
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            print("gst_rtx_cam: the pipeline does not start", file=sys.stderr)
            return 1
        GLib.timeout_add_seconds(int(self.a.num_buffers / self.a.fps + self.a.linger + 30), self.timeout)
        self.loop.run()
        if self.rtx is not None:
            self.stats["rtx_requests"] = self.rtx.get_property("num-rtx-requests")
            self.stats["rtx_packets"] = self.rtx.get_property("num-rtx-packets")
        self.pipeline.set_state(Gst.State.NULL)
        self.stats["feedback_refused"] = self.fb_kept - self.fb_decrypted
        json.dump(self.stats, sys.stdout)
        print()
        return 1 if self.failed else 0


def main():
    a = parse_args()
    Gst.init(None)
    return Camera(a).run()


if __name__ == "__main__":
    sys.exit(main())
