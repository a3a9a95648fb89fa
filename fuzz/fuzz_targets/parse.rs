//! Fuzz target for the front end: on any UTF-8 input, `toy::fuzzing::parse` returns a
//! program or one diagnostic (which must render) — it never panics and never overflows
//! the stack — and `is_incomplete` answers without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        if let Err(diagnostic) = toy::fuzzing::parse(source) {
            let _ = diagnostic.render("fuzz.toy", source);
        }
        let _ = toy::fuzzing::is_incomplete(source);
    }
});
