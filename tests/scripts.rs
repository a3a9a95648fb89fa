//! The script corpus: runs every `tests/scripts/**/*.toy` through the built `toy` binary
//! and checks it against the annotations in its comments, and compares `toy disasm` of
//! every `tests/disasm/NAME.toy` with the golden `NAME.disasm`.
//!
//! Annotations (comments anywhere, also after code on the same line):
//! - `# expect: TEXT` — the next line of stdout is exactly TEXT (one space after the colon
//!   is dropped; `# expect:` alone is an empty line). Every stdout line must be expected.
//! - `# expect error: Kind` — stderr has a line starting `Kind: ` (a traceback's last line)
//!   or `FILE:LINE:COL: Kind: ` (a compile error).
//! - `# expect error at: LINE:COL` — the error is a compile error reported as
//!   `FILE:LINE:COL: Kind: ` (FILE is the path the script was run as).
//! - `# expect exit: N` — the exit code; the default is 0, or 2 for an expected
//!   `SyntaxError` and 1 for any other expected error.
//! - `# expect stderr: TEXT` — some stderr line, trimmed, equals TEXT trimmed; several
//!   such lines must be found in this order (a traceback reads innermost call last).
//! - `# args: a b c` — the script's arguments; `# stdin: TEXT` — a line fed to stdin.
//! - `# options: --gil-policy ticks` — toy options, placed before the file.
//!
//! With no `expect error` and no `expect stderr`, stderr must be empty; a Rust panic
//! message on stderr always fails. Every failing file is reported, then the test panics.
//! Scripts run as `toy run tests/scripts/AREA/NAME.toy ARGS` from the crate root, a few at
//! a time, each killed after a timeout. Environment: `TOY_BIN` runs another binary,
//! `TOY_TEST_FILTER` runs only paths containing the text, `TOY_TEST_TIMEOUT` sets the
//! timeout in seconds (default 60), `TOY_BLESS=1` rewrites the `.disasm` files.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// What one script's annotations ask for.
#[derive(Debug, Default, PartialEq)]
struct Expect {
    stdout: Vec<String>,
    error: Option<String>,
    /// `LINE:COL` of a compile error.
    error_at: Option<String>,
    exit: Option<i32>,
    stderr: Vec<String>,
    args: Vec<String>,
    options: Vec<String>,
    stdin: Option<String>,
}

impl Expect {
    fn exit_code(&self) -> i32 {
        match (self.exit, &self.error) {
            (Some(code), _) => code,
            (None, Some(kind)) if kind == "SyntaxError" => 2,
            (None, Some(_)) => 1,
            (None, None) => 0,
        }
    }
}

/// The text of the comment on `line`, if any: what follows the first `#` outside a string
/// literal (toy strings are `"..."` with backslash escapes and never span lines).
fn comment_of(line: &str) -> Option<&str> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '#' {
            return Some(&line[i + 1..]);
        }
    }
    None
}

/// Reads the annotations of a script; an `Err` names a malformed one.
fn parse_expect(source: &str) -> Result<Expect, String> {
    let mut e = Expect::default();
    let mut stdin = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let Some(comment) = comment_of(line.trim_end_matches('\r')) else {
            continue;
        };
        let comment = comment.trim_start();
        // The value after `key:`, minus the one space that separates it.
        let value = |key: &str| {
            comment
                .strip_prefix(key)
                .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
        };
        if let Some(text) = value("expect:") {
            e.stdout.push(text.to_string());
        } else if let Some(kind) = value("expect error:") {
            let kind = kind.trim();
            if kind.is_empty() || e.error.is_some() {
                return Err(format!("line {}: one `expect error: Kind` per script", n + 1));
            }
            e.error = Some(kind.to_string());
        } else if let Some(at) = value("expect error at:") {
            let at = at.trim();
            let ok = at
                .split_once(':')
                .is_some_and(|(l, c)| l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok());
            if !ok {
                return Err(format!("line {}: `expect error at: LINE:COL`", n + 1));
            }
            e.error_at = Some(at.to_string());
        } else if let Some(code) = value("expect exit:") {
            let code = code
                .trim()
                .parse()
                .map_err(|_| format!("line {}: bad exit code", n + 1))?;
            e.exit = Some(code);
        } else if let Some(text) = value("expect stderr:") {
            e.stderr.push(text.trim().to_string());
        } else if let Some(opts) = value("options:") {
            e.options.extend(opts.split_whitespace().map(str::to_string));
        } else if let Some(args) = value("args:") {
            e.args.extend(args.split_whitespace().map(str::to_string));
        } else if let Some(text) = value("stdin:") {
            stdin.push(format!("{text}\n"));
        } else if comment.starts_with("expect") {
            return Err(format!("line {}: unknown annotation `#{comment}`", n + 1));
        }
    }
    if !stdin.is_empty() {
        e.stdin = Some(stdin.concat());
    }
    if e.error_at.is_some() && e.error.is_none() {
        return Err("`expect error at` needs `expect error: Kind`".to_string());
    }
    Ok(e)
}

