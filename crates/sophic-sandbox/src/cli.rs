//! The `sophic-sandbox` command (also `sophic sandbox`): flags, environment, banner.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rust_decimal::Decimal;

use crate::world::Timing;
use crate::{ClockMode, Sandbox, SandboxConfig};

/// Runs a local Sophic sandbox.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SOPHIC_SANDBOX_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SOPHIC_SANDBOX_PORT", default_value_t = 4010)]
    pub port: u16,
    /// `realtime`: orders move on their own; `held`: only on POST /sandbox/clock/advance.
    #[arg(long, env = "SOPHIC_SANDBOX_CLOCK", default_value = "realtime", value_parser = parse_mode)]
    pub clock: ClockMode,
    /// Milliseconds between lifecycle steps in real time.
    #[arg(long, env = "SOPHIC_SANDBOX_STEP_MS", default_value_t = 1000)]
    pub step_ms: u64,
    /// `fast`: fills settle after a step; `market`: on the settlement date (T+1 business
    /// days for US and GB issuers, T+2 for others).
    #[arg(long, env = "SOPHIC_SANDBOX_TIMING", default_value = "fast", value_parser = parse_timing)]
    pub timing: Timing,
    /// Fee rate on buys' cash and sells' notional.
    #[arg(long, env = "SOPHIC_SANDBOX_FEE_RATE", default_value = "0.005")]
    pub fee_rate: Decimal,
    /// Seed of ids and, when given, of secrets too (tokens, client secrets, webhook keys),
    /// so that the demo credentials are the same at every start. Without it ids follow
    /// seed 42 and secrets are random.
    #[arg(long, env = "SOPHIC_SANDBOX_SEED")]
    pub seed: Option<u64>,
    /// The token every /sandbox/… request must then carry (`Authorization: Bearer …`);
    /// required when --host is not a loopback address.
    #[arg(long, env = "SOPHIC_SANDBOX_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,
    /// Forget orders settled or cancelled longer ago than this many seconds of sandbox
    /// time, with their events (for long runs; default: keep everything).
    #[arg(
        long = "retain-seconds",
        env = "SOPHIC_SANDBOX_RETAIN_SECONDS",
        value_name = "SECONDS"
    )]
    pub retain_seconds: Option<u32>,
    /// A host name, besides IP addresses and localhost, that requests may be addressed to
    /// (repeatable; requests for any other name are refused, against DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Keep the state in this file: loaded at start if it exists, every change written as
    /// it is made, so a restart (even after `kill -9`) finds every account, order, event,
    /// webhook, idempotency key and the clock as they were. Without it nothing outlives
    /// the process.
    #[arg(long, env = "SOPHIC_SANDBOX_STATE", value_name = "PATH")]
    pub state: Option<std::path::PathBuf>,
}

fn parse_timing(s: &str) -> Result<Timing, String> {
    match s {
        "fast" => Ok(Timing::Fast),
        "market" => Ok(Timing::Market),
        _ => Err("must be fast or market".into()),
    }
}

fn parse_mode(s: &str) -> Result<ClockMode, String> {
    match s {
        "realtime" => Ok(ClockMode::Realtime),
        "held" => Ok(ClockMode::Held),
        _ => Err("must be realtime or held".into()),
    }
}

impl Args {
    /// The configuration these flags ask for (with a funded demo account).
    pub fn config(&self) -> SandboxConfig {
        let mut config = match self.clock {
            ClockMode::Realtime => SandboxConfig::realtime(Duration::from_millis(self.step_ms)),
            ClockMode::Held => SandboxConfig {
                demo_account: true,
                ..SandboxConfig::held()
            },
        };
        config.addr = SocketAddr::new(self.host, self.port);
        config.rules.fee_rate = self.fee_rate;
        config.rules.timing = self.timing;
        if let Some(seed) = self.seed {
            config.seed = seed;
            config.secret_seed = Some(seed);
        }
        config.retention = self
            .retain_seconds
            .map(|s| chrono::TimeDelta::seconds(i64::from(s)));
        config.access = crate::Access {
            allowed_hosts: self.allowed_hosts.clone(),
            control_token: self.control_token.clone(),
        };
        config.persistence = match &self.state {
            Some(path) => crate::Persistence::File(path.clone()),
            None => crate::Persistence::Off,
        };
        config
    }
}

/// What a person needs to start talking to a sandbox.
pub fn banner(sandbox: &Sandbox, step_ms: u64) -> String {
    let base = sandbox.base_url();
    let clock = match sandbox.clock_mode() {
        ClockMode::Realtime => format!("realtime (each lifecycle step after {step_ms} ms)"),
        ClockMode::Held => {
            "held (advance with POST /sandbox/clock/advance {\"seconds\": 5})".to_string()
        }
    };
    let mut text = format!("Sophic sandbox listening on {base}\nclock:         {clock}\n");
    if let Some(path) = sandbox.state_path() {
        text.push_str(&format!(
            "state:         {} (kept across restarts)\n",
            path.display()
        ));
    }
    if let Some((account, client)) = sandbox.demo() {
        text.push_str(&format!(
            "demo account:  {}\ndemo token:    {}\noauth client:  {} / {}\n\ntry:\n  curl -H 'Authorization: Bearer {}' {base}/accounts/{}/cash-balances\n\nto point sophic (or a script) at it, in another shell (or: eval \"$(sophic sandbox env)\"):\n  export SOPHIC_BASE_URL={base} SOPHIC_TOKEN={} SOPHIC_ACCOUNT={}\n",
            account.id, account.token, client.id, client.secret, account.token, account.id, account.token, account.id
        ));
    }
    text
}

/// How long a stopping server goes on answering the requests it has.
pub const GRACE: Duration = Duration::from_secs(10);

/// Runs until Ctrl-C or SIGTERM, then stops gracefully ([`Sandbox::stop`]).
pub async fn run(args: Args) -> std::io::Result<()> {
    let sandbox = Sandbox::start(args.config()).await?;
    // A reader that went away (`| head`) is no reason to stop serving: no panic on EPIPE.
    let _ = writeln!(std::io::stdout(), "{}", banner(&sandbox, args.step_ms));
    stopped().await?;
    eprintln!("shutting down");
    sandbox.stop(GRACE).await;
    Ok(())
}

/// Waits for Ctrl-C or (on Unix) SIGTERM.
pub async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
