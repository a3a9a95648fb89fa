//! The `toy` command line: turns arguments into a configuration and calls the library.

fn main() {}
