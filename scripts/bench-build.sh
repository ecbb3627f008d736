#!/usr/bin/env bash
# Build cost of the `sophic` crate (dev profile): a clean build, and the rebuild after a
# one-line edit of openapi/orders.yaml (the client is generated from it by build.rs).
#
#   scripts/bench-build.sh                # both, in a copy of the workspace with its own
#                                         # temporary target dir (deleted afterwards)
#   scripts/bench-build.sh --incremental  # (CI) the spec-edit rebuild only, in this checkout
#                                         # and its target/: edits openapi/orders.yaml and
#                                         # always restores it. Do not run it while another
#                                         # build of this checkout is running.
#
# Prints each time, the targets (clean < 40 s, spec-edit rebuild < 2 s), and where the
# time went (`cargo build --timings`, slowest units first). Exits non-zero only when a
# build fails; a missed target is reported, not an error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=full
case "${1:-}" in
    "") ;;
    --incremental) mode=incremental ;;
    *) echo "usage: $0 [--incremental]" >&2; exit 2 ;;
esac

CLEAN_TARGET=40
EDIT_TARGET=2
SPEC=openapi/orders.yaml
# The one-line edit: a field description, which changes only doc comments of the client.
EDIT_FROM="description: The order's id (\`ord_…\`)."
EDIT_TO="description: The order's id (\`ord_…\`), as the API assigned it."

work=$(mktemp -d)
restore_spec=""
cleanup() {
    if [[ -n $restore_spec ]]; then
        # Restored with a fresh mtime, so that the next build regenerates from it.
        cat "$work/orders.yaml.saved" >"$restore_spec"
        echo "bench-build: restored $restore_spec" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { echo "$EPOCHREALTIME"; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
verdict() { awk -v t="$1" -v max="$2" 'BEGIN { print (t < max) ? "met" : "MISSED" }'; }

# Slowest units of the latest --timings report under $1 (needs python3; skipped without).
slowest_units() {
    local report
    # The newest report (cargo names them by time).
    report=$(find "$1/cargo-timings" -name 'cargo-timing-*.html' 2>/dev/null | sort | tail -1)
    [[ -n $report ]] && command -v python3 >/dev/null || return 0
    python3 - "$report" <<'PY'
import json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
if not match:
    sys.exit(0)
units = sorted(json.loads(match.group(1)), key=lambda u: -u["duration"])
units = [u for u in units if u["duration"] >= 0.01]  # the fresh ones take no time
total = sum(u["duration"] for u in units)
print(f"    {len(units)} units built, {total:.1f} s of compilation in all (on every core); slowest:")
for u in units[:8]:
    what = u["name"] + (" (build script)" if u.get("mode") == "run-custom-build" else "")
    print(f"    {u['duration']:7.2f} s  {what} {u['version']}")
groups = {
    "TLS: aws-lc-sys, aws-lc-rs (rustls' default provider, docs/decisions/0004)":
        lambda n: n.startswith("aws-lc"),
    "the generator, a build-dependency: progenitor, typify, sophic-codegen, openapiv3, prettyplease":
        lambda n: n.startswith(("progenitor", "typify", "sophic-codegen", "openapiv3", "prettyplease")),
    "our crates: sophic-client, sophic": lambda n: n in ("sophic-client", "sophic"),
}
if any(u["name"].startswith("aws-lc") for u in units):  # a clean build
    print("    by origin (seconds of compilation):")
    for label, member in groups.items():
        print(f"    {sum(u['duration'] for u in units if member(u['name'])):7.2f} s  {label}")
PY
}

# replace FILE FROM TO: the first FROM in FILE becomes TO.
replace() {
    grep -qF "$2" "$1" || { echo "bench-build: $1 has no line '$2'" >&2; exit 1; }
    python3 -c 'import sys; p,a,b=sys.argv[1:]; s=open(p,encoding="utf-8").read(); open(p,"w",encoding="utf-8").write(s.replace(a,b,1))' \
        "$1" "$2" "$3"
}

if [[ $mode == full ]]; then
    # A copy of the workspace, so that the spec edit never touches this checkout.
    mkdir -p "$work/ws"
    git ls-files -z -co --exclude-standard -- Cargo.toml Cargo.lock rustfmt.toml .cargo \
        crates xtask tests openapi | tar --null -T - -cf - | tar -C "$work/ws" -xf -
    export CARGO_TARGET_DIR="$work/target"
    cd "$work/ws"

    echo "bench-build: clean build of sophic (dev) in $CARGO_TARGET_DIR" >&2
    start=$(now)
    cargo build --quiet -p sophic --timings
    clean=$(seconds_since "$start")
    clean_units=$(slowest_units "$CARGO_TARGET_DIR")

    start=$(now)
    cargo build --quiet -p sophic
    noop=$(seconds_since "$start")
else
    echo "bench-build: warm build of sophic (dev) in target/" >&2
    cargo build --quiet -p sophic
    cp -p "$SPEC" "$work/orders.yaml.saved"
    restore_spec="$root/$SPEC"
fi

# Three one-line edits (there, back, there again), each followed by a timed rebuild; the
# median is reported. The last one is profiled.
echo "bench-build: rebuilds after editing a description in $SPEC" >&2
edits=()
for step in 1 2 3; do
    if ((step == 2)); then replace "$SPEC" "$EDIT_TO" "$EDIT_FROM"; else replace "$SPEC" "$EDIT_FROM" "$EDIT_TO"; fi
    timings=()
    ((step == 3)) && timings=(--timings)
    start=$(now)
    cargo build --quiet -p sophic "${timings[@]}"
    edits+=("$(seconds_since "$start")")
done
edit=$(printf '%s\n' "${edits[@]}" | sort -n | sed -n 2p)
edit_units=$(slowest_units "${CARGO_TARGET_DIR:-$root/target}")

if [[ $mode == full ]]; then
    # The same clean build without a TLS backend (plain http: the sandbox), which
    # separates the cost of the TLS choice (docs/decisions/0004) from the rest.
    echo "bench-build: clean build of sophic without TLS (--no-default-features --features client)" >&2
    start=$(now)
    CARGO_TARGET_DIR="$work/target-no-tls" cargo build --quiet -p sophic --no-default-features --features client
    no_tls=$(seconds_since "$start")
fi

echo
echo "| build of sophic (dev profile) | seconds | target | |"
echo "|---|---:|---:|---|"
if [[ $mode == full ]]; then
    echo "| clean (empty target dir) | $clean | < $CLEAN_TARGET | $(verdict "$clean" "$CLEAN_TARGET") |"
    echo "| clean, without a TLS backend (context) | $no_tls | | |"
    echo "| no-op rebuild | $noop | | |"
fi
echo "| after a one-line spec edit (median of ${edits[*]}) | $edit | < $EDIT_TARGET | $(verdict "$edit" "$EDIT_TARGET") |"
echo
if [[ $mode == full ]]; then
    echo "clean build, where the time went:"
    echo "$clean_units"
fi
echo "spec-edit rebuild, where the time went:"
echo "$edit_units"
