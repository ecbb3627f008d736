//! State that lasts (issue 14): a state file survives `kill -9`, a torn last record is cut
//! and everything before it loads, damage elsewhere is refused, one process at a time has
//! a state, and a snapshot restores every account, order, event, key and the clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use sophic_sandbox::{AccountSpec, FaultKind, FaultSpec, Sandbox, SandboxConfig, StateError};

/// A plain HTTP client for one sandbox.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, replayed, body)
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, _, body) = self.call("GET", path, Some(token), None, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Everything an account's owner can see, and the clock.
    async fn view(&self, account: &str, token: &str) -> Value {
        let mut view = json!({});
        for part in ["orders?limit=100", "cash-balances", "positions"] {
            view[part] = self
                .get(&format!("/accounts/{account}/{part}"), token)
                .await;
        }
        view["events"] = self.get("/events?limit=100", token).await;
        let (_, _, clock) = self.call("GET", "/sandbox/clock", None, None, None).await;
        view["clock"] = clock["now"].clone();
        let (_, _, faults) = self.call("GET", "/sandbox/faults", None, None, None).await;
        view["faults"] = faults;
        view
    }

    async fn buy(&self, account: &str, token: &str, key: Option<&str>, cash: &str) -> Value {
        let body = json!({"instrument": "ins_xyz789", "side": "buy", "order_type": "market", "cash_amount": cash});
        let path = format!("/accounts/{account}/orders");
        let (status, _, order) = self.call("POST", &path, Some(token), key, Some(body)).await;
        assert_eq!(status, 201, "{order}");
        order
    }

    async fn advance(&self, seconds: u64) {
        let body = json!({"seconds": seconds});
        let (status, _, clock) = self
            .call("POST", "/sandbox/clock/advance", None, None, Some(body))
            .await;
        assert_eq!(status, 200, "{clock}");
    }
}

