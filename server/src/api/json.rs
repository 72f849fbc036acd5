//! The API's own `Json` extractor: a body that is too large, not JSON, not
//! `application/json` or of the wrong shape is refused with the API's one
//! JSON error shape ([`ApiError`]), not axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send the body as `Content-Type: application/json`".into(),
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::TooLarge("the body is larger than this route accepts".into())
                }
                JsonRejection::JsonDataError(e) => ApiError::BadBody(e.body_text()),
                JsonRejection::JsonSyntaxError(e) => ApiError::BadBody(e.body_text()),
                other => ApiError::BadBody(other.body_text()),
            }),
        }
    }
}
