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
pub mod requests;
pub mod state;
pub mod webhooks;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
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
pub use state::StateError;
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
    /// Whether to create a funded demo account (and an OAuth client for it) at start; a
    /// state that has one already keeps it.
    pub demo_account: bool,
    /// Where the state is kept.
    pub persistence: Persistence,
}

/// Where a sandbox keeps its state (see `docs/decisions/0014-durable-state.md`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Persistence {
    /// Nowhere: nothing is recorded, and [`Sandbox::snapshot`] is refused (the
    /// command-line server without `--state`, for the most speed).
    Off,
    /// A journal in memory: [`Sandbox::snapshot`] works, nothing outlives the process.
    #[default]
    Memory,
    /// A state file, loaded at start if it exists and kept as each change is made; one
    /// process at a time has it open.
    File(PathBuf),
    /// A state file taken by turns with other processes (the command line's local
    /// sandbox): each change, and each request in real time, waits for the file's lock,
    /// first applies what other processes appended, and gives the lock back at once, so a
    /// command that polls never holds it.
    Shared(PathBuf),
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
            persistence: Persistence::Memory,
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
    /// Requests being answered, and a wake-up when the last one is.
    pub(crate) in_flight: std::sync::atomic::AtomicUsize,
    pub(crate) answered: Notify,
    pub(crate) tokens_issued: AtomicU64,
    /// Shared with the world's deliveries, which notify it when one is queued.
    pub(crate) wake_webhooks: Arc<Notify>,
    pub(crate) webhooks_changed: Notify,
    pub(crate) stalled: Notify,
    pub(crate) release: Notify,
    pub(crate) shutdown: Notify,
    /// Where changes are recorded; `None` with [`Persistence::Off`]. Locked after the
    /// world, so records follow the order the world saw.
    pub(crate) journal: Mutex<Option<state::journal::Journal>>,
    /// The settings in the journal's header (the secrets' key among them).
    pub(crate) settings: Mutex<Option<state::Settings>>,
    /// The demo account and client, once made (at start, or by a loaded state).
    pub(crate) demo: Mutex<(Option<TestAccount>, Option<OauthClient>)>,
    /// Making recorded changes again (loading a state), rather than live ones.
    replaying: std::sync::atomic::AtomicBool,
    /// Every API request answered (the latest [`limits::MAX_JOURNAL_REQUESTS`]).
    pub(crate) request_log: Mutex<requests::Journal>,
    /// Counts the states put in place (resets, restores, another process's reset): a
    /// keyed request that claimed its key in an earlier one looks for an answer again.
    generation: AtomicU64,
}

/// A new secrets key: random, or derived from the configured secret seed.
fn fresh_settings(config: &SandboxConfig, now: DateTime<Utc>) -> state::Settings {
    let secret = match config.secret_seed {
        Some(seed) => state::Secret::Seed(seed),
        None => {
            use rand::RngCore;
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            state::Secret::key(key)
        }
    };
    state::Settings::of(config, secret, now)
}

