//! Generates the parser from grammar/toy.lalrpop.
fn main() {
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("grammar/toy.lalrpop failed to generate");
}
