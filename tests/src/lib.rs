//! The harness of auditlog's end-to-end tests: a fresh database per test (SQLite
//! always; PostgreSQL when `AUDITLOG_TEST_POSTGRES_URL` is set), and the real router
//! served on a port of its own, talked to over HTTP as a client would.
#![forbid(unsafe_code)]

use std::{
    future::Future,
    panic,
    sync::{Arc, Mutex},
};

use auditlog_domain::{
    ApiKeySecret, KeyStore, NewApiKey, Scopes,
    log::{DEFAULT_LOG_ORIGIN, LogKey, VerifierKey},
};
use auditlog_http::{AccessLog, AccessLogWriter, AppState, HttpConfig};
use auditlog_storage::{LogSigner, LogTask, SeaOrmStore, StoreOptions};
use sea_orm::{ConnectionTrait, Database};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use uuid::Uuid;

pub mod variant;

/// A database backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the PostgreSQL of `AUDITLOG_TEST_POSTGRES_URL`.
    Postgres,
}

/// A fresh database that is dropped after the test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL to test on, from `AUDITLOG_TEST_POSTGRES_URL`. A PostgreSQL variant
/// without it fails, naming the fix: it never passes without having run. `make test`
/// leaves the variants out when the variable is unset, and nextest reports them as
/// skipped.
pub fn postgres_admin_url() -> String {
    match std::env::var("AUDITLOG_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{POSTGRES_MISSING}"),
    }
}

/// Why a PostgreSQL variant cannot run, and what to do.
const POSTGRES_MISSING: &str = "AUDITLOG_TEST_POSTGRES_URL is not set, and this test runs on PostgreSQL: \
    set it (for example to postgres://postgres@127.0.0.1:5432/postgres), or leave the \
    PostgreSQL variants out as `make test` does and reports as skipped \
    (cargo nextest run -E 'not test(/(^|::)postgres(::|_)|(::|_)postgres$/)')";

