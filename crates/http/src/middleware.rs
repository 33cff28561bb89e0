//! What wraps every request: request ids, one log line per request, CORS, the request
//! timeout, and the JSON answers for unknown routes and wrong methods.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use auditlog_domain::ApiKey;
use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
};
use tracing::field::display;
use uuid::Uuid;

use crate::{
    HttpConfig,
    error::{self, ApiError, Rejection},
    headers::{self, X_REQUEST_ID},
};

/// Adds the layers to `router`, outermost first: request id, log line, hygiene, CORS,
/// timeout, the limit on requests that read many entries.
pub(crate) fn wrap(router: Router, config: &HttpConfig) -> Router {
    let limit = config
        .max_expensive_requests
        .clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Slots {
        free: Arc::new(Semaphore::new(limit)),
        limit,
    });
    let mut router = router
        .layer(middleware::from_fn_with_state(slots, limit_expensive))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(middleware::from_fn(timeout_body));
    if !config.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(allowed_origins(&config.cors_origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(headers::CORS_ALLOWED)
                .expose_headers(headers::CORS_EXPOSED),
        );
    }
    router
        .layer(middleware::from_fn(hygiene))
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
}

/// How long a request that reads many entries waits for a slot before its 503.
const EXPENSIVE_WAIT: Duration = Duration::from_millis(250);

/// The slots of [`limit_expensive`].
#[derive(Debug)]
pub(crate) struct Slots {
    free: Arc<Semaphore>,
    limit: usize,
}

/// Whether a request reads many entries: a list or an export, of either variant.
fn is_expensive(method: &Method, path: &str) -> bool {
    method == Method::GET && (path.ends_with("/audit_logs") || path.ends_with("/audit_logs/export"))
}

/// At most `max_expensive_requests` lists and exports at once, each holding its slot
/// until its answer is sent: past that a request waits [`EXPENSIVE_WAIT`] for a slot,
/// then gets a 503 with `Retry-After` in its variant's shape, so that they cannot
/// queue without end nor hold memory without bound.
pub(crate) async fn limit_expensive(
    State(slots): State<Arc<Slots>>,
    request: Request,
    next: Next,
) -> Response {
    if !is_expensive(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let waited =
        tokio::time::timeout(EXPENSIVE_WAIT, Arc::clone(&slots.free).acquire_owned()).await;
    let Ok(Ok(slot)) = waited else {
        let mut response = error::for_path(request.uri().path(), ApiError::busy(slots.limit));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request)
        .await
        .map(|body| crate::connections::Guarded::body(body, slot))
}

/// The policy of Swagger UI's pages: its own scripts only, no framing.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// Headers on every answer: no content sniffing anywhere; no caching of anything but
/// the public documents (Swagger UI, `/openapi.json`, `/log-key`, `/health`), so
/// that entries, keys' answers and errors stay out of shared and browser caches; and
/// on Swagger UI a content security policy without inline scripts and no framing.
async fn hygiene(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let docs = path == "/swagger-ui" || path.starts_with("/swagger-ui/");
    let public = docs || matches!(path, "/openapi.json" | "/log-key" | "/health");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !public {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// The origins CORS allows: `*` alone is any origin (keys travel in headers, which a
/// browser never adds by itself, so no credentials are shared); else the list.
fn allowed_origins(origins: &[HeaderValue]) -> AllowOrigin {
    if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().cloned())
    }
}

/// Who a request authenticated as: its key's tenant and id (never the key).
#[derive(Debug, Clone, Copy)]
struct Caller {
    tenant_id: Uuid,
    key_id: Uuid,
}

tokio::task_local! {
    /// The caller of the request being handled, for its log line: auth notes it
    /// where it finds the key, and the handler runs within the request's task.
    static CALLER: Arc<OnceLock<Caller>>;
}

/// Notes `key` as the caller of the request being handled, for its log line.
pub(crate) fn note_caller(key: &ApiKey) {
    let caller = Caller {
        tenant_id: key.tenant_id,
        key_id: key.id,
    };
    let _ = CALLER.try_with(|slot| slot.set(caller));
}

/// One structured line per request. It names the path and the query's parameter
/// names (a JSON array), never their values (e-mail addresses and IPs are personal
/// data) and never a header (keys travel in headers); the tenant and id of the key
/// that authenticated; and for a refused request, the kind of error and the parameter
/// or field it concerns.
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
    let params = serde_json::Value::from(params);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let slot = Arc::new(OnceLock::new());
    let response = CALLER.scope(slot.clone(), next.run(request)).await;
    let caller = slot.get().copied();
    let tenant_id = caller.map(|c| display(c.tenant_id));
    let key_id = caller.map(|c| display(c.key_id));
    let rejection = response.extensions().get::<Rejection>();
    let error_kind = rejection.map(|r| r.kind);
    let parameter = rejection.and_then(|r| r.parameter.as_deref());
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %path, %params, status, latency_ms, request_id, tenant_id, key_id, error_kind, parameter, "request");
    } else {
        tracing::info!(%method, %path, %params, status, latency_ms, request_id, tenant_id, key_id, error_kind, parameter, "request");
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

#[cfg(test)]
mod tests {
    use axum::{body::Body, routing::get};
    use tower::ServiceExt;

    use super::*;

    fn get_request(path: &str) -> Request {
        Request::get(path).body(Body::empty()).expect("a request")
    }

    #[tokio::test]
    async fn past_the_limit_a_list_is_503_in_its_shape_and_the_rest_go_on() {
        let (release, released) = tokio::sync::watch::channel(false);
        let list = move || {
            let mut released = released.clone();
            async move {
                while !*released.borrow() {
                    if released.changed().await.is_err() {
                        break;
                    }
                }
                "listed"
            }
        };
        let slots = Arc::new(Slots {
            free: Arc::new(Semaphore::new(1)),
            limit: 1,
        });
        let app = Router::new()
            .route("/admin/audit_logs", get(list.clone()))
            .route("/{tenant}/audit_logs", get(list))
            .route("/health", get(|| async { "ok" }))
            .layer(middleware::from_fn_with_state(slots, limit_expensive));
        let first = tokio::spawn(app.clone().oneshot(get_request("/admin/audit_logs")));
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (path, field) in [("/admin/audit_logs", "code"), ("/t/audit_logs", "status")] {
            let busy = app
                .clone()
                .oneshot(get_request(path))
                .await
                .expect("an answer");
            assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert_eq!(busy.headers()[header::RETRY_AFTER], "1", "{path}");
            let body = axum::body::to_bytes(busy.into_body(), 10_000)
                .await
                .expect("a body");
            let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(body[field], 503, "{path}: {body}");
        }
        // Nothing else is limited.
        let health = app
            .clone()
            .oneshot(get_request("/health"))
            .await
            .expect("an answer");
        assert_eq!(health.status(), StatusCode::OK);
        // The first goes on, and its slot is free again once it is answered.
        release.send(true).expect("released");
        let first = first.await.expect("joined").expect("an answer");
        assert_eq!(first.status(), StatusCode::OK);
        drop(first);
        let again = app
            .oneshot(get_request("/t/audit_logs"))
            .await
            .expect("an answer");
        assert_eq!(again.status(), StatusCode::OK);
    }
}
