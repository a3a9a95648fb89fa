//! The collector frees cycles: two million self-referential lists and self-referential
//! closures, each garbage right after it is made, must not accumulate. (Leaked, they would
//! take well over a gigabyte; collected, the process stays small.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak resident memory of process `pid` in KiB (VmHWM in /proc/PID/status).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn cycles_are_collected() {
    let dir = std::env::temp_dir().join(format!("toy-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready");
    let script = dir.join("cycles.toy");
    let text = format!(
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
write_file({:?}, "x")
sleep(60)
"#,
        ready.to_str().unwrap()
    );
    std::fs::write(&script, text).expect("script");
    let mut child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start toy");
    let start = Instant::now();
    while !ready.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "toy did not finish");
        assert!(child.try_wait().expect("poll").is_none(), "toy exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let peak = peak_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(peak > 0, "could not read VmHWM");
    assert!(
        peak < 300 * 1024,
        "peak memory {peak} KiB: cycles are not being collected"
    );
}
