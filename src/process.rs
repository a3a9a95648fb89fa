//! Processes (LANGUAGE.md §9): `spawn_process` forks the whole interpreter, the child runs
//! one function and sends its result back as a serialized message; `send`/`recv` carry
//! messages both ways over a Unix socket pair; `pmap` spreads a map over forked workers.
//!
//! Invariants:
//! - This is the only file that calls `fork`, `socketpair`, `waitpid`, `kill`, `poll`, `send`
//!   and `_exit`; every `unsafe` block says why it is sound.
//! - The fork happens while the forking thread holds the GIL and after output is flushed,
//!   so the child starts from a consistent heap and nothing written before the fork is
//!   printed twice. In the child, the GIL is rebuilt for the one thread that exists, other
//!   threads' handles are marked dead, and the child never returns into the parent's code:
//!   it ends with `_exit`.
//! - Values cross only as `wire` frames: a message is encoded under the GIL, written and
//!   read with the GIL released, and decoded under the GIL; decoding never runs code. A long
//!   message is pipelined: the sender offers each ~64 KiB piece to the socket as soon as it
//!   is encoded, without ever waiting under the GIL (the rest is written with the GIL
//!   released), and the receiver decodes each piece as it arrives, releasing the GIL to read
//!   the next, with collection held off while the half-built value is unrooted.
//! - Every child is reaped: by `join`, or at the end of the program.

use crate::object::{Channel, ChannelObj, ExitStatus, Obj, Outcome, ProcessObj, TbEntry};
use crate::value::{MapKey, ObjId, Value};
use crate::vm::{Thrown, Vm, VmResult};
use crate::wire::{self, Builder, Decoder, Encoder, PieceReader, Pump, Pumped, Sink, WireError};
use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The largest message a process accepts (a bound against a corrupt length prefix).
const MAX_MESSAGE: usize = 1 << 34;

/// What a frame carries: a value from `send`, the child's result, or its error.
const KIND_MESSAGE: i64 = 0;
const KIND_RESULT: i64 = 1;
const KIND_ERROR: i64 = 2;

fn process_error(vm: &mut Vm, msg: impl AsRef<str>) -> Box<Thrown> {
    vm.error("ProcessError", msg)
}

// ---- sending: heap values → wire -----------------------------------------------------

/// Encodes `v` into `enc`; `path` holds the containers being encoded, to refuse cycles. A
/// refusal can come after part of the value is written (and, for a long one, sent): the
/// caller then abandons the frame.
fn encode_value<S: Sink>(vm: &mut Vm, enc: &mut S, v: Value, path: &mut Vec<ObjId>) -> VmResult<()> {
    if path.len() > wire::MAX_DEPTH {
        return Err(vm.error("ValueError", "cannot send a structure nested this deeply"));
    }
    match v {
        Value::Nil | Value::Undef => enc.nil(),
        Value::Bool(b) => enc.bool(b.get()),
        Value::Int(i) => enc.int(i),
        Value::Float(f) => enc.float(f.get()),
        Value::Str(id) => enc.str(vm.it.heap.str(id)),
        Value::List(id) | Value::Map(id) => {
            if path.contains(&id) {
                return Err(vm.error("ValueError", "cannot send a structure that contains itself"));
            }
            path.push(id);
            if let Value::List(_) = v {
                let n = vm.it.heap.list(id).len();
                enc.list(n);
                let mut i = 0;
                while i < n {
                    // Runs of leaves (numbers, strings, nil, bools) are written straight
                    // from the list; only containers and errors take the general path.
                    let heap = &vm.it.heap;
                    let items = heap.list(id);
                    while let Some(&item) = items.get(i) {
                        match item {
                            Value::Int(x) => enc.int(x),
                            Value::Float(x) => enc.float(x.get()),
                            Value::Str(s) => enc.str(heap.str(s)),
                            Value::Bool(b) => enc.bool(b.get()),
                            Value::Nil => enc.nil(),
                            _ => break,
                        }
                        i += 1;
                    }
                    if let Some(&item) = vm.it.heap.list(id).get(i) {
                        encode_value(vm, enc, item, path)?;
                        i += 1;
                    }
                }
            } else {
                let entries: Vec<(MapKey, Value)> = vm.it.heap.map(id).iter().map(|(k, v)| (k.clone(), *v)).collect();
                enc.map(entries.len());
                for (k, item) in entries {
                    match &k {
                        MapKey::Nil => enc.nil(),
                        MapKey::Bool(b) => enc.bool(*b),
                        MapKey::Int(i) => enc.int(*i),
                        MapKey::Str(s) => enc.str(s),
                    }
                    encode_value(vm, enc, item, path)?;
                }
            }
            path.pop();
        }
        Value::Obj(id) if vm.it.heap.error(id).is_some() => {
            let e = vm.it.heap.error(id).expect("checked above");
            let tb: Vec<(&str, u32, &str)> = e.traceback.iter().map(|t| (&*t.file, t.line, &*t.func)).collect();
            enc.error(&e.kind, &e.message, &tb);
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            return Err(vm.type_error(format!("cannot send {t} to another process")));
        }
    }
    Ok(())
}

