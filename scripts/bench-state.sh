#!/usr/bin/env bash
# What a state file costs (issue 14, docs/decisions/0014-durable-state.md):
#
#   scripts/bench-state.sh [ORDERS]          # ORDERS defaults to 100000
#
# 1. `memory` places ORDERS buys (each with an Idempotency-Key) on a held-clock sandbox
#    started with `--state`, settles them all, and reports resident memory per order;
# 2. the state file's size per order;
# 3. start-up: the sandbox restarted on that file, timed from exec to its banner (the
#    banner is printed once the whole journal is replayed), three times.
#
# Uses the release build (built first unless BENCH_BUILD=0). Placement throughput with and
# without `--state` is `scripts/bench-ceiling.sh` with a wrapper that adds `--state`
# (BENCHMARKS.md, "State that lasts").
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-100000}
release=${CARGO_TARGET_DIR:-target}/release
if [[ ${BENCH_BUILD:-1} != 0 ]]; then
    cargo build --release --quiet -p sophic-bench -p sophic-sandbox --bins
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
state=$work/state

"$release/memory" --orders "$orders" --sandbox "$release/sophic-sandbox" \
    --sandbox-args="--state $state"
bytes=$(stat -c %s "$state")
echo "state file: $bytes bytes, $((bytes / orders)) B per order (placed with a key, settled)"

for run in 1 2 3; do
    log=$work/start-$run.log
    start=$(date +%s%N)
    "$release/sophic-sandbox" --port 0 --clock held --state "$state" >"$log" 2>&1 &
    pid=$!
    until grep -q '^demo token:' "$log"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench-state: the sandbox did not start:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.005
    done
    end=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid" || true
    echo "start-up $run with $orders stored orders: $(((end - start) / 1000000)) ms"
done
