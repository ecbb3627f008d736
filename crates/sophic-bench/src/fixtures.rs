//! What the benchmarks send and decode, taken from the spec so that it looks like the wire.

use serde_json::Value;

/// The instrument every placement buys (the spec's examples trade it; it takes whole-dollar
/// cash amounts).
pub const INSTRUMENT: &str = "ins_xyz789";

/// The cash amount of every placement.
pub const CASH: &str = "100.00";

/// The cash a benchmark account starts with: ten million placements of [`CASH`], far more
/// than any bounded run sends.
pub const FUNDING: &str = "1000000000.00";

/// How many orders the decoding benchmark decodes: a full page of a busy account's history.
pub const ORDER_COUNT: usize = 1_000;

/// The spec's `components.examples.SettledBuyOrder.value`: a settled buy with one trade,
/// every field present.
pub fn settled_buy_order() -> Value {
    let mut spec = sophic_tests::orders_spec();
    let example = spec["components"]["examples"]["SettledBuyOrder"]["value"].take();
    assert!(
        !example.is_null(),
        "openapi/orders.yaml has no components.examples.SettledBuyOrder"
    );
    example
}

/// A JSON array of `count` settled buys, as `GET /accounts/{id}/orders` would answer them:
/// the spec's example with a distinct id, amount and time for each order, so that no two
/// strings are the same.
pub fn order_list_json(count: usize) -> Vec<u8> {
    let template = settled_buy_order();
    let orders: Vec<Value> = (0..count).map(|i| vary(&template, i)).collect();
    serde_json::to_vec(&orders).expect("a JSON value serializes")
}

fn vary(template: &Value, i: usize) -> Value {
    let mut order = template.clone();
    let id = format!("ord_{i:08x}");
    let cash = 100 + (i % 900);
    let fees = format!("{}.{:02}", cash / 200, (cash % 200) / 2);
    let second = i % 60;
    let minute = (i / 60) % 60;
    order["id"] = Value::from(id.clone());
    order["cash_amount"] = Value::from(format!("{cash}.00"));
    order["fees"] = Value::from(fees);
    order["created_at"] = Value::from(format!("2026-03-12T14:{minute:02}:{second:02}Z"));
    if let Some(trade) = order["trades"].get_mut(0) {
        trade["id"] = Value::from(format!("trd_{i:08x}"));
        trade["order"] = Value::from(id);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handwritten::{EveryFieldOrder, MinimalOrder};
    use sophic_client::types::Order;

    #[test]
    fn the_order_list_decodes_into_both_types_alike() {
        let body = order_list_json(50);
        let full: Vec<Order> = serde_json::from_slice(&body).expect("generated types decode");
        let minimal: Vec<MinimalOrder> =
            serde_json::from_slice(&body).expect("minimal struct decodes");
        let every: Vec<EveryFieldOrder> =
            serde_json::from_slice(&body).expect("every-field struct decodes");
        assert_eq!((full.len(), every.len()), (50, 50));
        for (full, minimal) in full.iter().zip(&minimal) {
            assert_eq!(full.id, minimal.id);
            assert_eq!(full.status.to_string(), minimal.status);
            assert_eq!(full.instrument.id, minimal.instrument.id);
            assert_eq!(full.cash_amount, minimal.cash_amount);
            assert_eq!(full.traded_quantity, minimal.traded_quantity);
            assert_eq!(full.fees, minimal.fees);
            assert_eq!(full.settled_at, minimal.settled_at);
        }
    }

    #[test]
    fn every_order_in_the_list_is_distinct() {
        let body = order_list_json(ORDER_COUNT);
        let minimal: Vec<MinimalOrder> = serde_json::from_slice(&body).expect("decodes");
        let ids: std::collections::HashSet<_> = minimal.iter().map(|o| &o.id).collect();
        assert_eq!(ids.len(), ORDER_COUNT);
    }
}