impl Shared {
    /// A sandbox's state as `config` says, with the header `settings` if it records.
    fn new(
        config: SandboxConfig,
        addr: SocketAddr,
        settings: Option<state::Settings>,
        wake_webhooks: Arc<Notify>,
    ) -> Self {
        let start = settings.as_ref().map_or(config.start, |s| s.start);
        let clock = Clock::new(config.clock, start);
        let created = settings.as_ref().map_or_else(|| clock.now(), |s| s.created);
        let world = new_world(&config, settings.as_ref(), &wake_webhooks, created);
        Self {
            world: Mutex::new(world),
            clock,
            faults: Mutex::default(),
            idempotency: Mutex::default(),
            config,
            addr,
            requests: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            answered: Notify::new(),
            tokens_issued: AtomicU64::new(0),
            wake_webhooks,
            webhooks_changed: Notify::new(),
            stalled: Notify::new(),
            release: Notify::new(),
            shutdown: Notify::new(),
            journal: Mutex::new(None),
            settings: Mutex::new(settings),
            demo: Mutex::default(),
            replaying: std::sync::atomic::AtomicBool::new(false),
            request_log: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// See [`Shared::generation`]'s field.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether a keyed change may find its key answered by another process: when taking
    /// turns with a shared state file, or replaying what such processes wrote.
    pub(crate) fn may_meet_other_answers(&self) -> bool {
        matches!(self.config.persistence, Persistence::Shared(_))
            || self.replaying.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The state `config.persistence` says: nothing recorded, a journal in memory, or a
    /// state file loaded (and its torn last record, if any, cut off).
    fn open(config: SandboxConfig, addr: SocketAddr) -> Result<Self, StateError> {
        let wake = Arc::new(Notify::new());
        let now = Clock::new(config.clock, config.start).now();
        match config.persistence.clone() {
            Persistence::Off => Ok(Self::new(config, addr, None, wake)),
            Persistence::Memory => {
                let settings = fresh_settings(&config, now);
                let journal = state::journal::Journal::memory(&settings.header());
                let shared = Self::new(config, addr, Some(settings), wake);
                *lock(&shared.journal) = Some(journal);
                Ok(shared)
            }
            Persistence::File(path) | Persistence::Shared(path) => {
                let shared = matches!(config.persistence, Persistence::Shared(_));
                let ours = fresh_settings(&config, now);
                let (mut journal, bytes) =
                    state::journal::Journal::open(&path, &ours.header(), shared)?;
                let name = path.display().to_string();
                let loaded = state::read(&bytes, &name)?;
                if let Some(why) = loaded.settings.differs_from(&ours) {
                    return Err(StateError::Incompatible { path: name, why });
                }
                let shared = Self::new(config, addr, Some(loaded.settings.clone()), wake);
                shared.replay(&loaded.records, &name)?;
                if loaded.torn > 0 {
                    tracing::warn!(
                        "{name}: its last record was torn ({} bytes, a write cut short); it was cut off and everything before it loaded",
                        loaded.torn
                    );
                    journal.truncate(loaded.end)?;
                }
                journal.applied(&bytes, loaded.end, loaded.head);
                journal.end_turn();
                *lock(&shared.journal) = Some(journal);
                Ok(shared)
            }
        }
    }

    /// Makes a state's recorded changes again, in order, checking that each produces what
    /// it produced when it was made. Nothing is recorded meanwhile.
    fn replay(&self, records: &[&[u8]], name: &str) -> Result<(), StateError> {
        use std::sync::atomic::Ordering;
        self.replaying.store(true, Ordering::Relaxed);
        let _live_again = Defer(|| self.replaying.store(false, Ordering::Relaxed));
        let replayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut world = lock(&self.world);
            // Records are read on a second thread while this one replays them (reading is
            // about a tenth of a start's work; decision 0014). The reader stops at the
            // first record it cannot read, or when replay stops taking records.
            std::thread::scope(|scope| {
                let (send, parsed) = std::sync::mpsc::sync_channel(4096);
                scope.spawn(move || {
                    for (index, payload) in records.iter().enumerate() {
                        let record = state::parse(payload, name).map_err(|e| match e {
                            StateError::Damaged { path, why } => StateError::Damaged {
                                path,
                                why: format!("record {}: {why}", index + 1),
                            },
                            other => other,
                        });
                        let unreadable = record.is_err();
                        if send.send(record).is_err() || unreadable {
                            break;
                        }
                    }
                });
                for (index, record) in parsed.into_iter().enumerate() {
                    let (record, digest) = record?;
                    let again = record.replay(&mut world, self);
                    if again != digest {
                        return Err(StateError::Incompatible {
                            path: name.into(),
                            why: format!(
                                "record {} ({}) replays differently ({again:?}, recorded {digest:?}): it was written by other rules",
                                index + 1,
                                record.name()
                            ),
                        });
                    }
                }
                Ok(())
            })
        }));
        replayed.unwrap_or_else(|_| {
            Err(StateError::Damaged {
                path: name.into(),
                why: "replaying it failed (a record no sandbox could have written)".into(),
            })
        })
    }

