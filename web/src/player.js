// SPDX-License-Identifier: MIT
// vigil's web player. Its parameters are in the URL fragment, which the
// browser never sends: #camera=NAME&token=TOKEN[&from=ISO8601Z][&to=ISO8601Z]
// [&sealed=1] [&server=https://HOST:PORT] (sealed: the camera records sealed,
// so nothing else plays; server: for a copy of the page opened as a file).
// hls.js plays /cameras/NAME/index.m3u8 (a VOD playlist with from or to,
// else the live one). Sealed segments (NNNNNNNN.ts.sealed) are opened here
// with the owner's secret key, which the owner pastes into the page and
// which stays in this page's memory; only a segment that authenticated whole
// reaches hls.js.
import Hls from 'hls.js';
import sodium from 'libsodium-wrappers';
import { BINDS_CHAIN_TAG, LINK_NAMES, Refused, openSealed } from './seal.js';
import { makeThumbnails } from './thumbs.js';

const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const video = $('video');
const list = $('segments');

let hls = null;
let ownerKey = null; // Uint8Array(32): page memory only, never sent nor stored
let fatal = null; // the message of an error that stopped playback
let needKey = false;
let played = false;
let camera = ''; // the camera of the URL's fragment: every segment must be its
// The camera is sealed: said by the fragment (sealed=1, which vigilctl token
// writes for a sealed camera), or seen in a playlist. Then every segment must
// be a sealed one that opens: a server that lists a plain one instead (made-up
// video) is refused, not played.
let sealedOnly = false;

// What became of each segment the page loaded, by number: state is
// 'opened' (sealed, authenticated), 'refused' (sealed, did not open; none of
// it reached hls.js) or 'plain' (not sealed: nothing to check).
const segments = new Map();
// Of each opened sealed segment: its tags and the link its place holds, to
// check the chain between segments the page has opened (in either order).
const opened = new Map();
// A VOD playlist's segment numbers, and its first: a sealed segment whose
// place names a predecessor after that first one, which the playlist does
// not list, was left out by the server (missing, as vigil-open says).
let listed = null;

window.vigilPlayer = {
  hls: null,
  video,
  get segments() {
    return [...segments.values()].map(({ seq, state, reason, chain }) => ({ seq, state, reason, chain }));
  },
};

const pad8 = (n) => String(n).padStart(8, '0');

