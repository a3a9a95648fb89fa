//! Generates the parser from grammar/toy.lalrpop, and links a dynamically linked `toy`
//! binary at a fixed address.
//!
//! On Linux with glibc, `.cargo/config.toml` links every binary statically
//! (`crt-static`): no shared libraries to map and no symbols to look up before `main`, so
//! an empty script starts in about two thirds of the time (docs/performance.md). That
//! build is a static position-independent executable, which relocates itself in a few
//! microseconds, and is left so. A dynamically linked build (another C library, or
//! `RUSTFLAGS` set, which replaces the configured flags) is linked at a fixed address
//! instead: as a position-independent executable the dynamic loader would patch every
//! pointer in its tables (4,400 relocations, about 20 pages copied on write) before
//! `main`. Its code stays position-independent, so only the binary's own load address
//! stops being randomised. Only the binary is linked so: the library, tests and benches
//! keep the default.
fn main() {
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if !features.split(',').any(|feature| feature == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("grammar/toy.lalrpop failed to generate");
}
