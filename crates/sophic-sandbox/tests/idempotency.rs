//! Idempotency keys: replays, both conflicts, and validation failures that store nothing.

mod common;

use common::{Env, buy};
use sophic_sandbox::{FaultKind, FaultSpec};

#[tokio::test]
async fn a_retried_placement_is_replayed_not_placed_twice() {
    let env = Env::new().await;
    let first = env
        .place_with_key("key-1", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = env
        .place_with_key("key-1", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(env.orders().await.len(), 1);
    assert_eq!(env.usd().await.2, "100.00", "reserved once");
}

#[tokio::test]
async fn business_refusals_are_replayed_too() {
    let env = Env::new().await;
    let first = env
        .place_with_key("key-poor", &buy("ins_xyz789", "20000.00"))
        .await;
    assert_eq!(first.code(), "insufficient_funds");
    let again = env
        .place_with_key("key-poor", &buy("ins_xyz789", "20000.00"))
        .await;
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (400, Some("true"))
    );
    assert_eq!(again.body, first.body);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_a_conflict() {
    let env = Env::new().await;
    env.place_with_key("key-2", &buy("ins_xyz789", "100.00"))
        .await;
    let other = env
        .place_with_key("key-2", &buy("ins_xyz789", "200.00"))
        .await;
    assert_eq!(
        (other.status, other.code()),
        (409, "idempotency_key_reused")
    );
    assert_eq!(env.orders().await.len(), 1);
}

#[tokio::test]
async fn a_validation_failure_stores_nothing_so_the_key_can_be_reused() {
    let env = Env::new().await;
    let bad = env.place_with_key("key-3", &buy("ins_xyz789", "0")).await;
    assert_eq!(bad.code(), "invalid_param");
    let good = env
        .place_with_key("key-3", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(
        (good.status, good.header("idempotent-replayed")),
        (201, None)
    );
}

#[tokio::test]
async fn keys_belong_to_the_client_that_used_them() {
    let env = Env::new().await;
    let other = env
        .sandbox
        .create_account(&sophic_sandbox::AccountSpec::usd("1000.00"))
        .unwrap();
    env.place_with_key("shared-key", &buy("ins_xyz789", "100.00"))
        .await;
    let request = env
        .http
        .post(env.url(&format!("/accounts/{}/orders", other.id)))
        .bearer_auth(&other.token)
        .header("idempotency-key", "shared-key")
        .json(&buy("ins_xyz789", "100.00"));
    let answer = env.send(request).await;
    assert_eq!(
        (answer.status, answer.header("idempotent-replayed")),
        (201, None)
    );
}

#[tokio::test]
async fn a_key_still_in_progress_is_refused() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::Stall, 1).on("place_order"));
    let first = {
        let request = env
            .http
            .post(env.url(&env.orders_path()))
            .bearer_auth(&env.account.token)
            .header("idempotency-key", "key-4")
            .json(&buy("ins_xyz789", "100.00"));
        tokio::spawn(request.send())
    };
    env.sandbox.stalled().await;
    let second = env
        .place_with_key("key-4", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(
        (second.status, second.code()),
        (409, "idempotency_request_in_progress")
    );
    env.sandbox.release_stalled();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    let third = env
        .place_with_key("key-4", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(
        (third.status, third.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(env.orders().await.len(), 1);
}

#[tokio::test]
async fn cancellation_honours_keys_too() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = env.url(&format!("{}/{id}/cancel", env.orders_path()));
    let send = || {
        env.http
            .post(&path)
            .bearer_auth(&env.account.token)
            .header("idempotency-key", "cancel-1")
    };
    let first = env.send(send()).await;
    let again = env.send(send()).await;
    assert_eq!(
        (first.status, again.header("idempotent-replayed")),
        (200, Some("true"))
    );
}

#[tokio::test]
async fn a_cancellation_still_in_progress_is_refused_like_a_placement() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = env.url(&format!("{}/{id}/cancel", env.orders_path()));
    env.sandbox
        .arm(FaultSpec::new(FaultKind::Stall, 1).on("cancel_order"));
    let send = || {
        env.http
            .post(&path)
            .bearer_auth(&env.account.token)
            .header("idempotency-key", "cancel-2")
    };
    let first = tokio::spawn(send().send());
    env.sandbox.stalled().await;
    let second = env.send(send()).await;
    assert_eq!(
        (second.status, second.code()),
        (409, "idempotency_request_in_progress")
    );
    env.sandbox.release_stalled();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
}
