//! Search through each tenant's distinct searchable values (`audit_log_terms`): the
//! terms are extracted from the rows a write inserts ([`extract`]) and recorded when a
//! value first appears ([`record`]; PostgreSQL records them in its insert statement,
//! skipping those [`recent`] remembers), and read to turn `q` into exact values that
//! the entries' b-tree indexes find ([`lookup`]).

pub(crate) mod extract;
pub(crate) mod lookup;
pub(crate) mod recent;
pub(crate) mod record;

pub(crate) use extract::of_rows;
pub(crate) use lookup::{Search, matching};
pub(crate) use recent::{Epoch, KnownTerms, Learned};
