//! Generates the parser from grammar/toy.lalrpop, and links the `toy` binary at a fixed
//! address.
//!
//! A position-independent executable makes the dynamic loader patch every pointer in the
//! binary's tables (4,400 relocations, about 20 pages copied on write) before `main`; at a
//! fixed address the linker has done that, and an empty script starts about 10% sooner
//! (docs/performance.md). The code itself stays position-independent, so only the binary's
//! load address stops being randomised; shared libraries, stacks and the heap still are.
//! Only the binary is linked so: the library, tests and benches keep the default.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("grammar/toy.lalrpop failed to generate");
}
