//! Credentials never travel in clear text: a plain `http://` base URL is for loopback only,
//! unless the builder opts in for a test rig.

use sophic::{Client, ClientBuilder};

use crate::support::timerless_http;

/// A builder for `base_url` with a token, and a client of its own so that no TLS stack is
/// needed for `https://`: the rule is about the URL, not the transport.
fn with_token(base_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .token("tok_test")
        .http_client(timerless_http())
}

fn assert_refused_for_host(result: sophic::Result<Client>, host: &str) {
    let err = result.unwrap_err();
    assert!(
        matches!(&err, sophic::Error::InsecureHttp { host: h } if h == host),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(host), "names the host: {message}");
    assert!(
        message.contains("danger_allow_insecure_http"),
        "names the opt-in: {message}"
    );
    assert!(!message.contains("tok_test"), "{message}");
}

#[test]
fn a_token_over_plain_http_off_loopback_is_refused() {
    assert_refused_for_host(
        with_token("http://api.example.com").build(),
        "api.example.com",
    );
    assert_refused_for_host(with_token("http://10.1.2.3:4010/v1").build(), "10.1.2.3");
}

#[test]
fn client_credentials_over_plain_http_off_loopback_are_refused() {
    let result = Client::builder()
        .base_url("http://api.example.com:8080")
        .client_credentials("cli_123", "cs_secret")
        .http_client(timerless_http())
        .build();
    assert_refused_for_host(result, "api.example.com");
}

#[test]
fn plain_http_to_loopback_is_allowed() {
    for base_url in [
        "http://127.0.0.1:4010",
        "http://127.0.0.2",
        "http://localhost",
        "http://localhost:4010/",
        "http://[::1]:4010",
    ] {
        let client = with_token(base_url).build();
        assert!(client.is_ok(), "{base_url}: {:?}", client.err());
    }
}

#[test]
fn https_is_allowed_anywhere() {
    let client = with_token("https://api.example.com").build().unwrap();
    assert_eq!(client.base_url(), "https://api.example.com");
}

#[test]
fn the_test_rig_opt_in_allows_plain_http_off_loopback() {
    let client = with_token("http://sandbox.internal:4010")
        .danger_allow_insecure_http()
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "http://sandbox.internal:4010");
    let oauth = Client::builder()
        .base_url("http://10.1.2.3")
        .client_credentials("cli_123", "cs_secret")
        .danger_allow_insecure_http()
        .http_client(timerless_http())
        .build();
    assert!(oauth.is_ok(), "{:?}", oauth.err());
}
