#!/usr/bin/env bash
# Full-size fault and soak runs (CI runs the same tests at small sizes):
#   1,000 placements through the SDK under dropped connections, 500s and 429s;
#   a soak of concurrent buys, sells and cancels across accounts, invariants checked each step;
#   a soak across maturities: a year of simulated days of buys (with and without rollover),
#   sells, cancels and rollover switches, cash reconciled to the cent after every day.
# Usage: bash scripts/reliability.sh [placements] [soak steps] [soak days]
set -euo pipefail
cd "$(dirname "$0")/.."
export SOPHIC_FAULT_PLACEMENTS="${1:-1000}"
export SOPHIC_SOAK_STEPS="${2:-300}"
export SOPHIC_SOAK_DAYS="${3:-365}"
echo "placements: $SOPHIC_FAULT_PLACEMENTS, soak steps: $SOPHIC_SOAK_STEPS, soak days: $SOPHIC_SOAK_DAYS"
time cargo test --workspace --test reliability -- --nocapture --test-threads 1

# Memory per order: 100,000 placements (each keyed, so its answer is kept for replay), then
# settled, against the sandbox binary (RSS) and in process (live heap bytes).
orders="${SOPHIC_MEMORY_ORDERS:-100000}"
cargo build --release --quiet -p sophic-bench -p sophic-sandbox --bins
target/release/memory --orders "$orders"
target/release/memory --orders "$orders" --in-process
