//! Hostile input, over loopback HTTP: what a web page, another account or a malformed
//! request tries, and the sandbox's answer. Every refusal is the contract's JSON error and
//! changes nothing; nothing panics the server (each test ends with a normal buy).

mod common;

use std::time::Duration;

use common::{Env, buy, sell};
use serde_json::{Value, json};
use sophic_sandbox::{Access, AccountSpec, FaultKind, FaultSpec, Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server still places and settles a buy: nothing before broke it.
async fn still_serves(env: &Env) {
    let order = env.buy("ins_xyz789", "100.00").await;
    env.sandbox.settle();
    assert_eq!(
        env.order(order["id"].as_str().unwrap()).await["status"],
        "settled"
    );
}

fn control(env: &Env, path: &str) -> reqwest::RequestBuilder {
    env.http.post(env.url(&format!("/sandbox{path}")))
}

#[tokio::test]
async fn a_request_for_another_host_name_is_refused_against_dns_rebinding() {
    let env = Env::new().await;
    for path in ["/sandbox/reset", "/sandbox/accounts"] {
        let answer = env
            .send(
                env.http
                    .post(env.url(path))
                    .header("host", "evil.example:4010"),
            )
            .await;
        assert_eq!(answer.status, 403, "{path}: {:?}", answer.body);
        assert_eq!(answer.code(), "permission_denied");
        assert_eq!(answer.param_paths(), ["header.Host"]);
        assert!(
            answer.body["detail"]
                .as_str()
                .unwrap()
                .contains("evil.example")
        );
    }
    let api = env
        .send(
            env.http
                .get(env.url("/instruments"))
                .bearer_auth(&env.account.token)
                .header("host", "rebound.example"),
        )
        .await;
    assert_eq!(api.status, 403);
    // Names of this machine pass, whatever the port (local proxies rewrite it).
    for host in ["localhost:9999", "127.0.0.1", "[::1]:1"] {
        let answer = env
            .send(env.http.get(env.url("/sandbox/clock")).header("host", host))
            .await;
        assert_eq!(answer.status, 200, "{host}");
    }
    assert_eq!(env.usd().await.0, "10000.00", "nothing was reset");
    still_serves(&env).await;
}

#[tokio::test]
async fn a_browsers_cross_site_request_cannot_drive_the_control_plane() {
    let env = Env::new().await;
    let attempts = [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", "http://localhost:3000"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (name, value) in attempts {
        // A bodiless POST, as a form or fetch() with no body sends it.
        let answer = env.send(control(&env, "/reset").header(name, value)).await;
        assert_eq!(answer.status, 403, "{name}: {value}");
        let at = if name == "origin" {
            "header.Origin"
        } else {
            "header.Sec-Fetch-Site"
        };
        assert_eq!(answer.param_paths(), [at]);
        assert_eq!(answer.code(), "permission_denied");
    }
    // The page's form post with a body: refused for its type before anything else runs.
    let form = env
        .send(
            control(&env, "/accounts")
                .header("content-type", "text/plain")
                .body(r#"{"cash": {"USD": "1000000"}}"#),
        )
        .await;
    assert_eq!(form.status, 415);
    assert_eq!(form.code(), "unsupported_media_type");
    // The sandbox's own origin and a request a person typed are the owner's.
    let own = env.sandbox.base_url();
    let same = env
        .send(
            env.http
                .get(env.url("/sandbox/clock"))
                .header("origin", own),
        )
        .await;
    assert_eq!(same.status, 200);
    let typed = env
        .send(
            env.http
                .get(env.url("/sandbox/clock"))
                .header("sec-fetch-site", "none"),
        )
        .await;
    assert_eq!(typed.status, 200);
    assert_eq!(env.usd().await.0, "10000.00", "nothing was reset");
    still_serves(&env).await;
}

#[tokio::test]
async fn a_json_endpoint_sent_another_media_type_answers_415_and_changes_nothing() {
    let env = Env::new().await;
    let body = serde_json::to_string(&buy("ins_xyz789", "100.00")).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = env
            .http
            .post(env.url(&env.orders_path()))
            .bearer_auth(&env.account.token)
            .body(body.clone());
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let answer = env.send(request).await;
        assert_eq!(answer.status, 415, "{content_type:?}");
        assert_eq!(answer.code(), "unsupported_media_type");
        assert_eq!(answer.param_paths(), ["header.Content-Type"]);
    }
    assert!(env.orders().await.is_empty());
    // A charset parameter is fine.
    let answer = env
        .send(
            env.http
                .post(env.url(&env.orders_path()))
                .bearer_auth(&env.account.token)
                .header("content-type", "application/json; charset=utf-8")
                .body(body),
        )
        .await;
    assert_eq!(answer.status, 201);
    // The token endpoint takes a form, and refuses JSON in its own (OAuth) error shape.
    let token = env
        .send(
            env.http
                .post(env.url("/auth/token"))
                .json(&json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_eq!(token.status, 415);
    assert_eq!(token.body["error"], "invalid_request");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_answers_413_and_places_nothing() {
    let env = Env::new().await;
    let mut order = buy("ins_xyz789", "100.00");
    order["padding"] = Value::String("x".repeat(2 << 20));
    let answer = env.place(order).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.code(), "request_too_large");
    assert_eq!(answer.param_paths(), ["body"]);
    let control = env
        .send(
            control(&env, "/accounts")
                .header("content-type", "application/json")
                .body(vec![b' '; (1 << 20) + 1]),
        )
        .await;
    assert_eq!(control.status, 413);
    assert!(env.orders().await.is_empty());
    assert_eq!(
        env.usd().await,
        ("10000.00".into(), "10000.00".into(), "0.00".into())
    );
    still_serves(&env).await;
}

#[tokio::test]
async fn a_request_whose_headers_never_finish_is_closed() {
    let config = SandboxConfig {
        header_read_timeout: Duration::from_millis(200),
        ..SandboxConfig::held()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(sandbox.addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /instruments HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The server closes the connection; the outer bound only keeps a broken build from hanging.
    let closed = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was still open after 30 s");
}

#[tokio::test]
async fn an_amount_the_lifecycle_cannot_carry_is_refused_at_placement() {
    let env = Env::new().await;
    let max = "79228162514264337593543950335";
    for (body, path) in [
        (buy("ins_xyz789", max), "body.cash_amount"),
        (buy("ins_xyz789", "1000000000000000.01"), "body.cash_amount"),
        (sell("ins_xyz789", max), "body.quantity"),
    ] {
        let answer = env.place(body).await;
        assert_eq!(answer.status, 400, "{:?}", answer.body);
        assert_eq!(answer.param_paths(), [path]);
        assert_eq!(answer.body["params"][0]["code"], "too_large");
    }
    // Nor can an account be funded past what the lifecycle carries.
    let funded = env
        .send(control(&env, "/accounts").json(&json!({"cash": {"USD": max}})))
        .await;
    assert_eq!(funded.status, 400);
    assert_eq!(funded.param_paths(), ["body.cash.USD"]);
    let priced = env
        .send(
            env.http
                .put(env.url("/sandbox/instruments/ins_xyz789"))
                .json(&json!({"price": "0.0000000001"})),
        )
        .await;
    assert_eq!(priced.status, 400);
    assert_eq!(priced.param_paths(), ["body.price"]);
    assert!(env.orders().await.is_empty());
    still_serves(&env).await;
}

#[tokio::test]
async fn the_largest_accepted_buy_runs_to_settlement_without_overflow() {
    let env = Env::with_account(AccountSpec::usd("1000000000000000")).await;
    let lowest = env
        .send(
            env.http
                .put(env.url("/sandbox/instruments/ins_xyz789"))
                .json(&json!({"price": "0.000001"})),
        )
        .await;
    assert_eq!(lowest.status, 200);
    let order = env.buy("ins_xyz789", "1000000000000000").await;
    env.sandbox.settle();
    let settled = env.order(order["id"].as_str().unwrap()).await;
    assert_eq!(settled["status"], "settled");
    let units: rust_decimal::Decimal = settled["traded_quantity"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        units,
        rust_decimal::Decimal::from(995_000_000_000_000_000_000_u128)
    );
    assert!(env.sandbox.broken_invariants().is_empty());
}

#[tokio::test]
async fn the_clock_cannot_be_moved_past_its_bounds() {
    let env = Env::new().await;
    let before = env.sandbox.now();
    for seconds in [
        json!(1e13),
        json!(1e11),
        json!(400_000_000),
        json!(-1),
        json!("5"),
    ] {
        let answer = env
            .send(control(&env, "/clock/advance").json(&json!({"seconds": seconds})))
            .await;
        assert_eq!(answer.status, 400, "{seconds}: {:?}", answer.body);
        assert!(
            answer.param_paths() == ["body.seconds"] || answer.param_paths() == ["body"],
            "{seconds}: {:?}",
            answer.body
        );
    }
    assert_eq!(env.sandbox.now(), before);
    let ten_years = env
        .send(control(&env, "/clock/advance").json(&json!({"seconds": 3660 * 86400})))
        .await;
    assert_eq!(ten_years.status, 200);
    // Ten years on, the bond has matured and closed; the series keep a bill on the run.
    let bond = env.place(buy("ins_xyz789", "100.00")).await;
    assert_eq!(bond.code(), "instrument_not_trading", "{:?}", bond.body);
    let instruments = env.get("/instruments").await;
    let bill = instruments
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|i| {
            i["symbol"].as_str().unwrap().starts_with("UST3M") && i["trading_status"] == "buy_sell"
        })
        .expect("a US 3-month bill on the run");
    assert!(bill["days_to_maturity"].as_i64().unwrap() > 0, "{bill}");
    let order = env.buy(bill["id"].as_str().unwrap(), "100.00").await;
    env.sandbox.settle();
    assert_eq!(
        env.order(order["id"].as_str().unwrap()).await["status"],
        "settled"
    );
}

#[tokio::test]
async fn a_stalled_request_is_released_over_http() {
    let env = Env::new().await;
    let armed = env
        .send(control(&env, "/faults").json(&json!({"kind": "stall", "operation": "place_order"})))
        .await;
    assert_eq!(armed.status, 201);
    let request = env
        .http
        .post(env.url(&env.orders_path()))
        .bearer_auth(&env.account.token)
        .header("idempotency-key", "held")
        .json(&buy("ins_xyz789", "100.00"));
    let stalled = env.sandbox.stalled();
    let held = tokio::spawn(request.send());
    stalled.await;
    let in_progress = env
        .place_with_key("held", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(in_progress.code(), "idempotency_request_in_progress");
    let released = env.send(control(&env, "/faults/release")).await;
    assert_eq!(released.status, 204);
    let first = held.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    let replay = env
        .place_with_key("held", &buy("ins_xyz789", "100.00"))
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn a_method_the_path_does_not_have_answers_405_as_json_with_allow() {
    let env = Env::new().await;
    let answer = env
        .send(
            env.http
                .delete(env.url("/instruments"))
                .bearer_auth(&env.account.token),
        )
        .await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.code(), "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("GET,HEAD"));
    let control = env.send(env.http.get(env.url("/sandbox/reset"))).await;
    assert_eq!(control.status, 405);
    assert_eq!(control.code(), "method_not_allowed");
}

#[tokio::test]
async fn a_sell_below_the_minimum_trading_quantity_is_refused_where_rules_are_enforced() {
    let env = Env::new().await;
    let answer = env.place(sell("ins_xyz789", "0.50")).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert_eq!(answer.param_paths(), ["body.quantity"]);
    assert_eq!(answer.body["params"][0]["code"], "too_small");
    assert_eq!(env.units("ins_xyz789").await, ("50".into(), "50".into()));
    env.sell("ins_xyz789", "1.00").await;
}

#[tokio::test]
async fn a_token_answers_the_scope_it_has_and_refuses_an_unknown_one() {
    let env = Env::new().await;
    let client = env
        .sandbox
        .create_client(vec![env.account.id.clone()])
        .unwrap();
    let ask = |scope: &str| {
        env.http.post(env.url("/auth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_str()),
            ("scope", scope),
        ])
    };
    let read = env.send(ask("orders:read")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["scope"], "orders:read orders:write");
    let admin = env.send(ask("orders:read admin:everything")).await;
    assert_eq!(admin.status, 400);
    assert_eq!(admin.body["error"], "invalid_scope");
}

#[tokio::test]
async fn secrets_are_random_unless_a_secret_seed_is_given() {
    let a = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let b = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let spec = AccountSpec::usd("1.00");
    let (ta, tb) = (
        a.create_account(&spec).unwrap(),
        b.create_account(&spec).unwrap(),
    );
    assert_eq!(ta.id, tb.id, "ids follow the seed");
    assert_ne!(ta.token, tb.token, "tokens do not");
    let seeded = || SandboxConfig {
        secret_seed: Some(7),
        ..SandboxConfig::held()
    };
    let c = Sandbox::start(seeded()).await.unwrap();
    let d = Sandbox::start(seeded()).await.unwrap();
    assert_eq!(
        c.create_account(&spec).unwrap().token,
        d.create_account(&spec).unwrap().token
    );
    let (kc, kd) = (
        c.create_client(Vec::new()).unwrap(),
        d.create_client(Vec::new()).unwrap(),
    );
    assert_eq!(kc.secret, kd.secret);
    assert_ne!(kc.secret, a.create_client(Vec::new()).unwrap().secret);
}

#[tokio::test]
async fn the_control_plane_needs_its_token_when_it_has_one_and_off_loopback() {
    let config = SandboxConfig {
        access: Access {
            control_token: Some("ctl-secret".into()),
            ..Access::default()
        },
        ..SandboxConfig::held()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/clock", sandbox.base_url());
    let without = http.get(&url).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let wrong = http
        .get(&url)
        .bearer_auth("ctl-secre")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let with = http
        .get(&url)
        .bearer_auth("ctl-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);

    let open = SandboxConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..SandboxConfig::held()
    };
    let refused = Sandbox::start(open).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    assert!(refused.to_string().contains("control token"), "{refused}");
}

#[tokio::test]
async fn faults_are_bounded() {
    let env = Env::new().await;
    let answer = env
        .send(
            control(&env, "/faults")
                .json(&json!({"kind": "rate_limited", "retry_after": 10_000_000})),
        )
        .await;
    assert_eq!(answer.param_paths(), ["body.retry_after"]);
    let answer = env
        .send(control(&env, "/faults").json(&json!({"kind": "internal_error", "count": 2_000_000})))
        .await;
    assert_eq!(answer.param_paths(), ["body.count"]);
    assert!(env.sandbox.armed_faults().is_empty());
    env.sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 1).on("get_order"));
    assert_eq!(env.sandbox.armed_faults().len(), 1);
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_json_error_naming_it() {
    let env = Env::new().await;
    let answer = env
        .send(
            env.http
                .post(env.url("/accounts/%FF/orders"))
                .bearer_auth(&env.account.token)
                .json(&buy("ins_xyz789", "100.00")),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "invalid_param");
    assert_eq!(answer.param_paths(), ["path.account_id"]);
    let control = env
        .send(
            env.http
                .put(env.url("/sandbox/instruments/%C3%28"))
                .json(&json!({"price": "1.00"})),
        )
        .await;
    assert_eq!(control.param_paths(), ["path.instrument_id"]);
    assert!(env.orders().await.is_empty());
}

#[tokio::test]
async fn a_fault_on_an_operation_the_spec_does_not_have_is_refused() {
    let env = Env::new().await;
    let answer = env
        .send(
            control(&env, "/faults")
                .json(&json!({"kind": "internal_error", "operation": "no_such_operation"})),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.param_paths(), ["body.operation"]);
    assert!(env.sandbox.armed_faults().is_empty());
    let known = env
        .send(
            control(&env, "/faults")
                .json(&json!({"kind": "internal_error", "operation": "get_order"})),
        )
        .await;
    assert_eq!(known.status, 201);
}

#[tokio::test]
async fn a_stalled_request_whose_client_went_away_gives_its_key_back() {
    let env = Env::new().await;
    env.sandbox
        .arm(FaultSpec::new(FaultKind::Stall, 1).on("place_order"));
    let stalled = env.sandbox.stalled();
    let request = env
        .http
        .post(env.url(&env.orders_path()))
        .bearer_auth(&env.account.token)
        .header("idempotency-key", "abandoned")
        .json(&buy("ins_xyz789", "100.00"));
    let held = tokio::spawn(request.send());
    stalled.await;
    held.abort();
    let _ = held.await;
    // The connection is gone; the key is free once the server has dropped the request.
    let retry = async {
        loop {
            let answer = env
                .place_with_key("abandoned", &buy("ins_xyz789", "100.00"))
                .await;
            if answer.code() != "idempotency_request_in_progress" {
                break answer;
            }
            tokio::task::yield_now().await;
        }
    };
    // Bounded so that a server that never notices fails the test instead of hanging it.
    let retried = tokio::time::timeout(Duration::from_secs(20), retry)
        .await
        .expect("the key was given back");
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(env.orders().await.len(), 1);
}

#[tokio::test]
async fn an_empty_control_token_or_a_bad_retention_is_refused_at_start() {
    let empty = SandboxConfig {
        access: Access {
            control_token: Some(String::new()),
            ..Access::default()
        },
        ..SandboxConfig::held()
    };
    assert_eq!(
        Sandbox::start(empty).await.unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    let negative = SandboxConfig {
        retention: Some(chrono::TimeDelta::seconds(-1)),
        ..SandboxConfig::held()
    };
    assert!(Sandbox::start(negative).await.is_err());
}

#[tokio::test]
async fn the_sandboxs_own_origin_passes_with_or_without_its_default_port() {
    let env = Env::new().await;
    let own = env.sandbox.base_url();
    let https = own.replace("http://", "https://");
    let refused = env
        .send(
            env.http
                .get(env.url("/sandbox/clock"))
                .header("origin", https),
        )
        .await;
    assert_eq!(refused.status, 403, "another scheme is another origin");
    let empty_chunked = env
        .send(control(&env, "/clock/settle").body(reqwest::Body::wrap_stream(futures_empty())))
        .await;
    assert_eq!(
        empty_chunked.status, 200,
        "an empty chunked body is bodiless"
    );
}

fn futures_empty() -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::empty()
}

#[tokio::test]
async fn malformed_rollover_switches_and_lots_are_refused_naming_the_field_and_change_nothing() {
    let env = Env::new().await;
    env.buy("ins_us3m_260312", "100.00").await;
    env.sandbox.settle();
    let positions = env
        .get(&format!("/accounts/{}/positions", env.account.id))
        .await;
    let position = positions.body.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/accounts/{}/positions/{position}", env.account.id);
    for (body, field) in [
        (
            json!({"automatic_rollover": "yes"}),
            "body.automatic_rollover",
        ),
        (json!({}), "body.automatic_rollover"),
        (
            json!({"automatic_rollover": true, "extra": 1}),
            "body.extra",
        ),
        (json!([true]), "body"),
    ] {
        let answer = env
            .send(
                env.http
                    .patch(env.url(&path))
                    .bearer_auth(&env.account.token)
                    .json(&body),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.body);
        assert_eq!(answer.param_paths(), [field], "{body}: {:?}", answer.body);
    }
    let unchanged = env
        .get(&format!("/accounts/{}/positions", env.account.id))
        .await;
    assert_eq!(unchanged.body[0]["automatic_rollover"], false);
    for lot in ["0", "0.001", "-5", "abc", "1e30"] {
        let answer = env
            .send(
                env.http
                    .put(env.url("/sandbox/instruments/ins_xyz789"))
                    .json(&json!({"lot": lot})),
            )
            .await;
        assert_eq!(answer.status, 400, "{lot}: {:?}", answer.body);
        assert_eq!(
            answer.param_paths(),
            ["body.lot"],
            "{lot}: {:?}",
            answer.body
        );
    }
    still_serves(&env).await;
}
