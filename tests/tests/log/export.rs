//! `GET .../audit_logs/export` in both variants, checked as a verifier would: a whole
//! NDJSON export reproduces the checkpoint it ends with, signed by the key of
//! `/log-key`; a filtered one holds exactly what the filter's own model matches, in log
//! order, and no checkpoint; CSV has a row an entry with its leaf index; another
//! tenant's entries never appear; and what is refused is refused by name, in the
//! variant's error shape.

use auditlog_domain::{AuditLogFilter, log::MemoryTree};

use super::*;

/// An export as a client reads it.
#[derive(Debug)]
struct Export {
    content_type: String,
    tree_size: u64,
    disposition: String,
    text: String,
}

impl Export {
    /// The entries of an NDJSON export, and its checkpoint line when it has one.
    fn ndjson(&self) -> (Vec<AuditLog>, Option<String>) {
        let mut entries = Vec::new();
        let mut checkpoint = None;
        for line in self.text.lines() {
            assert!(checkpoint.is_none(), "nothing follows the checkpoint line");
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            match value.get("checkpoint") {
                Some(note) => checkpoint = Some(note.as_str().expect("a note").to_owned()),
                None => entries.push(serde_json::from_value(value).expect("an entry")),
            }
        }
        (entries, checkpoint)
    }

    /// The rows of a CSV export after its header, each as its leaf index and entry id
    /// (the first two columns, never quoted).
    fn csv_rows(&self) -> Vec<(u64, Uuid)> {
        let mut lines = self.text.split_terminator("\r\n");
        let header = lines.next().expect("a header");
        assert!(
            header.starts_with("leaf_index,id,tenant_id,type,"),
            "{header}"
        );
        lines
            .map(|row| {
                let mut cells = row.split(',');
                let index = cells.next().and_then(|c| c.parse().ok()).expect("index");
                let id = cells.next().and_then(|c| c.parse().ok()).expect("an id");
                (index, id)
            })
            .collect()
    }
}

/// `GET .../export?query` in `variant` with the tenant's read key; asserts 200.
async fn export(app: &TestApp, variant: Variant, query: &str) -> Export {
    let response = get(app, variant, &format!("export?{query}"), &app.read_key).await;
    assert_eq!(response.status(), 200, "{}", response.url());
    Export {
        content_type: header(&response, "content-type"),
        tree_size: header(&response, "x-tree-size")
            .parse()
            .expect("X-Tree-Size"),
        disposition: header(&response, "content-disposition"),
        text: response.text().await.expect("the whole export"),
    }
}

backend_test!(
    a_whole_export_reproduces_the_checkpoint_it_ends_with,
    |app| {
        let key = log_key(&app).await;
        // Another tenant's entries are in the same database, and in its own log only.
        let other = Uuid::new_v4();
        let other_key = app.key_for(other, "read,write").await;
        let theirs = record(&app, &other_key, other, 3).await;
        record(&app, &app.key, app.tenant, 5).await;
        record(&app, &app.key, app.tenant, 4).await;
        let (note, checkpoint) = checkpoint_of(&app, Variant::Passkey, &key, 9).await;
        let origin = tenant_origin(key.name(), app.tenant);

        let mut bodies = Vec::new();
        for variant in VARIANTS {
            let whole = export(&app, variant, "").await;
            assert_eq!(whole.content_type, "application/x-ndjson");
            assert_eq!(whole.tree_size, 9);
            assert_eq!(
                whole.disposition,
                format!("attachment; filename=\"auditlog-{}-9.ndjson\"", app.tenant)
            );
            let (entries, trailer) = whole.ndjson();
            // What `auditlog verify --entries` does: the trailer opens with the key, and
            // the entries, in the order given, make its root.
            let trailer = trailer.expect("a whole export ends with its checkpoint");
            assert_eq!(trailer, note);
            let opened = Checkpoint::open(&trailer, &key, &origin).expect("signed");
            let mut tree = MemoryTree::new();
            for entry in &entries {
                assert_eq!(entry.tenant_id, app.tenant, "only the tenant's entries");
                tree.push(leaf_hash(&leaf_bytes(entry).expect("leaf bytes")))
                    .expect("pushed");
            }
            assert_eq!(tree.size(), opened.size());
            assert_eq!(tree.root().expect("a root"), opened.root());
            assert_eq!(opened.root(), checkpoint.root());
            for theirs in &theirs {
                assert!(!whole.text.contains(theirs["id"].as_str().expect("an id")));
            }
            // The same entries as listed, in the order the log took them in.
            let mut listed_ids: Vec<Uuid> = listed(&app).await.iter().map(|e| e.id).collect();
            let mut exported_ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
            for (index, id) in exported_ids.iter().enumerate() {
                let body = proof(&app, variant, *id, "").await;
                assert_eq!(number(&body["leaf_index"]), index as u64);
            }
            listed_ids.sort_unstable();
            exported_ids.sort_unstable();
            assert_eq!(exported_ids, listed_ids);
            bodies.push(whole.text);
        }
        assert_eq!(bodies[0], bodies[1], "both variants export the same bytes");

        // Their own export holds their entries only.
        let response = app
            .client
            .get(format!("{}/{other}/audit_logs/export", app.base))
            .header("apiKey", &other_key)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("text");
        for line in text.lines().filter(|l| !l.starts_with("{\"checkpoint\"")) {
            let entry: AuditLog = serde_json::from_str(line).expect("an entry");
            assert_eq!(entry.tenant_id, other);
        }
    }
);

