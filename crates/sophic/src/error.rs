//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use sophic_client::types::{self, ErrorCode, ErrorParam};

use crate::webhooks::WebhookError;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call, one variant per kind of failure.
///
/// API refusals carry the whole story (HTTP status, code, detail, per-parameter problems,
/// context and the request id); the helpers ([`Error::code`], [`Error::request_id`],
/// [`Error::is_insufficient_funds`]…) answer the common questions without a `match`.
///
/// A placement or cancellation that may have taken effect although it failed is an
/// [`Error::OutcomeUnknown`]; ask [`Error::is_outcome_unknown`] before anything else.
///
/// ```
/// # fn handle(err: sophic::Error) {
/// if err.is_insufficient_funds() {
///     eprintln!("top up first ({})", err.request_id().unwrap_or("no request id"));
/// } else if err.is_retryable() {
///     eprintln!("try again later: {err}");
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered 4xx or 5xx with its error body.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// A placement or cancellation failed after an attempt that may have reached Sophic
    /// (a timeout, a connection lost once the request was sent, a 5xx, its key still in
    /// progress): it may have taken effect. It carries the idempotency key every attempt
    /// sent, the number of attempts and the last failure, which the helpers
    /// ([`Error::status`], [`Error::api`]…) answer for.
    #[error(transparent)]
    OutcomeUnknown(Box<OutcomeUnknown>),

    /// A placement may have been made twice (the order in it exists either way): an earlier
    /// attempt may have placed the order,
    /// a retry with the same `Idempotency-Key` was answered as a new order (Sophic did not
    /// replay it), and the account holds a twin, an order of the same instrument, side and
    /// amount created since the first attempt (or the twin could not be looked for). Both
    /// orders exist: cancel the one you do not want. See [`Duplicate`].
    #[error(transparent)]
    Duplicate(Box<Duplicate>),

    /// The token endpoint (`POST /auth/token`) refused the client credentials.
    #[error(transparent)]
    Auth(Box<AuthError>),

    /// The request did not complete: connection refused or reset, DNS, TLS, a body cut short.
    #[cfg(feature = "client")]
    #[error("could not reach the Sophic API: {source}")]
    Transport {
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },

    /// The connection or the request took longer than the configured timeout.
    #[cfg(feature = "client")]
    #[error("the request to the Sophic API timed out: {source}")]
    Timeout {
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },

    /// No answer within the call's own timeout ([`Client::with_timeout`](crate::Client::with_timeout)
    /// or a builder's `timeout`): the request may have reached Sophic, so it is retried
    /// like a timeout, and a placement's outcome may be unknown.
    #[cfg(feature = "client")]
    #[error("no answer within {after:?}, the call's timeout")]
    CallTimeout {
        /// The limit that passed.
        after: Duration,
    },

    /// An answer arrived but its body is not what the API promised. The raw body is kept,
    /// so nothing the service sent is lost: a field the spec chose (`x-undocumented`) that
    /// the real service names or shapes differently is read from `body`, at `path`.
    #[error("could not decode the answer{}{}: {source}", Context(*.status, .request_id.as_deref()), At(.path.as_deref()))]
    Decode {
        /// The HTTP status, when known.
        status: Option<StatusCode>,
        /// The `Request-Id` header, when known.
        request_id: Option<String>,
        /// Where in the body decoding failed (`trades[0].id`; `.` for the body itself),
        /// when known.
        path: Option<String>,
        /// The raw body, kept for debugging.
        body: Bytes,
        /// Why it did not decode.
        #[source]
        source: serde_json::Error,
    },

    /// An answer with a status the API does not document for the operation.
    #[error("unexpected answer{}", Context(Some(*.status), .request_id.as_deref()))]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// The `Request-Id` header, when present.
        request_id: Option<String>,
        /// The raw body.
        body: Bytes,
    },

    /// The base URL is plain `http://` to a host that is not loopback, so the token or the
    /// client secret would travel in clear text for anyone on the path to read. Use
    /// `https://`, or opt in on a test rig with
    /// [`ClientBuilder::danger_allow_insecure_http`](crate::ClientBuilder::danger_allow_insecure_http).
    /// Loopback (`127.0.0.0/8`, `::1`, `localhost`) is always allowed.
    #[cfg(feature = "client")]
    #[error(
        "refusing to send credentials in clear text to `{host}`: the base URL is http:// and \
         `{host}` is not loopback; use https://, or call \
         `ClientBuilder::danger_allow_insecure_http()` on a test rig"
    )]
    InsecureHttp {
        /// The base URL's host.
        host: String,
    },

    /// The SDK refused the input before sending anything (or could not be configured).
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },

    /// An order did not reach the awaited status within the wait's timeout. When it sits
    /// in a status this SDK does not know, the message says so ([`Error::unknown_status`]).
    #[error("{}", gave_up(.last, .waited))]
    WaitTimeout {
        /// The order as last seen.
        last: Box<types::Order>,
        /// How long the wait lasted.
        waited: Duration,
    },

    /// A webhook delivery failed verification or did not parse.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

