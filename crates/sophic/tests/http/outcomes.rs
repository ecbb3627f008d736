//! A placement or cancellation that may have taken effect although it failed says so: an
//! unknown outcome, with the idempotency key sent and the attempts made. A refusal, or a
//! connection never made, is not one.

use serde_json::json;
use sophic::prelude::*;
use sophic::{ClientBuilder, RetryPolicy};

use crate::support::{
    Canned, Script, account, account_orders, builder, dropping_server, fast_retries, ms, order,
    order_id, scripted, silent_server, timerless_http,
};

fn buy() -> OrderRequest {
    OrderRequest::buy(&"ins_xyz789".parse().unwrap(), "100.00".parse().unwrap()).into()
}

/// The one key every request the script saw carried.
fn the_key_sent(script: &Script) -> String {
    let seen = script.seen();
    let key = seen[0].header("idempotency-key").unwrap().to_owned();
    assert!(
        seen.iter()
            .all(|s| s.header("idempotency-key") == Some(key.as_str())),
        "one key on every attempt"
    );
    key
}

/// A client of `base_url` with a static token and fast retries.
fn client_of(base_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .token("tok_test")
        .retry_policy(fast_retries())
}

#[tokio::test]
async fn a_placement_that_met_only_server_errors_has_an_unknown_outcome() {
    let (server, script) = scripted(std::iter::repeat_n(
        Canned::error(503, "internal_error"),
        10,
    ));

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(script.seen().len(), 4);
    assert_eq!(err.attempts(), Some(4));
    let key = the_key_sent(&script);
    assert_eq!(err.idempotency_key(), Some(key.as_str()));
    // The helpers still answer for the last failure.
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.request_id(), Some("req_4"));
    assert!(err.is_retryable());
    let unknown = err.outcome_unknown().unwrap();
    assert_eq!(unknown.operation, "place_order");
    let source = std::error::Error::source(&err).expect("the last failure is the source");
    assert_eq!(source.to_string(), unknown.last.to_string());
    let message = err.to_string();
    for part in [
        "unknown after 4 attempts",
        "the order may exist",
        &format!("idempotency key `{key}`"),
        "never place it with a new key",
        "internal_error",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
}

#[tokio::test]
async fn an_unknown_outcome_carries_the_callers_own_key() {
    let (server, _script) = scripted(std::iter::repeat_n(Canned::error(500, "internal_error"), 4));

    let err = account_orders(&server)
        .place(buy())
        .idempotency_key("checkout-42")
        .await
        .unwrap_err();

    assert_eq!(err.idempotency_key(), Some("checkout-42"));
}

#[tokio::test]
async fn a_placement_refused_with_a_client_error_has_a_known_outcome() {
    for (status, code) in [
        (400, "invalid_param"),
        (400, "insufficient_funds"),
        (401, "not_authenticated"),
        (403, "permission_denied"),
        (404, "not_found"),
        (409, "idempotency_key_reused"),
    ] {
        let (server, script) = scripted([Canned::error(status, code)]);

        let err = account_orders(&server).place(buy()).await.unwrap_err();

        assert!(!err.is_outcome_unknown(), "{status} {code}: {err}");
        assert!(matches!(err, sophic::Error::Api(_)), "{err:?}");
        assert_eq!((err.idempotency_key(), err.attempts()), (None, None));
        assert_eq!(script.seen().len(), 1);
    }
}

#[tokio::test]
async fn a_placement_that_could_not_connect_has_a_known_outcome() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let err = client_of(&closed)
        .build()
        .unwrap()
        .orders(&account())
        .place(buy())
        .await
        .unwrap_err();

    assert!(matches!(err, sophic::Error::Transport { .. }), "{err:?}");
    assert!(!err.is_outcome_unknown(), "nothing was sent: {err}");
}

#[tokio::test]
async fn a_placement_whose_connections_were_lost_has_an_unknown_outcome() {
    let (base_url, connections) = dropping_server(10, order("ord_abc123", "placed"));

    let err = client_of(&base_url)
        .http_client(timerless_http())
        .build()
        .unwrap()
        .orders(&account())
        .place(buy())
        .await
        .unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    let unknown = err.outcome_unknown().unwrap();
    assert!(
        matches!(unknown.last, sophic::Error::Transport { .. }),
        "{err:?}"
    );
    assert_eq!(err.attempts(), Some(4));
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_timed_out_placement_has_an_unknown_outcome() {
    let (base_url, connections) = silent_server();

    let err = client_of(&base_url)
        .request_timeout(ms(100))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_backoff(ms(1)),
        )
        .build()
        .unwrap()
        .orders(&account())
        .place(buy())
        .await
        .unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    let unknown = err.outcome_unknown().unwrap();
    assert!(
        matches!(unknown.last, sophic::Error::Timeout { .. }),
        "{err:?}"
    );
    assert_eq!(err.attempts(), Some(2));
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_key_still_in_progress_when_the_retries_run_out_is_an_unknown_outcome() {
    let (server, _script) = scripted(std::iter::repeat_n(
        Canned::error(409, "idempotency_request_in_progress"),
        4,
    ));

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(4));
}

#[tokio::test]
async fn a_refusal_after_a_server_error_keeps_the_outcome_unknown() {
    let (server, _script) = scripted([
        Canned::error(503, "internal_error"),
        Canned::error(400, "insufficient_funds"),
    ]);

    let err = account_orders(&server).place(buy()).await.unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(2));
    assert!(err.is_insufficient_funds(), "the last answer is kept");
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_after_a_server_error_keeps_the_outcome_unknown() {
    let token = Canned::json(
        200,
        json!({"access_token": "tok_1", "token_type": "bearer", "expires_in": 900,
               "scope": null, "refresh_token": null}),
    );
    let token_failure = Canned::json(500, json!({"error": "server_error"}));
    let (server, script) = scripted(
        [
            token,
            Canned::error(503, "internal_error"),
            Canned::error(401, "not_authenticated"),
        ]
        .into_iter()
        .chain(std::iter::repeat_n(token_failure, 4)),
    );
    let client = Client::builder()
        .base_url(&server.base_url)
        .client_credentials("cli_123", "cs_secret")
        .http_client(timerless_http())
        .retry_policy(fast_retries())
        .build()
        .unwrap();

    let err = client.orders(&account()).place(buy()).await.unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(2), "two placements were sent");
    let unknown = err.outcome_unknown().unwrap();
    assert!(matches!(unknown.last, sophic::Error::Auth(_)), "{err:?}");
    assert_eq!(script.seen().len(), 7);
}

#[tokio::test]
async fn a_cancellation_that_met_only_server_errors_has_an_unknown_outcome() {
    let (server, script) = scripted(std::iter::repeat_n(Canned::error(502, "internal_error"), 4));

    let err = account_orders(&server)
        .cancel(&order_id())
        .await
        .unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.outcome_unknown().unwrap().operation, "cancel_order");
    let key = the_key_sent(&script);
    assert_eq!(err.idempotency_key(), Some(key.as_str()));
    let message = err.to_string();
    assert!(
        message.contains("may be cancelled") && message.contains(&key),
        "{message}"
    );
}

#[tokio::test]
async fn a_read_is_never_an_unknown_outcome() {
    let (server, _script) = scripted(std::iter::repeat_n(Canned::error(503, "internal_error"), 4));

    let err = builder(&server)
        .build()
        .unwrap()
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();

    assert!(!err.is_outcome_unknown(), "a read changes nothing: {err}");
    assert!(matches!(err, sophic::Error::Api(_)), "{err:?}");
}