/// What a run produced.
struct Outcome {
    stdout: String,
    stderr: String,
    /// The exit code, or why there is none.
    status: Result<i32, String>,
}

fn describe(status: ExitStatus) -> Result<i32, String> {
    if let Some(code) = status.code() {
        return Ok(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Err(format!("killed by signal {sig}"));
        }
    }
    Err(format!("ended without an exit code ({status})"))
}

fn timeout() -> Duration {
    let secs = std::env::var("TOY_TEST_TIMEOUT").ok().and_then(|s| s.parse().ok());
    Duration::from_secs_f64(secs.unwrap_or(60.0))
}

fn toy_bin() -> PathBuf {
    std::env::var_os("TOY_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_toy")), PathBuf::from)
}

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `toy ARGS` from the crate root with `stdin`, killing it after the timeout.
fn run_toy(args: &[String], stdin: Option<&str>) -> Outcome {
    let stdin_mode = if stdin.is_some() { Stdio::piped() } else { Stdio::null() };
    let spawned = Command::new(toy_bin())
        .args(args)
        .current_dir(crate_root())
        .stdin(stdin_mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let status = Err(format!("could not start {}: {err}", toy_bin().display()));
            return Outcome {
                stdout: String::new(),
                stderr: String::new(),
                status,
            };
        }
    };
    // Feed stdin and drain both pipes on their own threads, so a full pipe never blocks.
    let feeder = child
        .stdin
        .take()
        .zip(stdin.map(str::to_string))
        .map(|(mut pipe, text)| {
            std::thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            })
        });
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout();
    let mut status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break describe(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {:?} and was killed", timeout()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(err) => break Err(format!("wait failed: {err}")),
        }
    };
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    // A leftover grandchild (a forked process) could hold a pipe open: wait a little, then
    // give up on the rest of the output rather than hang the whole test.
    let mut collect = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| {
            if status.is_ok() {
                status = Err("an output pipe was still open 10 s after exit".to_string());
            }
            String::new()
        })
    };
    let stdout = collect(out);
    let stderr = collect(err);
    Outcome { stdout, stderr, status }
}

/// Reads a child's pipe to the end on its own thread; the text arrives on the channel.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Whether `line` reports an error of `kind`: `Kind: ...` (a runtime error's last line, or
/// a thrown value's `Error: ...`; `Kind` alone for an empty message) or
/// `FILE:LINE:COL: Kind: ...` (a compile error).
fn reports_error(line: &str, kind: &str) -> bool {
    let line = line.trim_end();
    if line == kind || line == format!("{kind}:") || line.starts_with(&format!("{kind}: ")) {
        return true;
    }
    let Some(at) = line.find(&format!(": {kind}:")) else {
        return false;
    };
    let mut parts = line[..at].rsplitn(3, ':');
    let col = parts.next().unwrap_or("");
    let row = parts.next().unwrap_or("");
    let file = parts.next().unwrap_or("");
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    number(col) && number(row) && !file.is_empty()
}

