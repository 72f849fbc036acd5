//! The API's one error type: a status and a JSON body that says what is wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is malformed, out of range or unknown.
    #[error("parameter `{parameter}`: {message}")]
    BadParameter { parameter: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The QPV exists but has no outline, so distances to it are unknown.
    #[error("{0}")]
    NoOutline(String),
    /// A request body field is missing or invalid.
    #[error("field `{field}`: {message}")]
    BadField { field: String, message: String },
    /// No valid bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter {
            parameter: parameter.to_string(),
            message: message.into(),
        }
    }
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadField {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("{e:#}");
        ApiError::Internal("the store failed; see the server log".to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            ApiError::BadParameter { parameter, .. } => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "bad_parameter", "parameter": parameter, "message": message }),
            ),
            ApiError::NotFound(_) => (
                StatusCode::NOT_FOUND,
                json!({ "error": "not_found", "message": message }),
            ),
            ApiError::NoOutline(_) => (
                StatusCode::CONFLICT,
                json!({ "error": "no_outline", "message": message }),
            ),
            ApiError::BadField { field, .. } => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "bad_field", "field": field, "message": message }),
            ),
            ApiError::Unauthorized(_) => {
                let body = json!({ "error": "unauthorized", "message": message });
                return (
                    StatusCode::UNAUTHORIZED,
                    [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                json!({ "error": "forbidden", "message": message }),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal", "message": message }),
            ),
        };
        (status, Json(body)).into_response()
    }
}
