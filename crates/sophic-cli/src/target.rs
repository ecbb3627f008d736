//! Where commands go: a configured API, or an embedded sandbox when nothing is configured.

use std::path::PathBuf;
use std::time::Duration;

use sophic::{AccountId, Client};
use sophic_sandbox::{Persistence, Sandbox, SandboxConfig};

use crate::args::Connection;
use crate::failure::Failure;

/// Lifecycle steps of the embedded sandbox: a buy settles in about a second.
const EMBEDDED_STEP: Duration = Duration::from_millis(350);

/// Which embedded sandbox a command gets when nothing is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    /// The local sandbox kept in the data directory (or `--sandbox-state`).
    Kept,
    /// A fresh one in memory, forgotten when the command ends (`sophic demo`).
    Fresh,
}

/// Where the local sandbox keeps its state: `--sandbox-state`, or the platform's data
/// directory (`~/.local/share/sophic/sandbox.state` on Linux).
pub fn state_path(connection: &Connection) -> Result<PathBuf, Failure> {
    if let Some(path) = &connection.sandbox_state {
        return Ok(path.clone());
    }
    directories::ProjectDirs::from("", "", "sophic")
        .map(|dirs| dirs.data_dir().join("sandbox.state"))
        .ok_or_else(|| {
            Failure::usage(
                "no home directory to keep the local sandbox in: set --sandbox-state (SOPHIC_SANDBOX_STATE)",
            )
        })
}

/// A connected client, the account commands act on, and the embedded sandbox if any.
pub struct Target {
    pub client: Client,
    account: Option<AccountId>,
    /// Kept alive for the command's duration.
    _sandbox: Option<Sandbox>,
}

impl Target {
    /// Connects as configured. Without a base URL or credentials, starts an embedded
    /// sandbox with a funded demo account and says so on stderr.
    pub async fn connect(connection: &Connection, local: Local) -> Result<Self, Failure> {
        let has_credentials = connection.token.is_some() || connection.client_id.is_some();
        if connection.base_url.is_none() && !has_credentials {
            return Self::embedded(connection, local).await;
        }
        if !has_credentials {
            return Err(Failure::usage(
                "SOPHIC_BASE_URL is set but no credentials are: set SOPHIC_TOKEN (or \
                 SOPHIC_CLIENT_ID and SOPHIC_CLIENT_SECRET)",
            ));
        }
        let mut builder =
            Client::builder().user_agent(concat!("sophic-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(url) = &connection.base_url {
            builder = builder.base_url(url.clone());
        }
        if connection.allow_insecure_http {
            builder = builder.danger_allow_insecure_http();
        }
        builder = match (
            &connection.token,
            &connection.client_id,
            &connection.client_secret,
        ) {
            (Some(token), _, _) => builder.token(token.clone()),
            (None, Some(id), Some(secret)) => {
                builder.client_credentials(id.clone(), secret.clone())
            }
            _ => {
                return Err(Failure::usage(
                    "SOPHIC_CLIENT_ID needs SOPHIC_CLIENT_SECRET",
                ));
            }
        };
        let account = connection
            .account
            .as_deref()
            .map(|a| {
                a.parse::<AccountId>()
                    .map_err(|e| Failure::usage(format!("--account: {e}")))
            })
            .transpose()?;
        Ok(Self {
            client: builder.build().map_err(with_cli_opt_in)?,
            account,
            _sandbox: None,
        })
    }

    async fn embedded(connection: &Connection, local: Local) -> Result<Self, Failure> {
        let sandbox = local_sandbox(connection, local).await?;
        let (account, _) = sandbox
            .demo()
            .expect("the realtime config creates a demo account")
            .clone();
        let kept = match sandbox.state_path() {
            Some(path) => format!("kept in {}", path.display()),
            None => "fresh, in memory".to_string(),
        };
        eprintln!(
            "note: no SOPHIC_BASE_URL or credentials configured; using an embedded local sandbox ({kept}; \
             demo account {}). Nothing is sent to Sophic.",
            account.id
        );
        let client = Client::builder()
            .base_url(sandbox.base_url())
            .token(account.token.clone())
            .poll_interval(Duration::from_millis(50))
            .max_poll_interval(Duration::from_millis(200))
            .build()?;
        let account = account
            .id
            .parse()
            .map_err(|e| Failure::Unexpected(format!("{e}")))?;
        Ok(Self {
            client,
            account: Some(account),
            _sandbox: Some(sandbox),
        })
    }

    /// The account commands act on.
    pub fn account(&self) -> Result<&AccountId, Failure> {
        self.account.as_ref().ok_or_else(|| {
            Failure::usage("this command needs an account: set --account or SOPHIC_ACCOUNT")
        })
    }
}

/// The embedded sandbox: the local one, whose state other `sophic` processes take turns
/// with (time that passed since the last command is caught up on its first request), or a
/// fresh one.
pub async fn local_sandbox(connection: &Connection, local: Local) -> Result<Sandbox, Failure> {
    let path = match local {
        Local::Kept => Some(state_path(connection)?),
        Local::Fresh => None,
    };
    start_local(path)
        .await
        .map_err(|e| Failure::Unexpected(format!("could not start the embedded sandbox: {e}")))
}

/// The embedded sandbox, kept in `state` if given.
pub async fn start_local(state: Option<PathBuf>) -> std::io::Result<Sandbox> {
    let mut config = SandboxConfig::realtime(EMBEDDED_STEP);
    if let Some(path) = state {
        config.persistence = Persistence::Shared(path);
    }
    Sandbox::start(config).await
}

/// The SDK's refusal of a clear-text base URL names the builder's opt-in; a CLI user needs
/// the flag instead. A configuration error: usage, exit code 2.
fn with_cli_opt_in(error: sophic::Error) -> Failure {
    match error {
        sophic::Error::InsecureHttp { host, .. } => Failure::usage(format!(
            "refusing to send credentials in clear text to `{host}`: the base URL is http:// \
             and `{host}` is not loopback; use https://, or --allow-insecure-http \
             (SOPHIC_ALLOW_INSECURE_HTTP=1) on a test rig"
        )),
        other => other.into(),
    }
}
