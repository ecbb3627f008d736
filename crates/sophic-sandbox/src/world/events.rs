//! The event log: one record per status change of an order, and one per matured position,
//! rendered on read.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::sync::Arc;

use sophic_client::types::exhaustive;
use sophic_client::types::{
    Event, EventName, EventResource, Order, OrderCancelledReason, OrderStatus, Position,
    TradeStatus,
};

/// An event as stored: its id, its order's id and the part of the order that changes over
/// its life, as the event saw it ([`OrderState`]). The wire `Event` is rendered from the
/// order as it is now, rewound to that state, only when read or delivered. (Keeping each
/// version of the order instead cost a copy of it, about 2 KB, per status change.)
#[derive(Clone, Debug)]
pub struct EventRecord {
    pub(super) id: Box<str>,
    pub(super) at: DateTime<Utc>,
    pub(super) subject: Subject,
}

/// What an event is about.
#[derive(Clone, Debug)]
pub(super) enum Subject {
    /// An order's status change: the order's id and the state it reached.
    Order { order: Box<str>, state: OrderState },
    /// A position that matured (`position.matured`), as it stood then. Positions close at
    /// maturity, so the snapshot is all there is to render.
    Matured { position: Arc<Position> },
}

/// The fields of an order that change after placement; everything else is fixed then.
#[derive(Clone, Debug)]
pub(super) struct OrderState {
    status: OrderStatus,
    modified_at: DateTime<Utc>,
    traded_quantity: Decimal,
    traded_notional: Decimal,
    fees: Decimal,
    filled_at: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    cancelled_reason: Option<OrderCancelledReason>,
    /// Whether `position` was set (it never changes once set).
    has_position: bool,
    /// How many trades there were (trades are only ever appended) and their status
    /// (the sandbox moves an order's trades together).
    trades: u16,
    trade_status: Option<TradeStatus>,
}

/// Never called: names every field of an order, so a field the spec adds fails to compile
/// here until someone decides whether it changes after placement (then [`OrderState`] keeps
/// it, and [`OrderState::rewind`] puts it back) or not.
#[allow(dead_code)]
fn every_order_field_decided(order: exhaustive::Order) {
    let exhaustive::Order {
        // Changing after placement: in `OrderState`.
        status: _,
        modified_at: _,
        traded_quantity: _,
        traded_notional: _,
        fees: _,
        filled_at: _,
        settled_at: _,
        cancelled_at: _,
        cancelled_reason: _,
        position: _,
        trades: _,
        // Fixed at placement.
        id: _,
        account: _,
        instrument: _,
        side: _,
        order_type: _,
        purpose: _,
        currency: _,
        cash_amount: _,
        net_cash_amount: _,
        quantity: _,
        automatic_rollover: _,
        created_at: _,
    } = order;
}

impl OrderState {
    pub(super) fn of(order: &Order) -> Self {
        Self {
            status: order.status.clone(),
            modified_at: order.modified_at,
            traded_quantity: order.traded_quantity,
            traded_notional: order.traded_notional,
            fees: order.fees,
            filled_at: order.filled_at,
            settled_at: order.settled_at,
            cancelled_at: order.cancelled_at,
            cancelled_reason: order.cancelled_reason.clone(),
            has_position: order.position.is_some(),
            trades: u16::try_from(order.trades.len()).unwrap_or(u16::MAX),
            trade_status: order.trades.last().map(|t| t.status.clone()),
        }
    }

    /// The order as it was in this state: `now` with the changing fields put back.
    fn rewind(&self, now: &Order) -> Order {
        let mut then = now.clone();
        then.status = self.status.clone();
        then.modified_at = self.modified_at;
        then.traded_quantity = self.traded_quantity;
        then.traded_notional = self.traded_notional;
        then.fees = self.fees;
        then.filled_at = self.filled_at;
        then.settled_at = self.settled_at;
        then.cancelled_at = self.cancelled_at;
        then.cancelled_reason = self.cancelled_reason.clone();
        if !self.has_position {
            then.position = None;
        }
        then.trades.truncate(usize::from(self.trades));
        if let Some(status) = &self.trade_status {
            for trade in &mut then.trades {
                trade.status = status.clone();
            }
        }
        then
    }
}

/// The wire `Event` of a matured position: `data` is the Position as it stood.
pub(super) fn matured_event(id: &str, position: &Position, at: DateTime<Utc>) -> Event {
    wire_event(
        id,
        EventName::PositionMatured,
        &position.id,
        "position",
        position,
        at,
    )
}

/// The wire `Event` of an order in the state it is in: `data` is the full Order.
pub(super) fn order_event(id: &str, order: &Order, at: DateTime<Utc>) -> Event {
    wire_event(id, order.status.event_name(), &order.id, "order", order, at)
}

/// An event about resource `resource_id` of `kind`, whose `data` is `resource` as JSON.
fn wire_event(
    id: &str,
    name: EventName,
    resource_id: &str,
    kind: &str,
    resource: &impl serde::Serialize,
    at: DateTime<Utc>,
) -> Event {
    let data = match serde_json::to_value(resource) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("orders and positions serialize to objects"),
    };
    Event::from(exhaustive::Event {
        id: id.to_string(),
        name,
        resource: EventResource::from(exhaustive::EventResource {
            id: resource_id.to_string(),
            resource_type: kind.into(),
        }),
        data,
        created_at: at,
    })
}

impl EventRecord {
    /// `evt_…`
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event's name (`order.filled`).
    pub fn name(&self) -> EventName {
        match &self.subject {
            Subject::Order { state, .. } => state.status.event_name(),
            Subject::Matured { .. } => EventName::PositionMatured,
        }
    }

    /// The order or position it is about.
    pub fn resource_id(&self) -> &str {
        match &self.subject {
            Subject::Order { order, .. } => order,
            Subject::Matured { position } => &position.id,
        }
    }

    /// The order it is about, if it is an order's event.
    pub(super) fn order_id(&self) -> Option<&str> {
        match &self.subject {
            Subject::Order { order, .. } => Some(order),
            Subject::Matured { .. } => None,
        }
    }

    /// When it happened.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The wire form; an order's event from the order as it is `now` (`None` only for a
    /// position's event, which needs no order).
    pub fn event(&self, now: Option<&Order>) -> Option<Event> {
        match &self.subject {
            Subject::Order { state, .. } => {
                Some(order_event(&self.id, &state.rewind(now?), self.at))
            }
            Subject::Matured { position } => Some(matured_event(&self.id, position, self.at)),
        }
    }
}

/// Every event recorded, oldest first.
#[derive(Debug, Default)]
pub(super) struct EventLog {
    records: Vec<EventRecord>,
}

impl EventLog {
    pub(super) fn push(&mut self, record: EventRecord) {
        self.records.push(record);
    }

    /// Newest first.
    pub(super) fn newest_first(&self) -> impl Iterator<Item = &EventRecord> {
        self.records.iter().rev()
    }

    /// Keeps the events of the orders `keep` accepts, and the positions' events recorded at
    /// or after `cutoff`.
    pub(super) fn retain_orders(&mut self, keep: impl Fn(&str) -> bool, cutoff: DateTime<Utc>) {
        self.records.retain(|e| match e.order_id() {
            Some(order) => keep(order),
            None => e.at >= cutoff,
        });
    }
}
