//! Resident memory per order of the sandbox binary.
//!
//! Starts `sophic-sandbox --clock held --port 0` as a child process, funds one account,
//! places `--orders` buys over loopback HTTP (each with its own `Idempotency-Key`, as the
//! SDK sends them, so every answer is kept for replay), then settles them all
//! (`POST /sandbox/clock/settle`: four more statuses and events each). It reads the
//! child's `VmRSS` from `/proc` before, after placing and after settling, and prints the
//! growth per order beside the bytes of the answers kept for replay.
//!
//! With `--in-process` it drives the same requests through `sophic_sandbox::InProcess` in
//! this process and counts the heap bytes live (a counting global allocator), which tells
//! what the sandbox keeps from what the allocator holds on to.
//!
//! ```sh
//! cargo build --release -p sophic-bench -p sophic-sandbox --bins
//! target/release/memory --orders 100000
//! target/release/memory --orders 100000 --in-process
//! ```

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
struct Args {
    /// The sandbox binary.
    #[arg(long, default_value = "target/release/sophic-sandbox")]
    sandbox: String,
    /// How many orders to place.
    #[arg(long, default_value_t = 100_000)]
    orders: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    connections: u64,
    /// Extra flags for the sandbox (such as a retention setting), space separated.
    #[arg(long, default_value = "")]
    sandbox_args: String,
    /// Count live heap bytes of an in-process sandbox instead of a child's RSS.
    #[arg(long)]
    in_process: bool,
}

/// The system allocator, counting the bytes live.
struct Counting;

static LIVE: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter moves.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as u64, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The same placements and settlement through the router in this process.
async fn in_process(orders: u64) -> Result<(), Error> {
    use sophic_sandbox::{AccountSpec, InProcess, SandboxConfig};
    // Nothing recorded: what the state itself holds (a journal in memory, the default of
    // `SandboxConfig::held`, is measured apart, by scripts/bench-state.sh).
    let sandbox = InProcess::new(SandboxConfig {
        persistence: sophic_sandbox::Persistence::Off,
        ..SandboxConfig::held()
    });
    let account = sandbox
        .create_account(&AccountSpec::usd("1000000000.00"))
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(
        &json!({"instrument": "ins_xyz789", "order_type": "market", "side": "buy", "cash_amount": "100.00"}),
    )?;
    let request = |method: &str, path: String, key: Option<String>, body: Vec<u8>| {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", account.token));
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        builder.body(bytes::Bytes::from(body))
    };
    let before = LIVE.load(Ordering::Relaxed);
    let mut answers = 0;
    for i in 0..orders {
        let path = format!("/accounts/{}/orders", account.id);
        let answer = sandbox
            .call(request(
                "POST",
                path,
                Some(format!("memory-{i}")),
                body.clone(),
            )?)
            .await;
        if answer.status() != 201 {
            return Err(format!("placement answered {}", answer.status()).into());
        }
        answers += answer.body().len() as u64;
    }
    let placed = LIVE.load(Ordering::Relaxed);
    let settle = sandbox
        .call(request(
            "POST",
            "/sandbox/clock/settle".into(),
            None,
            Vec::new(),
        )?)
        .await;
    if settle.status() != 200 {
        return Err(format!("settle answered {}", settle.status()).into());
    }
    let settled = LIVE.load(Ordering::Relaxed);
    println!("orders: {orders} (in process, live heap bytes)");
    report(orders, answers, [before, placed, settled]);
    Ok(())
}

/// Prints the growth per order from `bytes` (before, placed, settled) beside the answer
/// bytes kept for replay.
fn report(orders: u64, answer_bytes: u64, [before, placed, settled]: [u64; 3]) {
    let per = |bytes: u64| bytes.saturating_sub(before) as f64 / orders as f64;
    let answers = answer_bytes as f64 / orders as f64;
    println!("per order, placed:  {:.0} B", per(placed));
    println!("per order, settled: {:.0} B", per(settled));
    println!("answer bytes kept for replay: {answers:.0} B per order");
    println!(
        "per order, settled, less the kept answer: {:.0} B",
        per(settled) - answers
    );
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn rss_kib(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS line")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("no VmRSS figure")?
        .parse()?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    if args.in_process {
        return in_process(args.orders).await;
    }
    let mut child = tokio::process::Command::new(&args.sandbox)
        .args(["--host", "127.0.0.1", "--port", "0", "--clock", "held"])
        .args(args.sandbox_args.split_whitespace())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the sandbox exited")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let base = loop {
        let line = lines
            .next_line()
            .await?
            .ok_or("the sandbox printed no address")?;
        if let Some(url) = line.strip_prefix("Sophic sandbox listening on ") {
            break url.trim().to_string();
        }
    };
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{base}/sandbox/accounts"))
        .json(&json!({"cash": {"USD": "1000000000.00"}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let account = created["account"]["id"]
        .as_str()
        .ok_or("no account")?
        .to_string();
    let token = created["token"].as_str().ok_or("no token")?.to_string();
    let before = rss_kib(pid)?;

    let answer_bytes = Arc::new(AtomicU64::new(0));
    let per_task = args.orders / args.connections;
    let mut tasks = Vec::new();
    for task in 0..args.connections {
        let (http, base, account, token) =
            (http.clone(), base.clone(), account.clone(), token.clone());
        let answer_bytes = answer_bytes.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let body = http
                    .post(format!("{base}/accounts/{account}/orders"))
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("memory-{task}-{i}"))
                    .json(&json!({"instrument": "ins_xyz789", "order_type": "market", "side": "buy", "cash_amount": "100.00"}))
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                answer_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let placed = rss_kib(pid)?;
    http.post(format!("{base}/sandbox/clock/settle"))
        .send()
        .await?
        .error_for_status()?;
    let settled = rss_kib(pid)?;
    let _ = child.kill().await;

    let orders = per_task * args.connections;
    println!(
        "orders: {orders} ({} flags: {:?})",
        args.sandbox, args.sandbox_args
    );
    println!("rss before: {before} KiB, placed: {placed} KiB, settled: {settled} KiB");
    let answers = answer_bytes.load(Ordering::Relaxed);
    report(
        orders,
        answers,
        [before, placed, settled].map(|kib| kib * 1024),
    );
    Ok(())
}
