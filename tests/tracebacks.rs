//! Uncaught errors in deep recursion print as Python prints them: a run of identical
//! frames is shown three times and then as `  [previous line repeated N more times]`
//! (`1 more time` for one), and the shape — which frames, how many repeats — is the one
//! `python3` prints for the same program (compared when python3 is installed). `TOY_BIN`
//! runs another binary.

use std::process::Command;

fn toy_bin() -> String {
    std::env::var("TOY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_toy").to_string())
}

const TOY: &str = r#"fn f(n) {
    if n == 0 { throw error("ValueError", "bottom") }
    return f(n - 1)
}
f(int(argv()[0]))
"#;

const PYTHON: &str = r#"def f(n):
    if n == 0: raise ValueError("bottom")
    return f(n - 1)
import sys
f(int(sys.argv[1]))
"#;

/// Each traceback line reduced to what both languages share: `frame FUNC LINE` (the
/// top level called `<main>`), or `repeat N`.
fn shape(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("File \"") {
            // Python: File "x.py", line 4, in f
            let mut parts = rest.split(", ");
            let _file = parts.next();
            let no = parts.next().and_then(|p| p.strip_prefix("line ")).unwrap_or("?");
            let func = parts.next().and_then(|p| p.strip_prefix("in ")).unwrap_or("?");
            let func = if func == "<module>" { "<main>" } else { func };
            out.push(format!("frame {func} {no}"));
        } else if let Some(rest) = t
            .strip_prefix("[Previous line repeated ")
            .or_else(|| t.strip_prefix("[previous line repeated "))
        {
            out.push(format!("repeat {}", rest.split(' ').next().unwrap_or("?")));
        } else if let Some((place, func)) = t.split_once(" in ") {
            // toy: x.toy:4 in f
            if let Some((_, no)) = place.rsplit_once(':') {
                out.push(format!("frame {func} {no}"));
            }
        }
    }
    out
}

fn toy_stderr(depth: u32) -> String {
    let dir = std::env::temp_dir().join(format!("toy-tb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("rec.toy"), TOY).expect("script");
    let out = Command::new(toy_bin())
        .current_dir(&dir)
        .arg("rec.toy")
        .arg(depth.to_string())
        .output()
        .expect("run toy");
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_of_identical_frames_is_collapsed() {
    let stderr = toy_stderr(6);
    let expected = [
        "Traceback (most recent call last):",
        "  rec.toy:5 in <main>",
        "  rec.toy:3 in f",
        "  rec.toy:3 in f",
        "  rec.toy:3 in f",
        "  [previous line repeated 3 more times]",
        "  rec.toy:2 in f",
        "ValueError: bottom",
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected, "stderr:\n{stderr}");
    let one = toy_stderr(4);
    assert!(one.contains("\n  [previous line repeated 1 more time]\n"), "{one}");
    let none = toy_stderr(3);
    assert!(!none.contains("repeated"), "{none}");
    assert_eq!(none.lines().filter(|l| l.ends_with(" in f")).count(), 4, "{none}");
}

#[test]
fn infinite_recursion_prints_a_few_lines_not_ten_thousand() {
    let dir = std::env::temp_dir().join(format!("toy-tb-inf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("inf.toy");
    std::fs::write(&path, "fn f(n) { return f(n + 1) }\nf(0)\n").expect("script");
    let out = Command::new(toy_bin()).arg(&path).output().expect("run toy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        shape(&stderr),
        ["frame <main> 2", "frame f 1", "frame f 1", "frame f 1", "repeat 9996"],
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.ends_with("RecursionError: maximum recursion depth exceeded\n"),
        "{stderr}"
    );
}

#[test]
fn the_shape_matches_python() {
    let Ok(probe) = Command::new("python3").arg("--version").output() else {
        eprintln!("python3 is not installed: shape not compared");
        return;
    };
    if !probe.status.success() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("toy-tb-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let py = dir.join("rec.py");
    std::fs::write(&py, PYTHON).expect("script");
    for depth in [0, 2, 3, 4, 5, 50] {
        let out = Command::new("python3")
            .arg(&py)
            .arg(depth.to_string())
            .output()
            .expect("python3");
        let python = shape(&String::from_utf8_lossy(&out.stderr));
        let toy = shape(&toy_stderr(depth));
        // Line numbers agree too: the two programs are written line for line alike.
        assert_eq!(toy, python, "depth {depth}");
    }
}
