//! The sandbox's state and its rules: accounts, balances, orders and their lifecycle,
//! events. Everything here runs under one lock, so each operation is atomic: two
//! concurrent buys can never both reserve the same cash.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sophic_client::types::exhaustive;
use sophic_client::types::{
    CashBalance, Currency, ErrorCode, ErrorParamCode, EventName, Instrument, OrderCancelledReason,
    OrderPurpose, OrderSide, OrderStatus, OrderType, Position, TradeStatus, TradingStatus,
};

mod code;
mod credentials;
mod events;
mod ledger;
mod order;
mod rules;
mod schedule;

use credentials::Credentials;
pub use credentials::{OauthClient, Principal};
pub use events::EventRecord;
use events::{EventLog, OrderState, Subject, matured_event, order_event};
pub use ledger::{Account, Cash, Holding};
use ledger::{Ledger, Shortfall};
pub use order::{StoredOrder, StoredTrade};
use rules::{check_buy_rules, check_sell_rules, check_tradable};
use schedule::Schedule;

use crate::error::ApiError;
pub use crate::ids::IdGen;
use crate::limits;
use crate::market::{Listing, Market};
use crate::webhooks::Deliveries;

/// How long each lifecycle step waits.
#[derive(Clone, Copy, Debug)]
pub struct Delays {
    /// `placed` to its next status.
    pub placed: TimeDelta,
    /// `pending` (auction instruments) to `executing`.
    pub pending: TimeDelta,
    /// `executing` to `filled`.
    pub executing: TimeDelta,
    /// `filled` to `settled`.
    pub filled: TimeDelta,
}

impl Delays {
    /// Every step after the same delay.
    pub fn uniform(step: TimeDelta) -> Self {
        Self {
            placed: step,
            pending: step,
            executing: step,
            filled: step,
        }
    }
}

impl Default for Delays {
    fn default() -> Self {
        Self {
            placed: TimeDelta::seconds(1),
            pending: TimeDelta::seconds(1),
            executing: TimeDelta::seconds(1),
            filled: TimeDelta::seconds(2),
        }
    }
}

/// When a filled order settles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timing {
    /// After [`Delays::filled`] (seconds): the demo's and the CLI's profile.
    #[default]
    Fast,
    /// At 00:00 UTC of the settlement date: T+1 business days for US and GB issuers, T+2
    /// for others, weekends skipped (contract section 11).
    Market,
}

/// The market rules of the simulation.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Fee rate on buys' cash amount and sells' notional (0.005 = 0.5%).
    pub fee_rate: Decimal,
    /// Lifecycle delays.
    pub delays: Delays,
    /// When fills settle.
    pub timing: Timing,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            fee_rate: Decimal::new(5, 3),
            delays: Delays::default(),
            timing: Timing::default(),
        }
    }
}

/// What placing an order asks for, once its fields are valid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewOrder {
    /// The instrument's id.
    pub instrument: String,
    /// Buy (with cash) or sell (with units).
    pub side: NewSide,
}

/// A trade's notional, rounded so that the order's trades add up to the cents of their
/// exact total (rounding each trade alone would let a run of tiny lots trade for 0.00).
fn trade_notional(order: &StoredOrder, units: Decimal, price: Decimal) -> Option<Decimal> {
    let mut exact = Decimal::ZERO;
    for trade in &order.trades {
        exact = exact.checked_add(trade.quantity.checked_mul(trade.price)?)?;
    }
    let exact = exact.checked_add(units.checked_mul(price)?)?;
    Some(cents(exact) - order.traded_notional)
}

/// What one trade step did.
enum Traded {
    /// It was the last trade: the order is `filled`.
    Filled,
    /// More trades follow: the order stays `executing`.
    More,
    /// It could not trade: the order is `cancelled`.
    Cancelled,
}

/// One trade's figures.
struct TradeFigures {
    units: Decimal,
    notional: Decimal,
    last: bool,
}

/// The figures of a new order, fixed at placement.
struct OrderFigures {
    side: OrderSide,
    cash_amount: Option<Decimal>,
    net_cash_amount: Option<Decimal>,
    quantity: Option<Decimal>,
    fees: Decimal,
    automatic_rollover: bool,
}

/// The side-specific part of an order: a buy carries cash, a sell carries units.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewSide {
    /// Cash to invest before fees; rollover requested.
    Buy {
        cash: Decimal,
        automatic_rollover: bool,
    },
    /// Units to sell.
    Sell { quantity: Decimal },
}

/// Starting cash and positions of a new test account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccountSpec {
    /// Cash per currency.
    pub cash: BTreeMap<Currency, Decimal>,
    /// Units per instrument id.
    pub positions: BTreeMap<String, Decimal>,
    /// May buy `pro_traders_only` instruments.
    pub professional: bool,
}

impl AccountSpec {
    /// An account holding this much USD.
    pub fn usd(amount: &str) -> Self {
        Self::default().cash(Currency::Usd, amount)
    }

    /// Adds cash in a currency (`amount` is a decimal string such as `"100.00"`).
    pub fn cash(mut self, currency: Currency, amount: &str) -> Self {
        self.cash
            .insert(currency, amount.parse().expect("a decimal amount"));
        self
    }

    /// Adds units of an instrument.
    pub fn position(mut self, instrument: &str, quantity: &str) -> Self {
        self.positions.insert(
            instrument.into(),
            quantity.parse().expect("a decimal quantity"),
        );
        self
    }

    /// Lets the account buy `pro_traders_only` instruments.
    pub fn professional(mut self) -> Self {
        self.professional = true;
        self
    }
}

