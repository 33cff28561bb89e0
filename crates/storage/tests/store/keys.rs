//! Tenants and API keys.

use auditlog_domain::{ApiKeySecret, KeyStore, NewApiKey, Scopes};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

fn new_key(tenant_id: Uuid, name: &str, scopes: Scopes, secret: &ApiKeySecret) -> NewApiKey {
    NewApiKey {
        tenant_id,
        name: name.to_owned(),
        scopes,
        secret: secret.clone(),
        expires_at: None,
    }
}

pub async fn tenants_are_created_once(store: SeaOrmStore) {
    assert!(store.tenants().await.expect("tenants").is_empty());
    let id = Uuid::new_v4();
    let first = store.ensure_tenant(id, "Acme").await.expect("create");
    assert_eq!((first.id, first.name.as_str()), (id, "Acme"));
    let again = store.ensure_tenant(id, "Other name").await.expect("exists");
    assert_eq!(again, first, "an existing tenant is returned unchanged");
    let second = store
        .ensure_tenant(Uuid::new_v4(), "Beta")
        .await
        .expect("create");
    let all = store.tenants().await.expect("tenants");
    assert_eq!(all.len(), 2);
    assert!(all.contains(&first) && all.contains(&second));
}

pub async fn keys_register_find_list_revoke(store: SeaOrmStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let secret = ApiKeySecret::generate();
    let key = store
        .register_key(new_key(
            a,
            "ci",
            Scopes {
                read: true,
                write: false,
                access_log: true,
            },
            &secret,
        ))
        .await
        .expect("register");
    assert_eq!(key.tenant_id, a);
    assert_eq!(key.name, "ci");
    assert_eq!(key.hash, secret.hash());
    assert_eq!(key.prefix, secret.display_prefix());
    assert_eq!(
        key.scopes,
        Scopes {
            read: true,
            write: false,
            access_log: true,
        },
        "the scopes read back as registered"
    );
    assert!(key.is_active());

    let other = store
        .register_key(new_key(b, "b", Scopes::ALL, &ApiKeySecret::generate()))
        .await
        .expect("register");
    let third = store
        .register_key(new_key(
            a,
            "w",
            Scopes {
                read: false,
                write: true,
                access_log: false,
            },
            &ApiKeySecret::generate(),
        ))
        .await
        .expect("register");

    assert_eq!(
        store.find_key(&secret.hash()).await.expect("find"),
        Some(key.clone())
    );
    assert_eq!(
        store
            .find_key(&ApiKeySecret::generate().hash())
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        store.keys(Some(a)).await.expect("keys"),
        vec![key.clone(), third.clone()]
    );
    assert_eq!(
        store.keys(Some(b)).await.expect("keys"),
        vec![other.clone()]
    );
    assert_eq!(store.keys(None).await.expect("keys").len(), 3);
    assert!(
        store
            .keys(Some(Uuid::new_v4()))
            .await
            .expect("keys")
            .is_empty()
    );

    assert!(store.revoke_key(key.id).await.expect("revoke"));
    let revoked = store
        .find_key(&secret.hash())
        .await
        .expect("find")
        .expect("still there");
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert!(!revoked.is_active());
    assert_eq!(revoked.created_at, key.created_at);
    assert!(
        store.revoke_key(key.id).await.expect("revoke again"),
        "the key exists"
    );
    let again = store
        .find_key(&secret.hash())
        .await
        .expect("find")
        .expect("still there");
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "the first revocation time stays"
    );
    assert!(
        !store
            .revoke_key(Uuid::new_v4())
            .await
            .expect("revoke unknown")
    );
    assert!(
        store
            .find_key(&other.hash)
            .await
            .expect("find")
            .expect("other")
            .is_active()
    );
}

pub async fn registering_an_existing_secret_returns_the_stored_key(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let secret = ApiKeySecret::from_operator("bootstrap-secret-0123456789").expect("long enough");
    let first = store
        .register_key(new_key(tenant, "bootstrap", Scopes::ALL, &secret))
        .await
        .expect("register");
    let again = store
        .register_key(new_key(
            Uuid::new_v4(),
            "renamed",
            Scopes {
                read: true,
                write: false,
                access_log: false,
            },
            &secret,
        ))
        .await
        .expect("register again");
    assert_eq!(again, first, "unchanged");
    assert!(store.revoke_key(first.id).await.expect("revoke"));
    let revoked = store
        .register_key(new_key(tenant, "bootstrap", Scopes::ALL, &secret))
        .await
        .expect("register");
    assert_eq!(revoked.id, first.id);
    assert!(revoked.revoked_at.is_some(), "a revoked key stays revoked");
    assert_eq!(store.keys(None).await.expect("keys").len(), 1);
}

