//! Tokens: OAuth client credentials, expiry on the sandbox clock, and accounts that never
//! see each other.

mod common;

use std::time::Duration;

use common::{Env, buy};
use serde_json::json;
use sophic_sandbox::AccountSpec;

async fn token(env: &Env, form: &[(&str, &str)]) -> common::Answer {
    env.send(env.http.post(env.url("/auth/token")).form(form))
        .await
}

#[tokio::test]
async fn client_credentials_give_a_fifteen_minute_token_for_the_clients_accounts() {
    let env = Env::new().await;
    let client = env
        .sandbox
        .create_client(vec![env.account.id.clone()])
        .unwrap();
    let answer = token(
        &env,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 900);
    assert!(answer.body["refresh_token"].is_null());
    let access = answer.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(access.split('.').count(), 3, "a JWT-shaped token");
    assert_eq!(env.get_as(&access, &env.orders_path()).await.status, 200);

    env.sandbox.advance(Duration::from_secs(899));
    assert_eq!(env.get_as(&access, &env.orders_path()).await.status, 200);
    env.sandbox.advance(Duration::from_secs(1));
    let expired = env.get_as(&access, &env.orders_path()).await;
    assert_eq!((expired.status, expired.code()), (401, "not_authenticated"));
}

#[tokio::test]
async fn bad_credentials_and_grants_answer_oauth_errors() {
    let env = Env::new().await;
    let client = env
        .sandbox
        .create_client(vec![env.account.id.clone()])
        .unwrap();
    let wrong = token(
        &env,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let grant = token(
        &env,
        &[
            ("grant_type", "password"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    )
    .await;
    assert_eq!(
        (grant.status, grant.body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let missing = token(&env, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_not_authenticated() {
    let env = Env::new().await;
    let none = env.send(env.http.get(env.url("/instruments"))).await;
    assert_eq!((none.status, none.code()), (401, "not_authenticated"));
    let bad = env.get_as("not-a-token", "/instruments").await;
    assert_eq!((bad.status, bad.code()), (401, "not_authenticated"));
}

#[tokio::test]
async fn an_account_never_sees_another_accounts_orders_or_events() {
    let env = Env::new().await;
    let other = env
        .sandbox
        .create_account(&AccountSpec::usd("500.00"))
        .unwrap();
    let mine = env.buy("ins_xyz789", "100.00").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Another account's path: forbidden, whatever the order.
    let path = format!("/accounts/{}/orders", env.account.id);
    let answer = env.get_as(&other.token, &path).await;
    assert_eq!((answer.status, answer.code()), (403, "permission_denied"));
    let answer = env
        .post_as(&other.token, &path, &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!((answer.status, answer.code()), (403, "permission_denied"));
    let answer = env
        .get_as(
            &other.token,
            &format!("/accounts/{}/cash-balances", env.account.id),
        )
        .await;
    assert_eq!(answer.status, 403);

    // My order under the other account's own path: not found.
    let answer = env
        .get_as(
            &other.token,
            &format!("/accounts/{}/orders/{mine}", other.id),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (404, "not_found"));
    let answer = env
        .post_as(
            &other.token,
            &format!("/accounts/{}/orders/{mine}/cancel", other.id),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(answer.status, 404);

    let events = env.get_as(&other.token, "/events").await.body;
    assert_eq!(events.as_array().unwrap().len(), 0);
    let events = env.get("/events").await.body;
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(
        env.order(&mine).await["status"],
        "placed",
        "nothing the other account did touched it"
    );
}

#[tokio::test]
async fn instruments_list_the_seeded_market() {
    let env = Env::new().await;
    let instruments = env.get("/instruments").await.body;
    let all = instruments.as_array().unwrap();
    let kenya = all.iter().find(|i| i["id"] == "ins_xyz789").unwrap();
    assert_eq!(
        (kenya["symbol"].as_str(), kenya["name"].as_str()),
        (Some("KE2024A"), Some("Kenya 2024 Bond A"))
    );
    assert!(
        all.iter()
            .any(|i| i["instrument_type"] == "bill" && i["supports_automatic_rollover"] == true)
    );
    for currency in ["EUR", "GBP"] {
        assert!(all.iter().any(|i| i["trading_currency"] == currency));
    }
    assert!(all.iter().any(|i| i["trading_status"] == "closed"));
    assert!(all.iter().any(|i| i["pro_traders_only"] == true));
    let one = env.get("/instruments/ins_xyz789").await;
    assert_eq!(one.body["days_to_maturity"], 1099);
    assert_eq!(env.get("/instruments/ins_nope").await.status, 404);
}

/// The sandbox keeps an instrument's rendered answer for the day: a change to the
/// instrument, or the next day, is shown at once, and the kept answer is the rendering.
#[tokio::test]
async fn an_instrument_answer_follows_its_changes_and_the_date() {
    let env = Env::new().await;
    let before = env.get("/instruments/ins_xyz789").await.body;
    assert_eq!(before["trading_status"], "buy_sell");
    let listed = env.get("/instruments").await.body;
    let listed = listed.as_array().unwrap().iter();
    assert_eq!(
        listed.clone().find(|i| i["id"] == "ins_xyz789"),
        Some(&before)
    );
    let changed = env
        .send(
            env.http
                .put(env.url("/sandbox/instruments/ins_xyz789"))
                .json(&json!({"trading_status": "sell_only"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let after = env.get("/instruments/ins_xyz789").await.body;
    assert_eq!(after["trading_status"], "sell_only");
    env.advance(86_400);
    let tomorrow = env.get("/instruments/ins_xyz789").await.body;
    assert_eq!(tomorrow["days_to_maturity"], 1098);
    assert_eq!(tomorrow["trading_status"], "sell_only");
}
