//! The log signing key of the real binary: made owner-only on first start, published
//! the same by `GET /log-key` and `auditlog log-key`, used by `serve` to sign each
//! tenant's checkpoints, and refused, by name, when others may read it.

mod common;

use std::{os::unix::fs::PermissionsExt, path::Path, process::Output, time::Duration};

use auditlog_domain::{
    DEFAULT_TENANT_ID,
    log::{Checkpoint, VerifierKey, tenant_origin},
};
use common::{KEY, Server, batch, client};

/// Runs `auditlog args...` with the key file `key_file` and `env`.
fn auditlog(args: &[&str], key_file: &Path, env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .args(args)
        .env("AUDITLOG_SIGNING_KEY_FILE", key_file)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn serve_makes_an_owner_only_key_and_signs_with_what_it_publishes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("signing.key");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let key_env = key_file.display().to_string();
    let env = [
        ("AUDITLOG_SIGNING_KEY_FILE", key_env.as_str()),
        ("AUDITLOG_PUBLIC_URL", "https://Audit.Example.com:8443/"),
    ];
    let server = Server::start(&db, &env).await;
    let mode = std::fs::metadata(&key_file)
        .expect("the key file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "owner-only: {mode:o}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listed")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("signing"))
        .collect();
    assert_eq!(names, ["signing.key"], "no temporary file is left");

    let http = client();
    let served = http
        .get(format!("{}/log-key", server.base))
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("text");
    let printed = auditlog(
        &["log-key"],
        &key_file,
        &[("AUDITLOG_PUBLIC_URL", "https://Audit.Example.com:8443/")],
    );
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(String::from_utf8_lossy(&printed.stdout), served);
    let key: VerifierKey = served.parse().expect("a verifier key");
    assert_eq!(key.name(), "audit.example.com", "the public URL's host");
    let secret = std::fs::read_to_string(&key_file).expect("the key file");
    assert!(!served.contains(secret.trim()));

    // `serve` runs the integrator: a recorded entry joins a checkpoint signed by the key.
    let (_, entries) = batch(3, "log-key");
    let response = http
        .post(server.admin_url())
        .bearer_auth(KEY)
        .json(&entries)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 201);
    let origin = tenant_origin(key.name(), DEFAULT_TENANT_ID);
    let mut size = 0;
    for _ in 0..300 {
        let response = http
            .get(format!("{}/checkpoint", server.admin_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("a response");
        if response.status() == 200 {
            let note = response.text().await.expect("the note");
            size = Checkpoint::open(&note, &key, &origin)
                .expect("signed by the published key")
                .size();
            if size >= 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(size, 3);
    server.kill().await;

    // A second start keeps the key.
    let again = auditlog(
        &["log-key"],
        &key_file,
        &[("AUDITLOG_LOG_ORIGIN", "audit.example.com")],
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), served);
}

#[test]
fn a_key_file_that_others_may_read_stops_the_start_and_is_never_shown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("signing.key");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let made = auditlog(
        &["log-key"],
        &key_file,
        &[("AUDITLOG_LOG_ORIGIN", "log.example")],
    );
    assert!(made.status.success(), "{made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).starts_with("log.example+"));
    let secret = std::fs::read_to_string(&key_file).expect("the key file");
    // `PRIVATE+KEY+<name>+<key id>+<base64>`; the base64 may itself hold `+`.
    let secret = secret
        .trim()
        .splitn(5, '+')
        .nth(4)
        .expect("the key's base64");
    assert!(secret.len() >= 40, "{secret}");

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for args in [&["serve"][..], &["log-key"][..]] {
        let refused = auditlog(
            args,
            &key_file,
            &[
                ("AUDITLOG_DATABASE_URL", db.as_str()),
                ("AUDITLOG_LISTEN", "127.0.0.1:0"),
            ],
        );
        assert!(!refused.status.success(), "{args:?} refused");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&key_file.display().to_string()) && stderr.contains("chmod 600"),
            "{stderr}"
        );
        assert!(!stderr.contains(secret), "{stderr}");
        assert!(refused.stdout.is_empty());
    }

    std::fs::write(&key_file, "zzqx-garbage").expect("written");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let refused = auditlog(&["log-key"], &key_file, &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&key_file.display().to_string()), "{stderr}");
    assert!(!stderr.contains("zzqx-garbage"), "{stderr}");
}
