//! auditlog's store for SQLite and PostgreSQL, on SeaORM.
//!
//! [`SeaOrmStore`] implements the domain's [`auditlog_domain::AuditLogStore`],
//! [`auditlog_domain::KeyStore`] and [`auditlog_domain::AccessLogStore`]; the backend
//! follows the URL's scheme. Programs that keep their own data in the same database
//! can record entries inside their own transaction with [`append_in`].
//!
//! Times are stored as BIGINT microseconds since the Unix epoch, addresses as canonical
//! text plus a 16-byte sort key (a CIDR block is a key range), case-insensitive fields
//! with an ASCII-folded copy, and `details` as the text serde_json wrote, so that every
//! backend answers exactly the same.
//!
//! The layout, for whoever adds a backend (`README.md` beside `Cargo.toml` says more):
//!
//! ```text
//! store.rs     SeaOrmStore: connect, migrate, the AuditLogStore port
//! keys.rs      tenants and API keys (the KeyStore port)
//! access.rs    who read the log (the AccessLogStore port)
//! schema/      one entity per table and its conversion to domain values;
//!              entry.rs is the one place an entry's row is written down
//! write/       append (a batch), bulk (many), txn (the one write transaction)
//! read/        the filter as a condition, the page and its total
//! search/      q: terms extracted, recorded, remembered, looked up
//! log/         each tenant's Merkle tree: queue, integrator, stored hashes, proofs
//! counts.rs    each tenant's entries per day
//! backend/     all that differs per backend: sqlite.rs, postgres/, shared.rs
//! ```
#![forbid(unsafe_code)]

mod access;
mod backend;
mod counts;
mod erasure;
mod error;
mod keys;
mod log;
mod read;
mod retention;
mod schema;
mod search;
mod store;
mod write;

pub use auditlog_migrations::Migrator;
pub use erasure::{Erasure, Person};
pub use log::{
    LogSigner, LogTask,
    verify::{Change, Finding, TenantReport},
};
pub use read::{condition, list_in};
pub use retention::TenantPurge;
pub use store::{SeaOrmStore, StoreOptions};
pub use write::{BuildTimes, BulkImport, append_in};

/// The SeaORM entities, one module per table.
pub mod entity {
    pub use crate::schema::{
        access as access_log, api_key, count as audit_log_count, entry as audit_log, tenant,
        term as audit_log_term,
    };
}
