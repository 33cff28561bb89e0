//! The document's example log: five entries of the default tenant, signed by a key
//! made for them. Every example of the log operations comes from it, and the tests
//! below check each one as a client checks the real answers.

/// The verifier key of the example log.
pub(crate) const EXAMPLE_VERIFIER_KEY: &str =
    "auditlog+3c1944eb+AVwZf4YTo+/cKVkSEhCT/rqm+XTntp9I2cKB7S4Dy30Z";

/// The checkpoint of the example log: its five entries.
pub(crate) const EXAMPLE_CHECKPOINT: &str = "auditlog/00000000-0000-0000-0000-000000000001\n5\nFDF6jiv6xU8Je/sT1JHoqmeChTOGGxW+Q3rFle2Lofo=\n\n\u{2014} auditlog/00000000-0000-0000-0000-000000000001 9M4wqDj/03TCLIeSoLYx/TR12sEDEHZSc2W4gcJuKwRcnkdOgRE2LgqQyrOIwxMcKmUKN4Ai7aTHUE3i8jyG4ele0As=\n";

/// The inclusion proof of leaf 2 at size 5.
pub(crate) const EXAMPLE_INCLUSION_PROOF: [&str; 3] = [
    "dTjW5xnjTawR2MYcDdyvxCY9sTE92Nixri1eIct3LVg=",
    "2J5u+vhQG2xXr5x4TsyPJPOlsVIFUJ0ZD+S/99vYYJ4=",
    "9DgLZt53CazyIsg7MlDWYMdL4dYUSw7pPTVV/2FOaxI=",
];

/// The consistency proof from size 3 to size 5.
pub(crate) const EXAMPLE_CONSISTENCY_PROOF: [&str; 4] = [
    "hwln1GNVHYhHr+bLX1CimjiL+kKbvDjZkFwKGdJ6e+o=",
    "dTjW5xnjTawR2MYcDdyvxCY9sTE92Nixri1eIct3LVg=",
    "2J5u+vhQG2xXr5x4TsyPJPOlsVIFUJ0ZD+S/99vYYJ4=",
    "9DgLZt53CazyIsg7MlDWYMdL4dYUSw7pPTVV/2FOaxI=",
];

/// The whole example log exported as NDJSON: its entries in log order, then its
/// checkpoint.
pub(crate) const EXAMPLE_NDJSON: &str = concat!(
    r#"{"id":"0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c10","tenant_id":"00000000-0000-0000-0000-000000000001","type":"password_login_failed","error":"password incorrect","meta_http_request_id":"0a2xsrhl","meta_source_ip":"203.0.113.7","meta_user_agent":"Firefox/128.0","actor_user_id":"c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c","actor_email":"jsmith@example.com","details":{"login_method":"password"},"created_at":"2024-05-01T12:00:00.000001Z","updated_at":"2024-05-01T12:00:00.000101Z"}"#,
    "\n",
    r#"{"id":"0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c11","tenant_id":"00000000-0000-0000-0000-000000000001","type":"password_login_succeeded","meta_http_request_id":"Yq1cKZ5t","meta_source_ip":"203.0.113.7","meta_user_agent":"Firefox/128.0","actor_user_id":"c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c","actor_email":"jsmith@example.com","created_at":"2024-05-01T12:00:09.412230Z","updated_at":"2024-05-01T12:00:09.412330Z"}"#,
    "\n",
    r#"{"id":"0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c12","tenant_id":"00000000-0000-0000-0000-000000000001","type":"passkey_created","meta_http_request_id":"b81Fq0sT","meta_source_ip":"203.0.113.7","meta_user_agent":"Firefox/128.0","actor_user_id":"c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c","actor_email":"jsmith@example.com","details":{"credential_id":"AQIDBA"},"created_at":"2024-05-01T12:01:30.250000Z","updated_at":"2024-05-01T12:01:30.250100Z"}"#,
    "\n",
    r#"{"id":"0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c13","tenant_id":"00000000-0000-0000-0000-000000000001","type":"login_failure","error":"unknown user","meta_http_request_id":"Zk3pW7aQ","meta_source_ip":"2001:db8::7","meta_user_agent":"curl/8.5.0","created_at":"2024-05-01T12:05:00.000000Z","updated_at":"2024-05-01T12:05:00.000100Z"}"#,
    "\n",
    r#"{"id":"0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c14","tenant_id":"00000000-0000-0000-0000-000000000001","type":"user_logged_out","meta_http_request_id":"Hn4xR2mV","meta_source_ip":"203.0.113.7","meta_user_agent":"Firefox/128.0","actor_user_id":"c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c","actor_email":"jsmith@example.com","created_at":"2024-05-01T12:30:00.000000Z","updated_at":"2024-05-01T12:30:00.000100Z"}"#,
    "\n",
    r#"{"checkpoint":"auditlog/00000000-0000-0000-0000-000000000001\n5\nFDF6jiv6xU8Je/sT1JHoqmeChTOGGxW+Q3rFle2Lofo=\n\n— auditlog/00000000-0000-0000-0000-000000000001 9M4wqDj/03TCLIeSoLYx/TR12sEDEHZSc2W4gcJuKwRcnkdOgRE2LgqQyrOIwxMcKmUKN4Ai7aTHUE3i8jyG4ele0As=\n"}"#,
    "\n",
);

