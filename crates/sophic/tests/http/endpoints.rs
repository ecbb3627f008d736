//! Each wrapped operation sends the documented method and path and decodes the answer.

use serde_json::json;
use sophic::prelude::*;
use sophic::types::{Currency, UpdateWebhookRequest, WebhookDeliveryStatus};

use crate::support::{Canned, TestServer, account, account_orders, client, scripted};

fn instrument() -> serde_json::Value {
    json!({"id": "ins_xyz789", "name": "Kenya 2024 Bond A", "symbol": "KE2024A",
           "instrument_type": "bond", "trading_status": "buy_sell", "required_cash_increment": 1})
}

fn only_request(script: &crate::support::Script) -> (String, String) {
    let seen = script.seen();
    assert_eq!(seen.len(), 1);
    (seen[0].method.to_string(), seen[0].uri.path().to_owned())
}

#[tokio::test]
async fn instruments_are_listed_and_retrieved() {
    let (server, script) = scripted([Canned::json(200, json!([instrument()]))]);
    let listed = client(&server).instruments().list().await.unwrap();
    assert_eq!(listed[0].symbol, "KE2024A");
    assert_eq!(only_request(&script), ("GET".into(), "/instruments".into()));

    let (server, script) = scripted([Canned::json(200, instrument())]);
    let instrument = client(&server)
        .instruments()
        .get(&"ins_xyz789".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(instrument.name, "Kenya 2024 Bond A");
    assert_eq!(
        only_request(&script),
        ("GET".into(), "/instruments/ins_xyz789".into())
    );
}

#[tokio::test]
async fn cash_balances_and_positions_are_listed() {
    let (server, script) = scripted([Canned::json(
        200,
        json!([{"currency": "USD", "total": "1000.00", "available": "900.00", "reserved": "100.00"}]),
    )]);
    let balances = client(&server)
        .account(&account())
        .cash_balances()
        .await
        .unwrap();
    assert_eq!(balances[0].currency, Currency::Usd);
    assert_eq!(balances[0].available.to_string(), "900.00");
    assert_eq!(
        only_request(&script),
        ("GET".into(), "/accounts/acc_123456/cash-balances".into())
    );

    let (server, script) = scripted([Canned::json(
        200,
        json!([{"id": "pos_k2l3m4", "account": "acc_123456", "instrument": instrument(),
                "quantity": "10", "available_quantity": "10", "automatic_rollover": false,
                "created_at": "2026-03-12T14:30:00Z", "modified_at": "2026-03-12T14:30:00Z"}]),
    )]);
    let positions = client(&server)
        .account(&account())
        .positions()
        .await
        .unwrap();
    assert_eq!(positions[0].id, "pos_k2l3m4");
    assert_eq!(
        only_request(&script),
        ("GET".into(), "/accounts/acc_123456/positions".into())
    );
}

fn webhook_server(
    answer: serde_json::Value,
    status: u16,
) -> (TestServer, std::sync::Arc<crate::support::Script>) {
    scripted([Canned::json(status, answer)])
}

#[tokio::test]
async fn webhooks_are_updated_and_tested() {
    let webhook: sophic::WebhookId = "wh_5hT2kq".parse().unwrap();
    let (server, script) = webhook_server(
        json!({"id": "wh_5hT2kq", "url": "https://example.com/new", "enabled_events": [],
               "disabled": true, "created_at": "2026-03-12T14:05:00Z",
               "modified_at": "2026-03-12T14:06:00Z"}),
        200,
    );
    // As a downstream crate writes it: the type is `#[non_exhaustive]`, so a field the spec
    // adds tomorrow does not break this.
    let mut change = UpdateWebhookRequest::default();
    change.disabled = Some(true);
    let updated = client(&server)
        .webhooks()
        .update(&webhook, change)
        .await
        .unwrap();
    assert!(updated.disabled);
    assert_eq!(
        only_request(&script),
        ("PUT".into(), "/webhooks/wh_5hT2kq".into())
    );
    assert_eq!(&script.seen()[0].body[..], br#"{"disabled":true}"#);

    let (server, script) = webhook_server(
        json!({"id": "whd_9s8d7f", "webhook": "wh_5hT2kq", "event": null, "status": "pending",
               "payload": {"id": "evt_test_9s8d7f", "name": "webhook.test"}, "attempts": [],
               "succeeded_at": null, "failed_at": null, "next_attempt_at": "2026-03-12T14:05:00Z",
               "created_at": "2026-03-12T14:05:00Z", "modified_at": "2026-03-12T14:05:00Z"}),
        202,
    );
    let delivery = client(&server).webhooks().test(&webhook).await.unwrap();
    assert_eq!(delivery.status, WebhookDeliveryStatus::Pending);
    assert_eq!(
        only_request(&script),
        ("POST".into(), "/webhooks/wh_5hT2kq/test".into())
    );
}

#[tokio::test]
async fn an_order_is_retrieved_again_by_the_id_it_came_with() {
    let order_json = crate::support::order("ord_abc123", "placed");
    let (server, script) = scripted([
        Canned::json(200, order_json.clone()),
        Canned::json(200, order_json),
    ]);
    let orders = account_orders(&server);

    let first = orders
        .get(&"ord_abc123".parse::<OrderId>().unwrap())
        .await
        .unwrap();
    let again = orders.get(&first.order_id()).await.unwrap();

    assert_eq!(again.id, "ord_abc123");
    let paths: Vec<_> = script
        .seen()
        .iter()
        .map(|s| s.uri.path().to_owned())
        .collect();
    assert_eq!(paths, ["/accounts/acc_123456/orders/ord_abc123"; 2]);
}

#[tokio::test]
async fn the_client_it_builds_sends_its_user_agent() {
    let (server, script) = scripted([Canned::json(200, json!([]))]);
    let client = Client::builder()
        .base_url(format!("{}/", server.base_url))
        .token("tok_test")
        .user_agent("checkout-service/2.1")
        .build()
        .unwrap();

    client.instruments().list().await.unwrap();

    let seen = script.seen();
    assert_eq!(seen[0].header("user-agent"), Some("checkout-service/2.1"));
    assert_eq!(
        seen[0].uri.path(),
        "/instruments",
        "the trailing slash is not doubled"
    );
}

#[tokio::test]
async fn an_unlisted_success_status_is_accepted_when_its_body_decodes() {
    // The spec says 201 for placements; a server answering 200 is still understood.
    let (server, _script) = scripted([Canned::json(200, crate::support::order("ord_1", "placed"))]);

    let order = account_orders(&server)
        .place(OrderRequest::buy(
            &"ins_xyz789".parse().unwrap(),
            "5".parse().unwrap(),
        ))
        .await
        .unwrap();

    assert_eq!(order.id, "ord_1");
}
