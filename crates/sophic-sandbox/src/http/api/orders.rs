//! Placing, listing, reading and cancelling orders.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::Value;
use sophic_client::types::exhaustive;
use sophic_client::types::{ErrorParamCode, Order, OrderSide, OrderStatus, PlaceOrderRequest};

use super::json_response;
use super::mutation::Mutation;
use crate::clock::lock;
use crate::error::ApiError;
use crate::http::query::{Query, page};
use crate::http::spec;
use crate::http::{AppState, Auth, Path};
use crate::state::{Cancel, Place};
use crate::world::{NewOrder, NewSide, Principal, StoredOrder};

pub(super) async fn place_order(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    mutation: Mutation,
) -> Response {
    let operation = mutation.operation;
    let mut placed_id = None;
    let mut response = mutation
        .run(&state, &account_id, |body, key| {
            let order = validate_order(operation, body)?;
            let at = state.clock.now();
            let placed = state.commit(Place {
                account: account_id.clone(),
                order,
                at,
                key: key.clone(),
            });
            placed_id = placed.order_id();
            placed.finish(&state, key.as_ref(), StatusCode::CREATED, at)
        })
        .await;
    // For the request journal.
    if let Some(id) = placed_id {
        response
            .extensions_mut()
            .insert(crate::requests::OrderRef(id));
    }
    response
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
    // Every field named, so a field the spec adds fails to compile here until decided.
    let exhaustive::PlaceOrderRequest {
        instrument,
        order_type,
        side,
        // Read above, with the sandbox's limits.
        cash_amount: _,
        quantity: _,
        automatic_rollover,
    } = request.into();
    match order_type.exhaustive() {
        exhaustive::OrderType::Market => {}
        // The spec's request schema admits only the values above.
        exhaustive::OrderType::Unknown(_) => {
            return Err(ApiError::param(
                "body.order_type",
                ErrorParamCode::Invalid,
                "is not an order type the sandbox executes",
            ));
        }
    }
    let side = match side.exhaustive() {
        exhaustive::OrderSide::Buy => NewSide::Buy {
            cash: cash.ok_or_else(|| shape("cash_amount"))?,
            automatic_rollover: automatic_rollover.unwrap_or(false),
        },
        exhaustive::OrderSide::Sell => NewSide::Sell {
            quantity: quantity.ok_or_else(|| shape("quantity"))?,
        },
        exhaustive::OrderSide::Unknown(_) => return Err(shape("side")),
    };
    Ok(NewOrder { instrument, side })
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

fn order_filter(query: &Query) -> Result<impl Fn(&StoredOrder) -> bool + use<>, ApiError> {
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
    Ok(move |o: &StoredOrder| {
        (statuses.is_empty() || statuses.contains(&o.status.get()))
            && instrument.as_ref().is_none_or(|i| &o.instrument.id == i)
            && side.as_ref().is_none_or(|s| o.side.is(s))
            && gte.is_none_or(|t| o.created_at >= t)
            && lt.is_none_or(|t| o.created_at < t)
    })
}

pub(super) async fn list_orders(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = Query::parse(uri.query());
    let keep = order_filter(&query)?;
    page_of_orders(&state, &principal, &account_id, &query, keep)
}

pub(super) async fn list_pending_orders(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let open = |o: &StoredOrder| o.status.get().is_open();
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
    keep: impl Fn(&StoredOrder) -> bool,
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
    let orders: Vec<Order> = orders.iter().map(|o| o.to_order()).collect();
    Ok(json_response(StatusCode::OK, &orders))
}

pub(super) async fn get_order(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((account_id, order_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let order = {
        let world = lock(&state.world);
        world.account_for(&principal, &account_id)?;
        Arc::clone(world.order(&account_id, &order_id)?)
    };
    Ok(json_response(StatusCode::OK, &order.to_order()))
}

pub(super) async fn cancel_order(
    State(state): State<AppState>,
    Path((account_id, order_id)): Path<(String, String)>,
    mutation: Mutation,
) -> Response {
    mutation
        .run(&state, &account_id, |_, key| {
            let at = state.clock.now();
            let cancelled = state.commit(Cancel {
                account: account_id.clone(),
                order: order_id.clone(),
                at,
                key: key.clone(),
            });
            cancelled.finish(&state, key.as_ref(), StatusCode::OK, at)
        })
        .await
}
