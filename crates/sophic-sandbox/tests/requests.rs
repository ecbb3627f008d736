//! The request journal (issue 14): what an application sent, as the sandbox answered it.

mod common;

use common::Env;
use serde_json::{Value, json};
use sophic_sandbox::requests::RequestFilter;
use sophic_sandbox::{FaultKind, FaultSpec};

fn buy() -> Value {
    json!({"instrument": "ins_xyz789", "side": "buy", "order_type": "market", "cash_amount": "100.00"})
}

#[tokio::test]
async fn a_retry_shows_as_two_requests_with_one_key_and_one_order() {
    let env = Env::new().await;
    let path = format!("/accounts/{}/orders", env.account.id);
    // The first attempt is handled and its connection dropped; the retry is replayed.
    env.sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 1).on("place_order"));
    let first = env
        .http
        .post(env.url(&path))
        .bearer_auth(&env.account.token)
        .header("Idempotency-Key", "retry-me")
        .json(&buy())
        .send()
        .await;
    assert!(first.is_err(), "the connection was dropped");
    let retry = env
        .send(
            env.http
                .post(env.url(&path))
                .bearer_auth(&env.account.token)
                .header("Idempotency-Key", "retry-me")
                .header("User-Agent", "my-app/1.0")
                .json(&buy()),
        )
        .await;
    assert_eq!(retry.status, 201);

    let sent = env.sandbox.requests_matching(&RequestFilter {
        idempotency_key: Some("retry-me".into()),
        ..RequestFilter::default()
    });
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent.iter()
            .all(|r| r.operation == "place_order" && r.path == path)
    );
    let order = retry.body["id"].as_str().unwrap();
    assert!(
        sent.iter().all(|r| r.order_id.as_deref() == Some(order)),
        "{sent:#?}"
    );
    assert_eq!(
        (sent[0].dropped, sent[1].dropped),
        (true, false),
        "the first never reached the client"
    );
    assert_eq!(sent[1].user_agent.as_deref(), Some("my-app/1.0"));
    assert_eq!(sent[1].request_id, retry.header("request-id").unwrap());
    // The token itself is never kept.
    assert_eq!(sent[1].authorization.as_deref(), Some("Bearer …"));
    assert!(!format!("{sent:?}").contains(&env.account.token));
}

#[tokio::test]
async fn the_journal_is_filtered_bounded_to_the_latest_and_cleared_over_http() {
    let env = Env::new().await;
    let orders = format!("/accounts/{}/orders", env.account.id);
    for _ in 0..3 {
        env.send(
            env.http
                .get(env.url(&orders))
                .bearer_auth(&env.account.token),
        )
        .await;
    }
    let missing = format!("{orders}/ord_nothere");
    env.send(
        env.http
            .get(env.url(&missing))
            .bearer_auth(&env.account.token),
    )
    .await;
    // Control requests are not in it.
    env.send(env.http.get(env.url("/sandbox/clock"))).await;

    let list = |query: &str| {
        let url = env.url(&format!("/sandbox/requests{query}"));
        let http = env.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(list("").await.as_array().unwrap().len(), 4);
    let latest = list("?operation=list_orders&limit=2").await;
    assert_eq!(latest.as_array().unwrap().len(), 2);
    let not_found = list("?status=404").await;
    assert_eq!(not_found[0]["order_id"], "ord_nothere");
    assert_eq!(not_found[0]["operation"], "get_order");
    // An unknown filter is refused, naming the query.
    let refused = env
        .send(env.http.get(env.url("/sandbox/requests?colour=blue")))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.param_paths(), ["query"]);
    let cleared = env
        .send(env.http.delete(env.url("/sandbox/requests")))
        .await;
    assert_eq!(cleared.status, 204);
    assert_eq!(list("").await, json!([]));
}

/// Parameter checks, faults and the journal go by the spec's operation as the router
/// serves the request: `HEAD` is its `GET`, a method in another case is no operation
/// (the router answers 405), a path with an empty segment is none (404, never a handler
/// with an empty id), and a refusal at the front door is named by its operation.
#[tokio::test]
async fn requests_are_named_by_the_operation_the_router_serves() {
    let env = Env::new().await;
    let token = &env.account.token;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 1).on("get_instrument"));
    let lower = reqwest::Method::from_bytes(b"get").unwrap();
    let refused = env
        .send(
            env.http
                .request(lower, env.url("/instruments/ins_xyz789"))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(refused.status, 405);
    assert_eq!(
        refused.body["code"], "method_not_allowed",
        "{:?}",
        refused.body
    );
    assert_eq!(env.sandbox.armed_faults().len(), 1, "not taken by a 405");
    let head = env
        .http
        .head(env.url("/instruments/ins_xyz789"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.status(),
        500,
        "HEAD is GET: the fault armed for it fires"
    );
    assert!(env.sandbox.armed_faults().is_empty());
    let empty = env
        .send(
            env.http
                .get(env.url("/accounts//orders"))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(empty.status, 404);
    assert_eq!(empty.body["code"], "not_found", "{:?}", empty.body);
    for unknown in ["/instruments/ins_xyz789/", "/instrument/ins_xyz789", "/"] {
        let answer = env
            .send(env.http.get(env.url(unknown)).bearer_auth(token))
            .await;
        assert_eq!(answer.status, 404, "{unknown}");
        assert_eq!(answer.body["code"], "not_found", "{unknown}");
    }
    let unsupported = env
        .send(
            env.http
                .post(env.url(&format!("/accounts/{}/orders", env.account.id)))
                .bearer_auth(token)
                .header("Content-Type", "text/plain")
                .body(buy().to_string()),
        )
        .await;
    assert_eq!(unsupported.status, 415);
    assert_eq!(unsupported.body["code"], "unsupported_media_type");
    assert_eq!(unsupported.param_paths(), ["header.Content-Type"]);
    let limited = env
        .send(
            env.http
                .get(env.url(&format!("/accounts/{}/orders?limit=0", env.account.id)))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(limited.status, 400, "{:?}", limited.body);
    assert_eq!(limited.param_paths(), ["query.limit"]);
    let named: Vec<(String, String, u16)> = env
        .sandbox
        .requests()
        .into_iter()
        .map(|r| (r.method, r.operation, r.status))
        .collect();
    let named: Vec<(&str, &str, u16)> = named
        .iter()
        .map(|(m, o, s)| (m.as_str(), o.as_str(), *s))
        .collect();
    assert_eq!(
        named,
        [
            ("get", "unknown", 405),
            ("HEAD", "get_instrument", 500),
            ("GET", "unknown", 404),
            ("GET", "unknown", 404),
            ("GET", "unknown", 404),
            ("GET", "unknown", 404),
            ("POST", "place_order", 415),
            ("GET", "list_orders", 400),
        ]
    );
    assert!(
        env.orders().await.is_empty(),
        "the refused placement placed nothing"
    );
}
