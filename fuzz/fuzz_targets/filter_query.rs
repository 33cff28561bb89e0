//! The query-string-to-filter parser of both list endpoints.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    auditlog_fuzz::checks::filter_query(data);
});
