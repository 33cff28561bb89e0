//! The checks behind auditlog's fuzz targets; see `checks.rs`.
#![forbid(unsafe_code)]

pub mod checks;