pub async fn chosen_secrets_listed_by_their_first_characters_are_listed_by_hash_after_migrating(
    store: SeaOrmStore,
) {
    use auditlog_migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};

    let tenant = Uuid::new_v4();
    let generated = ApiKeySecret::generate();
    let chosen = ApiKeySecret::from_operator("bootstrap-secret-0123456789").expect("long enough");
    let generated_key = store
        .register_key(new_key(tenant, "generated", Scopes::ALL, &generated))
        .await
        .expect("register");
    let chosen_key = store
        .register_key(new_key(tenant, "bootstrap", Scopes::ALL, &chosen))
        .await
        .expect("register");
    // A chosen secret that began like a hash prefix was stored so too.
    let lookalike = ApiKeySecret::from_operator("sha256:secret-0123456789").expect("long enough");
    let lookalike_key = store
        .register_key(new_key(tenant, "lookalike", Scopes::ALL, &lookalike))
        .await
        .expect("register");
    assert_eq!(chosen_key.prefix, "chosen");

    // As an earlier version stored it: the chosen secret's first 12 characters.
    let conn = store.connection();
    let backend = conn.get_database_backend();
    let placeholders = match backend {
        sea_orm::DbBackend::Postgres => "UPDATE api_keys SET prefix = $1 WHERE id = $2",
        _ => "UPDATE api_keys SET prefix = ? WHERE id = ?",
    };
    for (old, id) in [
        ("bootstrap-se", chosen_key.id),
        ("sha256:secre", lookalike_key.id),
    ] {
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            placeholders,
            [old.into(), id.into()],
        ))
        .await
        .expect("store the old prefix");
    }

    // The prefixes' step and every one after it.
    let steps = Migrator::migrations()
        .iter()
        .rev()
        .take_while(|step| step.name() != "m20260106_000001_operator_key_prefixes")
        .count()
        + 1;
    Migrator::down(conn, Some(steps as u32))
        .await
        .expect("down to before the prefixes' step");
    Migrator::up(conn, None).await.expect("up again");

    let listed = store.keys(Some(tenant)).await.expect("keys");
    let prefix_of = |id: Uuid| {
        listed
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.prefix.clone())
            .expect("listed")
    };
    assert_eq!(prefix_of(chosen_key.id), chosen.display_prefix());
    assert!(!prefix_of(chosen_key.id).contains("boot"));
    assert_eq!(prefix_of(lookalike_key.id), lookalike.display_prefix());
    assert_eq!(prefix_of(generated_key.id), generated.expose()[..12]);
    // The key still authenticates.
    let found = store.find_key(&chosen.hash()).await.expect("find");
    assert_eq!(found.map(|k| k.id), Some(chosen_key.id));
}

pub async fn a_keys_use_is_written_at_most_once_a_minute(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    store.ensure_tenant(tenant, "t").await.expect("tenant");
    let secret = ApiKeySecret::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let key = store
        .register_key(NewApiKey {
            expires_at: Some(expires),
            ..new_key(tenant, "k", Scopes::ALL, &secret)
        })
        .await
        .expect("register");
    assert_eq!(key.last_used_at, None);
    assert_eq!(
        key.expires_at.map(|at| at.unix_timestamp()),
        Some(expires.unix_timestamp())
    );
    let last_used = || async {
        store
            .find_key(&secret.hash())
            .await
            .expect("find")
            .expect("key")
            .last_used_at
    };
    let t0 = time::macros::datetime!(2026-12-01 10:00:00 UTC);
    store.note_key_used(key.id, t0).await.expect("use");
    assert_eq!(last_used().await, Some(t0));
    // Within the minute: nothing is written, whoever asks.
    store
        .note_key_used(key.id, t0 + time::Duration::seconds(59))
        .await
        .expect("use");
    assert_eq!(last_used().await, Some(t0));
    let t1 = t0 + time::Duration::seconds(60);
    store.note_key_used(key.id, t1).await.expect("use");
    assert_eq!(last_used().await, Some(t1));
    // An unknown key is no error and changes nothing.
    store
        .note_key_used(Uuid::new_v4(), t1 + time::Duration::hours(1))
        .await
        .expect("unknown key");
    assert_eq!(last_used().await, Some(t1));
}
