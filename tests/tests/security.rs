//! Security: every endpoint against every kind of bad key (`keys`); injection strings in
//! every parameter and field, stored and matched literally (`injection`); oversized
//! headers, URLs and bodies, NUL characters and the document's bounds (`limits`); clients
//! that send slowly (`slow`); the headers every answer carries (`hygiene`). Each answer is checked in its variant's error shape, and
//! nothing refused is ever stored. The helpers here are shared by the modules.

use std::{collections::BTreeSet, time::Duration};

use auditlog_domain::{ApiKeySecret, KeyStore};
use auditlog_http::HttpConfig;
use auditlog_tests::{Backend, TestApp, TestDatabase, backend_test, client::*};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use uuid::Uuid;

#[path = "security/hygiene.rs"]
mod hygiene;
#[path = "security/injection.rs"]
mod injection;
#[path = "security/keys.rs"]
mod keys;
#[path = "security/limits.rs"]
mod limits;
#[path = "security/slow.rs"]
mod slow;

/// One of the four API operations.
#[derive(Debug, Clone, Copy)]
struct Op {
    post: bool,
    admin: bool,
}

const OPS: [Op; 4] = [
    Op {
        post: false,
        admin: false,
    },
    Op {
        post: true,
        admin: false,
    },
    Op {
        post: false,
        admin: true,
    },
    Op {
        post: true,
        admin: true,
    },
];

/// How a request presents its key.
#[derive(Debug, Clone, Copy)]
enum Presented<'a> {
    None,
    /// `apiKey` on the passkey server, bearer on the admin API.
    Native(&'a str),
    /// The other variant's header: bearer on the passkey server, `apiKey` on the admin
    /// API. Both variants take either, so that one key works wherever it is sent.
    Other(&'a str),
}

impl<'a> Presented<'a> {
    /// `secret` in each of the two headers.
    fn both_ways(secret: &'a str) -> [Self; 2] {
        [Presented::Native(secret), Presented::Other(secret)]
    }
}

async fn call(app: &TestApp, op: Op, key: Presented<'_>, body: &Value) -> reqwest::Response {
    let url = if op.admin {
        app.admin_url()
    } else {
        app.passkey_url()
    };
    let mut request = if op.post {
        app.client.post(url).json(body)
    } else {
        app.client.get(url)
    };
    let bearer = match key {
        Presented::None => return request.send().await.expect("a response"),
        Presented::Native(_) => op.admin,
        Presented::Other(_) => !op.admin,
    };
    if let Presented::Native(secret) | Presented::Other(secret) = key {
        request = if bearer {
            request.bearer_auth(secret)
        } else {
            request.header("apiKey", secret)
        };
    }
    request.send().await.expect("a response")
}

/// Asserts the status and the variant's error shape, and returns the message.
async fn expect_error(response: reqwest::Response, admin: bool, status: u16, what: &str) -> String {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        header(&response, "content-type"),
        "application/json",
        "{what}"
    );
    let body: Value = response.json().await.expect("a JSON error");
    if admin {
        assert_eq!(body["code"], status, "{what}: {body}");
        assert!(body.get("title").is_none(), "{what}: {body}");
        body["message"].as_str().expect("message").to_owned()
    } else {
        assert_eq!(body["status"], status, "{what}: {body}");
        assert!(body.get("code").is_none(), "{what}: {body}");
        body["details"].as_str().expect("details").to_owned()
    }
}

async fn total(app: &TestApp, key: &str) -> u64 {
    header(&get_admin(app, "per_page=1", key).await, "x-total-count")
        .parse()
        .expect("a count")
}

async fn list(app: &TestApp, pairs: &[(&str, &str)], key: &str, admin: bool) -> reqwest::Response {
    let request = if admin {
        app.client.get(app.admin_url()).bearer_auth(key)
    } else {
        app.client.get(app.passkey_url()).header("apiKey", key)
    };
    request.query(pairs).send().await.expect("a response")
}

async fn ids_of(response: reqwest::Response, what: &str) -> (BTreeSet<String>, Vec<Value>) {
    assert_eq!(response.status(), 200, "{what}");
    let count: usize = header(&response, "x-total-count").parse().expect("a count");
    let items: Vec<Value> = response.json().await.expect("json");
    assert_eq!(count, items.len(), "{what}: one page holds every match");
    let ids = items
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, items)
}

/// The service still answers a plain list request.
async fn still_serves(app: &TestApp) {
    let response = get_passkey(app, "", &app.key).await;
    assert_eq!(response.status(), 200, "the service still serves");
}
