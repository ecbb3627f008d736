//! `loadgen`: loads the sandbox and Prism, each serving `openapi/orders.yaml` on loopback,
//! with the same requests over 1, 8 and 32 keep-alive connections, and prints requests/s,
//! p50 and p99 side by side with the throughput ratio. `scripts/bench-load.sh` starts both
//! servers and runs it.
//!
//! With `--nginx URL` it also loads the machine's ceiling, nginx serving the sandbox's own
//! answer bytes as a static file for both paths, and adds its columns and each sandbox
//! figure as a fraction of it (`sandbox/nginx`) after the existing ones.
//!
//! Every point is bounded in time (`--warmup` + `--duration`) and in count
//! (`--max-requests`), and only loopback addresses are accepted.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sophic_bench::fixtures::FUNDING;
use sophic_bench::load::{self, Load, Operation, Outcome, Target};

/// Throughput the sandbox must reach, as a multiple of Prism's.
const RATIO_TARGET: f64 = 20.0;
/// Sandbox p99 ceiling at the highest connection count, in milliseconds.
const P99_TARGET_MS: f64 = 5.0;

/// Loads the sandbox and Prism with the same requests and compares them.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// The sandbox binary's base URL; a funded account is created on it through
    /// `POST /sandbox/accounts`.
    #[arg(long)]
    sandbox: Option<String>,
    /// Prism's base URL (`prism mock openapi/orders.yaml`), sent `Authorization: Bearer x`.
    #[arg(long)]
    prism: Option<String>,
    /// The ceiling: an nginx serving a static copy of the sandbox's instrument answer for
    /// both paths (any 2xx counts), loaded last at every point.
    #[arg(long)]
    nginx: Option<String>,
    /// Operations to load, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "get-instrument,place-order"
    )]
    ops: Vec<Operation>,
    /// Connection counts, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    connections: Vec<usize>,
    /// Seconds recorded per point.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Seconds sent before recording starts, per point.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// At most this many requests per point (warm-up included).
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Seconds before an unanswered request counts as an error.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Seconds of load (8 connections, every operation) sent to each target before the
    /// first point and not recorded: Prism's JIT and both servers' caches warm up.
    #[arg(long, default_value_t = 2.0)]
    prewarm: f64,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// CI size: 1 s per point after a 0.25 s warm-up, 0.5 s of pre-warming.
    #[arg(long)]
    quick: bool,
}

