//! TCP sockets for scripts (LANGUAGE.md §11): `tcp_listen`, `accept`, `tcp_connect`,
//! `send`, `recv`, `close` — UTF-8 text over blocking std sockets.
//!
//! Invariants: every call that can block runs with the GIL released, on an `Arc` of the
//! socket (std sockets are `Send + Sync`), never on interpreter values; the main thread
//! first waits for `accept` and `recv` in slices, so Ctrl-C reaches it there. A socket is
//! closed by `close`, or when its object is collected; a call that needs a new descriptor
//! and finds none collects once and tries again. A `recv` that
//! splits a multi-byte character keeps the partial bytes for the next call, so text always
//! arrives whole.

use crate::object::{ConnObj, ListenerObj, Obj};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;

fn io_error(vm: &mut Vm, what: &str, e: &std::io::Error) -> Box<crate::vm::Thrown> {
    let msg = format!("{what}: {}", crate::os_error::io_message(e));
    vm.error("IOError", msg)
}

/// `tcp_listen(host, port)`; port 0 picks a free port (see `.port`).
pub fn listen(vm: &mut Vm, host: String, port: u16) -> VmResult<Value> {
    let addr = format!("{host}:{port}");
    let bound = vm.with_descriptors(|| TcpListener::bind(&addr));
    match bound {
        Ok(socket) => {
            let port = socket.local_addr().map(|a| a.port()).unwrap_or(port);
            let obj = ListenerObj {
                socket: Arc::new(socket),
                port,
            };
            Ok(Value::Obj(vm.it.heap.alloc(Obj::Listener(obj))))
        }
        Err(e) => Err(io_error(vm, &format!("cannot listen on {host}:{port}"), &e)),
    }
}

fn new_conn(vm: &mut Vm, stream: TcpStream) -> Value {
    let _ = stream.set_nodelay(true);
    let obj = ConnObj {
        socket: Some(Arc::new(stream)),
        partial: Vec::new(),
    };
    Value::Obj(vm.it.heap.alloc(Obj::Conn(obj)))
}

pub fn accept(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    let Obj::Listener(l) = vm.it.heap.get(id) else {
        unreachable!("listener handle")
    };
    let socket = l.socket.clone();
    if vm.is_main_thread() {
        crate::process::wait_readable(vm, socket.as_raw_fd(), None)?;
    }
    match vm.with_descriptors(|| socket.accept()) {
        Ok((stream, _)) => Ok(new_conn(vm, stream)),
        Err(e) => Err(io_error(vm, "accept failed", &e)),
    }
}

pub fn connect(vm: &mut Vm, host: String, port: u16) -> VmResult<Value> {
    let addr = format!("{host}:{port}");
    match vm.with_descriptors(|| TcpStream::connect(&addr)) {
        Ok(stream) => Ok(new_conn(vm, stream)),
        Err(e) => Err(io_error(vm, &format!("cannot connect to {host}:{port}"), &e)),
    }
}

fn conn_socket(vm: &mut Vm, id: ObjId) -> VmResult<Arc<TcpStream>> {
    let Obj::Conn(c) = vm.it.heap.get(id) else {
        unreachable!("conn handle")
    };
    match &c.socket {
        Some(s) => Ok(s.clone()),
        None => Err(vm.error("IOError", "the connection is closed")),
    }
}

pub fn send(vm: &mut Vm, id: ObjId, text: Arc<str>) -> VmResult<Value> {
    let socket = conn_socket(vm, id)?;
    match vm.release(move || (&*socket).write_all(text.as_bytes())) {
        Ok(()) => Ok(Value::Nil),
        Err(e) => Err(io_error(vm, "send failed", &e)),
    }
}

/// Up to `max_bytes` (at least 1; the caller checks) bytes of text; `""` at the end of
/// the stream.
pub fn recv(vm: &mut Vm, id: ObjId, max_bytes: usize) -> VmResult<Value> {
    let max = max_bytes.min(1 << 24);
    loop {
        let socket = conn_socket(vm, id)?;
        if vm.is_main_thread() {
            crate::process::wait_readable(vm, socket.as_raw_fd(), None)?;
        }
        let read = vm.release(move || {
            let mut buf = vec![0u8; max];
            (&*socket).read(&mut buf).map(|n| {
                buf.truncate(n);
                buf
            })
        });
        let bytes = match read {
            Ok(b) => b,
            Err(e) => return Err(io_error(vm, "recv failed", &e)),
        };
        let Obj::Conn(c) = vm.it.heap.get_mut(id) else {
            unreachable!("conn handle")
        };
        let at_end = bytes.is_empty();
        c.partial.extend_from_slice(&bytes);
        let valid = match std::str::from_utf8(&c.partial) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() && !at_end => e.valid_up_to(),
            Err(_) => {
                c.partial.clear();
                return Err(vm.error("IOError", "received bytes that are not UTF-8 text"));
            }
        };
        if valid == 0 && !at_end {
            continue; // only the start of a character so far: read on
        }
        let rest = c.partial.split_off(valid);
        let text = String::from_utf8(std::mem::replace(&mut c.partial, rest)).unwrap_or_default();
        return Ok(vm.new_str(text));
    }
}

pub fn close(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    let Obj::Conn(c) = vm.it.heap.get_mut(id) else {
        unreachable!("conn handle")
    };
    if let Some(s) = c.socket.take() {
        let _ = s.shutdown(Shutdown::Both);
    }
    Ok(Value::Nil)
}
