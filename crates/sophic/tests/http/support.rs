//! A scripted HTTP server on loopback, and fixtures.
//!
//! The server runs on its own thread and runtime, so tests may hold their own clock still
//! (`start_paused`) without stopping the server's.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sophic::{Client, ClientBuilder, RetryPolicy};

/// A server on 127.0.0.1 that stops when dropped.
pub struct TestServer {
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub fn start(router: Router) -> Self {
        let (address_tx, address_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = address_rx.recv().unwrap();
        Self {
            base_url: format!("http://{address}"),
            stop: Some(stop),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query's `name=value` pairs, decoded, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        let query = self.uri.query().unwrap_or_default();
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect()
    }

    pub fn query_values(&self, name: &str) -> Vec<String> {
        self.query()
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect()
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn error(status: u16, code: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": code, "detail": format!("Scripted {code}.")}),
        )
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Canned {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::from_u16(self.status).unwrap(), self.body).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }
}

/// Answers each request with the next canned answer, whatever its path, and records it.
/// Each answer carries `request-id: req_<n>` (n from 1) unless it sets its own.
#[derive(Default)]
pub struct Script {
    answers: Mutex<VecDeque<Canned>>,
    seen: Mutex<Vec<Seen>>,
}

impl Script {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn record(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> usize {
        let mut seen = self.seen.lock().unwrap();
        seen.push(Seen {
            method,
            uri,
            headers,
            body,
        });
        seen.len()
    }

    fn answer(&self, number: usize) -> Canned {
        let canned = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Canned::error(500, "script_exhausted"));
        if canned.headers.iter().any(|(name, _)| *name == "request-id") {
            canned
        } else {
            canned.header("request-id", format!("req_{number}"))
        }
    }
}

pub fn scripted(answers: impl IntoIterator<Item = Canned>) -> (TestServer, Arc<Script>) {
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into_iter().collect()),
        seen: Mutex::default(),
    });
    let state = script.clone();
    let router = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let script = state.clone();
            async move {
                let number = script.record(method, uri, headers, body);
                script.answer(number)
            }
        },
    );
    (TestServer::start(router), script)
}

/// The order of the contract's example (`ord_abc123`, a placed buy of 100.00 of
/// `ins_xyz789`), with another id and status.
pub fn order(id: &str, status: &str) -> Value {
    let mut order: Value =
        serde_json::from_str(include_str!("../fixtures/order_placed.json")).unwrap();
    order["id"] = id.into();
    order["status"] = status.into();
    order
}

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Retries fast enough for tests on the real clock, and no extra budget limits.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(4)
        .initial_backoff(ms(1))
        .max_backoff(ms(5))
        .budget(Duration::from_secs(600))
}

/// A reqwest client with no timers of its own (no timeouts, no idle-pool reaper), so a test
/// holding its clock still sees only the SDK's own waits.
pub fn timerless_http() -> sophic::reqwest::Client {
    ClientBuilder::reqwest_builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}

/// The account every scripted test acts on.
pub fn account() -> sophic::AccountId {
    "acc_123456".parse().unwrap()
}

/// The order the scripted answers usually describe.
pub fn order_id() -> sophic::OrderId {
    "ord_abc123".parse().unwrap()
}

/// The orders of [`account`] through a [`client`] of `server`.
pub fn account_orders(server: &TestServer) -> sophic::orders::OrdersHandler {
    client(server).orders(&account())
}

/// A client of `server` with a static token and fast retries.
pub fn client(server: &TestServer) -> Client {
    builder(server).build().unwrap()
}

pub fn builder(server: &TestServer) -> ClientBuilder {
    Client::builder()
        .base_url(&server.base_url)
        .token("tok_test")
        .http_client(timerless_http())
        .retry_policy(fast_retries())
        .poll_interval(ms(10))
        .max_poll_interval(ms(80))
}

/// Accepts `drops` connections and closes them without answering, then answers `then` on
/// every later one; counts connections.
pub fn dropping_server(
    drops: usize,
    then: serde_json::Value,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            read_head(&mut stream);
            if n < drops {
                continue; // dropped: the connection closes with no answer
            }
            let body = then.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_ok\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base_url, count)
}

/// Accepts connections, reads each request's head, and never answers: every attempt times
/// out. Counts connections.
pub fn silent_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            read_head(&mut stream);
            held.push(stream); // kept open, unanswered
        }
    });
    (base_url, count)
}

/// Reads a request up to the end of its head (or until the peer stops sending).
fn read_head(stream: &mut std::net::TcpStream) {
    use std::io::Read as _;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&buf[..read]),
        }
    }
}
