//! The served OpenAPI document equals the committed one, and describes what is served.

use serde_json::Value;

#[test]
fn committed_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json exists"))
            .expect("the committed document is JSON");
    let current = serde_json::to_value(auditlog_http::openapi_document()).expect("serialises");
    assert!(
        committed == current,
        "openapi/openapi.json is out of date: run `make openapi` and commit it"
    );
}

#[tokio::test]
async fn served_document_equals_the_committed_one() {
    let db = auditlog_tests::TestDatabase::create(auditlog_tests::Backend::Sqlite).await;
    let app = auditlog_tests::TestApp::start(&db).await;
    let served: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("file")).expect("json");
    assert_eq!(served, committed);
    assert_eq!(served["openapi"], "3.1.0");
    for path in [
        "/{tenant_id}/audit_logs",
        "/admin/audit_logs",
        "/{tenant_id}/audit_logs/{id}",
        "/admin/audit_logs/{id}",
        "/{tenant_id}/audit_logs/checkpoint",
        "/{tenant_id}/audit_logs/{id}/proof",
        "/{tenant_id}/audit_logs/consistency",
        "/{tenant_id}/audit_logs/export",
        "/admin/audit_logs/checkpoint",
        "/admin/audit_logs/{id}/proof",
        "/admin/audit_logs/consistency",
        "/admin/audit_logs/export",
        "/log-key",
        "/health",
        "/ready",
    ] {
        assert!(served["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(
        served["components"]["schemas"]["AuditLogType"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(54)
    );
    assert!(served["components"]["securitySchemes"]["apiKey"].is_object());
    assert!(served["components"]["securitySchemes"]["bearer"].is_object());
    let ui = app
        .client
        .get(format!("{}/swagger-ui/", app.base))
        .send()
        .await
        .expect("response");
    assert_eq!(ui.status(), 200);
    assert!(
        ui.text().await.expect("html").contains("swagger"),
        "Swagger UI is served"
    );
    app.stop().await;
    db.drop_database().await;
}