/// Bytes of a frame the sender writes before cutting them off as a segment and offering them
/// to the socket.
const SEND_PIECE: usize = 64 << 10;

/// An encoder that, every `SEND_PIECE` bytes, cuts the frame (making it a streamed one) and
/// offers the socket what is cut, without ever waiting: what the socket will not take now is
/// written at the end, with the GIL released. So the receiver decodes the start of a long
/// message while the rest is still being encoded. A message shorter than one piece goes out
/// as a whole frame, as before. While the socket is full (the receiver is not keeping up),
/// the frame is not cut again: a receiver that reads late reads a few long segments.
struct Streaming<'a> {
    enc: &'a mut Encoder,
    stream: &'a UnixStream,
    /// How many bytes of the frame the socket has taken.
    sent: usize,
    /// How many bytes of the frame are final (cut), and so may be sent.
    ready: usize,
    /// The frame is cut again once it is this long.
    next_cut: usize,
    failed: Option<std::io::Error>,
}

impl Streaming<'_> {
    #[inline]
    fn pump(&mut self) {
        if self.enc.bytes().len() >= self.next_cut {
            self.offer();
        }
    }

    /// Sends what the socket takes of the final bytes, and if it took them all, cuts the frame
    /// and offers the new ones too.
    #[cold]
    fn offer(&mut self) {
        self.send_ready();
        if self.sent == self.ready && self.failed.is_none() {
            self.ready = self.enc.cut();
            self.send_ready();
        }
        self.next_cut = self.enc.bytes().len() + SEND_PIECE;
    }

    /// Sends what the socket takes of the final bytes, without blocking.
    fn send_ready(&mut self) {
        use std::os::fd::AsRawFd;
        let bytes = &self.enc.bytes()[..self.ready];
        while self.failed.is_none() && self.sent < bytes.len() {
            let rest = &bytes[self.sent..];
            // SAFETY: `rest` is a live, initialised byte slice for the duration of the call and
            // `send` reads at most `rest.len()` bytes from it; the descriptor is the channel's
            // open socket (borrowed from `self.stream`). MSG_DONTWAIT makes this one call
            // non-blocking without touching the descriptor's flags, which other threads share.
            let n = unsafe {
                libc::send(
                    self.stream.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n > 0 {
                self.sent += n as usize;
                continue;
            }
            if n == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => {}
                std::io::ErrorKind::WouldBlock => break,
                _ => self.failed = Some(e),
            }
        }
    }
}

impl Pump for Streaming<'_> {
    fn encoder(&mut self) -> &mut Encoder {
        self.enc
    }
    fn after_item(&mut self) {
        self.pump()
    }
}

/// Writes one frame `[kind, value]` to the channel: encoded under the GIL, its pieces offered
/// to the socket as they are made (`Streaming`), the rest written with the GIL released. If
/// the value cannot be sent after part of it went out, the frame is abandoned, so the other
/// side discards it and sees no message, as if nothing had been sent.
fn send_frame(vm: &mut Vm, chan: ObjId, kind: i64, v: Value) -> VmResult<()> {
    let ch = channel_of(vm, chan);
    let (Some(stream), Some(mut enc)) = (ch.stream.clone(), ch.encoder.take()) else {
        return Err(process_error(vm, "the channel is closed"));
    };
    enc.begin();
    let mut out = Pumped(Streaming {
        enc: &mut enc,
        stream: &stream,
        sent: 0,
        ready: 0,
        next_cut: SEND_PIECE,
        failed: None,
    });
    out.list(2);
    out.int(kind);
    let encoded = encode_value(vm, &mut out, v, &mut Vec::new());
    let (sent, failed) = (out.0.sent, out.0.failed);
    let refused = encoded.err();
    let abandon = refused.is_some();
    let (written, enc) = match failed {
        Some(e) => (Err(e), enc),
        None => vm.release(move || {
            let rest = if abandon {
                enc.abandon(sent)
            } else {
                &enc.finish()[sent..]
            };
            let r = (&*stream).write_all(rest);
            (r, enc)
        }),
    };
    channel_of(vm, chan).encoder = Some(enc);
    if let Some(e) = refused {
        return Err(e);
    }
    written.map_err(|e| process_error(vm, format!("the other process closed the channel ({})", io_text(&e))))
}

