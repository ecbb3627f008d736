//! `POST /auth/token`: the client-credentials grant (RFC 6749 errors, not the Error object).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use sophic_client::types::TokenResponse;
use sophic_client::types::exhaustive;

use super::json_response;
use crate::clock::lock;
use crate::http::AppState;
use crate::world::Principal;

/// The scopes of every token the sandbox issues (it does not restrict tokens by scope).
const GRANTED_SCOPES: [&str; 2] = ["orders:read", "orders:write"];

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

pub(super) async fn create_token(State(state): State<AppState>, body: Bytes) -> Response {
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
    let Some(client) = lock(&state.world).client(id, secret).cloned() else {
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
    let token = match state.commit(crate::state::IssueToken {
        principal,
        expires_at: Some(now + lifetime),
    }) {
        Ok(token) => token,
        Err(e) => {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                &e.body().detail,
            );
        }
    };
    state
        .tokens_issued
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let answer = TokenResponse::from(exhaustive::TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: u32::try_from(lifetime.num_seconds()).unwrap_or(u32::MAX),
        // What the token may do, whatever was asked (RFC 6749 §3.3): every sandbox token
        // may read and write; a scope it does not know was refused above.
        scope: Some(GRANTED_SCOPES.join(" ")),
        refresh_token: None,
    });
    json_response(StatusCode::OK, &answer)
}
