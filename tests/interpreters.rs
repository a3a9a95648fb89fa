//! Interpreters with their own GIL, from the outside: Ctrl-C against a real process (it
//! interrupts the main interpreter and stops the spawned ones at their next check point),
//! and the embedding API running several interpreters on several host threads at once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use toy::{Interpreter, Value};

/// How long toy may take to react to a signal before the test calls it a hang.
const REACT: Duration = Duration::from_secs(20);

/// One Ctrl-C: the main interpreter, blocked in `join`, throws `Interrupt`; the spawned
/// interpreters, one spinning in bytecode and one blocked in `parent().recv()`, are
/// interrupted too and end, so the program ends instead of waiting for them.
#[test]
fn ctrl_c_interrupts_the_main_interpreter_and_stops_the_others() {
    let mut child = common::start_until_ready("interp-ctrl-c", |ready| {
        format!(
            "let busy = spawn_interpreter(fn() {{ let n = 0\n while true {{ n += 1 }} }})\n\
             let waiting = spawn_interpreter(fn() {{ return parent().recv() }})\n\
             sleep(0.2)\n\
             try {{\n    write_file({ready}, \"go\")\n    busy.join()\n}} catch e {{ print(\"main:\", e.kind) }}\n\
             try {{ busy.join() }} catch e {{ print(\"busy:\", e.message.find(\"Interrupt\") >= 0) }}\n\
             try {{ waiting.join() }} catch e {{ print(\"waiting:\", e.message.find(\"Interrupt\") >= 0) }}\n"
        )
    });
    std::thread::sleep(Duration::from_millis(50));
    common::send_signal("INT", &child.id().to_string());
    common::exit_within(&mut child, REACT, "one Ctrl-C with interpreters running");
    let out = child.wait_with_output().expect("toy exits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "main: Interrupt\nbusy: true\nwaiting: true\n",
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Two interpreters built and run on two host threads at once run bytecode at the same
/// time, which one GIL would forbid: interpreter A calls a host function that keeps A's
/// GIL and waits until interpreter B has run a thousand more iterations of a bytecode
/// loop. Were their bytecode serialized by one lock, B could not run a single one and A's
/// wait would time out. The CPU time over wall time of two CPU-bound scripts run the same
/// way is printed, not asserted (it depends on the machine's load).
#[test]
fn two_embedded_interpreters_run_bytecode_at_the_same_time() {
    let b_ticks = Arc::new(AtomicU64::new(0));
    let a_done = Arc::new(AtomicBool::new(false));
    let saw_b_run = std::thread::scope(|s| {
        let (ticks, done) = (b_ticks.clone(), a_done.clone());
        let a = s.spawn(move || {
            let mut toy = Interpreter::new();
            let seen = ticks.clone();
            toy.register("hold_until_b_runs", move |_cx, _| {
                // The GIL of A stays held: this never calls release_gil.
                let start = seen.load(Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(30);
                while seen.load(Ordering::SeqCst) < start + 1000 {
                    if Instant::now() > deadline {
                        return Ok(Value::bool(false));
                    }
                    std::hint::spin_loop();
                }
                Ok(Value::bool(true))
            })
            .unwrap();
            let ran = toy.eval::<bool>("let x = 0\nfor i in range(1000) { x += i }\nhold_until_b_runs()");
            done.store(true, Ordering::SeqCst);
            ran
        });
        let (ticks, done) = (b_ticks.clone(), a_done.clone());
        s.spawn(move || {
            let mut toy = Interpreter::new();
            toy.register("tick", move |_cx, _| {
                ticks.fetch_add(1, Ordering::SeqCst);
                Ok(Value::nil())
            })
            .unwrap();
            let finished = done.clone();
            toy.register("a_finished", move |_cx, _| {
                Ok(Value::bool(finished.load(Ordering::SeqCst)))
            })
            .unwrap();
            toy.run_source("b.toy", "let n = 0\nwhile not a_finished() { tick()\n n += 1 }")
                .unwrap();
        });
        a.join().unwrap()
    });
    assert_eq!(saw_b_run, Ok(true), "B ran no bytecode while A held its GIL");
    report_cpu_over_wall();
}

/// Two CPU-bound scripts on two host threads: CPU time over wall time, printed.
fn report_cpu_over_wall() {
    let script = "let n = 0\nfor i in range(3000000) { n += i % 7 }";
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| Interpreter::new().run_source("cpu.toy", script).unwrap());
        }
    });
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    println!(
        "two interpreters on two threads: cpu {cpu:.3} s, wall {wall:.3} s, cpu/wall {:.2}",
        cpu / wall
    );
}

/// The process's user and system CPU time so far, from /proc/self/stat (in USER_HZ
/// ticks, which Linux fixes at 100 per second in that file).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

/// `--gil-stats` prints a table per interpreter, and `--gil-trace` holds one process per
/// interpreter, which `toy timeline` draws as lanes named after their interpreter.
#[test]
fn gil_stats_and_trace_cover_every_interpreter() {
    let dir = std::env::temp_dir().join(format!("toy-interp-telemetry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (script, trace, svg) = (dir.join("t.toy"), dir.join("t.json"), dir.join("t.svg"));
    std::fs::write(
        &script,
        "fn burn(n) { let s = 0\n for i in range(n) { s += i }\n return s }\n\
         let a = spawn_interpreter(burn, 1000)\n\
         let b = spawn_interpreter(fn() { return spawn(burn, 1000).join() })\n\
         print(a.join(), b.join())\n",
    )
    .unwrap();
    let toy = env!("CARGO_BIN_EXE_toy");
    let out = std::process::Command::new(toy)
        .arg("--gil-stats")
        .arg("--gil-trace")
        .arg(&trace)
        .arg(&script)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "499500 499500\n", "{err}");
    assert!(err.contains("\ninterpreter 2:\nGIL: policy interval"), "{err}");
    assert!(err.contains("\ninterpreter 3:\nGIL: policy interval"), "{err}");
    let drawn = std::process::Command::new(toy)
        .arg("timeline")
        .arg(&trace)
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(drawn.status.success(), "{}", String::from_utf8_lossy(&drawn.stderr));
    let picture = std::fs::read_to_string(&svg).unwrap();
    for lane in [
        "data-name=\"thread 1 (main)\"",
        "data-name=\"interpreter 2: thread 1 (main)\"",
        "data-name=\"interpreter 3: thread 1 (main)\"",
        "data-name=\"interpreter 3: thread 2\"",
    ] {
        assert!(picture.contains(lane), "no lane {lane}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
