//! A place-order round trip (a buy of 100.00 of `ins_xyz789`, with an `Idempotency-Key`)
//! through the `sophic` SDK, the generated `sophic_client::Client` and a hand-written
//! `reqwest` + `serde_json` POST, against an in-process sandbox on loopback (held clock).
//! Target: the SDK within 5% of the hand-written call.
//!
//! For context: the same hand-written POST decoding the answer into the generated `Order`
//! (every field, as the SDK does) instead of the caller's few fields, which separates the
//! cost of decoding a whole order from the cost of the SDK's layers.
//!
//! Client and sandbox share one current-thread runtime: a round trip is then the CPU work
//! of both ends plus the loopback syscalls, with no cross-thread wake-ups, whose cost on a
//! 2-core VM varies more between runs than the differences measured here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use criterion::Criterion;
use secrecy::SecretString;
use sophic::orders::{OrderRequest, OrdersHandler};
use sophic::{AccountId, Amount, InstrumentId};
use sophic_bench::fixtures::{CASH, FUNDING, INSTRUMENT};
use sophic_bench::handwritten::{HandWrittenClient, MinimalOrder};
use sophic_bench::report::{self, Contender, Rounds};
use sophic_client::ClientState;
use sophic_client::types::{Order, PlaceOrderRequest};
use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig};
use tokio::runtime::Runtime;

const GROUP: &str = "client_overhead";
const BASELINE: &str = "reqwest_serde_json";
const CONTENDERS: [Contender; 4] = [
    Contender::context("reqwest_generated_order"),
    Contender::context("generated_client"),
    Contender::within("sophic_sdk", 1.05),
    // The SDK with a user layer that does nothing: what `ClientBuilder::layer` itself costs
    // (the boxed service every attempt then goes through). Target: under 1 µs a call.
    Contender::context("sophic_sdk_identity_layer"),
];

/// Idempotency keys: one per placement, the same scheme for every client.
static KEYS: AtomicU64 = AtomicU64::new(0);

fn next_key() -> String {
    format!("bench-{}", KEYS.fetch_add(1, Ordering::Relaxed))
}

/// The clients, each ready to place on one sandbox and one funded account.
struct Clients {
    account: String,
    handwritten: HandWrittenClient,
    generated: sophic_client::Client,
    body: PlaceOrderRequest,
    sdk: OrdersHandler,
    sdk_layered: OrdersHandler,
    instrument: InstrumentId,
    cash: Amount,
    _sandbox: Sandbox,
}

impl Clients {
    fn start(runtime: &Runtime) -> Self {
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig::held()))
            .expect("the sandbox starts on loopback");
        let account = sandbox
            .create_account(&AccountSpec::usd(FUNDING))
            .expect("a funded account");
        let base_url = sandbox.base_url();
        let sdk = sophic::Client::builder()
            .base_url(&base_url)
            .token(&account.token)
            .build()
            .expect("an SDK client");
        let layered = sophic::Client::builder()
            .base_url(&base_url)
            .token(&account.token)
            .layer(tower::layer::util::Identity::new())
            .build()
            .expect("an SDK client with a layer");
        let (instrument, cash): (InstrumentId, Amount) = (
            INSTRUMENT.parse().expect("an instrument id"),
            CASH.parse().expect("an amount"),
        );
        Self {
            // The very body the SDK sends, so both contenders place the same order.
            body: OrderRequest::from(OrderRequest::buy(&instrument, cash)).into_wire(),
            handwritten: HandWrittenClient::new(&base_url, &account.token, &account.id)
                .expect("a hand-written client"),
            generated: sophic_client::Client::new(
                &base_url,
                ClientState::with_token(SecretString::from(account.token.clone())),
            ),
            sdk: sdk.orders(&account.id.parse::<AccountId>().expect("an account id")),
            sdk_layered: layered.orders(&account.id.parse::<AccountId>().expect("an account id")),
            instrument,
            cash,
            account: account.id,
            _sandbox: sandbox,
        }
    }

    /// One placement through contender `which`, in the order of [`names`].
    async fn place(&self, which: usize) {
        match which {
            0 => drop(
                self.handwritten
                    .place_buy::<MinimalOrder>(INSTRUMENT, CASH, &next_key())
                    .await
                    .expect("placed"),
            ),
            1 => drop(
                self.handwritten
                    .place_buy::<Order>(INSTRUMENT, CASH, &next_key())
                    .await
                    .expect("placed"),
            ),
            2 => drop(
                self.generated
                    .place_order()
                    .account_id(&self.account)
                    .idempotency_key(next_key())
                    .body(self.body.clone())
                    .send()
                    .await
                    .expect("placed"),
            ),
            3 => drop(
                self.sdk
                    .place(OrderRequest::buy(&self.instrument, self.cash))
                    .idempotency_key(next_key())
                    .await
                    .expect("placed"),
            ),
            _ => drop(
                self.sdk_layered
                    .place(OrderRequest::buy(&self.instrument, self.cash))
                    .idempotency_key(next_key())
                    .await
                    .expect("placed"),
            ),
        }
    }
}

fn names() -> impl Iterator<Item = &'static str> {
    std::iter::once(BASELINE).chain(CONTENDERS.iter().map(|c| c.function))
}

/// Each client against a fresh sandbox of its own, one after the other.
fn client_overhead(c: &mut Criterion, runtime: &Runtime) {
    let mut group = c.benchmark_group(GROUP);
    for (which, name) in names().enumerate() {
        let clients = Clients::start(runtime);
        group.bench_function(name, |b| {
            b.to_async(runtime).iter(|| clients.place(which));
        });
    }
    group.finish();
}

/// The clients in turn against one sandbox, so that drift falls on all alike.
fn paired(runtime: &Runtime) {
    let clients = Clients::start(runtime);
    report::paired(
        GROUP,
        BASELINE,
        &CONTENDERS,
        Rounds::new(20, 200),
        |which, calls| {
            runtime.block_on(async {
                for _ in 0..calls {
                    clients.place(which).await;
                }
            });
        },
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = SystemTime::now();
    let mut criterion = report::criterion();
    client_overhead(&mut criterion, &runtime);
    criterion.final_summary();
    report::print_ratios(GROUP, BASELINE, &CONTENDERS, started);
    paired(&runtime);
}
