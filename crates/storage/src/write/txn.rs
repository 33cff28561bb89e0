//! The one write transaction of the store: every write of entries begins, commits and
//! rolls back through it.

use std::ops::Deref;

use auditlog_domain::StoreError;
use sea_orm::{DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use tokio::sync::OwnedMutexGuard;

use crate::{SeaOrmStore, error::db_error};

/// A write transaction of a [`SeaOrmStore`], holding the store's turn to write (on a
/// backend with one writer at a time) until it ends.
pub(crate) struct WriteTxn<'a> {
    store: &'a SeaOrmStore,
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl<'a> WriteTxn<'a> {
    /// Waits for the store's turn to write, then begins. `IMMEDIATE` takes SQLite's
    /// write lock at `BEGIN`, waiting for it with the busy timeout (other processes);
    /// other backends ignore the mode.
    pub(crate) async fn begin(store: &'a SeaOrmStore) -> Result<Self, StoreError> {
        let turn = store.writer_turn().await;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = store
            .connection()
            .begin_with_options(options)
            .await
            .map_err(db_error)?;
        Ok(Self {
            store,
            txn,
            _turn: turn,
        })
    }

    /// Commits when `result` is a success and returns it; otherwise rolls back and
    /// returns the error. The error says what went wrong: a failed rollback is only
    /// logged (it ends the connection, which then rolls back).
    pub(crate) async fn end<T>(self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(value) => {
                self.txn.commit().await.map_err(db_error)?;
                self.store.wrote();
                Ok(value)
            }
            Err(err) => {
                self.rollback().await;
                Err(err)
            }
        }
    }

    /// Rolls back; a failed rollback is only logged (it ends the connection, which then
    /// rolls back).
    pub(crate) async fn rollback(self) {
        if let Err(rollback) = self.txn.rollback().await {
            tracing::warn!(error = %rollback, "rolling back a refused write failed");
        }
    }
}

impl Deref for WriteTxn<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}
