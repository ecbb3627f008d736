//! What `ClientBuilder::layer` costs by itself: one exchange through the boxed
//! `sophic_client::HttpService` that every attempt goes through once a user layer is set
//! (here the identity layer), against calling the same inner service directly. The inner
//! service answers at once, so the difference is the layer machinery and nothing else (the
//! paired `client_overhead` run shows it beside a whole round trip). Target: under 1 µs.

use std::convert::Infallible;

use sophic_bench::report;
use sophic_client::HttpService;
use tower::{Layer, Service, ServiceExt};

/// An exchange that answers 200 with a small JSON body without sending anything.
#[derive(Clone)]
struct Answer;

impl Service<reqwest::Request> for Answer {
    type Response = reqwest::Response;
    type Error = reqwest::Error;
    type Future = std::future::Ready<Result<reqwest::Response, reqwest::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), reqwest::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: reqwest::Request) -> Self::Future {
        let answer = http::Response::builder()
            .status(200)
            .body(r#"{"ok":true}"#)
            .expect("a response");
        std::future::ready(Ok(reqwest::Response::from(answer)))
    }
}

fn request() -> reqwest::Request {
    let url = "http://127.0.0.1:4010/instruments/ins_xyz789"
        .parse()
        .expect("a URL");
    reqwest::Request::new(reqwest::Method::GET, url)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut criterion = report::criterion();
    let mut group = criterion.benchmark_group("layer");
    group.bench_function("direct", |b| {
        b.to_async(&runtime).iter(|| async {
            let answer = Answer.oneshot(request()).await;
            drop(answer);
            Ok::<(), Infallible>(())
        });
    });
    let layered = HttpService::new(tower::layer::util::Identity::new().layer(Answer));
    group.bench_function("identity_layer", |b| {
        b.to_async(&runtime).iter(|| async {
            let answer = layered.clone().oneshot(request()).await;
            drop(answer);
            Ok::<(), Infallible>(())
        });
    });
    group.finish();
    criterion.final_summary();
}
