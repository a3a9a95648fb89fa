//! Script output: `print`'s lines on their way to standard output (or a host's writer).
//!
//! Lines gather in an [`OutputBuffer`] that is part of the interpreter state, so only the
//! GIL holder appends to it. The bytes reach the real writer with the GIL released, the
//! way CPython releases it around `write()`: a full pipe or a slow terminal blocks the
//! thread that printed, never every thread. The invariant this file owns: **the writer
//! receives every chunk whole, in the order the chunks left the buffer.** A chunk leaves
//! under the GIL with the next ticket number; its writer then waits, without the GIL,
//! until the [`Sink`] serves that ticket, and only the thread holding the sink's mutex
//! touches the writer.
//!
//! A chunk leaves after every line on a terminal and into a host's writer (the host sees
//! each line as it is printed), once 64 KiB have gathered for a pipe or a file (as Python
//! buffers), and at every flush: when `<main>` ends, at exit, before an error report,
//! before a fork. Only the fork writes while holding the GIL (it must: nothing may print
//! between the flush and the fork).
//!
//! Nothing that waits for a turn holds anything another writer needs: a writer needs
//! neither the GIL nor the buffer once its chunk has left, so a flush made while holding
//! the GIL only waits for writes already under way.
//!
//! A closed pipe ends the program as it ends a Unix tool: when standard output or
//! standard error has no reader any more (`toy run x.toy | head -1`), the write that finds
//! it out exits the process quietly with code 141, the code a shell shows for a tool
//! killed by SIGPIPE. (Rust ignores SIGPIPE, so the write fails with EPIPE instead.) A
//! host's own writer decides for itself: its errors are ignored here.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Where `print` writes.
pub type Output = Box<dyn Write + Send>;

/// How much gathers for a pipe or a file before it is written.
const BLOCK: usize = 64 << 10;

/// The exit code when standard output or standard error turns out to be a closed pipe:
/// 128 + SIGPIPE, what a shell reports for a tool the signal ended.
pub const CLOSED_PIPE_EXIT: i32 = 141;

/// Ends the process because a standard stream's reader has gone; nothing more can be said.
pub fn closed_pipe_exit() -> ! {
    std::process::exit(CLOSED_PIPE_EXIT)
}

/// Writes `text` to standard error (a report, a traceback): never panics, and ends the
/// process with [`CLOSED_PIPE_EXIT`] if standard error is a closed pipe.
pub fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    if let Err(e) = err.write_all(text.as_bytes()).and_then(|()| err.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        closed_pipe_exit();
    }
}

/// When gathered output leaves for the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffering {
    /// After every line: a terminal, or a host's own writer.
    Line,
    /// Once [`BLOCK`] bytes have gathered: a pipe or a file.
    Block,
}

/// The interpreter's side: lines not yet written, and the tickets handed out.
pub struct OutputBuffer {
    pending: Vec<u8>,
    buffering: Buffering,
    next_ticket: u64,
    sink: Arc<Sink>,
}

/// The writer's side, shared with the threads writing chunks without the GIL.
pub struct Sink {
    state: Mutex<SinkState>,
    turn: Condvar,
}

struct SinkState {
    writer: Output,
    /// The writer is standard output: a closed pipe ends the process.
    is_stdout: bool,
    /// The ticket whose chunk may be written now; every smaller one has been.
    serving: u64,
    /// Threads waiting for their turn: without any, serving the next ticket wakes
    /// nobody (std's `notify_all` is a system call even then).
    waiting: usize,
}

/// Bytes that left the buffer, owed to the writer in ticket order. Dropping a chunk
/// writes it (after every earlier chunk), so a ticket is always served, even when the
/// thread that took it unwinds.
#[must_use = "dropping a chunk writes it while the caller may still hold the GIL"]
pub struct Chunk {
    ticket: u64,
    bytes: Vec<u8>,
    sink: Arc<Sink>,
    written: bool,
}

impl OutputBuffer {
    /// A buffer in front of `writer`.
    pub fn new(writer: Output, buffering: Buffering) -> OutputBuffer {
        OutputBuffer {
            pending: Vec::new(),
            buffering,
            next_ticket: 0,
            sink: Arc::new(Sink {
                state: Mutex::new(SinkState {
                    writer,
                    is_stdout: false,
                    serving: 0,
                    waiting: 0,
                }),
                turn: Condvar::new(),
            }),
        }
    }

    /// Standard output: line by line on a terminal, in 64 KiB blocks into a pipe or file.
    /// A closed pipe ends the process ([`CLOSED_PIPE_EXIT`]).
    pub fn stdout() -> OutputBuffer {
        use std::io::IsTerminal;
        let buffering = if std::io::stdout().is_terminal() {
            Buffering::Line
        } else {
            Buffering::Block
        };
        let out = OutputBuffer::new(Box::new(std::io::stdout()), buffering);
        out.sink.state.lock().unwrap_or_else(PoisonError::into_inner).is_stdout = true;
        out
    }

