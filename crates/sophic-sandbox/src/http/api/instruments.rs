//! The catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{json_response, send_json};
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
    let shown = lock(&state.world)
        .shown_instrument(&instrument_id, today)
        .ok_or_else(|| ApiError::not_found("instrument", &instrument_id))?;
    Ok(send_json(StatusCode::OK, shown))
}
