"""Schemathesis hooks: `shape_acceptance`, a stricter replacement for `positive_data_acceptance`.

Fails only when a request Schemathesis generated as schema-valid (positive mode) is refused
for its SHAPE. Refusals that depend on emulator state (balances, instrument rules, sandbox
limits, unknown ids/clients, rate limits) are accepted.

The state codes are the contract's (section 7) and ErrorParamCode's in openapi/orders.yaml:
`not_found` (an unknown instrument or cursor), `too_large` (the sandbox's limits) and
`invalid_increment` (the instrument's own minimum, increment or precision).

Loaded by .ci/schemathesis.sh (`hooks = ".ci/schemathesis_hooks.py"` in its config).
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.generation.meta import REQUEST_SHAPE_PROBES, coverage_scenario

# Top-level `code`s whose refusal depends on state, not on the request's shape.
STATE_CODES = frozenset(
    {
        "insufficient_funds",
        "insufficient_units",
        "instrument_not_trading",
        "currency_not_supported",
        "not_found",
        "buy_order_forbidden",
        "sell_order_forbidden",
        "professional_trader_required",
        "permission_denied",
        "order_not_cancellable",
        "idempotency_key_reused",
        "idempotency_request_in_progress",
        "rate_limited",
    }
)
# `invalid_param` is a state refusal when every param at fault has one of these codes
# (sandbox limits / instrument rules).
STATE_PARAM_CODES = frozenset({"not_found", "too_large", "invalid_increment"})
# OAuth (RFC 6749) errors that are state: `(status, error)`.
# (An unknown client; a scope the client does not hold.)
STATE_OAUTH_ERRORS = frozenset({(401, "invalid_client"), (400, "invalid_scope")})


class RejectedPositiveShape(Failure):
    """A schema-valid request was refused for its shape (reported like `RejectedPositiveData`)."""

    # ST9xx is the custom-check group; ST901 keeps `st explain` hints (which describe the stock
    # `positive_data_acceptance`) out of the summary.
    code = "ST901"
    checks = ("shape_acceptance",)
    kind_title = "Schema-valid request refused for its shape"

    __slots__ = ("status_code", "refusal")

    def __init__(self, *, operation: str, message: str, status_code: int, refusal: str, title: str | None = None):
        super().__init__(operation=operation, title=title, message=message)
        self.status_code = status_code
        self.refusal = refusal

    @property
    def _unique_key(self) -> str:
        # One finding per operation, status and refusal reason (stock keys on status only).
        return f"{self.status_code}|{self.refusal}"


def _is_positive(case) -> bool:
    # Same test as the stock check (specs/openapi/checks.py:1064-1072): `requires_case_meta`,
    # then `case.meta.generation.mode.is_positive`. `case.meta` is frozen by `Case.call` after
    # `before_call` hooks ran and was revalidated, so it describes the request actually sent.
    meta = case.meta
    if meta is None:
        return False
    # Stock also skips coverage request-shape probes (`skips_on_unexpected_http_status`).
    if coverage_scenario(case) in REQUEST_SHAPE_PROBES:
        return False
    return meta.generation.mode.is_positive


def _refusal(response) -> tuple[bool, str, str]:
    """(is_state_refusal, reason_key, explanation)."""
    try:
        payload = response.json()
    except (ValueError, LookupError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False, "non-json", "the refusal is not JSON"
    if not isinstance(payload, dict):
        return False, "non-object", "the refusal is not a JSON object"
    if "code" not in payload and isinstance(payload.get("error"), str):
        error = payload["error"]
        if (response.status_code, error) in STATE_OAUTH_ERRORS:
            return True, f"oauth:{error}", ""
        return False, f"oauth:{error}", f"OAuth error `{error}`"
    code = payload.get("code")
    if code in STATE_CODES:
        return True, str(code), ""
    if code == "invalid_param":
        params = [p for p in (payload.get("params") or []) if isinstance(p, dict)]
        at_fault = [p for p in params if p.get("code") not in STATE_PARAM_CODES]
        if params and not at_fault:
            return True, "invalid_param", ""
        faults = [f"{p.get('path')} ({p.get('code')})" for p in at_fault]
        key = "invalid_param:" + ",".join(sorted(f"{p.get('path')}:{p.get('code')}" for p in at_fault))
        return False, key, "`invalid_param` for " + (", ".join(faults) or "no params")
    return False, str(code), f"code `{code}`"


@schemathesis.check
def shape_acceptance(ctx, response, case):
    """Schema-valid requests may be refused for state, never for their shape."""
    if not _is_positive(case):
        return True  # skipped, as the stock check's decorators do
    status = response.status_code
    # 2xx/3xx are acceptance; 5xx belongs to `not_a_server_error`.
    if not 400 <= status < 500:
        return None
    is_state, key, explanation = _refusal(response)
    if is_state:
        return None
    phase = case.meta.phase.name.value
    raise RejectedPositiveShape(
        operation=case.operation.label,
        message=f"Valid data should have been accepted\nRefused with {status}: {explanation} (phase: {phase})",
        status_code=status,
        refusal=key,
    )
