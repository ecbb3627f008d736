//! Conformance to `openapi/orders.yaml`, with Stoplight Prism as the judge. Run by
//! `.ci/conformance.sh`, which starts the servers and sets the environment:
//!
//! - through `prism proxy --errors` in front of the sandbox (`SOPHIC_PROXY_URL`, with the
//!   sandbox's own URL for its control endpoints in `SOPHIC_SANDBOX_URL`): every request
//!   the SDK sends and every answer the sandbox returns is validated against the spec, and
//!   a violation turns into an error that fails the call;
//! - against `prism mock` (`SOPHIC_PRISM_MOCK_URL`): every operation's documented example
//!   decodes into the SDK's types.

use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{Value, json};
use sophic::orders::OrderRequest;
use sophic::types::{
    CreateWebhookRequest, EventName, OrderSide, OrderStatus, UpdateWebhookRequest, exhaustive,
};
use sophic::{AccountId, Client, InstrumentId, OrderId, WebhookId};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run .ci/conformance.sh"))
}

async fn control(path: &str, body: Value) -> Value {
    let url = format!("{}{path}", env("SOPHIC_SANDBOX_URL"));
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
#[ignore = "needs Prism in front of the sandbox: run .ci/conformance.sh"]
async fn every_operation_through_a_validating_proxy_conforms() {
    let proxy = env("SOPHIC_PROXY_URL");
    let created = control(
        "/sandbox/accounts",
        json!({"cash": {"USD": "5000.00"}, "positions": {"ins_xyz789": "40"}}),
    )
    .await;
    let account: AccountId = created["account"]["id"].as_str().unwrap().parse().unwrap();
    let oauth = control("/sandbox/clients", json!({"accounts": [account.as_ref()]})).await;

    // OAuth through the proxy: POST /auth/token (form-encoded) is validated too.
    let client = Client::builder()
        .base_url(&proxy)
        .client_credentials(
            oauth["client_id"].as_str().unwrap(),
            oauth["client_secret"].as_str().unwrap(),
        )
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let kenya: InstrumentId = "ins_xyz789".parse().unwrap();
    let instruments = client.instruments().list().await.unwrap();
    assert!(instruments.len() >= 7);
    client.instruments().get(&kenya).await.unwrap();

    let orders = client.orders(&account);
    let buy = orders
        .place(OrderRequest::buy(&kenya, "100.00".parse().unwrap()))
        .await
        .unwrap();
    let sell = orders
        .place(OrderRequest::sell(&kenya, "10".parse().unwrap()))
        .await
        .unwrap();
    let rollover = orders
        .place(
            OrderRequest::buy(
                &"ins_us3m_260312".parse().unwrap(),
                "50.00".parse().unwrap(),
            )
            .automatic_rollover(true),
        )
        .await
        .unwrap();
    let cancelled = orders
        .cancel(&sell.id.parse::<OrderId>().unwrap())
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);

    let refused = orders
        .place(OrderRequest::buy(&kenya, "90000.00".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        refused.is_insufficient_funds(),
        "a refusal conforms too: {refused}"
    );
    let missing = orders
        .get(&"ord_missing".parse().unwrap())
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    let pending: Vec<_> = orders
        .list_pending()
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    control("/sandbox/clock/advance", json!({"seconds": 1})).await;
    let waited = orders
        .wait_for_order(&buy.id.parse().unwrap())
        .until(OrderStatus::Executing)
        .await
        .unwrap();
    assert_eq!(waited.status, OrderStatus::Executing);
    control("/sandbox/clock/settle", json!({})).await;
    let settled = orders.get(&buy.id.parse().unwrap()).await.unwrap();
    assert_eq!(settled.status, OrderStatus::Settled);
    assert_eq!(settled.trades.len(), 1);
    let rollover = orders.get(&rollover.id.parse().unwrap()).await.unwrap();
    assert!(rollover.automatic_rollover);

    let filtered: Vec<_> = orders
        .list()
        .status(OrderStatus::Settled)
        .status(OrderStatus::Cancelled)
        .side(OrderSide::Buy)
        .instrument(&kenya)
        .created_gte("2026-01-01T00:00:00Z".parse().unwrap())
        .created_lt("2030-01-01T00:00:00Z".parse().unwrap())
        .page_size(1)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);

    let account_handle = client.account(&account);
    assert!(!account_handle.cash_balances().await.unwrap().is_empty());
    assert!(!account_handle.positions().await.unwrap().is_empty());
    let events: Vec<_> = client
        .events()
        .list()
        .name(EventName::OrderSettled)
        .resource(buy.id.as_str())
        .created_gte("2026-01-01T00:00:00Z".parse().unwrap())
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    let webhooks = client.webhooks();
    let hook = webhooks
        .create(CreateWebhookRequest::from(
            exhaustive::CreateWebhookRequest {
                url: "http://127.0.0.1:9/hook".into(),
                description: Some("conformance".into()),
                enabled_events: vec![EventName::OrderSettled],
            },
        ))
        .await
        .unwrap();
    let hook_id: WebhookId = hook.webhook.id.parse().unwrap();
    let update = UpdateWebhookRequest::from(exhaustive::UpdateWebhookRequest {
        disabled: Some(true),
        description: None,
        enabled_events: vec![],
        url: None,
    });
    assert!(webhooks.update(&hook_id, update).await.unwrap().disabled);
    assert!(webhooks.test(&hook_id).await.unwrap().event.is_none());
}

