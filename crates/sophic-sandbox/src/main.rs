//! `sophic-sandbox`: a stateful local Sophic on loopback. See `--help`.

use clap::Parser;

// The binary's allocator: a start replays a state's journal into many small allocations
// (docs/decisions/0014-durable-state.md has the figures). The library leaves the choice
// to the program that links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A stateful local Sophic: every operation of openapi/orders.yaml, with balances, an order
/// lifecycle on a clock, idempotency, signed webhooks and faults on request.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    args: sophic_sandbox::cli::Args,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match sophic_sandbox::cli::run(Cli::parse().args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sophic-sandbox: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
