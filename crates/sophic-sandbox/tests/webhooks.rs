//! Webhooks: real signed deliveries to a receiver on loopback, retried on failure.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Env, buy};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

/// A delivery as the receiver saw it.
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A receiver on 127.0.0.1:0 that answers 500 to its first `failures` requests.
async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let _ = tx.send(Received { headers, body });
                if seen.fetch_add(1, Ordering::SeqCst) < failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery arrives")
        .unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a delivery's signature the way a receiver must.
fn verifies(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        header(r, "webhook-id").unwrap(),
        header(r, "webhook-timestamp").unwrap(),
        r.body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header(r, "webhook-signature")
        .unwrap()
        .split(' ')
        .any(|s| s == expected)
}

async fn register(env: &Env, url: &str, events: Value) -> Value {
    let answer = env
        .post("/webhooks", &json!({"url": url, "enabled_events": events}))
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn an_order_event_is_delivered_signed_to_the_registered_url() {
    let env = Env::new().await;
    let (url, mut rx) = receiver(0).await;
    let webhook = register(&env, &url, json!(["order.placed"])).await;
    let secret = webhook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), 32);

    let order = env.buy("ins_xyz789", "100.00").await;
    let delivery = next(&mut rx).await;
    assert!(
        verifies(secret, &delivery),
        "the signature verifies with the secret"
    );
    assert_eq!(header(&delivery, "content-type"), Some("application/json"));
    assert_eq!(header(&delivery, "webhook-attempt"), Some("1"));
    assert!(header(&delivery, "webhook-id").unwrap().starts_with("whd_"));
    let timestamp: i64 = header(&delivery, "webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    // Signed with the wall clock (Standard Webhooks), not the held sandbox clock.
    let wall = chrono::Utc::now().timestamp();
    assert!(
        (wall - 60..=wall).contains(&timestamp),
        "{timestamp} vs {wall}"
    );
    assert_ne!(timestamp, env.sandbox.now().timestamp());
    let event: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(header(&delivery, "event-id"), event["id"].as_str());
    assert_eq!(event["name"], "order.placed");
    assert_eq!(event["data"], order);

    let mut tampered = Received {
        headers: delivery.headers.clone(),
        body: delivery.body.replace("100.00", "900.00"),
    };
    assert!(!verifies(secret, &tampered));
    tampered.body = delivery.body.clone();
    assert!(verifies(secret, &tampered));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_attempt_counting_up() {
    let env = Env::new().await;
    let (url, mut rx) = receiver(1).await;
    let webhook = register(&env, &url, json!(["order.placed"])).await;
    env.place(buy("ins_xyz789", "100.00")).await;
    let first = next(&mut rx).await;
    assert_eq!(header(&first, "webhook-attempt"), Some("1"));
    // The retry is due 5 s later by the sandbox clock; wait until the failure is recorded.
    loop {
        let deliveries = env.sandbox.webhook_deliveries();
        if deliveries.first().is_some_and(|d| d.attempts.len() == 1) {
            break;
        }
        env.sandbox.webhook_attempt_recorded().await;
    }
    env.advance(5);
    let second = next(&mut rx).await;
    assert_eq!(header(&second, "webhook-attempt"), Some("2"));
    assert_eq!(
        header(&second, "webhook-id"),
        header(&first, "webhook-id"),
        "the id is stable across retries"
    );
    assert_eq!(second.body, first.body);
    assert!(verifies(webhook["secret"].as_str().unwrap(), &second));
    loop {
        let deliveries = env.sandbox.webhook_deliveries();
        if deliveries[0].attempts.len() == 2 {
            assert_eq!(deliveries[0].status.to_string(), "succeeded");
            assert_eq!(deliveries[0].attempts[0].response_status, Some(500));
            break;
        }
        env.sandbox.webhook_attempt_recorded().await;
    }
}

#[tokio::test]
async fn a_test_delivery_has_no_event() {
    let env = Env::new().await;
    let (url, mut rx) = receiver(0).await;
    let webhook = register(&env, &url, json!([])).await;
    let id = webhook["id"].as_str().unwrap();
    let answer = env.post(&format!("/webhooks/{id}/test"), &json!({})).await;
    assert_eq!(answer.status, 202);
    assert!(answer.body["event"].is_null());
    let delivery = next(&mut rx).await;
    assert_eq!(header(&delivery, "event-id"), None);
    assert_eq!(header(&delivery, "webhook-id"), answer.body["id"].as_str());
    assert!(verifies(webhook["secret"].as_str().unwrap(), &delivery));
}

#[tokio::test]
async fn updating_a_webhook_never_shows_the_secret_again_and_disabling_stops_deliveries() {
    let env = Env::new().await;
    let (url, _rx) = receiver(0).await;
    let id = register(&env, &url, json!([])).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = env
        .send(
            env.http
                .put(env.url(&format!("/webhooks/{id}")))
                .bearer_auth(&env.account.token)
                .json(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["disabled"], true);
    assert!(answer.body.get("secret").is_none());
    env.place(buy("ins_xyz789", "100.00")).await;
    assert!(env.sandbox.webhook_deliveries().is_empty());
}

#[tokio::test]
async fn webhook_urls_must_be_https_to_a_name_or_loopback_http() {
    let env = Env::new().await;
    for url in [
        "http://hooks.example.com/x",
        "https://10.0.0.8/x",
        "ftp://example.com",
        "not a url",
    ] {
        let answer = env.post("/webhooks", &json!({"url": url})).await;
        assert_eq!(
            (answer.status, answer.param_paths()),
            (400, vec!["body.url"]),
            "{url}"
        );
    }
    for url in [
        "https://hooks.example.com/x",
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://[::1]:9/x",
    ] {
        assert_eq!(
            env.post("/webhooks", &json!({"url": url})).await.status,
            201,
            "{url}"
        );
    }
    let missing = env.post("/webhooks", &json!({})).await;
    assert_eq!(missing.param_paths(), ["body.url"]);
}

#[tokio::test]
async fn a_webhook_cannot_point_at_the_sandbox_under_any_spelling() {
    let env = Env::new().await;
    let other = env
        .sandbox
        .create_account(&sophic_sandbox::AccountSpec::usd("5.00"))
        .unwrap();
    let port = env.sandbox.addr().port();
    let spellings = [
        format!("http://127.0.0.1:{port}/sandbox/reset"),
        format!("http://localhost:{port}/sandbox/reset"),
        format!("http://LOCALHOST.:{port}/sandbox/reset"),
        format!("http://[::1]:{port}/sandbox/reset"),
        format!("https://127.0.0.2:{port}/sandbox/reset"),
        format!("http://[::ffff:127.0.0.1]:{port}/sandbox/reset"),
        format!("http://0.0.0.0:{port}/sandbox/reset"),
        format!("http://2130706433:{port}/sandbox/reset"),
        format!("https://sandbox.localhost:{port}/sandbox/reset"),
    ];
    for url in &spellings {
        let answer = env.post("/webhooks", &json!({"url": url})).await;
        assert_eq!(answer.status, 400, "{url}: {:?}", answer.body);
        assert_eq!(answer.param_paths(), ["body.url"], "{url}");
    }
    // Nor through an update of a webhook that was fine.
    let (fine, _rx) = receiver(0).await;
    let webhook = register(&env, &fine, json!([])).await;
    let id = webhook["id"].as_str().unwrap();
    let update = env
        .send(
            env.http
                .put(env.url(&format!("/webhooks/{id}")))
                .bearer_auth(&env.account.token)
                .json(&json!({"url": spellings[0]})),
        )
        .await;
    assert_eq!(update.status, 400);
    assert_eq!(update.param_paths(), ["body.url"]);
    // The reproduction: a test delivery to the control plane would have reset everyone.
    let tested = env.post(&format!("/webhooks/{id}/test"), &json!({})).await;
    assert_eq!(tested.status, 202);
    let balances = env
        .get_as(
            &other.token,
            &format!("/accounts/{}/cash-balances", other.id),
        )
        .await;
    assert_eq!(
        balances.status, 200,
        "the other account's token still works"
    );
}

#[tokio::test]
async fn a_delivery_never_follows_a_redirect() {
    let env = Env::new().await;
    let reset = format!("{}/sandbox/reset", env.sandbox.base_url());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let reset = reset.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", reset)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    register(&env, &url, json!(["order.placed"])).await;
    env.buy("ins_xyz789", "100.00").await;
    loop {
        let deliveries = env.sandbox.webhook_deliveries();
        if let Some(attempt) = deliveries.first().and_then(|d| d.attempts.first()) {
            assert_eq!(attempt.response_status, Some(307), "recorded, not followed");
            break;
        }
        // Woken by the recording; the bound only re-checks if the wake-up came first.
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            env.sandbox.webhook_attempt_recorded(),
        )
        .await;
    }
    assert_eq!(env.orders().await.len(), 1, "the sandbox was not reset");
    assert_eq!(env.usd().await.2, "100.00");
}
