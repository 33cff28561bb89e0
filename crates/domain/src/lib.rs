//! The domain of auditlog: what an audit log entry is, the known event types, the
//! validated filter that both list APIs share, the ports (`AuditLogStore`,
//! `KeyStore`) that storage backends implement, and the storage-free core of each
//! tenant's transparency log.
//!
//! This crate knows nothing of HTTP or SQL, so any Rust service can embed it.
#![forbid(unsafe_code)]

pub mod access;
pub mod entry;
pub mod error;
pub mod event_type;
pub mod filter;
pub mod ip;
pub mod keys;
pub mod log;
pub mod store;
pub mod text;

pub use access::{AccessLogStore, AccessOperation, AccessQuery, AccessRecord};
pub use entry::{AuditLog, ERASURE_MARKER, NewAuditLog, limits};
pub use error::{EntryError, FilterError, StoreError};
pub use event_type::{AuditLogType, UnknownAuditLogType};
pub use filter::{AuditLogFilter, Cursor, IpMatch, PageRequest};
pub use keys::{ApiKey, ApiKeyHash, ApiKeySecret, NewApiKey, Scope, Scopes, Tenant};
pub use store::{AuditLogStore, ExportPage, KeyStore, LogError, LogStore, Page};

/// The tenant that single-tenant deployments (and Hanko) use.
pub const DEFAULT_TENANT_ID: uuid::Uuid = uuid::uuid!("00000000-0000-0000-0000-000000000001");
