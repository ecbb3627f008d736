//! Faults on request, against the real server: 500s, 429s with Retry-After, and a
//! connection dropped after the order was stored.

mod common;

use common::{Env, buy};
use sophic_sandbox::{FaultKind, FaultSpec};

#[tokio::test]
async fn an_internal_error_fault_fails_the_next_requests_without_handling_them() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 2).on("place_order"));
    for _ in 0..2 {
        let answer = env.place(buy("ins_xyz789", "100.00")).await;
        assert_eq!((answer.status, answer.code()), (500, "internal_error"));
        assert!(answer.header("request-id").is_some());
    }
    assert_eq!(
        env.orders().await.len(),
        0,
        "faulted requests were not handled"
    );
    assert_eq!(env.place(buy("ins_xyz789", "100.00")).await.status, 201);
}

#[tokio::test]
async fn a_fault_for_one_operation_leaves_the_others_alone() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 1).on("place_order"));
    assert_eq!(env.get("/instruments").await.status, 200);
    assert_eq!(env.place(buy("ins_xyz789", "100.00")).await.status, 500);
}

#[tokio::test]
async fn a_rate_limit_fault_answers_429_with_retry_after() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::RateLimited, 1).retry_after(7));
    let answer = env.get("/instruments").await;
    assert_eq!((answer.status, answer.code()), (429, "rate_limited"));
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert_eq!(env.get("/instruments").await.status, 200);
}

#[tokio::test]
async fn a_dropped_connection_after_storing_is_recovered_by_retrying_with_the_same_key() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 1).on("place_order"));
    let request = env
        .http
        .post(env.url(&env.orders_path()))
        .bearer_auth(&env.account.token)
        .header("idempotency-key", "drop-1")
        .json(&buy("ins_xyz789", "100.00"));
    let error = request
        .send()
        .await
        .expect_err("the connection is dropped before any answer");
    assert!(
        error.is_request() || error.is_connect() || error.to_string().contains("connection"),
        "{error}"
    );
    assert_eq!(
        env.orders().await.len(),
        1,
        "the order was stored before the drop"
    );

    let retry = env
        .place_with_key("drop-1", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(
        (retry.status, retry.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(env.orders().await.len(), 1);
    assert_eq!(retry.body["id"], env.orders().await[0]["id"]);
}

#[tokio::test]
async fn an_ignore_idempotency_key_fault_places_a_retry_again() {
    let env = Env::new().await;
    let first = env
        .place_with_key("same-key", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(first.status, 201);
    env.sandbox
        .arm(FaultSpec::new(FaultKind::IgnoreIdempotencyKey, 1).on("place_order"));
    let ignored = env
        .place_with_key("same-key", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(
        (ignored.status, ignored.header("idempotent-replayed")),
        (201, None)
    );
    assert_ne!(ignored.body["id"], first.body["id"], "a second order");
    // The fault is spent: the key is honoured again, and its first answer replayed.
    let honoured = env
        .place_with_key("same-key", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(honoured.header("idempotent-replayed"), Some("true"));
    assert_eq!(honoured.body["id"], first.body["id"]);
    assert_eq!(env.orders().await.len(), 2);
}

#[tokio::test]
async fn faults_can_be_armed_over_http_and_token_faults_keep_the_oauth_shape() {
    let env = Env::new().await;
    let armed = env
        .send(
            env.http
                .post(env.url("/sandbox/faults"))
                .json(&serde_json::json!({
                    "kind": "internal_error", "count": 1, "operation": "create_token"
                })),
        )
        .await;
    assert_eq!(armed.status, 201);
    let answer = env
        .send(
            env.http
                .post(env.url("/auth/token"))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (500, Some("server_error"))
    );
}
