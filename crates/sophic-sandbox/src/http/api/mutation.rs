//! The extractor every state-changing request that honours `Idempotency-Key` shares
//! (placing and cancelling): principal, checked key, fingerprint, body, stall.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sophic_client::types::{ErrorCode, ErrorParamCode};

use crate::clock::lock;
use crate::error::ApiError;
use crate::http::spec;
use crate::http::{AppState, Auth};
use crate::idempotency::{self, Body, Claim, Stored};
use crate::world::Principal;

/// Marks a request held by a `stall` fault.
#[derive(Clone, Copy)]
pub(crate) struct Stall;

/// Marks a request handled as if it had no `Idempotency-Key` (an
/// `ignore_idempotency_key` fault).
#[derive(Clone, Copy)]
pub(crate) struct IgnoreKey;

/// The `Idempotency-Key` header, if any. Its length is the spec's, checked before the
/// handler runs (`spec::check_parameters`), as is its being text.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(sophic_client::headers::IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        ApiError::param(
            "header.Idempotency-Key",
            ErrorParamCode::Invalid,
            "must be visible ASCII",
        )
    })?;
    Ok(Some(key.to_string()))
}

/// A state-changing request that honours `Idempotency-Key` (placing and cancelling): its
/// principal, checked key, fingerprint, raw body, and whether a `stall` fault holds it. One
/// extractor, so every keyed operation follows the same rules.
pub(crate) struct Mutation {
    /// The spec's operation id.
    pub(super) operation: &'static str,
    principal: Principal,
    key: Option<String>,
    fingerprint: [u8; 32],
    stall: bool,
    body: Bytes,
}

impl axum::extract::FromRequest<AppState> for Mutation {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        use axum::extract::FromRequestParts;
        let served = spec::operation_of(&request);
        let operation = served.map_or("unknown", |op| op.id);
        let (mut parts, body) = request.into_parts();
        let Auth(principal) = Auth::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let key = idempotency_key(&parts.headers).map_err(IntoResponse::into_response)?;
        let key = key.filter(|_| parts.extensions.get::<IgnoreKey>().is_none());
        let stall = parts.extensions.get::<Stall>().is_some();
        // The guard read it already, bounded by the spec's limit; this only takes the
        // bytes out, under the same bound (for a route the spec's table would not know).
        let limit = served.map_or(0, |op| op.max_body_bytes);
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::param("body", ErrorParamCode::Invalid, "could not be read").into_response()
        })?;
        let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
        let fingerprint = idempotency::fingerprint(parts.method.as_str(), path, &body);
        Ok(Self {
            operation,
            principal,
            key,
            fingerprint,
            stall,
            body,
        })
    }
}

/// An answer as bytes: serialized once, whether sent or stored for replay.
pub(crate) type Answer = (StatusCode, Bytes);

/// A request's use of an idempotency key: whose, which, and the request's fingerprint.
/// The change it makes stores its answer under the key as it is made (and again when a
/// state is loaded), so a kill between the change and the answer cannot lose the key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeyUse {
    owner: String,
    key: String,
    #[serde(with = "crate::state::hex::bytes32")]
    fingerprint: [u8; 32],
    /// The state's generation when the key was claimed (not recorded): a restore in
    /// between may have brought back an answer for it.
    #[serde(skip)]
    generation: u64,
}

impl KeyUse {
    fn new(owner: &str, key: &str, fingerprint: [u8; 32], generation: u64) -> Self {
        Self {
            owner: owner.to_string(),
            key: key.to_string(),
            fingerprint,
            generation,
        }
    }

