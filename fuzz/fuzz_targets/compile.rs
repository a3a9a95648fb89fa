//! Fuzz target for the whole front end: any bytes are lexed, parsed and compiled (with the
//! builtins declared, as a script sees them). Each stage may refuse the input with one
//! diagnostic, which must render; none may panic or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static INTERP: RefCell<toy::Interpreter> = RefCell::new(toy::Interpreter::new());
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    INTERP.with(|interp| {
        let _ = interp.borrow_mut().check("fuzz.toy", source);
    });
});
