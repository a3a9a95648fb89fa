//! Where `import` looks, checked against the real binary with its environment: the
//! importing file's directory first, then each `TOY_PATH` directory in order (empty entries
//! skipped), and an error naming every place it looked — exit 2, before anything runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory tree for one test, with `files` written into it.
fn tree(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("toy-path-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).expect("directory");
        std::fs::write(&path, text).expect("write");
    }
    root
}

fn run(script: &Path, toy_path: Option<String>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toy"));
    cmd.arg("run").arg(script).env_remove("TOY_PATH");
    if let Some(p) = toy_path {
        cmd.env("TOY_PATH", p);
    }
    cmd.output().expect("run toy")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn modules_are_found_in_toy_path_directories_in_order() {
    let root = tree(
        "order",
        &[
            (
                "app/main.toy",
                "import stats\nimport lab.timing as t\nprint(stats.who, t.who)\n",
            ),
            ("first/stats.toy", "let who = \"first\"\n"),
            ("second/stats.toy", "let who = \"second\"\n"),
            ("second/lab/timing.toy", "let who = \"second/lab\"\n"),
        ],
    );
    let dirs = |names: &[&str]| {
        std::env::join_paths(names.iter().map(|n| root.join(n)))
            .unwrap()
            .into_string()
            .unwrap()
    };
    let main = root.join("app/main.toy");

    let out = run(&main, Some(dirs(&["first", "second"])));
    assert_eq!(stdout(&out), "first second/lab\n", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));

    let out = run(&main, Some(dirs(&["second", "first"])));
    assert_eq!(stdout(&out), "second second/lab\n", "{}", stderr(&out));

    // Empty entries (a leading, doubled or trailing ':') are skipped, not read as ".".
    let spaced = format!(":{}::", dirs(&["second"]));
    let out = run(&main, Some(spaced));
    assert_eq!(stdout(&out), "second second/lab\n", "{}", stderr(&out));
}

#[test]
fn the_importing_files_directory_comes_before_toy_path() {
    let root = tree(
        "beside",
        &[
            ("app/main.toy", "from stats import who\nprint(who)\n"),
            ("app/stats.toy", "let who = \"beside\"\n"),
            ("path/stats.toy", "let who = \"path\"\n"),
        ],
    );
    let out = run(
        &root.join("app/main.toy"),
        Some(root.join("path").display().to_string()),
    );
    assert_eq!(stdout(&out), "beside\n", "{}", stderr(&out));
}

#[test]
fn a_module_imports_from_its_own_directory_then_toy_path() {
    // lib/helpers.toy imports `util`, which lives beside it — not beside main.toy.
    let root = tree(
        "nested",
        &[
            ("app/main.toy", "import helpers\nprint(helpers.twice(21))\n"),
            (
                "lib/helpers.toy",
                "import util\nfn twice(n) { return util.add(n, n) }\n",
            ),
            ("lib/util.toy", "fn add(a, b) { return a + b }\n"),
        ],
    );
    let out = run(&root.join("app/main.toy"), Some(root.join("lib").display().to_string()));
    assert_eq!(stdout(&out), "42\n", "{}", stderr(&out));
}

#[test]
fn a_missing_module_names_every_place_looked_and_nothing_runs() {
    let root = tree("missing", &[("app/main.toy", "print(\"ran\")\nimport nope.deeper\n")]);
    let elsewhere = root.join("elsewhere");
    let out = run(
        &root.join("app/main.toy"),
        Some(format!("{}:/no/such/dir", elsewhere.display())),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "", "nothing runs before the import is resolved");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "main.toy:2:8: ImportError: no module named 'nope.deeper' (looked in {}/, {}/, /no/such/dir/)",
            root.join("app").display(),
            elsewhere.display()
        )),
        "{err}"
    );
}
