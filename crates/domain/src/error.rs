//! The typed errors of the domain. Each names what was refused so that an API can
//! answer with a message a user can act on.

use uuid::Uuid;

/// A query parameter that was refused while building an [`crate::AuditLogFilter`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value '{value}' for parameter '{parameter}': {reason}")]
pub struct FilterError {
    /// The name of the parameter, as the client sent it.
    pub parameter: String,
    /// The refused value, as the client sent it.
    pub value: String,
    /// Why it was refused, and what would be accepted.
    pub reason: String,
}

impl FilterError {
    pub(crate) fn new(parameter: &str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            parameter: parameter.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A field of a submitted entry that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value} for field '{field}': {reason}")]
pub struct EntryError {
    /// The field's name.
    pub field: String,
    /// The refused value, rendered as JSON and shortened when long.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl EntryError {
    /// An error naming `field`, an excerpt of the value sent and why it was refused.
    pub fn new(field: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// What a store can answer instead of a result.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An entry of a batch is invalid; nothing of the batch was stored.
    #[error("entry {index}: {source}")]
    InvalidEntry {
        /// The entry's position in the batch, from 0.
        index: usize,
        /// What was wrong with it.
        source: EntryError,
    },
    /// An id is already stored with other content, or given twice in one batch with
    /// different content. Nothing of the batch was stored.
    #[error("{}", conflict_message(*.id, *.index, *.other_index))]
    Conflict {
        /// The conflicting id.
        id: Uuid,
        /// The entry's position in the batch.
        index: usize,
        /// The other position in the same batch, when the conflict is inside the batch.
        other_index: Option<usize>,
    },
    /// The database cannot be reached or refused to answer; the request may succeed later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else the backend reported.
    #[error("storage error: {0}")]
    Backend(String),
}

fn conflict_message(id: Uuid, index: usize, other_index: Option<usize>) -> String {
    match other_index {
        Some(other) => {
            format!("entries {other} and {index} have the same id {id} but different content")
        }
        None => format!("entry {index}: id {id} is already stored with different content"),
    }
}
