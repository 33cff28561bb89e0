//! auditlog storage
