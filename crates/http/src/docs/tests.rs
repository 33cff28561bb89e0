//! The document against the code: the parameters, bodies, headers, examples and
//! security it describes are the ones served.

use auditlog_domain::{AuditLogFilter, limits};
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::*;
use crate::headers::{CORS_EXPOSED, X_NEXT_CURSOR, X_TOTAL_COUNT};

const LISTS: [&str; 2] = ["/{tenant_id}/audit_logs", "/admin/audit_logs"];

fn document() -> Value {
    serde_json::to_value(crate::openapi_document()).expect("the document serialises")
}

#[test]
fn the_entry_schema_holds_the_domains_limits() {
    let doc = document();
    let entry = &doc["components"]["schemas"]["NewAuditLogBody"];
    for (field, limit) in [
        ("error", limits::ERROR_CHARS),
        ("meta_http_request_id", limits::ID_CHARS),
        ("meta_user_agent", limits::USER_AGENT_CHARS),
        ("actor_user_id", limits::ID_CHARS),
        ("actor_email", limits::EMAIL_CHARS),
    ] {
        assert_eq!(entry["properties"][field]["maxLength"], limit, "{field}");
    }
    let details = entry["properties"]["details"]["description"].as_str();
    let kib = format!("at most {} KiB", limits::DETAILS_BYTES / 1024);
    assert!(details.is_some_and(|d| d.contains(&kib)), "{details:?}");
    let created_at = entry["properties"]["created_at"]["description"].as_str();
    let future = format!("at most {} minutes", limits::MAX_FUTURE.whole_minutes());
    assert!(
        created_at.is_some_and(|d| d.contains(&future)),
        "{created_at:?}"
    );

    let in_words = format!("1 to {}", limits::MAX_BATCH);
    for path in LISTS {
        let create = &doc["paths"][path]["post"];
        let batch = &create["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(batch["oneOf"][1]["maxItems"], limits::MAX_BATCH);
        for text in [
            &create["description"],
            &create["requestBody"]["description"],
        ] {
            assert!(
                text.as_str().is_some_and(|t| t.contains(&in_words)),
                "{path}: {text}"
            );
        }
    }
}

#[test]
fn the_list_parameters_are_the_filters_with_its_bounds() {
    let doc = document();
    // Every parameter a filter keeps in its links, and the pagination ones.
    let all = AuditLogFilter::from_query_pairs([
        ("start_time", "2024-01-01T00:00:00Z"),
        ("end_time", "2024-01-02T00:00:00Z"),
        ("type", "login_success"),
        ("actor_user_id", "alice"),
        ("actor_email", "alice@example.com"),
        ("meta_source_ip", "10.0.0.0/8"),
        ("q", "x"),
    ])
    .expect("a valid filter");
    let mut read: Vec<&str> = all.query_pairs().iter().map(|(name, _)| *name).collect();
    read.extend(["page", "per_page", "cursor"]);
    read.sort_unstable();
    for path in LISTS {
        let parameters = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let query: Vec<&Value> = parameters.iter().filter(|p| p["in"] == "query").collect();
        let mut names: Vec<&str> = query.iter().filter_map(|p| p["name"].as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, read, "{path}");
        assert!(
            names
                .iter()
                .all(|name| AuditLogFilter::reads_parameter(name))
        );
        let schema = |name: &str| {
            query
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_default()
        };
        assert_eq!(schema("page")["maximum"], MAX_PAGE, "{path}");
        assert_eq!(schema("per_page")["maximum"], MAX_PER_PAGE, "{path}");
        assert_eq!(schema("per_page")["default"], DEFAULT_PER_PAGE, "{path}");
        // A client that fills in defaults must be able to page by cursor alone.
        assert_eq!(schema("page").get("default"), None, "{path}");
    }
}

#[test]
fn the_documented_list_headers_are_the_ones_sent_and_exposed() {
    let doc = document();
    let sent = [header::LINK, X_NEXT_CURSOR, X_TOTAL_COUNT];
    for path in LISTS {
        let headers = doc["paths"][path]["get"]["responses"]["200"]["headers"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut documented: Vec<String> = headers
            .keys()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        documented.sort_unstable();
        assert_eq!(
            documented,
            sent.each_ref().map(|name| name.to_string()),
            "{path}"
        );
    }
    for name in sent {
        assert!(
            CORS_EXPOSED.contains(&name),
            "{name} is exposed to browsers"
        );
    }
}

/// Every operation of the document, as (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

#[test]
fn every_error_answer_has_an_example_of_its_own_in_its_variants_shape() {
    let doc = document();
    let mut checked = 0;
    for (path, method, operation) in operations(&doc) {
        let admin = path.starts_with("/admin/");
        let mut messages = Vec::new();
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            let code: u16 = status.parse().expect("a status");
            if code < 400 {
                continue;
            }
            let content = &response["content"]["application/json"];
            let schema = content["schema"]["$ref"].as_str().unwrap_or_default();
            let example = &content["example"];
            let at = format!("{method} {path} {status}");
            if admin {
                assert_eq!(schema, "#/components/schemas/AdminErrorBody", "{at}");
                assert_eq!(example["code"], code, "{at}: {example}");
                assert_eq!(example.as_object().map(|o| o.len()), Some(2), "{at}");
                messages.push(example["message"].as_str().unwrap_or_default().to_owned());
            } else {
                assert_eq!(schema, "#/components/schemas/PasskeyErrorBody", "{at}");
                assert_eq!(example["status"], code, "{at}: {example}");
                let reason = StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason());
                assert_eq!(example["title"].as_str(), reason, "{at}");
                assert_eq!(example.as_object().map(|o| o.len()), Some(3), "{at}");
                messages.push(example["details"].as_str().unwrap_or_default().to_owned());
            }
            checked += 1;
        }
        let count = messages.len();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(
            messages.len(),
            count,
            "{method} {path}: each status says its own"
        );
        assert!(
            messages
                .iter()
                .all(|m| !m.is_empty() && !m.contains("example"))
        );
    }
    assert!(checked > 80, "{checked} error answers checked");
}

