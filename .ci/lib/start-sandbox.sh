# Sourced: starts target/debug/sophic-sandbox (or $SANDBOX_BIN) on a free loopback port with a held clock,
# and sets SANDBOX_URL, SANDBOX_ACCOUNT, SANDBOX_TOKEN and SANDBOX_WORK (a temp folder).
# The sandbox is stopped and the folder removed when the calling script exits.
cargo build --quiet --workspace --bins
SANDBOX_WORK="$(mktemp -d)"
"${SANDBOX_BIN:-target/debug/sophic-sandbox}" --port 0 --clock held >"$SANDBOX_WORK/banner" 2>"$SANDBOX_WORK/log" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true; rm -rf "$SANDBOX_WORK"' EXIT
# The banner is printed once the port is bound (a readiness poll, bounded to 10 s).
for _ in $(seq 1 100); do
    grep -q '^demo token' "$SANDBOX_WORK/banner" 2>/dev/null && break
    sleep 0.1
done
SANDBOX_URL="$(awk '/listening on/ {print $NF}' "$SANDBOX_WORK/banner")"
SANDBOX_ACCOUNT="$(awk '/^demo account/ {print $3}' "$SANDBOX_WORK/banner")"
SANDBOX_TOKEN="$(awk '/^demo token/ {print $3}' "$SANDBOX_WORK/banner")"
if [ -z "$SANDBOX_URL" ] || [ -z "$SANDBOX_ACCOUNT" ] || [ -z "$SANDBOX_TOKEN" ]; then
    cat "$SANDBOX_WORK/banner" "$SANDBOX_WORK/log" >&2
    exit 1
fi
