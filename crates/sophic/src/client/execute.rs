//! The request loop every call goes through: token, attempt, classify, retry, trace.

use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use sophic_client::types;
use sophic_client::{Error as GeneratedError, ResponseValue};
use tokio::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;

use super::outcome::{Attempts, Failed};
use super::retry::Safety;
use super::{CallSettings, Inner};
use crate::error::{ApiError, AuthError};
use crate::{Error, Result};

/// The `Request-Id` header every answer carries.
pub(crate) const REQUEST_ID: &str = sophic_client::headers::REQUEST_ID;
/// Set to `true` on an answer replayed for a known idempotency key.
pub(crate) const IDEMPOTENT_REPLAYED: &str = sophic_client::headers::IDEMPOTENT_REPLAYED;

/// One attempt of a generated operation, borrowing the generated client.
pub(crate) type Attempt<'a, T, E> =
    BoxFuture<'a, std::result::Result<ResponseValue<T>, GeneratedError<E>>>;

impl Inner {
    /// Runs `attempt` until it succeeds, fails for good, or the retry policy gives up; a
    /// failure says how many attempts were sent and whether one may have taken effect.
    ///
    /// Each logical call gets one `sophic.call` span recording the operation, the number
    /// of attempts, the final status, the request id and the duration; each attempt logs a
    /// debug event, and each retry a warning with its reason and wait.
    pub(crate) async fn run<T, E, F>(
        &self,
        api: &sophic_client::Client,
        operation: &'static str,
        safety: Safety,
        authenticate: bool,
        settings: &CallSettings,
        attempt: F,
    ) -> Result<ResponseValue<T>, Failed>
    where
        T: DeserializeOwned,
        E: ErrorBody,
        F: for<'a> FnMut(&'a sophic_client::Client) -> Attempt<'a, T, E>,
    {
        self.run_tracked(api, operation, safety, authenticate, settings, attempt)
            .await
            .map(|(value, _)| value)
    }

    /// [`Inner::run`], also saying when the first attempt that may have taken effect was
    /// sent, when the call succeeded after one (a placement then checks for a twin).
    pub(crate) async fn run_tracked<T, E, F>(
        &self,
        api: &sophic_client::Client,
        operation: &'static str,
        safety: Safety,
        authenticate: bool,
        settings: &CallSettings,
        mut attempt: F,
    ) -> Result<(ResponseValue<T>, Option<Instant>), Failed>
    where
        T: DeserializeOwned,
        E: ErrorBody,
        F: for<'a> FnMut(&'a sophic_client::Client) -> Attempt<'a, T, E>,
    {
        let span = tracing::info_span!(
            "sophic.call",
            operation,
            attempts = Empty,
            status = Empty,
            request_id = Empty,
            duration_ms = Empty,
            replayed = Empty,
        );
        let current = span.clone();
        async move {
            let started = Instant::now();
            let mut renewed = false;
            let mut number = 0u32;
            let mut attempts = Attempts::default();
            loop {
                number += 1;
                let generation = if authenticate {
                    self.ensure_token()
                        .await
                        .map_err(|error| attempts.give_up(error))?
                } else {
                    0
                };
                let attempt_started = Instant::now();
                attempts.sending();
                // The error paths (reading a body, converting) are boxed so that their
                // state does not enlarge, and get copied with, every call's future.
                let sent = attempt(api);
                let answered = match settings.timeout {
                    Some(limit) => tokio::time::timeout(limit, sent).await.map_err(|_| limit),
                    None => Ok(sent.await),
                };
                let outcome = match answered {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(error)) => Box::pin(finish(error)).await,
                    Err(after) => Err(Error::CallTimeout { after }),
                };
                record(&current, number, started, attempt_started, &outcome);
                let error = match outcome {
                    Ok(value) => return Ok((value, attempts.doubt_since())),
                    Err(error) => error,
                };
                attempts.failed(&error, attempt_started);
                if authenticate
                    && !renewed
                    && self.can_renew()
                    && error.status() == Some(http::StatusCode::UNAUTHORIZED)
                {
                    renewed = true;
                    tracing::debug!("sophic: 401, renewing the token once");
                    self.renew_token(generation)
                        .await
                        .map_err(|error| attempts.give_up(error))?;
                    continue;
                }
                let Some(delay) = settings.retry.as_ref().unwrap_or(&self.retry).delay_after(
                    &error,
                    safety,
                    number,
                    started.elapsed(),
                ) else {
                    return Err(attempts.give_up(error));
                };
                tracing::warn!(
                    attempt = number,
                    delay_ms = millis(delay),
                    error = %error,
                    "sophic: retrying"
                );
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }
}

