//! The Sophic Orders API client, generated at build time from `openapi/orders.yaml`.
//!
//! Everything in [`types`] and [`builder`], and every method of [`Client`], comes from the
//! spec through `sophic-codegen`; read it with `cargo xtask codegen`. This file adds only
//! what generation cannot: the state behind the `Authorization` header ([`ClientState`]), the
//! hook that sends it, and a hook that keeps the status of error answers whose body is not
//! JSON (an HTML 502 from a proxy).
//!
//! Most users want the `sophic` crate, which adds typed ids, retries, paging and waiting.

use std::fmt;
use std::sync::{Arc, RwLock};

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

#[allow(clippy::all, clippy::pedantic, unused_imports, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/sophic_client.rs"));
}

pub use generated::*;

/// The state every request reads: the bearer token to send, if any.
///
/// Clones share the token, so a token renewed through one handle (for example by the
/// `sophic` crate's OAuth flow) is used by every request from then on, without rebuilding
/// the [`Client`]. The `Authorization` value is built once when the token is set, not on
/// every request.
#[derive(Clone, Default)]
pub struct ClientState {
    token: Arc<RwLock<Option<Bearer>>>,
    /// The exchange every request goes through, when the user wrapped it in middleware.
    service: Option<HttpService>,
}

/// One HTTP exchange as a tower service: what middleware wraps (tracing spans, an extra
/// header, a client-side rate limit, a proxy rule). The innermost service is the
/// `reqwest::Client` itself; a layer may also answer without sending (a synthesized
/// `reqwest::Response`), which the client then treats as the service's answer.
pub type HttpService =
    tower::util::BoxCloneSyncService<reqwest::Request, reqwest::Response, reqwest::Error>;

/// A token and the header that carries it (or why it cannot be carried).
struct Bearer {
    token: SecretString,
    header: Result<HeaderValue, String>,
}

impl Bearer {
    fn new(token: SecretString) -> Self {
        let header = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map(|mut value| {
                value.set_sensitive(true);
                value
            })
            .map_err(|_| "the bearer token holds characters not allowed in a header".to_string());
        Self { token, header }
    }
}

impl ClientState {
    /// Sends every request through `service` instead of the client's `reqwest::Client`.
    pub fn with_service(mut self, service: HttpService) -> Self {
        self.service = Some(service);
        self
    }

    /// State with no token: requests go out without `Authorization`.
    pub fn new() -> Self {
        Self::default()
    }

    /// State holding a bearer token, or why the token cannot be sent in a header (the
    /// check every request would otherwise fail with).
    pub fn try_with_token(token: SecretString) -> Result<Self, String> {
        let bearer = Bearer::new(token);
        bearer.header.as_ref().map_err(Clone::clone)?;
        Ok(Self {
            token: Arc::new(RwLock::new(Some(bearer))),
            service: None,
        })
    }

    /// State holding a bearer token.
    pub fn with_token(token: SecretString) -> Self {
        let state = Self::default();
        state.set_token(Some(token));
        state
    }

    /// Replaces the token (or removes it with `None`) for every later request. A token
    /// that cannot be sent in a header makes every later request fail with
    /// `Error::InvalidRequest` until it is replaced.
    pub fn set_token(&self, token: Option<SecretString>) {
        let bearer = token.map(Bearer::new);
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = bearer;
    }

    /// The current token.
    pub fn token(&self) -> Option<SecretString> {
        self.read(|bearer| bearer.map(|b| b.token.clone()))
    }

    /// The `Authorization` value of the current token (a cheap, reference-counted clone).
    fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        self.read(|bearer| bearer.map(|b| b.header.clone()).transpose())
    }

    fn read<T>(&self, f: impl FnOnce(Option<&Bearer>) -> T) -> T {
        f(self
            .token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref())
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.read(|bearer| bearer.is_some()) {
            "Some([REDACTED])"
        } else {
            "None"
        };
        f.debug_struct("ClientState")
            .field("token", &format_args!("{token}"))
            .field("middleware", &self.service.is_some())
            .finish()
    }
}

