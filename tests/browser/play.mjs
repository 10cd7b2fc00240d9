#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Drives the web player (web/) in headless Chromium, as an owner would:
//
//   node tests/browser/play.mjs --url URL [--owner-key FILE] [--at 0.5,1.5]
//                               [--out DIR] [--timeout 60] [--latency N]
//
// opens URL (…/player/#camera=…&token=…), pastes the owner's secret key
// into the page when it asks for one, waits until the video plays
// (currentTime advances) or the page reports the segments refused or an
// error, then for each time of --at seeks the video there and writes the
// frame it shows as DIR/frame-<t>.png, and prints one JSON line:
// {"state", "message", "played", "frames": [{"t", "png", "media_time",
// "frame_time"}] (where it seeked, and the shown frame's own media time),
// "segments": [{"seq", "state", "reason", "chain"}], "thumbnails",
// "console_errors"}; png is null for a time that showed no frame.
// "segments" are those the page loaded: the ones played or seeked into
// (hls.js loads past a refused segment when the playhead gets to it), so a
// test that expects segment N refused seeks into it with --at.
// Frames are taken in the order given, at seeks from one to the next.
// --latency N: once playing (live), N samples half a second apart of how
// far the frame shown is behind the wall clock: now less the wall-clock
// time of that frame (the #EXT-X-PROGRAM-DATE-TIME of the last segment or
// part whose start was buffered before it, when vigild received that
// segment's first frame, plus the part's place in the segment and the
// frame's media time past that start), as
// "latency_ms": {"samples", "median"}. Not hls.js's playingDate: with
// parts, hls.js 1.7 places segments on its own timeline seconds away from
// their media (its latency then reads negative), and playingDate drifts.
// The camera, vigild and the browser share this host's clock. With it, what
// hls.js read of the playlist: "part_target" (0: no parts),
// "can_block_reload", "target_latency" (s).
// Exit 0 whenever it ran (the caller asserts on the JSON), 2 when the
// browser could not be driven.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    'owner-key': { type: 'string' },
    at: { type: 'string', default: '' },
    out: { type: 'string', default: '.' },
    timeout: { type: 'string', default: '60' },
    latency: { type: 'string', default: '0' },
  },
});
if (!opt.url) {
  console.error('usage: play.mjs --url URL [--owner-key FILE] [--at T,T...] [--out DIR] [--timeout S]');
  process.exit(2);
}
const deadline = Date.now() + Number(opt.timeout) * 1000;
const at = opt.at.split(',').filter(Boolean);
// Once refused segments stop changing for this long, nothing more will play.
const QUIET_MS = 3000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What the page shows, for the waits below and the result.
const observe = (page) =>
  page.evaluate(() => ({
    state: document.getElementById('status').dataset.state,
    message: [document.getElementById('status').textContent, document.getElementById('key-error').textContent]
      .filter(Boolean)
      .join(': '),
    // no vigilPlayer: the script did not run (refused by its integrity)
    time: window.vigilPlayer?.video.currentTime ?? 0,
    moving: !!window.vigilPlayer && !window.vigilPlayer.video.paused && window.vigilPlayer.video.readyState >= 2,
    segments: window.vigilPlayer?.segments ?? [],
    thumbnails: document.querySelectorAll('#thumbs img').length,
  }));

// Seeks to t seconds after the first frame of the playlist's first segment
// (where hls.js put it: its media timeline is the MPEG-TS one less the
// first decode timestamp) and returns the media time, the frame shown there
// as a PNG and that frame's own media time. 1 ms past t, so that a t on a
// frame's start (0.5 s at 30 frames/s) shows that frame whatever the
// rounding (psnr.py does the same). 'seeked' may come before Chromium has
// presented the new frame (a drawing then gets the one before, 2 times in
// 50 here): the frame is drawn once one was presented after the seek
// (requestVideoFrameCallback, counted from before it), or after PRESENT_MS
// when none comes (the frame at t is the one already shown). A time with
// nothing to show has no frame (png null): in a refused segment, it never
// gets to 'seeked' (FRAME_MS); past the end, the frame still shown is not
// one of that time (a frame of a camera lasts less than a second).
const FRAME_MS = 3000;
const PRESENT_MS = 1000;
const frameAt = (page, t) =>
  page.evaluate(
    async ([t, frameMs, presentMs]) => {
      const { hls, video } = window.vigilPlayer;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      if (!window.presented) {
        window.presented = { presentedFrames: 0 };
        const track = (now, metadata) => {
          window.presented = metadata;
          video.requestVideoFrameCallback(track);
        };
        video.requestVideoFrameCallback(track);
      }
      const first = hls.levels[hls.currentLevel].details.fragments[0];
      const time = (first.startPTS ?? first.start) + t + 0.001;
      video.pause();
      await sleep(50); // a frame of the playback may still be on its way
      const before = window.presented.presentedFrames;
      const seeked = await new Promise((resolve) => {
        video.addEventListener('seeked', () => resolve(true), { once: true });
        setTimeout(() => resolve(false), frameMs);
        video.currentTime = time;
      });
      if (!seeked) return { time, png: null };
      for (const end = performance.now() + presentMs; window.presented.presentedFrames === before; ) {
        if (performance.now() > end) break;
        await sleep(10);
      }
      const frameTime = window.presented.mediaTime;
      if (!(frameTime <= time && frameTime > time - 1)) return { time, png: null, frameTime };
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      return { time, png: canvas.toDataURL('image/png'), frameTime };
    },
    [Number(t), FRAME_MS, PRESENT_MS],
  );

