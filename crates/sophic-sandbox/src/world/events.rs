//! The event log: one record per status change of an order, and one per matured position,
//! rendered on read.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::sync::Arc;

use super::StoredOrder;
use super::code::Coded;
use crate::ids::ShortStr;
use sophic_client::types::exhaustive;
use sophic_client::types::{
    Event, EventName, EventResource, Order, OrderStatus, Position, TradeStatus,
};

/// An event as stored: its id, its order's id and the part of the order that changes over
/// its life, as the event saw it ([`OrderState`]). The wire `Event` is rendered from the
/// order as it is now, rewound to that state, only when read or delivered. (Keeping each
/// version of the order instead cost a copy of it, about 2 KB, per status change.)
#[derive(Clone, Debug)]
pub struct EventRecord {
    pub(super) id: ShortStr,
    pub(super) at: DateTime<Utc>,
    pub(super) subject: Subject,
}

/// What an event is about.
#[derive(Clone, Debug)]
pub(super) enum Subject {
    /// An order's status change: the order's id and the state it reached.
    Order { order: Arc<str>, state: OrderState },
    /// A position that matured (`position.matured`), as it stood then. Positions close at
    /// maturity, so the snapshot is all there is to render.
    Matured { position: Arc<Position> },
}

/// The fields of an order that change after placement; everything else is fixed then.
/// Four events per settled order keep one each, so the fields that are set once and never
/// change again (`filled_at`, `settled_at`, `cancelled_at` with `cancelled_reason`, and
/// `position`) are kept as whether they were set yet, the statuses as bytes ([`Coded`]),
/// and `modified_at` not at all: an event is recorded as its order changes, so it is the
/// event's own time ([`EventRecord::at`]). 56 bytes instead of 184.
#[derive(Clone, Debug)]
pub(super) struct OrderState {
    status: Coded<OrderStatus>,
    traded_quantity: Decimal,
    traded_notional: Decimal,
    fees: Decimal,
    /// Which set-once fields were set ([`Set`]).
    set: u8,
    /// How many trades there were (trades are only ever appended) and their status
    /// (the sandbox moves an order's trades together; `None` before the first trade).
    trades: u16,
    trade_status: Option<Coded<TradeStatus>>,
}

/// The set-once fields of an order, as bits of [`OrderState::set`].
struct Set;

impl Set {
    const FILLED: u8 = 1;
    const SETTLED: u8 = 2;
    /// `cancelled_at` and `cancelled_reason`, set together.
    const CANCELLED: u8 = 4;
    const POSITION: u8 = 8;
}

