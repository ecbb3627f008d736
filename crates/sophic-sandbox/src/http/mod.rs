//! The HTTP face of the sandbox: routes, authentication, request ids, faults, and a
//! connection loop that can drop a connection on purpose.

pub(crate) mod api;
mod control;
pub mod guard;
mod query;
mod spec;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde_json::json;
use sophic_client::types::ErrorCode;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::Shared;
use crate::clock::lock;
use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::world::Principal;

pub(crate) type AppState = Arc<Shared>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// The principal of the request's bearer token.
pub(crate) struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get("authorization")
            .ok_or_else(|| ApiError::not_authenticated("Send `Authorization: Bearer <token>`."))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                ApiError::not_authenticated("The Authorization header must be `Bearer <token>`.")
            })?;
        let now = state.clock.now();
        lock(&state.world).authenticate(token.trim(), now).map(Auth)
    }
}

/// axum's `Path`, refusing with the contract's JSON error naming the parameter
/// (`path.account_id`) instead of axum's plain-text 400 (a path segment such as `%FF` that
/// is not UTF-8; found by the `sandbox_router` fuzz target).
pub(crate) struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::{ErrorKind, FailedToDeserializePathParams};
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => {
                let key = match &rejection {
                    PathRejection::FailedToDeserializePathParams(e) => {
                        match FailedToDeserializePathParams::kind(e) {
                            ErrorKind::InvalidUtf8InPathParam { key }
                            | ErrorKind::ParseErrorAtKey { key, .. } => Some(key.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let at = key.map_or_else(|| "path".to_string(), |k| format!("path.{k}"));
                Err(ApiError::param(
                    &at,
                    sophic_client::types::ErrorParamCode::Invalid,
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Lets a fault close the connection a request arrived on.
#[derive(Clone)]
struct ConnectionKiller(Arc<Notify>);

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .nest("/sandbox", control::routes())
        .fallback(|| async { no_such_operation() })
        // Keeps axum's `Allow` header; the body is the contract's error, like every other.
        .method_not_allowed_fallback(|request: Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                format!(
                    "{} is not allowed on {}.",
                    request.method(),
                    request.uri().path()
                ),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// The Orders API operation [`front`] found for a request (a request extension).
#[derive(Clone, Copy)]
pub(crate) struct SpecOperation(pub &'static sophic_client::Operation);

fn no_such_operation() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "No such operation.",
    )
}

/// The operation of the Orders API a request is, by the spec's table and as the router
/// serves it: `HEAD` as the `GET` the router answers it with ([`Operation::find`] does the
/// rest: the method exactly, `{parameter}` one non-empty segment, literal segments first).
///
/// [`Operation::find`]: sophic_client::Operation::find
fn served_operation(request: &Request) -> Option<&'static sophic_client::Operation> {
    let method = match *request.method() {
        Method::HEAD => "GET",
        ref method => method.as_str(),
    };
    sophic_client::Operation::find(sophic_client::OPERATIONS, method, request.uri().path())
}

/// Whether the spec has `path` under any method: a path it does not have is answered 404
/// by the front door, whatever the router would make of it (matchit 0.8 lets a
/// `{parameter}` in the middle of a path match an empty segment, `/accounts//orders`, and
/// would hand a handler an empty id); one it has under another method goes on to the
/// router's 405, with its `Allow` header.
fn spec_has_path(path: &str) -> bool {
    sophic_client::OPERATIONS
        .iter()
        .any(|op| op.matches_path(path))
}

/// The front of every request: the guard's checks ([`guard::admit`]); for the Orders
/// API, the lifecycle caught up with real time
/// ([`Shared::catch_up`](crate::Shared::catch_up)) and, for one of its operations
/// ([`served_operation`]), its parameters checked and its faults applied
/// ([`checked_and_faulted`]); then the router and the handler. Every answer, refusals
/// included, carries a `Request-Id`. One layer for all of it, since each `from_fn` layer
/// costs its own boxed future and service clone on every request.
async fn front(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = request_id(state.requests.fetch_add(1, Ordering::Relaxed) + 1);
    // API requests go to the request journal; the control plane's do not.
    let arrived = (!request.uri().path().starts_with("/sandbox"))
        .then(|| crate::requests::Arrived::of(request.method(), request.uri(), request.headers()));
    let operation = arrived.as_ref().and_then(|_| served_operation(&request));
    if let Some(operation) = operation {
        // Found once: the guard (the body's media type and limit) and the body's schema
        // check read it from here.
        request.extensions_mut().insert(SpecOperation(operation));
    }
    let mut response = match guard::admit(&state, request, operation).await {
        Ok(request) if arrived.is_some() => {
            // In real time, orders move on their own: what fell due runs first.
            state.catch_up();
            match operation {
                Some(operation) => {
                    checked_and_faulted(&state, request, next, operation.id, &id).await
                }
                None if !spec_has_path(request.uri().path()) => no_such_operation().into_response(),
                None => next.run(request).await,
            }
        }
        Ok(request) => next.run(request).await,
        Err(refusal) => refusal,
    };
    response
        .headers_mut()
        .insert(sophic_client::headers::REQUEST_ID, id.clone());
    if let Some(arrived) = arrived {
        let operation = operation.map_or("unknown", |o| o.id);
        let order = response
            .extensions_mut()
            .remove::<crate::requests::OrderRef>()
            .map(|o| o.0);
        let answered = crate::requests::Answered {
            operation,
            status: response.status(),
            request_id: id,
            order_id: order,
            dropped: false,
        };
        let at = state.clock.now();
        crate::requests::Journal::keep(&state.request_log, arrived, at, answered);
    }
    response
}

/// The `n`th request's id: `req_` and 12 hex digits of `n` scrambled (so that ids do not
/// read as a count), written without a format string.
fn request_id(n: u64) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let scrambled = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    let mut id = *b"req_000000000000";
    for (i, digit) in id[4..].iter_mut().rev().enumerate() {
        *digit = HEX[((scrambled >> (4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).expect("ascii")
}

/// Refuses query and header parameters that break the spec ([`spec::check_parameters`]),
/// then applies the first armed fault that matches the request's operation.
async fn checked_and_faulted(
    state: &AppState,
    mut request: Request,
    next: Next,
    operation: &'static str,
    request_id: &HeaderValue,
) -> Response {
    if let Err(refusal) = spec::check_parameters(operation, &request) {
        return refusal.into_response();
    }
    let Some(fault) = state.take_fault(operation) else {
        return next.run(request).await;
    };
    let is_token = operation == sophic_client::Operation::CREATE_TOKEN.id;
    match fault.kind {
        FaultKind::InternalError => {
            if is_token {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(
                        json!({"error": "server_error", "error_description": "Injected fault."}),
                    ),
                )
                    .into_response();
            }
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "Injected fault: the request was not handled.",
            )
            .into_response()
        }
        FaultKind::RateLimited => {
            let seconds = fault.retry_after.unwrap_or(1);
            let mut response = if is_token {
                (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"error": "temporarily_unavailable", "error_description": "Rate limited."}))).into_response()
            } else {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    format!("Too many requests; retry after {seconds} s."),
                )
                .into_response()
            };
            response.headers_mut().insert(
                sophic_client::headers::RETRY_AFTER,
                HeaderValue::from(seconds),
            );
            response
        }
        FaultKind::DropConnection => {
            let killer = request.extensions().get::<ConnectionKiller>().cloned();
            let arrived =
                crate::requests::Arrived::of(request.method(), request.uri(), request.headers());
            let mut handled = next.run(request).await;
            // The journal's record, here: the answer is never written, so the front of
            // the router never sees one (in process, with no connection to drop, it does).
            if killer.is_some() {
                let answered = crate::requests::Answered {
                    operation,
                    status: handled.status(),
                    request_id: request_id.clone(),
                    order_id: handled
                        .extensions_mut()
                        .remove::<crate::requests::OrderRef>()
                        .map(|o| o.0),
                    dropped: true,
                };
                crate::requests::Journal::keep(
                    &state.request_log,
                    arrived,
                    state.clock.now(),
                    answered,
                );
            }
            if let Some(ConnectionKiller(kill)) = killer {
                kill.notify_one();
                // Never answer: the connection is dropped before anything is written.
                std::future::pending::<()>().await;
            }
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "Injected fault.",
            )
            .into_response()
        }
        FaultKind::Stall => {
            request.extensions_mut().insert(api::Stall);
            next.run(request).await
        }
        FaultKind::IgnoreIdempotencyKey => {
            request.extensions_mut().insert(api::IgnoreKey);
            next.run(request).await
        }
    }
}

/// Serves connections until the sandbox shuts down. Each connection can be killed by a
/// `drop_connection` fault.
/// A request being answered: counted, so that a graceful shutdown waits for it.
struct InFlight(AppState);

impl InFlight {
    fn start(state: AppState) -> Self {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.answered.notify_waiters();
        }
    }
}

pub(crate) async fn serve(listener: TcpListener, state: AppState) {
    let app = router(state.clone());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = state.shutdown.notified() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let app = app.clone();
        let header_read_timeout = state.config.header_read_timeout;
        let state = state.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let killer = ConnectionKiller(kill.clone());
            let in_flight = state.clone();
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(killer.clone());
                    let answering = InFlight::start(in_flight.clone());
                    let answer = app.clone().oneshot(request.map(axum::body::Body::new));
                    async move {
                        let answer = answer.await;
                        drop(answering);
                        answer
                    }
                },
            );
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_id_is_req_and_twelve_hex_digits_of_the_scrambled_count() {
        for n in [0, 1, 2, 255, 4096, 1 << 40, u64::MAX - 1, u64::MAX] {
            let spelled = format!("req_{:012x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16);
            assert_eq!(super::request_id(n).to_str().unwrap(), spelled, "n = {n}");
        }
        // Pinned: the ids a sandbox has handed out read the same after an upgrade.
        assert_eq!(super::request_id(1), "req_9e3779b97f4a");
        assert_eq!(super::request_id(u64::MAX), "req_61c8864680b5");
        let ids: std::collections::HashSet<_> = (1..=10_000).map(super::request_id).collect();
        assert_eq!(ids.len(), 10_000, "distinct");
    }
}
