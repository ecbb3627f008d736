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
}

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
        let response = self.client.execute(request).await?;
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
