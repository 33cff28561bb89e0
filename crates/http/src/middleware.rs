//! What wraps every request: request ids, one log line per request, CORS, the request
//! timeout, and the JSON answers for unknown routes and wrong methods.

use std::time::Instant;

use axum::{
    Router,
    extract::Request,
    http::{Method, StatusCode, Uri},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
};

use crate::{
    HttpConfig,
    error::{self, ApiError},
    headers::{self, X_REQUEST_ID},
};

/// Adds the layers to `router`, outermost first: request id, log line, CORS, timeout.
pub(crate) fn wrap(router: Router, config: &HttpConfig) -> Router {
    let mut router = router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(middleware::from_fn(timeout_body));
    if !config.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(config.cors_origins.clone()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(headers::CORS_ALLOWED)
                .expose_headers(headers::CORS_EXPOSED),
        );
    }
    router
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
}

/// One structured line per request. It names the path and the query's parameter
/// names, never their values (e-mail addresses and IPs are personal data) and never a
/// header (keys travel in headers).
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let params: Vec<String> = request
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %path, params = ?params, status, latency_ms, request_id, "request");
    } else {
        tracing::info!(%method, %path, params = ?params, status, latency_ms, request_id, "request");
    }
    response
}

/// Gives the timeout's empty 408 the error shape of the path's variant.
async fn timeout_body(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status() == StatusCode::REQUEST_TIMEOUT {
        return error::for_path(
            &path,
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
        );
    }
    response
}

/// 404 in the shape of the path's variant.
pub(crate) async fn not_found(uri: Uri) -> Response {
    error::for_path(uri.path(), ApiError::not_found(uri.path()))
}

/// 405 in the shape of the path's variant.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error::for_path(
        uri.path(),
        ApiError::method_not_allowed(method.as_str(), uri.path()),
    )
    .into_response()
}
