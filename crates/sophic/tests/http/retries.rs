//! Which failures are retried, how long the client waits, and that a retry never places an
//! order twice.

use std::time::Duration;

use serde_json::json;
use sophic::prelude::*;
use sophic::types::{CreateWebhookRequest, ErrorCode};
use sophic::{ClientBuilder, RetryPolicy};
use tokio::time::Instant;

use crate::support::{
    Canned, account, account_orders, builder, client, dropping_server, order, order_id, scripted,
    timerless_http,
};

fn buy() -> OrderRequest {
    OrderRequest::buy(&"ins_xyz789".parse().unwrap(), "100.00".parse().unwrap()).into()
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_call_waits_for_retry_after_then_succeeds() {
    let (server, script) = scripted([
        Canned::error(429, "rate_limited").header("retry-after", "3"),
        Canned::json(200, order("ord_abc123", "placed")),
    ]);
    let started = Instant::now();

    let order = account_orders(&server).get(&order_id()).await.unwrap();

    assert_eq!(order.id, "ord_abc123");
    assert_eq!(script.seen().len(), 2);
    // The clock is held still, so this is the SDK's wait alone: Retry-After, not the
    // millisecond backoff configured.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_budget_returns_the_rate_limit_at_once() {
    let (server, script) =
        scripted([Canned::error(429, "rate_limited").header("retry-after", "120")]);
    let client = builder(&server)
        .retry_policy(RetryPolicy::default().budget(Duration::from_secs(30)))
        .build()
        .unwrap();

    let started = Instant::now();
    let err = client
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();

    assert_eq!(err.code(), Some(&ErrorCode::RateLimited));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(script.seen().len(), 1);
    // At once: the held clock would jump over a 120 s sleep, so the elapsed time shows it.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_placement_sends_one_idempotency_key_on_every_attempt() {
    let (server, script) = scripted([
        Canned::error(500, "internal_error"),
        Canned::error(503, "internal_error"),
        Canned::json(201, order("ord_abc123", "placed")),
        // The look for a twin (the 500 may have placed it): none.
        Canned::json(200, json!([])),
    ]);

    let order = account_orders(&server).place(buy()).await.unwrap();

    assert_eq!(order.status, OrderStatus::Placed);
    let seen = script.seen();
    assert_eq!(seen.len(), 4);
    let (placements, look) = seen.split_at(3);
    let keys: Vec<_> = placements
        .iter()
        .map(|s| s.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys[0].len(), 36, "{keys:?}");
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
    assert_eq!(look[0].method, "GET");
    assert_eq!(look[0].uri.path(), "/accounts/acc_123456/orders");
    let query = look[0].uri.query().unwrap_or_default();
    assert!(
        query.contains("instrument=ins_xyz789") && query.contains("created%5Bgte%5D="),
        "{query}"
    );
    for request in placements {
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri.path(), "/accounts/acc_123456/orders");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"instrument": "ins_xyz789", "order_type": "market", "side": "buy", "cash_amount": "100.00"})
        );
    }
}

