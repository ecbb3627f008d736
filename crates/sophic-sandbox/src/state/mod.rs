//! State that lasts: every change to the sandbox is a [`Change`], made in one place
//! ([`crate::Shared::commit`]) and recorded in a [`journal::Journal`] as it is made; a
//! state is loaded by making its changes again, in order.
//!
//! Replay is exact because everything a change depends on is in its record or follows
//! from the records before it: its time, its inputs, the outcome of a webhook delivery,
//! and the secrets' generator, whose key is in the header. Each record carries a digest
//! of what the change produced; replay checks it, so a journal that would replay
//! differently (another version's rules) is refused instead of loading a different
//! state.

pub mod hex;
pub mod journal;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sophic_client::types::{
    CreateWebhookRequest, Position, TradingStatus, UpdateWebhookRequest, Webhook, WebhookDelivery,
};

use crate::clock::lock;
use crate::error::ApiError;
use crate::faults::FaultSpec;
use std::sync::Arc;

use crate::http::api::mutation::{Answer, KeyUse, answer};
use crate::idempotency::Body;
use crate::webhooks::Outcome;
use crate::world::{AccountSpec, NewOrder, OauthClient, Principal, StoredOrder, Timing, World};
use crate::{SandboxConfig, Shared, TestAccount};
pub use journal::StateError;

/// A change to the sandbox's state, made the same way live and in replay.
pub(crate) trait Change: Into<Record> {
    /// What the change produced.
    type Output;
    /// Makes the change; the world is locked by the caller.
    fn apply(&self, world: &mut World, shared: &Shared) -> Self::Output;
    /// Whether the change changed anything worth recording (a refused change that drew
    /// no id changes nothing, but most changes are recorded whatever came of them).
    fn recorded(_output: &Self::Output) -> bool {
        true
    }
    /// A digest of the output, checked in replay.
    fn digest(output: &Self::Output) -> String;
    /// The output of a change that could not be made (a shared state file another
    /// process keeps): nothing changed.
    fn unavailable(error: ApiError) -> Self::Output;
    /// What follows the change outside the world's lock, done in replay too (a keyed
    /// change's answer kept under its key).
    fn replayed(&self, _output: Self::Output, _shared: &Shared) {}
}

fn digest_of<T: Serialize, E: std::borrow::Borrow<ApiError>>(result: &Result<T, E>) -> String {
    match result {
        Ok(value) => {
            let bytes = serde_json::to_vec(value).expect("outputs serialize");
            format!("{:08x}", crc32fast::hash(&bytes))
        }
        Err(e) => {
            let e = e.borrow();
            format!("{}:{:?}", e.status.as_u16(), e.code)
        }
    }
}

/// Every kind of change, as recorded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", content = "c", rename_all = "snake_case")]
pub(crate) enum Record {
    CreateAccount(CreateAccount),
    CreateClient(CreateClient),
    CreateDemo(CreateDemo),
    IssueToken(IssueToken),
    Place(Place),
    Cancel(Cancel),
    SetRollover(SetRollover),
    SetMarket(SetMarket),
    CreateWebhook(CreateWebhook),
    UpdateWebhook(UpdateWebhook),
    TestWebhook(TestWebhook),
    Delivered(Delivered),
    RunDue(RunDue),
    Advance(Advance),
    Settle(Settle),
    SetOffset(SetOffset),
    ArmFault(ArmFault),
    ClearFaults(ClearFaults),
    TakeFault(TakeFault),
}

/// A digest of the generated types (and so of the orders.yaml they came from).
fn types_digest() -> &'static str {
    static DIGEST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(
            sophic_client::GENERATED_SOURCE.as_bytes(),
        ))
    });
    &DIGEST
}

