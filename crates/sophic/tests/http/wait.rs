//! Waiting for an order polls with backoff until a terminal (or the asked-for) status, on a
//! clock the tests hold still.

use std::time::Duration;

use sophic::prelude::*;
use tokio::time::Instant;

use crate::support::{Canned, account, account_orders, builder, ms, order, order_id, scripted};

fn statuses(list: &[&str]) -> Vec<Canned> {
    list.iter()
        .map(|status| Canned::json(200, order("ord_abc123", status)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn waiting_polls_until_the_order_settles() {
    let (server, script) = scripted(statuses(&[
        "placed",
        "placed",
        "executing",
        "filled",
        "filled",
        "settled",
    ]));

    let settled = account_orders(&server)
        .wait_for_order(&order_id())
        .await
        .unwrap();

    assert_eq!(settled.status, OrderStatus::Settled);
    assert_eq!(script.seen().len(), 6);
    assert!(
        script
            .seen()
            .iter()
            .all(|s| s.uri.path() == "/accounts/acc_123456/orders/ord_abc123")
    );
}

#[tokio::test(start_paused = true)]
async fn status_changes_yield_each_status_once() {
    let (server, _script) = scripted(statuses(&[
        "placed",
        "placed",
        "pending",
        "executing",
        "executing",
        "filled",
        "settled",
    ]));

    let seen: Vec<OrderStatus> = account_orders(&server)
        .status_changes(&order_id())
        .map_ok(|order| order.status)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(
        seen,
        [
            OrderStatus::Placed,
            OrderStatus::Pending,
            OrderStatus::Executing,
            OrderStatus::Filled,
            OrderStatus::Settled
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_until_filled_stops_at_filled() {
    let (server, script) = scripted(statuses(&["placed", "filled", "settled"]));

    let filled = account_orders(&server)
        .wait_for_order(&order_id())
        .until(OrderStatus::Filled)
        .await
        .unwrap();

    assert_eq!(filled.status, OrderStatus::Filled);
    assert_eq!(script.seen().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_order_ends_any_wait() {
    let (server, _script) = scripted(statuses(&["placed", "cancelled"]));

    let order = account_orders(&server)
        .wait_for_order(&order_id())
        .until(OrderStatus::Filled)
        .await
        .unwrap();

    assert_eq!(order.status, OrderStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_status_is_waited_through() {
    let (server, _script) = scripted(statuses(&["placed", "partially_filled", "settled"]));

    let seen: Vec<OrderStatus> = account_orders(&server)
        .status_changes(&order_id())
        .map_ok(|order| order.status)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(seen[1], OrderStatus::Unknown("partially_filled".into()));
    assert_eq!(seen.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_wait_gives_up_after_its_timeout_with_the_last_order() {
    let (server, script) = scripted(statuses(&["placed"; 50]));
    let started = Instant::now();

    let err = builder(&server)
        .build()
        .unwrap()
        .orders(&account())
        .wait_for_order(&order_id())
        .poll_interval(ms(100))
        .max_poll_interval(ms(400))
        .timeout(Duration::from_secs(1))
        .await
        .unwrap_err();

    let sophic::Error::WaitTimeout { last, waited } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(last.status, OrderStatus::Placed);
    assert_eq!(*waited, Duration::from_secs(1));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    // Polls at 0, 100, 300, 700 ms (the interval doubling to its 400 ms cap) and a last one
    // at the deadline.
    assert_eq!(script.seen().len(), 5);
    assert!(err.to_string().contains("still `placed`"), "{err}");
}

/// The error of a half-second wait on an order that stays in `status`.
async fn given_up_in(status: &str) -> sophic::Error {
    let (server, _script) = scripted(statuses(&[status; 20]));
    builder(&server)
        .build()
        .unwrap()
        .orders(&account())
        .wait_for_order(&order_id())
        .poll_interval(ms(100))
        .timeout(Duration::from_millis(500))
        .await
        .unwrap_err()
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_gives_up_in_an_unknown_status_says_so_and_names_it() {
    let err = given_up_in("rejected").await;
    assert_eq!(
        err.unknown_status(),
        Some(&OrderStatus::Unknown("rejected".into()))
    );
    let message = err.to_string();
    assert!(
        message.contains("`rejected`, a status this SDK does not know"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_plain_timeout_names_no_unknown_status() {
    let err = given_up_in("placed").await;
    assert!(matches!(err, sophic::Error::WaitTimeout { .. }), "{err:?}");
    assert_eq!(err.unknown_status(), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_poll_ends_the_wait_with_its_error() {
    let mut answers = statuses(&["placed"]);
    answers.push(Canned::error(404, "not_found"));
    let (server, _script) = scripted(answers);

    let err = account_orders(&server)
        .wait_for_order(&order_id())
        .await
        .unwrap_err();

    assert!(err.is_not_found(), "{err}");
}
