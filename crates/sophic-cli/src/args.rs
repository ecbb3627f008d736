//! The command line: nouns of the API, each command with an example in its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Sophic's Orders API from a terminal: buy and sell bills and bonds, follow orders to
/// settlement, inspect balances, events and webhooks.
///
/// With no SOPHIC_BASE_URL and no credentials, commands run against a local sandbox kept
/// in the user's data directory (one funded demo account, its orders and positions, from
/// one command to the next; `sophic sandbox reset` starts over). Nothing is sent to
/// Sophic then.
#[derive(Debug, Parser)]
#[command(name = "sophic", version, after_help = EXAMPLES, after_long_help = LONG_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,

    /// Print the API's own JSON (decimals as strings) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Never colour the output (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  sophic demo                                     the whole journey on an embedded sandbox
  sophic orders buy --instrument ins_xyz789 --cash 100.00
  SOPHIC_BASE_URL=http://127.0.0.1:4010 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_... sophic orders list --pending";

const LONG_HELP: &str = "\
Configuration (flags win over the environment):
  --base-url       SOPHIC_BASE_URL       API base URL (production when credentials are set)
  --token          SOPHIC_TOKEN          a bearer token
  --client-id      SOPHIC_CLIENT_ID      OAuth client credentials, instead of a token
  --client-secret  SOPHIC_CLIENT_SECRET
  --account        SOPHIC_ACCOUNT        the account (acc_…) orders and balances belong to
  --allow-insecure-http  SOPHIC_ALLOW_INSECURE_HTTP=1
                                         send credentials over plain http:// to a host off
                                         loopback (test rigs only; loopback never needs it)
  --profile        SOPHIC_PROFILE        a profile of ~/.config/sophic/config.toml (or
                                         SOPHIC_CONFIG) for what is unset: base_url,
                                         account, token_env / token_command / token
  --sandbox-state  SOPHIC_SANDBOX_STATE  where the local sandbox (no base URL, no
                                         credentials) keeps its state [default: the data
                                         directory, such as ~/.local/share/sophic/sandbox.state]

Exit codes:
  0  success
  1  an unexpected failure (an answer that did not decode)
  2  usage: a bad flag, id, amount or configuration (nothing was sent)
  3  the API refused the request (4xx: insufficient funds, not found, …)
  4  the API could not be reached, timed out or failed (5xx)
  5  a webhook delivery did not verify

Examples:
  sophic demo
  sophic orders buy --instrument ins_xyz789 --cash 100.00 --json
  sophic orders wait ord_… --until settled
  sophic sandbox --port 4010";

/// Where and as whom to connect.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// API base URL [default: production, when credentials are set].
    #[arg(long, global = true, env = "SOPHIC_BASE_URL")]
    pub base_url: Option<String>,

    /// Bearer token.
    #[arg(long, global = true, env = "SOPHIC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// OAuth client id (with --client-secret, instead of --token).
    #[arg(long, global = true, env = "SOPHIC_CLIENT_ID")]
    pub client_id: Option<String>,

    /// OAuth client secret.
    #[arg(
        long,
        global = true,
        env = "SOPHIC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,

    /// The account (acc_…).
    #[arg(long, global = true, env = "SOPHIC_ACCOUNT")]
    pub account: Option<String>,

    /// Send credentials over plain http:// to a host that is not loopback. For test rigs
    /// only: anyone on the network path can read them. Without it such a base URL is
    /// refused (exit code 2).
    #[arg(
        long,
        global = true,
        env = "SOPHIC_ALLOW_INSECURE_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_insecure_http: bool,

    /// A profile of the config file (`[profiles.NAME]` in ~/.config/sophic/config.toml,
    /// or the file SOPHIC_CONFIG names): base URL, account, and where the secret comes
    /// from, for whatever flags and the environment leave unset.
    #[arg(long, global = true, env = "SOPHIC_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Where the local sandbox (used when no base URL and no credentials are set) keeps
    /// its state [default: the platform's data directory, such as
    /// ~/.local/share/sophic/sandbox.state]. Parallel jobs each give their own.
    #[arg(long, global = true, env = "SOPHIC_SANDBOX_STATE", value_name = "PATH")]
    pub sandbox_state: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Place, read, list, cancel and wait for orders.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The catalogue of bills and bonds.
    #[command(subcommand)]
    Instruments(InstrumentsCommand),
    /// The account's cash balances.
    #[command(after_help = "Example:\n  sophic balances --account acc_123456")]
    Balances,
    /// The account's positions, and their automatic rollover.
    #[command(
        after_help = "Examples:\n  sophic positions --json\n  sophic positions rollover pos_k2l3m4 on"
    )]
    Positions(PositionsArgs),
    /// Events, newest first.
    #[command(after_help = "Example:\n  sophic events --name order.settled --limit 5")]
    Events(EventsArgs),
    /// Register, change, test and verify webhooks.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Run the sandbox server (a local Sophic) until Ctrl-C, or move a running one's clock.
    #[command(
        after_help = "Examples:\n  sophic sandbox --port 4010 --clock held\n  sophic sandbox advance 91d --base-url http://127.0.0.1:4010\n  sophic sandbox settle --base-url http://127.0.0.1:4010"
    )]
    Sandbox(SandboxArgs),
    /// The whole journey: buy 100.00 of ins_xyz789, follow it to settled, sell it back;
    /// with --rollover, a bill's life through rollover and maturity.
    #[command(after_help = "Examples:\n  sophic demo\n  sophic demo --rollover")]
    Demo(DemoArgs),
    /// Print a completion script for a shell.
    #[command(
        after_help = "Examples:\n  sophic completions bash > ~/.local/share/bash-completion/completions/sophic\n  sophic completions zsh > \"${fpath[1]}/_sophic\"\n  sophic completions fish > ~/.config/fish/completions/sophic.fish\n  sophic completions powershell >> $PROFILE"
    )]
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

