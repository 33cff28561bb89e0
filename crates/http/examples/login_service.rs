//! A tiny axum service that embeds auditlog: it records every login attempt in-process
//! with `RequestMeta` and `Recorder`, on an SQLite file through `auditlog-storage`, and
//! lists the attempts back through the same store.
//!
//! Run it with `cargo run -p auditlog-http --example login_service`: it serves on a free
//! port, sends itself two login attempts (one good, one bad) from "behind a proxy", lists
//! what was recorded, and exits.

use std::{net::SocketAddr, sync::Arc};

use auditlog_domain::{AuditLogFilter, AuditLogStore, AuditLogType, DEFAULT_TENANT_ID};
use auditlog_http::recorder::{Actor, ClientIp, ClientIpSource, Recorder, RequestMeta};
use auditlog_storage::{SeaOrmStore, StoreOptions};
use axum::{Extension, Json, Router, extract::State, http::StatusCode, routing::post};
use serde_json::{Value, json};

#[derive(Clone)]
struct App {
    recorder: Recorder,
}

/// The service's own login handler: checks the password and records the attempt.
async fn login(State(app): State<App>, meta: RequestMeta, Json(body): Json<Value>) -> StatusCode {
    let email = body["email"].as_str().unwrap_or_default().to_owned();
    let ok = body["password"] == "correct horse battery staple";
    let (r#type, error, status) = if ok {
        (AuditLogType::PasswordLoginSucceeded, None, StatusCode::OK)
    } else {
        (
            AuditLogType::PasswordLoginFailed,
            Some("password incorrect".to_owned()),
            StatusCode::UNAUTHORIZED,
        )
    };
    let actor = Actor::user("7f8a1c2e-0000-4000-8000-000000000042", Some(email));
    let details = json!({"login_method": "password"}).as_object().cloned();
    if let Err(err) = app
        .recorder
        .record(&meta, r#type, actor, error, details)
        .await
    {
        eprintln!("could not record the login attempt: {err}");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    status
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("service.db").display()
    );
    let store: Arc<dyn AuditLogStore> =
        Arc::new(SeaOrmStore::connect(&url, StoreOptions::default()).await?);
    let app = App {
        recorder: Recorder::new(store.clone(), DEFAULT_TENANT_ID),
    };

    // Believe X-Forwarded-For only from the proxy on the loopback interface.
    let client_ip = ClientIp::new(ClientIpSource::XForwardedFor, vec!["127.0.0.0/8".parse()?]);
    let router = Router::new()
        .route("/login", post(login))
        .layer(Extension(client_ip))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let client = reqwest::Client::new();
    for (attempt, password) in ["wrong", "correct horse battery staple"]
        .into_iter()
        .enumerate()
    {
        let response = client
            .post(format!("http://{addr}/login"))
            .header("x-forwarded-for", "203.0.113.50")
            .header("x-request-id", format!("login-attempt-{}", attempt + 1))
            .header("user-agent", "example-browser/1.0")
            .json(&json!({"email": "jsmith@example.com", "password": password}))
            .send()
            .await?;
        println!("POST /login -> {}", response.status());
    }

    let page = store
        .list(DEFAULT_TENANT_ID, &AuditLogFilter::default())
        .await?;
    println!("{} entries recorded:", page.total);
    for entry in &page.items {
        println!("{}", serde_json::to_string(entry)?);
    }
    server.abort();
    let recorded = page
        .items
        .iter()
        .filter(|e| e.meta_source_ip.to_string() == "203.0.113.50")
        .count();
    if page.total != 2 || recorded != 2 {
        return Err("expected two login attempts from 203.0.113.50".into());
    }
    Ok(())
}
