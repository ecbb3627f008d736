//! Your own middleware around the SDK's HTTP exchanges (`ClientBuilder::layer`), against
//! the sandbox: layers see every attempt in order, can change a request, and can answer
//! without sending, and the SDK's retries and idempotency keys stay outside them.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use sophic::orders::OrderRequest;
use sophic::{Client, InstrumentId, RetryPolicy};
use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig};
use tower::util::MapRequestLayer;
use tower::{Layer, Service};

/// What a recording layer saw of one attempt.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    tag: Option<String>,
    key: Option<String>,
    /// Whether the `Authorization` value is marked sensitive (redacted by `Debug`).
    sensitive: Option<bool>,
    status: u16,
}

/// A layer that records each exchange it passes on, and answers the first `refuse`
/// requests to a path ending in `target` itself with `status` (as a flaky proxy would),
/// without sending them.
#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    refuse: Arc<Mutex<usize>>,
    target: &'static str,
    status: u16,
}

impl Recorder {
    fn new(refuse: usize, target: &'static str, status: u16) -> Self {
        Self {
            seen: Arc::default(),
            refuse: Arc::new(Mutex::new(refuse)),
            target,
            status,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl<S> Layer<S> for Recorder {
    type Service = Recording<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Recording {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Recording<S> {
    inner: S,
    layer: Recorder,
}

impl<S> Service<reqwest::Request> for Recording<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response, Error = reqwest::Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = reqwest::Response;
    type Error = reqwest::Error;
    type Future = BoxFuture<'static, Result<reqwest::Response, reqwest::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: reqwest::Request) -> Self::Future {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let mut seen = Seen {
            method: request.method().to_string(),
            path: request.url().path().to_string(),
            tag: header("x-team"),
            key: header("idempotency-key"),
            sensitive: request
                .headers()
                .get("authorization")
                .map(http::HeaderValue::is_sensitive),
            status: 0,
        };
        let layer = self.layer.clone();
        let refuse = seen.path.ends_with(layer.target) && {
            let mut left = layer.refuse.lock().unwrap();
            let refuse = *left > 0;
            *left = left.saturating_sub(1);
            refuse
        };
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let response = if refuse {
                let answer = http::Response::builder()
                    .status(layer.status)
                    .header("content-type", "application/json")
                    .body(r#"{"code":"internal_error","detail":"refused by the test's layer"}"#)
                    .unwrap();
                reqwest::Response::from(answer)
            } else {
                inner.call(request).await?
            };
            seen.status = response.status().as_u16();
            layer.seen.lock().unwrap().push(seen);
            Ok(response)
        })
    }
}

#[tokio::test]
async fn layers_see_every_attempt_change_requests_and_may_answer_without_sending() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let account = sandbox
        .create_account(&AccountSpec::usd("1000.00"))
        .unwrap();
    let recorder = Recorder::new(1, "/orders", 503);
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(account.token.clone())
        .retry_policy(
            RetryPolicy::default()
                .initial_backoff(std::time::Duration::from_millis(1))
                .max_backoff(std::time::Duration::from_millis(5)),
        )
        // Outermost first: the tag is set before the recorder sees the request.
        .layer(MapRequestLayer::new(|mut request: reqwest::Request| {
            request
                .headers_mut()
                .insert("x-team", "payments".parse().unwrap());
            request
        }))
        .layer(recorder.clone())
        .build()
        .unwrap();
    let bond: InstrumentId = "ins_xyz789".parse().unwrap();
    let orders = client.orders(&account.id.parse().unwrap());
    let order = orders
        .place(OrderRequest::buy(&bond, "100.00".parse().unwrap()))
        .await
        .unwrap();
    orders.get(&order.id.parse().unwrap()).await.unwrap();

    let seen = recorder.seen();
    let summary: Vec<(String, String, u16)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), s.status))
        .collect();
    let placements = format!("/accounts/{}/orders", account.id);
    assert_eq!(
        summary,
        [
            ("POST".to_string(), placements.clone(), 503),
            ("POST".to_string(), placements.clone(), 201),
            // The twin look that follows an attempt in doubt answered as new.
            ("GET".to_string(), placements.clone(), 200),
            ("GET".to_string(), format!("{placements}/{}", order.id), 200),
        ],
        "{seen:#?}"
    );
    assert!(seen.iter().all(|s| s.tag.as_deref() == Some("payments")));
    assert!(
        seen.iter().all(|s| s.sensitive == Some(true)),
        "the layers see the token marked sensitive"
    );
    // The SDK's retry stayed outside the layers: one key for both attempts.
    assert!(seen[0].key.is_some());
    assert_eq!(seen[0].key, seen[1].key);
    let placed: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(orders.list().stream())
        .await
        .unwrap();
    assert_eq!(placed.len(), 1, "one order for the two attempts");
}

#[tokio::test]
async fn a_header_a_layer_sets_reaches_the_sandbox() {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let account = sandbox
        .create_account(&AccountSpec::usd("1000.00"))
        .unwrap();
    // The client holds a token the sandbox refuses; the layer replaces it (as a layer
    // fetching a token from a vault would), so the call succeeds only if its header arrived.
    let token = account.token.clone();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token("not-a-token-the-sandbox-knows")
        .layer(MapRequestLayer::new(
            move |mut request: reqwest::Request| {
                let value = format!("Bearer {token}").parse().unwrap();
                request.headers_mut().insert("authorization", value);
                request
            },
        ))
        .build()
        .unwrap();
    let balances = client
        .account(&account.id.parse().unwrap())
        .cash_balances()
        .await
        .unwrap();
    assert_eq!(balances[0].total.to_string(), "1000.00");
}

#[tokio::test]
async fn the_token_endpoint_goes_through_the_layers_and_a_401_from_one_renews_the_token() {
    let sandbox = Sandbox::start(SandboxConfig {
        demo_account: true,
        ..SandboxConfig::held()
    })
    .await
    .unwrap();
    let (account, oauth) = sandbox.demo().unwrap().clone();
    let recorder = Recorder::new(1, "/cash-balances", 401);
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(oauth.id.clone(), oauth.secret.clone())
        .layer(recorder.clone())
        .build()
        .unwrap();
    client
        .account(&account.id.parse().unwrap())
        .cash_balances()
        .await
        .unwrap();
    let calls: Vec<(String, u16)> = recorder
        .seen()
        .iter()
        .map(|s| (s.path.clone(), s.status))
        .collect();
    let balances = format!("/accounts/{}/cash-balances", account.id);
    assert_eq!(
        calls,
        [
            ("/auth/token".to_string(), 200),
            (balances.clone(), 401),
            ("/auth/token".to_string(), 200),
            (balances, 200),
        ]
    );
}