/// What the generated operations call to decode an answer (in place of progenitor's
/// `ResponseValue::from_response`, see `sophic-codegen`'s `responses` pass): the same
/// result, with the headers moved out of the answer instead of cloned.
#[doc(hidden)]
pub async fn response_value<T, E>(
    mut response: reqwest::Response,
) -> Result<ResponseValue<T>, Error<E>>
where
    T: serde::de::DeserializeOwned,
{
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await.map_err(Error::ResponseBodyError)?;
    let inner =
        serde_json::from_slice(&body).map_err(|e| Error::InvalidResponsePayload(body, e))?;
    Ok(ResponseValue::new(inner, status, headers))
}

impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if let Some(value) = self.inner.authorization().map_err(Error::InvalidRequest)? {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = match &self.inner.service {
            Some(service) => {
                use tower::ServiceExt as _;
                service.clone().oneshot(request).await?
            }
            None => self.client.execute(request).await?,
        };
        if !(response.status().is_client_error() || response.status().is_server_error()) {
            return Ok(response);
        }
        Ok(describe_non_json_error(response).await)
    }
}

/// The longest part of a non-JSON error body kept in the error's detail.
const SNIPPET: usize = 200;

/// A 4xx/5xx whose body is not JSON (an HTML page from a proxy, an empty 503) would reach
/// the generated code as an undecodable payload, losing its status, so a retryable 502
/// could not be told from garbage. It becomes an Error body with code `http_<status>` (an
/// `ErrorCode::Unknown`) and the start of the original body as its detail; the status and
/// headers (`Request-Id`, `Retry-After`) are kept. The body also carries the OAuth fields
/// so that token-endpoint errors decode as `TokenError`.
async fn describe_non_json_error(response: reqwest::Response) -> reqwest::Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let version = response.version();
    let mut headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let snippet: String = text.trim().chars().take(SNIPPET).collect();
    let code = format!("http_{}", status.as_u16());
    let detail = if snippet.is_empty() {
        format!("The server answered {status} with an empty body.")
    } else {
        format!("The server answered {status} with a body that is not JSON: {snippet}")
    };
    let body = serde_json::json!({
        "code": code, "detail": detail, "error": code, "error_description": detail,
    })
    .to_string();
    headers.remove(reqwest::header::CONTENT_LENGTH);
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}

impl Client {
    /// The shared state behind the `Authorization` header; see [`ClientState::set_token`].
    pub fn state(&self) -> &ClientState {
        &self.inner
    }
}

/// The generated source compiled into this crate, for the snapshot that makes every change
/// to it reviewable (`tests/generated_source.rs`) and for `cargo xtask codegen` readers.
#[doc(hidden)]
pub const GENERATED_SOURCE: &str = include_str!(concat!(env!("OUT_DIR"), "/sophic_client.rs"));

/// Whether `text` is in the grammar of the spec's decimal schema `schema` (`CashAmount`,
/// `Quantity`, `Decimal`, …): its `pattern` in `openapi/orders.yaml`, matched whole. `None`
/// for a schema the spec does not have. The SDK's `Amount` and `Quantity`, and so the CLI,
/// accept exactly what this accepts; the sandbox validates against the same patterns.
pub fn matches_decimal_schema(schema: &str, text: &str) -> Option<bool> {
    static COMPILED: std::sync::LazyLock<Vec<(&str, regress::Regex)>> =
        std::sync::LazyLock::new(|| {
            DECIMAL_PATTERNS
                .iter()
                .map(|(name, pattern)| {
                    let regex = regress::Regex::new(pattern).unwrap_or_else(|e| {
                        panic!("the spec's pattern for {name} does not compile: {e}")
                    });
                    (*name, regex)
                })
                .collect()
        });
    COMPILED
        .iter()
        .find(|(name, _)| *name == schema)
        .map(|(_, regex)| regex.find(text).is_some())
}

