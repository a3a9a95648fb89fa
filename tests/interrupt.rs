//! Ctrl-C against a real process: the first one throws `Interrupt` in the main thread
//! wherever it is — running bytecode, or blocked in `sleep`, a socket's `accept` or `recv`,
//! a process's `join` or `recv`, `pmap` — and an uncaught one ends the run with a traceback
//! and exit 1. A second one, while the program only waits for other threads at exit or
//! before the first was delivered, ends it with exit 130 after flushing what was printed
//! and writing the `--gil-trace` file. Programs stuck for good without being deadlocks in
//! the contract's sense (locks retried with timeouts, a queue a sleeping thread could
//! still fill, a parent and a child both in `recv`) are always escapable this way; the
//! deadlocks it defines are reported without a Ctrl-C (tests/scripts/sync/).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long toy may take to react to a signal before the test calls it a hang.
const REACT: Duration = Duration::from_secs(20);

fn run_until_ready_then_interrupt(tag: &str, body: &str) -> std::process::Output {
    // The script writes the ready file once it runs, so the handler is installed by then.
    let mut child = common::start_until_ready(tag, |ready| format!("write_file({ready}, \"go\")\n{body}\n"));
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &child.id().to_string());
    common::exit_within(&mut child, REACT, "one Ctrl-C");
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

/// The `toy` command watches for Ctrl-C on the process's first thread, which otherwise
/// only waits for the interpreter's: a running script has those two threads and no
/// third, and Ctrl-C still reaches it (the tests around this one).
#[test]
fn the_command_watches_for_ctrl_c_without_a_thread_of_its_own() {
    let mut child = common::start_until_ready("interrupt-threads", |ready| {
        format!("write_file({ready}, \"go\")\nsleep(600)\n")
    });
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .expect("the child's threads are listed")
        .count();
    common::send_signal("INT", &child.id().to_string());
    common::exit_within(&mut child, REACT, "one Ctrl-C");
    let out = child.wait_with_output().expect("toy exits");
    assert_eq!(tasks, 2, "the first thread and the interpreter's");
    assert_eq!(out.status.code(), Some(1));
}

/// `input()` waiting on a standard input that stays open and silent is one of the
/// blocking calls LANGUAGE.md §6 names: one Ctrl-C throws `Interrupt` there.
#[test]
fn ctrl_c_reaches_main_blocked_in_input() {
    let (mut child, _) = common::start_configured_until_ready(
        "interrupt-input",
        |command| {
            command.stdin(Stdio::piped());
        },
        |ready| {
            format!("write_file({ready}, \"go\")\ntry {{ let line = input() }} catch e {{ print(\"caught\", e.kind) }}")
        },
    );
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &child.id().to_string());
    common::exit_within(&mut child, REACT, "one Ctrl-C in input()");
    let out = child.wait_with_output().expect("toy exits");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "caught Interrupt\n");
    assert_eq!(out.status.code(), Some(0));
}

/// One Ctrl-C reaches the main thread blocked in each of these calls; `setup` runs before
/// the ready point, `blocked` after it, inside the `try`, and `after` cleans up in the
/// `catch`, so nothing is left for the end of the program to wait for.
fn interrupts_a_blocking_call(tag: &str, setup: &str, blocked: &str, after: &str) {
    let mut child = common::start_until_ready(tag, |ready| {
        format!(
            "{setup}\ntry {{\n    write_file({ready}, \"go\")\n    {blocked}\n    print(\"not interrupted\")\n}} catch e {{\n    print(\"caught\", e.kind)\n    {after}\n}}\n"
        )
    });
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &child.id().to_string());
    common::exit_within(&mut child, REACT, &format!("one Ctrl-C while main is in {blocked}"));
    let out = child.wait_with_output().expect("toy exits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "caught Interrupt\n",
        "{blocked}: {err}"
    );
    assert_eq!(out.status.code(), Some(0), "{blocked}: {err}");
}

#[test]
fn ctrl_c_reaches_main_blocked_in_accept() {
    interrupts_a_blocking_call(
        "interrupt-accept",
        "let l = tcp_listen(\"127.0.0.1\", 0)",
        "l.accept()",
        "",
    );
}

#[test]
fn ctrl_c_reaches_main_blocked_in_a_socket_recv() {
    interrupts_a_blocking_call(
        "interrupt-conn-recv",
        "let l = tcp_listen(\"127.0.0.1\", 0)\nlet c = tcp_connect(\"127.0.0.1\", l.port)\nlet s = l.accept()",
        "c.recv(100)",
        "",
    );
}

#[test]
fn ctrl_c_reaches_main_blocked_in_a_process_join() {
    interrupts_a_blocking_call(
        "interrupt-join",
        "let p = spawn_process(fn() { sleep(600) })",
        "p.join()",
        "p.kill()\n    try { p.join() } catch again { }",
    );
}

