//! The README's tour is `examples/tour/tour.toy`, word for word, and it prints what its
//! comments say: every line that calls `print` ends with `# ` and the line it prints, and
//! the run's output is exactly those lines, in order. The README's `toy explore` example,
//! deterministic under the seeded scheduler, is what that command prints.

use std::path::Path;
use std::process::Command;

fn tour() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tour/tour.toy");
    std::fs::read_to_string(path).expect("examples/tour/tour.toy")
}

#[test]
fn the_readme_shows_the_tour_as_it_is() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let block = format!("```toy\n{}```", tour());
    assert!(
        readme.contains(&block),
        "README.md's tour differs from examples/tour/tour.toy"
    );
}

#[test]
fn the_tour_prints_what_its_comments_say() {
    let expected: Vec<String> = tour()
        .lines()
        .filter(|line| line.contains("print("))
        .map(|line| {
            let (_, said) = line
                .rsplit_once("   # ")
                .unwrap_or_else(|| panic!("a print without the output it gives: {line}"));
            said.trim().to_string()
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_toy"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tour/tour.toy"))
        .env_remove("TOY_PATH")
        .output()
        .expect("run the tour");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(printed, expected);
}

/// The README's `toy explore` example shows what the command prints: the seed, the failure
/// and the replay command are deterministic under the seeded scheduler, so a change to the
/// compiler or the VM that moves them shows up here rather than as a stale README.
#[test]
fn the_readmes_explore_example_is_what_explore_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let command = "toy explore scripts/lab/race_seeds.toy plain";
    let out = Command::new(env!("CARGO_BIN_EXE_toy"))
        .args(["explore", "scripts/lab/race_seeds.toy", "plain"])
        .current_dir(root)
        .env_remove("TOY_PATH")
        .output()
        .expect("run toy explore");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = format!("$ {command}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        readme.contains(&shown),
        "README.md's explore example differs from what it prints now:\n{shown}"
    );
}
