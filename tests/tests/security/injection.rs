//! Injection strings: stored and matched literally, in every field and parameter.

use super::*;

/// Strings that mean something to SQL, LIKE, regular expressions, shells, templates,
/// HTML, LDAP, JSON, HTTP or Unicode; none of them may mean anything here.
const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE audit_logs; --",
    "\" OR \"\"=\"",
    "') OR 1=1 --",
    "1; SELECT pg_sleep(10)",
    "%",
    "_",
    "%%",
    "a%b_c",
    "\\",
    "\\%",
    "\\_",
    "[a-z]*",
    ".*",
    "^$",
    "{\"$gt\": \"\"}",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "$(id)",
    "`id`",
    "../../etc/passwd",
    "*)(uid=*))(|(uid=*",
    "\r\nX-Injected: 1",
    "\t",
    " ",
    "'",
    "\"",
    "null",
    "\u{1}",
    "\u{202e}gnp.exe",
    "ＡＢＣ",
    "ÄÖÜ",
    "äöü",
    "İ",
    "ß",
    "😀",
];

fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The entry that carries injection `i` in every string field, `details` keys included.
fn injected_entry(i: usize, s: &str) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert(s.to_owned(), Value::Null);
    let mut details = serde_json::Map::new();
    details.insert(s.to_owned(), json!(s));
    details.insert("nested".to_owned(), json!([s, inner]));
    json!({
        "id": Uuid::new_v4(),
        "type": "login_success",
        "error": s,
        "meta_http_request_id": s,
        "meta_source_ip": format!("2001:db8::{:x}", i + 1),
        "meta_user_agent": s,
        "actor_user_id": s,
        "actor_email": s,
        "details": details,
    })
}

backend_test!(injection_strings_are_stored_and_matched_literally, |app| {
    let other = Uuid::new_v4();
    let other_key = app.key_for(other, "read,write").await;
    let entries: Vec<Value> = INJECTIONS
        .iter()
        .enumerate()
        .map(|(i, s)| injected_entry(i, s))
        .collect();
    // Ours, and the same strings in another tenant, which no query of ours may reach.
    for (key, body) in [
        (&app.key, json!(entries)),
        (
            &other_key,
            json!(
                INJECTIONS
                    .iter()
                    .enumerate()
                    .map(|(i, s)| injected_entry(i, s))
                    .collect::<Vec<_>>()
            ),
        ),
    ] {
        let response = app
            .client
            .post(app.admin_url())
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("response");
        assert_eq!(
            response.status(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    for (i, s) in INJECTIONS.iter().enumerate() {
        let mine = entries[i]["id"].as_str().expect("id").to_owned();
        let admin = i % 2 == 1;

        // Exact match: only the entry that carries the string, with every field intact.
        let (ids, items) = ids_of(
            list(&app, &[("actor_user_id", s)], &app.key, admin).await,
            &format!("actor_user_id={s:?}"),
        )
        .await;
        assert_eq!(ids, BTreeSet::from([mine.clone()]), "actor_user_id={s:?}");
        let stored = &items[0];
        for field in [
            "error",
            "meta_http_request_id",
            "meta_user_agent",
            "actor_user_id",
            "actor_email",
        ] {
            assert_eq!(stored[field], *s, "{field} of {s:?} is stored literally");
        }
        assert_eq!(stored["details"], entries[i]["details"], "details of {s:?}");
        assert_eq!(stored["tenant_id"], app.tenant.to_string());

        // Case-insensitive (ASCII) exact match on the e-mail address.
        let expected: BTreeSet<String> = INJECTIONS
            .iter()
            .enumerate()
            .filter(|(_, t)| fold(t) == fold(s))
            .map(|(j, _)| entries[j]["id"].as_str().expect("id").to_owned())
            .collect();
        let (ids, _) = ids_of(
            list(&app, &[("actor_email", s)], &app.key, admin).await,
            &format!("actor_email={s:?}"),
        )
        .await;
        assert_eq!(ids, expected, "actor_email={s:?}");

        // Substring search: `%`, `_` and `\` are literal characters.
        let needle = fold(s);
        let expected: BTreeSet<String> = INJECTIONS
            .iter()
            .enumerate()
            .filter(|(j, t)| {
                let ip = format!("2001:db8::{:x}", j + 1);
                fold(t).contains(&needle) || ip.contains(&needle)
            })
            .map(|(j, _)| entries[j]["id"].as_str().expect("id").to_owned())
            .collect();
        let (ids, _) = ids_of(
            list(&app, &[("q", s)], &app.key, admin).await,
            &format!("q={s:?}"),
        )
        .await;
        assert_eq!(ids, expected, "q={s:?}");
    }
    assert_eq!(total(&app, &app.key).await, INJECTIONS.len() as u64);
});

backend_test!(injection_strings_in_validated_parameters_are_400, |app| {
    for (i, s) in INJECTIONS.iter().enumerate() {
        let admin = i % 2 == 0;
        for parameter in [
            "page",
            "per_page",
            "start_time",
            "end_time",
            "type",
            "meta_source_ip",
            "cursor",
        ] {
            let response = list(&app, &[(parameter, s)], &app.key, admin).await;
            let what = format!("{parameter}={s:?}");
            let message = expect_error(response, admin, 400, &what).await;
            assert!(
                message.contains(&format!("'{parameter}'")),
                "{what}: {message}"
            );
        }
    }
});

backend_test!(
    injection_strings_in_fields_that_have_a_syntax_are_400,
    |app| {
        for (i, s) in INJECTIONS.iter().enumerate() {
            let admin = i % 2 == 0;
            for field in ["id", "type", "meta_source_ip", "created_at", "tenant_id"] {
                let mut body = injected_entry(i, "x");
                body[field] = json!(s);
                let op = Op { post: true, admin };
                let what = format!("{field}={s:?}");
                let message = expect_error(
                    call(&app, op, Presented::Native(&app.key), &body).await,
                    admin,
                    400,
                    &what,
                )
                .await;
                assert!(message.contains(field), "{what}: {message}");
            }
        }
        assert_eq!(total(&app, &app.key).await, 0, "nothing refused was stored");
    }
);

backend_test!(
    injection_strings_in_the_path_and_key_headers_are_refused,
    |app| {
        for s in INJECTIONS {
            let segment: String = form_urlencoded_path(s);
            let response = app
                .client
                .get(format!("{}/{segment}/audit_logs", app.base))
                .header("apiKey", &app.key)
                .send()
                .await
                .expect("response");
            let status = response.status().as_u16();
            assert!(
                status == 400 || status == 404,
                "tenant_id {s:?} answered {status}"
            );
            if status == 400 {
                let body: Value = response.json().await.expect("json");
                assert!(
                    body["details"]
                        .as_str()
                        .expect("details")
                        .contains("'tenant_id'"),
                    "{body}"
                );
            }
        }
        for s in INJECTIONS {
            // Header values cannot hold CR, LF or other controls; send the rest.
            if s.chars().any(char::is_control) {
                continue;
            }
            let response = app
                .client
                .get(app.passkey_url())
                .header("apiKey", *s)
                .send()
                .await
                .expect("response");
            assert_eq!(response.status(), 401, "apiKey {s:?}");
        }
    }
);

/// Percent-encodes every byte that is not unreserved, so the string is one path segment.
fn form_urlencoded_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
