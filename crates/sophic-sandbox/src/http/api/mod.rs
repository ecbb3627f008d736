//! The operations of `openapi/orders.yaml` (the list is the spec's: `sophic_client::OPERATIONS`,
//! and `tests/tests/sandbox_serves_the_spec.rs` checks that each is routed), one module per
//! noun of the API, and the extractor every keyed mutation shares ([`mutation`]).

mod accounts;
mod auth;
mod events;
mod instruments;
pub(crate) mod mutation;
mod orders;
mod webhooks;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde::Serialize;

use super::AppState;

pub(crate) use mutation::{IgnoreKey, Stall};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(auth::create_token))
        .route(
            "/accounts/{account_id}/orders",
            post(orders::place_order).get(orders::list_orders),
        )
        .route(
            "/accounts/{account_id}/orders/pending",
            get(orders::list_pending_orders),
        )
        .route(
            "/accounts/{account_id}/orders/{order_id}",
            get(orders::get_order),
        )
        .route(
            "/accounts/{account_id}/orders/{order_id}/cancel",
            post(orders::cancel_order),
        )
        .route(
            "/accounts/{account_id}/cash-balances",
            get(accounts::list_cash_balances),
        )
        .route(
            "/accounts/{account_id}/positions",
            get(accounts::list_positions),
        )
        .route(
            "/accounts/{account_id}/positions/{position_id}",
            patch(accounts::update_position),
        )
        .route("/instruments", get(instruments::list_instruments))
        .route(
            "/instruments/{instrument_id}",
            get(instruments::get_instrument),
        )
        .route("/events", get(events::list_events))
        .route("/webhooks", post(webhooks::create_webhook))
        .route("/webhooks/{webhook_id}", put(webhooks::update_webhook))
        .route("/webhooks/{webhook_id}/test", post(webhooks::test_webhook))
}

pub(super) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// An answer already rendered as JSON (kept for replay, or for the day).
pub(super) fn send_json(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
