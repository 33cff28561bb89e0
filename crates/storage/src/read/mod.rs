//! The read path: the filter as one SQL condition ([`condition`]), and the page it asks
//! for ([`list`]).

pub(crate) mod condition;
pub(crate) mod list;

pub use condition::condition;
pub(crate) use condition::like_contains;
pub use list::list_in;
