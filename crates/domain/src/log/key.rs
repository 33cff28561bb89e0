//! The log's signing key and the verifier keys that check its checkpoints, in the
//! text forms of C2SP signed-note: `PRIVATE+KEY+<name>+<hex id>+<base64>` for the key,
//! `<name>+<hex id>+<base64 of 0x01 || public key>` for a verifier.

use std::{fmt, str::FromStr};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{TryRngCore, rngs::OsRng};

/// The signed-note algorithm byte of Ed25519.
const ED25519: u8 = 0x01;

const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// A key text that was refused. No variant holds any part of a private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key name must be non-empty, without spaces and without `+`.
    #[error("'{0}' is not a key name: it must be non-empty, without spaces or '+'")]
    InvalidName(String),
    /// The text is not in the signed-note key format.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The key is of an algorithm other than Ed25519.
    #[error("unsupported key algorithm {0:#04x}; only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm(u8),
    /// The key id is not the one the name and public key give.
    #[error("the key id {id:08x} does not belong to the key named '{name}'")]
    KeyIdMismatch {
        /// The key's name.
        name: String,
        /// The id the text carries.
        id: u32,
    },
    /// The operating system gave no randomness for a new key.
    #[error("no randomness for a new key: {0}")]
    Randomness(String),
}

/// The Ed25519 key that signs every tenant's checkpoints, named after the log origin.
/// Its `Debug` shows the name and the verifier key, never the secret.
pub struct LogKey {
    name: String,
    signing: SigningKey,
}

impl LogKey {
    /// A new random key named `name` (the log origin).
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| KeyError::Randomness(e.to_string()))?;
        let signing = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Self {
            name: name.to_owned(),
            signing,
        })
    }

    /// Reads the signed-note private key text `PRIVATE+KEY+<name>+<hex id>+<base64 of
    /// 0x01 || 32-byte seed>`, as [`LogKey::to_private_text`] writes it. Surrounding
    /// white space (the newline at the end of a key file) is ignored.
    pub fn from_private_text(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::Malformed(
                "a private key starts with PRIVATE+KEY+",
            ))?;
        let (name, id, key) = split_key_text(rest)?;
        let seed: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::Malformed("an Ed25519 private key has 32 bytes"))?;
        let key = Self {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        };
        if key.key_id() != id {
            return Err(KeyError::KeyIdMismatch { name: key.name, id });
        }
        Ok(key)
    }

    /// The private key text, to keep in the key file. It holds the secret.
    pub fn to_private_text(&self) -> String {
        let mut key = vec![ED25519];
        key.extend_from_slice(self.signing.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64.encode(key)
        )
    }

    /// The key's name: the log origin.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id of the key under its name.
    pub fn key_id(&self) -> u32 {
        self.verifier_key().key_id()
    }

    /// The verifier key under the key's name, to publish.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key: self.signing.verifying_key(),
        }
    }

    /// The signer of notes under `name`: the same key, with the id that name gives.
    pub(crate) fn signer(&self, name: &str) -> Result<NoteSigner<'_>, KeyError> {
        check_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            id: key_id(name, &self.signing.verifying_key()),
            key: &self.signing,
        })
    }
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("name", &self.name)
            .field("verifier_key", &self.verifier_key().to_string())
            .finish_non_exhaustive()
    }
}

/// The public half of a [`LogKey`] under a name, in the text form
/// `<name>+<hex key id>+<base64 of 0x01 || public key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key: VerifyingKey,
}

impl VerifierKey {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id: the first four bytes of SHA-256(name || "\n" || 0x01 || public key).
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.key)
    }

    /// The same public key under another name, such as the origin of one tenant's log.
    pub fn renamed(&self, name: &str) -> Result<Self, KeyError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: self.key,
        })
    }

    /// The verifier of notes: Ed25519 signatures checked strictly.
    pub(crate) fn note_verifier(&self) -> NoteVerifier<'_> {
        NoteVerifier {
            name: &self.name,
            id: self.key_id(),
            key: &self.key,
        }
    }

    /// Checks that `note` carries a valid signature by this key under `name` (only the
    /// public key counts, whatever this key is named).
    pub(crate) fn check_note(&self, note: &signed_note::Note, name: &str) -> Result<(), NoteCheck> {
        let key = self.renamed(name).map_err(NoteCheck::InvalidName)?;
        let (name, id) = (key.name().to_owned(), key.key_id());
        match note.verify(&key.note_verifier()) {
            Ok(_) => Ok(()),
            Err(signed_note::NoteError::InvalidSignature { .. }) => {
                Err(NoteCheck::BadSignature { name, id })
            }
            Err(signed_note::NoteError::UnverifiedNote) => Err(NoteCheck::NotSigned { name, id }),
            Err(_) => Err(NoteCheck::Malformed),
        }
    }
}