impl Record {
    /// The record's kind, as the journal names it.
    pub fn name(&self) -> &'static str {
        match self {
            Record::CreateAccount(_) => "create_account",
            Record::CreateClient(_) => "create_client",
            Record::CreateDemo(_) => "create_demo",
            Record::IssueToken(_) => "issue_token",
            Record::Place(_) => "place",
            Record::Cancel(_) => "cancel",
            Record::SetRollover(_) => "set_rollover",
            Record::SetMarket(_) => "set_market",
            Record::CreateWebhook(_) => "create_webhook",
            Record::UpdateWebhook(_) => "update_webhook",
            Record::TestWebhook(_) => "test_webhook",
            Record::Delivered(_) => "delivered",
            Record::RunDue(_) => "run_due",
            Record::Advance(_) => "advance",
            Record::Settle(_) => "settle",
            Record::SetOffset(_) => "set_offset",
            Record::ArmFault(_) => "arm_fault",
            Record::ClearFaults(_) => "clear_faults",
            Record::TakeFault(_) => "take_fault",
        }
    }

    /// Makes the recorded change again and returns its digest.
    pub(crate) fn replay(&self, world: &mut World, shared: &Shared) -> String {
        fn again<C: Change>(change: &C, world: &mut World, shared: &Shared) -> String {
            let output = change.apply(world, shared);
            let digest = C::digest(&output);
            change.replayed(output, shared);
            digest
        }
        match self {
            Record::CreateAccount(c) => again(c, world, shared),
            Record::CreateClient(c) => again(c, world, shared),
            Record::CreateDemo(c) => again(c, world, shared),
            Record::IssueToken(c) => again(c, world, shared),
            Record::Place(c) => again(c, world, shared),
            Record::Cancel(c) => again(c, world, shared),
            Record::SetRollover(c) => again(c, world, shared),
            Record::SetMarket(c) => again(c, world, shared),
            Record::CreateWebhook(c) => again(c, world, shared),
            Record::UpdateWebhook(c) => again(c, world, shared),
            Record::TestWebhook(c) => again(c, world, shared),
            Record::Delivered(c) => again(c, world, shared),
            Record::RunDue(c) => again(c, world, shared),
            Record::Advance(c) => again(c, world, shared),
            Record::Settle(c) => again(c, world, shared),
            Record::SetOffset(c) => again(c, world, shared),
            Record::ArmFault(c) => again(c, world, shared),
            Record::ClearFaults(c) => again(c, world, shared),
            Record::TakeFault(c) => again(c, world, shared),
        }
    }
}

macro_rules! record_from {
    ($($name:ident),* $(,)?) => {
        $(impl From<$name> for Record {
            fn from(change: $name) -> Self {
                Record::$name(change)
            }
        })*
    };
}

record_from!(
    CreateAccount,
    CreateClient,
    CreateDemo,
    IssueToken,
    Place,
    Cancel,
    SetRollover,
    SetMarket,
    CreateWebhook,
    UpdateWebhook,
    TestWebhook,
    Delivered,
    RunDue,
    Advance,
    Settle,
    SetOffset,
    ArmFault,
    ClearFaults,
    TakeFault,
);

/// A funded test account and its token.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CreateAccount {
    pub spec: AccountSpec,
    pub at: DateTime<Utc>,
}

impl Change for CreateAccount {
    type Output = Result<TestAccount, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        let (id, token) = world.create_account(&self.spec, self.at)?;
        Ok(TestAccount { id, token })
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(&output.as_ref().map(|a| &a.id))
    }
}

/// An OAuth client for some accounts.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CreateClient {
    pub accounts: Vec<String>,
    pub id: Option<String>,
    pub secret: Option<String>,
}

impl Change for CreateClient {
    type Output = Result<OauthClient, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        world.create_client(self.accounts.clone(), self.id.clone(), self.secret.clone())
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(&output.as_ref().map(|c| &c.id))
    }
}

/// The demo account (10,000.00 USD) and an OAuth client for it, unless the state has them
/// (another process may have made them first).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CreateDemo {
    pub at: DateTime<Utc>,
}

impl Change for CreateDemo {
    type Output = Result<(TestAccount, OauthClient), ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, shared: &Shared) -> Self::Output {
        if let (Some(account), Some(client)) = lock(&shared.demo).clone() {
            return Ok((account, client));
        }
        let (id, token) = world.create_account(&AccountSpec::usd("10000.00"), self.at)?;
        let client = world.create_client(vec![id.clone()], None, None)?;
        let account = TestAccount { id, token };
        *lock(&shared.demo) = (Some(account.clone()), Some(client.clone()));
        Ok((account, client))
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(&output.as_ref().map(|(a, c)| (&a.id, &c.id)))
    }
}

