//! The catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::json_response;
use crate::clock::lock;
use crate::error::ApiError;
use crate::http::{AppState, Auth, Path};

pub(super) async fn list_instruments(State(state): State<AppState>, Auth(_): Auth) -> Response {
    let now = state.clock.now();
    json_response(StatusCode::OK, &lock(&state.world).instruments(now))
}

pub(super) async fn get_instrument(
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
