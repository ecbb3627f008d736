//! A stateful local Sophic.
//!
//! `sophic-sandbox` is a real HTTP server that implements every operation of
//! `openapi/orders.yaml` with real state: a seeded market, balances that are reserved at
//! placement and moved at fill, an order lifecycle on a clock, events, idempotency keys,
//! signed webhook deliveries with retries, and faults on request. Its bodies are the
//! generated types of `sophic-client`, so the sandbox and the client cannot disagree
//! about the wire.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::held()).await?;
//! let account = sandbox.create_account(&AccountSpec::usd("10000.00")).unwrap();
//! println!("{} {} {}", sandbox.base_url(), account.id, account.token);
//! sandbox.advance(std::time::Duration::from_secs(5)); // orders move only when told
//! # Ok(()) }
//! ```
//!
//! Control endpoints live under `/sandbox/…` and are described in `openapi/sandbox.yaml`.

pub mod cli;
pub mod clock;
pub mod error;
pub mod faults;
mod http;
pub mod idempotency;
mod ids;
pub mod limits;
pub mod market;
pub mod webhooks;
pub mod world;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use clock::{Clock, ClockMode};
pub use error::ApiError;
pub use faults::{FaultKind, FaultSpec};
pub use http::guard::Access;
pub use world::{AccountSpec, Delays, OauthClient, Rules, Timing};

use clock::lock;
use world::World;

/// How to run a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Real time or a held clock.
    pub clock: ClockMode,
    /// Where a held clock starts.
    pub start: DateTime<Utc>,
    /// Fee rate and lifecycle delays.
    pub rules: Rules,
    /// Seed of the id generator.
    pub seed: u64,
    /// Seed of secrets (tokens, client secrets, webhook keys); `None`, the default: the
    /// operating system's randomness, so that secrets cannot be worked out from the seed.
    pub secret_seed: Option<u64>,
    /// Host names and control token ([`Access`]); a non-loopback `addr` needs a token.
    pub access: Access,
    /// How long an HTTP/1 client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// Orders settled or cancelled longer ago than this (by the sandbox's clock) are
    /// forgotten with their events and finished deliveries, for long runs; `None`, the
    /// default, keeps everything. Idempotent answers are kept their 24 hours regardless.
    pub retention: Option<TimeDelta>,
    /// Lifetime of tokens from `POST /auth/token`.
    pub token_lifetime: TimeDelta,
    /// Whether to create a funded demo account (and an OAuth client for it) at start.
    pub demo_account: bool,
}

impl SandboxConfig {
    /// Why this configuration cannot run, if it cannot: a fee rate outside [0, 1) (fees
    /// would overflow or exceed the cash), an empty control token (it would let every
    /// request in), a retention that is not positive or longer than a century.
    pub fn check(&self) -> Result<(), String> {
        if !(Decimal::ZERO..Decimal::ONE).contains(&self.rules.fee_rate) {
            return Err(format!(
                "the fee rate must be at least 0 and below 1, not {}",
                self.rules.fee_rate
            ));
        }
        if self
            .access
            .control_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err("the control token must not be empty".into());
        }
        if self
            .retention
            .is_some_and(|r| r <= TimeDelta::zero() || r > TimeDelta::days(36_525))
        {
            return Err("the retention must be more than 0 and at most 100 years".into());
        }
        Ok(())
    }

    /// A held clock on an ephemeral loopback port: what tests want.
    pub fn held() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: ClockMode::Held,
            start: "2026-03-12T14:30:00Z".parse().expect("a valid instant"),
            rules: Rules::default(),
            seed: 42,
            secret_seed: None,
            access: Access::default(),
            header_read_timeout: limits::HEADER_READ_TIMEOUT,
            retention: None,
            token_lifetime: TimeDelta::minutes(15),
            demo_account: false,
        }
    }

    /// Real time, every lifecycle step after `step`: what demos want.
    pub fn realtime(step: Duration) -> Self {
        let step = TimeDelta::from_std(step).unwrap_or(TimeDelta::seconds(1));
        Self {
            clock: ClockMode::Realtime,
            rules: Rules {
                delays: Delays::uniform(step),
                ..Rules::default()
            },
            demo_account: true,
            ..Self::held()
        }
    }
}

