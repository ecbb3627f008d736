//! The operations of `openapi/orders.yaml` (the list is the spec's: `sophic_client::OPERATIONS`,
//! and `tests/tests/sandbox_serves_the_spec.rs` checks that each is routed).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sophic_client::types::{
    CreateWebhookRequest, ErrorCode, ErrorParamCode, Order, OrderSide, OrderStatus,
    PlaceOrderRequest, TokenResponse, UpdateWebhookRequest,
};

use super::query::{Query, page};
use super::spec;
use super::{AppState, Auth, Path};
use crate::clock::lock;
use crate::error::ApiError;
use crate::idempotency::{self, Claim, Stored};
use crate::world::{NewOrder, NewSide, Principal, World};

/// Marks a request held by a `stall` fault.
#[derive(Clone, Copy)]
pub(crate) struct Stall;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(create_token))
        .route(
            "/accounts/{account_id}/orders",
            post(place_order).get(list_orders),
        )
        .route(
            "/accounts/{account_id}/orders/pending",
            get(list_pending_orders),
        )
        .route("/accounts/{account_id}/orders/{order_id}", get(get_order))
        .route(
            "/accounts/{account_id}/orders/{order_id}/cancel",
            post(cancel_order),
        )
        .route(
            "/accounts/{account_id}/cash-balances",
            get(list_cash_balances),
        )
        .route("/accounts/{account_id}/positions", get(list_positions))
        .route("/instruments", get(list_instruments))
        .route("/instruments/{instrument_id}", get(get_instrument))
        .route("/events", get(list_events))
        .route("/webhooks", post(create_webhook))
        .route("/webhooks/{webhook_id}", put(update_webhook))
        .route("/webhooks/{webhook_id}/test", post(test_webhook))
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

// ---- auth ---------------------------------------------------------------------------

/// The scopes of every token the sandbox issues (it does not restrict tokens by scope).
const GRANTED_SCOPES: [&str; 2] = ["orders:read", "orders:write"];

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

async fn create_token(State(state): State<AppState>, body: Bytes) -> Response {
    let form: Map<String, Value> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let field = |name: &str| {
        form.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match field("grant_type") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required.",
            );
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only client_credentials is supported.",
            );
        }
    }
    let (Some(id), Some(secret)) = (field("client_id"), field("client_secret")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required.",
        );
    };
    if let Some(unknown) = field("scope")
        .unwrap_or_default()
        .split_ascii_whitespace()
        .find(|s| !GRANTED_SCOPES.contains(s))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "Unknown scope {unknown:?}; sandbox tokens have {}.",
                GRANTED_SCOPES.join(" ")
            ),
        );
    }
    let now = state.clock.now();
    let mut world = lock(&state.world);
    let Some(client) = world.client(id, secret).cloned() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong secret.",
        );
    };
    let lifetime = state.config.token_lifetime;
    let principal = Principal {
        id: client.id.clone(),
        accounts: client.accounts.clone(),
    };
    let token = world.issue_token(principal, Some(now + lifetime));
    state
        .tokens_issued
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let answer = TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: u32::try_from(lifetime.num_seconds()).unwrap_or(u32::MAX),
        // What the token may do, whatever was asked (RFC 6749 §3.3): every sandbox token
        // may read and write; a scope it does not know was refused above.
        scope: Some(GRANTED_SCOPES.join(" ")),
        refresh_token: None,
    };
    json_response(StatusCode::OK, &answer)
}

// ---- orders ---------------------------------------------------------------------------

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
    operation: &'static str,
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
        let operation = spec::operation_of(&request);
        let (mut parts, body) = request.into_parts();
        let Auth(principal) = Auth::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let key = idempotency_key(&parts.headers).map_err(IntoResponse::into_response)?;
        let stall = parts.extensions.get::<Stall>().is_some();
        // The guard read it already, bounded; this only takes the bytes out.
        let body = axum::body::to_bytes(body, crate::limits::MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::param("body", ErrorParamCode::Invalid, "could not be read")
                    .into_response()
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
type Answer = (StatusCode, Bytes);

fn answer<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    (
        status,
        Bytes::from(serde_json::to_vec(value).expect("answers serialize")),
    )
}

fn send((status, body): Answer) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