/// A token from `POST /auth/token`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IssueToken {
    pub principal: Principal,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Change for IssueToken {
    type Output = Result<String, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        Ok(world.issue_token(self.principal.clone(), self.expires_at))
    }
    fn digest(token: &Self::Output) -> String {
        digest_of(&token.as_ref().map(|t| crc32fast::hash(t.as_bytes())))
    }
}

/// What a keyed change (placing, cancelling) made, under the world's lock: an order, or
/// the answer another process (taking turns with a shared state file) already gave for
/// its key. [`Keyed::finish`] then serializes it and keeps it under the key, outside the
/// lock (the world's lock is held for as little as can be).
pub(crate) enum Keyed {
    /// Answered before: replayed as it was.
    Earlier(Result<Answer, ApiError>),
    /// Made now.
    Made(Result<Arc<StoredOrder>, ApiError>),
}

impl Keyed {
    /// Makes a keyed change once: `run`, unless the key was answered already. Only a
    /// process taking turns with others (or replaying what they wrote) can meet such a
    /// key here: in one process the request's claim of its key keeps the answer from being
    /// stored before it, so the look-up (under the world's lock, where every lock taken
    /// costs every request) is skipped.
    fn once(
        shared: &Shared,
        key: Option<&KeyUse>,
        at: DateTime<Utc>,
        run: impl FnOnce() -> Result<Arc<StoredOrder>, ApiError>,
    ) -> Self {
        let may_be_answered =
            |k: &&KeyUse| shared.may_meet_other_answers() || k.generation() != shared.generation();
        if let Some(key) = key.filter(may_be_answered)
            && let Some(earlier) = key.earlier(&lock(&shared.idempotency), at)
        {
            return Keyed::Earlier(earlier);
        }
        Keyed::Made(run())
    }

    /// The answer (`status` for an order made now), kept under the key as the idempotency
    /// rules say: a request refused as invalid forgets the key, any other answer is
    /// replayed.
    pub(crate) fn finish(
        self,
        shared: &Shared,
        key: Option<&KeyUse>,
        status: axum::http::StatusCode,
        at: DateTime<Utc>,
    ) -> Result<Answer, ApiError> {
        match self {
            Keyed::Earlier(answer) => answer,
            // The bytes sent are the bytes kept: no second copy of the order's version.
            Keyed::Made(Ok(order)) => {
                let sent = answer(status, &order.to_order());
                if let Some(key) = key {
                    let body = Body::Bytes(sent.1.clone());
                    key.settle(&mut lock(&shared.idempotency), Ok(body), status, at, true);
                }
                Ok(sent)
            }
            Keyed::Made(Err(e)) => {
                if let Some(key) = key {
                    key.settle(&mut lock(&shared.idempotency), Err(&e), status, at, true);
                }
                Err(e)
            }
        }
    }

    /// What [`Keyed::finish`] keeps, without the answer (a replay sends nothing).
    fn keep(
        self,
        shared: &Shared,
        key: Option<&KeyUse>,
        status: axum::http::StatusCode,
        at: DateTime<Utc>,
    ) {
        // A replay sends nothing: the order's version is kept, and serialized only if the
        // key is ever replayed.
        if let (Keyed::Made(made), Some(key)) = (self, key) {
            let made = made.as_ref().map(|order| Body::Order(Arc::clone(order)));
            key.settle(&mut lock(&shared.idempotency), made, status, at, false);
        }
    }

    /// The order made, if one was.
    pub(crate) fn order_id(&self) -> Option<String> {
        match self {
            Keyed::Made(Ok(order)) => Some(order.id.to_string()),
            Keyed::Made(Err(_)) | Keyed::Earlier(_) => None,
        }
    }

