#!/usr/bin/env bash
# Conformance with Stoplight Prism as the judge:
#   1. `prism proxy --errors` in front of the sandbox: the SDK's calls of every operation go
#      through it, and any request or answer that breaks openapi/orders.yaml fails the run;
#   2. `prism mock`: every operation's documented example decodes into the SDK's types.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/start-sandbox.sh
source .ci/lib/ports.sh

proxy_port="$(free_port)"
node_modules/.bin/prism proxy openapi/orders.yaml "$SANDBOX_URL" --errors --port "$proxy_port" --host 127.0.0.1 \
    >"$SANDBOX_WORK/prism-proxy.log" 2>&1 &
proxy=$!
mock_port="$(free_port)"
node_modules/.bin/prism mock openapi/orders.yaml --port "$mock_port" --host 127.0.0.1 \
    >"$SANDBOX_WORK/prism-mock.log" 2>&1 &
mock=$!
trap 'kill $SANDBOX_PID $proxy $mock 2>/dev/null || true; rm -rf "$SANDBOX_WORK"' EXIT
wait_port "$proxy_port" || { cat "$SANDBOX_WORK"/prism-*.log >&2; exit 1; }
wait_port "$mock_port" || { cat "$SANDBOX_WORK"/prism-*.log >&2; exit 1; }

export RUST_BACKTRACE=0
export SOPHIC_SANDBOX_URL="$SANDBOX_URL"
export SOPHIC_PROXY_URL="http://127.0.0.1:$proxy_port"
export SOPHIC_PRISM_MOCK_URL="http://127.0.0.1:$mock_port"
if ! cargo test --workspace --test conformance -- --ignored --test-threads 1; then
    echo "---- prism proxy log (violations) ----"
    grep -iE "violation|error" "$SANDBOX_WORK/prism-proxy.log" | tail -40 || true
    exit 1
fi
echo "prism violations logged by the proxy: $(grep -ciE 'violation' "$SANDBOX_WORK/prism-proxy.log" || true)"
