//! Memory and other resources, watched from outside the process: the collector frees
//! cycles and paces itself by bytes; an allocation the system refuses is a `MemoryError`,
//! never an abort; the `--max-memory` limit holds; joined threads and processes are freed;
//! dropped sockets are closed when collected, and running out of descriptors collects. The limits are set by `prlimit` on the child, so no test
//! can take this machine's memory. `TOY_BIN` runs another binary (an older build, to see
//! a test fail before a fix).

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn toy_bin() -> String {
    std::env::var("TOY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_toy").to_string())
}

/// Runs `script` under `prlimit` with `limits` (e.g. `--as=4000000000`) and toy `options`,
/// killing it after `timeout`.
fn run_limited(tag: &str, limits: &[&str], options: &[&str], script: &str, timeout: Duration) -> Output {
    let dir = std::env::temp_dir().join(format!("toy-mem-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("script.toy");
    std::fs::write(&path, script).expect("script");
    let mut child = Command::new("prlimit")
        .args(limits)
        .arg("--")
        .arg(toy_bin())
        .arg("run")
        .args(options)
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start prlimit (util-linux)");
    let start = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if start.elapsed() > timeout {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Peak resident memory of process `pid` in KiB (VmHWM in /proc/PID/status).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn cycles_are_collected() {
    let mut child = common::start_until_ready("memory", |ready| {
        format!(
            r#"
fn make_cycles(n) {{
    for i in range(n) {{
        let xs = [i, "padding padding padding padding"]
        xs.append(xs)
        let m = {{"self": nil, "n": i}}
        m["self"] = m
        fn again(k) {{ if k > 0 {{ return again(k - 1) }} return m }}
        again(1)
    }}
}}
make_cycles(2000000)
write_file({ready}, "x")
sleep(60)
"#
        )
    });
    let peak = peak_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(peak > 0, "could not read VmHWM");
    assert!(
        peak < 300 * 1024,
        "peak memory {peak} KiB: cycles are not being collected"
    );
}

/// `[0] * 2000000000` needs 32 GB: where the system refuses it (here an address-space
/// limit), the script gets a MemoryError it can catch, and an uncaught one ends the run
/// as any error does — exit 1, a traceback, and everything printed before still printed.
#[test]
fn an_allocation_the_system_refuses_is_a_memory_error() {
    let script = r#"
print("before")
try { let xs = [0] * 2000000000 } catch e { print("caught", e.kind) }
try { let s = "ab" * 8000000000 } catch e { print("caught", e.kind) }
try { let xs = [0] * 100000000000000 } catch e { print("caught", e.kind) }
print("after")
let ys = [0] * 10000000000
print("never")
"#;
    let out = run_limited("refused", &["--as=4000000000"], &[], script, Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        stdout, "before\ncaught MemoryError\ncaught MemoryError\ncaught MemoryError\nafter\n",
        "stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("MemoryError: cannot allocate"), "stderr: {stderr}");
    assert!(
        stderr.contains("Traceback (most recent call last):"),
        "stderr: {stderr}"
    );
}

/// Under `--max-memory` a script that builds and drops big values again and again keeps
/// running: the collector frees the dead before the limit refuses anything, and what is
/// really over the limit is a MemoryError the script catches.
#[test]
fn max_memory_collects_before_refusing() {
    let script = r#"
fn churn(rounds) {
    for i in range(rounds) {
        let xs = [i] * 2_000_000          # 32 MB each, dead at the next round
        let s = "x" * 10_000_000
    }
}
churn(50)
let kind = nil
try { let big = [0] * 20_000_000 } catch e { kind = e.kind }
print(kind)
churn(10)
print("done")
"#;
    let out = run_limited(
        "limit",
        &["--as=8000000000"],
        &["--max-memory", "100M"],
        script,
        Duration::from_secs(60),
    );
    assert_eq!(
        text(&out.stdout),
        "MemoryError\ndone\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A call's registers start empty: the map the last call passed to `len` in a register
/// the next call writes only in its second loop is not kept alive while that call fills a
/// new map. One map and its growth fit in the limit; two do not (before the fix: a
/// MemoryError with 50 MB in use).
#[test]
fn a_finished_calls_registers_keep_nothing_alive() {
    let script = r#"
fn fill(keys) {
    let m = {}
    for k in keys { m[k] = k }
    let s = 0
    for k in keys { s += m[k] }
    return [len(m), s]
}
let keys = []
for i in range(300_000) { keys.append(i * 7919) }
let total = 0
for r in range(10) { total += fill(keys)[0] }
print(total)
"#;
    let out = run_limited(
        "registers",
        &["--as=8000000000"],
        &["--max-memory", "56M"],
        script,
        Duration::from_secs(60),
    );
    assert_eq!(text(&out.stdout), "3000000\n", "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
}

/// `--max-memory` reads sizes with K, M and G suffixes; anything else is a usage error.
#[test]
fn max_memory_needs_a_size() {
    for bad in ["12Q", "", "-5M", "0", "G", "1.5.2M", "99999999999999999999"] {
        let out = Command::new(toy_bin())
            .args(["run", "--max-memory", bad, "does-not-matter.toy"])
            .output()
            .expect("run toy");
        assert_eq!(out.status.code(), Some(2), "--max-memory {bad:?}");
        assert!(
            text(&out.stderr).contains("is not a size"),
            "--max-memory {bad:?}: {}",
            text(&out.stderr)
        );
    }
    let dir = std::env::temp_dir().join(format!("toy-mem-sizes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ok.toy");
    std::fs::write(&path, "print(len([0] * 1000))\n").expect("script");
    for good in ["64M", "64m", "65536K", "1G", "1.5G", "100000000"] {
        let out = Command::new(toy_bin())
            .args(["run", "--max-memory", good])
            .arg(&path)
            .output()
            .expect("run toy");
        assert_eq!(
            text(&out.stdout),
            "1000\n",
            "--max-memory {good}: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `script` (which must `write_file(READY, ...)` when done, then sleep), waits for
/// that, and returns the process's peak resident memory in KiB. `READY` in the script is
/// replaced by the quoted path of the file to write.
fn peak_after(tag: &str, script: &str) -> u64 {
    let dir = std::env::temp_dir().join(format!("toy-mem-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready");
    let path = dir.join("script.toy");
    let quoted = format!("{:?}", ready.to_str().expect("utf-8 temp path"));
    std::fs::write(&path, script.replace("READY", &quoted)).expect("script");
    let mut child = Command::new(toy_bin())
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toy");
    let start = Instant::now();
    while !ready.exists() {
        if let Some(status) = child.try_wait().expect("poll") {
            let err = child.wait_with_output().map(|o| text(&o.stderr)).unwrap_or_default();
            panic!("toy exited ({status}) before the ready point: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "toy did not reach the ready point"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let peak = peak_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(peak > 0, "could not read VmHWM");
    peak
}

/// A list that grows under `append` is memory the collector must see: forty lists of a
/// million ints (16 MB each), each dropped after it is built, stay around a list or two
/// at a time instead of piling up (640 MB) until enough objects have been allocated.
#[test]
fn growing_lists_trigger_collection() {
    let peak = peak_after(
        "lists",
        r#"
fn build(n) {
    let xs = []
    for i in range(n) { xs.append(i) }
    return len(xs)
}
let total = 0
for r in range(40) { total += build(1_000_000) }
write_file(READY, str(total))
sleep(60)
"#,
    );
    assert!(peak < 200 * 1024, "peak memory {peak} KiB: dropped lists pile up");
}

/// The same with strings: a function that appends a million references to sixteen shared
/// strings to a new list and joins it, twenty times, and a map refilled twenty times.
#[test]
fn joined_strings_and_refilled_maps_trigger_collection() {
    let peak = peak_after(
        "strings",
        r#"
let WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
             "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi"]
fn build(n) {
    let parts = []
    for i in range(n) { parts.append(WORDS[i % 16]) }
    return "".join(parts)
}
fn fill(n) {
    let m = {}
    for i in range(n) { m[i * 7919] = i }
    return len(m)
}
let total = 0
for r in range(20) { total += len(build(1_000_000)) }
for r in range(20) { total += fill(300_000) }
write_file(READY, str(total))
sleep(60)
"#,
    );
    assert!(
        peak < 150 * 1024,
        "peak memory {peak} KiB: dropped lists, strings and maps pile up"
    );
}

/// A program that drops a million strings and makes the next million reuses the slots of
/// the dead: the arena asks for a collection before it would grow past them. Three rounds
/// of joining a million `str(i)` peaked at 108 MB before (the arena grew to 1.4M slots);
/// with the slots reused, at 85 MB.
#[test]
fn rebuilt_strings_reuse_the_slots_of_the_dead() {
    let peak = peak_after(
        "rebuilt",
        r#"
fn numbers_csv(n) {
    let parts = []
    for i in range(n) { parts.append(str(i)) }
    return ",".join(parts)
}
let total = 0
for r in range(3) { total += len(numbers_csv(1_000_000)) }
write_file(READY, str(total))
sleep(60)
"#,
    );
    assert!(
        peak < 96 * 1024,
        "peak memory {peak} KiB: the arena grew past the dead strings"
    );
}

/// Joined children and threads are freed: three hundred children each returning a 1 MB
/// string, and ten thousand threads, each joined and dropped, leave nothing behind —
/// neither their results, nor the children's read buffers, nor the threads' stacks.
#[test]
fn joined_threads_and_processes_are_freed() {
    let peak = peak_after(
        "joined",
        r#"
fn child(i) { return "x" * 1_000_000 }
for round in range(3) {
    for i in range(100) {
        let p = spawn_process(child, i)
        let r = p.join()
    }
}
fn work(i) { return [i, "result " + str(i)] }
let n = 0
for i in range(10000) {
    let t = spawn(work, i)
    n += len(t.join())
}
write_file(READY, str(n))
sleep(60)
"#,
    );
    assert!(
        peak < 120 * 1024,
        "peak memory {peak} KiB: joined threads or processes are kept"
    );
}

/// Sockets dropped without `close()` are closed when collected, and running short of file
/// descriptors collects before failing: with 64 descriptors, 300 connections (600
/// descriptors) made and dropped in a loop, then files read and written, all succeed.
#[test]
fn running_out_of_descriptors_collects_dropped_sockets() {
    let script = r#"
let server = tcp_listen("127.0.0.1", 0)
fn one_connection() {
    let c = tcp_connect("127.0.0.1", server.port)
    let s = server.accept()
    c.send("ping")
    return s.recv(16)
}
let got = 0
for i in range(300) {
    if one_connection() == "ping" { got += 1 }
}
print("connections", got)
fn dangling(n) {
    let held = []
    for i in range(n) { held.append(tcp_connect("127.0.0.1", server.port)) }
    return len(held)
}
dangling(20)
let path = argv()[0]
for i in range(100) {
    let c = tcp_connect("127.0.0.1", server.port)
    write_file(path, str(i))
    if read_file(path) != str(i) { print("wrong", i) }
}
print("files ok")
"#;
    let dir = std::env::temp_dir().join(format!("toy-fds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("data.txt");
    let script_path = dir.join("script.toy");
    std::fs::write(&script_path, script).expect("script");
    let out = Command::new("prlimit")
        .args(["--nofile=64", "--"])
        .arg(toy_bin())
        .arg(&script_path)
        .arg(&data)
        .output()
        .expect("run prlimit");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        text(&out.stdout),
        "connections 300\nfiles ok\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// Starting more threads than the system can hold is a `ThreadError` the script catches,
/// never an abort: each thread takes about four memory mappings, so near 16,000 threads
/// the kernel's limit (`vm.max_map_count`) stops std from finishing a thread's start-up,
/// which aborted the process (exit 134). Every thread waits on a queue of its own, so
/// releasing them wakes one thread per `put`.
#[test]
fn too_many_threads_is_a_thread_error() {
    let script = r#"
fn wait_here(q) { return q.get() }
let ts = []
let qs = []
let n = 0
try {
    for i in range(100000) {
        let q = Queue()
        ts.append(spawn(wait_here, q))
        qs.append(q)
        n += 1
    }
} catch e {
    print(e.kind, e.message.startswith("cannot start a thread ("))
}
for q in qs { q.put(1) }
let total = 0
for t in ts { total += t.join() }
print("joined all", total == n)
"#;
    let out = run_limited("threads", &["--as=unlimited"], &[], script, Duration::from_secs(240));
    assert_eq!(
        text(&out.stdout),
        "ThreadError true\njoined all true\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A caught `RecursionError` costs constant memory: its traceback stores the run of ten
/// thousand identical frames once, shared, instead of a copy of every frame in every
/// error. A thousand of them, all kept in a list, stay small (copied, 400 MB).
#[test]
fn caught_recursion_errors_cost_constant_memory() {
    let peak = peak_after(
        "recursion",
        r#"
fn down(n) { return down(n + 1) }
let kept = []
for i in range(1000) {
    try { down(0) } catch e { kept.append(e) }
}
let kinds = {}
for e in kept { kinds[e.kind] = true }
write_file(READY, str(len(kept)) + " " + str(kinds))
sleep(60)
"#,
    );
    assert!(
        peak < 100 * 1024,
        "peak memory {peak} KiB: every caught error copies its traceback"
    );
}