/// Logs an attempt and records where the call stands on its span. Nothing is read from
/// the answer unless a subscriber listens (the span is enabled or debug events are).
fn record<T>(
    span: &tracing::Span,
    number: u32,
    started: Instant,
    attempt_started: Instant,
    outcome: &Result<ResponseValue<T>>,
) {
    if span.is_disabled() && !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let (status, request_id, replayed) = match outcome {
        Ok(value) => (
            Some(value.status()),
            request_id(value.headers()),
            is_replayed(value.headers()),
        ),
        Err(error) => (
            error.status(),
            error.request_id().map(str::to_owned),
            error.api().is_some_and(|api| api.replayed),
        ),
    };
    tracing::debug!(
        attempt = number,
        status = status.map(|s| s.as_u16()),
        request_id,
        duration_ms = millis(attempt_started.elapsed()),
        "sophic: attempt finished"
    );
    span.record("attempts", number);
    span.record("duration_ms", millis(started.elapsed()));
    if let Some(status) = status {
        span.record("status", status.as_u16());
    }
    if let Some(request_id) = &request_id {
        span.record("request_id", request_id.as_str());
    }
    span.record("replayed", replayed);
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Turns a generated error into the SDK's result. A 2xx status the spec does not list for
/// the operation (say 200 where 201 is documented) is accepted if its body decodes.
async fn finish<T, E>(error: GeneratedError<E>) -> Result<ResponseValue<T>>
where
    T: DeserializeOwned,
    E: ErrorBody,
{
    match error {
        GeneratedError::UnexpectedResponse(mut response) if response.status().is_success() => {
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let body = response.bytes().await.map_err(transport)?;
            match decode::<T>(&body) {
                Ok(value) => Ok(ResponseValue::new(value, status, headers)),
                Err((path, source)) => Err(Error::Decode {
                    status: Some(status),
                    request_id: request_id(&headers),
                    path: Some(path),
                    body,
                    source,
                }),
            }
        }
        // progenitor-client does not keep the status or headers here; the place is found
        // by decoding again, which only a failed answer pays for.
        GeneratedError::InvalidResponsePayload(body, source) => Err(Error::Decode {
            status: None,
            request_id: None,
            path: decode::<T>(&body).err().map(|(path, _)| path),
            body,
            source,
        }),
        error => Err(convert(error).await),
    }
}

/// Decodes `body` as `T`, or says where it failed (`trades[0].id`) and why.
fn decode<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, (String, serde_json::Error)> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| (e.path().to_string(), e.into_inner()))
}

async fn convert<E: ErrorBody>(error: GeneratedError<E>) -> Error {
    match error {
        GeneratedError::ErrorResponse(value) => E::into_error(value),
        GeneratedError::CommunicationError(source)
        | GeneratedError::ResponseBodyError(source)
        | GeneratedError::InvalidUpgrade(source) => transport(source),
        GeneratedError::InvalidRequest(message) | GeneratedError::Custom(message) => {
            Error::invalid_input(message)
        }
        GeneratedError::InvalidResponsePayload(body, source) => Error::Decode {
            status: None,
            request_id: None,
            path: None,
            body,
            source,
        },
        GeneratedError::UnexpectedResponse(response) => {
            let status = response.status();
            let request_id = request_id(response.headers());
            let body = response.bytes().await.unwrap_or_default();
            Error::UnexpectedResponse {
                status,
                request_id,
                body,
            }
        }
    }
}

fn transport(source: reqwest::Error) -> Error {
    if source.is_timeout() {
        Error::Timeout { source }
    } else {
        Error::Transport { source }
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn is_replayed(headers: &HeaderMap) -> bool {
    headers
        .get(IDEMPOTENT_REPLAYED)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// `Retry-After` in seconds (the only form the API sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The error bodies of the API: Sophic's `Error` everywhere, OAuth's at the token endpoint.
pub(crate) trait ErrorBody: Sized {
    fn into_error(value: ResponseValue<Self>) -> Error;
}

impl ErrorBody for types::Error {
    fn into_error(value: ResponseValue<Self>) -> Error {
        let status = value.status();
        let headers = value.headers();
        let (request_id, retry_after, replayed) = (
            request_id(headers),
            retry_after(headers),
            is_replayed(headers),
        );
        Error::Api(Box::new(ApiError {
            status,
            request_id,
            retry_after,
            replayed,
            body: value.into_inner(),
        }))
    }
}

impl ErrorBody for types::TokenError {
    fn into_error(value: ResponseValue<Self>) -> Error {
        let status = value.status();
        let request_id = request_id(value.headers());
        Error::Auth(Box::new(AuthError {
            status,
            request_id,
            body: value.into_inner(),
        }))
    }
}
