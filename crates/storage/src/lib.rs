//! auditlog's store for SQLite and PostgreSQL, on SeaORM.
//!
//! [`SeaOrmStore`] implements the domain's [`auditlog_domain::AuditLogStore`] and
//! [`auditlog_domain::KeyStore`]; the backend follows the URL's scheme. Programs that
//! keep their own data in the same database can record entries inside their own
//! transaction with [`append_in`].
//!
//! Times are stored as BIGINT microseconds since the Unix epoch, addresses as canonical
//! text plus a 16-byte sort key (a CIDR block is a key range), case-insensitive fields
//! with an ASCII-folded copy, and `details` as the text serde_json wrote, so that every
//! backend answers exactly the same.
#![forbid(unsafe_code)]

mod append;
mod columns;
mod convert;
mod copy;
mod counts;
pub mod entity;
mod error;
mod import;
mod keys;
mod list;
mod store;
mod terms;

pub use append::append_in;
pub use auditlog_migrations::Migrator;
pub use import::{BuildTimes, BulkImport};
pub use list::{condition, list_in};
pub use store::{SeaOrmStore, StoreOptions};
