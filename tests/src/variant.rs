//! The two API variants, as a test reaches them: the passkey variant (the tenant in the
//! path, the key in `apiKey`) and the admin variant (the key's tenant, a bearer key),
//! each with its own error shape.

use serde_json::Value;
use uuid::Uuid;

use crate::TestApp;

/// How a test reaches the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `/{tenant_id}/audit_logs`, `apiKey: <key>`, errors as `{title, details, status}`.
    Passkey,
    /// `/admin/audit_logs`, `Authorization: Bearer <key>`, errors as `{code, message}`.
    Admin,
}

/// Both variants.
pub const VARIANTS: [Variant; 2] = [Variant::Passkey, Variant::Admin];

/// GET `rest` below the variant's `audit_logs` path with `key`.
pub async fn get(app: &TestApp, variant: Variant, rest: &str, key: &str) -> reqwest::Response {
    let request = match variant {
        Variant::Passkey => app
            .client
            .get(format!("{}/{rest}", app.passkey_url()))
            .header("apiKey", key),
        Variant::Admin => app
            .client
            .get(format!("{}/{rest}", app.admin_url()))
            .bearer_auth(key),
    };
    request.send().await.expect("a response")
}

/// Records `batch` for `tenant` with `key` through the passkey variant, which must
/// answer 201; returns the stored entries.
pub async fn record_batch(app: &TestApp, tenant: Uuid, key: &str, batch: &[Value]) -> Vec<Value> {
    let response = app
        .client
        .post(format!("{}/{tenant}/audit_logs", app.base))
        .header("apiKey", key)
        .json(batch)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 201);
    response.json().await.expect("the stored entries")
}

/// Asserts the status and the variant's error shape; returns the message.
pub async fn error(response: reqwest::Response, variant: Variant, status: u16) -> String {
    let body = error_body(response, variant, status).await;
    let message = match variant {
        Variant::Passkey => &body["details"],
        Variant::Admin => &body["message"],
    };
    message.as_str().expect("a message").to_owned()
}

/// Asserts the status and the variant's error shape; returns the whole body.
pub async fn error_body(response: reqwest::Response, variant: Variant, status: u16) -> Value {
    assert_eq!(response.status(), status, "{}", response.url());
    let body: Value = response.json().await.expect("a JSON error");
    let mut fields: Vec<&str> = body
        .as_object()
        .map(|fields| fields.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    match variant {
        Variant::Passkey => {
            assert_eq!(fields, ["details", "status", "title"], "{body}");
            assert_eq!(body["status"], status, "{body}");
            assert!(
                body["title"].is_string() && body["details"].is_string(),
                "{body}"
            );
        }
        Variant::Admin => {
            assert_eq!(fields, ["code", "message"], "{body}");
            assert_eq!(body["code"], status, "{body}");
            assert!(body["message"].is_string(), "{body}");
        }
    }
    body
}
