//! `Debug` of the client, its builder, its credentials and its errors never shows a secret.

use serde_json::json;
use sophic::webhooks::WebhookSecret;
use sophic::{Client, ClientCredentials};

use crate::support::{Canned, TestServer, scripted, timerless_http};

const TOKEN: &str = "tok_SECRET_static_1";
const CLIENT_SECRET: &str = "cs_SECRET_oauth_2";
const ACCESS_TOKEN: &str = "tok_SECRET_issued_3";

fn assert_hidden(debug: &str) {
    for secret in [TOKEN, CLIENT_SECRET, ACCESS_TOKEN] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}

#[test]
fn a_static_token_never_shows_in_the_builder_or_the_client() {
    let builder = Client::builder()
        .base_url("http://127.0.0.1:9")
        .token(TOKEN);
    assert_hidden(&format!("{builder:?}"));
    assert_hidden(&format!("{builder:#?}"));
    let client = builder.build().unwrap();
    let debug = format!("{client:#?}");
    assert_hidden(&debug);
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(debug.contains("127.0.0.1:9"), "{debug}");
}

#[test]
fn a_client_secret_never_shows_in_the_credentials_the_builder_or_the_client() {
    let credentials = ClientCredentials::new("cli_123", CLIENT_SECRET).scope("orders");
    let debug = format!("{credentials:?}");
    assert_hidden(&debug);
    assert!(
        debug.contains("cli_123"),
        "the client id is not a secret: {debug}"
    );
    let builder = Client::builder().credentials(credentials);
    assert_hidden(&format!("{builder:?}"));
    assert_hidden(&format!("{:?}", builder.build().unwrap()));
}

#[tokio::test]
async fn an_issued_token_never_shows_in_the_client_or_its_errors() {
    let (server, script): (TestServer, _) = scripted([
        Canned::json(
            200,
            json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 900,
                   "scope": null, "refresh_token": null}),
        ),
        Canned::error(404, "not_found"),
    ]);
    let client = Client::builder()
        .base_url(&server.base_url)
        .client_credentials("cli_123", CLIENT_SECRET)
        .http_client(timerless_http())
        .build()
        .unwrap();

    let err = client
        .orders(&"acc_1".parse().unwrap())
        .get(&"ord_1".parse().unwrap())
        .await
        .unwrap_err();

    assert_hidden(&format!("{client:?}"));
    assert_hidden(&format!("{err:?}"));
    assert_hidden(&err.to_string());
    // The token was really issued and used, so there was something to hide.
    assert!(err.is_not_found(), "{err:?}");
    let seen = script.seen();
    assert_eq!(seen[0].uri.path(), "/auth/token");
    let bearer = format!("Bearer {ACCESS_TOKEN}");
    assert_eq!(seen[1].header("authorization"), Some(bearer.as_str()));
}

#[tokio::test]
async fn a_token_endpoint_refusal_does_not_echo_the_secret() {
    let (server, script) = scripted([Canned::json(401, json!({"error": "invalid_client"}))]);
    let client = Client::builder()
        .base_url(&server.base_url)
        .client_credentials("cli_123", CLIENT_SECRET)
        .http_client(timerless_http())
        .build()
        .unwrap();

    let err = client.instruments().list().await.unwrap_err();

    assert_hidden(&format!("{err:?}"));
    assert_hidden(&err.to_string());
    // The secret was really sent (and refused), so there was something to echo.
    assert!(matches!(err, sophic::Error::Auth(_)), "{err:?}");
    let sent = String::from_utf8_lossy(&script.seen()[0].body).into_owned();
    assert!(sent.contains(CLIENT_SECRET), "{sent}");
}

#[test]
fn a_webhook_secret_never_shows() {
    let secret = WebhookSecret::from_bytes([5; 32]);
    let text = secret.expose_secret();
    let debug = format!("{secret:?}");
    assert!(!debug.contains(&text[6..]), "{debug}");
    let verifier = sophic::webhooks::Verifier::new(secret);
    assert!(!format!("{verifier:?}").contains(&text[6..]));
}
