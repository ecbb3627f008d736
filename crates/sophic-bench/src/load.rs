//! The load generator's engine: N keep-alive HTTP/1.1 connections, each sending one request
//! after the other (a closed loop) for a fixed time and at most a fixed count, with every
//! latency recorded in an HdrHistogram.
//!
//! It sends only to loopback addresses: [`Target::new`] refuses any other.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::fixtures::{CASH, INSTRUMENT};

/// Any failure that stops a measurement.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The request each connection repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /instruments/ins_xyz789`: a read of shared state.
    GetInstrument,
    /// `POST /accounts/{id}/orders`, a buy of 100.00 with a fresh `Idempotency-Key`: a
    /// write that reserves cash, stores an order and an event, and remembers the key.
    PlaceOrder,
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "get-instrument" => Ok(Self::GetInstrument),
            "place-order" => Ok(Self::PlaceOrder),
            _ => Err(format!(
                "unknown operation {s:?}: get-instrument or place-order"
            )),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GetInstrument => "get-instrument",
            Self::PlaceOrder => "place-order",
        })
    }
}

/// A server under load, and the credentials its requests carry.
#[derive(Debug, Clone)]
pub struct Target {
    /// How the tables name it.
    pub name: String,
    addr: SocketAddr,
    authority: String,
    authorization: String,
    account: String,
    /// Keeps idempotency keys unique across runs against the same server.
    run: u64,
}

impl Target {
    /// A server at `base_url` (`http://127.0.0.1:PORT`), which must resolve to a loopback
    /// address.
    pub async fn new(
        name: &str,
        base_url: &str,
        token: &str,
        account: &str,
    ) -> Result<Self, Error> {
        let uri: http::Uri = base_url.parse()?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{base_url}: only plain http on loopback is load-tested").into());
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{base_url} has no host"))?
            .to_string();
        let addr = tokio::net::lookup_host(&authority)
            .await?
            .next()
            .ok_or_else(|| format!("{authority} does not resolve"))?;
        if !addr.ip().is_loopback() {
            return Err(
                format!("{base_url} is not a loopback address: refusing to load it").into(),
            );
        }
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Self {
            name: name.to_string(),
            addr,
            authority,
            authorization: format!("Bearer {token}"),
            account: account.to_string(),
            run,
        })
    }

    fn request(&self, operation: Operation, sequence: u64) -> Request<Full<Bytes>> {
        let builder = Request::builder()
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, &self.authorization);
        let request = match operation {
            Operation::GetInstrument => builder
                .method(Method::GET)
                .uri(format!("/instruments/{INSTRUMENT}"))
                .body(Full::default()),
            Operation::PlaceOrder => builder
                .method(Method::POST)
                .uri(format!("/accounts/{}/orders", self.account))
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", format!("load-{:x}-{sequence}", self.run))
                .body(Full::new(Bytes::from(format!(
                    r#"{{"instrument":"{INSTRUMENT}","order_type":"market","side":"buy","cash_amount":"{CASH}"}}"#
                )))),
        };
        request.expect("a request built from valid parts")
    }
}

/// How hard and how long to load a target.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent keep-alive connections, each with one request in flight.
    pub connections: usize,
    /// Time spent sending before anything is recorded (connections warm, caches filled).
    pub warmup: Duration,
    /// Time recorded after the warm-up.
    pub duration: Duration,
    /// At most this many requests in all, warm-up included.
    pub max_requests: u64,
    /// A request not answered within this is an error (and its connection is replaced).
    pub timeout: Duration,
}

/// What one [`Load`] against one target measured.
#[derive(Debug)]
pub struct Outcome {
    /// Answers with a 2xx status, in the measured window.
    pub ok: u64,
    /// Answers with another status, timeouts and broken connections, in the window.
    pub errors: u64,
    /// How many of each non-2xx status.
    pub statuses: BTreeMap<u16, u64>,
    /// The measured window.
    pub window: Duration,
    /// Latency of every answer in the window, in microseconds.
    pub latency: Histogram<u64>,
}

