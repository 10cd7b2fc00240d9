// SPDX-License-Identifier: MIT
// The player's reading of sealed segments (web/src/seal.js) on segments
// made here as docs/sealed-segments.md lays them out, including those vigild
// never writes (an empty final chunk, a whole final chunk with bytes after
// it, a short TAG_MESSAGE chunk). Real segments from vigild are opened in
// the browser by the integration test (play.mjs).
//   node --test tests/browser/
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Refused, openSealed } from '../../web/src/seal.js';

const sodium = createRequire(new URL('../../web/package.json', import.meta.url))('libsodium-wrappers');
await sodium.ready;
const MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
const FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
const owner = sodium.crypto_box_keypair();
const ascii = (s) => new TextEncoder().encode(s);
const concat = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
const u32 = (n) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

function place({ camera = 'lobby', seq = 7, kind = 1, prev = 6, tag = new Uint8Array(32).fill(9) } = {}) {
  const name = new Uint8Array(64);
  name.set(ascii(camera));
  return concat([camera.length], name, u32(seq), new Uint8Array(16).fill(5), [kind], u32(prev), tag);
}

// A segment as vigild writes one; `tags` overrides the chunks' tags and
// `pieces` their plaintext lengths, for the cases vigild never writes.
function seal(plaintext, { where = place(), pk = owner.publicKey, pieces, tags } = {}) {
  const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
  const ad = concat(ascii('vigil-seal-v2\0'), where);
  pieces ??= Array.from({ length: Math.floor(plaintext.length / 65536) + 1 }, (_, i) =>
    Math.min(65536, plaintext.length - i * 65536),
  );
  let at = 0;
  const chunks = pieces.map((n, i) => {
    const last = i === pieces.length - 1;
    const chunk = plaintext.subarray(at, at + n);
    at += n;
    return sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tags?.[i] ?? (last ? FINAL : MESSAGE));
  });
  return concat(ascii('VGSEAL02'), sodium.crypto_box_seal(key, pk), header, where, ...chunks);
}

const open = (bytes, camera = 'lobby', seq = 7) => openSealed(sodium, bytes, owner.privateKey, camera, seq);
const refused = (bytes, why, camera, seq) =>
  assert.throws(() => open(bytes, camera, seq), (e) => e instanceof Refused && why.test(e.message));
const flipped = (bytes, at) => {
  const b = bytes.slice();
  b[at] ^= 1;
  return b;
};
const text = sodium.randombytes_buf(2 * 65536 + 1000);

test('opens whole segments of every length class', () => {
  for (const n of [0, 1, 65535, 65536, 65537, 2 * 65536, text.length]) {
    const bytes = seal(text.subarray(0, n));
    assert.equal(bytes.length, 234 + n + 17 * (Math.floor(n / 65536) + 1));
    const r = open(bytes);
    assert.deepEqual(r.plaintext, text.subarray(0, n));
    assert.deepEqual([r.place.camera, r.place.seq, r.place.kind, r.place.prev], ['lobby', 7, 1, 6]);
  }
});

test('tags as the document defines them', () => {
  const bytes = seal(text);
  const r = open(bytes);
  const head = bytes.subarray(0, 234);
  assert.deepEqual(r.headTag, sodium.crypto_generichash(32, concat(ascii('vigil-head-v2\0'), head)));
  assert.deepEqual(
    r.chainTag,
    sodium.crypto_generichash(32, concat(ascii('vigil-chain-v2\0'), head, bytes.subarray(bytes.length - 16))),
  );
});

test('refuses a wrong key, and any altered byte', () => {
  const bytes = seal(text);
  assert.throws(
    () => openSealed(sodium, bytes, sodium.crypto_box_keypair().privateKey, 'lobby', 7),
    (e) => e instanceof Refused && /wrong key/.test(e.message),
  );
  refused(flipped(bytes, 3), /not a sealed segment/);
  refused(flipped(bytes, 8), /wrong key/); // the sealed key's ephemeral key
  refused(flipped(bytes, 60), /wrong key/); // the sealed key's box
  refused(flipped(bytes, 100), /does not authenticate/); // the stream header
  refused(flipped(bytes, 190), /does not authenticate/); // the run: additional data
  refused(flipped(bytes, 230), /does not authenticate/); // the link's tag
  for (const at of [234, 234 + 65553, bytes.length - 1]) refused(flipped(bytes, at), /does not authenticate/);
});

test('refuses a segment found elsewhere, before decrypting', () => {
  const bytes = seal(text);
  refused(bytes, /moved or renamed/, 'lobby', 8);
  refused(bytes, /moved or renamed/, 'garage', 7);
  // Even with a key that would not open it: the place is checked first.
  assert.throws(
    () => openSealed(sodium, bytes, new Uint8Array(32), 'garage', 7),
    (e) => /moved or renamed/.test(e.message),
  );
});

test('refuses a place outside the format', () => {
  const bad = (fields, patch) => {
    const p = place(fields);
    patch?.(p);
    return seal(text, { where: p });
  };
  refused(bad({}, (p) => (p[0] = 0)), /name length 0/);
  refused(bad({}, (p) => (p[0] = 65)), /name length 65/);
  refused(bad({ camera: 'lob.by' }), /outside/);
  refused(bad({}, (p) => (p[40] = 1)), /padding/);
  refused(bad({ kind: 7 }), /link kind 7/);
  refused(bad({ kind: 0, prev: 6, tag: new Uint8Array(32) }), /kind none/);
  refused(bad({ kind: 0, prev: 0 }), /kind none/);
  assert.equal(open(bad({ kind: 0, prev: 0, tag: new Uint8Array(32) })).place.kind, 0);
});

test('refuses a segment cut short or with bytes after it', () => {
  const bytes = seal(text);
  refused(bytes.subarray(0, 7), /not a sealed segment/);
  refused(bytes.subarray(0, 233), /truncated header/);
  refused(bytes.subarray(0, 234), /final chunk is missing/);
  refused(bytes.subarray(0, 234 + 65553), /final chunk is missing/); // at a chunk boundary
  refused(bytes.subarray(0, 234 + 65553 + 16), /final chunk is missing/);
  refused(bytes.subarray(0, bytes.length - 1), /does not authenticate/);
  refused(concat(bytes, [0]), /does not authenticate/);
});

test('refuses chunks outside the format', () => {
  // A final chunk of a whole 65536 bytes, then more.
  const whole = seal(text.subarray(0, 2 * 65536), { pieces: [65536, 65536], tags: [FINAL, MESSAGE] });
  refused(whole, /data after the final chunk/);
  // A short chunk that is not a final one.
  refused(seal(text.subarray(0, 100), { tags: [MESSAGE] }), /not this format/);
  // No final chunk at all: every chunk a TAG_MESSAGE.
  refused(seal(text.subarray(0, 65536), { pieces: [65536], tags: [MESSAGE] }), /final chunk is missing/);
  // Another secretstream tag.
  const rekey = sodium.crypto_secretstream_xchacha20poly1305_TAG_REKEY;
  refused(seal(text.subarray(0, 65536 + 5), { tags: [rekey] }), /not this format/);
  refused(concat(ascii('VGSEAL01'), seal(text).subarray(8)), /VGSEAL01/);
});
