// SPDX-License-Identifier: MIT
// A thumbnail of each segment's key frame, made in the browser (vigild
// never decodes video). hls.js hands every segment to Media Source
// Extensions as fMP4 (its BUFFER_APPENDING event), after the loader opened
// it when it is sealed; the first piece of a segment starts with its key
// frame, since vigild cuts segments at key frames (and a low-latency
// playlist's first part of a segment is its start). Each such piece goes,
// after the init segment it belongs to, into a MediaSource of its own on a
// detached video element; that element shows the key frame once seeked to
// where the piece begins, and it is drawn onto a canvas. One segment at a
// time, so the page never decodes more than the player and one thumbnail.
import Hls from 'hls.js';

const WIDTH = 160;
const once = (target, event) => new Promise((resolve) => target.addEventListener(event, resolve, { once: true }));

async function keyFrame(mime, init, media) {
  const v = document.createElement('video');
  v.muted = true;
  const ms = new MediaSource();
  v.src = URL.createObjectURL(ms);
  try {
    await once(ms, 'sourceopen');
    const sb = ms.addSourceBuffer(mime);
    for (const bytes of [init, media]) {
      sb.appendBuffer(bytes);
      await once(sb, 'updateend');
    }
    v.currentTime = sb.buffered.start(0);
    await once(v, 'seeked');
    const canvas = document.createElement('canvas');
    canvas.width = WIDTH;
    canvas.height = Math.round((WIDTH * v.videoHeight) / v.videoWidth);
    canvas.getContext('2d').drawImage(v, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/jpeg', 0.8);
  } finally {
    URL.revokeObjectURL(v.src);
  }
}

// describe(frag, part): {seq, state} of the segment hls.js loaded as frag
// (part: as that part of it).
export function makeThumbnails(hls, strip, describe) {
  let mime = null;
  let init = null;
  const done = new Set();
  let queue = Promise.resolve();
  hls.on(Hls.Events.BUFFER_CODECS, (_, tracks) => {
    const track = tracks.video ?? tracks.audiovideo;
    if (track) {
      mime = `${track.container};codecs="${track.codec}"`;
      init = track.initSegment;
    }
  });
  hls.on(Hls.Events.BUFFER_APPENDING, (_, { parent, type, frag, part, data }) => {
    if (parent !== 'main' || (type !== 'video' && type !== 'audiovideo') || data === init) return;
    // A part (low-latency HLS) that does not start with a key frame: the
    // segment's first part does.
    if (part && !part.independent) return;
    const { seq, state } = describe(frag, part);
    if (done.has(seq)) return;
    done.add(seq);
    // hls.js may reuse its buffers once appended: keep copies.
    const job = [mime, init.slice(), data.slice()];
    queue = queue
      .then(() => keyFrame(...job))
      .then((src) => {
        const img = new Image();
        img.src = src;
        img.dataset.seq = seq;
        img.dataset.state = state;
        img.title = `segment ${String(seq).padStart(8, '0')}`;
        const after = [...strip.children].find((el) => Number(el.dataset.seq) > seq);
        strip.insertBefore(img, after ?? null);
      })
      .catch((e) => console.warn(`no thumbnail for segment ${seq}: ${e.message}`));
  });
}