    /// Adds `lines` (whole lines, each ending in a newline); returns the chunk to write now
    /// if the buffering says it is time. The caller writes it with the GIL released
    /// ([`Chunk::write`]).
    pub fn push(&mut self, lines: &str) -> Option<Chunk> {
        self.pending.extend_from_slice(lines.as_bytes());
        let due = match self.buffering {
            Buffering::Line => true,
            Buffering::Block => self.pending.len() >= BLOCK,
        };
        due.then(|| self.take())
    }

    /// Everything gathered so far, as the next chunk (possibly empty: writing it still
    /// waits for every earlier chunk and flushes the writer).
    pub fn take(&mut self) -> Chunk {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        Chunk {
            ticket,
            bytes: std::mem::take(&mut self.pending),
            sink: self.sink.clone(),
            written: false,
        }
    }

    /// Flushes, then runs `f` while holding the writer, so that no other thread is
    /// writing (or inside the writer's own locks) while `f` runs: `fork` uses it, so the
    /// child inherits an idle writer and no output half-written.
    pub fn flushed_while<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let mut chunk = self.take();
        let held = chunk.sink.write_in_turn(chunk.ticket, &chunk.bytes);
        let r = f();
        drop(held);
        chunk.written = true;
        r
    }
}

impl Chunk {
    /// Writes the chunk once every earlier one has been written. Blocks: call it with the
    /// GIL released (or where blocking the other threads is intended).
    pub fn write(self) {
        drop(self);
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if !self.written {
            drop(self.sink.write_in_turn(self.ticket, &self.bytes));
        }
    }
}

impl Sink {
    /// Waits until `ticket` is served, writes `bytes`, flushes, serves the next ticket and
    /// returns the writer still held.
    fn write_in_turn(&self, ticket: u64, bytes: &[u8]) -> MutexGuard<'_, SinkState> {
        // A host writer that panicked poisons the mutex; the next writer carries on.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while st.serving != ticket {
            st.waiting += 1;
            st = self.turn.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.waiting -= 1;
        }
        let written = st.writer.write_all(bytes).and_then(|()| st.writer.flush());
        if let Err(e) = written
            && st.is_stdout
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            closed_pipe_exit();
        }
        st.serving += 1;
        if st.waiting > 0 {
            self.turn.notify_all();
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read while the interpreter owns it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn line_buffering_hands_out_every_line_and_block_buffering_waits_for_64_kib() {
        let seen = Shared::default();
        let mut out = OutputBuffer::new(Box::new(seen.clone()), Buffering::Line);
        out.push("a\n").expect("a line is due at once").write();
        assert_eq!(seen.text(), "a\n");

        let seen = Shared::default();
        let mut out = OutputBuffer::new(Box::new(seen.clone()), Buffering::Block);
        let line = "x".repeat(99) + "\n";
        let mut due = None;
        for i in 1..=BLOCK / line.len() + 1 {
            due = out.push(&line);
            if due.is_some() {
                assert!(i * line.len() >= BLOCK);
                break;
            }
        }
        assert_eq!(seen.text(), "");
        due.expect("a block is due once 64 KiB gathered").write();
        assert_eq!(seen.text().len() % line.len(), 0);
        assert!(out.push("tail\n").is_none(), "a short line waits in block mode");
        out.take().write();
        assert!(seen.text().ends_with("x\ntail\n"));
    }

    /// Chunks written by many threads, in whatever order the threads get there, reach the
    /// writer in ticket order.
    #[test]
    fn chunks_reach_the_writer_in_ticket_order() {
        let seen = Shared::default();
        let mut out = OutputBuffer::new(Box::new(seen.clone()), Buffering::Line);
        let chunks: Vec<Chunk> = (0..64).map(|i| out.push(&format!("{i}\n")).unwrap()).collect();
        let threads: Vec<_> = chunks
            .into_iter()
            .rev()
            .map(|c| std::thread::spawn(move || c.write()))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected: String = (0..64).map(|i| format!("{i}\n")).collect();
        assert_eq!(seen.text(), expected);
    }

    /// `flushed_while` runs its function after every earlier chunk and with the writer held.
    #[test]
    fn flushed_while_holds_the_writer_after_every_earlier_chunk() {
        let seen = Shared::default();
        let mut out = OutputBuffer::new(Box::new(seen.clone()), Buffering::Block);
        let early = out.push("early\n");
        assert!(early.is_none());
        let first = out.take();
        out.push("late\n");
        let writer = std::thread::spawn(move || first.write());
        let sink = out.sink.clone();
        let (during, held) = out.flushed_while(|| (seen.text(), sink.state.try_lock().is_err()));
        writer.join().unwrap();
        assert_eq!(during, "early\nlate\n");
        assert!(held, "nobody else can write while the function runs");
        assert!(out.sink.state.try_lock().is_ok(), "the writer is free again");
    }
}
