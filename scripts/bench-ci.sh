#!/usr/bin/env bash
# Every benchmark at its small size, for CI: Criterion with short samples, the load test
# at 1 s per point, and the spec-edit rebuild (the clean build is skipped). Runs in about a
# minute once the release build exists (scripts/bench-*.sh build what they need).
#
# Exits non-zero only when a benchmark fails to run; a missed target is printed, never an
# error: timings on a shared CI machine are evidence, not a gate.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

failed=()
run() {
    local name=$1
    shift
    printf '\n==== %s (%ss)\n' "$name" "$SECONDS"
    if ! "$@"; then
        failed+=("$name")
    fi
}

SOPHIC_BENCH_QUICK=1 run "criterion: client_overhead, decode_orders (quick)" \
    cargo bench -p sophic-bench -- --warm-up-time 0.5 --measurement-time 1 --sample-size 10
run "load: sandbox beside Prism (quick)" scripts/bench-load.sh --quick
run "build: rebuild after a spec edit" scripts/bench-build.sh --incremental

printf '\n==== done (%ss)\n' "$SECONDS"
if ((${#failed[@]})); then
    printf 'bench-ci: did not run: %s\n' "${failed[@]}" >&2
    exit 1
fi
