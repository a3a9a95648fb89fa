//! The methods of the runtime's objects: threads (`join is_alive`), locks (`acquire
//! release locked`, and `with`), queues (`put get len`), processes and channels (`join
//! is_alive kill send recv`), listeners (`accept`) and connections (`send recv close`).
//!
//! Invariant: these check arguments and hand the work to the subsystem that owns the
//! object (`threads`, `process`, `net`), which blocks only with the GIL released.

use super::args::{MethodName, arity, int_arg, optional_timeout, str_arg};
use crate::method::Method;
use crate::object::Kind;
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::{net, process, threads};

type R = VmResult<Value>;

/// The methods of each runtime kind, and the function that implements them.
pub(super) const OBJECT_METHODS: &[(Kind, &[Method], crate::vm::MethodFn)] = &[
    (Kind::Thread, &[Method::Join, Method::IsAlive], thread_methods),
    (
        Kind::Lock,
        &[
            Method::Acquire,
            Method::Release,
            Method::Locked,
            Method::Enter,
            Method::Exit,
        ],
        lock_methods,
    ),
    (Kind::Queue, &[Method::Put, Method::Get, Method::Len], queue_methods),
    (
        Kind::Process,
        &[Method::Join, Method::IsAlive, Method::Kill, Method::Send, Method::Recv],
        process_methods,
    ),
    (Kind::Channel, &[Method::Send, Method::Recv], process_methods),
    (Kind::Listener, &[Method::Accept], listener_methods),
    (Kind::Conn, &[Method::Send, Method::Recv, Method::Close], conn_methods),
];

/// The object a runtime value names (the method table only sends objects here).
fn object(recv: Value) -> ObjId {
    match recv {
        Value::Obj(id) => id,
        _ => unreachable!("the method table gives object methods only objects"),
    }
}

fn thread_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("thread", method.name()));
    arity(vm, name, args, 0, 0)?;
    match method {
        Method::Join => threads::join(vm, id),
        Method::IsAlive => Ok(Value::bool(threads::is_alive(vm, id))),
        _ => unreachable!("{} is not a thread method", method.name()),
    }
}

fn lock_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("lock", method.name()));
    match method {
        Method::Acquire => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            threads::acquire(vm, id, timeout).map(Value::bool)
        }
        Method::Enter => threads::acquire(vm, id, None).map(|_| Value::Nil),
        Method::Release | Method::Exit => {
            arity(vm, name, args, 0, 0)?;
            threads::release_lock(vm, id).map(|_| Value::Nil)
        }
        Method::Locked => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(threads::lock_held(vm, id)))
        }
        _ => unreachable!("{} is not a lock method", method.name()),
    }
}

fn queue_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("queue", method.name()));
    match method {
        Method::Put => {
            arity(vm, name, args, 1, 1)?;
            threads::put(vm, id, args[0]).map(|_| Value::Nil)
        }
        Method::Get => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            threads::get(vm, id, timeout)
        }
        Method::Len => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::Int(threads::queue_len(vm, id) as i64))
        }
        _ => unreachable!("{} is not a queue method", method.name()),
    }
}

/// A process (in the parent) and a channel (the child's `parent()`) share `send` and
/// `recv`; only a process can be joined, polled or killed.
fn process_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let id = object(recv);
    let kind = vm.it.heap.get(id).type_name();
    let name = MethodName(kind, method.name());
    match method {
        Method::Join => {
            arity(vm, name, args, 0, 0)?;
            process::join(vm, id)
        }
        Method::IsAlive => {
            arity(vm, name, args, 0, 0)?;
            Ok(Value::bool(process::is_alive(vm, id)))
        }
        Method::Kill => {
            arity(vm, name, args, 0, 0)?;
            process::kill(vm, id)
        }
        Method::Send => {
            arity(vm, name, args, 1, 1)?;
            process::send(vm, id, args[0])
        }
        Method::Recv => {
            arity(vm, name, args, 0, 1)?;
            let timeout = optional_timeout(vm, name, args)?;
            process::recv(vm, id, timeout)
        }
        _ => unreachable!("{} is not a process method", method.name()),
    }
}

fn listener_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("listener", method.name()));
    arity(vm, name, args, 0, 0)?;
    match method {
        Method::Accept => net::accept(vm, id),
        _ => unreachable!("{} is not a listener method", method.name()),
    }
}

fn conn_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let (id, name) = (object(recv), MethodName("conn", method.name()));
    match method {
        Method::Send => {
            arity(vm, name, args, 1, 1)?;
            let text = str_arg(vm, name, args[0])?;
            net::send(vm, id, std::sync::Arc::from(&*text))
        }
        Method::Recv => {
            arity(vm, name, args, 1, 1)?;
            let max = int_arg(vm, name, args[0])?;
            if max <= 0 {
                return Err(vm.error("ValueError", format!("{name}(): max_bytes must be positive, not {max}")));
            }
            net::recv(vm, id, usize::try_from(max).unwrap_or(usize::MAX))
        }
        Method::Close => {
            arity(vm, name, args, 0, 0)?;
            net::close(vm, id)
        }
        _ => unreachable!("{} is not a conn method", method.name()),
    }
}