/// The whole simulated world.
#[derive(Debug)]
pub struct World {
    pub(crate) ids: IdGen,
    pub(crate) rules: Rules,
    market: Market,
    /// The last day whose midnight work (issues, rollovers, maturities) is done.
    today: NaiveDate,
    ledger: Ledger,
    /// Shared with the answers being sent; a change copies only a shared order.
    orders: HashMap<Arc<str>, Arc<StoredOrder>>,
    schedule: Schedule,
    events: EventLog,
    credentials: Credentials,
    pub(crate) deliveries: Deliveries,
    /// Orders settled or cancelled longer ago than this are forgotten, with their events
    /// and finished deliveries; `None` keeps everything.
    retention: Option<TimeDelta>,
    next_forget: Option<DateTime<Utc>>,
}

/// Rollover changes are locked this many calendar days before maturity (contract section 11).
pub const ROLLOVER_LOCK_DAYS: i64 = 4;

/// Money: rounded half-up to cents and always shown with two places (`"0.00"`).
fn cents(value: Decimal) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if rounded.scale() < 2 {
        rounded.rescale(2);
    }
    rounded
}

impl World {
    /// A new world with the seeded market as it stands on `today`.
    pub fn new(ids: IdGen, rules: Rules, market: Market, today: NaiveDate) -> Self {
        Self {
            ids,
            rules,
            market,
            today,
            ledger: Ledger::default(),
            orders: HashMap::default(),
            schedule: Schedule::default(),
            events: EventLog::default(),
            credentials: Credentials::default(),
            deliveries: Deliveries::default(),
            retention: None,
            next_forget: None,
        }
    }

    /// Forget orders settled or cancelled longer ago than `retention` (with their events
    /// and finished webhook deliveries), checked as the clock moves.
    pub fn with_retention(mut self, retention: Option<TimeDelta>) -> Self {
        self.retention = retention;
        self
    }

    /// Forgets what [`World::with_retention`] says is old by `now`. Sweeps at most every
    /// quarter of the retention period (so its cost is spread over the orders it forgets).
    pub fn forget_old(&mut self, now: DateTime<Utc>) {
        let Some(keep) = self.retention else { return };
        if self.next_forget.is_some_and(|next| now < next) {
            return;
        }
        self.next_forget = now.checked_add_signed((keep / 4).max(TimeDelta::seconds(1)));
        let Some(cutoff) = now.checked_sub_signed(keep) else {
            return;
        };
        let World {
            orders,
            events,
            ledger,
            deliveries,
            ..
        } = self;
        orders.retain(|_, o| !(o.is_terminal() && o.modified_at < cutoff));
        events.retain_orders(|order| orders.contains_key(order), cutoff);
        ledger.retain_orders(|order| orders.contains_key(order));
        deliveries.forget_finished_before(cutoff);
    }

    // ---- accounts, tokens, clients -------------------------------------------------

    /// Creates a funded test account and a bearer token scoped to it.
    pub fn create_account(
        &mut self,
        spec: &AccountSpec,
        now: DateTime<Utc>,
    ) -> Result<(String, String), ApiError> {
        for (instrument, quantity) in &spec.positions {
            self.listing(instrument).ok_or_else(|| {
                ApiError::param(
                    "body.positions",
                    ErrorParamCode::NotFound,
                    format!("names an unknown instrument {instrument}"),
                )
            })?;
            if *quantity <= Decimal::ZERO || *quantity > limits::MAX_AMOUNT {
                return Err(ApiError::param(
                    "body.positions",
                    ErrorParamCode::OutOfRange,
                    format!(
                        "quantities must be greater than 0 and at most {}",
                        limits::MAX_AMOUNT
                    ),
                ));
            }
        }
        if let Some((currency, _)) = spec
            .cash
            .iter()
            .find(|(_, amount)| !(Decimal::ZERO..=limits::MAX_AMOUNT).contains(*amount))
        {
            return Err(ApiError::param(
                "body.cash",
                ErrorParamCode::OutOfRange,
                format!("{currency} must be from 0 to {}", limits::MAX_AMOUNT),
            ));
        }
        let id = self.ids.next("acc");
        let mut holdings = Vec::new();
        for (instrument, quantity) in &spec.positions {
            holdings.push((instrument.clone(), self.new_holding(*quantity, now)));
        }
        let cash = spec.cash.iter().map(|(c, total)| (c.clone(), *total));
        self.ledger
            .open(id.clone(), spec.professional, cash, holdings);
        let token = self.issue_token(
            Principal {
                id: id.clone(),
                accounts: vec![id.clone()],
            },
            None,
        );
        Ok((id, token))
    }

    fn new_holding(&mut self, quantity: Decimal, now: DateTime<Utc>) -> Holding {
        Holding {
            id: self.ids.next("pos"),
            quantity,
            reserved: Decimal::ZERO,
            automatic_rollover: false,
            rolled_into: None,
            created_at: now,
            modified_at: now,
        }
    }

    /// Registers an OAuth client whose tokens may act on `accounts`.
    pub fn create_client(
        &mut self,
        accounts: Vec<String>,
        id: Option<String>,
        secret: Option<String>,
    ) -> Result<OauthClient, ApiError> {
        if let Some(unknown) = accounts.iter().find(|a| !self.ledger.contains(a)) {
            return Err(ApiError::param(
                "body.accounts",
                ErrorParamCode::NotFound,
                format!("names an unknown account {unknown}"),
            ));
        }
        let id = id.unwrap_or_else(|| self.ids.next("cli"));
        let secret = secret.unwrap_or_else(|| self.ids.secret("sk_sandbox"));
        let client = OauthClient {
            id: id.clone(),
            secret,
            accounts,
        };
        self.credentials.register(client.clone());
        Ok(client)
    }

    /// Checks client credentials.
    pub fn client(&self, id: &str, secret: &str) -> Option<&OauthClient> {
        self.credentials.client(id, secret)
    }