    /// The state's generation when the key was claimed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The answer already stored under the key (by another process taking turns with a
    /// shared state file): replayed for the same request, a conflict for another one.
    pub(crate) fn earlier(
        &self,
        store: &idempotency::Store,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Answer, ApiError>> {
        let (fingerprint, stored) = store.answered(&self.owner, &self.key, at)?;
        Some(if fingerprint == self.fingerprint {
            Ok((stored.status, stored.body.bytes()))
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was used for a different request.",
            ))
        })
    }

    /// Stores `result` under the key, as contract section 8 says: a validation failure
    /// stores nothing (the key may be retried), any other answer is replayed (a success's
    /// body with `status`).
    /// `live`: only while the key is still this request's claim (a reset or a restore
    /// since the change may have put another state in place); in replay, always.
    pub(crate) fn settle(
        &self,
        store: &mut idempotency::Store,
        result: Result<Body, &ApiError>,
        status: StatusCode,
        at: chrono::DateTime<chrono::Utc>,
        live: bool,
    ) {
        let stored = match result {
            // Refused as invalid, or not made at all (a shared state file another process
            // keeps): the key may be retried.
            Err(e) if e.is_validation() || e.status == StatusCode::SERVICE_UNAVAILABLE => {
                if !live || store.is_claimed(&self.owner, &self.key, self.fingerprint) {
                    store.abandon(&self.owner, &self.key);
                }
                return;
            }
            Ok(body) => Stored { status, body },
            Err(e) => {
                let (status, bytes) = answer(e.status, &e.body());
                Stored {
                    status,
                    body: Body::Bytes(bytes),
                }
            }
        };
        if live {
            store.finish(&self.owner, &self.key, stored, at);
        } else {
            store.keep(&self.owner, &self.key, self.fingerprint, stored, at);
        }
    }
}

/// A keyed change's answer, as sent and as kept for replay ([`crate::exact_json`]: a
/// grown `Vec` would keep 1,024 bytes for a 587-byte order for 24 hours).
pub(crate) fn answer<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    (status, crate::exact_json(value))
}

fn send((status, body): Answer) -> Response {
    super::send_json(status, body)
}

impl Mutation {
    /// Runs the request on `account` under its idempotency key (if any).
    pub(super) async fn run(
        self,
        state: &AppState,
        account: &str,
        run: impl FnOnce(&[u8], Option<KeyUse>) -> Result<Answer, ApiError>,
    ) -> Response {
        if let Err(e) = lock(&state.world).account_for(&self.principal, account) {
            return e.into_response();
        }
        let owner = &self.principal.id;
        let Some(key) = self.key else {
            return run(&self.body, None).map_or_else(IntoResponse::into_response, send);
        };
        let claim =
            lock(&state.idempotency).claim(owner, &key, self.fingerprint, state.clock.now());
        match claim {
            Claim::Replay(stored) => {
                let mut response = send((stored.status, stored.body.bytes()));
                // For the request journal: the order the replayed answer shows (a replay is
                // rare; its bytes are read again only here).
                let order = match &stored.body {
                    Body::Order(order) => Some(order.id.to_string()),
                    Body::Bytes(bytes) => {
                        #[derive(serde::Deserialize)]
                        struct Shown {
                            id: String,
                        }
                        serde_json::from_slice::<Shown>(bytes)
                            .ok()
                            .map(|shown| shown.id)
                            .filter(|id| id.starts_with("ord_"))
                    }
                };
                if let Some(order) = order {
                    response
                        .extensions_mut()
                        .insert(crate::requests::OrderRef(order));
                }
                response.headers_mut().insert(
                    sophic_client::headers::IDEMPOTENT_REPLAYED,
                    HeaderValue::from_static("true"),
                );
                return response;
            }
            Claim::Reused => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::IdempotencyKeyReused,
                    "This Idempotency-Key was used for a different request.",
                )
                .into_response();
            }
            Claim::InProgress => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::IdempotencyRequestInProgress,
                    "A request with this Idempotency-Key is still in progress; retry shortly.",
                )
                .into_response();
            }
            Claim::Run => {}
        }
        if self.stall {
            // A client that goes away while held drops this future here: the key is then
            // given back, not left "in progress" for good.
            let claimed = Claimed {
                state,
                owner,
                key: &key,
            };
            let released = state.release.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            state.stalled.notify_one();
            released.await;
            std::mem::forget(claimed);
        }
        let used = KeyUse::new(owner, &key, self.fingerprint, state.generation());
        // The change keeps its answer under the key itself (`Keyed::finish`), as it is
        // made; only a request refused before it reached the change gives the key back.
        match run(&self.body, Some(used)) {
            Ok(answer) => send(answer),
            Err(e) if e.is_validation() => {
                lock(&state.idempotency).abandon(owner, &key);
                e.into_response()
            }
            Err(e) => send(answer(e.status, &e.body())),
        }
    }
}

/// A claimed idempotency key, given back if dropped (see [`Mutation::run`]).
struct Claimed<'a> {
    state: &'a AppState,
    owner: &'a str,
    key: &'a str,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        lock(&self.state.idempotency).abandon(self.owner, self.key);
    }
}
