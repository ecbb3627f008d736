//! An order as the world keeps it: the wire `Order` less what is the same for every order
//! of an instrument or every trade of an order, rendered into the generated `Order` when
//! it is shown. The generated types carry an `Instrument` by value (400 bytes, mostly
//! `None`) in each order and again in each trade, and a trade repeats its order's id,
//! account, side and currency; kept as they are shown, a settled order cost about 1.9 KB
//! (issue 10). Here the instrument summary is shared by every order of its listing, a
//! trade keeps only what is its own, and the enum values are bytes ([`Coded`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::code::Coded;
use crate::ids::ShortStr;
use rust_decimal::Decimal;
use sophic_client::types::exhaustive;
use sophic_client::types::{
    Currency, Instrument, Order, OrderCancelledReason, OrderPurpose, OrderSide, OrderStatus,
    OrderType, Trade, TradeStatus,
};

/// An order of the world. Its fields have the names of the wire `Order`'s, so that a
/// filter reads the same on either.
#[derive(Clone, Debug)]
pub struct StoredOrder {
    /// `ord_…`, shared with the world's index, the account's list and the order's events.
    pub id: Arc<str>,
    /// The account that placed it (every order of the sandbox has one).
    pub account: ShortStr,
    pub status: Coded<OrderStatus>,
    pub order_type: Coded<OrderType>,
    pub purpose: Coded<OrderPurpose>,
    /// The position its first trade opened or added to.
    pub position: Option<ShortStr>,
    pub side: Coded<OrderSide>,
    /// The listing's four-field summary, shared with the other orders of the listing.
    pub instrument: Arc<Instrument>,
    pub cash_amount: Option<Decimal>,
    pub net_cash_amount: Option<Decimal>,
    pub quantity: Option<Decimal>,
    pub traded_quantity: Decimal,
    pub traded_notional: Decimal,
    pub fees: Decimal,
    pub currency: Currency,
    pub automatic_rollover: bool,
    pub cancelled_reason: Option<Coded<OrderCancelledReason>>,
    pub filled_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub trades: Vec<StoredTrade>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// A trade of a [`StoredOrder`]: what is its own. Its order, account, side, currencies and
/// instrument are its order's; the sandbox has no counterparty to name.
#[derive(Clone, Debug)]
pub struct StoredTrade {
    /// `trd_…`
    pub id: ShortStr,
    /// The position it moved (its order's, unless the holding was closed and opened again
    /// between two trades of the order).
    pub position: ShortStr,
    pub status: Coded<TradeStatus>,
    pub price: Decimal,
    pub quantity: Decimal,
    pub notional: Decimal,
    pub created_at: DateTime<Utc>,
}

impl StoredOrder {
    /// The wire `Order`. Every field is named (no `..`), so a field the spec adds fails to
    /// compile here until the world keeps it or says why it need not.
    pub fn to_order(&self) -> Order {
        self.with_trades(&self.trades)
    }

    /// The wire `Order` showing only `shown` of its trades (an event's order, made before
    /// its later trades, renders none of them).
    pub(super) fn with_trades(&self, shown: &[StoredTrade]) -> Order {
        let StoredOrder {
            id,
            account,
            status,
            order_type,
            purpose,
            position,
            side,
            instrument,
            cash_amount,
            net_cash_amount,
            quantity,
            traded_quantity,
            traded_notional,
            fees,
            currency,
            automatic_rollover,
            cancelled_reason,
            filled_at,
            settled_at,
            cancelled_at,
            trades: _,
            created_at,
            modified_at,
        } = self;
        Order::from(exhaustive::Order {
            id: id.to_string(),
            account: Some(account.to_string()),
            status: status.get(),
            order_type: order_type.get(),
            purpose: purpose.get(),
            position: position.as_deref().map(str::to_string),
            side: side.get(),
            instrument: Instrument::clone(instrument),
            cash_amount: *cash_amount,
            net_cash_amount: *net_cash_amount,
            quantity: *quantity,
            traded_quantity: *traded_quantity,
            traded_notional: *traded_notional,
            fees: *fees,
            currency: currency.clone(),
            automatic_rollover: *automatic_rollover,
            cancelled_reason: cancelled_reason.map(Coded::get),
            filled_at: *filled_at,
            settled_at: *settled_at,
            cancelled_at: *cancelled_at,
            trades: shown.iter().map(|t| t.to_trade(self)).collect(),
            created_at: *created_at,
            modified_at: *modified_at,
        })
    }

    /// Whether it is settled or cancelled.
    pub fn is_terminal(&self) -> bool {
        self.status.get().is_terminal()
    }
}

impl StoredTrade {
    /// The wire `Trade` of `order`'s trade (named field by field, as [`StoredOrder::to_order`]).
    fn to_trade(&self, order: &StoredOrder) -> Trade {
        let StoredTrade {
            id,
            position,
            status,
            price,
            quantity,
            notional,
            created_at,
        } = self;
        Trade::from(exhaustive::Trade {
            id: id.to_string(),
            order: order.id.to_string(),
            account: order.account.to_string(),
            position: position.to_string(),
            side: order.side.get(),
            status: status.get(),
            price: *price,
            quantity: *quantity,
            quantity_currency: order.currency.clone(),
            notional: *notional,
            notional_currency: order.currency.clone(),
            counterparty: None,
            instrument: Instrument::clone(&order.instrument),
            created_at: *created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an order and a trade cost, kept (an order also has its `Arc`'s two counts).
    #[test]
    fn an_order_and_a_trade_keep_their_size() {
        assert_eq!(std::mem::size_of::<StoredOrder>(), 296);
        assert_eq!(std::mem::size_of::<StoredTrade>(), 112);
    }
}
