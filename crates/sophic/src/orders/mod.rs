//! Orders: building requests that cannot be wrong, and (with the `client` feature) placing,
//! retrieving, cancelling, listing and waiting for them.
//!
//! Buys are cash-based and sells unit-based, so they are two constructors:
//!
//! ```
//! use sophic::orders::OrderRequest;
//! use sophic::{Amount, InstrumentId, Quantity};
//!
//! let bill: InstrumentId = "ins_bill26".parse()?;
//! let buy = OrderRequest::buy(&bill, "100.00".parse::<Amount>()?).automatic_rollover(true);
//! let sell = OrderRequest::sell(&bill, "5".parse::<Quantity>()?);
//! // `sell.automatic_rollover(true)` does not compile: rollover is for buys only.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "client")]
mod handler;
#[cfg(feature = "client")]
mod wait;

#[cfg(feature = "client")]
pub use handler::{CancelOrder, ListOrders, ListPendingOrders, OrdersHandler, PlaceOrder};
#[cfg(feature = "client")]
pub use wait::WaitForOrder;

use sophic_client::types::exhaustive;

pub use sophic_client::types::{
    Order, OrderCancelledReason, OrderPurpose, OrderSide, OrderStatus, OrderType, Trade,
};

use sophic_client::types::PlaceOrderRequest;

use crate::{Amount, InstrumentId, OrderId, Quantity};

/// A market order ready to place: a [`Buy`] or a [`Sell`].
#[derive(Debug, Clone)]
pub struct OrderRequest(PlaceOrderRequest);

impl OrderRequest {
    /// A buy of `cash` worth of `instrument` (before fees; the quantity follows from the
    /// price).
    pub fn buy(instrument: &InstrumentId, cash: Amount) -> Buy {
        Buy(PlaceOrderRequest::from(exhaustive::PlaceOrderRequest {
            instrument: instrument.to_string(),
            order_type: OrderType::Market,
            side: OrderSide::Buy,
            cash_amount: Some(cash.get()),
            quantity: None,
            automatic_rollover: None,
        }))
    }

    /// A sale of `quantity` units of `instrument`.
    pub fn sell(instrument: &InstrumentId, quantity: Quantity) -> Sell {
        Sell(PlaceOrderRequest::from(exhaustive::PlaceOrderRequest {
            instrument: instrument.to_string(),
            order_type: OrderType::Market,
            side: OrderSide::Sell,
            cash_amount: None,
            quantity: Some(quantity.get()),
            automatic_rollover: None,
        }))
    }

    /// The request as it goes on the wire.
    pub fn as_wire(&self) -> &PlaceOrderRequest {
        &self.0
    }

    /// The request as it goes on the wire.
    pub fn into_wire(self) -> PlaceOrderRequest {
        self.0
    }
}

/// A cash-based buy; see [`OrderRequest::buy`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Buy(PlaceOrderRequest);

impl Buy {
    /// Rolls the position over into the next issue at maturity (on instruments whose
    /// `supports_automatic_rollover` is true; others refuse the order).
    pub fn automatic_rollover(mut self, rollover: bool) -> Self {
        self.0.automatic_rollover = Some(rollover);
        self
    }
}

/// A unit-based sell; see [`OrderRequest::sell`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Sell(PlaceOrderRequest);

impl From<Buy> for OrderRequest {
    fn from(buy: Buy) -> Self {
        Self(buy.0)
    }
}

impl From<Sell> for OrderRequest {
    fn from(sell: Sell) -> Self {
        Self(sell.0)
    }
}

impl From<OrderRequest> for PlaceOrderRequest {
    fn from(request: OrderRequest) -> Self {
        request.0
    }
}

impl From<Buy> for PlaceOrderRequest {
    fn from(buy: Buy) -> Self {
        buy.0
    }
}

impl From<Sell> for PlaceOrderRequest {
    fn from(sell: Sell) -> Self {
        sell.0
    }
}

/// What the SDK adds to the generated [`Order`].
pub trait OrderExt: sealed::Sealed {
    /// The order's id as an [`OrderId`], for the calls that take one:
    /// `orders.wait_for_order(&order.order_id())`. Taken as the API returned it.
    fn order_id(&self) -> OrderId;
}

