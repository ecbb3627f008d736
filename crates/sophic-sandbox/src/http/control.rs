//! Control endpoints under `/sandbox/…` (described in `openapi/sandbox.yaml`): test
//! accounts and clients, the clock, the market, faults, reset.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::TimeDelta;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use sophic_client::types::{Currency, ErrorParamCode, TradingStatus};

use super::{AppState, Path};
use crate::TestAccount;
use crate::clock::lock;
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::limits;
use crate::state::{ArmFault, ClearFaults, CreateAccount, CreateClient, SetMarket};
use crate::world::AccountSpec;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", post(create_account))
        .route("/clients", post(create_client))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/clock/settle", post(settle))
        .route("/instruments/{instrument_id}", put(set_instrument))
        .route(
            "/faults",
            post(arm_fault).get(list_faults).delete(clear_faults),
        )
        .route("/faults/release", post(release_stalled))
        .route("/webhook-deliveries", get(list_deliveries))
        .route("/reset", post(reset))
        .route("/health", get(health))
        .route("/demo", get(demo))
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/state", get(export_state).put(import_state))
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::param("body", ErrorParamCode::Invalid, e.to_string()))
}

#[derive(Deserialize)]
struct NewAccount {
    #[serde(default)]
    cash: BTreeMap<String, String>,
    #[serde(default)]
    positions: BTreeMap<String, String>,
    #[serde(default)]
    professional: bool,
}

fn decimal(value: &str, path: &str) -> Result<Decimal, ApiError> {
    let amount: Decimal = value.parse().map_err(|_| {
        ApiError::param(
            path,
            ErrorParamCode::Invalid,
            format!("must be a decimal string, not {value:?}"),
        )
    })?;
    if amount.abs() > limits::MAX_AMOUNT {
        return Err(ApiError::param(
            path,
            ErrorParamCode::TooLarge,
            format!("must be at most {}", limits::MAX_AMOUNT),
        ));
    }
    Ok(amount)
}

