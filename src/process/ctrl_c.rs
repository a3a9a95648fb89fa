//! Ctrl-C for the whole process (LANGUAGE.md §6): the SIGINT handler, the watcher that
//! acts on what it records, the exit with code 130 on a second Ctrl-C, and the re-arming
//! of all of it in a forked child.
//!
//! The handler does only what is async-signal-safe: it sets the `Interrupt` bit of the eval
//! breaker of the interpreter that owns Ctrl-C — its main thread throws `Interrupt` at its
//! next check point or wait slice — and writes one byte to a pipe, saying whether that bit
//! was still set from an earlier Ctrl-C nobody has received. The watcher reads the pipe,
//! on a thread of its own or on one the program already has ([`Watcher`]); a Ctrl-C that
//! finds the previous one still pending ends the process with code 130, after flushing
//! what was printed (waiting a bounded time for the GIL, which a stuck holder may never
//! give up) and writing the `--gil-trace` file.
//!
//! Invariants:
//! - One interpreter per process owns Ctrl-C: the last one that called `install` — with
//!   the interpreters it spawned, which the watcher interrupts after the handler has
//!   interrupted the owner (Ctrl-C is the process's, by nature: one handler). What the
//!   handler and the watcher read of it is published through atomics and never freed, so
//!   a signal arriving in the middle of an `install` sees either the old owner or the new.
//! - The handler never blocks: the pipe's write end is non-blocking, and a full pipe drops
//!   the byte (a pipe holds thousands of unread Ctrl-Cs).
//! - A forked child gets a pipe and a watcher of its own before it can receive SIGINT (the
//!   forking thread blocks SIGINT across the fork), so a child's Ctrl-C never reaches the
//!   parent's watcher; a child ends with `_exit` and never writes the parent's trace.

use crate::family::Family;
use crate::signal::Signal;
use crate::threads::SharedGil;
use crate::vm::BREAK_INTERRUPT;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long the exit on a second Ctrl-C waits to take the GIL and flush the output.
const FLUSH_PATIENCE: Duration = Duration::from_secs(2);

/// The pipe byte for a Ctrl-C that found the previous one still pending.
const SECOND: u8 = 1;

/// What the exit on a second Ctrl-C needs: the interpreter's lock (for its output) and
/// where its trace goes.
struct Owner {
    gil: SharedGil,
    trace: Option<PathBuf>,
    /// The interpreters it spawned: Ctrl-C interrupts each at its next check point, and
    /// the trace covers them all.
    family: Option<Arc<Family>>,
}

/// The owner's eval breaker (a leaked `Arc`), read by the handler.
static BREAKER: AtomicPtr<AtomicU32> = AtomicPtr::new(std::ptr::null_mut());
/// The owner (a leaked box), read by the watcher.
static OWNER: AtomicPtr<Owner> = AtomicPtr::new(std::ptr::null_mut());
/// The pipe's write end (the handler's) and read end (the watcher's); -1 before `install`.
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);
/// Set by the watcher once it runs its own code (false from its spawn until then).
static WATCHER_RUNNING: AtomicBool = AtomicBool::new(false);
/// How long a fork waits for a just-spawned watcher to leave std's start-up.
const WATCHER_START_PATIENCE: Duration = Duration::from_secs(1);
/// Set in a forked child: it ends with `_exit` and writes no trace.
static IN_CHILD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // SAFETY (of the whole handler): it touches only atomics, a leaked (never freed)
    // breaker, `write` and `errno`, all async-signal-safe.
    let saved = std::io::Error::last_os_error().raw_os_error();
    let breaker = BREAKER.load(Ordering::Acquire);
    let mut byte = 0u8;
    // SAFETY: a non-null BREAKER is a leaked `Arc<AtomicU32>` that is never freed.
    if let Some(breaker) = unsafe { breaker.as_ref() }
        && breaker.fetch_or(BREAK_INTERRUPT, Ordering::SeqCst) & BREAK_INTERRUPT != 0
    {
        byte = SECOND;
    }
    let fd = WAKE_WRITE.load(Ordering::Acquire);
    if fd >= 0 {
        // SAFETY: `byte` is a valid one-byte buffer; a closed or full pipe only fails.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    if let Some(errno) = saved {
        // SAFETY: errno is thread-local; restoring it keeps the interrupted code's view.
        unsafe { *libc::__errno_location() = errno };
    }
}