fn io_text(e: &std::io::Error) -> String {
    crate::os_error::io_message(e)
}

// ---- receiving: wire → heap values ---------------------------------------------------

/// Builds heap values from a decoded frame.
struct HeapBuilder<'v, 'a> {
    vm: &'v mut Vm<'a>,
}

impl Builder for HeapBuilder<'_, '_> {
    type Value = Value;
    fn nil(&mut self) -> Value {
        Value::Nil
    }
    fn bool(&mut self, b: bool) -> Value {
        Value::bool(b)
    }
    fn int(&mut self, i: i64) -> Value {
        Value::Int(i)
    }
    fn float(&mut self, f: f64) -> Value {
        Value::float(f)
    }
    fn str(&mut self, s: &str) -> Value {
        self.vm.new_str(s)
    }
    fn ascii_str(&mut self, s: &str) -> Value {
        self.vm.it.heap.new_ascii_str(s)
    }
    fn list(&mut self, items: Vec<Value>) -> Value {
        self.vm.it.heap.new_list(items)
    }
    fn map(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, WireError> {
        let mut m = crate::object::MapObj::default();
        for (k, v) in pairs {
            let key = self.vm.it.heap.map_key(k).ok_or_else(|| {
                WireError("bad message from the other process: a map key that is not a str, int, bool or nil".into())
            })?;
            m.insert(key, v);
        }
        Ok(self.vm.it.heap.new_map(m))
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Value {
        let v = self.vm.it.heap.new_error(kind, message);
        if let Value::Obj(id) = v
            && let Obj::Error(e) = self.vm.it.heap.get_mut(id)
        {
            e.traceback = traceback
                .into_iter()
                .map(|(file, line, func)| TbEntry {
                    file: file.into(),
                    line,
                    func: func.into(),
                })
                .collect();
        }
        v
    }
}

/// Decodes a whole frame held as bytes (a message `join` kept for a later `recv`).
fn decode_frame(vm: &mut Vm, frame: &[u8]) -> VmResult<(i64, Value)> {
    let decoded = wire::decode(frame, &mut HeapBuilder { vm });
    let v = decoded.map_err(|e| process_error(vm, e.0))?;
    split_frame(vm, v)
}

/// Splits a decoded frame into its kind and value.
fn split_frame(vm: &mut Vm, v: Value) -> VmResult<(i64, Value)> {
    if let Value::List(id) = v
        && let [Value::Int(kind), value] = vm.it.heap.list(id).as_slice()
    {
        return Ok((*kind, *value));
    }
    Err(process_error(
        vm,
        "bad message from the other process: not a [kind, value] frame",
    ))
}

/// The most bytes of a frame read at once. Each read takes what has arrived (up to this), with
/// the GIL released, and it is decoded under the GIL, so a long message is decoded while the
/// sender is still encoding and writing the rest; a message that is all there already is read
/// in a few large pieces.
const RECV_PIECE: usize = 256 << 10;

/// What `receive` found.
enum Received {
    /// A frame's kind and value, and a copy of its payload if it was asked for.
    Frame(i64, Value, Vec<u8>),
    TimedOut,
    /// The stream ended or broke (or the channel was already closed): why.
    Ended(String),
}

/// Reads one frame and decodes it piece by piece as it arrives, waiting at most until
/// `deadline` for it to begin. With `keep`, a message's payload is returned too.
///
/// Between pieces the GIL is released while the decoder holds values that no root reaches,
/// so collection is held off (`gc_inhibit`) until the frame is whole. A bad message is read
/// to its end before it is reported, so the stream stays in step for the next one; an
/// abandoned frame is dropped and the next one read.
fn receive(vm: &mut Vm, chan: ObjId, deadline: Option<Instant>, keep: bool) -> VmResult<Received> {
    let ch = channel_of(vm, chan);
    let (Some(stream), Some(mut buf)) = (ch.stream.clone(), ch.buf.take()) else {
        return Ok(Received::Ended("the channel is closed".into()));
    };
    let s: &UnixStream = &stream;
    loop {
        // The frame's prefix and first piece, once it begins.
        let (start, b) = vm.release(move || {
            let mut buf = buf;
            if let Some(d) = deadline
                && !wait_readable(s, d)
            {
                return (Ok(None), buf);
            }
            let r = PieceReader::start(&mut &*s, &mut buf, MAX_MESSAGE).and_then(|pieces| match pieces {
                None => Err(WireError("the other process closed the channel".into())),
                Some(mut pieces) => pieces.next(&mut &*s, &mut buf, RECV_PIECE).map(|()| Some(pieces)),
            });
            (r, buf)
        });
        buf = b;
        let mut pieces = match start {
            Ok(Some(pieces)) => pieces,
            Ok(None) => {
                channel_of(vm, chan).buf = Some(buf);
                return Ok(Received::TimedOut);
            }
            Err(e) => {
                channel_of(vm, chan).buf = Some(buf);
                return Ok(Received::Ended(e.0));
            }
        };
        let mut decoder = Decoder::new();
        vm.it.gc_inhibit += 1;
        let decoded = loop {
            if pieces.abandoned() {
                break None;
            }
            match decoder.feed(pieces.payload(&buf), pieces.length(), &mut HeapBuilder { vm }) {
                Ok(Some(v)) => break Some(Ok(v)),
                Ok(None) if pieces.is_complete() => {
                    break Some(Err(WireError("bad message from the other process: incomplete".into())));
                }
                Ok(None) => {}
                Err(bad) => break Some(Err(bad)),
            }
            let (read, b) = vm.release(move || {
                let mut b = buf;
                let r = pieces.next(&mut &*s, &mut b, RECV_PIECE);
                (r.map(|()| pieces), b)
            });
            buf = b;
            match read {
                Ok(p) => pieces = p,
                Err(e) => {
                    vm.it.gc_inhibit -= 1;
                    channel_of(vm, chan).buf = Some(buf);
                    return Ok(Received::Ended(e.0));
                }
            }
        };
        vm.it.gc_inhibit -= 1;
        let Some(decoded) = decoded else { continue };
        if decoded.is_err() && !pieces.is_complete() {
            // Read the rest of the bad frame so the next one starts in step.
            let (p, b) = vm.release(move || {
                let mut b = buf;
                let mut r = Ok(());
                while r.is_ok() && !pieces.is_complete() {
                    r = pieces.next(&mut &*s, &mut b, usize::MAX);
                }
                (pieces, b)
            });
            (pieces, buf) = (p, b);
        }
        let split = match decoded {
            Ok(v) => split_frame(vm, v),
            Err(e) => Err(process_error(vm, e.0)),
        };
        let kept = match split {
            Ok((KIND_MESSAGE, _)) if keep => pieces.payload(&buf).to_vec(),
            _ => Vec::new(),
        };
        channel_of(vm, chan).buf = Some(buf);
        let (kind, v) = split?;
        return Ok(Received::Frame(kind, v, kept));
    }
}

/// Waits until `stream` has data (or end of stream) or the deadline passes.
fn wait_readable(stream: &UnixStream, deadline: Instant) -> bool {
    use std::os::fd::AsRawFd;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and we pass count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 && Instant::now() >= deadline {
            return false;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return true; // let the read report the error
        }
    }
}

// ---- spawning ------------------------------------------------------------------------

fn socket_pair() -> std::io::Result<(UnixStream, UnixStream)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded, so both descriptors are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((UnixStream::from(a), UnixStream::from(b)))
}

