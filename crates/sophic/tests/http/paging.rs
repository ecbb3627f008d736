//! Lists page with `limit` and the last item's id until a short page, keeping the filters.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use sophic::prelude::*;
use sophic::types::EventName;

use crate::support::{Canned, Script, TestServer, account_orders, client, order, scripted};

/// Serves `items` (newest first) from every path, honouring `limit` and `starting_after`.
fn paged(items: Vec<Value>) -> (TestServer, Arc<Script>) {
    let script = Arc::new(Script::default());
    let state = script.clone();
    let items = Arc::new(Mutex::new(items));
    let router = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (script, items) = (state.clone(), items.clone());
            async move {
                let number = script.record(method, uri, headers, body);
                let seen = script.seen()[number - 1].clone();
                let limit: usize = seen.query_values("limit")[0].parse().unwrap();
                let items = items.lock().unwrap().clone();
                let start = match seen.query_values("starting_after").first() {
                    Some(after) => items.iter().position(|i| i["id"] == **after).unwrap() + 1,
                    None => 0,
                };
                let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
                Canned::json(200, Value::Array(page))
            }
        },
    );
    (TestServer::start(router), script)
}

fn orders(n: usize) -> Vec<Value> {
    (1..=n)
        .rev()
        .map(|i| order(&format!("ord_{i}"), "placed"))
        .collect()
}

#[tokio::test]
async fn orders_are_paged_with_the_last_id_until_a_short_page_and_the_filters_are_kept() {
    let (server, script) = paged(orders(5));
    let from = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();

    let listed: Vec<Order> = account_orders(&server)
        .list()
        .status(OrderStatus::Placed)
        .status(OrderStatus::Pending)
        .instrument(&"ins_xyz789".parse().unwrap())
        .side(OrderSide::Buy)
        .created_gte(from)
        .created_lt(until)
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();

    let ids: Vec<_> = listed.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["ord_5", "ord_4", "ord_3", "ord_2", "ord_1"]);
    let seen = script.seen();
    assert_eq!(seen.len(), 3);
    let cursors: Vec<_> = seen
        .iter()
        .map(|s| s.query_values("starting_after"))
        .collect();
    assert_eq!(
        cursors,
        [vec![], vec!["ord_4".to_owned()], vec!["ord_2".to_owned()]]
    );
    for request in &seen {
        assert_eq!(request.uri.path(), "/accounts/acc_123456/orders");
        assert_eq!(request.query_values("status"), ["placed", "pending"]);
        assert_eq!(request.query_values("instrument"), ["ins_xyz789"]);
        assert_eq!(request.query_values("side"), ["buy"]);
        assert_eq!(
            request.query_values("created[gte]"),
            ["2026-03-01T00:00:00Z"]
        );
        assert_eq!(
            request.query_values("created[lt]"),
            ["2026-04-01T00:00:00Z"]
        );
        assert_eq!(request.query_values("limit"), ["2"]);
    }
}

#[tokio::test]
async fn a_full_last_page_costs_one_more_empty_request() {
    let (server, script) = paged(orders(4));

    let listed: Vec<Order> = account_orders(&server)
        .list()
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(listed.len(), 4);
    assert_eq!(script.seen().len(), 3);
}

#[tokio::test]
async fn the_stream_fetches_a_page_only_when_it_is_read() {
    let (server, script) = paged(orders(5));

    let mut stream = account_orders(&server).list().page_size(2).stream();
    let first = stream.try_next().await.unwrap().unwrap();
    let second = stream.try_next().await.unwrap().unwrap();

    assert_eq!((first.id.as_str(), second.id.as_str()), ("ord_5", "ord_4"));
    assert_eq!(script.seen().len(), 1);
}

#[tokio::test]
async fn pending_orders_page_the_same_way() {
    let (server, script) = paged(orders(3));

    let listed: Vec<Order> = account_orders(&server)
        .list_pending()
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(listed.len(), 3);
    let seen = script.seen();
    assert_eq!(seen[0].uri.path(), "/accounts/acc_123456/orders/pending");
    assert_eq!(seen[1].query_values("starting_after"), ["ord_2"]);
}

fn event(id: &str) -> Value {
    json!({
        "id": id, "name": "order.filled",
        "resource": {"id": "ord_abc123", "resource_type": "order"},
        "data": order("ord_abc123", "filled"),
        "created_at": "2026-03-12T14:30:00Z"
    })
}

#[tokio::test]
async fn events_are_paged_with_their_filters() {
    let (server, script) = paged(vec![event("evt_3"), event("evt_2"), event("evt_1")]);
    let after = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();

    let events: Vec<_> = client(&server)
        .events()
        .list()
        .name(EventName::OrderFilled)
        .resource("ord_abc123".parse::<OrderId>().unwrap())
        .created_gt(after)
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();

    assert_eq!(events.len(), 3);
    let seen = script.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.uri.path(), "/events");
        assert_eq!(request.query_values("name"), ["order.filled"]);
        assert_eq!(request.query_values("resource[id]"), ["ord_abc123"]);
        assert_eq!(
            request.query_values("created[gt]"),
            ["2026-03-01T00:00:00Z"]
        );
    }
    assert_eq!(seen[1].query_values("starting_after"), ["evt_2"]);
}

#[tokio::test]
async fn a_page_size_out_of_range_fails_without_a_request() {
    let (server, script) = scripted([]);
    let orders = account_orders(&server);

    for size in [0, 501] {
        let err = orders
            .list()
            .page_size(size)
            .stream()
            .try_next()
            .await
            .unwrap_err();
        assert!(matches!(err, sophic::Error::InvalidInput { .. }), "{err}");
    }
    assert!(script.seen().is_empty());
}

#[tokio::test]
async fn an_error_mid_list_ends_the_stream_with_it() {
    let page: Vec<Value> = orders(2);
    let (server, script) = scripted([
        Canned::json(200, Value::Array(page)),
        Canned::error(404, "not_found"),
    ]);

    let mut stream = account_orders(&server).list().page_size(2).stream();
    assert!(stream.try_next().await.unwrap().is_some());
    assert!(stream.try_next().await.unwrap().is_some());
    let err = stream.try_next().await.unwrap_err();
    assert!(err.is_not_found());
    assert!(
        stream.try_next().await.unwrap().is_none(),
        "the stream ends after its error"
    );
    assert_eq!(script.seen().len(), 2, "no page is fetched after the error");
}
