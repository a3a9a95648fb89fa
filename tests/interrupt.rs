//! Ctrl-C throws `Interrupt` in the main thread — in a busy loop (caught by `catch`) and in
//! a blocking `sleep` — and an uncaught one ends the run with a traceback and exit 1.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_until_ready_then_interrupt(body: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("toy-interrupt-{}-{}", std::process::id(), body.len()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let script = dir.join("s.toy");
    let text = format!("write_file({:?}, \"go\")\n{body}\n", ready.to_str().unwrap());
    std::fs::write(&script, text).expect("script");
    let child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toy");
    // The script writes the file once it runs, so the handler is installed by then.
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    child.wait_with_output().expect("toy exits")
}

#[test]
fn ctrl_c_in_a_busy_loop_is_catchable() {
    let out = run_until_ready_then_interrupt(
        "let n = 0\ntry { while true { n += 1 } } catch e { print(\"caught\", e.kind) }",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "caught Interrupt\n");
}

#[test]
fn ctrl_c_ends_a_sleep_with_a_traceback() {
    let out = run_until_ready_then_interrupt("sleep(600)");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Traceback (most recent call last):"), "{err}");
    assert!(err.trim_end().ends_with("Interrupt: interrupted by Ctrl-C"), "{err}");
}
