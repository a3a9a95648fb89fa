//! The GIL's telemetry as a user meets it: `--gil-trace` writes Chrome trace-event JSON
//! whose slices obey the lock's invariant (never two threads running at once) and whose
//! hand-offs each say why and where; `--gil-stats` prints a table with a row per thread,
//! the totals, the reasons and the costliest lines; `toy compare` runs a script under
//! several policies and prints a row (and a bar) for each.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two threads that spin at the same time, so some wait for the GIL is charged to a line
/// under every policy: each waits at a barrier for the other first (one OS thread may
/// start late on a loaded machine), and each spins for 10-20 ms, longer than the kernel
/// lets one run while the other is runnable on the same CPU, should toy have only one.
const TWO_SPINNERS: &str = r#"
let both = Barrier(2)
fn spin(n) { both.wait(); let s = 0; for i in range(n) { s += i } return s }
let a = spawn(spin, 2000000)
let b = spawn(spin, 2000000)
print(a.join() == b.join())
sleep(0.01)
"#;

fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toy-gil-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path
}

/// Reads `pipe` to its end on a thread of its own.
fn collect(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut bytes).expect("read toy's output");
        }
        bytes
    })
}

/// How long any run here may take: they take well under a second, so a run still going
/// after this has hung (the GIL left free with its waiters asleep, say), and fails as
/// such rather than stalling the suite.
const HUNG_AFTER: Duration = Duration::from_secs(120);

