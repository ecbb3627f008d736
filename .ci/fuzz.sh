#!/usr/bin/env bash
# cargo-fuzz targets (decoding API answers, verifying webhook deliveries, arbitrary requests
# to the sandbox's router in-process), each for
# FUZZ_SECONDS (default 15; scripts/fuzz.sh runs them longer). Stable Rust: no sanitizer.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-15}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build --sanitizer none
for target in decode_responses webhook_payloads sandbox_router; do
    echo "== $target for ${seconds}s"
    # A private copy of the corpus: the committed seeds stay as they are.
    work="$(mktemp -d)"
    cp corpus/"$target"/seed_* "$work"/
    cargo fuzz run --sanitizer none "$target" "$work" -- -max_total_time="$seconds" 2>&1 | grep -E "^Done|DONE|panicked|crash-|ERROR" | tail -3
    rm -rf "$work"
done
echo "fuzz: 3 passed, 0 failed"