/// A scenario touching every kind of state: orders (settled, cancelled, keyed), a
/// rollover switch, an OAuth token, a webhook, a fault, the clock.
/// Returns the webhook's id.
async fn scenario(api: &Api, account: &str, token: &str) -> String {
    api.buy(account, token, Some("buy-1"), "100.00").await;
    api.advance(5).await;
    let open = api.buy(account, token, None, "250.00").await;
    let cancel = format!(
        "/accounts/{account}/orders/{}/cancel",
        open["id"].as_str().unwrap()
    );
    let (status, _, _) = api
        .call("POST", &cancel, Some(token), Some("cancel-1"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _, hook) = api
        .call(
            "POST",
            "/webhooks",
            Some(token),
            None,
            Some(json!({"url": "https://example.com/hooks", "enabled_events": ["order.settled"]})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let fault = json!({"kind": "rate_limited", "count": 2, "operation": "create_webhook"});
    let (status, _, _) = api
        .call("POST", "/sandbox/faults", None, None, Some(fault))
        .await;
    assert_eq!(status, 201);
    api.advance(3600).await;
    hook["id"].as_str().unwrap().to_string()
}

/// Whether the webhook is there for its owner (a change of its description is answered).
async fn has_webhook(api: &Api, token: &str, id: &str) -> bool {
    let body = json!({"description": "still here"});
    let path = format!("/webhooks/{id}");
    let (status, _, _) = api.call("PUT", &path, Some(token), None, Some(body)).await;
    status == 200
}

fn held() -> SandboxConfig {
    SandboxConfig::held()
}

#[tokio::test]
async fn a_snapshot_restores_every_account_order_key_and_the_clock() {
    let first = Sandbox::start(held()).await.unwrap();
    let account = first
        .create_account(&AccountSpec::usd("10000.00").position("ins_xyz789", "50"))
        .unwrap();
    let api = Api::new(&first.base_url());
    let hook = scenario(&api, &account.id, &account.token).await;
    let before = api.view(&account.id, &account.token).await;
    let snapshot = first.snapshot().unwrap();

    let second = Sandbox::start(held()).await.unwrap();
    second.restore(&snapshot).unwrap();
    let restored = Api::new(&second.base_url());
    // The same token works, and everything its owner sees is the same.
    assert_eq!(restored.view(&account.id, &account.token).await, before);
    assert!(has_webhook(&restored, &account.token, &hook).await);
    // A retry of the keyed placement is replayed, not placed again.
    let body = json!({"instrument": "ins_xyz789", "side": "buy", "order_type": "market", "cash_amount": "100.00"});
    let path = format!("/accounts/{}/orders", account.id);
    let (status, replayed, order) = restored
        .call(
            "POST",
            &path,
            Some(&account.token),
            Some("buy-1"),
            Some(body),
        )
        .await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(order["id"], before["orders?limit=100"][1]["id"]);
    // What comes next is the same in both: the ids continue from one generator.
    let next = api.buy(&account.id, &account.token, None, "10.00").await;
    let next_restored = restored
        .buy(&account.id, &account.token, None, "10.00")
        .await;
    assert_eq!(next, next_restored);
}

#[tokio::test]
async fn a_snapshot_that_cannot_load_is_refused_and_changes_nothing() {
    let sandbox = Sandbox::start(held()).await.unwrap();
    let account = sandbox.create_account(&AccountSpec::usd("100.00")).unwrap();
    let api = Api::new(&sandbox.base_url());
    let before = api.view(&account.id, &account.token).await;
    let mut damaged = sandbox.snapshot().unwrap();
    let middle = damaged.len() / 2;
    damaged.extend_from_slice(&sandbox.snapshot().unwrap()[8..]);
    damaged[middle] ^= 0x55;
    let refused = sandbox.restore(&damaged).unwrap_err();
    assert!(matches!(refused, StateError::Damaged { .. }), "{refused}");
    assert!(sandbox.restore(b"not a state").is_err());
    // Another fee rate: the records would mean something else.
    let other = Sandbox::start(SandboxConfig {
        rules: sophic_sandbox::Rules {
            fee_rate: "0.01".parse().unwrap(),
            ..Default::default()
        },
        ..held()
    })
    .await
    .unwrap();
    let refused = sandbox.restore(&other.snapshot().unwrap()).unwrap_err();
    assert!(refused.to_string().contains("--fee-rate"), "{refused}");
    assert_eq!(api.view(&account.id, &account.token).await, before);
    // Over HTTP, the same refusal names the body.
    let response = reqwest::Client::new()
        .put(format!("{}/sandbox/state", sandbox.base_url()))
        .header("content-type", "application/octet-stream")
        .body(damaged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["params"][0]["path"], "body", "{body}");
    assert_eq!(api.view(&account.id, &account.token).await, before);
}

#[tokio::test]
async fn a_snapshot_travels_over_http_and_a_server_without_state_has_none() {
    let from = Sandbox::start(held()).await.unwrap();
    let account = from.create_account(&AccountSpec::usd("500.00")).unwrap();
    let http = reqwest::Client::new();
    let snapshot = http
        .get(format!("{}/sandbox/state", from.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status().as_u16(), 200);
    let snapshot = snapshot.bytes().await.unwrap();
    let to = Sandbox::start(held()).await.unwrap();
    let put = http
        .put(format!("{}/sandbox/state", to.base_url()))
        .header("content-type", "application/octet-stream")
        .body(snapshot.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 204);
    let api = Api::new(&to.base_url());
    let cash = api
        .get(
            &format!("/accounts/{}/cash-balances", account.id),
            &account.token,
        )
        .await;
    assert_eq!(cash[0]["total"], "500.00");
    // A snapshot is not JSON: sent as JSON it is refused before it is read.
    let as_json = http
        .put(format!("{}/sandbox/state", to.base_url()))
        .header("content-type", "application/json")
        .body(snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status().as_u16(), 415);

    let off = Sandbox::start(SandboxConfig {
        persistence: sophic_sandbox::Persistence::Off,
        ..held()
    })
    .await
    .unwrap();
    assert!(off.snapshot().is_err());
    let none = http
        .get(format!("{}/sandbox/state", off.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status().as_u16(), 404);
}

// ---- the binary, with a state file -------------------------------------------------

/// A `sophic-sandbox` process and what its banner said.
struct Server {
    child: Child,
    base: String,
    account: String,
    token: String,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sophic-state-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn command(state: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sophic-sandbox"));
    command
        .args(["--port", "0", "--clock", "held", "--state"])
        .arg(state)
        .args(extra)
        .env_remove("SOPHIC_SANDBOX_STATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts the server on `state` and reads its banner.
fn start(state: &Path, extra: &[&str]) -> Server {
    let mut child = command(state, extra).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut field = |prefix: &str| loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the banner has {prefix}"))
            .unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_string();
        }
    };
    let base = field("Sophic sandbox listening on");
    let account = field("demo account:");
    let token = field("demo token:");
    Server {
        child,
        base,
        account,
        token,
    }
}

/// Runs the server on `state` expecting it to refuse to start; returns its stderr.
fn refused(state: &Path, extra: &[&str]) -> String {
    let output = command(state, extra).output().unwrap();
    assert!(!output.status.success(), "it started");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_state_file_survives_kill_9_with_every_order_balance_event_and_key() {
    let dir = temp_dir("kill");
    let state = dir.join("state");
    let mut server = start(&state, &[]);
    let api = Api::new(&server.base);
    let hook = scenario(&api, &server.account, &server.token).await;
    let before = api.view(&server.account, &server.token).await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();

    let mut again = start(&state, &[]);
    assert_eq!(
        (&again.account, &again.token),
        (&server.account, &server.token),
        "the demo account is the state's"
    );
    let api = Api::new(&again.base);
    assert_eq!(api.view(&again.account, &again.token).await, before);
    assert!(has_webhook(&api, &again.token, &hook).await);
    let body = json!({"instrument": "ins_xyz789", "side": "buy", "order_type": "market", "cash_amount": "100.00"});
    let path = format!("/accounts/{}/orders", again.account);
    let (status, replayed, _) = api
        .call("POST", &path, Some(&again.token), Some("buy-1"), Some(body))
        .await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    let (status, _, health) = api.call("GET", "/sandbox/health", None, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(health["state"], state.display().to_string());

    // One process at a time has a state.
    let stderr = refused(&state, &[]);
    assert!(stderr.contains("is in use"), "{stderr}");

    // SIGTERM stops it gracefully, and what it kept loads again.
    let pid = again.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(again.child.wait().unwrap().success());
    let mut third = start(&state, &[]);
    let api = Api::new(&third.base);
    let after = api.view(&third.account, &third.token).await;
    assert_eq!(after["orders?limit=100"], before["orders?limit=100"]);
    third.child.kill().unwrap();
    third.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_torn_last_record_is_cut_and_damage_before_it_is_refused() {
    let dir = temp_dir("damage");
    let state = dir.join("state");
    let mut server = start(&state, &[]);
    let api = Api::new(&server.base);
    api.buy(&server.account, &server.token, Some("k"), "100.00")
        .await;
    let before = api.view(&server.account, &server.token).await;
    // The last change: a fault, whose record is then torn.
    let fault = json!({"kind": "internal_error", "count": 1, "operation": "list_orders"});
    let (status, _, _) = api
        .call("POST", "/sandbox/faults", None, None, Some(fault))
        .await;
    assert_eq!(status, 201);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let whole = std::fs::read(&state).unwrap();
    std::fs::write(&state, &whole[..whole.len() - 5]).unwrap();
    let mut torn = start(&state, &[]);
    let api = Api::new(&torn.base);
    assert_eq!(
        api.view(&torn.account, &torn.token).await,
        before,
        "everything before the torn record loads; the fault is gone"
    );
    torn.child.kill().unwrap();
    torn.child.wait().unwrap();

    // A byte flipped in the middle: refused, naming where, and the file left as it was.
    let mut damaged = std::fs::read(&state).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x20;
    std::fs::write(&state, &damaged).unwrap();
    let stderr = refused(&state, &[]);
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert!(stderr.contains("fails its checksum"), "{stderr}");
    assert_eq!(std::fs::read(&state).unwrap(), damaged);

    // Not a state at all, and a state for other settings: refused, never emptied.
    let other = dir.join("other");
    std::fs::write(&other, b"{\"accounts\": []}").unwrap();
    assert!(refused(&other, &[]).contains("does not start like a sophic sandbox state"));
    let fresh = dir.join("fresh");
    let mut server = start(&fresh, &[]);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let stderr = refused(&fresh, &["--fee-rate", "0.01"]);
    assert!(stderr.contains("--fee-rate"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn faults_and_their_hits_are_kept() {
    let dir = temp_dir("faults");
    let state = dir.join("state");
    let mut server = start(&state, &[]);
    let api = Api::new(&server.base);
    let sandbox_fault = FaultSpec::new(FaultKind::RateLimited, 3).on("list_orders");
    let (status, _, _) = api
        .call(
            "POST",
            "/sandbox/faults",
            None,
            None,
            Some(serde_json::to_value(&sandbox_fault).unwrap()),
        )
        .await;
    assert_eq!(status, 201);
    let path = format!("/accounts/{}/orders", server.account);
    let (status, _, _) = api
        .call("GET", &path, Some(&server.token), None, None)
        .await;
    assert_eq!(status, 429);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut again = start(&state, &[]);
    let api = Api::new(&again.base);
    let (_, _, faults) = api.call("GET", "/sandbox/faults", None, None, None).await;
    assert_eq!(faults[0]["count"], 2, "{faults}");
    again.child.kill().unwrap();
    again.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

// ---- one state file taken by turns (the command line's local sandbox) ----------------

fn shared(path: &Path) -> SandboxConfig {
    SandboxConfig {
        persistence: sophic_sandbox::Persistence::Shared(path.to_path_buf()),
        demo_account: true,
        ..held()
    }
}

#[tokio::test]
async fn processes_taking_turns_see_each_others_changes_keys_and_resets() {
    let dir = temp_dir("turns");
    let path = dir.join("state");
    let a = Sandbox::start(shared(&path)).await.unwrap();
    let b = Sandbox::start(shared(&path)).await.unwrap();
    let (account, _) = a.demo().unwrap().clone();
    assert_eq!(
        b.demo().unwrap().0,
        account,
        "one demo account in one state"
    );
    let (api_a, api_b) = (Api::new(&a.base_url()), Api::new(&b.base_url()));

    // A places with a key; B sees the order, and the same key replays A's answer.
    let placed = api_a
        .buy(&account.id, &account.token, Some("turn-1"), "100.00")
        .await;
    let seen = api_b
        .get(&format!("/accounts/{}/orders", account.id), &account.token)
        .await;
    assert_eq!(seen[0]["id"], placed["id"]);
    let again = api_b
        .buy(&account.id, &account.token, Some("turn-1"), "100.00")
        .await;
    assert_eq!(
        again["id"], placed["id"],
        "one key, one order, across processes"
    );
    assert_eq!(
        api_a.view(&account.id, &account.token).await["orders?limit=100"],
        api_b.view(&account.id, &account.token).await["orders?limit=100"]
    );

    // B starts over; A, still running, follows (the old token is gone), even though the
    // file after the reset has the same length as before.
    b.reset();
    let (status, _, _) = api_a
        .call(
            "GET",
            &format!("/accounts/{}/orders", account.id),
            Some(&account.token),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    drop((a, b));

    // What both wrote loads in a server of its own (as a file it keeps).
    let c = Sandbox::start(SandboxConfig {
        persistence: sophic_sandbox::Persistence::File(path.clone()),
        ..held()
    })
    .await
    .unwrap();
    assert!(c.snapshot().is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn after_a_reset_a_state_restarts_where_the_clock_was() {
    let dir = temp_dir("reset-clock");
    let path = dir.join("state");
    let config = || SandboxConfig {
        persistence: sophic_sandbox::Persistence::File(path.clone()),
        ..held()
    };
    let first = Sandbox::start(config()).await.unwrap();
    first.advance(std::time::Duration::from_secs(30 * 86_400));
    first.reset();
    let account = first.create_account(&AccountSpec::usd("100.00")).unwrap();
    Api::new(&first.base_url())
        .buy(&account.id, &account.token, None, "10.00")
        .await;
    let now = first.now();
    drop(first);
    let again = Sandbox::start(config()).await.unwrap();
    assert_eq!(again.now(), now);
    // Its order moves when the clock does: it is not in the clock's future.
    again.advance(std::time::Duration::from_secs(10));
    let api = Api::new(&again.base_url());
    let orders = api
        .get(&format!("/accounts/{}/orders", account.id), &account.token)
        .await;
    assert_eq!(orders[0]["status"], "settled", "{orders}");
    let _ = std::fs::remove_dir_all(dir);
}