function updateStatus() {
  const all = [...segments.values()];
  const refused = all.filter((s) => s.state === 'refused').length;
  const broken = all.filter((s) => s.chain === 'broken').length;
  const missing = all.filter((s) => s.chain === 'missing').length;
  const notes = [];
  if (refused) notes.push(`${refused} segment(s) refused`);
  if (broken) notes.push(`${broken} chain link(s) broken`);
  if (missing) notes.push(`${missing} segment(s) missing before one that names it`);
  const tail = notes.length ? ` (${notes.join(', ')})` : '';
  let state;
  let text;
  if (fatal) [state, text] = ['error', fatal];
  else if (needKey) [state, text] = ['need-key', 'Sealed recording: the owner key is needed'];
  else if (played) [state, text] = ['playing', `Playing${tail}`];
  else if (refused) [state, text] = ['refused', `Nothing plays${tail}`];
  else [state, text] = ['loading', `Loading…${tail}`];
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function note(seq, fields) {
  let s = segments.get(seq);
  if (!s) {
    s = { seq, li: document.createElement('li') };
    s.li.dataset.seq = seq;
    segments.set(seq, s);
    const after = [...list.children].find((li) => Number(li.dataset.seq) > seq);
    list.insertBefore(s.li, after ?? null);
  }
  Object.assign(s, fields);
  const { li } = s;
  li.dataset.state = s.state;
  if (s.reason) li.dataset.reason = s.reason;
  if (s.chain) li.dataset.chain = s.chain;
  li.textContent = [pad8(seq), s.state, s.reason, s.link].filter(Boolean).join(' · ');
  updateStatus();
}

function fail(message) {
  fatal = message;
  updateStatus();
}

// The segment a URL names: /cameras/NAME/NNNNNNNN.ts[.sealed] or .m4s.
// Its number and camera are what a sealed segment's place must hold.
function segmentOf(url) {
  let parts;
  try {
    parts = new URL(url).pathname.split('/');
  } catch {
    return null; // a low-latency playlist's open segment: parts, no URL of its own
  }
  const m = /^(\d{8,10})\.(ts|ts\.sealed|m4s)$/.exec(parts.at(-1));
  return m && { camera: decodeURIComponent(parts.at(-2)), seq: Number(m[1]), sealed: m[2] === 'ts.sealed' };
}

// A link holds when the segment it names (opened here) has the tag it binds.
function checkLink(seq) {
  const s = opened.get(seq);
  if (!s || s.place.kind === 0) return;
  const prev = opened.get(s.place.prev);
  if (!prev) {
    if (listed && s.place.prev >= listed.first && !listed.seqs.has(s.place.prev))
      note(seq, { chain: 'missing', link: `follows ${pad8(s.place.prev)}, which the playlist does not list: missing` });
    return;
  }
  const bound = BINDS_CHAIN_TAG.has(s.place.kind) ? prev.chainTag : prev.headTag;
  const holds = sodium.memcmp(bound, s.place.tag);
  note(seq, {
    chain: holds ? 'ok' : 'broken',
    link: `follows ${pad8(s.place.prev)} (${LINK_NAMES[s.place.kind]}): ${holds ? 'holds' : 'does not hold, one of the two was replaced'}`,
  });
}

function noteOpened(seq, result) {
  opened.set(seq, result);
  note(seq, { state: 'opened', link: result.place.kind === 0 ? 'starts a chain' : undefined });
  checkLink(seq);
  for (const [later, s] of opened) if (s.place.kind !== 0 && s.place.prev === seq) checkLink(later);
}

// What hls.js does after a refused segment: it skips it and plays on. The
// loader reports the segment as failed (hls.js's FRAG_LOAD_ERROR) and marks
// it as a GAP, what EXT-X-GAP says of a segment: no media here. hls.js's
// retry of it then ends at once in FRAG_GAP, without fetching it again; the
// segment counts as a hole, playback jumps over it, and the segments after
// it (one altered segment says nothing of the others) load and play. So
// the owner sees all that is authentic, and the status and the list say
// which segment is missing and why. hls.js jumps over a hole between media
// it has, not over one before any (the first segment refused, or the first
// at the live edge): it would load that segment again and again. Loading
// starts again after it instead, and the playhead goes to the media that
// follows (FRAG_BUFFERED, in main).
function refuse(frag, seq, reason) {
  note(seq, { state: 'refused', reason });
  frag.gap = true;
  frag.tagList.push(['GAP']);
  if (!video.buffered.length) setTimeout(() => hls.startLoad(frag.end));
}

// hls.js's own loader fetches every segment; this one, given to hls.js as
// fLoader, stands between it and hls.js for sealed segments.
class VigilLoader extends Hls.DefaultConfig.loader {
  load(context, config, callbacks) {
    const where = segmentOf(context.url);
    const not = !where
      ? sealedOnly && 'not a sealed segment (an init segment, of a camera that records sealed)'
      : where.camera !== camera
        ? `a segment of another camera (${where.camera})`
        : sealedOnly && !where.sealed && 'not sealed, in a camera that records sealed: not played';
    // Refused once fetched, on the same path as a sealed segment that does
    // not open: nothing of it reaches hls.js.
    if (not) {
      return super.load(context, config, {
        ...callbacks,
        onProgress: undefined,
        onSuccess: (response, stats, ctx, details) => {
          if (where) refuse(ctx.frag, where.seq, not);
          else fail(`Refused: ${not}`);
          callbacks.onError({ code: 0, text: `refused: ${not}` }, ctx, details, stats);
        },
      });
    }
    if (!where) return super.load(context, config, callbacks); // an init segment
    if (!where.sealed) {
      return super.load(context, config, {
        ...callbacks,
        onSuccess: (...args) => {
          note(where.seq, { state: 'plain' });
          callbacks.onSuccess(...args);
        },
      });
    }
    return super.load(context, config, {
      ...callbacks,
      // hls.js's loader hands each piece it receives to onProgress, which
      // would go to the demuxer: the sealed bytes stay here.
      onProgress: undefined,
      onSuccess: (response, stats, ctx, details) => {
        let result;
        try {
          if (!ownerKey) throw new Refused('no owner key given');
          result = openSealed(sodium, new Uint8Array(response.data), ownerKey, where.camera, where.seq);
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
          refuse(ctx.frag, where.seq, e.message);
          callbacks.onError({ code: 0, text: `refused: ${e.message}` }, ctx, details, stats);
          return;
        }
        noteOpened(where.seq, result);
        const data = result.plaintext.buffer;
        callbacks.onProgress?.(stats, ctx, data, details);
        callbacks.onSuccess({ ...response, data }, stats, ctx, details);
      },
    });
  }
}

function readKey(text) {
  let key;
  try {
    key = sodium.from_base64(text.trim(), sodium.base64_variants.ORIGINAL);
  } catch {
    throw new Error('not base64');
  }
  if (key.length !== 32) throw new Error(`${key.length} bytes, not 32`);
  return key;
}

function askKey() {
  needKey = true;
  updateStatus();
  const form = $('key-form');
  const text = $('key');
  const file = $('key-file');
  form.hidden = false;
  const take = (value) => {
    try {
      ownerKey = readKey(value);
    } catch (e) {
      $('key-error').textContent = `That is not an owner secret key: ${e.message}.`;
      return;
    }
    text.value = '';
    file.value = '';
    form.hidden = true;
    needKey = false;
    updateStatus();
    hls.startLoad();
  };
  form.onsubmit = (e) => {
    e.preventDefault();
    take(text.value);
  };
  file.onchange = async () => file.files[0] && take(await file.files[0].text());
}

// The playlist's URL. server (an http(s) origin) is for a copy of this page
// the owner keeps (a local file): it names the vigild to play from, which
// answers any origin (its tokens, not cookies, open the recordings).
function playlistUrl(params) {
  camera = params.get('camera') ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(camera)) throw new Error('no camera named in the URL (#camera=NAME&token=TOKEN)');
  sealedOnly = params.get('sealed') === '1';
  let server = '';
  // Only a copy of the page opened as a file takes server=: the page a
  // server serves plays from that server alone.
  if (params.has('server') && location.protocol === 'file:') {
    const u = new URL(params.get('server'));
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('server= is not an http(s) address');
    server = u.origin;
  }
  const query = new URLSearchParams({ token: params.get('token') ?? '' });
  for (const bound of ['from', 'to']) if (params.has(bound)) query.set(bound, params.get(bound));
  $('title').textContent = `vigil: ${camera}`;
  return `${server}/cameras/${camera}/index.m3u8?${query}`;
}

