//! Liveness and readiness.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, PasskeyError, PasskeyErrorBody},
};

/// The routes of this module.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// The state of the service.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub(crate) status: &'static str,
}

/// Liveness
///
/// Answers while the process lives.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, description = "The process lives", body = Status)))]
pub(crate) async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness
///
/// Answers 200 only while the database answers.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "service",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, description = "The database does not answer", body = PasskeyErrorBody),
    )
)]
pub(crate) async fn ready(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, PasskeyError> {
    state.logs.ping().await.map_err(|err| {
        tracing::warn!(error = %err, "not ready");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
    })?;
    Ok(Json(Status { status: "ready" }))
}
