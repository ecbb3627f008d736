//! What every request passes before a handler sees it (contract sections 7 and 10):
//!
//! 1. **Its Host names this machine.** A DNS-rebinding page reaches the sandbox under a
//!    name of its own (`evil.example` resolving to 127.0.0.1), never as an IP literal, so
//!    IP literals, `localhost` and the names given with `--allow-host` pass, whatever the
//!    port (local proxies such as Prism's keep working), and any other name is refused.
//! 2. **The control plane is not driven by a browser on another site.** A `/sandbox/…`
//!    request whose `Sec-Fetch-Site` is not `same-origin` or `none`, or whose `Origin` is
//!    not the Host it was sent to, is refused: bodiless POSTs such as reset included.
//! 3. **The control token**, when the sandbox has one (it must, off loopback), is sent as
//!    `Authorization: Bearer <token>` on every `/sandbox/…` request.
//! 4. **A body says what it is.** A request that carries a body declares its operation's
//!    media type, as the spec's `requestBody` gives it (`application/x-www-form-urlencoded`
//!    for `POST /auth/token`, `application/octet-stream` for a snapshot, `application/json`
//!    elsewhere and for an operation that takes no body), or is answered 415
//!    `unsupported_media_type`: a cross-site form post (`text/plain`) never reaches a
//!    handler. A bodiless request needs no `Content-Type`.
//! 5. **A body is bounded**: at most the spec's `x-max-body-bytes` for its operation
//!    (`Operation::max_body_bytes`: 1 MiB; 256 MiB for a snapshot), sent within
//!    [`BODY_READ_TIMEOUT`]; it is read here, once, so every handler sees a complete body
//!    of known size.
//!
//! The operation is found in the spec's own tables: `sophic_client::OPERATIONS`
//! (`orders.yaml`) and [`crate::CONTROL_OPERATIONS`] (`sandbox.yaml`). A request that is
//! no operation of either goes on unread to the router, which answers 404 or 405.
//!
//! Refusals are the contract's JSON errors (403 `permission_denied`, 413, 415, 408), in
//! the OAuth error shape on `POST /auth/token`, whose errors are RFC 6749's.

use std::future::Future;
use std::net::IpAddr;
use std::task::Poll;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use serde_json::json;
use sophic_client::Operation;
use sophic_client::types::ErrorCode;

use super::AppState;
use crate::error::ApiError;
use crate::limits::BODY_READ_TIMEOUT;

/// The media type of a body sent to an operation that takes none: the API's own, so that a
/// form post across sites is refused there too.
const NO_BODY_MEDIA: &str = "application/json";

/// Who may drive the sandbox: the host names it answers to and its control token.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Host names (besides IP literals and `localhost`) requests may be addressed to.
    pub allowed_hosts: Vec<String>,
    /// When set, every `/sandbox/…` request must carry `Authorization: Bearer <token>`.
    pub control_token: Option<String>,
}

impl Access {
    /// Whether a `Host` (or `:authority`) value names this machine.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.trim_end_matches('.').eq_ignore_ascii_case(name))
    }

    /// Whether a control request carries the control token (always, when there is none).
    fn control_token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.control_token else {
            return true;
        };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
            .unwrap_or_default();
        constant_time_eq(sent.trim().as_bytes(), expected.as_bytes())
    }
}

/// The host part of a `Host` value, without port, brackets or a final dot, lower-cased
/// by comparison (`[::1]:4010` gives `::1`, `LocalHost.:80` gives `LocalHost`).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        "localhost"
    } else {
        name
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A refusal in the endpoint's error shape, naming the header or body at fault.
fn refuse(
    is_token: bool,
    at: &str,
    status: StatusCode,
    code: ErrorCode,
    detail: String,
) -> Response {
    if is_token {
        let error = match status {
            StatusCode::FORBIDDEN => "access_denied",
            _ => "invalid_request",
        };
        return (
            status,
            axum::Json(json!({"error": error, "error_description": detail})),
        )
            .into_response();
    }
    let mut error = ApiError::new(status, code, detail.clone());
    error.params = vec![crate::error::problem(
        at,
        sophic_client::types::ErrorParamCode::Invalid,
        detail,
    )];
    error.into_response()
}

/// The request's `Host`, from the header (HTTP/1) or the URI's authority (HTTP/2); a Host
/// header that is not text is "" (no name of this machine). No Host at all (a client that
/// is not a browser: browsers always send one) is `None`.
fn request_host(request: &Request) -> Option<&str> {
    match request.headers().get(header::HOST) {
        Some(host) => Some(host.to_str().unwrap_or_default()),
        None => request.uri().authority().map(|a| a.as_str()),
    }
}

/// Why a control-plane request looks like a browser's cross-site request, if it does: the
/// header that says so, and how.
fn cross_site(headers: &HeaderMap, host: Option<&str>) -> Option<(&'static str, String)> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if !matches!(site, "same-origin" | "none") {
            return Some((
                "header.Sec-Fetch-Site",
                format!("Sec-Fetch-Site is {site:?}"),
            ));
        }
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or_default();
    // The sandbox serves plain http: its own origin is `http://` + the Host it was sent to
    // (the default port 80 written or not).
    let normal = |authority: &str| {
        let authority = authority.to_ascii_lowercase();
        match authority.strip_suffix(":80") {
            Some(bare) => bare.to_string(),
            None => authority,
        }
    };
    let same = url::Url::parse(origin).ok().is_some_and(|url| {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let authority = format!("{}{port}", url.host_str().unwrap_or_default());
        url.scheme() == "http" && host.is_some_and(|h| normal(h) == normal(&authority))
    });
    (!same).then(|| {
        (
            "header.Origin",
            format!("Origin {origin:?} is another site"),
        )
    })
}