/// A refusal from the API: a 4xx or 5xx answer carrying Sophic's error body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The decoded body: `code`, `detail`, `params`, `context`, `docs`.
    pub body: types::Error,
    /// The `Request-Id` header: quote it when asking Sophic about a call.
    pub request_id: Option<String>,
    /// The `Retry-After` header (429), when present.
    pub retry_after: Option<Duration>,
    /// Whether the answer is a replay of an earlier one for the same idempotency key.
    pub replayed: bool,
}

impl ApiError {
    /// The machine-readable reason, such as `insufficient_funds`.
    pub fn code(&self) -> &ErrorCode {
        &self.body.code
    }

    /// The sentence for people.
    pub fn detail(&self) -> &str {
        &self.body.detail
    }

    /// The parameters at fault (for `invalid_param`), empty when none.
    pub fn params(&self) -> &[ErrorParam] {
        self.body.params.as_deref().unwrap_or_default()
    }

    /// The figures behind the refusal, such as `required`, `available`, `currency`.
    pub fn context(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.body.context.as_ref()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.body.code, self.body.detail)?;
        for param in self.params() {
            write!(f, "; {}: {}", param.path, param.detail)?;
        }
        write!(
            f,
            "{}",
            Context(Some(self.status), self.request_id.as_deref())
        )
    }
}

impl std::error::Error for ApiError {}

/// A placement or cancellation whose outcome is unknown: one of its attempts may have
/// reached Sophic and taken effect, and no answer says whether it did.
///
/// Two ways on are safe: send it again with [`OutcomeUnknown::idempotency_key`] (Sophic
/// answers a known key with its first answer, so a placed order comes back instead of a
/// second one), or look it up (the orders created since the first attempt, or the order
/// being cancelled). Sending it with a new key may do it twice.
#[derive(Debug)]
#[non_exhaustive]
pub struct OutcomeUnknown {
    /// The operation: `place_order` or `cancel_order`.
    pub operation: &'static str,
    /// The `Idempotency-Key` every attempt carried.
    pub idempotency_key: String,
    /// The attempts sent, the first included.
    pub attempts: u32,
    /// The last attempt's failure (or what stopped the next one, such as a token that could
    /// not be renewed). After an attempt in doubt it may be a refusal of a retry.
    pub last: Error,
}

/// A placement that may have been made twice; see [`Error::Duplicate`].
///
/// What it catches: a service that stored the first attempt but did not honour its key on
/// the retry, so two orders of the same instrument, side and amount now exist. What it
/// cannot catch: a twin placed more than a few seconds before the first attempt (the look
/// is bounded by time), an order the caller meant to place twice within that window (it is
/// reported, though intended), and a service that neither replays nor stores the first
/// attempt visibly. It runs only after an attempt in doubt, so an ordinary placement costs
/// nothing more. [`ClientBuilder::detect_duplicate_placements`](crate::ClientBuilder::detect_duplicate_placements)
/// turns it off.
#[derive(Debug)]
#[non_exhaustive]
pub struct Duplicate {
    /// The order the last attempt placed (the one a success would have returned).
    pub order: types::Order,
    /// The twin found: an earlier order of the same instrument, side and amount. `None`
    /// when the look for one failed (`check_failed` says why).
    pub twin: Option<types::Order>,
    /// The `Idempotency-Key` every attempt carried.
    pub idempotency_key: String,
    /// Why no twin could be looked for, when the look failed.
    pub check_failed: Option<Error>,
}

