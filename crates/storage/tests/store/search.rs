//! `q`, the substring search, and all filters together.

use auditlog_domain::AuditLogType;
use auditlog_storage::SeaOrmStore;

use crate::{
    common::entry,
    filters::{matching, pick, seed, with_type, with_user},
};

pub async fn q_searches_ip_user_and_email(store: SeaOrmStore) {
    let entries = vec![
        with_user(entry("10.20.30.40", "2024-01-01T00:00:00Z"), None, None),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            Some("user-2030"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            None,
            Some("x2030@example.com"),
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:03Z"),
            Some("other"),
            Some("other@example.com"),
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("q", "2030")]).await,
        pick(&stored, &[1, 2])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "20.30")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "example")]).await,
        pick(&stored, &[2, 3])
    );
}

pub async fn q_escapes_percent(store: SeaOrmStore) {
    let entries = vec![
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:00Z"),
            Some("50%off"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            Some("50 off"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            None,
            Some("a%b@example.com"),
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("q", "50%")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "%")]).await,
        pick(&stored, &[0, 2])
    );
    assert!(matching(&store, tenant, &[("q", "%%")]).await.is_empty());
}

pub async fn q_escapes_underscore(store: SeaOrmStore) {
    let entries = vec![
        with_user(entry("10.0.0.1", "2024-01-01T00:00:00Z"), Some("a_b"), None),
        with_user(entry("10.0.0.1", "2024-01-01T00:00:01Z"), Some("axb"), None),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            None,
            Some("first_last@example.com"),
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("q", "a_b")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "_")]).await,
        pick(&stored, &[0, 2])
    );
}

pub async fn q_escapes_backslash(store: SeaOrmStore) {
    let entries = vec![
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:00Z"),
            Some(r"dom\user"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            Some("domuser"),
            None,
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("q", r"m\u")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", r"\")]).await,
        pick(&stored, &[0])
    );
}

pub async fn q_folds_ascii_case_only(store: SeaOrmStore) {
    let entries = vec![
        with_user(
            entry("2001:db8::abcd", "2024-01-01T00:00:00Z"),
            Some("MixedCase"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            None,
            Some("Ärger@Example.com"),
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            Some("ärger"),
            None,
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("q", "mixedcase")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "MIXEDCASE")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "DB8::ABCD")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "ÄRGER@EXAMPLE")]).await,
        pick(&stored, &[1])
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "ärger")]).await,
        pick(&stored, &[2]),
        "Ä does not match ä"
    );
    assert_eq!(
        matching(&store, tenant, &[("q", "RGER")]).await,
        pick(&stored, &[1, 2])
    );
}

pub async fn filters_combine(store: SeaOrmStore) {
    let mut entries = Vec::new();
    for (i, (ip, t, user, email)) in [
        (
            "10.1.0.1",
            AuditLogType::LoginSuccess,
            Some("u1"),
            Some("One@Example.com"),
        ),
        (
            "10.1.0.2",
            AuditLogType::LoginFailure,
            Some("u1"),
            Some("one@example.com"),
        ),
        (
            "10.2.0.1",
            AuditLogType::LoginSuccess,
            Some("u1"),
            Some("one@example.com"),
        ),
        (
            "10.1.0.3",
            AuditLogType::LoginSuccess,
            Some("u2"),
            Some("one@example.com"),
        ),
        (
            "10.1.0.4",
            AuditLogType::LoginSuccess,
            Some("u1"),
            Some("two@example.com"),
        ),
        (
            "10.1.0.5",
            AuditLogType::LoginSuccess,
            Some("u1"),
            Some("one@example.com"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let at = if i == 5 {
            "2024-02-01T00:00:00Z".to_owned()
        } else {
            format!("2024-01-01T00:00:0{i}Z")
        };
        entries.push(with_type(with_user(entry(ip, &at), user, email), t));
    }
    let (tenant, stored) = seed(&store, entries).await;
    let all = [
        ("type", "login_success,user_created"),
        ("actor_user_id", "u1"),
        ("actor_email", "ONE@example.com"),
        ("meta_source_ip", "10.1.0.0/16"),
        ("start_time", "2024-01-01T00:00:00Z"),
        ("end_time", "2024-01-31T00:00:00Z"),
        ("q", "10.1"),
    ];
    assert_eq!(matching(&store, tenant, &all).await, pick(&stored, &[0]));
    let without_end: Vec<_> = all
        .iter()
        .copied()
        .filter(|(k, _)| *k != "end_time")
        .collect();
    assert_eq!(
        matching(&store, tenant, &without_end).await,
        pick(&stored, &[0, 5])
    );
    let q_other = [("actor_user_id", "u1"), ("q", "two")];
    assert_eq!(
        matching(&store, tenant, &q_other).await,
        pick(&stored, &[4])
    );
}
