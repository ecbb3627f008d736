//! Arbitrary requests to the sandbox's router, in-process: nothing panics or hangs, every
//! answer is a status below 500 (unless the input armed a fault) with a JSON body (none on
//! 204 and HEAD), and every balance invariant holds after every request.
//!
//! An input is up to 8 requests, read by a byte reader that yields 0 once the input is
//! used up, so 0 is always the ordinary choice (the route's own method, the account's real
//! token, the route's own body…). Per request:
//!
//! ```text
//! route    1 byte   mod ROUTES.len() + 1: a route of ROUTES, or the last: a raw path (blob)
//! ids      each {…} of the route: a kind and its bytes (see `id`)
//! query    1 byte   mod QUERIES.len() + 1: one of QUERIES, or the last: a raw query (blob)
//! method   1 byte   0 the route's own, 1..=7 METHODS, 8 a blob
//! headers  6 bytes  Authorization, Content-Type, Idempotency-Key, Host, Origin and
//!                   Sec-Fetch-Site, each 0 the ordinary one (see `request`)
//! body     1 byte   0 the route's own body (see `body`), 1 none, 2 a blob, 3 the body of
//!                   another route (1 byte); then a Content-Type blob, if chosen
//! ```
//!
//! A blob is a length byte and that many bytes. `fuzz/sandbox_router_seeds.py` writes the
//! seeds in `corpus/sandbox_router/`.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sophic_sandbox::{AccountSpec, InProcess, SandboxConfig};

const MAX_REQUESTS: usize = 8;

