//! SQL that every backend speaks alike.

use crate::counts::day_sql;

/// Whether the entries table holds a row.
pub(crate) const ANY_ENTRY: &str = "SELECT 1 AS one FROM audit_logs LIMIT 1";

/// The daily counts of the entries, built from the rows.
pub(crate) fn counts_of_entries() -> String {
    format!(
        "INSERT INTO audit_log_counts (tenant_id, day, entries) \
         SELECT tenant_id, {day}, COUNT(*) FROM audit_logs GROUP BY 1, 2",
        day = day_sql()
    )
}

/// The distinct searchable values of the entries, as rows of `audit_log_terms`: each
/// field grouped on its own (a hash each, where one `UNION` would sort every row), the
/// fields disjoint.
pub(crate) fn terms_of_entries() -> String {
    format!(
        "SELECT tenant_id, 0, meta_source_ip, ip_key FROM audit_logs \
           GROUP BY tenant_id, meta_source_ip, ip_key \
         UNION ALL {}",
        person_terms_of_entries()
    )
}

/// The user id and e-mail address part of [`terms_of_entries`] (fields 1 and 2).
pub(crate) fn person_terms_of_entries() -> String {
    "SELECT tenant_id, 1, actor_user_id_ci, NULL FROM audit_logs \
       WHERE actor_user_id_ci IS NOT NULL GROUP BY tenant_id, actor_user_id_ci \
     UNION ALL SELECT tenant_id, 2, actor_email_ci, NULL FROM audit_logs \
       WHERE actor_email_ci IS NOT NULL GROUP BY tenant_id, actor_email_ci"
        .to_owned()
}

/// Inserts the terms that `select` gives.
pub(crate) fn insert_terms(select: &str) -> String {
    format!("INSERT INTO audit_log_terms (tenant_id, field, value, key) {select}")
}

/// Queues every entry for the log, each tenant's in the order of time.
pub(crate) const PENDING_OF_ENTRIES: &str = "INSERT INTO audit_log_pending (tenant_id, entry_id) \
     SELECT tenant_id, id FROM audit_logs ORDER BY tenant_id, created_at, id";

/// A tenant's entries that are in no leaf of its tree and not queued for it, at most
/// `$2` of them.
pub(crate) const UNLOGGED_ENTRIES: &str = "SELECT e.id FROM audit_logs e WHERE e.tenant_id = $1 \
       AND NOT EXISTS (SELECT 1 FROM audit_log_leaves l \
         WHERE l.tenant_id = e.tenant_id AND l.entry_id = e.id) \
       AND NOT EXISTS (SELECT 1 FROM audit_log_pending p \
         WHERE p.tenant_id = e.tenant_id AND p.entry_id = e.id) \
     ORDER BY e.id LIMIT $2";

/// A tenant's leaves in order, without their entries.
pub(crate) const LEAVES_IN_ORDER: &str = "SELECT leaf_index, entry_id, hashes \
     FROM audit_log_leaves WHERE tenant_id = $1 ORDER BY leaf_index";

/// How many of a tenant's entries are queued for its tree and stored.
pub(crate) const COUNT_QUEUED: &str = "SELECT COUNT(*) AS n FROM audit_log_pending p \
     WHERE p.tenant_id = $1 AND EXISTS (SELECT 1 FROM audit_logs e \
       WHERE e.tenant_id = p.tenant_id AND e.id = p.entry_id) \
       AND NOT EXISTS (SELECT 1 FROM audit_log_leaves l \
       WHERE l.tenant_id = p.tenant_id AND l.entry_id = p.entry_id)";
