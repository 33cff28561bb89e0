//! The tables as rows: one SeaORM entity per table, each with the conversions between
//! its rows and the domain's values. A row holds what the database holds (times as
//! microseconds, an address as text and [`ip_key`], case-insensitive fields with a
//! folded copy, `details` as the text serde_json wrote), so that every backend answers
//! exactly the same.
//!
//! An entry's row is written down once, in [`entry::Model`]: the columns that writes
//! name, a row's values in that order, the SQLite multi-row insert, PostgreSQL's array
//! insert and its `COPY` encoding are all derived from the entity's columns.

pub mod access;
pub mod api_key;
pub mod checkpoint;
pub mod count;
pub mod entry;
pub mod head;
pub(crate) mod ip_key;
pub mod leaf;
pub mod pending;
pub mod removal;
pub mod signing_key;
pub mod tenant;
pub mod term;

use auditlog_domain::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

/// The current time as every backend keeps it: UTC, whole microseconds.
pub(crate) fn now() -> OffsetDateTime {
    auditlog_domain::entry::truncate_to_micros(OffsetDateTime::now_utc())
}

/// The error for a column whose value this code never writes. It names the row and
/// the column, never the value (entries carry personal data).
pub(crate) fn unreadable(table: &str, id: Uuid, column: &str) -> StoreError {
    StoreError::Backend(format!(
        "row {id} of {table}: column {column} holds a value that cannot be read"
    ))
}