impl fmt::Display for Duplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the placement may have been made twice: order {} was placed by a retry that was \
             answered as new (idempotency key `{}` not honoured)",
            self.order.id, self.idempotency_key
        )?;
        match (&self.twin, &self.check_failed) {
            (Some(twin), _) => write!(
                f,
                ", and order {} of the same instrument, side and amount was created since the \
                 first attempt. Both exist: cancel the one you do not want",
                twin.id
            ),
            (None, Some(error)) => write!(
                f,
                "; whether an earlier attempt also placed it could not be checked ({error}). \
                 List the account's orders before placing it again"
            ),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Display for OutcomeUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        let key = &self.idempotency_key;
        write!(
            f,
            "the outcome of {} is unknown after {} attempt{plural}: ",
            self.operation, self.attempts
        )?;
        match self.operation {
            op if op == sophic_client::Operation::CANCEL_ORDER.id => write!(
                f,
                "the order may be cancelled. To finish safely, cancel it again with \
                 idempotency key `{key}`, or get the order to see its status"
            )?,
            _ => write!(
                f,
                "the order may exist. To finish safely, place it again with idempotency key \
                 `{key}` (Sophic answers with the order if it was placed, or places it now), \
                 or list the orders created since the first attempt; never place it with a \
                 new key"
            )?,
        }
        write!(f, ". Last failure: {}", self.last)
    }
}

impl std::error::Error for OutcomeUnknown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.last)
    }
}

impl std::error::Error for Duplicate {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.check_failed
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A refusal from the token endpoint, in the OAuth 2 shape (`{"error": "invalid_client"}`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The decoded body: `error` and `error_description`.
    pub body: types::TokenError,
    /// The `Request-Id` header.
    pub request_id: Option<String>,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the token endpoint refused the credentials: {}",
            self.body.error
        )?;
        if let Some(description) = &self.body.error_description {
            write!(f, ": {description}")?;
        }
        write!(
            f,
            "{}",
            Context(Some(self.status), self.request_id.as_deref())
        )
    }
}

impl std::error::Error for AuthError {}

/// ` (HTTP 400, request-id req_123)`, or as much of it as is known.
struct Context<'a>(Option<StatusCode>, Option<&'a str>);

impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(status), Some(id)) => write!(f, " (HTTP {}, request-id {id})", status.as_u16()),
            (Some(status), None) => write!(f, " (HTTP {})", status.as_u16()),
            (None, Some(id)) => write!(f, " (request-id {id})"),
            (None, None) => Ok(()),
        }
    }
}

/// ` at trades[0].id` after a decode error's context, when the place is known.
struct At<'a>(Option<&'a str>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, " at {path}"),
            None => Ok(()),
        }
    }
}

