//! What the attempts of a failed call leave known: how many were sent, and whether one of
//! them may have reached Sophic and taken effect.

use crate::Error;
use crate::error::OutcomeUnknown;

/// The attempts of one call, as the request loop sends them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Attempts {
    sent: u32,
    in_doubt: bool,
    /// When the first attempt that may have taken effect was sent.
    doubt_since: Option<tokio::time::Instant>,
}

impl Attempts {
    /// An attempt is about to be sent.
    pub(crate) fn sending(&mut self) {
        self.sent += 1;
    }

    /// The attempt just sent failed with `error`. Doubt, once there, stays: a later
    /// refusal may be about the retry rather than the attempt that may have taken effect.
    pub(crate) fn failed(&mut self, error: &Error, sent_at: tokio::time::Instant) {
        if may_have_taken_effect(error) {
            self.in_doubt = true;
            self.doubt_since.get_or_insert(sent_at);
        }
    }

    /// When the first attempt that may have taken effect was sent, if one was.
    pub(crate) fn doubt_since(&self) -> Option<tokio::time::Instant> {
        self.doubt_since
    }

    /// The call ends with `error`.
    pub(crate) fn give_up(self, error: Error) -> Failed {
        Failed {
            error,
            attempts: self.sent,
            in_doubt: self.in_doubt,
        }
    }
}

/// A call that failed for good, with what its attempts leave known.
#[derive(Debug)]
pub(crate) struct Failed {
    error: Error,
    attempts: u32,
    in_doubt: bool,
}

impl Failed {
    /// The error of a placement or cancellation whose attempts all carried `key`: an
    /// unknown outcome if one of them may have taken effect, the last failure otherwise.
    pub(crate) fn of_write(self, operation: &'static str, key: &str) -> Error {
        if !self.in_doubt {
            return self.error;
        }
        Error::OutcomeUnknown(Box::new(OutcomeUnknown {
            operation,
            idempotency_key: key.to_owned(),
            attempts: self.attempts,
            last: self.error,
        }))
    }
}

impl From<Failed> for Error {
    /// The last failure, for calls that cannot take effect (reads) or are not keyed.
    fn from(failed: Failed) -> Self {
        failed.error
    }
}

/// Whether an attempt that failed with `error` may have been processed: it was sent and
/// no answer came back (a timeout, a connection lost after connecting, a body cut short),
/// the answer was a 5xx, or another attempt with its key was still being processed. A
/// refusal (4xx), a rate limit, and a connection never made are sure not to have acted.
fn may_have_taken_effect(error: &Error) -> bool {
    match error {
        Error::Transport { source } | Error::Timeout { source } => !source.is_connect(),
        Error::CallTimeout { .. } => true,
        Error::Api(api) if api.body.code.is_in_progress() => true,
        _ => error
            .status()
            .is_some_and(|status| status.is_server_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use http::StatusCode;
    use sophic_client::types::ErrorCode;

    fn api(status: u16, code: ErrorCode) -> Error {
        Error::Api(Box::new(ApiError::bare(status, code)))
    }

    fn after(errors: impl IntoIterator<Item = Error>) -> Error {
        let mut attempts = Attempts::default();
        let mut last = None;
        for error in errors {
            attempts.sending();
            attempts.failed(&error, tokio::time::Instant::now());
            last = Some(error);
        }
        attempts
            .give_up(last.unwrap())
            .of_write(sophic_client::Operation::PLACE_ORDER.id, "key-1")
    }

    #[test]
    fn server_errors_and_keys_in_progress_leave_the_outcome_unknown() {
        for error in [
            api(500, ErrorCode::InternalError),
            api(503, ErrorCode::InternalError),
            api(409, ErrorCode::IdempotencyRequestInProgress),
            Error::UnexpectedResponse {
                status: StatusCode::BAD_GATEWAY,
                request_id: None,
                body: Default::default(),
            },
        ] {
            let err = after([error]);
            assert!(err.is_outcome_unknown(), "{err}");
            assert_eq!(err.idempotency_key(), Some("key-1"));
            assert_eq!(err.attempts(), Some(1));
        }
    }

    #[test]
    fn refusals_and_rate_limits_leave_it_known() {
        for (status, code) in [
            (400, ErrorCode::InsufficientFunds),
            (401, ErrorCode::NotAuthenticated),
            (403, ErrorCode::PermissionDenied),
            (404, ErrorCode::NotFound),
            (409, ErrorCode::IdempotencyKeyReused),
            (429, ErrorCode::RateLimited),
        ] {
            let err = after([api(status, code)]);
            assert!(!err.is_outcome_unknown(), "{err}");
            assert_eq!((err.idempotency_key(), err.attempts()), (None, None));
        }
    }

    #[test]
    fn a_refusal_after_a_doubtful_attempt_does_not_clear_the_doubt() {
        let err = after([
            api(503, ErrorCode::InternalError),
            api(400, ErrorCode::InsufficientFunds),
        ]);
        assert!(err.is_outcome_unknown(), "{err}");
        assert_eq!(err.attempts(), Some(2));
        assert!(
            err.is_insufficient_funds(),
            "the last answer is kept: {err}"
        );
    }

    #[test]
    fn a_failure_before_any_attempt_leaves_it_known() {
        let err = Attempts::default()
            .give_up(Error::invalid_input("no token"))
            .of_write(sophic_client::Operation::PLACE_ORDER.id, "key-1");
        assert!(!err.is_outcome_unknown(), "{err}");
    }
}
