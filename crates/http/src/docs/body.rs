//! The bodies of recording entries as the document describes them: the submitted entry
//! with the domain's limits, one entry or a batch in, the stored entries out, and their
//! examples.

use auditlog_domain::{AuditLog, AuditLogType, limits};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{
    ToSchema,
    openapi::{self, RefOr, schema::Schema},
};

// The longest texts are the domain's `limits`, set by `entry_schema`.
/// An entry as a producer submits it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by the OpenAPI derive only; bodies are read field by field.
pub(crate) struct NewAuditLogBody {
    /// The idempotency key; assigned by the server when absent.
    id: Option<uuid::Uuid>,
    /// The type of the event.
    #[serde(rename = "type")]
    r#type: AuditLogType,
    /// Why something failed.
    error: Option<String>,
    /// The id of the HTTP request that caused the event.
    meta_http_request_id: String,
    /// The IPv4 or IPv6 address the request came from.
    #[schema(example = "172.27.0.1")]
    meta_source_ip: String,
    /// The user agent of the request.
    meta_user_agent: String,
    /// The user who acted.
    actor_user_id: Option<String>,
    /// The e-mail address of the user who acted.
    actor_email: Option<String>,
    /// Free-form context, at most 64 KiB serialised.
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// When it happened (RFC 3339), at most 5 minutes in the future; the time of
    /// receipt when absent.
    #[schema(format = DateTime)]
    created_at: Option<String>,
    /// Set by the server; accepted only when it is the tenant of the request.
    tenant_id: Option<uuid::Uuid>,
    /// Set by the server; ignored.
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

/// The most characters of each text field of a submitted entry.
const TEXT_LIMITS: [(&str, usize); 5] = [
    ("error", limits::ERROR_CHARS),
    ("meta_http_request_id", limits::ID_CHARS),
    ("meta_user_agent", limits::USER_AGENT_CHARS),
    ("actor_user_id", limits::ID_CHARS),
    ("actor_email", limits::EMAIL_CHARS),
];

/// The schema of a submitted entry, with the domain's [`TEXT_LIMITS`] as `maxLength`.
fn entry_schema() -> RefOr<Schema> {
    let mut schema = <NewAuditLogBody as utoipa::PartialSchema>::schema();
    if let RefOr::T(Schema::Object(entry)) = &mut schema {
        for (field, limit) in TEXT_LIMITS {
            if let Some(RefOr::T(Schema::Object(property))) = entry.properties.get_mut(field) {
                property.max_length = Some(limit);
            }
        }
    }
    schema
}

/// One entry or an array of 1 to [`limits::MAX_BATCH`]. The operations put it inline,
/// as they do [`CreatedBody`]: a named schema that is only a `oneOf` of references shows
/// in Swagger UI's list of schemas as `(any | array<any>)`, its references unresolved.
#[derive(Debug)]
pub(crate) struct CreateBody;

impl utoipa::PartialSchema for CreateBody {
    fn schema() -> openapi::RefOr<openapi::schema::Schema> {
        use openapi::schema::{ArrayBuilder, OneOfBuilder, Ref};
        let entry = Ref::from_schema_name("NewAuditLogBody");
        let mut one = entry.clone();
        one.description = "One entry".to_owned();
        OneOfBuilder::new()
            .item(one)
            .item(
                ArrayBuilder::new()
                    .items(entry)
                    .min_items(Some(1))
                    .max_items(Some(limits::MAX_BATCH))
                    .description(Some(format!(
                        "A batch of 1 to {} entries, stored all or none",
                        limits::MAX_BATCH
                    ))),
            )
            .description(Some(format!(
                "One entry, or an array of 1 to {} entries",
                limits::MAX_BATCH
            )))
            .into()
    }
}

impl ToSchema for CreateBody {
    fn schemas(schemas: &mut Vec<(String, openapi::RefOr<openapi::schema::Schema>)>) {
        schemas.push(("NewAuditLogBody".to_owned(), entry_schema()));
    }
}

/// The stored entries: an object when one was sent, an array when an array was sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Read by the OpenAPI derive only.
pub(crate) enum CreatedBody {
    /// The stored entry.
    One(Box<AuditLog>),
    /// The stored entries, in the order sent.
    Many(Vec<AuditLog>),
}

/// An example entry for the document.
pub(crate) fn example_entry() -> Value {
    json!({
        "id": "0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c11",
        "type": "password_login_failed",
        "error": "password incorrect",
        "meta_http_request_id": "0a2xsrhlhiQv49FIpq8KV8uQVq6ky9Bw",
        "meta_source_ip": "203.0.113.7",
        "meta_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "actor_user_id": "c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c",
        "actor_email": "jsmith@example.com",
        "details": {"login_method": "password"}
    })
}

/// An example batch for the document.
pub(crate) fn example_batch() -> Value {
    json!([
        example_entry(),
        {
            "id": "0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c12",
            "type": "passcode_login_final_succeeded",
            "meta_http_request_id": "Yq1cKZ5t9x0b7wH2",
            "meta_source_ip": "2001:db8::7",
            "meta_user_agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15",
            "actor_user_id": "c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c",
            "actor_email": "jsmith@example.com",
            "created_at": "2024-05-01T12:00:00.000001Z"
        }
    ])
}
