//! `sophic sandbox`: run the server, or drive the clock of one already running.

use serde_json::{Value, json};

use crate::args::{Connection, SandboxCommand};
use crate::failure::Failure;
use crate::output::Output;
use crate::target::{Local, local_sandbox, start_local, state_path};
use sophic_sandbox::StateError;

/// Where `sophic sandbox --port 4010` (the default) listens.
const DEFAULT_SANDBOX: &str = "http://127.0.0.1:4010";

/// A value as one single-quoted shell word.
fn shell_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `sophic sandbox env`: the export lines for the demo account of the sandbox at `base`.
async fn env(base: &str, out: &Output) -> Result<(), Failure> {
    let demo = call(base, "GET", "/demo", None).await?;
    let field = |name: &str| demo[name].as_str().unwrap_or_default().to_string();
    let lines = [
        ("SOPHIC_BASE_URL", base.trim_end_matches('/').to_string()),
        ("SOPHIC_TOKEN", field("token")),
        ("SOPHIC_ACCOUNT", field("account")),
    ];
    out.show(&demo, || {
        lines
            .iter()
            .map(|(name, value)| format!("export {name}={}", shell_quoted(value)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// Whether the state could not be loaded at all (not: is in use, or could not be read).
fn unreadable(error: &std::io::Error) -> bool {
    let state = error.get_ref().and_then(|e| e.downcast_ref::<StateError>());
    matches!(
        state,
        Some(StateError::Damaged { .. } | StateError::Incompatible { .. })
    )
}

/// `sophic sandbox reset` with nothing configured: the local sandbox starts over. A state
/// that cannot be loaded (damaged, or written by another version) is moved aside first,
/// so that this is always the way out.
async fn reset_local(connection: &Connection, out: &Output) -> Result<(), Failure> {
    let path = state_path(connection)?;
    let sandbox = match start_local(Some(path.clone())).await {
        Ok(sandbox) => sandbox,
        Err(e) if unreadable(&e) && path.exists() => {
            let aside = path.with_extension(format!(
                "unreadable-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S")
            ));
            std::fs::rename(&path, &aside).map_err(|why| {
                Failure::Unexpected(format!("could not move {} aside: {why}", path.display()))
            })?;
            eprintln!(
                "note: {e}\nnote: moved it to {}; starting over",
                aside.display()
            );
            local_sandbox(connection, Local::Kept).await?
        }
        Err(e) => {
            return Err(Failure::Unexpected(format!(
                "could not start the embedded sandbox: {e}"
            )));
        }
    };
    let path = sandbox.state_path();
    sandbox.reset();
    let shown = path.as_ref().map(|p| p.display().to_string());
    out.show(&json!({ "reset": true, "state": shown }), || {
        format!(
            "the local sandbox ({}) starts over; nothing was sent to Sophic",
            shown.as_deref().unwrap_or("in memory")
        )
    });
    Ok(())
}

/// Runs the server until Ctrl-C.
pub async fn serve(args: sophic_sandbox::cli::Args) -> Result<(), Failure> {
    sophic_sandbox::cli::run(args)
        .await
        .map_err(|e| Failure::Unexpected(format!("the sandbox stopped: {e}")))
}

/// Moves or shows the clock of the sandbox at `--base-url` (its control plane, contract
/// section 10; `SOPHIC_SANDBOX_CONTROL_TOKEN` is sent when set).
pub async fn control(
    action: SandboxCommand,
    connection: &Connection,
    out: &Output,
) -> Result<(), Failure> {
    let base = match (&action, connection.base_url.as_deref()) {
        (SandboxCommand::Reset, None) => return reset_local(connection, out).await,
        (SandboxCommand::Env, None) => DEFAULT_SANDBOX,
        (_, Some(base)) => base,
        (_, None) => {
            return Err(Failure::usage(
                "--base-url (or SOPHIC_BASE_URL) must name the running sandbox, such as http://127.0.0.1:4010",
            ));
        }
    };
    let body = match &action {
        SandboxCommand::Advance { by } => {
            let seconds = duration_seconds(by)?;
            call(
                base,
                "POST",
                "/clock/advance",
                Some(json!({ "seconds": seconds })),
            )
            .await?
        }
        SandboxCommand::Settle => call(base, "POST", "/clock/settle", Some(json!({}))).await?,
        SandboxCommand::Clock => call(base, "GET", "/clock", None).await?,
        SandboxCommand::Reset => {
            call(base, "POST", "/reset", None).await?;
            out.show(&json!({ "reset": true }), || {
                format!("the sandbox at {base} starts over")
            });
            return Ok(());
        }
        SandboxCommand::Env => return env(base, out).await,
    };
    out.show(&body, || {
        let mut line = format!(
            "clock {} ({})",
            body["now"].as_str().unwrap_or("?"),
            body["mode"].as_str().unwrap_or("?")
        );
        if let Some(steps) = body["steps"].as_u64() {
            line.push_str(&format!(", {steps} steps ran"));
        }
        line
    });
    Ok(())
}

/// One request to the control plane of the sandbox at `base` (`path` under `/sandbox`),
/// with `SOPHIC_SANDBOX_CONTROL_TOKEN` when set; the JSON answer, or why not.
pub async fn call(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, Failure> {
    let base = base.trim_end_matches('/');
    let url = format!("{base}/sandbox{path}");
    let http = reqwest::Client::new();
    let mut request = match method {
        "GET" => http.get(&url),
        _ => http.post(&url),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Ok(token) = std::env::var("SOPHIC_SANDBOX_CONTROL_TOKEN")
        && !token.is_empty()
    {
        request = request.bearer_auth(token);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| Failure::Unexpected(format!("could not reach the sandbox at {base}: {e}")))?;
    let status = answer.status();
    let text = answer
        .text()
        .await
        .map_err(|e| Failure::Unexpected(format!("{base} answered {status}, unreadably: {e}")))?;
    // (A 204, such as a reset's, has no body.)
    let body = if text.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_str::<Value>(&text)
    };
    if !status.is_success() {
        let detail = match &body {
            Ok(json) => json["detail"].as_str().unwrap_or("refused").to_string(),
            Err(_) => text.chars().take(200).collect(),
        };
        return Err(Failure::Unexpected(format!(
            "the sandbox said {status}: {detail}"
        )));
    }
    body.map_err(|e| Failure::Unexpected(format!("{base} did not answer as a sandbox does: {e}")))
}

/// `91d`, `36h`, `15m`, `90s` or a plain number of seconds.
pub fn duration_seconds(text: &str) -> Result<u64, Failure> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => {
            return Err(Failure::usage(format!(
                "advance: `{text}` must be a number with d, h, m or s (91d, 36h, 15m, 90s)"
            )));
        }
    };
    let number: u64 = number.parse().map_err(|_| {
        Failure::usage(format!(
            "advance: `{text}` must be a whole number with d, h, m or s (91d, 36h, 15m, 90s)"
        ))
    })?;
    number
        .checked_mul(scale)
        .ok_or_else(|| Failure::usage(format!("advance: `{text}` is too far")))
}

#[cfg(test)]
mod tests {
    use super::duration_seconds;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_seconds("91d").unwrap(), 91 * 86_400);
        assert_eq!(duration_seconds("36h").unwrap(), 36 * 3_600);
        assert_eq!(duration_seconds("15m").unwrap(), 900);
        assert_eq!(duration_seconds("90s").unwrap(), 90);
        assert_eq!(duration_seconds("90").unwrap(), 90);
        for bad in ["", "d", "1.5d", "-1d", "3w", "99999999999999999999d"] {
            assert!(duration_seconds(bad).is_err(), "{bad}");
        }
    }
}
