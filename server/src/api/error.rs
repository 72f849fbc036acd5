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
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter {
            parameter: parameter.to_string(),
            message: message.into(),
        }
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
        };
        (status, Json(body)).into_response()
    }
}