/// Whether the declared `Content-Type` is `expected` (parameters such as `charset` aside).
fn declares(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The guard itself: checks 1 to 5 above, then hands on the request with its body read.
/// Admits a request (with its body read), or answers the refusal. Called by the front
/// middleware of the router (`super::front`), so the checks cost no layer of their own;
/// `served` is the Orders API operation it found for the request (a control request's is
/// found here, in the control plane's table).
pub(crate) async fn admit(
    state: &AppState,
    request: Request,
    served: Option<&'static Operation>,
) -> Result<Request, Response> {
    // Paid on every request: no allocation unless refusing.
    let path = request.uri().path();
    // The one operation whose errors are OAuth's (RFC 6749), whatever the method.
    let is_token = path == Operation::CREATE_TOKEN.path;
    let control = path == "/sandbox" || path.starts_with("/sandbox/");
    let access = &state.config.access;
    let host = request_host(&request);
    if let Some(host) = host.filter(|h| !access.host_allowed(h)) {
        let detail = format!(
            "This sandbox answers requests addressed to localhost or an IP address, not {host:?} (start it with --allow-host to add a name)."
        );
        return Err(refuse(
            is_token,
            "header.Host",
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            detail,
        ));
    }
    if control {
        if let Some((header, why)) = cross_site(request.headers(), host) {
            let detail = format!(
                "The sandbox's control plane refuses a browser's cross-site request ({why})."
            );
            return Err(refuse(
                is_token,
                header,
                StatusCode::FORBIDDEN,
                ErrorCode::PermissionDenied,
                detail,
            ));
        }
        if !access.control_token_ok(request.headers()) {
            return Err(ApiError::not_authenticated(
                "This sandbox's control plane needs its control token: send `Authorization: Bearer <control token>`.",
            )
            .into_response());
        }
    }
    if request.body().is_end_stream() {
        return Ok(request);
    }
    let operation = if control {
        Operation::find(crate::CONTROL_OPERATIONS, request.method().as_str(), path)
    } else {
        served
    };
    let Some(operation) = operation else {
        return Ok(request);
    };
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, operation.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err((status, code, detail)) => return Err(refuse(is_token, "body", status, code, detail)),
    };
    // Judged on what arrived: an empty chunked body (or an HTTP/2 stream ended by an empty
    // DATA frame) is bodiless too.
    // (A snapshot's `application/octet-stream` is no type a browser may send across sites
    // without asking first, CORS's preflight, and the sandbox never says yes.)
    let expected = operation.media.unwrap_or(NO_BODY_MEDIA);
    if !bytes.is_empty() && !declares(&parts.headers, expected) {
        let detail = format!("A request body here must be sent as Content-Type: {expected}.");
        return Err(refuse(
            is_token,
            "header.Content-Type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            detail,
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

type Refusal = (StatusCode, ErrorCode, String);

/// Reads a body of at most `limit` bytes within [`BODY_READ_TIMEOUT`].
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestTooLarge,
            format!("The request body is over the sandbox's limit of {limit} bytes."),
        )
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    // Most bodies arrive with their headers: polled once, they are read without arming a
    // timer (a timer per request is paid by every placement); a body still on its way
    // gets the timeout.
    let mut collect = std::pin::pin!(axum::body::to_bytes(body, limit));
    let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
    let read = match first {
        Poll::Ready(read) => Ok(read),
        Poll::Pending => tokio::time::timeout(BODY_READ_TIMEOUT, collect).await,
    };
    match read {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if is_length_limit(&e) => Err(too_large()),
        Ok(Err(_)) => Err((
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParam,
            "The request body could not be read.".into(),
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidParam,
            format!(
                "The request body did not arrive within {} s.",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_and_localhost_are_this_machine_and_other_names_are_not() {
        let access = Access::default();
        for host in [
            "127.0.0.1:4010",
            "127.0.0.1",
            "[::1]:4010",
            "localhost:4010",
            "LOCALHOST.",
            "10.1.2.3:80",
        ] {
            assert!(access.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:4010",
            "localhost.evil.example",
            "",
        ] {
            assert!(!access.host_allowed(host), "{host}");
        }
        let access = Access {
            allowed_hosts: vec!["sandbox.internal".into()],
            ..Access::default()
        };
        assert!(access.host_allowed("Sandbox.Internal:4010"));
    }

    #[test]
    fn the_control_token_is_compared_whole() {
        let access = Access {
            control_token: Some("s3cret".into()),
            ..Access::default()
        };
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            access.control_token_ok(&headers)
        };
        assert!(with("Bearer s3cret"));
        assert!(!with("Bearer s3cre"));
        assert!(!with("Bearer s3cret2"));
        assert!(!access.control_token_ok(&HeaderMap::new()));
    }
}