#[test]
fn ctrl_c_reaches_main_blocked_in_a_process_recv() {
    interrupts_a_blocking_call(
        "interrupt-process-recv",
        "let p = spawn_process(fn() { sleep(600) })",
        "p.recv()",
        "p.kill()\n    try { p.join() } catch again { }",
    );
}

#[test]
fn ctrl_c_reaches_main_waiting_for_pmap_workers() {
    interrupts_a_blocking_call(
        "interrupt-pmap",
        "fn slow(x) { sleep(600) }",
        "pmap(slow, [1, 2], 2)",
        "",
    );
}

/// Ctrl-C reaches the main thread in every wait of the synchronisation primitives. A
/// thread that sleeps until `stop` keeps the waits from being all-blocked deadlocks (and
/// holds `l`); a condition's `wait` has its lock back when the `Interrupt` arrives.
#[test]
fn ctrl_c_reaches_main_blocked_in_every_primitive() {
    let setup = "let l = Lock()\nlet stop = false\nlet held = Event()\nlet sleeper = spawn(fn() { with l { held.set(); while not stop { sleep(0.02) } } })\nheld.wait()";
    let cases = [
        ("interrupt-lock", "", "l.acquire()"),
        (
            "interrupt-rlock",
            "let r = RLock()\nspawn(fn() { r.acquire() }).join()",
            "r.acquire()",
        ),
        (
            "interrupt-condition",
            "let m = Lock()\nlet c = Condition(m)\nm.acquire()",
            "c.wait()",
        ),
        ("interrupt-event", "let e = Event()", "e.wait()"),
        ("interrupt-semaphore", "let s = Semaphore(0)", "s.acquire()"),
        ("interrupt-barrier", "let b = Barrier(2)", "b.wait()"),
        ("interrupt-queue-put", "let q = Queue(1)\nq.put(1)", "q.put(2)"),
        ("interrupt-thread-join", "", "sleeper.join()"),
    ];
    std::thread::scope(|scope| {
        for (tag, more, blocked) in cases {
            let setup = format!("{setup}\n{more}");
            let after = if tag == "interrupt-condition" {
                "assert(m.locked())\n    stop = true"
            } else {
                "stop = true"
            };
            scope.spawn(move || interrupts_a_blocking_call(tag, &setup, blocked, after));
        }
    });
}

/// A script started with stdout and stderr into files and `--gil-trace`, in a process
/// group of its own (so the test can signal it as a terminal's Ctrl-C does).
struct Logged {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    trace: PathBuf,
    ready: PathBuf,
}

