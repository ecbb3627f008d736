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
    CreateWebhookRequest, ErrorCode, ErrorParam, ErrorParamCode, EventName, Order, OrderSide,
    OrderStatus, TokenResponse, UpdateWebhookRequest,
};

use super::query::{Query, page};
use super::{AppState, Auth, Path};
use crate::clock::lock;
use crate::error::{ApiError, problem};
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

/// The `Idempotency-Key` header, if any, once checked.
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
    if key.is_empty() || key.len() > idempotency::MAX_KEY_LEN {
        return Err(ApiError::param(
            "header.Idempotency-Key",
            ErrorParamCode::TooLong,
            format!("must be 1 to {} characters", idempotency::MAX_KEY_LEN),
        ));
    }
    Ok(Some(key.to_string()))
}

/// A state-changing request that honours `Idempotency-Key` (placing and cancelling): its
/// principal, checked key, fingerprint, raw body, and whether a `stall` fault holds it. One
/// extractor, so every keyed operation follows the same rules.
pub(crate) struct Mutation {
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
    mutation
        .run(&state, &account_id, |body| {
            let new = validate_order(body)?;
            let order = lock(&state.world).place(&account_id, new, state.clock.now())?;
            Ok(answer(StatusCode::CREATED, &*order))
        })
        .await
}

/// Checks a placement body field by field, naming every field at fault, and returns the
/// order it describes.
fn validate_order(body: &[u8]) -> Result<NewOrder, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::param("body", ErrorParamCode::Invalid, "must be a JSON object"))?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::param(
            "body",
            ErrorParamCode::Invalid,
            "must be a JSON object",
        ));
    };
    let mut problems = Vec::new();
    let instrument = required_string(fields, "instrument", &mut problems);
    match fields.get("order_type") {
        None | Some(Value::Null) => problems.push(problem(
            "body.order_type",
            ErrorParamCode::Required,
            "is required",
        )),
        Some(Value::String(t)) if t == "market" => {}
        Some(_) => problems.push(problem(
            "body.order_type",
            ErrorParamCode::Invalid,
            "must be market (the only order type accepted)",
        )),
    }
    let side = match fields.get("side") {
        None | Some(Value::Null) => {
            problems.push(problem(
                "body.side",
                ErrorParamCode::Required,
                "is required",
            ));
            None
        }
        Some(Value::String(s)) if s == "buy" => Some(OrderSide::Buy),
        Some(Value::String(s)) if s == "sell" => Some(OrderSide::Sell),
        Some(_) => {
            problems.push(problem(
                "body.side",
                ErrorParamCode::Invalid,
                "must be buy or sell",
            ));
            None
        }
    };
    let cash = positive_decimal(fields, "cash_amount", Some(2), &mut problems);
    let quantity = positive_decimal(fields, "quantity", None, &mut problems);
    let rollover = match fields.get("automatic_rollover") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(problem(
                "body.automatic_rollover",
                ErrorParamCode::Invalid,
                "must be true or false",
            ));
            false
        }
    };
    let present = |name: &str| fields.get(name).is_some_and(|v| !v.is_null());
    match side {
        Some(OrderSide::Buy) => {
            if !present("cash_amount") {
                problems.push(problem(
                    "body.cash_amount",
                    ErrorParamCode::Required,
                    "is required on buy orders (buys are cash-based)",
                ));
            }
            if present("quantity") {
                problems.push(problem(
                    "body.quantity",
                    ErrorParamCode::NotAllowed,
                    "is not allowed on buy orders (buys are cash-based; use cash_amount)",
                ));
            }
        }
        Some(_) => {
            if !present("quantity") {
                problems.push(problem(
                    "body.quantity",
                    ErrorParamCode::Required,
                    "is required on sell orders (sells are unit-based)",
                ));
            }
            if present("cash_amount") {
                problems.push(problem(
                    "body.cash_amount",
                    ErrorParamCode::NotAllowed,
                    "is not allowed on sell orders (sells are unit-based; use quantity)",
                ));
            }
            if rollover {
                problems.push(problem(
                    "body.automatic_rollover",
                    ErrorParamCode::NotAllowed,
                    "applies to buy orders only",
                ));
            }
        }
        None => {}
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    // Every field was checked above, so the locals hold the whole order.
    let side = match side.expect("checked above") {
        OrderSide::Buy => NewSide::Buy {
            cash: cash.flatten().expect("checked above"),
            automatic_rollover: rollover,
        },
        _ => NewSide::Sell {
            quantity: quantity.flatten().expect("checked above"),
        },
    };
    Ok(NewOrder {
        instrument: instrument.expect("checked above"),
        side,
    })
}

