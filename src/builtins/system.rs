//! The builtins that reach outside the interpreter: clocks (`time clock sleep`), the
//! script's arguments and environment (`argv env`), standard input (`input`), files
//! (`read_file write_file append_file exists`) and `exit`.
//!
//! Invariant: every call that can block (sleeping, reading input, file I/O) runs with the
//! GIL released, and `sleep` and `input` in the main thread still answer Ctrl-C. Opening a
//! file when no descriptor is left collects once (dropped sockets close) and tries again.

use super::args::{arity, int_arg, num_arg, str_arg};
use crate::gil::Releaser;
use crate::os_error::io_message;
use crate::stdin::Line;
use crate::value::Value;
use crate::vm::{Thrown, Vm, VmResult};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

type R = VmResult<Value>;

pub(super) fn time(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "time", args, 0, 0)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Ok(Value::float(now))
}

/// The process's monotonic clock origin.
pub fn clock_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

pub(super) fn clock(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "clock", args, 0, 0)?;
    Ok(Value::float(clock_origin().elapsed().as_secs_f64()))
}

pub(super) fn sleep(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sleep", args, 1, 1)?;
    let secs = num_arg(vm, "sleep", args[0])?;
    if secs.is_nan() || secs < 0.0 {
        return Err(vm.error("ValueError", "sleep length must be non-negative"));
    }
    let pause = std::time::Duration::from_secs_f64(secs.min(1e9));
    crate::threads::sleep(vm, pause)?;
    Ok(Value::Nil)
}

pub(super) fn argv(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "argv", args, 0, 0)?;
    let items: Vec<Value> = vm.it.argv.clone().into_iter().map(|a| vm.new_str(a)).collect();
    Ok(vm.it.heap.new_list(items))
}

/// How reading a whole file failed.
enum ReadError {
    Io(std::io::Error),
    /// The file holds more than the caller's room (`--max-memory`): the bytes read so far.
    TooLong(usize),
    /// The buffer could not grow to this many bytes.
    NoMemory(usize),
}

/// Reads all of `file`, refusing to hold more than `room` bytes, and growing its buffer
/// fallibly (a file may be longer than its size said: a pipe, or /dev/zero).
fn read_whole(mut file: std::fs::File, room: usize) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let hint = file.metadata().map_or(0, |m| m.len()).min(room as u64) as usize;
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(hint.saturating_add(1))
        .map_err(|_| ReadError::NoMemory(hint))?;
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= room {
                return Err(ReadError::TooLong(buf.len()));
            }
            let more = buf.len().clamp(8 << 10, room - buf.len());
            buf.try_reserve(more)
                .map_err(|_| ReadError::NoMemory(buf.len() + more))?;
        }
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        match file.read(&mut buf[len..]) {
            Ok(0) => {
                buf.truncate(len);
                return Ok(buf);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(len),
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

pub(super) fn read_file(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "read_file", args, 1, 1)?;
    let path = str_arg(vm, "read_file", args[0])?;
    let mut collected = false;
    loop {
        let p = path.to_string();
        let file = match vm.with_descriptors(|| std::fs::File::open(&p)) {
            Ok(file) => file,
            Err(e) => return Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
        };
        // The text will be a heap string: under a limit, no more than the room left.
        let room = vm
            .it
            .heap
            .max_bytes()
            .map_or(usize::MAX, |max| max.saturating_sub(vm.it.heap.accounted()));
        return match vm.release(move || read_whole(file, room)) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => vm.str_value(s),
                Err(_) => Err(vm.error("IOError", format!("{path}: file is not valid UTF-8"))),
            },
            Err(ReadError::Io(e)) => Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
            Err(ReadError::TooLong(read)) if !collected => {
                // The limit may allow more once the dead are collected: read once more.
                vm.reserve(read.saturating_add(1))?;
                collected = true;
                continue;
            }
            Err(ReadError::TooLong(read)) => {
                let msg = format!(
                    "{path}: the file does not fit in the memory limit ({} read)",
                    crate::vm::show_bytes(read as u128)
                );
                Err(vm.error("MemoryError", msg))
            }
            Err(ReadError::NoMemory(bytes)) => Err(vm.memory_error(bytes as u128)),
        };
    }
}