    /// Makes `change` and records it: the one way the sandbox's state changes.
    pub(crate) fn commit<C: state::Change>(&self, change: C) -> C::Output {
        let mut world = lock(&self.world);
        let mut journal = lock(&self.journal);
        let turn = journal.as_ref().is_some_and(|j| j.is_shared());
        // Without its turn (another process keeps the file) a change is not made: made
        // and not written, this process's state would no longer be the file's.
        if turn
            && let Some(journal) = journal.as_mut()
            && !self.follow(&mut world, journal)
        {
            return C::unavailable(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                sophic_client::types::ErrorCode::InternalError,
                "The local sandbox's state file is in use by another process, or cannot be read; nothing was changed (see the sandbox's log).",
            ));
        }
        let output = change.apply(&mut world, self);
        if let Some(journal) = journal.as_mut() {
            if C::recorded(&output) {
                let record: state::Record = change.into();
                journal.append(&(record, C::digest(&output)));
            }
            if turn {
                journal.end_turn();
            }
        }
        output
    }

    /// Takes a shared state file's turn and applies what other processes appended since
    /// this one last looked (everything again, if one of them started it over, or if what
    /// they appended does not replay here). Whether this process's state is the file's:
    /// when not, the turn is given back and the change must not be made.
    fn follow(&self, world: &mut World, journal: &mut state::journal::Journal) -> bool {
        let name = "the shared state";
        let appended = match journal.begin_turn() {
            Ok(appended) => appended,
            Err(e) => {
                tracing::error!("{e}");
                // Given back, if it was taken (a failure after the lock).
                journal.end_turn();
                return false;
            }
        };
        let everything = match appended {
            state::journal::Appended::Nothing => return true,
            state::journal::Appended::Records(bytes, len) => {
                match self.apply_appended(world, &bytes, name) {
                    Ok(()) => {
                        journal.applied_up_to(len);
                        return true;
                    }
                    Err(e) => {
                        tracing::warn!("{e}; loading it whole again");
                        journal.bytes()
                    }
                }
            }
            state::journal::Appended::Everything(bytes) => Ok(bytes),
        };
        let reloaded = everything.and_then(|bytes| {
            let (loaded, staged) = self.stage(&bytes, name)?;
            if loaded.torn > 0 {
                journal.truncate(loaded.end)?;
            }
            journal.applied(&bytes, loaded.end, loaded.head);
            self.install(world, staged, loaded.settings);
            Ok(())
        });
        match reloaded {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("{e}");
                journal.end_turn();
                false
            }
        }
    }

    /// Replays records another process appended, each checked against its digest.
    fn apply_appended(
        &self,
        world: &mut World,
        bytes: &[u8],
        name: &str,
    ) -> Result<(), StateError> {
        for payload in state::journal::frames(bytes, name)? {
            let (record, digest) = state::parse(payload, name)?;
            let again = record.replay(world, self);
            if again != digest {
                return Err(StateError::Incompatible {
                    path: name.into(),
                    why: format!(
                        "another process's {} replays differently here",
                        record.name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// A journal's state, checked and replayed on a state of its own (nothing here is
    /// touched): what [`Shared::install`] then puts in place.
    fn stage<'a>(
        &self,
        bytes: &'a [u8],
        name: &str,
    ) -> Result<(state::Loaded<'a>, Shared), StateError> {
        let loaded = state::read(bytes, name)?;
        let ours = fresh_settings(&self.config, self.clock.now());
        if let Some(why) = loaded.settings.differs_from(&ours) {
            return Err(StateError::Incompatible {
                path: name.into(),
                why,
            });
        }
        let staged = Shared::new(
            self.config.clone(),
            self.addr,
            Some(loaded.settings.clone()),
            Arc::clone(&self.wake_webhooks),
        );
        staged.replay(&loaded.records, name)?;
        Ok((loaded, staged))
    }

    /// Puts a staged state in place of this one (whose world the caller has locked).
    fn install(&self, world: &mut World, staged: Shared, settings: state::Settings) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *world = staged.world.into_inner().unwrap_or_else(|e| e.into_inner());
        self.clock.copy_from(&staged.clock);
        *lock(&self.faults) = staged
            .faults
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        *lock(&self.idempotency) = staged
            .idempotency
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        *lock(&self.demo) = staged.demo.into_inner().unwrap_or_else(|e| e.into_inner());
        *lock(&self.settings) = Some(settings);
    }

    /// The webhook attempts due by `now`, marked in flight (after catching up with a
    /// shared state file, so that a delivery another process made is not made again).
    pub(crate) fn due_attempts(&self, now: DateTime<Utc>) -> Vec<webhooks::Attempt> {
        let mut world = lock(&self.world);
        let mut journal = lock(&self.journal);
        match journal.as_mut().filter(|j| j.is_shared()) {
            Some(journal) => {
                if !self.follow(&mut world, journal) {
                    return Vec::new();
                }
                let due = world.deliveries.due(now);
                journal.end_turn();
                due
            }
            None => world.deliveries.due(now),
        }
    }

    /// Uses up a hit of the first fault armed for `operation`, if any.
    pub(crate) fn take_fault(&self, operation: &str) -> Option<faults::FaultSpec> {
        if lock(&self.faults).is_empty() {
            return None;
        }
        self.commit(state::TakeFault {
            operation: operation.to_string(),
        })
    }

    /// Runs every lifecycle step due by now. Only real time moves on its own: a held clock
    /// runs its steps when advanced, so there is nothing to catch up (and no lock to take on
    /// every request).
    pub(crate) fn catch_up(&self) {
        // (A shared state file is followed on every request, held clock or not.)
        if self.clock.mode() == ClockMode::Held
            && !matches!(self.config.persistence, Persistence::Shared(_))
        {
            return;
        }
        let until = self.clock.now();
        self.commit(state::RunDue { until });
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
        let steps = self.commit(state::Advance { target })?;
        self.keep_offset();
        self.wake_webhooks.notify_one();
        Ok((self.clock.now(), steps))
    }

    /// Moves the clock to each next step until no order can move.
    pub(crate) fn settle(&self) -> (DateTime<Utc>, usize) {
        let steps = self.commit(state::Settle {
            at: self.clock.now(),
        });
        self.keep_offset();
        self.wake_webhooks.notify_one();
        (self.clock.now(), steps)
    }

    /// Records a real-time clock's offset after a move (a held clock's moves replay alone).
    fn keep_offset(&self) {
        if self.clock.mode() == ClockMode::Realtime {
            let milliseconds = self.clock.offset().num_milliseconds();
            self.commit(state::SetOffset { milliseconds });
        }
    }

    /// Runs every open order's steps, each at its due time, then the retention sweep by
    /// the last step or `at`, whichever is later.
    pub(crate) fn settle_from(&self, world: &mut World, at: DateTime<Utc>) -> usize {
        let mut steps = 0;
        let mut last = at;
        while let Some(due) = world.next_due() {
            self.clock.advance_to(due);
            steps += world.run_due(due);
            last = last.max(due);
        }
        world.forget_old(last);
        steps
    }

    /// Runs every step due by `target`, each at its due time, and the midnights after the
    /// last step, then the retention sweep at `target`.
    pub(crate) fn run_until(&self, world: &mut World, target: DateTime<Utc>) -> usize {
        let mut steps = 0;
        while let Some(due) = world.next_due().filter(|due| *due <= target) {
            self.clock.advance_to(due);
            steps += world.run_due(due);
        }
        // The midnights after the last step (issues, rollovers, maturities), and the steps
        // the rollovers placed there.
        steps += world.run_due(target);
        world.forget_old(target);
        steps
    }

    /// Creates a funded test account and a token for it.
    fn create_account(&self, spec: &AccountSpec) -> Result<TestAccount, ApiError> {
        self.commit(state::CreateAccount {
            spec: spec.clone(),
            at: self.clock.now(),
        })
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

    /// Forgets everything; a recording sandbox starts its journal over, with new secrets.
    fn reset(&self) {
        let mut world = lock(&self.world);
        let mut journal = lock(&self.journal);
        let now = self.clock.now();
        // The clock goes on from now: a held clock's start is now, and a real-time clock's
        // offset is the first record.
        let settings = journal.as_ref().map(|_| state::Settings {
            start: now,
            ..fresh_settings(&self.config, now)
        });
        if let (Some(journal), Some(settings)) = (journal.as_mut(), &settings) {
            // A real-time clock's offset is the first record, written with the header in
            // one replacement.
            let offset = (self.clock.mode() == ClockMode::Realtime).then(|| {
                let offset = state::SetOffset {
                    milliseconds: self.clock.offset().num_milliseconds(),
                };
                (state::Record::from(offset), String::new())
            });
            let restarted = journal
                .begin_turn()
                .and_then(|_| journal.restart(&settings.header(), offset.as_ref()));
            match restarted {
                Ok(()) => {}
                Err(e) => {
                    tracing::error!("{e}; changes from now on are not kept");
                    journal.fail();
                }
            }
            journal.end_turn();
        }
        *world = new_world(&self.config, settings.as_ref(), &self.wake_webhooks, now);
        *lock(&self.settings) = settings;
        lock(&self.faults).clear();
        *lock(&self.idempotency) = idempotency::Store::default();
        *lock(&self.demo) = Default::default();
        lock(&self.request_log).clear();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.release.notify_waiters();
    }

    /// The whole state as one journal.
    pub(crate) fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        let _world = lock(&self.world);
        match lock(&self.journal).as_ref() {
            Some(journal) => journal.bytes(),
            None => Err(StateError::Incompatible {
                path: "this sandbox".into(),
                why: "it records nothing (Persistence::Off, or the server without --state)".into(),
            }),
        }
    }

    /// Replaces the whole state with a snapshot's, checked and replayed first: a snapshot
    /// that cannot load changes nothing.
    pub(crate) fn restore(&self, bytes: &[u8]) -> Result<(), StateError> {
        let name = "the snapshot";
        let mut world = lock(&self.world);
        let mut journal = lock(&self.journal);
        let (mut loaded, staged) = self.stage(bytes, name)?;
        // A header of its own (a new nonce), so that a process taking turns with the file
        // sees a new state even when the snapshot is of this very file.
        loaded.settings.nonce = state::fresh_nonce();
        let mut rewritten = state::journal::MAGIC.to_vec();
        state::journal::frame(&loaded.settings.header(), &mut rewritten);
        let head = rewritten.len();
        rewritten.extend_from_slice(&bytes[loaded.head..loaded.end]);
        let whole = &rewritten[..];
        // Written first: a snapshot the file could not take changes nothing here either.
        let written = match journal.as_mut() {
            Some(journal) => journal
                .begin_turn()
                .and_then(|_| journal.replace(whole, head)),
            None => {
                *journal = Some(state::journal::Journal::memory_from(whole));
                Ok(())
            }
        };
        if let Some(journal) = journal.as_mut() {
            journal.end_turn();
        }
        written?;
        self.install(&mut world, staged, loaded.settings);
        self.release.notify_waiters();
        self.wake_webhooks.notify_one();
        Ok(())
    }

    /// Flushes the state file to the disk.
    fn sync(&self) {
        if let Some(journal) = lock(&self.journal).as_mut() {
            journal.sync();
        }
    }
}

/// Runs a closure when dropped.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A fresh world whose deliveries wake the worker behind `wake_webhooks`, its secrets from
/// the header's `settings` when the sandbox records.
fn new_world(
    config: &SandboxConfig,
    settings: Option<&state::Settings>,
    wake_webhooks: &Arc<Notify>,
    now: DateTime<Utc>,
) -> World {
    let ids = match settings.map(|s| &s.secret) {
        Some(state::Secret::Seed(secret)) => {
            world::IdGen::new(settings.map_or(config.seed, |s| s.seed), Some(*secret))
        }
        Some(secret @ state::Secret::Key(_)) => world::IdGen::keyed(
            settings.map_or(config.seed, |s| s.seed),
            secret.bytes().unwrap_or_default(),
        ),
        None => world::IdGen::new(config.seed, config.secret_seed),
    };
    let today = now.date_naive();
    let market = market::Market::new(settings.map_or(config.seed, |s| s.seed), today);
    let mut world =
        World::new(ids, config.rules.clone(), market, today).with_retention(config.retention);
    world.deliveries = webhooks::Deliveries::waking(Arc::clone(wake_webhooks));
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
        let shared = Shared::open(config.clone(), addr).map_err(std::io::Error::other)?;
        let shared = Arc::new(shared);
        let mut sandbox = Self {
            shared: shared.clone(),
            addr,
            demo: None,
            tasks: Vec::new(),
        };
        if config.demo_account {
            sandbox.demo = Some(sandbox.make_demo().map_err(std::io::Error::other)?);
        }
        sandbox
            .tasks
            .push(tokio::spawn(http::serve(listener, shared.clone())));
        sandbox
            .tasks
            .push(tokio::spawn(webhooks::worker(shared.clone())));
        // A shared state file runs what is due on each request instead (taking its turn).
        if config.clock == ClockMode::Realtime
            && !matches!(config.persistence, Persistence::Shared(_))
        {
            sandbox
                .tasks
                .push(tokio::spawn(realtime_ticker(shared.clone())));
        }
        if matches!(config.persistence, Persistence::File(_)) {
            sandbox.tasks.push(tokio::spawn(syncer(shared)));
        }
        Ok(sandbox)
    }

    /// The demo account and client: the state's, or new ones.
    fn make_demo(&self) -> Result<(TestAccount, OauthClient), ApiError> {
        self.shared.commit(state::CreateDemo {
            at: self.shared.clock.now(),
        })
    }

    /// The whole state as one file (a journal), for [`Sandbox::restore`] here or in another
    /// sandbox of this version: a prepared scenario a test can start from. Refused by a
    /// sandbox that records nothing ([`Persistence::Off`]).
    pub fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        self.shared.snapshot()
    }

    /// Replaces the whole state with a snapshot's. A snapshot that cannot load (damaged,
    /// another version's, or made with other settings) is refused and changes nothing.
    pub fn restore(&self, snapshot: &[u8]) -> Result<(), StateError> {
        self.shared.restore(snapshot)
    }

    /// The state file, if the sandbox keeps one.
    pub fn state_path(&self) -> Option<PathBuf> {
        lock(&self.shared.journal)
            .as_ref()
            .and_then(|j| j.path().map(PathBuf::from))
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
        self.shared.create_account(spec)
    }

    /// Registers an OAuth client (random id and secret) for these accounts.
    pub fn create_client(&self, accounts: Vec<String>) -> Result<OauthClient, ApiError> {
        self.shared.commit(state::CreateClient {
            accounts,
            id: None,
            secret: None,
        })
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
        self.set_market(instrument, Some(Some(price)), None, None)
    }

    fn set_market(
        &self,
        instrument: &str,
        price: Option<Option<Decimal>>,
        status: Option<sophic_client::types::TradingStatus>,
        lot: Option<Decimal>,
    ) -> Result<(), ApiError> {
        let change = state::SetMarket::new(instrument, price, status, lot);
        self.shared.commit(change).map(drop)
    }

    /// Sets the most units one trade of `instrument` carries (larger orders fill in
    /// several trades, one per lifecycle step).
    pub fn set_lot(&self, instrument: &str, lot: Decimal) -> Result<(), ApiError> {
        self.set_market(instrument, None, None, Some(lot))
    }

    /// Lets an instrument's price follow the market again.
    pub fn unpin_price(&self, instrument: &str) -> Result<(), ApiError> {
        self.set_market(instrument, Some(None), None, None)
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
        self.set_market(instrument, None, Some(status), None)
    }

    /// Arms a fault.
    pub fn arm(&self, fault: FaultSpec) {
        if let Err(e) = self.shared.commit(state::ArmFault { fault }) {
            tracing::error!("the fault was not armed: {e}");
        }
    }

    /// The faults still armed (a fault is gone once it has hit its `count` requests).
    pub fn armed_faults(&self) -> Vec<FaultSpec> {
        lock(&self.shared.faults).armed()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.commit(state::ClearFaults {});
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

    /// Every API request answered, oldest first (the latest
    /// [`limits::MAX_JOURNAL_REQUESTS`]): what an application actually sent.
    pub fn requests(&self) -> Vec<requests::RequestRecord> {
        self.requests_matching(&requests::RequestFilter::default())
    }

    /// The answered requests `filter` matches, oldest first.
    pub fn requests_matching(
        &self,
        filter: &requests::RequestFilter,
    ) -> Vec<requests::RequestRecord> {
        lock(&self.shared.request_log).matching(filter)
    }

    /// Forgets the answered requests (between a test's phases).
    pub fn clear_requests(&self) {
        lock(&self.shared.request_log).clear();
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

    /// Stops serving at once (requests being answered are cut off; every change already
    /// answered is in the state).
    pub fn shutdown(self) {
        drop(self);
    }

    /// Stops taking connections, finishes answering the requests it has (for at most
    /// `grace`), flushes the state file and stops: what SIGTERM and Ctrl-C do.
    pub async fn stop(self, grace: Duration) {
        use std::sync::atomic::Ordering;
        self.shared.shutdown.notify_waiters();
        let drained = async {
            loop {
                let answered = self.shared.answered.notified();
                tokio::pin!(answered);
                answered.as_mut().enable();
                if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                answered.await;
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
        drop(self);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.shutdown.notify_waiters();
        self.shared.sync();
        // The state file is closed (and its lock given back) now, not when the last
        // connection task lets go of the state: a restart in this process can open it.
        if let Some(mut journal) = lock(&self.shared.journal).take() {
            journal.close();
        }
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
        let shared = Shared::open(config.clone(), config.addr)
            .unwrap_or_else(|e| panic!("InProcess::new: {e}"));
        let shared = Arc::new(shared);
        let router = http::router(shared.clone());
        Self { shared, router }
    }

    /// Creates a funded test account and a token for it.
    pub fn create_account(&self, spec: &AccountSpec) -> Result<TestAccount, ApiError> {
        self.shared.create_account(spec)
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

/// Flushes the state file every second, so that a power cut loses at most about a second
/// (a `kill -9` loses nothing written: the operating system has it).
async fn syncer(shared: Arc<Shared>) {
    // A handle of its own: fsync blocks, and runs off the async threads and outside the
    // journal's lock, so no change waits for it.
    let Some(handle) = lock(&shared.journal).as_ref().and_then(|j| j.sync_handle()) else {
        return;
    };
    let handle = Arc::new(handle);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let handle = Arc::clone(&handle);
        let _ = tokio::task::spawn_blocking(move || handle.sync_data()).await;
    }
}

async fn realtime_ticker(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        shared.catch_up();
    }
}