impl Outcome {
    /// Answers (2xx) per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0.5, 0.99), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Loads `target` with `operation` as `load` says, and returns what it measured. Fails
/// only when the target cannot be reached at all.
pub async fn run(target: &Target, operation: Operation, load: Load) -> Result<Outcome, Error> {
    let target = Arc::new(target.clone());
    let start = Instant::now();
    let window = Window {
        from: start + load.warmup,
        until: start + load.warmup + load.duration,
    };
    let budget = Arc::new(AtomicU64::new(load.max_requests));
    let sequence = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections.max(1) {
        tasks.push(tokio::spawn(drive(
            target.clone(),
            operation,
            window,
            load.timeout,
            budget.clone(),
            sequence.clone(),
        )));
    }
    let mut outcome = Outcome {
        ok: 0,
        errors: 0,
        statuses: BTreeMap::new(),
        window: Duration::ZERO,
        latency: new_histogram(),
    };
    let mut last = window.from;
    for task in tasks {
        let tally = task.await??;
        outcome.ok += tally.ok;
        outcome.errors += tally.errors;
        for (status, n) in tally.statuses {
            *outcome.statuses.entry(status).or_default() += n;
        }
        outcome.latency.add(&tally.latency)?;
        last = last.max(tally.last);
    }
    outcome.window = last.min(window.until) - window.from;
    Ok(outcome)
}

/// When answers count.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// One connection's share of an [`Outcome`].
struct Tally {
    ok: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    latency: Histogram<u64>,
    /// When its last answer in the window arrived.
    last: Instant,
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// One connection: sends until the window closes or the budget runs out; reconnects after
/// a broken connection or a timeout.
async fn drive(
    target: Arc<Target>,
    operation: Operation,
    window: Window,
    timeout: Duration,
    budget: Arc<AtomicU64>,
    sequence: Arc<AtomicU64>,
) -> Result<Tally, Error> {
    let mut tally = Tally {
        ok: 0,
        errors: 0,
        statuses: BTreeMap::new(),
        latency: new_histogram(),
        last: window.from,
    };
    'connect: while Instant::now() < window.until {
        let (mut sender, connection) = connect(&target).await?;
        while Instant::now() < window.until && take_one(&budget) {
            let request = target.request(operation, sequence.fetch_add(1, Ordering::Relaxed));
            let sent = Instant::now();
            let answer = tokio::time::timeout(timeout, async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                Ok::<StatusCode, hyper::Error>(status)
            })
            .await;
            let done = Instant::now();
            let counted = sent >= window.from && done <= window.until;
            if counted {
                tally.last = done;
                tally.latency.saturating_record(micros(done - sent));
            }
            match answer {
                Ok(Ok(status)) if status.is_success() => tally.ok += u64::from(counted),
                Ok(Ok(status)) => {
                    if counted {
                        tally.errors += 1;
                        *tally.statuses.entry(status.as_u16()).or_default() += 1;
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    tally.errors += u64::from(counted);
                    connection.abort();
                    continue 'connect;
                }
            }
        }
        connection.abort();
        break;
    }
    Ok(tally)
}

type Connection = (
    http1::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
);

async fn connect(target: &Target) -> Result<Connection, Error> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("{} at {}: {e}", target.name, target.addr))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    Ok((sender, tokio::spawn(connection)))
}

fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_target_off_loopback_is_refused() {
        let refused = Target::new("elsewhere", "http://192.0.2.1:80", "x", "acc_1").await;
        assert!(refused.is_err());
    }

    #[test]
    fn operations_read_as_they_print() {
        for op in [Operation::GetInstrument, Operation::PlaceOrder] {
            assert_eq!(op.to_string().parse::<Operation>(), Ok(op));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_operations_succeed_against_the_sandbox() {
        use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig};

        let sandbox = Sandbox::start(SandboxConfig::held()).await.expect("starts");
        let account = sandbox
            .create_account(&AccountSpec::usd(crate::fixtures::FUNDING))
            .expect("an account");
        let target = Target::new("sandbox", &sandbox.base_url(), &account.token, &account.id)
            .await
            .expect("a loopback target");
        let load = Load {
            connections: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(5),
            max_requests: 50,
            timeout: Duration::from_secs(5),
        };
        for operation in [Operation::GetInstrument, Operation::PlaceOrder] {
            let outcome = run(&target, operation, load).await.expect("runs");
            assert_eq!(outcome.errors, 0, "{operation}: {:?}", outcome.statuses);
            assert_eq!(outcome.ok, 50, "{operation}: the budget bounds the run");
        }
    }

    #[test]
    fn the_budget_bounds_the_requests() {
        let budget = AtomicU64::new(2);
        assert!(take_one(&budget));
        assert!(take_one(&budget));
        assert!(!take_one(&budget));
    }
}