/// Everything wrong with `outcome` against `e` for the script run as `file`, one finding
/// per entry.
fn check(file: &str, e: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let want_code = e.exit_code();
    match &outcome.status {
        Ok(code) if *code == want_code => {}
        Ok(code) => problems.push(format!("exit code {code}, expected {want_code}")),
        Err(why) => problems.push(why.clone()),
    }
    let got: Vec<&str> = outcome.stdout.split_terminator('\n').collect();
    if !outcome.stdout.is_empty() && !outcome.stdout.ends_with('\n') {
        problems.push("stdout does not end with a newline".to_string());
    }
    if let Some(i) =
        (0..got.len().max(e.stdout.len())).find(|&i| got.get(i).copied() != e.stdout.get(i).map(String::as_str))
    {
        let show = |line: Option<&str>| line.map_or("<nothing>".to_string(), |l| format!("{l:?}"));
        problems.push(format!(
            "stdout line {}: expected {}, got {} ({} lines expected, {} printed)",
            i + 1,
            show(e.stdout.get(i).map(String::as_str)),
            show(got.get(i).copied()),
            e.stdout.len(),
            got.len()
        ));
    }
    let err_lines: Vec<&str> = outcome.stderr.lines().collect();
    if let Some(kind) = &e.error
        && !err_lines.iter().any(|l| reports_error(l, kind))
    {
        problems.push(format!("stderr has no `{kind}: ` line"));
    }
    if let (Some(kind), Some(at)) = (&e.error, &e.error_at) {
        let prefix = format!("{file}:{at}: {kind}: ");
        if !err_lines.iter().any(|l| l.starts_with(&prefix)) {
            problems.push(format!("stderr has no line starting {prefix:?}"));
        }
    }
    // In order: each expected line is looked for after the previous one's match.
    let mut from = 0;
    for want in &e.stderr {
        match err_lines[from..].iter().position(|l| l.trim() == want) {
            Some(i) => from += i + 1,
            None if err_lines.iter().any(|l| l.trim() == want) => {
                problems.push(format!("stderr line {want:?} is out of order"));
            }
            None => problems.push(format!("stderr has no line {want:?}")),
        }
    }
    if e.error.is_none() && e.stderr.is_empty() && !outcome.stderr.is_empty() {
        problems.push("unexpected output on stderr".to_string());
    }
    if outcome.stderr.contains("panicked at") {
        problems.push("the interpreter panicked".to_string());
    }
    problems
}

/// `text` cut to its first `max` lines, indented for a report.
fn excerpt(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: String = lines.iter().take(max).map(|l| format!("      | {l}\n")).collect();
    if lines.len() > max {
        out.push_str(&format!("      | ... ({} more lines)\n", lines.len() - max));
    }
    if out.is_empty() {
        out.push_str("      (empty)\n");
    }
    out
}

/// All files under `dir` (recursively) with extension `ext`, sorted, relative to the root.
fn find_files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(crate_root().join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = dir.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_files(&path, ext, out);
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
    out.sort();
}

fn selected(files: Vec<PathBuf>) -> Vec<PathBuf> {
    match std::env::var("TOY_TEST_FILTER") {
        Ok(filter) => files
            .into_iter()
            .filter(|f| f.to_string_lossy().contains(&filter))
            .collect(),
        Err(_) => files,
    }
}