/// Why a note's signature was not accepted ([`VerifierKey::check_note`]).
#[derive(Debug)]
pub(crate) enum NoteCheck {
    /// The name cannot name a key.
    InvalidName(KeyError),
    /// No signature by the key.
    NotSigned { name: String, id: u32 },
    /// A signature by the key that does not verify.
    BadSignature { name: String, id: u32 },
    /// The signatures are malformed.
    Malformed,
}

impl LogKey {
    /// `text` as a signed note, signed by this key under `name`; the error says why not.
    pub(crate) fn sign_note(&self, name: &str, text: &str) -> Result<String, SignNoteError> {
        let signer = self.signer(name).map_err(SignNoteError::InvalidName)?;
        let signing = |e: signed_note::NoteError| SignNoteError::Signing(e.to_string());
        let mut note = signed_note::Note::new(text.as_bytes(), &[]).map_err(signing)?;
        note.add_sigs(&[&signer]).map_err(signing)?;
        String::from_utf8(note.to_bytes()).map_err(|e| SignNoteError::Signing(e.to_string()))
    }
}

/// Why a note was not signed ([`LogKey::sign_note`]).
#[derive(Debug)]
pub(crate) enum SignNoteError {
    /// The name cannot name a key.
    InvalidName(KeyError),
    /// Signing failed.
    Signing(String),
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&signed_note::new_ed25519_verifier_key(
            &self.name, &self.key,
        ))
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    /// Reads `<name>+<hex key id>+<base64 of 0x01 || public key>`; surrounding white
    /// space is ignored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, id, key) = split_key_text(text.trim())?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::Malformed("an Ed25519 public key has 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| KeyError::Malformed("not an Ed25519 public key"))?;
        let verifier = Self {
            name: name.to_owned(),
            key,
        };
        if verifier.key_id() != id {
            return Err(KeyError::KeyIdMismatch {
                name: verifier.name,
                id,
            });
        }
        Ok(verifier)
    }
}

/// Splits `<name>+<8 hex digits>+<base64 of 0x01 || key>` into the name, the id and
/// the key bytes after the algorithm byte. The base64 may hold `+`, so the text is
/// split at its first two.
fn split_key_text(text: &str) -> Result<(&str, u32, Vec<u8>), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("expected <name>+<hex id>+<base64 key>"));
    };
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Malformed("the key id is not 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16)
        .map_err(|_| KeyError::Malformed("the key id is not 8 hex digits"))?;
    let mut key = BASE64
        .decode(key)
        .map_err(|_| KeyError::Malformed("the key is not standard base64"))?;
    match key.first() {
        Some(&ED25519) => Ok((name, id, key.split_off(1))),
        Some(&other) => Err(KeyError::UnsupportedAlgorithm(other)),
        None => Err(KeyError::Malformed("the key is empty")),
    }
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if signed_note::is_key_name_valid(name) {
        Ok(())
    } else {
        Err(KeyError::InvalidName(crate::text::excerpt(name)))
    }
}

fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut encoded = vec![ED25519];
    encoded.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// Signs notes under one name with the log key.
pub(crate) struct NoteSigner<'a> {
    name: String,
    id: u32,
    key: &'a SigningKey,
}

impl fmt::Debug for NoteSigner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.try_sign(msg)?.to_bytes().to_vec())
    }
}

/// Checks the signatures of one name and key id, and knows no other key: a note's
/// signatures by other keys are ignored, as signed-note requires.
#[derive(Debug)]
pub(crate) struct NoteVerifier<'a> {
    name: &'a str,
    id: u32,
    key: &'a VerifyingKey,
}

impl signed_note::Verifier for NoteVerifier<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|sig| self.key.verify_strict(msg, &sig).is_ok())
    }
}

