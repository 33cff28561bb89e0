//! The SeaORM entities, one module per table. Rows hold what the database holds
//! (times as microseconds, addresses as text and key); `crate::convert` turns them
//! into domain values.

pub mod api_key;
pub mod audit_log;
pub mod audit_log_count;
pub mod audit_log_term;
pub mod tenant;
