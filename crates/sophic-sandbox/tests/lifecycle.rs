//! The order lifecycle on a held clock: every path, every cancellation point, and the
//! balances each step reserves, moves or releases.

mod common;

use common::Env;
use serde_json::Value;
use sophic_sandbox::AccountSpec;

fn status(order: &Value) -> &str {
    order["status"].as_str().unwrap()
}

async fn event_names(env: &Env, order_id: &str) -> Vec<String> {
    events_of(env, order_id)
        .await
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// The events of `order_id`, oldest first.
async fn events_of(env: &Env, order_id: &str) -> Vec<Value> {
    let mut events = env
        .get(&format!("/events?resource[id]={order_id}"))
        .await
        .body
        .as_array()
        .unwrap()
        .clone();
    events.reverse();
    events
}

#[tokio::test]
async fn a_bond_buy_goes_placed_executing_filled_settled() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = vec![status(&env.order(&id).await).to_string()];
    for seconds in [1, 1, 2] {
        assert_eq!(env.advance(seconds), 1, "one step per delay");
        seen.push(status(&env.order(&id).await).to_string());
    }
    assert_eq!(seen, ["placed", "executing", "filled", "settled"]);
    assert_eq!(
        event_names(&env, &id).await,
        [
            "order.placed",
            "order.executing",
            "order.filled",
            "order.settled"
        ]
    );
}

#[tokio::test]
async fn a_bill_buy_waits_for_auction_in_pending() {
    let env = Env::new().await;
    let id = env.buy("ins_us3m_260312", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.sandbox.settle();
    assert_eq!(
        event_names(&env, &id).await,
        [
            "order.placed",
            "order.pending",
            "order.executing",
            "order.filled",
            "order.settled"
        ]
    );
}

#[tokio::test]
async fn the_clock_moves_orders_only_when_advanced() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status(&env.order(&id).await), "placed");
    assert_eq!(env.advance(0), 0);
    assert_eq!(status(&env.order(&id).await), "placed");
    env.advance(1);
    assert_eq!(status(&env.order(&id).await), "executing");
    env.advance(1);
    assert_eq!(status(&env.order(&id).await), "filled");
    env.advance(2);
    assert_eq!(status(&env.order(&id).await), "settled");
}

#[tokio::test]
async fn a_fill_moves_cash_and_units_at_the_price_rounded_down() {
    let env = Env::with_account(AccountSpec::usd("10000.00")).await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.usd().await,
        ("10000.00".into(), "9900.00".into(), "100.00".into())
    );
    env.sandbox.settle();
    let order = env.order(&id).await;
    // 99.50 / 0.99 = 100.505…, rounded down to 2 places; notional 100.50 × 0.99 = 99.495 → 99.50.
    assert_eq!(order["traded_quantity"], "100.50");
    assert_eq!(order["traded_notional"], "99.50");
    assert_eq!(order["trades"][0]["status"], "settled");
    assert_eq!(order["trades"][0]["price"], "0.99");
    // A trade shows its order's own fields (the sandbox keeps them once, on the order).
    let trade = &order["trades"][0];
    assert_eq!(trade["order"], order["id"]);
    assert_eq!(trade["account"], env.account.id.as_str());
    assert_eq!(trade["account"], order["account"]);
    assert_eq!(trade["side"], "buy");
    assert_eq!(trade["position"], order["position"]);
    assert!(
        trade["position"]
            .as_str()
            .is_some_and(|p| p.starts_with("pos_"))
    );
    assert_eq!(trade["quantity"], "100.50");
    assert_eq!(trade["notional"], "99.50");
    assert_eq!(trade["quantity_currency"], "USD");
    assert_eq!(trade["notional_currency"], "USD");
    assert_eq!(trade["instrument"], order["instrument"]);
    assert_eq!(trade["instrument"]["id"], "ins_xyz789");
    assert_eq!(
        env.usd().await,
        ("9900.00".into(), "9900.00".into(), "0.00".into())
    );
    assert_eq!(
        env.units("ins_xyz789").await,
        ("100.50".into(), "100.50".into())
    );
}

#[tokio::test]
async fn unspent_cash_is_released_at_fill() {
    let env = Env::with_account(AccountSpec::usd("1000.00")).await;
    env.sandbox
        .set_price("ins_xyz789", "3.00".parse().unwrap())
        .unwrap();
    env.buy("ins_xyz789", "100.00").await;
    env.sandbox.settle();
    // net 99.50 / 3.00 = 33.1666… → 33.16 units, notional 99.48: 0.02 stays in cash.
    assert_eq!(
        env.usd().await,
        ("900.02".into(), "900.02".into(), "0.00".into())
    );
    assert_eq!(env.units("ins_xyz789").await.0, "33.16");
}

