//! Shared by the integration tests that watch a running toy process from outside: start a
//! script, and wait until it says it reached the point the test wants to inspect.

// Each test file compiles its own copy of this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Writes the script `make(ready)` — where `ready` is a quoted path the script must
/// `write_file` when it reaches the point of interest — starts toy on it (stdout and
/// stderr piped), and returns once that file exists. Panics if toy exits first or takes
/// more than two minutes.
pub fn start_until_ready(tag: &str, make: impl FnOnce(&str) -> String) -> Child {
    start_configured_until_ready(tag, |_| {}, make).0
}

/// Like [`start_until_ready`], but `configure` may change the command first (its options,
/// where its output goes, its process group); the script's path is added after whatever
/// arguments `configure` gave. Returns the child and the ready file, whose contents the
/// script may have written for the test.
pub fn start_configured_until_ready(
    tag: &str,
    configure: impl FnOnce(&mut Command),
    make: impl FnOnce(&str) -> String,
) -> (Child, PathBuf) {
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
    let mut command = Command::new(env!("CARGO_BIN_EXE_toy"));
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    configure(&mut command);
    let mut child = command.arg(&script).spawn().expect("start toy");
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
    (child, ready)
}

/// Waits at most `limit` for `child` to exit; kills it and panics (saying `what`) if it
/// does not.
pub fn exit_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("toy did not exit within {limit:?}: {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (a name `kill` knows, e.g. `INT`) to the process `pid`, or to the
/// process group `-pgid`.
pub fn send_signal(signal: &str, target: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target)
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{signal} {target} failed");
}

/// The number the script wrote to `ready` (it may not have finished writing it at first).
pub fn read_pid(ready: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(pid) = std::fs::read_to_string(ready).unwrap_or_default().trim().parse() {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", ready.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is still running (not gone, not a zombie) three seconds from now; a
/// survivor is killed, so a failing test leaves nothing behind.
pub fn survives(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if matches!(state, None | Some("Z") | Some("X")) {
            return false;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
