//! Per-call settings: a builder's (or a handler's, or `Client::with_*`'s) timeout and
//! retry policy win over the client's, for that call only.

use std::sync::atomic::Ordering;

use serde_json::json;
use sophic::orders::OrderRequest;
use sophic::{Client, Error, RetryPolicy};

use crate::support::*;

fn buy() -> OrderRequest {
    OrderRequest::buy(&"ins_xyz789".parse().unwrap(), "100.00".parse().unwrap()).into()
}

#[tokio::test]
async fn a_calls_retry_policy_wins_over_the_clients() {
    // The client retries (fast_retries); this call does not.
    let (server, script) = scripted([
        Canned::error(503, "internal_error"),
        Canned::json(201, order("ord_abc123", "placed")),
    ]);
    let err = account_orders(&server)
        .place(buy())
        .retry_policy(RetryPolicy::none())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), Some(1), "{err}");
    assert_eq!(script.seen().len(), 1);

    // The client does not retry; this call does, and so succeeds.
    let (server, script) = scripted([
        Canned::error(503, "internal_error"),
        Canned::json(200, json!([])),
    ]);
    let client = builder(&server)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let orders: Vec<_> = {
        use futures::TryStreamExt as _;
        client
            .orders(&account())
            .list()
            .retry_policy(fast_retries())
            .stream()
            .try_collect()
            .await
            .unwrap()
    };
    assert!(orders.is_empty());
    assert_eq!(script.seen().len(), 2, "retried once, as the call asked");
    // The next call of the same client is back to the client's policy.
    let (server, _) = scripted([Canned::error(503, "internal_error")]);
    let plain = builder(&server)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = plain.orders(&account()).get(&order_id()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test]
async fn a_calls_timeout_limits_each_attempt_and_is_retried_like_a_timeout() {
    // A server that never answers; the client has no timeout of its own here.
    let (base_url, connections) = silent_server();
    let client = Client::builder()
        .base_url(&base_url)
        .token("tok_test")
        .http_client(timerless_http())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .with_timeout(ms(50))
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CallTimeout { .. }), "{err}");
    assert!(err.is_retryable());

    // A placement under a per-call timeout and two attempts: both time out, and the
    // outcome is unknown (each may have reached the service).
    let err = client
        .orders(&account())
        .place(buy())
        .timeout(ms(50))
        .retry_policy(fast_retries().max_attempts(2))
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    assert_eq!(err.attempts(), Some(2));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "one get, two placements"
    );
}
