//! An account's cash balances and positions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::json_response;
use crate::clock::lock;
use crate::error::ApiError;
use crate::http::{AppState, Auth, Path, spec};
use sophic_client::types::UpdatePositionRequest;

pub(super) async fn list_cash_balances(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let world = lock(&state.world);
    let account = world.account_for(&principal, &account_id)?;
    Ok(json_response(StatusCode::OK, &world.cash_balances(account)))
}

pub(super) async fn list_positions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let world = lock(&state.world);
    let account = world.account_for(&principal, &account_id)?;
    Ok(json_response(StatusCode::OK, &world.positions(account)))
}

pub(super) async fn update_position(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((account_id, position_id)): Path<(String, String)>,
    spec::Json(request): spec::Json<UpdatePositionRequest>,
) -> Result<Response, ApiError> {
    lock(&state.world).account_for(&principal, &account_id)?;
    let position = state.commit(crate::state::SetRollover {
        account: account_id,
        position: position_id,
        on: request.automatic_rollover,
        at: state.clock.now(),
    })?;
    Ok(json_response(StatusCode::OK, &position))
}