pub(super) fn write_file(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "write_file", args, 2, 2)?;
    let path = str_arg(vm, "write_file", args[0])?;
    let text = str_arg(vm, "write_file", args[1])?;
    // The text goes to a thread-safe copy, which must not be the allocation that aborts.
    let mut t = vm.string_with_capacity(text.len() as u128)?;
    t.push_str(&text);
    let p = path.to_string();
    let file = match vm.with_descriptors(|| std::fs::File::create(&p)) {
        Ok(file) => file,
        Err(e) => return Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
    };
    match vm.release(move || {
        use std::io::Write;
        let mut file = file;
        file.write_all(t.as_bytes())
    }) {
        Ok(()) => Ok(Value::Nil),
        Err(e) => Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
    }
}

pub(super) fn exit(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "exit", args, 0, 1)?;
    let code = match args.first() {
        None | Some(Value::Nil) => 0,
        Some(&c) => int_arg(vm, "exit", c)?,
    };
    Err(Box::new(Thrown {
        value: Value::Nil,
        traceback: Default::default(),
        traced: true,
        exit: Some(code as i32),
        limit: false,
    }))
}

/// `input()` / `input(prompt)`: the next line of standard input without its line end, or
/// `nil` at the end of input. The prompt is written (and everything printed before it
/// flushed) first; the GIL is released while waiting.
pub(super) fn input(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "input", args, 0, 1)?;
    if let Some(&p) = args.first() {
        let prompt = vm.it.heap.display(p);
        vm.write_output(&prompt);
    }
    vm.flush_output();
    let line = if vm.is_main_thread() {
        // In slices, so that Ctrl-C reaches it.
        let next = |until| match crate::stdin::next_line(Some(until)) {
            Line::NotYet => None,
            line => Some(line),
        };
        vm.wait_interruptibly(None, Releaser::Leaves, next)?
    } else {
        Some(vm.release(|| crate::stdin::next_line(None)))
    };
    match line {
        Some(Line::Text(text)) => Ok(vm.new_str(text)),
        // Without a deadline the wait ends only with a line, the end of input or an error.
        Some(Line::End | Line::NotYet) | None => Ok(Value::Nil),
    }
}

/// `env(name)` / `env(name, default)`: an environment variable, or the default (`nil`).
pub(super) fn env(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "env", args, 1, 2)?;
    let name = str_arg(vm, "env", args[0])?;
    let default = args.get(1).copied().unwrap_or(Value::Nil);
    if name.is_empty() || name.contains(['=', '\0']) {
        return Ok(default);
    }
    match std::env::var(&*name) {
        Ok(v) => Ok(vm.new_str(v)),
        Err(_) => Ok(default),
    }
}

/// `exists(path)`: whether a file or directory is there.
pub(super) fn exists(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "exists", args, 1, 1)?;
    let path = str_arg(vm, "exists", args[0])?.to_string();
    Ok(Value::bool(vm.release(move || std::path::Path::new(&path).exists())))
}

/// `append_file(path, text)`: adds `text` to the end of the file, creating it if needed.
pub(super) fn append_file(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "append_file", args, 2, 2)?;
    let path = str_arg(vm, "append_file", args[0])?;
    let text = str_arg(vm, "append_file", args[1])?;
    let (p, t) = (path.to_string(), text.to_string());
    let written = vm.release(move || {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .and_then(|mut f| f.write_all(t.as_bytes()))
    });
    match written {
        Ok(()) => Ok(Value::Nil),
        Err(e) => Err(vm.error("IOError", format!("{path}: {}", io_message(&e)))),
    }
}