/// `spawn_process(f, args...)`.
pub fn spawn_process(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn_process() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn_process() needs a function, not {t}")));
    }
    let rest = rest.to_vec();
    let id = fork_child(vm, move |vm| {
        let r = vm.run_function(f, &rest);
        finish_child(vm, r)
    })?;
    Ok(Value::Obj(id))
}

/// Forks; in the child runs `body` (which never returns) and in the parent returns the new
/// process object.
fn fork_child(vm: &mut Vm, body: impl FnOnce(&mut Vm) -> std::convert::Infallible) -> VmResult<ObjId> {
    crate::threads::before_fork(vm);
    let _ = std::io::stderr().flush();
    let (parent_end, child_end) =
        socket_pair().map_err(|e| process_error(vm, format!("cannot create a channel: {}", io_text(&e))))?;
    // Output is flushed and the writer held across the fork: no other thread is writing
    // (print writes without the GIL), so the child neither repeats nor half-inherits it.
    // SAFETY: fork is called while this thread holds the GIL, so no other thread is in the
    // interpreter state; the child touches only that state (rebuilt for one thread by
    // `after_fork_in_child`) and the heap allocator (fork-safe in glibc), and leaves with
    // `_exit`, never unwinding into code that expects the parent's threads.
    let pid = vm.it.output.flushed_while(|| unsafe { libc::fork() });
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        return Err(process_error(vm, format!("cannot fork: {}", io_text(&e))));
    }
    if pid == 0 {
        drop(parent_end);
        become_child(vm, child_end);
        // `body` ends the process with `_exit`: its result type has no values.
        body(vm);
    }
    drop(child_end);
    let obj = ProcessObj {
        pid,
        channel: Channel::new(parent_end),
        pending: VecDeque::new(),
        outcome: None,
        status: None,
        observed: false,
    };
    let id = vm.it.heap.alloc(Obj::Process(Box::new(obj)));
    vm.it.processes.push(id);
    Ok(id)
}