    fn digest(&self) -> String {
        match self {
            Keyed::Earlier(Ok((status, body))) => {
                format!("earlier {}:{:08x}", status.as_u16(), crc32fast::hash(body))
            }
            Keyed::Made(Ok(order)) => {
                format!("{} {} {}", order.id, order.status, order.modified_at)
            }
            Keyed::Earlier(Err(e)) | Keyed::Made(Err(e)) => {
                format!("{}:{:?}", e.status.as_u16(), e.code)
            }
        }
    }
}

/// `POST /accounts/{account_id}/orders`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Place {
    pub account: String,
    pub order: NewOrder,
    pub at: DateTime<Utc>,
    pub key: Option<KeyUse>,
}

impl Change for Place {
    type Output = Keyed;
    fn unavailable(error: ApiError) -> Keyed {
        Keyed::Made(Err(error))
    }
    fn apply(&self, world: &mut World, shared: &Shared) -> Keyed {
        Keyed::once(shared, self.key.as_ref(), self.at, || {
            world.place(&self.account, self.order.clone(), self.at)
        })
    }
    fn digest(output: &Keyed) -> String {
        output.digest()
    }
    fn replayed(&self, output: Keyed, shared: &Shared) {
        output.keep(
            shared,
            self.key.as_ref(),
            axum::http::StatusCode::CREATED,
            self.at,
        );
    }
}

/// `POST /accounts/{account_id}/orders/{order_id}/cancel`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Cancel {
    pub account: String,
    pub order: String,
    pub at: DateTime<Utc>,
    pub key: Option<KeyUse>,
}

impl Change for Cancel {
    type Output = Keyed;
    fn unavailable(error: ApiError) -> Keyed {
        Keyed::Made(Err(error))
    }
    fn apply(&self, world: &mut World, shared: &Shared) -> Keyed {
        Keyed::once(shared, self.key.as_ref(), self.at, || {
            world.cancel(&self.account, &self.order, self.at)
        })
    }
    fn digest(output: &Keyed) -> String {
        output.digest()
    }
    fn replayed(&self, output: Keyed, shared: &Shared) {
        output.keep(
            shared,
            self.key.as_ref(),
            axum::http::StatusCode::OK,
            self.at,
        );
    }
}

/// `PATCH /accounts/{account_id}/positions/{position_id}`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SetRollover {
    pub account: String,
    pub position: String,
    pub on: bool,
    pub at: DateTime<Utc>,
}

impl Change for SetRollover {
    type Output = Result<Position, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        world.set_automatic_rollover(&self.account, &self.position, self.on, self.at)
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(output)
    }
}

/// A price pinned or unpinned, a trading status, a lot (`PUT /sandbox/instruments/{id}`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SetMarket {
    pub instrument: String,
    /// Pins the price.
    pub pin: Option<Decimal>,
    /// Unpins it.
    #[serde(default)]
    pub unpin: bool,
    pub status: Option<TradingStatus>,
    pub lot: Option<Decimal>,
}

impl SetMarket {
    /// The change `World::set_market` takes, from its arguments.
    pub fn new(
        instrument: &str,
        price: Option<Option<Decimal>>,
        status: Option<TradingStatus>,
        lot: Option<Decimal>,
    ) -> Self {
        Self {
            instrument: instrument.to_string(),
            pin: price.flatten(),
            unpin: price.is_some_and(|p| p.is_none()),
            status,
            lot,
        }
    }
}

impl Change for SetMarket {
    type Output = Result<crate::market::Listing, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        let price = match (self.pin, self.unpin) {
            (Some(p), _) => Some(Some(p)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        world.set_market(&self.instrument, price, self.status.clone(), self.lot)
    }
    fn digest(output: &Self::Output) -> String {
        match output {
            Ok(listing) => format!("ok:{:?}", listing.lot()),
            Err(e) => format!("{}:{:?}", e.status.as_u16(), e.code),
        }
    }
}

/// `POST /webhooks`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CreateWebhook {
    pub owner: String,
    pub request: CreateWebhookRequest,
    pub at: DateTime<Utc>,
}

impl Change for CreateWebhook {
    type Output = Result<Webhook, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        let World {
            deliveries, ids, ..
        } = world;
        deliveries.create(&self.owner, &self.request, ids, self.at)
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(output)
    }
}

