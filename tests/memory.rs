//! The collector frees cycles: two million self-referential lists and self-referential
//! closures, each garbage right after it is made, must not accumulate. (Leaked, they would
//! take well over a gigabyte; collected, the process stays small.)

mod common;

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
