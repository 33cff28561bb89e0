//! The key that signs every tenant's checkpoints: read from its file, or made and
//! written owner-only when the file does not exist yet. Its text never reaches a log
//! line, an answer or an error message; errors name the file only.

use std::{
    fs::File,
    io::{ErrorKind, Read, Write},
    path::Path,
    sync::Arc,
};

use anyhow::{Context, anyhow, bail};
use auditlog_domain::log::{LogKey, VerifierKey};
use auditlog_storage::LogSigner;

use crate::config::LogConfig;

/// A key file is a line of text; anything much longer is not one.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The signer of the checkpoints, and its verifier key named after the log origin (what
/// `/log-key` and `auditlog log-key` publish).
pub fn signer(config: &LogConfig) -> anyhow::Result<(LogSigner, VerifierKey)> {
    let key = load_or_create(&config.key_file, &config.origin)?;
    let verifier = key.verifier_key().renamed(&config.origin).map_err(|err| {
        anyhow!(
            "AUDITLOG_LOG_ORIGIN={:?} cannot name the log: {err}",
            config.origin
        )
    })?;
    let signer = LogSigner {
        key: Arc::new(key),
        origin: config.origin.clone(),
    };
    Ok((signer, verifier))
}

/// The signer of the key file that exists, for tools that sign with the log's key and
/// must not make one.
pub fn existing_signer(config: &LogConfig) -> anyhow::Result<LogSigner> {
    let key = read(&config.key_file)?.ok_or_else(|| {
        anyhow!(
            "the log signing key file {} does not exist",
            config.key_file.display()
        )
    })?;
    Ok(LogSigner {
        key: Arc::new(key),
        origin: config.origin.clone(),
    })
}

/// The verifier key of the key file that exists (named after the log origin), for
/// tools that check the log and must not make a key.
pub fn existing_verifier(config: &LogConfig) -> anyhow::Result<VerifierKey> {
    existing_signer(config)?
        .key
        .verifier_key()
        .renamed(&config.origin)
        .map_err(|err| {
            anyhow!(
                "AUDITLOG_LOG_ORIGIN={:?} cannot name the log: {err}",
                config.origin
            )
        })
}

/// The key in `path`; a new one named `origin`, written to `path`, when there is none.
fn load_or_create(path: &Path, origin: &str) -> anyhow::Result<LogKey> {
    match read(path)? {
        Some(key) => Ok(key),
        None => create(path, origin),
    }
}

/// The key in `path`, or `None` when the file does not exist. A file that others may
/// read or change is refused: the key would no longer be the log's alone.
fn read(path: &Path) -> anyhow::Result<Option<LogKey>> {
    let shown = path.display();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => bail!("cannot open the log signing key file {shown}: {err}"),
    };
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot read the log signing key file {shown}"))?;
    if !metadata.is_file() {
        bail!("the log signing key file {shown} is not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the log signing key file {shown} is open to other users (mode {mode:04o}); \
                 make it owner-only with `chmod 600 {shown}`, and replace the key if others \
                 may have read it"
            );
        }
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the log signing key file {shown}"))?;
    LogKey::from_private_text(&text).map(Some).map_err(|err| {
        anyhow!("the log signing key file {shown} does not hold a signed-note Ed25519 private key: {err}")
    })
}

/// Makes a key named `origin` and writes it to `path`, owner-only from the start: it is
/// written to a temporary file of mode 0600 beside `path`, which then takes its name
/// unless another process made the file meanwhile (whose key is then used).
fn create(path: &Path, origin: &str) -> anyhow::Result<LogKey> {
    let shown = path.display();
    let key = LogKey::generate(origin).map_err(|err| {
        anyhow!("AUDITLOG_LOG_ORIGIN={origin:?} cannot name the log signing key: {err}")
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".auditlog-signing-key-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create the log signing key file {shown}"))?;
    temp.write_all(format!("{}\n", key.to_private_text()).as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write the log signing key file {shown}"))?;
    match temp.persist_noclobber(path) {
        Ok(_) => {}
        Err(err) if err.error.kind() == ErrorKind::AlreadyExists => {
            return read(path)?
                .ok_or_else(|| anyhow!("the log signing key file {shown} vanished while read"));
        }
        Err(err) => {
            return Err(err.error)
                .with_context(|| format!("cannot create the log signing key file {shown}"));
        }
    }
    // The new name must survive a crash too, or the next start signs with another key.
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("cannot create the log signing key file {shown}"))?;
    tracing::info!(
        file = %shown,
        verifier_key = %key.verifier_key(),
        "created a new log signing key; keep the file, and a copy of it somewhere safe"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_and_refused_once_others_may_read_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("signing.key");
        let made = load_or_create(&path, "log.example").expect("a new key");
        let again = load_or_create(&path, "other.example").expect("the same key");
        assert_eq!(made.verifier_key(), again.verifier_key());
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .expect("listed")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(entries, ["signing.key"], "no temporary file is left");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            for open in [0o640, 0o604, 0o620] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open))
                    .expect("chmod");
                let err = load_or_create(&path, "log.example").expect_err("refused");
                let err = format!("{err:#}");
                assert!(err.contains(&path.display().to_string()), "{err}");
                assert!(!err.contains("PRIVATE"), "{err}");
            }
        }
    }

    #[test]
    fn an_origin_that_cannot_name_a_key_is_refused_before_a_file_is_made() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("signing.key");
        let err = load_or_create(&path, "two words").expect_err("refused");
        assert!(
            format!("{err:#}").contains("AUDITLOG_LOG_ORIGIN"),
            "{err:#}"
        );
        assert!(!path.exists());
    }
}
