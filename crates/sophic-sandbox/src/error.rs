//! The API's refusals, as the contract's Error object.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use sophic_client::types::exhaustive;
use sophic_client::types::{self, ErrorCode, ErrorParam, ErrorParamCode};

/// A refusal: HTTP status, code, detail, the parameters at fault and context figures.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A sentence for people.
    pub detail: String,
    /// The parameters at fault (`invalid_param`).
    pub params: Vec<ErrorParam>,
    /// Figures behind the refusal (boxed: most refusals have none).
    pub context: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    /// A refusal without parameters.
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            params: Vec::new(),
            context: None,
        }
    }

    /// 400 `invalid_param` for these parameters.
    pub fn invalid(params: Vec<ErrorParam>) -> Self {
        let detail = match params.as_slice() {
            [one] => format!("{} {}.", one.path, one.detail),
            _ => "One or more parameters are invalid.".to_string(),
        };
        Self {
            params,
            ..Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidParam, detail)
        }
    }

    /// 400 `invalid_param` for one parameter.
    pub fn param(path: &str, code: ErrorParamCode, detail: impl Into<String>) -> Self {
        Self::invalid(vec![problem(path, code, detail)])
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("No {what} {id}."),
        )
    }

    /// 401 `not_authenticated`.
    pub fn not_authenticated(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::NotAuthenticated,
            detail,
        )
    }

    /// Adds context figures.
    pub fn with_context(mut self, context: Value) -> Self {
        self.context = context.as_object().cloned().map(Box::new);
        self
    }

    /// Whether this is a validation failure (which stores no idempotent answer).
    pub fn is_validation(&self) -> bool {
        self.code.is_validation()
    }

    /// The wire body.
    pub fn body(&self) -> types::Error {
        types::Error::from(types::exhaustive::Error {
            code: self.code.clone(),
            detail: self.detail.clone(),
            docs: None,
            params: (!self.params.is_empty()).then(|| self.params.clone()),
            context: self.context.as_deref().cloned(),
        })
    }
}

/// One parameter at fault.
pub fn problem(path: &str, code: ErrorParamCode, detail: impl Into<String>) -> ErrorParam {
    ErrorParam::from(exhaustive::ErrorParam {
        path: path.into(),
        code,
        detail: detail.into(),
    })
}
