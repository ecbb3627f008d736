//! When to try a request again, and how long to wait first.

use std::time::Duration;

use crate::Error;

/// Whether sending a request twice could do something twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Reads, `PUT`s, token requests, and `POST`s carrying an idempotency key: a second
    /// attempt returns the first one's answer instead of acting again.
    Idempotent,
    /// A `POST` without an idempotency key (registering a webhook, a test delivery): retried
    /// only when the request surely was not processed (refused connection, 429).
    NotIdempotent,
}

/// How the client retries failed requests: capped exponential backoff with jitter, within a
/// number of attempts and a total time budget.
///
/// Retried: transport failures and timeouts, 429 (waiting at least `Retry-After`), 500, 502,
/// 503, 504, and 409 `idempotency_request_in_progress`. Placements and cancellations carry
/// one idempotency key across all their attempts, so a retry never places a second order;
/// requests that cannot carry a key are retried only when they surely did not arrive. A
/// placement or cancellation still in doubt when the retries run out fails with
/// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown).
///
/// ```
/// use std::time::Duration;
/// use sophic::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(6)
///     .initial_backoff(Duration::from_millis(100))
///     .budget(Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    budget: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, backoff from 250 ms doubling to at most 8 s, 30 s in all.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            budget: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff before the first retry; it doubles for each later one.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest backoff between two attempts (a longer `Retry-After` still wins).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The time from the first attempt after which no retry starts; a retry whose wait
    /// would end later is not made and the last error is returned.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The wait before retry number `retry` (0 for the first retry): a random duration
    /// between half and all of `initial_backoff × 2^retry`, capped at `max_backoff`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(crate::random::up_to(spread))
    }

    fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to give up with `error`.
    pub(crate) fn delay_after(
        &self,
        error: &Error,
        safety: Safety,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !should_retry(error, safety) {
            return None;
        }
        let delay = self
            .backoff(attempt - 1)
            .max(error.retry_after().unwrap_or_default());
        (elapsed + delay <= self.budget).then_some(delay)
    }
}

/// Whether `error` is worth another attempt of a request of the given safety.
pub(crate) fn should_retry(error: &Error, safety: Safety) -> bool {
    if never_arrived(error) {
        return true;
    }
    match safety {
        Safety::Idempotent => error.is_retryable(),
        // A 429 is refused before any work; anything else may have been processed.
        Safety::NotIdempotent => {
            error.is_retryable() && error.status().map(|s| s.as_u16()) == Some(429)
        }
    }
}

/// The connection was never made, so the request cannot have been processed.
fn never_arrived(error: &Error) -> bool {
    matches!(error, Error::Transport { source } if source.is_connect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use sophic_client::types::ErrorCode;

    fn api(status: u16, code: ErrorCode, retry_after: Option<u64>) -> Error {
        let mut api = ApiError::bare(status, code);
        api.retry_after = retry_after.map(Duration::from_secs);
        Error::Api(Box::new(api))
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .max_attempts(5)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1))
            .budget(Duration::from_secs(60))
    }

    #[test]
    fn backoff_stays_between_half_and_all_of_the_capped_exponential() {
        let policy = policy();
        for retry in 0..12 {
            let ceiling = Duration::from_millis(100)
                .saturating_mul(2u32.saturating_pow(retry))
                .min(Duration::from_secs(1));
            for _ in 0..200 {
                let delay = policy.backoff(retry);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{retry}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_does_not_overflow_on_huge_retry_counts() {
        let delay = policy().backoff(u32::MAX);
        assert!(delay <= Duration::from_secs(1));
    }

    #[test]
    fn server_errors_are_retried_for_idempotent_requests_only() {
        let error = api(503, ErrorCode::InternalError, None);
        assert!(should_retry(&error, Safety::Idempotent));
        assert!(!should_retry(&error, Safety::NotIdempotent));
    }

    #[test]
    fn rate_limits_are_retried_for_every_request() {
        let error = api(429, ErrorCode::RateLimited, Some(1));
        assert!(should_retry(&error, Safety::Idempotent));
        assert!(should_retry(&error, Safety::NotIdempotent));
    }

    #[test]
    fn an_in_progress_idempotency_key_is_retried_and_a_reused_one_is_not() {
        let in_progress = api(409, ErrorCode::IdempotencyRequestInProgress, None);
        let reused = api(409, ErrorCode::IdempotencyKeyReused, None);
        assert!(should_retry(&in_progress, Safety::Idempotent));
        assert!(!should_retry(&reused, Safety::Idempotent));
    }

    #[test]
    fn client_errors_are_never_retried() {
        for (status, code) in [
            (400, ErrorCode::InvalidParam),
            (400, ErrorCode::InsufficientFunds),
            (401, ErrorCode::NotAuthenticated),
            (403, ErrorCode::PermissionDenied),
            (404, ErrorCode::NotFound),
        ] {
            assert!(!should_retry(&api(status, code, None), Safety::Idempotent));
        }
        assert!(!should_retry(
            &Error::invalid_input("bad"),
            Safety::Idempotent
        ));
    }

    #[test]
    fn retry_after_is_honoured_even_beyond_the_backoff_cap() {
        let error = api(429, ErrorCode::RateLimited, Some(7));
        let delay = policy().delay_after(&error, Safety::Idempotent, 1, Duration::ZERO);
        assert_eq!(delay, Some(Duration::from_secs(7)));
    }

    #[test]
    fn no_retry_starts_past_the_attempts_or_the_budget() {
        let error = api(500, ErrorCode::InternalError, None);
        let policy = policy().max_attempts(3).budget(Duration::from_secs(2));
        assert!(
            policy
                .delay_after(&error, Safety::Idempotent, 2, Duration::ZERO)
                .is_some()
        );
        assert!(
            policy
                .delay_after(&error, Safety::Idempotent, 3, Duration::ZERO)
                .is_none()
        );
        assert!(
            policy
                .delay_after(&error, Safety::Idempotent, 1, Duration::from_secs(2))
                .is_none()
        );
        let long_wait = api(429, ErrorCode::RateLimited, Some(5));
        assert!(
            policy
                .delay_after(&long_wait, Safety::Idempotent, 1, Duration::ZERO)
                .is_none()
        );
    }

    #[test]
    fn the_none_policy_makes_one_attempt() {
        let error = api(503, ErrorCode::InternalError, None);
        assert!(
            RetryPolicy::none()
                .delay_after(&error, Safety::Idempotent, 1, Duration::ZERO)
                .is_none()
        );
    }
}
