//! The `sophic` binary against a sandbox with a held clock: the human and `--json` output
//! of each command (insta snapshots), and the exit codes scripts rely on.

use std::process::Command;

use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig, TestAccount};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A sandbox (held clock, fixed seed) and an account with cash and units.
async fn sandbox() -> (Sandbox, TestAccount) {
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let account = sandbox
        .create_account(&AccountSpec::usd("10000.00").position("ins_xyz789", "50"))
        .unwrap();
    (sandbox, account)
}

/// `sophic` with `args` and nothing configured but the local sandbox's state file.
fn unconfigured(args: &[&str], state: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sophic"));
    command.args(args);
    for var in [
        "SOPHIC_BASE_URL",
        "SOPHIC_TOKEN",
        "SOPHIC_CLIENT_ID",
        "SOPHIC_CLIENT_SECRET",
        "SOPHIC_ACCOUNT",
        "SOPHIC_PROFILE",
        "SOPHIC_CONFIG",
    ] {
        command.env_remove(var);
    }
    command
        .env("NO_COLOR", "1")
        .env("SOPHIC_SANDBOX_STATE", state);
    command
}

/// Runs a command to its end.
async fn finish(mut command: Command) -> Run {
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs `sophic` with `args`, configured for the sandbox (or with no configuration, and
/// then never the user's own local sandbox: one of its own per run).
async fn sophic(target: Option<(&Sandbox, &TestAccount)>, args: &[&str]) -> Run {
    let mut command = unconfigured(args, &temp_dir("run").join("sandbox.state"));
    if let Some((sandbox, account)) = target {
        command
            .env("SOPHIC_BASE_URL", sandbox.base_url())
            .env("SOPHIC_TOKEN", &account.token)
            .env("SOPHIC_ACCOUNT", &account.id);
    }
    finish(command).await
}

/// A new, empty directory of this test run.
fn temp_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sophic-cli-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sophic` with nothing configured but the local sandbox's state file; it must
/// succeed.
async fn local(state: &std::path::Path, args: &[&str]) -> Run {
    let run = finish(unconfigured(args, state)).await;
    assert_eq!(run.code, 0, "sophic {args:?}: {}", run.stderr);
    run
}

/// Runs a command that must succeed and returns its stdout.
async fn ok(sandbox: &Sandbox, account: &TestAccount, args: &[&str]) -> String {
    let run = sophic(Some((sandbox, account)), args).await;
    assert_eq!(run.code, 0, "sophic {args:?} failed: {}", run.stderr);
    run.stdout
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).expect("--json prints JSON")
}

macro_rules! snapshot_both {
    ($name:literal, $sandbox:expr, $account:expr, [$($arg:expr),*]) => {{
        let human = ok($sandbox, $account, &[$($arg),*]).await;
        insta::assert_snapshot!(concat!($name, "_human"), human);
        let machine = ok($sandbox, $account, &[$($arg,)* "--json"]).await;
        insta::assert_json_snapshot!(concat!($name, "_json"), json(&machine));
    }};
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_commands_print_tables_and_json() {
    let (sandbox, account) = sandbox().await;
    snapshot_both!(
        "orders_buy",
        &sandbox,
        &account,
        [
            "orders",
            "buy",
            "--instrument",
            "ins_xyz789",
            "--cash",
            "100.00"
        ]
    );
    snapshot_both!(
        "orders_sell",
        &sandbox,
        &account,
        [
            "orders",
            "sell",
            "--instrument",
            "ins_xyz789",
            "--quantity",
            "10"
        ]
    );
    let orders = json(&ok(&sandbox, &account, &["orders", "list", "--json"]).await);
    let first = orders[orders.as_array().unwrap().len() - 1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    snapshot_both!(
        "orders_list_pending",
        &sandbox,
        &account,
        ["orders", "list", "--pending"]
    );
    let cancelled = orders[0]["id"].as_str().unwrap().to_string();
    snapshot_both!(
        "orders_cancel",
        &sandbox,
        &account,
        ["orders", "cancel", &cancelled]
    );
    sandbox.settle();
    snapshot_both!("orders_get", &sandbox, &account, ["orders", "get", &first]);
    snapshot_both!("orders_list", &sandbox, &account, ["orders", "list"]);
    snapshot_both!(
        "orders_list_filtered",
        &sandbox,
        &account,
        ["orders", "list", "--side", "buy", "--status", "settled"]
    );
    snapshot_both!(
        "orders_wait",
        &sandbox,
        &account,
        ["orders", "wait", &first]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn account_and_catalogue_commands_print_tables_and_json() {
    let (sandbox, account) = sandbox().await;
    ok(
        &sandbox,
        &account,
        &[
            "orders",
            "buy",
            "--instrument",
            "ins_xyz789",
            "--cash",
            "100.00",
        ],
    )
    .await;
    sandbox.settle();
    snapshot_both!("balances", &sandbox, &account, ["balances"]);
    snapshot_both!("positions", &sandbox, &account, ["positions"]);
    snapshot_both!("events", &sandbox, &account, ["events", "--limit", "3"]);
    snapshot_both!(
        "instruments_list",
        &sandbox,
        &account,
        ["instruments", "list"]
    );
    snapshot_both!(
        "instruments_get",
        &sandbox,
        &account,
        ["instruments", "get", "ins_xyz789"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_commands_create_update_test_and_verify() {
    let (sandbox, account) = sandbox().await;
    let created = json(
        &ok(
            &sandbox,
            &account,
            &[
                "webhooks",
                "create",
                "--url",
                "http://127.0.0.1:9/hook",
                "--event",
                "order.settled",
                "--json",
            ],
        )
        .await,
    );
    insta::assert_json_snapshot!("webhooks_create_json", created, {".secret" => "[secret]"});
    let id = created["id"].as_str().unwrap();
    let human = ok(&sandbox, &account, &["webhooks", "update", id, "--disable"]).await;
    insta::assert_snapshot!("webhooks_update_human", human);
    let tested = json(&ok(&sandbox, &account, &["webhooks", "test", id, "--json"]).await);
    assert_eq!(tested["webhook"], id);
    assert!(tested["event"].is_null());

    // A delivery saved to files verifies against its secret, and fails when tampered with.
    let secret = created["secret"].as_str().unwrap();
    let dir = std::env::temp_dir().join(format!("sophic-cli-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let order = json(
        &ok(
            &sandbox,
            &account,
            &[
                "orders",
                "buy",
                "--instrument",
                "ins_xyz789",
                "--cash",
                "100.00",
                "--json",
            ],
        )
        .await,
    );
    let body = serde_json::json!({
        "id": "evt_1", "name": "order.settled", "resource": {"id": order["id"], "resource_type": "order"},
        "data": order, "created_at": "2026-03-12T14:30:00Z"
    })
    .to_string();
    let parsed: sophic::webhooks::WebhookSecret = secret.parse().unwrap();
    let signature = sophic::webhooks::sign(&parsed, "whd_1", 1_773_325_800, body.as_bytes());
    let headers = format!(
        "HTTP/1.1 200 OK\nwebhook-id: whd_1\nwebhook-timestamp: 1773325800\nwebhook-signature: {signature}\n"
    );
    std::fs::write(dir.join("headers.txt"), headers).unwrap();
    std::fs::write(dir.join("body.json"), &body).unwrap();
    let verify = |body_file: &'static str| {
        let dir = dir.clone();
        let secret = secret.to_string();
        async move {
            let h = dir.join("headers.txt");
            let b = dir.join(body_file);
            sophic(
                None,
                &[
                    "webhooks",
                    "verify",
                    "--secret",
                    &secret,
                    "--headers",
                    h.to_str().unwrap(),
                    "--body",
                    b.to_str().unwrap(),
                    "--at",
                    "1773325860",
                ],
            )
            .await
        }
    };
    let good = verify("body.json").await;
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert!(
        good.stdout
            .starts_with("verified: delivery whd_1 (order.settled): order ord_"),
        "{}",
        good.stdout
    );
    std::fs::write(dir.join("tampered.json"), body.replace("100.00", "900.00")).unwrap();
    let bad = verify("tampered.json").await;
    assert_eq!(bad.code, 5, "{}", bad.stderr);
    assert!(bad.stderr.contains("no signature"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_tell_usage_refusal_and_unreachable_apart() {
    let (sandbox, account) = sandbox().await;
    let usage = sophic(
        Some((&sandbox, &account)),
        &["orders", "buy", "--instrument", "ins_xyz789", "--cash=0"],
    )
    .await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert!(usage.stderr.contains("--cash"), "{}", usage.stderr);
    let bad_id = sophic(Some((&sandbox, &account)), &["orders", "get", "xyz"]).await;
    assert_eq!(bad_id.code, 2, "{}", bad_id.stderr);

    let refused = sophic(
        Some((&sandbox, &account)),
        &[
            "orders",
            "buy",
            "--instrument",
            "ins_xyz789",
            "--cash",
            "20000.00",
        ],
    )
    .await;
    assert_eq!(refused.code, 3);
    insta::assert_snapshot!("insufficient_funds_stderr", refused.stderr);
    assert!(
        json(&ok(&sandbox, &account, &["orders", "list", "--json"]).await)
            .as_array()
            .unwrap()
            .is_empty()
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut command = Command::new(env!("CARGO_BIN_EXE_sophic"));
    command
        .args(["balances"])
        .env("SOPHIC_BASE_URL", &closed)
        .env("SOPHIC_TOKEN", "t")
        .env("SOPHIC_ACCOUNT", "acc_1");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_without_credentials_is_a_usage_error() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sophic"));
    command
        .args(["balances"])
        .env("SOPHIC_BASE_URL", "http://127.0.0.1:9");
    for var in ["SOPHIC_TOKEN", "SOPHIC_CLIENT_ID", "SOPHIC_CLIENT_SECRET"] {
        command.env_remove(var);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// Runs `sophic balances` against `base_url` with a token, and `env` on top.
async fn balances_at(base_url: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sophic"));
    command.arg("balances").args(args);
    for var in [
        "SOPHIC_CLIENT_ID",
        "SOPHIC_CLIENT_SECRET",
        "SOPHIC_ALLOW_INSECURE_HTTP",
    ] {
        command.env_remove(var);
    }
    command
        .env("NO_COLOR", "1")
        .env("SOPHIC_BASE_URL", base_url)
        .env("SOPHIC_TOKEN", "tok_SECRET_cli_clear")
        .env("SOPHIC_ACCOUNT", "acc_1")
        .envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_over_plain_http_off_loopback_are_a_usage_error_unless_allowed() {
    let refused = balances_at("http://api.example.com", &[], &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    for part in [
        "clear text",
        "`api.example.com`",
        "--allow-insecure-http",
        "SOPHIC_ALLOW_INSECURE_HTTP",
    ] {
        assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
    }
    assert!(!refused.stderr.contains("tok_SECRET_cli_clear"));
    assert!(refused.stdout.is_empty());

    // 0.0.0.0 is not loopback, yet a connection to it stays on this machine: with the
    // opt-in the call is made, and fails only because nothing listens (exit 4, not 2).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unspecified = format!("http://0.0.0.0:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let refused = balances_at(&unspecified, &[], &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let by_env = balances_at(&unspecified, &[("SOPHIC_ALLOW_INSECURE_HTTP", "1")], &[]).await;
    assert_eq!(by_env.code, 4, "{}", by_env.stderr);
    let by_flag = balances_at(&unspecified, &[], &["--allow-insecure-http"]).await;
    assert_eq!(by_flag.code, 4, "{}", by_flag.stderr);
    let turned_off = balances_at(&unspecified, &[("SOPHIC_ALLOW_INSECURE_HTTP", "0")], &[]).await;
    assert_eq!(turned_off.code, 2, "{}", turned_off.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_the_output() {
    let (sandbox, account) = sandbox().await;
    let run = sophic(
        Some((&sandbox, &account)),
        &[
            "orders",
            "buy",
            "--instrument",
            "ins_xyz789",
            "--cash",
            "20000.00",
        ],
    )
    .await;
    assert!(!run.stdout.contains(&account.token) && !run.stderr.contains(&account.token));
    // The refusal path really ran (with the token in the environment).
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("insufficient_funds"), "{}", run.stderr);
    let help = sophic(Some((&sandbox, &account)), &["--help"]).await;
    assert!(
        !help.stdout.contains(&account.token),
        "help shows no env values"
    );
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("SOPHIC_TOKEN"),
        "the env-backed flag is listed, its value hidden"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_the_whole_journey() {
    let run = sophic(None, &["demo"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The demo runs on the real clock, where the bond's price walks day by day (contract
    // section 11), so the units and prices are the day's; the cash figures are not.
    for line in [
        "placed ord_",
        "cash 100.00, fees 0.50, net 99.50",
        " units at 0.9",
        "(fees 0.50)",
        "units back",
        " units sold for ",
        "in fees",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing `{line}` in:\n{}",
            run.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sophic_sandbox_serves_until_stopped_and_prints_how_to_reach_it() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sophic"))
        .args(["sandbox", "--port", "0", "--clock", "held"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.starts_with("oauth client:");
            banner.push(line);
            if done {
                break;
            }
        }
        banner
    })
    .await
    .unwrap();
    let field = |prefix: &str| {
        banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .unwrap()
    };
    let base = field("Sophic sandbox listening on");
    let token = field("demo token:");
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with("clock:") && l.contains("held"))
    );
    let answer = reqwest::Client::new()
        .get(format!("{base}/instruments"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // `sophic sandbox env` prints what a shell evaluates to use it.
    let mut env = Command::new(env!("CARGO_BIN_EXE_sophic"));
    env.args(["sandbox", "env", "--base-url", &base]);
    let output = tokio::task::spawn_blocking(move || env.output().unwrap())
        .await
        .unwrap();
    let exports = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{exports}");
    assert!(
        exports.contains(&format!("export SOPHIC_TOKEN='{token}'")),
        "{exports}"
    );
    assert!(
        exports.contains(&format!("export SOPHIC_BASE_URL='{base}'")),
        "{exports}"
    );
    // SIGTERM stops it gracefully.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rollover_demo_shows_the_rollover_the_cash_below_zero_and_the_payout() {
    let run = sophic(None, &["demo", "--rollover", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run.stdout);
    let rollover = report["rollover"].as_array().unwrap();
    assert_eq!(rollover.len(), 1, "{report:#}");
    assert_eq!(rollover[0]["purpose"], "rollover");
    assert_eq!(rollover[0]["cash_amount"], report["buy"]["traded_quantity"]);
    let below = &report["cash_after_rollover"][0]["total"];
    assert!(below.as_str().unwrap().starts_with('-'), "{below}");
    let after = &report["balances"][0]["total"];
    assert!(!after.as_str().unwrap().starts_with('-'), "{after}");
    assert_eq!(report["matured"].as_array().unwrap().len(), 1);
    let positions = report["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 1, "only the new bill is held");
    assert_eq!(positions[0]["automatic_rollover"], true);
    assert_eq!(
        positions[0]["instrument"]["id"],
        rollover[0]["instrument"]["id"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clock_of_a_running_sandbox_moves_from_the_command_line_and_rollover_switches() {
    let (sandbox, account) = sandbox().await;
    let start = sandbox.now();
    let moved = json(&ok(&sandbox, &account, &["sandbox", "advance", "91d", "--json"]).await);
    let now: chrono::DateTime<chrono::Utc> = moved["now"].as_str().unwrap().parse().unwrap();
    assert_eq!(now - start, chrono::TimeDelta::days(91));
    assert_eq!(sandbox.now(), now);
    let bad = sophic(Some((&sandbox, &account)), &["sandbox", "advance", "3w"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("91d"), "{}", bad.stderr);

    let instruments = json(&ok(&sandbox, &account, &["instruments", "list", "--json"]).await);
    let bill = instruments
        .as_array()
        .unwrap()
        .iter()
        .rfind(|i| i["symbol"].as_str().unwrap().starts_with("UST6M"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &sandbox,
        &account,
        &["orders", "buy", "--instrument", &bill, "--cash", "100.00"],
    )
    .await;
    ok(&sandbox, &account, &["sandbox", "settle"]).await;
    let positions = json(&ok(&sandbox, &account, &["positions", "--json"]).await);
    let position = positions
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["instrument"]["id"] == bill.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let on = json(
        &ok(
            &sandbox,
            &account,
            &["positions", "rollover", &position, "on", "--json"],
        )
        .await,
    );
    assert_eq!(on["automatic_rollover"], true);
    let human = ok(&sandbox, &account, &["positions"]).await;
    assert!(human.contains("MATURITY"), "{human}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_nothing_configured_commands_use_one_local_sandbox_and_say_so() {
    let state = temp_dir("local").join("sandbox.state");
    let bought = local(
        &state,
        &[
            "orders",
            "buy",
            "--instrument",
            "ins_xyz789",
            "--cash",
            "100.00",
            "--json",
        ],
    )
    .await;
    assert!(
        bought.stderr.contains("Nothing is sent to Sophic"),
        "{}",
        bought.stderr
    );
    assert!(
        bought.stderr.contains(&state.display().to_string()),
        "{}",
        bought.stderr
    );
    assert!(
        bought.stderr.contains("embedded local sandbox"),
        "{}",
        bought.stderr
    );
    let order = json(&bought.stdout);
    assert_eq!(
        (order["fees"].as_str(), order["net_cash_amount"].as_str()),
        (Some("0.50"), Some("99.50"))
    );
    assert_eq!(order["status"], "placed");
    let id = order["id"].as_str().unwrap().to_string();
    let account = order["account"].as_str().unwrap().to_string();
    // The next process sees the order just placed, in the same account.
    let listed = json(&local(&state, &["orders", "list", "--json"]).await.stdout);
    let ids: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(ids, [serde_json::json!(id)]);
    assert_eq!(listed[0]["account"], account.as_str());
    // Another waits for it to settle (the sandbox's real time runs in whichever process
    // asks), and the one after sees it settled, the position and the cash it cost.
    let waited = local(
        &state,
        &["orders", "wait", &id, "--until", "settled", "--json"],
    )
    .await;
    assert_eq!(json(&waited.stdout)["status"], "settled");
    let shown = json(
        &local(&state, &["orders", "get", &id, "--json"])
            .await
            .stdout,
    );
    assert_eq!(shown["status"], "settled");
    let positions = json(&local(&state, &["positions", "--json"]).await.stdout);
    assert_eq!(
        positions[0]["instrument"]["id"], "ins_xyz789",
        "{positions}"
    );
    let balances = json(&local(&state, &["balances", "--json"]).await.stdout);
    assert_eq!(balances[0]["total"], "9900.00", "{balances}");

    // `sophic sandbox reset` starts over: a new demo account, no orders.
    local(&state, &["sandbox", "reset"]).await;
    let listed = json(&local(&state, &["orders", "list", "--json"]).await.stdout);
    assert_eq!(listed, serde_json::json!([]));
    let balances = json(&local(&state, &["balances", "--json"]).await.stdout);
    assert_eq!(balances[0]["total"], "10000.00");

    // A state that cannot be loaded is refused, never emptied; `sophic sandbox reset` is
    // the way out, and keeps the unreadable file aside.
    let mut damaged = std::fs::read(&state).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    damaged.extend_from_slice(&std::fs::read(&state).unwrap()[8..]);
    std::fs::write(&state, &damaged).unwrap();
    let refused = finish(unconfigured(&["orders", "list"], &state)).await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("is damaged"), "{}", refused.stderr);
    let reset = local(&state, &["sandbox", "reset"]).await;
    assert!(reset.stderr.contains("moved it to"), "{}", reset.stderr);
    let listed = json(&local(&state, &["orders", "list", "--json"]).await.stdout);
    assert_eq!(listed, serde_json::json!([]));
    let aside = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("unreadable")
        })
        .count();
    assert_eq!(aside, 1);
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_are_printed_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = sophic(None, &["completions", shell]).await;
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("sandbox"), "{shell}");
        assert!(run.stdout.contains("orders"), "{shell}");
    }
    let refused = sophic(None, &["completions", "tcsh"]).await;
    assert_eq!(refused.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_fills_in_what_flags_and_the_environment_leave_unset() {
    let (sandbox, account) = sandbox().await;
    let dir = temp_dir("profiles");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.local]\nbase_url = \"{}\"\naccount = \"{}\"\ntoken_env = \"MY_SANDBOX_TOKEN\"\n\n[profiles.broken]\ntoken_env = \"NOT_SET_ANYWHERE\"\n",
            sandbox.base_url(),
            account.id
        ),
    )
    .unwrap();
    let run = |args: &[&str], token: Option<&str>| {
        let mut command = unconfigured(args, &dir.join("sandbox.state"));
        command
            .env("SOPHIC_CONFIG", &config)
            .env_remove("MY_SANDBOX_TOKEN");
        if let Some(token) = token {
            command.env("MY_SANDBOX_TOKEN", token);
        }
        finish(command)
    };
    // The secret comes from where the profile says: never from the file itself.
    let balances = run(
        &["--profile", "local", "balances", "--json"],
        Some(&account.token),
    )
    .await;
    assert_eq!(balances.code, 0, "{}", balances.stderr);
    assert_eq!(json(&balances.stdout)[0]["total"], "10000.00");
    // SOPHIC_PROFILE selects it too; a flag still wins over the profile.
    let mut by_env = unconfigured(
        &["balances", "--account", "acc_other000000"],
        &dir.join("s"),
    );
    by_env
        .env("SOPHIC_CONFIG", &config)
        .env("SOPHIC_PROFILE", "local")
        .env("MY_SANDBOX_TOKEN", &account.token);
    let other = finish(by_env).await;
    assert_eq!(
        other.code, 3,
        "the flag's account, refused by the API: {}",
        other.stderr
    );
    // A profile that is not there, or whose secret is missing: usage errors naming why.
    let missing = run(&["--profile", "nope", "balances"], None).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("[profiles.nope]"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("local"), "{}", missing.stderr);
    let unset = run(&["--profile", "broken", "balances"], None).await;
    assert_eq!(unset.code, 2);
    assert!(
        unset.stderr.contains("NOT_SET_ANYWHERE"),
        "{}",
        unset.stderr
    );
    // A command that does not connect never reads the profile.
    let completions = run(&["--profile", "nope", "completions", "bash"], None).await;
    assert_eq!(completions.code, 0, "{}", completions.stderr);
    // A mistyped key is refused by line, without quoting the line (it may hold a secret).
    std::fs::write(
        &config,
        "[profiles.local]\nclient_secert = \"s3cr3t-value\"\n",
    )
    .unwrap();
    let typo = run(&["--profile", "local", "balances"], None).await;
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("line 2"), "{}", typo.stderr);
    assert!(!typo.stderr.contains("s3cr3t-value"), "{}", typo.stderr);
    let _ = std::fs::remove_dir_all(dir);
}
