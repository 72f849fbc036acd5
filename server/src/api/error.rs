//! The API's one error type: a status and a JSON body that says what is wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is malformed, out of range or unknown.
    #[error("parameter `{parameter}`: {message}")]
    BadParameter { parameter: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The QPV exists but has no outline, so distances to it are unknown.
    #[error("{0}")]
    NoOutline(String),
    /// No walking network to answer on: none loaded (409), or still being
    /// built (503, retry).
    #[error("{message}")]
    NoWalkNetwork { message: String, building: bool },
    /// A request body field is missing or invalid.
    #[error("field `{field}`: {message}")]
    BadField { field: String, message: String },
    /// No valid bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The request body is larger than the route accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The request body is not of a type the route accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body cannot be read (not JSON, not UTF-8…).
    #[error("{0}")]
    BadBody(String),
    /// The method is not one the route accepts.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// `If-Match` names another version than the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request cannot apply to the current state.
    #[error("{0}")]
    Conflict(String),
    /// Too much heavy work at once: try again shortly.
    #[error(
        "no room for this {what} within its time budget (too much work under way); try again in {retry_after_s} s"
    )]
    Overloaded {
        what: &'static str,
        retry_after_s: u64,
    },
    /// This client already has its share of some heavy work under way.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    /// The body is readable but its content cannot be used (a workbook
    /// without a sheet, a table without a header…).
    #[error("{message}")]
    Unprocessable { field: String, message: String },
    /// The store failed; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The shared store's database cannot be reached: reads are served
    /// from memory, writes wait until it is back.
    #[error("the store's database cannot be reached: writes are refused until it is back")]
    StoreUnavailable,
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

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        let e: anyhow::Error = e.into();
        tracing::error!("{e:#}");
        if crate::store::is_unavailable(&e) {
            return ApiError::StoreUnavailable;
        }
        ApiError::Internal("the store failed; see the server log".to_string())
    }
}

impl From<crate::bounded::Busy> for ApiError {
    fn from(busy: crate::bounded::Busy) -> Self {
        use crate::bounded::Busy;
        match busy {
            Busy::Overloaded {
                what,
                retry_after_s,
            } => ApiError::Overloaded {
                what,
                retry_after_s,
            },
            Busy::ClientShare { retry_after_s, .. } => ApiError::TooManyRequests {
                message: busy.to_string(),
                retry_after_s,
            },
            Busy::Failed(_) => ApiError::Internal("the work failed; see the server log".into()),
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
            ApiError::NoWalkNetwork { building: true, .. } => {
                let body = json!({ "error": "no_walk_network", "message": message });
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "30".to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::NoWalkNetwork {
                building: false, ..
            } => (
                StatusCode::CONFLICT,
                json!({ "error": "no_walk_network", "message": message }),
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
            ApiError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": "too_large", "message": message }),
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "error": "unsupported_media_type", "message": message }),
            ),
            ApiError::BadBody(_) => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "bad_body", "message": message }),
            ),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "method_not_allowed", "message": message }),
            ),
            ApiError::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                json!({ "error": "precondition_failed", "message": message }),
            ),
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                json!({ "error": "conflict", "message": message }),
            ),
            ApiError::StoreUnavailable => {
                let body = json!({ "error": "store_unavailable", "message": message });
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, "5".to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::Overloaded { retry_after_s, .. } => {
                let body = json!({ "error": "overloaded", "message": message });
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::TooManyRequests { retry_after_s, .. } => {
                let body = json!({ "error": "too_many_requests", "message": message });
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            ApiError::Unprocessable { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "unprocessable", "field": field, "message": message }),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal", "message": message }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Every error answer in the API's JSON shape, those made by axum and
/// tower-http too (405, 413, 414, 415, a path that is not UTF-8…): an
/// error response that is not JSON gets the body its status implies.
pub async fn as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(
            "this route does not take that method (see the Allow header)".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::TooLarge("the body is larger than this route accepts".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(reason),
        StatusCode::NOT_FOUND => ApiError::NotFound("no such route; see /api/openapi.json".into()),
        _ => {
            let body = json!({ "error": reason.replace(' ', "_"), "message": reason });
            let mut out = (status, Json(body)).into_response();
            for (name, value) in response.headers() {
                if name != axum::http::header::CONTENT_TYPE
                    && name != axum::http::header::CONTENT_LENGTH
                {
                    out.headers_mut().insert(name.clone(), value.clone());
                }
            }
            return out;
        }
    };
    let mut out = error.into_response();
    if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
        out.headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}