/// One row of the table: one operation at one connection count on every target.
struct Row {
    operation: Operation,
    connections: usize,
    outcomes: Vec<Outcome>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(measure(&args)) {
        Ok(rows) => {
            print_report(&args, &rows);
            let silent = rows.iter().flat_map(|r| &r.outcomes).any(|o| o.ok == 0);
            if silent {
                eprintln!("loadgen: a point had no successful answer: the benchmark did not run");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn measure(args: &Args) -> Result<Vec<Row>, load::Error> {
    let mut targets = Vec::new();
    if let Some(url) = &args.sandbox {
        let (account, token) = funded_account(url).await?;
        targets.push(Target::new("sandbox", url, &token, &account).await?);
    }
    if let Some(url) = &args.prism {
        targets.push(Target::new("Prism", url, "x", "acc_123456").await?);
    }
    if let Some(url) = &args.nginx {
        targets.push(Target::new("nginx", url, "x", "acc_123456").await?);
    }
    if targets.is_empty() {
        return Err("nothing to load: pass --sandbox URL, --prism URL and/or --nginx URL".into());
    }
    let (prewarm, warmup, duration) = if args.quick {
        (0.5, 0.25, 1.0)
    } else {
        (args.prewarm, args.warmup, args.duration)
    };
    for target in &targets {
        for &operation in &args.ops {
            let load = Load {
                connections: 8,
                warmup: Duration::from_secs_f64(prewarm),
                duration: Duration::ZERO,
                max_requests: args.max_requests,
                timeout: Duration::from_secs_f64(args.timeout),
            };
            load::run(target, operation, load).await?;
        }
    }
    let mut rows = Vec::new();
    for &operation in &args.ops {
        for &connections in &args.connections {
            let load = Load {
                connections,
                warmup: Duration::from_secs_f64(warmup),
                duration: Duration::from_secs_f64(duration),
                max_requests: args.max_requests,
                timeout: Duration::from_secs_f64(args.timeout),
            };
            let mut outcomes = Vec::new();
            for target in &targets {
                let outcome = load::run(target, operation, load).await?;
                eprintln!(
                    "{operation:>15} {connections:>3} conns {:>8}: {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}{}",
                    target.name,
                    outcome.throughput(),
                    outcome.latency_ms(0.5),
                    outcome.latency_ms(0.99),
                    outcome.errors,
                    statuses(&outcome),
                );
                outcomes.push(outcome);
            }
            rows.push(Row {
                operation,
                connections,
                outcomes,
            });
        }
    }
    Ok(rows)
}

/// Creates an account on the sandbox funded for every placement a run can send.
async fn funded_account(base_url: &str) -> Result<(String, String), load::Error> {
    Target::new("sandbox", base_url, "", "").await?; // refuses anything off loopback
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/sandbox/accounts",
            base_url.trim_end_matches('/')
        ))
        .json(&serde_json::json!({ "cash": { "USD": FUNDING } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let account = created["account"]["id"].as_str();
    let token = created["token"].as_str();
    match (account, token) {
        (Some(account), Some(token)) => Ok((account.to_string(), token.to_string())),
        _ => Err(format!("POST /sandbox/accounts answered {created}").into()),
    }
}

fn statuses(outcome: &Outcome) -> String {
    if outcome.statuses.is_empty() {
        return String::new();
    }
    let list: Vec<String> = outcome
        .statuses
        .iter()
        .map(|(status, n)| format!("{status}×{n}"))
        .collect();
    format!(" ({})", list.join(", "))
}

fn print_report(args: &Args, rows: &[Row]) {
    // The columns of the sandbox and Prism, then their ratio, come first and as they were
    // before the ceiling existed; nginx's columns and the fraction follow them.
    let names: Vec<&str> = [
        args.sandbox.as_ref().map(|_| "sandbox"),
        args.prism.as_ref().map(|_| "Prism"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let compared = names.len() == 2;
    let ceiling = args.nginx.is_some();
    let against_ceiling = ceiling && args.sandbox.is_some();
    let mut header = String::from("| operation | connections |");
    let mut rule = String::from("|---|---:|");
    for name in &names {
        header.push_str(&format!(" {name} req/s | {name} p50 ms | {name} p99 ms |"));
        rule.push_str("---:|---:|---:|");
    }
    if compared {
        header.push_str(" throughput ratio |");
        rule.push_str("---:|");
    }
    if ceiling {
        header.push_str(" nginx req/s | nginx p50 ms | nginx p99 ms |");
        rule.push_str("---:|---:|---:|");
    }
    if against_ceiling {
        header.push_str(" sandbox/nginx |");
        rule.push_str("---:|");
    }
    println!("\n{header}\n{rule}");
    let cells = |outcome: &Outcome| {
        format!(
            " {:.0} | {:.3} | {:.3} |",
            outcome.throughput(),
            outcome.latency_ms(0.5),
            outcome.latency_ms(0.99)
        )
    };
    for row in rows {
        let mut line = format!("| {} | {} |", row.operation, row.connections);
        for outcome in &row.outcomes[..names.len()] {
            line.push_str(&cells(outcome));
        }
        if compared {
            line.push_str(&format!(
                " {:.1}× |",
                ratio(&row.outcomes[0], &row.outcomes[1])
            ));
        }
        if ceiling {
            let nginx = &row.outcomes[names.len()];
            line.push_str(&cells(nginx));
            if against_ceiling {
                line.push_str(&format!(" {:.3} |", ratio(&row.outcomes[0], nginx)));
            }
        }
        println!("{line}");
    }
    println!();
    print_targets(args, rows, compared);
}

fn ratio(ours: &Outcome, theirs: &Outcome) -> f64 {
    ours.throughput() / theirs.throughput().max(1e-9)
}

/// The throughput target is judged on each server's peak (its best connection count), so
/// that a server overloaded at 32 connections does not flatter the other; the latency
/// target at the highest connection count.
fn print_targets(args: &Args, rows: &[Row], compared: bool) {
    let Some(&most) = args.connections.iter().max() else {
        return;
    };
    if compared {
        for &operation in &args.ops {
            let of = |i: usize| {
                rows.iter()
                    .filter(|r| r.operation == operation)
                    .map(|r| (r.outcomes[i].throughput(), r.connections))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap_or((0.0, 0))
            };
            let ((ours, at), (theirs, their_at)) = (of(0), of(1));
            let ratio = ours / theirs.max(1e-9);
            println!(
                "target: {operation}, peak throughput sandbox ≥ {RATIO_TARGET}× Prism's: {ours:.0} req/s ({at} conns) / {theirs:.0} req/s ({their_at} conns) = {ratio:.1}× — {}",
                verdict(ratio >= RATIO_TARGET)
            );
        }
    }
    for row in rows.iter().filter(|r| r.connections == most) {
        if args.sandbox.is_some() {
            let p99 = row.outcomes[0].latency_ms(0.99);
            println!(
                "target: {} at {most} connections, sandbox p99 < {P99_TARGET_MS} ms: {p99:.3} ms — {}",
                row.operation,
                verdict(p99 < P99_TARGET_MS)
            );
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