fn start_logged(tag: &str, make: impl FnOnce(&str) -> String) -> Logged {
    let dir = std::env::temp_dir().join(format!("toy-{tag}-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (out, err, trace) = (dir.join("out"), dir.join("err"), dir.join("trace.json"));
    let _ = std::fs::remove_file(&trace);
    let stdout = std::fs::File::create(&out).expect("stdout file");
    let stderr = std::fs::File::create(&err).expect("stderr file");
    let (child, ready) = common::start_configured_until_ready(
        tag,
        |c| {
            use std::os::unix::process::CommandExt;
            c.arg("--gil-trace")
                .arg(&trace)
                .stdout(Stdio::from(stdout))
                .stderr(Stdio::from(stderr))
                .process_group(0);
        },
        make,
    );
    Logged {
        child,
        out,
        err,
        trace,
        ready,
    }
}

/// Waits until the file at `path` contains `text`.
fn wait_for_text(path: &Path, text: &str, child: &mut Child) {
    let deadline = Instant::now() + REACT;
    loop {
        let seen = std::fs::read_to_string(path).unwrap_or_default();
        if seen.contains(text) {
            return;
        }
        if Instant::now() > deadline || child.try_wait().expect("poll").is_some() {
            let _ = child.kill();
            panic!("{text:?} never appeared in {}; it holds:\n{seen}", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_trace_written(trace: &Path) {
    let text = std::fs::read_to_string(trace).expect("the --gil-trace file is written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
    assert!(json.get("traceEvents").is_some(), "{text}");
}

/// A CPU-bound thread keeps the program alive after `<main>` was interrupted: the second
/// Ctrl-C ends it with 130, and what the thread printed (still in the buffer, as stdout is
/// a file) is in the file, and the trace is written.
#[test]
fn second_ctrl_c_while_waiting_for_threads_exits_130_after_flushing() {
    let Logged {
        mut child,
        out,
        err,
        trace,
        ..
    } = start_logged("interrupt-twice", |ready| {
        format!(
            "print(\"main says hi\")\nlet t = spawn(fn() {{\n    print(\"thread says hi\")\n    write_file({ready}, \"go\")\n    while true {{ }}\n}})\nt.join()\n"
        )
    });
    let group = format!("-{}", child.id());
    common::send_signal("INT", &group);
    wait_for_text(&err, "Interrupt: interrupted by Ctrl-C", &mut child);
    common::send_signal("INT", &group);
    let status = common::exit_within(&mut child, REACT, "the second Ctrl-C");
    assert_eq!(status.code(), Some(130));
    let printed = std::fs::read_to_string(&out).expect("stdout file");
    assert_eq!(printed, "main says hi\nthread says hi\n");
    assert_trace_written(&trace);
}

/// While main is inside a call that does not look at Ctrl-C (native code), the first one
/// stays pending; the second ends the process with 130, flushing what was printed and
/// writing the trace.
#[test]
fn second_ctrl_c_before_the_first_is_delivered_exits_130_after_flushing() {
    let Logged {
        mut child, out, trace, ..
    } = start_logged("interrupt-pending", |ready| {
        format!("print(\"before the native call\")\nwrite_file({ready}, \"go\")\nnative.spin(600)\n")
    });
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &child.id().to_string());
    std::thread::sleep(Duration::from_millis(200));
    common::send_signal("INT", &child.id().to_string());
    let status = common::exit_within(&mut child, REACT, "two Ctrl-Cs during native code");
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        std::fs::read_to_string(&out).expect("stdout"),
        "before the native call\n"
    );
    assert_trace_written(&trace);
}

/// Two threads each hold one lock and keep retrying for the other's with a timeout (a
/// livelock: never reported as a deadlock, since waits with a timeout are not); main joins
/// them. The first Ctrl-C interrupts main's join, the second ends the program (130) after
/// flushing.
#[test]
fn a_lock_order_inversion_retried_with_timeouts_is_escaped_with_two_ctrl_cs() {
    let Logged {
        mut child, out, err, ..
    } = start_logged("deadlock-locks", |ready| {
        format!(
            r#"
let a = Lock()
let b = Lock()
let a_held = Queue()
let b_held = Queue()
fn one() {{ with a {{ a_held.put(1); b_held.get(); while not b.acquire(0.05) {{ }} }} }}
fn two() {{ with b {{ b_held.put(1); a_held.get(); while not a.acquire(0.05) {{ }} }} }}
let t1 = spawn(one)
let t2 = spawn(two)
print("both started")
write_file({ready}, "go")
t1.join()
t2.join()
"#
        )
    });
    let group = format!("-{}", child.id());
    common::send_signal("INT", &group);
    wait_for_text(&err, "Interrupt: interrupted by Ctrl-C", &mut child);
    common::send_signal("INT", &group);
    let status = common::exit_within(&mut child, REACT, "a lock-order inversion and two Ctrl-Cs");
    assert_eq!(status.code(), Some(130));
    assert_eq!(std::fs::read_to_string(&out).expect("stdout"), "both started\n");
}

/// Main and a worker both wait on a queue that a third thread, sleeping in a loop, could
/// still fill (so no deadlock is reported): the first Ctrl-C interrupts main, the second
/// ends the program while it waits for the worker.
#[test]
fn a_queue_a_sleeping_thread_could_fill_is_escaped_with_two_ctrl_cs() {
    let Logged {
        mut child, out, err, ..
    } = start_logged("deadlock-queue", |ready| {
        format!(
            "let q = Queue()\nspawn(fn() {{ while true {{ sleep(0.05) }} }})\nlet w = spawn(fn() {{ return q.get() }})\nprint(\"waiting\")\nwrite_file({ready}, \"go\")\nq.get()\n"
        )
    });
    let group = format!("-{}", child.id());
    common::send_signal("INT", &group);
    wait_for_text(&err, "Interrupt: interrupted by Ctrl-C", &mut child);
    common::send_signal("INT", &group);
    let status = common::exit_within(&mut child, REACT, "a queue nobody fills and two Ctrl-Cs");
    assert_eq!(status.code(), Some(130));
    assert_eq!(std::fs::read_to_string(&out).expect("stdout"), "waiting\n");
}

/// A parent waits in `p.recv()` for a child that waits in `parent().recv()`. Ctrl-C to the
/// process group (as a terminal sends it) interrupts both; the program ends with the
/// errors reported (exit 1), and no child is left running.
#[test]
fn a_parent_and_child_both_in_recv_are_escaped_with_ctrl_c() {
    let Logged {
        mut child, err, ready, ..
    } = start_logged("deadlock-recv", |ready| {
        format!("let p = spawn_process(fn() {{ return parent().recv() }})\nwrite_file({ready}, str(p.pid))\np.recv()\n")
    });
    let pid = common::read_pid(&ready);
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &format!("-{}", child.id()));
    let status = common::exit_within(&mut child, REACT, "a parent and a child both in recv, and Ctrl-C");
    let report = std::fs::read_to_string(&err).expect("stderr");
    assert_eq!(status.code(), Some(1), "{report}");
    assert!(report.contains("Interrupt: interrupted by Ctrl-C"), "{report}");
    assert!(report.contains(&format!("Exception in process {pid}:")), "{report}");
    assert!(!common::survives(pid), "the child {pid} outlived the Ctrl-C");
}