/// Runs `job` over `items` on a few threads; returns the non-`None` results in item order.
fn parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> Option<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                        *next += 1;
                        *next - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    if let Some(r) = job(item) {
                        results.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs one script; `None` when it passes, otherwise the report for it.
fn run_script(path: &PathBuf) -> Option<String> {
    run_script_with(path, &[])
}

/// Runs one script with `extra` toy options before its own `# options:`.
fn run_script_with(path: &PathBuf, extra: &[&str]) -> Option<String> {
    let name = path.to_string_lossy().into_owned();
    let source = match std::fs::read_to_string(crate_root().join(path)) {
        Ok(source) => source,
        Err(err) => return Some(format!("{name}: cannot read: {err}")),
    };
    let e = match parse_expect(&source) {
        Ok(e) => e,
        Err(why) => return Some(format!("{name}: bad annotation: {why}")),
    };
    let mut args = vec!["run".to_string()];
    args.extend(extra.iter().map(|o| o.to_string()));
    args.extend(e.options.iter().cloned());
    args.push(name.clone());
    args.extend(e.args.iter().cloned());
    let outcome = run_toy(&args, e.stdin.as_deref());
    let problems = check(&name, &e, &outcome);
    if problems.is_empty() {
        return None;
    }
    let mut report = match extra {
        [] => format!("{name}\n"),
        _ => format!("{name} (with {})\n", extra.join(" ")),
    };
    for p in &problems {
        report.push_str(&format!("    - {p}\n"));
    }
    report.push_str("    stdout:\n");
    report.push_str(&excerpt(&outcome.stdout, 30));
    report.push_str("    stderr:\n");
    report.push_str(&excerpt(&outcome.stderr, 15));
    Some(report)
}

#[test]
fn scripts() {
    let mut files = Vec::new();
    find_files(Path::new("tests/scripts"), "toy", &mut files);
    assert!(!files.is_empty(), "no scripts found under tests/scripts");
    let files = selected(files);
    let failures = parallel(&files, run_script);
    if !failures.is_empty() {
        panic!(
            "{} of {} scripts failed:\n\n{}",
            failures.len(),
            files.len(),
            failures.join("\n")
        );
    }
}

/// The synchronisation scripts again under every other GIL policy (`scripts` runs them
/// under the default one): their semantics, deadlock reports included, may not depend on
/// how the threads are scheduled.
#[test]
fn sync_scripts_under_every_policy() {
    let mut files = Vec::new();
    find_files(Path::new("tests/scripts/sync"), "toy", &mut files);
    assert!(!files.is_empty(), "no scripts found under tests/scripts/sync");
    let files = selected(files);
    let runs: Vec<(PathBuf, &str)> = ["ticks", "fifo", "priority"]
        .iter()
        .flat_map(|p| files.iter().map(move |f| (f.clone(), *p)))
        .collect();
    let failures = parallel(&runs, |(file, policy)| run_script_with(file, &["--gil-policy", policy]));
    if !failures.is_empty() {
        panic!(
            "{} of {} runs failed:\n\n{}",
            failures.len(),
            runs.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn disasm_golden() {
    let bless = std::env::var("TOY_BLESS").is_ok_and(|v| v == "1");
    let mut files = Vec::new();
    find_files(Path::new("tests/disasm"), "toy", &mut files);
    let files = selected(files);
    let failures = parallel(&files, |path| {
        let name = path.to_string_lossy().into_owned();
        let golden = crate_root().join(path.with_extension("disasm"));
        let outcome = run_toy(&["disasm".to_string(), name.clone()], None);
        if outcome.status != Ok(0) || !outcome.stderr.is_empty() {
            return Some(format!(
                "{name}: `toy disasm` failed ({:?})\n{}",
                outcome.status,
                excerpt(&outcome.stderr, 15)
            ));
        }
        if bless {
            return std::fs::write(&golden, &outcome.stdout)
                .err()
                .map(|err| format!("{name}: cannot write {}: {err}", golden.display()));
        }
        let want = match std::fs::read_to_string(&golden) {
            Ok(want) => want,
            Err(_) => {
                return Some(format!("{name}: no {} (run with TOY_BLESS=1)", golden.display()));
            }
        };
        if want == outcome.stdout {
            return None;
        }
        let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), outcome.stdout.lines().collect());
        let i = (0..w.len().max(g.len())).find(|&i| w.get(i) != g.get(i)).unwrap_or(0);
        Some(format!(
            "{name}: differs from {} at line {}:\n    expected {:?}\n    got      {:?}\n  (TOY_BLESS=1 rewrites it)",
            golden.display(),
            i + 1,
            w.get(i).copied().unwrap_or("<end>"),
            g.get(i).copied().unwrap_or("<end>"),
        ))
    });
    if !failures.is_empty() {
        panic!(
            "{} of {} disassemblies differ:\n\n{}",
            failures.len(),
            files.len(),
            failures.join("\n")
        );
    }
}

/// The annotation parser and the checks, on made-up scripts and outcomes.
#[test]
fn annotations() {
    let src = r##"# comment
print(1)  # expect: 1
print("# expect: not this") # expect: # expect: not this
# expect:
#expect:   two spaces
# args: a  b
# stdin: hello
# stdin:
# expect stderr:   Traceback (most recent call last):
# expect error: ValueError
"##;
    let e = parse_expect(src).expect("parses");
    assert_eq!(e.stdout, ["1", "# expect: not this", "", "  two spaces"]);
    assert_eq!(e.args, ["a", "b"]);
    assert_eq!(e.stdin.as_deref(), Some("hello\n\n"));
    assert_eq!(e.stderr, ["Traceback (most recent call last):"]);
    assert_eq!(e.error.as_deref(), Some("ValueError"));
    assert_eq!(e.exit_code(), 1);
    assert!(parse_expect("# expect eror: X").is_err());
    assert!(parse_expect("# expect exit: x").is_err());
    assert_eq!(
        parse_expect("# expect error: SyntaxError").map(|e| e.exit_code()),
        Ok(2)
    );
    assert_eq!(
        parse_expect("# expect error: NameError\n# expect exit: 2").map(|e| e.exit_code()),
        Ok(2)
    );
    assert_eq!(
        parse_expect("let s = \"a\\\"#b\" # expect: x").map(|e| e.stdout),
        Ok(vec!["x".to_string()])
    );

    assert!(reports_error("ValueError: bad", "ValueError"));
    assert!(reports_error(
        "tests/scripts/a/b.toy:4:12: SyntaxError: expected ')'",
        "SyntaxError"
    ));
    assert!(reports_error("Error:", "Error"));
    assert!(!reports_error("  ValueError: indented", "ValueError"));
    assert!(!reports_error("xValueError: no", "ValueError"));
    assert!(!reports_error("file:x:1: SyntaxError: no", "SyntaxError"));

    let e = parse_expect("# expect: a\n# expect: b\n# expect error: KeyError\n# expect stderr: KeyError: 'k'")
        .expect("parses");
    let ok = Outcome {
        stdout: "a\nb\n".into(),
        stderr: "Traceback (most recent call last):\n  f.toy:1 in <main>\nKeyError: 'k'\n".into(),
        status: Ok(1),
    };
    assert_eq!(check("f.toy", &e, &ok), Vec::<String>::new());
    let bad = Outcome {
        stdout: "a\nc\nd".into(),
        stderr: "thread 'main' panicked at src/vm.rs:1:1:\n".into(),
        status: Ok(101),
    };
    let problems = check("f.toy", &e, &bad);
    assert_eq!(problems.len(), 6, "{problems:#?}");
    let quiet = parse_expect("# expect: 1").expect("parses");
    let noisy = Outcome {
        stdout: "1\n".into(),
        stderr: "warning\n".into(),
        status: Ok(0),
    };
    assert_eq!(check("f.toy", &quiet, &noisy), ["unexpected output on stderr"]);
    let hung = Outcome {
        stdout: "1\n".into(),
        stderr: String::new(),
        status: Err("timed out".into()),
    };
    assert_eq!(check("f.toy", &quiet, &hung), ["timed out"]);

    let tb = "# expect error: ValueError\n# expect stderr: f.toy:1 in <main>\n# expect stderr: f.toy:2 in g";
    let e = parse_expect(tb).expect("parses");
    let out = |stderr: &str| Outcome {
        stdout: String::new(),
        stderr: stderr.into(),
        status: Ok(1),
    };
    let good = out("Traceback (most recent call last):\n  f.toy:1 in <main>\n  f.toy:2 in g\nValueError: v\n");
    assert_eq!(check("f.toy", &e, &good), Vec::<String>::new());
    let swapped = out("  f.toy:2 in g\n  f.toy:1 in <main>\nValueError: v\n");
    assert_eq!(
        check("f.toy", &e, &swapped),
        ["stderr line \"f.toy:2 in g\" is out of order"]
    );

    let e = parse_expect("# expect error: SyntaxError\n# expect error at: 3:9").expect("parses");
    let out = |stderr: &str| Outcome {
        stdout: String::new(),
        stderr: stderr.into(),
        status: Ok(2),
    };
    let good = out("t/a.toy:3:9: SyntaxError: unexpected '.'\n    let x = .5\n            ^\n");
    assert_eq!(check("t/a.toy", &e, &good), Vec::<String>::new());
    let moved = out("t/a.toy:3:10: SyntaxError: unexpected '.'\n");
    assert_eq!(check("t/a.toy", &e, &moved).len(), 1);
    assert!(parse_expect("# expect error at: 3:9").is_err());
    assert!(parse_expect("# expect error: X\n# expect error at: 3").is_err());
    assert!(reports_error("AssertionError", "AssertionError"));
}
