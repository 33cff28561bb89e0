//! The body parser of both ingest endpoints: JSON, entries, validation, and the round
//! trip of a stored entry back through the API.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    auditlog_fuzz::checks::ingest_body(data);
});