/// Makes Ctrl-C interrupt the interpreter behind `gil`, whose `--gil-trace` file (if any)
/// is `trace`. Safe to call again (the last caller owns Ctrl-C), and needed again after
/// anything else took SIGINT (the line editor does).
pub fn install(gil: SharedGil, trace: Option<PathBuf>, family: Option<Arc<Family>>) -> std::io::Result<()> {
    publish(gil, trace, family);
    if WAKE_WRITE.load(Ordering::Acquire) < 0 {
        start_watcher()?;
    }
    set_handler()
}

/// Makes `gil` the owner: the handler interrupts it, the watcher flushes its output.
fn publish(gil: SharedGil, trace: Option<PathBuf>, family: Option<Arc<Family>>) {
    let breaker = Arc::into_raw(gil.eval_breaker_handle()).cast_mut();
    let owner = Box::into_raw(Box::new(Owner { gil, trace, family }));
    // The old ones are leaked: a handler or the watcher may be reading them right now.
    BREAKER.store(breaker, Ordering::Release);
    OWNER.store(owner, Ordering::Release);
}

fn set_handler() -> std::io::Result<()> {
    // SAFETY: `action` is fully initialised before sigaction reads it; the handler is
    // async-signal-safe (see `on_sigint`); SA_RESTART keeps system calls of threads the
    // signal happens to land on from failing with EINTR.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The pipe from the handler to the watcher: its read end, and its write end's descriptor
/// (non-blocking, so the handler never waits on a full pipe).
fn make_pipe() -> std::io::Result<(OwnedFd, libc::c_int)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fcntl on the descriptor pipe2 just made; only its status flags change.
    unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
    // SAFETY: pipe2 succeeded, so fds[0] is open and owned by nobody else.
    let read_end = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    Ok((read_end, fds[1]))
}

/// Creates the pipe and starts the watcher. It does not wait for the watcher to run: the
/// handler's bytes wait in the pipe, and only a fork must wait (`block_during_fork`), so
/// that the child does not copy a thread caught in std's start-up with its locks held.
fn start_watcher() -> std::io::Result<()> {
    let (read_end, write_fd) = make_pipe()?;
    let read_fd = read_end.as_raw_fd();
    WATCHER_RUNNING.store(false, Ordering::Release);
    let spawned = std::thread::Builder::new()
        .name("toy-ctrl-c".into())
        .stack_size(256 << 10)
        .spawn(move || {
            WATCHER_RUNNING.store(true, Ordering::Release);
            watch(read_end)
        });
    if let Err(e) = spawned {
        // SAFETY: the write end is ours and no handler uses it yet.
        unsafe { libc::close(write_fd) };
        return Err(e);
    }
    WAKE_READ.store(read_fd, Ordering::Release);
    WAKE_WRITE.store(write_fd, Ordering::Release);
    Ok(())
}

/// The Ctrl-C watcher, run by a thread the program already has instead of one of its
/// own (see [`Watcher::for_this_thread`]).
pub struct Watcher {
    read_end: OwnedFd,
}

impl Watcher {
    /// Makes the calling thread the process's Ctrl-C watcher, so `install` starts no
    /// thread for it: for a program whose first thread has nothing else to do while an
    /// interpreter runs on another (the `toy` command runs it on a thread with a bigger
    /// stack), this saves a thread start, about a tenth of an empty script's run. The
    /// caller must then call [`Watcher::run`]. `None` if Ctrl-C is set up already or the
    /// pipe cannot be made; `install` then works as it would have.
    pub fn for_this_thread() -> Option<Watcher> {
        if WAKE_WRITE.load(Ordering::Acquire) >= 0 {
            return None;
        }
        let (read_end, write_fd) = make_pipe().ok()?;
        // An existing thread, not one in std's start-up: a fork need not wait for it.
        WATCHER_RUNNING.store(true, Ordering::Release);
        WAKE_READ.store(read_end.as_raw_fd(), Ordering::Release);
        WAKE_WRITE.store(write_fd, Ordering::Release);
        Some(Watcher { read_end })
    }

    /// Watches for Ctrl-C; returns only if the pipe fails. A second Ctrl-C ends the
    /// process from this thread.
    pub fn run(self) {
        watch(self.read_end)
    }
}

