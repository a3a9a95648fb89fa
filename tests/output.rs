//! `print` writes with the GIL released: when standard output is a pipe nobody reads, the
//! printing thread blocks in `write` and the other threads keep running bytecode. The
//! test holds the pipe full until another thread has run; were the GIL held during the
//! write, that thread could never run and toy would never reach the ready point. A pipe
//! whose reader has gone (stdout or stderr) ends toy quietly with exit code 141.

mod common;

use std::io::Read;

#[test]
fn a_thread_runs_while_print_is_blocked_on_a_full_pipe() {
    const LINES: usize = 40_000; // ~1.8 MB: far more than a pipe and toy's 64 KiB hold
    let mut child = common::start_until_ready("print-blocked", |ready| {
        format!(
            r#"
set_switch_interval(60)   # nobody is asked to drop the GIL: only blocking lets go
let q = Queue()
fn worker() {{
    q.get()               # back from this, the worker waits for the GIL
    let s = 0
    for i in range(1000) {{ s += i }}
    write_file({ready}, str(s))
}}
let t = spawn(worker)
q.put(1)
for i in range({LINES}) {{ print("line", i, "of the output that fills the pipe") }}
t.join()
print("end")
"#
        )
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut out)
        .expect("read stdout");
    let status = child.wait().expect("toy exits");
    assert!(status.success(), "exit status {status}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), LINES + 1);
    for (i, line) in lines[..LINES].iter().enumerate() {
        assert_eq!(*line, format!("line {i} of the output that fills the pipe"));
    }
    assert_eq!(lines[LINES], "end");
}

/// The flush when `<main>` ends (before the wait for threads still running) writes with
/// the GIL released too: the test fills the pipe first, so that flush blocks, and a worker
/// that needs the GIL must still get to run.
#[test]
fn the_flush_at_the_end_of_main_lets_other_threads_run() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(format!("toy-final-flush-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let script = dir.join("script.toy");
    std::fs::write(
        &script,
        format!(
            r#"
set_switch_interval(60)   # nobody is asked to drop the GIL: only blocking lets go
let q = Queue()
fn worker() {{
    q.get()               # back from this, the worker waits for the GIL
    write_file({:?}, "ran")
}}
spawn(worker)
q.put(1)
for i in range(20) {{ print("main line", i) }}
"#,
            ready.to_str().expect("utf-8 temp path")
        ),
    )
    .expect("script");

    // A pipe already full: toy's first write blocks until the test reads.
    let (mut reader, mut writer) = std::io::pipe().expect("pipe");
    const FILL: usize = 64 << 10; // Linux's default pipe capacity
    let filler = std::thread::spawn(move || {
        writer.write_all(&[b'#'; FILL]).expect("fill the pipe");
        writer
    });
    let start = Instant::now();
    while !filler.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the pipe holds less than 64 KiB"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let writer = filler.join().expect("filler");
    let mut child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .arg(&script)
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()
        .expect("start toy");
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never ran while main's last flush was blocked"
        );
        assert!(child.try_wait().expect("poll").is_none(), "toy exited first");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = Vec::new();
    let drain = std::thread::spawn(move || {
        std::io::Read::read_to_end(&mut reader, &mut out).expect("read");
        out
    });
    assert!(child.wait().expect("toy exits").success());
    // The test's own writer went to the child; the pipe ends when the child does.
    let out = drain.join().expect("drain");
    let expected: String = (0..20).map(|i| format!("main line {i}\n")).collect();
    assert_eq!(&out[..FILL], &[b'#'; FILL][..]);
    assert_eq!(String::from_utf8_lossy(&out[FILL..]), expected);
}

/// Writing to a closed pipe ends toy as it ends a Unix tool: quietly, with exit code 141
/// (SIGPIPE's), never a silent endless loop, a lost-output success or a panic.
mod closed_pipes {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    fn script(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("toy-closed-pipe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("script");
        path
    }

    /// `toy run loop.toy | head -1`: the reader goes away after one line.
    #[test]
    fn an_endless_printer_ends_when_its_reader_goes() {
        let file = script("endless.toy", "let i = 0\nwhile true { print(\"line\", i); i += 1 }\n");
        let mut child = Command::new(env!("CARGO_BIN_EXE_toy"))
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start toy");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut first)
            .expect("a line");
        assert_eq!(first, "line 0\n");
        // The reader is dropped here, as `head -1` exits.
        let status = super::common::exit_within(&mut child, Duration::from_secs(30), "stdout closed");
        let out = child.wait_with_output().expect("toy exits");
        assert_eq!(status.code(), Some(141));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "quietly");
    }

    /// A finite script whose output cannot be written does not exit 0.
    #[test]
    fn a_finite_script_into_a_closed_pipe_exits_141() {
        let file = script("finite.toy", "print(\"nobody reads this\")\n");
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_toy"))
            .arg(&file)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run toy");
        assert_eq!(out.status.code(), Some(141));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    }

    /// A traceback into a closed stderr is not a Rust panic (exit 101).
    #[test]
    fn a_traceback_into_a_closed_stderr_exits_141() {
        let file = script(
            "fails.toy",
            "fn f() { throw error(\"ValueError\", \"nobody sees this\") }\nf()\n",
        );
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_toy"))
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(writer)
            .output()
            .expect("run toy");
        assert_eq!(out.status.code(), Some(141));
    }
}
