//! Registering, changing and testing webhooks.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use sophic_client::types::{CreateWebhookRequest, UpdateWebhookRequest};

use super::json_response;
use crate::error::ApiError;
use crate::http::spec;
use crate::http::{AppState, Auth, Path};
use crate::state::{CreateWebhook, TestWebhook, UpdateWebhook};

pub(super) async fn create_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    spec::Json(request): spec::Json<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    crate::webhooks::check_not_self(&request.url, "body.url", state.addr)?;
    let webhook = state.commit(CreateWebhook {
        owner: principal.id,
        request,
        at: state.clock.now(),
    })?;
    Ok(json_response(StatusCode::CREATED, &webhook))
}

pub(super) async fn update_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(webhook_id): Path<String>,
    spec::Json(request): spec::Json<UpdateWebhookRequest>,
) -> Result<Response, ApiError> {
    if let Some(url) = &request.url {
        crate::webhooks::check_not_self(url, "body.url", state.addr)?;
    }
    let webhook = state.commit(UpdateWebhook {
        owner: principal.id,
        webhook: webhook_id,
        request,
        at: state.clock.now(),
    })?;
    Ok(json_response(StatusCode::OK, &webhook))
}

pub(super) async fn test_webhook(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(webhook_id): Path<String>,
) -> Result<Response, ApiError> {
    let delivery = state.commit(TestWebhook {
        owner: principal.id,
        webhook: webhook_id,
        at: state.clock.now(),
    })?;
    Ok(json_response(StatusCode::ACCEPTED, &delivery))
}
