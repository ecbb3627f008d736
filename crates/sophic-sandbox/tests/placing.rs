//! Placing orders: every validation rule from both sides, the documented fee arithmetic,
//! and refusals that change nothing.

mod common;

use common::{Env, buy, sell};
use serde_json::{Value, json};
use sophic_sandbox::AccountSpec;

/// Places `body`, expects a 400 naming `path`, and checks that nothing changed.
async fn refused(env: &Env, body: Value, status: u16, code: &str, path: Option<&str>) {
    let before = (
        env.orders().await.len(),
        env.usd().await,
        env.units("ins_xyz789").await,
    );
    let answer = env.place(body.clone()).await;
    assert_eq!(answer.status, status, "{body} -> {:?}", answer.body);
    assert_eq!(answer.code(), code, "{body} -> {:?}", answer.body);
    if let Some(path) = path {
        assert!(
            answer.param_paths().contains(&path),
            "{body} -> {:?}",
            answer.body
        );
    }
    assert!(
        answer
            .header("request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
    let after = (
        env.orders().await.len(),
        env.usd().await,
        env.units("ins_xyz789").await,
    );
    assert_eq!(before, after, "a refused order changed state: {body}");
}

#[tokio::test]
async fn the_documented_example_buy_costs_fifty_cents_in_fees() {
    let env = Env::new().await;
    let order = env.buy("ins_xyz789", "100.00").await;
    assert_eq!(order["status"], "placed");
    assert_eq!(order["fees"], "0.50");
    assert_eq!(order["net_cash_amount"], "99.50");
    insta::assert_json_snapshot!(order, {".id" => "[order]", ".account" => "[account]"});
}

#[tokio::test]
async fn fees_round_half_up_to_cents() {
    let env = Env::with_account(AccountSpec::usd("1000.00")).await;
    // 0.5% of 101.00 is 0.505: half-up gives 0.51.
    let order = env.buy("ins_us3m_260312", "101.00").await;
    assert_eq!(
        (order["fees"].as_str(), order["net_cash_amount"].as_str()),
        (Some("0.51"), Some("100.49"))
    );
    // 0.5% of 100.99 is 0.50495: rounds down to 0.50.
    let order = env.buy("ins_us3m_260312", "100.99").await;
    assert_eq!(
        (order["fees"].as_str(), order["net_cash_amount"].as_str()),
        (Some("0.50"), Some("100.49"))
    );
}

#[tokio::test]
async fn a_buy_needs_a_positive_cash_amount_as_a_string() {
    let env = Env::new().await;
    let mut no_cash = buy("ins_xyz789", "1");
    no_cash.as_object_mut().unwrap().remove("cash_amount");
    refused(
        &env,
        no_cash,
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        buy("ins_xyz789", "0"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        buy("ins_xyz789", "-10.00"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        buy("ins_xyz789", "ten"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        buy("ins_xyz789", "10.001"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    let mut number = buy("ins_xyz789", "1");
    number["cash_amount"] = json!(100.0);
    refused(&env, number, 400, "invalid_param", Some("body.cash_amount")).await;
    assert_eq!(env.place(buy("ins_xyz789", "100.00")).await.status, 201);
}

#[tokio::test]
async fn a_buy_may_not_carry_a_quantity() {
    let env = Env::new().await;
    let mut both = buy("ins_xyz789", "100.00");
    both["quantity"] = json!("10");
    refused(&env, both, 400, "invalid_param", Some("body.quantity")).await;
}

#[tokio::test]
async fn a_sell_needs_a_positive_quantity_and_no_cash_amount() {
    let env = Env::new().await;
    let mut no_quantity = sell("ins_xyz789", "1");
    no_quantity.as_object_mut().unwrap().remove("quantity");
    refused(
        &env,
        no_quantity,
        400,
        "invalid_param",
        Some("body.quantity"),
    )
    .await;
    refused(
        &env,
        sell("ins_xyz789", "0"),
        400,
        "invalid_param",
        Some("body.quantity"),
    )
    .await;
    let mut with_cash = sell("ins_xyz789", "10");
    with_cash["cash_amount"] = json!("10.00");
    refused(
        &env,
        with_cash,
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        sell("ins_xyz789", "1.005"),
        400,
        "invalid_param",
        Some("body.quantity"),
    )
    .await;
    assert_eq!(env.place(sell("ins_xyz789", "10")).await.status, 201);
}

#[tokio::test]
async fn order_type_side_and_instrument_are_required_and_checked() {
    let env = Env::new().await;
    let mut limit = buy("ins_xyz789", "100.00");
    limit["order_type"] = json!("limit");
    refused(&env, limit, 400, "invalid_param", Some("body.order_type")).await;
    let mut no_side = buy("ins_xyz789", "100.00");
    no_side.as_object_mut().unwrap().remove("side");
    refused(&env, no_side, 400, "invalid_param", Some("body.side")).await;
    let mut bad_side = buy("ins_xyz789", "100.00");
    bad_side["side"] = json!("short");
    refused(&env, bad_side, 400, "invalid_param", Some("body.side")).await;
    let mut no_instrument = buy("ins_xyz789", "100.00");
    no_instrument.as_object_mut().unwrap().remove("instrument");
    refused(
        &env,
        no_instrument,
        400,
        "invalid_param",
        Some("body.instrument"),
    )
    .await;
    refused(&env, json!([1, 2]), 400, "invalid_param", Some("body")).await;
    refused(&env, buy("ins_nope", "100.00"), 400, "not_found", None).await;
}

#[tokio::test]
async fn automatic_rollover_only_on_buys_of_instruments_that_support_it() {
    let env = Env::new().await;
    let mut on_bond = buy("ins_xyz789", "100.00");
    on_bond["automatic_rollover"] = json!(true);
    refused(
        &env,
        on_bond,
        400,
        "invalid_param",
        Some("body.automatic_rollover"),
    )
    .await;
    let mut on_sell = sell("ins_xyz789", "10");
    on_sell["automatic_rollover"] = json!(true);
    refused(
        &env,
        on_sell,
        400,
        "invalid_param",
        Some("body.automatic_rollover"),
    )
    .await;
    let mut on_bill = buy("ins_us3m_260312", "100.00");
    on_bill["automatic_rollover"] = json!(true);
    let answer = env.place(on_bill).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.body["automatic_rollover"], true);
}

#[tokio::test]
async fn instruments_must_be_tradable_by_this_account() {
    let env = Env::with_account(AccountSpec::usd("10000.00").position("ins_gh2026s", "10")).await;
    refused(
        &env,
        buy("ins_ng2025c", "100.00"),
        400,
        "instrument_not_trading",
        None,
    )
    .await;
    refused(
        &env,
        buy("ins_gh2026s", "100.00"),
        403,
        "buy_order_forbidden",
        None,
    )
    .await;
    assert_eq!(
        env.place(sell("ins_gh2026s", "5")).await.status,
        201,
        "sell-only instruments can be sold"
    );
    refused(
        &env,
        buy("ins_ke2035p", "100.00"),
        403,
        "professional_trader_required",
        None,
    )
    .await;
    refused(
        &env,
        buy("ins_bund30", "100.00"),
        400,
        "currency_not_supported",
        None,
    )
    .await;

    let pro = env
        .sandbox
        .create_account(&AccountSpec::usd("1000.00").professional())
        .unwrap();
    let answer = env
        .post_as(
            &pro.token,
            &format!("/accounts/{}/orders", pro.id),
            &buy("ins_ke2035p", "100.00"),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
}

#[tokio::test]
async fn trading_rules_are_enforced() {
    let env = Env::new().await;
    refused(
        &env,
        buy("ins_us3m_260312", "9.99"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    refused(
        &env,
        buy("ins_xyz789", "100.50"),
        400,
        "invalid_param",
        Some("body.cash_amount"),
    )
    .await;
    assert_eq!(env.place(buy("ins_us3m_260312", "10.00")).await.status, 201);
}

#[tokio::test]
async fn insufficient_funds_and_units_say_how_much_is_available() {
    let env = Env::with_account(AccountSpec::usd("50.00").position("ins_xyz789", "5")).await;
    let answer = env.place(buy("ins_xyz789", "100.00")).await;
    assert_eq!((answer.status, answer.code()), (400, "insufficient_funds"));
    assert_eq!(
        answer.body["context"],
        json!({"required": "100.00", "available": "50.00", "currency": "USD"})
    );
    let answer = env.place(sell("ins_xyz789", "6")).await;
    assert_eq!((answer.status, answer.code()), (400, "insufficient_units"));
    assert_eq!(answer.body["context"]["available"], "5");
    assert!(env.orders().await.is_empty());
}

#[tokio::test]
async fn an_idempotency_key_longer_than_255_characters_is_refused() {
    let env = Env::new().await;
    let answer = env
        .place_with_key(&"k".repeat(256), &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.param_paths(), ["header.Idempotency-Key"]);
    assert!(env.orders().await.is_empty());
    let answer = env
        .place_with_key(&"k".repeat(255), &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(answer.status, 201);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_unknown_routes_are_404() {
    let env = Env::new().await;
    let answer = env.get("/nope").await;
    assert_eq!((answer.status, answer.code()), (404, "not_found"));
    assert!(answer.header("request-id").is_some());
    let ids: Vec<String> = [env.get("/instruments").await, env.get("/instruments").await]
        .iter()
        .map(|a| a.header("request-id").unwrap().to_string())
        .collect();
    assert_ne!(ids[0], ids[1]);
}
