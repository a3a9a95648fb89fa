//! Large sources compile in linear time and memory: a list literal of a million numbers
//! compiles and runs under a memory limit, and a function with 150,000 parameters is
//! refused in well under ten seconds. (A long literal was compiled as 5,000 chunks joined
//! by `+`, quadratic; the duplicate-parameter check compared each name with every earlier
//! one.) The bounds are generous: they tell linear from quadratic, not fast from slow.
//! `TOY_BIN` runs another binary.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn toy_bin() -> String {
    std::env::var("TOY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_toy").to_string())
}

/// Runs `args` (a command and its arguments), killing it after `limit`; the output and
/// whether it finished in time.
fn run_for(args: &[String], limit: Duration) -> (Output, bool) {
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let start = Instant::now();
    let mut in_time = true;
    while child.try_wait().expect("poll").is_none() {
        if start.elapsed() > limit {
            in_time = false;
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("output"), in_time)
}

fn write_script(name: &str, source: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("toy-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, source).expect("script");
    path
}

#[test]
fn a_million_item_literal_compiles_and_runs_in_little_memory() {
    let items: Vec<String> = (0..1_000_000).map(|i| (i * 7).to_string()).collect();
    let source = format!(
        "let xs = [{}]\nprint(len(xs), xs[0], xs[1], xs[999999], xs[500000])\n",
        items.join(", ")
    );
    let path = write_script("literal.toy", &source);
    let args = [
        "prlimit".to_string(),
        "--as=2000000000".into(),
        "--".into(),
        toy_bin(),
        "run".into(),
        "--max-memory".into(),
        "256M".into(),
        path.to_string_lossy().into_owned(),
    ];
    let (out, in_time) = run_for(&args, Duration::from_secs(60));
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(in_time, "a million-item literal did not finish in 60 s");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1000000 0 7 6999993 3500000\n",
        "stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
}

#[test]
fn a_function_with_150000_parameters_is_refused_quickly() {
    let params: Vec<String> = (0..150_000).map(|i| format!("p{i}")).collect();
    let source = format!("fn f({}) {{ return 1 }}\nprint(f)\n", params.join(", "));
    let path = write_script("params.toy", &source);
    let args = [toy_bin(), "check".into(), path.to_string_lossy().into_owned()];
    let (out, in_time) = run_for(&args, Duration::from_secs(10));
    let _ = std::fs::remove_file(&path);
    assert!(in_time, "refusing 150,000 parameters took more than 10 s");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("SyntaxError: a function may take at most 200 parameters"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_duplicate_among_many_parameters_is_still_found() {
    let mut params: Vec<String> = (0..150).map(|i| format!("p{i}")).collect();
    params.push("p17".into());
    let source = format!("fn f({}) {{ return 1 }}\n", params.join(", "));
    let path = write_script("dup.toy", &source);
    let args = [toy_bin(), "check".into(), path.to_string_lossy().into_owned()];
    let (out, _) = run_for(&args, Duration::from_secs(30));
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("SyntaxError: duplicate parameter 'p17'"),
        "stderr: {stderr}"
    );
}