impl Error {
    /// The API refusal, if this is one (or the last failure of an unknown outcome is one).
    pub fn api(&self) -> Option<&ApiError> {
        match self.last() {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The status a wait gave up in, when the spec this SDK was built from does not list
    /// it: waiting treats an unknown status as not terminal, so a wait for an order that
    /// Sophic moved into a new status (say `rejected`) ends with its timeout, and this says
    /// why. Upgrade the SDK, or decide on the raw status from
    /// `WaitForOrder::status_changes`.
    pub fn unknown_status(&self) -> Option<&types::OrderStatus> {
        match self {
            Self::WaitTimeout { last, .. } if !last.status.is_known() => Some(&last.status),
            _ => None,
        }
    }

    /// Whether this is a placement or cancellation that may have taken effect although it
    /// failed (see [`Error::OutcomeUnknown`]). If so, never send it anew with a fresh key:
    /// send it again with [`Error::idempotency_key`], or look the order up. A refusal (4xx)
    /// with no attempt in doubt before it, or a connection that could not be made, is not
    /// an unknown outcome: nothing was done.
    pub fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown().is_some()
    }

    /// Whether this is a placement that may have been made twice ([`Error::Duplicate`]).
    pub fn is_duplicate(&self) -> bool {
        self.duplicate().is_some()
    }

    /// The details of a possible duplicate placement, if this is one.
    pub fn duplicate(&self) -> Option<&Duplicate> {
        match self {
            Self::Duplicate(duplicate) => Some(duplicate),
            _ => None,
        }
    }

    /// The details of an unknown outcome, if this is one.
    pub fn outcome_unknown(&self) -> Option<&OutcomeUnknown> {
        match self {
            Self::OutcomeUnknown(unknown) => Some(unknown),
            _ => None,
        }
    }

    /// The `Idempotency-Key` every attempt of a placement or cancellation whose outcome is
    /// unknown carried: send the same request with it to learn the outcome safely.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.outcome_unknown()
            .map(|unknown| unknown.idempotency_key.as_str())
    }

    /// The attempts sent, the first included, for a placement or cancellation whose
    /// outcome is unknown.
    pub fn attempts(&self) -> Option<u32> {
        self.outcome_unknown().map(|unknown| unknown.attempts)
    }

    /// The error the helpers answer for: the last failure of an unknown outcome, this
    /// error otherwise.
    fn last(&self) -> &Self {
        match self {
            Self::OutcomeUnknown(unknown) => &unknown.last,
            other => other,
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self.last() {
            Self::Api(api) => Some(api.status),
            Self::Auth(auth) => Some(auth.status),
            Self::Decode { status, .. } => *status,
            Self::UnexpectedResponse { status, .. } => Some(*status),
            #[cfg(feature = "client")]
            Self::Transport { source } | Self::Timeout { source } => source.status(),
            _ => None,
        }
    }

    /// The API's error code, for API refusals.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api().map(ApiError::code)
    }

    /// The parameters at fault, empty unless the API named some.
    pub fn params(&self) -> &[ErrorParam] {
        self.api().map(ApiError::params).unwrap_or_default()
    }

    /// The `Request-Id` of the answer, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self.last() {
            Self::Api(api) => api.request_id.as_deref(),
            Self::Auth(auth) => auth.request_id.as_deref(),
            Self::Decode { request_id, .. } | Self::UnexpectedResponse { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// How long the API asked to wait before trying again (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|api| api.retry_after)
    }

    /// Whether the same request may succeed if sent again: transport failures, timeouts,
    /// 429, 500, 502, 503, 504 and 409 `idempotency_request_in_progress`. A replayed
    /// answer (`Idempotent-Replayed: true`) is never retryable: it is the final answer.
    ///
    /// This says nothing about whether retrying is *safe*; the client only retries a
    /// request that cannot take effect twice (reads, and writes carrying an idempotency key).
    pub fn is_retryable(&self) -> bool {
        match self.last() {
            #[cfg(feature = "client")]
            Self::Transport { .. } | Self::Timeout { .. } | Self::CallTimeout { .. } => true,
            Self::Api(api) => {
                !api.replayed && (is_retryable_status(api.status) || api.body.code.is_in_progress())
            }
            Self::Auth(auth) => is_retryable_status(auth.status),
            Self::UnexpectedResponse { status, .. } => is_retryable_status(*status),
            _ => false,
        }
    }

    /// Whether the account's cash is below the buy's amount.
    pub fn is_insufficient_funds(&self) -> bool {
        self.code() == Some(&ErrorCode::InsufficientFunds)
    }

    /// Whether the account's units are below the sell's quantity.
    pub fn is_insufficient_units(&self) -> bool {
        self.code() == Some(&ErrorCode::InsufficientUnits)
    }