/// `PATCH /webhooks/{webhook_id}`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UpdateWebhook {
    pub owner: String,
    pub webhook: String,
    pub request: UpdateWebhookRequest,
    pub at: DateTime<Utc>,
}

impl Change for UpdateWebhook {
    type Output = Result<Webhook, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        world
            .deliveries
            .update(&self.owner, &self.webhook, &self.request, self.at)
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(output)
    }
}

/// `POST /webhooks/{webhook_id}/test`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TestWebhook {
    pub owner: String,
    pub webhook: String,
    pub at: DateTime<Utc>,
}

impl Change for TestWebhook {
    type Output = Result<WebhookDelivery, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> Self::Output {
        let World {
            deliveries, ids, ..
        } = world;
        deliveries.test(&self.owner, &self.webhook, ids, self.at)
    }
    fn digest(output: &Self::Output) -> String {
        digest_of(output)
    }
}

/// What came of one delivery attempt (the one thing a journal cannot work out again).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Delivered {
    pub delivery: String,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
}

impl Change for Delivered {
    type Output = ();
    fn unavailable(_: ApiError) {}
    fn apply(&self, world: &mut World, _: &Shared) {
        world.deliveries.record(
            &self.delivery,
            self.started_at,
            self.outcome.clone(),
            self.at,
        );
    }
    fn digest((): &()) -> String {
        String::new()
    }
}

/// The steps due by `until` (real time catching up), and what retention forgets by then.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RunDue {
    pub until: DateTime<Utc>,
}

impl Change for RunDue {
    /// Steps run, and whether anything was due at all.
    type Output = (usize, bool);
    fn unavailable(_: ApiError) -> (usize, bool) {
        (0, false)
    }
    fn apply(&self, world: &mut World, _: &Shared) -> (usize, bool) {
        let due = world.has_work_by(self.until);
        let steps = world.run_due(self.until);
        world.forget_old(self.until);
        (steps, due)
    }
    fn recorded(&(_, due): &(usize, bool)) -> bool {
        due
    }
    fn digest(&(steps, _): &(usize, bool)) -> String {
        steps.to_string()
    }
}

/// The clock moved to `target`, each step run at its due time.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Advance {
    pub target: DateTime<Utc>,
}

impl Change for Advance {
    type Output = Result<usize, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, world: &mut World, shared: &Shared) -> Self::Output {
        let steps = shared.run_until(world, self.target);
        shared.clock.advance_to(self.target);
        Ok(steps)
    }
    fn digest(steps: &Self::Output) -> String {
        digest_of(steps)
    }
}

/// The clock moved until no order can move, from `at` (retention sweeps by the last step
/// or `at`, whichever is later: never the wall clock).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Settle {
    pub at: DateTime<Utc>,
}

impl Change for Settle {
    type Output = usize;
    fn unavailable(_: ApiError) -> usize {
        0
    }
    fn apply(&self, world: &mut World, shared: &Shared) -> usize {
        shared.settle_from(world, self.at)
    }
    fn digest(steps: &usize) -> String {
        steps.to_string()
    }
}

/// A real-time clock's offset after it was moved (the wall clock of the moment cannot be
/// worked out again).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SetOffset {
    pub milliseconds: i64,
}

impl Change for SetOffset {
    type Output = ();
    fn unavailable(_: ApiError) {}
    fn apply(&self, _: &mut World, shared: &Shared) {
        shared
            .clock
            .set_offset(TimeDelta::milliseconds(self.milliseconds));
    }
    fn digest((): &()) -> String {
        String::new()
    }
}

/// `POST /sandbox/faults`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ArmFault {
    pub fault: FaultSpec,
}

impl Change for ArmFault {
    type Output = Result<Vec<FaultSpec>, ApiError>;
    fn unavailable(error: ApiError) -> Self::Output {
        Err(error)
    }
    fn apply(&self, _: &mut World, shared: &Shared) -> Self::Output {
        let mut faults = lock(&shared.faults);
        faults.arm(self.fault.clone());
        Ok(faults.armed())
    }
    fn digest(armed: &Self::Output) -> String {
        digest_of(&armed.as_ref().map(Vec::len))
    }
}

