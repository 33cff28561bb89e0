//! `q`, the substring search, and all filters together.

use auditlog_domain::{AuditLogStore, AuditLogType};
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

/// Fragments of addresses, with separators anywhere in them (the ones after a separator
/// are found through the addresses' suffixes on PostgreSQL), match exactly the entries
/// whose address text contains them, for addresses stored by the first batch and by
/// later ones alike.
pub async fn q_finds_every_address_that_contains_a_fragment(store: SeaOrmStore) {
    let first = [
        "203.0.192.146",
        "203.0.19.2",
        "10.203.0.192",
        "192.168.0.1",
        "2001:db8::1",
        "2001:db8:0:1::8",
        "::ffff:10.0.0.3",
        "fe80::203:0",
    ];
    let later = [
        "1.2.3.4",
        "2001:db8:1::203:0:192",
        "10.0.192.146",
        "0.0.0.0",
    ];
    let entry_at =
        |(i, address): (usize, &&str)| entry(address, &format!("2024-01-01T00:00:{:02}Z", i));
    let (tenant, mut stored) = seed(&store, first.iter().enumerate().map(entry_at).collect()).await;
    let more = store
        .append(
            tenant,
            later
                .iter()
                .enumerate()
                .map(|(i, a)| entry_at((i + first.len(), a)))
                .collect(),
        )
        .await
        .expect("append");
    stored.extend(more);
    for q in [
        "203.0.192.",
        ".0.192.",
        "3.0.19",
        "0.192",
        "0.19",
        "203.0",
        "168.0.1",
        "2001:db8:",
        ":db8::",
        "db8::1",
        "8::1",
        "::203:0",
        "1::203:0:192",
        ":0:",
        "10.0.0.3",
        "::ffff",
        "0.0.0",
        "2.3.4",
        "99.99.99",
    ] {
        let expected: Vec<usize> = stored
            .iter()
            .enumerate()
            .filter(|(_, e)| e.meta_source_ip.to_string().contains(q))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            matching(&store, tenant, &[("q", q)]).await,
            pick(&stored, &expected),
            "q = {q:?}"
        );
    }
    // The expected answers above are not all empty or all full.
    let some = |q: &str| {
        stored
            .iter()
            .filter(|e| e.meta_source_ip.to_string().contains(q))
            .count()
    };
    assert_eq!((some(".0.192."), some("8::1"), some("::ffff")), (2, 1, 0));
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