/// Every route of orders.yaml and sandbox.yaml, with its method; `{a}` an account, `{o}`
/// an order, `{i}` an instrument, `{w}` a webhook.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/accounts/{a}/orders"),
    ("GET", "/accounts/{a}/orders"),
    ("GET", "/accounts/{a}/orders/pending"),
    ("GET", "/accounts/{a}/orders/{o}"),
    ("POST", "/accounts/{a}/orders/{o}/cancel"),
    ("GET", "/accounts/{a}/cash-balances"),
    ("GET", "/accounts/{a}/positions"),
    ("GET", "/instruments"),
    ("GET", "/instruments/{i}"),
    ("GET", "/events"),
    ("POST", "/webhooks"),
    ("PUT", "/webhooks/{w}"),
    ("POST", "/webhooks/{w}/test"),
    ("POST", "/auth/token"),
    ("POST", "/sandbox/accounts"),
    ("POST", "/sandbox/clients"),
    ("GET", "/sandbox/clock"),
    ("POST", "/sandbox/clock/advance"),
    ("POST", "/sandbox/clock/settle"),
    ("PUT", "/sandbox/instruments/{i}"),
    ("POST", "/sandbox/faults"),
    ("GET", "/sandbox/faults"),
    ("DELETE", "/sandbox/faults"),
    ("POST", "/sandbox/faults/release"),
    ("GET", "/sandbox/webhook-deliveries"),
    ("POST", "/sandbox/reset"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

const QUERIES: &[&str] = &[
    "",
    "?limit=1",
    "?limit=0",
    "?limit=501",
    "?status=placed&status=settled",
    "?status=bogus",
    "?side=sell",
    "?instrument=ins_xyz789",
    "?created[gte]=2026-03-12T14:30:00Z&created[lt]=2030-01-01T00:00:00Z",
    "?created[gt]=yesterday",
    "?name=order.filled",
    "?starting_after=ord_unknown",
];

const INSTRUMENTS: &[&str] = &[
    "ins_xyz789",
    "ins_tbill3m",
    "ins_bund30",
    "ins_gilt28",
    "ins_ng2025c",
    "ins_ke2035p",
    "ins_gh2026s",
    "ins_unknown",
];

const OPERATIONS: &[&str] = &[
    "place_order",
    "cancel_order",
    "get_order",
    "list_orders",
    "create_token",
    "create_webhook",
    "list_instruments",
];

const DECIMALS: &[&str] = &[
    "100.00",
    "1",
    "0",
    "-1",
    "0.01",
    "0.001",
    "10000.00",
    "10000.01",
    "50",
    "50.5",
    "1e2",
    " 7 ",
    "",
    ".5",
    "NaN",
    "1000000000000000",
    "1000000000000001",
    "99999999999999999999999999999",
    "0.0000000000000000000000000001",
    "0.000001",
    "1000000",
];

/// Reads the input front to back; past its end every read is 0.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn blob(&mut self) -> Vec<u8> {
        let len = usize::from(self.byte()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken.to_vec()
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(&self.blob()).into_owned()
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// What earlier answers handed out: ids to put in paths, tokens and clients to send.
#[derive(Default)]
struct Known {
    accounts: Vec<(String, String)>,
    orders: Vec<String>,
    webhooks: Vec<String>,
    tokens: Vec<String>,
    clients: Vec<(String, String)>,
}

fn remember<T>(list: &mut Vec<T>, item: T) {
    if list.len() < 16 {
        list.push(item);
    }
}

impl Known {
    fn learn(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().take(16).for_each(|v| self.learn(v)),
            Value::Object(fields) => {
                if let Some(id) = fields.get("id").and_then(Value::as_str) {
                    if id.starts_with("ord_") && !self.orders.iter().any(|o| o == id) {
                        remember(&mut self.orders, id.to_string());
                    } else if id.starts_with("wh_") {
                        remember(&mut self.webhooks, id.to_string());
                    }
                }
                let account = fields
                    .get("account")
                    .and_then(|a| a.get("id"))
                    .and_then(Value::as_str);
                if let (Some(id), Some(token)) =
                    (account, fields.get("token").and_then(Value::as_str))
                {
                    remember(&mut self.accounts, (id.to_string(), token.to_string()));
                }
                if let Some(token) = fields.get("access_token").and_then(Value::as_str) {
                    remember(&mut self.tokens, token.to_string());
                }
                let client = fields.get("client_id").and_then(Value::as_str);
                if let (Some(id), Some(secret)) =
                    (client, fields.get("client_secret").and_then(Value::as_str))
                {
                    remember(&mut self.clients, (id.to_string(), secret.to_string()));
                }
            }
            _ => {}
        }
    }
}

/// Bytes as a path segment, percent-encoding all but unreserved characters.
fn percent_encoded(raw: &[u8]) -> String {
    raw.iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(*b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One id for a `{…}` of a route, by its first byte: 0 the ordinary one (the account, the latest order or
/// webhook, ins_xyz789), 1 one of those known (1 byte), 2 an unknown one, 3 a blob
/// percent-encoded, 4 a blob as it is.
fn id(r: &mut Reader, slot: char, known: &Known) -> String {
    let accounts: Vec<String> = known.accounts.iter().map(|a| a.0.clone()).collect();
    let instruments: Vec<String> = INSTRUMENTS.iter().map(|i| i.to_string()).collect();
    let (list, unknown) = match slot {
        'a' => (&accounts, "acc_unknown"),
        'o' => (&known.orders, "ord_unknown"),
        'w' => (&known.webhooks, "wh_unknown"),
        _ => (&instruments, "ins_unknown"),
    };
    let own = match slot {
        'a' | 'i' => list.first(),
        _ => list.last(),
    };
    match r.pick(5) {
        0 => own.map_or(unknown, String::as_str).to_string(),
        1 => {
            let n = r.pick(list.len().max(1));
            list.get(n).map_or(unknown, String::as_str).to_string()
        }
        2 => unknown.to_string(),
        3 => percent_encoded(&r.blob()),
        _ => String::from_utf8_lossy(&r.blob()).into_owned(),
    }
}

fn decimal(r: &mut Reader) -> Value {
    match r.pick(5) {
        0 => json!(DECIMALS[r.pick(DECIMALS.len())]),
        1 => {
            let (int, frac, scale) = (r.u32(), r.u32(), r.pick(8));
            if scale == 0 {
                json!(int.to_string())
            } else {
                json!(format!("{int}.{:0scale$}", frac % 10u32.pow(scale as u32)))
            }
        }
        2 => json!(r.text()),
        3 => json!(r.u32()),
        _ => Value::Null,
    }
}

fn instrument(r: &mut Reader) -> Value {
    match r.pick(4) {
        0 => json!("ins_xyz789"),
        1 => json!(INSTRUMENTS[r.pick(INSTRUMENTS.len())]),
        2 => Value::Null,
        _ => json!(r.text()),
    }
}

/// One of `options`.
fn choose(r: &mut Reader, mut options: Vec<Value>) -> Value {
    let n = r.pick(options.len());
    options.swap_remove(n)
}

/// Inserts the fields whose values are not null.
fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// The body shapes: 0 place order, 1 advance, 2 fault, 3 test account, 4 client,
/// 5 market change, 6 new webhook, 7 webhook change, 8 token form, 9 any text.
const SHAPES: usize = 10;

/// The body shape of a route's own method, if it has a body.
fn shape_of(method: &str, route: &str) -> Option<usize> {
    Some(match (method, route) {
        ("POST", "/accounts/{a}/orders") => 0,
        ("POST", "/sandbox/clock/advance") => 1,
        ("POST", "/sandbox/faults") => 2,
        ("POST", "/sandbox/accounts") => 3,
        ("POST", "/sandbox/clients") => 4,
        ("PUT", "/sandbox/instruments/{i}") => 5,
        ("POST", "/webhooks") => 6,
        ("PUT", "/webhooks/{w}") => 7,
        ("POST", "/auth/token") => 8,
        _ => return None,
    })
}

fn body(r: &mut Reader, shape: usize, known: &Known) -> Vec<u8> {
    let value = match shape {
        0 => {
            let side = ["buy", "sell", "", "hold"][r.pick(4)];
            let flags = r.byte();
            let amount = decimal(r);
            let (cash, quantity) = match (side, flags & 3) {
                (_, 3) => (amount.clone(), amount),
                ("buy", _) => (amount, Value::Null),
                _ => (Value::Null, amount),
            };
            object(vec![
                ("instrument", instrument(r)),
                (
                    "order_type",
                    vec![json!("market"), json!("limit"), Value::Null]
                        .swap_remove(usize::from(flags >> 2) % 3),
                ),
                (
                    "side",
                    if side.is_empty() {
                        Value::Null
                    } else {
                        json!(side)
                    },
                ),
                ("cash_amount", cash),
                ("quantity", quantity),
                (
                    "automatic_rollover",
                    vec![Value::Null, json!(true), json!(false), json!("yes")]
                        .swap_remove(usize::from(flags >> 4) % 4),
                ),
            ])
        }
        1 => {
            let seconds = match r.pick(4) {
                0 => json!(
                    [
                        0.0,
                        1.0,
                        2.5,
                        5.0,
                        60.0,
                        3600.0,
                        86400.0,
                        316_224_000.0,
                        316_224_000.5,
                        -1.0,
                        1e300
                    ][r.pick(11)]
                ),
                1 => json!(r.u32()),
                2 => json!(r.text()),
                _ => Value::Null,
            };
            object(vec![("seconds", seconds)])
        }
        2 => {
            let kind = match r.pick(5) {
                4 => json!(r.text()),
                k => json!(["internal_error", "rate_limited", "drop_connection", "stall"][k]),
            };
            let count = choose(
                r,
                vec![
                    Value::Null,
                    json!(1),
                    json!(2),
                    json!(1_000_000),
                    json!(1_000_001),
                    json!(0),
                    json!(-1),
                ],
            );
            let operation = match r.pick(3) {
                0 => Value::Null,
                1 => json!(OPERATIONS[r.pick(OPERATIONS.len())]),
                _ => json!(r.text()),
            };
            let retry_after = choose(r, vec![Value::Null, json!(1), json!(86_400), json!(86_401)]);
            object(vec![
                ("kind", kind),
                ("count", count),
                ("operation", operation),
                ("retry_after", retry_after),
            ])
        }
        3 => {
            let currency = ["USD", "EUR", "GBP", "XXX"][r.pick(4)];
            let cash = decimal(r);
            let held = match instrument(r) {
                Value::String(i) => Some(i),
                _ => None,
            };
            let quantity = decimal(r);
            let professional = choose(r, vec![Value::Null, json!(true), json!(false), json!(1)]);
            let positions = held.map(|i| json!({ i: quantity })).unwrap_or(Value::Null);
            object(vec![
                (
                    "cash",
                    if cash.is_null() {
                        Value::Null
                    } else {
                        json!({ currency: cash })
                    },
                ),
                ("positions", positions),
                ("professional", professional),
            ])
        }
        4 => {
            let accounts = match r.pick(3) {
                0 => json!([known.accounts[0].0]),
                1 => json!(["acc_unknown"]),
                _ => json!([]),
            };
            let client_id = if r.byte() & 1 == 1 {
                json!(r.text())
            } else {
                Value::Null
            };
            let secret = if r.byte() & 1 == 1 {
                json!(r.text())
            } else {
                Value::Null
            };
            object(vec![
                ("accounts", accounts),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
        }
        5 => {
            let price = decimal(r);
            let status = match r.pick(5) {
                4 => json!(r.text()),
                3 => Value::Null,
                s => json!(["buy_sell", "sell_only", "closed"][s]),
            };
            object(vec![("price", price), ("trading_status", status)])
        }
        6 | 7 => {
            let url = match r.pick(6) {
                0 => json!("https://hooks.example/sophic"),
                1 => json!("http://127.0.0.1:9/hook"),
                2 => json!("http://localhost:0/"),
                3 => json!("http://hooks.example/"),
                4 => {
                    if shape == 7 {
                        Value::Null
                    } else {
                        json!(r.text())
                    }
                }
                _ => json!(r.text()),
            };
            let events = choose(
                r,
                vec![
                    Value::Null,
                    json!(["order.filled"]),
                    json!(["order.bogus"]),
                    json!([]),
                    json!("order.filled"),
                ],
            );
            let description = if r.byte() & 1 == 1 {
                json!(r.text())
            } else {
                Value::Null
            };
            let disabled = choose(r, vec![Value::Null, json!(true), json!(false), json!("no")]);
            object(vec![
                ("url", url),
                ("enabled_events", events),
                ("description", description),
                ("disabled", disabled),
            ])
        }
        8 => {
            let (id, secret) = known
                .clients
                .get(r.pick(known.clients.len().max(1)))
                .cloned()
                .unwrap_or_default();
            let mut form = url_form(&[
                (
                    "grant_type",
                    ["client_credentials", "password", ""][r.pick(3)],
                ),
                ("client_id", &id),
                (
                    "client_secret",
                    if r.byte() & 1 == 1 { "wrong" } else { &secret },
                ),
                (
                    "scope",
                    ["", "orders:read", "orders:read orders:write", "admin"][r.pick(4)],
                ),
            ]);
            if r.byte() & 1 == 1 {
                form.extend_from_slice(b"&");
                form.extend(r.blob());
            }
            return form;
        }
        _ => return r.text().into_bytes(),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

fn url_form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encoded(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A header value: 0 none, 1..=values.len() one of `values`, the next a blob.
fn header(r: &mut Reader, values: &[&str]) -> Option<Vec<u8>> {
    match r.pick(values.len() + 2) {
        0 => None,
        n if n <= values.len() => Some(values[n - 1].as_bytes().to_vec()),
        _ => Some(r.blob()),
    }
}

/// One request, or `None` when its bytes make no request a server could receive (an
/// invalid method, URI or header value, or a path that does not start with `/`).
fn request(r: &mut Reader, known: &Known) -> Option<Request<Bytes>> {
    let route = r.pick(ROUTES.len() + 1);
    let (own_method, template) = ROUTES
        .get(route)
        .copied()
        .map_or((None, None), |(m, t)| (Some(m), Some(t)));
    let mut path = match template {
        Some(template) => {
            let mut path = String::new();
            let mut rest = template;
            while let Some(start) = rest.find('{') {
                path.push_str(&rest[..start]);
                let slot = rest[start + 1..].chars().next().unwrap_or('i');
                path.push_str(&id(r, slot, known));
                rest = &rest[start + 3..];
            }
            path.push_str(rest);
            path
        }
        None => String::from_utf8_lossy(&r.blob()).into_owned(),
    };
    match r.pick(QUERIES.len() + 1) {
        q if q < QUERIES.len() => path.push_str(QUERIES[q]),
        _ => {
            path.push('?');
            path.push_str(&String::from_utf8_lossy(&r.blob()));
        }
    }
    let method = match r.pick(METHODS.len() + 2) {
        0 => Method::from_bytes(own_method.unwrap_or("GET").as_bytes()).ok()?,
        m if m <= METHODS.len() => Method::from_bytes(METHODS[m - 1].as_bytes()).ok()?,
        _ => Method::from_bytes(&r.blob()).ok()?,
    };

    let token = known.accounts[0].1.clone();
    let other = known
        .tokens
        .iter()
        .chain(known.accounts.iter().skip(1).map(|a| &a.1))
        .next()
        .cloned()
        .unwrap_or_default();
    let authorization = match r.pick(6) {
        0 => Some(format!("Bearer {token}").into_bytes()),
        1 => None,
        2 => Some(b"Bearer tok_wrong".to_vec()),
        3 => Some(format!("bearer {other}").into_bytes()),
        4 => Some(token.into_bytes()),
        _ => Some(r.blob()),
    };
    let content_type = r.pick(6);
    let key = header(r, &["key-1", "key-2"]);
    let host = header(
        r,
        &[
            "localhost:4010",
            "127.0.0.1:4010",
            "evil.example",
            "[::1]:4010",
        ],
    );
    let origin = header(
        r,
        &["http://localhost:4010", "https://evil.example", "null"],
    );
    let fetch_site = header(r, &["same-origin", "cross-site", "none"]);

    let shape = own_method.zip(template).and_then(|(m, t)| shape_of(m, t));
    let body = match r.pick(4) {
        0 => shape.map(|s| body(r, s, known)).unwrap_or_default(),
        1 => Vec::new(),
        2 => r.blob(),
        _ => {
            let s = r.pick(SHAPES);
            body(r, s, known)
        }
    };
    let form = template == Some("/auth/token");
    let content_type = match content_type {
        0 if body.is_empty() => None,
        0 if form => Some(b"application/x-www-form-urlencoded".to_vec()),
        0 => Some(b"application/json".to_vec()),
        1 => None,
        2 => Some(b"application/json; charset=utf-8".to_vec()),
        3 => Some(b"application/x-www-form-urlencoded".to_vec()),
        4 => Some(b"text/plain".to_vec()),
        _ => Some(r.blob()),
    };

    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in [
        ("authorization", authorization),
        ("content-type", content_type),
        ("idempotency-key", key),
        ("host", host),
        ("origin", origin),
        ("sec-fetch-site", fetch_site),
    ] {
        if let Some(value) = value {
            builder = builder.header(name, value);
        }
    }
    let request = builder.body(Bytes::from(body)).ok()?;
    // What a server can receive: an origin-form path, or an absolute URI with one.
    request.uri().path().starts_with('/').then_some(request)
}

/// Answers a request; a request a `stall` fault holds (pending once nothing else can run)
/// is released.
async fn answer(sandbox: &InProcess, request: Request<Bytes>) -> Response<Bytes> {
    let call = sandbox.call(request);
    tokio::pin!(call);
    for _ in 0..16 {
        tokio::select! {
            biased;
            response = &mut call => return response,
            () = async {
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            } => {}
        }
        if trace() {
            eprintln!("  (pending: releasing stalled requests)");
        }
        sandbox.release_stalled();
    }
    panic!("a request is still pending after 16 releases");
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

/// `SANDBOX_ROUTER_TRACE=1` prints every request and answer (to read a reproducer).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SANDBOX_ROUTER_TRACE").is_some_and(|v| v == "1"))
}

fn config() -> SandboxConfig {
    // Seeded secrets as well as ids, so that an input replays the same way.
    SandboxConfig {
        secret_seed: Some(7),
        ..SandboxConfig::held()
    }
}

fn run(data: &[u8]) {
    let sandbox = InProcess::new(config());
    let account = sandbox
        .create_account(&AccountSpec::usd("10000.00").position("ins_xyz789", "50"))
        .expect("a funded account");
    let mut known = Known {
        accounts: vec![(account.id, account.token)],
        ..Known::default()
    };
    let mut r = Reader(data);
    let mut fault_armed = false;
    for n in 0..MAX_REQUESTS {
        if r.done() && n > 0 {
            break;
        }
        let Some(request) = request(&mut r, &known) else {
            continue;
        };
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let what = format!("{method} {}", request.uri());
        let response = runtime().block_on(answer(&sandbox, request));
        let status = response.status();

        if trace() {
            let body = String::from_utf8_lossy(response.body());
            eprintln!(
                "{what} -> {status} {}",
                body.chars().take(300).collect::<String>()
            );
        }

        let broken = sandbox.broken_invariants();
        assert!(
            broken.is_empty(),
            "{what} -> {status}: broken invariants {broken:?}"
        );
        assert!(
            (200..600).contains(&status.as_u16()),
            "{what}: status {status}"
        );
        assert!(
            status.as_u16() < 500 || fault_armed,
            "{what} -> {status} without a fault armed: {:?}",
            String::from_utf8_lossy(response.body())
        );
        if status == StatusCode::NO_CONTENT || method == Method::HEAD {
            assert!(
                status != StatusCode::NO_CONTENT || response.body().is_empty(),
                "{what} -> 204 with a body"
            );
        } else {
            match serde_json::from_slice::<Value>(response.body()) {
                Ok(value) => known.learn(&value),
                Err(e) => panic!(
                    "{what} -> {status}: the body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(response.body())
                ),
            }
        }

        if method == Method::POST && status == StatusCode::CREATED && path.contains("fault") {
            fault_armed = true;
        }
        let cleared = (method == Method::POST && path == "/sandbox/reset")
            || (method == Method::DELETE && path == "/sandbox/faults");
        if cleared && status == StatusCode::NO_CONTENT {
            fault_armed = false;
        }
    }
}

fuzz_target!(|data: &[u8]| run(data));