/// `DELETE /sandbox/faults`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClearFaults {}

impl Change for ClearFaults {
    type Output = ();
    fn unavailable(_: ApiError) {}
    fn apply(&self, _: &mut World, shared: &Shared) {
        lock(&shared.faults).clear();
    }
    fn digest((): &()) -> String {
        String::new()
    }
}

/// A request of `operation` met the first fault armed for it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TakeFault {
    pub operation: String,
}

impl Change for TakeFault {
    type Output = Option<FaultSpec>;
    fn unavailable(_: ApiError) -> Option<FaultSpec> {
        None
    }
    fn apply(&self, _: &mut World, shared: &Shared) -> Option<FaultSpec> {
        lock(&shared.faults).take(&self.operation)
    }
    fn recorded(hit: &Option<FaultSpec>) -> bool {
        hit.is_some()
    }
    fn digest(hit: &Option<FaultSpec>) -> String {
        format!("{:?}", hit.as_ref().map(|f| f.kind))
    }
}

/// What the records of a state mean only with: a header's settings. A state is loaded
/// only by a sandbox whose settings are these.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Settings {
    /// The sandbox's version: another version's rules may replay differently.
    pub sandbox: String,
    /// The orders.yaml the types were generated from.
    pub spec: String,
    pub seed: u64,
    /// Where secrets come from: a key drawn at random when the state was made, or the
    /// configured secret seed.
    pub secret: Secret,
    pub clock: String,
    /// Where a held clock started.
    pub start: DateTime<Utc>,
    /// When the state was made (its market opens on that day).
    pub created: DateTime<Utc>,
    /// Random, for each header written: a process taking turns with the file sees that it
    /// was started over even when what follows has the same length.
    #[serde(default)]
    pub nonce: String,
    pub fee_rate: Decimal,
    /// `placed`, `pending`, `executing`, `filled`, in milliseconds.
    pub delays_ms: [i64; 4],
    pub timing: String,
    pub retention_ms: Option<i64>,
    pub token_lifetime_ms: i64,
}

/// Where a state's secrets come from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Secret {
    /// The configured secret seed (`--seed`): the same secrets at every start.
    Seed(u64),
    /// 32 random bytes (hex), drawn when the state was made.
    Key(String),
}

impl Secret {
    /// A key's secret.
    pub fn key(bytes: [u8; 32]) -> Self {
        Self::Key(hex::encode(&bytes))
    }

    /// A key's bytes (`None` for a seed, or a key that is not 32 bytes of hex).
    pub fn bytes(&self) -> Option<[u8; 32]> {
        let Self::Key(key) = self else { return None };
        hex::decode32(key)
    }
}

/// A header's nonce: 8 random bytes, in hex.
pub(crate) fn fresh_nonce() -> String {
    use rand::RngCore;
    let mut nonce = [0u8; 8];
    rand::rng().fill_bytes(&mut nonce);
    hex::encode(&nonce)
}

/// The format's name in each header.
pub(crate) const FORMAT: &str = "sophic-sandbox-state";

impl Settings {
    /// The settings of a sandbox configured as `config`, with `secret`, made `now`.
    pub fn of(config: &SandboxConfig, secret: Secret, now: DateTime<Utc>) -> Self {
        let d = &config.rules.delays;
        Self {
            sandbox: env!("CARGO_PKG_VERSION").to_string(),
            spec: types_digest().to_string(),
            seed: config.seed,
            secret,
            clock: config.clock.as_str().to_string(),
            start: config.start,
            created: now,
            nonce: fresh_nonce(),
            fee_rate: config.rules.fee_rate,
            delays_ms: [d.placed, d.pending, d.executing, d.filled].map(|t| t.num_milliseconds()),
            timing: match config.rules.timing {
                Timing::Fast => "fast",
                Timing::Market => "market",
            }
            .to_string(),
            retention_ms: config.retention.map(|r| r.num_milliseconds()),
            token_lifetime_ms: config.token_lifetime.num_milliseconds(),
        }
    }

