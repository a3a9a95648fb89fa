//! Reaping a child process together with the CPU time the kernel charged to it, for tools
//! that run `toy` in children and measure them (`toy compare`). Invariant: the child is
//! reaped exactly once, here, so its resource usage is read from the one record the kernel
//! keeps; a wait interrupted by a signal is retried.

use std::time::Duration;

/// How a reaped child ended, and what it cost.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    /// The exit code, or `None` if a signal ended it.
    pub(crate) code: Option<i32>,
    /// User plus system CPU time of all its threads.
    pub(crate) cpu: Duration,
}

/// Waits for the child `pid`, which the caller spawned and has not reaped (std's `Child`
/// must then not be waited on again).
pub(crate) fn wait_with_usage(pid: u32) -> std::io::Result<Usage> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    loop {
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is the caller's own unreaped child; the pointers are to live locals
        // of the right types for the duration of the call.
        let done = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if done == pid {
            let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
            return Ok(Usage { code, cpu });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}
