#!/usr/bin/env bash
# Two sandbox binaries against the machine's ceiling, interleaved:
#
#   scripts/bench-ceiling.sh BEFORE_BIN AFTER_BIN [ROUNDS]            # ROUNDS defaults to 3
#   scripts/bench-ceiling.sh BEFORE_BIN AFTER_BIN 5 -- --connections 32 --duration 3
#
# Runs `scripts/bench-load.sh` without Prism (SANDBOX_BIN=…, BENCH_PRISM=0) once per binary
# per round, before, after, before, after, …: each run loads its sandbox and a fresh nginx
# serving that sandbox's own instrument answer, both on the same CPU, so each run's
# sandbox/nginx fraction is measured against the machine as it was during that run. Prints
# every run's figures, then per operation and connection count the fractions, the median
# of each side and the change of the median in percent. Flags after `--` go to loadgen
# (default: 1, 8 and 32 connections, 1 s pre-warm, 0.5 s warm-up + 2 s per point, about
# 40 s a run). The loadgen is this checkout's (built first unless BENCH_BUILD=0, or
# LOADGEN_BIN=path). Needs nginx. Exits non-zero when a run fails.
set -euo pipefail

usage() {
    echo "usage: $0 BEFORE_BIN AFTER_BIN [ROUNDS] [-- loadgen flags]" >&2
    exit 2
}
(($# >= 2)) || usage
before=$(realpath -e -- "$1") || usage
after=$(realpath -e -- "$2") || usage
shift 2
rounds=3
if (($#)) && [[ $1 != -- ]]; then
    rounds=$1
    shift
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
flags=(--connections 1,8,32 --prewarm 1 --warmup 0.5 --duration 2)
if (($#)); then
    [[ $1 == -- ]] || usage
    shift
    flags=("$@")
fi
for bin in "$before" "$after"; do
    [[ -x $bin ]] || { echo "bench-ceiling: $bin is not executable" >&2; exit 1; }
done
cd "$(dirname "$0")/.."

nginx=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
if [[ ! -x $nginx ]]; then
    echo "bench-ceiling: nginx is missing (.ci/install-tools installs nginx-light as root)" >&2
    exit 1
fi
export NGINX_BIN=$nginx

if [[ ${BENCH_BUILD:-1} != 0 ]]; then
    echo "bench-ceiling: building loadgen (release)" >&2
    cargo build --release --quiet -p sophic-bench --bin loadgen
fi
export LOADGEN_BIN=${LOADGEN_BIN:-${CARGO_TARGET_DIR:-target}/release/loadgen}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "bench-ceiling: before $before" >&2
echo "bench-ceiling: after  $after" >&2
echo "bench-ceiling: $rounds rounds, loadgen ${flags[*]}" >&2
for ((round = 1; round <= rounds; round++)); do
    for side in before after; do
        bin=$before
        [[ $side == after ]] && bin=$after
        run=$out/$round-$side
        echo "bench-ceiling: round $round/$rounds, $side ($SECONDS s)" >&2
        # Each point is bounded by loadgen; the timeout only guards against a hang.
        if ! SANDBOX_BIN=$bin BENCH_PRISM=0 BENCH_NGINX=1 BENCH_BUILD=0 \
            timeout -k 30 900 scripts/bench-load.sh -- "${flags[@]}" >"$run.md" 2>"$run.err"; then
            echo "bench-ceiling: round $round, $side did not run:" >&2
            tail -20 "$run.err" >&2
            exit 1
        fi
        grep -E '^ *(get-instrument|place-order) ' "$run.err" >&2 || true
    done
done

python3 - "$out" "$rounds" "$before" "$after" <<'PY'
import os, statistics, sys

out, rounds, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sides = ("before", "after")
points = {}  # (operation, connections) -> side -> [(sandbox req/s, nginx req/s, fraction)]
for round_ in range(1, rounds + 1):
    for side in sides:
        path = os.path.join(out, f"{round_}-{side}.md")
        lines = [l.strip() for l in open(path) if l.strip().startswith("|")]
        cells = lambda l: [c.strip() for c in l.strip("|").split("|")]
        header = cells(lines[0])
        for need in ("sandbox req/s", "nginx req/s", "sandbox/nginx"):
            if need not in header:
                sys.exit(f"bench-ceiling: {path} has no column {need!r}: {header}")
        col = {name: header.index(name) for name in header}
        for line in lines[2:]:
            row = cells(line)
            key = (row[col["operation"]], int(row[col["connections"]]))
            figures = tuple(float(row[col[n]]) for n in ("sandbox req/s", "nginx req/s", "sandbox/nginx"))
            points.setdefault(key, {s: [] for s in sides})[side].append(figures)

print(f"\nbefore: {before}\nafter:  {after}\n{rounds} rounds, interleaved (before, after, …)\n")
print("| operation | connections | round | before sandbox req/s | before nginx req/s | before sandbox/nginx "
      "| after sandbox req/s | after nginx req/s | after sandbox/nginx |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (op, conns), by_side in points.items():
    for i in range(rounds):
        b, a = by_side["before"][i], by_side["after"][i]
        print(f"| {op} | {conns} | {i + 1} | {b[0]:.0f} | {b[1]:.0f} | {b[2]:.3f} | {a[0]:.0f} | {a[1]:.0f} | {a[2]:.3f} |")

print("\n| operation | connections | before sandbox/nginx | after sandbox/nginx "
      "| median before | median after | change |")
print("|---|---:|---|---|---:|---:|---:|")
order = sorted(points, key=lambda k: (k[1] != 32, k[0], k[1]))  # 32 connections first
for key in order:
    by_side = points[key]
    fr = {s: [f[2] for f in by_side[s]] for s in sides}
    med = {s: statistics.median(fr[s]) for s in sides}
    change = (med["after"] / med["before"] - 1) * 100 if med["before"] > 0 else float("nan")
    listed = {s: ", ".join(f"{x:.3f}" for x in fr[s]) for s in sides}
    print(f"| {key[0]} | {key[1]} | {listed['before']} | {listed['after']} "
          f"| {med['before']:.3f} | {med['after']:.3f} | {change:+.1f}% |")
PY
