// SPDX-License-Identifier: MIT
// Builds the player into dist/: index.html, player.css and player.js, one
// bundle of src/player.js with hls.js and libsodium-wrappers (nothing is
// fetched from elsewhere at run time).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = `${here}dist`;
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
await build({
  entryPoints: [`${here}src/player.js`],
  outfile: `${dist}/player.js`,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'chrome100',
  // libsodium's Emscripten glue asks for Node's crypto only when it runs
  // under Node; the browser never takes that branch.
  external: ['crypto'],
});
for (const f of ['index.html', 'player.css']) copyFileSync(`${here}src/${f}`, `${dist}/${f}`);
// The bundle's Subresource Integrity value, to publish with a release: a
// page the owner keeps can load player.js from a server with
// integrity="sha384-...", and the browser runs it only while it is this one.
const sri = `sha384-${createHash('sha384').update(readFileSync(`${dist}/player.js`)).digest('base64')}`;
writeFileSync(`${dist}/player.js.sri`, `${sri}\n`);
