//! `--token`: every request but `GET /metrics` and the web page's assets
//! needs `Authorization: Bearer TOKEN`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Lets a request through when no token is set, for `/metrics`, or when it
/// carries the token; otherwise answers 401 and runs nothing.
pub(super) async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == "/metrics" || super::web::is_public(path) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Constant time, so response times do not tell how much of a guess was right.
    if given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes()))) {
        return next.run(request).await;
    }
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: "missing or wrong token: send `Authorization: Bearer TOKEN` (the --token given to topictable)".into(),
    }
    .into_response()
}
