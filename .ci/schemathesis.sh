#!/usr/bin/env bash
# schemathesis against a live sandbox with openapi/orders.yaml: no server errors and no
# response that breaks the spec. Bounded in time: SCHEMATHESIS_MAX_TIME seconds (default 60).
# Usage: bash .ci/schemathesis.sh [extra schemathesis run options]
# One worker: with two, hypothesis parses lambdas' source in two threads at once, and
# CPython 3.11.7's ast module is not thread-safe there (CI failed once with "SystemError: AST
# constructor recursion depth mismatch", CPython gh-106905). One worker is also reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/start-sandbox.sh
echo "sandbox at $SANDBOX_URL, account $SANDBOX_ACCOUNT"

# Path parameters name the demo account, so operations get past 403 and reach their logic.
cat >"$SANDBOX_WORK/schemathesis.toml" <<TOML
[parameters]
"path.account_id" = "$SANDBOX_ACCOUNT"
TOML

.venv/bin/schemathesis --config-file "$SANDBOX_WORK/schemathesis.toml" run openapi/orders.yaml \
    --url "$SANDBOX_URL" \
    --header "Authorization: Bearer $SANDBOX_TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-time "${SCHEMATHESIS_MAX_TIME:-60}" \
    --seed 20261123 \
    --workers 1 \
    "$@"
