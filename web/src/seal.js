// SPDX-License-Identifier: MIT
// Opening a sealed segment (format VGSEAL02) as docs/sealed-segments.md,
// "Reading", says, and the two tags its chain binds. `sodium` is a ready
// libsodium-wrappers; nothing here touches the page.

const MAGIC = 'VGSEAL02';
const HEADER = 234; // magic 8, sealed key 80, stream header 24, place 122
const PLACE = 112;
const CHUNK = 65536; // plaintext of every chunk but the last
const ABYTES = 17; // secretstream: 1 tag byte + 16-byte MAC
const ascii = (s) => new TextEncoder().encode(s);
const AD_LABEL = ascii('vigil-seal-v2\0');
const HEAD_LABEL = ascii('vigil-head-v2\0');
const CHAIN_LABEL = ascii('vigil-chain-v2\0');

// Link kinds whose tag is the chain tag of the segment linked to (next,
// stopped, disk), and those that bind its head tag (abandoned, crashed,
// disk cut). Kind 0 (none) links to nothing.
export const LINK_NAMES = ['none', 'next', 'abandoned', 'stopped', 'crashed', 'disk', 'disk, cut'];
export const BINDS_CHAIN_TAG = new Set([1, 3, 5]);

export class Refused extends Error {}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const u32 = (b, at) => new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0);
const allZero = (b) => b.every((x) => x === 0);

// The place (bytes 112..233): refused when any field is outside the format.
export function parsePlace(header) {
  const p = header.subarray(PLACE, HEADER);
  const n = p[0];
  if (n < 1 || n > 64) throw new Refused(`place: camera name length ${n}`);
  const camera = String.fromCharCode(...p.subarray(1, 1 + n));
  if (!/^[A-Za-z0-9_-]+$/.test(camera)) throw new Refused('place: camera name outside [A-Za-z0-9_-]');
  if (!allZero(p.subarray(1 + n, 65))) throw new Refused('place: padding after the camera name is not zero');
  const place = {
    camera,
    seq: u32(p, 65),
    kind: p[85],
    prev: u32(p, 86),
    tag: p.slice(90, 122),
  };
  if (place.kind >= LINK_NAMES.length) throw new Refused(`place: link kind ${place.kind}`);
  if (place.kind === 0 && (place.prev !== 0 || !allZero(place.tag)))
    throw new Refused('place: link kind none with a previous segment');
  return place;
}

// Opens `bytes` (the whole file) found as `camera`'s segment number `seq`
// with the owner's secret key `sk`. Returns {plaintext, place, headTag,
// chainTag}, or throws Refused saying why; nothing of a refused segment is
// returned.
export function openSealed(sodium, bytes, sk, camera, seq) {
  const magic = bytes.length < 8 ? '' : String.fromCharCode(...bytes.subarray(0, 8));
  if (magic === 'VGSEAL01') throw new Refused('VGSEAL01 (before chains): open it with vigil-open');
  if (magic !== MAGIC) throw new Refused('not a sealed segment');
  if (bytes.length < HEADER) throw new Refused('truncated header');
  const header = bytes.subarray(0, HEADER);
  const place = parsePlace(header);
  // Before anything is decrypted: the file must be where it was sealed for.
  if (place.camera !== camera || place.seq !== seq)
    throw new Refused(`moved or renamed: sealed as ${place.camera}'s segment ${place.seq}`);

  const pk = sodium.crypto_scalarmult_base(sk);
  let key;
  try {
    key = sodium.crypto_box_seal_open(bytes.subarray(8, 88), pk, sk);
  } catch {
    throw new Refused('wrong key, or the header was altered');
  }
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(bytes.subarray(88, 112), key);
  sodium.memzero(key);

  const ad = concat(AD_LABEL, header.subarray(PLACE, HEADER));
  const plaintext = new Uint8Array(bytes.length - HEADER);
  let at = HEADER;
  let n = 0;
  for (;;) {
    const left = bytes.length - at;
    if (left < ABYTES) throw new Refused('truncated: the final chunk is missing');
    const chunk = bytes.subarray(at, at + Math.min(CHUNK + ABYTES, left));
    at += chunk.length;
    const r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad);
    if (!r) throw new Refused(`chunk at offset ${at - chunk.length} does not authenticate (altered, reordered or cut)`);
    const final = r.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (!final && (r.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE || r.message.length < CHUNK))
      throw new Refused('not this format: chunk tag or length');
    plaintext.set(r.message, n);
    n += r.message.length;
    if (final) {
      if (at !== bytes.length) throw new Refused('data after the final chunk');
      break;
    }
  }
  return {
    plaintext: plaintext.slice(0, n),
    place,
    headTag: sodium.crypto_generichash(32, concat(HEAD_LABEL, header)),
    chainTag: sodium.crypto_generichash(32, concat(CHAIN_LABEL, header, bytes.subarray(bytes.length - 16))),
  };
}
