//! The alternatives a user would write by hand instead of taking the SDK: a `reqwest` +
//! `serde_json` POST, and a struct holding only the fields of an order a caller reads.
//!
//! These are deliberately a second copy of part of the wire (the house rule is one source
//! of truth per fact): they exist only as the thing the SDK is measured against, and nothing
//! outside the benchmarks uses them.

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The fields of an order a caller typically reads, with what they do not read (the
/// trades, the instrument's name, the other timestamps) left to serde to skip.
///
/// Enums are plain strings: a hand-written client that wants to survive a new status from
/// the server has to do that, or write the `Unknown` variant the generated enums carry.
#[derive(Debug, Clone, Deserialize)]
pub struct MinimalOrder {
    /// `ord_…`
    pub id: String,
    /// `placed`, `pending`, … as sent.
    pub status: String,
    /// `buy` or `sell`.
    pub side: String,
    /// The instrument, by id.
    pub instrument: MinimalInstrument,
    /// Buys: the cash to invest.
    pub cash_amount: Option<Decimal>,
    /// Sells: the units to sell.
    pub quantity: Option<Decimal>,
    /// Units traded so far.
    pub traded_quantity: Decimal,
    /// Cash traded so far.
    pub traded_notional: Decimal,
    /// The order's fees.
    pub fees: Decimal,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it settled, if it has.
    pub settled_at: Option<DateTime<Utc>>,
}

/// The part of an order's instrument a caller reads.
#[derive(Debug, Clone, Deserialize)]
pub struct MinimalInstrument {
    /// `ins_…`
    pub id: String,
}

/// Every field of an order as the contract models it, hand-written with closed enums: not
/// what a caller would write, but what tells the two costs of the generated `Order` apart.
/// Against [`MinimalOrder`] it shows the cost of decoding every field; the generated type
/// against it shows the cost of the generated types themselves (chiefly their
/// forward-compatible enums).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)] // decoded, never read
pub struct EveryFieldOrder {
    id: String,
    account: Option<String>,
    status: Closed,
    order_type: Closed,
    purpose: Closed,
    position: Option<String>,
    side: Closed,
    instrument: EveryFieldInstrument,
    cash_amount: Option<Decimal>,
    net_cash_amount: Option<Decimal>,
    quantity: Option<Decimal>,
    traded_quantity: Decimal,
    traded_notional: Decimal,
    fees: Decimal,
    currency: Currency,
    automatic_rollover: bool,
    cancelled_reason: Option<Closed>,
    filled_at: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    trades: Vec<EveryFieldTrade>,
    created_at: DateTime<Utc>,
    modified_at: DateTime<Utc>,
}

/// The embedded instrument as the contract has it: four fields always, the rest of the
/// `Instrument` when the server sends them (the fixture does not).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)]
struct EveryFieldInstrument {
    id: String,
    name: String,
    symbol: String,
    instrument_type: Closed,
    days_to_maturity: Option<i64>,
    decimal_precision: Option<u32>,
    enforce_trading_rules: Option<bool>,
    initial_auction_date: Option<NaiveDate>,
    initial_issue_date: Option<NaiveDate>,
    isin: Option<String>,
    issuer: Option<String>,
    issuer_country: Option<String>,
    issuer_credit_rating: Option<String>,
    latest_auction_date: Option<NaiveDate>,
    latest_issue_date: Option<NaiveDate>,
    maturity_date: Option<NaiveDate>,
    minimum_initial_cash_investment: Option<Decimal>,
    minimum_trading_quantity: Option<Decimal>,
    pro_traders_only: Option<bool>,
    required_cash_increment: Option<CashIncrement>,
    supports_automatic_rollover: Option<bool>,
    ticker: Option<String>,
    trading_currency: Option<Currency>,
    trading_increment: Option<Decimal>,
    trading_status: Option<Closed>,
}

/// `required_cash_increment`: an integer, or a decimal string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum CashIncrement {
    Whole(i64),
    Decimal(Decimal),
}

#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)]
struct EveryFieldTrade {
    id: String,
    order: String,
    account: String,
    position: String,
    side: Closed,
    status: Closed,
    price: Decimal,
    quantity: Decimal,
    quantity_currency: Currency,
    notional: Decimal,
    notional_currency: Currency,
    counterparty: Option<String>,
    instrument: EveryFieldInstrument,
    created_at: DateTime<Utc>,
}

/// The spec's enum values an order of the fixture carries, with no fallback.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Closed {
    Placed,
    Pending,
    Executing,
    Filled,
    Settled,
    Cancelled,
    Executed,
    Market,
    UserRequest,
    Buy,
    Sell,
    Bill,
    Bond,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Currency {
    Usd,
    Eur,
    Gbp,
}

/// The body of a cash-based market buy.
#[derive(Debug, Serialize)]
struct MarketBuy<'a> {
    instrument: &'a str,
    order_type: &'static str,
    side: &'static str,
    cash_amount: &'a str,
}

/// Any failure of the hand-written call.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Placing orders with `reqwest` and `serde_json` directly, as a user without the SDK would:
/// a `reqwest::Client::new()`, the bearer header, an `Idempotency-Key`, a status check, and
/// the answer decoded into [`MinimalOrder`]. No retries, no timeouts, no tracing.
#[derive(Debug, Clone)]
pub struct HandWrittenClient {
    http: reqwest::Client,
    orders_url: String,
    authorization: HeaderValue,
}

impl HandWrittenClient {
    /// A client for one account of the API at `base_url`.
    pub fn new(base_url: &str, token: &str, account: &str) -> Result<Self, Error> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {token}"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            http: reqwest::Client::new(),
            orders_url: format!(
                "{}/accounts/{account}/orders",
                base_url.trim_end_matches('/')
            ),
            authorization,
        })
    }

    /// Places a market buy of `cash` of `instrument` under `idempotency_key`, and decodes
    /// the order answered as `T` (usually [`MinimalOrder`]).
    pub async fn place_buy<T: DeserializeOwned>(
        &self,
        instrument: &str,
        cash: &str,
        idempotency_key: &str,
    ) -> Result<T, Error> {
        let response = self
            .http
            .post(&self.orders_url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Idempotency-Key", idempotency_key)
            .json(&MarketBuy {
                instrument,
                order_type: "market",
                side: "buy",
                cash_amount: cash,
            })
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("POST {} answered {status}: {body}", self.orders_url).into());
        }
        Ok(response.json().await?)
    }
}
