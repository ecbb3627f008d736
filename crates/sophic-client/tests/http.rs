//! The generated client over real HTTP, against a canned one-route server on loopback:
//! every documented error status decodes into the Error type, and the bearer token
//! comes from the swappable client state.

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use sophic_client::types::ErrorCode;
use sophic_client::{Client, ClientState, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request with `status` and `body`, recording each request's head.
struct Canned {
    base_url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn canned(status: u16, body: &'static str) -> Canned {
    canned_as(status, "application/json", body).await
}

async fn canned_as(status: u16, content_type: &'static str, body: &'static str) -> Canned {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nrequest-id: req_test\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    Canned { base_url, seen }
}

#[tokio::test]
async fn every_documented_error_status_decodes_into_the_error_type() {
    let cases = [
        (400, "invalid_param", ErrorCode::InvalidParam),
        (401, "not_authenticated", ErrorCode::NotAuthenticated),
        (403, "permission_denied", ErrorCode::PermissionDenied),
        (404, "not_found", ErrorCode::NotFound),
        (
            409,
            "idempotency_key_reused",
            ErrorCode::IdempotencyKeyReused,
        ),
        (429, "rate_limited", ErrorCode::RateLimited),
        (500, "internal_error", ErrorCode::InternalError),
        (
            503,
            "service_paused",
            ErrorCode::Unknown("service_paused".into()),
        ),
    ];
    for (status, code, expected) in cases {
        let body: &'static str = Box::leak(
            format!(r#"{{"code":"{code}","detail":"refused","params":[{{"path":"body.side","detail":"d","code":"invalid"}}]}}"#)
                .into_boxed_str(),
        );
        let server = canned(status, body).await;
        let client = Client::new(&server.base_url, ClientState::new());
        let err = client
            .get_order()
            .account_id("acc_1")
            .order_id("ord_1")
            .send()
            .await
            .unwrap_err();
        let Error::ErrorResponse(response) = err else {
            panic!("{status} did not decode into the Error type: {err:?}");
        };
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.code, expected);
        assert_eq!(response.params.as_ref().unwrap()[0].path, "body.side");
        assert_eq!(response.headers()["request-id"], "req_test");
    }
}

#[tokio::test]
async fn an_error_answer_that_is_not_json_keeps_its_status_and_request_id() {
    let server = canned_as(502, "text/html", "<html><body>Bad Gateway</body></html>").await;
    let client = Client::new(&server.base_url, ClientState::new());
    let err = client
        .get_order()
        .account_id("acc_1")
        .order_id("ord_1")
        .send()
        .await
        .unwrap_err();
    let Error::ErrorResponse(response) = err else {
        panic!("a non-JSON 502 did not become an Error: {err:?}");
    };
    assert_eq!(response.status().as_u16(), 502);
    assert_eq!(response.code, ErrorCode::Unknown("http_502".into()));
    assert!(
        response.detail.contains("Bad Gateway"),
        "{}",
        response.detail
    );
    assert_eq!(response.headers()["request-id"], "req_test");

    let server = canned_as(503, "text/plain", "").await;
    let client = Client::new(&server.base_url, ClientState::new());
    let err = client
        .create_token()
        // Built as a downstream crate builds a request (the type is `#[non_exhaustive]`).
        .body(
            sophic_client::types::TokenRequest::builder()
                .grant_type(sophic_client::types::GrantType::ClientCredentials)
                .client_id("c")
                .client_secret("s"),
        );
    let Error::ErrorResponse(response) = err.send().await.unwrap_err() else {
        panic!("a non-JSON token error did not become a TokenError");
    };
    assert_eq!(
        (response.status().as_u16(), response.error.as_str()),
        (503, "http_503")
    );
}

#[tokio::test]
async fn the_bearer_token_can_be_swapped_without_rebuilding_the_client() {
    let server = canned(200, "[]").await;
    let state = ClientState::new();
    let client = Client::new(&server.base_url, state.clone());

    client.list_instruments().send().await.unwrap();
    state.set_token(Some(SecretString::from("first-token")));
    client.list_instruments().send().await.unwrap();
    client
        .state()
        .set_token(Some(SecretString::from("second-token")));
    client.list_instruments().send().await.unwrap();

    let seen = server.seen.lock().unwrap();
    let auth: Vec<Option<&str>> = seen
        .iter()
        .map(|head| head.lines().find_map(|l| l.strip_prefix("authorization: ")))
        .collect();
    assert_eq!(
        auth,
        [
            None,
            Some("Bearer first-token"),
            Some("Bearer second-token")
        ]
    );
}

#[test]
fn debug_of_the_client_never_shows_the_token() {
    let client = Client::new(
        "http://127.0.0.1:9",
        ClientState::with_token(SecretString::from("tok_super_secret")),
    );
    let shown = format!("{client:?} {:?}", client.state());
    assert!(!shown.contains("tok_super_secret"), "{shown}");
    assert!(shown.contains("REDACTED"), "{shown}");
}