async function run(browser) {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(opt.url);
  // Latency: where each segment's (or part's) first frame landed in the
  // media timeline (its start as buffered), with the wall-clock time vigild
  // received it (the segment's #EXT-X-PROGRAM-DATE-TIME, plus the part's
  // place in it).
  if (Number(opt.latency) > 0)
    await page
      .waitForFunction(() => window.vigilPlayer?.hls, null, { timeout: 20000 })
      .then(() =>
        page.evaluate(() => {
          window.anchors = [];
          window.vigilPlayer.hls.on('hlsFragBuffered', (_, { frag, part }) => {
            const es = (part ?? frag).elementaryStreams;
            const v = es?.video ?? es?.audiovideo;
            // A part starts its own duration into the segment (the
            // playlist's, exact: vigild writes them from the frames' times).
            if (v && Number.isFinite(frag.programDateTime))
              window.anchors.push([v.startPTS, frag.programDateTime + (part ? (part.start - frag.start) * 1000 : 0)]);
          });
        }),
      )
      .catch(() => {});

  let seen = await observe(page);
  let keyGiven = !opt['owner-key'];
  let start = null; // currentTime when the video was first seen moving
  let played = false;
  let lastChange = Date.now();
  while (Date.now() < deadline) {
    if (seen.state === 'need-key') {
      if (keyGiven) break; // none to give, or the page did not take it
      // Through the page's own form, as an owner pastes the key file's text.
      await page.fill('#key', readFileSync(opt['owner-key'], 'utf8'));
      await page.click('#key-open');
      keyGiven = true;
    }
    if (seen.moving && start === null) start = seen.time;
    played = start !== null && seen.time >= start + 0.25;
    if (played || seen.state === 'error') break;
    if (seen.state === 'refused' && Date.now() - lastChange > QUIET_MS) break;
    await sleep(100);
    const now = await observe(page);
    if (JSON.stringify(now.segments) !== JSON.stringify(seen.segments)) lastChange = Date.now();
    seen = now;
  }

  let latency;
  if (played && Number(opt.latency) > 0) {
    const samples = [];
    for (let i = 0; i < Number(opt.latency); i++) {
      await sleep(500);
      const ms = await page.evaluate(() => {
        const t = window.vigilPlayer.video.currentTime;
        const a = window.anchors?.filter(([at]) => at <= t).at(-1);
        return a ? Date.now() - (a[1] + (t - a[0]) * 1000) : NaN;
      });
      if (Number.isFinite(ms)) samples.push(ms);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    // What hls.js made of the playlist: low-latency HLS (parts, blocking
    // reloads) or not, and the latency it aims for.
    const ll = await page.evaluate(() => {
      const { hls } = window.vigilPlayer;
      const d = hls.latestLevelDetails ?? hls.levels[hls.currentLevel]?.details;
      return { part_target: d?.partTarget ?? 0, can_block_reload: !!d?.canBlockReload, target_latency: hls.targetLatency };
    });
    latency = { samples, median: sorted.length ? sorted[sorted.length >> 1] : null, ...ll };
  }

  const frames = [];
  if (played && at.length) {
    mkdirSync(opt.out, { recursive: true });
    for (const t of at) {
      const shot = await frameAt(page, t);
      let png = null;
      if (shot.png) {
        png = `${opt.out}/frame-${t}.png`;
        writeFileSync(png, Buffer.from(shot.png.slice(shot.png.indexOf(',') + 1), 'base64'));
      }
      frames.push({ t: Number(t), png, media_time: shot.time, frame_time: shot.frameTime });
    }
  }
  // Let the segments hls.js is still loading settle, so the list is whole.
  for (let quiet = Date.now(); Date.now() - quiet < QUIET_MS && Date.now() < deadline; ) {
    await sleep(200);
    const now = await observe(page);
    if (JSON.stringify(now.segments) !== JSON.stringify(seen.segments) || now.thumbnails !== seen.thumbnails)
      quiet = Date.now();
    seen = now;
  }
  return {
    state: seen.state,
    message: seen.message,
    played,
    frames,
    segments: seen.segments,
    thumbnails: seen.thumbnails,
    console_errors: consoleErrors,
    ...(latency && { latency_ms: latency }),
  };
}

let browser;
try {
  // playwright-core from web/node_modules (web/build.sh installs it).
  const require = createRequire(new URL('../../web/package.json', import.meta.url));
  browser = await require('playwright-core').chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // As root in a container: no sandbox; no GPU there; a muted video may
    // start without a gesture anyway, this only makes sure.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
  console.log(JSON.stringify(await run(browser)));
} catch (e) {
  console.error(`play.mjs: ${e.stack ?? e}`);
  process.exitCode = 2;
} finally {
  await browser?.close();
}