impl OrderExt for Order {
    fn order_id(&self) -> OrderId {
        OrderId::from_api(self.id.clone())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Order {}
}

/// What an [`OrderStatus`] means for the order's lifecycle.
///
/// ```text
/// placed ──► pending ──► executing ──► filled ──► settled
///   └───────────┴────────────┴──► cancelled
/// ```
pub trait OrderStatusExt {
    /// `settled` or `cancelled`: the order will not change again.
    fn is_terminal(&self) -> bool;
    /// `placed`, `pending` or `executing`: the order can still be cancelled.
    fn is_cancellable(&self) -> bool;
    /// How far along the lifecycle the status is (`placed` 0 … `settled` 4), `None` for
    /// `cancelled` and for statuses this SDK does not know.
    fn progress(&self) -> Option<u8>;
    /// Whether a wait for `target` (or, with `None`, for the end) is over at this status:
    /// the status is terminal, is the target, or is past it (`settled` is past `filled`).
    fn has_reached(&self, target: Option<&OrderStatus>) -> bool;
}

impl OrderStatusExt for OrderStatus {
    // The classifications are sophic-client's (one exhaustive match each, beside the
    // generated type), so the SDK and the sandbox cannot disagree about a status.
    fn is_terminal(&self) -> bool {
        OrderStatus::is_terminal(self)
    }

    fn is_cancellable(&self) -> bool {
        OrderStatus::is_cancellable(self)
    }

    fn progress(&self) -> Option<u8> {
        match self.exhaustive() {
            exhaustive::OrderStatus::Placed => Some(0),
            exhaustive::OrderStatus::Pending => Some(1),
            exhaustive::OrderStatus::Executing => Some(2),
            exhaustive::OrderStatus::Filled => Some(3),
            exhaustive::OrderStatus::Settled => Some(4),
            exhaustive::OrderStatus::Cancelled | exhaustive::OrderStatus::Unknown(_) => None,
        }
    }

    fn has_reached(&self, target: Option<&OrderStatus>) -> bool {
        if self.is_terminal() {
            return true;
        }
        let Some(target) = target else {
            return false;
        };
        self == target
            || matches!((self.progress(), target.progress()), (Some(now), Some(goal)) if now >= goal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn instrument() -> InstrumentId {
        "ins_xyz789".parse().unwrap()
    }

    #[test]
    fn a_buy_carries_cash_and_never_a_quantity() {
        let request: OrderRequest =
            OrderRequest::buy(&instrument(), Amount::new(dec!(100.00)).unwrap()).into();
        let json = serde_json::to_value(request.as_wire()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "instrument": "ins_xyz789",
                "order_type": "market",
                "side": "buy",
                "cash_amount": "100.00",
            })
        );
    }

    #[test]
    fn a_sell_carries_a_quantity_and_never_cash() {
        let request: OrderRequest =
            OrderRequest::sell(&instrument(), Quantity::new(dec!(5)).unwrap()).into();
        let json = serde_json::to_value(request.as_wire()).unwrap();
        assert_eq!(json["quantity"], "5");
        assert!(json.get("cash_amount").is_none());
        assert!(json.get("automatic_rollover").is_none());
    }

    #[test]
    fn rollover_is_sent_when_asked_for() {
        let buy = OrderRequest::buy(&instrument(), Amount::new(dec!(1)).unwrap())
            .automatic_rollover(true);
        assert_eq!(PlaceOrderRequest::from(buy).automatic_rollover, Some(true));
    }

    #[test]
    fn terminal_statuses_are_settled_and_cancelled_only() {
        assert!(OrderStatus::Settled.is_terminal());
        assert!(OrderStatus::Cancelled.is_terminal());
        assert!(!OrderStatus::Filled.is_terminal());
        assert!(!OrderStatus::Unknown("partially_filled".into()).is_terminal());
        assert!(OrderStatus::Executing.is_cancellable());
        assert!(!OrderStatus::Filled.is_cancellable());
    }
}
