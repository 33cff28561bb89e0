//! Checkpoints: the signed tree heads of C2SP tlog-checkpoint, one log per tenant,
//! each a C2SP signed note with an Ed25519 signature.
//!
//! The signature line carries the checkpoint's origin as its key name, as
//! tlog-checkpoint recommends; one [`LogKey`] signs for every origin, so a tenant's
//! verifier key is the published verifier key [renamed](VerifierKey::renamed) to the
//! tenant's origin.

use signed_note::Note;
use uuid::Uuid;

use super::{
    Hash, KeyError, LogKey, VerifierKey,
    key::{NoteCheck, SignNoteError},
};

/// The log origin when none is configured: the name of the log key, and the start of
/// every tenant's origin.
pub const DEFAULT_LOG_ORIGIN: &str = "auditlog";

/// The origin of a tenant's log: `<log origin>/<tenant id>`.
pub fn tenant_origin(log_origin: &str, tenant_id: Uuid) -> String {
    format!("{log_origin}/{tenant_id}")
}

/// Why a checkpoint was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin cannot name a signed-note key (empty, white space or `+`).
    #[error("invalid origin: {0}")]
    InvalidOrigin(KeyError),
    /// The note or its text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// The checkpoint is of another log.
    #[error("the checkpoint is of the log '{found}', not of '{expected}'")]
    WrongOrigin {
        /// The origin asked for.
        expected: String,
        /// The origin the checkpoint carries.
        found: String,
    },
    /// No signature of the note is by the verifier key.
    #[error("the checkpoint has no signature by the key {name}+{id:08x}")]
    NotSigned {
        /// The name the key was looked for under.
        name: String,
        /// Its key id.
        id: u32,
    },
    /// A signature by the verifier key does not verify: the note was altered or forged.
    #[error("the signature by the key {name}+{id:08x} does not verify")]
    BadSignature {
        /// The key's name.
        name: String,
        /// Its key id.
        id: u32,
    },
    /// Signing failed.
    #[error("could not sign the checkpoint: {0}")]
    Signing(String),
}

/// A tree head: the origin of a log, its size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

impl Checkpoint {
    /// The head of the log `origin` at `size` leaves with root `root`. The origin must
    /// be able to name a signed-note key: non-empty, no white space, no `+`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::InvalidOrigin(KeyError::InvalidName(
                crate::text::excerpt(origin),
            )));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash at that size.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn text(&self) -> Result<String, CheckpointError> {
        let body = tlog_tiles::Checkpoint::new(&self.origin, self.size, self.root.into(), "")
            .map_err(|_| CheckpointError::Malformed("the origin is empty"))?;
        String::from_utf8(body.to_bytes())
            .map_err(|_| CheckpointError::Malformed("the text is not UTF-8"))
    }

    /// The signed note of the checkpoint, signed by `key` under the checkpoint's origin.
    pub fn sign(&self, key: &LogKey) -> Result<String, CheckpointError> {
        key.sign_note(&self.origin, &self.text()?)
            .map_err(|err| match err {
                SignNoteError::InvalidName(err) => CheckpointError::InvalidOrigin(err),
                SignNoteError::Signing(err) => CheckpointError::Signing(err),
            })
    }

    /// Opens the signed checkpoint `note` of the log `origin`: the note must be well
    /// formed, its text a checkpoint of `origin`, and it must carry a valid signature by
    /// `key` under the name `origin` (`key` may be named after the log origin or after
    /// `origin`; only its public key counts). Signatures by other keys are ignored, as
    /// signed-note requires, and so are extension lines, which auditlog never writes.
    pub fn open(note: &str, key: &VerifierKey, origin: &str) -> Result<Self, CheckpointError> {
        let note = Note::from_bytes(note.as_bytes())
            .map_err(|_| CheckpointError::Malformed("not a signed note"))?;
        let body = tlog_tiles::Checkpoint::from_bytes(note.text())
            .map_err(|_| CheckpointError::Malformed("the note's text is not a checkpoint"))?;
        if body.origin() != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.to_owned(),
                found: crate::text::excerpt(body.origin()),
            });
        }
        key.check_note(&note, origin).map_err(|check| match check {
            NoteCheck::InvalidName(err) => CheckpointError::InvalidOrigin(err),
            NoteCheck::NotSigned { name, id } => CheckpointError::NotSigned { name, id },
            NoteCheck::BadSignature { name, id } => CheckpointError::BadSignature { name, id },
            NoteCheck::Malformed => CheckpointError::Malformed("the signatures are malformed"),
        })?;
        Ok(Self {
            origin: origin.to_owned(),
            size: body.size(),
            root: (*body.hash()).into(),
        })
    }
}