/// The child's first steps: one thread, one GIL, no inherited children or channels.
fn become_child(vm: &mut Vm, to_parent: UnixStream) {
    let tid = vm.thread_id();
    // SAFETY: we are the child, right after fork, on the only thread there; it held the
    // GIL as `tid` when it forked (our guard `vm.it` is that hold), no other thread has
    // been started, and no call on the lock is in progress on this stack (fork was called
    // from a builtin, between lock operations).
    unsafe { vm.it.gil().after_fork_in_child(tid) };
    // Other threads do not exist here: their stacks go, joining them fails at once, and
    // their OS handles are forgotten (they name threads of the parent).
    vm.it.parked.clear();
    let me = tid.get();
    for t in std::mem::take(&mut vm.it.threads) {
        if let Obj::Thread(th) = vm.it.heap.get_mut(t)
            && th.tid != me
            && th.outcome.is_none()
        {
            th.start = None;
            th.observed = true;
            th.outcome = Some(Outcome::Threw {
                value: Value::Nil,
                traceback: Vec::new(),
                report: String::new(),
            });
            std::mem::forget(th.handle.take());
        }
    }
    // The parent's children and channels belong to the parent: close our copies, so the
    // parent sees end-of-stream when it should, and forget that we "have" children.
    for p in std::mem::take(&mut vm.it.processes) {
        if let Obj::Process(proc_obj) = vm.it.heap.get_mut(p) {
            proc_obj.channel.stream = None;
            proc_obj.status.get_or_insert(ExitStatus::Code(0));
            proc_obj.observed = true;
        }
    }
    if let Some(old) = vm.it.parent_channel.take()
        && let Obj::Channel(c) = vm.it.heap.get_mut(old)
    {
        c.channel.stream = None;
    }
    let chan = vm.it.heap.alloc(Obj::Channel(Box::new(ChannelObj {
        channel: Channel::new(to_parent),
    })));
    vm.it.parent_channel = Some(chan);
    // The child's traceback starts at the function it runs, not at the parent's frames.
    vm.fiber.reset();
}

/// Sends the child's result or error and ends the child process.
fn finish_child(vm: &mut Vm, result: VmResult<Value>) -> std::convert::Infallible {
    let code = match result {
        Ok(v) => match send_to_parent(vm, KIND_RESULT, v) {
            Ok(()) => 0,
            Err(t) => report_and_send_error(vm, &t),
        },
        Err(t) => match t.exit {
            Some(code) => code,
            None => report_and_send_error(vm, &t),
        },
    };
    vm.flush_output();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process without running the parent's atexit handlers or
    // destructors, which belong to the parent's copy of the world.
    unsafe { libc::_exit(code) }
}

fn send_to_parent(vm: &mut Vm, kind: i64, v: Value) -> VmResult<()> {
    let Some(chan) = vm.it.parent_channel else {
        return Err(process_error(vm, "no parent channel"));
    };
    send_frame(vm, chan, kind, v)
}

