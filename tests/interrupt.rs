//! Ctrl-C throws `Interrupt` in the main thread — in a busy loop (caught by `catch`) and in
//! a blocking `sleep` — and an uncaught one ends the run with a traceback and exit 1.

mod common;

use std::process::Command;

fn run_until_ready_then_interrupt(tag: &str, body: &str) -> std::process::Output {
    // The script writes the ready file once it runs, so the handler is installed by then.
    let child = common::start_until_ready(tag, |ready| format!("write_file({ready}, \"go\")\n{body}\n"));
    std::thread::sleep(std::time::Duration::from_millis(50));
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
        "interrupt-loop",
        "let n = 0\ntry { while true { n += 1 } } catch e { print(\"caught\", e.kind) }",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "caught Interrupt\n");
}

#[test]
fn ctrl_c_ends_a_sleep_with_a_traceback() {
    let out = run_until_ready_then_interrupt("interrupt-sleep", "sleep(600)");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Traceback (most recent call last):"), "{err}");
    assert!(err.trim_end().ends_with("Interrupt: interrupted by Ctrl-C"), "{err}");
}
