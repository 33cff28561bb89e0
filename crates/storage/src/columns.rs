//! The columns of `audit_logs` that writes name, in one order, and a row's values in
//! that order: for SQLite's multi-row inserts and PostgreSQL's `COPY`.

use sea_orm::Value;

use crate::entity::audit_log;

/// The columns of [`ENTRY_COLUMNS`], as a literal for `concat!`.
macro_rules! entry_columns {
    () => {
        "tenant_id, id, type, error, meta_http_request_id, meta_source_ip, ip_key, \
         meta_user_agent, actor_user_id, actor_user_id_ci, actor_email, actor_email_ci, \
         details, created_at, updated_at"
    };
}
pub(crate) use entry_columns;

/// The columns a write of whole rows names, in order (also in `COPY` and PostgreSQL's
/// `UNNEST` insert, through [`entry_columns!`]).
pub(crate) const ENTRY_COLUMNS: &str = entry_columns!();

/// How many columns [`ENTRY_COLUMNS`] names.
pub(crate) const ENTRY_FIELDS: usize = 15;

/// A row's values in the order of [`ENTRY_COLUMNS`].
pub(crate) fn values(r: audit_log::Model) -> [Value; ENTRY_FIELDS] {
    [
        r.tenant_id.into(),
        r.id.into(),
        r.r#type.into(),
        r.error.into(),
        r.meta_http_request_id.into(),
        r.meta_source_ip.into(),
        r.ip_key.into(),
        r.meta_user_agent.into(),
        r.actor_user_id.into(),
        r.actor_user_id_ci.into(),
        r.actor_email.into(),
        r.actor_email_ci.into(),
        r.details.into(),
        r.created_at.into(),
        r.updated_at.into(),
    ]
}

/// `INSERT OR FAIL` of `rows` rows into `audit_logs`, a parameter a column in the order
/// of [`ENTRY_COLUMNS`], followed by `tail`; built from constants.
///
/// `OR FAIL`: a failure ends the statement where it is instead of undoing it, which
/// spares SQLite the statement journal, a copy of every page the statement changes
/// (most of an insert's work when an entry's keys are spread over six indexes). Every
/// caller rolls back the whole transaction on an error.
pub(crate) fn sqlite_insert(rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; ENTRY_FIELDS].join(","));
    format!(
        "INSERT OR FAIL INTO audit_logs ({ENTRY_COLUMNS}) VALUES {} {tail}",
        vec![row; rows].join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_value_and_a_parameter() {
        assert_eq!(ENTRY_COLUMNS.split(',').count(), ENTRY_FIELDS);
        let sql = sqlite_insert(2, "RETURNING id");
        assert_eq!(sql.matches('?').count(), 2 * ENTRY_FIELDS);
        assert!(sql.ends_with(" RETURNING id"), "{sql}");
    }
}