/// Sends a thrown error to the parent as an error value carrying its traceback.
fn report_and_send_error(vm: &mut Vm, t: &Thrown) -> i32 {
    let value = match t.value {
        Value::Obj(id) if vm.it.heap.error(id).is_some() => t.value,
        other => {
            let text = vm.it.heap.display(other);
            vm.it.heap.new_error("Error", &text)
        }
    };
    if let Value::Obj(id) = value
        && let Obj::Error(e) = vm.it.heap.get_mut(id)
        && e.traceback.is_empty()
    {
        e.traceback = t.traceback.clone();
    }
    match send_to_parent(vm, KIND_ERROR, value) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn channel_of<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut Channel {
    match vm.it.heap.get_mut(id) {
        Obj::Process(p) => &mut p.channel,
        Obj::Channel(c) => &mut c.channel,
        _ => unreachable!("a channel handle names a process or channel"),
    }
}

fn process_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ProcessObj {
    match vm.it.heap.get_mut(id) {
        Obj::Process(p) => p,
        _ => unreachable!("a process handle names a process object"),
    }
}

// ---- the parent's side ---------------------------------------------------------------

/// `p.send(v)` in the parent, `parent().send(v)` in the child.
pub fn send(vm: &mut Vm, id: ObjId, v: Value) -> VmResult<Value> {
    send_frame(vm, id, KIND_MESSAGE, v)?;
    Ok(Value::Nil)
}

/// `recv()` / `recv(timeout)` on either end: the next message.
pub fn recv(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    let deadline = timeout.map(crate::threads::deadline_after);
    if let Obj::Process(p) = vm.it.heap.get_mut(id)
        && let Some(frame) = p.pending.pop_front()
    {
        return decode_frame(vm, &frame).map(|(_, v)| v);
    }
    let (kind, v) = match receive(vm, id, deadline, false)? {
        Received::Frame(kind, v, _) => (kind, v),
        Received::TimedOut => return Err(vm.error("TimeoutError", "recv timed out")),
        Received::Ended(why) => return Err(process_error(vm, why)),
    };
    if kind == KIND_MESSAGE {
        return Ok(v);
    }
    // The child's final frame: keep it for join; no message will follow.
    if let Obj::Process(p) = vm.it.heap.get_mut(id) {
        p.outcome = Some(final_outcome(kind, v));
        p.channel.stream = None;
    }
    Err(process_error(vm, "the other process finished; the channel is closed"))
}

fn final_outcome(kind: i64, v: Value) -> Outcome {
    if kind == KIND_RESULT {
        Outcome::Returned(v)
    } else {
        Outcome::Threw {
            value: v,
            traceback: Vec::new(),
            report: String::new(),
        }
    }
}

/// Reads until the child's final frame or end of stream, then reaps the child.
fn wait_child(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    while process_obj(vm, id).outcome.is_none() {
        match receive(vm, id, None, true)? {
            Received::Frame(kind, v, copy) => {
                let p = process_obj(vm, id);
                if kind == KIND_MESSAGE {
                    // A message nobody has received yet: kept (as bytes) for a later recv.
                    p.pending.push_back(copy);
                } else {
                    p.outcome = Some(final_outcome(kind, v));
                }
            }
            // No final frame: the child died; waitpid says how.
            Received::TimedOut | Received::Ended(_) => break,
        }
    }
    let p = process_obj(vm, id);
    p.channel.stream = None;
    if p.status.is_none() {
        let pid = p.pid;
        let status = vm.release(move || reap(pid));
        process_obj(vm, id).status = Some(status);
    }
    Ok(())
}

/// Blocks until `pid` exits; how it ended.
fn reap(pid: i32) -> ExitStatus {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; pid names our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return ExitStatus::Code(-1);
        }
    }
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// `p.join()`: the child's result, or a `ProcessError` saying what went wrong.
pub fn join(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    wait_child(vm, id)?;
    let p = process_obj(vm, id);
    p.observed = true;
    let pid = p.pid;
    let status = p.status;
    match &p.outcome {
        Some(Outcome::Returned(v)) => Ok(*v),
        Some(Outcome::Threw { value, .. }) => {
            let value = *value;
            let text = child_error_text(vm, value);
            Err(process_error(vm, format!("process {pid} failed: {text}")))
        }
        None => Err(process_error(vm, death_text(pid, status))),
    }
}