    /// The header's bytes.
    pub fn header(&self) -> Vec<u8> {
        serde_json::to_vec(&journal::Header {
            format: FORMAT.to_string(),
            version: journal::FORMAT_VERSION,
            settings: self,
        })
        .expect("headers serialize")
    }

    /// Why a state with these settings cannot be loaded by a sandbox with `ours`, if it
    /// cannot: the first setting that differs, named as its flag.
    pub fn differs_from(&self, ours: &Settings) -> Option<String> {
        let differs = |what: &str, theirs: &dyn std::fmt::Debug, ours: &dyn std::fmt::Debug| {
            Some(format!(
                "it was written with {what} {theirs:?}, and this sandbox runs with {ours:?}"
            ))
        };
        if self.sandbox != ours.sandbox || self.spec != ours.spec {
            return Some(format!(
                "it was written by sophic-sandbox {} (orders.yaml {}), and this is {} (orders.yaml {}); a state is replayed by the rules that made it, so it loads only in the same version",
                self.sandbox,
                self.spec.get(..12).unwrap_or(&self.spec),
                ours.sandbox,
                ours.spec.get(..12).unwrap_or(&ours.spec)
            ));
        }
        if self.clock != ours.clock {
            return differs("--clock", &self.clock, &ours.clock);
        }
        if self.fee_rate != ours.fee_rate {
            return differs("--fee-rate", &self.fee_rate, &ours.fee_rate);
        }
        if self.delays_ms != ours.delays_ms {
            return differs("step delays (ms)", &self.delays_ms, &ours.delays_ms);
        }
        if self.timing != ours.timing {
            return differs("--timing", &self.timing, &ours.timing);
        }
        if self.retention_ms != ours.retention_ms {
            return differs("retention (ms)", &self.retention_ms, &ours.retention_ms);
        }
        if self.token_lifetime_ms != ours.token_lifetime_ms {
            return differs(
                "a token lifetime (ms)",
                &self.token_lifetime_ms,
                &ours.token_lifetime_ms,
            );
        }
        None
    }
}

/// A journal's header and records, their checksums checked (each record is parsed as it
/// is replayed, so that a start does not hold them all at once).
pub(crate) struct Loaded<'a> {
    pub settings: Settings,
    /// Each record's payload: a record and the digest of what it produced.
    pub records: Vec<&'a [u8]>,
    /// Where the header ends.
    pub head: usize,
    /// Where the last whole record ends.
    pub end: usize,
    /// Bytes of a torn last record that were cut off.
    pub torn: usize,
}

/// One record and its digest, from a frame's payload.
pub(crate) fn parse(payload: &[u8], name: &str) -> Result<(Record, String), StateError> {
    serde_json::from_slice(payload).map_err(|e| StateError::Damaged {
        path: name.into(),
        why: format!("a record cannot be read: {e}"),
    })
}

/// Reads a journal's bytes. `name` is what errors call them.
pub(crate) fn read<'a>(bytes: &'a [u8], name: &str) -> Result<Loaded<'a>, StateError> {
    let split = journal::split(bytes, name)?;
    let header: journal::Header<serde_json::Value> =
        serde_json::from_slice(split.header).map_err(|e| StateError::Damaged {
            path: name.into(),
            why: format!("its header cannot be read: {e}"),
        })?;
    if header.format != FORMAT || header.version != journal::FORMAT_VERSION {
        return Err(StateError::Incompatible {
            path: name.into(),
            why: format!(
                "it is format {:?} version {}, and this sandbox reads {FORMAT:?} version {}",
                header.format,
                header.version,
                journal::FORMAT_VERSION
            ),
        });
    }
    let settings: Settings =
        serde_json::from_value(header.settings).map_err(|e| StateError::Damaged {
            path: name.into(),
            why: format!("its header cannot be read: {e}"),
        })?;
    if matches!(settings.secret, Secret::Key(_)) && settings.secret.bytes().is_none() {
        return Err(StateError::Damaged {
            path: name.into(),
            why: "its header's secret key is not 32 bytes of hex".into(),
        });
    }
    Ok(Loaded {
        settings,
        records: split.records,
        head: split.head,
        end: split.end,
        torn: split.torn,
    })
}