impl TestDatabase {
    /// Creates a database on `backend`.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("auditlog.db").display()
                );
                Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("auditlog_test_{}", Uuid::new_v4().simple());
                let conn = Database::connect(&admin)
                    .await
                    .expect("PostgreSQL is reachable at AUDITLOG_TEST_POSTGRES_URL");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("CREATE DATABASE");
                let _ = conn.close().await;
                let url = replace_database(&admin, &name);
                Self {
                    url,
                    postgres: Some((admin, name)),
                    _dir: None,
                }
            }
        }
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(conn) = Database::connect(admin).await
        {
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            let _ = conn.close().await;
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = match base.rfind('/') {
        Some(i) if base[..i].contains("//") && i > base.find("//").unwrap_or(0) + 1 => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A running server on a fresh database, with a tenant and keys of every scope, and its
/// log integrator signing checkpoints with a key of its own.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client.
    pub client: reqwest::Client,
    /// The store behind the server.
    pub store: Arc<SeaOrmStore>,
    /// The tenant of the keys.
    pub tenant: Uuid,
    /// A key with `read` only.
    pub read_key: String,
    /// A key with `write` only.
    pub write_key: String,
    /// A key with `read` and `write`.
    pub key: String,
    /// A key with `access_log` only.
    pub access_key: String,
    /// The verifier key of the log's signing key, as `/log-key` serves it.
    pub verifier_key: VerifierKey,
    log_task: Mutex<Option<LogTask>>,
    access_writer: Option<AccessLogWriter>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl TestApp {
    /// Starts the router on `db` with the default configuration.
    pub async fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, HttpConfig::default()).await
    }

    /// Starts the router on `db` with `config`.
    pub async fn start_with(db: &TestDatabase, config: HttpConfig) -> Self {
        let store = Arc::new(
            SeaOrmStore::connect(&db.url, StoreOptions::default())
                .await
                .expect("the store opens"),
        );
        let tenant = Uuid::new_v4();
        store.ensure_tenant(tenant, "test").await.expect("tenant");
        let read_key = new_key(&store, tenant, "read").await;
        let write_key = new_key(&store, tenant, "write").await;
        let key = new_key(&store, tenant, "read,write").await;
        let access_key = new_key(&store, tenant, "access_log").await;
        let log_key = LogKey::generate(DEFAULT_LOG_ORIGIN).expect("a log key");
        let verifier_key = log_key.verifier_key();
        let log_task = store
            .start_log(LogSigner {
                key: Arc::new(log_key),
                origin: DEFAULT_LOG_ORIGIN.to_owned(),
            })
            .await
            .expect("the log starts");
        let (access, access_writer) = AccessLog::start(store.clone());
        let state = AppState {
            logs: store.clone(),
            keys: store.clone(),
            log: store.clone(),
            access,
            verifier_key: verifier_key.clone(),
            config: Arc::new(config),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let router = auditlog_http::build_router(state.clone());
        let server = tokio::spawn(async move {
            let _ = auditlog_http::serve(listener, router, &state.config, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            base,
            client: reqwest::Client::new(),
            store,
            tenant,
            read_key,
            write_key,
            key,
            access_key,
            verifier_key,
            log_task: Mutex::new(Some(log_task)),
            access_writer: Some(access_writer),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Registers a new key of `tenant` with `scopes` and returns its secret.
    pub async fn key_for(&self, tenant: Uuid, scopes: &str) -> String {
        self.store
            .ensure_tenant(tenant, "other")
            .await
            .expect("tenant");
        new_key(&self.store, tenant, scopes).await
    }

    /// The passkey-server URL of this tenant's entries.
    pub fn passkey_url(&self) -> String {
        format!("{}/{}/audit_logs", self.base, self.tenant)
    }

    /// The admin URL of entries.
    pub fn admin_url(&self) -> String {
        format!("{}/admin/audit_logs", self.base)
    }

    /// Stops the server; requests in flight finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(writer) = self.access_writer.take() {
            writer.finish(std::time::Duration::from_secs(10)).await;
        }
        self.stop_log();
    }

    /// Stops the log's integrator: entries recorded from now on stay out of the log.
    pub fn stop_log(&self) {
        let task = self
            .log_task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            task.stop();
        }
    }
}

async fn new_key(store: &SeaOrmStore, tenant: Uuid, scopes: &str) -> String {
    let secret = ApiKeySecret::generate();
    let scopes: Scopes = scopes.parse().expect("scopes");
    store
        .register_key(NewApiKey {
            tenant_id: tenant,
            name: "test".into(),
            scopes,
            secret: secret.clone(),
            expires_at: None,
        })
        .await
        .expect("key");
    secret.expose().to_owned()
}

/// Runs `body` against a fresh app on `backend`, then stops it and drops the database,
/// even when `body` panics (the panic is then resumed).
pub async fn with_app<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDatabase::create(backend).await;
    let app = Arc::new(TestApp::start(&db).await);
    let outcome = tokio::spawn(body(app.clone())).await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
    db.drop_database().await;
    if let Err(err) = outcome
        && err.is_panic()
    {
        panic::resume_unwind(err.into_panic());
    }
}

/// Declares one test per backend: `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* $name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: std::sync::Arc<$crate::TestApp>) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn sqlite() {
                $crate::with_app($crate::Backend::Sqlite, body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn postgres() {
                $crate::with_app($crate::Backend::Postgres, body).await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}

/// Helpers for writing and reading entries over HTTP.
pub mod client {
    use auditlog_domain::{AuditLogStore, AuditLogType, NewAuditLog};
    use serde_json::{Value, json};
    use time::{Duration, OffsetDateTime};
    use uuid::Uuid;

    use crate::TestApp;

    /// A valid entry body; `n` makes it distinct.
    pub fn entry(n: usize) -> Value {
        json!({
            "type": "login_success",
            "meta_http_request_id": format!("req-{n}"),
            "meta_source_ip": format!("10.0.{}.{}", n / 250, n % 250 + 1),
            "meta_user_agent": "e2e-test",
            "actor_user_id": format!("user-{}", n % 7),
            "actor_email": format!("User{}@Example.com", n % 7),
        })
    }

    /// `entry(n)` with an id of its own.
    pub fn entry_with_id(n: usize) -> Value {
        let mut e = entry(n);
        e["id"] = json!(Uuid::new_v4());
        e
    }

    /// Stores `count` entries of `type` for `actor`, one second apart going back from
    /// now, directly through the store.
    pub async fn store_entries(
        app: &TestApp,
        tenant: Uuid,
        count: usize,
        r#type: AuditLogType,
        actor: &str,
    ) {
        let now = OffsetDateTime::now_utc();
        let entries = (0..count)
            .map(|i| {
                let mut e = NewAuditLog::new(
                    r#type,
                    format!("r{i}"),
                    "192.0.2.1".parse().expect("ip"),
                    "agent",
                );
                e.actor_user_id = Some(actor.to_owned());
                e.created_at = Some(now - Duration::seconds(i as i64 + 1));
                e
            })
            .collect();
        app.store
            .append(tenant, entries)
            .await
            .expect("entries stored");
    }

    /// A GET with the passkey-server key header.
    pub async fn get_passkey(app: &TestApp, query: &str, key: &str) -> reqwest::Response {
        app.client
            .get(format!("{}?{query}", app.passkey_url()))
            .header("apiKey", key)
            .send()
            .await
            .expect("response")
    }

    /// A GET with a bearer key on the admin path.
    pub async fn get_admin(app: &TestApp, query: &str, key: &str) -> reqwest::Response {
        app.client
            .get(format!("{}?{query}", app.admin_url()))
            .bearer_auth(key)
            .send()
            .await
            .expect("response")
    }

    /// A header's text, or "".
    pub fn header(response: &reqwest::Response, name: &str) -> String {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// The `Link` header as (rel, url) pairs.
    pub fn links(response: &reqwest::Response) -> Vec<(String, String)> {
        header(response, "link")
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|link| {
                let (url, rel) = link.split_once(">; rel=\"").expect("a link");
                (
                    rel.trim_end_matches('"').to_owned(),
                    url.trim_start_matches('<').to_owned(),
                )
            })
            .collect()
    }

    /// The URL of the link with relation `rel`.
    pub fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
        links(response)
            .into_iter()
            .find(|(r, _)| r == rel)
            .map(|(_, url)| url)
    }
}