/// The state shared by the server, its background tasks and the in-process handle.
#[derive(Debug)]
pub struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<faults::Faults>,
    pub(crate) idempotency: Mutex<idempotency::Store>,
    pub(crate) config: SandboxConfig,
    /// The listener's address: no webhook may point at it.
    pub(crate) addr: SocketAddr,
    pub(crate) requests: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    /// Shared with the world's deliveries, which notify it when one is queued.
    pub(crate) wake_webhooks: Arc<Notify>,
    pub(crate) webhooks_changed: Notify,
    pub(crate) stalled: Notify,
    pub(crate) release: Notify,
    pub(crate) shutdown: Notify,
}

impl Shared {
    fn new(config: SandboxConfig, addr: SocketAddr) -> Self {
        let wake_webhooks = Arc::new(Notify::new());
        let clock = Clock::new(config.clock, config.start);
        Self {
            world: Mutex::new(new_world(&config, addr, &wake_webhooks, clock.now())),
            clock,
            faults: Mutex::default(),
            idempotency: Mutex::default(),
            config,
            addr,
            requests: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            wake_webhooks,
            webhooks_changed: Notify::new(),
            stalled: Notify::new(),
            release: Notify::new(),
            shutdown: Notify::new(),
        }
    }

    /// Runs every lifecycle step due by now. Only real time moves on its own: a held clock
    /// runs its steps when advanced, so there is nothing to catch up (and no lock to take on
    /// every request).
    pub(crate) fn catch_up(&self) {
        if self.clock.mode() == ClockMode::Held {
            return;
        }
        let now = self.clock.now();
        let mut world = lock(&self.world);
        world.run_due(now);
        world.forget_old(now);
    }

    /// Moves the clock forward by `by` (at most [`limits::MAX_ADVANCE`], never past
    /// [`limits::latest_instant`]), running each step at its due time; refuses, naming
    /// `body.seconds`, a move past either bound.
    pub(crate) fn advance(&self, by: TimeDelta) -> Result<(DateTime<Utc>, usize), ApiError> {
        let latest = limits::latest_instant();
        let target = self
            .clock
            .now()
            .checked_add_signed(by)
            .filter(|t| by <= limits::MAX_ADVANCE && *t <= latest)
            .ok_or_else(|| {
                ApiError::param(
                    "body.seconds",
                    sophic_client::types::ErrorParamCode::TooLarge,
                    format!(
                        "moves the clock at most {} days at a time, and never past {latest}",
                        limits::MAX_ADVANCE.num_days()
                    ),
                )
            })?;
        let steps = self.run_until(Some(target));
        self.clock.advance_to(target);
        self.wake_webhooks.notify_one();
        Ok((self.clock.now(), steps))
    }

    /// Moves the clock to each next step until no order can move.
    pub(crate) fn settle(&self) -> (DateTime<Utc>, usize) {
        let steps = self.run_until(None);
        self.wake_webhooks.notify_one();
        (self.clock.now(), steps)
    }

    fn run_until(&self, target: Option<DateTime<Utc>>) -> usize {
        let mut world = lock(&self.world);
        let mut steps = 0;
        while let Some(due) = world.next_due() {
            if target.is_some_and(|t| due > t) {
                break;
            }
            self.clock.advance_to(due);
            steps += world.run_due(due);
        }
        // The midnights after the last step (issues, rollovers, maturities), and the steps
        // the rollovers placed there.
        if let Some(target) = target {
            steps += world.run_due(target);
        }
        world.forget_old(target.unwrap_or_else(|| self.clock.now()));
        steps
    }

    /// See [`Sandbox::broken_invariants`].
    fn broken_invariants(&self) -> Vec<String> {
        let world = lock(&self.world);
        let mut broken = Vec::new();
        for account in world.accounts() {
            // Cash may be below zero only while a rolled-over bill waits for its payout
            // (contract section 10).
            let awaiting = world.currencies_awaiting_payout(account);
            for balance in world.cash_balances(account) {
                let may_be_negative = awaiting.contains(&balance.currency);
                if (!may_be_negative
                    && (balance.total < Decimal::ZERO || balance.available < Decimal::ZERO))
                    || balance.reserved < Decimal::ZERO
                    || balance.available + balance.reserved != balance.total
                {
                    broken.push(format!("{} {:?}", account.id, balance));
                }
            }
            for position in world.positions(account) {
                if position.available_quantity < Decimal::ZERO
                    || position.available_quantity > position.quantity
                {
                    broken.push(format!("{} {:?}", account.id, position));
                }
            }
        }
        broken
    }

