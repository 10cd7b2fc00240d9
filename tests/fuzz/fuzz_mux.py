#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Seeds of fuzz_mux (its input format is in fuzz_mux.c): a few key frames
# of H.264 and H.265 (the 64x48 x264/x265 pictures of tests/unit/test_mux.c)
# with segment cuts, and those key frames with a parameter set whose body
# is 00 00 01 runs, which overflowed the fMP4 muxer's extradata before its
# bound was fixed (any run of more than ~70 does), and the frame with SPS
# cut short that held libavformat's hvcC writer for minutes (test_mux.c).
# usage: fuzz_mux.py OUT_DIR
import os
import struct
import sys

H264_KEY = bytes.fromhex(
    "000000016742c015da11ec05a830303528000003000800000301e478b175"  # SPS
    "0000000168ce3c80"  # PPS
    "0000000165888406a8930a0003fbf24f27275d75d75d75d780")  # IDR
H264_SLICE = 38
H265_KEY = bytes.fromhex(
    "0000000140010c01ffff01600000030090000003000003003f959409"  # VPS
    "0000000142010101600000030090000003000003003fa0208316595952930bffc0"
    "0040005a830303020000030002000003003c10"  # SPS
    "000000014401c073c089"  # PPS
    "000000012801ac15e0ea231b4ffa36f08da341da442a8f80")  # IDR_N_LP
H265_SLICE = 94
H265_SHORT_SPS = bytes.fromhex(
    "00000140010c01ffff01600000030090000003000000"
    "3f9594090000000142010101600003009000000300000300"
    "3fa02083165959520105780bb8000000030000000142010101600000030090000003000003003fa0208316595952930b3c10"
    "0000014401c073c0890000000144010001440100000000012801ac41da4401")


def record(au, key=True, cut=False, step=3000, lag=0, duration_240ths=8):
    flags = (1 if key else 0) | (2 if cut else 0) | duration_240ths << 2
    return struct.pack(">BHhB", flags, len(au), step, lag) + au


def runs(key, slice_at, hdr, n=256):
    return key[:slice_at] + b"\0\0\0\1" + hdr + (b"\0\0\1" + hdr) * n + key[slice_at:]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "h264_gop": b"\0" + record(H264_KEY) + record(H264_KEY, cut=True) + record(H264_KEY, lag=10),
        "h265_gop": b"\1" + record(H265_KEY) + record(H265_KEY, cut=True) + record(H265_KEY, lag=10),
        "h264_pps_runs": b"\0" + record(runs(H264_KEY, H264_SLICE, b"\x68")) + record(H264_KEY),
        "h265_pps_runs": b"\1" + record(runs(H265_KEY, H265_SLICE, b"\x44\x01")) + record(H265_KEY),
        "h265_short_sps": b"\1" + record(H265_SHORT_SPS) + record(H265_KEY),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