/// Which resource each event name is about (contract section 9), decided by an exhaustive
/// match, so a name added to the spec fails to compile here until it is decided.
impl types::EventName {
    /// What the event's `data` is.
    pub fn resource(&self) -> EventResourceKind {
        match self {
            Self::OrderPlaced
            | Self::OrderPending
            | Self::OrderExecuting
            | Self::OrderFilled
            | Self::OrderSettled
            | Self::OrderCancelled => EventResourceKind::Order,
            Self::PositionMatured => EventResourceKind::Position,
            Self::Unknown(_) => EventResourceKind::Unknown,
        }
    }

    /// `order.*`: the event's `data` is an Order.
    pub fn is_order_event(&self) -> bool {
        self.resource() == EventResourceKind::Order
    }
}

/// The kind of resource an event's `data` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventResourceKind {
    /// An Order (`order.*`).
    Order,
    /// A Position (`position.matured`).
    Position,
    /// A name this client does not know: `data` is kept as JSON.
    Unknown,
}

/// What an error code says about the request it refused (contract section 7), decided by
/// exhaustive matches: a code added to the spec fails to compile here until decided.
impl types::ErrorCode {
    /// `idempotency_request_in_progress`: another attempt with the same key is still being
    /// processed, so the request may yet take effect, and asking again later is right.
    pub fn is_in_progress(&self) -> bool {
        match self {
            Self::IdempotencyRequestInProgress => true,
            Self::InvalidParam
            | Self::NotFound
            | Self::InstrumentNotTrading
            | Self::CurrencyNotSupported
            | Self::InsufficientFunds
            | Self::InsufficientUnits
            | Self::OrderNotCancellable
            | Self::NotAuthenticated
            | Self::BuyOrderForbidden
            | Self::SellOrderForbidden
            | Self::ProfessionalTraderRequired
            | Self::PermissionDenied
            | Self::IdempotencyKeyReused
            | Self::RateLimited
            | Self::InternalError
            | Self::MethodNotAllowed
            | Self::RequestTooLarge
            | Self::UnsupportedMediaType
            | Self::Unknown(_) => false,
        }
    }

    /// `invalid_param`: the request itself is malformed (a field, a parameter); it was
    /// refused before anything was looked at, so its idempotency key stores no answer and
    /// may be used again (contract section 4).
    pub fn is_validation(&self) -> bool {
        match self {
            Self::InvalidParam => true,
            Self::NotFound
            | Self::InstrumentNotTrading
            | Self::CurrencyNotSupported
            | Self::InsufficientFunds
            | Self::InsufficientUnits
            | Self::OrderNotCancellable
            | Self::NotAuthenticated
            | Self::BuyOrderForbidden
            | Self::SellOrderForbidden
            | Self::ProfessionalTraderRequired
            | Self::PermissionDenied
            | Self::IdempotencyKeyReused
            | Self::IdempotencyRequestInProgress
            | Self::RateLimited
            | Self::InternalError
            | Self::MethodNotAllowed
            | Self::RequestTooLarge
            | Self::UnsupportedMediaType
            | Self::Unknown(_) => false,
        }
    }
}

/// Whether a webhook delivery is over, decided by an exhaustive match.
impl types::WebhookDeliveryStatus {
    /// `succeeded` or `failed`: no attempt will follow. A status this client does not
    /// know is not finished.
    pub fn is_finished(&self) -> bool {
        match self {
            Self::Succeeded | Self::Failed => true,
            Self::Pending | Self::InProgress | Self::Unknown(_) => false,
        }
    }
}

