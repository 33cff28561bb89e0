//! `auditlog serve`: bootstrap, bind, serve until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use auditlog_domain::{
    ApiKeySecret, AuditLogStore, KeyStore, LogStore, NewApiKey, Scopes, keys::OPERATOR_PREFIX,
    log::VerifierKey,
};
use auditlog_http::{AccessLog, AppState, console::ConsoleEcho};
use auditlog_storage::{LogSigner, SeaOrmStore};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::{banner, config::ServeConfig, database::Database, settings::LogFormat};

/// The name of the tenant that `serve` and `migrate` create (and `seed` creates for the
/// default tenant id) when it does not exist yet.
pub const DEFAULT_TENANT_NAME: &str = "default";

/// Revokes every active bootstrap key but `current`: a changed
/// `AUDITLOG_BOOTSTRAP_API_KEY` (or bootstrap tenant) must not leave the secret it
/// replaced working. Bootstrap keys are those named `bootstrap` whose secret an
/// operator chose; keys made by `keys create` have generated secrets and are left alone.
async fn revoke_earlier_bootstrap_keys(store: &SeaOrmStore, current: Uuid) -> anyhow::Result<()> {
    for key in store.keys(None).await? {
        let bootstrap = key.name == "bootstrap" && key.prefix == OPERATOR_PREFIX;
        if bootstrap && key.id != current && key.revoked_at.is_none() {
            store.revoke_key(key.id).await?;
            tracing::warn!(
                key_id = %key.id,
                tenant_id = %key.tenant_id,
                "an earlier bootstrap key was revoked: AUDITLOG_BOOTSTRAP_API_KEY changed"
            );
        }
    }
    Ok(())
}

pub async fn run(
    store: Arc<SeaOrmStore>,
    database: &Database,
    config: ServeConfig,
    log_format: LogFormat,
    signer: LogSigner,
    verifier_key: VerifierKey,
) -> anyhow::Result<()> {
    let tenant = config.bootstrap_tenant_id;
    store.ensure_tenant(tenant, DEFAULT_TENANT_NAME).await?;
    tracing::info!(database = %database.redacted(), "database migrated");
    if let Some(secret) = &config.bootstrap_api_key {
        let secret = ApiKeySecret::from_operator(secret)
            .map_err(|e| anyhow::anyhow!("AUDITLOG_BOOTSTRAP_API_KEY: {e}"))?;
        let key = store
            .register_key(NewApiKey {
                tenant_id: tenant,
                name: "bootstrap".to_owned(),
                scopes: Scopes::ALL,
                secret,
                expires_at: None,
            })
            .await?;
        if key.is_active() {
            tracing::info!(key_id = %key.id, tenant_id = %key.tenant_id, "bootstrap key registered");
        } else {
            tracing::warn!(key_id = %key.id, "the bootstrap key was revoked and stays revoked");
        }
        revoke_earlier_bootstrap_keys(store.as_ref(), key.id).await?;
    }
    let logs: Arc<dyn AuditLogStore> = match config.console_output {
        Some(target) => Arc::new(ConsoleEcho::new(store.clone(), target)),
        None => store.clone(),
    };
    // Entries join their tenants' logs from here on, queued ones from earlier runs first.
    let log_task = store
        .start_log(signer.clone())
        .await
        .context("cannot start the log")?;
    crate::purge::background(
        (*store).clone(),
        signer,
        config.retention_days,
        config.purge_interval,
    );
    let (access, access_writer) = AccessLog::start(store.clone());
    let state = AppState {
        logs,
        keys: store.clone() as Arc<dyn KeyStore>,
        log: store.clone() as Arc<dyn LogStore>,
        access,
        verifier_key,
        config: Arc::new(config.http),
    };
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    banner::print(addr, database, tenant, log_format);
    let config = state.config.clone();
    if !addr.ip().is_loopback() && config.public_url.is_none() {
        tracing::warn!(
            %addr,
            "listening beyond this machine without AUDITLOG_PUBLIC_URL: Link headers name \
             whatever host a client sends; set AUDITLOG_PUBLIC_URL to the address clients use"
        );
    }
    auditlog_http::serve(
        listener,
        auditlog_http::build_router(state),
        &config,
        shutdown_signal(),
    )
    .await?;
    // Reads answered before the end are recorded before the process ends.
    access_writer.finish(config.shutdown_drain).await;
    log_task.stop();
    tracing::info!("auditlog stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; requests in flight finish");
}
