//! How operating-system errors read in toy's messages: `No such file or directory`, not
//! Rust's `No such file or directory (os error 2)`.
//!
//! Invariant: the text names the failure as the OS does, without Rust's decorations, so
//! a script's `IOError` message and the command line's own errors read alike. Also which
//! failures mean the process ran out of file descriptors, which a collection may cure.

pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Whether `e` says the process (EMFILE) or the system (ENFILE) has no file descriptor
/// left: sockets dropped but not yet collected may be holding them.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