    fn reset(&self) {
        *lock(&self.world) = new_world(
            &self.config,
            self.addr,
            &self.wake_webhooks,
            self.clock.now(),
        );
        lock(&self.faults).clear();
        *lock(&self.idempotency) = idempotency::Store::default();
        self.release.notify_waiters();
    }
}

/// A fresh world whose deliveries wake the worker behind `wake_webhooks`.
fn new_world(
    config: &SandboxConfig,
    addr: SocketAddr,
    wake_webhooks: &Arc<Notify>,
    now: DateTime<Utc>,
) -> World {
    let ids = world::IdGen::new(config.seed, config.secret_seed);
    let today = now.date_naive();
    let market = market::Market::new(config.seed, today);
    let mut world =
        World::new(ids, config.rules.clone(), market, today).with_retention(config.retention);
    world.deliveries = webhooks::Deliveries::waking(Arc::clone(wake_webhooks), addr);
    world
}

/// A test account and a bearer token scoped to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestAccount {
    /// `acc_…`
    pub id: String,
    /// A bearer token for this account only (it does not expire).
    pub token: String,
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    demo: Option<(TestAccount, OauthClient)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `config.addr` and starts serving.
    ///
    /// Refuses (`InvalidInput`) an address off loopback without a control token: anyone
    /// who can reach such a sandbox could otherwise reset it or mint accounts.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        config
            .check()
            .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?;
        if !config.addr.ip().is_loopback() && config.access.control_token.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "listening on {} (not loopback) needs a control token for /sandbox/…: pass --control-token or set SOPHIC_SANDBOX_CONTROL_TOKEN",
                    config.addr
                ),
            ));
        }
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config.clone(), addr));
        let mut sandbox = Self {
            shared: shared.clone(),
            addr,
            demo: None,
            tasks: Vec::new(),
        };
        if config.demo_account {
            let account = sandbox
                .create_account(&AccountSpec::usd("10000.00"))
                .map_err(std::io::Error::other)?;
            let client = sandbox
                .create_client(vec![account.id.clone()])
                .map_err(std::io::Error::other)?;
            sandbox.demo = Some((account, client));
        }
        sandbox
            .tasks
            .push(tokio::spawn(http::serve(listener, shared.clone())));
        sandbox
            .tasks
            .push(tokio::spawn(webhooks::worker(shared.clone())));
        if config.clock == ClockMode::Realtime {
            sandbox.tasks.push(tokio::spawn(realtime_ticker(shared)));
        }
        Ok(sandbox)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The clock mode.
    pub fn clock_mode(&self) -> ClockMode {
        self.shared.clock.mode()
    }

    /// The demo account and OAuth client created at start, if configured.
    pub fn demo(&self) -> Option<&(TestAccount, OauthClient)> {
        self.demo.as_ref()
    }

    /// Creates a funded test account and a token for it.
    pub fn create_account(&self, spec: &AccountSpec) -> Result<TestAccount, ApiError> {
        let now = self.shared.clock.now();
        let (id, token) = lock(&self.shared.world).create_account(spec, now)?;
        Ok(TestAccount { id, token })
    }

    /// Registers an OAuth client (random id and secret) for these accounts.
    pub fn create_client(&self, accounts: Vec<String>) -> Result<OauthClient, ApiError> {
        lock(&self.shared.world).create_client(accounts, None, None)
    }

    /// Now, by the sandbox's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the clock forward, running every lifecycle step that falls due on the way.
    /// Returns how many steps ran.
    ///
    /// # Panics
    ///
    /// Past [`limits::MAX_ADVANCE`] or [`limits::latest_instant`] (a test's own mistake;
    /// over HTTP the same request is refused with a field error).
    pub fn advance(&self, by: Duration) -> usize {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        match self.shared.advance(by) {
            Ok((_, steps)) => steps,
            Err(e) => panic!("Sandbox::advance({by}): {e}"),
        }
    }

    /// Moves the clock until no order can move (every open order settles or cancels).
    pub fn settle(&self) -> usize {
        self.shared.settle().1
    }

    /// Pins an instrument's price (until [`Sandbox::unpin_price`]).
    pub fn set_price(&self, instrument: &str, price: Decimal) -> Result<(), ApiError> {
        lock(&self.shared.world)
            .set_market(instrument, Some(Some(price)), None, None)
            .map(drop)
    }

    /// Sets the most units one trade of `instrument` carries (larger orders fill in
    /// several trades, one per lifecycle step).
    pub fn set_lot(&self, instrument: &str, lot: Decimal) -> Result<(), ApiError> {
        lock(&self.shared.world)
            .set_market(instrument, None, None, Some(lot))
            .map(drop)
    }

    /// Lets an instrument's price follow the market again.
    pub fn unpin_price(&self, instrument: &str) -> Result<(), ApiError> {
        lock(&self.shared.world)
            .set_market(instrument, Some(None), None, None)
            .map(drop)
    }

    /// An instrument's price now.
    pub fn price(&self, instrument: &str) -> Option<Decimal> {
        let today = self.shared.clock.now().date_naive();
        lock(&self.shared.world)
            .listing(instrument)
            .map(|l| l.price(today))
    }

    /// Sets an instrument's trading status.
    pub fn set_trading_status(
        &self,
        instrument: &str,
        status: sophic_client::types::TradingStatus,
    ) -> Result<(), ApiError> {
        lock(&self.shared.world)
            .set_market(instrument, None, Some(status), None)
            .map(drop)
    }

    /// Arms a fault.
    pub fn arm(&self, fault: FaultSpec) {
        lock(&self.shared.faults).arm(fault);
    }

    /// The faults still armed (a fault is gone once it has hit its `count` requests).
    pub fn armed_faults(&self) -> Vec<FaultSpec> {
        lock(&self.shared.faults).armed()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Waits until a request is held by a `stall` fault.
    pub async fn stalled(&self) {
        self.shared.stalled.notified().await;
    }

    /// Lets every request held by a `stall` fault go on.
    pub fn release_stalled(&self) {
        self.shared.release.notify_waiters();
    }

    /// How many tokens `POST /auth/token` has issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared
            .tokens_issued
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every webhook delivery so far, oldest first.
    pub fn webhook_deliveries(&self) -> Vec<sophic_client::types::WebhookDelivery> {
        lock(&self.shared.world).deliveries.list()
    }

    /// Waits until a webhook delivery attempt is recorded.
    pub async fn webhook_attempt_recorded(&self) {
        self.shared.webhooks_changed.notified().await;
    }

    /// Checks the balance invariants of every account: nothing negative, reserved never
    /// above total. Returns the broken ones.
    pub fn broken_invariants(&self) -> Vec<String> {
        self.shared.broken_invariants()
    }

    /// Forgets every account, order, event, webhook, key and fault.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.shutdown.notify_waiters();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A sandbox without a socket or background tasks: its router called in-process, one
/// request at a time (the fuzz target drives it with arbitrary requests). Webhook
/// deliveries are queued but never sent; a `drop_connection` fault answers 500.
pub struct InProcess {
    shared: Arc<Shared>,
    router: axum::Router,
}

impl InProcess {
    /// A sandbox as `config` says, without binding `config.addr`.
    ///
    /// # Panics
    ///
    /// If [`SandboxConfig::check`] refuses the configuration.
    pub fn new(config: SandboxConfig) -> Self {
        if let Err(why) = config.check() {
            panic!("InProcess::new: {why}");
        }
        let shared = Arc::new(Shared::new(config.clone(), config.addr));
        let router = http::router(shared.clone());
        Self { shared, router }
    }

    /// Creates a funded test account and a token for it.
    pub fn create_account(&self, spec: &AccountSpec) -> Result<TestAccount, ApiError> {
        let now = self.shared.clock.now();
        let (id, token) = lock(&self.shared.world).create_account(spec, now)?;
        Ok(TestAccount { id, token })
    }

    /// Answers one request, as the server would (the answer's body read whole).
    pub async fn call(
        &self,
        request: axum::http::Request<axum::body::Bytes>,
    ) -> axum::http::Response<axum::body::Bytes> {
        use tower::ServiceExt;
        let request = request.map(axum::body::Body::from);
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        axum::http::Response::from_parts(parts, body)
    }

    /// Lets every request held by a `stall` fault go on.
    pub fn release_stalled(&self) {
        self.shared.release.notify_waiters();
    }

    /// See [`Sandbox::broken_invariants`].
    pub fn broken_invariants(&self) -> Vec<String> {
        self.shared.broken_invariants()
    }
}

async fn realtime_ticker(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        shared.catch_up();
    }
}
