//! Your own middleware: a tower layer that adds a header to every exchange and opens a span
//! for it, exported with the SDK's own spans through `tracing-opentelemetry` to stdout.
//!
//! ```sh
//! SOPHIC_BASE_URL=http://127.0.0.1:4010 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_123456 \
//!     cargo run -p sophic --example middleware_otel
//! ```
//!
//! (`cargo run -p sophic-sandbox -- --port 4010` prints a demo account and token.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use sophic::Client;
use tower::Service;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Wraps each exchange: adds `x-team` and runs it inside a `sophic.http` span that records
/// the method, the URL and the status.
#[derive(Clone)]
struct Traced<S>(S);

impl<S> Service<reqwest::Request> for Traced<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response, Error = reqwest::Error>,
    S::Future: Send + 'static,
{
    type Response = reqwest::Response;
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, reqwest::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: reqwest::Request) -> Self::Future {
        request.headers_mut().insert(
            "x-team",
            reqwest::header::HeaderValue::from_static("payments"),
        );
        let span = tracing::info_span!(
            "sophic.http",
            http.request.method = %request.method(),
            url.full = %request.url(),
            http.response.status_code = tracing::field::Empty,
        );
        let answer = self.0.call(request);
        let recorder = span.clone();
        Box::pin(
            async move {
                let answer = answer.await;
                if let Ok(response) = &answer {
                    recorder.record("http.response.status_code", response.status().as_u16());
                }
                answer
            }
            .instrument(span),
        )
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    // The SDK's spans and this example's; not hyper's connection events.
    let only_ours = tracing_subscriber::filter::Targets::new()
        .with_target("sophic", tracing::Level::INFO)
        .with_target("middleware_otel", tracing::Level::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("sophic-example")))
        .with(only_ours);
    tracing::subscriber::set_global_default(subscriber)?;

    let client = Client::builder()
        .base_url(env("SOPHIC_BASE_URL")?)
        .token(env("SOPHIC_TOKEN")?)
        .layer(tower::layer::layer_fn(Traced))
        .build()?;
    let account = env("SOPHIC_ACCOUNT")?.parse()?;
    let balances = client.account(&account).cash_balances().await?;
    for balance in balances {
        println!("{} {}", balance.currency, balance.available);
    }
    provider.shutdown()?;
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("set {name}"))
}
