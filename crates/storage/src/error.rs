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
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with any extended code.
                code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                // PostgreSQL: connection exceptions, insufficient resources, operator
                // intervention (shutdown, cancel), serialisation failures and deadlocks.
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
                    || code == "40001"
                    || code == "40P01"
            }
        }
        _ => false,
    }
}
