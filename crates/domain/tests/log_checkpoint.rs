//! Signed checkpoints: made and opened, and every forgery this crate can build refused.

use auditlog_domain::log::{
    Checkpoint, CheckpointError, DEFAULT_LOG_ORIGIN, Hash, LogKey, MemoryTree, VerifierKey,
    leaf_hash, tenant_origin,
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use uuid::Uuid;

const TENANT: Uuid = uuid::uuid!("3f2a0000-0000-4000-8000-000000000001");
const OTHER_TENANT: Uuid = uuid::uuid!("3f2a0000-0000-4000-8000-000000000002");

fn origin() -> String {
    tenant_origin(DEFAULT_LOG_ORIGIN, TENANT)
}

fn key() -> LogKey {
    LogKey::generate(DEFAULT_LOG_ORIGIN).expect("key")
}

fn head(size: u64) -> Checkpoint {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.push(leaf_hash(&i.to_be_bytes())).expect("push");
    }
    Checkpoint::new(&origin(), size, tree.root().expect("root")).expect("checkpoint")
}

/// Replaces the line `line` (0-based) of a signed note's text.
fn with_line(note: &str, line: usize, text: &str) -> String {
    let mut lines: Vec<&str> = note.split('\n').collect();
    lines[line] = text;
    lines.join("\n")
}

#[test]
fn signs_and_opens_with_the_published_verifier_key() {
    let key = key();
    let published: VerifierKey = key.verifier_key().to_string().parse().expect("vkey");
    assert_eq!(published.name(), "auditlog");
    for size in [0, 1, 7, 1000] {
        let checkpoint = head(size);
        let note = checkpoint.sign(&key).expect("signs");
        let opened = Checkpoint::open(&note, &published, &origin()).expect("opens");
        assert_eq!(opened, checkpoint);
        assert_eq!(opened.size(), size);
    }
}

#[test]
fn the_note_is_a_c2sp_checkpoint_signed_under_its_origin() {
    let key = key();
    let note = Checkpoint::new(&origin(), 0, Hash::EMPTY_ROOT)
        .expect("checkpoint")
        .sign(&key)
        .expect("signs");
    let tenant_key = key.verifier_key().renamed(&origin()).expect("renamed");
    let (text, signature) = note.split_once("\n\n").expect("text and signatures");
    assert_eq!(
        text,
        "auditlog/3f2a0000-0000-4000-8000-000000000001\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    let signature = signature
        .strip_prefix(&format!("— {} ", origin()))
        .and_then(|s| s.strip_suffix('\n'))
        .expect("one signature line named by the origin");
    let signature = base64_decode(signature);
    assert_eq!(signature.len(), 4 + 64);
    assert_eq!(signature[..4], tenant_key.key_id().to_be_bytes());
    // A tenant's own verifier key opens it too.
    let opened = Checkpoint::open(&note, &tenant_key, &origin()).expect("opens");
    assert_eq!(opened.root(), Hash::EMPTY_ROOT);
}

fn base64_decode(text: &str) -> Vec<u8> {
    BASE64.decode(text).expect("base64")
}

#[test]
fn a_forged_signature_is_refused() {
    let key = key();
    let note = head(5).sign(&key).expect("signs");
    let forger = LogKey::generate(DEFAULT_LOG_ORIGIN).expect("key");
    let (text, _) = note.split_once("\n\n").expect("text");
    // A signature by another key, given the id of the log's key.
    let forged = head(5).sign(&forger).expect("signs");
    let (_, forged_signature) = forged.split_once("\n\n").expect("sig");
    let stolen_id = {
        let ours = base64_decode(note.rsplit_once(' ').expect("sig").1.trim_end());
        let theirs = base64_decode(forged_signature.rsplit_once(' ').expect("sig").1.trim_end());
        BASE64.encode([&ours[..4], &theirs[4..]].concat())
    };
    let forged = format!("{text}\n\n— {} {stolen_id}\n", origin());
    let err = Checkpoint::open(&forged, &key.verifier_key(), &origin()).expect_err("forged");
    assert!(matches!(err, CheckpointError::BadSignature { .. }), "{err}");
}

#[test]
fn a_tampered_size_or_root_is_refused() {
    let key = key();
    let note = head(5).sign(&key).expect("signs");
    let root6 = head(6).root().to_base64();
    for tampered in [with_line(&note, 1, "6"), with_line(&note, 2, &root6)] {
        let err =
            Checkpoint::open(&tampered, &key.verifier_key(), &origin()).expect_err("tampered");
        assert!(matches!(err, CheckpointError::BadSignature { .. }), "{err}");
    }
    let not_canonical = with_line(&note, 1, "05");
    assert!(matches!(
        Checkpoint::open(&not_canonical, &key.verifier_key(), &origin()),
        Err(CheckpointError::Malformed(_))
    ));
}

#[test]
fn another_key_is_refused() {
    let note = head(3).sign(&key()).expect("signs");
    let other = key().verifier_key();
    let err = Checkpoint::open(&note, &other, &origin()).expect_err("wrong key");
    assert!(matches!(err, CheckpointError::NotSigned { .. }), "{err}");
    assert!(err.to_string().contains(&origin()), "{err}");
}

#[test]
fn another_tenants_checkpoint_is_refused() {
    let key = key();
    let other_origin = tenant_origin(DEFAULT_LOG_ORIGIN, OTHER_TENANT);
    let note = Checkpoint::new(&other_origin, 3, head(3).root())
        .expect("checkpoint")
        .sign(&key)
        .expect("signs");
    assert_eq!(
        Checkpoint::open(&note, &key.verifier_key(), &origin()),
        Err(CheckpointError::WrongOrigin {
            expected: origin(),
            found: other_origin.clone()
        })
    );
    // Its text relabelled as this tenant's keeps a signature under the other origin.
    let relabelled = note.replacen(&other_origin, &origin(), 1);
    assert!(matches!(
        Checkpoint::open(&relabelled, &key.verifier_key(), &origin()),
        Err(CheckpointError::NotSigned { .. })
    ));
}

#[test]
fn signatures_by_unknown_keys_are_ignored() {
    let key = key();
    let note = head(4).sign(&key).expect("signs");
    let witness = head(4)
        .sign(&LogKey::generate("witness").expect("key"))
        .expect("signs");
    let witness_line = witness.split_once("\n\n").expect("sig").1;
    let witness_line = witness_line.replacen(&origin(), "witness.example", 1);
    let cosigned = format!("{note}{witness_line}");
    assert_eq!(
        Checkpoint::open(&cosigned, &key.verifier_key(), &origin()),
        Ok(head(4))
    );
}

#[test]
fn malformed_notes_and_origins_are_refused() {
    let key = key();
    let vkey = key.verifier_key();
    let note = head(2).sign(&key).expect("signs");
    for bad in [
        "",
        "auditlog/x\n2\n",
        note.split_once("\n\n").expect("text").0,
        &note.replace('—', "-"),
        &note.replacen("\n", "\r\n", 1),
        &with_line(&note, 2, "not base64"),
    ] {
        assert!(
            matches!(
                Checkpoint::open(bad, &vkey, &origin()),
                Err(CheckpointError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
    for origin in ["", "has space", "a+b", "two\nlines"] {
        assert!(matches!(
            Checkpoint::new(origin, 0, Hash::EMPTY_ROOT),
            Err(CheckpointError::InvalidOrigin(_))
        ));
    }
}