backend_test!(
    a_filtered_export_holds_exactly_what_matches_in_log_order,
    |app| {
        let key = log_key(&app).await;
        record(&app, &app.key, app.tenant, 10).await;
        record(&app, &app.key, app.tenant, 6).await;
        checkpoint_of(&app, Variant::Passkey, &key, 16).await;
        for variant in VARIANTS {
            let (all, _) = export(&app, variant, "").await.ndjson();
            assert_eq!(all.len(), 16);
            for filters in [
                vec![("type", "login_failure")],
                vec![("type", "login_failure,login_success"), ("q", "user-1")],
                vec![("actor_user_id", "user-3")],
                vec![("actor_email", "USER2@example.COM")],
                vec![("meta_source_ip", "10.0.0.0/30")],
                vec![("start_time", "2000-01-01T00:00:00Z")],
                vec![("end_time", "2000-01-01T00:00:00Z")],
            ] {
                let model = AuditLogFilter::from_query_pairs(filters.iter().copied())
                    .expect("a valid filter");
                let expected: Vec<(u64, &AuditLog)> = (0..)
                    .zip(&all)
                    .filter(|(_, entry)| model.matches(entry))
                    .collect();
                let query: String = form_urlencoded(&filters);
                assert!(
                    !expected.is_empty() || query.starts_with("end_time"),
                    "{query} matches some entries"
                );
                let filtered = export(&app, variant, &query).await;
                assert_eq!(filtered.tree_size, 16, "{query}");
                assert!(
                    filtered.disposition.ends_with("-16-filtered.ndjson\""),
                    "{}",
                    filtered.disposition
                );
                let (entries, trailer) = filtered.ndjson();
                assert_eq!(
                    trailer, None,
                    "{query}: a filtered export has no checkpoint"
                );
                let expected_entries: Vec<&AuditLog> = expected.iter().map(|(_, e)| *e).collect();
                assert_eq!(
                    entries.iter().collect::<Vec<_>>(),
                    expected_entries,
                    "{query}"
                );

                let csv = export(&app, variant, &format!("{query}&format=csv")).await;
                assert_eq!(csv.content_type, "text/csv; charset=utf-8");
                let rows: Vec<(u64, Uuid)> =
                    expected.iter().map(|(index, e)| (*index, e.id)).collect();
                assert_eq!(csv.csv_rows(), rows, "{query}");
            }
            // The whole log as CSV: a row a leaf, in order.
            let csv = export(&app, variant, "format=csv").await;
            let rows: Vec<(u64, Uuid)> = (0..).zip(all.iter().map(|e| e.id)).collect();
            assert_eq!(csv.csv_rows(), rows);
            assert!(
                csv.disposition.ends_with("-16.csv\""),
                "{}",
                csv.disposition
            );
        }
    }
);

backend_test!(an_export_refuses_by_name_in_each_variants_shape, |app| {
    for variant in VARIANTS {
        // An empty log: nothing to export, and no checkpoint to end with.
        let empty = export(&app, variant, "").await;
        assert_eq!((empty.tree_size, empty.text.as_str()), (0, ""));
        let empty = export(&app, variant, "format=csv").await;
        assert!(empty.csv_rows().is_empty());

        for (query, parameter) in [
            ("format=xml", "'format'"),
            ("format=csv&format=ndjson", "'format'"),
            ("page=2", "'page'"),
            ("per_page=10", "'per_page'"),
            ("cursor=abc", "'cursor'"),
            ("type=nope", "'type'"),
            ("type=login_success,,login_failure", "'type'"),
            ("start_time=yesterday", "'start_time'"),
            (
                "start_time=2024-02-01T00:00:00Z&end_time=2024-01-01T00:00:00Z",
                "'end_time'",
            ),
            ("meta_source_ip=10.0.0.0%2F99", "'meta_source_ip'"),
            ("actor_email=a&actor_email=b", "'actor_email'"),
        ] {
            let response = get(&app, variant, &format!("export?{query}"), &app.read_key).await;
            let message = error(response, variant, 400).await;
            assert!(
                message.contains(&format!("parameter {parameter}")),
                "{query}: {message}"
            );
        }
        let response = get(&app, variant, "export?format=xml", &app.read_key).await;
        assert!(error(response, variant, 400).await.contains("'xml'"));
        error(get(&app, variant, "export", "").await, variant, 401).await;
        error(
            get(&app, variant, "export", "wrong-key").await,
            variant,
            401,
        )
        .await;
        error(
            get(&app, variant, "export", &app.write_key).await,
            variant,
            403,
        )
        .await;
    }
    // The passkey variant names its tenant: another tenant's key is 403, and a
    // tenant that is not a UUID is 400.
    let other_key = app.key_for(Uuid::new_v4(), "read").await;
    let passkey = Variant::Passkey;
    error(get(&app, passkey, "export", &other_key).await, passkey, 403).await;
    let response = app
        .client
        .get(format!("{}/not-a-tenant/audit_logs/export", app.base))
        .header("apiKey", &app.read_key)
        .send()
        .await
        .expect("a response");
    let message = error(response, passkey, 400).await;
    assert!(message.contains("tenant_id"), "{message}");
});

/// `pairs` as a query string.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://localhost/").expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}
