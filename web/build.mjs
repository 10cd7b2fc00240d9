// SPDX-License-Identifier: MIT
// Builds the player into dist/: index.html, player.css and player.js, one
// bundle of src/player.js with hls.js and libsodium-wrappers (nothing is
// fetched from elsewhere at run time).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
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