async fn create_account(State(state): State<AppState>, raw: Bytes) -> Result<Response, ApiError> {
    let request: NewAccount = body(&raw)?;
    let mut spec = AccountSpec {
        professional: request.professional,
        ..AccountSpec::default()
    };
    for (currency, amount) in &request.cash {
        let path = format!("body.cash.{currency}");
        let code: Currency = currency.parse().map_err(|_| {
            ApiError::param(&path, ErrorParamCode::Invalid, "must be USD, EUR or GBP")
        })?;
        spec.cash.insert(code, decimal(amount, &path)?);
    }
    for (instrument, quantity) in &request.positions {
        spec.positions.insert(
            instrument.clone(),
            decimal(quantity, &format!("body.positions.{instrument}"))?,
        );
    }
    let TestAccount { id, token } = state.commit(CreateAccount {
        spec,
        at: state.clock.now(),
    })?;
    let world = lock(&state.world);
    let account = world.account(&id)?;
    let answer = json!({
        "account": {
            "id": id,
            "professional": account.professional,
            "cash_balances": world.cash_balances(account),
            "positions": world.positions(account),
        },
        "token": token,
    });
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

#[derive(Deserialize)]
struct NewClient {
    accounts: Vec<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn create_client(State(state): State<AppState>, raw: Bytes) -> Result<Response, ApiError> {
    let request: NewClient = body(&raw)?;
    let client = state.commit(CreateClient {
        accounts: request.accounts,
        id: request.client_id,
        secret: request.client_secret,
    })?;
    let answer = json!({"client_id": client.id, "client_secret": client.secret, "accounts": client.accounts});
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

fn clock_view(state: &AppState, steps: Option<usize>) -> Response {
    let next_due = lock(&state.world).next_due();
    let mut view = json!({
        "now": state.clock.now(),
        "mode": state.clock.mode().as_str(),
        "next_due": next_due,
    });
    if let Some(steps) = steps {
        view["steps"] = json!(steps);
    }
    axum::Json(view).into_response()
}

async fn clock(State(state): State<AppState>) -> Response {
    state.catch_up();
    clock_view(&state, None)
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(state): State<AppState>, raw: Bytes) -> Result<Response, ApiError> {
    let request: Advance = body(&raw)?;
    if !(request.seconds.is_finite() && request.seconds >= 0.0) {
        return Err(ApiError::param(
            "body.seconds",
            ErrorParamCode::Invalid,
            "must be a number of seconds, 0 or more",
        ));
    }
    // Seconds of clock time, not money: the one place a float is the right type. The
    // float-to-int cast saturates, and `advance` refuses anything past its bounds.
    let by = TimeDelta::try_milliseconds((request.seconds * 1000.0).round() as i64)
        .unwrap_or(TimeDelta::MAX);
    let (_, steps) = state.advance(by)?;
    Ok(clock_view(&state, Some(steps)))
}

async fn settle(State(state): State<AppState>) -> Response {
    let (_, steps) = state.settle();
    clock_view(&state, Some(steps))
}

#[derive(Deserialize)]
struct MarketChange {
    /// Absent: unchanged; `null`: unpinned (the price follows the market again).
    #[serde(default, deserialize_with = "present")]
    price: Option<Option<String>>,
    trading_status: Option<String>,
    lot: Option<String>,
}

/// A field that is present, even as `null` (so `null` and absent differ).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

async fn set_instrument(
    State(state): State<AppState>,
    Path(instrument_id): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let request: MarketChange = body(&raw)?;
    let price = request
        .price
        .map(|p| p.as_deref().map(|p| decimal(p, "body.price")).transpose())
        .transpose()?;
    let status = request
        .trading_status
        .as_deref()
        .map(|s| {
            s.parse::<TradingStatus>().map_err(|_| {
                ApiError::param(
                    "body.trading_status",
                    ErrorParamCode::Invalid,
                    "must be buy_sell, sell_only or closed",
                )
            })
        })
        .transpose()?;
    let lot = request
        .lot
        .as_deref()
        .map(|l| decimal(l, "body.lot"))
        .transpose()?;
    let now = state.clock.now();
    let listing = state.commit(SetMarket::new(&instrument_id, price, status, lot))?;
    let today = now.date_naive();
    let answer = json!({
        "instrument": listing.full(today),
        "price": listing.price(today),
        "pinned": listing.is_pinned(),
        "lot": listing.lot(),
    });
    Ok(axum::Json(answer).into_response())
}

async fn arm_fault(State(state): State<AppState>, raw: Bytes) -> Result<Response, ApiError> {
    let fault: FaultSpec = body(&raw)?;
    if let Some(unknown) = fault
        .operation
        .as_deref()
        .filter(|op| !FaultSpec::knows(op))
    {
        return Err(ApiError::param(
            "body.operation",
            ErrorParamCode::Invalid,
            format!("{unknown:?} is not an operationId of orders.yaml (such as place_order)"),
        ));
    }
    if fault.count > limits::MAX_FAULT_COUNT {
        return Err(ApiError::param(
            "body.count",
            ErrorParamCode::TooLarge,
            format!("must be at most {}", limits::MAX_FAULT_COUNT),
        ));
    }
    if fault
        .retry_after
        .is_some_and(|s| s > limits::MAX_RETRY_AFTER)
    {
        return Err(ApiError::param(
            "body.retry_after",
            ErrorParamCode::TooLarge,
            format!("must be at most {} seconds", limits::MAX_RETRY_AFTER),
        ));
    }
    let armed = state.commit(ArmFault { fault })?;
    Ok((StatusCode::CREATED, axum::Json(armed)).into_response())
}

async fn list_faults(State(state): State<AppState>) -> Response {
    axum::Json(lock(&state.faults).armed()).into_response()
}

/// Disarms every fault and lets any request held by a `stall` fault go on.
async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.commit(ClearFaults {});
    state.release.notify_waiters();
    StatusCode::NO_CONTENT
}

/// Lets every request held by a `stall` fault go on (it then finishes and stores its
/// answer, so its idempotency key is no longer "in progress").
async fn release_stalled(State(state): State<AppState>) -> StatusCode {
    state.release.notify_waiters();
    StatusCode::NO_CONTENT
}

async fn list_deliveries(State(state): State<AppState>) -> Response {
    axum::Json(lock(&state.world).deliveries.list()).into_response()
}

async fn reset(State(state): State<AppState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

/// Ready to answer: for scripts and containers waiting on a start.
async fn health(State(state): State<AppState>) -> Response {
    let path = lock(&state.journal)
        .as_ref()
        .and_then(|j| j.path().map(|p| p.display().to_string()));
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "clock": state.clock.mode().as_str(),
        "now": state.clock.now(),
        "state": path,
    }))
    .into_response()
}

/// The whole state as one file, for `PUT /sandbox/state` here or in another sandbox.
async fn export_state(State(state): State<AppState>) -> Result<Response, ApiError> {
    let bytes = state.snapshot().map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            sophic_client::types::ErrorCode::NotFound,
            e.to_string(),
        )
    })?;
    Ok((
        StatusCode::OK,
        [("content-type", "application/octet-stream")],
        bytes,
    )
        .into_response())
}

/// Replaces the whole state with a snapshot's; one that cannot load changes nothing.
async fn import_state(State(state): State<AppState>, raw: Bytes) -> Result<StatusCode, ApiError> {
    state
        .restore(&raw)
        .map_err(|e| ApiError::param("body", ErrorParamCode::Invalid, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The demo account and OAuth client, for `sophic sandbox env`.
async fn demo(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (Some(account), Some(client)) = lock(&state.demo).clone() else {
        return Err(ApiError::not_found("demo account", "demo"));
    };
    Ok(axum::Json(json!({
        "account": account.id,
        "token": account.token,
        "client_id": client.id,
        "client_secret": client.secret,
    }))
    .into_response())
}

/// The request journal, oldest first, filtered by the query.
async fn list_requests(
    State(state): State<AppState>,
    query: Result<
        axum::extract::Query<crate::requests::RequestFilter>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Response, ApiError> {
    let axum::extract::Query(filter) =
        query.map_err(|e| ApiError::param("query", ErrorParamCode::Invalid, e.body_text()))?;
    Ok(axum::Json(lock(&state.request_log).matching(&filter)).into_response())
}

/// Forgets the request journal.
async fn clear_requests(State(state): State<AppState>) -> StatusCode {
    lock(&state.request_log).clear();
    StatusCode::NO_CONTENT
}