fn required_string(
    fields: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<ErrorParam>,
) -> Option<String> {
    let path = format!("body.{name}");
    match fields.get(name) {
        None | Some(Value::Null) => {
            problems.push(problem(&path, ErrorParamCode::Required, "is required"))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => return Some(s.clone()),
        Some(_) => problems.push(problem(
            &path,
            ErrorParamCode::Invalid,
            "must be a non-empty string",
        )),
    }
    None
}

/// `Some(Some(d))` a valid amount, `Some(None)` a refused one, `None` absent.
fn positive_decimal(
    fields: &Map<String, Value>,
    name: &str,
    max_scale: Option<u32>,
    problems: &mut Vec<ErrorParam>,
) -> Option<Option<Decimal>> {
    let path = format!("body.{name}");
    let raw = match fields.get(name)? {
        Value::Null => return None,
        Value::String(s) => s,
        Value::Number(_) => {
            problems.push(problem(
                &path,
                ErrorParamCode::Invalid,
                "must be a decimal string such as \"100.00\", not a JSON number",
            ));
            return Some(None);
        }
        _ => {
            problems.push(problem(
                &path,
                ErrorParamCode::Invalid,
                "must be a decimal string such as \"100.00\"",
            ));
            return Some(None);
        }
    };
    let Ok(amount) = raw.trim().parse::<Decimal>() else {
        problems.push(problem(
            &path,
            ErrorParamCode::Invalid,
            format!("must be a decimal string such as \"100.00\", not {raw:?}"),
        ));
        return Some(None);
    };
    if amount <= Decimal::ZERO {
        problems.push(problem(
            &path,
            ErrorParamCode::TooSmall,
            "must be greater than 0",
        ));
        return Some(None);
    }
    if amount > crate::limits::MAX_AMOUNT {
        problems.push(problem(
            &path,
            ErrorParamCode::TooLarge,
            format!(
                "must be at most {} (the most the sandbox carries through execution)",
                crate::limits::MAX_AMOUNT
            ),
        ));
        return Some(None);
    }
    if let Some(max) = max_scale.filter(|m| amount.scale() > *m) {
        problems.push(problem(
            &path,
            ErrorParamCode::Invalid,
            format!("must have at most {max} decimal places"),
        ));
        return Some(None);
    }
    Some(Some(amount))
}

fn order_filter(query: &Query) -> Result<impl Fn(&Order) -> bool + use<>, ApiError> {
    let statuses = query
        .all("status")
        .map(|s| {
            s.parse::<OrderStatus>().map_err(|_| {
                ApiError::param(
                    "query.status",
                    ErrorParamCode::Invalid,
                    format!("{s:?} is not an order status"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let instrument = query.get("instrument").map(str::to_string);
    let side = query.parsed::<OrderSide>("side", "buy or sell")?;
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

/// Checks a webhook body's fields (naming the one at fault), then decodes it.
fn decode<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
    required: &[&str],
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::param("body", ErrorParamCode::Invalid, "must be a JSON object"))?;
    if !value.is_object() {
        return Err(ApiError::param(
            "body",
            ErrorParamCode::Invalid,
            "must be a JSON object",
        ));
    }
    if let Some(missing) = required
        .iter()
        .find(|f| value.get(**f).is_none_or(Value::is_null))
    {
        return Err(ApiError::param(
            &format!("body.{missing}"),
            ErrorParamCode::Required,
            "is required",
        ));
    }
    for (field, expected) in [
        ("url", "a string"),
        ("description", "a string"),
        ("disabled", "true or false"),
    ] {
        let ok = match (field, value.get(field)) {
            (_, None | Some(Value::Null)) => true,
            ("disabled", Some(v)) => v.is_boolean(),
            (_, Some(v)) => v.is_string(),
        };
        if !ok {
            return Err(ApiError::param(
                &format!("body.{field}"),
                ErrorParamCode::Invalid,
                format!("must be {expected}"),
            ));
        }
    }
    if let Some(events) = value.get("enabled_events").filter(|v| !v.is_null()) {
        let ok = events
            .as_array()
            .is_some_and(|a| a.iter().all(|e| e.as_str().is_some_and(known_event)));
        if !ok {
            return Err(ApiError::param(
                "body.enabled_events",
                ErrorParamCode::Invalid,
                "must be a list of event names such as order.filled",
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::param(
            "body",
            ErrorParamCode::Invalid,
            format!("does not match {what}: {e}"),
        )
    })
}

fn known_event(name: &str) -> bool {
    name.parse::<EventName>().is_ok()
}

async fn create_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateWebhookRequest = decode(&body, "CreateWebhookRequest", &["url"])?;
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
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: UpdateWebhookRequest = decode(&body, "UpdateWebhookRequest", &[])?;
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