#[tokio::test]
async fn two_placements_get_two_keys() {
    let (server, script) = scripted([
        Canned::json(201, order("ord_1", "placed")),
        Canned::json(201, order("ord_2", "placed")),
    ]);
    let orders = account_orders(&server);

    orders.place(buy()).await.unwrap();
    orders.place(buy()).await.unwrap();

    let seen = script.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.header("idempotency-key").is_some()),
        "every placement sends a key"
    );
    assert_ne!(
        seen[0].header("idempotency-key"),
        seen[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn a_caller_supplied_key_is_sent_on_every_attempt() {
    let (server, script) = scripted([
        Canned::error(502, "internal_error"),
        Canned::json(201, order("ord_abc123", "placed")),
        Canned::json(200, json!([])),
    ]);

    account_orders(&server)
        .place(buy())
        .idempotency_key("checkout-42")
        .await
        .unwrap();

    let keys: Vec<_> = script
        .seen()
        .iter()
        .filter(|s| s.method == "POST")
        .map(|s| s.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["checkout-42", "checkout-42"]);
}

#[tokio::test]
async fn a_key_still_in_progress_is_retried_with_the_same_key() {
    let (server, script) = scripted([
        Canned::error(409, "idempotency_request_in_progress"),
        Canned::json(201, order("ord_abc123", "placed")),
        Canned::json(200, json!([])),
    ]);

    account_orders(&server).place(buy()).await.unwrap();

    let seen = script.seen();
    assert_eq!(seen.len(), 3, "two attempts and the look for a twin");
    let key = seen[0].header("idempotency-key").expect("a key is sent");
    assert_eq!(key.len(), 36, "{key}");
    assert_eq!(
        seen[0].header("idempotency-key"),
        seen[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn a_reused_key_is_not_retried() {
    let (server, script) = scripted([Canned::error(409, "idempotency_key_reused")]);

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert_eq!(err.code(), Some(&ErrorCode::IdempotencyKeyReused));
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test]
async fn a_replayed_placement_is_returned_as_the_original() {
    let (server, _script) = scripted([
        Canned::json(201, order("ord_abc123", "placed")).header("idempotent-replayed", "true")
    ]);

    let order = account_orders(&server).place(buy()).await.unwrap();

    assert_eq!(order.id, "ord_abc123");
}

#[tokio::test]
async fn a_replayed_server_error_is_final() {
    let (server, script) = scripted([
        Canned::error(500, "internal_error").header("idempotent-replayed", "true"),
        Canned::json(201, order("ord_abc123", "placed")),
    ]);

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert!(err.api().unwrap().replayed);
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test]
async fn a_cancellation_keeps_its_key_across_attempts() {
    let (server, script) = scripted([
        Canned::error(504, "internal_error"),
        Canned::json(200, order("ord_abc123", "cancelled")),
    ]);

    let order = account_orders(&server).cancel(&order_id()).await.unwrap();

    assert_eq!(order.status, OrderStatus::Cancelled);
    let seen = script.seen();
    assert_eq!(
        seen[0].uri.path(),
        "/accounts/acc_123456/orders/ord_abc123/cancel"
    );
    assert!(seen[0].header("idempotency-key").is_some());
    assert_eq!(
        seen[0].header("idempotency-key"),
        seen[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn retries_stop_after_the_configured_attempts() {
    let (server, script) = scripted(std::iter::repeat_n(
        Canned::error(503, "internal_error"),
        10,
    ));

    let err = account_orders(&server).get(&order_id()).await.unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(script.seen().len(), 4);
}

#[tokio::test]
async fn a_refusal_is_returned_at_once_with_the_whole_story() {
    let (server, script) = scripted([Canned::json(
        400,
        json!({
            "code": "insufficient_funds",
            "detail": "Available cash is below the order's cash amount.",
            "params": [{"path": "body.cash_amount", "detail": "exceeds available cash", "code": "invalid"}],
            "context": {"required": "100.00", "available": "20.00", "currency": "USD"}
        }),
    )
    .header("request-id", "req_funds")]);

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert_eq!(script.seen().len(), 1);
    assert!(err.is_insufficient_funds());
    assert!(!err.is_retryable());
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.request_id(), Some("req_funds"));
    assert_eq!(err.params()[0].path, "body.cash_amount");
    assert_eq!(err.api().unwrap().context().unwrap()["available"], "20.00");
    assert_eq!(
        err.to_string(),
        "insufficient_funds: Available cash is below the order's cash amount.; \
         body.cash_amount: exceeds available cash (HTTP 400, request-id req_funds)"
    );
}

#[tokio::test]
async fn an_unknown_error_code_still_decodes() {
    let (server, _script) = scripted([Canned::error(403, "account_frozen")]);

    let err = account_orders(&server).get(&order_id()).await.unwrap_err();

    assert_eq!(
        err.code(),
        Some(&ErrorCode::Unknown("account_frozen".into()))
    );
}

#[tokio::test]
async fn a_body_that_does_not_decode_is_kept_raw() {
    let (server, _script) = scripted([Canned {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: "{\"id\": 42".into(),
    }]);

    let err = account_orders(&server).get(&order_id()).await.unwrap_err();

    let sophic::Error::Decode { body, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(&body[..], b"{\"id\": 42");
}

#[tokio::test]
async fn a_webhook_registration_is_not_retried_after_a_server_error() {
    let (server, script) = scripted([Canned::error(500, "internal_error")]);

    let err = client(&server)
        .webhooks()
        .create(CreateWebhookRequest::builder().url("https://example.com/hook"))
        .await
        .unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test]
async fn a_webhook_registration_is_retried_after_a_rate_limit() {
    let secret = sophic::webhooks::WebhookSecret::from_bytes([3; 32]);
    let (server, script) = scripted([
        Canned::error(429, "rate_limited").header("retry-after", "0"),
        Canned::json(
            201,
            json!({
                "id": "wh_1", "url": "https://example.com/hook", "description": null,
                "enabled_events": [], "disabled": false, "secret": secret.expose_secret(),
                "created_at": "2026-03-12T14:05:00Z", "modified_at": "2026-03-12T14:05:00Z"
            }),
        ),
    ]);

    let created = client(&server)
        .webhooks()
        .create(CreateWebhookRequest::builder().url("https://example.com/hook"))
        .await
        .unwrap();

    assert_eq!(script.seen().len(), 2);
    assert_eq!(created.webhook.id, "wh_1");
    assert!(
        created.webhook.secret.is_none(),
        "the secret moves out of the webhook"
    );
    assert_eq!(created.secret.expose_secret(), secret.expose_secret());
}

#[tokio::test]
async fn a_connection_dropped_before_the_answer_is_retried() {
    let (base_url, connections) = dropping_server(1, order("ord_abc123", "placed"));
    let client = Client::builder()
        .base_url(base_url)
        .token("tok_test")
        .http_client(timerless_http())
        .retry_policy(crate::support::fast_retries())
        .build()
        .unwrap();

    let order = client.orders(&account()).get(&order_id()).await.unwrap();

    assert_eq!(order.id, "ord_abc123");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    // Bind and drop to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ClientBuilder::default()
        .base_url(format!("http://127.0.0.1:{port}"))
        .token("tok_test")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let err = client
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();

    assert!(matches!(err, sophic::Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
}