    /// Whether the order can no longer be cancelled (it is filled or settled).
    pub fn is_not_cancellable(&self) -> bool {
        self.code() == Some(&ErrorCode::OrderNotCancellable)
    }

    /// Whether the account, order, instrument or webhook does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(&ErrorCode::NotFound)
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }
}

/// 429 and the 5xx statuses that mean "not now" rather than "never".
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

impl From<crate::IdError> for Error {
    fn from(err: crate::IdError) -> Self {
        Self::invalid_input(err.to_string())
    }
}

impl From<crate::AmountError> for Error {
    fn from(err: crate::AmountError) -> Self {
        Self::invalid_input(err.to_string())
    }
}

/// The message of [`Error::WaitTimeout`].
fn gave_up(last: &types::Order, waited: &Duration) -> String {
    if last.status.is_known() {
        format!(
            "gave up waiting for order {} after {waited:?}: it is still `{}`",
            last.id, last.status
        )
    } else {
        format!(
            "gave up waiting for order {} after {waited:?}: it sits in `{}`, a status this SDK does not know (it may be final; see Error::unknown_status)",
            last.id, last.status
        )
    }
}

#[cfg(test)]
impl ApiError {
    /// A refusal with this status and code and nothing else, for the crate's unit tests.
    pub(crate) fn bare(status: u16, code: ErrorCode) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap(),
            body: types::Error::from(types::exhaustive::Error {
                code,
                detail: "x".into(),
                params: None,
                context: None,
                docs: None,
            }),
            request_id: None,
            retry_after: None,
            replayed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: ErrorCode) -> Error {
        let mut api = ApiError::bare(status, code);
        api.body.detail = "Refused.".into();
        api.body.params = Some(vec![ErrorParam::from(types::exhaustive::ErrorParam {
            path: "body.cash_amount".into(),
            detail: "must be greater than 0".into(),
            code: types::ErrorParamCode::TooSmall,
        })]);
        api.request_id = Some("req_123".into());
        Error::Api(Box::new(api))
    }

    #[test]
    fn the_message_carries_code_detail_params_and_request_id() {
        let err = api(400, ErrorCode::InvalidParam);
        assert_eq!(
            err.to_string(),
            "invalid_param: Refused.; body.cash_amount: must be greater than 0 \
             (HTTP 400, request-id req_123)"
        );
    }

    #[test]
    fn rate_limits_server_errors_and_in_progress_keys_are_retryable() {
        assert!(api(429, ErrorCode::RateLimited).is_retryable());
        for status in [500, 502, 503, 504] {
            assert!(
                api(status, ErrorCode::InternalError).is_retryable(),
                "{status}"
            );
        }
        assert!(api(409, ErrorCode::IdempotencyRequestInProgress).is_retryable());
    }

    #[test]
    fn refusals_that_will_not_change_are_not_retryable() {
        assert!(!api(400, ErrorCode::InsufficientFunds).is_retryable());
        assert!(!api(401, ErrorCode::NotAuthenticated).is_retryable());
        assert!(!api(404, ErrorCode::NotFound).is_retryable());
        assert!(!api(409, ErrorCode::IdempotencyKeyReused).is_retryable());
        assert!(!api(501, ErrorCode::Unknown("not_implemented".into())).is_retryable());
        assert!(!Error::invalid_input("no").is_retryable());
    }

    #[test]
    fn a_replayed_server_error_is_final() {
        let Error::Api(mut inner) = api(500, ErrorCode::InternalError) else {
            unreachable!()
        };
        inner.replayed = true;
        assert!(!Error::Api(inner).is_retryable());
    }

    #[test]
    fn helpers_answer_the_common_questions() {
        let err = api(400, ErrorCode::InsufficientFunds);
        assert!(err.is_insufficient_funds());
        assert!(!err.is_not_cancellable());
        assert_eq!(err.request_id(), Some("req_123"));
        assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(err.params()[0].path, "body.cash_amount");
        assert!(api(400, ErrorCode::OrderNotCancellable).is_not_cancellable());
    }
}
