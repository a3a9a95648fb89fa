//! The command line's other faces: `toy check` (compile only, nothing runs), `toy FILE` as
//! a shorthand, a script read from standard input (`toy -`, or `toy` with stdin not a
//! terminal), options parsed before the file and usage errors for unknown ones, output
//! paths checked before anything runs, and `--help` with examples. (The prompt itself is
//! driven in a terminal by tests/prompt.rs.)

use std::io::Write;
use std::process::{Command, Stdio};

fn toy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toy"))
}

fn script(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("toy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path
}

#[test]
fn check_compiles_without_running() {
    let ok = script("ok.toy", "print(\"this must not print\")\nlet x = 1");
    let out = toy().args(["check", ok.to_str().unwrap()]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "check ran the script");

    let bad = script("bad.toy", "let x = (1 +\nprint(x)\n");
    let out = toy().args(["check", bad.to_str().unwrap()]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SyntaxError"));

    let undeclared = script("name.toy", "print(nowhere)");
    let out = toy()
        .args(["check", undeclared.to_str().unwrap()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NameError: name 'nowhere' is not defined"));
}

#[test]
fn file_shorthand_and_help() {
    let file = script("argv.toy", "print(argv())");
    let out = toy().args([file.to_str().unwrap(), "a", "-b"]).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"a\", \"-b\"]\n");
    // Each help opens with its own command's description (the subcommands are built only
    // when used, and must not take a flattened option group's description instead).
    for (sub, about) in [
        (vec!["--help"], "An embeddable bytecode interpreter"),
        (vec!["run", "--help"], "Run a script"),
        (vec!["help", "run"], "Run a script"),
        (vec!["check", "--help"], "Parse and compile a script"),
        (vec!["disasm", "--help"], "Print the bytecode"),
        (vec!["timeline", "--help"], "Draw a --gil-trace file"),
        (vec!["compare", "--help"], "Run a script under several GIL policies"),
        (vec!["explore", "--help"], "Search seeds of the random GIL policy"),
    ] {
        let out = toy().args(&sub).output().expect("help");
        assert_eq!(out.status.code(), Some(0), "{sub:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.starts_with(about), "{sub:?} opens with {:?}", help.lines().next());
        assert!(help.contains("Example"), "{sub:?} has no example");
    }
    let out = toy().args(["run", "/nonexistent/x.toy"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /nonexistent/x.toy"));
}

/// The main thread's uncaught error reaches stderr when it happens, not after the threads
/// still running have finished (as in Python), and what it printed reaches stdout before
/// the wait too (even into a pipe): here the thread finishes only once the test has read
/// both, so output or a report held back until the end would never come.
#[test]
fn main_error_is_reported_before_waiting_for_threads() {
    use std::io::{BufRead, BufReader};
    let release = std::env::temp_dir().join(format!("toy-cli-release-{}", std::process::id()));
    let _ = std::fs::remove_file(&release);
    let file = script(
        "main_fails.toy",
        &format!(
            r#"
fn waiter() {{
    let tries = 0
    while tries < 6000 {{   # gives up after about a minute, so a failing test ends
        try {{ read_file({release:?}); return nil }} catch e {{ sleep(0.01) }}
        tries += 1
    }}
}}
spawn(waiter)
print("main says hi")
throw error("ValueError", "main fails")
"#
        ),
    );
    let mut child = toy()
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toy");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("stdout is text");
    assert_eq!(first, "main says hi\n");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut seen = Vec::new();
    for line in (&mut stderr).lines() {
        let line = line.expect("stderr is text");
        let last = line == "ValueError: main fails";
        seen.push(line);
        if last {
            break;
        }
    }
    let finished_early = child.try_wait().expect("poll").is_some();
    std::fs::write(&release, "go").expect("release the thread");
    let status = child.wait().expect("toy exits");
    let _ = std::fs::remove_file(&release);
    let at = format!("  {}:11 in <main>", file.display());
    assert_eq!(
        seen,
        ["Traceback (most recent call last):", &at, "ValueError: main fails"]
    );
    assert!(!finished_early, "toy ended before its thread was released");
    assert_eq!(status.code(), Some(1));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read the rest");
    assert_eq!(rest, "", "nothing is reported twice");
}

fn run_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = toy()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("toy exits")
}

/// With standard input not a terminal, `toy` reads the whole program from it and runs it
/// as a script: no banner, no prompts, no echo, and the first uncaught error ends it.
#[test]
fn piped_standard_input_is_a_script() {
    let program =
        "let xs = [1,\n2, 3]\nxs\nprint(len(xs))\nthrow error(\"ValueError\", \"from stdin\")\nprint(\"never\")\n";
    let out = run_with_stdin(&[], program);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("  <stdin>:5 in <main>"), "{err}");
    assert!(err.contains("ValueError: from stdin"), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

/// `toy -` and `toy run -` read the script from standard input; what follows is its argv.
#[test]
fn dash_reads_the_script_from_standard_input() {
    for args in [
        vec!["-", "a", "-b"],
        vec!["run", "-", "a", "-b"],
        vec!["run", "--gil-stats", "-", "a", "-b"],
    ] {
        let out = run_with_stdin(&args, "print(argv())\nlet x = nope\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("<stdin>:2:9: NameError"), "{args:?}: {err}");
        let out = run_with_stdin(&args, "print(argv())\n");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"a\", \"-b\"]\n", "{args:?}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

/// Options go before the file, before or after `run`; an unknown one there is a usage
/// error (clap's message, exit 2), while everything after the file is the script's.
#[test]
fn options_before_the_file_are_parsed_and_unknown_ones_refused() {
    let file = script("opts.toy", "print(argv())");
    let path = file.to_str().unwrap();
    for args in [
        vec!["run", "--bogus", path],
        vec!["--bogus", path],
        vec!["run", "--gil-stats", "--bogus", path],
    ] {
        let out = toy().args(&args).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("unexpected argument '--bogus'"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} ran the script");
    }
    let out = toy()
        .args(["run", "--gil-policy", "fifo", path, "--bogus", "x"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"--bogus\", \"x\"]\n");
    assert_eq!(out.status.code(), Some(0));
}

/// An output path that cannot be written is refused before the script starts (exit 2),
/// not discovered after it ran.
#[test]
fn unwritable_output_paths_are_refused_before_running() {
    let file = script("trace_path.toy", "print(\"ran\")");
    let path = file.to_str().unwrap();
    for args in [
        vec!["run", "--gil-trace", "/no/such/dir/t.json", path],
        vec!["--gil-trace", "/no/such/dir/t.json", path],
    ] {
        let out = toy().args(&args).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} ran the script first");
        assert!(err.contains("/no/such/dir/t.json"), "{args:?}: {err}");
    }
    let trace = std::env::temp_dir()
        .join(format!("toy-cli-{}", std::process::id()))
        .join("t.json");
    let out = toy()
        .args(["run", "--gil-trace", trace.to_str().unwrap(), path])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let out = toy()
        .args(["timeline", trace.to_str().unwrap(), "-o", "/no/such/dir/t.svg"])
        .output()
        .expect("timeline");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/no/such/dir/t.svg"), "{err}");
}
