#!/usr/bin/env bash
# Throughput and latency of the sandbox binary beside Prism mocking the same spec.
#
#   scripts/bench-load.sh            # 1 s warm-up + 3 s per point, 1/8/32 connections
#   scripts/bench-load.sh --quick    # 0.25 s + 1 s per point (CI)
#   scripts/bench-load.sh -- --ops get-instrument --connections 32   # flags for loadgen
#
# Starts `target/release/sophic-sandbox --clock held` and `prism mock openapi/orders.yaml`
# (at --verboseLevel error, its fastest) on free loopback ports, runs `loadgen` against
# both, prints the table and the targets, and stops both servers whatever happens. When
# `taskset` is there, both servers share CPU 0 and the generator has CPU 1 to itself
# (BENCH_PIN=0 turns that off). Exits non-zero only when a benchmark cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

loadgen_args=()
while (($#)); do
    case "$1" in
        --quick) loadgen_args+=(--quick) ;;
        --) shift; loadgen_args+=("$@"); break ;;
        *) echo "usage: $0 [--quick] [-- loadgen flags]" >&2; exit 2 ;;
    esac
    shift
done

prism=node_modules/.bin/prism
if [[ ! -x $prism ]]; then
    echo "bench-load: $prism is missing: run 'npm install --no-audit --no-fund'" >&2
    exit 1
fi

echo "bench-load: building the sandbox and loadgen (release)" >&2
cargo build --release --quiet -p sophic-bench -p sophic-sandbox --bins

server_cpu=() generator_cpu=()
if [[ ${BENCH_PIN:-1} == 1 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
    server_cpu=(taskset -c 0) generator_cpu=(taskset -c 1)
fi

work=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

source .ci/lib/ports.sh

# wait_for FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN.
wait_for() {
    local deadline=$((SECONDS + $3))
    until grep -qE "$2" "$1"; do
        if ((SECONDS >= deadline)) || ! kill -0 "$4" 2>/dev/null; then
            echo "bench-load: $1 never said /$2/:" >&2
            tail -20 "$1" >&2
            return 1
        fi
        sleep 0.2
    done
}

: >"$work/sandbox.log"
"${server_cpu[@]}" target/release/sophic-sandbox --host 127.0.0.1 --port 0 --clock held \
    >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_for "$work/sandbox.log" 'listening on http://127\.0\.0\.1:[0-9]+' 30 "${pids[-1]}"
sandbox_url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/sandbox.log" | head -1)

prism_port=$(free_port)
"${server_cpu[@]}" "$prism" mock openapi/orders.yaml --host 127.0.0.1 --port "$prism_port" \
    --verboseLevel error >"$work/prism.log" 2>&1 &
pids+=($!)
prism_url="http://127.0.0.1:$prism_port"
deadline=$((SECONDS + 90))
until curl -fsS -o /dev/null -H 'Authorization: Bearer x' "$prism_url/instruments/ins_xyz789" 2>/dev/null; do
    if ((SECONDS >= deadline)) || ! kill -0 "${pids[-1]}" 2>/dev/null; then
        echo "bench-load: Prism did not start:" >&2
        tail -20 "$work/prism.log" >&2
        exit 1
    fi
    sleep 0.5
done

echo "bench-load: sandbox $sandbox_url, Prism $prism_url, pinned: ${server_cpu[*]:-no}" >&2
"${generator_cpu[@]}" target/release/loadgen --sandbox "$sandbox_url" --prism "$prism_url" \
    "${loadgen_args[@]}"
