//! One run of a script in a child `toy` process, measured from outside: its wall time, the
//! CPU time the kernel charged to it (user and system, from `wait4`'s resource usage, so
//! every thread of the child counts and nothing of the parent does), its exit status and
//! what it wrote to stderr. Invariant: the child is always reaped, exactly once, by the
//! process layer's `wait_with_usage`, so its CPU time is read from the one record the
//! kernel keeps.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run did.
#[derive(Debug)]
pub(super) struct Outcome {
    pub(super) wall: Duration,
    pub(super) cpu: Duration,
    /// The exit code, or `None` if a signal ended it.
    pub(super) code: Option<i32>,
    /// The end of its stderr, for a failure report.
    pub(super) stderr_tail: String,
}

/// Run `program args...` with stdin and stdout closed off and stderr into `stderr_file`,
/// and wait for it.
pub(super) fn run(program: &Path, args: &[String], stderr_file: &Path) -> Result<Outcome, String> {
    let stderr = File::create(stderr_file).map_err(|e| format!("cannot create {}: {e}", stderr_file.display()))?;
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let usage =
        crate::process::wait_with_usage(child.id()).map_err(|e| format!("waiting for {}: {e}", program.display()))?;
    let wall = started.elapsed();
    // Reaped above: the `Child` must not wait again (it never does when dropped).
    drop(child);
    let (code, cpu) = (usage.code, usage.cpu);
    let mut text = String::new();
    if let Ok(mut f) = File::open(stderr_file) {
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let tail: Vec<&str> = text.lines().rev().take(8).collect();
    let stderr_tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    Ok(Outcome {
        wall,
        cpu,
        code,
        stderr_tail,
    })
}
