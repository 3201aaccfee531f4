//! Errors as Kafka Connect gives them: `{"error_code": N, "message": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: its HTTP status and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status, also given as `error_code`.
    pub status: StatusCode,
    /// What went wrong, naming the table, format or parameter.
    pub message: String,
}

impl ApiError {
    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 500 with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// The JSON of an error answer (for the OpenAPI document).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ErrorBody {
    /// The HTTP status.
    pub error_code: u16,
    /// What went wrong.
    pub message: String,
}

/// Any path the API does not have.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}
