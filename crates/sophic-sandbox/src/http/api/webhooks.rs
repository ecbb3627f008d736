//! Registering, changing and testing webhooks.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use sophic_client::types::{CreateWebhookRequest, UpdateWebhookRequest};

use super::json_response;
use crate::clock::lock;
use crate::error::ApiError;
use crate::http::spec;
use crate::http::{AppState, Auth, Path};
use crate::world::World;

pub(super) async fn create_webhook(
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

pub(super) async fn update_webhook(
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

pub(super) async fn test_webhook(
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
