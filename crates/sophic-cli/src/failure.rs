//! Why a command failed, how it is shown, and its exit code.

use std::process::ExitCode;

use crate::output::Output;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A bad flag, id or amount: nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The SDK or the API said no.
    #[error(transparent)]
    Sdk(#[from] sophic::Error),
    /// A webhook delivery did not verify.
    #[error("{0}")]
    Verification(String),
    /// Anything else.
    #[error("{0}")]
    Unexpected(String),
}

impl Failure {
    /// A usage failure.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    /// The process exit code (see `sophic --help`).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Usage(_) => 2,
            Failure::Verification(_) => 5,
            Failure::Unexpected(_) => 1,
            // The kind of failure first: an answer that did not decode is ours (1) whatever
            // status it came with, not an unreachable API (4).
            Failure::Sdk(sophic::Error::Decode { .. }) => 1,
            Failure::Sdk(sophic::Error::InvalidInput { .. }) => 2,
            Failure::Sdk(e) => match e.status() {
                Some(s) if s.is_client_error() => 3,
                Some(_) => 4,
                None if matches!(e, sophic::Error::Auth(_)) => 3,
                None => 4,
            },
        })
    }

    /// Writes the failure to stderr: the API code, the detail, the fields at fault and
    /// the request id.
    pub fn report(&self, out: &Output) {
        let mut text = format!("{}: ", out.error_label());
        match self {
            Failure::Sdk(sophic::Error::Api(api)) => {
                let status = api.status.as_u16();
                text.push_str(&format!("{} (HTTP {status}): {}", api.code(), api.detail()));
                for param in api.params() {
                    text.push_str(&format!("\n  {}: {}", param.path, param.detail));
                }
                if let Some(context) = api.context() {
                    let figures: Vec<String> = context
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                v.as_str().map_or_else(|| v.to_string(), str::to_string)
                            )
                        })
                        .collect();
                    text.push_str(&format!("\n  context: {}", figures.join(" ")));
                }
                if let Some(id) = api.request_id.as_deref() {
                    text.push_str(&format!("\n  request id: {id}"));
                }
            }
            other => text.push_str(&other.to_string()),
        }
        eprintln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_error(status: Option<u16>) -> sophic::Error {
        sophic::Error::Decode {
            status: status.map(|s| s.try_into().unwrap()),
            request_id: None,
            path: None,
            body: Default::default(),
            source: serde_json::from_str::<u8>("not json").unwrap_err(),
        }
    }

    #[test]
    fn an_answer_that_does_not_decode_exits_1_whatever_its_status() {
        for status in [None, Some(200), Some(201)] {
            assert_eq!(
                Failure::Sdk(decode_error(status)).exit_code(),
                ExitCode::from(1),
                "{status:?}"
            );
        }
    }
}
