#!/usr/bin/env bash
# Regenerates docs/screenshots/after/: every page of the gateway and of provider-kit's usermap flow
# in real headless Chromium, at desktop (1280 px) and phone (390 px) width. It runs the Chromium
# tour in tests/browser_screens.rs (which also asserts what each page shows) with SCREENSHOTS_DIR
# set. docs/screenshots/before/ was taken the same way from the code before the pages moved to
# templates.
#
#   scripts/screenshots.sh [output folder]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/screenshots/after}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cargo build --workspace --bins
SCREENSHOTS_DIR="$out" cargo test -p e2e --test browser_screens --test browser_access
ls "$out"
