//! `print` writes with the GIL released: when standard output is a pipe nobody reads, the
//! printing thread blocks in `write` and the other threads keep running bytecode. The
//! test holds the pipe full until another thread has run; were the GIL held during the
//! write, that thread could never run and toy would never reach the ready point.

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