/// Waits (a bounded time) until a watcher that was started runs its own code.
fn wait_for_watcher() {
    if WAKE_READ.load(Ordering::Acquire) < 0 {
        return;
    }
    let give_up = Instant::now() + WATCHER_START_PATIENCE;
    while !WATCHER_RUNNING.load(Ordering::Acquire) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn watch(read_end: OwnedFd) {
    let mut pipe = std::fs::File::from(read_end);
    let mut byte = [0u8];
    loop {
        match pipe.read(&mut byte) {
            Ok(1) if byte[0] == SECOND => exit_interrupted(),
            Ok(0) => return,
            Ok(_) => interrupt_family(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The handler interrupted the owner; the other interpreters of its family are told here
/// (a lock and a list are no work for a signal handler).
fn interrupt_family() {
    // SAFETY: a non-null OWNER is a leaked box that is never freed.
    if let Some(owner) = unsafe { OWNER.load(Ordering::Acquire).as_ref() }
        && let Some(family) = &owner.family
    {
        family.signal_all_but_root(BREAK_INTERRUPT);
    }
}

/// Ends the process with exit code 130 after flushing what was printed and writing the
/// trace (in the parent), as a second Ctrl-C does.
fn exit_interrupted() -> ! {
    let in_child = IN_CHILD.load(Ordering::Acquire);
    // SAFETY: a non-null OWNER is a leaked box that is never freed.
    if let Some(owner) = unsafe { OWNER.load(Ordering::Acquire).as_ref() } {
        flush_within(&owner.gil, FLUSH_PATIENCE);
        if !in_child && let Some(path) = &owner.trace {
            let _ = match &owner.family {
                Some(family) => family.write_trace(path),
                None => owner.gil.write_trace(path),
            };
        }
    }
    if in_child {
        // SAFETY: a forked child ends without running the parent's exit handlers.
        unsafe { libc::_exit(130) }
    }
    std::process::exit(130)
}

/// Takes the GIL on a thread of its own and writes the pending output; gives up after
/// `patience` (a holder stuck in a long builtin never lets go).
fn flush_within(gil: &SharedGil, patience: Duration) {
    let done = Arc::new(Signal::default());
    let flushed = done.clone();
    let gil = gil.clone();
    let tid = gil.register_thread();
    let spawned = std::thread::Builder::new().name("toy-exit".into()).spawn(move || {
        let mut guard = gil.acquire(tid);
        let chunk = guard.output.take();
        chunk.write();
        flushed.bump();
        // The process is ending: the GIL stays with this thread.
        std::mem::forget(guard);
    });
    if spawned.is_ok() {
        done.wait_change(0, Some(Instant::now() + patience));
    }
}

/// Blocks SIGINT in the calling thread until `restore` (see `block_during_fork`).
pub(super) struct SigintBlocked {
    old: libc::sigset_t,
}

/// Blocks SIGINT in the forking thread across `fork`, so the child cannot take a Ctrl-C
/// before it has a pipe and watcher of its own. Other threads of the parent still take it.
pub(super) fn block_during_fork() -> SigintBlocked {
    wait_for_watcher();
    // SAFETY: both sets are initialised by sigemptyset/pthread_sigmask before being read;
    // pthread_sigmask changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        SigintBlocked { old }
    }
}

impl SigintBlocked {
    pub(super) fn restore(self) {
        // SAFETY: `old` is the mask pthread_sigmask returned for this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// In a freshly forked child (one thread, SIGINT blocked): if Ctrl-C was handled in the
/// parent, the child gets its own pipe and watcher, and Ctrl-C interrupts the child's
/// interpreter (`gil`) — Python's multiprocessing children get KeyboardInterrupt the same
/// way. The parent's pipe is closed here; the parent's watcher thread does not exist.
pub(super) fn rearm_in_child(gil: SharedGil) {
    IN_CHILD.store(true, Ordering::Release);
    if WAKE_WRITE.load(Ordering::Acquire) < 0 {
        return;
    }
    for end in [&WAKE_WRITE, &WAKE_READ] {
        let fd = end.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: the child's copies of the parent's pipe; the only other owner of the
            // read end is the parent's watcher, which does not exist in the child.
            unsafe { libc::close(fd) };
        }
    }
    publish(gil, None, None);
    // Without a watcher the child still throws Interrupt on Ctrl-C; only the exit on a
    // second one is lost.
    let _ = start_watcher();
}
