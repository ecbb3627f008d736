#!/usr/bin/env bash
# A plain HTTP client (curl) following the contract against `sophic-sandbox`, with only the
# host, the account id and the token filled in: place, read, list, advance, read again.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/start-sandbox.sh
HOST="$SANDBOX_URL" ACCOUNT="$SANDBOX_ACCOUNT" TOKEN="$SANDBOX_TOKEN"

order="$(curl -sf -X POST "$HOST/accounts/$ACCOUNT/orders" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: smoke-1' \
    -d '{"instrument": "ins_xyz789", "order_type": "market", "side": "buy", "cash_amount": "100.00"}')"
echo "placed: $order"
id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$order")"
python3 -c 'import json,sys; o=json.load(sys.stdin); assert (o["status"], o["fees"], o["net_cash_amount"]) == ("placed", "0.50", "99.50"), o' <<<"$order"

curl -sf "$HOST/accounts/$ACCOUNT/orders/$id" -H "Authorization: Bearer $TOKEN" >/dev/null
curl -sf "$HOST/accounts/$ACCOUNT/orders" -H "Authorization: Bearer $TOKEN" \
    | python3 -c 'import json,sys; orders=json.load(sys.stdin); assert len(orders) == 1, orders'
curl -sf -X POST "$HOST/sandbox/clock/settle" >/dev/null
curl -sf "$HOST/accounts/$ACCOUNT/orders/$id" -H "Authorization: Bearer $TOKEN" \
    | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o["status"] == "settled", o; print("settled:", o["traded_quantity"], "units for", o["traded_notional"])'
echo "curl smoke: 1 passed, 0 failed"