impl signed_note::Verifiers for NoteVerifier<'_> {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> Result<&dyn signed_note::Verifier, signed_note::VerificationError> {
        if name == self.name && id == self.id {
            Ok(self)
        } else {
            Err(signed_note::VerificationError::UnknownKey {
                name: name.to_owned(),
                id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use signed_note::Note;

    use super::*;

    // The example key of Go's golang.org/x/mod/sumdb/note, whose signature of TEXT
    // is known.
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const SIGNED: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn reads_and_writes_the_signed_note_key_texts() {
        let key = LogKey::from_private_text(&format!("{SKEY}\n")).expect("key");
        assert_eq!(key.name(), "PeterNeumann");
        assert_eq!(key.key_id(), 0xc74f20a3);
        assert_eq!(key.to_private_text(), SKEY);
        assert_eq!(key.verifier_key().to_string(), VKEY);
        let verifier: VerifierKey = VKEY.parse().expect("verifier");
        assert_eq!(verifier, key.verifier_key());
        assert_eq!(verifier.key_id(), 0xc74f20a3);
    }

    #[test]
    fn signs_as_go_sumdb_note_does() {
        let key = LogKey::from_private_text(SKEY).expect("key");
        let signer = key.signer(key.name()).expect("signer");
        let mut note = Note::new(TEXT.as_bytes(), &[]).expect("note");
        note.add_sigs(&[&signer]).expect("signs");
        assert_eq!(note.to_bytes(), SIGNED.as_bytes());
        let verifier: VerifierKey = VKEY.parse().expect("verifier");
        let opened = Note::from_bytes(SIGNED.as_bytes()).expect("note");
        assert!(opened.verify(&verifier.note_verifier()).is_ok());
        let forged = SIGNED.replacen("problem,", "problem!", 1);
        let forged = Note::from_bytes(forged.as_bytes()).expect("note");
        assert!(forged.verify(&verifier.note_verifier()).is_err());
    }

    #[test]
    fn a_generated_key_round_trips_and_debug_hides_the_secret() {
        let key = LogKey::generate("auditlog").expect("key");
        let text = key.to_private_text();
        assert!(text.starts_with(&format!("PRIVATE+KEY+auditlog+{:08x}+", key.key_id())));
        let again = LogKey::from_private_text(&text).expect("reads back");
        assert_eq!(again.verifier_key(), key.verifier_key());
        // The key's base64 may itself hold '+', so take what follows the
        // fixed prefix rather than splitting at the last '+'.
        let prefix = format!("PRIVATE+KEY+auditlog+{:08x}+", key.key_id());
        let secret = text.strip_prefix(&prefix).expect("prefix");
        let debug = format!("{key:?}");
        assert!(debug.contains("auditlog"), "{debug}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(!debug.contains(&secret[..16]), "{debug}");
        assert_ne!(
            LogKey::generate("auditlog").expect("key").verifier_key(),
            key.verifier_key()
        );
    }

    #[test]
    fn renaming_keeps_the_key_and_changes_the_id() {
        let verifier: VerifierKey = VKEY.parse().expect("verifier");
        let tenant = verifier.renamed("PeterNeumann/t1").expect("renamed");
        assert_ne!(tenant.key_id(), verifier.key_id());
        let again: VerifierKey = tenant.to_string().parse().expect("reads back");
        assert_eq!(again, tenant);
        assert!(verifier.renamed("has space").is_err());
    }

    #[test]
    fn refuses_malformed_keys() {
        let wrong_id = SKEY.replace("c74f20a3", "c74f20a4");
        assert_eq!(
            LogKey::from_private_text(&wrong_id)
                .expect_err("id")
                .to_string(),
            "the key id c74f20a4 does not belong to the key named 'PeterNeumann'"
        );
        assert!(matches!(
            VKEY.replace("PeterNeumann", "Peter").parse::<VerifierKey>(),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        for bad in [
            "",
            "PRIVATE+KEY+",
            "PRIVATE+KEY+name+c74f20a3",
            "PRIVATE+KEY+name+c74f20+AYEK",
            "PRIVATE+KEY+name+c74f20a3+!!!!",
            "PRIVATE+KEY+name+c74f20a3+AQID",
            "PRIVATE+KEY+bad name+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        ] {
            let err = LogKey::from_private_text(bad).expect_err(bad);
            assert!(!err.to_string().contains("AYEK"), "{err}");
        }
        assert!(
            VKEY.strip_prefix("PeterNeumann+")
                .expect("prefix")
                .parse::<VerifierKey>()
                .is_err()
        );
        // The algorithm byte 0x02 (base64 "Ag...") is not Ed25519.
        assert_eq!(
            "n+00000000+AgAA".parse::<VerifierKey>(),
            Err(KeyError::UnsupportedAlgorithm(2))
        );
        assert!(matches!(
            LogKey::generate("a+b"),
            Err(KeyError::InvalidName(_))
        ));
    }
}
