//! [`SeaOrmStore`]: connecting to SQLite or PostgreSQL, migrating, and the
//! [`AuditLogStore`] port.

use std::{
    future::Future,
    sync::{Arc, OnceLock},
    time::Duration,
};

use tokio::sync::{Mutex, mpsc};

use async_trait::async_trait;
use auditlog_domain::{
    AuditLog, AuditLogFilter, AuditLogStore, Cursor, ExportPage, LogError, LogStore, NewAuditLog,
    Page, StoreError,
    store::{ConsistencyProof, InclusionProof, SignedCheckpoint},
};
use auditlog_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

use crate::{
    backend::{self, Backend},
    error::db_error,
    log::{LogSigner, Wake, export, proofs},
    read::{entries_in, entry_in, list_in, positions_in},
    search::KnownTerms,
    write::{
        append::{name_removed_id, store_batch},
        txn::WriteTxn,
    },
};

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most connections the pool opens (an in-memory SQLite database uses one).
    pub max_connections: u32,
    /// How long a request waits for a free connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    /// 10 connections; 10 seconds to wait for one.
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The store of entries, tenants and keys in SQLite or PostgreSQL. Cheap to clone: the
/// clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// On a backend with one writer at a time (SQLite), the writers queue here, in
    /// order, instead of polling for the lock (which lets some wait past the busy
    /// timeout under load).
    writer: Option<Arc<Mutex<()>>>,
    /// Told of each write after its commit, where the backend has work to do then
    /// (copying a SQLite file's WAL into the file).
    checkpoints: Option<mpsc::Sender<()>>,
    /// The search terms known to be stored, shared by the clones.
    known_terms: Arc<KnownTerms>,
    /// Wakes the log's integrator after a write.
    log_wake: Arc<Wake>,
    /// What signs checkpoints, once the log is started.
    signer: Arc<OnceLock<LogSigner>>,
}

impl SeaOrmStore {
    /// Connects to the database that `url` names and brings its schema up to date.
    ///
    /// `sqlite://path/to/file.db` (the file is created when missing unless the URL sets
    /// `mode=`), `sqlite::memory:`, or `postgres://...` / `postgresql://...`. SQLite
    /// connections use WAL with `synchronous=FULL`, so a committed batch survives a crash
    /// of the machine, and wait up to 5 seconds for a lock.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connected = backend::connect(url, &options).await?;
        let mut store = Self::from_connection(connected.db);
        store.checkpoints = connected.wrote;
        store.migrate().await?;
        Ok(store)
    }

    /// A store on a connection made elsewhere (SQLite or PostgreSQL). Does not migrate;
    /// call [`SeaOrmStore::migrate`] unless the schema is known to be current.
    pub fn from_connection(db: DatabaseConnection) -> Self {
        let writer = Backend::of(&db)
            .is_ok_and(Backend::single_writer)
            .then(|| Arc::new(Mutex::new(())));
        Self {
            db,
            writer,
            checkpoints: None,
            known_terms: Arc::default(),
            log_wake: Arc::default(),
            signer: Arc::default(),
        }
    }

    /// Whether the backend writes one transaction at a time (SQLite).
    pub(crate) fn single_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// Waits for this store's turn to write (SQLite), or at once (PostgreSQL). The turn
    /// is owned, so that work which outlives a borrow of the store (a bulk load) can
    /// hold it.
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        }
    }

    /// The connection, for example to begin a transaction for [`crate::append_in`].
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The integrator's wake-up call.
    pub(crate) fn log_wake(&self) -> &Arc<Wake> {
        &self.log_wake
    }

    /// What signs checkpoints, once the log is started.
    pub(crate) fn signer(&self) -> Option<&LogSigner> {
        self.signer.get()
    }

    /// Keeps `signer` as what signs checkpoints (the first one given stays).
    pub(crate) fn set_signer(&self, signer: LogSigner) {
        let _ = self.signer.set(signer);
    }

    /// Whether the store's connections have been closed.
    pub(crate) fn is_closed(&self) -> bool {
        Backend::of(&self.db).is_ok_and(|backend| backend.is_closed(&self.db))
    }

    /// Tells the checkpointer, if any, and the log's integrator that a write has
    /// committed.
    pub(crate) fn wrote(&self) {
        self.log_wake.wrote();
        if let Some(checkpoints) = &self.checkpoints {
            // Full: a checkpoint is due already, and will copy this write too.
            let _ = checkpoints.try_send(());
        }
    }

    /// The search terms known to be stored.
    pub(crate) fn known_terms(&self) -> &KnownTerms {
        &self.known_terms
    }

    /// Closes the store's connections: every later call fails as unavailable.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.close_by_ref().await.map_err(db_error)
    }

    /// Applies the migrations that the database lacks.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(db_error)
    }
}

