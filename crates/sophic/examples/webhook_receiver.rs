//! An axum receiver that verifies Sophic's webhook deliveries and logs order events.
//!
//! With `SOPHIC_WEBHOOK_SECRET` set to a webhook's secret, it listens on `127.0.0.1:3000`.
//! Without it, it registers itself (at `SOPHIC_WEBHOOK_URL`, default
//! `http://127.0.0.1:3000/webhooks/sophic`, which a sandbox accepts) with `SOPHIC_BASE_URL`
//! and `SOPHIC_TOKEN`, and asks for a test delivery.
//!
//! ```sh
//! SOPHIC_BASE_URL=http://127.0.0.1:8080 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_123456 \
//!     cargo run -p sophic --example webhook_receiver
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sophic::types::CreateWebhookRequest;
use sophic::webhooks::{Verifier, WebhookEvent, WebhookSecret};

struct Receiver {
    verifier: Verifier,
    /// Delivery ids already handled: retries reuse the id, so they are acknowledged again
    /// without acting twice. (A real receiver keeps these in its database.)
    handled: Mutex<HashSet<String>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delivery = match receiver.verifier.verify(&headers, &body) {
        Ok(delivery) => delivery,
        Err(err) => {
            eprintln!("refused a delivery: {err}");
            return StatusCode::BAD_REQUEST;
        }
    };
    if !receiver.handled.lock().unwrap().insert(delivery.id.clone()) {
        return StatusCode::OK;
    }
    match &delivery.event {
        WebhookEvent::Order(event) => println!(
            "{} {}: {} is {}",
            delivery.id, event.event.name, event.order.id, event.order.status
        ),
        WebhookEvent::Test(_) => println!("{}: test delivery received", delivery.id),
        other => println!("{}: ignoring {}", delivery.id, other.name()),
    }
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let (secret, client) = match std::env::var("SOPHIC_WEBHOOK_SECRET") {
        Ok(secret) => (WebhookSecret::new(&secret)?, None),
        Err(_) => {
            let client = sophic::Client::builder()
                .base_url(env("SOPHIC_BASE_URL")?)
                .token(env("SOPHIC_TOKEN")?)
                .build()?;
            let url = std::env::var("SOPHIC_WEBHOOK_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:3000/webhooks/sophic".to_owned());
            let created = client
                .webhooks()
                .create(
                    CreateWebhookRequest::builder()
                        .url(url)
                        .description(Some("webhook_receiver example".to_owned())),
                )
                .await?;
            println!("registered {}", created.webhook.id);
            (created.secret, Some((client, created.webhook.id)))
        }
    };
    let receiver = Arc::new(Receiver {
        verifier: Verifier::new(secret),
        handled: Mutex::default(),
    });
    let app = Router::new()
        .route("/webhooks/sophic", post(receive))
        .with_state(receiver);
    if let Some((client, webhook)) = client {
        let webhook = webhook.parse()?;
        tokio::spawn(async move {
            match client.webhooks().test(&webhook).await {
                Ok(delivery) => println!("test delivery {} queued", delivery.id),
                Err(err) => eprintln!("could not ask for a test delivery: {err}"),
            }
        });
    }
    println!("listening on http://127.0.0.1:3000/webhooks/sophic");
    axum::serve(listener, app).await?;
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("set {name}"))
}