/// Runs toy with `args`, its output collected by threads of its own so a full pipe never
/// stalls it; killed and failed after [`HUNG_AFTER`].
fn toy(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run toy");
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll toy") {
            break status;
        }
        if start.elapsed() > HUNG_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            panic!("toy {args:?} hung: still running after {HUNG_AFTER:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

#[test]
fn trace_file_has_one_track_per_thread_and_never_two_runners() {
    let file = script("trace.toy", TWO_SPINNERS);
    let trace = file.with_extension("json");
    for policy in ["interval", "ticks", "fifo", "priority", "deadline"] {
        let out = toy(&[
            "run",
            "--gil-policy",
            policy,
            "--gil-trace",
            trace.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{policy}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&trace).expect("trace written");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let events = json["traceEvents"].as_array().expect("traceEvents array");

        let names: Vec<(u64, String)> = events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .map(|e| {
                (
                    e["tid"].as_u64().unwrap(),
                    e["args"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for tid in 1..=3 {
            assert!(
                names.iter().any(|(t, _)| *t == tid),
                "{policy}: no track for thread {tid}: {names:?}"
            );
        }
        assert!(names.iter().any(|(t, n)| *t == 1 && n.contains("main")));

        let mut running: Vec<(f64, f64, u64)> = Vec::new();
        let mut handoffs = Vec::new();
        for e in events.iter().filter(|e| e["ph"] == "X") {
            let name = e["name"].as_str().unwrap();
            assert!(
                name == "running" || name == "waiting for GIL",
                "{policy}: unexpected slice {name}"
            );
            let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
            assert!(ts >= 0.0 && dur >= 0.0);
            if name == "running" {
                running.push((ts, ts + dur, e["tid"].as_u64().unwrap()));
                handoffs.push((ts, e["tid"].as_u64().unwrap(), e["args"].clone()));
            }
        }
        // Each hand-off (a running slice followed by another thread's) says why the holder
        // let go and the line it was on.
        handoffs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut switches = 0;
        for pair in handoffs.windows(2).filter(|p| p[0].1 != p[1].1) {
            let args = &pair[0].2;
            let reason = args["reason"].as_str().unwrap_or_default();
            assert!(
                ["drop_request", "ticks", "blocking", "thread_end", "schedule"].contains(&reason),
                "{policy}: a hand-off without its reason: {args}"
            );
            let line = args["line"].as_str().unwrap_or_default();
            let number = line
                .strip_prefix(file.to_str().unwrap())
                .and_then(|l| l.strip_prefix(':'));
            assert!(
                number.is_some_and(|n| n.parse::<u32>().is_ok_and(|n| (1..=6).contains(&n))),
                "{policy}: a hand-off without its file:line: {args}"
            );
            switches += 1;
        }
        assert!(switches >= 2, "{policy}: {switches} hand-offs");
        for tid in 1..=3 {
            assert!(running.iter().any(|r| r.2 == tid), "{policy}: thread {tid} never ran");
        }
        // The GIL's invariant, seen from outside: running slices never overlap.
        running.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in running.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1 - 0.5,
                "{policy}: threads {} and {} ran at once: {pair:?}",
                pair[0].2,
                pair[1].2
            );
        }
    }
}

#[test]
fn stats_table_has_a_row_per_thread_and_totals() {
    let file = script("stats.toy", TWO_SPINNERS);
    let out = toy(&["run", "--gil-stats", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "true\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("GIL: policy interval"), "{err}");
    assert!(lines[0].contains("cpu follow"), "{err}");
    for column in [
        "acquisitions",
        "hold (ms)",
        "wait (ms)",
        "max wait (ms)",
        "forced drops",
        "cpu moves",
    ] {
        assert!(lines[1].contains(column), "missing column {column}: {err}");
    }
    assert!(lines.iter().any(|l| l.starts_with("1 (main)")));
    assert!(lines.iter().any(|l| l.starts_with("2 ")));
    assert!(lines.iter().any(|l| l.starts_with("3 ")));
    assert!(lines.iter().any(|l| l.starts_with("total")));
    let switches = lines
        .iter()
        .find(|l| l.starts_with("switches: "))
        .expect("switches line");
    // "switches: N (drop_request a, ticks b, blocking c, thread_end d, schedule e)"
    let (total, reasons) = switches["switches: ".len()..].split_once(" (").expect("reasons");
    let counts: Vec<(&str, u64)> = reasons
        .trim_end_matches(')')
        .split(", ")
        .map(|r| {
            let (name, n) = r.split_once(' ').unwrap();
            (name, n.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = counts.iter().map(|c| c.0).collect();
    assert_eq!(names, ["drop_request", "ticks", "blocking", "thread_end", "schedule"]);
    assert_eq!(
        counts.iter().map(|c| c.1).sum::<u64>(),
        total.parse::<u64>().unwrap(),
        "{err}"
    );
    assert!(lines.last().unwrap().starts_with("  ") || lines.last().unwrap().starts_with("waits caused"));
}

/// The `--gil-stats` table ends with the costliest lines: on the convoy script, under every
/// policy, the CPU-bound thread's loop (line 9) made the others wait most. Under `priority`
/// that loop makes the napping thread wait only microseconds a nap, so one wake-up the OS
/// delays elsewhere (another test running beside this one) can outweigh it: a policy gets
/// three runs, and the loop must come first in one of them.
#[test]
fn convoy_waits_are_charged_to_the_cpu_bound_loop() {
    let root = env!("CARGO_MANIFEST_DIR");
    for policy in ["interval", "fifo", "priority", "deadline"] {
        let mut reports = Vec::new();
        for _ in 0..3 {
            let out = Command::new(env!("CARGO_BIN_EXE_toy"))
                .current_dir(root)
                .args([
                    "run",
                    "--gil-policy",
                    policy,
                    "--gil-stats",
                    "scripts/convoy-picture.toy",
                ])
                .output()
                .expect("run toy");
            assert!(out.status.success(), "{policy}");
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let mut tail = err.lines().skip_while(|l| !l.starts_with("waits caused"));
            assert_eq!(
                tail.next(),
                Some("waits caused (where the holder was when others began to wait), costliest first:"),
                "{policy}: {err}"
            );
            let costliest: Vec<&str> = tail.collect();
            assert!((1..=5).contains(&costliest.len()), "{policy}: {err}");
            assert!(costliest.iter().all(|l| l.ends_with(" ms")), "{policy}: {err}");
            let loop_first = costliest[0].trim_start().starts_with("scripts/convoy-picture.toy:9 ");
            reports.push(err.clone());
            if loop_first {
                break;
            }
            assert!(reports.len() < 3, "{policy}: {}", reports.join("\n---\n"));
        }
    }
}

/// `toy compare`: a row per policy asked for, in that order, with the costliest line;
/// progress on stderr; `--svg` writes a chart with a bar group per policy.
#[test]
fn compare_prints_a_row_per_policy_and_draws_them() {
    let file = script("compare.toy", TWO_SPINNERS);
    let svg = file.with_extension("cmp.svg");
    let out = toy(&[
        "compare",
        "--policies",
        "deadline,interval,ticks",
        "--runs",
        "2",
        "--svg",
        svg.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| ["deadline", "interval", "ticks"].iter().any(|p| l.starts_with(p)))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(
        rows[0].starts_with("deadline") && rows[2].starts_with("ticks"),
        "{stdout}"
    );
    assert!(
        rows.iter().all(|r| r.contains("compare.toy:")),
        "each row names its costliest line: {stdout}"
    );
    // Progress: one line per run, 3 policies x 2 runs, then the chart.
    assert!(
        stderr.lines().filter(|l| l.starts_with("compare: ")).count() >= 6,
        "{stderr}"
    );
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    for policy in ["deadline", "interval", "ticks"] {
        assert!(
            chart.contains(&format!(">{policy}<")),
            "{policy} missing from the chart"
        );
    }
    assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
}

#[test]
fn compare_usage_errors() {
    let file = script("compare_bad.toy", TWO_SPINNERS);
    for args in [
        vec!["compare", "--policies", "interval,lottery", file.to_str().unwrap()],
        vec!["compare", "--policies", "fifo,fifo", file.to_str().unwrap()],
        vec!["compare", "--runs", "0", file.to_str().unwrap()],
        vec!["compare"],
    ] {
        let out = toy(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{args:?}");
    }
    let failing = script("compare_fails.toy", "throw error(\"ValueError\", \"no\")\n");
    let out = toy(&["compare", "--runs", "1", failing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ValueError"));
}

#[test]
fn compare_passes_run_options_on_to_every_run() {
    // The script asserts the setting it was given, so a run without it fails.
    let file = script(
        "compare_options.toy",
        "assert(switch_interval() == 0.001, \"switch interval \" + str(switch_interval()))\n",
    );
    let path = file.to_str().unwrap();
    let out = toy(&[
        "compare",
        "--runs",
        "1",
        "--policies",
        "interval,ticks",
        "--switch-interval",
        "1ms",
        path,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = toy(&["compare", "--runs", "1", "--policies", "interval", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("switch interval 0.005"));
    let big = script("compare_memory.toy", "let xs = [0] * 1000000\n");
    let out = toy(&[
        "compare",
        "--runs",
        "1",
        "--policies",
        "fifo",
        "--max-memory",
        "1M",
        big.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MemoryError"));
    for bad in [
        ["--switch-interval", "0"],
        ["--check-interval", "0"],
        ["--gil-cpu", "up"],
        ["--max-memory", "lots"],
    ] {
        let out = toy(&["compare", bad[0], bad[1], path]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn gil_cpu_any_is_reported_and_moves_nobody() {
    let file = script("any.toy", TWO_SPINNERS);
    let out = toy(&["run", "--gil-cpu", "any", "--gil-stats", file.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].contains("cpu any"), "{err}");
    let total = lines.iter().find(|l| l.starts_with("total")).expect("totals row");
    assert!(total.ends_with(" 0"), "the cpu moves column is the last: {err}");
}

/// Whether this test process may use two CPUs; if not, says that the test (`what`) is
/// skipped: with one CPU there is nowhere to move a thread to.
fn two_cpus(what: &str) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("skipped: {cpus} CPU; {what} needs two");
    }
    cpus >= 2
}

/// A thread napping beside four CPU-bound ones under `priority`, then printing how often
/// the CPU-bound ones moved CPUs. With the switch interval at an hour they never ask one
/// another to drop; they get the GIL only from the napper's releases (never a forced drop
/// for them to follow), woken by it, often onto its CPU, and move off it when the nap is
/// one of 0.2-20 ms. (The napper itself may follow the holder it forced to drop, when it
/// waited 1 ms or more for the drop, as on a loaded machine: not counted.)
const NAPPER: &str = r#"
set_switch_interval(3600)
let stop = false
fn spin() {
    let n = 0
    while not stop { n += 1 }
    return n
}
let ts = [spawn(spin) for i in range(4)]
sleep(0.03)
let nap = float(argv()[0])
for i in range(200) { sleep(nap) }
stop = true
for t in ts { t.join() }
let threads = gil_stats().threads
print(sum([threads[id].cpu_moves for id in range(2, 6)]))
"#;

/// `sleep` of 0.2-20 ms keeps the next holder off the sleeper's CPU (language.md,
/// `--gil-cpu`): 1 ms naps move CPU-bound threads (over 100 moves in 200 naps here; none
/// before the change), 0.1 ms naps (closer to a yield) and `--gil-cpu any` never do.
/// Needs two CPUs to move to.
#[test]
fn sleep_keeps_the_next_holder_off_its_cpu() {
    if !two_cpus("moving off a sleeper's CPU") {
        return;
    }
    let file = script("napper.toy", NAPPER);
    let moves = |nap: &str, cpu: &str| {
        let out = toy(&[
            "run",
            "--gil-policy",
            "priority",
            "--gil-cpu",
            cpu,
            file.to_str().unwrap(),
            nap,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse::<u64>().unwrap_or_else(|_| panic!("a count: {text}"))
    };
    assert!(
        moves("0.001", "follow") > 0,
        "200 naps of 1 ms never moved the CPU-bound thread"
    );
    assert_eq!(moves("0.0001", "follow"), 0, "naps of 0.1 ms are below the range");
    assert_eq!(moves("0.001", "any"), 0, "--gil-cpu any");
}

/// Threads joined one by one and a lock fought over: every join and every wait for the
/// lock lets the GIL go as a releaser that stops running, which pins the waiter it wakes
/// to its own CPU until that waiter runs. Then the program says it is ready (READY is the
/// ready file's path) and waits at `input`.
const PINNING_WAITS: &str = r#"
fn work(n) { let s = 0; for i in range(n) { s += i } return s }
for r in range(5) {
    let ts = [spawn(work, 20000) for i in range(64)]
    for t in ts { t.join() }
}
let lock = Lock()
let total = 0
fn bump() {
    for i in range(2000) {
        lock.acquire()
        total += 1
        lock.release()
    }
}
let ts = [spawn(bump) for i in range(4)]
for t in ts { t.join() }
write_file(READY, str(total))
input()
"#;

/// The CPUs process or thread `status` (a `/proc/.../status` file) may run on.
fn cpus_allowed(status: &std::path::Path) -> String {
    let text = std::fs::read_to_string(status).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

/// A waiter pinned to a releaser's CPU for its wake-up is pinned only until it runs: once
/// the joins and lock waits are over, no thread of the process (the pool's idle workers
/// included) is left with fewer CPUs than the process started with.
#[test]
fn no_thread_is_left_pinned_after_joins_and_lock_waits() {
    if !two_cpus("waking a waiter on a releaser's CPU") {
        return;
    }
    let own = cpus_allowed(std::path::Path::new("/proc/self/status"));
    assert!(!own.is_empty(), "/proc/self/status names the CPUs this test may use");
    let (mut child, ready) = common::start_configured_until_ready(
        "gil-pinning",
        |toy| {
            toy.args(["run", "--gil-policy", "fifo"]).stdin(Stdio::piped());
        },
        |ready| PINNING_WAITS.replace("READY", ready),
    );
    let total = common::read_pid(&ready);
    let tasks = std::path::PathBuf::from(format!("/proc/{}/task", child.id()));
    let masks: Vec<(String, String)> = std::fs::read_dir(&tasks)
        .expect("the threads of toy")
        .filter_map(Result::ok)
        .map(|task| {
            let name = task.file_name().to_string_lossy().into_owned();
            (name, cpus_allowed(&task.path().join("status")))
        })
        .collect();
    drop(child.stdin.take());
    let status = child.wait().expect("toy ends");
    assert_eq!(total, 8000, "the program ran to its input()");
    assert!(status.success());
    assert!(masks.len() > 4, "the pool's workers are still there: {masks:?}");
    for (task, mask) in &masks {
        assert_eq!(mask, &own, "thread {task} is left pinned");
    }
}

#[test]
fn bad_gil_options_are_usage_errors() {
    let file = script("empty.toy", "");
    for args in [
        ["--gil-policy", "lottery"],
        ["--switch-interval", "-5ms"],
        ["--check-interval", "0"],
        ["--gil-cpu", "sideways"],
    ] {
        let out = toy(&["run", args[0], args[1], file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn timeline_subcommand_draws_a_trace() {
    let file = script("timeline.toy", TWO_SPINNERS);
    let trace = file.with_extension("trace.json");
    let svg = file.with_extension("svg");
    let out = toy(&["run", "--gil-trace", trace.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(out.status.success());
    let out = toy(&["timeline", trace.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wrote "));
    let text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(text.contains("<svg") && text.contains("class=\"lane\""));
    let missing = toy(&["timeline", "/nonexistent/trace.json", "-o", svg.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such trace file"));
}

const ALARM_IN_A_CHILD: &str = r#"
fn work(n) { let s = 0; for i in range(n) { s += i } return s }
# Four threads queue while this one keeps the GIL for many switch intervals: each change
# of holder then leaves waiters behind, and puts one on watch.
fn contend() {
    let ts = [spawn(work, 400000) for i in range(4)]
    work(2000000)
    for t in ts { t.join() }
}
fn child() {
    contend()
    parent().send("contended")
    return parent().recv()
}
contend()
let p = spawn_process(child)
p.recv()
write_file(READY, str(p.pid))
input()
p.send("go")
p.join()
"#;

/// The GIL's alarm (the thread that wakes the waiter put on watch when its ask is due)
/// is the parent's until a fork; a forked child whose threads contend for its GIL starts
/// one of its own. The parent starts its alarm before it forks, so a child that took the
/// copied clock for its own would start none. The script writes the child's pid to its
/// ready file (READY) and waits at `input` while the test looks at both processes.
#[test]
fn a_forked_child_starts_its_own_gil_alarm() {
    let (mut child, ready) = common::start_configured_until_ready(
        "gil-alarm-child",
        |toy| {
            toy.arg("run").stdin(Stdio::piped());
        },
        |ready| ALARM_IN_A_CHILD.replace("READY", ready),
    );
    let names = |pid: &str| -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .filter_map(Result::ok)
                    .map(|task| std::fs::read_to_string(task.path().join("comm")).unwrap_or_default())
                    .map(|name| name.trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let pid = common::read_pid(&ready).to_string();
    let in_child = names(&pid);
    let in_parent = names(&child.id().to_string());
    drop(child.stdin.take());
    let status = child.wait().expect("toy ends");
    assert!(status.success());
    assert!(in_parent.iter().any(|n| n == "toy-gil-alarm"), "parent: {in_parent:?}");
    assert!(in_child.iter().any(|n| n == "toy-gil-alarm"), "child: {in_child:?}");
}
