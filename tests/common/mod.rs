//! Shared by the integration tests that watch a running toy process from outside: start a
//! script, and wait until it says it reached the point the test wants to inspect.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Writes the script `make(ready)` — where `ready` is a quoted path the script must
/// `write_file` when it reaches the point of interest — starts toy on it (stdout and
/// stderr piped), and returns once that file exists. Panics if toy exits first or takes
/// more than two minutes.
pub fn start_until_ready(tag: &str, make: impl FnOnce(&str) -> String) -> Child {
    let dir: PathBuf = std::env::temp_dir().join(format!("toy-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let script = dir.join("script.toy");
    std::fs::write(
        &script,
        make(&format!("{:?}", ready.to_str().expect("utf-8 temp path"))),
    )
    .expect("script");
    let mut child = Command::new(env!("CARGO_BIN_EXE_toy"))
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start toy");
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "toy did not reach the ready point"
        );
        assert!(
            child.try_wait().expect("poll").is_none(),
            "toy exited before the ready point"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}