/// Never called: names every field of an order, so a field the spec adds fails to compile
/// here until someone decides whether it changes after placement (then [`OrderState`] keeps
/// it, and [`OrderState::rewind`] puts it back) or not.
#[allow(dead_code)]
fn every_order_field_decided(order: exhaustive::Order) {
    let exhaustive::Order {
        // Changing after placement: in `OrderState` (the set-once ones as whether they
        // were set yet).
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
    pub(super) fn of(order: &StoredOrder) -> Self {
        let set = [
            (order.filled_at.is_some(), Set::FILLED),
            (order.settled_at.is_some(), Set::SETTLED),
            (order.cancelled_at.is_some(), Set::CANCELLED),
            (order.position.is_some(), Set::POSITION),
        ]
        .into_iter()
        .filter(|(is_set, _)| *is_set)
        .fold(0, |bits, (_, bit)| bits | bit);
        Self {
            status: order.status,
            traded_quantity: order.traded_quantity,
            traded_notional: order.traded_notional,
            fees: order.fees,
            set,
            trades: u16::try_from(order.trades.len()).unwrap_or(u16::MAX),
            trade_status: order.trades.last().map(|t| t.status),
        }
    }

    /// The order as it was in this state, reached at `at`: `now` with the changing fields
    /// put back (a set-once field as it is now, if it was set then).
    fn rewind(&self, now: &StoredOrder, at: DateTime<Utc>) -> Order {
        let trades = &now.trades[..usize::from(self.trades).min(now.trades.len())];
        let mut then = now.with_trades(trades);
        let was_set = |bit: u8| self.set & bit != 0;
        then.status = self.status.get();
        then.modified_at = at;
        then.traded_quantity = self.traded_quantity;
        then.traded_notional = self.traded_notional;
        then.fees = self.fees;
        if !was_set(Set::FILLED) {
            then.filled_at = None;
        }
        if !was_set(Set::SETTLED) {
            then.settled_at = None;
        }
        if !was_set(Set::CANCELLED) {
            then.cancelled_at = None;
            then.cancelled_reason = None;
        }
        if !was_set(Set::POSITION) {
            then.position = None;
        }
        if let Some(status) = self.trade_status {
            for trade in &mut then.trades {
                trade.status = status.get();
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
            Subject::Order { state, .. } => state.status.get().event_name(),
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
    pub fn event(&self, now: Option<&StoredOrder>) -> Option<Event> {
        match &self.subject {
            Subject::Order { state, .. } => {
                Some(order_event(&self.id, &state.rewind(now?, self.at), self.at))
            }
            Subject::Matured { position } => Some(matured_event(&self.id, position, self.at)),
        }
    }
}

/// Every event recorded, oldest first, in chunks of [`EventLog::CHUNK`]: one `Vec` of
/// them all would hold up to twice what it needs and copy itself whole each time it grows
/// (400,000 events of a soak, 64 MB, copied to make room for the next one).
#[derive(Debug, Default)]
pub(super) struct EventLog {
    chunks: Vec<Vec<EventRecord>>,
}

impl EventLog {
    /// Events per chunk.
    const CHUNK: usize = 4096;

    pub(super) fn push(&mut self, record: EventRecord) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
    }

    /// Newest first.
    pub(super) fn newest_first(&self) -> impl Iterator<Item = &EventRecord> {
        self.chunks
            .iter()
            .rev()
            .flat_map(|chunk| chunk.iter().rev())
    }

    /// Keeps the events of the orders `keep` accepts, and the positions' events recorded at
    /// or after `cutoff` (packed again into full chunks).
    pub(super) fn retain_orders(&mut self, keep: impl Fn(&str) -> bool, cutoff: DateTime<Utc>) {
        let kept = std::mem::take(&mut self.chunks).into_iter().flatten();
        for record in kept {
            let keep = match record.order_id() {
                Some(order) => keep(order),
                None => record.at >= cutoff,
            };
            if keep {
                self.push(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Event `n`, of order `ord_0` or `ord_1` (by `n`'s parity).
    fn record(n: usize) -> EventRecord {
        let at = Utc.timestamp_opt(i64::try_from(n).unwrap(), 0).unwrap();
        EventRecord {
            id: ShortStr::new(&format!("evt_{n}")),
            at,
            subject: Subject::Order {
                order: format!("ord_{}", n % 2).into(),
                state: OrderState {
                    status: OrderStatus::Placed.into(),
                    traded_quantity: Decimal::ZERO,
                    traded_notional: Decimal::ZERO,
                    fees: Decimal::ZERO,
                    set: 0,
                    trades: 0,
                    trade_status: None,
                },
            },
        }
    }

    /// Four of these per settled order (issue 10's memory budget): a field added here
    /// shows in this figure first.
    #[test]
    fn an_event_keeps_its_size() {
        assert_eq!(std::mem::size_of::<OrderState>(), 56);
        assert_eq!(std::mem::size_of::<EventRecord>(), 112);
    }

    #[test]
    fn the_log_reads_newest_first_across_chunks_and_retains_in_order() {
        let mut log = EventLog::default();
        let n = 2 * EventLog::CHUNK + 3;
        (0..n).for_each(|i| log.push(record(i)));
        assert_eq!(log.chunks.len(), 3);
        let ids: Vec<_> = log.newest_first().map(|r| r.id().to_string()).collect();
        let expected: Vec<_> = (0..n).rev().map(|i| format!("evt_{i}")).collect();
        assert_eq!(ids, expected);
        log.retain_orders(|order| order == "ord_0", Utc::now());
        let ids: Vec<_> = log.newest_first().map(|r| r.id().to_string()).collect();
        let expected: Vec<_> = (0..n)
            .rev()
            .step_by(2)
            .map(|i| format!("evt_{i}"))
            .collect();
        assert_eq!(ids, expected);
        // Packed again: 4,098 events fill one chunk and start a second.
        assert_eq!(log.chunks.len(), 2);
        assert_eq!(log.chunks[0].len(), EventLog::CHUNK);
    }
}