/// Wire facts the spec states only in prose: what each order status means (contract
/// section 6) and the event each status records (section 9). Decided once, here, by
/// exhaustive matches, so a status added to the spec fails to compile in this one place
/// until someone decides it; the SDK and the sandbox both ask these methods.
impl types::OrderStatus {
    /// `placed`, `pending` or `executing`: not yet filled and not cancelled (the pending
    /// list). A status this client does not know is not open.
    pub fn is_open(&self) -> bool {
        match self {
            Self::Placed | Self::Pending | Self::Executing => true,
            Self::Filled | Self::Settled | Self::Cancelled | Self::Unknown(_) => false,
        }
    }

    /// `settled` or `cancelled`: the order will not change again. A status this client
    /// does not know is not terminal (it may still move; see [`Self::is_known`]).
    pub fn is_terminal(&self) -> bool {
        match self {
            Self::Settled | Self::Cancelled => true,
            Self::Placed | Self::Pending | Self::Executing | Self::Filled | Self::Unknown(_) => {
                false
            }
        }
    }

    /// `placed`, `pending` or `executing`: a cancellation is accepted (a filled or settled
    /// order answers `order_not_cancellable`; a cancelled one comes back unchanged).
    pub fn is_cancellable(&self) -> bool {
        match self {
            Self::Placed | Self::Pending | Self::Executing => true,
            Self::Filled | Self::Settled | Self::Cancelled | Self::Unknown(_) => false,
        }
    }

    /// Whether the spec this client was generated from lists the status.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    /// The event recorded when an order reaches this status (`order.filled`); for a status
    /// this client does not know, `order.<status>`, as the contract names them.
    pub fn event_name(&self) -> types::EventName {
        use types::EventName;
        match self {
            Self::Placed => EventName::OrderPlaced,
            Self::Pending => EventName::OrderPending,
            Self::Executing => EventName::OrderExecuting,
            Self::Filled => EventName::OrderFilled,
            Self::Settled => EventName::OrderSettled,
            Self::Cancelled => EventName::OrderCancelled,
            Self::Unknown(other) => EventName::Unknown(format!("order.{other}")),
        }
    }
}

/// The header names of the wire, lower case as HTTP/2 sends them (contract sections 7 to
/// 9): one place for the SDK, the sandbox and the tests.
pub mod headers {
    /// Identifies a request in Sophic's logs; on every answer.
    pub const REQUEST_ID: &str = "request-id";
    /// The client's key that makes a POST safe to retry.
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    /// `true` on an answer replayed for an `Idempotency-Key` seen before.
    pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
    /// Seconds to wait, on a 429.
    pub const RETRY_AFTER: &str = "retry-after";
    /// A webhook delivery's id, stable across its attempts.
    pub const WEBHOOK_ID: &str = "webhook-id";
    /// When a delivery was signed, Unix seconds.
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    /// `v1,<base64 HMAC-SHA256>`, space separated during rotation.
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
    /// The delivery attempt, from 1.
    pub const WEBHOOK_ATTEMPT: &str = "webhook-attempt";
    /// The event a delivery carries (absent on test deliveries).
    pub const EVENT_ID: &str = "event-id";
}

#[cfg(test)]
mod facts {
    use super::types::{EventName, OrderStatus};

    #[test]
    fn each_status_is_open_terminal_or_filled_and_names_its_event() {
        use OrderStatus::*;
        for status in [Placed, Pending, Executing] {
            assert!(status.is_open() && status.is_cancellable() && !status.is_terminal());
        }
        assert!(!Filled.is_open() && !Filled.is_terminal() && !Filled.is_cancellable());
        for status in [Settled, Cancelled] {
            assert!(status.is_terminal() && !status.is_open() && !status.is_cancellable());
        }
        let unknown = Unknown("rejected".into());
        assert!(!unknown.is_known() && !unknown.is_terminal() && !unknown.is_open());
        assert_eq!(Filled.event_name(), EventName::OrderFilled);
        assert_eq!(unknown.event_name().to_string(), "order.rejected");
    }
}
