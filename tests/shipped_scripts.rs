//! Every `.toy` file the repository ships outside the tests — the lab's experiments and
//! their helper modules, the benchmark programs, the examples — compiles, imports included,
//! with `toy check`. They are run by `scripts/lab.sh` and `scripts/bench.sh`, which take
//! minutes; this catches a broken import or a syntax slip in seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn toy_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            toy_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "toy") {
            found.push(path);
        }
    }
}

#[test]
fn every_shipped_script_compiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    toy_files(&root.join("scripts"), &mut files);
    toy_files(&root.join("examples"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("scripts/lab/lib/measure.toy")),
        "the lab's helper module is among them: {files:?}"
    );
    let mut failures = String::new();
    for file in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_toy"))
            .arg("check")
            .arg(file)
            .env_remove("TOY_PATH")
            .output()
            .expect("run toy check");
        if !out.status.success() {
            failures.push_str(&format!(
                "{}:\n{}\n",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "scripts that do not compile:\n{failures}");
}
