//! Backend errors as the domain's [`StoreError`]: what may succeed later (the database
//! is unreachable, busy or shutting down) is `Unavailable`, everything else `Backend`.
//! Messages come from the driver, which reports statements with placeholders, never
//! the bound values.

use auditlog_domain::StoreError;
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// Maps a SeaORM error to the domain's error.
pub(crate) fn db_error(err: DbErr) -> StoreError {
    if is_transient(&err) {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Backend(err.to_string())
    }
}

/// Maps an error of sqlx, used directly where SeaORM cannot go (`COPY`).
pub(crate) fn sqlx_error(err: sqlx::Error) -> StoreError {
    if is_transient_sqlx(&err) {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Backend(err.to_string())
    }
}

fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => is_transient_sqlx(e),
        _ => false,
    }
}

fn is_transient_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => crate::backend::is_transient(db.as_ref()),
        _ => false,
    }
}
