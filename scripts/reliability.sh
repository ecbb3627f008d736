#!/usr/bin/env bash
# Full-size fault and soak runs (CI runs the same tests at small sizes):
#   1,000 placements through the SDK under dropped connections, 500s and 429s;
#   a soak of concurrent buys, sells and cancels across accounts, invariants checked each step.
# Usage: bash scripts/reliability.sh [placements] [soak steps]
set -euo pipefail
cd "$(dirname "$0")/.."
export SOPHIC_FAULT_PLACEMENTS="${1:-1000}"
export SOPHIC_SOAK_STEPS="${2:-300}"
echo "placements: $SOPHIC_FAULT_PLACEMENTS, soak steps: $SOPHIC_SOAK_STEPS"
time cargo test --workspace --test reliability -- --nocapture --test-threads 1

# Memory per order: 100,000 placements (each keyed, so its answer is kept for replay), then
# settled, against the sandbox binary (RSS) and in process (live heap bytes).
orders="${SOPHIC_MEMORY_ORDERS:-100000}"
cargo build --release --quiet -p sophic-bench -p sophic-sandbox --bins
target/release/memory --orders "$orders"
target/release/memory --orders "$orders" --in-process