impl SeaOrmStore {
    async fn append_now(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError> {
        let ids: Vec<(usize, Uuid)> = entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| entry.id.map(|id| (index, id)))
            .collect();
        let txn = WriteTxn::begin(self).await?;
        let result = store_batch(&*txn, tenant_id, entries, Some(&self.known_terms)).await;
        let (stored, learned) = match txn.end(result).await {
            Ok(done) => done,
            Err(err) => return Err(name_removed_id(&self.db, tenant_id, ids, err).await),
        };
        self.known_terms.learn(learned);
        Ok(stored)
    }

    async fn list_now(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError> {
        // One snapshot for the page and the count, so that they agree.
        let txn = Backend::of(&self.db)?.begin_snapshot(&self.db).await?;
        let page = list_in(&txn, tenant_id, filter).await?;
        txn.commit().await.map_err(db_error)?;
        Ok(page)
    }
}

/// Runs `work` to its end on a task of its own: a caller that gives up (a client that
/// disconnects, a timeout) must not stop a transaction between its statements, which
/// would hand a pooled connection back mid-transaction.
pub(crate) async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|err| StoreError::Backend(format!("a storage task failed: {err}")))?
}

#[async_trait]
impl AuditLogStore for SeaOrmStore {
    async fn append(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.clone();
        to_completion(async move { store.append_now(tenant_id, entries).await }).await
    }

    async fn list(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError> {
        let (store, filter) = (self.clone(), filter.clone());
        to_completion(async move { store.list_now(tenant_id, &filter).await }).await
    }

    async fn get(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<AuditLog>, StoreError> {
        entry_in(&self.db, tenant_id, id).await
    }

    async fn list_positions(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<Cursor>, StoreError> {
        let (store, filter) = (self.clone(), filter.clone());
        to_completion(async move {
            // One snapshot for the page and the count, as for a list.
            let txn = Backend::of(&store.db)?.begin_snapshot(&store.db).await?;
            let page = positions_in(&txn, tenant_id, &filter).await?;
            txn.commit().await.map_err(db_error)?;
            Ok(page)
        })
        .await
    }

    async fn get_many(&self, tenant_id: Uuid, ids: &[Uuid]) -> Result<Vec<AuditLog>, StoreError> {
        entries_in(&self.db, tenant_id, ids).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .query_one_raw(Statement::from_string(backend, "SELECT 1"))
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

#[async_trait]
impl LogStore for SeaOrmStore {
    async fn latest_checkpoint(
        &self,
        tenant_id: Uuid,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        proofs::latest(&self.db, tenant_id).await
    }

    async fn inclusion_proof(
        &self,
        tenant_id: Uuid,
        entry_id: Uuid,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LogError> {
        proofs::inclusion(&self.db, self.signer(), tenant_id, entry_id, tree_size).await
    }

    async fn consistency_proof(
        &self,
        tenant_id: Uuid,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, LogError> {
        proofs::consistency(&self.db, tenant_id, from, to).await
    }

    async fn export_page(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
        from: u64,
        end: u64,
        leaves: u64,
    ) -> Result<ExportPage, StoreError> {
        export::export_page(&self.db, tenant_id, filter, from, end, leaves).await
    }

    async fn removal_notes(&self, tenant_id: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(Self::removals_of(&self.db, tenant_id)
            .await?
            .into_iter()
            .map(|row| row.note)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_reach_the_sqlite_file_long_before_the_writer_would_copy_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("checkpoint.db");
        let store = SeaOrmStore::connect(
            &format!("sqlite://{}", path.display()),
            StoreOptions::default(),
        )
        .await
        .expect("connect");
        let size = || std::fs::metadata(&path).expect("the file").len();
        let before = size();
        let tenant = Uuid::new_v4();
        let batch = |n: usize| {
            (0..500)
                .map(|i| {
                    let ip = std::net::IpAddr::from([10, 0, (n % 256) as u8, (i % 256) as u8]);
                    let mut e = NewAuditLog::new(
                        auditlog_domain::AuditLogType::LoginSuccess,
                        format!("req-{n}-{i}"),
                        ip,
                        "test-agent/1.0",
                    );
                    e.actor_email = Some(format!("user{i}@example.com"));
                    e
                })
                .collect::<Vec<_>>()
        };
        for n in 0..2 {
            store.append(tenant, batch(n)).await.expect("append");
        }
        // A thousand entries fill far fewer WAL pages than the writer copies at.
        let waited = std::time::Instant::now();
        while size() <= before {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the file is still {before} bytes: nothing was checkpointed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let page = store
            .list(tenant, &AuditLogFilter::default())
            .await
            .expect("list");
        assert_eq!(page.total, 1000);
        store.close().await.expect("close");
    }
}