/// `sophic demo [--rollover]`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Buy the US 3-month bill on the run with automatic rollover, move the sandbox's clock
    /// to its rollover day and past its maturity, and show the rollover order, the cash
    /// below zero and the payout (needs a sandbox: the embedded one, or --base-url).
    #[arg(long)]
    pub rollover: bool,
}

/// `sophic positions [rollover POSITION on|off]`.
#[derive(Debug, Args)]
pub struct PositionsArgs {
    #[command(subcommand)]
    pub action: Option<PositionsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum PositionsCommand {
    /// Switch a position's automatic rollover (bills only; locked 4 days before maturity).
    Rollover {
        /// The position (`pos_…`).
        position: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        switch: String,
    },
}

/// `sophic sandbox`: serve, or drive the clock of a sandbox already running at `--base-url`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: Option<SandboxCommand>,
    #[command(flatten)]
    pub serve: sophic_sandbox::cli::Args,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Move a held clock forward (`91d`, `36h`, `15m`, `90s` or seconds), running every
    /// lifecycle step, issue, rollover and maturity on the way.
    Advance {
        /// How far: a number with `d`, `h`, `m` or `s`.
        by: String,
    },
    /// Move the clock until every open order has settled or been cancelled.
    Settle,
    /// Show the sandbox's clock.
    Clock,
    /// Forget everything: the local sandbox's state (or, with --base-url, a running
    /// sandbox's) starts over with a new demo account.
    Reset,
    /// Print `export SOPHIC_BASE_URL=… SOPHIC_TOKEN=… SOPHIC_ACCOUNT=…` for a running
    /// sandbox's demo account (--base-url, default http://127.0.0.1:4010), for
    /// `eval "$(sophic sandbox env)"`.
    Env,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Buy an instrument for an amount of cash (before fees).
    #[command(after_help = "Example:\n  sophic orders buy --instrument ins_xyz789 --cash 100.00")]
    Buy {
        /// The instrument (ins_…).
        #[arg(long)]
        instrument: String,
        /// Cash to invest, before fees, as a decimal (100.00).
        #[arg(long)]
        cash: String,
        /// Roll the position into the next issue at maturity (bills that support it).
        #[arg(long)]
        automatic_rollover: bool,
        /// Your own idempotency key (one is generated otherwise).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print only the new order's id, for a script: `order=$(sophic orders buy … -q)`.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Sell units of an instrument.
    #[command(after_help = "Example:\n  sophic orders sell --instrument ins_xyz789 --quantity 10")]
    Sell {
        /// The instrument (ins_…).
        #[arg(long)]
        instrument: String,
        /// Units to sell, as a decimal (10 or 100.50).
        #[arg(long)]
        quantity: String,
        /// Your own idempotency key (one is generated otherwise).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Print only the new order's id, for a script: `order=$(sophic orders buy … -q)`.
        #[arg(short, long)]
        quiet: bool,
    },
    /// One order, with its trades.
    #[command(after_help = "Example:\n  sophic orders get ord_abc123")]
    Get {
        /// The order (ord_…).
        order: String,
    },
    /// The account's orders, newest first.
    #[command(
        after_help = "Examples:\n  sophic orders list --status placed --status executing\n  sophic orders list --pending --json"
    )]
    List(ListOrdersArgs),
    /// Cancel an order that is placed, pending or executing.
    #[command(after_help = "Example:\n  sophic orders cancel ord_abc123")]
    Cancel {
        /// The order (ord_…).
        order: String,
    },
    /// Follow an order until it is settled or cancelled (or --until a status).
    #[command(after_help = "Example:\n  sophic orders wait ord_abc123 --until filled --timeout 60")]
    Wait {
        /// The order (ord_…).
        order: String,
        /// Stop at this status instead of a terminal one.
        #[arg(long)]
        until: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

#[derive(Debug, Args)]
pub struct ListOrdersArgs {
    /// Only orders not yet filled and not cancelled.
    #[arg(long, conflicts_with_all = ["status", "instrument", "side", "since", "before"])]
    pub pending: bool,
    /// Only orders in this status (repeat for several).
    #[arg(long)]
    pub status: Vec<String>,
    /// Only orders of this instrument.
    #[arg(long)]
    pub instrument: Option<String>,
    /// Only buys or only sells.
    #[arg(long)]
    pub side: Option<String>,
    /// Only orders created at or after this RFC 3339 instant.
    #[arg(long)]
    pub since: Option<String>,
    /// Only orders created before this RFC 3339 instant.
    #[arg(long)]
    pub before: Option<String>,
    /// At most this many orders.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum InstrumentsCommand {
    /// Every instrument.
    #[command(after_help = "Example:\n  sophic instruments list")]
    List,
    /// One instrument with its trading rules.
    #[command(after_help = "Example:\n  sophic instruments get ins_xyz789")]
    Get {
        /// The instrument (ins_…).
        instrument: String,
    },
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this name (order.filled, …).
    #[arg(long)]
    pub name: Option<String>,
    /// Only events about this resource (an order id).
    #[arg(long)]
    pub resource: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an HTTPS endpoint; prints its signing secret once.
    #[command(
        after_help = "Example:\n  sophic webhooks create --url https://example.com/hooks --event order.settled"
    )]
    Create {
        /// Where deliveries are POSTed.
        #[arg(long)]
        url: String,
        /// Deliver only these events (repeat; all when absent).
        #[arg(long = "event")]
        events: Vec<String>,
        /// A note for people.
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a webhook's URL, events, description, or stop/resume deliveries.
    #[command(after_help = "Example:\n  sophic webhooks update wh_5hT2kq --disable")]
    Update {
        /// The webhook (wh_…).
        webhook: String,
        /// A new URL.
        #[arg(long)]
        url: Option<String>,
        /// Deliver only these events (repeat).
        #[arg(long = "event")]
        events: Vec<String>,
        /// A note for people.
        #[arg(long)]
        description: Option<String>,
        /// Stop deliveries.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Resume deliveries.
        #[arg(long)]
        enable: bool,
    },
    /// Send a signed test delivery.
    #[command(after_help = "Example:\n  sophic webhooks test wh_5hT2kq")]
    Test {
        /// The webhook (wh_…).
        webhook: String,
    },
    /// Check a saved delivery (headers and raw body) against the webhook's secret.
    #[command(
        after_help = "Example:\n  sophic webhooks verify --secret \"$SOPHIC_WEBHOOK_SECRET\" --headers headers.txt --body body.json"
    )]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The webhook's secret (whsec_…).
    #[arg(long, env = "SOPHIC_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// A file of `Name: value` header lines (as `curl -D` saves them).
    #[arg(long)]
    pub headers: PathBuf,
    /// The raw body, byte for byte.
    #[arg(long)]
    pub body: PathBuf,
    /// Check the timestamp against this Unix time instead of now.
    #[arg(long)]
    pub at: Option<i64>,
    /// Accept timestamps this many seconds from now.
    #[arg(long, default_value_t = 300)]
    pub tolerance: u64,
}
