#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the web player into web/dist (index.html, player.js, player.css)
# from the npm packages pinned in package-lock.json. scripts/setup.sh runs it.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts  # esbuild runs without its postinstall check
npm run build
