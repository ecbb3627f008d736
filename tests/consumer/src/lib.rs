//! A downstream crate, written as a user of `sophic-client` writes one: it builds
//! requests, reads every field of an order, and matches statuses and event names.
//!
//! It is never changed when the spec changes. `cargo xtask consumer` compiles it against
//! the client of every fixture the change report calls a minor or smaller change
//! (`xtask/fixtures`), so the report's semver verdict is checked by a compiler: a
//! "minor" edit that broke this crate would fail CI (decision 0015).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sophic_client::types::{
    CreateWebhookRequest, Currency, EventName, GrantType, Instrument, Order, OrderCancelledReason,
    OrderPurpose, OrderSide, OrderStatus, OrderType, PlaceOrderRequest, TokenRequest, Trade,
    TradeStatus, UpdateWebhookRequest,
};
use sophic_client::{Client, ClientState};

/// A cash buy, built with the type's builder (a struct literal of a `#[non_exhaustive]`
/// type does not compile outside its crate, and would break on a new field).
pub fn buy(instrument: &str, cash: Decimal) -> Result<PlaceOrderRequest, String> {
    PlaceOrderRequest::builder()
        .instrument(instrument)
        .side(OrderSide::Buy)
        .order_type(OrderType::Market)
        .cash_amount(Some(cash))
        .try_into()
        .map_err(|e| format!("{e}"))
}

/// A unit sell.
pub fn sell(instrument: &str, quantity: Decimal) -> Result<PlaceOrderRequest, String> {
    PlaceOrderRequest::builder()
        .instrument(instrument)
        .side(OrderSide::Sell)
        .order_type(OrderType::Market)
        .quantity(Some(quantity))
        .try_into()
        .map_err(|e| format!("{e}"))
}

/// The token request of OAuth client credentials.
pub fn token(client_id: &str, secret: &str) -> Result<TokenRequest, String> {
    TokenRequest::builder()
        .grant_type(GrantType::ClientCredentials)
        .client_id(client_id)
        .client_secret(secret)
        .try_into()
        .map_err(|e| format!("{e}"))
}

/// A webhook for settled orders.
pub fn webhook(url: &str) -> Result<CreateWebhookRequest, String> {
    CreateWebhookRequest::builder()
        .url(url)
        .enabled_events(vec![EventName::OrderSettled])
        .try_into()
        .map_err(|e| format!("{e}"))
}

/// A webhook switched off: a request whose fields are all optional starts from `Default`
/// and is set field by field.
pub fn disable() -> UpdateWebhookRequest {
    let mut change = UpdateWebhookRequest::default();
    change.disabled = Some(true);
    change
}

/// Places an order (never run here: this crate is compiled, not tested).
pub async fn place(
    client: &Client,
    account: &str,
    key: &str,
    order: PlaceOrderRequest,
) -> Result<Order, String> {
    client
        .place_order()
        .account_id(account)
        .idempotency_key(key)
        .body(order)
        .send()
        .await
        .map(|answer| answer.into_inner())
        .map_err(|e| e.to_string())
}

/// A client of `base`.
pub fn client(base: &str) -> Client {
    Client::new(base, ClientState::new())
}

/// Every field of an order, read as the type it is (a changed type or a removed field does
/// not compile here: that is a major change).
pub fn describe(order: &Order) -> String {
    let id: &String = &order.id;
    let account: Option<&String> = order.account.as_ref();
    let instrument: &Instrument = &order.instrument;
    let side: &OrderSide = &order.side;
    let order_type: &OrderType = &order.order_type;
    let purpose: &OrderPurpose = &order.purpose;
    let status: &OrderStatus = &order.status;
    let currency: &Currency = &order.currency;
    let cash: Option<Decimal> = order.cash_amount;
    let net: Option<Decimal> = order.net_cash_amount;
    let quantity: Option<Decimal> = order.quantity;
    let fees: Decimal = order.fees;
    let traded_quantity: Decimal = order.traded_quantity;
    let traded_notional: Decimal = order.traded_notional;
    let rollover: bool = order.automatic_rollover;
    let position: Option<&String> = order.position.as_ref();
    let created: DateTime<Utc> = order.created_at;
    let modified: DateTime<Utc> = order.modified_at;
    let filled: Option<DateTime<Utc>> = order.filled_at;
    let settled: Option<DateTime<Utc>> = order.settled_at;
    let cancelled: Option<DateTime<Utc>> = order.cancelled_at;
    let reason: Option<&OrderCancelledReason> = order.cancelled_reason.as_ref();
    let trades: &[Trade] = &order.trades;
    let mut lines = vec![
        format!(
            "{id} ({account:?}): {side} {order_type} {purpose} of {}",
            instrument.id
        ),
        format!("status {status} ({})", status_word(status)),
        format!("{currency} cash {cash:?} net {net:?} quantity {quantity:?} fees {fees}"),
        format!("traded {traded_quantity} units for {traded_notional}; rollover {rollover}"),
        format!("position {position:?}; created {created}, modified {modified}"),
        format!(
            "filled {filled:?} settled {settled:?} cancelled {cancelled:?} ({:?})",
            reason.map(ToString::to_string)
        ),
    ];
    lines.extend(trades.iter().map(trade));
    lines.join("\n")
}

fn trade(t: &Trade) -> String {
    // A struct pattern names what it reads and `..` the rest, so a new field does not
    // break it; the types are written out, so a changed one does.
    let Trade {
        id,
        order,
        account,
        position,
        instrument,
        side,
        status,
        price,
        quantity,
        quantity_currency,
        notional,
        notional_currency,
        counterparty,
        created_at,
        ..
    } = t;
    let (price, quantity, notional): (&Decimal, &Decimal, &Decimal) = (price, quantity, notional);
    let (id, order, account, position): (&String, &String, &String, &String) =
        (id, order, account, position);
    let (side, status): (&OrderSide, &TradeStatus) = (side, status);
    let counterparty: &Option<String> = counterparty;
    let created_at: &DateTime<Utc> = created_at;
    format!(
        "trade {id} of {order} ({account}, {position}, {}): {side} {quantity} {quantity_currency} at {price} = {notional} {notional_currency}, {status}, {counterparty:?}, {created_at}",
        instrument.id
    )
}

/// A status in words. A `match` on a `#[non_exhaustive]` enum ends with `_`: a status
/// the spec adds tomorrow lands there (and `Unknown` holds one the client does not know).
pub fn status_word(status: &OrderStatus) -> &'static str {
    match status {
        OrderStatus::Placed => "placed",
        OrderStatus::Pending => "waiting for an auction",
        OrderStatus::Executing => "executing",
        OrderStatus::Filled => "filled",
        OrderStatus::Settled => "settled",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Unknown(_) => "a status this client does not know",
        _ => "a status this crate does not know",
    }
}

/// Whether a webhook event is about money moving.
pub fn moves_money(name: &EventName) -> bool {
    match name {
        EventName::OrderFilled | EventName::OrderSettled | EventName::PositionMatured => true,
        EventName::Unknown(_) => false,
        _ => false,
    }
}