/// The query of [`EXAMPLE_CSV`], which the example's summary names.
#[cfg(test)]
pub(crate) const EXAMPLE_CSV_QUERY: &str = "format=csv&type=password_login_failed,login_failure";

/// The failures of the example log exported as CSV
/// (`format=csv&type=password_login_failed,login_failure`): a header, then a row an
/// entry with its leaf index.
pub(crate) const EXAMPLE_CSV: &str = concat!(
    "leaf_index,id,tenant_id,type,error,meta_http_request_id,meta_source_ip,meta_user_agent,actor_user_id,actor_email,details,created_at\r\n",
    r#"0,0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c10,00000000-0000-0000-0000-000000000001,password_login_failed,password incorrect,0a2xsrhl,203.0.113.7,Firefox/128.0,c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c,jsmith@example.com,"{""login_method"":""password""}",2024-05-01T12:00:00.000001Z"#,
    "\r\n",
    "3,0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c13,00000000-0000-0000-0000-000000000001,login_failure,unknown user,Zk3pW7aQ,2001:db8::7,curl/8.5.0,,,,2024-05-01T12:05:00.000000Z\r\n",
);

#[cfg(test)]
mod tests {
    use auditlog_domain::{
        AuditLog, DEFAULT_TENANT_ID,
        log::{
            Checkpoint, DEFAULT_LOG_ORIGIN, Hash, MemoryTree, leaf_bytes, leaf_hash, tenant_origin,
            verify_consistency, verify_inclusion,
        },
    };

    use super::*;
    use crate::{export_format::ExportFormat, query};

    fn hashes(texts: &[&str]) -> Vec<Hash> {
        texts
            .iter()
            .map(|text| text.parse().expect("a base64 hash"))
            .collect()
    }

    /// The entries of the example log, read back from its NDJSON export.
    fn entries() -> Vec<AuditLog> {
        let lines: Vec<&str> = EXAMPLE_NDJSON.lines().collect();
        let (trailer, entries) = lines.split_last().expect("lines");
        let trailer: serde_json::Value = serde_json::from_str(trailer).expect("JSON");
        assert_eq!(trailer["checkpoint"], EXAMPLE_CHECKPOINT);
        entries
            .iter()
            .map(|line| serde_json::from_str(line).expect("an entry"))
            .collect()
    }

    #[test]
    fn the_examples_are_one_log_that_verifies() {
        let key = EXAMPLE_VERIFIER_KEY.parse().expect("a verifier key");
        let origin = tenant_origin(DEFAULT_LOG_ORIGIN, DEFAULT_TENANT_ID);
        let checkpoint = Checkpoint::open(EXAMPLE_CHECKPOINT, &key, &origin).expect("it opens");
        assert_eq!(checkpoint.size(), 5);
        let mut tree = MemoryTree::new();
        let leaves: Vec<Hash> = entries()
            .iter()
            .map(|entry| leaf_hash(&leaf_bytes(entry).expect("leaf bytes")))
            .collect();
        for (size, leaf) in (1..).zip(&leaves) {
            tree.push(*leaf).expect("pushed");
            if size == 3 {
                let old_root = tree.root().expect("a root");
                let consistency = hashes(&EXAMPLE_CONSISTENCY_PROOF);
                verify_consistency(3, 5, old_root, checkpoint.root(), &consistency)
                    .expect("the consistency proof verifies");
            }
        }
        assert_eq!(tree.root().expect("a root"), checkpoint.root());
        let inclusion = hashes(&EXAMPLE_INCLUSION_PROOF);
        verify_inclusion(2, 5, leaves[2], checkpoint.root(), &inclusion)
            .expect("the inclusion proof verifies");
    }

    #[test]
    fn the_export_examples_are_what_the_formats_write() {
        let entries = entries();
        let mut ndjson = Vec::new();
        for (index, entry) in (0..).zip(&entries) {
            ndjson.extend(ExportFormat::Ndjson.entry(index, entry).expect("a line"));
        }
        ndjson.extend(ExportFormat::Ndjson.trailer(Some(EXAMPLE_CHECKPOINT)));
        assert_eq!(String::from_utf8(ndjson).expect("utf-8"), EXAMPLE_NDJSON);

        let (format, filter) = query::parse_export(Some(EXAMPLE_CSV_QUERY)).expect("valid");
        assert_eq!(format, ExportFormat::Csv);
        let mut csv = format.header();
        for (index, entry) in (0..).zip(&entries) {
            if filter.matches(entry) {
                csv.extend(format.entry(index, entry).expect("a row"));
            }
        }
        assert_eq!(String::from_utf8(csv).expect("utf-8"), EXAMPLE_CSV);
    }
}
