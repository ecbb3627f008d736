#!/usr/bin/env python3
"""Writes the seeds of the sandbox_router fuzz target (fuzz/corpus/sandbox_router/seed_*).

The byte layout is the one `fuzz_targets/sandbox_router.rs` reads; 0 is always the
ordinary choice. Run from anywhere: python3 fuzz/sandbox_router_seeds.py
"""

import pathlib

# Indices into ROUTES of the target.
PLACE, LIST, PENDING, GET_ORDER, CANCEL, CASH, POSITIONS, INSTRUMENTS, INSTRUMENT, EVENTS = range(10)
NEW_WEBHOOK, UPDATE_WEBHOOK, TEST_WEBHOOK, TOKEN, TEST_ACCOUNT, CLIENT, CLOCK, ADVANCE = range(10, 18)
SETTLE, MARKET, ARM, FAULTS, CLEAR, RELEASE, DELIVERIES, RESET = range(18, 26)
PLACEHOLDERS = {PLACE: 1, LIST: 1, PENDING: 1, GET_ORDER: 2, CANCEL: 2, CASH: 1, POSITIONS: 1,
                INSTRUMENT: 1, UPDATE_WEBHOOK: 1, TEST_WEBHOOK: 1, MARKET: 1}


def request(route, body=(), auth=0, key=0, query=0):
    """A request with the ordinary ids, method and headers; `body` the shape's bytes
    (the route's own body), `auth` the Authorization choice, `key` the Idempotency-Key
    choice (1 key-1, 2 key-2)."""
    ids = [0] * PLACEHOLDERS.get(route, 0)
    headers = [auth, 0, key, 0, 0, 0]
    return bytes([route, *ids, query, 0, *headers, 0, *body])


def buy(decimal_index=0, key=0):  # side buy, flags 0, decimal from the list, ins_xyz789
    return request(PLACE, [0, 0, 0, decimal_index, 0], key=key)


def sell(decimal_index=8, key=0):  # "50" units
    return request(PLACE, [1, 0, 0, decimal_index, 0], key=key)


def advance(index):  # 0, 1, 2.5, 5, 60, 3600, 86400, ...
    return request(ADVANCE, [0, index])


def fault(kind, count=1, operation=None):
    op = [0] if operation is None else [1, operation]
    return request(ARM, [kind, count, *op, 0])


SEEDS = {
    "seed_buy": buy() + advance(6) + request(LIST),
    "seed_sell": sell(key=1) + sell(key=1) + advance(5) + request(POSITIONS) + request(CASH),
    "seed_cancel": buy() + request(CANCEL) + request(GET_ORDER) + request(PENDING),
    "seed_advance": buy() + buy(6) + advance(4) + request(SETTLE) + request(EVENTS) + request(CLOCK),
    "seed_stall": fault(3, 1, 0) + buy(key=1) + buy(key=1) + request(CASH),
    "seed_internal_error": fault(0, 2) + buy() + request(LIST) + request(FAULTS) + request(CLEAR),
    "seed_token": request(TEST_ACCOUNT, [0, 0, 0, 0, 0, 1, 0])
    + request(CLIENT, [0, 0, 0])
    + request(TOKEN, [0, 0, 0, 0, 0])
    + request(INSTRUMENTS, auth=3)
    + request(INSTRUMENT),
    "seed_webhook": request(NEW_WEBHOOK, [0, 1, 0, 0])
    + request(UPDATE_WEBHOOK, [0, 0, 0, 1])
    + request(TEST_WEBHOOK)
    + request(DELIVERIES),
    "seed_market": request(MARKET, [0, 1, 0]) + buy() + advance(6) + request(RESET) + request(CASH),
}

corpus = pathlib.Path(__file__).resolve().parent / "corpus" / "sandbox_router"
corpus.mkdir(parents=True, exist_ok=True)
for name, data in SEEDS.items():
    (corpus / name).write_bytes(data)
    print(f"{name}: {len(data)} bytes")