impl Mutation {
    /// Runs the request on `account` under its idempotency key (if any).
    async fn run(
        self,
        state: &AppState,
        account: &str,
        run: impl FnOnce(&[u8]) -> Result<Answer, ApiError>,
    ) -> Response {
        if let Err(e) = lock(&state.world).account_for(&self.principal, account) {
            return e.into_response();
        }
        let owner = &self.principal.id;
        let Some(key) = self.key else {
            return run(&self.body).map_or_else(IntoResponse::into_response, send);
        };
        let claim =
            lock(&state.idempotency).claim(owner, &key, self.fingerprint, state.clock.now());
        match claim {
            Claim::Replay(stored) => {
                let mut response = send((stored.status, stored.body));
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
        let (status, body) = match run(&self.body) {
            Ok(answer) => answer,
            Err(e) if e.is_validation() => {
                lock(&state.idempotency).abandon(owner, &key);
                return e.into_response();
            }
            Err(e) => answer(e.status, &e.body()),
        };
        let stored = Stored {
            status,
            body: body.clone(),
        };
        lock(&state.idempotency).finish(owner, &key, stored, state.clock.now());
        send((status, body))
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

async fn place_order(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    mutation: Mutation,
) -> Response {
    let operation = mutation.operation;
    mutation
        .run(&state, &account_id, |body| {
            let new = validate_order(operation, body)?;
            let order = lock(&state.world).place(&account_id, new, state.clock.now())?;
            Ok(answer(StatusCode::CREATED, &*order))
        })
        .await
}

/// Checks a placement body against the spec, then the sandbox's own limits, and returns
/// the order it describes.
fn validate_order(operation: &str, body: &[u8]) -> Result<NewOrder, ApiError> {
    let value = spec::checked_body(operation, body)?;
    // The shape is the spec's, checked above. What no schema says: the sandbox's limits.
    let cash = amount(&value, "cash_amount")?;
    let quantity = amount(&value, "quantity")?;
    let request: PlaceOrderRequest = serde_json::from_value(value)
        .map_err(|e| ApiError::param("body", ErrorParamCode::Invalid, e.to_string()))?;
    let shape = |field: &str| {
        ApiError::param(
            &format!("body.{field}"),
            ErrorParamCode::Required,
            "is required",
        )
    };
    let side = match request.side {
        OrderSide::Buy => NewSide::Buy {
            cash: cash.ok_or_else(|| shape("cash_amount"))?,
            automatic_rollover: request.automatic_rollover.unwrap_or(false),
        },
        OrderSide::Sell => NewSide::Sell {
            quantity: quantity.ok_or_else(|| shape("quantity"))?,
        },
        OrderSide::Unknown(_) => return Err(shape("side")),
    };
    Ok(NewOrder {
        instrument: request.instrument,
        side,
    })
}

/// A decimal field the spec's grammar accepted, if present, within what the sandbox can
/// carry through execution (`limits::MAX_AMOUNT`, and `Decimal`'s 28 places).
fn amount(body: &Value, name: &str) -> Result<Option<Decimal>, ApiError> {
    let Some(raw) = body.get(name).and_then(Value::as_str) else {
        return Ok(None);
    };
    let path = format!("body.{name}");
    let too_large = || {
        ApiError::param(
            &path,
            ErrorParamCode::TooLarge,
            format!(
                "must be at most {} (the most the sandbox carries through execution)",
                crate::limits::MAX_AMOUNT
            ),
        )
    };
    let amount = match Decimal::from_str_exact(raw) {
        Ok(amount) => amount,
        Err(_) if raw.split_once('.').is_some_and(|(_, f)| f.len() > 28) => {
            return Err(ApiError::param(
                &path,
                ErrorParamCode::InvalidIncrement,
                "has more decimals than any instrument's precision (28 at most)",
            ));
        }
        Err(_) => return Err(too_large()),
    };
    if amount > crate::limits::MAX_AMOUNT {
        return Err(too_large());
    }
    Ok(Some(amount))
}

fn order_filter(query: &Query) -> Result<impl Fn(&Order) -> bool + use<>, ApiError> {
    // `status` and `side` are open enums in the spec: a value this sandbox does not know
    // is a filter that keeps nothing, not a refusal.
    let statuses: Vec<OrderStatus> = query
        .all("status")
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| OrderStatus::Unknown(s.to_string()))
        })
        .collect();
    let side = query.get("side").map(|s| {
        s.parse()
            .unwrap_or_else(|_| OrderSide::Unknown(s.to_string()))
    });
    let instrument = query.get("instrument").map(str::to_string);
    let gte = query.instant("created[gte]")?;
    let lt = query.instant("created[lt]")?;
    Ok(move |o: &Order| {
        (statuses.is_empty() || statuses.contains(&o.status))
            && instrument.as_ref().is_none_or(|i| &o.instrument.id == i)
            && side.as_ref().is_none_or(|s| &o.side == s)
            && gte.is_none_or(|t| o.created_at >= t)
            && lt.is_none_or(|t| o.created_at < t)
    })
}

async fn list_orders(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = Query::parse(uri.query());
    let keep = order_filter(&query)?;
    page_of_orders(&state, &principal, &account_id, &query, keep)
}

async fn list_pending_orders(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let open = |o: &Order| o.status.is_open();
    page_of_orders(
        &state,
        &principal,
        &account_id,
        &Query::parse(uri.query()),
        open,
    )
}

/// One page of the account's orders that `keep` accepts, newest first.
fn page_of_orders(
    state: &AppState,
    principal: &Principal,
    account_id: &str,
    query: &Query,
    keep: impl Fn(&Order) -> bool,
) -> Result<Response, ApiError> {
    let limit = query.limit()?;
    // The page holds shared orders, so it is serialized after the world lock is released.
    let orders = {
        let world = lock(&state.world);
        let account = world.account_for(principal, account_id)?;
        page(
            world.orders_newest_first(account),
            |o| &o.id,
            query.get("starting_after"),
            |o| keep(o),
            limit,
        )?
    };
    let orders: Vec<&Order> = orders.iter().map(AsRef::as_ref).collect();
    Ok(json_response(StatusCode::OK, &orders))
}

async fn get_order(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((account_id, order_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let order = {
        let world = lock(&state.world);
        world.account_for(&principal, &account_id)?;
        Arc::clone(world.order(&account_id, &order_id)?)
    };
    Ok(json_response(StatusCode::OK, &*order))
}

async fn cancel_order(
    State(state): State<AppState>,
    Path((account_id, order_id)): Path<(String, String)>,
    mutation: Mutation,
) -> Response {
    mutation
        .run(&state, &account_id, |_| {
            let order = lock(&state.world).cancel(&account_id, &order_id, state.clock.now())?;
            Ok(answer(StatusCode::OK, &*order))
        })
        .await
}

// ---- accounts and instruments ------------------------------------------------------------

async fn list_cash_balances(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let world = lock(&state.world);
    let account = world.account_for(&principal, &account_id)?;
    Ok(json_response(StatusCode::OK, &world.cash_balances(account)))
}

async fn list_positions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let world = lock(&state.world);
    let account = world.account_for(&principal, &account_id)?;
    Ok(json_response(StatusCode::OK, &world.positions(account)))
}

async fn list_instruments(State(state): State<AppState>, Auth(_): Auth) -> Response {
    let now = state.clock.now();
    json_response(StatusCode::OK, &lock(&state.world).instruments(now))
}

async fn get_instrument(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(instrument_id): Path<String>,
) -> Result<Response, ApiError> {
    let today = state.clock.now().date_naive();
    let instrument = lock(&state.world)
        .listing(&instrument_id)
        .map(|listing| listing.full(today))
        .ok_or_else(|| ApiError::not_found("instrument", &instrument_id))?;
    Ok(json_response(StatusCode::OK, &instrument))
}

// ---- events ---------------------------------------------------------------------------------

async fn list_events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = Query::parse(uri.query());
    let limit = query.limit()?;
    let name = query.get("name").map(str::to_string);
    let resource = query.get("resource[id]").map(str::to_string);
    let bounds = [
        query.instant("created[gt]")?,
        query.instant("created[gte]")?,
        query.instant("created[lt]")?,
        query.instant("created[lte]")?,
    ];
    let keep = |e: &crate::world::EventRecord| {
        let t = e.created_at();
        name.as_ref().is_none_or(|n| e.name().to_string() == *n)
            && resource.as_ref().is_none_or(|r| e.resource_id() == r)
            && bounds[0].is_none_or(|b| t > b)
            && bounds[1].is_none_or(|b| t >= b)
            && bounds[2].is_none_or(|b| t < b)
            && bounds[3].is_none_or(|b| t <= b)
    };
    // The page is taken under the world lock; its events are rendered after it is released.
    let sources: Vec<_> = {
        let world = lock(&state.world);
        let records = page(
            world.events_newest_first(&principal),
            |e| e.id(),
            query.get("starting_after"),
            keep,
            limit,
        )?;
        records
            .iter()
            .filter_map(|r| world.event_source(r))
            .collect()
    };
    let events: Vec<_> = sources
        .iter()
        .map(|(record, order)| record.event(order))
        .collect();
    Ok(json_response(StatusCode::OK, &events))
}

// ---- webhooks -------------------------------------------------------------------------------

async fn create_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    spec::Json(request): spec::Json<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let mut world = lock(&state.world);
    let World {
        deliveries, ids, ..
    } = &mut *world;
    let webhook = deliveries.create(&principal.id, &request, ids, now)?;
    Ok(json_response(StatusCode::CREATED, &webhook))
}

async fn update_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(webhook_id): Path<String>,
    spec::Json(request): spec::Json<UpdateWebhookRequest>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let webhook =
        lock(&state.world)
            .deliveries
            .update(&principal.id, &webhook_id, &request, now)?;
    Ok(json_response(StatusCode::OK, &webhook))
}

async fn test_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(webhook_id): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let delivery = {
        let mut world = lock(&state.world);
        let World {
            deliveries, ids, ..
        } = &mut *world;
        deliveries.test(&principal.id, &webhook_id, ids, now)?
    };
    Ok(json_response(StatusCode::ACCEPTED, &delivery))
}
