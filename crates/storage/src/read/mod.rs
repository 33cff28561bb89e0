//! The read path: the filter as one SQL condition ([`condition`]), the page it asks
//! for ([`list`]), and one entry by id ([`entry`]).

pub(crate) mod condition;
pub(crate) mod entry;
pub(crate) mod list;

pub use condition::condition;
pub(crate) use condition::like_contains;
pub(crate) use entry::{entries_in, entry_in};
pub use list::list_in;
pub(crate) use list::positions_in;
