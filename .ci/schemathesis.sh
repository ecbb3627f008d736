#!/usr/bin/env bash
# schemathesis against a live sandbox with openapi/orders.yaml, every check and every phase:
# no server errors, no response that breaks the spec, no schema-invalid request accepted,
# and no schema-valid request refused for its shape (`shape_acceptance`, in
# .ci/schemathesis_hooks.py, replaces the stock positive_data_acceptance, which cannot tell a
# refusal for state, such as insufficient funds or an unknown cursor, from one for shape).
# Bounded in time: SCHEMATHESIS_MAX_TIME seconds (default 60).
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
hooks = "$PWD/.ci/schemathesis_hooks.py"

[parameters]
"path.account_id" = "$SANDBOX_ACCOUNT"
TOML

.venv/bin/schemathesis --config-file "$SANDBOX_WORK/schemathesis.toml" run openapi/orders.yaml \
    --url "$SANDBOX_URL" \
    --header "Authorization: Bearer $SANDBOX_TOKEN" \
    --checks all --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --max-time "${SCHEMATHESIS_MAX_TIME:-60}" \
    --seed 20261123 \
    --workers 1 \
    "$@"