    /// Issues a bearer token (a JWT-shaped opaque string) for `principal`.
    pub fn issue_token(
        &mut self,
        principal: Principal,
        expires_at: Option<DateTime<Utc>>,
    ) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = json!({
            "sub": principal.id,
            "jti": self.ids.next("tok"),
            "exp": expires_at.map(|t| t.timestamp()),
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signature = URL_SAFE_NO_PAD.encode(self.ids.secret_bytes::<32>());
        let token = format!("{header}.{payload}.{signature}");
        self.credentials
            .keep_token(token.clone(), principal, expires_at);
        token
    }

    /// The principal behind a live token.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, ApiError> {
        self.credentials.authenticate(token, now)
    }

    /// An account by id.
    pub fn account(&self, id: &str) -> Result<&Account, ApiError> {
        self.ledger
            .get(id)
            .ok_or_else(|| ApiError::not_found("account", id))
    }

    /// The account behind a path, if the principal may act on it.
    pub fn account_for(&self, principal: &Principal, account: &str) -> Result<&Account, ApiError> {
        if !principal.may_act_on(account) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::PermissionDenied,
                format!("This token may not act on account {account}."),
            ));
        }
        self.account(account)
    }

    // ---- market ---------------------------------------------------------------------

    /// An instrument by id.
    pub fn listing(&self, id: &str) -> Option<&Listing> {
        self.market.get(id)
    }

    /// An instrument's JSON answer on `today` (rendered once a day and after each change).
    pub fn shown_instrument(&mut self, id: &str, today: NaiveDate) -> Option<bytes::Bytes> {
        self.market.shown(id, today)
    }

    /// Every instrument, full.
    pub fn instruments(&self, now: DateTime<Utc>) -> Vec<Instrument> {
        self.market
            .all()
            .map(|l| l.full(now.date_naive()))
            .collect()
    }

    /// Pins an instrument's price (`Some(Some(p))`), unpins it (`Some(None)`: it follows
    /// the market again), and/or sets its trading status and its lot (the most units one
    /// trade carries).
    pub fn set_market(
        &mut self,
        id: &str,
        price: Option<Option<Decimal>>,
        status: Option<TradingStatus>,
        lot: Option<Decimal>,
    ) -> Result<Listing, ApiError> {
        if lot.is_some_and(|l| l < Decimal::new(1, 2) || l > limits::MAX_AMOUNT) {
            return Err(ApiError::param(
                "body.lot",
                ErrorParamCode::OutOfRange,
                format!("must be from 0.01 to {}", limits::MAX_AMOUNT),
            ));
        }
        if price
            .flatten()
            .is_some_and(|p| !(limits::MIN_PRICE..=limits::MAX_PRICE).contains(&p))
        {
            return Err(ApiError::param(
                "body.price",
                ErrorParamCode::OutOfRange,
                format!(
                    "must be from {} to {}",
                    limits::MIN_PRICE,
                    limits::MAX_PRICE
                ),
            ));
        }
        let listing = self
            .market
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("instrument", id))?;
        let places = listing.precision();
        if lot.is_some_and(|l| l.normalize().scale() > places) {
            return Err(ApiError::param(
                "body.lot",
                ErrorParamCode::Invalid,
                format!("must have at most {places} decimal places, as {id}'s quantities do"),
            ));
        }
        if let Some(price) = price {
            Market::pin(listing, price);
        }
        if let Some(status) = status {
            listing.instrument.trading_status = Some(status);
        }
        if let Some(lot) = lot {
            listing.set_lot(lot);
        }
        Ok(listing.clone())
    }

    // ---- balances -------------------------------------------------------------------

    /// The account's cash balances.
    pub fn cash_balances(&self, account: &Account) -> Vec<CashBalance> {
        account
            .cash()
            .map(|(currency, cash)| {
                CashBalance::from(exhaustive::CashBalance {
                    currency: currency.clone(),
                    total: cents(cash.total),
                    reserved: cents(cash.reserved),
                    available: cents(cash.total - cash.reserved),
                })
            })
            .collect()
    }

    /// The account's positions with units held.
    pub fn positions(&self, account: &Account) -> Vec<Position> {
        account
            .holdings()
            .filter(|(_, h)| h.quantity > Decimal::ZERO)
            .filter_map(|(instrument, h)| {
                Some(Position::from(exhaustive::Position {
                    id: h.id.clone(),
                    account: account.id.clone(),
                    instrument: self.listing(instrument)?.held_summary(),
                    quantity: h.quantity,
                    available_quantity: h.available(),
                    automatic_rollover: h.automatic_rollover,
                    created_at: h.created_at,
                    modified_at: h.modified_at,
                }))
            })
            .collect()
    }

    /// The currencies in which the account's cash may be below zero now: those of its
    /// rolled-over bills still waiting for their payout (contract section 10).
    pub fn currencies_awaiting_payout(&self, account: &Account) -> Vec<Currency> {
        account
            .holdings()
            .filter(|(_, h)| h.rolled_into.is_some() && h.quantity > Decimal::ZERO)
            .filter_map(|(instrument, _)| Some(self.listing(instrument)?.currency()))
            .collect()
    }

    /// Every account (for invariant checks).
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.ledger.all()
    }

    // ---- orders ---------------------------------------------------------------------

    /// Places an order: checks the instrument and the account, reserves cash or units,
    /// and records it as `placed`.
    pub fn place(
        &mut self,
        account_id: &str,
        new: NewOrder,
        now: DateTime<Utc>,
    ) -> Result<Arc<StoredOrder>, ApiError> {
        let listing = self.market.shared(&new.instrument).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::NotFound,
                format!("No instrument {}.", new.instrument),
            )
        })?;
        let account = self
            .ledger
            .get(account_id)
            .ok_or_else(|| ApiError::not_found("account", account_id))?;
        check_tradable(&listing, &new.side, account)?;
        let currency = listing.currency();
        let (fees, net, cash_amount, quantity, rollover) = match &new.side {
            NewSide::Buy {
                cash,
                automatic_rollover,
            } => {
                check_buy_rules(
                    &listing,
                    *cash,
                    *automatic_rollover,
                    account,
                    now.date_naive(),
                )?;
                // Bounded: cash is at most MAX_AMOUNT and the fee rate below 1.
                let fees = cents(*cash * self.rules.fee_rate);
                (
                    fees,
                    Some(*cash - fees),
                    Some(*cash),
                    None,
                    *automatic_rollover,
                )
            }
            NewSide::Sell { quantity } => {
                check_sell_rules(&listing, *quantity)?;
                // A sell's fees follow from its notional, known at fill.
                (Decimal::new(0, 2), None, None, Some(*quantity), false)
            }
        };
        self.reserve(account_id, &listing, &new.side, &currency)?;
        let side = match new.side {
            NewSide::Buy { .. } => OrderSide::Buy,
            NewSide::Sell { .. } => OrderSide::Sell,
        };
        let figures = OrderFigures {
            side,
            cash_amount,
            net_cash_amount: net,
            quantity,
            fees,
            automatic_rollover: rollover,
        };
        Ok(self.open_order(
            account_id,
            &listing,
            OrderPurpose::UserRequest,
            figures,
            now,
        ))
    }

    /// Records a new order (its reservation made), schedules its first step and records
    /// `order.placed`.
    fn open_order(
        &mut self,
        account_id: &str,
        listing: &Listing,
        purpose: OrderPurpose,
        figures: OrderFigures,
        now: DateTime<Utc>,
    ) -> Arc<StoredOrder> {
        let id: Arc<str> = self.ids.next("ord").into();
        let order = StoredOrder {
            id: id.clone(),
            account: account_id.into(),
            status: OrderStatus::Placed.into(),
            order_type: OrderType::Market.into(),
            purpose: purpose.into(),
            position: None,
            side: figures.side.into(),
            instrument: listing.summary(),
            cash_amount: figures.cash_amount,
            net_cash_amount: figures.net_cash_amount,
            quantity: figures.quantity,
            traded_quantity: Decimal::ZERO,
            traded_notional: Decimal::ZERO,
            fees: figures.fees,
            currency: listing.currency(),
            automatic_rollover: figures.automatic_rollover,
            cancelled_reason: None,
            filled_at: None,
            settled_at: None,
            cancelled_at: None,
            trades: Vec::new(),
            created_at: now,
            modified_at: now,
        };
        self.ledger.add_order(account_id, id.clone());
        let order = Arc::new(order);
        self.orders.insert(id.clone(), Arc::clone(&order));
        self.schedule_next(&id, now + self.rules.delays.placed);
        self.record_event(&order);
        order
    }

    /// Reserves the cash of a buy or the units of a sell, or refuses.
    fn reserve(
        &mut self,
        account_id: &str,
        listing: &Listing,
        side: &NewSide,
        currency: &Currency,
    ) -> Result<(), ApiError> {
        match side {
            NewSide::Buy { cash, .. } => match self.ledger.reserve_cash(account_id, currency, *cash) {
                Ok(()) => Ok(()),
                Err(Shortfall::NoCurrency) => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::CurrencyNotSupported,
                    format!(
                        "Account {account_id} holds no {currency} cash; {} trades in {currency}.",
                        listing.instrument.id
                    ),
                )),
                Err(Shortfall::Available(available)) => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InsufficientFunds,
                    format!("The account's available {currency} cash ({available}) is below the order's cash_amount ({cash})."),
                )
                .with_context(json!({"required": cash.to_string(), "available": available.to_string(), "currency": currency.to_string()}))),
            },
            NewSide::Sell { quantity } => {
                let instrument = &listing.instrument.id;
                match self.ledger.reserve_units(account_id, instrument, *quantity) {
                    Ok(()) => Ok(()),
                    Err(Shortfall::NoCurrency | Shortfall::Available(_)) => {
                        let available = self.ledger.get(account_id).and_then(|a| a.holding(instrument)).map_or(Decimal::ZERO, Holding::available);
                        Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            ErrorCode::InsufficientUnits,
                            format!("The account's available units of {instrument} ({available}) are below the order's quantity ({quantity})."),
                        )
                        .with_context(json!({"required": quantity.to_string(), "available": available.to_string(), "currency": currency.to_string()})))
                    }
                }
            }
        }
    }

    /// An order of the account (shared: a clone of it is cheap, and outlives the lock).
    pub fn order(&self, account_id: &str, order_id: &str) -> Result<&Arc<StoredOrder>, ApiError> {
        self.orders
            .get(order_id)
            .filter(|o| *o.account == *account_id)
            .ok_or_else(|| ApiError::not_found("order", order_id))
    }

    /// The account's orders, newest first.
    pub fn orders_newest_first<'a>(
        &'a self,
        account: &'a Account,
    ) -> impl Iterator<Item = &'a Arc<StoredOrder>> + 'a {
        account
            .order_ids()
            .iter()
            .rev()
            .filter_map(|id| self.orders.get(id))
    }

    /// Cancels an order at the user's request (an already cancelled one is answered as is).
    pub fn cancel(
        &mut self,
        account_id: &str,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<StoredOrder>, ApiError> {
        let status = &self.order(account_id, order_id)?.status;
        // Contract section 6: an open order is cancelled, a cancelled one comes back
        // unchanged, the others refuse.
        match status.get().exhaustive() {
            exhaustive::OrderStatus::Placed
            | exhaustive::OrderStatus::Pending
            | exhaustive::OrderStatus::Executing => {
                self.cancel_with(order_id, OrderCancelledReason::UserRequest, now);
            }
            exhaustive::OrderStatus::Cancelled => {}
            exhaustive::OrderStatus::Filled
            | exhaustive::OrderStatus::Settled
            | exhaustive::OrderStatus::Unknown(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::OrderNotCancellable,
                    format!("Order {order_id} is {status} and can no longer be cancelled."),
                ));
            }
        }
        Ok(Arc::clone(&self.orders[order_id]))
    }

    fn cancel_with(&mut self, order_id: &str, reason: OrderCancelledReason, now: DateTime<Utc>) {
        self.release(order_id);
        self.unschedule(order_id);
        // A partly filled order keeps its trades and pays the fees of the filled part
        // (contract section 11); an order that never traded pays none.
        let order = &self.orders[order_id];
        let fees = if order.trades.is_empty() {
            order.fees
        } else {
            let fees = cents(order.traded_notional * self.rules.fee_rate);
            let account = order.account.clone();
            let currency = order.currency.clone();
            self.ledger.credit(&account, &currency, -fees);
            fees
        };
        let order = self.order_mut(order_id);
        order.fees = fees;
        order.status = OrderStatus::Cancelled.into();
        order.cancelled_reason = Some(reason.into());
        order.cancelled_at = Some(now);
        order.modified_at = now;
        let order = Arc::clone(&self.orders[order_id]);
        self.record_event(&order);
    }

    /// Releases what an open order reserved.
    fn release(&mut self, order_id: &str) {
        let order = &self.orders[order_id];
        let account = order.account.as_str();
        match order.side.get().exhaustive() {
            // What earlier trades spent was released as they traded.
            exhaustive::OrderSide::Buy => {
                let cash = order.cash_amount.unwrap_or_default() - order.traded_notional;
                self.ledger.release_cash(account, &order.currency, cash);
            }
            exhaustive::OrderSide::Sell => {
                let units = order.quantity.unwrap_or_default() - order.traded_quantity;
                self.ledger
                    .release_units(account, &order.instrument.id, units);
            }
            // The sandbox's orders are buys or sells (`NewSide`): nothing else reserves.
            exhaustive::OrderSide::Unknown(_) => {}
        }
    }

    // ---- lifecycle ------------------------------------------------------------------

    fn schedule_next(&mut self, order_id: &str, due: DateTime<Utc>) {
        self.schedule.set(order_id, due);
    }

    fn unschedule(&mut self, order_id: &str) {
        self.schedule.remove(order_id);
    }

    /// Whether [`World::run_due`] or [`World::forget_old`] has anything to do by `until`: a
    /// step, a midnight or a retention sweep due.
    pub fn has_work_by(&self, until: DateTime<Utc>) -> bool {
        self.schedule.next_due().is_some_and(|due| due <= until)
            || self.next_midnight().is_some_and(|m| m <= until)
            || (self.retention.is_some() && self.next_forget.is_none_or(|next| next <= until))
    }

    /// When the next lifecycle step is due, if any order can still move.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.schedule.next_due()
    }

    /// Runs every step due at or before `until`, in order, each at its own due time, and
    /// the work of each midnight passed (bills issued, rollovers placed, positions matured)
    /// at that midnight. Returns how many order steps ran.
    pub fn run_due(&mut self, until: DateTime<Utc>) -> usize {
        let mut steps = 0;
        loop {
            let midnight = self.next_midnight();
            let step_due = self.schedule.next_due().filter(|due| *due <= until);
            match (step_due, midnight) {
                (Some(due), Some(m)) if m <= due && m <= until => self.open_day(m),
                (Some(_), _) => {
                    let (at, order) = self.schedule.pop_due(until).expect("one is due");
                    self.step(&order, at);
                    steps += 1;
                }
                (None, Some(m)) if m <= until => self.open_day(m),
                (None, _) => break,
            }
        }
        steps
    }

    /// The next midnight whose work is not done (`None` past the last representable day).
    fn next_midnight(&self) -> Option<DateTime<Utc>> {
        Some(self.today.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc())
    }

    /// The work of the midnight `at` begins: bills issued and bonds' prices stepped, then
    /// the rollovers due that day placed, then the positions maturing that day paid out.
    fn open_day(&mut self, at: DateTime<Utc>) {
        let today = at.date_naive();
        self.today = today;
        self.market.open_days_through(today);
        for instrument in self.instruments_where(|l| l.rollover_date() == Some(today)) {
            self.roll_over(&instrument, at);
        }
        for instrument in self.instruments_where(|l| l.maturity() == Some(today)) {
            self.mature(&instrument, at);
        }
    }

    /// The ids of the listed instruments `pick` accepts, in listing order.
    fn instruments_where(&self, pick: impl Fn(&Listing) -> bool) -> Vec<String> {
        self.market
            .all()
            .filter(|l| pick(l))
            .map(|l| l.instrument.id.clone())
            .collect()
    }

    /// Places, for every position in `instrument` with automatic rollover, a buy of the
    /// series' bill on the run, purpose `rollover`, for the position's nominal value, with
    /// no cash check (contract section 11: cash may go negative until the payout).
    fn roll_over(&mut self, instrument: &str, at: DateTime<Utc>) {
        let today = at.date_naive();
        let Some(old) = self.listing(instrument).cloned() else {
            return;
        };
        let Some(next) = self.market.successor(&old, today).cloned() else {
            return;
        };
        if next.instrument.id == old.instrument.id {
            return;
        }
        for (account, holding) in self.ledger.holders_of(instrument) {
            let units = holding.available();
            if !holding.automatic_rollover
                || holding.rolled_into.is_some()
                || units <= Decimal::ZERO
            {
                continue;
            }
            // One unit is 1.00 of face value: the nominal value is the quantity (less
            // units an open sell already holds). Those units are then held for the payout
            // that covers the rollover's debit: they can no longer be sold.
            if self
                .ledger
                .reserve_units(&account, instrument, units)
                .is_err()
            {
                continue;
            }
            let cash = cents(units);
            let fees = cents(cash * self.rules.fee_rate);
            let currency = next.currency();
            self.ledger
                .reserve_cash_unchecked(&account, &currency, cash);
            let figures = OrderFigures {
                side: OrderSide::Buy,
                cash_amount: Some(cash),
                net_cash_amount: Some(cash - fees),
                quantity: None,
                fees,
                automatic_rollover: true,
            };
            let order = self.open_order(&account, &next, OrderPurpose::Rollover, figures, at);
            if let Some(h) = self.ledger.existing_holding_mut(&account, instrument) {
                h.rolled_into = Some(order.id.to_string());
                h.modified_at = at;
            }
        }
    }

    /// Matures `instrument`: it stops trading, its open orders are cancelled, and every
    /// position in it pays out its nominal value in cash and closes, each with a
    /// `position.matured` event.
    fn mature(&mut self, instrument: &str, at: DateTime<Utc>) {
        let Some(listing) = self.market.get_mut(instrument) else {
            return;
        };
        listing.instrument.trading_status = Some(TradingStatus::Closed);
        let listing = listing.clone();
        let open: Vec<String> = self
            .schedule
            .orders()
            .filter(|id| {
                self.orders.get(*id).is_some_and(|o| {
                    o.instrument.id == instrument && o.status.get().is_cancellable()
                })
            })
            .map(str::to_string)
            .collect();
        // In placement order, so the same seed gives the same event ids.
        let mut open = open;
        open.sort_by(|a, b| {
            (self.orders[a.as_str()].created_at, a).cmp(&(self.orders[b.as_str()].created_at, b))
        });
        for order in open {
            self.cancel_with(&order, OrderCancelledReason::InstrumentNotTrading, at);
        }
        let currency = listing.currency();
        for (account, holding) in self.ledger.holders_of(instrument) {
            let position = Position::from(exhaustive::Position {
                id: holding.id.clone(),
                account: account.clone(),
                instrument: listing.held_summary(),
                quantity: holding.quantity,
                available_quantity: holding.available(),
                automatic_rollover: holding.automatic_rollover,
                created_at: holding.created_at,
                modified_at: at,
            });
            self.ledger
                .credit(&account, &currency, cents(holding.quantity));
            // The position is closed: nothing of it is kept (an event has its last state).
            self.ledger.close_holding(&account, instrument);
            self.record_matured(position, at);
        }
    }

    /// Turns a position's automatic rollover on or off (contract section 11): bills only,
    /// and locked within 4 calendar days of maturity.
    pub fn set_automatic_rollover(
        &mut self,
        account_id: &str,
        position_id: &str,
        on: bool,
        now: DateTime<Utc>,
    ) -> Result<Position, ApiError> {
        let account = self.account(account_id)?;
        let Some((instrument, _)) = account
            .holdings()
            .find(|(_, h)| h.id == position_id && h.quantity > Decimal::ZERO)
        else {
            return Err(ApiError::not_found("position", position_id));
        };
        let instrument = instrument.clone();
        let listing = self
            .listing(&instrument)
            .expect("holdings name listed instruments");
        let field = "body.automatic_rollover";
        if !listing.supports_rollover() {
            return Err(ApiError::param(
                field,
                ErrorParamCode::Invalid,
                format!("{instrument} does not support automatic rollover (only bills do)"),
            ));
        }
        let today = now.date_naive();
        if let Some(maturity) = listing.maturity()
            && (maturity - today).num_days() <= ROLLOVER_LOCK_DAYS
        {
            return Err(ApiError::param(
                field,
                ErrorParamCode::Invalid,
                format!(
                    "can no longer change: {instrument} matures on {maturity}, and changes lock {ROLLOVER_LOCK_DAYS} days before maturity"
                ),
            ));
        }
        let holding = self
            .ledger
            .existing_holding_mut(account_id, &instrument)
            .expect("found above");
        holding.automatic_rollover = on;
        holding.modified_at = now;
        let account = self.account(account_id)?;
        Ok(self
            .positions(account)
            .into_iter()
            .find(|p| p.id == position_id)
            .expect("the position is open"))
    }

    /// Moves one order one step forward at time `at`.
    fn step(&mut self, order_id: &str, at: DateTime<Utc>) {
        let Some(order) = self.orders.get(order_id) else {
            return;
        };
        let status = order.status.get();
        fn listed<'w>(world: &'w World, order_id: &str) -> &'w Listing {
            world
                .listing(&world.orders[order_id].instrument.id)
                .expect("orders name listed instruments")
        }
        let delays = self.rules.delays;
        match status.exhaustive() {
            exhaustive::OrderStatus::Placed | exhaustive::OrderStatus::Pending => {
                let listing = listed(self, order_id);
                // Placement refused what this listing did not trade then; a listing that
                // stopped trading since (a maturity) cancels the order.
                let closed =
                    match listing.trading_status().exhaustive() {
                        exhaustive::TradingStatus::BuySell
                        | exhaustive::TradingStatus::SellOnly => false,
                        exhaustive::TradingStatus::Closed
                        | exhaustive::TradingStatus::Unknown(_) => true,
                    };
                let auction = listing.goes_through_auction;
                if closed {
                    self.cancel_with(order_id, OrderCancelledReason::InstrumentNotTrading, at);
                } else if status == OrderStatus::Placed && auction {
                    self.set_status(order_id, OrderStatus::Pending, at);
                    self.schedule_next(order_id, at + delays.pending);
                } else {
                    self.set_status(order_id, OrderStatus::Executing, at);
                    self.schedule_next(order_id, at + delays.executing);
                }
            }
            exhaustive::OrderStatus::Executing => {
                // Copied only here, where the trade changes the world the listing is in.
                let listing = listed(self, order_id).clone();
                match self.trade(order_id, &listing, at) {
                    Traded::Filled => {
                        let due = self.settles_at(&listing, at);
                        self.schedule_next(order_id, due);
                    }
                    // The next trade after the same delay as the first.
                    Traded::More => self.schedule_next(order_id, at + delays.executing),
                    // A trade that cannot happen cancels the order instead.
                    Traded::Cancelled => {}
                }
            }
            exhaustive::OrderStatus::Filled => {
                let order = self.order_mut(order_id);
                order.settled_at = Some(at);
                for trade in &mut order.trades {
                    trade.status = TradeStatus::Settled.into();
                }
                self.set_status(order_id, OrderStatus::Settled, at);
            }
            // Terminal: nothing follows.
            exhaustive::OrderStatus::Settled
            | exhaustive::OrderStatus::Cancelled
            | exhaustive::OrderStatus::Unknown(_) => {}
        }
    }

    /// When an order of `listing` filled at `at` settles.
    fn settles_at(&self, listing: &Listing, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.rules.timing {
            Timing::Fast => at + self.rules.delays.filled,
            Timing::Market => {
                let day =
                    crate::market::add_business_days(at.date_naive(), listing.settlement_days());
                day.and_hms_opt(0, 0, 0).map_or(at, |t| t.and_utc())
            }
        }
    }

    fn set_status(&mut self, order_id: &str, status: OrderStatus, at: DateTime<Utc>) {
        let order = self.order_mut(order_id);
        order.status = status.into();
        order.modified_at = at;
        let order = Arc::clone(&self.orders[order_id]);
        self.record_event(&order);
    }

    /// The order, to change: copied first only if an event still shares this version.
    fn order_mut(&mut self, order_id: &str) -> &mut StoredOrder {
        Arc::make_mut(self.orders.get_mut(order_id).expect("the caller found it"))
    }

    /// Executes the order's next trade at the listing's price: at most the listing's lot
    /// in units (contract section 11), moving cash and units and recording the trade.
    fn trade(&mut self, order_id: &str, listing: &Listing, at: DateTime<Utc>) -> Traded {
        let order = Arc::clone(&self.orders[order_id]);
        let price = listing.price(at.date_naive());
        let Some(figures) = self.trade_figures(&order, listing, price) else {
            // Placement bounds every amount and the control plane every price, so this
            // is out of reach; if it is ever reached, the order is cancelled, not panicked.
            self.cancel_with(order_id, OrderCancelledReason::System, at);
            return Traded::Cancelled;
        };
        let TradeFigures {
            units,
            notional,
            last,
        } = figures;
        if units <= Decimal::ZERO {
            if order.trades.is_empty() {
                self.cancel_with(order_id, OrderCancelledReason::InsufficientFunds, at);
                return Traded::Cancelled;
            }
            // The cash left after the earlier trades buys no unit: those trades are all.
            drop(order);
            self.finish_fill(order_id, at);
            return Traded::Filled;
        }
        let account = self
            .ledger
            .get(&order.account)
            .expect("orders belong to accounts");
        let cash_total = account
            .cash_in(&order.currency)
            .map_or(Decimal::ZERO, |c| c.total);
        let held = account
            .holding(&listing.instrument.id)
            .map_or(Decimal::ZERO, |h| h.quantity);
        let balances_fit = match order.side.get().exhaustive() {
            exhaustive::OrderSide::Buy => held.checked_add(units).is_some(),
            exhaustive::OrderSide::Sell => cash_total.checked_add(notional).is_some(),
            exhaustive::OrderSide::Unknown(_) => false,
        };
        if !balances_fit {
            self.cancel_with(order_id, OrderCancelledReason::System, at);
            return Traded::Cancelled;
        }
        let account_id = order.account.clone();
        // A position is opened (and given an id) only by the first fill of its instrument.
        let has_holding = self
            .ledger
            .get(&account_id)
            .and_then(|a| a.holding(&listing.instrument.id))
            .is_some();
        let new_holding = (!has_holding).then(|| self.new_holding(Decimal::ZERO, at));
        let trade_id = self.ids.next("trd");
        // The trade's part of the reservation is spent now; the rest waits for later trades.
        match order.side.get().exhaustive() {
            exhaustive::OrderSide::Buy => {
                self.ledger
                    .release_cash(&account_id, &order.currency, notional);
                self.ledger.credit(&account_id, &order.currency, -notional);
            }
            exhaustive::OrderSide::Sell => {
                self.ledger
                    .release_units(&account_id, &listing.instrument.id, units);
                self.ledger.credit(&account_id, &order.currency, notional);
            }
            // Cancelled before this point (`balances_fit`).
            exhaustive::OrderSide::Unknown(_) => {}
        }
        let holding = self
            .ledger
            .holding_mut(&account_id, &listing.instrument.id, || {
                new_holding.expect("made above when absent")
            });
        match order.side.get().exhaustive() {
            exhaustive::OrderSide::Buy => {
                holding.quantity += units;
                holding.automatic_rollover |= order.automatic_rollover;
            }
            exhaustive::OrderSide::Sell => holding.quantity -= units,
            exhaustive::OrderSide::Unknown(_) => {}
        }
        holding.modified_at = at;
        let position_id = holding.id.clone();
        // The shared handle goes first, so that the change below edits the order in place
        // instead of copying it (a copy of a 2 KB order per fill).
        drop(order);
        let order = self.order_mut(order_id);
        order.position = Some(position_id.as_str().into());
        order.traded_quantity += units;
        order.traded_notional += notional;
        order.modified_at = at;
        // Most orders trade once: a first push would reserve room for four.
        order.trades.reserve_exact(1);
        order.trades.push(StoredTrade {
            id: trade_id.as_str().into(),
            position: position_id.as_str().into(),
            status: TradeStatus::Executed.into(),
            price,
            quantity: units,
            notional,
            created_at: at,
        });
        if last {
            self.finish_fill(order_id, at);
            Traded::Filled
        } else {
            Traded::More
        }
    }

    /// After the last trade: the fees are charged, what is still reserved is released
    /// (a buy's unspent cash), and the order is `filled`.
    fn finish_fill(&mut self, order_id: &str, at: DateTime<Utc>) {
        self.release(order_id);
        let order = &self.orders[order_id];
        let account = order.account.clone();
        let currency = order.currency.clone();
        let fees = match order.side.get().exhaustive() {
            exhaustive::OrderSide::Buy => order.fees,
            // Bounded: the notional is at most MAX_AMOUNT × MAX_PRICE, the rate below 1.
            exhaustive::OrderSide::Sell => cents(order.traded_notional * self.rules.fee_rate),
            exhaustive::OrderSide::Unknown(_) => Decimal::ZERO,
        };
        self.ledger.credit(&account, &currency, -fees);
        let order = self.order_mut(order_id);
        order.fees = fees;
        order.filled_at = Some(at);
        self.set_status(order_id, OrderStatus::Filled, at);
    }

    /// The next trade of an order at `price`: its units and notional, and whether it is
    /// the last (the rest fits in one lot). Every step is checked (`None` on an overflow,
    /// which the sandbox's limits keep out of reach).
    fn trade_figures(
        &self,
        order: &StoredOrder,
        listing: &Listing,
        price: Decimal,
    ) -> Option<TradeFigures> {
        // The last trade an order may have takes everything left.
        let lot = if order.trades.len() + 1 >= limits::MAX_TRADES_PER_ORDER {
            limits::MAX_AMOUNT.checked_div(limits::MIN_PRICE)?
        } else {
            listing.lot()
        };
        match order.side.get().exhaustive() {
            exhaustive::OrderSide::Buy => {
                let net = order.net_cash_amount.unwrap_or_default() - order.traded_notional;
                let all = net
                    .checked_div(price)?
                    .round_dp_with_strategy(listing.precision(), RoundingStrategy::ToZero);
                let units = all.min(lot);
                Some(TradeFigures {
                    units,
                    notional: trade_notional(order, units, price)?,
                    last: units == all,
                })
            }
            exhaustive::OrderSide::Sell => {
                let rest = order.quantity.unwrap_or_default() - order.traded_quantity;
                let units = rest.min(lot);
                Some(TradeFigures {
                    units,
                    notional: trade_notional(order, units, price)?,
                    last: units == rest,
                })
            }
            exhaustive::OrderSide::Unknown(_) => None,
        }
    }

    // ---- events ---------------------------------------------------------------------

    /// Records `order`'s change, just made: the event's time is the order's `modified_at`
    /// (which is how an event's `data` gets its `modified_at` back, [`OrderState`]).
    fn record_event(&mut self, order: &StoredOrder) {
        let at = order.modified_at;
        let account = &*order.account;
        let record = EventRecord {
            id: self.ids.next("evt").as_str().into(),
            at,
            subject: Subject::Order {
                order: Arc::clone(&order.id),
                state: OrderState::of(order),
            },
        };
        let World {
            deliveries,
            credentials,
            ids,
            ..
        } = self;
        // The owners whose webhooks hear the account's events: the account itself and the
        // OAuth clients scoped to it (asked only of webhooks that exist, no list built).
        let is_owner = |owner: &str| credentials.hears(owner, account);
        let name = order.status.get().event_name();
        // The order is in the event's state now, so it is the event's `data` as it is.
        let event = || order_event(&record.id, &order.to_order(), at);
        deliveries.enqueue_event(&name, event, is_owner, ids, at);
        self.events.push(record);
    }

    /// Records and delivers `position.matured` for a position as it stood at maturity.
    fn record_matured(&mut self, position: Position, at: DateTime<Utc>) {
        let position = Arc::new(position);
        let record = EventRecord {
            id: self.ids.next("evt").as_str().into(),
            at,
            subject: Subject::Matured {
                position: Arc::clone(&position),
            },
        };
        let World {
            deliveries,
            credentials,
            ids,
            ..
        } = self;
        let account = position.account.as_str();
        let is_owner = |owner: &str| credentials.hears(owner, account);
        let event = || matured_event(&record.id, &position, at);
        deliveries.enqueue_event(&EventName::PositionMatured, event, is_owner, ids, at);
        self.events.push(record);
    }

    /// The account an event is about.
    fn event_account<'a>(&'a self, record: &'a EventRecord) -> Option<&'a str> {
        match &record.subject {
            Subject::Order { order, .. } => Some(&self.orders.get(&**order)?.account),
            Subject::Matured { position } => Some(&position.account),
        }
    }

    /// Events on the principal's accounts, newest first.
    pub fn events_newest_first<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> impl Iterator<Item = &'a EventRecord> + 'a {
        self.events.newest_first().filter(move |r| {
            self.event_account(r)
                .is_some_and(|a| principal.may_act_on(a))
        })
    }

    /// A stored event and, for an order's event, its order as it is now (shared), so that
    /// the event is rendered after the world lock is released; `None` if the order was
    /// forgotten.
    pub fn event_source(
        &self,
        record: &EventRecord,
    ) -> Option<(EventRecord, Option<Arc<StoredOrder>>)> {
        let order = match record.order_id() {
            Some(id) => Some(Arc::clone(self.orders.get(id)?)),
            None => None,
        };
        Some((record.clone(), order))
    }
}
