//! One run of the script in a child `toy` process, with everything it printed captured and
//! a time limit. Invariant: the child is always waited for — killed first if it outlives
//! the limit — so no run is left behind when exploring stops, and both of its output
//! streams are read to the end while it runs, so a chatty child never blocks on a full pipe.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What one run did.
#[derive(Debug)]
pub(super) struct Run {
    /// The exit code, or `None` if a signal ended it (or the time limit did).
    pub(super) code: Option<i32>,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    /// It was still running when the limit came, and was killed.
    pub(super) timed_out: bool,
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        bytes
    })
}

/// Run `program args...` with no standard input, for at most `limit`.
pub(super) fn run(program: &Path, args: &[String], limit: Duration) -> Result<Run, String> {
    let mut child: Child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let out = drain(child.stdout.take().expect("stdout is piped"));
    let err = drain(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child
                    .wait()
                    .map_err(|e| format!("waiting for {}: {e}", program.display()))?;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
        }
    };
    Ok(Run {
        code: if timed_out { None } else { status.code() },
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    })
}