function explain(data) {
  const text = `${data.details} ${data.mimeType ?? ''} ${data.reason ?? ''} ${data.error?.message ?? ''}`;
  if (/hvc1|hev1|hevc|h\.?265/i.test(text))
    return 'This recording is H.265 (HEVC), which this browser cannot decode: it plays H.264 only.';
  return `Playback stopped: ${data.details}${data.error ? ` (${data.error.message})` : ''}`;
}

async function main() {
  let url;
  try {
    url = playlistUrl(new URLSearchParams(location.hash.slice(1)));
  } catch (e) {
    return fail(e.message);
  }
  if (!Hls.isSupported()) return fail('This browser has no Media Source Extensions: it cannot play HLS here.');
  await sodium.ready;
  // No worker: hls.js's ES module build has none built in, and a second
  // script would be one more file to serve; its demuxing of a camera's
  // segments is light on the main thread.
  hls = new Hls({ fLoader: VigilLoader, autoStartLoad: false, enableWorker: false });
  window.vigilPlayer.hls = hls;
  makeThumbnails(hls, $('thumbs'), (frag, part) => {
    const seq = segmentOf((part ?? frag).url)?.seq ?? frag.sn;
    return { seq, state: segments.get(seq)?.state };
  });
  // Loading starts once the playlist is known: at once when it is plain,
  // after the owner gave the key when it has sealed segments (a live
  // playlist may turn sealed later: loading stops there until the key).
  hls.on(Hls.Events.LEVEL_LOADED, (_, { details }) => {
    if (details.fragments.some((f) => segmentOf(f.url)?.sealed)) sealedOnly = true;
    // A live playlist lists only its last segments: only a whole one says
    // what is missing.
    if (!details.live) {
      const seqs = details.fragments.map((f) => segmentOf(f.url)?.seq).filter((n) => n !== undefined);
      // (A loop, not Math.min(...seqs): a day of 1 s segments is more
      // arguments than a call takes.)
      listed = { seqs: new Set(seqs), first: seqs.reduce((a, b) => (b < a ? b : a), Infinity) };
      for (const k of opened.keys()) checkLink(k);
    }
    if (needKey) return;
    if (!ownerKey && sealedOnly) {
      hls.stopLoad();
      askKey();
    } else if (!hls.loadingEnabled) hls.startLoad();
  });
  // The playhead before the first media there is (the first segment was
  // refused): to that media.
  hls.on(Hls.Events.FRAG_BUFFERED, () => {
    if (video.buffered.length && video.currentTime < video.buffered.start(0)) video.currentTime = video.buffered.start(0);
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (data.fatal) fail(explain(data));
  });
  video.addEventListener('playing', () => {
    played = true;
    updateStatus();
  });
  hls.attachMedia(video);
  hls.loadSource(url);
}

main().catch((e) => fail(`The player failed: ${e.message}`));
