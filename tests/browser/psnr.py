#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compares the frames the web player showed (tests/browser/play.mjs --out
DIR: DIR/frame-<t>.png) with the plain recording, decoded by ffmpeg.

    psnr.py --frames DIR [--threshold DB] RECORDING...

RECORDING: the plain recording the player played, as its playlist (.m3u8:
its segments, and its EXT-X-MAP init segment, are read from its folder) or
as its segment files in playlist order.

Same position: play.mjs seeks to t seconds after the first frame of the
playlist's first segment, as hls.js placed it. The reference for t is the
frame whose pts, less the first frame's pts, is the greatest <= t + 1 ms.
Times are taken relative to the first frame on both sides because
neither timeline starts at it: vigild's MPEG-TS timestamps do not start at
0 (the first pts is 0.567 s, its dts 0.033 s), and hls.js 1.7 keeps them
less the first dts (so the first frame is at 0.533 s in the video; fMP4
at 0). The 1 ms (play.mjs seeks 1 ms past t too) keeps a time that falls
on a frame's start (0.5 s at 30 frames/s) on that frame whatever the
rounding of either side.

For each frame it prints the PSNR (over R, G and B, 8 bits) against the
reference, and against the frame next to it (1/30 s away at 30 frames/s):
the nearest different position, which must score below the threshold, so
that the comparison can fail; the margin between the two is printed too.
Exit 1 when a frame is below the threshold or its neighbour is not, 2 on a
usage error.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile

# The threshold, from measurements (testsrc2 640x360, 30 frames/s, libx264
# 1 Mbit/s, Chromium 156, hls.js 1.7.4; 200 frames, plain, sealed or fMP4):
# the frame Chromium shows scores 44.2 to 44.8 dB against ffmpeg's decode
# of the same frame; the frame next to it 17.2 to 20.6 dB. Both decoders
# are bit exact H.264; the difference is the YUV -> RGB conversion
# (Chromium's own, its chroma upsampling and rounding, against swscale's).
# 35 dB is 9 dB below every match and 14 dB above every neighbour.
THRESHOLD_DB = 35.0
SLACK = 0.001


def run(*cmd, binary=False):
    out = subprocess.run(cmd, check=True, capture_output=True)
    return out.stdout if binary else out.stdout.decode()


def segments_of(paths):
    """The files to decode, in order: a playlist is expanded."""
    files = []
    for path in paths:
        if not path.endswith('.m3u8'):
            files.append(path)
            continue
        folder = os.path.dirname(path)
        for line in open(path):
            line = line.strip()
            m = re.match(r'#EXT-X-MAP:URI="([^"?]+)', line)
            if m:
                files.append(os.path.join(folder, m.group(1)))
            elif line and not line.startswith('#'):
                files.append(os.path.join(folder, line.split('?')[0]))
    return files


def decode(source, indices, stream):
    """Frames number `indices` (in presentation order) as rgb24 bytes."""
    select = '+'.join(f'eq(n\\,{i})' for i in sorted(indices))
    # Chromium takes an unspecified colour matrix (libx264 writes none) as
    # BT.709, where swscale takes BT.601: 24 dB instead of 44 here.
    matrix = 'auto' if stream.get('color_space', 'unknown') != 'unknown' else 'bt709'
    raw = run('ffmpeg', '-v', 'error', '-i', source, '-vf',
              f'select={select},scale=in_color_matrix={matrix}',
              '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-', binary=True)
    n = stream['width'] * stream['height'] * 3
    frames = [raw[k * n:(k + 1) * n] for k in range(len(raw) // n)]
    return dict(zip(sorted(indices), frames))


def png_rgb(path):
    return run('ffmpeg', '-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-', binary=True)


def psnr(a, b):
    if len(a) != len(b):
        return float('nan')
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    return math.inf if se == 0 else 10 * math.log10(255 * 255 * len(a) / se)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--frames', required=True)
    ap.add_argument('--threshold', type=float, default=THRESHOLD_DB)
    ap.add_argument('recording', nargs='+')
    args = ap.parse_args()

    shots = sorted((float(m.group(1)), os.path.join(args.frames, f))
                   for f in (os.listdir(args.frames) if os.path.isdir(args.frames) else [])
                   if (m := re.fullmatch(r'frame-([0-9.]+)\.png', f)))
    if not shots:
        print(f'psnr.py: no frame-<t>.png in {args.frames}', file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        # One file: the segments back to back (MPEG-TS, or init + fMP4).
        source = os.path.join(tmp, 'recording')
        with open(source, 'wb') as out:
            for f in segments_of(args.recording):
                out.write(open(f, 'rb').read())
        probe = json.loads(run('ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries',
                               'stream=width,height,color_space:frame=best_effort_timestamp_time', '-of', 'json',
                               source))
        pts = sorted(float(f['best_effort_timestamp_time']) for f in probe['frames'])
        rel = [p - pts[0] for p in pts]

        def index(t):
            return max(i for i, r in enumerate(rel) if r <= t + SLACK)

        pairs = []
        for t, path in shots:
            i = index(t)
            # Its neighbour: the next frame (the one before, for the last).
            pairs.append((t, path, i, i + 1 if i + 1 < len(rel) else i - 1))
        ref = decode(source, {i for p in pairs for i in p[2:]}, probe['streams'][0])

    failed = False
    for t, path, same, other in pairs:
        got = png_rgb(path)
        p_same, p_other = psnr(got, ref[same]), psnr(got, ref[other])
        ok = p_same >= args.threshold and p_other < args.threshold
        failed |= not ok
        print(f't={t:g}s: frame {same} (pts +{rel[same]:.3f}s) PSNR {p_same:.2f} dB; '
              f'its neighbour {other} {p_other:.2f} dB; margin {p_same - p_other:.2f} dB'
              f'{"" if ok else "  FAIL"}')
    print(f'threshold {args.threshold:g} dB: {"FAIL" if failed else "ok"}')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