#[tokio::test]
async fn a_sell_reserves_units_then_pays_notional_less_fees() {
    let env = Env::with_account(AccountSpec::usd("0.00").position("ins_xyz789", "50")).await;
    let id = env.sell("ins_xyz789", "20").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.units("ins_xyz789").await, ("50".into(), "30".into()));
    env.sandbox.settle();
    let order = env.order(&id).await;
    // 20 × 0.99 = 19.80; fees 0.5% = 0.099 → 0.10.
    assert_eq!(
        (order["traded_notional"].as_str(), order["fees"].as_str()),
        (Some("19.80"), Some("0.10"))
    );
    assert_eq!(env.units("ins_xyz789").await, ("30".into(), "30".into()));
    assert_eq!(env.usd().await.0, "19.70");
}

#[tokio::test]
async fn an_order_can_be_cancelled_from_each_cancellable_status() {
    let env = Env::new().await;
    for (instrument, steps, expected) in [
        ("ins_xyz789", 0, "placed"),
        ("ins_us3m_260312", 1, "pending"),
        ("ins_xyz789", 1, "executing"),
    ] {
        let before = env.usd().await;
        let id = env.buy(instrument, "100.00").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        env.advance(steps);
        assert_eq!(status(&env.order(&id).await), expected);
        let answer = env.cancel(&id).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(status(&answer.body), "cancelled");
        assert_eq!(answer.body["cancelled_reason"], "user_request");
        assert_eq!(
            env.usd().await,
            before,
            "cancelling from {expected} releases the reservation"
        );
        env.sandbox.settle();
        assert_eq!(
            status(&env.order(&id).await),
            "cancelled",
            "a cancelled order never moves again"
        );
    }
}

#[tokio::test]
async fn cancelling_a_cancelled_order_answers_it_unchanged() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = env.cancel(&id).await.body;
    let second = env.cancel(&id).await;
    assert_eq!((second.status, &second.body), (200, &first));
}

#[tokio::test]
async fn a_filled_or_settled_order_cannot_be_cancelled() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.advance(2);
    assert_eq!(status(&env.order(&id).await), "filled");
    let answer = env.cancel(&id).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "order_not_cancellable")
    );
    env.sandbox.settle();
    let answer = env.cancel(&id).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "order_not_cancellable")
    );
    assert_eq!(status(&env.order(&id).await), "settled");
}

#[tokio::test]
async fn a_closed_instrument_cancels_open_orders_when_they_would_execute() {
    let env = Env::new().await;
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.sandbox
        .set_trading_status("ins_xyz789", sophic_client::types::TradingStatus::Closed)
        .unwrap();
    env.sandbox.settle();
    let order = env.order(&id).await;
    assert_eq!(
        (status(&order), order["cancelled_reason"].as_str()),
        ("cancelled", Some("instrument_not_trading"))
    );
    assert_eq!(env.usd().await.2, "0.00");
}

#[tokio::test]
async fn pending_orders_are_those_not_filled_and_not_cancelled() {
    let env = Env::new().await;
    let a = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.advance(2); // a is filled
    let b = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.cancel(&c).await;
    let pending = env
        .get(&format!("{}/pending", env.orders_path()))
        .await
        .body;
    let ids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b.as_str()]);
    assert_ne!(a, b);
}

