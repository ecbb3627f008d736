//! Named profiles: `--profile NAME` (or `SOPHIC_PROFILE`) fills in what flags and the
//! environment leave unset from `[profiles.NAME]` of the config file
//! (`~/.config/sophic/config.toml` on Linux, the platform's equivalent elsewhere;
//! `SOPHIC_CONFIG` names another):
//!
//! ```toml
//! [profiles.staging]
//! base_url = "https://api.staging.example.com"
//! account = "acc_123456"
//! token_env = "STAGING_SOPHIC_TOKEN"          # the token from this environment variable,
//! # token_command = "pass show sophic/staging"  # or from this command's output,
//! # token = "…"                                # or in plain text, if you put it here
//! # client_id = "cli_…"                        # OAuth instead of a token, with
//! # client_secret_env / client_secret_command / client_secret
//! ```
//!
//! A secret is never written into the file by `sophic`; where it comes from is.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::args::Connection;
use crate::failure::Failure;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// One profile: where to connect, as whom, and where the secret comes from.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    base_url: Option<String>,
    account: Option<String>,
    token: Option<String>,
    token_env: Option<String>,
    token_command: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_env: Option<String>,
    client_secret_command: Option<String>,
    allow_insecure_http: Option<bool>,
}

/// Where the config file is: `SOPHIC_CONFIG`, or the platform's config directory.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOPHIC_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("", "", "sophic").map(|d| d.config_dir().join("config.toml"))
}

/// A secret from the first source the profile names: plain, an environment variable, or a
/// command's output (trimmed).
fn secret(
    what: &str,
    plain: Option<String>,
    env: Option<String>,
    command: Option<String>,
) -> Result<Option<String>, Failure> {
    if let Some(plain) = plain {
        return Ok(Some(plain));
    }
    if let Some(var) = env {
        return std::env::var(&var).map(Some).map_err(|_| {
            Failure::usage(format!(
                "the profile takes its {what} from ${var}, which is not set"
            ))
        });
    }
    let Some(command) = command else {
        return Ok(None);
    };
    // Run by the shell, as git's credential helpers are; its prompts and errors reach the
    // terminal.
    #[cfg(unix)]
    let mut shell = std::process::Command::new("sh");
    #[cfg(unix)]
    shell.args(["-c", &command]);
    #[cfg(not(unix))]
    let mut shell = std::process::Command::new("cmd");
    #[cfg(not(unix))]
    shell.args(["/C", &command]);
    let output = shell.stderr(std::process::Stdio::inherit()).output();
    let output = output
        .map_err(|e| Failure::usage(format!("the profile's {what} command could not run: {e}")))?;
    if !output.status.success() {
        return Err(Failure::usage(format!(
            "the profile's {what} command failed ({})",
            output.status
        )));
    }
    let value = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if value.is_empty() {
        return Err(Failure::usage(format!(
            "the profile's {what} command printed nothing"
        )));
    }
    Ok(Some(value))
}

/// `connection` with what it leaves unset taken from the profile `--profile` names, if
/// any (flags and environment variables win).
pub fn apply(mut connection: Connection) -> Result<Connection, Failure> {
    let Some(name) = connection.profile.clone() else {
        return Ok(connection);
    };
    let path = config_path().ok_or_else(|| {
        Failure::usage("no config directory for profiles: set SOPHIC_CONFIG to the file")
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::usage(format!(
            "--profile {name}: cannot read {}: {e}",
            path.display()
        ))
    })?;
    // Not the parser's own text: it quotes the offending line, which may hold a secret.
    let mut config: Config = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(", line {l}")).unwrap_or_default();
        Failure::usage(format!("{}{at}: {}", path.display(), e.message()))
    })?;
    let Some(profile) = config.profiles.remove(&name) else {
        let known: Vec<_> = config.profiles.keys().cloned().collect();
        return Err(Failure::usage(format!(
            "--profile {name}: {} has no [profiles.{name}] (it has: {})",
            path.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    let credentials_set = connection.token.is_some() || connection.client_id.is_some();
    if credentials_set && connection.base_url.is_none() && profile.base_url.is_some() {
        eprintln!(
            "note: --profile {name} gives the base URL, but the credentials come from flags or the environment (SOPHIC_TOKEN, SOPHIC_CLIENT_ID)"
        );
    }
    connection.base_url = connection.base_url.or(profile.base_url);
    connection.account = connection.account.or(profile.account);
    connection.allow_insecure_http |= profile.allow_insecure_http.unwrap_or(false);
    // Credentials given by flag or environment replace the profile's altogether.
    if !credentials_set {
        connection.token = secret(
            "token",
            profile.token,
            profile.token_env,
            profile.token_command,
        )?;
        // The profile's client comes with the profile's secret, never another's.
        connection.client_id = profile.client_id;
        if connection.client_id.is_some() {
            connection.client_secret = secret(
                "client secret",
                profile.client_secret,
                profile.client_secret_env,
                profile.client_secret_command,
            )?;
        }
    }
    Ok(connection)
}
