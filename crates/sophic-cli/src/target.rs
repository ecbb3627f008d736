//! Where commands go: a configured API, or an embedded sandbox when nothing is configured.

use std::time::Duration;

use sophic::{AccountId, Client};
use sophic_sandbox::{Sandbox, SandboxConfig};

use crate::args::Connection;
use crate::failure::Failure;

/// Lifecycle steps of the embedded sandbox: a buy settles in about a second.
const EMBEDDED_STEP: Duration = Duration::from_millis(350);

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
    pub async fn connect(connection: &Connection) -> Result<Self, Failure> {
        let has_credentials = connection.token.is_some() || connection.client_id.is_some();
        if connection.base_url.is_none() && !has_credentials {
            return Self::embedded().await;
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

    async fn embedded() -> Result<Self, Failure> {
        let config = SandboxConfig::realtime(EMBEDDED_STEP);
        let sandbox = Sandbox::start(config).await.map_err(|e| {
            Failure::Unexpected(format!("could not start the embedded sandbox: {e}"))
        })?;
        let (account, _) = sandbox
            .demo()
            .expect("the realtime config creates a demo account")
            .clone();
        eprintln!(
            "note: no SOPHIC_BASE_URL or credentials configured; using an embedded local sandbox at {} \
             (demo account {}). Nothing is sent to Sophic.",
            sandbox.base_url(),
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
