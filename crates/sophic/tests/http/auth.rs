//! Bearer tokens: static ones are sent as they are; client credentials are exchanged once,
//! renewed before expiry, and renewed once more on a 401.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::json;
use sophic::prelude::*;

use crate::support::{
    Canned, TestServer, account, account_orders, fast_retries, order, order_id, scripted,
    timerless_http,
};

/// A token endpoint issuing `tok_1`, `tok_2`… and an order endpoint accepting only the
/// tokens `accepts` allows.
#[derive(Default)]
struct TokenServer {
    issued: AtomicUsize,
    token_bodies: Mutex<Vec<String>>,
    bearers: Mutex<Vec<String>>,
}

fn token_server(expires_in: u64, accepts: fn(&str) -> bool) -> (TestServer, Arc<TokenServer>) {
    let state = Arc::new(TokenServer::default());
    let (tokens, orders) = (state.clone(), state.clone());
    let router = Router::new()
        .route(
            "/auth/token",
            post(move |body: Bytes| {
                let state = tokens.clone();
                async move {
                    state
                        .token_bodies
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
                    Canned::json(
                        200,
                        json!({"access_token": format!("tok_{n}"), "token_type": "bearer",
                               "expires_in": expires_in, "scope": null, "refresh_token": null}),
                    )
                }
            }),
        )
        .route(
            "/accounts/{account}/orders/{order}",
            get(move |headers: HeaderMap| {
                let state = orders.clone();
                async move {
                    let bearer = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    state.bearers.lock().unwrap().push(bearer.clone());
                    match bearer.strip_prefix("Bearer ") {
                        Some(token) if accepts(token) => {
                            Canned::json(200, order("ord_abc123", "placed"))
                        }
                        _ => Canned::error(401, "not_authenticated"),
                    }
                }
            }),
        );
    (TestServer::start(router), state)
}

fn oauth_client(server: &TestServer) -> Client {
    Client::builder()
        .base_url(&server.base_url)
        .client_credentials("cli_123", "cs_secret")
        .http_client(timerless_http())
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_static_token_is_sent_as_a_bearer() {
    let (server, script) = scripted([Canned::json(200, order("ord_abc123", "placed"))]);

    account_orders(&server).get(&order_id()).await.unwrap();

    assert_eq!(
        script.seen()[0].header("authorization"),
        Some("Bearer tok_test")
    );
}

#[tokio::test]
async fn a_static_token_is_not_renewed_on_a_401() {
    let (server, script) = scripted([Canned::error(401, "not_authenticated")]);

    let err = account_orders(&server).get(&order_id()).await.unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_fetch_one_token() {
    let (server, state) = token_server(900, |token| token == "tok_1");
    let orders = oauth_client(&server).orders(&account());

    let calls = (0..100).map(|_| {
        let orders = orders.clone();
        tokio::spawn(async move { orders.get(&order_id()).await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }

    assert_eq!(state.issued.load(Ordering::SeqCst), 1);
    assert_eq!(state.bearers.lock().unwrap().len(), 100);
    let body = state.token_bodies.lock().unwrap()[0].clone();
    for field in [
        "grant_type=client_credentials",
        "client_id=cli_123",
        "client_secret=cs_secret",
    ] {
        assert!(body.contains(field), "{body}");
    }
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_retries() {
    let (server, state) = token_server(900, |token| token == "tok_2");

    let order = oauth_client(&server)
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap();

    assert_eq!(order.id, "ord_abc123");
    assert_eq!(state.issued.load(Ordering::SeqCst), 2);
    assert_eq!(
        *state.bearers.lock().unwrap(),
        ["Bearer tok_1", "Bearer tok_2"]
    );
}

#[tokio::test]
async fn a_second_401_is_returned_rather_than_renewed_again() {
    let (server, state) = token_server(900, |_| false);

    let err = oauth_client(&server)
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(state.issued.load(Ordering::SeqCst), 2);
    assert_eq!(state.bearers.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_token_is_renewed_before_it_expires() {
    // A two-minute token is renewed a minute before it expires.
    let (server, state) = token_server(120, |_| true);
    let orders = oauth_client(&server).orders(&account());

    orders.get(&order_id()).await.unwrap();
    tokio::time::advance(Duration::from_secs(50)).await;
    orders.get(&order_id()).await.unwrap();
    tokio::time::advance(Duration::from_secs(20)).await;
    orders.get(&order_id()).await.unwrap();

    assert_eq!(
        *state.bearers.lock().unwrap(),
        ["Bearer tok_1", "Bearer tok_1", "Bearer tok_2"]
    );
}

#[tokio::test]
async fn bad_client_credentials_are_an_auth_error() {
    let (server, script) = scripted([Canned::json(
        401,
        json!({"error": "invalid_client", "error_description": "Unknown client."}),
    )
    .header("request-id", "req_auth")]);

    let err = oauth_client(&server)
        .orders(&account())
        .get(&order_id())
        .await
        .unwrap_err();

    let sophic::Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.body.error, "invalid_client");
    assert_eq!(err.request_id(), Some("req_auth"));
    assert_eq!(
        err.to_string(),
        "the token endpoint refused the credentials: invalid_client: Unknown client. \
         (HTTP 401, request-id req_auth)"
    );
    let seen = script.seen();
    assert_eq!(seen.len(), 1, "only the token request, not retried");
    assert_eq!(seen[0].uri.path(), "/auth/token");
    assert_eq!(seen[0].header("authorization"), None);
}
