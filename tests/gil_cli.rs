//! The GIL's telemetry as a user meets it: `--gil-trace` writes Chrome trace-event JSON
//! whose slices obey the lock's invariant (never two threads running at once), and
//! `--gil-stats` prints a table with a row per thread and the totals.

use std::path::PathBuf;
use std::process::Command;

const TWO_SPINNERS: &str = r#"
fn spin(n) { let s = 0; for i in range(n) { s += i } return s }
let a = spawn(spin, 400000)
let b = spawn(spin, 400000)
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

fn toy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_toy"))
        .args(args)
        .output()
        .expect("run toy")
}

#[test]
fn trace_file_has_one_track_per_thread_and_never_two_runners() {
    let file = script("trace.toy", TWO_SPINNERS);
    let trace = file.with_extension("json");
    for policy in ["interval", "ticks", "fifo", "priority"] {
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
            }
        }
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
    assert!(lines.iter().any(|l| l.starts_with("switches:")));
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