#[tokio::test]
#[ignore = "needs `prism mock openapi/orders.yaml`: run .ci/conformance.sh"]
async fn every_documented_example_decodes_into_the_sdk_types() {
    let client = Client::builder()
        .base_url(env("SOPHIC_PRISM_MOCK_URL"))
        .token("mock-token")
        .build()
        .unwrap();
    let account: AccountId = "acc_123456".parse().unwrap();
    let order: OrderId = "ord_abc123".parse().unwrap();
    let kenya: InstrumentId = "ins_xyz789".parse().unwrap();
    let orders = client.orders(&account);

    let placed = orders
        .place(OrderRequest::buy(&kenya, "100.00".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        (
            placed.fees.to_string(),
            placed.net_cash_amount.unwrap().to_string()
        ),
        ("0.50".into(), "99.50".into())
    );
    assert_eq!(orders.get(&order).await.unwrap().id, "ord_abc123");
    assert_eq!(
        orders.cancel(&order).await.unwrap().instrument.id,
        "ins_xyz789"
    );
    let page: Vec<_> = orders.list().stream().try_collect().await.unwrap();
    assert_eq!(page[0].id, "ord_abc123");
    let pending: Vec<_> = orders.list_pending().stream().try_collect().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        client.account(&account).cash_balances().await.unwrap()[0]
            .total
            .to_string(),
        "10000.00"
    );
    assert_eq!(
        client.account(&account).positions().await.unwrap()[0]
            .quantity
            .to_string(),
        "100.50"
    );
    assert_eq!(
        client.instruments().list().await.unwrap()[0].id,
        "ins_xyz789"
    );
    assert_eq!(
        client.instruments().get(&kenya).await.unwrap().symbol,
        "KE2024A"
    );
    let events: Vec<_> = client.events().list().stream().try_collect().await.unwrap();
    assert_eq!(events[0].name, EventName::OrderPlaced);
    let hook = client
        .webhooks()
        .create(CreateWebhookRequest::from(
            exhaustive::CreateWebhookRequest {
                url: "https://hooks.example.com/sophic".into(),
                description: None,
                enabled_events: vec![],
            },
        ))
        .await
        .unwrap();
    assert!(hook.secret.expose_secret().starts_with("whsec_"));
    let hook_id: WebhookId = hook.webhook.id.parse().unwrap();
    let update = UpdateWebhookRequest::from(exhaustive::UpdateWebhookRequest {
        disabled: Some(true),
        description: None,
        enabled_events: vec![],
        url: None,
    });
    assert!(
        client
            .webhooks()
            .update(&hook_id, update)
            .await
            .unwrap()
            .disabled
    );
    assert!(
        client
            .webhooks()
            .test(&hook_id)
            .await
            .unwrap()
            .event
            .is_none()
    );

    let token = Client::builder()
        .base_url(env("SOPHIC_PRISM_MOCK_URL"))
        .client_credentials("cli_8d2f7a", "sk_test_51xq9")
        .build()
        .unwrap();
    assert_eq!(
        token.instruments().list().await.unwrap().len(),
        1,
        "the token example decodes too"
    );
}
