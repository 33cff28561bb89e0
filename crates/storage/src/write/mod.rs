//! The write path: a batch through `append` ([`append`]), many batches through a bulk
//! load ([`bulk`]), each in the store's one write transaction ([`txn`]).

pub(crate) mod append;
pub(crate) mod bulk;
pub(crate) mod txn;

pub use append::append_in;
pub use bulk::{BuildTimes, BulkImport};