#[test]
fn the_examples_of_errors_are_what_the_handlers_answer() {
    use crate::docs::errors;
    let details = |err: crate::error::ApiError| (err.status.as_u16(), err.details);
    assert_eq!(
        details(errors::bad_list_query()),
        (
            400,
            format!(
                "invalid value '0' for parameter 'page': must be an integer from 1 to {MAX_PAGE}"
            )
        )
    );
    let entry = details(errors::bad_entry());
    assert!(
        entry.0 == 400 && entry.1.starts_with("entry 1: ") && entry.1.contains("meta_source_ip"),
        "{entry:?}"
    );
    for (err, parameter) in [
        (errors::bad_tenant(), "tenant_id"),
        (errors::bad_entry_id(), "id"),
        (errors::bad_tree_size(), "tree_size"),
        (errors::bad_consistency_sizes(), "to"),
        (errors::bad_export_query(), "format"),
    ] {
        let (status, message) = details(err);
        assert_eq!(status, 400, "{message}");
        assert!(
            message.contains(&format!("parameter '{parameter}'")),
            "{message}"
        );
    }
    assert_eq!(errors::empty_log().status, StatusCode::NOT_FOUND);
    assert_eq!(errors::no_entry().status, StatusCode::NOT_FOUND);
}

#[test]
fn the_post_body_is_one_entry_or_a_batch_of_the_real_schema() {
    let doc = document();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Inline: a named `oneOf` of references shows as `(any | array<any>)` in Swagger UI.
    assert!(!schemas.contains_key("CreateBody") && !schemas.contains_key("CreatedBody"));
    for path in LISTS {
        let create = &doc["paths"][path]["post"];
        let sent = &create["requestBody"]["content"]["application/json"]["schema"]["oneOf"];
        assert_eq!(
            sent[0]["$ref"], "#/components/schemas/NewAuditLogBody",
            "{path}"
        );
        assert_eq!(sent[1]["type"], "array", "{path}");
        assert_eq!(
            sent[1]["items"]["$ref"],
            "#/components/schemas/NewAuditLogBody"
        );
        let stored = &create["responses"]["201"]["content"]["application/json"]["schema"]["oneOf"];
        assert_eq!(stored[0]["$ref"], "#/components/schemas/AuditLog", "{path}");
        assert_eq!(stored[1]["items"]["$ref"], "#/components/schemas/AuditLog");
    }
    assert_eq!(schemas["NewAuditLogBody"]["type"], "object");
}

#[test]
fn tenant_ids_have_the_default_tenant_as_example_and_no_parameter_a_checkbox() {
    let doc = document();
    let mut tenants = 0;
    for (path, method, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            assert!(
                parameter.get("allowEmptyValue").is_none(),
                "{method} {path} {}",
                parameter["name"]
            );
            if parameter["name"] == "tenant_id" {
                assert_eq!(
                    parameter["example"],
                    DEFAULT_TENANT_ID.to_string(),
                    "{path}"
                );
                tenants += 1;
            }
        }
    }
    assert!(tenants >= 7, "{tenants}");
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(description.contains("empty query value"), "{description}");
}

#[test]
fn one_key_serves_both_schemes_on_every_operation() {
    let doc = document();
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(description.contains(ONE_KEY), "{description}");
    for scheme in ["apiKey", "bearer"] {
        let text = doc["components"]["securitySchemes"][scheme]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains(ONE_KEY), "{scheme}: {text}");
    }
    let mut keyed = 0;
    for (path, method, operation) in operations(&doc) {
        let Some(security) = operation["security"].as_array() else {
            continue;
        };
        let mut schemes: Vec<&str> = security
            .iter()
            .flat_map(|requirement| requirement.as_object().into_iter().flatten())
            .map(|(name, _)| name.as_str())
            .collect();
        schemes.sort_unstable();
        assert_eq!(schemes, ["apiKey", "bearer"], "{method} {path}");
        keyed += 1;
    }
    assert!(keyed >= 14, "{keyed}");
}