fn death_text(pid: i32, status: Option<ExitStatus>) -> String {
    match status {
        Some(ExitStatus::Code(c)) => format!("process {pid} exited with code {c}"),
        Some(ExitStatus::Signal(s)) => format!("process {pid} was killed by signal {s} ({})", signal_name(s)),
        None => format!("process {pid} ended without a result"),
    }
}

/// The child's error as it would have printed it: the error line, then its traceback.
fn child_error_text(vm: &Vm, err: Value) -> String {
    let mut text = vm.error_line(err);
    if let Value::Obj(id) = err
        && let Some(e) = vm.it.heap.error(id)
        && !e.traceback.is_empty()
    {
        text.push_str("\nTraceback (most recent call last):");
        for t in &e.traceback {
            text.push_str(&format!("\n  {}:{} in {}", t.file, t.line, t.func));
        }
    }
    text
}

pub fn is_alive(vm: &mut Vm, id: ObjId) -> bool {
    let p = process_obj(vm, id);
    if p.status.is_some() {
        return false;
    }
    let mut status: libc::c_int = 0;
    // SAFETY: non-blocking waitpid on our own child with a valid out-pointer.
    let rc = unsafe { libc::waitpid(p.pid, &mut status, libc::WNOHANG) };
    if rc == p.pid {
        p.status = Some(if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        });
        return false;
    }
    rc == 0
}

pub fn kill(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    let p = process_obj(vm, id);
    if p.status.is_none() {
        // SAFETY: kill has no memory effects; the pid is our unreaped child, so it cannot
        // have been recycled for another process.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    Ok(Value::Nil)
}

/// `parent()` in a child: the channel to the parent.
pub fn parent(vm: &mut Vm) -> VmResult<Value> {
    match vm.it.parent_channel {
        Some(id) => Ok(Value::Obj(id)),
        None => Err(process_error(
            vm,
            "parent() is only available in a process started by spawn_process",
        )),
    }
}

/// At the end of the program: waits for children no `join` collected and returns
/// reports of their failures.
pub fn wait_all(vm: &mut Vm) -> Vec<String> {
    let mut reports = Vec::new();
    for id in std::mem::take(&mut vm.it.processes) {
        if wait_child(vm, id).is_err() {
            continue;
        }
        let p = process_obj(vm, id);
        if p.observed {
            continue;
        }
        let (pid, status) = (p.pid, p.status);
        match &p.outcome {
            Some(Outcome::Returned(_)) => {}
            Some(Outcome::Threw { value, .. }) => {
                let value = *value;
                let text = child_error_text(vm, value);
                reports.push(format!("Exception in process {pid}:\n{text}\n"));
            }
            None => reports.push(format!("{}\n", death_text(pid, status))),
        }
    }
    reports
}

/// `pmap(f, items)` / `pmap(f, items, workers)`: `f` over `items` in forked workers, each
/// taking a contiguous share (the items arrive by fork, not by message); results in order.
pub fn pmap(vm: &mut Vm, f: Value, items: Vec<Value>, workers: usize) -> VmResult<Value> {
    if items.is_empty() {
        return Ok(vm.it.heap.new_list(Vec::new()));
    }
    let workers = workers.clamp(1, items.len());
    let share = items.len().div_ceil(workers);
    let mut children = Vec::with_capacity(workers);
    for chunk in items.chunks(share) {
        let chunk = chunk.to_vec();
        let spawned = fork_child(vm, move |vm| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut failure = None;
            for x in chunk {
                match vm.run_function(f, &[x]) {
                    Ok(v) => out.push(v),
                    Err(t) => {
                        failure = Some(t);
                        break;
                    }
                }
            }
            let result = match failure {
                Some(t) => Err(t),
                None => Ok(vm.it.heap.new_list(out)),
            };
            finish_child(vm, result)
        });
        match spawned {
            Ok(id) => children.push(id),
            Err(e) => {
                for id in children {
                    let _ = kill(vm, id);
                    let _ = join(vm, id);
                }
                return Err(e);
            }
        }
    }
    // The children's objects are the caller's temporaries: keep them rooted as processes
    // until joined (fork_child registered them).
    let mut results = Vec::with_capacity(items.len());
    let mut first_error = None;
    for id in children {
        match join(vm, id) {
            Ok(Value::List(l)) => results.extend(vm.it.heap.list(l).iter().copied()),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        vm.it.processes.retain(|p| *p != id);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(vm.it.heap.new_list(results)),
    }
}
