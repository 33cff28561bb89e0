//! auditlog's HTTP API: the passkey-server variant (`/{tenant_id}/audit_logs`) and the
//! admin variant (`/admin/audit_logs`), each with its tenant's transparency log
//! (checkpoints, inclusion and consistency proofs, verifiable exports), the log's
//! verifier key (`/log-key`), the access log of who read it (`.../access_logs`), API key
//! auth, health, the OpenAPI document and Swagger UI.
//!
//! What an embedder uses, and all that is public:
//! - serving the API: [`HttpConfig`], [`AppState`], [`build_router`] and [`serve`];
//! - [`AccessLog`]: who read the log, recorded off each read's path by a writer task;
//! - the document: [`openapi_document`], as `auditlog openapi` prints it;
//! - [`console`]: a store wrapper that echoes each recorded entry as a JSON line;
//! - [`recorder`]: recording entries from inside another axum service
//!   ([`recorder::RequestMeta`], [`recorder::Recorder`] and what they take);
//! - [`export_format`] and [`export_reader`]: the formats of verifiable exports and
//!   the reader that pages through a tenant's log in one, which `auditlog export`
//!   uses too.
//!
//! Everything else (the handlers, auth, the error shapes, query parsing, the OpenAPI
//! frame) is private to the crate and free to change.
#![forbid(unsafe_code)]

mod access;
mod admin;
mod audit_logs;
mod auth;
pub mod connections;
pub mod console;
mod docs;
mod error;
pub mod export_format;
pub mod export_reader;
mod headers;
mod health;
mod json_array;
mod log;
#[cfg(test)]
mod memory_log;
mod middleware;
mod passkey;
mod query;
pub mod recorder;
mod submission;

use std::{fmt, future::Future, sync::Arc, time::Duration};

pub use access::{AccessLog, AccessLogWriter};
use auditlog_domain::{AuditLogStore, KeyStore, LogStore, log::VerifierKey};
use axum::{Router, http::HeaderValue};
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The base URL of `Link` headers; the request's Host when absent.
    pub public_url: Option<String>,
    /// The host to name in links when a request has no usable Host header.
    pub listen_host: String,
    /// The largest body accepted, in bytes.
    pub body_limit: usize,
    /// Origins allowed by CORS; CORS is off when empty.
    pub cors_origins: Vec<HeaderValue>,
    /// The longest a request may take, reading its body included.
    pub request_timeout: Duration,
    /// How long a connection with no request in flight may stay open without moving a
    /// byte.
    pub idle_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long requests in flight may take to finish once shutdown begins.
    pub shutdown_drain: Duration,
    /// The most lists and exports served at once; past it a 503 with `Retry-After`.
    pub max_expensive_requests: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            listen_host: "127.0.0.1:8000".to_owned(),
            body_limit: 4 * 1024 * 1024,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: connections::default_max_connections(),
            shutdown_drain: Duration::from_secs(10),
            max_expensive_requests: 16,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where entries are kept.
    pub logs: Arc<dyn AuditLogStore>,
    /// Where tenants and keys are kept.
    pub keys: Arc<dyn KeyStore>,
    /// Where each tenant's transparency log is kept.
    pub log: Arc<dyn LogStore>,
    /// Who read the log: where every read is recorded ([`AccessLog::start`]).
    pub access: AccessLog,
    /// The verifier key of the key that signs the checkpoints, named after the log
    /// origin; served at `/log-key`.
    pub verifier_key: VerifierKey,
    /// Settings.
    pub config: Arc<HttpConfig>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("verifier_key", &self.verifier_key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(passkey::router())
        .merge(passkey::log_router())
        .merge(admin::router())
        .merge(admin::log_router())
        .merge(passkey::access_router())
        .merge(admin::access_router())
        .merge(log::router())
        .merge(health::router())
}

/// The OpenAPI 3.1 document of every endpoint, as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut api = api_router().into_openapi();
    docs::finish(&mut api);
    api
}

/// The whole application: both variants, health, `/openapi.json`, Swagger UI at
/// `/swagger-ui/`, JSON 404 and 405 answers, request ids, request logs, CORS when
/// configured, and the request timeout.
pub fn build_router(state: AppState) -> Router {
    let (router, mut api) = api_router().split_for_parts();
    docs::finish(&mut api);
    let config = state.config.clone();
    let router = router
        .merge(SwaggerUi::new("/swagger-ui").url("/openapi.json", api))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state);
    middleware::wrap(router, &config)
}

/// Serves `router` on `listener` until `shutdown` resolves; requests in flight finish
/// within `config.shutdown_drain`, and connections still open then are closed.
///
/// A client must send its request headers within `config.request_timeout`; a
/// connection with nothing in flight that moves no byte for `config.idle_timeout` is
/// closed, over HTTP/1 and HTTP/2; at most `config.max_connections` are open at once
/// (see [`connections`]). Each handler sees the peer's address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::{conn::auto::Builder, graceful::GracefulShutdown},
        service::TowerToHyperService,
    };
    use tower::ServiceExt;

    use crate::connections::{Activity, Guarded, RateLimited, Tracked};

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(
        config
            .max_connections
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let idle_timeout = config.idle_timeout;
    let mut accept_failed = RateLimited::new("accept failed");
    let mut over_cap = RateLimited::new(
        "a connection was closed unserved: the cap on open connections was reached",
    );
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    accept_failed.warn(Some(&err));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Past the cap, the new connection is closed unserved at once: waiting here
        // would hold up every connection queued behind it.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            over_cap.warn(None);
            drop(stream);
            continue;
        };
        let activity = Activity::new();
        let service = {
            let activity = Arc::clone(&activity);
            let router = router.clone();
            tower::service_fn(
                move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let in_flight = activity.begin();
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(request).await?;
                        Ok::<_, std::convert::Infallible>(
                            response.map(|body| Guarded::body(body, in_flight)),
                        )
                    }
                },
            )
        };
        let io = TokioIo::new(Tracked::new(stream, Arc::clone(&activity)));
        let connection = builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            loop {
                let wait = idle_timeout.saturating_sub(activity.idle_for());
                tokio::select! {
                    ended = &mut connection => {
                        if let Err(err) = ended {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                        break;
                    }
                    () = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {
                        if activity.idle_for() >= idle_timeout {
                            // Dropping the connection closes its socket.
                            tracing::debug!(%peer, "idle connection closed");
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(config.shutdown_drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_secs = config.shutdown_drain.as_secs_f64(),
            "connections still open after the drain time were closed"
        );
    }
    Ok(())
}