#[tokio::test]
async fn lists_page_newest_first_with_filters_kept() {
    let env = Env::new().await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(
            env.buy("ins_xyz789", "10.00").await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        placed.push(
            env.sell("ins_xyz789", "1").await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let buys: Vec<String> = placed.iter().step_by(2).rev().cloned().collect();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("{}?side=buy&limit=2", env.orders_path());
        if let Some(after) = &after {
            path.push_str(&format!("&starting_after={after}"));
        }
        let page = env.get(&path).await.body.as_array().unwrap().clone();
        seen.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_string()));
        if page.len() < 2 {
            break;
        }
        after = seen.last().cloned();
    }
    assert_eq!(seen, buys);
    let answer = env.get(&format!("{}?limit=0", env.orders_path())).await;
    assert_eq!(answer.param_paths(), ["query.limit"]);
    let answer = env.get(&format!("{}?limit=501", env.orders_path())).await;
    assert_eq!(answer.param_paths(), ["query.limit"]);
    // `OrderStatus` is open in the spec: a status the sandbox does not know filters
    // everything out instead of being refused.
    let answer = env
        .get(&format!("{}?status=partially_filled", env.orders_path()))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, serde_json::json!([]));
    let answer = env
        .get(&format!(
            "{}?status=placed&status=executing",
            env.orders_path()
        ))
        .await;
    assert_eq!(answer.body.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn with_a_retention_old_settled_orders_and_their_events_are_forgotten() {
    let config = sophic_sandbox::SandboxConfig {
        retention: Some(chrono::TimeDelta::seconds(60)),
        ..sophic_sandbox::SandboxConfig::held()
    };
    let sandbox = sophic_sandbox::Sandbox::start(config).await.unwrap();
    let account = sandbox
        .create_account(&sophic_sandbox::AccountSpec::usd("1000.00"))
        .unwrap();
    let http = reqwest::Client::new();
    let place = || async {
        let answer: serde_json::Value = http
            .post(format!(
                "{}/accounts/{}/orders",
                sandbox.base_url(),
                account.id
            ))
            .bearer_auth(&account.token)
            .json(&common::buy("ins_xyz789", "100.00"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["id"].as_str().unwrap().to_string()
    };
    let get = |path: String| {
        let request = http
            .get(format!("{}{path}", sandbox.base_url()))
            .bearer_auth(&account.token);
        async move { request.send().await.unwrap() }
    };
    let old = place().await;
    sandbox.settle();
    sandbox.advance(std::time::Duration::from_secs(30));
    let recent = place().await;
    assert_eq!(
        get(format!("/accounts/{}/orders/{old}", account.id))
            .await
            .status(),
        200
    );
    sandbox.advance(std::time::Duration::from_secs(60));
    let gone = get(format!("/accounts/{}/orders/{old}", account.id)).await;
    assert_eq!(gone.status(), 404, "settled more than 60 s ago");
    let events: serde_json::Value = get("/events".into()).await.json().await.unwrap();
    let about: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert!(!about.contains(&old.as_str()), "its events went with it");
    assert!(
        about.contains(&recent.as_str()),
        "a recently settled order's events stay"
    );
    // The balances are the ledger's, not the orders': nothing moved back.
    assert!(sandbox.broken_invariants().is_empty());
}

#[tokio::test]
async fn each_event_shows_the_order_as_it_was_at_that_event() {
    let env = Env::new().await;
    // A settled buy: four versions, each seen as the status changed.
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = vec![env.order(&id).await];
    for seconds in [1, 1, 2] {
        env.advance(seconds);
        seen.push(env.order(&id).await);
    }
    let data: Vec<Value> = events_of(&env, &id)
        .await
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(data, seen);
    // Later versions set what earlier ones lacked (so a rewind has something to undo).
    assert!(seen[0]["position"].is_null() && seen[0]["trades"] == serde_json::json!([]));
    assert!(seen[2]["filled_at"].is_string() && seen[2]["settled_at"].is_null());
    assert!(seen[3]["settled_at"].is_string());

    // A cancelled buy: placed, then cancelled with its reason.
    let id = env.buy("ins_xyz789", "50.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let placed = env.order(&id).await;
    let cancelled = env.cancel(&id).await.body;
    let data: Vec<Value> = events_of(&env, &id)
        .await
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(data, [placed.clone(), cancelled.clone()]);
    assert!(placed["cancelled_at"].is_null() && placed["cancelled_reason"].is_null());
    assert_eq!(cancelled["cancelled_reason"], "user_request");

    // An order filled in several trades (a lot of 40 units): each event shows the trades
    // made by then, and only those.
    let lot = env
        .send(
            env.http
                .put(env.url("/sandbox/instruments/ins_xyz789"))
                .json(&serde_json::json!({"lot": "40"})),
        )
        .await;
    assert_eq!(lot.status, 200, "{:?}", lot.body);
    let id = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen = vec![env.order(&id).await];
    for _ in 0..20 {
        if seen.last().unwrap()["status"] == "settled" {
            break;
        }
        env.advance(1);
        let now = env.order(&id).await;
        if now["status"] != seen.last().unwrap()["status"] {
            seen.push(now);
        }
    }
    let data: Vec<Value> = events_of(&env, &id)
        .await
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(data, seen);
    let trades = |order: &Value| order["trades"].as_array().unwrap().len();
    let last = seen.last().unwrap();
    assert!(trades(last) > 1, "{last:#}");
    assert_eq!(trades(&seen[0]), 0);
}
